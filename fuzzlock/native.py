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

The C scheduler (native/sched.c, the same contract as fuzzlock/sched/scheduler.py) is exposed
through the toy programs of tests/sched/toy.py (native/toy.c): ``run_toy`` runs one program
with a decision list (or a Python chooser, called back from C) in one ctypes call and returns
the trace, outcome, consumed decisions and preempted steps; tests/native compares it with the
Python scheduler event for event.  The C model runs with ``run_model`` and
``run_model_results``: decisions replayed, a Python chooser called back (``chooser=``), or
the C port of ``PCTChooser`` (``pct=``); ``model_bench`` runs many schedules in one call.

A second library, ``libfuzzlock_native_fp.so`` (same sources, model code instrumented; looked
up through ``$FUZZLOCK_NATIVE_FP_LIB``, next to ``$FUZZLOCK_NATIVE_LIB``, or in the package),
runs the same schedules and records per-step footprints: ``run_model_footprints``,
``run_toy_footprints`` and the ``ModelFootprints``/``ToyFootprints`` sessions return one
``StepInfo`` per trace event (docs/footprints.md).
"""

from __future__ import annotations

import ctypes
import importlib.resources
import os
import struct
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "ABI_VERSION",
    "ALL_CELLS",
    "ENV_VAR",
    "FP_ENV_VAR",
    "FP_LIBRARY_NAME",
    "LIBRARY_NAME",
    "PCT_MAX_DEPTH",
    "PCT_MAX_K",
    "TOY_CODES",
    "TOY_SENTINEL",
    "ModelFootprints",
    "ModelRunResults",
    "NativeError",
    "NativeSetupError",
    "NativeUnavailableError",
    "StepInfo",
    "ToyFootprints",
    "ToyRun",
    "abi_version",
    "debug_flip_decision_rule",
    "dependent",
    "encode_model_scenario",
    "encode_toy",
    "footprint_library_path",
    "footprints_available",
    "footprints_unavailable_reason",
    "library_path",
    "load_footprint_library",
    "load_library",
    "model_bench",
    "native_available",
    "run_model",
    "run_model_footprints",
    "run_model_results",
    "run_toy",
    "run_toy_detailed",
    "run_toy_encoded",
    "run_toy_footprints",
    "selftest_sum",
    "toy_bench",
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


class NativeError(ValueError):
    """The C side refused an input (malformed toy program, bad decision) or failed."""


class _FlResult(ctypes.Structure):
    """Mirror of ``struct fl_result`` in native/sched.h."""

    _fields_ = [
        ("outcome", ctypes.c_int),
        ("outcome_id", ctypes.c_char_p),
        ("steps", ctypes.c_int),
        ("violation_step", ctypes.c_int),
        ("violation_thread", ctypes.c_int),
        ("violation_fn", ctypes.c_char_p),
        ("message", ctypes.c_char_p),
        ("decisions", ctypes.POINTER(ctypes.c_longlong)),
        ("ndecisions", ctypes.c_size_t),
        ("preempted", ctypes.POINTER(ctypes.c_int)),
        ("npreempted", ctypes.c_size_t),
        ("trace", ctypes.c_void_p),
        ("trace_len", ctypes.c_size_t),
        ("nevents", ctypes.c_size_t),
    ]


#: FL_MAX_THREADS in native/sched.h (the size of ``struct fl_fp_step.order``).
_FL_MAX_THREADS = 16


class _FpStep(ctypes.Structure):
    """Mirror of ``struct fl_fp_step`` in native/footprint.h."""

    _fields_ = [
        ("tid", ctypes.c_int32),
        ("norder", ctypes.c_int32),
        ("order", ctypes.c_int32 * _FL_MAX_THREADS),
        ("decided", ctypes.c_uint8),
        ("all", ctypes.c_uint8),
        ("pad", ctypes.c_uint8 * 6),
        ("reads_off", ctypes.c_uint64),
        ("nreads", ctypes.c_uint64),
        ("writes_off", ctypes.c_uint64),
        ("nwrites", ctypes.c_uint64),
    ]


class _FpResult(ctypes.Structure):
    """Mirror of ``struct fl_fp_result`` in native/footprint.h."""

    _fields_ = [
        ("steps", ctypes.POINTER(_FpStep)),
        ("nsteps", ctypes.c_size_t),
        ("cells", ctypes.POINTER(ctypes.c_int64)),
        ("ncells", ctypes.c_size_t),
    ]


#: ``long long choose(void *ctx, const int *order, int n, int current)``
_CHOOSE_CB = ctypes.CFUNCTYPE(
    ctypes.c_longlong, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int, ctypes.c_int
)


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
    # The C scheduler and the toy programs (native/sched.h).  Declared only if present,
    # so a stale library still serves the functions above; run_toy says what is missing.
    if hasattr(lib, "fl_toy_new"):
        lib.fl_toy_new.argtypes = [
            ctypes.POINTER(ctypes.c_longlong),
            ctypes.c_size_t,
            ctypes.c_char_p,
            ctypes.c_size_t,
        ]
        lib.fl_toy_new.restype = ctypes.c_void_p
        lib.fl_toy_run.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_longlong),
            ctypes.c_size_t,
            ctypes.c_int,
            ctypes.POINTER(_FlResult),
        ]
        lib.fl_toy_run.restype = ctypes.c_int
        lib.fl_toy_run_cb.argtypes = [
            ctypes.c_void_p,
            _CHOOSE_CB,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.POINTER(_FlResult),
        ]
        lib.fl_toy_run_cb.restype = ctypes.c_int
        lib.fl_toy_bench.argtypes = [
            ctypes.c_void_p,
            ctypes.c_longlong,
            ctypes.c_ulonglong,
            ctypes.c_int,
        ]
        lib.fl_toy_bench.restype = ctypes.c_longlong
        lib.fl_toy_free.argtypes = [ctypes.c_void_p]
        lib.fl_toy_free.restype = None
        lib.fl_debug_flip_decision_rule.argtypes = [ctypes.c_int]
        lib.fl_debug_flip_decision_rule.restype = ctypes.c_int
    if hasattr(lib, "fl_toy_run_pct"):
        lib.fl_toy_run_pct.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulonglong,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_FlResult),
        ]
        lib.fl_toy_run_pct.restype = ctypes.c_int
        lib.fl_toy_vars.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_longlong),
            ctypes.c_int,
        ]
        lib.fl_toy_vars.restype = ctypes.c_int
    if hasattr(lib, "fl_toy_footprints"):  # libfuzzlock_native_fp.so only
        lib.fl_toy_fp_new.argtypes = [ctypes.c_void_p]
        lib.fl_toy_fp_new.restype = ctypes.c_void_p
        lib.fl_toy_footprints.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_longlong),
            ctypes.c_size_t,
            _CHOOSE_CB,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.POINTER(_FlResult),
            ctypes.POINTER(_FpResult),
        ]
        lib.fl_toy_footprints.restype = ctypes.c_int
        lib.fl_fp_free.argtypes = [ctypes.c_void_p]
        lib.fl_fp_free.restype = None
        lib.fl_fp_set_capacity.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        lib.fl_fp_set_capacity.restype = None
        lib.fl_fp_set_lockdep.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.fl_fp_set_lockdep.restype = None
    if hasattr(lib, "fl_debug_randbelow"):
        lib.fl_debug_randbelow.argtypes = [
            ctypes.c_ulonglong,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_int,
        ]
        lib.fl_debug_randbelow.restype = ctypes.c_int


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


# --------------------------------------------------------------------------- toy programs

#: Action codes of the toy programs of tests/sched/toy.py (``enum toy_code`` in native/toy.c).
TOY_CODES = {
    "lock": 0,
    "unlock": 1,
    "trylock": 2,
    "spin": 3,
    "spin_unlock": 4,
    "down_read": 5,
    "up_read": 6,
    "down_write": 7,
    "up_write": 8,
    "read": 9,
    "write": 10,
    "inc": 11,
    "rcu": 12,
    "rcu_unlock": 13,
    # Extended actions, not in tests/sched/toy.py: tests/native interprets them on the
    # Python side, to reach every op kind, lockdep subclasses, string values and
    # violations raised inside thread bodies.
    "wait": 14,
    "pte_map": 15,
    "pte_unmap": 16,
    "might_sleep": 17,
    "lock_nested": 18,
    "spin_nested": 19,
    "down_read_trylock": 20,
    "down_write_trylock": 21,
    "fail": 22,
    "peek": 23,
}
#: How many arguments each action takes (index, and a value for ``write``).
_TOY_NARGS = {k: 1 for k in TOY_CODES} | {
    "write": 2,
    "rcu": 0,
    "rcu_unlock": 0,
    "might_sleep": 0,
    "fail": 0,
}
#: ``TOY_CHECKS``: install check_step/check_end hooks that fail on var2 (after a step) or
#: var1 (at the end) holding TOY_SENTINEL.
_TOY_CHECKS = 1
TOY_SENTINEL = 4242

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_INT_MAX = 2**31 - 1

Event = tuple[int, int, str, str, str, str]


class ToyRun(NamedTuple):
    """One toy program run on the C scheduler (the fields of ``RunResult`` it has)."""

    outcome: str
    events: list[Event]
    decisions: list[int]
    preempted: list[int]
    violation_step: int | None
    violation_thread: int | None
    violation_fn: str | None
    message: str
    steps: int


def encode_toy(
    program: Sequence[Sequence[tuple[Any, ...]]],
    setup: Sequence[tuple[Any, ...]] = (),
    checks: bool = False,
) -> list[int]:
    """The flat int encoding of a toy program, its optional setup and flags (see
    native/toy.c); ValueError if it has an action or argument the C side cannot represent."""
    out = [len(program), _TOY_CHECKS if checks else 0]
    for who, actions in [("setup", setup), *((f"thread {i}", a) for i, a in enumerate(program))]:
        out.append(len(actions))
        for a in actions:
            if not a or a[0] not in TOY_CODES:
                raise ValueError(f"{who}: unknown toy action {a!r}")
            nargs = _TOY_NARGS[a[0]]
            if len(a) != 1 + nargs:
                raise ValueError(f"{who}: {a!r} takes {nargs} argument(s)")
            args = [*a[1:], 0, 0][:2]
            for x in args:
                if (
                    not isinstance(x, int)
                    or isinstance(x, bool)
                    or not (_INT64_MIN <= x <= _INT64_MAX)
                ):
                    raise ValueError(f"{who}: {a!r}: arguments must be 64-bit ints")
            out += [TOY_CODES[a[0]], *args]
    return out


def _parse_trace(text: str) -> list[Event]:
    events: list[Event] = []
    for line in text.splitlines():
        s, t, fn, op, obj, val = line.split("|", 5)
        events.append((int(s), int(t), fn, op, obj, val))
    return events


def _check_max_steps(max_steps: int) -> int:
    if not 0 <= max_steps <= _INT_MAX:
        raise ValueError(f"max_steps {max_steps} is not in 0..{_INT_MAX}")
    return max_steps


def _toy_lib() -> ctypes.CDLL:
    lib = load_library()
    if not hasattr(lib, "fl_toy_new"):
        raise NativeUnavailableError(
            f"{_path} has no C scheduler (fl_toy_new): stale build, run `pip install -e .` again"
        )
    return lib


class _Handle:
    """An object owned by the C side; ``close()`` (or leaving a ``with``) frees it with
    the library function named by ``_free``."""

    _free = ""
    lib: Any
    handle: int | None

    def close(self) -> None:
        if self.handle:
            getattr(self.lib, self._free)(self.handle)
            self.handle = None

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Toy(_Handle):
    """A parsed toy program on the C side (``struct fl_toy``); close() frees it."""

    _free = "fl_toy_free"

    def __init__(self, encoded: Sequence[int], lib: Any = None) -> None:
        self.lib = lib if lib is not None else _toy_lib()
        arr = (ctypes.c_longlong * len(encoded))(*encoded)
        err = ctypes.create_string_buffer(256)
        handle = self.lib.fl_toy_new(arr, len(encoded), err, len(err))
        if not handle:
            raise NativeError(f"malformed toy program: {err.value.decode(errors='replace')}")
        self.handle: int | None = handle


def _toy_result(res: _FlResult) -> ToyRun:
    if res.outcome == 4:  # FL_ERROR
        raise NativeError(f"C scheduler error: {(res.message or b'').decode(errors='replace')}")
    text = ctypes.string_at(res.trace, res.trace_len).decode() if res.trace_len else ""
    events = _parse_trace(text)
    if len(events) != res.nevents:
        raise NativeError(f"trace text has {len(events)} events, the C side {res.nevents}")
    has_viol = res.violation_step >= 0
    return ToyRun(
        outcome=(res.outcome_id or b"").decode(),
        events=events,
        decisions=[res.decisions[i] for i in range(res.ndecisions)],
        preempted=[res.preempted[i] for i in range(res.npreempted)],
        violation_step=res.violation_step if has_viol else None,
        violation_thread=res.violation_thread if has_viol else None,
        violation_fn=(res.violation_fn or b"").decode() if has_viol else None,
        message=(res.message or b"").decode() if has_viol else "",
        steps=res.steps,
    )


class _Callback:
    """A Python chooser (``choose(order, current)``) as a C callback: an exception it
    raises, or a bad decision, aborts the C run; ``reraise()`` raises it afterwards."""

    def __init__(self, chooser: Any) -> None:
        self.raised: list[BaseException] = []

        def choose(_ctx: Any, order: Any, n: int, current: int) -> int:
            try:
                c = chooser.choose([order[i] for i in range(n)], current)
                if not isinstance(c, int) or not 0 <= c <= _INT64_MAX:
                    raise ValueError(f"chooser returned {c!r}, not a non-negative 64-bit int")
                return c
            except BaseException as exc:  # re-raised by reraise(), after the C call returns
                self.raised.append(exc)
                return -1

        self.cb = _CHOOSE_CB(choose)

    def reraise(self) -> None:
        if self.raised:
            raise self.raised[0]


def _decision_array(decisions: Sequence[int]) -> Any:
    decs = list(decisions)
    for d in decs:
        if not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= _INT64_MAX:
            raise ValueError(f"decision {d!r} is not a non-negative 64-bit integer")
    return (ctypes.c_longlong * len(decs))(*decs), len(decs)


#: Limits of the C PCT chooser (native/sched.h FL_PCT_MAX_DEPTH, FL_PCT_MAX_K).
PCT_MAX_DEPTH = 64
PCT_MAX_K = 1 << 24


def _check_pct(pct: Any) -> tuple[int, int, int]:
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


def run_toy_encoded(
    encoded: Sequence[int],
    decisions: Sequence[int] = (),
    max_steps: int = 10_000,
    chooser: Any = None,
    pct: tuple[int, int, int] | None = None,
) -> ToyRun:
    """Run an already encoded toy program (``encode_toy``) once on the C scheduler.

    ``chooser`` (an object with ``choose(order, current)``, as in fuzzlock.sched.choosers)
    replaces the decision list; an exception it raises aborts the run and is re-raised.
    ``pct=(seed, depth, k)`` uses the C port of ``PCTChooser(seed, n_threads, depth, k)``
    instead (the same decisions as the Python one).  Raises NativeError for a malformed
    encoding or an internal error."""
    _check_max_steps(max_steps)
    with _Toy(encoded) as toy:
        res = _FlResult()
        if pct is not None:
            seed, depth, k = _check_pct(pct)
            if not hasattr(toy.lib, "fl_toy_run_pct"):
                raise NativeUnavailableError("the C library has no fl_toy_run_pct (stale build)")
            if toy.lib.fl_toy_run_pct(toy.handle, seed, depth, k, max_steps, ctypes.byref(res)):
                raise NativeError(f"C PCT run failed: {(res.message or b'').decode()}")
            return _toy_result(res)
        if chooser is None:
            arr, n = _decision_array(decisions)
            toy.lib.fl_toy_run(toy.handle, arr, n, max_steps, ctypes.byref(res))
            return _toy_result(res)
        cb = _Callback(chooser)
        toy.lib.fl_toy_run_cb(toy.handle, cb.cb, None, max_steps, ctypes.byref(res))
        cb.reraise()
        return _toy_result(res)


def run_toy_detailed(
    program: Sequence[Sequence[tuple[Any, ...]]],
    decisions: Sequence[int] = (),
    max_steps: int = 10_000,
    chooser: Any = None,
    setup: Sequence[tuple[Any, ...]] = (),
    checks: bool = False,
    pct: tuple[int, int, int] | None = None,
) -> ToyRun:
    """Run a toy program of tests/sched/toy.py once on the C scheduler (see run_toy).

    A non-empty ``setup`` (a list of toy actions) first runs alone, as
    ``Scheduler.run_solo("setup", toy.body(world, -1, setup))`` does; a violation there
    is the run's outcome (no events, violation step 0, thread -1), and a setup that
    blocks raises NativeError (RuntimeError in Python).  ``checks`` installs the toy's
    check_step/check_end hooks (violations ``toy.check``, ``toy.end-check``).  ``chooser``
    and ``pct`` as in ``run_toy_encoded``."""
    return run_toy_encoded(encode_toy(program, setup, checks), decisions, max_steps, chooser, pct)


def run_toy(
    program: Sequence[Sequence[tuple[Any, ...]]],
    decisions: Sequence[int] = (),
    max_steps: int = 10_000,
    setup: Sequence[tuple[Any, ...]] = (),
) -> tuple[str, list[Event], list[int], list[int], int | None, int | None]:
    """Run a toy program (tests/sched/toy.py) on the C scheduler, replaying ``decisions``.

    Returns ``(outcome, events, decisions, preempted, violation_step, violation_thread)``
    with the meaning of the same fields of ``fuzzlock.sched.RunResult`` (the violation
    fields are None without a violation)."""
    r = run_toy_detailed(program, decisions, max_steps, setup=setup)
    return r.outcome, r.events, r.decisions, r.preempted, r.violation_step, r.violation_thread


def toy_bench(
    program: Sequence[Sequence[tuple[Any, ...]]],
    runs: int,
    seed: int = 0,
    max_steps: int = 10_000,
    setup: Sequence[tuple[Any, ...]] = (),
) -> int:
    """Run a toy program ``runs`` times in one C call with seeded random decisions; the
    total number of scheduling steps (for benchmarks)."""
    _check_max_steps(max_steps)
    with _Toy(encode_toy(program, setup)) as toy:
        total = int(toy.lib.fl_toy_bench(toy.handle, runs, seed & (2**64 - 1), max_steps))
    if total < 0:
        raise NativeError("C scheduler error in fl_toy_bench")
    return total


def debug_randbelow(seed: int, bound: int, n: int) -> list[int]:
    """Test aid: ``n`` draws of the C port of ``random.Random(seed)._randbelow(bound)`` (the
    generator behind the C PCT chooser)."""
    if abs(seed) >= 2**64 or not 1 <= bound < 2**32 or n < 0:
        raise ValueError("seed, bound or n out of range")
    lib = load_library()
    if not hasattr(lib, "fl_debug_randbelow"):
        raise NativeUnavailableError("the C library has no fl_debug_randbelow (stale build)")
    out = (ctypes.c_uint * n)()
    lib.fl_debug_randbelow(abs(seed), bound, out, n)
    return list(out)


def debug_flip_decision_rule(on: bool) -> bool:
    """Test only: make the C decision rule pick ``order[(c + 1) % n]`` (a deliberately
    broken scheduler, to prove the differential test can fail).  Returns the old setting."""
    return bool(_toy_lib().fl_debug_flip_decision_rule(1 if on else 0))


def _reset_for_tests() -> None:
    """Forget the cached load result (tests use this after changing FUZZLOCK_NATIVE_LIB)."""
    global _loaded, _lib, _path, _reason, _fp_loaded, _fp_lib, _fp_path, _fp_reason
    with _lock:
        _loaded, _lib, _path, _reason = False, None, None, ""
        _fp_loaded, _fp_lib, _fp_path, _fp_reason = False, None, None, ""


# --------------------------------------------------------------------------- the model

#: Op codes of a scenario op on the C side (``enum fl_sc_code`` in native/model.h).
_SC_CODES = {
    "mmap": 0,
    "write": 1,
    "read": 2,
    "move": 3,
    "bind": 4,
    "shrink_active_list": 5,
    "page_idle": 6,
    "damon_mkold": 7,
    "damon_young": 8,
    "memory_failure": 9,
    "munmap": 10,
    "exit": 11,
    "fork": 12,
    "pin": 13,
    "unpin": 14,
    "migrate": 15,
    "madvise_dontneed": 16,
    "shrink_folio_list": 17,
    "madvise_cold": 18,
    "madvise_pageout": 19,
}
#: Walker ops: they name a setup-bound folio (``FL_MAX_FOLIO_NAMES`` distinct names).
_WALKER_OPS = ("shrink_active_list", "page_idle", "damon_mkold", "damon_young", "memory_failure")
_MAX_FOLIO_NAMES = 64
#: Thread ops the C model implements (every op of fuzzlock.scenario but the setup-only ones).
MODEL_THREAD_OPS = frozenset(
    {
        "write",
        "read",
        "move",
        "munmap",
        "exit",
        "fork",
        "pin",
        "unpin",
        "migrate",
        "madvise_dontneed",
        "madvise_cold",
        "madvise_pageout",
        "shrink_folio_list",
        *_WALKER_OPS,
    }
)
#: Setup ops the C model implements: mmap and bind, and every thread op (run alone).
MODEL_SETUP_OPS = frozenset({"mmap", "bind", *MODEL_THREAD_OPS})
_MODEL_OP_WORDS = 7
_MMAP_UFFD, _MMAP_WRITE, _MMAP_LOCKED, _MMAP_DONTFORK, _MMAP_WIPEONFORK = 1, 2, 4, 8, 16
_MODEL_SETUP_ERROR = -2


class NativeSetupError(NativeError):
    """The scenario's setup broke an invariant or could not run (model.SetupError)."""


def _model_knobs(knobs: Any) -> list[int]:
    """The knob vector of native/world.h ``enum fl_knob`` from a full knob map."""
    k = dict(knobs)

    def b(name: str) -> int:
        return 1 if k[name] is True else 0

    walks_locked = all(
        k[n] != "none"
        for n in (
            "walk.referenced_active_lock",
            "walk.page_idle_lock",
            "walk.damon_lock",
            "walk.memory_failure_lock",
        )
    )
    return [
        b("move.anon_vma_lock"),
        1 if k["move.lock_order"] == "anon-vma-first" else 0,
        b("move.check_exclusive"),
        b("move.recheck_dst_under_ptl"),
        b("move.recheck_src_after_sleep"),
        b("move.pin_check_before_rmap_update"),
        b("move.unmap_before_sleep"),
        b("move.batch_same_anon_vma_check"),
        b("move.reset_err_on_retry"),
        1 if k["cow.reuse_lock"] == "trylock" else 0,
        b("anon_vma.free_handshake"),
        1 if walks_locked else 0,
        {"none": 0, "trylock": 1, "lock": 2}[k["walk.referenced_active_lock"]],
        0 if k["walk.page_idle_lock"] == "none" else 1,
        0 if k["walk.damon_lock"] == "none" else 1,
        1 if k["walk.memory_failure_lock"] == "lock" else 0,
        b("walk.recheck_mapping"),
        b("walk.check_mapped_after_lock"),
        1 if k["walk.trylock_fail_result"] else 0,
        b("unmap.zap_before_unlink"),
        b("fork.clear_exclusive"),
        b("fork.link_before_copy"),
        1 if k["reclaim.unmap_lock"] == "trylock" else 0,
        b("move.swap_moves_rmap"),
    ]


def encode_model_scenario(sc: Any, knobs: Any) -> tuple[list[int], str]:
    """The flat encoding of a scenario (``fuzzlock.scenario.Scenario``) and a full knob map
    for the C model (native/model.h), plus its names string.  Raises NativeError for an
    op the C model does not implement or a value the C side cannot represent."""
    names: list[str] = []
    folios: dict[str, int] = {}

    def folio_slot(n: str, where: str) -> int:
        if n not in folios:
            if len(folios) == _MAX_FOLIO_NAMES:
                raise NativeError(f"{where}: more than {_MAX_FOLIO_NAMES} folio names")
            folios[n] = len(folios)
        return folios[n]

    def name_idx(n: str, where: str) -> int:
        if "\n" in n or "|" in n:
            raise NativeError(f"{where}: name {n!r} contains a newline or '|'")
        names.append(n)
        return len(names) - 1

    def enc_op(o: dict[str, Any], where: str) -> list[int]:
        op = o["op"]
        mm = o.get("mm", 0)
        if op == "mmap":
            flags = (
                (_MMAP_UFFD if o["uffd"] else 0)
                | (_MMAP_WRITE if o["write"] else 0)
                | (_MMAP_LOCKED if o["locked"] else 0)
                | (_MMAP_DONTFORK if o["dontfork"] else 0)
                | (_MMAP_WIPEONFORK if o["wipeonfork"] else 0)
            )
            return [0, mm, name_idx(o["vma"], where), o["start"], o["pages"], flags, 0]
        if op == "write":
            v = o["value"]
            if not _INT64_MIN <= v <= _INT64_MAX:
                raise NativeError(f"{where}.value: {v} does not fit in 64 bits")
            bind = folio_slot(o["folio"], where) + 1 if o.get("folio") else 0
            return [1, mm, o["addr"], v, bind, 0, 0]
        if op == "read":
            bind = folio_slot(o["folio"], where) + 1 if o.get("folio") else 0
            return [2, mm, o["addr"], bind, 0, 0, 0]
        if op == "move":
            mode = 0
            for m in o["mode"]:
                mode |= {"DONTWAKE": 1, "ALLOW_SRC_HOLES": 2}[m]
            return [3, mm, o["dst"], o["src"], o["len"], mode, 0]
        if op == "bind":
            return [4, mm, o["addr"], folio_slot(o["folio"], where) + 1, 0, 0, 0]
        if op == "munmap":
            return [10, mm, o["addr"], o["pages"], 0, 0, 0]
        if op in ("madvise_dontneed", "madvise_cold", "madvise_pageout"):
            return [_SC_CODES[op], mm, o["addr"], o["pages"], 0, 0, 0]
        if op == "exit":
            return [11, mm, 0, 0, 0, 0, 0]
        if op == "fork":
            return [12, mm, o["child"], 0, 0, 0, 0]
        if op == "pin":
            return [13, mm, o["addr"], 0, 0, 0, 0]
        if op == "unpin":
            return [14, 0, 0, 0, 0, 0, 0]
        if op in _WALKER_OPS or op in ("migrate", "shrink_folio_list"):
            if o["folio"] not in folios:
                raise NativeError(f"{where}.folio: {o['folio']!r} is not bound in the setup")
            ign = 1 if op == "shrink_folio_list" and o["ignore_references"] else 0
            return [_SC_CODES[op], 0, folios[o["folio"]], ign, 0, 0, 0]
        raise AssertionError(op)

    out = _model_knobs(knobs)
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


def _declare_model(lib: ctypes.CDLL) -> None:
    """Declare the C model's functions (native/model.h, native/explore.c) on ``lib``; the
    ones a stale build lacks stay undeclared (their callers say so)."""
    if lib.fl_model_new.restype is ctypes.c_void_p:
        return
    lib.fl_model_new.argtypes = [
        ctypes.POINTER(ctypes.c_longlong),
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_size_t,
    ]
    lib.fl_model_run.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_longlong),
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.POINTER(_FlResult),
    ]
    lib.fl_model_run.restype = ctypes.c_int
    lib.fl_model_bench.argtypes = [
        ctypes.c_void_p,
        ctypes.c_longlong,
        ctypes.c_ulonglong,
        ctypes.c_int,
    ]
    lib.fl_model_bench.restype = ctypes.c_longlong
    lib.fl_model_free.argtypes = [ctypes.c_void_p]
    lib.fl_model_free.restype = None
    if hasattr(lib, "fl_model_results"):
        lib.fl_model_results.argtypes = [ctypes.c_void_p]
        lib.fl_model_results.restype = ctypes.c_char_p
    if hasattr(lib, "fl_model_violation_objects"):
        lib.fl_model_violation_objects.argtypes = [ctypes.c_void_p]
        lib.fl_model_violation_objects.restype = ctypes.c_char_p
    if hasattr(lib, "fl_model_run_cb"):  # native/explore.c
        lib.fl_model_run_cb.argtypes = [
            ctypes.c_void_p,
            _CHOOSE_CB,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.POINTER(_FlResult),
        ]
        lib.fl_model_run_cb.restype = ctypes.c_int
        lib.fl_model_run_pct.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulonglong,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_FlResult),
        ]
        lib.fl_model_run_pct.restype = ctypes.c_int
        lib.fl_model_bench_pct.argtypes = [
            ctypes.c_void_p,
            ctypes.c_longlong,
            ctypes.c_ulonglong,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
        ]
        lib.fl_model_bench_pct.restype = ctypes.c_longlong
        lib.fl_model_state_digest.argtypes = [ctypes.c_void_p]
        lib.fl_model_state_digest.restype = ctypes.c_ulonglong
        lib.fl_fp_instrumented.argtypes = []
        lib.fl_fp_instrumented.restype = ctypes.c_int
    if hasattr(lib, "fl_model_footprints"):  # libfuzzlock_native_fp.so only
        lib.fl_model_fp_new.argtypes = [ctypes.c_void_p]
        lib.fl_model_fp_new.restype = ctypes.c_void_p
        lib.fl_model_footprints.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_longlong),
            ctypes.c_size_t,
            _CHOOSE_CB,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_FlResult),
            ctypes.POINTER(_FpResult),
        ]
        lib.fl_model_footprints.restype = ctypes.c_int
        lib.fl_fp_free.argtypes = [ctypes.c_void_p]
        lib.fl_fp_free.restype = None
        lib.fl_model_fp_bench.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_longlong,
            ctypes.c_ulonglong,
            ctypes.c_int,
        ]
        lib.fl_model_fp_bench.restype = ctypes.c_longlong
    lib.fl_model_new.restype = ctypes.c_void_p


def _model_lib() -> ctypes.CDLL:
    lib = load_library()
    if not hasattr(lib, "fl_model_new"):
        raise NativeUnavailableError(
            f"{_path} has no C model (fl_model_new): stale build, run `pip install -e .` again"
        )
    _declare_model(lib)
    return lib


def _explore_lib(lib: ctypes.CDLL) -> ctypes.CDLL:
    """``lib``, if it has the callback and PCT runners of native/explore.c."""
    if not hasattr(lib, "fl_model_run_cb"):
        raise NativeUnavailableError(
            "the C library has no fl_model_run_cb (stale build): run `pip install -e .` again"
        )
    return lib


class _Model(_Handle):
    """A parsed scenario on the C side (``struct fl_model``); close() frees it."""

    _free = "fl_model_free"

    def __init__(self, encoded: Sequence[int], names: str, lib: Any = None) -> None:
        self.lib = lib if lib is not None else _model_lib()
        for x in encoded:
            if not _INT64_MIN <= x <= _INT64_MAX:
                raise NativeError(f"encoding value {x} does not fit in 64 bits")
        arr = (ctypes.c_longlong * len(encoded))(*encoded)
        err = ctypes.create_string_buffer(256)
        handle = self.lib.fl_model_new(arr, len(encoded), names.encode(), err, len(err))
        if not handle:
            raise NativeError(f"malformed model scenario: {err.value.decode(errors='replace')}")
        self.handle: int | None = handle


def _scenario_of(scenario_json: Any) -> Any:
    from fuzzlock import scenario as _scenario

    if isinstance(scenario_json, str):
        return _scenario.loads(scenario_json)
    return scenario_json


ModelViolation = tuple[str, int, int, str, str]


class ModelRunResults(NamedTuple):
    """``run_model_results``: the run, what each thread's operations returned (like
    ``model.ModelRun.results``), and the violation's objects (``Violation.objects``), or
    None when the C side did not record them for this violation (not ported yet)."""

    run: tuple[str, list[Event], list[int], list[int], ModelViolation | None]
    results: list[list[str]]
    objects: tuple[str, ...] | None


def run_model(
    scenario_json: Any,
    protocol_knobs: Any,
    decisions: Sequence[int] = (),
    max_steps: int | None = None,
    *,
    chooser: Any = None,
    pct: tuple[int, int, int] | None = None,
) -> tuple[str, list[Event], list[int], list[int], ModelViolation | None]:
    """Run a scenario (JSON text, or a ``Scenario``) once on the C model under a full knob
    map (``Protocol.knobs``), replaying ``decisions``; ``max_steps`` defaults to the
    scenario's.  Returns ``(outcome, events, decisions, preempted, violation)`` where
    violation is ``(id, step, thread, fn, message)`` or None.

    Instead of a decision list: ``chooser`` (an object with ``choose(order, current)`` as in
    fuzzlock.sched.choosers, e.g. a HypothesisChooser drawing lazily) is called back from C
    at each decision point, and an exception it raises aborts the run and is re-raised;
    ``pct=(seed, depth, k)`` runs the C port of ``PCTChooser(seed, n_threads, depth, k)``,
    which makes the same decisions as the Python one.

    Raises NativeError for an op or value outside the native slice (or a run beyond the C
    model's capacities), NativeSetupError where
    ``fuzzlock.model.run`` raises SetupError."""
    return run_model_results(
        scenario_json, protocol_knobs, decisions, max_steps, chooser=chooser, pct=pct
    ).run


def _model_run_results(m: _Model, res: _FlResult, rc: int) -> ModelRunResults:
    """The ModelRunResults of the run of ``m`` that filled ``res`` and returned ``rc``."""
    msg = (res.message or b"").decode(errors="replace")
    if rc == _MODEL_SETUP_ERROR:
        raise NativeSetupError(msg)
    r = _toy_result(res)
    results: list[list[str]] = []
    if hasattr(m.lib, "fl_model_results"):
        text = (m.lib.fl_model_results(m.handle) or b"").decode()
        for line in text.split("\n"):
            n, *vals = line.split("\t")
            assert int(n) == len(vals), line
            results.append(vals)
    objects: tuple[str, ...] | None = None
    if hasattr(m.lib, "fl_model_violation_objects"):
        raw = m.lib.fl_model_violation_objects(m.handle)
        if raw is not None:
            objects = tuple(raw.decode().split("\n")) if raw else ()
    viol = None
    if r.violation_step is not None:
        thread = r.violation_thread if r.violation_thread is not None else -1
        viol = (r.outcome, r.violation_step, thread, r.violation_fn or "", r.message)
    return ModelRunResults((r.outcome, r.events, r.decisions, r.preempted, viol), results, objects)


def run_model_results(
    scenario_json: Any,
    protocol_knobs: Any,
    decisions: Sequence[int] = (),
    max_steps: int | None = None,
    *,
    chooser: Any = None,
    pct: tuple[int, int, int] | None = None,
) -> ModelRunResults:
    """``run_model`` plus what each thread's operations returned, formatted like
    ``model.ModelRun.results`` (the ops a thread completed before the run ended)."""
    sc = _scenario_of(scenario_json)
    steps = _check_max_steps(sc.max_steps if max_steps is None else max_steps)
    encoded, names = encode_model_scenario(sc, protocol_knobs)
    arr, n = _decision_array(decisions)
    pct_args = _check_pct(pct) if pct is not None else None
    with _Model(encoded, names) as m:
        res = _FlResult()
        if pct_args is not None:
            _explore_lib(m.lib)
            rc = m.lib.fl_model_run_pct(m.handle, *pct_args, steps, ctypes.byref(res))
            if rc == -1 and res.outcome_id is None:
                raise NativeError(f"bad PCT parameters {pct!r} for the C chooser")
        elif chooser is not None:
            cb = _Callback(chooser)
            rc = _explore_lib(m.lib).fl_model_run_cb(
                m.handle, cb.cb, None, steps, ctypes.byref(res)
            )
            cb.reraise()
        else:
            rc = m.lib.fl_model_run(m.handle, arr, n, steps, ctypes.byref(res))
        return _model_run_results(m, res, rc)


def model_bench(
    scenario_json: Any,
    protocol_knobs: Any,
    runs: int,
    seed: int = 0,
    max_steps: int | None = None,
    *,
    pct: tuple[int, int] | None = None,
) -> int:
    """Run a scenario ``runs`` times in one C call with seeded random decisions (seeds
    ``seed``, ``seed + 1``, ...), or with ``pct=(depth, k)`` the C PCT chooser
    ``PCTChooser(seed + i, n_threads, depth, k)``; the total number of scheduling steps
    (for benchmarks)."""
    sc = _scenario_of(scenario_json)
    steps = _check_max_steps(sc.max_steps if max_steps is None else max_steps)
    encoded, names = encode_model_scenario(sc, protocol_knobs)
    if pct is not None:
        _s, depth, k = _check_pct((seed, *pct))
        if seed < 0 or seed + runs > 2**64:
            raise ValueError(f"PCT bench seeds {seed}..{seed + runs - 1} must be in 0..2**64-1")
    with _Model(encoded, names) as m:
        if pct is None:
            total = int(m.lib.fl_model_bench(m.handle, runs, seed & (2**64 - 1), steps))
        else:
            total = int(
                _explore_lib(m.lib).fl_model_bench_pct(m.handle, runs, seed, depth, k, steps)
            )
    if total < 0:
        raise NativeError("C model error in fl_model_bench")
    return total


# --------------------------------------------------------------------------- footprints

#: File name of the footprint variant of the library (same sources; the model code is
#: compiled with access instrumentation, see native/footprint.h).
FP_LIBRARY_NAME = "libfuzzlock_native_fp.so"
#: Environment variable naming another footprint library file.  Without it the variant
#: is looked up next to ``$FUZZLOCK_NATIVE_LIB`` (if that is set and has one), else in
#: the installed package.
FP_ENV_VAR = "FUZZLOCK_NATIVE_FP_LIB"

#: The sentinel of a step that conflicts with every step (its footprint overflowed the C
#: side's capacity, or it touched state without a stable cell): such a step's ``reads``
#: and ``writes`` are this very object (test with ``is``); ``dependent`` knows it.
ALL_CELLS: frozenset[int] = frozenset({-1})


class StepInfo(NamedTuple):
    """One step of a run recorded with footprints (``run_model_footprints``,
    ``run_toy_footprints``).

    * ``tid``: the thread that executed the step;
    * ``order``: the enabled threads in the round-robin order the scheduler computed (the
      list a chooser is given), length 1 when no decision was consumed;
    * ``decided``: whether a decision was consumed (``len(order) >= 2``);
    * ``reads``, ``writes``: the shared-state cells the step read and wrote, from executing
      its op up to the thread's next scheduling point (invariant checks excluded).  Cells
      are opaque ints, stable across runs of the same scenario; a cell written is also in
      ``reads`` if it was read.  ``ALL_CELLS`` (both fields) for a step that conflicts
      with everything.

    Two steps of different threads are dependent iff ``dependent(a, b)``: one writes a cell
    the other reads or writes.  Lock operations write their lock's cell (a failed trylock
    or a wait reads it), RCU section boundaries read one RCU cell that anon_vma frees write.
    """

    tid: int
    order: tuple[int, ...]
    decided: bool
    reads: frozenset[int]
    writes: frozenset[int]

    @property
    def conflicts_all(self) -> bool:
        return self.writes is ALL_CELLS


def dependent(a: StepInfo, b: StepInfo) -> bool:
    """Whether the footprints of two steps conflict (say nothing about program order:
    two steps of one thread are always ordered)."""
    if a.writes is ALL_CELLS or b.writes is ALL_CELLS:
        return True
    return not (
        a.writes.isdisjoint(b.writes)
        and a.writes.isdisjoint(b.reads)
        and b.writes.isdisjoint(a.reads)
    )


_fp_loaded = False
_fp_lib: ctypes.CDLL | None = None
_fp_path: Path | None = None
_fp_reason = ""


def _load_fp() -> None:
    global _fp_lib, _fp_path, _fp_reason
    env = os.environ.get(FP_ENV_VAR)
    path: Path | None = None
    if env:
        path = Path(env)
        if not path.is_file():
            _fp_reason = f"{FP_ENV_VAR}={env} does not name a file"
            return
    else:
        main = os.environ.get(ENV_VAR)
        if main and (Path(main).parent / FP_LIBRARY_NAME).is_file():
            path = Path(main).parent / FP_LIBRARY_NAME
        else:
            import fuzzlock

            for d in getattr(fuzzlock, "__path__", ()):
                if (Path(d) / FP_LIBRARY_NAME).is_file():
                    path = Path(d) / FP_LIBRARY_NAME
                    break
            else:
                res = importlib.resources.files("fuzzlock") / FP_LIBRARY_NAME
                if res.is_file():
                    path = Path(_resources.enter_context(importlib.resources.as_file(res)))
        if path is None:
            _fp_reason = (
                f"{FP_LIBRARY_NAME} is not in the installed fuzzlock package "
                "(stale build? run `pip install -e .` again)"
            )
            return
    try:
        lib = ctypes.CDLL(str(path))
        _declare(lib)
    except (OSError, AttributeError) as exc:
        _fp_reason = f"cannot load {path}: {' '.join(str(exc).split())}"
        return
    got = lib.fl_abi_version()
    if got != ABI_VERSION:
        _fp_reason = f"{path} has ABI version {got}, fuzzlock expects {ABI_VERSION} (stale build)"
        return
    if not hasattr(lib, "fl_model_footprints") or not hasattr(lib, "fl_toy_footprints"):
        _fp_reason = f"{path} has no footprint runners (not the _fp variant, or a stale build)"
        return
    _declare_model(lib)
    if lib.fl_fp_instrumented() != 1:
        _fp_reason = f"{path} is not instrumented"
        return
    _fp_lib, _fp_path = lib, path


def load_footprint_library() -> ctypes.CDLL:
    """Load (once) and return ``libfuzzlock_native_fp.so``; NativeUnavailableError if it
    is unusable."""
    global _fp_loaded
    if not _fp_loaded:
        with _lock:
            if not _fp_loaded:
                _load_fp()
                _fp_loaded = True
    if _fp_lib is None:
        raise NativeUnavailableError(_fp_reason)
    return _fp_lib


def footprints_available() -> bool:
    """True iff the footprint library loads."""
    try:
        load_footprint_library()
    except NativeUnavailableError:
        return False
    return True


def footprints_unavailable_reason() -> str:
    """Why the footprint library is unavailable, or ''."""
    try:
        load_footprint_library()
    except NativeUnavailableError as e:
        return str(e)
    return ""


def footprint_library_path() -> Path | None:
    """Path of the loaded footprint library, or None."""
    return _fp_path if footprints_available() else None


#: ``struct fl_fp_step`` as a struct format (tid, norder, order[16], decided, all, pad,
#: reads_off, nreads, writes_off, nwrites); unpacked in bulk, much faster than ctypes fields.
_FP_STEP_FMT = "=ii16iBB6xQQQQ"


def _steps_of(fp: _FpResult, nevents: int) -> list[StepInfo]:
    if fp.nsteps < nevents:
        raise NativeError(f"{fp.nsteps} footprints for {nevents} trace events")
    if struct.calcsize(_FP_STEP_FMT) != ctypes.sizeof(_FpStep):
        raise NativeError("struct fl_fp_step layout differs from native.py's")
    raw = ctypes.string_at(fp.steps, nevents * ctypes.sizeof(_FpStep)) if nevents else b""
    cells = fp.cells[: fp.ncells] if fp.ncells else []
    out: list[StepInfo] = []
    for rec in struct.iter_unpack(_FP_STEP_FMT, raw):
        tid, norder = rec[0], rec[1]
        order = rec[2 : 2 + norder]
        decided, every = rec[18], rec[19]
        if every:
            out.append(StepInfo(tid, order, bool(decided), ALL_CELLS, ALL_CELLS))
            continue
        r0, nr, w0, nw = rec[20:24]
        out.append(
            StepInfo(
                tid,
                order,
                bool(decided),
                frozenset(cells[r0 : r0 + nr]),
                frozenset(cells[w0 : w0 + nw]),
            )
        )
    return out


class _FpHandle(_Handle):
    _free = "fl_fp_free"


class ModelFootprints:
    """One scenario on the footprint library, run as often as wanted (the explorer's
    session: the scenario is parsed and the buffers allocated once).  ``close()`` (or
    leaving a ``with``) frees it.

    ``step_checks=False`` leaves out the per-step invariant checks (the end-of-run checks
    stay): footprints do not cover what the invariant checks read, so an intermediate state
    that only one of two equivalent orders passes through can break a per-step invariant in
    that order alone.

    ``lockdep_cells=False`` leaves out the cells of lockdep's graph (a blocking acquisition
    under other locks reads the cell of its class edge, or writes it and the whole graph's
    cell when it adds the edge).  Without them, steps that differ only in which first adds
    a lockdep edge are independent: whether a whole run's edges have a cycle does not depend
    on their order, but the step where ``lock.order`` is reported, and so where the run
    stops, does."""

    def __init__(
        self,
        scenario_json: Any,
        protocol_knobs: Any,
        max_steps: int | None = None,
        step_checks: bool = True,
        lockdep_cells: bool = True,
    ) -> None:
        lib = load_footprint_library()
        sc = _scenario_of(scenario_json)
        self.max_steps = _check_max_steps(sc.max_steps if max_steps is None else max_steps)
        self.flags = 0 if step_checks else 1  # FL_MODEL_NO_STEP_CHECKS
        encoded, names = encode_model_scenario(sc, protocol_knobs)
        self._model = _Model(encoded, names, lib=lib)
        self._fp = _FpHandle()
        self._fp.lib = lib
        self._fp.handle = lib.fl_model_fp_new(self._model.handle)
        if not self._fp.handle:
            self._model.close()
            raise NativeError("out of memory (footprint recorder)")
        lib.fl_fp_set_lockdep(self._fp.handle, 1 if lockdep_cells else 0)

    def run(
        self, decisions: Sequence[int] = (), chooser: Any = None, max_steps: int | None = None
    ) -> tuple[ModelRunResults, list[StepInfo]]:
        """One run (decisions replayed, or from ``chooser``): its results like
        ``run_model_results`` and one StepInfo per trace event.  ``max_steps`` overrides
        the session's bound for this run (a prefix of a schedule: outcome ``step-bound``)."""
        if self._model.handle is None:
            raise NativeError("ModelFootprints is closed")
        steps = self.max_steps if max_steps is None else _check_max_steps(max_steps)
        lib = self._model.lib
        arr, n = _decision_array(decisions)
        res, fpres = _FlResult(), _FpResult()
        cb = _Callback(chooser) if chooser is not None else None
        rc = lib.fl_model_footprints(
            self._model.handle,
            self._fp.handle,
            arr,
            n,
            cb.cb if cb is not None else _CHOOSE_CB(),
            None,
            steps,
            self.flags,
            ctypes.byref(res),
            ctypes.byref(fpres),
        )
        if cb is not None:
            cb.reraise()
        if rc == -1 and res.outcome_id is None:
            raise NativeError("fl_model_footprints refused its arguments")
        results = _model_run_results(self._model, res, rc)
        return results, _steps_of(fpres, res.nevents)

    def bench(self, runs: int, seed: int = 0, recording: bool = True) -> int:
        """``runs`` runs with seeded random decisions in one C call, recording footprints
        (or, ``recording=False``, the instrumented library's plain runs); the total number
        of steps (for benchmarks)."""
        if self._model.handle is None:
            raise NativeError("ModelFootprints is closed")
        lib = self._model.lib
        if recording:
            total = lib.fl_model_fp_bench(
                self._model.handle, self._fp.handle, runs, seed & (2**64 - 1), self.max_steps
            )
        else:
            total = lib.fl_model_bench(self._model.handle, runs, seed & (2**64 - 1), self.max_steps)
        if total < 0:
            raise NativeError("C model error in the footprint bench")
        return int(total)

    def set_step_capacity(self, cells: int) -> None:
        """Test aid: a step recording more than ``cells`` cells (reads + writes) becomes an
        ``ALL_CELLS`` step (the default, and the maximum, is 8192)."""
        self._model.lib.fl_fp_set_capacity(self._fp.handle, max(0, cells))

    def state_digest(self) -> int:
        """A hash of the model's state after the last run (test aid: equal for runs that
        differ only in the order of independent steps; see fl_model_state_digest)."""
        if self._model.handle is None:
            raise NativeError("ModelFootprints is closed")
        return int(self._model.lib.fl_model_state_digest(self._model.handle))

    def close(self) -> None:
        self._fp.close()
        self._model.close()

    def __enter__(self) -> ModelFootprints:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_model_footprints(
    scenario_json: Any,
    protocol_knobs: Any,
    decisions: Sequence[int] = (),
    max_steps: int | None = None,
    *,
    chooser: Any = None,
    step_checks: bool = True,
    lockdep_cells: bool = True,
) -> tuple[ModelRunResults, list[StepInfo]]:
    """``run_model_results`` on the footprint library, plus one StepInfo per trace event
    (the same run, event for event, as ``run_model``'s).  ``step_checks``, ``lockdep_cells``:
    see ``ModelFootprints``.  For many runs of one scenario use a ``ModelFootprints``
    session.  NativeUnavailableError without the _fp library."""
    with ModelFootprints(
        scenario_json, protocol_knobs, max_steps, step_checks, lockdep_cells
    ) as mf:
        return mf.run(decisions, chooser)


class ToyFootprints:
    """An encoded toy program (``encode_toy``) on the footprint library, run as often as
    wanted; ``vars()`` gives its shared variables after the last run.  ``lockdep_cells``
    as for ``ModelFootprints``."""

    def __init__(self, encoded: Sequence[int], lockdep_cells: bool = True) -> None:
        lib = load_footprint_library()
        self._toy = _Toy(encoded, lib=lib)
        self._fp = _FpHandle()
        self._fp.lib = lib
        self._fp.handle = lib.fl_toy_fp_new(self._toy.handle)
        if not self._fp.handle:
            self._toy.close()
            raise NativeError("out of memory (footprint recorder)")
        lib.fl_fp_set_lockdep(self._fp.handle, 1 if lockdep_cells else 0)

    def run(
        self, decisions: Sequence[int] = (), max_steps: int = 10_000, chooser: Any = None
    ) -> tuple[ToyRun, list[StepInfo]]:
        if self._toy.handle is None:
            raise NativeError("ToyFootprints is closed")
        _check_max_steps(max_steps)
        lib = self._toy.lib
        arr, n = _decision_array(decisions)
        res, fpres = _FlResult(), _FpResult()
        cb = _Callback(chooser) if chooser is not None else None
        rc = lib.fl_toy_footprints(
            self._toy.handle,
            self._fp.handle,
            arr,
            n,
            cb.cb if cb is not None else _CHOOSE_CB(),
            None,
            max_steps,
            ctypes.byref(res),
            ctypes.byref(fpres),
        )
        if cb is not None:
            cb.reraise()
        if rc == -1 and res.outcome_id is None:
            raise NativeError("fl_toy_footprints refused its arguments")
        run = _toy_result(res)
        return run, _steps_of(fpres, res.nevents)

    def set_step_capacity(self, cells: int) -> None:
        """Test aid: see ``ModelFootprints.set_step_capacity``."""
        self._toy.lib.fl_fp_set_capacity(self._fp.handle, max(0, cells))

    def vars(self) -> list[int]:
        """The toy's shared variables var0..var2 after the last run."""
        if self._toy.handle is None:
            raise NativeError("ToyFootprints is closed")
        out = (ctypes.c_longlong * 3)()
        self._toy.lib.fl_toy_vars(self._toy.handle, out, 3)
        return list(out)

    def close(self) -> None:
        self._fp.close()
        self._toy.close()

    def __enter__(self) -> ToyFootprints:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_toy_footprints(
    encoded: Sequence[int],
    decisions: Sequence[int] = (),
    max_steps: int = 10_000,
    *,
    chooser: Any = None,
) -> tuple[ToyRun, list[StepInfo]]:
    """``run_toy_encoded`` on the footprint library, plus one StepInfo per trace event."""
    with ToyFootprints(encoded) as tf:
        return tf.run(decisions, max_steps, chooser)
