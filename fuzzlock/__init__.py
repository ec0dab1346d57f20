"""fuzzlock: a property-based concurrency fuzzer for the Linux anon rmap locking protocol.

Hypothesis generates scenarios (UFFDIO_MOVE, rmap walks, fork, CoW, reclaim, unmap, madvise)
and interleavings; a deterministic scheduler runs them over a Python reference model
(``fuzzlock.model``) and over a C port of it (``fuzzlock.native``), checking rmap invariants at
every step. See README.md and docs/design.md.

This module stays import-light: it imports neither Hypothesis, the model nor the native
library, and reads ``__version__`` from the installed metadata only on first access
(``importlib.metadata`` alone costs ~50 ms to import).
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__", "knobs", "protocols"]

_version: str | None = None


def protocols() -> list[str]:
    """The named protocols (``v6.18``, ``v6.19``, ``patch2-only``, ``patch1-only``)."""
    from fuzzlock import protocol

    return protocol.protocols()


def knobs() -> tuple[Any, ...]:
    """Every knob: name, values, the v6.18 and v6.19 settings, and what it changes."""
    from fuzzlock import protocol

    return protocol.knobs()


def __getattr__(name: str) -> str:
    global _version
    if name != "__version__":
        raise AttributeError(f"module 'fuzzlock' has no attribute {name!r}")
    if _version is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            _version = version("fuzzlock")
        except PackageNotFoundError:  # a source tree that was never installed
            _version = "0.0.0"
    return _version
