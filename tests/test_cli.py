"""The command line as docs/design.md#cli fixes it: subcommands, exit codes, --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fuzzlock.cli import main


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fuzzlock", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_protocols_lists_the_named_protocols_and_every_knob_as_json() -> None:
    p = run_cli("protocols", "--json")
    assert p.returncode == 0
    d = json.loads(p.stdout)
    assert set(d["protocols"]) == {"v6.18", "v6.19", "patch2-only", "patch1-only"}
    names = {k["name"] for k in d["knobs"]}
    assert "move.anon_vma_lock" in names and "walk.recheck_mapping" in names


def test_hunt_patch2_only_finds_a_violation_with_a_minimized_replayable_entry(
    tmp_path: Path,
) -> None:
    # with the sticky -EAGAIN fix: without it that kernel finding (move.result) can come first
    p = run_cli(
        "hunt",
        "--protocol",
        "patch2-only",
        "--knob",
        "move.reset_err_on_retry=true",
        "--json",
        "--max-seconds",
        "60",
        "--save",
        str(tmp_path / "corpora"),
    )
    assert p.returncode == 1, p.stderr
    d = json.loads(p.stdout)
    assert d["verdict"] == "violation" and d["invariant"] == "walk.complete"
    for field in (
        "protocol",
        "backend",
        "strategy",
        "schedules",
        "steps",
        "seconds",
        "schedules_per_second",
        "entry",
        "report",
    ):
        assert field in d
    entry = d["entry"]
    assert entry["minimized"] is True and entry["expect"] == "walk.complete"
    assert len(entry["scenario"]["threads"]) <= 3
    saved = Path(d["saved"])
    assert saved.exists()
    r = run_cli("replay", str(saved))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok" in r.stdout


def test_hunt_random_and_pct_strategies_run_their_budget_on_a_clean_protocol() -> None:
    for strategy in ("random", "pct"):
        p = run_cli(
            "hunt",
            "--protocol",
            "v6.19",
            "--knob",
            "move.reset_err_on_retry=true",
            "--strategy",
            strategy,
            "--max-schedules",
            "150",
            "--json",
        )
        assert p.returncode == 0, p.stdout
        d = json.loads(p.stdout)
        assert d["verdict"] == "clean" and d["schedules"] == 150
        if strategy == "pct":
            assert any("1/(n k^(d-1))" in n for n in d["notes"])


@pytest.mark.parametrize(
    "args",
    [
        ["hunt", "--protocol", "v9.99"],
        ["hunt", "--knob", "no.such.knob=1"],
        ["hunt", "--knob", "move.anon_vma_lock=maybe"],
        ["hunt", "--knob", "move.anon_vma_lock"],
        ["hunt", "--max-seconds", "-1"],
        ["hunt", "--backend", "bogus"],
        ["hunt", "--strategy", "bogus"],
        ["replay"],
        ["replay", "/nonexistent/path.json"],
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(args: list[str]) -> None:
    p = run_cli(*args)
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr


def test_replay_reports_a_malformed_entry_in_one_line_and_replays_the_others(
    tmp_path: Path,
) -> None:
    good = tmp_path / "corpora" / "v6.19"
    good.mkdir(parents=True)
    p = run_cli(
        "hunt",
        "--protocol",
        "patch2-only",
        "--json",
        "--max-seconds",
        "60",
        "--save",
        str(tmp_path / "corpora"),
    )
    assert p.returncode == 1
    (good / "broken.json").write_text('{"schema": 1, "decisions": "nope"}')
    r = run_cli("replay", str(tmp_path / "corpora"))
    assert r.returncode == 2
    assert "Traceback" not in r.stdout + r.stderr
    assert any(ln.startswith("ok") for ln in r.stdout.splitlines())
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and "broken.json" in err[0]


def test_show_and_minimize_work_on_a_saved_entry(tmp_path: Path) -> None:
    p = run_cli(
        "hunt",
        "--protocol",
        "patch2-only",
        # without the fix, the sticky -EAGAIN kernel finding (move.result) may come first
        "--knob",
        "move.reset_err_on_retry=true",
        "--json",
        "--strategy",
        "random",
        "--max-seconds",
        "60",
        "--save",
        str(tmp_path / "c"),
    )
    saved = json.loads(p.stdout)["saved"]
    s = run_cli("show", saved)
    assert s.returncode == 0 and "walk.complete" in s.stdout and "replay:" in s.stdout
    h = run_cli("show", saved, "--html", str(tmp_path / "t.html"))
    assert h.returncode == 0 and (tmp_path / "t.html").read_text().startswith("<!DOCTYPE html>")
    m = run_cli("minimize", saved, "-o", str(tmp_path / "m.json"))
    assert m.returncode == 0, m.stderr
    assert run_cli("replay", str(tmp_path / "m.json")).returncode == 0


def test_main_returns_exit_codes_in_process() -> None:
    assert main(["protocols"]) == 0
    assert main(["hunt", "--protocol", "nope"]) == 2
