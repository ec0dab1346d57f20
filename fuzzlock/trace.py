"""Trace events, the trace digest, and the plain-text interleaving table.

An event is a tuple ``(step, thread, fn, op, obj, value)`` of ints and strings.  The
value is rendered to a string when the event is recorded (model objects change later),
so a trace is plain data: both backends render it the same way and its digest is the
sha256 of the canonical text, one event per line, fields separated by ``|``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Sequence
from typing import Any

Event = tuple[int, int, str, str, str, str]


def fmt_value(v: Any) -> str:
    """The canonical text of an op's result (both backends must render alike)."""
    if v is None:
        return ""
    if v is True:
        return "1"
    if v is False:
        return "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return v
    tr = getattr(v, "trace_repr", None)
    if tr is not None:
        return str(tr())
    if isinstance(v, tuple):
        return ",".join(fmt_value(x) for x in v)
    raise TypeError(f"no canonical trace rendering for {type(v).__name__}")


def canonical(events: Iterable[Event]) -> str:
    return "".join(f"{s}|{t}|{fn}|{op}|{obj}|{val}\n" for s, t, fn, op, obj, val in events)


def digest(events: Iterable[Event]) -> str:
    return hashlib.sha256(canonical(events).encode()).hexdigest()


_M64 = 2**64 - 1


def hash64(events: Iterable[Event]) -> int:
    """A 64-bit hash of the canonical text (not cryptographic): what the C hunt loop
    computes per run (``fl_trace_hash`` in native/hunt.c) to count distinct traces without
    building Python objects; equal traces have equal hashes on both backends."""
    return hash64_text(canonical(events))


def hash64_text(text: str | bytes) -> int:
    """``hash64`` of a canonical text: its bytes as 8-byte little-endian words (the last
    zero-padded), each mixed in with a multiply and an xor-shift, then a final avalanche."""
    b = text.encode() if isinstance(text, str) else text
    h = 0x9E3779B97F4A7C15 ^ len(b)
    for (w,) in struct.iter_unpack("<Q", b + bytes(-len(b) % 8)):
        h = ((h ^ w) * 0xFF51AFD7ED558CCD) & _M64
        h ^= h >> 32
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M64
    return h ^ (h >> 33)


def preempted_steps(
    events: Sequence[Event], enabled_current: Sequence[bool] | None = None
) -> set[int]:
    """Steps at which the running thread changed (a context switch).

    Whether a switch was a preemption (the previous thread could have gone on) is
    recorded by the scheduler; here a switch is what the table marks."""
    out: set[int] = set()
    prev = None
    for s, t, *_ in events:
        if prev is not None and t != prev:
            out.add(s)
        prev = t
    return out


def render_table(
    events: Sequence[Event],
    thread_names: Sequence[str],
    highlight_step: int | None = None,
    preemptions: set[int] | None = None,
    width: int = 44,
) -> str:
    """One column per thread, one row per step (the Lincheck layout).

    A row whose step preempted a runnable thread is marked ``>``; the violating step ``!``.
    """
    n = len(thread_names)
    head = ["step "] + [f"T{i} {name}"[:width].ljust(width) for i, name in enumerate(thread_names)]
    lines = [" ".join(head).rstrip(), "-" * min(6 + (width + 1) * n, 240)]
    pre = preemptions or set()
    for s, t, fn, op, obj, val in events:
        cell = f"{fn}: {op} {obj}" + (f" = {val}" if val != "" else "")
        cols = [""] * n
        if 0 <= t < n:
            cols[t] = cell[:width]
        mark = "!" if s == highlight_step else (">" if s in pre else " ")
        lines.append(f"{s:4d}{mark} " + " ".join(c.ljust(width) for c in cols).rstrip())
    return "\n".join(lines)
