"""The native backend wired into the workflow: ``hunt --backend native``, ``replay --backend
native`` and ``fuzzlock bench``.  Skipped when the C library has no model, unless
FUZZLOCK_REQUIRE_NATIVE is set (then a missing model fails)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from fuzzlock import campaign, corpus, protocol
from fuzzlock.corpus import replaying
from fuzzlock.search import base as search_base
from tests.native_required import native_model_missing

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT / "corpora"

_MISSING = native_model_missing()
if _MISSING is not None:
    if os.environ.get("FUZZLOCK_REQUIRE_NATIVE"):
        raise RuntimeError(f"FUZZLOCK_REQUIRE_NATIVE is set but: {_MISSING}")
    pytest.skip(_MISSING, allow_module_level=True)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fuzzlock", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )


def test_hunt_native_on_patch2_only_finds_walk_complete_and_replays_on_both_backends(
    tmp_path: Path,
) -> None:
    p = run_cli(
        "hunt",
        "--protocol",
        "patch2-only",
        "--knob",
        "move.reset_err_on_retry=true",
        "--backend",
        "native",
        "--strategy",
        "random",
        "--max-seconds",
        "60",
        "--json",
        "--save",
        str(tmp_path / "c"),
    )
    assert p.returncode == 1, p.stdout + p.stderr
    d = json.loads(p.stdout)
    assert d["backend"] == "native" and d["invariant"] == "walk.complete"
    assert 0.0 <= d["native_fraction"] <= 1.0 and d["native_schedules"] >= 1
    assert d["entry"]["minimized"] is True
    entry = corpus.load_entry(d["saved"])
    py = replaying.replay(entry, "python")
    assert py.ok and py.outcome == "walk.complete", py.message
    c = replaying.replay(entry, "native")
    if d["found_on"] == "native":
        assert c.applicable, c.message  # minimizing only removes ops: still in the slice
    if c.applicable:
        assert c.ok and c.outcome == "walk.complete" and c.digest == py.digest, c.message
    for backend in ("python", "native"):
        r = run_cli("replay", "--backend", backend, d["saved"])
        assert r.returncode == 0, r.stdout + r.stderr


def test_native_hunt_random_and_pct_run_their_budget_on_a_clean_protocol() -> None:
    proto = protocol.get("v6.19", {"move.reset_err_on_retry": True})
    for strategy in ("random", "pct"):
        res = campaign.hunt(proto, "native", strategy, max_seconds=60, max_schedules=150)
        assert res.verdict == "clean", res.report
        assert res.schedules == 150 and res.native_runs + res.python_runs == 150
        assert res.native_runs > 0
        assert "native_fraction" in res.to_json()


def test_native_hunt_with_hypothesis_runs_on_c() -> None:
    """(Was: runs on Python and says so; the C model now calls the HypothesisChooser back.)"""
    proto = protocol.get("v6.19", {"move.reset_err_on_retry": True})
    res = campaign.hunt(proto, "native", "hypothesis", max_seconds=30, max_schedules=20)
    assert res.python_runs == 0 and res.native_runs == res.schedules > 0


def test_first_difference_names_the_first_differing_event() -> None:
    assert search_base.first_difference([1, 2, 3], [1, 2, 3]) == "the traces are equal"
    assert "python has 3 events, C 2" in search_base.first_difference([1, 2, 3], [1, 2])


def test_replay_backend_native_on_the_corpus() -> None:
    r = run_cli("replay", "--backend", "native", str(CORPORA))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines and all(ln.startswith("ok") for ln in lines), r.stdout
    j = run_cli("replay", "--backend", "native", "--json", str(CORPORA))
    rows = [json.loads(ln) for ln in j.stdout.splitlines()]
    assert rows and all(row["ok"] and row["applicable"] for row in rows)
    py = run_cli("replay", "--backend", "python", "--json", str(CORPORA))
    py_rows = {row["path"]: row for row in map(json.loads, py.stdout.splitlines())}
    assert {row["path"]: row["outcome"] for row in rows} == {
        path: row["outcome"] for path, row in py_rows.items()
    }


@pytest.mark.parametrize("base", ["v6.18", "v6.19", "patch2-only", "patch1-only"])
def test_native_hunt_runs_every_schedule_on_c(base: str) -> None:
    """No strategy family falls back to Python: a native hunt's native_fraction is 1.0
    (hunts draw scenarios from every family of fuzzlock.scenarios)."""
    proto = protocol.get(base, {"move.reset_err_on_retry": True})
    for strategy in ("random", "pct"):
        res = campaign.hunt(proto, "native", strategy, max_seconds=60, max_schedules=300)
        assert res.python_runs == 0 and res.native_runs == res.schedules, res.notes
        assert res.to_json()["native_fraction"] == 1.0


def test_every_strategy_family_is_in_the_c_model() -> None:
    from fuzzlock import native, scenarios

    rng = random.Random(5)
    for family in scenarios.FAMILIES:
        for _ in range(60):
            sc = scenarios.gen_scenario(scenarios.RandomSource(rng), family)
            native.encode_model_scenario(sc, protocol.get("v6.19").knobs)  # no NativeError


def test_bench_runs_small_and_prints_both_backends() -> None:
    small = ("--scenarios", "3", "--runs", "3", "--native-runs", "20", "--hunt-seconds", "0.3")
    r = run_cli("bench", *small)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "python" in r.stdout and "native-loop" in r.stdout and "native-call" in r.stdout
    assert "ratio native-loop/python steps/s" in r.stdout
    assert "ratio hunt/python steps/s" in r.stdout and "ratio hunt/hunt-python" in r.stdout
    assert "load average" in r.stdout
    j = run_cli("bench", *small, "--json")
    d = json.loads(j.stdout)
    assert {row["backend"] for row in d["rows"]} == {
        "python",
        "native-call",
        "native-loop",
        "hunt-python",
        "hunt",
    }
    assert all(row["steps"] > 0 and row["cpu_seconds"] > 0 for row in d["rows"])
    assert d["hunt_protocol"] == "v6.19+move.reset_err_on_retry=true"


def test_a_c_violation_python_does_not_reproduce_is_a_differential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fuzzlock import native
    from fuzzlock.native import hunt as native_hunt

    def fake(self, seed, strategy, runs, **kw):  # type: ignore[no-untyped-def]
        run = native.NativeRun("walk.complete", [], [1], [], 0, 0, "fn", "msg", 0)
        return native_hunt.HuntBatch(1, 0, [0], [1], run, 1.0, None, None, None)

    monkeypatch.setattr(native_hunt.NativeScenario, "hunt", fake)
    proto = protocol.get("v6.19", {"move.reset_err_on_retry": True})
    res = campaign.hunt(proto, "native", "random", max_seconds=30, max_schedules=200)
    assert res.verdict == "violation" and res.invariant == "differential"
    assert res.found is not None and res.found.on == "native"
    assert res.report is not None and "C outcome walk.complete, python outcome" in res.report
    assert "first difference: event 0" in res.report
    assert res.to_json()["invariant"] == "differential"


def test_bench_xdist_counts_schedules_over_the_span(tmp_path: Path) -> None:
    from fuzzlock import bench

    junit = tmp_path / "j.xml"
    case = (
        '<testcase name="t{i}"><properties><property name="fuzzlock_seed" value="x=1"/>'
        + "".join(
            f'<property name="fuzzlock_{k}" value="{v}"/>'
            for k, v in (("schedules", "{n}"), ("steps", "10"), ("seconds", "2"))
        )
        + '<property name="fuzzlock_t0" value="{t0}"/><property name="fuzzlock_t1" '
        'value="{t1}"/><property name="fuzzlock_worker" value="{w}"/></properties></testcase>'
    )
    cases = [
        case.format(i=i, n=100 * (i + 1), t0=t0, t1=t0 + 2, w=i % 2)
        for i, t0 in enumerate([10, 10.5, 12, 12.5])
    ]
    junit.write_text("<testsuites><testsuite>" + "".join(cases) + "</testsuite></testsuites>")
    runs = bench._junit_runs(str(junit))
    assert [r["schedules"] for r in runs] == [100, 200, 300, 400]
    assert max(r["t1"] for r in runs) - min(r["t0"] for r in runs) == 4.5
    xs = [
        {"round": 1, "workers": 1, "schedules_per_second": 100.0},
        {"round": 1, "workers": 2, "schedules_per_second": 190.0},
        {"round": 2, "workers": 1, "schedules_per_second": 100.0},
        {"round": 2, "workers": 2, "schedules_per_second": 150.0},
    ]
    assert bench.xdist_ratios(xs) == [1.9, 1.5]
