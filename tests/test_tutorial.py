"""docs/tutorial.md: every `$ command  # exit N` line runs, in order, with that status,
exactly as written, from the root of (a copy of) the repository."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
LINE = re.compile(r"^\$ (?P<cmd>.+?)\s+# exit (?P<status>\d+)$")
#: what the tutorial writes in the repository root (never copied from a reader's own run)
WRITES = ("my-corpus", "timeline.html", "minimized.json")
#: not part of the repository: build products, caches, virtual environments
NOT_COPIED = (
    ".git",
    ".venv*",
    ".tox",
    "build",
    "dist",
    "*.egg-info",
    "*.so",
    "__pycache__",
    ".*cache",
    ".hypothesis",
    ".benchmarks",
)


def commands() -> list[tuple[str, int]]:
    out = []
    in_console = False
    for line in TUTORIAL.read_text().splitlines():
        if line.startswith("```"):
            in_console = line.strip() == "```console"
            continue
        if in_console and line.startswith("$ "):
            m = LINE.match(line)
            assert m, f"tutorial line without '# exit N': {line}"
            out.append((m["cmd"], int(m["status"])))
    return out


def test_tutorial_has_the_workflow_commands() -> None:
    cmds = " ".join(c for c, _ in commands())
    for word in ("protocols", "hunt", "show", "--html", "minimize", "replay", "-m campaign"):
        assert word in cmds


def test_tutorial_paths_exist_in_the_repository_or_are_written_by_an_earlier_command() -> None:
    """Every path-like argument (with a '/' or a .json/.html suffix) names a file of the
    repository, or matches something an earlier command writes: no placeholder."""
    written: list[str] = []
    for cmd, _status in commands():
        args = cmd.split()
        for i, a in enumerate(args):
            if args[i - 1] in ("--save", "-o", "--html", "--fuzzlock-save-dir"):
                written.append(a.rstrip("/"))
                continue
            if args[i - 1] in ("--protocol", "--knob", "--fuzzlock-protocol"):
                continue  # a protocol name or a knob, not a path
            if a.startswith("-") or not ("/" in a or a.endswith((".json", ".html"))):
                continue
            top = a.split("/")[0]
            assert list(ROOT.glob(a)) or top in written, f"{a!r} in: $ {cmd}"


@pytest.mark.slow
def test_every_tutorial_command_runs_verbatim_from_the_repository_root(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns(*NOT_COPIED, *WRITES))
    bindir = Path(sys.executable).parent
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONHASHSEED": "0"}
    for cmd, status in commands():
        p = subprocess.run(
            cmd, shell=True, cwd=root, capture_output=True, text=True, timeout=600, env=env
        )
        assert p.returncode == status, f"$ {cmd}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        if cmd == "fuzzlock hunt":
            assert "this is the known kernel finding 'sticky-eagain'" in p.stdout, p.stdout
    assert (root / "timeline.html").exists()
    assert len(list((root / "my-corpus").glob("*/*.json"))) == 1
