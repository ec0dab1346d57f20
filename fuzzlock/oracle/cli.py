"""``fuzzlock kernel-check``: the live-kernel oracle from the command line.

Sequential (default): exit status 0 = kernel and model agree on every step, or the check
is skipped here (one line with the word "skipped"); 1 = a mismatch (printed: the
sequence, the step, both states); 2 = bad arguments.

``--concurrent [--runs N] [--seed S] [--json]``: threads racing on the live kernel, each
outcome classified by the model (fuzzlock/oracle/concurrent.py).  Exit 0 when every
outcome is reproduced (cleanly, or only through an invariant violation: a kernel
finding, printed with the invariant and the interleaving); 1 when some outcome is not
reproduced by any explored schedule (or the setup states differ).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fuzzlock import argtypes

    parser.add_argument(
        "--steps", type=argtypes.positive_int, default=2000, help="operations to compare"
    )
    parser.add_argument("--seed", type=argtypes.seed, default=0, help="random seed")
    parser.add_argument(
        "--length", type=argtypes.positive_int, default=24, help="operations per sequence"
    )
    parser.add_argument(
        "--protocol",
        default=None,
        help="model protocol, NAME or NAME+KNOB=VALUE+... (default: the running kernel's)",
    )
    parser.add_argument(
        "--knob",
        action="append",
        default=[],
        metavar="K=V",
        help="override a model knob (repeatable): check a variant against the kernel "
        "(default: none)",
    )
    parser.add_argument(
        "--known-gaps",
        action="store_true",
        help="also generate sequences that reach the documented model gaps (fuzzlock/oracle/README.md)",
    )
    parser.add_argument(
        "--replay",
        metavar="PATH",
        help="rerun the sequences of a --json summary (or one sequence object) instead "
        "(default: random sequences)",
    )
    parser.add_argument("--no-minimize", action="store_true", help="report mismatches as found")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.add_argument(
        "--concurrent",
        action="store_true",
        help="concurrent mode: threads racing on the live kernel, each outcome checked for "
        "an interleaving the model reproduces",
    )
    parser.add_argument(
        "--runs",
        type=argtypes.positive_int,
        default=100,
        help="--concurrent: racing programs to run",
    )
    parser.add_argument(
        "--schedules",
        type=argtypes.positive_int,
        default=2000,
        help="--concurrent: model schedules to search per outcome",
    )


def run(args: argparse.Namespace) -> int:
    from fuzzlock import oracle, protocol

    try:
        # NAME+KNOB=VALUE names and --knob both become knob overrides of the base protocol
        p = protocol.parse(args.protocol or oracle.kernel_protocol(), args.knob)
        args.protocol, knobs = p.base, dict(p.overrides)
    except protocol.ProtocolError as e:
        print(f"fuzzlock kernel-check: error: {e}", file=sys.stderr)
        return 2
    if args.concurrent and (knobs or args.replay or args.known_gaps):
        print(
            "fuzzlock kernel-check: error: --concurrent takes no knob overrides (--knob, "
            "NAME+KNOB=VALUE), --replay or --known-gaps",
            file=sys.stderr,
        )
        return 2
    reason = oracle.skip_reason()
    if reason:
        if args.json:
            print(json.dumps({"skipped": reason}))
        else:
            print(f"kernel-check skipped: {reason}")
        return 0
    if args.concurrent:
        return _concurrent(args)
    if args.replay:
        return _replay(args, knobs)
    log = None if args.json else (lambda m: print(m, flush=True))
    s = oracle.run_sequential(
        steps=args.steps,
        seed=args.seed,
        length=args.length,
        proto=args.protocol,
        knobs=knobs,
        minimize=not args.no_minimize,
        known_gaps=args.known_gaps,
        log=log,
    )
    if args.json:
        print(json.dumps(s.to_json(), indent=2))
    else:
        print(
            f"kernel-check: {s.steps} steps in {s.sequences} sequences, protocol {s.protocol}, "
            f"seed {s.seed}, MADV_PAGEOUT {'on' if s.swap else 'off (no swap)'}: "
            f"{len(s.mismatches)} mismatch(es) ({s.seconds:.1f} s)"
        )
    return 1 if s.mismatches else 0


def _replay(args: argparse.Namespace, knobs: dict[str, Any]) -> int:
    from fuzzlock import oracle, protocol
    from fuzzlock.oracle import env, harness, sequential

    try:
        with open(args.replay) as f:
            obj = json.load(f)
        raw = [m["sequence"] for m in obj["mismatches"]] if "mismatches" in obj else [obj]
        seqs = [sequential.Sequence.from_json(r) for r in raw]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"fuzzlock kernel-check: error: --replay {args.replay}: {e}", file=sys.stderr)
        return 2
    p = protocol.get(args.protocol or oracle.kernel_protocol(), knobs)
    exe, cpu = harness.build(), harness.pick_cpu()
    bad = 0
    with env.swap_file():
        for i, q in enumerate(seqs):
            m, n = sequential.check_sequence(q, p, exe, cpu)
            if m is not None:
                bad += 1
                print(m.report())
            else:
                print(f"sequence {i}: {n} steps agree ({p.name})")
    return 1 if bad else 0


def _concurrent(args: argparse.Namespace) -> int:
    from fuzzlock.oracle import concurrent

    log = None if args.json else (lambda m: print(m + "\n", flush=True))
    s = concurrent.run_concurrent(
        runs=args.runs, seed=args.seed, proto=args.protocol, budget=args.schedules, log=log
    )
    if args.json:
        print(json.dumps(s.to_json(), indent=2))
    else:
        c = s.counts
        print(
            f"kernel-check --concurrent: {s.runs} runs, protocol {s.protocol}, seed {s.seed}: "
            f"{c['ok']} ok, {c['violation']} reproduced only through an invariant violation, "
            f"{c['not-reproduced']} not reproduced, {c['setup-mismatch']} setup mismatches; "
            f"{s.livelocks} livelock(s), {s.rare} rare outcome(s), {s.schedules} model "
            f"schedules ({s.seconds:.1f} s: kernel {s.kernel_seconds:.1f}, model "
            f"{s.model_seconds:.1f})"
        )
    return 1 if s.counts["not-reproduced"] or s.counts["setup-mismatch"] else 0
