"""The ``fuzzlock detection`` command line: its options, their checks, the canonical
command it prints, and ``main``."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from fuzzlock.detection import (
    DEFAULT_MAX_SCHEDULES,
    DEFAULT_MAX_SECONDS,
    DEFAULT_SEEDS,
    QUICK_MAX_SCHEDULES,
    QUICK_MAX_SECONDS,
    QUICK_SEEDS,
    Setting,
    select,
    strategies,
)
from fuzzlock.detection.runner import choose_backend, from_json, merge_json, run

# --------------------------------------------------------------------------- command line


def _backend_names() -> tuple[str, ...]:
    from fuzzlock import backends

    return backends.names()


def add_arguments(parser: Any) -> None:
    from fuzzlock import argtypes

    parser.add_argument(
        "--setting",
        action="append",
        metavar="PATTERN",
        help="only settings whose label or protocol name matches (glob or substring; "
        "repeatable; default: all)",
    )
    parser.add_argument(
        "--strategy",
        action="append",
        metavar="NAME",
        help="only this strategy (repeatable; default: every strategy the campaign has)",
    )
    parser.add_argument(
        "--backend",
        choices=_backend_names(),
        default=None,
        help="model to hunt on (default: native where it is built)",
    )
    parser.add_argument(
        "--seeds",
        type=argtypes.positive_int,
        default=None,
        help=f"seeds 1..N (default {DEFAULT_SEEDS})",
    )
    parser.add_argument(
        "--max-seconds",
        type=argtypes.positive_seconds,
        default=None,
        help=f"wall seconds per run (default {DEFAULT_MAX_SECONDS:g})",
    )
    parser.add_argument(
        "--max-schedules",
        type=argtypes.positive_int,
        default=None,
        help=f"schedules per run (default {DEFAULT_MAX_SCHEDULES:,})",
    )
    parser.add_argument(
        "--jobs",
        type=argtypes.positive_int,
        default=None,
        help="worker processes (default: number of CPUs)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small defaults for tests: {QUICK_SEEDS} seeds, {QUICK_MAX_SECONDS:g} s or "
        f"{QUICK_MAX_SCHEDULES} schedules per run",
    )
    parser.add_argument(
        "--corpus",
        default="corpora",
        metavar="DIR",
        help="where recorded kernel findings are looked up (default corpora)",
    )
    parser.add_argument(
        "--from-json",
        action="append",
        metavar="FILE",
        help="print the report of a saved run (--json-out) instead of running; the statuses "
        "are judged against the corpus as it is now; repeatable: later runs replace the "
        "cells of the (setting, strategy) pairs they ran (same backend, seeds and budget) "
        "(default: run the campaign)",
    )
    parser.add_argument("--list", action="store_true", help="list the settings and exit")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--json-out",
        metavar="FILE",
        type=argtypes.output_file,
        help="also write the JSON object to FILE, with the text on stdout (default: not written)",
    )


class BadArgs(ValueError):
    pass


def check_args(args: Any) -> tuple[list[Setting], list[str], int, float, int, int]:
    """Validated (settings, strategies, seeds, max_seconds, max_schedules, jobs)."""
    chosen = select(args.setting or [])
    if not chosen:
        raise BadArgs(f"--setting {' '.join(args.setting)}: matches no setting (see --list)")
    have = strategies()
    strats = list(dict.fromkeys(args.strategy or have))
    for s in strats:
        if s not in have:
            raise BadArgs(f"--strategy {s}: not one of {', '.join(have)}")
    seeds = args.seeds if args.seeds is not None else QUICK_SEEDS if args.quick else DEFAULT_SEEDS
    secs = args.max_seconds
    if secs is None:
        secs = QUICK_MAX_SECONDS if args.quick else DEFAULT_MAX_SECONDS
    scheds = args.max_schedules
    if scheds is None:
        scheds = QUICK_MAX_SCHEDULES if args.quick else DEFAULT_MAX_SCHEDULES
    jobs = args.jobs if args.jobs is not None else os.cpu_count() or 1
    if seeds <= 0 or secs <= 0 or scheds <= 0 or jobs <= 0:
        raise BadArgs("--seeds, --max-seconds, --max-schedules and --jobs must be positive")
    return chosen, strats, seeds, secs, scheds, jobs


def canonical_command(
    args: Any, strats: Sequence[str], seeds: int, secs: float, scheds: int, jobs: int
) -> str:
    """The command line with every effective value spelled out."""
    import shlex

    parts = ["fuzzlock", "detection"]
    for p in args.setting or []:
        parts += ["--setting", p]
    if args.strategy:
        for s in strats:
            parts += ["--strategy", s]
    if args.backend:
        parts += ["--backend", args.backend]
    parts += ["--seeds", str(seeds), "--max-seconds", f"{secs:g}"]
    parts += ["--max-schedules", str(scheds), "--jobs", str(jobs)]
    if args.json:
        parts.append("--json")
    if args.corpus != "corpora":
        parts += ["--corpus", args.corpus]
    if args.json_out:
        parts += ["--json-out", args.json_out]
    return shlex.join(parts)


def main(args: Any) -> int:
    """``fuzzlock detection``: 0 = the control rows are clean (apart from kernel findings
    recorded in the corpus) and the finding rows caught, 1 = not, 2 = bad arguments."""
    import json

    if args.from_json:
        objs = []
        for path in args.from_json:
            try:
                with open(path) as f:
                    objs.append(json.load(f))
            except (OSError, ValueError) as e:
                print(f"fuzzlock: error: --from-json {path}: {e}", file=sys.stderr)
                return 2
        try:
            res = from_json(merge_json(objs), args.corpus)
        except (ValueError, KeyError, TypeError) as e:
            what = " ".join(args.from_json)
            print(f"fuzzlock: error: --from-json {what}: {e}", file=sys.stderr)
            return 2
        print(json.dumps(res.to_json(), indent=1) if args.json else res.text())
        return 1 if any(r.status == "FAIL" for r in res.rows) else 0
    try:
        chosen, strats, seeds, secs, scheds, jobs = check_args(args)
        choose_backend(args.backend)
    except (BadArgs, ValueError) as e:
        print(f"fuzzlock: error: {e}", file=sys.stderr)
        return 2
    if args.list:
        for s in chosen:
            print(f"{s.kind:8} {s.label:55} {s.protocol.name}")
        return 0
    tty = sys.stderr.isatty() and not args.json

    def progress(line: str) -> None:
        if tty:
            print(f"\r{line}\033[K", end="", file=sys.stderr, flush=True)

    command = canonical_command(args, strats, seeds, secs, scheds, jobs)
    res = run(
        chosen, strats, seeds, secs, scheds, jobs, args.backend, command, progress, args.corpus
    )
    if tty:
        print(file=sys.stderr)
    print(json.dumps(res.to_json(), indent=1) if args.json else res.text())
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res.to_json(), f, indent=1)
    bad = [r for r in res.rows if r.status == "FAIL"]
    return 1 if bad else 0
