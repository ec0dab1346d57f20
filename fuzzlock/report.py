"""Failure reports (docs/design.md#reports): a terminal text report and a self-contained HTML one.

PYTEST_DONT_REWRITE

Both are built from a ``RunResult`` alone (its events, preemption points and violation),
so a report renders the same for either backend::

    from fuzzlock import report
    print(report.render_text(r.result, protocol="v6.19", replay="fuzzlock replay E.json"))
    open("e.html", "w").write(report.render_html(r.result, protocol="v6.19", replay="..."))

The text report is: a header (invariant id, its one-line explanation, the message and
where it happened); the interleaving as ``trace.render_table`` draws it (one column per
thread, ``>`` preemption, ``!`` the violating step), with long uninterrupted runs of one
thread that touch nothing involved in the violation collapsed into one ``… N steps`` row;
then what the kind of violation calls for (lockdep's chain and unsafe scenario for
``lock.order``, the wait-for cycle for ``deadlock``, the KCSAN-style access pair for a
data invariant); and the replay command.  The HTML report shows the same interleaving as
lanes, the lock holding intervals as bars per thread, and the same details.
"""

from __future__ import annotations

import html
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


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;margin:16px;color:#222}
h1{font-size:17px;margin:0 0 6px}h2{font-size:14px;margin:18px 0 6px}
.expl{font-weight:normal;color:#555}.msg{margin:2px 0}.where{margin:2px 0;color:#555}
.clean{color:#186a18}.bad{color:#b00020}
.gantt{border:1px solid #ccc;padding:4px 6px;max-width:1400px}
.glane{display:flex;align-items:stretch;border-bottom:1px dotted #ddd}
.gname{width:160px;flex:none;padding:2px 4px;overflow:hidden;white-space:nowrap}
.gtrack{position:relative;flex:1;min-height:18px}
.bar{position:absolute;height:14px;border-radius:3px;font-size:10px;line-height:14px;
 overflow:hidden;white-space:nowrap;padding:0 2px;box-sizing:border-box;color:#111}
.m-excl{background:#f5b971}.m-read{background:#9fd3a8}.m-write{background:#e88f8f}
.open{border-right:3px dashed #b00020}
.pmark{position:absolute;top:0;bottom:0;width:0;border-left:1px dashed #7a5cc2}
.vmark{position:absolute;top:0;bottom:0;width:0;border-left:2px solid #b00020}
table.lanes{border-collapse:collapse}
table.lanes th,table.lanes td{border:1px solid #ddd;padding:1px 4px;vertical-align:top}
table.lanes th{background:#f3f3f3;position:sticky;top:0}
td.stp{text-align:right;color:#777;white-space:nowrap}
.ev{padding:1px 3px;border-radius:3px;white-space:nowrap}
.ev .fn{color:#555}.k-lock{background:#fde6c8}.k-unlock{background:#eef3fb}
.k-read{background:#e8f5e9}.k-write{background:#fde0e0}.k-other{background:#f4f4f4}
.k-fail{background:#eee;color:#888}
tr.pre td.stp{color:#7a5cc2;font-weight:bold}
tr.violation td{background:#ffe5e5}tr.violation .ev{outline:2px solid #b00020}
tr.foldsum td{color:#777;font-style:italic;cursor:pointer;background:#fafafa}
tr.hit .ev{box-shadow:inset 3px 0 #1a73e8}
pre{background:#f7f7f7;padding:6px;border:1px solid #e3e3e3;overflow-x:auto}
"""

_JS = """
document.querySelectorAll('tr.foldsum').forEach(function(r){
 r.addEventListener('click',function(){
  var g=r.getAttribute('data-fold');
  document.querySelectorAll('tr.fold-'+g).forEach(function(x){x.hidden=!x.hidden;});
 });
});
"""


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _kind_class(e: Event) -> str:
    op, val = e[3], e[5]
    if op in TRYLOCK_OPS and val != "1":
        return "k-fail"
    if op in ACQUIRE_OPS or op in TRYLOCK_OPS:
        return "k-lock"
    if op in RELEASE_OPS:
        return "k-unlock"
    if op in WRITE_OPS:
        return "k-write"
    if op in READ_OPS:
        return "k-read"
    return "k-other"


def _box(e: Event) -> str:
    _s, _t, fn, op, obj, val = e
    v = f" = {val}" if val != "" else ""
    return (
        f'<div class="ev {_kind_class(e)}" title="{_e(_cell(e))}">'
        f'<span class="fn">{_e(fn)}</span> {_e(op)} {_e(obj)}{_e(v)}</div>'
    )


def _gantt(result: RunResult) -> list[str]:
    names = result.thread_names
    v = result.violation
    last = max((e[0] for e in result.events), default=-1)
    total = max(last + 1, (v.step + 1) if v is not None else 0, 1)
    ivs = lock_intervals(result.events)

    def pct(x: float) -> str:
        return f"{100.0 * x / total:.3f}%"

    marks = "".join(
        f'<div class="pmark" style="left:{pct(s)}" title="preemption at step {s}"></div>'
        for s in result.preempted
    )
    if v is not None:
        marks += (
            f'<div class="vmark" style="left:{pct(v.step)}" '
            f'title="{_e(v.id)} at step {v.step}"></div>'
        )
    out = ['<div class="gantt">']
    for tid, name in enumerate(names):
        mine = [iv for iv in ivs if iv.thread == tid]
        tracks: list[int] = []  # per track: first free step
        bars: list[str] = []
        for iv in mine:
            end = iv.end if iv.end is not None else total - 1
            for k, free in enumerate(tracks):
                if free <= iv.start:
                    tracks[k] = end + 1
                    break
            else:
                k = len(tracks)
                tracks.append(end + 1)
            until = f"step {iv.end}" if iv.end is not None else "the end of the trace"
            tip = f"{iv.lock} ({iv.op} in {iv.fn}) held from step {iv.start} to {until}"
            cls = f"bar m-{iv.mode}" + (" open" if iv.end is None else "")
            bars.append(
                f'<div class="{cls}" style="left:{pct(iv.start)};width:{pct(end - iv.start + 1)};'
                f'top:{2 + 16 * k}px" title="{_e(tip)}">{_e(iv.lock)}</div>'
            )
        height = 4 + 16 * max(len(tracks), 1)
        out.append(
            f'<div class="glane"><div class="gname">{_e(f"T{tid} {name}")}</div>'
            f'<div class="gtrack" style="height:{height}px">{marks}{"".join(bars)}</div></div>'
        )
    out.append("</div>")
    out.append(
        '<p class="where">steps 0–'
        + _e(total - 1)
        + " left to right; bars: locks held (orange exclusive, green read, red write; "
        "dashed end: still held); dashed lines: preemptions; red line: violation</p>"
    )
    return out


def _lanes(result: RunResult, rows: list[_Row]) -> list[str]:
    names = result.thread_names
    n = len(names)
    v = result.violation
    pre = set(result.preempted)
    match = object_matcher(v.objects) if v is not None else (lambda _o: False)
    head = "".join(f"<th>{_e(f'T{i} {nm}')}</th>" for i, nm in enumerate(names))
    out = ['<table class="lanes">', f"<thead><tr><th>step</th>{head}</tr></thead>", "<tbody>"]

    def tr(step: int, evs: list[Event], extra: str = "", synthetic: bool = False) -> str:
        classes = []
        if v is not None and step == v.step and (synthetic or evs[0][1] == v.thread):
            classes.append("violation")
        if step in pre:
            classes.append("pre")
        if any(match(e[4]) for e in evs) and not synthetic:
            classes.append("hit")
        if extra:
            classes.append(extra)
        mark = "!" if "violation" in classes else (">" if step in pre else "")
        cells = [""] * n
        wide = ""
        for e in evs:
            if 0 <= e[1] < n:
                cells[e[1]] += _box(e)
            else:
                msg = f" — {v.message}" if v is not None else ""
                wide = f'<td colspan="{n}"><div class="ev k-other">{_e(e[2])}: {_e(e[3])}{_e(msg)}</div></td>'
        tds = wide or "".join(f"<td>{c}</td>" for c in cells)
        cls = f' class="{" ".join(classes)}"' if classes else ""
        hidden = " hidden" if extra.startswith("fold-") else ""
        return f'<tr{cls}{hidden}><td class="stp">{_e(mark)} {step}</td>{tds}</tr>'

    for g, r in enumerate(rows):
        if r.kind == "fold":
            out.append(
                f'<tr class="foldsum" data-fold="{g}" title="click to show or hide">'
                f'<td class="stp">{r.events[0][0]}–{r.events[-1][0]}</td>'
                f'<td colspan="{n}">{_e(r.fold_text)}</td></tr>'
            )
            out += [tr(e[0], [e], extra=f"fold-{g}") for e in r.events]
        elif r.kind == "synthetic":
            out.append(tr(r.step, r.events, synthetic=True))
        else:
            out.append(tr(r.step, r.events))
    out += ["</tbody>", "</table>"]
    return out


def render_html(result: RunResult, *, protocol: str, replay: str, title: str = "") -> str:
    """One self-contained HTML document (inline CSS and JS, no external references)."""
    v = result.violation
    rows = _plan(result)
    if v is None:
        heading = (
            '<h1 class="clean">step-bound</h1>'
            if result.outcome == STEP_BOUND
            else '<h1 class="clean">clean: no invariant violated</h1>'
        )
    else:
        expl = INVARIANTS.get(v.id, "")
        heading = f'<h1 class="bad">VIOLATION {_e(v.id)} <span class="expl">{_e(expl)}</span></h1>'
    doc_title = title or (f"fuzzlock: {v.id}" if v is not None else "fuzzlock: clean")
    header = _header_lines(result, protocol, "")
    body = [
        heading,
        *(f'<p class="where">{_e(line.strip())}</p>' for line in header[1:]),
        "<h2>Locks held</h2>",
        *_gantt(result),
        "<h2>Interleaving</h2>",
        '<p class="where">one column per thread; &gt; preemption, ! violating step; '
        "click a folded row to expand it</p>",
        *_lanes(result, rows),
    ]
    detail = _detail_lines(result)
    if detail:
        body += ["<h2>Details</h2>", f"<pre>{_e(chr(10).join(detail))}</pre>"]
    body += ["<h2>Replay</h2>", f"<pre>{_e(replay)}</pre>"]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{_e(doc_title)}</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            *([f'<p class="where">{_e(title)}</p>'] if title else []),
            *body,
            f"<script>{_JS}</script>",
            "</body>",
            "</html>",
            "",
        ]
    )


__all__ = [
    "LockInterval",
    "Race",
    "find_races",
    "is_data_style",
    "lock_intervals",
    "object_matcher",
    "render_html",
    "render_text",
]
