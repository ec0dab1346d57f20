"""The deterministic scheduler (docs/design.md#scheduler-contract).

PYTEST_DONT_REWRITE: the asserts here run on the scheduler's or the model's hot path and
stay plain asserts (in a wheel install, fuzzlock's pytest11 entry point makes pytest mark
the whole fuzzlock package for assertion rewriting).

Simulated threads are generators that yield ``Op``s (``fuzzlock.sched.ops``) at their
scheduling points; no OS threads are involved.  At each step the scheduler computes the
enabled threads in round-robin order from the current thread, consumes a decision from
the chooser only when two or more are enabled, executes the chosen thread's pending op,
records one trace event and runs the thread on to its next scheduling point.

It detects, as run outcomes: ``deadlock`` (with the wait-for cycle), ``step-bound``,
``sleep-in-atomic`` (a sleeping op while holding a spinlock or inside an RCU or PTE-map
section), ``unlock-not-held``, ``lock.order`` (a cycle in the lock-class graph, even
without a deadlock) and ``thread.end`` (a thread ending with a lock, an RCU section or a
PTE map still held).  Model invariants plug in through ``check_step``/``check_end``,
which raise ``ViolationError``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from fuzzlock import trace
from fuzzlock.sched import footprint, ops
from fuzzlock.sched.choosers import Chooser
from fuzzlock.sched.footprint import Recorder, StepInfo, lock_cell
from fuzzlock.sched.lockdep import Edge, LockGraph, find_cycle, unsafe_scenario
from fuzzlock.sched.locks import Lock, RWSem
from fuzzlock.sched.result import FINISHED, STEP_BOUND, RunResult, Violation, ViolationError

ThreadBody = Generator[ops.Op, Any, Any]

_LOCK = ops.LOCK
_TRYLOCK = ops.TRYLOCK
_UNLOCK = ops.UNLOCK
_MEM = ops.MEM
_WAIT = ops.WAIT
_WRITE = ops.WRITE

_BLOCKING = (ops.LOCK, ops.WAIT)
_MAY_SLEEP = (ops.LOCK, ops.WAIT, ops.MIGHT_SLEEP)

DEFAULT_MAX_STEPS = 20_000


class Held:
    """One lock a thread holds (lockdep's ``held_lock``)."""

    __slots__ = ("fn", "lock", "mode", "step", "subclass", "trylock")

    def __init__(
        self, lock: Lock | RWSem, mode: int, subclass: int, trylock: bool, fn: str, step: int
    ):
        self.lock = lock
        self.mode = mode
        self.subclass = subclass
        self.trylock = trylock
        self.fn = fn
        self.step = step


class SimThread:
    __slots__ = (
        "body",
        "done",
        "held",
        "name",
        "pending",
        "pte_maps",
        "rcu_depth",
        "rcu_since",
        "result",
        "spins",
        "tid",
    )

    def __init__(self, tid: int, name: str, body: ThreadBody) -> None:
        self.tid = tid
        self.name = name
        self.body = body
        self.pending: ops.Op | None = None
        self.done = False
        self.held: list[Held] = []
        self.rcu_depth = 0  # rcu_read_lock nesting, PTE maps included
        self.rcu_since: int | None = None  # scheduler clock of the outermost rcu_read_lock
        self.pte_maps = 0
        self.spins = 0  # spinlocks held
        self.result: Any = None

    def holds(self, lk: Lock | RWSem) -> bool:
        return any(h.lock is lk for h in self.held)

    def atomic_context(self) -> str:
        """Why sleeping is illegal now, or '' if it is allowed."""
        if self.spins:
            names = [
                h.lock.name for h in self.held if isinstance(h.lock, Lock) and not h.lock.sleeps
            ]
            return "holding spinlock " + ", ".join(names)
        if self.pte_maps:
            return "between pte_offset_map and pte_unmap"
        if self.rcu_depth:
            return "inside an RCU read section"
        return ""


class Scheduler:
    """One schedule of one program.  Build, ``spawn`` threads (and ``run_solo`` a setup),
    then ``run(chooser)`` once."""

    def __init__(self, max_steps: int = DEFAULT_MAX_STEPS) -> None:
        self.max_steps = max_steps
        self.threads: list[SimThread] = []
        self.current: SimThread | None = None
        self.clock = 0  # every executed op, setup included (orders RCU sections and frees)
        self.step = 0  # trace step of the concurrent phase
        self.lockdep = LockGraph()
        self.events: list[trace.Event] = []
        self.check_step: Callable[[Scheduler, SimThread], None] | None = None
        self.check_end: Callable[[Scheduler], None] | None = None
        # Set by fuzzlock.explore: record each step's thread, enabled order and footprint
        # into ``step_infos`` (fuzzlock.sched.footprint).
        self.recorder: Recorder | None = None
        self.mem_object_cells = False  # toy programs: a MEM op's object is its footprint
        self.step_infos: list[StepInfo] = []
        self._solo = False

    # --- building ------------------------------------------------------------------------------

    def spawn(self, name: str, body: ThreadBody) -> SimThread:
        t = SimThread(len(self.threads), name, body)
        self.threads.append(t)
        return t

    def run_solo(self, name: str, body: ThreadBody) -> Any:
        """Run a setup body to completion with no interleaving and no trace.

        A violation raises ``ViolationError``; a blocking op that cannot proceed is a
        malformed setup and raises ``RuntimeError``."""
        t = SimThread(-1, name, body)
        self._solo = True
        self.current = t
        try:
            self._advance(t, None)
            while not t.done:
                op = t.pending
                assert op is not None
                if op.kind in ops.BLOCKING_KINDS and not self._enabled(op, t.tid):
                    raise RuntimeError(f"setup {name} blocks on {op.obj} in {op.fn}")
                val = self._execute(t, op)
                self.clock += 1
                self._advance(t, val)
            self._thread_end(t)
        finally:
            self._solo = False
            self.current = None
        return t.result

    # --- the run -------------------------------------------------------------------------------

    def run(self, chooser: Chooser) -> RunResult:
        threads = self.threads
        n = len(threads)
        decisions: list[int] = []
        preempted: list[int] = []
        violation: Violation | None = None
        outcome = FINISHED
        try:
            for t in threads:
                self.current = t
                self._advance(t, None)
            cur = 0
            enabled = self._enabled
            while True:
                order: list[int] = []
                cur_enabled = False
                for i in range(n):
                    t = threads[(cur + i) % n]
                    if t.done:
                        continue
                    op = t.pending
                    if op.kind in _BLOCKING and not enabled(op, t.tid):  # type: ignore[union-attr,arg-type]
                        continue
                    order.append(t.tid)
                    if i == 0:
                        cur_enabled = True
                if not order:
                    if all(t.done for t in threads):
                        break
                    violation = self._deadlock()
                    break
                if self.step >= self.max_steps:
                    outcome = STEP_BOUND
                    break
                if len(order) >= 2:
                    c = chooser.choose(order, cur)
                    decisions.append(c)
                    pick = order[c % len(order)]
                    if cur_enabled and pick != cur:
                        preempted.append(self.step)
                else:
                    pick = order[0]
                cur = pick
                t = threads[pick]
                self.current = t
                op = t.pending
                rec = self.recorder
                if rec is not None:
                    rec.start()
                try:
                    val = self._execute(t, op)  # type: ignore[arg-type]
                except ViolationError:
                    # the op that broke an invariant is part of the trace: value "!"
                    self.events.append((self.step, pick, op.fn, op.label, op.obj, "!"))  # type: ignore[union-attr]
                    if rec is not None:  # and of the footprints: what it did up to there
                        self._record_step(rec, t, op, order, None, advanced=False)  # type: ignore[arg-type]
                    raise
                self.events.append(
                    (self.step, pick, op.fn, op.label, op.obj, trace.fmt_value(val))  # type: ignore[union-attr]
                )
                self.clock += 1
                try:
                    self._advance(t, val)
                except ViolationError:
                    if rec is not None:
                        self._record_step(rec, t, op, order, val, advanced=False)  # type: ignore[arg-type]
                    raise
                if rec is not None:
                    self._record_step(rec, t, op, order, val)  # type: ignore[arg-type]
                if self.check_step is not None:
                    self.check_step(self, t)
                self.step += 1
            if violation is None and outcome == FINISHED and self.check_end is not None:
                self.current = None
                self.check_end(self)
        except ViolationError as e:
            who = self.current
            violation = e.at(self.step, who.tid if who is not None else -1)
        finally:
            self.current = None
        if violation is not None:
            outcome = violation.id
        return RunResult(
            outcome=outcome,
            violation=violation,
            events=self.events,
            steps=len(self.events),
            decisions=decisions,
            preempted=preempted,
            thread_names=[t.name for t in threads],
        )

    def _record_step(
        self,
        rec: Recorder,
        t: SimThread,
        op: ops.Op,
        order: list[int],
        val: Any,
        advanced: bool = True,
    ) -> None:
        """The footprint of the step just run: what the recorder saw, plus the explicit
        cells of fuzzlock.sched.footprint (lock state, RCU order, toy objects).  A step
        that a violation cut short (``advanced=False``) has one too, of what it did up to
        the violation, as on the C side: the explorer must see its races like any other
        step's (reordering it is what avoids or causes the violation)."""
        reads, writes = rec.stop()
        extra_r: set[Any] = set()
        extra_w: set[Any] = set()
        k = op.kind
        if k in (_LOCK, _UNLOCK):
            extra_w.add(lock_cell(op.lock))
        elif k == _TRYLOCK:
            (extra_w if val else extra_r).add(lock_cell(op.lock))
        elif k == _WAIT:
            extra_r.add(lock_cell(op.lock))
        elif k in (ops.RCU_LOCK, ops.RCU_UNLOCK, ops.PTE_MAP, ops.PTE_UNMAP):
            extra_r.add(footprint.RCU)
        elif k == _MEM and self.mem_object_cells:
            (extra_r if op.label == "read" else extra_w).add(("obj", op.obj))
        nxt = t.pending if advanced else None
        if nxt is not None and nxt.kind == _LOCK and nxt.mode == _WRITE:
            # the writer-waiting rule (see _advance): stopping at down_write on a taken
            # rwsem holds readers off from now on; on a free one it only makes the thread
            # pending, which commutes with acquisitions but not with a release before it
            sem = nxt.lock
            (extra_r if sem.write_available() else extra_w).add(lock_cell(sem))  # type: ignore[union-attr]
        if extra_w:
            writes = writes | extra_w
        if extra_r:
            reads = (reads | extra_r) - writes
        self.step_infos.append(StepInfo(t.tid, tuple(order), len(order) >= 2, reads, writes))

    # --- thread stepping -----------------------------------------------------------------------

    def _advance(self, t: SimThread, val: Any) -> None:
        """Resume ``t`` with ``val`` and run it to its next scheduling point."""
        try:
            op = t.body.send(val)
        except StopIteration as stop:
            t.done = True
            t.pending = None
            t.result = stop.value
            if not self._solo:
                self._thread_end(t)
            return
        t.pending = op
        k = op.kind
        if k in _MAY_SLEEP:
            if k == _LOCK and op.mode == _WRITE:
                sem = op.lock
                sem.pending_writers.add(t.tid)  # type: ignore[union-attr]
                if not sem.write_available():  # type: ignore[union-attr]
                    sem.waiting_writers.add(t.tid)  # type: ignore[union-attr]
            if k == ops.MIGHT_SLEEP or op.lock.sleeps:  # type: ignore[union-attr]
                why = t.atomic_context()
                if why:
                    raise ViolationError(
                        "sleep-in-atomic",
                        op.fn,
                        f"{op.label} {op.obj} may sleep {why}",
                        (op.obj,),
                    )

    def _enabled(self, op: ops.Op, tid: int) -> bool:
        lk = op.lock
        if isinstance(lk, Lock):
            return lk.owner is None
        assert lk is not None
        if op.kind == _WAIT or op.mode == _WRITE:
            return lk.writer is None and not lk.readers
        return lk.read_available()

    def _execute(self, t: SimThread, op: ops.Op) -> Any:
        k = op.kind
        if k == _MEM:
            th = op.thunk
            return th() if th is not None else None
        if k == _LOCK:
            self._acquire(t, op, trylock=False)
            return None
        if k == _TRYLOCK:
            lk = op.lock
            if isinstance(lk, Lock):
                ok = lk.owner is None
            elif op.mode == _WRITE:
                ok = lk.write_available()  # type: ignore[union-attr]
            else:
                ok = lk.read_available()  # type: ignore[union-attr]
            if ok:
                self._acquire(t, op, trylock=True)
            return ok
        if k == _UNLOCK:
            th = op.thunk
            if th is not None:
                th()  # the unlock's memory check (ops.Op): may raise uaf
            self._release(t, op)
            return None
        if k == ops.RCU_LOCK or k == ops.PTE_MAP:
            if t.rcu_depth == 0:
                t.rcu_since = self.clock
            t.rcu_depth += 1
            if k == ops.PTE_MAP:
                t.pte_maps += 1
                return op.thunk() if op.thunk is not None else None
            return None
        if k == ops.RCU_UNLOCK or k == ops.PTE_UNMAP:
            if t.rcu_depth == 0 or (k == ops.PTE_UNMAP and t.pte_maps == 0):
                raise ViolationError(
                    "unlock-not-held", op.fn, f"{op.label} without a matching lock", (op.obj,)
                )
            if k == ops.PTE_UNMAP:
                t.pte_maps -= 1
            t.rcu_depth -= 1
            if t.rcu_depth == 0:
                t.rcu_since = None
            return None
        if k == _WAIT:
            return None
        if k == ops.MIGHT_SLEEP:
            return op.thunk() if op.thunk is not None else None
        raise AssertionError(f"unknown op kind {k}")

    def _acquire(self, t: SimThread, op: ops.Op, trylock: bool) -> None:
        lk = op.lock
        tid = t.tid
        if not trylock and not self._solo and t.held:
            self._lockdep(t, op)
        if isinstance(lk, Lock):
            lk.owner = tid
            if not lk.sleeps:
                t.spins += 1
        else:
            if op.mode == _WRITE:
                lk.writer = tid  # type: ignore[union-attr]
                lk.pending_writers.discard(tid)  # type: ignore[union-attr]
                lk.waiting_writers.discard(tid)  # type: ignore[union-attr]
            else:
                r = lk.readers  # type: ignore[union-attr]
                r[tid] = r.get(tid, 0) + 1
            # a writer pending on this rwsem has now found it taken: it waits
            if lk.pending_writers:  # type: ignore[union-attr]
                lk.waiting_writers.update(lk.pending_writers)  # type: ignore[union-attr]
        t.held.append(Held(lk, op.mode, op.subclass, trylock, op.fn, self.step))  # type: ignore[arg-type]

    def _release(self, t: SimThread, op: ops.Op) -> None:
        lk = op.lock
        tid = t.tid
        for i in range(len(t.held) - 1, -1, -1):
            h = t.held[i]
            if h.lock is lk and h.mode == op.mode:
                del t.held[i]
                break
        else:
            raise ViolationError(
                "unlock-not-held",
                op.fn,
                f"{op.label} {lk.name} by T{tid}, which does not hold it",  # type: ignore[union-attr]
                (lk.name,),  # type: ignore[union-attr]
            )
        if isinstance(lk, Lock):
            lk.owner = None
            if not lk.sleeps:
                t.spins -= 1
        elif op.mode == _WRITE:
            lk.writer = None
        else:
            r = lk.readers
            c = r[tid] - 1
            if c:
                r[tid] = c
            else:
                del r[tid]

    def _lockdep(self, t: SimThread, op: ops.Op) -> None:
        lk = op.lock
        assert lk is not None
        dst = (lk.cls, op.subclass)
        for h in t.held:
            src = (h.lock.cls, h.subclass)
            if src == dst:
                continue
            cycle = self.lockdep.add(Edge(src, dst, t.tid, self.step, op.fn, h.lock.name, lk.name))
            if cycle is not None:
                chain = [e.describe() for e in cycle]
                raise ViolationError(
                    "lock.order",
                    op.fn,
                    f"taking {lk.name} while holding {h.lock.name} closes a lock-order cycle "
                    + " -> ".join(f"{e.src[0]}" for e in cycle)
                    + f" -> {cycle[0].src[0]}",
                    (h.lock.name, lk.name),
                    {"chain": chain, "scenario": unsafe_scenario(cycle)},
                )

    def _thread_end(self, t: SimThread) -> None:
        problems = [f"holds {h.lock.name} (taken in {h.fn})" for h in t.held]
        if t.pte_maps:
            problems.append(f"{t.pte_maps} pte map(s) outstanding")
        elif t.rcu_depth:
            problems.append("inside an RCU read section")
        if problems:
            raise ViolationError(
                "thread.end",
                "thread exit",
                f"T{t.tid} {t.name} ends but " + "; ".join(problems),
                tuple(h.lock.name for h in t.held),
            )

    def _deadlock(self) -> Violation:
        """No thread is enabled but some are unfinished: find the wait-for cycle."""
        waits: dict[int, tuple[str, list[int]]] = {}
        for t in self.threads:
            if t.done:
                continue
            op = t.pending
            assert op is not None and op.lock is not None
            lk = op.lock
            if isinstance(lk, Lock):
                holders = [lk.owner] if lk.owner is not None else []
            elif lk.writer is not None:
                holders = [lk.writer]
            elif op.mode == _WRITE or op.kind == _WAIT:
                holders = sorted(lk.readers)
            else:  # a reader held back by a waiting writer
                holders = sorted(w for w in lk.waiting_writers if w != t.tid)
            waits[t.tid] = (lk.name, [h for h in holders if h is not None])
        cycle = find_cycle(waits)
        if cycle:
            desc = "; ".join(
                f"T{a} waits for {waits[a][0]} held by T{b}"
                for a, b in zip(cycle, cycle[1:] + cycle[:1])
            )
        else:
            desc = "; ".join(f"T{a} waits for {w[0]}" for a, w in sorted(waits.items()))
        first = min(waits)
        t = self.threads[cycle[0] if cycle else first]
        return Violation(
            "deadlock",
            self.step,
            t.tid,
            t.pending.fn if t.pending else "",
            f"no thread can run: {desc}",
            tuple(waits[a][0] for a in (cycle or sorted(waits))),
            {"cycle": cycle, "waits": {str(k): v[0] for k, v in waits.items()}},
        )
