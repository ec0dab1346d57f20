"""The ``python`` backend: the reference model (fuzzlock.model on fuzzlock.sched)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from fuzzlock.backends import Batch, BatchSpec, Run

if TYPE_CHECKING:
    from fuzzlock import model
    from fuzzlock.corpus import Entry
    from fuzzlock.corpus.replaying import BackendRun
    from fuzzlock.model.world import World
    from fuzzlock.protocol import Protocol
    from fuzzlock.scenario import Scenario


def run_of(r: model.ModelRun) -> Run:
    """A ``model.ModelRun`` as a backend ``Run`` (``payload``: the ModelRun)."""
    res = r.result
    v = res.violation
    viol = (v.id, v.step, v.thread, v.fn, v.message) if v is not None else None
    objects = tuple(v.objects) if v is not None else None
    return Run(
        res.outcome,
        res.events,
        res.decisions,
        res.preempted,
        viol,
        r.results,
        res.steps,
        r,
        objects,
    )


class _Batcher:
    def run(self, sc: Scenario, proto: Protocol, spec: BatchSpec) -> Batch:
        """The batch on the Python model with the Python choosers, counted by
        ``trace.hash64`` like the C batches."""
        from fuzzlock import model, trace
        from fuzzlock.sched import PCTChooser, RandomChooser

        rng = random.Random(spec.seed)
        hashes: list[int] = []
        ndec: list[int] = []
        steps = 0
        for _ in range(spec.runs):
            if (spec.deadline and time.monotonic() >= spec.deadline) or (
                spec.stop is not None and spec.stop()
            ):
                break
            s = rng.randrange(2**32)
            if spec.kind == "random":
                chooser: Any = RandomChooser(s, preempt=rng.choice(spec.preempts))
            else:
                depth = rng.choice(spec.depths)
                chooser = PCTChooser(s, len(sc.threads), depth=depth, k=spec.pct_k)
            try:
                r = model.run(sc, proto, chooser=chooser)
            except model.SetupError:
                break
            ndec.append(len(r.result.decisions))
            hashes.append(trace.hash64(r.result.events))
            steps += r.result.steps
            if r.violation is not None:
                return Batch(len(hashes), steps, hashes, ndec, run_of(r))
        return Batch(len(hashes), steps, hashes, ndec)


class PythonBackend:
    """The reference: always available."""

    name = "python"
    batched = False

    def available(self) -> bool:
        return True

    def unavailable_reason(self) -> str:
        return ""

    def describe(self) -> list[str]:
        return ["python backend: the reference model (fuzzlock.model)"]

    def check(self, sc: Scenario, proto: Protocol) -> None:
        return None

    def run(
        self,
        sc: Scenario,
        proto: Protocol,
        decisions: Sequence[int] = (),
        *,
        chooser: Any = None,
        max_steps: int | None = None,
    ) -> Run:
        from fuzzlock import model

        if chooser is not None:
            return run_of(model.run(sc, proto, chooser=chooser, max_steps=max_steps))
        return run_of(model.run(sc, proto, decisions=list(decisions), max_steps=max_steps))

    @contextmanager
    def batches(self) -> Iterator[_Batcher]:
        yield _Batcher()

    def replay(self, entry: Entry) -> BackendRun:
        from fuzzlock import model
        from fuzzlock.corpus.replaying import BackendRun

        try:
            r = model.run(entry.scenario, entry.protocol, decisions=entry.decisions)
        except model.SetupError as e:
            return BackendRun("setup-error", "", str(e))
        v = r.violation
        return BackendRun(r.outcome, r.digest, v.one_line() if v is not None else "")

    @contextmanager
    def footprints(self, sc: Scenario, proto: Protocol) -> Iterator[tuple[Any, Any]]:
        from fuzzlock.sched import footprint

        rec = footprint.Recorder()
        with footprint.tracking(rec):
            yield _footprint_runner(sc, proto, rec), _state


def _state(execution: Any) -> Any:
    """The state dump of a footprint run (``execution.payload``: its ``model.ModelRun``)."""
    return world_state(execution.payload.world)


def world_state(w: World) -> Any:
    """What a Python model run left behind, ghost mapping ids renamed in order of first
    appearance (two runs that take ids in another order are the same up to renaming)."""
    mids: dict[int, int] = {}

    def mid(m: int) -> int:
        return mids.setdefault(m, len(mids))

    mms = []
    for mm in sorted(w.mms.values(), key=lambda m: m.id):
        raw = sorted((a, p.key(), p.mid) for t in mm.tables.values() for a, p in t.ptes.items())
        ptes = [(a, k, mid(m)) for a, k, m in raw]
        vmas = tuple(
            (
                v.name,
                v.start,
                v.end,
                v.pgoff,
                v.detached,
                v.anon_vma.trace_repr() if v.anon_vma else None,
                tuple(c.anon_vma.trace_repr() for c in v.chain),
            )
            for v in mm.vmas
        )
        mms.append((mm.id, mm.alive, mm.uffd.mmap_changing, vmas, tuple(ptes)))
    folios = tuple(
        (
            f.id,
            f.refcount,
            f.mapcount,
            f.mapping.trace_repr() if f.mapping else None,
            f.index,
            f.pae,
            f.lru,
            f.isolated,
            f.swap,
            f.pincount,
            f.dirty,
            f.value,
            f.freed,
        )
        for f in w.folios
    )
    avs = tuple(
        (s.gen, s.live, s.obj.refcount if s.obj else None, len(s.obj.tree) if s.obj else None)
        for s in w.anon_vmas.slots.values()
    )
    swap = (
        sorted(w.swap.count.items()),
        sorted((e, f.id) for e, f in w.swap.cache.items()),
        sorted(w.swap.content.items()),
        w.swap.next_entry,
    )
    return (tuple(mms), folios, avs, repr(swap), tuple(sorted(w.pinned_mms)))


def _footprint_runner(sc: Scenario, proto: Protocol, rec: Any) -> Any:
    """Runs of ``sc`` under ``proto`` on the Python model, footprints recorded by ``rec``
    (call inside ``footprint.tracking(rec)``)."""
    from fuzzlock import model
    from fuzzlock.explore import Execution

    def run(decisions: Sequence[int]) -> Execution:
        r = model.run(sc, proto, decisions=list(decisions), recorder=rec)
        res = r.result
        return Execution(
            r.step_infos, list(res.decisions), res.outcome, res.violation, res.events, r
        )

    return run
