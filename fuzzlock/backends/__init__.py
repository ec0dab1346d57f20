"""Backends: the models a schedule runs on, behind one interface, chosen in one place.

A backend runs one scenario under one protocol: one schedule (``run``: a decision list or
a chooser called back at each decision point), a batch of seeded schedules of one scenario
(``batches``: the ``random``/``pct`` rules, drawn by the backend itself), a corpus entry
(``replay``), and the footprint runs the exhaustive strategy explores (``footprints``).
``python`` is the reference model (fuzzlock.model); ``native`` is its C port.  Everything
else asks this registry; only ``fuzzlock/backends/native.py`` imports the C binding.

The registry follows Hypothesis's provider registry (``AVAILABLE_PROVIDERS``: a name maps
to a class path, imported on first use, so naming a backend costs nothing until it runs)
and shuttle's ``Scheduler`` trait (the search asks the backend for runs; it never looks at
which backend it has).  A third backend registers a class path here (``register``) and
passes the conformance suite: ``pytest tests/conformance --fuzzlock-backend NAME``
(docs/design.md#backends).

Errors: a setup that breaks the protocol by itself raises ``fuzzlock.model.SetupError``
on every backend; a scenario a backend cannot run (beyond its capacities) raises
``Unsupported``; a backend that is not built raises ``Unavailable`` from ``get(...,
require=True)``.  Each message is one line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

import attrs

if TYPE_CHECKING:
    from fuzzlock.corpus import Entry
    from fuzzlock.corpus.replaying import BackendRun
    from fuzzlock.protocol import Protocol as KernelProtocol
    from fuzzlock.scenario import Scenario
    from fuzzlock.trace import Event

__all__ = [
    "REFERENCE",
    "Backend",
    "Batch",
    "BatchSpec",
    "Batcher",
    "Run",
    "Unavailable",
    "Unsupported",
    "available_names",
    "default_name",
    "get",
    "names",
    "register",
]

#: The reference backend: every other backend's runs are judged against it.
REFERENCE = "python"


class Unsupported(ValueError):
    """The backend cannot run this scenario (an op or a size beyond its capacities)."""


class Unavailable(ValueError):
    """The backend is not built here (its message says why and what to use instead)."""


@attrs.frozen
class Run:
    """One schedule's run on a backend.

    ``violation`` is ``(id, step, thread, fn, message)`` or None; ``results`` is what each
    thread's operations returned (as ``model.ModelRun.results``); ``payload`` is the
    backend's own result object (a ``model.ModelRun`` on python)."""

    outcome: str
    events: list[Event]
    decisions: list[int]
    preempted: list[int]
    violation: tuple[str, int, int, str, str] | None
    results: list[list[str]]
    steps: int
    payload: Any = attrs.field(default=None, eq=False, repr=False)
    #: the violation's objects (``Violation.objects``), None if the backend did not
    #: record them for this violation
    objects: tuple[str, ...] | None = None

    @property
    def violated(self) -> bool:
        return self.violation is not None

    @property
    def digest(self) -> str:
        from fuzzlock import trace

        return trace.digest(self.events)

    def trimmed_decisions(self) -> list[int]:
        """The decisions without trailing zeros (``RunResult.trimmed_decisions``)."""
        d = list(self.decisions)
        while d and d[-1] == 0:
            d.pop()
        return d


@attrs.frozen
class BatchSpec:
    """Up to ``runs`` seeded schedules of one scenario, drawn by the backend.

    ``kind`` is ``random`` (each decision "stay" with probability ``1 - preempt``, one
    ``preempt`` of ``preempts`` per schedule), ``pct`` (``PCTChooser`` with a depth of
    ``depths`` and ``pct_k``) or ``pct-bounded`` (preemption-bounded random schedules of
    PCT's depth, for a C library without the PCT port).  The batch stops after the first
    violation, and (after one run) at ``deadline`` (``time.monotonic()``; 0 = none) or
    when ``stop`` returns true."""

    kind: str
    seed: int
    runs: int
    preempts: Sequence[float] = (1.0,)
    depths: Sequence[int] = (2,)
    pct_k: int = 1
    deadline: float = 0.0
    stop: Callable[[], bool] | None = attrs.field(default=None, eq=False)


@attrs.frozen
class Batch:
    """What one batch did: ``runs`` schedules with ``steps`` trace events in all, each
    run's ``trace.hash64`` and number of decisions, the violating run (the last one) if
    any, and ``error`` if the backend stopped short of ``runs`` (its runs before count)."""

    runs: int
    steps: int
    hashes: list[int]
    ndecisions: list[int]
    violation: Run | None = None
    error: str | None = None


class Batcher(Protocol):
    """Runs batches of several scenarios in turn (a backend may keep its buffers)."""

    def run(self, sc: Scenario, proto: KernelProtocol, spec: BatchSpec) -> Batch: ...


class Backend(Protocol):
    """What every backend implements (the conformance suite, tests/conformance, checks it)."""

    name: str
    #: True if a batch runs many schedules for about the cost of one (the seeded
    #: strategies then run a batch per scenario instead of one schedule)
    batched: bool

    def available(self) -> bool: ...

    def unavailable_reason(self) -> str:
        """One line: why the backend cannot run here ('' if it can)."""
        ...

    def describe(self) -> list[str]:
        """``fuzzlock native-info``'s lines for this backend."""
        ...

    def check(self, sc: Scenario, proto: KernelProtocol) -> None:
        """Raise ``Unsupported`` (one line) if this backend cannot run ``sc``."""
        ...

    def run(
        self,
        sc: Scenario,
        proto: KernelProtocol,
        decisions: Sequence[int] = (),
        *,
        chooser: Any = None,
        max_steps: int | None = None,
    ) -> Run: ...

    def batches(self) -> AbstractContextManager[Batcher]: ...

    def replay(self, entry: Entry) -> BackendRun:
        """Re-run a corpus entry; outcome ``replaying.NOT_APPLICABLE`` if it cannot."""
        ...

    def footprints(self, sc: Scenario, proto: KernelProtocol) -> AbstractContextManager[Any]:
        """``(runner, state)`` for the exhaustive explorer: ``runner(decisions)`` is an
        ``explore.Execution`` with each step's footprint; ``state(execution)``, called
        right after the run that returned ``execution``, is a comparable, hashable dump of
        the state that run left (equal for two runs that differ only in the order of
        independent steps; comparable between runs of one backend only)."""
        ...


#: name -> "module:Class" (imported on first use, like Hypothesis's AVAILABLE_PROVIDERS)
_REGISTRY: dict[str, str | Backend] = {
    "python": "fuzzlock.backends.python:PythonBackend",
    "native": "fuzzlock.backends.native:NativeBackend",
}
_INSTANCES: dict[str, Backend] = {}


def register(name: str, backend: str | Backend) -> None:
    """Make backend ``name`` the class at ``backend`` ("module:Class", instantiated on
    first use) or ``backend`` itself, replacing any other of that name."""
    _REGISTRY[name] = backend
    _INSTANCES.pop(name, None)


def names() -> tuple[str, ...]:
    """Every registered backend, the reference first."""
    return tuple(sorted(_REGISTRY, key=lambda n: (n != REFERENCE, n)))


def get(name: str, require: bool = False) -> Backend:
    """The backend ``name`` (ValueError, one line, for an unknown name); with ``require``,
    ``Unavailable`` if it cannot run here."""
    b = _INSTANCES.get(name)
    if b is None:
        entry = _REGISTRY.get(name)
        if entry is None:
            raise ValueError(f"backend {name!r}: expected one of {', '.join(names())}")
        if isinstance(entry, str):
            module, cls = entry.split(":")
            entry = getattr(importlib.import_module(module), cls)()
        b = _INSTANCES[name] = entry
    if require and not b.available():
        raise Unavailable(
            f"--backend {name}: the {_what(name)} is not available: "
            f"{b.unavailable_reason()}; use --backend {REFERENCE}"
        )
    return b


def _what(name: str) -> str:
    return "C model" if name == "native" else f"{name} backend"


def available_names() -> tuple[str, ...]:
    return tuple(n for n in names() if get(n).available())


def default_name() -> str:
    """The backend used when none is named: native where the C model is built, else
    python (docs/design.md#backends).  The one place this choice is made."""
    return "native" if get("native").available() else REFERENCE


def resolve(name: str | None) -> Backend:
    """The named backend (``Unavailable`` if it cannot run here), or the default."""
    return get(name if name is not None else default_name(), require=True)


def iter_backends() -> Iterator[Backend]:
    """Every registered backend that runs here, the reference first."""
    for n in available_names():
        yield get(n)
