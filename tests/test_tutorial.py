"""docs/tutorial.md: every `$ command  # exit N` line runs, in order, with that status."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
LINE = re.compile(r"^\$ (?P<cmd>.+?)\s+# exit (?P<status>\d+)$")


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


@pytest.mark.slow
def test_every_tutorial_command_runs_with_its_documented_exit_status(tmp_path: Path) -> None:
    bindir = Path(sys.executable).parent
    env_path = f"{bindir}:/usr/bin:/bin"
    for cmd, status in commands():
        cmd = cmd.replace("CAMPAIGN_TESTS", str(ROOT / "tests" / "campaign"))
        cmd = cmd.replace("DOCS/", str(ROOT / "docs") + "/")
        p = subprocess.run(
            cmd,
            shell=True,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            env={"PATH": env_path, "HOME": str(tmp_path), "PYTHONHASHSEED": "0"},
        )
        assert p.returncode == status, f"$ {cmd}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    assert (tmp_path / "timeline.html").exists()
