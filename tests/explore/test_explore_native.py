"""--strategy exhaustive on the native backend: the same explorer over the C model's
footprint build (fuzzlock.native.ModelFootprints)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from fuzzlock import campaign, explore, native, protocol, scenario, strategies

pytestmark = pytest.mark.native
ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "docs" / "scenarios"


@pytest.fixture(autouse=True)
def _need_footprints() -> None:
    if not native.footprints_available():
        reason = native.footprints_unavailable_reason()
        if os.environ.get("FUZZLOCK_REQUIRE_NATIVE"):
            pytest.fail(f"FUZZLOCK_REQUIRE_NATIVE is set but footprints are unavailable: {reason}")
        pytest.skip(f"footprint library unavailable: {reason}")


def _load(name: str) -> scenario.Scenario:
    return scenario.from_json(json.loads((SCENARIOS / name).read_text()))


FIX = {"move.reset_err_on_retry": True}


@pytest.mark.parametrize("name", ["v6.18", "v6.19"])
def test_native_certificate_has_the_classes_of_naive_enumeration(name: str) -> None:
    sc = _load("mover-walker.json")
    proto = protocol.get(name, FIX)
    dpor = explore.explore_scenario(sc, proto, "native", 2)
    naive = explore.explore_scenario(sc, proto, "native", 2, por=False)
    assert dpor.complete and naive.complete and dpor.verdict == naive.verdict == "clean"
    assert dpor.classes == naive.classes
    assert naive.schedules >= 5 * dpor.schedules


def test_documented_three_thread_scenario_reduction_is_at_least_10x_on_native() -> None:
    sc = _load("mover-two-walkers.json")
    proto = protocol.get("v6.19", FIX)
    dpor = explore.explore_scenario(sc, proto, "native", 2)
    naive = explore.explore_scenario(sc, proto, "native", 2, por=False)
    assert dpor.complete and naive.complete and dpor.classes == naive.classes
    assert naive.schedules >= 10 * dpor.schedules


def test_both_backends_agree_on_verdicts_of_generated_scenarios() -> None:
    """The same explorer over both backends: the same verdict (and invariant) on every
    scenario; the C footprints are coarser in places, so counts may differ."""
    rng = random.Random(5)
    seen = set()
    for i in range(12):
        fam = strategies.FAMILIES[i % len(strategies.FAMILIES)]
        sc = strategies.gen_scenario(strategies.RandomSource(random.Random(100 + i)), fam)
        proto = protocol.get(rng.choice(["v6.18", "v6.19", "patch2-only"]), FIX)
        try:
            py = explore.explore_scenario(sc, proto, "python", 1, max_schedules=150)
        except campaign.model.SetupError:
            continue
        c = explore.explore_scenario(sc, proto, "native", 1, max_schedules=150)
        if py.complete and c.complete:
            assert py.verdict == c.verdict, f"{fam} {i}: python {py.text()} / C {c.text()}"
            if py.violation is not None and c.violation is not None:
                assert py.violation.outcome == c.violation.outcome
            seen.add(py.verdict)
    assert "clean" in seen


def test_hunt_exhaustive_native_cli_certifies_and_finds() -> None:
    base = [sys.executable, "-m", "fuzzlock", "hunt", "--strategy", "exhaustive"]
    sc = str(SCENARIOS / "mover-walker.json")
    knob = ["--knob", "move.reset_err_on_retry=true", "--backend", "native", "--json"]
    ok = subprocess.run([*base, "--scenario", sc, *knob], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["verdict"] == "clean" and out["certificates"][0]["complete"]
    assert "Mazurkiewicz classes" in out["certificates"][0]["certificate"]
    bad = subprocess.run(
        [*base, "--scenario", sc, "--protocol", "patch2-only", *knob],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1, bad.stderr
    assert json.loads(bad.stdout)["invariant"] == "walk.complete"


def test_exhaustive_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "fuzzlock", "hunt"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"setup": [], "threads": [{"name": "t", "ops": [{"op": "nope"}]}]}')
    for args, word in [
        (["--strategy", "exhaustive", "--preemptions", "-1"], "--preemptions"),
        (["--strategy", "exhaustive", "--scenario", str(tmp_path / "none.json")], "cannot read"),
        (["--strategy", "exhaustive", "--scenario", str(bad)], "bad.json"),
        (["--strategy", "random", "--preemptions", "3"], "--strategy exhaustive"),
    ]:
        p = subprocess.run([*base, *args], capture_output=True, text=True)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        err = p.stderr.strip()
        assert len(err.splitlines()) == 1 and word in err, err
