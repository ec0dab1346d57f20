"""A hunt's finding is never lost and its report tells the truth: the report is printed
even when saving fails, and its ``replay:`` line names the file actually written, or,
when nothing was saved, a command that reproduces the hunt."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fuzzlock import corpus

#: a hunt that finds walk.complete in seconds on either backend
PATCH2 = ["--protocol", "patch2-only", "--knob", "move.reset_err_on_retry=true"]


def fuzzlock(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fuzzlock", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def _replay_line(report: str) -> str:
    lines = [ln for ln in report.splitlines() if ln.startswith("replay: ")]
    assert len(lines) == 1, report
    return lines[0].removeprefix("replay: ")


def test_a_save_that_fails_after_the_search_still_prints_the_report_and_keeps_exit_1(
    tmp_path: Path,
) -> None:
    # DIR itself is fine, but the protocol's directory inside it is a file: the write fails
    # only after the search and the minimization
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "patch2-only+move.reset_err_on_retry=true").write_text("in the way\n")
    p = fuzzlock("hunt", *PATCH2, "--strategy", "random", "--save", "c", cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    assert "VIOLATION: walk.complete" in p.stdout
    # nothing was saved: the replay line is the command that reproduces the hunt
    assert _replay_line(p.stdout).startswith("fuzzlock hunt ") and "(not saved" in p.stdout
    err = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("fuzzlock: error: --save c:"), p.stderr
    assert "not saved" in err[0]


def test_a_save_that_fails_with_json_still_prints_the_entry(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "patch2-only+move.reset_err_on_retry=true").write_text("in the way\n")
    p = fuzzlock("hunt", *PATCH2, "--strategy", "random", "--json", "--save", "c", cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    d = json.loads(p.stdout)
    assert d["verdict"] == "violation" and d["entry"]["expect"] == "walk.complete"
    assert "saved" not in d and "not saved" in d["save_error"]
    assert corpus.entry_from_json(d["entry"]).expect == "walk.complete"


def test_the_replay_line_names_the_file_written_under_the_save_directory(
    tmp_path: Path,
) -> None:
    p = fuzzlock("hunt", *PATCH2, "--strategy", "random", "--save", "mine", cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    cmd = shlex.split(_replay_line(p.stdout))
    assert cmd[:2] == ["fuzzlock", "replay"] and len(cmd) == 3
    written = tmp_path / cmd[2]
    assert written.is_file() and Path(cmd[2]).parts[0] == "mine"
    assert not (tmp_path / "corpora").exists()
    r = fuzzlock(*cmd[1:], cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout + r.stderr


@pytest.mark.parametrize("strategy", ["hypothesis", "random"])
def test_an_unsaved_hunt_prints_a_command_that_reproduces_it_and_says_how_to_save(
    strategy: str, tmp_path: Path
) -> None:
    p = fuzzlock("hunt", *PATCH2, "--strategy", strategy, "--json", cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    d = json.loads(p.stdout)
    replay = _replay_line(d["report"])
    assert replay == d["reproduce"]
    assert "add --save corpora" in d["report"]
    cmd = shlex.split(replay)
    assert cmd[:2] == ["fuzzlock", "hunt"]
    for option in ("--protocol", "--knob", "--backend", "--strategy", "--seed", "--max-seconds"):
        assert option in cmd, option
    assert list(tmp_path.iterdir()) == []  # nothing was written
    again = fuzzlock(*cmd[1:], "--json", cwd=tmp_path)
    assert again.returncode == 1, again.stderr
    e = json.loads(again.stdout)["entry"]
    assert e["trace_digest"] == d["entry"]["trace_digest"]
    assert e["scenario"] == d["entry"]["scenario"] and e["decisions"] == d["entry"]["decisions"]


def test_the_naive_comparison_stays_within_the_hunts_budget(tmp_path: Path) -> None:
    """--compare-naive enumerates naively after a certificate; unbounded, that can outlast
    any budget by hours, so it gets what is left of --max-schedules/--max-seconds (the
    source-DPOR certificate takes 43 of the 60 schedules here, naive needs far more)."""
    root = Path(__file__).resolve().parents[1]
    res = fuzzlock(
        "hunt",
        "--strategy",
        "exhaustive",
        "--preemptions",
        "none",
        "--compare-naive",
        "--scenario",
        str(root / "docs" / "scenarios" / "mover-walker.json"),
        "--protocol",
        "v6.19",
        "--knob",
        "move.reset_err_on_retry=true",
        "--backend",
        "python",
        "--max-schedules",
        "60",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert "explored 43 schedules (43 Mazurkiewicz classes)" in res.stdout, res.stdout
    (naive,) = [ln for ln in res.stdout.splitlines() if "(naive): explored" in ln]
    assert "explored 17 schedules" in naive, naive
    assert "budget exhausted before the search finished" in naive, naive
