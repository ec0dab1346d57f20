"""What every search strategy shares: the search context and its counters, what a search
finds, and the differential check of a run on another backend against the reference."""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Generator, Iterable
from typing import Any, ClassVar

import attrs

from fuzzlock import backends
from fuzzlock.protocol import Protocol
from fuzzlock.scenario import Scenario

#: The invariant id of a run the backends disagree on.
DIFFERENTIAL = "differential"


@attrs.define
class Found:
    scenario: Scenario
    decisions: list[int]
    outcome: str
    seed: int | None
    on: str = "python"  # the backend whose run found it ("native" = the C model)
    #: one line: why the backends disagree (outcome ``DIFFERENTIAL`` only)
    message: str | None = None


class Stats:
    """The search's counters, its budget and its progress line."""

    def __init__(
        self,
        budget: int,
        max_seconds: float,
        progress: Callable[[str], None] | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        self.budget = budget
        self.max_seconds = max_seconds
        self.stop = stop
        self.schedules = 0
        self.steps = 0
        self.fallback = 0  # schedules that ran on the reference instead of the backend
        self.digests: set[str | int] = set()  # trace.digest, or trace.hash64 (batches)
        self.violations = 0
        self.start = time.monotonic()
        self.start_cpu = time.process_time()
        self.progress = progress
        self.last = self.start
        self.first_violation: tuple[int, float] | None = None

    def add(self, steps: int, digest: str | int, violation: bool) -> None:
        self.add_batch(1, steps, (digest,), violation)

    def add_batch(
        self, runs: int, steps: int, digests: Iterable[str | int], violation: bool
    ) -> None:
        """``runs`` schedules with ``steps`` steps in all (a violation: the last one)."""
        self.schedules += runs
        self.steps += steps
        self.digests.update(digests)
        now = time.monotonic()
        if violation:
            self.violations += 1
            if self.first_violation is None:
                self.first_violation = (self.schedules, now - self.start)
        if self.progress is not None and now - self.last >= 0.5:
            self.last = now
            el = now - self.start
            self.progress(
                f"{el:.0f} s  schedules {self.schedules}  {self.schedules / el:,.0f}/s  "
                f"distinct traces {len(self.digests)}  violations {self.violations}"
            )

    @property
    def stopped(self) -> bool:
        """True once ``stop`` asks the search to end (every loop checks it with its budget)."""
        return self.stop is not None and self.stop()

    def spent(self) -> bool:
        """The budget is spent, or a stop was asked for."""
        return self.schedules >= self.budget or self.seconds >= self.max_seconds or self.stopped

    @property
    def deadline(self) -> float:
        return self.start + self.max_seconds

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.start

    @property
    def cpu_seconds(self) -> float:
        return time.process_time() - self.start_cpu


@attrs.define
class Context:
    """What a strategy searches with: the protocol, the backend (and the reference, for
    fallbacks and differential checks), the seed, and the counters with the budget."""

    proto: Protocol
    backend: backends.Backend
    seed: int
    stats: Stats
    notes: list[str] = attrs.field(factory=list)

    @property
    def reference(self) -> backends.Backend:
        return backends.get(backends.REFERENCE)


class Strategy(abc.ABC):
    """A search strategy (shuttle's ``Scheduler``, one level up): ``rounds`` yields after
    each scenario it tried, with what it found (None: nothing yet); ``fuzzlock hunt``'s
    loop (campaign.hunt) stops it when the budget is spent or something is found."""

    name: ClassVar[str]

    @abc.abstractmethod
    def rounds(self, ctx: Context) -> Generator[Found | None, None, None]: ...

    def finish(self, ctx: Context) -> None:
        """Called once the search ends: add its notes to ``ctx.notes``."""
        return None

    def to_json(self) -> dict[str, Any]:
        """Extra fields for ``HuntResult.to_json``."""
        return {}


class Interrupted(KeyboardInterrupt):
    """Raised inside a search (Hypothesis's test function, an exploration's callback) when
    ``stop`` asks to end it: a KeyboardInterrupt, which Hypothesis lets through at once
    (any other exception it would shrink, or replay as a failure, or call flaky)."""


def first_difference(a: list[Any], b: list[Any]) -> str:
    """One line naming the first event where traces ``a`` (Python) and ``b`` (C) differ."""
    from fuzzlock import trace

    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return (
                f"event {i}: python {trace.canonical([x]).strip()!r}, "
                f"C {trace.canonical([y]).strip()!r}"
            )
    if len(a) != len(b):
        return f"event {min(len(a), len(b))}: python has {len(a)} events, C {len(b)}"
    return "the traces are equal"


def confirm_on_reference(
    sc: Scenario, proto: Protocol, decisions: list[int], outcome: str, events: list[Any]
) -> str | None:
    """Replay a backend run's decisions on the reference model; None if the outcome is
    the same, else a one-line ``differential`` message with the first differing event."""
    from fuzzlock import model

    try:
        r = backends.get(backends.REFERENCE).run(sc, proto, decisions)
    except model.SetupError as e:
        return f"differential: C ran the schedule to {outcome}, python's setup failed: {e}"
    if r.outcome == outcome:
        return None
    return (
        f"differential: C outcome {outcome}, python outcome {r.outcome}; first difference: "
        f"{first_difference(r.events, events)}"
    )


def confirmed(ctx: Context, sc: Scenario, run: backends.Run) -> Found:
    """What a violating run on ``ctx.backend`` found: the violation, or a differential if
    the reference does not reproduce it."""
    dec = run.trimmed_decisions()
    msg = confirm_on_reference(sc, ctx.proto, dec, run.outcome, run.events)
    if msg is not None:
        return Found(sc, dec, DIFFERENTIAL, ctx.seed, ctx.backend.name, msg)
    return Found(sc, dec, run.outcome, ctx.seed, ctx.backend.name)
