"""The Python reference model of the anon rmap locking protocol.

PYTEST_DONT_REWRITE: the asserts here run on the scheduler's or the model's hot path and
stay plain asserts (in a wheel install, fuzzlock's pytest11 entry point makes pytest mark
the whole fuzzlock package for assertion rewriting).

One module per kernel file it models: ``rmap`` (mm/rmap.c), ``userfaultfd``
(mm/userfaultfd.c, fs/userfaultfd.c; its PTE moves in ``uffd_move_ptes``), ``memory``
(mm/memory.c), ``fork`` (kernel/fork.c), ``vmscan`` (mm/vmscan.c, mm/madvise.c),
``walkers`` (page_idle, DAMON, memory-failure), over the state in ``world``.  ``run``
executes one scenario under one protocol and one schedule::

    from fuzzlock import model, protocol, scenario
    r = model.run(scenario.loads(text), protocol.get("v6.19"), decisions=[0, 1])
    r.outcome, r.digest, r.results
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from fuzzlock import invariants, schema
from fuzzlock.model import cells as _cells  # noqa: F401  (registers the footprint cells)
from fuzzlock.model import rmap, userfaultfd
from fuzzlock.model.prim import Gen
from fuzzlock.model.world import World
from fuzzlock.protocol import Protocol
from fuzzlock.scenario import MOVE_MODES, Scenario
from fuzzlock.sched import Chooser, Replay, RunResult, Scheduler, Violation, ViolationError
from fuzzlock.sched.footprint import Recorder, StepInfo


@attrs.define
class ModelRun:
    """A run's result plus what each thread's operations returned."""

    result: RunResult
    results: list[list[str]]
    world: World
    step_infos: list[StepInfo] = attrs.field(factory=list)  # only when recorded

    @property
    def outcome(self) -> str:
        return self.result.outcome

    @property
    def digest(self) -> str:
        return self.result.digest

    @property
    def violation(self) -> Violation | None:
        return self.result.violation


def run(
    sc: Scenario,
    proto: Protocol,
    decisions: Sequence[int] | None = None,
    chooser: Chooser | None = None,
    max_steps: int | None = None,
    check: bool = True,
    recorder: Recorder | None = None,
    soft: Soft | None = None,
    returns: list[list[Any]] | None = None,
) -> ModelRun:
    """Run ``sc`` under ``proto`` with a decision list (or any chooser).  ``recorder``
    (inside ``footprint.tracking``) records each step's footprint into
    ``result.step_infos`` (fuzzlock.explore).  With ``soft``, the invariant checks (the
    step and end hooks, a move's answer) report a violation to it instead of ending the
    run; ``returns`` (one list per thread) gets each op's return value as it returns
    (the concurrent kernel oracle uses both)."""
    sched = Scheduler(max_steps=max_steps or sc.max_steps)
    w = World(sched, proto)
    for i, o in enumerate(sc.setup):
        try:
            sched.run_solo(f"setup[{i}]", setup_op(w, o))
        except ViolationError as e:
            raise SetupError(f"scenario.setup[{i}] ({o['op']}): {e}") from None
    results: list[list[str]] = []
    for name, prog in sc.threads:
        out: list[str] = []
        results.append(out)
        raw = returns[len(results) - 1] if returns is not None else None
        sched.spawn(name, thread_body(w, prog, out, soft, raw))
    if check:
        sched.check_step = invariants.step_hook(w)
        sched.check_end = invariants.end_hook(w)
        if soft is not None:
            sched.check_step, sched.check_end = _soft_hooks(soft, sched.check_step, sched.check_end)
    sched.recorder = recorder
    r = sched.run(chooser if chooser is not None else Replay(decisions or []))
    if recorder is not None:
        recorder.on = False
    return ModelRun(r, results, w, sched.step_infos)


#: ``run(soft=...)``: told (scheduler, violation, where) instead of ending the run
Soft = Callable[[Scheduler, ViolationError, str], None]


def _soft_hooks(soft: Soft, step: Any, end: Any) -> tuple[Any, Any]:
    """The invariant hooks ``step`` and ``end``, reporting to ``soft`` instead of raising."""

    def soft_step(s: Scheduler, t: Any) -> None:
        try:
            step(s, t)
        except ViolationError as e:
            soft(s, e, "step hook")

    def soft_end(s: Scheduler) -> None:
        try:
            end(s)
        except ViolationError as e:
            soft(s, e, "end hook")

    return soft_step, soft_end


class SetupError(ValueError):
    """The setup itself broke an invariant or could not run: a malformed scenario."""


def setup_op(w: World, o: dict[str, Any]) -> Gen:
    """One setup op, run alone."""
    op = o["op"]
    if op == "mmap":
        mm = w.mms.get(o["mm"]) or w.new_mm(o["mm"])
        v = w.new_vma(mm, o["start"], o["start"] + o["pages"], o["vma"])
        v.uffd, v.write, v.locked = o["uffd"], o["write"], o["locked"]
        v.dontfork, v.wipeonfork = o["dontfork"], o["wipeonfork"]
        mm.vmas.append(v)
        mm.vmas.sort(key=lambda x: x.start)
        return
    if op == "bind":
        _bind(w, o)
        return
    if op in ("write", "read"):
        # a setup write may land in a uffd-registered range: fill it like UFFDIO_COPY would
        mm = w.mms[o["mm"]]
        vma = mm.find_vma(o["addr"])
        saved = vma.uffd if vma is not None else False
        if vma is not None:
            vma.uffd = False
        yield from do_op(w, o)
        if vma is not None:
            vma.uffd = saved
        if o.get("folio"):
            _bind(w, o)
        return
    yield from do_op(w, o)


def _bind(w: World, o: dict[str, Any]) -> None:
    mm = w.mms.get(o["mm"])
    p = mm.pte(o["addr"]) if mm is not None else None
    f = p.folio if p is not None else None
    if f is None and p is not None and p.kind == "swap":
        f = w.swap.cache.get(p.entry)
    if f is None:
        raise SetupError(f"folio {o['folio']!r}: nothing mapped at mm{o['mm']}:{o['addr']:#x}")
    w.named_folios[o["folio"]] = f


def thread_body(
    w: World,
    prog: Sequence[dict[str, Any]],
    out: list[str],
    soft: Soft | None = None,
    returns: list[Any] | None = None,
) -> Gen:
    for o in prog:
        r = yield from do_op(w, o, soft)
        if returns is not None:
            returns.append(r)
        out.append(_fmt(r))
    return out


def _fmt(r: Any) -> str:
    if r is None:
        return "-"
    if isinstance(r, bool):
        return "1" if r else "0"
    tr = getattr(r, "trace_repr", None)
    if tr is not None:
        return str(tr())
    if isinstance(r, list):
        return ",".join(str(x) for x in r)
    return str(r)


def _impl(op: schema.Op) -> tuple[Callable[..., Gen], str, tuple[str, ...], dict[str, Any]]:
    """(function, target, argument fields, constant keywords) of a schema op."""
    mod, _, fn = op.py.partition(".")
    return (
        getattr(importlib.import_module(f"fuzzlock.model.{mod}"), fn),
        op.target,
        tuple(s.field for s in op.args),
        dict(op.consts),
    )


#: op name -> how ``do_op`` calls it (fuzzlock.schema.OPS; the setup-only ops have none)
_IMPLS = {op.name: _impl(op) for op in schema.OPS if op.py}


def do_op(w: World, o: dict[str, Any], soft: Soft | None = None) -> Gen:
    """Dispatch one scenario op to the model function that implements it
    (``schema.Op.py``), with its target and fields; the special cases
    (``schema.Op.special``) are here.  ``soft``: as in ``run``."""
    op = o["op"]
    fn, target, fields, consts = _IMPLS[op]
    tgt: Any = None
    if target == "mm":
        tgt = w.mms.get(o["mm"])
        if tgt is None:
            return "no-mm"
    elif target == "folio":
        tgt = w.named_folios[o["folio"]]
    if op == "move":  # I16 on the answer
        mode = 0
        for m in o["mode"]:
            mode |= MOVE_MODES[m]
        tid = w.tid()
        before = w.pte_moves.get(tid, 0)
        r = yield from userfaultfd.userfaultfd_move(w, tgt, o["dst"], o["src"], o["len"], mode)
        if soft is None:
            check_move_result(w, o, r, w.pte_moves.get(tid, 0) - before)
        else:
            try:
                check_move_result(w, o, r, w.pte_moves.get(tid, 0) - before)
            except ViolationError as e:
                soft(w.sched, e, "move result")
        return r
    if op == "fork" and o["child"] in w.mms:  # the child id is taken: no fork
        return "child-exists"
    args = [o[f] for f in fields]
    if target == "none":
        r = yield from fn(w, *args, **consts)
    else:
        r = yield from fn(w, tgt, *args, **consts)
    if op in _FOLIO_RESULTS:  # a folio or None: its name
        return r.name if r is not None else _FOLIO_RESULTS[op]
    return r


#: ops whose result is a folio (or None): op -> the text for None
_FOLIO_RESULTS = {op.name: op.result_none for op in schema.OPS if op.result == "folio"}


def check_move_result(w: World, o: dict[str, Any], r: userfaultfd.MoveResult, moved: int) -> None:
    """I16: the ioctl's answer agrees with what this call really moved."""
    fn = "userfaultfd_move"
    if r.ret == 0 and r.move != o["len"]:
        raise ViolationError("move.result", fn, f"returned 0 but move = {r.move}, len {o['len']}")
    if r.move == 0:
        raise ViolationError("move.result", fn, "move = 0: the result is never 0")
    reported = r.move if r.move is not None and r.move > 0 else 0
    if moved > reported:
        raise ViolationError(
            "move.result",
            fn,
            f"moved {moved} page(s) but returned {userfaultfd.prim.errname(r.ret)} with move = "
            f"{r.move}: userspace is told fewer pages moved than did",
            (f"mm{o['mm']}",),
        )


__all__ = ["ModelRun", "SetupError", "rmap", "run"]
