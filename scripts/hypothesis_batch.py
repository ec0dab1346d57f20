"""Detection time of the ``hypothesis`` strategy on native against its batch size.

How ``fuzzlock.search.hypothesis.HYPOTHESIS_NATIVE_BATCH`` was chosen: after each Hypothesis example (a
scenario and one schedule drawn by Hypothesis, the C model calling the chooser back) the
C model runs that many seeded random schedules of the same scenario in one call.  Batch 0
is the strategy without the batch.  For each setting, batch and seed one hunt runs until
its first violation (or ``--max-seconds``), without minimization; it records the
search's wall seconds to the first violation, the process CPU seconds (the machine is
shared: CPU time is the steadier number) and the schedules run.  Prints one JSON object
per hunt and a median table per (setting, batch), a miss counting as +inf.

    python scripts/hypothesis_batch.py --batch 0 32 128 --seeds 5 --max-seconds 60
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

SETTINGS = [
    "v6.19+anon_vma.free_handshake=false",
    "v6.18+anon_vma.free_handshake=false",
    "v6.18+move.recheck_src_after_sleep=false",
    "v6.19+cow.reuse_lock=none",
    "v6.18+walk.check_mapped_after_lock=false",
    "patch2-only",
]


def _proto(spec: str) -> object:
    from fuzzlock import protocol

    base, *knobs = spec.split("+")
    over: dict[str, protocol.KnobValue] = {"move.reset_err_on_retry": True}
    for k in knobs:
        name, value = protocol.parse_knob_arg(k)
        over[name] = value
    return protocol.get(base, over)


def main() -> None:
    from fuzzlock import campaign
    from fuzzlock.search import hypothesis as search_hypothesis

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[0, 32, 128])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--setting", action="append", help="base+knob=value... (default: a list)")
    args = ap.parse_args()
    rows: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    for spec in args.setting or SETTINGS:
        proto = _proto(spec)
        for batch in args.batch:
            search_hypothesis.HYPOTHESIS_NATIVE_BATCH = batch
            for seed in range(1, args.seeds + 1):
                cpu0 = time.process_time()
                res = campaign.hunt(
                    proto,
                    "native",
                    "hypothesis",
                    args.max_seconds,
                    None,
                    seed,
                    minimize_found=False,
                )
                cpu = time.process_time() - cpu0
                first = res.first_violation
                wall = first[1] if first else math.inf
                frac = (first[1] / res.seconds) if first and res.seconds else 1.0
                rate = res.schedules / res.seconds if res.seconds else 0.0
                rec = (wall, cpu * frac if first else math.inf, rate)
                rows.setdefault((spec, batch), []).append(rec)
                print(
                    json.dumps(
                        {
                            "setting": spec,
                            "batch": batch,
                            "seed": seed,
                            "verdict": res.verdict,
                            "invariant": res.invariant,
                            "first_seconds": first[1] if first else None,
                            "first_schedules": first[0] if first else None,
                            "schedules": res.schedules,
                            "seconds": round(res.seconds, 3),
                            "cpu_seconds": round(cpu, 3),
                        }
                    ),
                    flush=True,
                )
    print()
    # schedules/s: the whole hunt's (to the first violation, or the budget)
    print("| setting | batch | caught | median wall s | median CPU s | schedules/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for (spec, batch), recs in rows.items():
        caught = sum(1 for r in recs if math.isfinite(r[0]))
        med = statistics.median(r[0] for r in recs)
        cpu = statistics.median(r[1] for r in recs)
        rate = (
            statistics.median(r[2] / r[0] for r in recs if math.isfinite(r[0]) and r[0] > 0)
            if caught
            else 0
        )
        print(
            f"| {spec} | {batch} | {caught}/{len(recs)} | "
            f"{'-' if math.isinf(med) else f'{med:.2f}'} | {'-' if math.isinf(cpu) else f'{cpu:.2f}'} | "
            f"{rate:,.0f} |"
        )


if __name__ == "__main__":
    main()
