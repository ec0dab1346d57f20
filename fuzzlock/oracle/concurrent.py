"""Concurrent mode of the live-kernel oracle (issue 6): threads racing on the live kernel,
each observed outcome checked for an interleaving the model can reproduce.

A ``Program`` is the sequential oracle's layout (3 regions of 4 pages, regions 0 and 1
uffd-registered in MISSING mode, region 2 not, a keeper page per PTE table, setup stores
before registering) plus 2-3 threads of 1-3 ops each: UFFDIO_MOVE (1-2 pages, with or
without ALLOW_SRC_HOLES, dst in a registered region), MADV_DONTNEED, MADV_COLD and stores
(only into the unregistered region: a store to a missing page of a registered one would
block on a MISSING fault).  No fork in this mode.

The kernel side is ``harness.c``'s ``K`` command: one pthread per program thread, started
together behind a spin barrier, unpinned (the threads really run at once on the machine's
CPUs); a thread inside one call for more than 2 s is reported as a livelock and the
harness exits (which ends the kernel's loop, docs/findings/holes-livelock.md).  Observed:
per-op results (errno and ``move``) and the page state before and after.

Page state here is per page of mm 0: none / zero / swap / present with (first byte of the
page, mapcount, PageAnonExclusive).  Every setup store and every store of the program
writes a distinct value, so the value names the frame: frames are never compared as PFNs
(freed frames are reused at once, which would make "kept its frame" ambiguous between the
before and after snapshots).

The model side: the same setup, one scenario thread per kernel thread, run under up to
``budget`` schedules (first the serial orders of the threads, then seeded RandomChooser
and PCTChooser schedules alternately) until one gives the kernel's per-op results and
final state.  Invariant violations are recorded without ending the run where they can be
(``move.result`` on a move's answer, the step and end hooks), so a schedule can reproduce
the kernel's outcome *through* a violation.  Classes:

* ``ok``: some schedule reproduces it with no violation;
* ``violation``: only schedules that break an invariant reproduce it (a kernel bug per
  the issue; the sticky -EAGAIN of docs/findings/sticky-eagain.md is ``move.result``); the
  report names the invariant and a minimized decision list;
* ``not-reproduced``: no explored schedule reproduces it (a model gap or a kernel bug),
  reported with the program as a reproducer;
* ``setup-mismatch``: the kernel's state before the threads start differs from the
  model's setup (a harness problem, never expected).

A kernel livelock (``LIVELOCK`` from the harness) is matched by a model schedule that
raises the ``move.result`` livelock (I16).
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Callable
from typing import Any

import attrs

from fuzzlock import model, protocol
from fuzzlock.model.world import World
from fuzzlock.oracle.harness import Harness, KPage
from fuzzlock.oracle.programs import Op, Program, random_program, sticky_program
from fuzzlock.oracle.sequential import fmt_op, fmt_result
from fuzzlock.scenario import Scenario
from fuzzlock.sched import PCTChooser, RandomChooser, Replay, Scheduler, ViolationError

State = dict[int, tuple[Any, ...]]  # addr -> ("none",) | ("present", value, mapcount, pae)
CLASSES = ("ok", "violation", "not-reproduced", "setup-mismatch")
LIVELOCK = "LIVELOCK"
MAX_STEPS = 20_000


# --- the kernel side ---------------------------------------------------------------------------


@attrs.define
class Observed:
    iterations: int
    results: list[list[Any]] | None  # per thread per op; None on a livelock
    before: State
    after: State | None
    livelock: tuple[int, int] | None = None  # (thread, op index)


def _kernel_state(kst: dict[tuple[int, int], KPage], values: dict[int, int]) -> State:
    out: State = {}
    for (mm, addr), p in sorted(kst.items()):
        if mm != 0:
            continue
        if p.kind == "present":
            out[addr] = ("present", values.get(addr), p.mapcount, p.pae)
        else:
            out[addr] = (p.kind,)
    return out


def _initial_values(prog: Program) -> dict[int, int]:
    return dict(prog.init)


def _parse_result(o: Op, r: str) -> Any:
    if o["op"] == "move":
        rc, err, mv = r.split(":")
        return (0 if int(rc) == 0 else -int(err), None if mv == "none" else int(mv))
    if o["op"] == "write":
        return r
    rc, err = r.split(":")
    return "0" if int(rc) == 0 else str(-int(err))


def run_kernel(prog: Program, exe: Any, repeat: int = 1, stop: int = 0) -> Observed:
    """One fresh harness process; the program's threads at once (``repeat``/``stop``:
    run again, regions rebuilt, until some move fails with errno ``stop``)."""
    with Harness(exe, prog.nregions, prog.pages, prog.uffd, prog.init, -1, True) as h:
        before = _kernel_state(h.state(), _initial_values(prog))
        line = h._cmd(f"K {repeat} {stop} {prog.spec()}")
        if line.startswith(LIVELOCK):
            _, t, i, its = line.split()
            return Observed(int(its), None, before, None, (int(t), int(i)))
        its, res = line.split(" ", 1)
        parts = res.split("|")
        results = [
            [_parse_result(o, r) for o, r in zip(ops, part.split(","), strict=True)]
            for ops, part in zip(prog.threads, parts, strict=True)
        ]
        kst = h.state()
        vals = h._cmd("V")
        values = {}
        if vals != "-":
            for kv in vals.split(","):
                a, v = kv.split("=")
                values[int(a)] = int(v)
        return Observed(int(its), results, before, _kernel_state(kst, values))


# --- the model side ----------------------------------------------------------------------------


@attrs.define
class Attempt:
    results: list[list[Any]]
    state: State
    violations: list[str]  # one line each, first per invariant id
    violation_ids: list[str]
    decisions: list[int]
    finished: bool  # every thread ran all its ops
    livelock: bool = False


def _model_state(w: World, addrs: list[int]) -> State:
    mm = w.mms[0]
    out: State = {}
    for a in addrs:
        p = mm.pte(a)
        if p is None:
            out[a] = ("none",)
        elif p.kind == "present" and p.folio is not None:
            f = p.folio
            out[a] = ("present", f.value, f.mapcount, f.pae)
        else:
            out[a] = (p.kind,)
    return out


def _scenario(prog: Program, threads: bool = True) -> Scenario:
    """The program as a model scenario: its setup, and one thread per kernel thread."""
    ops = [(f"T{t}", tuple(o)) for t, o in enumerate(prog.threads)] if threads else []
    return Scenario(tuple(prog.setup()), tuple(ops), MAX_STEPS)


def model_initial_state(prog: Program, proto: protocol.Protocol) -> State:
    r = model.run(_scenario(prog, threads=False), proto, check=False)
    return _model_state(r.world, prog.addrs())


class OpOrder:
    """A serial order of the ops themselves (not only of the threads): ``order`` names
    the thread of each op in turn; the op runs to its end before the next starts.

    With ``insert=(i, j, m)``: at the ``j``-th decision point inside the op at position
    ``i`` of the order, the next ``m`` ops of the order (other threads') preempt it and
    run to their end, one after the other; then the order goes on.  Ops slipped inside
    another: the shape of the races the kernel shows (an MADV_COLD between a move's read
    of the PTE and its recheck; a DONTNEED and a store between a move's folio lock and
    its anon_vma lookup)."""

    def __init__(self, order: tuple[int, ...], insert: tuple[int, int, int] | None = None) -> None:
        self.order = order
        self.insert = insert
        self.results: list[list[Any]] = []
        self.inside = 0  # decision points seen inside op ``insert[0]``
        self.queue: list[int] = []  # threads still to run an inserted op
        self.target = -1  # results count that ends the head of the queue's op
        self.fired = False
        self.per_op: dict[int, int] = {}  # decision points seen while op i was running

    def _next(self) -> int | None:
        done = [len(r) for r in self.results]
        for t in self.order:
            if done[t] > 0:
                done[t] -= 1
            else:
                return t
        return None

    def choose(self, order: Any, current: int) -> int:
        k = sum(len(r) for r in self.results)
        self.per_op[k] = self.per_op.get(k, 0) + 1
        if self.insert is not None and not self.fired:
            i, j, m = self.insert
            if k == i:
                self.inside += 1
                if self.inside == j:
                    self.fired = True
                    self.queue = list(self.order[i + 1 : i + 1 + m])
                    if self.queue:
                        self.target = len(self.results[self.queue[0]]) + 1
        while self.queue:
            t = self.queue[0]
            if len(self.results[t]) >= self.target:
                self.queue.pop(0)
                if self.queue:
                    self.target = len(self.results[self.queue[0]]) + 1
                continue
            if t in order:
                return list(order).index(t)
            break
        t2 = self._next()
        if t2 is not None and t2 in order:
            return list(order).index(t2)
        return 0


def op_orders(prog: Program, limit: int) -> list[tuple[int, ...]]:
    """Up to ``limit`` interleavings of the threads' op lists (each thread's ops stay in
    program order), thread-serial ones first."""
    counts = [len(t) for t in prog.threads]
    out: list[tuple[int, ...]] = []

    def rec(left: list[int], acc: list[int]) -> None:
        if len(out) >= limit:
            return
        if not any(left):
            out.append(tuple(acc))
            return
        for t in range(len(left)):
            if left[t]:
                left[t] -= 1
                acc.append(t)
                rec(left, acc)
                acc.pop()
                left[t] += 1

    rec(list(counts), [])
    serial = {
        tuple(t for t in perm for _ in range(counts[t]))
        for perm in itertools.permutations(range(len(counts)))
    }
    return sorted(out, key=lambda o: o not in serial)


def model_attempt(prog: Program, proto: protocol.Protocol, chooser: Any) -> Attempt:
    """One schedule (``model.run``).  ``move.result`` on a move's answer and the step/end
    invariant hooks are recorded, not fatal, so the run goes on to the kernel-comparable
    end."""
    seen: dict[str, str] = {}

    def note(sched: Scheduler, e: ViolationError, where: str) -> None:
        v = e.at(sched.step, sched.current.tid if sched.current is not None else -1)
        seen.setdefault(v.id, f"{v.one_line()} [{where}]")

    returns: list[list[Any]] = [[] for _ in prog.threads]
    if isinstance(chooser, OpOrder):
        chooser.results = returns
    run = model.run(_scenario(prog), proto, chooser=chooser, soft=note, returns=returns)
    res = run.result
    results = [
        [(r.ret, r.move) if o["op"] == "move" else model._fmt(r) for o, r in zip(ops, rets)]
        for ops, rets in zip(prog.threads, returns, strict=True)
    ]
    livelock = False
    if res.violation is not None:  # a fatal one (a livelock, a deadlock, ...)
        seen.setdefault(res.violation.id, res.violation.one_line())
        livelock = res.violation.id == "move.result" and "livelock" in res.violation.message
    finished = all(len(r) == len(t) for r, t in zip(results, prog.threads, strict=True))
    return Attempt(
        results,
        _model_state(run.world, prog.addrs()),
        list(seen.values()),
        list(seen),
        list(res.decisions),
        finished and res.violation is None,
        livelock,
    )


def _norm(x: Any) -> Any:
    return tuple(x) if isinstance(x, (tuple, list)) else str(x)


def _score(prog: Program, obs: Observed, a: Attempt) -> int:
    """How close a model attempt is to the kernel's outcome (equal results and pages)."""
    if obs.results is None:
        return 0
    n = 3 * sum(
        1
        for kr, mr in zip(obs.results, a.results, strict=True)
        for x, y in zip(kr, mr, strict=False)
        if (tuple(x) if isinstance(x, tuple) else str(x))
        == (tuple(y) if isinstance(y, tuple) else str(y))
    )
    after = obs.after or {}
    return n + sum(1 for k, v in a.state.items() if after.get(k) == v)


def choosers(
    prog: Program,
    seed: int,
    budget: int,
    tried: list[tuple[int, Any, Attempt]],
    obs: Observed | None = None,
    max_orders: int = 200,
    bases: int = 8,
) -> Any:
    """The schedules tried, in order: (1) the serial orders of the ops (each op whole;
    thread-serial orders first); (2) around the ``bases`` orders whose outcome came
    closest to the kernel's, one op of another thread slipped in at every decision point
    (``OpOrder(insert=...)``); (3) seeded Random and PCT schedules alternately.  The
    caller appends (score, chooser, attempt) of every schedule to ``tried``."""
    n_threads = len(prog.threads)
    k = 0
    orders = op_orders(prog, min(max_orders, budget))
    for order in orders:
        k += 1
        yield OpOrder(order)
    best = sorted((t for t in tried if isinstance(t[1], OpOrder)), key=lambda t: -t[0])[:bases]
    for _, base, att in best:
        o = base.order
        # the ops whose result differs from the kernel's are the likely victims of a race
        victims = set()
        nth = [0] * n_threads
        for pos, t in enumerate(o):
            kr = obs.results[t] if obs is not None and obs.results is not None else None
            mr = att.results[t]
            x = kr[nth[t]] if kr is not None and nth[t] < len(kr) else None
            y = mr[nth[t]] if nth[t] < len(mr) else None
            if x is None or y is None or _norm(x) != _norm(y):
                victims.add(pos)
            nth[t] += 1
        if len(victims) == len(o):
            victims = set(range(len(o)))
        for m in (1, 2):
            for i in sorted(victims):
                variants = []
                if i + m < len(o) and o[i] not in o[i + 1 : i + 1 + m]:
                    variants.append((o, i))  # the next m ops run inside op i
                if i - m >= 0 and o[i] not in o[i - m : i]:
                    # the m ops before op i run inside it instead
                    variants.append(((*o[: i - m], o[i], *o[i - m : i], *o[i + 1 :]), i - m))
                for vo, vi in variants:
                    for j in range(1, base.per_op.get(i, 0) + 1):
                        if k >= budget:
                            return
                        k += 1
                        yield OpOrder(vo, (vi, j, m))
    rng = random.Random(seed)
    points = max((len(t[2].decisions) for t in tried), default=100)
    i = 0
    while k < budget:
        s = seed * 100_003 + i
        if i % 4 == 0:
            yield RandomChooser(s)
        elif i % 4 == 1:
            yield PCTChooser(s, n_threads, depth=2, k=400)
        elif i % 4 == 2:
            yield PCTChooser(s, n_threads, depth=3, k=400)
        else:  # two adjacent ops of a random op order overlapped at a random point
            o = rng.choice(orders)
            m = rng.choice((1, 2))
            yield OpOrder(o, (rng.randrange(len(o)), rng.randrange(1, points // 2 + 2), m))
        i += 1
        k += 1


def _same_results(prog: Program, kr: list[list[Any]], mr: list[list[Any]]) -> bool:
    for ops, a, b in zip(prog.threads, kr, mr, strict=True):
        if len(a) != len(b):
            return False
        for o, x, y in zip(ops, a, b, strict=True):
            if o["op"] == "move":
                if tuple(x) != tuple(y):
                    return False
            elif str(x) != str(y):
                return False
    return True


def matches(prog: Program, obs: Observed, a: Attempt) -> bool:
    if obs.livelock is not None:
        return a.livelock
    assert obs.results is not None
    return a.finished and _same_results(prog, obs.results, a.results) and a.state == obs.after


@attrs.define
class Outcome:
    cls: str
    program: Program
    observed: Observed
    schedules: int  # model schedules tried
    violation: str | None = None  # the invariant (class violation)
    decisions: list[int] | None = None  # the (minimized) interleaving that reproduces it
    model_state: State | None = None  # setup-mismatch: the model's initial state
    closest: Attempt | None = None  # not-reproduced: the model's serial-order outcome
    schedule: str | None = None  # ok: thread-serial | op-serial | interleaved

    def report(self) -> str:
        o = self.observed
        head = {
            "ok": "reproduced by the model",
            "violation": "reproduced only through an invariant violation (kernel bug)",
            "not-reproduced": "NOT reproduced by any explored schedule (model gap or kernel bug)",
            "setup-mismatch": "setup state differs (harness problem)",
        }[self.cls]
        lines = [
            f"concurrent outcome: {head} ({self.schedules} schedules)",
            self.program.describe(),
        ]
        if o.livelock is not None:
            t, i = o.livelock
            lines.append(
                f"kernel: LIVELOCK: T{t} op {i} ({fmt_op(self.program.threads[t][i])}) "
                "inside one call > 2 s"
            )
        else:
            assert o.results is not None
            for t, (ops, rs) in enumerate(zip(self.program.threads, o.results, strict=True)):
                lines.append(
                    f"kernel T{t}: "
                    + "; ".join(fmt_result(op, r) for op, r in zip(ops, rs, strict=True))
                )
            lines.append(f"kernel before: {fmt_state(o.before)}")
            lines.append(f"kernel after:  {fmt_state(o.after or {})}")
        if self.violation:
            lines.append(f"invariant: {self.violation}")
        if self.decisions is not None:
            lines.append(f"model decisions (replay with fuzzlock.sched.Replay): {self.decisions}")
        if self.model_state is not None:
            lines.append(f"model before:  {fmt_state(self.model_state)}")
        if self.closest is not None:
            c = self.closest
            for t, (ops, rs) in enumerate(zip(self.program.threads, c.results, strict=True)):
                lines.append(
                    f"model T{t} (serial order): "
                    + "; ".join(fmt_result(op, r) for op, r in zip(ops, rs, strict=False))
                )
            lines.append(f"model after (serial order): {fmt_state(c.state)}")
        lines.append("program: " + json.dumps(self.program.to_json(), separators=(",", ":")))
        lines.append("reproducer: " + self.program.reproducer(o.livelock is not None))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        o = self.observed
        return {
            "class": self.cls,
            "schedules": self.schedules,
            "program": self.program.to_json(),
            "kernel_results": o.results,
            "livelock": o.livelock,
            "violation": self.violation,
            "decisions": self.decisions,
            "report": self.report() if self.cls != "ok" else None,
        }


def fmt_state(st: State) -> str:
    out = []
    for a, p in sorted(st.items()):
        if p[0] == "none":
            continue
        if p[0] == "present":
            out.append(f"{a}={p[1]}(map={p[2]},{'PAE' if p[3] else 'shared'})")
        else:
            out.append(f"{a}={p[0]}")
    return " ".join(out) or "(all none)"


def minimize_decisions(
    prog: Program,
    proto: protocol.Protocol,
    obs: Observed,
    decisions: list[int],
    vid: str,
    limit: int = 150,
) -> list[int]:
    """Greedy: zero decisions (no preemption) from the end while the replay still matches
    the kernel through the same invariant; then drop trailing zeros."""
    best = list(decisions)
    tries = 0
    for i in range(len(best) - 1, -1, -1):
        if tries >= limit:
            break
        if best[i] == 0:
            continue
        cand = [*best[:i], 0, *best[i + 1 :]]
        tries += 1
        a = model_attempt(prog, proto, Replay(cand))
        if matches(prog, obs, a) and vid in a.violation_ids:
            best = list(a.decisions)
    while best and best[-1] == 0:
        best.pop()
    return best


def classify(
    prog: Program,
    obs: Observed,
    proto: protocol.Protocol,
    budget: int = 2000,
    seed: int = 0,
    clean_budget: int = 300,
    minimize: bool = True,
) -> Outcome:
    """Search model schedules for the kernel's outcome (see the module doc)."""
    init = model_initial_state(prog, proto)
    if init != obs.before:
        return Outcome("setup-mismatch", prog, obs, 0, model_state=init)
    n = 0
    first_bad: Attempt | None = None
    closest: Attempt | None = None
    left = budget
    tried: list[tuple[int, Any, Attempt]] = []
    for ch in choosers(prog, seed, budget, tried, obs):
        if left <= 0:
            break
        left -= 1
        n += 1
        a = model_attempt(prog, proto, ch)
        if isinstance(ch, OpOrder) and ch.insert is None:
            tried.append((_score(prog, obs, a), ch, a))
        if closest is None:
            closest = a
        if not matches(prog, obs, a):
            continue
        if not a.violations:
            kind = "interleaved"
            if isinstance(ch, OpOrder) and ch.insert is None:
                switches = sum(x != y for x, y in itertools.pairwise(ch.order))
                kind = "thread-serial" if switches < len(prog.threads) else "op-serial"
            return Outcome("ok", prog, obs, n, schedule=kind)
        if first_bad is None:
            first_bad = a
            left = min(left, clean_budget)  # look a little further for a clean schedule
    if first_bad is not None:
        vid = first_bad.violation_ids[0]
        dec = first_bad.decisions
        if minimize:
            dec = minimize_decisions(prog, proto, obs, dec, vid)
        return Outcome("violation", prog, obs, n, first_bad.violations[0], dec)
    return Outcome("not-reproduced", prog, obs, n, closest=closest)


# --- the campaign ------------------------------------------------------------------------------


@attrs.define
class ConcurrentSummary:
    protocol: str
    seed: int
    runs: int = 0
    schedules: int = 0
    seconds: float = 0.0
    kernel_seconds: float = 0.0
    model_seconds: float = 0.0
    counts: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(CLASSES, 0))
    livelocks: int = 0
    # ok outcomes by the first schedule that reproduced them: thread-serial (one thread
    # after the other), op-serial (whole ops interleaved), interleaved (inside ops)
    schedule_kinds: dict[str, int] = attrs.field(factory=dict)
    rare: int = 0  # outcomes that differed from the program's first run on the kernel
    findings: list[Outcome] = attrs.field(factory=list)  # every outcome not "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": "concurrent",
            "protocol": self.protocol,
            "seed": self.seed,
            "runs": self.runs,
            "schedules": self.schedules,
            "seconds": round(self.seconds, 2),
            "kernel_seconds": round(self.kernel_seconds, 2),
            "model_seconds": round(self.model_seconds, 2),
            "counts": self.counts,
            "livelocks": self.livelocks,
            "schedule_kinds": self.schedule_kinds,
            "rare": self.rare,
            "findings": [f.to_json() for f in self.findings],
        }


def run_concurrent(
    runs: int = 100,
    seed: int = 0,
    proto: str | None = None,
    budget: int = 2000,
    time_budget: float | None = None,
    log: Callable[[str], None] | None = None,
    program: Callable[[random.Random], Program] | None = None,
    repeat: int = 64,
) -> ConcurrentSummary:
    """``runs`` random programs on the live kernel, each classified (no knobs).  Each
    program runs up to ``repeat`` times in its harness (regions rebuilt between) until an
    outcome differs from its first one: rarer interleavings are observed more often; the
    outcome classified is the last one."""
    from fuzzlock.oracle import env, harness

    p = protocol.get(proto or env.kernel_protocol())
    s = ConcurrentSummary(p.name, seed)
    exe = harness.build()
    rng = random.Random(seed)
    t0 = time.monotonic()
    for i in range(runs):
        if time_budget is not None and time.monotonic() - t0 > time_budget:
            break
        prog = (program or random_program)(rng)
        t1 = time.monotonic()
        obs = run_kernel(prog, exe, repeat=repeat, stop=-1 if repeat > 1 else 0)
        t2 = time.monotonic()
        out = classify(prog, obs, p, budget=budget, seed=seed * 7919 + i)
        s.kernel_seconds += t2 - t1
        s.model_seconds += time.monotonic() - t2
        s.runs += 1
        s.schedules += out.schedules
        s.counts[out.cls] += 1
        if obs.livelock is not None:
            s.livelocks += 1
        if out.cls == "ok":
            s.schedule_kinds[out.schedule or "?"] = s.schedule_kinds.get(out.schedule or "?", 0) + 1
        if 1 < obs.iterations < repeat:
            s.rare += 1
        if out.cls != "ok":
            s.findings.append(out)
            if log:
                log(out.report())
    s.seconds = time.monotonic() - t0
    return s


def hunt_sticky_eagain(exe: Any, repeat: int = 200_000, src: int = 17, dst: int = 34) -> Observed:
    """The sticky -EAGAIN race on purpose: T0 moves ``src`` -> ``dst`` (1 page), T1 runs
    MADV_COLD on ``src``; repeated (regions rebuilt) until the move fails with EEXIST or
    ``repeat`` rounds ran.  ``dst`` starts empty, so EEXIST is never a serial outcome."""
    return run_kernel(sticky_program(src, dst), exe, repeat=repeat, stop=17)


__all__ = [
    "CLASSES",
    "ConcurrentSummary",
    "Observed",
    "Outcome",
    "classify",
    "hunt_sticky_eagain",
    "model_attempt",
    "run_concurrent",
    "run_kernel",
]
