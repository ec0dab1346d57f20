"""What crosses the border into C: the model encoding of a scenario and a knob map
(native/model.h), decision arrays, PCT parameters and the trace text coming back.

The knob slots are ``_schema.encode_knobs`` (generated from fuzzlock/schema.py: one rule
for every knob); each op is its code, its mm and its words as ``schema.Op.slots`` says.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

from fuzzlock import schema
from fuzzlock.native import _schema
from fuzzlock.native.errors import NativeError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT_MAX = 2**31 - 1

#: Limits of the C PCT chooser.
PCT_MAX_DEPTH = schema.FL_PCT_MAX_DEPTH
PCT_MAX_K = schema.FL_PCT_MAX_K

#: Thread ops the C model implements (every op of fuzzlock.scenario but the setup-only ones).
MODEL_THREAD_OPS = frozenset(o.name for o in schema.OPS if not o.setup_only)
#: Setup ops the C model implements: every op (thread ops run alone).
MODEL_SETUP_OPS = frozenset(o.name for o in schema.OPS)

#: A trace event: (step, thread, fn, op, object, value).
Event = tuple[int, int, str, str, str, str]


def parse_trace(text: str) -> list[Event]:
    events: list[Event] = []
    for line in text.splitlines():
        s, t, fn, op, obj, val = line.split("|", 5)
        events.append((int(s), int(t), fn, op, obj, val))
    return events


def check_max_steps(max_steps: int) -> int:
    if not 0 <= max_steps <= INT_MAX:
        raise ValueError(f"max_steps {max_steps} is not in 0..{INT_MAX}")
    return max_steps


def decision_array(decisions: Sequence[int]) -> tuple[Any, int]:
    decs = list(decisions)
    for d in decs:
        if not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= INT64_MAX:
            raise ValueError(f"decision {d!r} is not a non-negative 64-bit integer")
    return (ctypes.c_longlong * len(decs))(*decs), len(decs)


def check_pct(pct: Any) -> tuple[int, int, int]:
    """(|seed|, depth, k) of a ``pct=(seed, depth, k)`` argument; ValueError if the C
    chooser cannot represent it."""
    try:
        seed, depth, k = pct
    except (TypeError, ValueError):
        raise ValueError(f"pct must be (seed, depth, k), not {pct!r}") from None
    for name, v in (("seed", seed), ("depth", depth), ("k", k)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"pct {name} {v!r} is not an int")
    if abs(seed) >= 2**64:
        raise ValueError(f"pct seed {seed} does not fit in 64 bits")
    if not 1 <= depth <= PCT_MAX_DEPTH:
        raise ValueError(f"pct depth {depth} is not in 1..{PCT_MAX_DEPTH}")
    if not 0 <= k <= PCT_MAX_K:
        raise ValueError(f"pct k {k} is not in 0..{PCT_MAX_K}")
    return abs(seed), depth, k


#: The knob slots of the knob maps seen so far: a hunt encodes one knob map for every
#: scenario (thousands per second), and the map-to-codes walk was 3% of a native hunt.
#: Keyed with each value's type: True == 1, but a bool knob has no int codes.
_KNOB_SLOTS: dict[tuple[tuple[str, type, Any], ...], tuple[int, ...]] = {}


def encode_knobs(knobs: Any) -> list[int]:
    """The knob slots (``enum fl_knob``) of a full knob map."""
    key = tuple((k, type(v), v) for k, v in knobs.items())
    slots = _KNOB_SLOTS.get(key)
    if slots is None:
        if len(_KNOB_SLOTS) > 256:
            _KNOB_SLOTS.clear()
        slots = _KNOB_SLOTS[key] = tuple(_schema.encode_knobs(dict(knobs)))
    return list(slots)


_PAD = [0] * schema.FL_OP_WORDS


def encode_model_scenario(sc: Any, knobs: Any) -> tuple[list[int], str]:
    """The flat encoding of a scenario (``fuzzlock.scenario.Scenario``) and a full knob map
    for the C model (native/model.h), plus its names string.  Raises NativeError for an
    op the C model does not implement or a value the C side cannot represent."""
    names: list[str] = []
    folios: dict[str, int] = {}
    max_folios = schema.FL_MAX_FOLIO_NAMES

    def folio_slot(n: str, where: str) -> int:
        if n not in folios:
            if len(folios) == max_folios:
                raise NativeError(f"{where}: more than {max_folios} folio names")
            folios[n] = len(folios)
        return folios[n]

    def name_idx(n: str, where: str) -> int:
        if "\n" in n or "|" in n:
            raise NativeError(f"{where}: name {n!r} contains a newline or '|'")
        names.append(n)
        return len(names) - 1

    def word(o: dict[str, Any], s: schema.Slot, where: str) -> int:
        """One encoding word of ``o`` (``schema_ops.SLOT_ENCODINGS``)."""
        if s.enc == "int":
            v = o[s.field]
            if not INT64_MIN <= v <= INT64_MAX:
                raise NativeError(f"{where}.{s.field}: {v} does not fit in 64 bits")
            return int(v)
        if s.enc == "bool":
            return 1 if o.get(s.field) else 0
        if s.enc == "modes":
            return sum(schema.MOVE_MODES[m] for m in set(o[s.field]))
        if s.enc == "folio":
            if o[s.field] not in folios:
                raise NativeError(f"{where}.folio: {o[s.field]!r} is not bound in the setup")
            return folios[o[s.field]]
        if s.enc == "bind":
            return folio_slot(o[s.field], where) + 1 if o.get(s.field) else 0
        if s.enc == "name":
            return name_idx(o[s.field], where)
        assert s.enc == "flags", s.enc
        return sum(bit for f, bit in schema.MMAP_FLAGS.items() if o[f])

    def enc_op(o: dict[str, Any], where: str) -> list[int]:
        """The words of one op: code, mm, then its slots (``schema.Op.slots``), 0-padded."""
        spec = schema.OP_BY_NAME[o["op"]]
        words = [spec.code, o.get("mm", 0)]
        for s in spec.slots:
            if s.enc == "int":  # inline: most slots are, and this runs per op per scenario
                v = o[s.field]
                if not INT64_MIN <= v <= INT64_MAX:
                    raise NativeError(f"{where}.{s.field}: {v} does not fit in 64 bits")
                words.append(int(v))
            else:
                words.append(word(o, s, where))
        words += _PAD[: schema.FL_OP_WORDS - len(words)]
        return words

    out = encode_knobs(knobs)
    out.append(len(sc.setup))
    mms: set[int] = set()
    for i, o in enumerate(sc.setup):
        where = f"scenario.setup[{i}]"
        if o["op"] not in MODEL_SETUP_OPS:
            raise NativeError(f"{where}.op: {o['op']!r} is not in the native model yet")
        if o["op"] == "mmap":
            mms.add(o["mm"])
        elif o["op"] in ("write", "read") and o["mm"] not in mms:
            # the Python setup looks the mm up unguarded (a KeyError, not a result)
            raise NativeError(f"{where}.mm: mm{o['mm']} has no mapping yet")
        elif o["op"] == "fork" and o["mm"] in mms:
            mms.add(o["child"])
        out += enc_op(o, where)
    out.append(len(sc.threads))
    for ti, (tname, ops) in enumerate(sc.threads):
        out += [name_idx(tname, f"scenario.threads[{ti}].name"), len(ops)]
        for j, o in enumerate(ops):
            where = f"scenario.threads[{ti}].ops[{j}]"
            if o["op"] not in MODEL_THREAD_OPS:
                raise NativeError(f"{where}.op: {o['op']!r} is not in the native model yet")
            if o["op"] in ("write", "read") and o.get("folio"):
                o = {k: v for k, v in o.items() if k != "folio"}  # binds only in the setup
            out += enc_op(o, where)
    return out, "\n".join(names)
