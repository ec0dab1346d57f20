"""The batched C hunt loop (native/hunt.c, fuzzlock/native/hunt.py) and the native hunt.

* a violating run of a batch is the run that replaying its decisions gives, on the C model
  (``native.run_model``: same events, outcome and violation) and on the Python model (same
  events and outcome), for every decision rule and for protocols that violate (patch2-only,
  single-knob settings of the corpus) and one that does not;
* every run's trace hash is ``trace.hash64`` of its trace (checked on violating runs and on
  PCT runs, which the Python PCTChooser replays from the batch's reported seed);
* batches are reproducible from their seed;
* malformed arguments across ctypes are refused with a message, never a crash;
* ``campaign.hunt`` keeps its budget semantics, falls back to Python for the rest of a
  batch the C model could not run, and still finds patch2-only.
"""

from __future__ import annotations

import ctypes
import math
import os
import random
import time
from typing import Any

import pytest

from fuzzlock import campaign, model, native, protocol, scenario, scenarios, trace
from fuzzlock.native import _schema as native_schema
from fuzzlock.native import hunt as native_hunt
from fuzzlock.sched import PCTChooser
from fuzzlock.search import hypothesis as search_hypothesis
from fuzzlock.search import pct as search_pct
from fuzzlock.search import random as search_random
from fuzzlock.search import seeded

pytestmark = pytest.mark.native

RESET = {"move.reset_err_on_retry": True}
#: (base, knobs, the invariant the corpus records) -- settings that violate, and a clean one
SETTINGS: list[tuple[str, dict[str, Any], str | None]] = [
    ("patch2-only", {}, "walk.complete"),
    ("v6.18", {"move.anon_vma_lock": False}, "walk.complete"),
    ("v6.18", {"move.check_exclusive": False}, "folio.exclusive"),
    ("v6.19", {"move.pin_check_before_rmap_update": False}, "rmap.reachable"),
    ("v6.18", {"move.unmap_before_sleep": False}, "sleep-in-atomic"),
    ("v6.19", {"fork.link_before_copy": False}, "anon_vma.tree"),
    ("v6.19", {"cow.reuse_lock": "none"}, "lock.write-discipline"),
    ("v6.19", {}, None),
]
RULES = {
    "random": native_hunt.STRATEGY_RANDOM,
    "pct-bounded": native_hunt.STRATEGY_PCT_BOUNDED,
    "pct": native_hunt.STRATEGY_PCT,
}


@pytest.fixture(scope="module", autouse=True)
def _need_native() -> None:
    reason = "" if native_hunt.available() else (native.unavailable_reason() or "stale build")
    if not reason:
        return
    if os.environ.get("FUZZLOCK_REQUIRE_NATIVE"):
        pytest.fail(f"FUZZLOCK_REQUIRE_NATIVE is set but the hunt loop is unavailable: {reason}")
    pytest.skip(f"C hunt loop unavailable: {reason}")


def _scenarios(seed: int) -> Any:
    rng = random.Random(seed)
    while True:
        yield scenarios.gen_scenario(scenarios.RandomSource(random.Random(rng.randrange(2**32))))


def _batch(
    sc: scenario.Scenario, proto: protocol.Protocol, rule: str, seed: int, runs: int = 32
) -> native_hunt.HuntBatch | None:
    try:
        with native_hunt.NativeScenario(sc, proto.knobs) as ns:
            return ns.hunt(
                seed,
                RULES[rule],
                runs,
                preempts=search_random.RANDOM_PREEMPTS,
                depths=search_pct.PCT_DEPTHS,
                pct_k=40,
            )
    except native.NativeSetupError:
        return None


def _check_replays(
    sc: scenario.Scenario, proto: protocol.Protocol, b: native_hunt.HuntBatch
) -> None:
    v = b.violation
    assert v is not None and b.error is None
    assert b.hashes[-1] == trace.hash64(v.events)
    assert b.ndecisions[-1] == len(v.decisions)
    outcome, events, decs, _pre, viol = native.run_model(sc, proto.knobs, v.decisions)
    assert (outcome, events, decs) == (v.outcome, v.events, v.decisions)
    assert viol is not None and viol[:4] == (
        v.outcome,
        v.violation_step,
        v.violation_thread,
        v.violation_fn,
    )
    assert viol[4] == v.message
    trimmed = list(v.decisions)
    while trimmed and trimmed[-1] == 0:
        trimmed.pop()
    py = model.run(sc, proto, decisions=trimmed)
    assert py.outcome == v.outcome
    assert [tuple(e) for e in py.result.events] == v.events


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize(
    ("base", "knobs", "expect"), SETTINGS, ids=[f"{b}{k or ''}" for b, k, _ in SETTINGS]
)
def test_violating_runs_replay_identically(
    base: str, knobs: dict[str, Any], expect: str | None, rule: str
) -> None:
    proto = protocol.get(base, {**RESET, **knobs})
    seen: set[str] = set()
    deadline = time.monotonic() + 20
    gen = _scenarios(hash((base, tuple(knobs), rule)) & 0xFFFF)
    for i in range(400):
        if time.monotonic() > deadline or (expect in seen and len(seen) >= 2):
            break
        sc = next(gen)
        b = _batch(sc, proto, rule, seed=i)
        if b is None:
            continue
        assert b.runs >= 1 and b.steps > 0 and len(b.hashes) == b.runs
        if b.violation is not None:
            seen.add(b.violation.outcome)
            _check_replays(sc, proto, b)
    if expect is not None and rule == "random":
        assert expect in seen, f"{proto.name}: random batches found {sorted(seen)}"


def test_pct_runs_are_pctchooser_runs() -> None:
    """STRATEGY_PCT is choosers.PCTChooser bit for bit: the Python model under
    PCTChooser(the batch's seed, n, depth, k) gives the trace whose hash C reported."""
    checked = 0
    for base in ("v6.18", "v6.19", "patch2-only"):
        proto = protocol.get(base, RESET)
        gen = _scenarios(7)
        for i in range(25):
            sc = next(gen)
            b = _batch(sc, proto, "pct", seed=1000 + i, runs=1)
            if b is None:
                continue
            assert b.pct_seed is not None and b.depth in search_pct.PCT_DEPTHS
            ch = PCTChooser(b.pct_seed, len(sc.threads), depth=b.depth, k=40)
            py = model.run(sc, proto, chooser=ch)
            assert trace.hash64(py.result.events) == b.hashes[0], (base, i)
            assert len(py.result.decisions) == b.ndecisions[0]
            assert py.result.steps == b.steps
            checked += 1
    assert checked >= 30


@pytest.mark.parametrize("rule", sorted(RULES))
def test_batches_are_reproducible(rule: str) -> None:
    proto = protocol.get("v6.19", RESET)
    for sc in [next(_scenarios(3)) for _ in range(1)] + [next(_scenarios(4))]:
        a, b = _batch(sc, proto, rule, 99), _batch(sc, proto, rule, 99)
        c = _batch(sc, proto, rule, 100)
        assert a is not None and b is not None and c is not None
        assert (a.runs, a.steps, a.hashes, a.ndecisions) == (
            b.runs,
            b.steps,
            b.hashes,
            b.ndecisions,
        )
        assert a.hashes != c.hashes or a.ndecisions != c.ndecisions or len(set(a.hashes)) == 1


def test_trace_hash_matches_python() -> None:
    for text in ["", "a", "0|1|f|lock|x|\n", "x" * 7, "y" * 8, "z" * 9, "é|1\n" * 5]:
        assert native_hunt.trace_hash(text) == trace.hash64_text(text), text
    proto = protocol.get("v6.18", RESET)
    gen = _scenarios(11)
    for i in range(20):
        sc = next(gen)
        try:
            _o, events, *_ = native.run_model(sc, proto.knobs, [i % 3] * 20)
        except native.NativeSetupError:
            continue
        assert native_hunt.trace_hash(trace.canonical(events)) == trace.hash64(events)
    assert trace.hash64([(0, 0, "f", "op", "o", "")]) != trace.hash64([(0, 1, "f", "op", "o", "")])


def test_a_reloaded_model_runs_like_a_new_one() -> None:
    """fl_model_reload (one C model per hunt, a new scenario per batch) gives the batches a
    model built afresh gives: across thread counts, protocols, violations, setup errors
    and capacity errors."""
    protos = [protocol.get(b, RESET) for b in ("v6.18", "v6.19", "patch2-only")]
    gen = _scenarios(21)
    ns: native_hunt.NativeScenario | None = None
    compared = 0
    try:
        for i in range(60):
            sc, proto = next(gen), protos[i % 3]
            if i == 30:
                sc = _capacity_scenario()
            fresh: Any
            try:
                with native_hunt.NativeScenario(sc, proto.knobs) as f:
                    fresh = f.hunt(i, i % 3, 16, search_random.RANDOM_PREEMPTS, (2, 3), 30)
            except native.NativeError as e:
                fresh = type(e)
            try:
                ns = native_hunt.NativeScenario(sc, proto.knobs, reuse=ns)
                got: Any = ns.hunt(i, i % 3, 16, search_random.RANDOM_PREEMPTS, (2, 3), 30)
            except native.NativeError as e:
                got = type(e)
            if isinstance(fresh, native_hunt.HuntBatch):
                assert isinstance(got, native_hunt.HuntBatch)
                assert (got.runs, got.steps, got.hashes, got.ndecisions) == (
                    fresh.runs,
                    fresh.steps,
                    fresh.hashes,
                    fresh.ndecisions,
                ), i
                assert (got.violation is None) == (fresh.violation is None)
                compared += 1
            else:
                assert got is fresh, i
    finally:
        if ns is not None:
            ns.close()
    assert compared >= 40


def test_a_refused_reload_keeps_the_old_scenario() -> None:
    lib = native_hunt._lib()
    sc = next(_scenarios(2))
    proto = protocol.get("v6.19", RESET)
    with native_hunt.NativeScenario(sc, proto.knobs) as ns:
        before = ns.hunt(5, 0, 8)
        err = ctypes.create_string_buffer(256)
        bad = (ctypes.c_longlong * 3)(1, 2, 3)
        assert not lib.fl_model_reload(ns.handle, bad, 3, b"x", err, len(err))
        assert b"too short" in err.value
        assert not lib.fl_model_reload(None, bad, 3, b"x", err, len(err))
        assert err.value == b"no model"
        after = ns.hunt(5, 0, 8)
        assert (after.hashes, after.steps) == (before.hashes, before.steps)


# --------------------------------------------------------------------------- malformed


def _raw_call(**over: Any) -> tuple[int, str]:
    """Call fl_model_hunt through ctypes with one field or argument replaced."""
    lib = native_hunt._lib()
    sc = next(_scenarios(1))
    with native_hunt.NativeScenario(sc, protocol.get("v6.19").knobs) as ns:
        a = native_schema.HuntArgs()
        a.seed, a.strategy, a.runs, a.max_steps, a.pct_k = 1, 0, 4, 20000, 10
        a.npreempt, a.ndepth = 1, 1
        a.preempt[0], a.depth[0] = 0.5, 2
        for k, v in over.items():
            if k in {f[0] for f in native_schema.HuntArgs._fields_} and k not in (
                "preempt",
                "depth",
            ):
                setattr(a, k, v)
        if "preempt" in over:
            a.preempt[0] = over["preempt"]
        if "depth" in over:
            a.depth[0] = over["depth"]
        hashes = (ctypes.c_ulonglong * 8)()
        ndec = (ctypes.c_int * 8)()
        out = native_schema.HuntOut()
        res = native_schema.FlResult()
        args = [
            over.get("model", ns.handle),
            over.get("args", ctypes.byref(a)),
            over.get("hashes", hashes),
            over.get("ndec", ndec),
            over.get("cap", 8),
            over.get("out", ctypes.byref(out)),
            over.get("res", ctypes.byref(res)),
        ]
        rc = lib.fl_model_hunt(*args)
        return rc, out.message.decode()


@pytest.mark.sanitizer
@pytest.mark.parametrize(
    "over",
    [
        {"strategy": -1},
        {"strategy": 3},
        {"strategy": 2**31 - 1},
        {"runs": 0},
        {"runs": -7},
        {"runs": 9},  # more than the arrays hold (cap 8)
        {"cap": 0},
        {"max_steps": -1},
        {"npreempt": 0},
        {"npreempt": 9},
        {"npreempt": -1},
        {"preempt": math.nan},
        {"preempt": -0.1},
        {"preempt": 1.5},
        {"preempt": math.inf},
        {"deadline": math.nan},
        {"strategy": 1, "ndepth": 0},
        {"strategy": 2, "ndepth": 99},
        {"strategy": 1, "depth": 0},
        {"strategy": 2, "depth": 17},
        {"strategy": 2, "depth": -3},
        {"strategy": 1, "pct_k": 0},
        {"strategy": 2, "pct_k": (1 << 24) + 1},
        {"model": None},
        {"args": None},
        {"hashes": None},
        {"ndec": None},
        {"res": None},
    ],
    ids=repr,
)
def test_malformed_arguments_are_refused(over: dict[str, Any]) -> None:
    rc, msg = _raw_call(**over)
    assert rc == -1 and msg, (rc, msg)


@pytest.mark.sanitizer
def test_null_output_and_good_call() -> None:
    rc, _msg = _raw_call(out=None)
    assert rc == -1
    rc, msg = _raw_call()
    assert rc == 0 and msg == ""


def test_python_wrapper_refuses_what_c_cannot_hold() -> None:
    sc = next(_scenarios(1))
    with native_hunt.NativeScenario(sc, protocol.get("v6.19").knobs) as ns:
        for kw in (
            {"runs": 2**31},
            {"runs": True},
            {"pct_k": 2**40},
            {"seed": 2**64},
            {"preempts": (0.5,) * 9},
            {"preempts": (float("nan"),)},
            {"depths": (2**33,)},
            {"deadline": "soon"},
        ):
            args: dict[str, Any] = {"seed": 1, "strategy": 0, "runs": 2, **kw}
            with pytest.raises(ValueError):
                ns.hunt(**args)
        with pytest.raises(native.NativeError, match="strategy"):
            ns.hunt(1, 7, 2)
        ok = ns.hunt(2**64 - 1, 0, 2)
        assert ok.runs == 2
    with pytest.raises(native.NativeError, match="closed"):
        ns.hunt(1, 0, 1)


def test_setup_error_is_native_setup_error() -> None:
    sc = scenario.from_json(
        {
            "setup": [
                {"op": "mmap", "mm": 0, "vma": "a", "start": 0, "pages": 2},
                {"op": "read", "mm": 0, "addr": 0, "folio": "F"},
            ],
            "threads": [{"name": "r", "ops": [{"op": "read", "mm": 0, "addr": 0}]}],
        }
    )
    ns = native_hunt.NativeScenario(sc, protocol.get("v6.19").knobs)
    with ns, pytest.raises(native.NativeSetupError):
        ns.hunt(1, 0, 4)


def _capacity_scenario() -> scenario.Scenario:
    """More mms than the C world holds (FL_MAX_MMS 8; 12 forks)."""
    threads = [
        {
            "name": f"t{t}",
            "ops": [{"op": "fork", "mm": 0, "child": 1 + 3 * t + i} for i in range(3)],
        }
        for t in range(4)
    ]
    return scenario.from_json(
        {
            "setup": [
                {"op": "mmap", "mm": 0, "vma": "a", "start": 0, "pages": 4},
                {"op": "write", "mm": 0, "addr": 0, "value": 1},
            ],
            "threads": threads,
        }
    )


def test_a_capacity_error_is_an_error_not_a_crash() -> None:
    """The run stops with an internal error, which the first run reports (no runs
    counted)."""
    ns = native_hunt.NativeScenario(_capacity_scenario(), protocol.get("v6.19").knobs)
    with ns, pytest.raises(native.NativeError, match="capacity exceeded: mms"):
        ns.hunt(1, 0, 4)


# --------------------------------------------------------------------------- the hunt


def test_hunt_keeps_the_schedule_budget() -> None:
    proto = protocol.get("v6.19", RESET)
    for budget in (1, 31, 100):
        res = campaign.hunt(proto, "native", "random", max_seconds=60, max_schedules=budget)
        assert res.verdict == "clean" and res.schedules == budget == res.native_runs
        assert 0 < res.distinct <= budget


def test_hunt_keeps_the_time_budget() -> None:
    proto = protocol.get("v6.19", RESET)
    t0 = time.monotonic()
    res = campaign.hunt(proto, "native", "pct", max_seconds=0.3, seed=5)
    assert res.verdict == "clean" and res.schedules > 0
    assert time.monotonic() - t0 < 2.0


@pytest.mark.parametrize("strategy", ["random", "pct"])
def test_hunt_finds_patch2_only_on_c(strategy: str) -> None:
    proto = protocol.get("patch2-only", RESET)
    res = campaign.hunt(proto, "native", strategy, max_seconds=60, seed=3)
    assert res.verdict == "violation" and res.invariant == "walk.complete", res.notes
    assert res.found is not None and res.found.on == "native"
    assert res.entry is not None and res.entry.expect == "walk.complete"
    assert res.native_fraction == 1.0


@pytest.mark.parametrize(
    ("budget", "per"), [(None, seeded.NATIVE_BATCH), (300, 1), (4000, 4), (10**6, 32)]
)
def test_a_schedule_budget_bounds_the_batch(
    monkeypatch: pytest.MonkeyPatch, budget: int | None, per: int
) -> None:
    """A hunt of N schedules tries ~min(N, BUDGET_SCENARIOS) scenarios."""
    calls: list[int] = []
    real = native_hunt.NativeScenario.hunt

    def spy(self, seed, strategy, runs, **kw):  # type: ignore[no-untyped-def]
        calls.append(runs)
        return real(self, seed, strategy, runs, **kw)

    monkeypatch.setattr(native_hunt.NativeScenario, "hunt", spy)
    proto = protocol.get("v6.19", RESET)
    campaign.hunt(proto, "native", "random", max_seconds=0.2, max_schedules=budget)
    assert calls and calls[0] == per


def test_small_budgets_still_find_scenario_bound_bugs() -> None:
    """move.check_exclusive=false needs the right scenario (~1 in 8) more than the right
    interleaving: 300 schedules are 300 scenarios, not 10 batches."""
    proto = protocol.get("v6.18", {**RESET, "move.check_exclusive": False})
    for seed in (1, 2):
        res = campaign.hunt(proto, "native", "random", max_seconds=30, max_schedules=300, seed=seed)
        assert res.invariant == "folio.exclusive", (seed, res.schedules)


def test_a_batch_stopped_by_an_error_goes_on_on_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """The C runs before an internal error count; the rest of the batch runs on Python."""
    calls: list[int] = []

    def fake(self, seed, strategy, runs, **kw):  # type: ignore[no-untyped-def]
        calls.append(runs)
        return native_hunt.HuntBatch(3, 30, [1, 2, 3], [1, 1, 1], None, 1.0, None, None, "x: cap")

    monkeypatch.setattr(native_hunt.NativeScenario, "hunt", fake)
    monkeypatch.setattr(seeded, "BUDGET_SCENARIOS", 1)  # full batches under this budget
    proto = protocol.get("v6.19", RESET)
    res = campaign.hunt(proto, "native", "random", max_seconds=60, max_schedules=80)
    assert calls[0] == seeded.NATIVE_BATCH and len(calls) >= 2
    assert res.native_runs == 3 * len(calls)
    assert res.python_runs == res.schedules - res.native_runs > 0
    assert res.schedules == 80
    assert any("ran on Python" in n and "cap" in n for n in res.notes)


def test_hypothesis_on_native_runs_a_c_batch_after_each_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each native Hypothesis example is followed by HYPOTHESIS_NATIVE_BATCH seeded random
    schedules of its scenario in one C call: with the same time budget the hunt runs
    several times the schedules it runs without the batch (Hypothesis's own cost per
    example dominates otherwise)."""
    proto = protocol.get("v6.19", RESET)
    runs = {}
    for batch in (0, search_hypothesis.HYPOTHESIS_NATIVE_BATCH):
        monkeypatch.setattr(search_hypothesis, "HYPOTHESIS_NATIVE_BATCH", batch)
        res = campaign.hunt(proto, "native", "hypothesis", 1.5, None, 1, minimize_found=False)
        assert res.verdict == "clean"
        runs[batch] = res.schedules
    assert runs[search_hypothesis.HYPOTHESIS_NATIVE_BATCH] > 4 * runs[0], runs


def test_hypothesis_on_native_reports_a_violation_found_by_a_batch() -> None:
    """R5 (anon_vma.free_handshake=false) needs one interleaving in thousands: the seeded
    random batches catch it; the reported schedule replays to the same violation on both
    models."""
    proto = protocol.get("v6.19", {**RESET, "anon_vma.free_handshake": False})
    res = campaign.hunt(proto, "native", "hypothesis", 120.0, 400_000, 2, minimize_found=False)
    assert res.verdict == "violation" and res.invariant == "uaf", res.notes
    assert res.found is not None
    r = model.run(res.found.scenario, proto, decisions=res.found.decisions)
    assert r.outcome == "uaf"
    assert native.run_model(res.found.scenario, proto.knobs, res.found.decisions)[0] == "uaf"
