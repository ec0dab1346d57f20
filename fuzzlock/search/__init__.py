"""Search strategies behind one interface (``Strategy``), one module each, by name.

``hypothesis`` (fuzzlock.search.hypothesis), ``random`` (.random), ``pct`` (.pct) and
``exhaustive`` (.exhaustive) each own their state and constants; ``random`` and ``pct``
share the seeded scenario loop of .seeded.  ``fuzzlock hunt`` (fuzzlock.campaign) runs
any of them on any backend (fuzzlock.backends) in one loop.  Like Hypothesis's provider
registry, a name maps to a class path imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from fuzzlock.search.base import Strategy

__all__ = ["Strategy", "get", "names", "register"]

_REGISTRY: dict[str, str] = {
    "hypothesis": "fuzzlock.search.hypothesis:HypothesisStrategy",
    "random": "fuzzlock.search.random:RandomStrategy",
    "pct": "fuzzlock.search.pct:PCTStrategy",
    "exhaustive": "fuzzlock.search.exhaustive:ExhaustiveStrategy",
}


def register(name: str, path: str) -> None:
    """Make strategy ``name`` the class at ``path`` ("module:Class")."""
    _REGISTRY[name] = path


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def get(name: str, **options: Any) -> Strategy:
    """A new strategy ``name`` (its state is per search), with its ``options``."""
    path = _REGISTRY.get(name)
    if path is None:
        raise ValueError(f"strategy {name!r}: expected one of {', '.join(names())}")
    module, cls = path.split(":")
    strategy: Strategy = getattr(importlib.import_module(module), cls)(**options)
    return strategy
