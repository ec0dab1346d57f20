"""Detection time of ``fuzzlock hunt --backend native`` against the batch size.

How ``campaign.NATIVE_BATCH`` (schedules per generated scenario in one C call) was chosen:
for each setting and seed, a native hunt (``--strategy random`` unless ``--strategy``) runs
until its first violation, without minimization; it records the search's wall seconds, the
process CPU seconds (the machine is shared: CPU time is the steadier number), and the
schedules run.  Prints one JSON object per hunt and a median table per (setting, batch).

    python scripts/detection_batch.py --batch 1 8 32 128 --seeds 10
    python scripts/detection_batch.py --old    # the per-schedule loop, see --old below

``--per-call`` measures the hunt loop this replaced (one ctypes call per schedule, pre-drawn
decisions; a copy of it is below) on the current model and generator.  ``--old`` measures a
whole older tree (its loop, model and generator): run it with ``FUZZLOCK_OLD_TREE`` naming an exported older tree (its
``fuzzlock/`` package is imported instead of the installed one) and ``FUZZLOCK_NATIVE_LIB``
its library, e.g. ``git archive <commit> fuzzlock native | tar -x -C /tmp/old`` and
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


def per_call_hunt_native(
    proto: Any,
    strategy: str,
    seed: int,
    budget: int,
    max_seconds: float,
    stats: Any,
    notes: list[str],
    counts: list[int],
    batch: int | None = None,
) -> Any:
    """The native hunt loop before the batched C loop (commit 4b697db), unchanged but for
    the imports: one ``native.run_model`` call per schedule with pre-drawn decisions."""
    import random

    from fuzzlock import model, native, scenarios, trace
    from fuzzlock.campaign import (
        DIFFERENTIAL,
        Found,
        _Differential,
        confirm_on_python,
        predraw_pct,
        predraw_random,
        run_native,
    )
    from fuzzlock.sched import PCTChooser, RandomChooser

    rng = random.Random(seed)
    pct_k: list[int] = []
    recent = 64
    found = diff = None
    while stats.schedules < budget and stats.seconds < max_seconds:
        sc_seed = rng.randrange(2**32)
        sc = scenarios.gen_scenario(scenarios.RandomSource(random.Random(sc_seed)))
        run_seed = rng.randrange(2**32)
        n_pre = min(sc.max_steps, 2 * recent + 16)
        if strategy == "random":
            preempt = rng.choice((0.05, 0.2, 0.5, 1.0))
            chooser: Any = RandomChooser(run_seed, preempt=preempt)
            pre = predraw_random(random.Random(run_seed), n_pre, preempt)
        else:
            depth = rng.choice((2, 3))
            k = max(pct_k[-50:], default=60) if pct_k else 60
            chooser = PCTChooser(run_seed, len(sc.threads), depth=depth, k=max(k, 1))
            pre = predraw_pct(random.Random(run_seed), n_pre, len(sc.threads), depth, max(k, 1))
        try:
            outcome, events, decs, violated = run_native(sc, proto, pre)
        except native.NativeSetupError:
            continue
        except native.NativeError:
            try:
                r = model.run(sc, proto, chooser=chooser)
            except model.SetupError:
                continue
            counts[1] += 1
            stats.add(r)
            if r.violation is not None:
                found = Found(sc, r.result.trimmed_decisions(), r.outcome, seed)
                break
            continue
        counts[0] += 1
        recent = max(16, (recent + len(decs)) // 2) if len(decs) < recent else len(decs)
        stats.add_raw(len(events), trace.digest(events), violated)
        if strategy == "pct":
            pct_k.append(len(decs))
        if violated:
            dec = list(decs)
            while dec and dec[-1] == 0:
                dec.pop()
            msg = confirm_on_python(sc, proto, dec, outcome, events)
            if msg is not None:
                diff = _Differential(Found(sc, dec, DIFFERENTIAL, seed, "native"), msg)
            else:
                found = Found(sc, dec, outcome, seed, "native")
            break
    return found, diff


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

    if args.per_call:
        campaign._hunt_native = per_call_hunt_native  # type: ignore[assignment]
    rows: list[dict[str, Any]] = []
    label = "old tree" if args.old else "per-call" if args.per_call else None
    batches = [0] if label else args.batch
    for setting in args.setting:
        base, *knobs = setting.split("+")
        over = dict(protocol.parse_knob_arg(k) for k in knobs)
        proto = protocol.get(base, {"move.reset_err_on_retry": True, **over})
        for b in batches:
            if not label:
                campaign.NATIVE_BATCH = b  # type: ignore[attr-defined]
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                c0, w0 = time.process_time(), time.monotonic()
                res = campaign.hunt(
                    proto,
                    "native",
                    args.strategy,
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
