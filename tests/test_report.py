"""Failure reports: the text report and the self-contained HTML one (docs/design.md#reports)."""

from __future__ import annotations

import re
from collections.abc import Generator
from functools import cache
from html.parser import HTMLParser
from typing import Any

import pytest

from fuzzlock import model, protocol, report, scenario
from fuzzlock.report import timeline
from fuzzlock.sched import RandomChooser, Replay, RunResult, Scheduler, ViolationError, ops
from fuzzlock.schema import INVARIANTS
from tests.sched.toy import Program, build

REPLAY = "fuzzlock replay corpora/patch2-only/0123abcd.json --backend python"

SETUP = [
    {"op": "mmap", "mm": 0, "vma": "src", "start": 16, "pages": 4, "uffd": True},
    {"op": "mmap", "mm": 0, "vma": "dst", "start": 32, "pages": 4, "uffd": True},
    {"op": "write", "mm": 0, "addr": 16, "value": 7, "folio": "F"},
]
MOVER = {"name": "mover", "ops": [{"op": "move", "mm": 0, "dst": 32, "src": 16, "len": 1}]}
WALK_SC = scenario.from_json(
    {
        "setup": SETUP,
        "threads": [
            MOVER,
            {"name": "reclaim", "ops": [{"op": "shrink_active_list", "folio": "F"}]},
        ],
    }
)
RECLAIM_SC = scenario.from_json(
    {
        "setup": SETUP,
        "threads": [
            MOVER,
            {
                "name": "reclaim",
                "ops": [{"op": "shrink_folio_list", "folio": "F", "ignore_references": True}],
            },
        ],
    }
)
ABBA: Program = [
    [("lock", 0), ("read", 1), ("lock", 1), ("write", 1, 5), ("unlock", 1), ("unlock", 0)],
    [("lock", 1), ("lock", 0), ("unlock", 0), ("unlock", 1)],
]


def _seeded(sc: scenario.Scenario, proto: protocol.Protocol, outcome: str) -> RunResult:
    for seed in range(400):
        r = model.run(sc, proto, chooser=RandomChooser(seed, 0.3)).result
        if r.outcome == outcome:
            return r
    raise AssertionError(f"no RandomChooser seed < 400 gives {outcome}")


@cache
def walk_complete() -> RunResult:
    return _seeded(WALK_SC, protocol.get("patch2-only"), "walk.complete")


def lock_order() -> RunResult:
    s, _ = build(ABBA)
    r = s.run(Replay([]))  # T0 runs alone, then T1 takes L1 and wants L0: lockdep fires
    assert r.outcome == "lock.order"
    return r


def _anon_vma_first() -> protocol.Protocol:
    return protocol.get("v6.18", {"move.lock_order": "anon-vma-first"})


def _text(r: RunResult, **kw: str) -> str:
    return report.render_text(r, protocol="patch2-only", replay=REPLAY, **kw)


def _html(r: RunResult, **kw: str) -> str:
    return timeline.render_html(r, protocol="patch2-only", replay=REPLAY, **kw)


def _row_steps(text: str) -> dict[int, str]:
    """Step number -> its margin mark, for every table row of a text report."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        m = re.match(r"^\s*(\d+)([!> ])(?: |$)", line)
        if m:
            out.setdefault(int(m.group(1)), m.group(2))
            if m.group(2) == "!":
                out[int(m.group(1))] = "!"
    return out


# --------------------------------------------------------------------------- text


def test_walk_complete_text_report_names_invariant_threads_step_race_and_replay() -> None:
    r = walk_complete()
    v = r.violation
    assert v is not None
    text = _text(r)
    first = text.splitlines()[0]
    assert "walk.complete" in first and INVARIANTS["walk.complete"] in first
    assert v.message in text
    assert f"at step {v.step}, T{v.thread} {r.thread_names[v.thread]}, in {v.fn}" in text
    header = next(line for line in text.splitlines() if line.startswith("step "))
    assert "T0 mover" in header and "T1 reclaim" in header
    assert _row_steps(text)[v.step] == "!"
    assert sum(1 for mark in _row_steps(text).values() if mark == "!") == 1
    assert f"replay: {REPLAY}" in text
    # the KCSAN-style pair: the mover's store and the walker's earlier load of the folio
    m = re.search(
        r"race at (folio:\d+)\.\w+:\n  write by T0 mover in (\w+) at step (\d+).*\n"
        r"  read by T1 reclaim in (\w+) at step (\d+)",
        text,
    )
    assert m is not None, text
    assert m.group(1) in v.objects
    assert int(m.group(5)) < int(m.group(3)) <= v.step


def test_walk_complete_report_is_short_and_keeps_what_matters() -> None:
    r = walk_complete()
    v = r.violation
    assert v is not None
    text = _text(r)
    assert len(text.splitlines()) < 60
    assert "… " in text and " steps of T" in text  # something was folded
    rows = _row_steps(text)
    assert v.step in rows
    for s in r.preempted:
        assert rows[s] == ">" or s == v.step
    match = report.object_matcher(v.objects)
    for e in r.events:
        if match(e[4]):
            assert e[0] in rows, f"event on a violation object folded away: {e}"
    for race in report.find_races(r):
        assert race.first[0] in rows and race.second[0] in rows


@pytest.mark.parametrize("sc_name", ["walk", "reclaim"])
def test_folding_never_hides_violation_preemptions_or_involved_objects(sc_name: str) -> None:
    sc, proto = (
        (WALK_SC, protocol.get("patch2-only"))
        if sc_name == "walk"
        else (RECLAIM_SC, _anon_vma_first())
    )
    for seed in range(40):
        r = model.run(sc, proto, chooser=RandomChooser(seed, 0.3)).result
        text = _text(r)
        rows = _row_steps(text)
        folded = sum(int(n) for n in re.findall(r"… (\d+) steps of T", text))
        assert len(rows) + folded >= len(r.events)
        assert all(s in rows for s in r.preempted)
        assert all(len(line) <= report.TOTAL_WIDTH for line in text.splitlines())
        v = r.violation
        if v is not None:
            assert rows.get(v.step) == "!", text
            match = report.object_matcher(v.objects)
            assert all(e[0] in rows for e in r.events if match(e[4]))


def test_lock_order_report_shows_lockdep_chain_and_unsafe_scenario() -> None:
    r = lock_order()
    v = r.violation
    assert v is not None
    text = report.render_text(r, protocol="toy", replay="fuzzlock replay abba.json", title="ABBA")
    assert text.splitlines()[0] == "ABBA"
    assert "lock.order" in text and INVARIANTS["lock.order"] in text
    for edge in v.detail["chain"]:
        assert edge in text
    assert "L0 -> L1" in text and "L1 -> L0" in text
    assert "Possible unsafe locking scenario" in text
    assert "*** DEADLOCK ***" in text
    # the acquisition that closed the cycle never became a trace event: it is still shown
    # the acquisition that closed the cycle is in the trace, with value "!"
    assert [e[5] for e in r.events if e[0] == v.step] == ["!"]
    assert _row_steps(text)[v.step] == "!"
    assert "t1: lock L0 = !" in text  # the violating acquisition, from the trace


def test_deadlock_report_shows_the_wait_for_cycle_with_holders() -> None:
    r = _seeded(RECLAIM_SC, _anon_vma_first(), "deadlock")
    v = r.violation
    assert v is not None
    text = report.render_text(r, protocol="v6.18", replay="fuzzlock replay d.json")
    assert "wait-for cycle:" in text
    for tid in v.detail["cycle"]:
        lock = v.detail["waits"][str(tid)]
        assert re.search(
            rf"T{tid} \w+ waits for {re.escape(lock)}, held by T\d \w+ since step", text
        )
    assert _row_steps(text)[v.step] == "!"


def test_clean_run_report_says_clean() -> None:
    r = model.run(WALK_SC, protocol.get("v6.19"), decisions=[]).result
    assert r.clean
    text = _text(r)
    assert text.startswith("clean")
    assert "!" not in _row_steps(text).values()
    assert "race" not in text
    assert text.rstrip().endswith(REPLAY)
    doc = _html(r)
    assert "clean" in doc
    assert _parse(doc).classes.count("violation") == 0


def test_violation_at_the_end_of_the_run_gets_a_full_width_row() -> None:
    s, _ = build([[("write", 0, 1)], [("read", 0)]])

    def at_end(_sched: Scheduler) -> None:
        raise ViolationError("folio.refcount", "invariant", "var0 is 1 at quiescence", ("var0",))

    s.check_end = at_end
    r = s.run(Replay([]))
    v = r.violation
    assert v is not None and v.thread == -1
    text = report.render_text(r, protocol="toy", replay="x")
    assert "at the end of the run" in text
    row = next(line for line in text.splitlines() if re.match(rf"\s*{v.step}!", line))
    assert "var0 is 1 at quiescence" in row
    assert INVARIANTS["folio.refcount"] in text
    assert (
        _parse(timeline.render_html(r, protocol="toy", replay="x")).classes.count("violation") == 1
    )


def test_long_cells_are_cut_with_an_ellipsis() -> None:
    def body() -> Generator[ops.Op, Any, None]:
        yield ops.read("a_function_with_a_rather_long_name", "x" * 200, lambda: 1)

    s = Scheduler()
    for i in range(6):
        s.spawn(f"thread{i}", body())
    r = s.run(Replay([]))
    text = report.render_text(r, protocol="toy", replay="x")
    assert all(len(line) <= report.TOTAL_WIDTH for line in text.splitlines())
    assert text.count("…") >= 6


# --------------------------------------------------------------------------- analysis


def test_lock_intervals_pair_acquire_and_release_and_skip_failed_trylocks() -> None:
    events = [
        (0, 0, "f", "down_write", "anon_vma:0", ""),
        (1, 1, "g", "trylock", "folio:0", "0"),
        (2, 1, "g", "trylock", "folio:0", "1"),
        (3, 0, "f", "up_write", "anon_vma:0", ""),
        (4, 1, "g", "down_read", "anon_vma:0", ""),
        (5, 1, "g", "unlock", "folio:0", ""),
    ]
    ivs = report.lock_intervals(events)
    got = [(iv.thread, iv.lock, iv.mode, iv.start, iv.end) for iv in ivs]
    assert got == [
        (0, "anon_vma:0", "write", 0, 3),
        (1, "folio:0", "excl", 2, 5),
        (1, "anon_vma:0", "read", 4, None),
    ]


def test_object_matcher_prefixes() -> None:
    m = report.object_matcher(["folio:0", "dst", "src:0x10"])
    assert m("folio:0") and m("folio:0.mapping") and m("vma:dst") and m("pte:mm0:0x10")
    assert not m("folio:01.mapping") and not m("folio:1") and not m("pte:mm0:0x20")


# --------------------------------------------------------------------------- HTML


class _Strict(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.classes: list[str] = []
        self.tags: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for k, val in attrs:
            if k == "class" and val:
                self.classes += val.split()
            if k in ("src", "href"):
                self.errors.append(f"external reference {k}={val}")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else ''}>")
        else:
            self.stack.pop()


def _parse(doc: str) -> _Strict:
    p = _Strict()
    p.feed(doc)
    p.close()
    assert not p.errors, p.errors
    assert not p.stack, f"unclosed: {p.stack}"
    return p


@pytest.mark.parametrize("which", ["walk", "lock.order", "deadlock"])
def test_html_is_well_formed_self_contained_and_marks_one_violation(which: str) -> None:
    if which == "walk":
        r = walk_complete()
    elif which == "lock.order":
        r = lock_order()
    else:
        r = _seeded(RECLAIM_SC, _anon_vma_first(), "deadlock")
    doc = _html(r, title="<script>alert('x')</script> & co")
    assert doc.startswith("<!DOCTYPE html>")
    p = _parse(doc)
    assert p.classes.count("violation") == 1
    assert "http" not in doc.lower()
    assert "url(" not in doc and "@import" not in doc
    assert "<script>alert" not in doc and "&lt;script&gt;alert" in doc
    assert p.tags.count("script") == 1 and p.tags.count("style") == 1
    assert r.violation is not None and r.violation.id in doc
    assert REPLAY in doc


def test_html_draws_lock_holding_bars_lanes_and_preemptions() -> None:
    r = walk_complete()
    doc = _html(r)
    p = _parse(doc)
    ivs = report.lock_intervals(r.events)
    assert p.classes.count("bar") == len(ivs) > 0
    assert "folio:0 (trylock in move_pages_ptes) held from step" in doc
    assert "open" in p.classes  # the walker still holds the anon_vma when it fails
    assert p.classes.count("glane") == len(r.thread_names)
    assert p.classes.count("pmark") == len(r.preempted) * len(r.thread_names)
    assert p.classes.count("ev") >= len(r.events)  # every step is a box, folded ones too
    assert "T0 mover" in doc and "T1 reclaim" in doc
    assert "race at folio:" in doc  # the text details are included
