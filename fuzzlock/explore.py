"""Bounded exhaustive exploration with source-DPOR and sleep sets.

``explore`` visits every schedule of one scenario with at most ``K`` preemptions, up to
Mazurkiewicz equivalence: two schedules that differ only in the order of independent
steps (``fuzzlock.sched.footprint``) reach the same state, so one of them is enough.
It is stateless: each schedule is a fresh run from the start, replaying a decision list
(the same decision lists as every other strategy, so a violation replays and minimizes
like any other).

The algorithm is source-DPOR (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014) with sleep
sets, races found on each complete execution (as in Nidhugg):

* happens-before is built with vector clocks from program order and the dependencies
  between steps (same cell, one of them a write);
* for every race ``e_i -> e_j`` (dependent, different threads, not ordered through
  other steps) the explorer computes ``v = notdep(e_i, E).e_j`` and, unless a thread in
  the initials of ``v`` is already in the backtrack set before ``e_i``, adds one;
* two acquisitions of one lock race although the unlock between them orders them;
* sleep sets: after a thread has been explored from a node, later siblings put it to
  sleep until a step dependent with its next step runs; a run that can only continue
  with sleeping threads is abandoned ("sleep-set blocked");
* the preemption bound (as in CHESS): a backtrack choice that would exceed ``K`` is
  pruned; as in bounded POR (Coons, Musuvathi, McKinley, OOPSLA 2013) each race also
  offers every initial at the start of the block containing ``e_i``, where switching
  may cost no preemption.  Under a bound every conflicting pair of steps counts as a
  race, not only the pairs not ordered through other steps (``_bounded_races``): the
  execution that reverses the intermediate pair first may need more preemptions than
  the class it leads to.  Sleep sets are switched off under a bound: a class that a
  sleeping thread's sibling subtree was supposed to cover may need more preemptions
  there than here (tests/explore has such programs for both), so the bounded search
  would miss classes that naive bounded enumeration reaches.

``por=False`` is naive enumeration (every enabled thread at every decision point, same
bound): the baseline the reduction is measured against.

Scope of the certificate: final states, thread results, deadlocks, and every violation
raised by a step (lock order, sleep-in-atomic, uaf, walk completeness, move results...)
are covered for every schedule within the bound.  State invariants that the checker
evaluates *between* steps are checked on the explored representatives only: another
linearization of the same class passes through other intermediate states.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from fuzzlock.sched.footprint import UNIVERSAL, StepInfo, independent

Footprint = tuple[frozenset[Any], frozenset[Any]]


@attrs.define
class Execution:
    """One run as the explorer needs it."""

    steps: list[StepInfo]
    decisions: list[int]  # the decisions the run consumed
    outcome: str
    violation: Any  # None, or the backend's violation record
    events: list[tuple[int, int, str, str, str, str]] = attrs.field(factory=list)
    payload: Any = None  # the backend's own result
    # per step: the lock it acquired (its trace name, and whether exclusively), or None
    acquires: list[tuple[str, bool] | None] = attrs.field(factory=list)

    def __attrs_post_init__(self) -> None:
        if not self.acquires and self.events:
            self.acquires = acquires_of(self.events)


_ACQUIRE = frozenset({"lock", "down_read", "down_write"})
_TRY = frozenset({"trylock", "down_read_trylock", "down_write_trylock"})


def acquires_of(
    events: Sequence[tuple[int, int, str, str, str, str]],
) -> list[tuple[str, bool] | None]:
    """Which steps acquired a lock, and whether exclusively, from the trace (the same on
    both backends)."""
    return [
        (obj, not op.startswith("down_read"))
        if op in _ACQUIRE or (op in _TRY and val == "1")
        else None
        for _s, _t, _fn, op, obj, val in events
    ]


Runner = Callable[[Sequence[int]], Execution]


@attrs.define
class Certificate:
    scenario: str
    preemptions: int | None
    por: bool
    backend: str
    sleep_sets: bool = False
    schedules: int = 0  # complete executions
    classes: int = 0  # distinct Mazurkiewicz classes among them
    blocked: int = 0  # runs abandoned as sleep-set blocked
    pruned: int = 0  # backtrack choices cut by the preemption bound
    runs: int = 0  # every run, re-runs that steer around sleeping threads included
    steps: int = 0
    step_bound: int = 0  # executions that ended at the step bound
    seconds: float = 0.0
    complete: bool = False  # the search finished within its budget
    violation: Execution | None = None
    # the classes themselves (hashes of class_signature), to compare two explorations
    class_hashes: set[int] = attrs.field(factory=set, repr=False)

    @property
    def verdict(self) -> str:
        return "violation" if self.violation is not None else "clean"

    def text(self) -> str:
        mode = (
            ("source-DPOR + sleep sets" if self.sleep_sets else "source-DPOR + bounded POR")
            if self.por
            else "naive enumeration"
        )
        head = f"explored {self.schedules} schedules ({self.classes} Mazurkiewicz classes) " + (
            f"up to {self.preemptions} preemption(s)"
            if self.preemptions is not None
            else "with no preemption bound"
        )
        if self.violation is not None:
            v = self.violation
            return (
                f"{head}: violation {v.outcome} in schedule {self.schedules} "
                f"({len(v.decisions)} decisions, {len(v.events)} steps)"
            )
        if not self.complete:
            return f"{head}: budget exhausted before the search finished (no certificate)"
        extra = f"; {self.step_bound} ended at the step bound" if self.step_bound else ""
        return (
            f"{head}: clean [{mode}, {self.backend}; {self.runs} runs, "
            f"{self.blocked} sleep-set blocked, {self.pruned} choices beyond the bound"
            f"{extra}; {self.seconds:.2f} s]"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "preemptions": self.preemptions,
            "por": self.por,
            "backend": self.backend,
            "verdict": self.verdict,
            "complete": self.complete,
            "schedules": self.schedules,
            "classes": self.classes,
            "blocked": self.blocked,
            "pruned": self.pruned,
            "runs": self.runs,
            "steps": self.steps,
            "step_bound": self.step_bound,
            "seconds": round(self.seconds, 3),
            "certificate": self.text(),
        }


class _Node:
    """The state before step ``i`` of the current execution."""

    __slots__ = (
        "backtrack",
        "cur",
        "decided",
        "done",
        "fp",
        "order",
        "pre",
        "pruned",
        "sleep",
        "tid",
    )

    def __init__(
        self,
        order: tuple[int, ...],
        decided: bool,
        cur: int,
        pre: int,
        sleep: dict[int, Footprint],
    ) -> None:
        self.order = order
        self.decided = decided
        self.cur = cur  # the thread that ran the previous step (0 before the first)
        self.pre = pre  # preemptions before this step
        self.sleep = sleep  # sleeping threads -> footprint of their next step
        self.tid = -1  # the thread explored from here now
        self.fp: Footprint = (frozenset(), frozenset())  # and its step's footprint
        self.backtrack: set[int] = set()
        self.done: dict[int, Footprint] = {}  # explored threads -> their step's footprint
        self.pruned: set[int] = set()

    def cost(self, q: int) -> int:
        """Preemptions taken by running ``q`` here."""
        return 1 if q != self.cur and self.cur in self.order else 0


def _child_sleep(node: _Node, step: StepInfo) -> dict[int, Footprint]:
    out = {}
    for src in (node.sleep, node.done):
        for p, (r, w) in src.items():
            if p != step.tid and independent(r, w, step.reads, step.writes):
                out[p] = (r, w)
    return out


def _vector_clocks(steps: Sequence[StepInfo], n: int) -> tuple[list[list[int]], list[set[int]]]:
    """Happens-before vector clocks (entry u = index of the latest step of thread u that
    happens before) and, per step, its direct dependency candidates: the last write of
    each cell it touches and, for cells it writes, the reads since that write."""
    vcs: list[list[int]] = []
    cands: list[set[int]] = []
    last_of: list[int] = [-1] * n
    last_write: dict[Any, int] = {}
    reads_since: dict[Any, list[int]] = {}
    last_universal = -1
    for j, s in enumerate(steps):
        c: set[int] = set()
        if UNIVERSAL in s.writes:
            # dependent with everything: the latest step of every other thread
            c.update(k for u, k in enumerate(last_of) if k >= 0 and u != s.tid)
        elif last_universal >= 0:
            c.add(last_universal)
        for cell in s.reads:
            w = last_write.get(cell)
            if w is not None:
                c.add(w)
        for cell in s.writes:
            w = last_write.get(cell)
            if w is not None:
                c.add(w)
            rs = reads_since.get(cell)
            if rs:
                c.update(rs)
        prev = last_of[s.tid]
        vc = list(vcs[prev]) if prev >= 0 else [-1] * n
        for i in c:
            vi = vcs[i]
            for u in range(n):
                if vi[u] > vc[u]:
                    vc[u] = vi[u]
        vc[s.tid] = j
        vcs.append(vc)
        cands.append(c)
        last_of[s.tid] = j
        if UNIVERSAL in s.writes:
            last_universal = j
        for cell in s.reads:
            reads_since.setdefault(cell, []).append(j)
        for cell in s.writes:
            last_write[cell] = j
            reads_since[cell] = []
    return vcs, cands


def class_signature(steps: Sequence[StepInfo]) -> tuple[Any, ...]:
    """The Mazurkiewicz class of a complete execution: its events, named (thread, k-th
    step of that thread), and the happens-before order between them (for each event, how
    many steps of each thread happen before it or are it).  That is the partial order
    itself, not the dependency edges that generate it: two backends that record cells of
    different sizes may order the same events through different edges (the last write
    of a cell is another step when a neighbouring field shares the cell), and still give
    each schedule the same class."""
    n = 1 + max((s.tid for s in steps), default=0)
    vcs, _cands = _vector_clocks(steps, n)
    ordinal: list[int] = []  # step index -> its k among its thread's steps
    count = [0] * n
    for s in steps:
        ordinal.append(count[s.tid])
        count[s.tid] += 1
    order = tuple(
        (s.tid, ordinal[j], tuple(ordinal[i] + 1 if i >= 0 else 0 for i in vcs[j]))
        for j, s in enumerate(steps)
    )
    return (tuple(count), tuple(sorted(order)))


def _conflicts(steps: Sequence[StepInfo]) -> list[set[int]]:
    """Per step j, every earlier step of another thread that it conflicts with (one of
    them writes a cell the other touches), not only the latest one."""
    writes: dict[Any, list[int]] = {}
    reads: dict[Any, list[int]] = {}
    universal: list[int] = []
    out: list[set[int]] = []
    for j, s in enumerate(steps):
        c: set[int] = set(universal)
        if UNIVERSAL in s.writes:
            c.update(range(j))
        for cell in s.reads:
            c.update(writes.get(cell, ()))
        for cell in s.writes:
            c.update(writes.get(cell, ()))
            c.update(reads.get(cell, ()))
        out.append({i for i in c if steps[i].tid != s.tid})
        if UNIVERSAL in s.writes:
            universal.append(j)
        for cell in s.reads:
            reads.setdefault(cell, []).append(j)
        for cell in s.writes:
            writes.setdefault(cell, []).append(j)
    return out


def _bounded_races(
    steps: Sequence[StepInfo], n: int, acquires: Sequence[tuple[str, bool] | None] = ()
) -> list[tuple[int, int, set[int]]]:
    """Under a preemption bound: every conflicting pair, and every pair of acquisitions of
    one lock (not both shared), not only the races of ``_races``.

    Source-DPOR reverses only the races that are not ordered through other steps: the
    reversal of a pair ordered through a third step comes from an execution in which that
    step was reversed first.  Under a bound that intermediate execution may need more
    preemptions than the bound allows while the class it leads to does not (two threads,
    the second's critical section between the first's read and its own critical sections:
    tests/explore), so the bounded search misses classes naive bounded enumeration
    reaches.  Offering every conflicting pair's initials costs more schedules, and finds
    them."""
    vcs, _cands = _vector_clocks(steps, n)
    out = []
    for j, c in enumerate(_conflicts(steps)):
        for i in c:
            out.append((i, j, _initials(steps, vcs, i, j)))
    acq_by: dict[str, list[tuple[int, bool]]] = {}
    for j in range(min(len(steps), len(acquires))):
        acq = acquires[j]
        if acq is None:
            continue
        lk, excl = acq
        for i, iexcl in acq_by.get(lk, ()):
            if (excl or iexcl) and steps[i].tid != steps[j].tid:
                out.append((i, j, _initials(steps, vcs, i, j)))
        acq_by.setdefault(lk, []).append((j, excl))
    return out


def _races(
    steps: Sequence[StepInfo], n: int, acquires: Sequence[tuple[str, bool] | None] = ()
) -> list[tuple[int, int, set[int]]]:
    """Every race ``(i, j)`` of an execution with the initials of ``notdep(e_i).e_j``.

    Two acquisitions of one lock by different threads (not both shared) race even
    though the first thread's unlock orders them (as in Nidhugg): reversing them means
    running the second critical section first, which reversing the unlock/lock race
    cannot do."""
    vcs, cands = _vector_clocks(steps, n)
    out = []
    last_acq: dict[str, int] = {}  # lock -> its latest acquisition
    last_excl: dict[str, int] = {}  # lock -> its latest exclusive acquisition
    for j, c in enumerate(cands):
        tj = steps[j].tid
        acq = acquires[j] if j < len(acquires) else None
        if acq is not None:
            lk, excl = acq
            i = last_acq.get(lk) if excl else last_excl.get(lk)
            last_acq[lk] = j
            if excl:
                last_excl[lk] = j
            if i is not None and steps[i].tid != tj:
                prev = _prev_of_thread(steps, j)
                if prev < 0 or vcs[prev][steps[i].tid] < i:
                    out.append((i, j, _initials(steps, vcs, i, j)))
        others = [i for i in c if steps[i].tid != tj]
        if not others:
            continue
        prev_vc = None
        for k in range(j - 1, -1, -1):
            if steps[k].tid == tj:
                prev_vc = vcs[k]
                break
        for i in others:
            ti = steps[i].tid
            if prev_vc is not None and prev_vc[ti] >= i:
                continue  # ordered through j's own thread
            if any(k != i and vcs[k][ti] >= i for k in c):
                continue  # ordered through another dependency of j
            out.append((i, j, _initials(steps, vcs, i, j)))
    return out


def _prev_of_thread(steps: Sequence[StepInfo], j: int) -> int:
    tj = steps[j].tid
    for k in range(j - 1, -1, -1):
        if steps[k].tid == tj:
            return k
    return -1


def _initials(steps: Sequence[StepInfo], vcs: list[list[int]], i: int, j: int) -> set[int]:
    """Threads whose first step in ``v = notdep(e_i, E).e_j`` has no predecessor in v."""
    ti = steps[i].tid
    first: dict[int, int] = {}  # thread -> its first step in v
    init: set[int] = set()
    for k in [*range(i + 1, j), j]:
        if k != j and vcs[k][ti] >= i:
            continue  # happens after e_i: not in v
        t = steps[k].tid
        if t in first:
            continue
        vc = vcs[k]
        if all(vc[u] < f for u, f in first.items()):
            init.add(t)
        first[t] = k
    return init


def explore(
    runner: Runner,
    preemptions: int | None,
    por: bool = True,
    max_schedules: int | None = None,
    max_seconds: float | None = None,
    scenario_name: str = "",
    backend: str = "python",
    on_execution: Callable[[Execution], None] | None = None,
    stop_on_violation: bool = True,
    sleep_sets: bool | None = None,
) -> Certificate:
    """Explore every schedule with at most ``preemptions`` preemptions (None: no bound),
    see the module doc.  Sleep sets are used only without a bound (see there) unless
    ``sleep_sets`` says otherwise (tests show what goes wrong)."""
    if preemptions is not None and preemptions < 0:
        raise ValueError(f"preemptions {preemptions}: must be >= 0")
    bound = preemptions if preemptions is not None else 1 << 30
    if sleep_sets is None:
        sleep_sets = preemptions is None
    sleep_sets = sleep_sets and por
    cert = Certificate(scenario_name, preemptions, por, backend, sleep_sets=sleep_sets)
    start = time.monotonic()
    classes = cert.class_hashes
    nodes: list[_Node] = []
    decisions: list[int] = []
    depth = 0
    while True:
        if max_schedules is not None and cert.schedules >= max_schedules:
            break
        if max_seconds is not None and time.monotonic() - start > max_seconds:
            break
        ex, blocked = _steer(runner, nodes, decisions, depth, bound, sleep_sets, cert)
        if blocked:
            cert.blocked += 1
        else:
            cert.schedules += 1
            cert.steps += len(ex.steps)
            if ex.outcome == "step-bound":
                cert.step_bound += 1
            classes.add(hash(class_signature(ex.steps)))
            if on_execution is not None:
                on_execution(ex)
            if ex.violation is not None and cert.violation is None:
                cert.violation = ex
                if stop_on_violation:
                    break
        steps = ex.steps[: len(nodes)]
        if por:
            n = 1 + max(max(nd.order) for nd in nodes) if nodes else 1
            races = _races if preemptions is None else _bounded_races
            for i, j, init in races(steps, n, ex.acquires):
                _add_backtrack(nodes, steps, i, j, init, preemptions)
        else:
            for nd in nodes:
                nd.backtrack.update(nd.order)
        nxt = _next_branch(nodes, bound, cert)
        if nxt is None:
            cert.complete = True
            break
        depth, q = nxt
        nodes[depth].tid = q
        decisions = [nd.order.index(nd.tid) for nd in nodes[:depth] if nd.decided]
        decisions.append(nodes[depth].order.index(q))
    cert.classes = len(classes)
    cert.seconds = time.monotonic() - start
    return cert


def _steer(
    runner: Runner,
    nodes: list[_Node],
    decisions: list[int],
    depth: int,
    bound: int,
    sleep_sets: bool,
    cert: Certificate,
) -> tuple[Execution, bool]:
    """Run ``decisions`` and extend ``nodes`` along the run from ``depth``.  Where the run
    continues with a sleeping thread, re-run choosing an awake one there (without a new
    preemption if possible); if there is none, the run is sleep-set blocked and ``nodes``
    ends where it blocked."""
    while True:
        ex = runner(decisions)
        cert.runs += 1
        k = depth
        dec_i = sum(1 for nd in nodes[:depth] if nd.decided)
        redo: list[int] | None = None
        blocked = False
        while k < len(ex.steps):
            s = ex.steps[k]
            if k < len(nodes):
                node = nodes[k]  # the branch node: its thread was chosen awake
                if node.tid != s.tid or node.order != s.order:
                    raise RuntimeError(
                        f"exploration: the run diverged from its replayed prefix at step {k} "
                        "(the model is not deterministic for this scenario)"
                    )
            else:
                if k:
                    parent, prev = nodes[k - 1], ex.steps[k - 1]
                    cur = prev.tid
                    pre = parent.pre + parent.cost(prev.tid)
                    sleep = _child_sleep(parent, prev) if sleep_sets else {}
                else:
                    cur, pre, sleep = 0, 0, {}
                node = _Node(s.order, s.decided, cur, pre, sleep)
                nodes.append(node)
                if s.tid in sleep:
                    alts = [q for q in s.order if q not in sleep and pre + node.cost(q) <= bound]
                    if not s.decided or not alts:
                        blocked = True
                        nodes.pop()
                        break
                    q = cur if cur in alts else alts[0]
                    node.tid = q
                    redo = [*ex.decisions[:dec_i], s.order.index(q)]
                    break
            node.tid = s.tid
            node.fp = (s.reads, s.writes)
            node.backtrack.add(s.tid)
            if s.decided:
                dec_i += 1
            k += 1
        if redo is None:
            return ex, blocked
        decisions = redo
        depth = k


def _add_backtrack(
    nodes: list[_Node],
    steps: Sequence[StepInfo],
    i: int,
    j: int,
    init: set[int],
    bound: int | None,
) -> None:
    node = nodes[i]
    if not init & node.backtrack:
        tj = steps[j].tid
        q = tj if tj in init else min(init)
        if q in node.order:
            node.backtrack.add(q)
        else:
            node.backtrack.update(node.order)
    # bounded POR: running q at i may cost a preemption the bound does not allow, while
    # an equivalent schedule switches at the start of e_i's block (where the previous
    # thread may have blocked or ended: a free switch).  There the source-set shortcut
    # ("some initial is already in the set") is not enough: a sibling explored under
    # the bound need not reach the class, so every initial is offered.
    # (only when q at i is beyond the bound is not enough: the subtree of q at i can
    # itself run out of preemptions; tests/explore catches that variant)
    if bound is not None:
        for b in range(i, -1, -1):
            if b == 0 or steps[b - 1].tid != steps[b].tid:
                bn = nodes[b]
                qs = init & set(bn.order)
                if not qs:
                    bn.backtrack.update(bn.order)
                else:
                    bn.backtrack.update(qs)
                break


def _next_branch(nodes: list[_Node], bound: int, cert: Certificate) -> tuple[int, int] | None:
    """The deepest node with an unexplored, awake backtrack choice within the bound;
    the nodes below it are dropped."""
    while nodes:
        node = nodes[-1]
        if node.tid >= 0:
            node.done[node.tid] = node.fp
        for q in sorted(node.backtrack):
            if q in node.done or q in node.sleep or q in node.pruned or q not in node.order:
                continue
            if node.pre + node.cost(q) > bound:
                node.pruned.add(q)
                cert.pruned += 1
                continue
            return len(nodes) - 1, q
        nodes.pop()
    return None


# --- runners -----------------------------------------------------------------------------------


@contextmanager
def scenario_runner(sc: Any, proto: Any, backend: str) -> Iterator[tuple[Runner, Any]]:
    """The runner ``explore_scenario`` explores ``sc`` with on ``backend`` (a name in
    ``fuzzlock.backends``), and the backend's state dump of a run (``Backend.footprints``),
    valid inside the ``with``.  Raises ``model.SetupError``
    for a setup that breaks the protocol by itself, ValueError when the backend cannot
    explore."""
    from fuzzlock import backends, model

    model.run(sc, proto, decisions=[], max_steps=1, check=False)  # setup errors, early
    with backends.get(backend).footprints(sc, proto) as (runner, state):
        yield runner, state


def explore_scenario(
    sc: Any,
    proto: Any,
    backend: str,
    preemptions: int | None,
    por: bool = True,
    max_seconds: float | None = None,
    max_schedules: int | None = None,
    name: str = "",
    on_execution: Callable[[Execution], None] | None = None,
) -> Certificate:
    """``explore`` one scenario on one backend (``python`` or ``native``).  Raises
    ``model.SetupError`` for a setup that breaks the protocol by itself."""
    with scenario_runner(sc, proto, backend) as (runner, _state):
        return explore(
            runner,
            preemptions,
            por,
            max_schedules=max_schedules,
            max_seconds=max_seconds,
            scenario_name=name,
            backend=backend,
            on_execution=on_execution,
        )
