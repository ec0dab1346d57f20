"""The recorded kernel findings (docs/findings/*.md), each with its signature.

A hunt or a campaign that ends in a violation asks ``match`` whether it is one of these.
A finding is recognised by what its interleaving *does*, not by its invariant id: two
findings share ``move.result``, and a knob bug may break ``walk.complete`` or
``move.result`` by another path, which must still fail a campaign.  A signature looks at
the run's trace (which kernel functions, which objects, which results), at the violation
(which function raised it, on which thread) and at the protocol (the base protocols the
finding was recorded on, the knob that fixes it not applied).

``hunt`` adds ``Match.note()`` to its notes (name, docs page, the knob that searches past
it); the campaign tests turn a match into an xfail naming the finding.  Adding a finding:
write docs/findings/<id>.md, add a ``Finding`` to ``FINDINGS`` with a signature that its
corpus entries match and no other corpus entry does (tests/test_findings.py checks both).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import attrs

from fuzzlock.protocol import Protocol

if TYPE_CHECKING:
    from fuzzlock.corpus import Entry
    from fuzzlock.sched.result import RunResult, Violation
    from fuzzlock.trace import Event

__all__ = ["FINDINGS", "Finding", "Match", "by_id", "match", "match_entry"]


@attrs.frozen
class Match:
    """A violation recognised as a recorded finding."""

    finding: Finding
    knob: str  # ``K=V``: the setting that fixes it (a search with it looks past the finding)
    evidence: str  # one line: what in the trace matched

    def note(self) -> str:
        """The line a hunt prints: which finding, its page, the knob, and why."""
        f = self.finding
        return (
            f"this is the known kernel finding '{f.id}' ({f.doc}): {f.title}; "
            f"--knob {self.knob} {f.knob_says} (matched: {self.evidence})"
        )


#: a signature: ``(protocol, violation, events) -> (knob, evidence)`` or None
Signature = Callable[[Protocol, "Violation", "Sequence[Event]"], "tuple[str, str] | None"]


@attrs.frozen
class Finding:
    """One recorded kernel finding (a page under docs/findings/)."""

    id: str
    title: str
    doc: str  # docs/findings/<id>.md
    invariant: str  # the invariant its runs break
    protocols: tuple[str, ...]  # the base protocols it was recorded on (as the kernel is)
    knob_says: str  # what ``--knob <Match.knob>`` does, completing the note
    signature: Signature = attrs.field(repr=False)

    def match(self, proto: Protocol, result: RunResult) -> Match | None:
        v = result.violation
        if v is None or v.id != self.invariant or proto.base not in self.protocols:
            return None
        got = self.signature(proto, v, result.events)
        if got is None:
            return None
        knob, evidence = got
        return Match(self, knob, evidence)


# --------------------------------------------------------------------------- trace reading

FIX_STICKY = "move.reset_err_on_retry"


#: the functions of ``move_pages_ptes`` that move a PTE (present page, zero page, swap)
_MOVERS = frozenset(("move_present_ptes", "move_zeropage_pte", "move_swap_pte"))


@attrs.frozen
class _Pass:
    """One pass of the ``move_pages`` loop, as the trace shows it."""

    addr: str  # the src address, e.g. "0x10"
    result: str  # what move_pages_ptes returned: "EAGAIN", "1", "EEXIST", ...
    moved_ptes: bool  # the pass ran a PTE mover (a hole "moved" with ALLOW_SRC_HOLES runs none)

    @property
    def succeeded(self) -> bool:
        return self.result.isdigit() and int(self.result) > 0


def _last_move(events: Sequence[Event], thread: int) -> list[Event]:
    """``thread``'s events from the start of its last ``userfaultfd_move`` call."""
    mine = [e for e in events if e[1] == thread]
    start = None
    for i, (_s, _t, fn, op, obj, _v) in enumerate(mine):
        if fn == "userfaultfd_move" and op == "read" and obj.endswith(".mmap_changing"):
            start = i
    return [] if start is None else mine[start:]


def _passes(call: Sequence[Event]) -> list[_Pass]:
    """The ``move_pages`` passes of one move call, in order."""
    out: list[_Pass] = []
    moved = False
    for _s, _t, fn, op, obj, val in call:
        if fn in _MOVERS:
            moved = True
        elif fn == "move_pages" and op == "returned" and obj.startswith("move_pages_ptes@"):
            out.append(_Pass(obj.split("@", 1)[1], val, moved))
            moved = False
    return out


def _uncounted(passes: Sequence[_Pass]) -> list[int]:
    """The passes ``j`` that succeeded after an -EAGAIN at the same address (every pass
    in between at that address too) and after which the loop went round again at that
    address (pass ``j + 1``): successes the loop did not count (the sticky ``err``)."""
    out = []
    for i, p in enumerate(passes):
        if p.result != "EAGAIN":
            continue
        for j in range(i + 1, len(passes) - 1):
            if passes[j].addr != p.addr:
                break
            if passes[j].succeeded and passes[j + 1].addr == p.addr and j not in out:
                out.append(j)
    return out


# --------------------------------------------------------------------------- signatures


def _sticky_eagain(
    proto: Protocol, v: Violation, events: Sequence[Event]
) -> tuple[str, str] | None:
    """The move returned (I16 raised by ``userfaultfd_move``, after the call) and its
    last call has a pass that moved a present page after an -EAGAIN at the same address,
    which the loop did not count."""
    if proto[FIX_STICKY] or v.fn != "userfaultfd_move":
        return None
    passes = _passes(_last_move(events, v.thread))
    for j in _uncounted(passes):
        p = passes[j]
        if p.moved_ptes:  # not a hole: this pass really moved pages
            return (
                f"{FIX_STICKY}=true",
                f"T{v.thread}'s move_pages_ptes returned EAGAIN at {p.addr}, a retry "
                f"moved {p.result} page(s) there and the loop did not count them",
            )
    return None


def _holes_livelock(
    proto: Protocol, v: Violation, events: Sequence[Event]
) -> tuple[str, str] | None:
    """I16's livelock (raised inside ``move_pages``): after an -EAGAIN, every pass of
    the last call at that address "moved" a hole (src PTE none: ALLOW_SRC_HOLES) and went
    round again."""
    if proto[FIX_STICKY] or v.fn != "move_pages":
        return None
    passes = _passes(_last_move(events, v.thread))
    last = max((i for i, p in enumerate(passes) if p.result == "EAGAIN"), default=None)
    if last is None:
        return None
    tail = passes[last + 1 :]
    addr = passes[last].addr
    if len(tail) < 2 or not all(p.addr == addr and p.succeeded and not p.moved_ptes for p in tail):
        return None
    return (
        f"{FIX_STICKY}=true",
        f"after EAGAIN at {addr}, T{v.thread}'s move_pages moved the hole there "
        f"{len(tail)} times without counting it",
    )


#: the lock knob of each anon rmap walker (``RmapWalkControl.caller``) and the value
#: patch 1 of the v6.19 series gives it
WALKER_LOCK: dict[str, tuple[str, str]] = {
    "folio_referenced": ("walk.referenced_active_lock", "trylock"),
    "page_idle_clear_pte_refs": ("walk.page_idle_lock", "trylock"),
    "damon_folio_mkold": ("walk.damon_lock", "trylock"),
    "damon_folio_young": ("walk.damon_lock", "trylock"),
    "collect_procs_anon": ("walk.memory_failure_lock", "lock"),
}


def _holds(events: Sequence[Event], thread: int, obj: str, before: int) -> bool:
    """Whether ``thread`` holds lock ``obj`` just before step ``before``."""
    held = False
    for s, t, _fn, op, o, val in events:
        if s >= before:
            break
        if t != thread or o != obj:
            continue
        if op == "lock" or (op == "trylock" and val == "1"):
            held = True
        elif op == "unlock":
            held = False
    return held


def _swap_move_unlocked_walker(
    proto: Protocol, v: Violation, events: Sequence[Event]
) -> tuple[str, str] | None:
    """The walker that missed a mapping rechecked ``folio->mapping`` in
    ``folio_lock_anon_vma_read``, then another thread's ``move_swap_pte`` rewrote that
    folio's mapping, then the walker read the folio's index for its walk, never holding
    the folio lock."""
    lock = WALKER_LOCK.get(v.fn)
    if lock is None:
        return None
    knob, fixed = lock
    w = v.thread
    for folio in (o for o in v.objects if o.startswith("folio:")):
        recheck = None  # the walker's last mapping read in folio_lock_anon_vma_read
        moved = None  # then: another thread's move_swap_pte store to the mapping
        for s, t, fn, op, obj, _val in events:
            if t == w and fn == "folio_lock_anon_vma_read" and op == "read":
                if obj == f"{folio}.mapping":
                    recheck, moved = s, None
            elif t != w and fn == "move_swap_pte" and op == "write":
                if obj == f"{folio}.mapping" and recheck is not None and moved is None:
                    moved = s
            elif (
                t == w
                and op == "read"
                and obj == f"{folio}.index"
                and moved is not None
                and not _holds(events, w, folio, s)
            ):
                return (
                    f"{knob}={fixed}",
                    f"T{w} ({v.fn}, no folio lock) rechecked {folio}.mapping at step "
                    f"{recheck}, move_swap_pte rewrote it at step {moved}, the walk "
                    f"read {folio}.index at step {s}",
                )
    return None


FINDINGS: tuple[Finding, ...] = (
    Finding(
        "sticky-eagain",
        "UFFDIO_MOVE can move a page and report EEXIST (move_pages' sticky -EAGAIN)",
        "docs/findings/sticky-eagain.md",
        "move.result",
        ("v6.18", "v6.19", "patch2-only", "patch1-only"),
        "applies the later upstream fix and searches past it",
        _sticky_eagain,
    ),
    Finding(
        "holes-livelock",
        "UFFDIO_MOVE with ALLOW_SRC_HOLES can spin in the kernel forever "
        "(move_pages' sticky -EAGAIN)",
        "docs/findings/holes-livelock.md",
        "move.result",
        ("v6.18", "v6.19", "patch2-only", "patch1-only"),
        "applies the later upstream fix and searches past it",
        _holes_livelock,
    ),
    Finding(
        "swap-move-unlocked-walker",
        "a walker without the folio lock can walk a folio's old anon_vma after a "
        "swap-PTE move (v6.18)",
        "docs/findings/swap-move-unlocked-walker.md",
        "walk.complete",
        ("v6.18", "patch2-only"),  # patch 1 (patch1-only, v6.19) closes it
        "gives this walker patch 1's folio lock and searches past it",
        _swap_move_unlocked_walker,
    ),
)


def by_id(finding_id: str) -> Finding:
    for f in FINDINGS:
        if f.id == finding_id:
            return f
    raise KeyError(finding_id)


def match(proto: Protocol, result: RunResult) -> Match | None:
    """The recorded finding that ``result`` (a run on ``proto``) is, if any."""
    for f in FINDINGS:
        m = f.match(proto, result)
        if m is not None:
            return m
    return None


def match_entry(entry: Entry) -> Match | None:
    """``match`` for a corpus entry, replayed on the Python model (the reference)."""
    from fuzzlock import model

    try:
        r = model.run(entry.scenario, entry.protocol, decisions=entry.decisions)
    except model.SetupError:
        return None
    return match(entry.protocol, r.result)
