"""The README's headline example is true: its command, run as written, prints the report
the README shows, line for line (everything from the report's first line on; the two
lines of counts and timings before it are not shown)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from fuzzlock import cli
from tests.native_required import require_native_model

ROOT = Path(__file__).resolve().parents[1]


def _block(readme: str, marker: str) -> str:
    """The body of the first fenced code block after ``<!-- marker -->``."""
    m = re.search(rf"<!-- {re.escape(marker)} -->\n```[a-z]*\n(.*?)```\n", readme, re.S)
    assert m, f"README.md has no code block after <!-- {marker} -->"
    return m.group(1)


def test_the_readme_headline_command_prints_the_report_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "README.md").read_text()
    argv = shlex.split(_block(readme, "readme:headline-command").strip())
    shown = _block(readme, "readme:headline-report")
    assert argv[:2] == ["fuzzlock", "hunt"] and "--backend" not in argv
    require_native_model()  # the default backend, where it is built
    # the command saves to corpora/ (relative): run it over a copy, so the repository's
    # corpus is only read, and see that it writes nothing (the entry is already there)
    shutil.copytree(ROOT / "corpora", tmp_path / "corpora")
    before = sorted(p.name for p in (tmp_path / "corpora").rglob("*.json"))
    monkeypatch.chdir(tmp_path)
    status = cli.main(argv[1:])
    out = capsys.readouterr().out
    assert status == 1
    first = shown.splitlines()[0]
    assert first in out, f"the hunt did not print the README's report:\n{out}"
    printed = out[out.index(first) :]
    assert printed == shown
    assert sorted(p.name for p in (tmp_path / "corpora").rglob("*.json")) == before
