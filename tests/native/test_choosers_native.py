"""Choosers of the C model (native/choosers.c, native/explore.c) against the Python ones.

* The C port of ``random.Random`` behind the C PCT chooser draws what CPython draws.
* ``pct=(seed, depth, k)`` on toys and on the model makes the same decisions as
  ``PCTChooser(seed, n_threads, depth, k)`` on the Python scheduler and model: identical
  traces, decisions and outcomes; ``model_bench(pct=...)`` runs the same schedules.
* ``run_model(chooser=...)``: a Python chooser called back from C is asked the same
  questions as on the Python model (the same ``order`` and ``current`` at each decision
  point), Hypothesis's lazy draws included, and its exceptions propagate.

Set FUZZLOCK_REQUIRE_NATIVE=1 to make a missing library a failure, not a skip.
"""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzlock import bench, model, native, protocol, scenario
from fuzzlock.sched import HypothesisChooser, PCTChooser, RandomChooser
from tests import native_toy
from tests.native.test_model_differential import racing_movers, random_scenario
from tests.native.test_sched_differential import Recording, difference, run_python, wild_program
from tests.sched.toy import random_program

pytestmark = pytest.mark.native

SEED = 20261214


@pytest.fixture(scope="module", autouse=True)
def _need_native() -> None:
    reason = ""
    if not native.native_available():
        reason = native.unavailable_reason()
    else:
        reason = native_toy.unavailable_reason()
    if not reason:
        return
    if os.environ.get("FUZZLOCK_REQUIRE_NATIVE"):
        pytest.fail(f"FUZZLOCK_REQUIRE_NATIVE is set but the C model is unavailable: {reason}")
    pytest.skip(f"C model unavailable: {reason}")


# --------------------------------------------------------------------------- the generator


@pytest.mark.parametrize(
    "seed", [0, 1, 5, -5, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**63, 2**64 - 1, 123456789]
)
def test_randbelow_draws_what_cpython_draws(seed: int) -> None:
    for bound in (1, 2, 3, 5, 16, 17, 100, 277, 1000, 2**24, 2**31 + 3, 2**32 - 1):
        r = random.Random(seed)
        # 700 draws: past the first regeneration of the 624-word state
        assert native.debug_randbelow(seed, bound, 700) == [r._randbelow(bound) for _ in range(700)]


# --------------------------------------------------------------------------- PCT


def pct_params(rng: random.Random) -> tuple[int, int, int]:
    seed = rng.choice([rng.randrange(1000), rng.randrange(-(2**64) + 1, 2**64)])
    depth = rng.choice([1, 2, 3, rng.randint(4, 8), rng.randint(9, 64)])
    # around the switch between sample()'s pool and set methods (21, 21 + 4^e)
    k = rng.choice([0, 1, 2, 5, 20, 21, 22, 60, 85, 86, 200, 277, 278, 1000, 5000])
    return seed, depth, k


def test_pct_on_toys_makes_the_python_decisions() -> None:
    rng = random.Random(SEED)
    changed = 0
    for i in range(2500):
        prog = random_program(rng) if i % 3 else wild_program(rng)
        seed, depth, k = pct_params(rng)
        py = run_python(prog, (), 10_000, PCTChooser(seed, len(prog), depth, k))
        c = native_toy.run_toy_detailed(prog, pct=(seed, depth, k))
        diff = difference(py, c)
        assert not diff, f"{diff}\nprogram {prog!r} pct {(seed, depth, k)}"
        changed += bool(c.preempted)
    assert changed > 500


def model_cases(n: int, seed: int) -> list[tuple[scenario.Scenario, protocol.Protocol]]:
    rng = random.Random(seed)
    protos = [protocol.get(p) for p in ("v6.18", "v6.19", "patch2-only")]
    out = [(sc, protos[i % 3]) for i, sc in enumerate(bench.slice_scenarios(protos[1], n, seed))]
    out += [(random_scenario(rng), rng.choice(protos)) for _ in range(n // 2)]
    out += [(racing_movers(rng), rng.choice(protos)) for _ in range(n // 2)]
    return out


def model_difference(py: Any, c: native.ModelRunResults) -> str:
    outcome, events, decisions, preempted, _viol = c.run
    r = py.result
    if [tuple(e) for e in r.events] != events:
        return "events differ"
    if (r.outcome, r.decisions, r.preempted) != (outcome, decisions, preempted):
        return f"outcome/decisions/preempted differ: {r.outcome} {outcome}"
    if py.results != c.results:
        return f"results differ: {py.results} {c.results}"
    return ""


def test_pct_on_the_model_makes_the_python_decisions() -> None:
    rng = random.Random(SEED + 1)
    runs = 0
    for sc, proto in model_cases(24, SEED):
        for _ in range(6):
            seed, depth, k = pct_params(rng)
            try:
                py = model.run(sc, proto, chooser=PCTChooser(seed, len(sc.threads), depth, k))
            except model.SetupError:
                with pytest.raises(native.NativeSetupError):
                    native.run_model_results(sc, proto.knobs, pct=(seed, depth, k))
                break
            c = native.run_model_results(sc, proto.knobs, pct=(seed, depth, k))
            diff = model_difference(py, c)
            assert not diff, f"{diff}\n{sc.dumps()} {proto.name} pct {(seed, depth, k)}"
            runs += 1
    assert runs > 100


def test_model_bench_with_pct_runs_the_same_schedules() -> None:
    proto = protocol.get("v6.19")
    for sc in bench.slice_scenarios(proto, 6, seed=SEED):
        for depth, k in ((1, 10), (2, 60), (3, 200)):
            want = 0
            for i in range(20):
                _outcome, events, _d, _p, viol = native.run_model(
                    sc, proto.knobs, pct=(7 + i, depth, k)
                )
                want += viol[1] if viol is not None else len(events)
            assert native.model_bench(sc, proto.knobs, 20, seed=7, pct=(depth, k)) == want


@pytest.mark.parametrize(
    "pct", [(0, 0, 10), (0, 65, 10), (0, 2, -1), (0, 2, 2**24 + 1), (2**64, 2, 10), (1, 2), "x"]
)
def test_pct_parameters_out_of_range_are_refused(pct: Any) -> None:
    sc = bench.slice_scenarios(protocol.get("v6.19"), 1, seed=SEED)[0]
    with pytest.raises(ValueError):
        native.run_model(sc, protocol.get("v6.19").knobs, pct=pct)
    with pytest.raises(ValueError):
        native_toy.run_toy_detailed([[("read", 0)], [("read", 1)]], pct=pct)


# --------------------------------------------------------------------------- callbacks


def test_a_python_chooser_is_asked_the_same_questions_by_the_c_model() -> None:
    rng = random.Random(SEED + 2)
    for sc, proto in model_cases(20, SEED + 3):
        seed = rng.randrange(2**32)
        rec_py = Recording(RandomChooser(seed, preempt=rng.choice((0.05, 0.5, 1.0))))
        try:
            py = model.run(sc, proto, chooser=rec_py)
        except model.SetupError:
            continue
        rec_c = Recording(RandomChooser(seed, preempt=rec_py.inner.preempt))
        c = native.run_model_results(sc, proto.knobs, chooser=rec_c)
        assert rec_c.orders == rec_py.orders
        assert not model_difference(py, c), model_difference(py, c)
        # a PCT chooser object through the callback agrees with the C PCT chooser
        seed, depth, k = pct_params(rng)
        via_cb = native.run_model(
            sc, proto.knobs, chooser=PCTChooser(seed, len(sc.threads), depth, k)
        )
        assert via_cb == native.run_model(sc, proto.knobs, pct=(seed, depth, k))


@functools.cache
def _scenarios() -> list[tuple[scenario.Scenario, protocol.Protocol]]:
    # Built on first use, not at import: the slice scenarios run on the C model, and
    # collection must not fail where it is not built (the tests skip instead).
    return model_cases(10, SEED + 4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), c_first=st.booleans())
def test_hypothesis_draws_through_the_callback(data: Any, c_first: bool) -> None:
    """Lazy draws at the C model's decision points: the decisions it makes, replayed on the
    Python model (or the other way round), give the same run."""
    cases = _scenarios()
    sc, proto = cases[data.draw(st.integers(0, len(cases) - 1), label="which")]
    try:
        model.run(sc, proto, decisions=[])
    except model.SetupError:
        return
    chooser = HypothesisChooser(data, n_threads=len(sc.threads))
    if c_first:
        c = native.run_model_results(sc, proto.knobs, chooser=chooser)
        py = model.run(sc, proto, decisions=c.run[2])
    else:
        py = model.run(sc, proto, chooser=chooser)
        c = native.run_model_results(sc, proto.knobs, py.result.decisions)
    assert not model_difference(py, c), model_difference(py, c)


def test_an_exception_in_a_model_chooser_propagates() -> None:
    sc, proto = model_cases(1, SEED)[0]

    class Boom:
        def __init__(self, after: int) -> None:
            self.after = after

        def choose(self, order: Sequence[int], current: int) -> int:
            self.after -= 1
            if self.after < 0:
                raise KeyError("boom")
            return 0

    class Bad:
        def __init__(self, value: Any) -> None:
            self.value = value

        def choose(self, order: Sequence[int], current: int) -> Any:
            return self.value

    with pytest.raises(KeyError):
        native.run_model(sc, proto.knobs, chooser=Boom(0))
    with pytest.raises(KeyError):
        native.run_model(sc, proto.knobs, chooser=Boom(3))
    for bad in (-1, 2**63, "0", 1.5, None):
        with pytest.raises(ValueError):
            native.run_model(sc, proto.knobs, chooser=Bad(bad))
    # the model is still usable afterwards
    assert native.run_model(sc, proto.knobs, chooser=Bad(0)) == native.run_model(sc, proto.knobs)
