"""The footprint cells of the model's state (``fuzzlock.sched.footprint.register_cells``):
for each state class of ``world``, the fields not recorded and the object's stable name.
Registered when ``fuzzlock.model`` is imported, so the scheduler names no kernel object.

A name is built from the object's identity fields, never from ``id()``: a creation index
that the allocating step writes (folio ids, VMA ids, anon_vma slot and generation,
page-table index in its mm) or a name the scenario gives (mm ids).

What is left out, and why it cannot change what a thread does next:

* immutable fields (an object's id, name, its lock object, a VMA's mm);
* ghost and per-thread bookkeeping that only the invariant checks read: ``walks``
  (walk.complete records), ``folio_refs``, ``anon_vma_pins``, ``notifier_depth``,
  ``pte_moves`` and ``pins`` (each thread reads and writes only its own key),
  ``next_mid`` (ghost mapping ids).  Not ``World.ghost`` (user.data's sequential
  values): a user load compares what it reads with it and raises ``user.data``, and
  fork copies it in a step of its own, so it feeds back into the outcome (as the C
  footprints record it too, docs/footprints.md).
"""

from __future__ import annotations

from fuzzlock.model import world as W
from fuzzlock.sched.footprint import Tracked, register_cells

_get = object.__getattribute__

#: per state class: (the fields not recorded, the object's stable name)
CELLS: Tracked = {
    W.Folio: (
        frozenset({"id", "lock", "name", "trace_repr"}),
        lambda o: ("folio", _get(o, "id")),
    ),
    W.AnonVma: (
        frozenset({"slot", "gen", "lock", "name", "trace_repr"}),
        lambda o: ("anon_vma", _get(o, "slot"), _get(o, "gen")),
    ),
    # set once, at creation: nothing is recorded (the name is for a field added later)
    W.AVC: (
        frozenset({"vma", "anon_vma"}),
        lambda o: (
            "avc",
            _get(_get(o, "vma"), "id"),
            _get(_get(o, "anon_vma"), "slot"),
            _get(_get(o, "anon_vma"), "gen"),
        ),
    ),
    W.VMA: (frozenset({"id", "mm", "name", "lock"}), lambda o: ("vma", _get(o, "id"))),
    W.MM: (
        frozenset({"id", "mmap_lock", "page_table_lock", "uffd"}),
        lambda o: ("mm", _get(o, "id")),
    ),
    W.UffdCtx: (
        frozenset({"map_changing_lock", "mm_id"}),
        lambda o: ("uffd", _get(o, "mm_id")),
    ),
    # a table's lock is named after its mm and its index there
    W.PageTable: (
        frozenset({"index", "ptl"}),
        lambda o: ("table", _get(_get(o, "ptl"), "name")),
    ),
    W.SwapDevice: (frozenset(), lambda o: ("swap",)),
    # constants, the scheduler, and the ghost / per-thread bookkeeping of the module
    # docstring; each thread only touches its own key of the per-thread dicts
    W.World: (
        frozenset(
            {
                "sched",
                "proto",
                "knob",
                "anon_vmas",
                "walks",
                "folio_refs",
                "anon_vma_pins",
                "notifier_depth",
                "pte_moves",
                "pins",
                "next_mid",
                "tid",
            }
        ),
        lambda o: ("world",),
    ),
}

register_cells(CELLS)
