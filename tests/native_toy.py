"""The toy programs of tests/sched/toy.py on the C scheduler: test support, not product.

tests/native/toy.c is built into a library of its own, for the tests only (the product library
has no toy code): ``library()`` compiles it with the C model's sources with ``cc`` into
build/test-toy/ (cached by a hash of the sources), and ``fp_library()`` the footprint
variant the way CMakeLists.txt builds libfuzzlock_native_fp.so.  Without a C compiler
(or without gcc, for the footprint variant) they raise NativeUnavailableError and the
tests skip, saying why.  Both pass the ABI handshake (``fuzzlock.native.abi.check``).

``run_toy`` runs one program with a decision list (or a Python chooser, called back from
C, or the C PCT chooser) in one ctypes call; tests/native compares it with the Python
scheduler event for event.  ``ToyFootprints`` records per-step footprints.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fuzzlock.native import abi
from fuzzlock.native._schema import CHOOSE_CB, FlResult, FpResult
from fuzzlock.native.encoding import (
    INT64_MAX as _INT64_MAX,
)
from fuzzlock.native.encoding import (
    INT64_MIN as _INT64_MIN,
)
from fuzzlock.native.encoding import (
    Event,
)
from fuzzlock.native.encoding import (
    check_max_steps as _check_max_steps,
)
from fuzzlock.native.encoding import (
    check_pct as _check_pct,
)
from fuzzlock.native.encoding import (
    decision_array as _decision_array,
)
from fuzzlock.native.errors import NativeError, NativeUnavailableError
from fuzzlock.native.footprints import FpHandle as _FpHandle
from fuzzlock.native.footprints import steps_of as _steps_of
from fuzzlock.native.runners import Callback as _Callback
from fuzzlock.native.runners import Handle as _Handle
from fuzzlock.native.runners import NativeRun
from fuzzlock.native.runners import run_of as _toy_result
from fuzzlock.sched.footprint import StepInfo

ToyRun = NativeRun

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
CACHE = ROOT / "build" / "test-toy"
_CFLAGS = ["-std=c11", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror", f"-I{NATIVE}"]


def _fp_plain() -> list[str]:
    """The sources CMakeLists.txt builds uninstrumented into libfuzzlock_native_fp.so."""
    text = (ROOT / "CMakeLists.txt").read_text()
    m = re.search(r"set\(_fl_fp_plain\s+([^)]*)\)", text)
    if m is None:
        raise NativeUnavailableError("CMakeLists.txt has no _fl_fp_plain list")
    return m.group(1).split()


_FP_PLAIN = _fp_plain()
_FP_INST = ["-fsanitize=thread", "--param=tsan-instrument-func-entry-exit=0", "-fno-builtin"]
_FP_WRAP = ["memcpy", "memmove", "memset", "strlen", "strcmp", "snprintf", "vsnprintf"]


def _sources() -> list[Path]:
    """The C model's sources without the hunt loop (product only), plus tests/native/toy.c."""
    toy = ROOT / "tests" / "native" / "toy.c"
    return [*sorted(p for p in NATIVE.glob("*.c") if p.name != "hunt.c"), toy]


def _cc() -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc or not shutil.which(cc):
        raise NativeUnavailableError("no C compiler (cc) to build the test toy library")
    return cc


def _build(fp: bool) -> Path:
    """Build (or find in the cache) the toy library; its path."""
    cc = _cc()
    h = hashlib.sha256(f"{cc} {fp} {_CFLAGS}".encode())
    for p in [*_sources(), *NATIVE.glob("*.h")]:
        h.update(p.name.encode() + p.read_bytes())
    name = "libfuzzlock_toy_fp.so" if fp else "libfuzzlock_toy.so"
    out = CACHE / h.hexdigest()[:16] / name
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if out.is_file():
            return out
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            try:
                _compile(cc, fp, Path(tmp), out)
            except subprocess.CalledProcessError as exc:
                err = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
                raise NativeUnavailableError(
                    f"cannot build the test toy library with {cc}: {err[-1] if err else exc}"
                ) from None
    return out


def _compile(cc: str, fp: bool, tmp: Path, out: Path) -> None:
    srcs = _sources()
    run = lambda args: subprocess.run(args, check=True, capture_output=True, cwd=tmp)  # noqa: E731
    part = tmp / out.name
    if not fp:
        run([cc, *_CFLAGS, "-shared", "-o", str(part), *map(str, srcs)])
    else:
        plain = [p for p in srcs if p.name in _FP_PLAIN]
        inst = [p for p in srcs if p.name not in _FP_PLAIN]
        flags = [*_CFLAGS, "-DFL_FOOTPRINT=1"]
        (tmp / "inst").mkdir()
        (tmp / "plain").mkdir()
        subprocess.run(
            [cc, *flags, *_FP_INST, "-c", *map(str, inst)],
            check=True,
            capture_output=True,
            cwd=tmp / "inst",
        )
        subprocess.run(
            [cc, *flags, "-c", *map(str, plain)], check=True, capture_output=True, cwd=tmp / "plain"
        )
        objs = sorted(str(p) for p in tmp.glob("*/*.o"))
        wrap = [f"-Wl,--wrap={f}" for f in _FP_WRAP]
        run([cc, "-shared", "-o", str(part), *objs, "-Wl,-z,defs", *wrap])
    os.replace(part, out)


_libs: dict[bool, Any] = {}


def _load(fp: bool) -> Any:
    if fp not in _libs:
        try:
            path = _build(fp)
            lib = ctypes.CDLL(str(path))
            abi.check(lib, path, "toy_fp" if fp else "toy", f"delete {CACHE} and run again")
            if fp and lib.fl_fp_instrumented() != 1:
                raise NativeUnavailableError(f"{path} is not instrumented")
            _libs[fp] = lib
        except (NativeUnavailableError, OSError) as exc:
            _libs[fp] = NativeUnavailableError(str(exc))
    got = _libs[fp]
    if isinstance(got, Exception):
        raise got
    return got


def library() -> Any:
    """The test toy library (built on first use); NativeUnavailableError without cc."""
    return _load(False)


def fp_library() -> Any:
    """Its footprint variant (needs gcc); NativeUnavailableError without it."""
    return _load(True)


def unavailable_reason(fp: bool = False) -> str:
    """Why the (footprint) toy library cannot be used, or ''."""
    try:
        _load(fp)
    except NativeUnavailableError as exc:
        return str(exc)
    return ""


def debug_flip_decision_rule(on: bool) -> bool:
    """Test only: flip the toy library's C decision rule (see abi.debug_flip_decision_rule)."""
    return abi.debug_flip_decision_rule(on, lib=library())


#: Action codes of the toy programs of tests/sched/toy.py (``enum toy_code`` in tests/native/toy.c).
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


def encode_toy(
    program: Sequence[Sequence[tuple[Any, ...]]],
    setup: Sequence[tuple[Any, ...]] = (),
    checks: bool = False,
) -> list[int]:
    """The flat int encoding of a toy program, its optional setup and flags (see
    tests/native/toy.c); ValueError if it has an action or argument the C side cannot represent."""
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


class _Toy(_Handle):
    """A parsed toy program on the C side (``struct fl_toy``); close() frees it."""

    _free = "fl_toy_free"

    def __init__(self, encoded: Sequence[int], lib: Any = None) -> None:
        self.lib = lib if lib is not None else library()
        arr = (ctypes.c_longlong * len(encoded))(*encoded)
        err = ctypes.create_string_buffer(256)
        handle = self.lib.fl_toy_new(arr, len(encoded), err, len(err))
        if not handle:
            raise NativeError(f"malformed toy program: {err.value.decode(errors='replace')}")
        self.handle: int | None = handle


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
        res = FlResult()
        if pct is not None:
            seed, depth, k = _check_pct(pct)
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


class ToyFootprints:
    """An encoded toy program (``encode_toy``) on the footprint library, run as often as
    wanted; ``vars()`` gives its shared variables after the last run.  ``lockdep_cells``
    as for ``ModelFootprints``."""

    def __init__(self, encoded: Sequence[int], lockdep_cells: bool = True) -> None:
        lib = fp_library()
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
        res, fpres = FlResult(), FpResult()
        cb = _Callback(chooser) if chooser is not None else None
        rc = lib.fl_toy_footprints(
            self._toy.handle,
            self._fp.handle,
            arr,
            n,
            cb.cb if cb is not None else CHOOSE_CB(),
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
