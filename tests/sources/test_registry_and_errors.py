"""The source registry, and whole-file failures every source must report as SourceError."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import pytest

from paperfeed.errors import SourceError
from paperfeed.formats import FORMATS, Format, get_format

ALL = ["kaggle", "arxiv-atom", "hf-daily", "hf-page", "arxiv-daily", "jsonl", "beir"]


def _real_sample(name: str, shared: Path) -> Path:
    """A real, well-formed input file for each source (jsonl reuses the Kaggle lines)."""
    data = shared / "data"
    return {
        "kaggle": data / "arxiv_kaggle/arxiv-metadata-oai-snapshot.first200.jsonl",
        "arxiv-atom": data / "arxiv_api/legacy_2016/search_query_au_del_maestro.xml",
        "hf-daily": data / "hf_daily_papers/daily_papers_2026-08-18.json",
        "hf-page": shared / "seeds/000_766570f40471c980.txt",
        "arxiv-daily": data / "arxiv_daily_cs/days/2026-03-04.jsonl.gz",
        "jsonl": data / "arxiv_kaggle/arxiv-metadata-oai-snapshot.first200.jsonl",
        "beir": data / "scifact/corpus.jsonl",
    }[name]


def test_registry_holds_every_source_under_its_name() -> None:
    assert list(FORMATS) == ALL
    for name, source in FORMATS.items():
        assert isinstance(source, Format)
        assert source.name == name
        assert source.description
        assert get_format(name) is source


def test_unknown_source_names_the_known_ones() -> None:
    with pytest.raises(SourceError) as caught:
        get_format("x")
    assert str(caught.value) == f"unknown source 'x'; known: {', '.join(sorted(ALL))}"


def test_source_is_frozen() -> None:
    with pytest.raises(AttributeError):
        FORMATS["kaggle"].name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("name", ALL)
def test_missing_file_raises_source_error_naming_it(name: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(SourceError, match=re.escape("nope.json")):
        list(get_format(name).parse(missing))


@pytest.mark.parametrize("name", ALL)
def test_truncated_gzip_raises_source_error(name: str, shared_dir: Path, tmp_path: Path) -> None:
    sample = _real_sample(name, shared_dir)
    raw = gzip.decompress(sample.read_bytes()) if sample.suffix == ".gz" else sample.read_bytes()
    packed = gzip.compress(raw)
    path = tmp_path / f"cut-{name}.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(SourceError, match="truncated") as caught:
        list(get_format(name).parse(path))
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ALL)
def test_file_that_is_not_gzip_despite_its_name_raises(name: str, tmp_path: Path) -> None:
    path = tmp_path / "plain.json.gz"
    path.write_text('{"not": "gzip"}\n', encoding="utf-8")
    with pytest.raises(SourceError, match=re.escape("plain.json.gz")):
        list(get_format(name).parse(path))


@pytest.mark.parametrize("name", ALL)
def test_binary_file_raises_source_error(name: str, tmp_path: Path) -> None:
    path = tmp_path / "image.bin"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00" * 4)
    with pytest.raises(SourceError, match=re.escape("image.bin")):
        list(get_format(name).parse(path))


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("kaggle", "hf-daily"),
        ("arxiv-daily", "arxiv-atom"),
        ("jsonl", "hf-page"),
        ("hf-daily", "kaggle"),
        ("arxiv-atom", "hf-daily"),
        ("hf-page", "hf-daily"),
    ],
)
def test_another_sources_file_is_rejected_whole(
    name: str, other: str, shared_dir: Path, tmp_path: Path
) -> None:
    """Feeding the wrong format must fail once, clearly, not yield a problem per line."""
    path = tmp_path / f"wrong_{other}.txt"
    sample = _real_sample(other, shared_dir)
    shutil.copyfile(sample, path)
    with pytest.raises(SourceError, match=f"wrong_{other}"):
        list(get_format(name).parse(path))
