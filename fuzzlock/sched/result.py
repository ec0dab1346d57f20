"""What a run produces: violations and the run result."""

from __future__ import annotations

from typing import Any

import attrs

from fuzzlock import trace as _trace


@attrs.define
class Violation:
    """One broken invariant: its id (docs/design.md#invariants), where it happened and why."""

    id: str
    step: int
    thread: int
    fn: str
    message: str
    objects: tuple[str, ...] = ()
    # Extra structured detail: the wait-for cycle of a deadlock, lockdep's chain, ...
    detail: dict[str, Any] = attrs.field(factory=dict)

    def one_line(self) -> str:
        where = f"step {self.step}, T{self.thread} in {self.fn}" if self.thread >= 0 else "end"
        return f"{self.id}: {self.message} ({where})"


class ViolationError(Exception):
    """Raised by model code (or a pool access) at the point a violation happens.

    The scheduler catches it, fills in the step and thread, and ends the run."""

    def __init__(
        self,
        id: str,
        fn: str,
        message: str,
        objects: tuple[str, ...] = (),
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{id}: {message}")
        self.id = id
        self.fn = fn
        self.message = message
        self.objects = objects
        self.detail = detail or {}

    def at(self, step: int, thread: int) -> Violation:
        return Violation(self.id, step, thread, self.fn, self.message, self.objects, self.detail)


FINISHED = "finished"
STEP_BOUND = "step-bound"


@attrs.define
class RunResult:
    """The end of one schedule.

    ``outcome`` is ``finished``, ``step-bound`` or the id of the violation that ended the
    run (``deadlock``, ``sleep-in-atomic``, ``lock.order``, ``rmap.reachable`` ...)."""

    outcome: str
    violation: Violation | None
    events: list[_trace.Event]
    steps: int
    decisions: list[int]
    preempted: list[int]  # steps at which the running thread was preempted
    thread_names: list[str]

    @property
    def preemptions(self) -> int:
        return len(self.preempted)

    def trimmed_decisions(self) -> list[int]:
        """The decisions without trailing zeros (exhausted decisions mean 0)."""
        d = list(self.decisions)
        while d and d[-1] == 0:
            d.pop()
        return d

    @property
    def clean(self) -> bool:
        return self.violation is None and self.outcome == FINISHED

    @property
    def digest(self) -> str:
        return _trace.digest(self.events)
