"""``fuzzlock detection``: how fast each search strategy catches each single-knob bug.

The settings (``settings()``):

* every single-knob setting off ``v6.18`` and off ``v6.19``: each knob value that differs
  from that protocol's own value (``fuzzlock protocols``), except ``move.reset_err_on_retry``;
* ``patch2-only``;
* **control** rows: ``v6.18`` and ``v6.19`` with no change: they must come out clean;
* **finding** rows: plain ``v6.18`` and ``v6.19`` without the fix knob, which violate
  ``move.result`` (the sticky -EAGAIN kernel bug, docs/findings/sticky-eagain.md).

Every row except the finding rows has ``move.reset_err_on_retry=true`` applied on top (the
later upstream fix of that kernel bug): without it every setting "is caught" by the same
finding.

For each (setting, strategy, seed) one ``campaign.hunt`` runs with the same budget
(``max_seconds`` wall seconds and ``max_schedules`` schedules per run) on the same backend,
without minimization; the tasks run in a process pool.  A run that finds a violation counts
the schedules and seconds (from the start of the hunt) up to the end of the **first**
violating schedule (``HuntResult.first_violation``; the hypothesis strategy goes on to
shrink, which is not counted).

Medians are over the seeds, a miss counting as +inf (no violation within the budget): with
5 seeds the median is finite iff at least 3 seeds caught the setting, and it is then the
3rd-fastest seed.  ``caught`` says how many seeds caught it, and ``median of caught`` is the
median over the catching seeds only (the optimistic number; the +inf median is the honest
one).

Modules: this one holds the settings and one task's run (``run_task``); ``table`` the
cells, rows and the table with its statistics; ``runner`` runs every task and builds the
table; ``command`` is the ``fuzzlock detection`` command line.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import time
from collections.abc import Sequence
from typing import Any

import attrs

from fuzzlock import campaign, protocol

FIX: dict[str, protocol.KnobValue] = {"move.reset_err_on_retry": True}
BASES = ("v6.18", "v6.19")
#: the strategy the ``hunt`` command uses when none is given (docs/design.md#cli)
DEFAULT_STRATEGY = "hypothesis"
#: the issue's done criterion: a real bug is caught within this median on native
CRITERION_SECONDS = 60.0

DEFAULT_MAX_SECONDS = 10.0
DEFAULT_MAX_SCHEDULES = 1_000_000
DEFAULT_SEEDS = 5
QUICK_MAX_SECONDS = 2.0
QUICK_MAX_SCHEDULES = 300
QUICK_SEEDS = 2


@attrs.frozen
class Setting:
    """One row: a protocol and why it is in the table."""

    label: str  # e.g. "v6.18 walk.damon_lock=trylock", "v6.19 (control)"
    base: str
    knobs: tuple[tuple[str, protocol.KnobValue], ...]  # overrides, fix included
    kind: str  # "knob", "named", "control" or "finding"

    @property
    def protocol(self) -> protocol.Protocol:
        return protocol.get(self.base, dict(self.knobs))

    @property
    def expect(self) -> str:
        """What the row should show: "clean" (control), "move.result" (finding), "?"."""
        return {"control": "clean", "finding": "move.result"}.get(self.kind, "?")

    def matches(self, pattern: str) -> bool:
        return any(
            fnmatch.fnmatchcase(s, pattern) or pattern in s
            for s in (self.label, self.protocol.name)
        )


def strategies() -> tuple[str, ...]:
    """The strategies ``campaign.hunt`` implements in this build (``exhaustive`` too once
    the campaign has it)."""
    return tuple(campaign.STRATEGIES)


def settings() -> list[Setting]:
    """Every row of the table, in table order."""
    out = [Setting(f"{b} (control)", b, tuple(FIX.items()), "control") for b in BASES]
    out += [Setting(f"{b} (sticky -EAGAIN finding)", b, (), "finding") for b in BASES]
    out.append(Setting("patch2-only", "patch2-only", tuple(FIX.items()), "named"))
    for b in BASES:
        own = protocol.get(b).knobs
        for k in protocol.knobs():
            if k.name in FIX:
                continue
            for v in k.values:
                if v != own[k.name]:
                    label = f"{b} {k.name}={protocol._fmt(v)}"
                    out.append(Setting(label, b, (*FIX.items(), (k.name, v)), "knob"))
    return out


def select(patterns: Sequence[str]) -> list[Setting]:
    """The settings matching any of ``patterns`` (glob or substring of the label or of
    the protocol name); all of them if ``patterns`` is empty."""
    every = settings()
    if not patterns:
        return every
    return [s for s in every if any(s.matches(p) for p in patterns)]


# --------------------------------------------------------------------------- running


@attrs.frozen
class Task:
    index: int  # into the settings list
    base: str
    knobs: tuple[tuple[str, protocol.KnobValue], ...]
    strategy: str
    seed: int
    backend: str
    max_seconds: float
    max_schedules: int


def run_task(t: Task) -> dict[str, Any]:
    """One hunt, no minimization; what the table needs from it.  Runs in a worker."""
    proto = protocol.get(t.base, dict(t.knobs))
    err = io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stderr(err):
        res = campaign.hunt(
            proto,
            t.backend,
            t.strategy,
            t.max_seconds,
            t.max_schedules,
            t.seed,
            minimize_found=False,
        )
    wall = time.monotonic() - t0
    first = res.first_violation
    if res.verdict == "violation" and first is None:  # a strategy that does not count
        first = (res.schedules, res.seconds)
    out: dict[str, Any] = {
        "index": t.index,
        "strategy": t.strategy,
        "seed": t.seed,
        "verdict": res.verdict,
        "invariant": res.invariant,
        "schedules": res.schedules,
        "seconds": round(res.seconds, 3),
        "wall": round(wall, 3),
        "first_schedules": first[0] if first else None,
        "first_seconds": round(first[1], 4) if first else None,
    }
    if res.native_fraction is not None:
        out["native_fraction"] = round(res.native_fraction, 3)
    if res.found is not None:
        out["found_on"] = res.found.on
    stderr = err.getvalue().strip()
    if stderr:
        out["stderr"] = stderr.splitlines()[-1]
    return out
