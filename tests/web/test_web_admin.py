"""The admin page and API: live sources with their runs, for admins only."""

from __future__ import annotations

import gzip
import json

from _core_helpers import HF_DATA, serve_hf_days
from _web_helpers import Site
from replay_server import ReplayServer

from paperfeed.live.registry import add_source, build_params, make_client
from paperfeed.live.runner import run_source


def _harvest_one_hf_day(site: Site) -> int:
    """Run a real hf-daily source against a local server replaying the recorded days."""
    with ReplayServer() as server:
        serve_hf_days(server)
        params = build_params("hf-daily", from_date="2026-08-13", until_date="2026-08-13")
        add_source(site.workspace, "hf", "hf-daily", params, base_url=server.url_for("/api"))
        with make_client(site.workspace.settings, sleep=lambda _: None) as client:
            run_source(site.workspace, "hf", client=client, index=False)
    body = gzip.decompress((HF_DATA / "2026-08-13.json.gz").read_bytes())
    return len(json.loads(body))


def test_only_admins_see_the_admin_page_and_api(site: Site) -> None:
    anonymous = site.client().get("/admin", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/admin"
    assert site.client("bob").get("/admin").status_code == 403
    page = site.client("ada").get("/admin")
    assert page.status_code == 200 and "No live sources yet" in page.text
    assert site.client().get("/api/v1/sources").status_code == 401
    assert site.client("bob").get("/api/v1/sources/runs").status_code == 403
    assert site.client("ada").get("/api/v1/sources").json() == []
    assert 'href="/admin"' in site.client("ada").get("/").text
    assert 'href="/admin"' not in site.client("bob").get("/").text


def test_a_harvest_run_shows_on_the_admin_page_and_in_the_api(site: Site) -> None:
    entries = _harvest_one_hf_day(site)
    assert entries > 0
    ada = site.client("ada")
    sources = ada.get("/api/v1/sources").json()
    assert [(s["name"], s["kind"]) for s in sources] == [("hf", "hf-daily")]
    run = sources[0]["last_run"]
    assert run["status"] == "ok" and run["source"] == "hf"
    assert run["added"] + run["updated"] + run["skipped"] == entries and run["failed"] == 0
    assert run["window_from"] == "2026-08-13"
    runs = ada.get("/api/v1/sources/runs").json()
    assert runs == [run]
    page = ada.get("/admin").text
    assert "hf-daily" in page and 'class="status-ok"' in page
    assert f"{run['added']} / {run['updated']} / {run['skipped']} / 0" in page
