"""--strategy exhaustive on the native backend: the same explorer over the C model's
footprint build (fuzzlock.native.ModelFootprints)."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from fuzzlock import model, native, protocol, scenario, scenarios
from tests.explore.naive import (
    Model,
    NativeToy,
    PyToy,
    check_against_naive,
    check_covers,
    explored,
    same_as_naive,
)
from tests.explore.test_explore import FORK_AND_READ_CHILD, bounded_programs, critical_sections
from tests.sched import toy

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


@pytest.mark.parametrize("bound", [None, 0, 1, 2])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_c_toy_with_k_critical_sections_in_two_threads_reaches_every_class(
    k: int, bound: int | None
) -> None:
    naive, _dpor = check_against_naive(NativeToy(critical_sections(k)), bound)
    if bound is None:
        assert naive.cert.classes == len(naive.ends) == math.comb(2 * k, k)


@pytest.mark.parametrize("k", [1, 2, None])
def test_c_toys_reach_the_classes_and_end_states_of_naive_enumeration(k: int | None) -> None:
    """Random toy programs on the C scheduler (tests/native/toy.c), as on the Python one: the same
    classes and end states as naive enumeration."""
    for seed in range(60):
        prog = toy.random_program(random.Random(seed), max_threads=3, max_actions=5)
        target = NativeToy(prog, f"C toy seed {seed}")
        naive = explored(target, k, False, 800)
        if naive.cert.complete:
            same_as_naive(naive, explored(target, k, True, None), f"seed {seed}, bound {k}")


def toy_programs() -> list[toy.Program]:
    """Random toy programs (tests/sched/toy.py) and small ones heavy on one mutex and one
    rwsem with read and write trylocks."""
    progs = [toy.random_program(random.Random(s), max_threads=3, max_actions=5) for s in range(60)]
    rng = random.Random(20261208)
    return progs + [toy.small_program(rng) for _ in range(40)]


@pytest.mark.parametrize("k", [1, 2, None])
def test_python_and_c_toys_have_the_same_classes_and_end_states(k: int | None) -> None:
    """Both backends name the same dependencies: every schedule naive enumeration runs has
    the same Mazurkiewicz class on both (lock and unlock ops write the lock's cell,
    read-side ones too; a failed trylock reads it; a writer that stops at down_write
    writes it if the rwsem is taken, reads it if free), and the same end state."""
    for n, prog in enumerate(toy_programs()):
        c = explored(NativeToy(prog), k, False, 800)
        if c.cert.complete:
            py = explored(PyToy(prog), k, False, 800)
            assert (py.classes, py.ends) == (c.classes, c.ends), f"program {n}: {prog}"


@pytest.mark.parametrize("bound", [1, 2])
def test_bounded_search_on_c_reaches_every_class_of_rwsem_and_trylock_programs(
    bound: int,
) -> None:
    for name, prog in bounded_programs():
        target = NativeToy(prog, name)
        naive = explored(target, bound, False, 3000)
        if naive.cert.complete:
            same_as_naive(naive, explored(target, bound, True, None), f"{name}, bound {bound}")


@pytest.mark.parametrize("name", ["v6.18", "v6.19"])
def test_native_certificate_has_the_classes_of_naive_enumeration(name: str) -> None:
    """docs/scenarios/mover-walker.json on the C model: the classes and end states of
    naive enumeration with 0, 1 and 2 preemptions, and the unbounded search reaches all of
    them."""
    target = Model(_load("mover-walker.json"), protocol.get(name, FIX), "native")
    for bound in (0, 1, 2):
        naive, dpor = check_against_naive(target, bound)
        assert dpor.cert.verdict == naive.cert.verdict == "clean"
    assert naive.cert.schedules >= 4 * dpor.cert.schedules
    check_covers(naive, target)


def test_fork_and_a_reader_of_the_child_reach_the_end_states_of_naive_enumeration() -> None:
    sc = scenario.from_json(FORK_AND_READ_CHILD)
    target = Model(sc, protocol.get("v6.19", FIX), "native")
    naive, _dpor = check_against_naive(target, 3)
    assert ("user.data",) in naive.ends
    check_covers(naive, target)


def test_documented_three_thread_scenario_reduction_is_at_least_5x_on_native() -> None:
    target = Model(_load("mover-two-walkers.json"), protocol.get("v6.19", FIX), "native")
    for bound in (1, 2):
        naive, dpor = check_against_naive(target, bound)
    assert naive.cert.schedules >= 5 * dpor.cert.schedules


def test_both_backends_find_the_same_classes_of_the_documented_scenarios() -> None:
    """docs/scenarios on the Python and the C model: the same schedules, the same classes
    and the same thread results, bounded and unbounded.  The two name the same
    dependencies there: a page-table lookup reads the cell of its (mm, index) key on both
    (not the C world's whole table array), a new anon_vma slot conflicts only with what
    looks at that slot (not the Python pool's whole slot list), and C fields left out of
    the footprints that share a 4-byte unit leave the unit out."""
    for name, bounds in (("mover-walker.json", (1, 2, None)), ("mover-two-walkers.json", (1,))):
        sc = _load(name)
        for pname in ("v6.18", "v6.19"):
            proto = protocol.get(pname, FIX)
            for k in bounds:
                py = explored(Model(sc, proto, "python"), k, True, None)
                c = explored(Model(sc, proto, "native"), k, True, None)
                where = f"{name} {pname} bound {k}"
                assert py.cert.schedules == c.cert.schedules, where
                assert py.classes == c.classes, where
                assert {e[:2] for e in py.ends} == {e[:2] for e in c.ends}, where


def test_generated_scenarios_reach_the_end_states_of_naive_enumeration_on_both_backends() -> None:
    """Generated scenarios of every family, one preemption: on each backend source-DPOR
    finds the classes and end states of naive enumeration (where naive enumeration
    finishes within its cap), and both backends reach the same outcomes and thread
    results.  Their class counts may differ: the cells differ in size in places
    (docs/exhaustive.md)."""
    rng = random.Random(5)
    compared = 0
    checked: dict[str, int] = {"native": 0, "python": 0}
    for i in range(12):
        fam = scenarios.FAMILIES[i % len(scenarios.FAMILIES)]
        sc = scenarios.gen_scenario(scenarios.RandomSource(random.Random(100 + i)), fam)
        proto = protocol.get(rng.choice(["v6.18", "v6.19", "patch2-only"]), FIX)
        results = []
        for backend, cap in (("native", 400), ("python", 120)):
            target = Model(sc, proto, backend, f"{fam} {i} {proto.name} {backend}")
            try:
                naive = explored(target, 1, False, cap)
            except model.SetupError:
                break
            if naive.cert.complete:
                same_as_naive(naive, explored(target, 1, True, None), target.name)
                results.append({e[:2] for e in naive.ends})
                checked[backend] += 1
        if len(results) == 2:
            assert results[0] == results[1], f"{fam} {i}"
            compared += 1
    assert checked["native"] >= 6 and checked["python"] >= 2 and compared >= 2, checked


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
