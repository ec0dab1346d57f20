"""What a search hands back: a failure minimized into a corpus entry plus its report."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs

from fuzzlock import model
from fuzzlock.protocol import Protocol
from fuzzlock.search.base import Found

#: the replay line of a report whose entry was not saved (``hunt(replay=...)`` overrides)
NOT_SAVED = "not saved (fuzzlock hunt --save DIR, or corpus.store.write_entry, writes the entry)"


@attrs.define
class Finished:
    """A minimized failure: its corpus entry, its run and its text report."""

    entry: Any  # corpus.Entry
    result: Any  # sched.RunResult of the entry's decisions
    report: str
    complete: bool  # False if ``stop`` cut the minimization short


def finish(
    found: Found,
    proto: Protocol,
    strategy: str,
    do_minimize: bool,
    stop: Callable[[], bool] | None = None,
    progress: Callable[[str], None] | None = None,
    replay: str | None = None,
) -> Finished:
    """Minimize a failure (until ``stop`` asks to end it) and turn it into a corpus entry
    plus its report (``replay`` as its replay line)."""
    from fuzzlock import corpus, report
    from fuzzlock.minimize import minimize

    sc, dec, minimized, complete = found.scenario, found.decisions, False, True
    if do_minimize:
        last = [0.0]

        def on_run(runs: int) -> None:
            now = time.monotonic()
            if progress is not None and now - last[0] >= 0.5:
                last[0] = now
                progress(f"minimizing the {found.outcome} violation: {runs} runs")

        if progress is not None:
            progress(f"minimizing the {found.outcome} violation")
        m = minimize(sc, proto, dec, found.outcome, stop=stop, on_run=on_run)
        sc, dec, minimized, complete = m.scenario, m.decisions, m.complete, m.complete
    r = model.run(sc, proto, decisions=dec)
    note = f"{found.outcome} found by {strategy}"
    if not complete:
        note += " (minimization cut short)"
    entry = corpus.entry_from_run(
        sc, proto, r, strategy=strategy, seed=found.seed, minimized=minimized, note=note
    )
    text = report.render_text(r.result, protocol=proto.name, replay=replay or NOT_SAVED)
    return Finished(entry, r.result, text, complete)


def recognise(res: Any) -> None:
    """If the violation's entry is a recorded kernel finding (``fuzzlock.findings``, matched
    on its trace, not on the invariant id), say which in ``res.notes`` (name, docs page,
    the knob that searches past it) and keep the match in ``res.finding``."""
    from fuzzlock import findings

    if res.entry is None:
        return
    m = findings.match_entry(res.entry)
    if m is not None:
        res.finding = m
        res.notes.append(m.note())
