"""Failure reports (docs/design.md#reports): a terminal text report and a self-contained HTML one.

Both are built from a ``RunResult`` alone (its events, preemption points and violation),
so a report renders the same for either backend::

    from fuzzlock import report
    from fuzzlock.report import timeline
    print(report.render_text(r.result, protocol="v6.19", replay="fuzzlock replay E.json"))
    open("e.html", "w").write(timeline.render_html(r.result, protocol="v6.19", replay="..."))

The text report is: a header (invariant id, its one-line explanation, the message and
where it happened); the interleaving as ``trace.render_table`` draws it (one column per
thread, ``>`` preemption, ``!`` the violating step), with long uninterrupted runs of one
thread that touch nothing involved in the violation collapsed into one ``… N steps`` row;
then what the kind of violation calls for (lockdep's chain and unsafe scenario for
``lock.order``, the wait-for cycle for ``deadlock``, the KCSAN-style access pair for a
data invariant); and the replay command.  The HTML report shows the same interleaving as
lanes, the lock holding intervals as bars per thread, and the same details.

This module holds the analysis shared by both (lock intervals, races, the row plan, the
header and detail lines) and the text report; ``timeline`` the HTML one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from fuzzlock import trace
from fuzzlock.sched.result import STEP_BOUND, RunResult, Violation
from fuzzlock.schema import INVARIANTS

Event = trace.Event

#: The text report's target width (a wide terminal).
TOTAL_WIDTH = 160
#: Width of ``render_table``'s margin (``"%4d" + mark + " "``) for steps below 10000.
_MARGIN = 6
#: A run of fewer hidden steps than this is shown as is: a fold row would save nothing.
MIN_FOLD = 3
#: At most this many KCSAN-style pairs (distinct objects, most recent write first).
MAX_RACES = 3

ACQUIRE_OPS = frozenset({"lock", "down_read", "down_write"})
TRYLOCK_OPS = frozenset({"trylock", "down_read_trylock", "down_write_trylock"})
RELEASE_OPS = frozenset({"unlock", "up_read", "up_write"})
#: Accesses that modify shared state (KCSAN: plain or marked writes; atomics).
WRITE_OPS = frozenset({"write", "atomic", "user_store"})
#: Lock-free reads of shared state (``pte_map`` reads the PTE it maps).
READ_OPS = frozenset({"read", "pte_map", "user_load"})

_DATA_IDS = frozenset({"walk.complete", "lock.write-discipline", "swap.rmap", "user.data", "uaf"})
_DATA_PREFIXES = ("rmap.", "move.", "folio.", "anon_vma.", "migration.")
#: Object kinds in trace names (``folio:3``, ``pte:mm0:0x12``...); a violation object
#: ``<name>:0x<addr>`` with any other first part is a VMA address (``dst:0x20``).
_KINDS = frozenset({"folio", "anon_vma", "pte", "ptl", "vma", "uffd", "swap", "mm"})
_VMA_ADDR = re.compile(r"([^:.]+):(0x[0-9a-fA-F]+)")
_CHAIN_STEP = re.compile(r"\bT(\d+) step (\d+) in ")


def is_data_style(violation_id: str) -> bool:
    """Whether a violation is about shared data (so a KCSAN-style pair explains it)."""
    return violation_id in _DATA_IDS or violation_id.startswith(_DATA_PREFIXES)


# --------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class LockInterval:
    """One lock held by one thread from ``start`` to ``end`` (steps, inclusive).

    ``end`` is None when the trace ends with the lock still held (a deadlock, a violation
    in the middle of a critical section, or a leak)."""

    thread: int
    lock: str
    op: str  # the acquiring op: lock, trylock, down_read, down_write_trylock, ...
    fn: str
    start: int
    end: int | None

    @property
    def mode(self) -> str:
        if "read" in self.op:
            return "read"
        if "write" in self.op:
            return "write"
        return "excl"


def lock_intervals(events: Iterable[Event]) -> list[LockInterval]:
    """Lock holding intervals from lock/trylock(=1)/down_*/up_*/unlock events.

    A release closes the same thread's most recent open hold of that lock (rwsem read
    holds may nest).  Sorted by start step, then thread."""
    open_: dict[tuple[int, str], list[tuple[int, str, str]]] = {}
    out: list[LockInterval] = []
    for s, t, fn, op, obj, val in events:
        if op in ACQUIRE_OPS or (op in TRYLOCK_OPS and val == "1"):
            open_.setdefault((t, obj), []).append((s, op, fn))
        elif op in RELEASE_OPS:
            stack = open_.get((t, obj))
            if stack:
                start, aop, afn = stack.pop()
                out.append(LockInterval(t, obj, aop, afn, start, s))
    for (t, obj), stack in open_.items():
        for start, aop, afn in stack:
            out.append(LockInterval(t, obj, aop, afn, start, None))
    out.sort(key=lambda iv: (iv.start, iv.thread, iv.lock))
    return out


def object_matcher(objects: Iterable[str]) -> Callable[[str], bool]:
    """A predicate: does a trace object belong to one of a violation's objects?

    ``folio:0`` covers ``folio:0`` (its lock) and ``folio:0.mapping``; a bare VMA name
    ``dst`` covers ``vma:dst`` (its lock); a VMA address ``dst:0x20`` covers the PTE
    ``pte:<mm>:0x20``."""
    prefixes: list[str] = []
    pte_suffixes: list[str] = []
    for o in objects:
        if not o:
            continue
        m = _VMA_ADDR.fullmatch(o)
        if m is not None and m.group(1) not in _KINDS:
            pte_suffixes.append(":" + m.group(2).lower())
            prefixes.append("vma:" + m.group(1))
        elif ":" not in o and "." not in o and not o.startswith("mm"):
            prefixes += [o, "vma:" + o]
        else:
            prefixes.append(o)

    def match(obj: str) -> bool:
        for p in prefixes:
            if obj == p or obj.startswith(p + ".") or obj.startswith(p + "#"):
                return True
        return obj.startswith("pte:") and any(obj.endswith(x) for x in pte_suffixes)

    return match


@dataclass(frozen=True)
class Race:
    """A KCSAN-style pair of conflicting accesses to one object."""

    obj: str
    first: Event  # the other thread's access (a write or atomic, usually)
    second: Event  # the violating thread's access


def find_races(result: RunResult, limit: int = MAX_RACES) -> list[Race]:
    """Conflicting access pairs on the violation's objects, most relevant first.

    For each object touched by a write or atomic of a thread other than the violating
    one (latest first): that write and the violating thread's last read of the same
    object before the violation.  If there is none (the violating thread is the
    writer, as in ``lock.write-discipline``), the violating thread's last write and the
    other threads' last access to the same object."""
    v = result.violation
    if v is None:
        return []
    match = object_matcher(v.objects)
    evs = [e for e in result.events if e[0] <= v.step and match(e[4])]
    vt = v.thread
    races: list[Race] = []
    seen: set[str] = set()

    def last_access(obj: str, mine: bool, kinds: frozenset[str]) -> Event | None:
        """The last access of ``obj`` by the violating thread (or by any other)."""
        for e in reversed(evs):
            if e[4] == obj and (e[1] == vt) == mine and e[3] in kinds:
                return e
        return None

    # another thread's store, and the violating thread's load that it races with
    for w in reversed(evs):
        if len(races) >= limit:
            break
        if w[1] == vt or w[3] not in WRITE_OPS or w[4] in seen:
            continue
        r = last_access(w[4], True, READ_OPS)
        if r is not None:
            seen.add(w[4])
            races.append(Race(w[4], w, r))
    if races or vt < 0:
        return races
    # the violating thread's own store, and another thread's access to the same object
    for w in reversed(evs):
        if len(races) >= limit:
            break
        if w[1] != vt or w[3] not in WRITE_OPS or w[4] in seen:
            continue
        kinds = READ_OPS | WRITE_OPS if w[3] != "atomic" else READ_OPS | {"write"}
        o = last_access(w[4], False, frozenset(kinds))
        if o is not None:
            seen.add(w[4])
            races.append(Race(w[4], o, w))
    return races


# --------------------------------------------------------------------------- row plan


@dataclass
class _Row:
    """One row of the interleaving: real events, a fold, or the violation itself."""

    kind: str  # "event", "fold", "synthetic"
    step: int
    thread: int
    events: list[Event] = field(default_factory=list)

    @property
    def fold_text(self) -> str:
        fns: list[str] = []
        for e in self.events:
            if e[2] not in fns:
                fns.append(e[2])
        return f"… {len(self.events)} steps of T{self.thread} ({', '.join(fns)})"


def _cell(e: Event) -> str:
    """A cell's text, as ``trace.render_table`` writes it."""
    _s, _t, fn, op, obj, val = e
    return f"{fn}: {op} {obj}" + (f" = {val}" if val != "" else "")


def _keep_steps(result: RunResult) -> set[int]:
    """Steps that must stay visible besides those on the violation's objects."""
    keep = set(result.preempted)
    v = result.violation
    if v is None:
        return keep
    keep.add(v.step)
    for r in find_races(result):
        keep.add(r.first[0])
        keep.add(r.second[0])
    for desc in v.detail.get("chain", ()) or ():
        for m in _CHAIN_STEP.finditer(str(desc)):
            keep.add(int(m.group(2)))
    return keep


def _synthetic(result: RunResult) -> list[Event]:
    """Pseudo-events for a violation that happened in a step with no trace event: an
    acquisition that closed a lockdep cycle (raised before the event is recorded), a
    deadlock (nobody could run: one entry per waiting thread), an end-of-run check."""
    v = result.violation
    if v is None:
        return []
    if any(e[0] == v.step and e[1] == v.thread for e in result.events):
        return []
    if v.id == "deadlock":
        waits = v.detail.get("waits") or {}
        out: list[Event] = []
        for k in sorted(waits, key=lambda x: int(x)):
            tid = int(k)
            fn = v.fn if tid == v.thread else _last_fn(result.events, tid)
            out.append((v.step, tid, fn, "waits for", str(waits[k]), ""))
        if out:
            return out
    if v.id == "lock.order":
        return [(v.step, v.thread, v.fn, "acquire", v.objects[-1] if v.objects else "", "")]
    return [(v.step, v.thread, v.fn, v.id, v.objects[0] if v.objects else "", "")]


def _last_fn(events: Sequence[Event], tid: int) -> str:
    for e in reversed(events):
        if e[1] == tid:
            return e[2]
    return "?"


def _plan(result: RunResult) -> list[_Row]:
    """The rows of the interleaving, with long irrelevant runs folded."""
    v = result.violation
    match = object_matcher(v.objects) if v is not None else (lambda _o: False)
    keep = _keep_steps(result)
    rows: list[_Row] = []
    hidden: list[Event] = []

    def flush() -> None:
        if not hidden:
            return
        if len(hidden) >= MIN_FOLD:
            rows.append(_Row("fold", hidden[0][0], hidden[0][1], list(hidden)))
        else:
            rows.extend(_Row("event", e[0], e[1], [e]) for e in hidden)
        hidden.clear()

    prev: int | None = None
    for e in result.events:
        s, t = e[0], e[1]
        visible = t != prev or s in keep or match(e[4])
        if t != prev:
            flush()
        prev = t
        if visible:
            flush()
            rows.append(_Row("event", s, t, [e]))
        else:
            hidden.append(e)
    flush()
    syn = _synthetic(result)
    if syn:
        rows.append(_Row("synthetic", syn[0][0], syn[0][1], syn))
    return rows


# --------------------------------------------------------------------------- shared text


def _tname(result: RunResult, tid: int) -> str:
    names = result.thread_names
    if 0 <= tid < len(names):
        return f"T{tid} {names[tid]}"
    return "end of run" if tid < 0 else f"T{tid}"


def _header_lines(result: RunResult, protocol: str, title: str) -> list[str]:
    v = result.violation
    lines = [title] if title else []
    stats = (
        f"protocol {protocol}, {len(result.thread_names)} threads, "
        f"{max(result.steps, len(result.events))} steps, "
        f"{result.preemptions} preemption(s)"
    )
    if v is None:
        if result.outcome == STEP_BOUND:
            lines.append(
                "step-bound: the run reached its step bound with threads unfinished "
                "(not a protocol violation by itself)"
            )
        else:
            lines.append("clean: no invariant violated, every thread finished")
        lines.append("  " + stats)
        return lines
    expl = INVARIANTS.get(v.id, "")
    lines.append(f"VIOLATION {v.id}" + (f" — {expl}" if expl else ""))
    lines.append(f"  {v.message}")
    if v.thread >= 0:
        where = f"at step {v.step}, {_tname(result, v.thread)}, in {v.fn}"
    else:
        where = f"at the end of the run (step {v.step}), in {v.fn}"
    lines.append(f"  {where}")
    objs = f"; objects {', '.join(v.objects)}" if v.objects else ""
    lines.append(f"  {stats}{objs}")
    return lines


def _detail_lines(result: RunResult) -> list[str]:
    """The violation-specific part: lockdep chain, wait-for cycle or KCSAN pair(s)."""
    v = result.violation
    if v is None:
        return []
    out: list[str] = []
    if v.id == "lock.order":
        out.append("lockdep: possible circular locking dependency detected")
        chain = v.detail.get("chain") or []
        if chain:
            out.append("the dependency chain (each edge: where it was first seen):")
            out += [f"  -> {c}" for c in chain]
        scen = v.detail.get("scenario") or ""
        if scen:
            out += ["", " Possible unsafe locking scenario:", ""]
            out += str(scen).splitlines()
    elif v.id == "deadlock":
        out += _cycle_lines(result, v)
    if is_data_style(v.id):
        races = find_races(result)
        for r in races:
            out.append(f"KCSAN-style race at {r.obj}:")
            for e in (r.first, r.second):
                kind = (
                    "read"
                    if e[3] in READ_OPS
                    else "write"
                    if e[3] in ("write", "user_store")
                    else e[3]
                )
                val = f" (value {e[5]})" if e[5] != "" else ""
                out.append(f"  {kind} by {_tname(result, e[1])} in {e[2]} at step {e[0]}{val}")
        if not races and v.objects:
            out.append(
                "no conflicting pair of lock-free accesses to "
                + ", ".join(v.objects)
                + " in the trace (the conflicting store may be inside a lock step)"
            )
    return out


def _cycle_lines(result: RunResult, v: Violation) -> list[str]:
    waits = {int(k): str(x) for k, x in (v.detail.get("waits") or {}).items()}
    cycle = [int(x) for x in v.detail.get("cycle") or []]
    held = [iv for iv in lock_intervals(result.events) if iv.end is None]

    def holder(lock: str, tid: int) -> str:
        for iv in held:
            if iv.lock == lock and iv.thread == tid:
                return f", held by {_tname(result, tid)} since step {iv.start} ({iv.fn}, {iv.op})"
        return f", blocked by {_tname(result, tid)}"

    out = ["wait-for cycle:" if cycle else "waiting threads (no cycle found):"]
    if cycle:
        for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
            lock = waits.get(a, "?")
            out.append(f"  {_tname(result, a)} waits for {lock}{holder(lock, b)}")
    else:
        for a, lock in sorted(waits.items()):
            out.append(f"  {_tname(result, a)} waits for {lock}")
    return out


# --------------------------------------------------------------------------- text


def _truncate(s: str, width: int) -> str:
    return s if len(s) <= width else s[: max(width - 1, 0)] + "…"


def _put(line: str, col: int, text: str) -> str:
    line = line.ljust(col)
    return (line[:col] + text + line[col + len(text) :]).rstrip()


def _table_lines(result: RunResult, rows: list[_Row]) -> list[str]:
    names = result.thread_names
    n = max(len(names), 1)
    v = result.violation
    cells = [_cell(e) for r in rows if r.kind != "fold" for e in r.events]
    cells += [r.fold_text for r in rows if r.kind == "fold"]
    cells += [f"T{i} {nm}" for i, nm in enumerate(names)]
    cap = max((TOTAL_WIDTH - _MARGIN) // n - 1, 12)
    width = min(max((len(c) for c in cells), default=12), cap)
    # the event rows come from trace.render_table; folds and end-of-run rows are
    # spliced in at the same column geometry, and cut cells get their "…"
    shown = [e for r in rows if r.kind != "fold" for e in r.events]
    table = trace.render_table(
        shown,
        names,
        highlight_step=v.step if v is not None else None,
        preemptions=set(result.preempted),
        width=width,
    ).split("\n")
    out = table[:2]
    body = iter(table[2:])
    for r in rows:
        if r.kind == "fold":
            text = _truncate(r.fold_text, width)
            out.append(_put("", _MARGIN + r.thread * (width + 1), text))
            continue
        for e in r.events:
            line = next(body)
            col = len(f"{e[0]:4d}") + 2 + e[1] * (width + 1)
            if e[1] < 0:
                text = f"{e[2]}: {e[3]} {e[4]}".rstrip() + (
                    f" — {v.message}" if v is not None else ""
                )
                line = _put(line, len(f"{e[0]:4d}") + 2, _truncate(text, TOTAL_WIDTH - _MARGIN))
            elif len(_cell(e)) > width:
                line = _put(line, col + width - 1, "…")
            out.append(line)
    return out


def render_text(result: RunResult, *, protocol: str, replay: str, title: str = "") -> str:
    """The terminal report of one run (a violation, or a clean or step-bound run)."""
    rows = _plan(result)
    lines = _header_lines(result, protocol, title)
    lines.append("")
    lines += _table_lines(result, rows)
    lines.append("(> preemption, ! violating step, … steps folded: one thread, nothing involved)")
    detail = _detail_lines(result)
    if detail:
        lines.append("")
        lines += detail
    lines += ["", f"replay: {replay}"]
    return "\n".join(lines) + "\n"


__all__ = [
    "LockInterval",
    "Race",
    "find_races",
    "is_data_style",
    "lock_intervals",
    "object_matcher",
    "render_text",
]
