"""``fuzzlock detection``: the table of how fast each strategy catches each knob setting.

The command runs for real here, in ``--quick`` mode on a few settings (seconds, not the
15-30 minutes of the full table in docs/detection.md).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fuzzlock import backends, campaign, detection, protocol
from fuzzlock.detection import command, runner, table


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fuzzlock", "detection", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_settings_are_every_single_knob_value_off_each_base_plus_named_rows() -> None:
    rows = detection.settings()
    kinds = [s.kind for s in rows]
    assert kinds.count("control") == 2 and kinds.count("finding") == 2
    assert kinds.count("named") == 1
    want = 0
    for base in ("v6.18", "v6.19"):
        own = protocol.get(base).knobs
        for k in protocol.knobs():
            if k.name != "move.reset_err_on_retry":
                want += sum(1 for v in k.values if v != own[k.name])
    assert kinds.count("knob") == want
    names = [s.protocol.name for s in rows]
    assert len(set(names)) == len(names)
    for s in rows:
        fix = s.protocol.knobs["move.reset_err_on_retry"]
        assert fix is (s.kind != "finding"), s.label
        if s.kind == "knob":  # exactly one knob besides the fix differs from the base
            assert len(s.protocol.overrides) == 2, s.label
    assert protocol.get("v6.18").name in names and protocol.get("v6.19").name in names


def test_median_counts_a_miss_as_infinity() -> None:
    m = table._median
    assert m([1.0, 2.0, math.inf]) == 2.0
    assert m([1.0, math.inf, math.inf]) == math.inf
    assert m([1.0, 3.0]) == 2.0
    assert m([1.0, math.inf]) == math.inf
    assert math.isnan(m([]))


def _cell(times: list[float | None]) -> table.Cell:
    c = table.Cell("random")
    for seed, t in enumerate(times, 1):
        caught = t is not None
        c.runs.append(
            {
                "seed": seed,
                "verdict": "violation" if caught else "clean",
                "invariant": "uaf" if caught else None,
                "first_seconds": t,
                "first_schedules": 10 * seed if caught else None,
            }
        )
    return c


def test_cell_median_is_honest_about_misses() -> None:
    c = _cell([0.5, None, 0.1, None, 0.3])
    assert c.caught == 3 and c.median_seconds == 0.5 and c.median_schedules == 50
    assert c.median_seconds_of_caught == 0.3
    assert table._fmt_cell(c) == "3/5 0.50 s (50)"
    c = _cell([0.5, None, None, None, 0.3])
    assert math.isinf(c.median_seconds)
    assert table._fmt_cell(c) == "2/5 - (0.40 s)"
    assert table._fmt_cell(_cell([None, None])) == "0/2"


def test_quick_json_catches_patch2_only_and_the_control_row_is_clean(tmp_path: Path) -> None:
    # --quick's 2 s per run is ample on the C model; on the Python one (an install without
    # a C compiler) pct needs about that for its ~90 schedules on patch2-only, so there the
    # 300-schedule budget alone bounds a run.
    seconds = detection.QUICK_MAX_SECONDS if backends.get("native").available() else 300.0
    p = run_cli(
        "--quick",
        "--setting",
        "patch2-only",
        "--setting",
        "v6.19 (control)",
        "--strategy",
        "random",
        "--strategy",
        "pct",
        "--max-seconds",
        f"{seconds:g}",
        "--json",
    )
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["jobs"] >= 1 and d["seeds"] == detection.QUICK_SEEDS
    assert d["max_seconds"] == seconds and d["max_schedules"] == detection.QUICK_MAX_SCHEDULES
    assert d["strategies"] == ["random", "pct"]
    assert d["backend"] in ("native", "python") and d["backend_note"]
    assert d["command"].startswith("fuzzlock detection --setting patch2-only")
    rows = {r["setting"]: r for r in d["rows"]}
    assert set(rows) == {"patch2-only", "v6.19 (control)"}
    p2 = rows["patch2-only"]
    assert p2["status"] == "caught" and set(p2["invariants"]) == {"walk.complete"}
    for cell in p2["cells"].values():
        assert cell["seeds"] == detection.QUICK_SEEDS == len(cell["runs"])
        assert cell["caught"] == cell["seeds"]
        assert cell["median_seconds"] is not None and cell["median_schedules"] >= 1
        for run in cell["runs"]:
            assert run["first_schedules"] <= run["schedules"]
    ctl = rows["v6.19 (control)"]
    assert ctl["kind"] == "control" and ctl["status"] == "ok" and ctl["invariants"] == {}
    for cell in ctl["cells"].values():
        assert cell["caught"] == 0 and cell["median_seconds"] is None
        assert all(r["verdict"] == "clean" for r in cell["runs"])
    assert d["controls_clean"] is True
    # a saved run renders again (statuses judged against the corpus as it is now)
    saved = tmp_path / "run.json"
    saved.write_text(p.stdout)
    again = run_cli("--from-json", str(saved))
    assert again.returncode == 0, again.stderr
    assert "| patch2-only | " in again.stdout and "| v6.19 (control) | " in again.stdout
    assert d["command"] in again.stdout


def test_quick_text_is_a_markdown_table_and_says_how_many_jobs_ran() -> None:
    p = run_cli("--quick", "--setting", "patch2-only", "--strategy", "random", "--jobs", "1")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "jobs: 1 worker process" in out
    assert "backend: " in out
    lines = [ln for ln in out.splitlines() if ln.startswith("|")]
    assert lines[0] == "| setting | random | invariants | status |"
    assert lines[1].startswith("| --- |")
    assert len(lines) == 3 and "patch2-only" in lines[2]
    assert "walk.complete" in lines[2] and lines[2].endswith("| caught |")


def test_list_names_the_settings() -> None:
    p = run_cli("--list", "--setting", "free_handshake")
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.splitlines()) == 2
    assert "anon_vma.free_handshake=false" in p.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--seeds", "0"], "argument --seeds: '0': expected a positive integer"),
        (["--max-seconds", "-1"], "argument --max-seconds: '-1': expected a finite number"),
        (["--jobs", "0"], "argument --jobs: '0': expected a positive integer"),
        (["--setting", "no-such-setting"], "matches no setting"),
        (["--strategy", "bogus"], "--strategy bogus"),
        (["--backend", "nonsense"], "invalid choice"),
        (["--seeds", "many"], "'many' is not a positive integer"),
        (["--from-json", "/nonexistent/run.json"], "--from-json /nonexistent/run.json"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args: list[str], words: str) -> None:
    p = run_cli(*args)
    assert p.returncode == 2
    assert p.stdout == ""
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and words in err[0], p.stderr


def test_exhaustive_is_offered_exactly_when_the_campaign_has_it() -> None:

    assert ("exhaustive" in detection.strategies()) == ("exhaustive" in campaign.STRATEGIES)
    assert set(detection.strategies()) >= {"hypothesis", "random", "pct"}


def test_criterion_is_undecided_below_the_criterion_budget_and_fails_above_it() -> None:
    s = next(x for x in detection.settings() if x.label == "patch2-only")

    def det(times: list[float | None], max_seconds: float) -> table.Detection:
        cells: dict[str, Any] = {
            "hypothesis": _cell(times),
            "random": _cell([0.1, 0.1, 0.1]),
        }
        for c in cells.values():
            c.strategy = "x"
        return table.Detection(
            [table.Row(s, cells)],
            ("hypothesis", "random"),
            3,
            "native",
            "",
            1,
            max_seconds,
            100,
            1.0,
            "now",
            "m",
            "c",
        )

    assert det([1.0, 2.0, None], 10.0).criterion() == ("holds", [])
    verdict, which = det([None, None, 1.0], 10.0).criterion()
    assert verdict.startswith("undecided") and which == ["patch2-only"]
    assert det([None, None, 1.0], 60.0).criterion() == ("fails", ["patch2-only"])


def test_main_reports_a_control_row_that_is_not_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    """A violation on a control row is a model or kernel bug: exit status 1."""

    def fake_run_task(t: detection.Task) -> dict[str, Any]:
        return {
            "index": t.index,
            "strategy": t.strategy,
            "seed": t.seed,
            "verdict": "violation",
            "invariant": "walk.complete",
            "schedules": 3,
            "seconds": 0.01,
            "wall": 0.01,
            "first_schedules": 3,
            "first_seconds": 0.01,
        }

    monkeypatch.setattr(runner, "run_task", fake_run_task)
    args = SimpleNamespace(
        setting=["v6.19 (control)"],
        strategy=["random"],
        backend="python",
        seeds=1,
        max_seconds=1.0,
        max_schedules=10,
        jobs=1,
        quick=False,
        list=False,
        json=False,
        json_out=None,
        corpus="corpora",
        from_json=None,
    )
    assert command.main(args) == 1


def _row(label: str, invariant: str | None) -> table.Row:
    s = next(x for x in detection.settings() if x.label == label)
    c = _cell([0.5] if invariant else [None])
    for r in c.runs:
        r["invariant"] = invariant
    return table.Row(s, {"random": c})


def test_rows_are_judged_against_the_recorded_kernel_findings_and_the_control_row() -> None:
    """v6.18 with the fix still has a recorded kernel finding (walk.complete,
    docs/findings/swap-move-unlocked-walker.md): its control row is "known finding", not FAIL, and a
    v6.18 knob row that finds only walk.complete has not shown that its knob matters."""
    rows = [
        _row("v6.18 (control)", "walk.complete"),
        _row("v6.19 (control)", None),
        _row("v6.18 walk.damon_lock=trylock", "walk.complete"),
        _row("v6.18 anon_vma.free_handshake=false", "uaf"),
        _row("v6.19 walk.damon_lock=none", "walk.complete"),
    ]
    runner.attach_baselines(rows, "corpora")
    assert [r.status for r in rows] == [
        "known finding",
        "ok",
        "caught (= control)",
        "caught",
        "caught",
    ]
    assert "walk.complete" in rows[0].known
    rows[1] = _row("v6.19 (control)", "walk.complete")
    runner.attach_baselines(rows, "corpora")
    assert rows[1].status == "FAIL"


def _row_n(label: str, invariant: str, violating: int, runs: int) -> table.Row:
    s = next(x for x in detection.settings() if x.label == label)
    c = _cell([0.5] * violating + [None] * (runs - violating))
    for r in c.runs:
        if r["verdict"] == "violation":
            r["invariant"] = invariant
    return table.Row(s, {"random": c})


def test_a_row_with_the_controls_symptom_but_far_more_often_is_caught() -> None:
    """v6.18's control finds walk.complete (a recorded kernel finding) in 1 of 15 runs. A
    v6.18 knob row that finds only walk.complete in every run (walk.recheck_mapping=false
    is a bug of its own) is "caught"; one that finds it in 2 of 15 runs has not shown that
    its knob matters."""
    control = _row_n("v6.18 (control)", "walk.complete", 1, 15)
    often = _row_n("v6.18 walk.recheck_mapping=false", "walk.complete", 15, 15)
    rarely = _row_n("v6.18 walk.damon_lock=trylock", "walk.complete", 2, 15)
    runner.attach_baselines([control, often, rarely], "corpora")
    assert control.status == "known finding"
    assert often.baseline_rate == (1, 15)
    assert often.status == "caught"
    assert rarely.status == "caught (= control)"


def test_fisher_greater_matches_hand_computed_values() -> None:
    # one hit in one run against none in one run: half of the tables are as extreme
    assert table.fisher_greater((1, 1), (0, 1)) == 0.5
    # no more hits than the control: nothing is significant
    assert table.fisher_greater((0, 15), (1, 15)) == 1.0
    # 15/15 against 1/15: C(16,15) C(14,0) / C(30,15)
    assert math.isclose(table.fisher_greater((15, 15), (1, 15)), 16 / math.comb(30, 15))
    assert not table.above_control((3, 15), (1, 15))
    assert table.above_control((10, 15), (1, 15))


def _saved(strats: dict[str, list[float | None]], label: str = "patch2-only") -> dict[str, Any]:
    s = next(x for x in detection.settings() if x.label == label)
    row = table.Row(s, {name: _cell(times) for name, times in strats.items()})
    d = table.Detection(
        [row], tuple(strats), 2, "native", "test", 1, 10.0, 1000, 1.5, "now", "m", "cmd"
    )
    return d.to_json()


def test_from_json_merges_a_rerun_column_into_a_saved_table(tmp_path: Path) -> None:
    """``--from-json A --from-json B``: B's cells replace A's for the strategies B ran, so
    one column can be rerun after a change; runs with another budget are refused."""
    a = _saved({"hypothesis": [None, None], "random": [0.1, 0.2]})
    b = _saved({"hypothesis": [0.3, 0.4]})
    merged = runner.from_json(runner.merge_json([a, b]))
    cells = merged.rows[0].cells
    assert cells["hypothesis"].caught == 2 and cells["random"].caught == 2
    assert merged.strategies == ("hypothesis", "random")
    assert merged.command == "cmd\n$ cmd" and merged.wall_seconds == 3.0
    other = dict(b, max_seconds=60.0)
    with pytest.raises(ValueError, match="max_seconds"):
        runner.merge_json([a, other])
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a))
    pb.write_text(json.dumps(other))
    p = run_cli("--from-json", str(pa), "--from-json", str(pb))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "max_seconds" in p.stderr


def test_the_docs_table_is_what_its_saved_run_prints() -> None:
    """docs/detection.md's table is ``fuzzlock detection --from-json
    docs/detection-run.json``: re-rendered against the corpus as it is now, every row and the
    criterion line are unchanged (a new recorded kernel finding or a status rule change
    that moves a row makes the doc stale, and this fails)."""
    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "detection.md").read_text()
    run = json.loads((root / "docs" / "detection-run.json").read_text())
    text = runner.from_json(run, str(root / "corpora")).text()
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 2 + len(detection.settings())
    missing = [line for line in rows if line not in doc]
    assert not missing, missing[:3]
    crit = next(line for line in text.splitlines() if line.startswith("criterion"))
    assert crit in doc and crit.endswith(": holds")
