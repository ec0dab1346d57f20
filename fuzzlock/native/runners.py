"""Running scenarios on the C model: one run (decisions replayed, a Python chooser called
back from C, or the C port of ``PCTChooser``) or many in one call (``model_bench``).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any, NamedTuple

from fuzzlock import schema
from fuzzlock.native._schema import CHOOSE_CB, FlResult
from fuzzlock.native.encoding import (
    INT64_MAX,
    INT64_MIN,
    Event,
    check_max_steps,
    check_pct,
    decision_array,
    encode_model_scenario,
    parse_trace,
)
from fuzzlock.native.errors import NativeError, NativeSetupError
from fuzzlock.native.load import load_library

ModelViolation = tuple[str, int, int, str, str]
_FL_ERROR = schema.OUTCOMES["FL_ERROR"]


class NativeRun(NamedTuple):
    """One run on the C scheduler (the fields of ``RunResult`` it has)."""

    outcome: str
    events: list[Event]
    decisions: list[int]
    preempted: list[int]
    violation_step: int | None
    violation_thread: int | None
    violation_fn: str | None
    message: str
    steps: int


def run_of(res: FlResult) -> NativeRun:
    """The NativeRun a C runner filled ``res`` with; NativeError for an internal error."""
    if res.outcome == _FL_ERROR:
        raise NativeError(f"C scheduler error: {(res.message or b'').decode(errors='replace')}")
    text = ctypes.string_at(res.trace, res.trace_len).decode() if res.trace_len else ""
    events = parse_trace(text)
    if len(events) != res.nevents:
        raise NativeError(f"trace text has {len(events)} events, the C side {res.nevents}")
    has_viol = res.violation_step >= 0
    return NativeRun(
        outcome=(res.outcome_id or b"").decode(),
        events=events,
        decisions=[res.decisions[i] for i in range(res.ndecisions)],
        preempted=[res.preempted[i] for i in range(res.npreempted)],
        violation_step=res.violation_step if has_viol else None,
        violation_thread=res.violation_thread if has_viol else None,
        violation_fn=(res.violation_fn or b"").decode() if has_viol else None,
        message=(res.message or b"").decode() if has_viol else "",
        steps=res.steps,
    )


class Handle:
    """An object owned by the C side; ``close()`` (or leaving a ``with``) frees it with
    the library function named by ``_free``."""

    _free = ""
    lib: Any
    handle: int | None

    def close(self) -> None:
        if self.handle:
            getattr(self.lib, self._free)(self.handle)
            self.handle = None

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Callback:
    """A Python chooser (``choose(order, current)``) as a C callback: an exception it
    raises, or a bad decision, aborts the C run; ``reraise()`` raises it afterwards."""

    def __init__(self, chooser: Any) -> None:
        self.raised: list[BaseException] = []

        def choose(_ctx: Any, order: Any, n: int, current: int) -> int:
            try:
                c = chooser.choose([order[i] for i in range(n)], current)
                if not isinstance(c, int) or not 0 <= c <= INT64_MAX:
                    raise ValueError(f"chooser returned {c!r}, not a non-negative 64-bit int")
                return c
            except BaseException as exc:  # re-raised by reraise(), after the C call returns
                self.raised.append(exc)
                return -1

        self.cb = CHOOSE_CB(choose)

    def reraise(self) -> None:
        if self.raised:
            raise self.raised[0]


class Model(Handle):
    """A parsed scenario on the C side (``struct fl_model``); close() frees it."""

    _free = "fl_model_free"

    def __init__(self, encoded: Sequence[int], names: str, lib: Any = None) -> None:
        self.lib = lib if lib is not None else load_library()
        for x in encoded:
            if not INT64_MIN <= x <= INT64_MAX:
                raise NativeError(f"encoding value {x} does not fit in 64 bits")
        arr = (ctypes.c_longlong * len(encoded))(*encoded)
        err = ctypes.create_string_buffer(256)
        handle = self.lib.fl_model_new(arr, len(encoded), names.encode(), err, len(err))
        if not handle:
            raise NativeError(f"malformed model scenario: {err.value.decode(errors='replace')}")
        self.handle: int | None = handle


def scenario_of(scenario_json: Any) -> Any:
    from fuzzlock import scenario as _scenario

    if isinstance(scenario_json, str):
        return _scenario.loads(scenario_json)
    return scenario_json


class ModelRunResults(NamedTuple):
    """``run_model_results``: the run, what each thread's operations returned (like
    ``model.ModelRun.results``), and the violation's objects (``Violation.objects``), or
    None when the C side did not record them for this violation (not ported yet)."""

    run: tuple[str, list[Event], list[int], list[int], ModelViolation | None]
    results: list[list[str]]
    objects: tuple[str, ...] | None


def model_run_results(m: Model, res: FlResult, rc: int) -> ModelRunResults:
    """The ModelRunResults of the run of ``m`` that filled ``res`` and returned ``rc``."""
    msg = (res.message or b"").decode(errors="replace")
    if rc == schema.FL_MODEL_SETUP_ERROR:
        raise NativeSetupError(msg)
    r = run_of(res)
    results: list[list[str]] = []
    text = (m.lib.fl_model_results(m.handle) or b"").decode()
    for line in text.split("\n"):
        n, *vals = line.split("\t")
        assert int(n) == len(vals), line
        results.append(vals)
    objects: tuple[str, ...] | None = None
    raw = m.lib.fl_model_violation_objects(m.handle)
    if raw is not None:
        objects = tuple(raw.decode().split("\n")) if raw else ()
    viol = None
    if r.violation_step is not None:
        thread = r.violation_thread if r.violation_thread is not None else -1
        viol = (r.outcome, r.violation_step, thread, r.violation_fn or "", r.message)
    return ModelRunResults((r.outcome, r.events, r.decisions, r.preempted, viol), results, objects)


def run_model(
    scenario_json: Any,
    protocol_knobs: Any,
    decisions: Sequence[int] = (),
    max_steps: int | None = None,
    *,
    chooser: Any = None,
    pct: tuple[int, int, int] | None = None,
) -> tuple[str, list[Event], list[int], list[int], ModelViolation | None]:
    """Run a scenario (JSON text, or a ``Scenario``) once on the C model under a full knob
    map (``Protocol.knobs``), replaying ``decisions``; ``max_steps`` defaults to the
    scenario's.  Returns ``(outcome, events, decisions, preempted, violation)`` where
    violation is ``(id, step, thread, fn, message)`` or None.

    Instead of a decision list: ``chooser`` (an object with ``choose(order, current)`` as in
    fuzzlock.sched.choosers, e.g. a HypothesisChooser drawing lazily) is called back from C
    at each decision point, and an exception it raises aborts the run and is re-raised;
    ``pct=(seed, depth, k)`` runs the C port of ``PCTChooser(seed, n_threads, depth, k)``,
    which makes the same decisions as the Python one.

    Raises NativeError for an op or value outside the native slice (or a run beyond the C
    model's capacities), NativeSetupError where
    ``fuzzlock.model.run`` raises SetupError."""
    return run_model_results(
        scenario_json, protocol_knobs, decisions, max_steps, chooser=chooser, pct=pct
    ).run


def run_model_results(
    scenario_json: Any,
    protocol_knobs: Any,
    decisions: Sequence[int] = (),
    max_steps: int | None = None,
    *,
    chooser: Any = None,
    pct: tuple[int, int, int] | None = None,
) -> ModelRunResults:
    """``run_model`` plus what each thread's operations returned, formatted like
    ``model.ModelRun.results`` (the ops a thread completed before the run ended)."""
    sc = scenario_of(scenario_json)
    steps = check_max_steps(sc.max_steps if max_steps is None else max_steps)
    encoded, names = encode_model_scenario(sc, protocol_knobs)
    arr, n = decision_array(decisions)
    pct_args = check_pct(pct) if pct is not None else None
    with Model(encoded, names) as m:
        res = FlResult()
        if pct_args is not None:
            rc = m.lib.fl_model_run_pct(m.handle, *pct_args, steps, ctypes.byref(res))
            if rc == -1 and res.outcome_id is None:
                raise NativeError(f"bad PCT parameters {pct!r} for the C chooser")
        elif chooser is not None:
            cb = Callback(chooser)
            rc = m.lib.fl_model_run_cb(m.handle, cb.cb, None, steps, ctypes.byref(res))
            cb.reraise()
        else:
            rc = m.lib.fl_model_run(m.handle, arr, n, steps, ctypes.byref(res))
        return model_run_results(m, res, rc)


def model_bench(
    scenario_json: Any,
    protocol_knobs: Any,
    runs: int,
    seed: int = 0,
    max_steps: int | None = None,
    *,
    pct: tuple[int, int] | None = None,
) -> int:
    """Run a scenario ``runs`` times in one C call with seeded random decisions (seeds
    ``seed``, ``seed + 1``, ...), or with ``pct=(depth, k)`` the C PCT chooser
    ``PCTChooser(seed + i, n_threads, depth, k)``; the total number of scheduling steps
    (for benchmarks)."""
    sc = scenario_of(scenario_json)
    steps = check_max_steps(sc.max_steps if max_steps is None else max_steps)
    encoded, names = encode_model_scenario(sc, protocol_knobs)
    if pct is not None:
        _s, depth, k = check_pct((seed, *pct))
        if seed < 0 or seed + runs > 2**64:
            raise ValueError(f"PCT bench seeds {seed}..{seed + runs - 1} must be in 0..2**64-1")
    with Model(encoded, names) as m:
        if pct is None:
            total = int(m.lib.fl_model_bench(m.handle, runs, seed & (2**64 - 1), steps))
        else:
            total = int(m.lib.fl_model_bench_pct(m.handle, runs, seed, depth, k, steps))
    if total < 0:
        raise NativeError("C model error in fl_model_bench")
    return total
