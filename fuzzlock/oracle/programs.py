"""The programs of the concurrent kernel oracle (``fuzzlock.oracle.concurrent``): the
sequential oracle's layout plus 2-3 threads of 1-3 ops each, as the harness's ``K``
spec, JSON and a shell reproducer; seeded random programs and the sticky -EAGAIN one."""

from __future__ import annotations

import random
import shlex
from typing import Any

import attrs

from fuzzlock.oracle.harness import MADV, region_start
from fuzzlock.oracle.sequential import Sequence, fmt_op
from fuzzlock.scenario import MOVE_MODES

Op = dict[str, Any]


@attrs.define
class Program:
    pages: int
    uffd: list[bool]
    init: list[tuple[int, int]]
    threads: list[list[Op]]

    @property
    def nregions(self) -> int:
        return len(self.uffd)

    def addrs(self) -> list[int]:
        return [region_start(i) + j for i in range(self.nregions) for j in range(self.pages)]

    def setup(self) -> tuple[Op, ...]:
        return Sequence(self.pages, self.uffd, self.init, []).scenario().setup

    def spec(self) -> str:
        """The harness ``K`` spec."""
        parts = []
        for ops in self.threads:
            out = []
            for o in ops:
                if o["op"] == "move":
                    mode = sum(MOVE_MODES[m] for m in o["mode"])
                    out.append(f"M:{o['dst']}:{o['src']}:{o['len']}:{mode}")
                elif o["op"] == "write":
                    out.append(f"W:{o['addr']}:{o['value']}")
                else:
                    out.append(f"A:{o['addr']}:{o['pages']}:{MADV[o['op']]}")
            parts.append(",".join(out))
        return "|".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"pages": self.pages, "uffd": self.uffd, "init": self.init, "threads": self.threads}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Program:
        return cls(
            int(obj["pages"]),
            [bool(u) for u in obj["uffd"]],
            [(int(a), int(v)) for a, v in obj["init"]],
            [[dict(o) for o in t] for t in obj["threads"]],
        )

    def describe(self) -> str:
        lines = [
            f"layout: {self.nregions} regions of {self.pages} pages at "
            + ", ".join(
                f"{region_start(i)}{' (uffd)' if u else ''}" for i, u in enumerate(self.uffd)
            ),
            "setup stores: " + (", ".join(f"{a}={v}" for a, v in self.init) or "none"),
        ]
        for t, ops in enumerate(self.threads):
            lines.append(f"  T{t}: " + "; ".join(fmt_op(o) for o in ops))
        return "\n".join(lines)

    def reproducer(self, livelock: bool = False) -> str:
        """A shell reproducer: the harness with this layout and one ``K`` line, which
        repeats the program until an outcome differs from its first round (a livelock:
        until the watchdog fires), then prints the results and the state."""
        mask = sum(1 << i for i, u in enumerate(self.uffd) if u)
        init = ",".join(f"{a}={v}" for a, v in self.init) or "-"
        k = "K 1000000 99" if livelock else "K 100000 -1"
        return (
            "gcc -O2 -o harness fuzzlock/oracle/harness.c && printf "
            + shlex.quote(f"{k} {self.spec()}\\nS\\nV\\nQ\\n")
            + f" | ./harness {self.nregions} {self.pages} {mask} -1 {init} 1"
        )


# --- random programs ---------------------------------------------------------------------------


def random_program(
    rng: random.Random, nthreads: int | None = None, max_ops: int = 3, pages: int = 4
) -> Program:
    nregions = 3
    uffd = [True, True, False]
    starts = [region_start(i) for i in range(nregions)]
    values = iter(rng.sample(range(2, 256), 60))
    init = [(s + j, next(values)) for s in starts for j in range(pages) if rng.random() < 0.6]
    n = nthreads or rng.choice([2, 2, 3])
    threads: list[list[Op]] = []
    for _ in range(n):
        ops: list[Op] = []
        for _ in range(rng.randrange(1, max_ops + 1)):
            k = rng.choices(
                ["move", "madvise_cold", "madvise_dontneed", "write"], [50, 20, 15, 15]
            )[0]
            if k == "move":
                ln = 1 if rng.random() < 0.7 else 2
                dst = rng.choice(starts[:2]) + rng.randrange(pages - ln + 1)
                src = rng.choice(starts) + rng.randrange(pages - ln + 1)
                mode = ["ALLOW_SRC_HOLES"] if rng.random() < 0.5 else []
                ops.append({"op": "move", "mm": 0, "dst": dst, "src": src, "len": ln, "mode": mode})
            elif k == "write":
                a = starts[2] + rng.randrange(pages)
                ops.append({"op": "write", "mm": 0, "addr": a, "value": next(values), "folio": ""})
            else:
                ln = rng.randrange(1, 3)
                a = rng.choice(starts) + rng.randrange(pages - ln + 1)
                ops.append({"op": k, "mm": 0, "addr": a, "pages": ln})
        threads.append(ops)
    return Program(pages, uffd, init, threads)


def sticky_program(src: int = 17, dst: int = 34) -> Program:
    return Program(
        4,
        [True, True, False],
        [(src, 66), (48, 77)],
        [
            [{"op": "move", "mm": 0, "dst": dst, "src": src, "len": 1, "mode": []}],
            [{"op": "madvise_cold", "mm": 0, "addr": src, "pages": 1}],
        ],
    )


__all__ = ["Op", "Program", "random_program", "sticky_program"]
