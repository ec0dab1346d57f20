"""The live-kernel oracle: run operation sequences on the running kernel and on the model.

Sequential conformance (issue 6): random, seeded sequences of UFFDIO_MOVE (single and
multi-page, with and without ALLOW_SRC_HOLES), stores, loads, fork (a child that stores,
loads or exits), MADV_DONTNEED, MADV_COLD and MADV_PAGEOUT over 3 private anonymous
regions of 4 pages (two uffd-registered, one not), compared after every step
(``sequential``).  The kernel side is ``harness.c``, compiled at run time with gcc into a
temp dir and pinned to one CPU; MADV_PAGEOUT uses a 64 MiB swap file created for the run
and always removed (``env.swap_file``).  See fuzzlock/oracle/README.md for what is compared and the
pitfalls it avoids.

    from fuzzlock import oracle
    summary = oracle.run_sequential(steps=2000, seed=1)
    summary.mismatches  # [] when kernel and model agree
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from fuzzlock.oracle.env import kernel_protocol, skip_reason

if TYPE_CHECKING:  # the model is imported only when a check runs (the CLI stays fast)
    from fuzzlock.oracle.sequential import Mismatch, Sequence


def __getattr__(name: str) -> Any:
    if name in ("Mismatch", "Sequence"):
        from fuzzlock.oracle import sequential

        return getattr(sequential, name)
    raise AttributeError(name)


@attrs.define
class Summary:
    protocol: str
    seed: int
    steps: int = 0
    sequences: int = 0
    swap: bool = False
    seconds: float = 0.0
    mismatches: list[Mismatch] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "seed": self.seed,
            "steps": self.steps,
            "sequences": self.sequences,
            "pageout": self.swap,
            "seconds": round(self.seconds, 2),
            "mismatches": [
                {
                    "step": m.step,
                    "what": m.what,
                    "sequence": m.seq.to_json(),
                    "report": m.report(),
                }
                for m in self.mismatches
            ],
        }


def run_sequential(
    steps: int = 2000,
    seed: int = 0,
    length: int = 24,
    proto: str | None = None,
    knobs: dict[str, Any] | None = None,
    minimize: bool = True,
    max_mismatches: int = 5,
    pageout: bool = True,
    time_budget: float | None = None,
    accept: Callable[[Sequence], bool] | None = None,
    known_gaps: bool = False,
    log: Callable[[str], None] | None = None,
) -> Summary:
    """Random sequences of ``length`` ops until ``steps`` ops were compared (or the time
    budget is spent).  Raises nothing on a mismatch: it is in ``Summary.mismatches``
    (minimized when ``minimize``).  ``accept`` filters generated sequences."""
    from fuzzlock import protocol
    from fuzzlock.oracle import env, harness, sequential

    p = protocol.get(proto or kernel_protocol(), knobs)
    s = Summary(p.name, seed)
    exe = harness.build()
    cpu = harness.pick_cpu()
    rng = random.Random(seed)
    with env.swap_file() as swap:  # also: one such run per machine at a time
        t0 = time.monotonic()
        s.swap = swap is not None and pageout
        if log and pageout and swap is None:
            log("kernel-check: swapon impossible here: MADV_PAGEOUT ops skipped")
        while s.steps < steps:
            if time_budget is not None and time.monotonic() - t0 > time_budget:
                break
            seq = sequential.random_sequence(
                rng, min(length, steps - s.steps), s.swap, known_gaps=known_gaps
            )
            if not seq.ops or (accept is not None and not accept(seq)):
                continue
            m, n = sequential.check_sequence(seq, p, exe, cpu)
            s.steps += n
            s.sequences += 1
            if m is not None:
                if minimize:

                    def again(q: Sequence) -> Mismatch | None:
                        return sequential.check_sequence(q, p, exe, cpu)[0]

                    m = sequential.minimize(m, again)
                s.mismatches.append(m)
                if log:
                    log(m.report())
                if len(s.mismatches) >= max_mismatches:
                    break
    s.seconds = time.monotonic() - t0
    return s


__all__ = [
    "Mismatch",
    "Sequence",
    "Summary",
    "kernel_protocol",
    "run_sequential",
    "skip_reason",
]
