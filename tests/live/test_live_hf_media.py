"""The live HF source caches thumbnails and image media in the data directory, politely and
only images from HF's own site; the web app then shows and serves them from our origin."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _core_helpers import HF_DATA, paper_by_id
from _live_helpers import FakeClock
from fastapi.testclient import TestClient
from replay_server import ReplayServer, Response

from paperfeed.bounds import MAX_MEDIA_BYTES, MEDIA_NAME
from paperfeed.live.connector import SourceSpec
from paperfeed.live.hf_daily import pages, same_site
from paperfeed.live.http import PoliteClient
from paperfeed.live.media import media_dir
from paperfeed.live.registry import add_source, build_params, make_client
from paperfeed.live.runner import run_source
from paperfeed.web.app import create_app
from paperfeed.workspace import Workspace

UA = "paperfeed-tests/1 (mailto:tests@example.org)"
DAY = "2026-08-18"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


@pytest.fixture
def client(fake_clock: FakeClock) -> Iterator[PoliteClient]:
    with PoliteClient(UA, timeout=5, sleep=fake_clock.sleep, clock=fake_clock) as client:
        yield client


def serve_day_with_images(server: ReplayServer) -> list[dict]:
    """The real day, its first four entries' images moved onto the replay server: a PNG, an
    HTML page posing as one, one too large, one missing (404); media: a PNG and a video.
    The other entries keep their real cdn-thumbnails.huggingface.co links."""
    entries = json.loads(gzip.decompress((HF_DATA / f"{DAY}.json.gz").read_bytes()))
    kinds = ["ok", "html", "huge", "gone"]
    for entry, kind in zip(entries, kinds, strict=False):
        entry["thumbnail"] = server.url_for(f"/thumbs/{entry['paper']['id']}-{kind}.png")
    entries[0]["mediaUrls"] = [server.url_for("/media/a.png"), server.url_for("/media/b.mp4")]
    server.add(
        f"/thumbs/{entries[0]['paper']['id']}-ok.png", Response(body=PNG, content_type="image/png")
    )
    server.add(
        f"/thumbs/{entries[1]['paper']['id']}-html.png",
        Response(body="<html>", content_type="text/html"),
    )
    server.add(
        f"/thumbs/{entries[2]['paper']['id']}-huge.png",
        Response(body=PNG + b"\0" * MAX_MEDIA_BYTES, content_type="image/png"),
    )
    server.add("/media/a.png", Response(body=PNG, content_type="image/png; charset=binary"))
    server.add("/media/b.mp4", Response(body=b"\0\0\0 ftyp", content_type="video/mp4"))
    body = json.dumps(entries)
    server.add(
        "/api/daily_papers",
        Response(body=body, content_type="application/json"),
        query={"date": DAY},
    )
    return entries


def test_images_are_cached_checked_and_named_on_the_records(
    replay_server: ReplayServer, client: PoliteClient, tmp_path: Path
) -> None:
    entries = serve_day_with_images(replay_server)
    spec = SourceSpec(
        "hf", "hf-daily", {"from": DAY, "until": DAY}, replay_server.url_for("/api"), tmp_path
    )
    [page] = pages(client, spec, {})
    by_id = {r.arxiv_id: r.details for r in page.records}
    ok, html, huge, gone = (by_id[e["paper"]["id"]] for e in entries[:4])
    assert ok is not None and ok.thumbnail and MEDIA_NAME.fullmatch(ok.thumbnail)
    assert (tmp_path / "media" / ok.thumbnail).read_bytes() == PNG
    assert len(ok.media) == 1 and (tmp_path / "media" / ok.media[0]).read_bytes() == PNG
    assert all(d is not None and d.thumbnail is None for d in (html, huge, gone))
    assert all(d is not None and d.thumbnail is None for d in list(by_id.values())[4:])
    paths = [r.path for r in replay_server.requests]
    assert "/media/b.mp4" not in paths  # videos are not fetched
    assert not [p for p in paths if "cdn-thumbnails" in p]
    assert {r.headers.get("user-agent") for r in replay_server.requests} == {UA}
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == sorted(
        {ok.thumbnail, *ok.media}
    )

    replay_server.clear_log()
    list(pages(client, spec, {}))  # cached images are not asked for again; the others are
    asked = [r.path for r in replay_server.requests]
    assert not [p for p in asked if p.endswith("-ok.png") or p == "/media/a.png"]
    assert len([p for p in asked if p.startswith("/thumbs/")]) == 3


def test_a_harvest_stores_the_cached_thumbnail_and_the_site_serves_it(
    live_workspace: Workspace, replay_server: ReplayServer, fake_clock: FakeClock
) -> None:
    entries = serve_day_with_images(replay_server)
    add_source(
        live_workspace, "hf", "hf-daily", build_params("hf-daily", from_date=DAY, until_date=DAY)
    )
    with make_client(live_workspace.settings, sleep=fake_clock.sleep, clock=fake_clock) as http:
        report = run_source(live_workspace, "hf", client=http, index=False)
    assert report.failed == 0 and report.added == len(entries)
    paper = paper_by_id(live_workspace, entries[0]["paper"]["id"])
    assert (
        paper.thumbnail
        and (media_dir(live_workspace.settings.data_dir) / paper.thumbnail).is_file()
    )
    assert paper.thumbnail_url == entries[0]["thumbnail"]
    with TestClient(create_app(live_workspace)) as web:
        page = web.get(f"/papers/{paper.id}").text
        assert f'src="/media/{paper.thumbnail}"' in page
        image = web.get(f"/media/{paper.thumbnail}")
        assert image.content == PNG and image.headers["content-type"] == "image/png"
        compat = web.get("/api/daily_papers", params={"date": DAY}).json()
        [entry] = [e for e in compat if e["paper"]["id"] == paper.id]
        assert entry["thumbnail"] == f"http://testserver/media/{paper.thumbnail}"
        assert entry["mediaUrls"] == [f"http://testserver/media/{paper.media[0]}"]
        assert not [e for e in compat if "huggingface.co" in e.get("thumbnail", "")]
        other = paper_by_id(live_workspace, entries[5]["paper"]["id"])
        assert (
            other.thumbnail is None and "cdn-thumbnails" not in web.get(f"/papers/{other.id}").text
        )


@pytest.mark.parametrize(
    ("url", "base", "same"),
    [
        ("https://cdn-thumbnails.huggingface.co/x.png", "https://huggingface.co/api", True),
        ("https://huggingface.co/x.png", "https://huggingface.co/api", True),
        ("https://evil.example/huggingface.co.png", "https://huggingface.co/api", False),
        ("https://huggingface.co.evil.example/x.png", "https://huggingface.co/api", False),
        ("http://127.0.0.1:9/x.png", "https://huggingface.co/api", False),
        ("http://127.0.0.1:8000/x.png", "http://127.0.0.1:8000/api", True),
        ("http://10.0.0.1/x.png", "http://127.0.0.1:8000/api", False),
        ("http://[::1/x.png", "https://huggingface.co/api", False),
    ],
)
def test_only_images_on_the_sources_own_site_are_fetched(url: str, base: str, same: bool) -> None:
    assert same_site(url, base) is same
