"""Sequential conformance: the same operation sequence on the live kernel and the model.

A ``Sequence`` is a layout (regions of ``pages`` pages, which are uffd-registered), the
setup stores done before registering, and a list of scenario thread ops (one thread).
``check_sequence`` runs it on a fresh ``Harness`` and on the model, step by step, and
compares after every op:

* the result: errno and ``move`` (pages) of a move; what a store/load/fork/exit/madvise
  returned (``uffd-missing`` where a MISSING fault would block: the harness refuses it,
  the model reports it);
* per page of every live mm: none / zero / present / swap;
* which pages share one physical frame, and which swap PTEs share one swap slot (frames
  and slots relabelled in first-seen order, never compared as numbers);
* the mapcount (``/proc/kpagecount`` vs ``folio.mapcount``) and PageAnonExclusive
  (``/proc/kpageflags`` bit 34 vs ``folio.pae``) of present pages.

The model side runs the scenario (setup: mmap + writes; one thread with all the ops)
through ``fuzzlock.model``'s own ``setup_op``/``do_op`` with the invariant hooks on,
snapshotting the world after each op: one model run per sequence instead of one per
prefix.  A model invariant violation is reported as a mismatch too.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import attrs

from fuzzlock import invariants, model, protocol
from fuzzlock.model import prim
from fuzzlock.model.world import World
from fuzzlock.oracle.harness import KEEPER_OFFSET, Harness, KPage, region_start
from fuzzlock.scenario import Scenario
from fuzzlock.sched import Replay, Scheduler

Op = dict[str, Any]
PageState = tuple[Any, ...]  # ("none",) ("zero",) ("swap", label) ("present", label, mapcount, pae)
State = dict[tuple[int, int], PageState]


@attrs.define
class Sequence:
    pages: int
    uffd: list[bool]
    init: list[tuple[int, int]]  # (addr, value) setup stores, before registering
    ops: list[Op]
    keepers: bool = True  # a keeper page in each region's PTE table (harness.c)

    @property
    def nregions(self) -> int:
        return len(self.uffd)

    def addrs(self) -> list[int]:
        return [region_start(i) + j for i in range(self.nregions) for j in range(self.pages)]

    def scenario(self, upto: int | None = None) -> Scenario:
        """The fuzzlock scenario: setup mmaps + stores, ONE thread with the ops (built
        directly: the thread may have more than scenario.MAX_OPS ops)."""
        setup: list[Op] = []
        for i, u in enumerate(self.uffd):
            setup.append(
                {
                    "op": "mmap",
                    "mm": 0,
                    "vma": f"r{i}",
                    "start": region_start(i),
                    "pages": self.pages,
                    "uffd": u,
                    "write": True,
                    "locked": False,
                    "dontfork": False,
                    "wipeonfork": False,
                }
            )
            if self.keepers:
                k = region_start(i) + KEEPER_OFFSET
                setup.append(
                    {
                        "op": "mmap",
                        "mm": 0,
                        "vma": f"k{i}",
                        "start": k,
                        "pages": 1,
                        "uffd": False,
                        "write": True,
                        "locked": False,
                        "dontfork": False,
                        "wipeonfork": False,
                    }
                )
                setup.append({"op": "write", "mm": 0, "addr": k, "value": 1, "folio": ""})
        for a, v in self.init:
            setup.append({"op": "write", "mm": 0, "addr": a, "value": v, "folio": ""})
        ops = self.ops if upto is None else self.ops[:upto]
        return Scenario(tuple(setup), (("oracle", tuple(dict(o) for o in ops)),), 10**7)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Sequence:
        return cls(
            int(obj["pages"]),
            [bool(u) for u in obj["uffd"]],
            [(int(a), int(v)) for a, v in obj["init"]],
            [dict(o) for o in obj["ops"]],
            bool(obj.get("keepers", True)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "uffd": self.uffd,
            "init": self.init,
            "ops": self.ops,
            "keepers": self.keepers,
        }


# --- the model side ----------------------------------------------------------------------------


def _model_state(w: World, addrs: list[int]) -> dict[tuple[int, int], tuple[Any, ...]]:
    out: dict[tuple[int, int], tuple[Any, ...]] = {}
    for mid in sorted(w.mms):
        mm = w.mms[mid]
        if not mm.alive:
            continue
        for a in addrs:
            p = mm.pte(a)
            if p is None:
                out[(mid, a)] = ("none", 0, 0, False)
            elif p.kind == "zero":
                out[(mid, a)] = ("zero", 0, 0, False)
            elif p.kind == "swap":
                out[(mid, a)] = ("swap", p.entry, 0, False)
            elif p.kind == "present" and p.folio is not None:
                f = p.folio
                out[(mid, a)] = ("present", f.id, f.mapcount, f.pae)
            else:
                out[(mid, a)] = (p.kind, -1, 0, False)
    return out


def _fmt_model_result(op: Op, r: Any) -> Any:
    if op["op"] == "move":
        return (r.ret, r.move)
    return model._fmt(r)


def model_steps(
    seq: Sequence, proto: protocol.Protocol
) -> tuple[list[tuple[Any, State]], str | None]:
    """Per op: (result, normalized state); plus a violation line, if the model hit one."""
    sc = seq.scenario()
    sched = Scheduler(max_steps=sc.max_steps)
    w = World(sched, proto)
    for i, o in enumerate(sc.setup):
        sched.run_solo(f"setup[{i}]", model.setup_op(w, o))
    addrs = seq.addrs()
    snaps: list[tuple[Any, State]] = []
    ops = sc.threads[0][1]
    labels = Labels()

    def body() -> Any:
        for o in ops:
            r = yield from model.do_op(w, o)
            snaps.append((_fmt_model_result(o, r), labels.normalize(_model_state(w, addrs))))
        return None

    sched.spawn("oracle", body())
    sched.check_step = invariants.step_hook(w)
    sched.check_end = invariants.end_hook(w)
    res = sched.run(Replay([]))
    v = res.violation
    return snaps, (v.one_line() if v is not None else None)


# --- comparison --------------------------------------------------------------------------------


class Labels:
    """Frame and swap-slot labels that persist across the steps of one sequence: a frame
    keeps its label while some page maps it (so a CoW reuse, a move keeping its frame and
    a copy are told apart), and loses it once nothing maps it (the kernel reuses freed
    frames at once, the model never reuses a folio id).  Labels are handed out in
    first-seen order (mm, then address), so equal histories give equal labels."""

    def __init__(self) -> None:
        self.frames: dict[Any, str] = {}
        self.slots: dict[Any, str] = {}
        self.nf = 0
        self.ns = 0

    def normalize(self, raw: dict[tuple[int, int], tuple[Any, ...]]) -> State:
        seen_f = {v[1] for v in raw.values() if v[0] == "present"}
        seen_s = {v[1] for v in raw.values() if v[0] == "swap"}
        self.frames = {k: v for k, v in self.frames.items() if k in seen_f}
        self.slots = {k: v for k, v in self.slots.items() if k in seen_s}
        out: State = {}
        for key in sorted(raw):
            kind, ident, mapcount, pae = raw[key]
            if kind == "present":
                if ident not in self.frames:
                    self.frames[ident] = f"F{self.nf}"
                    self.nf += 1
                out[key] = ("present", self.frames[ident], mapcount, bool(pae))
            elif kind == "swap":
                if ident not in self.slots:
                    self.slots[ident] = f"S{self.ns}"
                    self.ns += 1
                out[key] = ("swap", self.slots[ident])
            else:
                out[key] = (kind,)
        return out


def normalize(raw: dict[tuple[int, int], tuple[Any, ...]]) -> State:
    """One state alone: frames (F0, F1, ...) and swap slots (S0, ...) in first-seen order."""
    return Labels().normalize(raw)


def canonical(st: State) -> State:
    """Relabel an already normalized state as if it were seen alone."""
    return normalize({k: (*v, 0, 0, False)[:4] for k, v in st.items()})


def kernel_state(kst: dict[tuple[int, int], KPage], labels: Labels | None = None) -> State:
    raw = {k: (p.kind, p.ident, p.mapcount, p.pae) for k, p in kst.items()}
    return (labels or Labels()).normalize(raw)


def fmt_page(p: PageState | None) -> str:
    if p is None:
        return "-"
    if p[0] == "present":
        return f"{p[1]}(map={p[2]},{'PAE' if p[3] else 'shared'})"
    if p[0] == "swap":
        return f"swap:{p[1]}"
    return str(p[0])


def fmt_result(op: Op, r: Any) -> str:
    if op["op"] == "move" and isinstance(r, tuple):
        ret, mv = r
        return f"ret={prim.errname(ret)},move={mv}"
    return str(r)


def fmt_op(o: Op) -> str:
    k = o["op"]
    if k == "move":
        mode = "|".join(o["mode"]) or "0"
        return f"move dst={o['dst']} src={o['src']} len={o['len']} mode={mode}"
    if k == "write":
        return f"write mm{o['mm']}:{o['addr']} = {o['value']}"
    if k == "read":
        return f"read mm{o['mm']}:{o['addr']}"
    if k == "fork":
        return f"fork mm{o['mm']} -> mm{o['child']}"
    if k == "exit":
        return f"exit mm{o['mm']}"
    return f"{k} mm{o['mm']}:{o['addr']}+{o['pages']}"


@attrs.define
class Mismatch:
    seq: Sequence
    step: int  # index of the op after which the states differ
    what: list[str]
    kernel_result: Any
    model_result: Any
    kernel: State
    model: State
    violation: str | None = None

    def report(self) -> str:
        lines = [f"kernel-check MISMATCH at step {self.step}: " + "; ".join(self.what)]
        lines.append(
            f"layout: {self.seq.nregions} regions of {self.seq.pages} pages at "
            + ", ".join(
                f"{region_start(i)}{' (uffd)' if u else ''}" for i, u in enumerate(self.seq.uffd)
            )
        )
        lines.append(
            "setup stores: "
            + (", ".join(f"{a}={v}" for a, v in self.seq.init) if self.seq.init else "none")
        )
        for i, o in enumerate(self.seq.ops[: self.step + 1]):
            lines.append(f"  {'>>' if i == self.step else '  '} [{i}] {fmt_op(o)}")
        if self.step < len(self.seq.ops):
            o = self.seq.ops[self.step]
            lines.append(
                f"result: kernel {fmt_result(o, self.kernel_result)}, "
                f"model {fmt_result(o, self.model_result)}"
            )
        if self.violation:
            lines.append(f"model violation: {self.violation}")
        lines.append("page               kernel                   model")
        for key in sorted(set(self.kernel) | set(self.model)):
            k, m = self.kernel.get(key), self.model.get(key)
            mark = "  " if k == m else "!="
            lines.append(f"{mark} mm{key[0]}:{key[1]:<5}  {fmt_page(k):<24} {fmt_page(m)}")
        short = attrs.evolve(self.seq, ops=self.seq.ops[: self.step + 1])
        lines.append("replay (save as a file, `fuzzlock kernel-check --replay FILE`):")
        lines.append(json.dumps(short.to_json(), separators=(",", ":")))
        return "\n".join(lines)


def _diff(k: State, m: State) -> list[str]:
    out = []
    for key in sorted(set(k) | set(m)):
        a, b = k.get(key), m.get(key)
        if a != b:
            out.append(f"mm{key[0]}:{key[1]} kernel {fmt_page(a)} model {fmt_page(b)}")
    return out


def _same_result(op: Op, kr: Any, mr: Any) -> bool:
    if op["op"] == "move":
        return bool(kr == mr)
    return str(kr) == str(mr)


def check_sequence(
    seq: Sequence, proto: protocol.Protocol, exe: Any, cpu: int
) -> tuple[Mismatch | None, int]:
    """Run ``seq`` on the kernel and the model; the first mismatch (or None) and the
    number of steps compared."""
    snaps, violation = model_steps(seq, proto)
    labels = Labels()
    with Harness(exe, seq.nregions, seq.pages, seq.uffd, seq.init, cpu, seq.keepers) as h:
        for i, o in enumerate(seq.ops):
            kr = h.op(o)
            kst = kernel_state(h.state(), labels)
            if i >= len(snaps):  # the model stopped early (a violation)
                return Mismatch(
                    seq, i, [f"model stopped: {violation}"], kr, None, kst, {}, violation
                ), i
            mr, mst = snaps[i]
            what = []
            if not _same_result(o, kr, mr):
                what.append(f"result kernel {fmt_result(o, kr)} model {fmt_result(o, mr)}")
            what += _diff(kst, mst)
            if what:
                return Mismatch(seq, i, what, kr, mr, kst, mst), i + 1
    if violation:
        n = len(seq.ops)
        return Mismatch(
            seq, n - 1, [f"model violation: {violation}"], None, None, {}, {}, violation
        ), n
    return None, len(seq.ops)


# --- random sequences --------------------------------------------------------------------------


def random_sequence(
    rng: random.Random,
    length: int,
    pageout: bool,
    nregions: int = 3,
    pages: int = 4,
    known_gaps: bool = False,
) -> Sequence:
    """Regions 0..n-2 uffd-registered (move destinations), the last one not (stores and
    loads fault normally there); about half the pages filled by setup stores.

    Unless ``known_gaps``, the unregistered region always gets a setup store, so every
    region has an anon_vma before any op: the model copies the zero-page PTEs of a VMA
    without anon_vma at fork, the kernel does not (``vma_needs_copy``; fuzzlock/oracle/README.md,
    known gap G1), and that difference would otherwise be found again and again."""
    uffd = [i < nregions - 1 for i in range(nregions)]
    starts = [region_start(i) for i in range(nregions)]
    init = [
        (s + j, rng.randrange(1, 256)) for s in starts for j in range(pages) if rng.random() < 0.5
    ]
    last = starts[-1]
    if not known_gaps and not any(last <= a < last + pages for a, _ in init):
        init.append((last + rng.randrange(pages), rng.randrange(1, 256)))
    ops: list[Op] = []
    live: list[int] = []  # live children
    next_child = 1

    def page() -> int:
        return rng.choice(starts) + rng.randrange(pages)

    def mm() -> int:
        return rng.choice(live) if live and rng.random() < 0.3 else 0

    kinds = ["move"] * 34 + ["write"] * 18 + ["read"] * 10 + ["fork"] * 5 + ["exit"] * 4
    kinds += ["madvise_dontneed"] * 8 + ["madvise_cold"] * 5
    if pageout:
        kinds += ["madvise_pageout"] * 10
    for _ in range(length):
        k = rng.choice(kinds)
        if k == "move":
            n = 1 if rng.random() < 0.6 else rng.randrange(2, pages + 1)
            d = rng.choice([s for s, u in zip(starts, uffd) if u]) + rng.randrange(pages - n + 1)
            src = rng.choice(starts) + rng.randrange(pages - n + 1)
            mode = ["ALLOW_SRC_HOLES"] if rng.random() < 0.4 else []
            ops.append({"op": "move", "mm": 0, "dst": d, "src": src, "len": n, "mode": mode})
        elif k == "write":
            ops.append(
                {
                    "op": "write",
                    "mm": mm(),
                    "addr": page(),
                    "value": rng.randrange(1, 256),
                    "folio": "",
                }
            )
        elif k == "read":
            ops.append({"op": "read", "mm": mm(), "addr": page(), "folio": ""})
        elif k == "fork":
            if len(live) >= 2:
                continue
            ops.append({"op": "fork", "mm": 0, "child": next_child})
            live.append(next_child)
            next_child += 1
        elif k == "exit":
            if not live:
                continue
            c = rng.choice(live)
            live.remove(c)
            ops.append({"op": "exit", "mm": c})
        else:
            s = rng.choice(starts)
            n = rng.randrange(1, pages + 1)
            a = s + rng.randrange(pages - n + 1)
            ops.append({"op": k, "mm": mm(), "addr": a, "pages": n})
    return Sequence(pages, uffd, init, ops)


# --- minimization ------------------------------------------------------------------------------


def minimize(m: Mismatch, still_fails: Callable[[Sequence], Mismatch | None]) -> Mismatch:
    """Greedy: drop ops after the failing step, then single ops and setup stores, keeping
    each removal that still mismatches (children's ops go with their fork)."""
    best = m
    seq = attrs.evolve(m.seq, ops=list(m.seq.ops[: m.step + 1]), init=list(m.seq.init))
    r = still_fails(seq)
    if r is None:
        return best
    best = r
    changed = True
    while changed:
        changed = False
        for i in range(len(best.seq.ops) - 1, -1, -1):
            ops = best.seq.ops
            o = ops[i]
            drop = {i}
            if o["op"] == "fork":  # everything the child does goes too
                drop |= {j for j, p in enumerate(ops) if p.get("mm") == o["child"]}
            cand = attrs.evolve(best.seq, ops=[p for j, p in enumerate(ops) if j not in drop])
            if not cand.ops:
                continue
            r = still_fails(cand)
            if r is not None:
                best = attrs.evolve(r, seq=attrs.evolve(r.seq, ops=r.seq.ops[: r.step + 1]))
                changed = True
                break
        if changed:
            continue
        for i in range(len(best.seq.init) - 1, -1, -1):
            cand = attrs.evolve(best.seq, init=[x for j, x in enumerate(best.seq.init) if j != i])
            r = still_fails(cand)
            if r is not None:
                best = attrs.evolve(r, seq=attrs.evolve(r.seq, ops=r.seq.ops[: r.step + 1]))
                changed = True
                break
    return best
