"""Protocols: the named kernel protocol generations and their knobs (docs/design.md#knobs).

A ``Protocol`` is a name plus a full knob map.  Every lock or check that docs/protocol.md#races
justifies is a knob, so a user can ask "what if this step were different?" and get a
concrete counterexample (or a clean bounded search) instead of an argument.

    >>> import fuzzlock.protocol as p
    >>> p.get("v6.19").knobs["move.anon_vma_lock"]
    False
    >>> p.get("v6.19", {"walk.referenced_active_lock": "none"}).name
    'v6.19+walk.referenced_active_lock=none'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from fuzzlock.schema import KNOBS, Knob, KnobValue

# The knob table lives in fuzzlock/schema.py, with its C encoding (docs/design.md#the-boundary-schema).
KNOB_BY_NAME: dict[str, Knob] = {k.name: k for k in KNOBS}

_V6_18 = {k.name: k.v6_18 for k in KNOBS}
_V6_19 = {k.name: k.v6_19 for k in KNOBS}

# patch 2 alone: the move drops the anon_vma lock (and the batch's anon_vma check),
# walkers stay as in v6.18 (no folio lock for anon folio_referenced, page_idle, DAMON).
_PATCH2_ONLY = {**_V6_18, "move.anon_vma_lock": False, "move.batch_same_anon_vma_check": False}
# patch 1 alone: every walker takes the folio lock, move keeps its anon_vma lock.
_PATCH1_ONLY = {
    **_V6_18,
    "walk.referenced_active_lock": "trylock",
    "walk.page_idle_lock": "trylock",
    "walk.damon_lock": "trylock",
    "walk.memory_failure_lock": "lock",
    "walk.recheck_mapping": False,
}

NAMED: dict[str, dict[str, KnobValue]] = {
    "v6.18": _V6_18,
    "v6.19": _V6_19,
    "patch2-only": _PATCH2_ONLY,
    "patch1-only": _PATCH1_ONLY,
}

DESCRIPTIONS = {
    "v6.18": "pre-series: move takes the folio lock and the root anon_vma write lock; "
    "anon walkers take no folio lock and recheck folio->mapping",
    "v6.19": "the series applied: every anon rmap walk holds the folio lock; "
    "move takes only the folio lock",
    "patch2-only": "v6.18 with only patch 2: move drops the anon_vma lock, walkers unchanged",
    "patch1-only": "v6.18 with only patch 1: walkers take the folio lock, move keeps its lock",
}


class ProtocolError(ValueError):
    """A bad protocol name, knob name or knob value (one line, names what is wrong)."""


@attrs.frozen
class Protocol:
    """A base protocol plus knob overrides; ``knobs`` is the full map."""

    base: str
    overrides: tuple[tuple[str, KnobValue], ...]
    knobs: Mapping[str, KnobValue] = attrs.field(eq=False, hash=False)

    @property
    def name(self) -> str:
        if not self.overrides:
            return self.base
        return self.base + "".join(f"+{k}={_fmt(v)}" for k, v in self.overrides)

    def __getitem__(self, knob: str) -> KnobValue:
        return self.knobs[knob]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.base, "knobs": dict(self.knobs)}


def _fmt(v: KnobValue) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def parse_value(knob: str, raw: KnobValue) -> KnobValue:
    """Parse ``raw`` (a JSON value or command-line text) for ``knob``, or ProtocolError."""
    k = KNOB_BY_NAME.get(knob)
    if k is None:
        raise ProtocolError(f"unknown knob {knob!r} (see `fuzzlock protocols`)")
    for v in k.values:
        if raw == v and type(raw) is type(v):
            return v
        if isinstance(raw, str) and raw.strip().lower() == _fmt(v):
            return v
    allowed = ", ".join(_fmt(v) for v in k.values)
    raise ProtocolError(f"knob {knob}: value {raw!r} is not one of {allowed}")


def get(name: str = "v6.19", overrides: Mapping[str, KnobValue] | None = None) -> Protocol:
    """The named protocol with knob overrides applied (values parsed and checked)."""
    base = NAMED.get(name)
    if base is None:
        raise ProtocolError(f"unknown protocol {name!r}; known: {', '.join(NAMED)}")
    knobs = dict(base)
    ov: list[tuple[str, KnobValue]] = []
    for k, raw in (overrides or {}).items():
        v = parse_value(k, raw)
        knobs[k] = v
        if base[k] != v:
            ov.append((k, v))
    return Protocol(name, tuple(sorted(ov)), knobs)


def from_json(obj: Any) -> Protocol:
    """A protocol from a corpus entry's ``protocol`` field: ``{"name", "knobs"}``."""
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise ProtocolError("protocol: expected an object with a string 'name'")
    knobs = obj.get("knobs", {})
    if not isinstance(knobs, dict):
        raise ProtocolError("protocol.knobs: expected an object")
    return get(obj["name"], knobs)


def parse_knob_arg(arg: str) -> tuple[str, KnobValue]:
    """``K=V`` from the command line."""
    if "=" not in arg:
        raise ProtocolError(f"--knob {arg!r}: expected KNOB=VALUE")
    k, v = arg.split("=", 1)
    return k.strip(), parse_value(k.strip(), v)


def parse(name: str, knob_args: Iterable[str] = ()) -> Protocol:
    """A protocol from its name in the form ``Protocol.name`` prints (``v6.19`` or
    ``v6.19+KNOB=VALUE+...``), then ``knob_args`` (``KNOB=VALUE`` each, from ``--knob``)
    applied over it: the one parser of the command line and the pytest plugin.

        >>> parse("v6.19+move.reset_err_on_retry=true", ["walk.page_idle_lock=none"]).name
        'v6.19+move.reset_err_on_retry=true+walk.page_idle_lock=none'
    """
    base, *parts = name.split("+")
    knobs: dict[str, KnobValue] = {}
    for part in parts:
        if "=" not in part:
            raise ProtocolError(f"protocol {name!r}: {part!r} is not KNOB=VALUE")
        k, raw = part.split("=", 1)
        knobs[k.strip()] = parse_value(k.strip(), raw)
    for arg in knob_args:
        k, v = parse_knob_arg(arg)
        knobs[k] = v
    return get(base.strip(), knobs)


def protocols() -> list[str]:
    return list(NAMED)


def knobs() -> tuple[Knob, ...]:
    return KNOBS
