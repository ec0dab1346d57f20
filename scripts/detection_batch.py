"""Detection time of ``fuzzlock hunt --backend native`` against the batch size.

How ``search.seeded.NATIVE_BATCH`` (schedules per generated scenario in one C call) was
chosen: for each setting and seed, a native hunt (``--strategy random`` unless
``--strategy``) runs until its first violation, without minimization; it records the
search's wall seconds, the process CPU seconds (the machine is shared: CPU time is the
steadier number), and the schedules run.  Prints one JSON object per hunt and a median
table per (setting, batch).

    python scripts/detection_batch.py --batch 1 8 32 128 --seeds 10
    python scripts/detection_batch.py --old    # the per-schedule loop, see --old below

``--per-call`` measures the hunt loop this replaced (one ctypes call per schedule, pre-drawn
decisions; a port of it onto ``fuzzlock.search.Strategy`` is below) on the current model
and generator.  ``--old`` measures a whole older tree (its loop, model and generator): run
it with ``FUZZLOCK_OLD_TREE`` naming an exported older tree (its ``fuzzlock/`` package is
imported instead of the installed one) and ``FUZZLOCK_NATIVE_LIB`` its library, e.g.
``git archive <commit> fuzzlock native | tar -x -C /tmp/old`` and
``gcc -std=c11 -O2 -shared -fPIC -I/tmp/old/native -o /tmp/old/lib.so /tmp/old/native/*.c``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

SETTINGS = [
    "patch2-only",
    "v6.18+move.anon_vma_lock=false",
    "v6.19+move.recheck_dst_under_ptl=false",
    "v6.18+move.lock_order=anon-vma-first",
    "v6.18+move.recheck_src_after_sleep=false",
    "v6.18+walk.check_mapped_after_lock=false",
]


def _use_old_tree() -> None:
    tree = os.environ.get("FUZZLOCK_OLD_TREE")
    if not tree:
        sys.exit("--old needs FUZZLOCK_OLD_TREE (and FUZZLOCK_NATIVE_LIB): see the docstring")
    sys.meta_path[:] = [
        f for f in sys.meta_path if "editable" not in repr(f).lower() and "skbc" not in repr(f)
    ]
    sys.path.insert(0, tree)


def per_call_strategy(strategy: str) -> Any:
    """The native hunt loop before the batched C loop (commit 4b697db) as a
    ``fuzzlock.search.Strategy``: per seeded scenario one ``Backend.run`` call with
    pre-drawn decisions (``predraw_random`` / ``predraw_pct``), the scenario on the reference
    with the Python chooser when the backend refuses it, a violation confirmed on the
    reference (``differential`` otherwise)."""
    import random
    from collections.abc import Generator

    from fuzzlock import backends, model, scenarios, trace
    from fuzzlock.sched import PCTChooser, RandomChooser
    from fuzzlock.search.base import Context, Found, Strategy, confirmed
    from fuzzlock.search.pct import predraw_pct
    from fuzzlock.search.random import RANDOM_PREEMPTS, predraw_random

    class PerCall(Strategy):
        name = strategy

        def rounds(self, ctx: Context) -> Generator[Found | None, None, None]:
            rng = random.Random(ctx.seed)
            pct_k: list[int] = []
            recent = 64
            while True:
                sc_seed = rng.randrange(2**32)
                sc = scenarios.gen_scenario(scenarios.RandomSource(random.Random(sc_seed)))
                run_seed = rng.randrange(2**32)
                n_pre = min(sc.max_steps, 2 * recent + 16)
                if strategy == "random":
                    preempt = rng.choice(RANDOM_PREEMPTS)
                    chooser: Any = RandomChooser(run_seed, preempt=preempt)
                    pre = predraw_random(random.Random(run_seed), n_pre, preempt)
                else:
                    depth = rng.choice((2, 3))
                    k = max(max(pct_k[-50:], default=60), 1)
                    chooser = PCTChooser(run_seed, len(sc.threads), depth=depth, k=k)
                    pre = predraw_pct(random.Random(run_seed), n_pre, len(sc.threads), depth, k)
                try:
                    run = ctx.backend.run(sc, ctx.proto, pre)
                except model.SetupError:
                    yield None
                    continue
                except backends.Unsupported:
                    try:
                        r = ctx.reference.run(sc, ctx.proto, chooser=chooser)
                    except model.SetupError:
                        yield None
                        continue
                    ctx.stats.fallback += 1
                    ctx.stats.add(r.steps, r.digest, r.violated)
                    if r.violated:
                        yield Found(sc, r.trimmed_decisions(), r.outcome, ctx.seed)
                        return
                    yield None
                    continue
                ndec = len(run.decisions)
                recent = max(16, (recent + ndec) // 2) if ndec < recent else ndec
                ctx.stats.add(len(run.events), trace.digest(run.events), run.violated)
                if strategy == "pct":
                    pct_k.append(ndec)
                if run.violated:
                    yield confirmed(ctx, sc, run)
                    return
                yield None

    return PerCall()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--setting", nargs="*", default=SETTINGS)
    ap.add_argument("--batch", nargs="*", type=int, default=[32])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--strategy", default="random", choices=("random", "pct"))
    ap.add_argument("--max-seconds", type=float, default=30.0)
    ap.add_argument("--per-call", action="store_true", help="the replaced per-schedule loop")
    ap.add_argument("--old", action="store_true", help="a whole older tree (FUZZLOCK_OLD_TREE)")
    args = ap.parse_args()
    if args.old:
        _use_old_tree()
    from fuzzlock import campaign, protocol

    rows: list[dict[str, Any]] = []
    label = "old tree" if args.old else "per-call" if args.per_call else None
    batches = [0] if label else args.batch
    for setting in args.setting:
        base, *knobs = setting.split("+")
        over = dict(protocol.parse_knob_arg(k) for k in knobs)
        proto = protocol.get(base, {"move.reset_err_on_retry": True, **over})
        for b in batches:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                strategy: Any = args.strategy  # --old: the older tree's own loop
                if args.per_call:
                    strategy = per_call_strategy(args.strategy)
                elif not label:
                    from fuzzlock import search

                    strategy = search.get(args.strategy, batch=b)
                c0, w0 = time.process_time(), time.monotonic()
                res = campaign.hunt(
                    proto,
                    "native",
                    strategy,
                    max_seconds=args.max_seconds,
                    seed=seed,
                    minimize_found=False,
                )
                row = {
                    "setting": setting,
                    "batch": label or b,
                    "seed": seed,
                    "invariant": res.invariant,
                    "search_s": round(res.seconds, 4),
                    "cpu_s": round(time.process_time() - c0, 4),
                    "wall_s": round(time.monotonic() - w0, 4),
                    "schedules": res.schedules,
                    "steps": res.steps,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"# load average {os.getloadavg()}", file=sys.stderr)
    print(
        "| setting | batch | found | median search s | median CPU s | median schedules |",
        file=sys.stderr,
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |", file=sys.stderr)
    keys = sorted(
        {(r["setting"], str(r["batch"])) for r in rows},
        key=lambda k: (args.setting.index(k[0]), int(k[1]) if k[1].isdigit() else -1),
    )
    for setting, b in keys:
        rs = [r for r in rows if r["setting"] == setting and str(r["batch"]) == b]
        found = sum(1 for r in rs if r["invariant"])
        print(
            f"| {setting} | {b} | {found}/{len(rs)} | "
            f"{statistics.median(r['search_s'] for r in rs):.3f} | "
            f"{statistics.median(r['cpu_s'] for r in rs):.3f} | "
            f"{statistics.median(r['schedules'] for r in rs):.0f} |",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
