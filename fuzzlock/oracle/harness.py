"""The live side of the oracle: ``harness.c`` compiled at run time, driven over pipes.

One ``Harness`` is one process owning the oracle regions (fresh for every sequence).  It
speaks the line protocol documented at the top of ``harness.c``.  ``state()`` returns
the raw /proc view of every page of every live mm::

    {(mm, addr): KPage(kind, pfn_or_entry, mapcount, pae)}

* pagemap (as root): bit 63 present, bit 62 swapped, bits 0-54 the PFN (or, swapped, the
  swap type | offset << 5);
* ``/proc/kpagecount``: the page's mapcount;
* ``/proc/kpageflags``: bit 24 KPF_ZERO_PAGE (ABI), and bit 34, which is *not* ABI: it is
  KPF_OWNER_2, a raw copy of PG_owner_2 (fs/proc/page.c "kernel hacking assistances"),
  which an anon page uses as PG_anon_exclusive (include/linux/page-flags.h).  True on
  6.12..6.18 at least; a kernel that renumbers page flags breaks this (the oracle would
  then report PageAnonExclusive mismatches on every write).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

SOURCE = Path(__file__).with_name("harness.c")
PM_PRESENT = 1 << 63
PM_SWAP = 1 << 62
PM_PFN_MASK = (1 << 55) - 1
KPF_ZERO_PAGE = 1 << 24
KPF_ANON_EXCLUSIVE = 1 << 34  # KPF_OWNER_2 = PG_anon_exclusive: not ABI
MADV = {"madvise_dontneed": 4, "madvise_cold": 20, "madvise_pageout": 21}
REGION_STRIDE = 16  # region i starts at page 16 + 16 i, as in the scenario
KEEPER_OFFSET = 6  # the keeper page of region i: page 16 + 16 i + 6 (see harness.c)


class KPage(NamedTuple):
    kind: str  # none | zero | present | swap
    ident: int  # PFN (present) or swap entry (swap); compared only after relabelling
    mapcount: int
    pae: bool


def region_start(i: int) -> int:
    return REGION_STRIDE + REGION_STRIDE * i


_BUILT: dict[str, Path] = {}


def build(workdir: Path | None = None) -> Path:
    """Compile harness.c once per process into a temp dir (gcc -O2)."""
    key = str(workdir)
    if key in _BUILT and _BUILT[key].exists():
        return _BUILT[key]
    if workdir is None:
        d = Path(tempfile.mkdtemp(prefix="fuzzlock-oracle-"))
        atexit.register(shutil.rmtree, d, True)
    else:
        d = workdir
    exe = d / "harness"
    gcc = shutil.which("gcc") or "gcc"
    r = subprocess.run(
        [gcc, "-O2", "-Wall", "-o", str(exe), str(SOURCE)], capture_output=True, text=True
    )
    if r.returncode != 0:
        raise RuntimeError(f"gcc failed on {SOURCE}: {r.stderr.strip()}")
    _BUILT[key] = exe
    return exe


class HarnessError(RuntimeError):
    pass


class Harness:
    """One harness process: regions of ``pages`` pages, ``uffd`` says which are
    registered, ``init`` the (addr, value) stores done before registering (the
    scenario's setup writes)."""

    def __init__(
        self,
        exe: Path,
        nregions: int,
        pages: int,
        uffd: list[bool],
        init: list[tuple[int, int]],
        cpu: int,
        keepers: bool = True,
    ) -> None:
        self.nregions, self.pages = nregions, pages
        mask = sum(1 << i for i, u in enumerate(uffd) if u)
        initarg = ",".join(f"{a}={v}" for a, v in init) or "-"
        self.p = subprocess.Popen(
            [str(exe), str(nregions), str(pages), str(mask), str(cpu), initarg, str(int(keepers))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        line = self._line()
        if not line.startswith("ready"):
            self.close()
            raise HarnessError(f"harness did not start: {line}")

    def _line(self) -> str:
        assert self.p.stdout is not None
        line = self.p.stdout.readline()
        if not line:
            raise HarnessError(f"harness died (exit {self.p.poll()})")
        return line.rstrip("\n")

    def _cmd(self, cmd: str) -> str:
        assert self.p.stdin is not None
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        line = self._line()
        if not line.startswith("R "):
            raise HarnessError(f"harness: {cmd!r} -> {line!r}")
        return line[2:]

    # --- operations: results in the model's terms (fuzzlock.model.do_op) ---

    def op(self, o: dict[str, Any]) -> tuple[int, int | None] | str:
        """Run one scenario op; a move gives (ret, move), the rest a string like the
        model's result (``0``, ``uffd-missing``, the value read, the child id, ``-22``)."""
        k = o["op"]
        if k == "move":
            mode = (1 if "DONTWAKE" in o["mode"] else 0) | (
                2 if "ALLOW_SRC_HOLES" in o["mode"] else 0
            )
            rc, err, mv = self._cmd(f"M {o['dst']} {o['src']} {o['len']} {mode}").split()
            ret = 0 if int(rc) == 0 else -int(err)
            return (ret, None if mv == "none" else int(mv))
        if k == "write":
            return self._cmd(f"W {o['mm']} {o['addr']} {o['value']}")
        if k == "read":
            return self._cmd(f"L {o['mm']} {o['addr']}")
        if k == "fork":
            return self._cmd(f"F {o['child']}")
        if k == "exit":
            return self._cmd(f"X {o['mm']}")
        if k in MADV:
            rc, err = self._cmd(f"A {o['mm']} {o['addr']} {o['pages']} {MADV[k]}").split()
            return "0" if int(rc) == 0 else str(-int(err))
        raise ValueError(f"oracle: unsupported op {k!r}")

    def state(self) -> dict[tuple[int, int], KPage]:
        assert self.p.stdin is not None
        self.p.stdin.write("S\n")
        self.p.stdin.flush()
        out: dict[tuple[int, int], KPage] = {}
        while True:
            line = self._line()
            if line == "E":
                return out
            _, mm, addr, e, cnt, flags = line.split()
            ent, c, fl = int(e), int(cnt), int(flags)
            if ent & PM_PRESENT:
                pfn = ent & PM_PFN_MASK
                if fl & KPF_ZERO_PAGE:
                    kp = KPage("zero", 0, 0, False)
                else:
                    kp = KPage("present", pfn, c, bool(fl & KPF_ANON_EXCLUSIVE))
            elif ent & PM_SWAP:
                kp = KPage("swap", ent & PM_PFN_MASK, 0, False)
            else:
                kp = KPage("none", 0, 0, False)
            out[(int(mm), int(addr))] = kp

    def close(self) -> None:
        if self.p.poll() is None:
            try:
                assert self.p.stdin is not None
                self.p.stdin.write("Q\n")
                self.p.stdin.flush()
                self.p.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                self.p.kill()
                self.p.wait()
        for f in (self.p.stdin, self.p.stdout):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pick_cpu() -> int:
    """One CPU this process may run on (the harness pins itself to it)."""
    try:
        return min(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return -1
