"""Runs on ``libfuzzlock_native_fp.so`` that record per-step footprints (docs/footprints.md).

``ModelFootprints`` (a session: one scenario, many runs) and ``run_model_footprints``
return one ``StepInfo`` (``fuzzlock.sched.footprint.StepInfo``, the explorer's type) per
trace event.  The C cells are opaque ints, stable across runs of the same scenario; a step
that conflicts with every step (its footprint overflowed the C side's capacity, or it
touched state without a stable cell) has ``ALL_CELLS`` as both ``reads`` and ``writes``.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Sequence
from typing import Any

from fuzzlock import schema
from fuzzlock.native._schema import CHOOSE_CB, FlResult, FpResult, FpStep
from fuzzlock.native.encoding import check_max_steps, decision_array, encode_model_scenario
from fuzzlock.native.errors import NativeError
from fuzzlock.native.load import load_footprint_library
from fuzzlock.native.runners import (
    Callback,
    Handle,
    Model,
    ModelRunResults,
    model_run_results,
    scenario_of,
)
from fuzzlock.sched.footprint import UNIVERSAL, StepInfo

#: The reads and writes of a step that conflicts with every step (test with ``is``):
#: ``UNIVERSAL``, which the explorer's ``independent`` knows too; ``dependent`` knows it.
ALL_CELLS: frozenset[Any] = frozenset({UNIVERSAL})


def dependent(a: StepInfo, b: StepInfo) -> bool:
    """Whether the footprints of two steps conflict (say nothing about program order:
    two steps of one thread are always ordered)."""
    if a.writes is ALL_CELLS or b.writes is ALL_CELLS:
        return True
    return not (
        a.writes.isdisjoint(b.writes)
        and a.writes.isdisjoint(b.reads)
        and b.writes.isdisjoint(a.reads)
    )


#: ``struct fl_fp_step`` as a struct format (tid, norder, order[FL_MAX_THREADS], decided,
#: all, pad, reads_off, nreads, writes_off, nwrites); unpacked in bulk, much faster than
#: ctypes fields.
_N = schema.FL_MAX_THREADS
_FP_STEP_FMT = f"=ii{_N}iBB6xQQQQ"


def steps_of(fp: FpResult, nevents: int) -> list[StepInfo]:
    """One StepInfo per trace event of a footprint run's result."""
    if fp.nsteps < nevents:
        raise NativeError(f"{fp.nsteps} footprints for {nevents} trace events")
    if struct.calcsize(_FP_STEP_FMT) != ctypes.sizeof(FpStep):
        raise NativeError("struct fl_fp_step layout differs from the schema's")
    raw = ctypes.string_at(fp.steps, nevents * ctypes.sizeof(FpStep)) if nevents else b""
    cells = fp.cells[: fp.ncells] if fp.ncells else []
    out: list[StepInfo] = []
    for rec in struct.iter_unpack(_FP_STEP_FMT, raw):
        tid, norder = rec[0], rec[1]
        order = rec[2 : 2 + norder]
        decided, every = rec[2 + _N], rec[3 + _N]
        if every:
            out.append(StepInfo(tid, order, bool(decided), ALL_CELLS, ALL_CELLS))
            continue
        r0, nr, w0, nw = rec[4 + _N : 8 + _N]
        out.append(
            StepInfo(
                tid,
                order,
                bool(decided),
                frozenset(cells[r0 : r0 + nr]),
                frozenset(cells[w0 : w0 + nw]),
            )
        )
    return out


class FpHandle(Handle):
    """A footprint recorder (``struct fl_fp``)."""

    _free = "fl_fp_free"


class ModelFootprints:
    """One scenario on the footprint library, run as often as wanted (the explorer's
    session: the scenario is parsed and the buffers allocated once).  ``close()`` (or
    leaving a ``with``) frees it.

    ``step_checks=False`` leaves out the per-step invariant checks (the end-of-run checks
    stay): footprints do not cover what the invariant checks read, so an intermediate state
    that only one of two equivalent orders passes through can break a per-step invariant in
    that order alone.

    ``lockdep_cells=False`` leaves out the cells of lockdep's graph (a blocking acquisition
    under other locks reads the cell of its class edge, or writes it and the whole graph's
    cell when it adds the edge).  Without them, steps that differ only in which first adds
    a lockdep edge are independent: whether a whole run's edges have a cycle does not depend
    on their order, but the step where ``lock.order`` is reported, and so where the run
    stops, does."""

    def __init__(
        self,
        scenario_json: Any,
        protocol_knobs: Any,
        max_steps: int | None = None,
        step_checks: bool = True,
        lockdep_cells: bool = True,
    ) -> None:
        lib = load_footprint_library()
        sc = scenario_of(scenario_json)
        self.max_steps = check_max_steps(sc.max_steps if max_steps is None else max_steps)
        self.flags = 0 if step_checks else schema.FL_MODEL_NO_STEP_CHECKS
        encoded, names = encode_model_scenario(sc, protocol_knobs)
        self._model = Model(encoded, names, lib=lib)
        self._fp = FpHandle()
        self._fp.lib = lib
        self._fp.handle = lib.fl_model_fp_new(self._model.handle)
        if not self._fp.handle:
            self._model.close()
            raise NativeError("out of memory (footprint recorder)")
        lib.fl_fp_set_lockdep(self._fp.handle, 1 if lockdep_cells else 0)

    def run(
        self, decisions: Sequence[int] = (), chooser: Any = None, max_steps: int | None = None
    ) -> tuple[ModelRunResults, list[StepInfo]]:
        """One run (decisions replayed, or from ``chooser``): its results like
        ``run_model_results`` and one StepInfo per trace event.  ``max_steps`` overrides
        the session's bound for this run (a prefix of a schedule: outcome ``step-bound``)."""
        if self._model.handle is None:
            raise NativeError("ModelFootprints is closed")
        steps = self.max_steps if max_steps is None else check_max_steps(max_steps)
        lib = self._model.lib
        arr, n = decision_array(decisions)
        res, fpres = FlResult(), FpResult()
        cb = Callback(chooser) if chooser is not None else None
        rc = lib.fl_model_footprints(
            self._model.handle,
            self._fp.handle,
            arr,
            n,
            cb.cb if cb is not None else CHOOSE_CB(),
            None,
            steps,
            self.flags,
            ctypes.byref(res),
            ctypes.byref(fpres),
        )
        if cb is not None:
            cb.reraise()
        if rc == -1 and res.outcome_id is None:
            raise NativeError("fl_model_footprints refused its arguments")
        results = model_run_results(self._model, res, rc)
        return results, steps_of(fpres, res.nevents)

    def bench(self, runs: int, seed: int = 0, recording: bool = True) -> int:
        """``runs`` runs with seeded random decisions in one C call, recording footprints
        (or, ``recording=False``, the instrumented library's plain runs); the total number
        of steps (for benchmarks)."""
        if self._model.handle is None:
            raise NativeError("ModelFootprints is closed")
        lib = self._model.lib
        if recording:
            total = lib.fl_model_fp_bench(
                self._model.handle, self._fp.handle, runs, seed & (2**64 - 1), self.max_steps
            )
        else:
            total = lib.fl_model_bench(self._model.handle, runs, seed & (2**64 - 1), self.max_steps)
        if total < 0:
            raise NativeError("C model error in the footprint bench")
        return int(total)

    def set_step_capacity(self, cells: int) -> None:
        """Test aid: a step recording more than ``cells`` cells (reads + writes) becomes an
        ``ALL_CELLS`` step (the default, and the maximum, is ``FL_FP_STEP_CELLS``)."""
        self._model.lib.fl_fp_set_capacity(self._fp.handle, max(0, cells))

    def state_digest(self) -> int:
        """A hash of the model's state after the last run (test aid: equal for runs that
        differ only in the order of independent steps; see fl_model_state_digest)."""
        if self._model.handle is None:
            raise NativeError("ModelFootprints is closed")
        return int(self._model.lib.fl_model_state_digest(self._model.handle))

    def close(self) -> None:
        self._fp.close()
        self._model.close()

    def __enter__(self) -> ModelFootprints:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_model_footprints(
    scenario_json: Any,
    protocol_knobs: Any,
    decisions: Sequence[int] = (),
    max_steps: int | None = None,
    *,
    chooser: Any = None,
    step_checks: bool = True,
    lockdep_cells: bool = True,
) -> tuple[ModelRunResults, list[StepInfo]]:
    """``run_model_results`` on the footprint library, plus one StepInfo per trace event
    (the same run, event for event, as ``run_model``'s).  ``step_checks``, ``lockdep_cells``:
    see ``ModelFootprints``.  For many runs of one scenario use a ``ModelFootprints``
    session.  NativeUnavailableError without the _fp library."""
    with ModelFootprints(
        scenario_json, protocol_knobs, max_steps, step_checks, lockdep_cells
    ) as mf:
        return mf.run(decisions, chooser)
