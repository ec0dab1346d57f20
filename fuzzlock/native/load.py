"""Finding and loading the C libraries, lazily, on the first call that needs one.

``libfuzzlock_native.so`` is looked up, in order:

1. ``$FUZZLOCK_NATIVE_LIB``, if set: the path of another build (a sanitizer variant).
   If it is set but unusable the native backend is unavailable; there is no silent fallback.
2. ``libfuzzlock_native.so`` inside the installed ``fuzzlock`` package, found through
   ``importlib.resources`` (``Path(__file__)`` breaks under scikit-build-core editable
   installs, where the Python sources and the built library live in different directories).

``libfuzzlock_native_fp.so`` (the same sources, model code instrumented: per-step
footprints, docs/footprints.md) through ``$FUZZLOCK_NATIVE_FP_LIB``, next to
``$FUZZLOCK_NATIVE_LIB``, or in the package.  Either library must pass the ABI handshake
(``fuzzlock.native.abi.check``).
"""

from __future__ import annotations

import ctypes
import importlib.resources
import os
import threading
from contextlib import ExitStack
from pathlib import Path

from fuzzlock.native import abi
from fuzzlock.native.errors import NativeUnavailableError

#: Environment variable naming an alternative library file.
ENV_VAR = "FUZZLOCK_NATIVE_LIB"
#: File name CMake gives the library (add_library(fuzzlock_native MODULE), PREFIX "lib").
LIBRARY_NAME = "libfuzzlock_native.so"
#: File name of the footprint variant of the library.
FP_LIBRARY_NAME = "libfuzzlock_native_fp.so"
#: Environment variable naming another footprint library file.
FP_ENV_VAR = "FUZZLOCK_NATIVE_FP_LIB"

_lock = threading.Lock()
_resources = ExitStack()  # keeps an extracted copy alive if the package is not on disk


class _Slot:
    """The load result of one library: loaded once, remembered until ``reset``."""

    def __init__(self) -> None:
        self.loaded = False
        self.lib: ctypes.CDLL | None = None
        self.path: Path | None = None
        self.reason = ""


_main = _Slot()
_fp = _Slot()


def _in_package(name: str) -> Path | None:
    """The file ``name`` inside the installed ``fuzzlock`` package, or None."""
    import fuzzlock

    # A package may span several directories (editable installs); look in each.
    for d in getattr(fuzzlock, "__path__", ()):
        if (Path(d) / name).is_file():
            return Path(d) / name
    res = importlib.resources.files("fuzzlock") / name
    if res.is_file():
        if isinstance(res, Path):
            return res
        return Path(_resources.enter_context(importlib.resources.as_file(res)))
    return None


def _how(env: str) -> str:
    return f"run `pip install -e .` again (or set {env} to a current build)"


def _open(slot: _Slot, path: Path, library: str, env: str) -> None:
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as exc:
        slot.reason = f"cannot load {path}: {' '.join(str(exc).split())}"
        return
    try:
        abi.check(lib, path, library, _how(env))
        if library == "fp" and lib.fl_fp_instrumented() != 1:
            raise NativeUnavailableError(f"{path} is not instrumented")
    except NativeUnavailableError as exc:
        slot.reason = str(exc)
        return
    slot.lib, slot.path = lib, path


def _load_main() -> None:
    env = os.environ.get(ENV_VAR)
    if env:
        if not Path(env).is_file():
            _main.reason = f"{ENV_VAR}={env} does not name a file"
            return
        path: Path | None = Path(env)
    else:
        path = _in_package(LIBRARY_NAME)
        if path is None:
            _main.reason = (
                f"{LIBRARY_NAME} is not in the installed fuzzlock package "
                "(no C compiler at install time? `pip install -v -e .` shows CMake's warning)"
            )
            return
    if path is not None:
        _open(_main, path, "native", ENV_VAR)


def _load_fp() -> None:
    env = os.environ.get(FP_ENV_VAR)
    main = os.environ.get(ENV_VAR)
    if env:
        if not Path(env).is_file():
            _fp.reason = f"{FP_ENV_VAR}={env} does not name a file"
            return
        path: Path | None = Path(env)
    elif main and (Path(main).parent / FP_LIBRARY_NAME).is_file():
        path = Path(main).parent / FP_LIBRARY_NAME
    else:
        path = _in_package(FP_LIBRARY_NAME)
        if path is None:
            _fp.reason = (
                f"{FP_LIBRARY_NAME} is not in the installed fuzzlock package "
                "(stale build? run `pip install -e .` again)"
            )
            return
    if path is not None:
        _open(_fp, path, "fp", FP_ENV_VAR)


def _ensure(slot: _Slot, load: object) -> _Slot:
    if not slot.loaded:
        with _lock:
            if not slot.loaded:
                load()  # type: ignore[operator]
                slot.loaded = True
    return slot


def load_library() -> ctypes.CDLL:
    """Load (once) and return the native library; raise NativeUnavailableError if unusable."""
    slot = _ensure(_main, _load_main)
    if slot.lib is None:
        raise NativeUnavailableError(slot.reason)
    return slot.lib


def native_available() -> bool:
    """True iff the native library loads and passes the handshake."""
    return _ensure(_main, _load_main).lib is not None


def unavailable_reason() -> str:
    """One line saying why the native backend is unavailable, or "" if it is available."""
    return _ensure(_main, _load_main).reason


def library_path() -> Path | None:
    """Path of the loaded library, or None if it is unavailable."""
    return _ensure(_main, _load_main).path


def load_footprint_library() -> ctypes.CDLL:
    """Load (once) and return ``libfuzzlock_native_fp.so``; NativeUnavailableError if it
    is unusable."""
    slot = _ensure(_fp, _load_fp)
    if slot.lib is None:
        raise NativeUnavailableError(slot.reason)
    return slot.lib


def footprints_available() -> bool:
    """True iff the footprint library loads."""
    return _ensure(_fp, _load_fp).lib is not None


def footprints_unavailable_reason() -> str:
    """Why the footprint library is unavailable, or ''."""
    return _ensure(_fp, _load_fp).reason


def footprint_library_path() -> Path | None:
    """Path of the loaded footprint library, or None."""
    return _ensure(_fp, _load_fp).path


def reset_for_tests() -> None:
    """Forget the cached load results (tests use this after changing the env variables)."""
    with _lock:
        for slot in (_main, _fp):
            slot.__init__()  # type: ignore[misc]
