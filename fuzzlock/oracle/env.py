"""What the live-kernel oracle needs from the machine, and the swap file it brings.

* ``skip_reason()``: one line saying why the oracle cannot run here (not Linux, not root,
  no ``/proc/kpageflags``, no gcc, no userfaultfd, no ``UFFD_FEATURE_MOVE``), or None.
* ``kernel_protocol()``: the protocol matching the running kernel: ``v6.19`` on Linux
  >= 6.19 (the series is merged), ``v6.18`` before (docs/protocol.md#versions).
* ``swap_file()``: a context manager that creates a small swap file (64 MiB: dd, mkswap,
  swapon at the highest priority, so MADV_PAGEOUT writes to it and not to another
  device) and *always* removes it (swapoff and delete) on the way out, even on errors.
  It yields None when swapon is impossible; callers then skip MADV_PAGEOUT.

A swap file and zram differ (fuzzlock/oracle/README.md, "Swap"): zram completes the write synchronously and drops the swap cache at once, a
swap file can leave the folio in the swap cache under writeback.  The oracle pins the
swap file (the model's swap-in path is the swap-cache path of a non-synchronous device).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

UFFD_API = 0xAA
UFFDIO_API = 0xC018AA3F
UFFD_FEATURE_MOVE = 1 << 16
NR_USERFAULTFD = {"x86_64": 323, "aarch64": 282}
SWAP_MIB = 64


def kernel_version() -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def kernel_protocol() -> str:
    """``v6.19`` on Linux >= 6.19 (post-series), else ``v6.18`` (pre-series)."""
    return "v6.19" if kernel_version() >= (6, 19) else "v6.18"


def _uffd_move_reason() -> str | None:
    """Open a userfaultfd and do the API handshake asking for UFFD_FEATURE_MOVE."""
    nr = NR_USERFAULTFD.get(os.uname().machine)
    if nr is None:
        return f"userfaultfd syscall number unknown on {os.uname().machine}"
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fd = libc.syscall(nr, os.O_CLOEXEC | os.O_NONBLOCK)
    if fd < 0:
        return f"no userfaultfd ({os.strerror(ctypes.get_errno())})"
    try:
        buf = (ctypes.c_uint64 * 3)(UFFD_API, UFFD_FEATURE_MOVE, 0)
        libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
        if libc.ioctl(fd, UFFDIO_API, ctypes.addressof(buf)) != 0:
            return f"userfaultfd has no UFFD_FEATURE_MOVE ({os.strerror(ctypes.get_errno())})"
        if not buf[1] & UFFD_FEATURE_MOVE:
            return "userfaultfd has no UFFD_FEATURE_MOVE"
    finally:
        os.close(fd)
    return None


def skip_reason() -> str | None:
    """Why the live-kernel oracle cannot run here (one line), or None."""
    if os.uname().sysname != "Linux":
        return "not Linux"
    if os.geteuid() != 0:
        return "needs root (pagemap PFNs, /proc/kpagecount, /proc/kpageflags)"
    for p in ("/proc/self/pagemap", "/proc/kpagecount", "/proc/kpageflags"):
        if not os.access(p, os.R_OK):
            return f"no {p}"
    if shutil.which("gcc") is None:
        return "no gcc to build the oracle harness"
    return _uffd_move_reason()


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


LOCK_PATH = "fuzzlock-oracle.lock"
LOCK_TIMEOUT = 300.0


@contextlib.contextmanager
def machine_lock(directory: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """One oracle run with swap per machine at a time (flock on a fixed file).

    Swap areas are global: with two runs, MADV_PAGEOUT of one may write to the other's
    swap file (same priority: round robin), and that run's ``swapoff`` then swaps the
    pages back in, so present pages appear where the model has swap entries (seen here
    with two test runs at once)."""
    fd = os.open(directory / LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"kernel-check: another oracle run holds {directory / LOCK_PATH} "
                        f"for more than {timeout:.0f} s"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def swap_file(directory: str | None = None) -> Iterator[Path | None]:
    """A fresh swap file, swapped on for the block and always swapped off and deleted;
    held under ``machine_lock`` for its whole life."""
    d = Path(directory or ("/var/tmp" if os.path.isdir("/var/tmp") else tempfile.gettempdir()))
    with machine_lock(d):
        yield from _swap_file(d)


def _swap_file(d: Path) -> Iterator[Path | None]:
    fd, name = tempfile.mkstemp(prefix="fuzzlock-oracle-swap-", dir=d)
    os.close(fd)
    path = Path(name)
    on = False
    try:
        try:
            with open(path, "wb") as f:
                chunk = b"\0" * (1 << 20)
                for _ in range(SWAP_MIB):
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(path, 0o600)
            ok = (
                shutil.which("mkswap") is not None
                and shutil.which("swapon") is not None
                and _run("mkswap", str(path)).returncode == 0
                and _run("swapon", "-p", "32767", str(path)).returncode == 0
            )
        except OSError:
            ok = False
        on = ok
        yield path if ok else None
    finally:
        if on:
            r = _run("swapoff", str(path))
            if r.returncode != 0:  # do not leave it behind: retry once, then say so
                r = _run("swapoff", str(path))
            if r.returncode != 0:
                raise RuntimeError(f"swapoff {path} failed: {r.stderr.strip()}")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
