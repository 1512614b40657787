"""The README's commands work in a fresh clone: the files they name are in the repository and
the ingest examples read them without a problem."""

from __future__ import annotations

import re
from pathlib import Path

from test_cli import ok, run

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
COMMANDS = [
    line.strip()
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    for line in block.splitlines()
    if line.strip().startswith("paperfeed ")
]


def test_every_file_a_command_names_is_in_the_repository() -> None:
    named = {
        word
        for command in COMMANDS
        for word in command.split("#")[0].split()
        if word.startswith(("examples/", "docs/", "../"))
    }
    assert named, "the README's commands name no example files"
    assert not [w for w in named if w.startswith("../")], "paths outside the clone"
    missing = sorted(word for word in named if not (REPO / word).exists())
    assert not missing, f"the README names files the repository lacks: {missing}"


def test_the_ingest_examples_read_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ingests = [c.split("#")[0].split() for c in COMMANDS if c.startswith("paperfeed ingest ")]
    assert len(ingests) >= 4
    for _, _, fmt, *files in ingests:
        result = ok(run(data, "ingest", fmt, *(REPO / f for f in files), "--no-index"))
        said = result.stdout + result.stderr
        added = re.search(r"(\d+) added, \d+ updated, \d+ unchanged, (\d+) skipped", said)
        assert added, said
        assert int(added[1]) > 0 and int(added[2]) == 0, f"{fmt}: {added[0]}"
