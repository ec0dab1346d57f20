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

KnobValue = str | bool | int


@attrs.frozen
class Knob:
    name: str
    values: tuple[KnobValue, ...]
    v6_18: KnobValue
    v6_19: KnobValue
    doc: str


KNOBS: tuple[Knob, ...] = (
    Knob(
        "walk.referenced_active_lock",
        ("none", "trylock", "lock"),
        "none",
        "trylock",
        "folio lock taken by folio_referenced(is_locked=0) from shrink_active_list (R1-R3)",
    ),
    Knob(
        "walk.page_idle_lock",
        ("none", "trylock"),
        "none",
        "trylock",
        "folio lock taken by page_idle_clear_pte_refs",
    ),
    Knob(
        "walk.damon_lock",
        ("none", "trylock"),
        "none",
        "trylock",
        "folio lock taken by damon_folio_mkold / damon_folio_young",
    ),
    Knob(
        "walk.memory_failure_lock",
        ("none", "lock"),
        "none",
        "lock",
        "folio lock taken by kill_procs_now before collect_procs_anon",
    ),
    Knob(
        "walk.recheck_mapping",
        (True, False),
        True,
        False,
        "folio_lock_anon_vma_read rechecks folio->mapping after locking the root (R1)",
    ),
    Knob(
        "walk.check_mapped_after_lock",
        (True, False),
        True,
        True,
        "folio_lock_anon_vma_read checks folio_mapped() after locking the root (R4)",
    ),
    Knob(
        "walk.trylock_fail_result",
        (1, 0),
        1,
        1,
        "what folio_referenced returns when its folio trylock fails",
    ),
    Knob(
        "reclaim.unmap_lock",
        ("trylock", "none"),
        "trylock",
        "trylock",
        "shrink_folio_list try-locks the folio before try_to_unmap",
    ),
    Knob(
        "move.anon_vma_lock",
        (True, False),
        True,
        False,
        "UFFDIO_MOVE takes the src root anon_vma write lock (R2; patch 2 removes it)",
    ),
    Knob(
        "move.lock_order",
        ("folio-first", "anon-vma-first"),
        "folio-first",
        "folio-first",
        "order of the folio lock and the anon_vma write lock in move_pages_ptes (I14)",
    ),
    Knob(
        "move.check_exclusive",
        (True, False),
        True,
        True,
        "move refuses a folio that is not PageAnonExclusive with -EBUSY (R12, fork)",
    ),
    Knob(
        "move.recheck_dst_under_ptl",
        (True, False),
        True,
        True,
        "is_pte_pages_stable rechecks the dst PTE under double_pt_lock (R8)",
    ),
    Knob(
        "move.recheck_src_after_sleep",
        (True, False),
        True,
        True,
        "after sleeping on the folio lock, the src PTE must still be src_folio_pte (R9)",
    ),
    Knob(
        "move.pin_check_before_rmap_update",
        (True, False),
        True,
        True,
        "the pin check after clearing the src PTE, rolled back before mapping/index (R10)",
    ),
    Knob(
        "move.swap_moves_rmap",
        (True, False),
        True,
        True,
        "move_swap_pte moves the swap-cache folio's rmap with the swap PTE (I12)",
    ),
    Knob(
        "move.unmap_before_sleep",
        (True, False),
        True,
        True,
        "pte_unmap before sleeping in folio_lock / anon_vma_lock_write (I14)",
    ),
    Knob(
        "move.batch_same_anon_vma_check",
        (True, False),
        True,
        False,
        "batched move requires folio_anon_vma(next) == src_anon_vma (v6.18 only)",
    ),
    Knob(
        "move.reset_err_on_retry",
        (False, True),
        False,
        False,
        "move_pages clears err when a retried move_pages_ptes succeeds (the later upstream fix; "
        "v6.18/v6.19 keep a sticky -EAGAIN: docs/kernel-notes/move.md)",
    ),
    Knob(
        "fork.clear_exclusive",
        (True, False),
        True,
        True,
        "copy_present_pte clears PageAnonExclusive on the shared page (I5, R12)",
    ),
    Knob(
        "fork.link_before_copy",
        (True, False),
        True,
        True,
        "anon_vma_fork links the child VMA before copy_page_range (R7)",
    ),
    Knob(
        "cow.reuse_lock",
        ("trylock", "none"),
        "trylock",
        "trylock",
        "wp_can_reuse_anon_folio try-locks the folio before reuse and the rmap move (R11)",
    ),
    Knob(
        "unmap.zap_before_unlink",
        (True, False),
        True,
        True,
        "munmap/exit zap the PTEs before unlink_anon_vmas (I6)",
    ),
    Knob(
        "anon_vma.free_handshake",
        (True, False),
        True,
        True,
        "anon_vma_free takes and drops the root write lock if it is locked (R5)",
    ),
)

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
