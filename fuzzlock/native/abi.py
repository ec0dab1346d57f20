"""The ABI handshake: a library is used only if it was built from this schema.

Every library exports ``fl_abi_version()`` and ``fl_schema_hash()`` (native/abi.c, the
values generated into native/fuzzlock_schema.h from fuzzlock/schema.py); ``check``
compares both with the ones generated into ``_schema`` and then declares every function
of the library's groups.  A mismatch is refused with one line that says how to rebuild.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fuzzlock.native import _schema
from fuzzlock.native.errors import NativeUnavailableError

ABI_VERSION = _schema.ABI_VERSION
SCHEMA_HASH = _schema.SCHEMA_HASH

#: what each library's groups are, for the one-line refusal of a library lacking them
_WHAT = {
    "native": "C model or batched hunt loop",
    "fp": "footprint runners",
    "toy": "toy programs",
    "toy_fp": "toy footprint runners",
}

_C_LONG_MIN = -(2 ** (8 * ctypes.sizeof(ctypes.c_long) - 1))
_C_LONG_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_long) - 1) - 1


def check(lib: Any, path: Path, library: str, how: str) -> None:
    """Refuse ``lib`` (NativeUnavailableError, one line ending in ``how``: the way to rebuild
    it) unless it speaks this ABI version and schema hash and exports every function of
    ``_schema.LIBRARY_GROUPS[library]``; declare those functions on it."""
    try:
        ver, hsh = lib.fl_abi_version, lib.fl_schema_hash
    except AttributeError:
        raise NativeUnavailableError(
            f"{path} predates the schema handshake (no fl_schema_hash): stale build, {how}"
        ) from None
    ver.argtypes, ver.restype = [], ctypes.c_int
    hsh.argtypes, hsh.restype = [], ctypes.c_ulonglong
    got_ver, got_hash = int(ver()), int(hsh())
    if got_ver != ABI_VERSION or got_hash != SCHEMA_HASH:
        raise NativeUnavailableError(
            f"{path} has ABI version {got_ver} and schema {got_hash:016x}, fuzzlock expects "
            f"{ABI_VERSION} and {SCHEMA_HASH:016x}: stale build, {how}"
        )
    try:
        _schema.declare(lib, _schema.LIBRARY_GROUPS[library])
    except AttributeError as exc:
        raise NativeUnavailableError(
            f"{path} has no {_WHAT[library]} ({' '.join(str(exc).split())}): not that "
            f"library, or a stale build: {how}"
        ) from None


def abi_version() -> int:
    """The library's ABI version (``fl_abi_version()``)."""
    from fuzzlock.native.load import load_library

    return int(load_library().fl_abi_version())


def schema_hash() -> int:
    """The schema hash the library was built with (``fl_schema_hash()``)."""
    from fuzzlock.native.load import load_library

    return int(load_library().fl_schema_hash())


def selftest_sum(values: Sequence[int]) -> int:
    """Sum ``values`` in C (``fl_selftest_sum``): proves arrays cross the ctypes boundary."""
    from fuzzlock.native.load import load_library

    lib = load_library()
    vals = list(values)
    if len(vals) > 2**31 - 1:
        raise ValueError("too many values for a C int count")
    total = sum(vals)
    if not all(_C_LONG_MIN <= v <= _C_LONG_MAX for v in vals) or not (
        _C_LONG_MIN <= total <= _C_LONG_MAX
    ):
        raise OverflowError("values or their sum do not fit in a C long")
    arr = (ctypes.c_long * len(vals))(*vals)
    return int(lib.fl_selftest_sum(arr, len(vals)))


def debug_randbelow(seed: int, bound: int, n: int) -> list[int]:
    """Test aid: ``n`` draws of the C port of ``random.Random(seed)._randbelow(bound)`` (the
    generator behind the C PCT chooser)."""
    from fuzzlock.native.load import load_library

    if abs(seed) >= 2**64 or not 1 <= bound < 2**32 or n < 0:
        raise ValueError("seed, bound or n out of range")
    out = (ctypes.c_uint * n)()
    load_library().fl_debug_randbelow(abs(seed), bound, out, n)
    return list(out)


def debug_flip_decision_rule(on: bool, lib: Any = None) -> bool:
    """Test only: make the C decision rule pick ``order[(c + 1) % n]`` (a deliberately
    broken scheduler, to prove the differential test can fail) in ``lib`` (default: the
    native library).  Returns the old setting."""
    from fuzzlock.native.load import load_library

    lib = lib if lib is not None else load_library()
    return bool(lib.fl_debug_flip_decision_rule(1 if on else 0))
