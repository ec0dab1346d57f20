"""ctypes binding to the C port of the model (``libfuzzlock_native.so``, built from native/).

The library is loaded lazily, on the first call that needs it, never at import time. It is
looked up, in order:

1. ``$FUZZLOCK_NATIVE_LIB``, if set: the path of another build (a sanitizer or test variant).
   If it is set but unusable the native backend is unavailable; there is no silent fallback.
2. ``libfuzzlock_native.so`` inside the installed ``fuzzlock`` package, found through
   ``importlib.resources`` (``Path(__file__)`` breaks under scikit-build-core editable
   installs, where the Python sources and the built library live in different directories).

Every exported C function gets its ``argtypes``/``restype`` declared in ``_declare``; a call
without them can silently truncate pointers and crash.
"""

from __future__ import annotations

import ctypes
import importlib.resources
import os
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

__all__ = [
    "ABI_VERSION",
    "ENV_VAR",
    "LIBRARY_NAME",
    "NativeUnavailableError",
    "abi_version",
    "library_path",
    "load_library",
    "native_available",
    "selftest_sum",
    "unavailable_reason",
]

#: ABI version this Python side speaks; must equal FL_ABI_VERSION in native/fuzzlock.h.
ABI_VERSION = 1
#: Environment variable naming an alternative library file.
ENV_VAR = "FUZZLOCK_NATIVE_LIB"
#: File name CMake gives the library (add_library(fuzzlock_native MODULE), PREFIX "lib").
LIBRARY_NAME = "libfuzzlock_native.so"

_C_LONG_MIN = -(2 ** (8 * ctypes.sizeof(ctypes.c_long) - 1))
_C_LONG_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_long) - 1) - 1


class NativeUnavailableError(RuntimeError):
    """The native backend cannot be used; ``str(err)`` is a one-line reason."""


_lock = threading.Lock()
_loaded = False
_lib: ctypes.CDLL | None = None
_path: Path | None = None
_reason = ""
_resources = ExitStack()  # keeps an extracted copy alive if the package is not on disk


def _find_in_package() -> Path | None:
    """The library inside the installed ``fuzzlock`` package, or None."""
    candidates = [importlib.resources.files("fuzzlock") / LIBRARY_NAME]
    # A package may span several directories (editable installs); look in each.
    import fuzzlock

    candidates += [Path(p) / LIBRARY_NAME for p in getattr(fuzzlock, "__path__", ())]
    for res in candidates:
        if res.is_file():
            if isinstance(res, Path):
                return res
            return Path(_resources.enter_context(importlib.resources.as_file(res)))
    return None


def _declare(lib: ctypes.CDLL) -> None:
    """Declare argtypes/restype of every exported function (keep in sync with fuzzlock.h)."""
    lib.fl_abi_version.argtypes = []
    lib.fl_abi_version.restype = ctypes.c_int
    lib.fl_selftest_sum.argtypes = [ctypes.POINTER(ctypes.c_long), ctypes.c_int]
    lib.fl_selftest_sum.restype = ctypes.c_long


def _load() -> None:
    global _lib, _path, _reason
    env = os.environ.get(ENV_VAR)
    path: Path | None
    if env:
        path = Path(env)
        if not path.is_file():
            _reason = f"{ENV_VAR}={env} does not name a file"
            return
    else:
        path = _find_in_package()
        if path is None:
            _reason = (
                f"{LIBRARY_NAME} is not in the installed fuzzlock package "
                "(no C compiler at install time? `pip install -v -e .` shows CMake's warning)"
            )
            return
    try:
        lib = ctypes.CDLL(str(path))
        _declare(lib)
    except (OSError, AttributeError) as exc:
        _reason = f"cannot load {path}: {' '.join(str(exc).split())}"
        return
    got = lib.fl_abi_version()
    if got != ABI_VERSION:
        _reason = (
            f"{path} has ABI version {got}, fuzzlock expects {ABI_VERSION} "
            "(stale build: run `pip install -e .` again)"
        )
        return
    _lib, _path = lib, path


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if not _loaded:
            _load()
            _loaded = True


def load_library() -> ctypes.CDLL:
    """Load (once) and return the native library; raise NativeUnavailableError if unusable."""
    _ensure_loaded()
    if _lib is None:
        raise NativeUnavailableError(_reason)
    return _lib


def native_available() -> bool:
    """True iff the native library loads and speaks this ABI version."""
    _ensure_loaded()
    return _lib is not None


def unavailable_reason() -> str:
    """One line saying why the native backend is unavailable, or "" if it is available."""
    _ensure_loaded()
    return _reason


def library_path() -> Path | None:
    """Path of the loaded library, or None if it is unavailable."""
    _ensure_loaded()
    return _path


def abi_version() -> int:
    """The library's ABI version (``fl_abi_version()``)."""
    return int(load_library().fl_abi_version())


def selftest_sum(values: Sequence[int]) -> int:
    """Sum ``values`` in C (``fl_selftest_sum``): proves arrays cross the ctypes boundary."""
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


def _reset_for_tests() -> None:
    """Forget the cached load result (tests use this after changing FUZZLOCK_NATIVE_LIB)."""
    global _loaded, _lib, _path, _reason
    with _lock:
        _loaded, _lib, _path, _reason = False, None, None, ""
