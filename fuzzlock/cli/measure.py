"""``fuzzlock bench`` and ``fuzzlock detection``: measure the models and the strategies."""

from __future__ import annotations

import argparse

from fuzzlock import argtypes
from fuzzlock.cli.common import (
    BAD_INPUT,
    KNOB_HELP,
    PROTOCOL_HELP,
    _backend_names,
    _bad,
    _default_backend,
    _native_missing,
    _protocol_from_args,
    register,
)

# --------------------------------------------------------------------------- bench


def _bench_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--protocol", default="v6.19", help=PROTOCOL_HELP)
    parser.add_argument("--knob", action="append", metavar="K=V", help=KNOB_HELP)
    parser.add_argument(
        "--scenarios", type=argtypes.positive_int, default=20, help="scenarios to time"
    )
    parser.add_argument(
        "--runs",
        type=argtypes.positive_int,
        default=50,
        help="schedules per scenario (Python, and C one call per schedule)",
    )
    parser.add_argument(
        "--native-runs",
        type=argtypes.positive_int,
        default=2000,
        help="schedules per scenario in the C loop",
    )
    parser.add_argument(
        "--seed", type=argtypes.seed, default=0, help="seed of the scenario generator"
    )
    parser.add_argument(
        "--max-seconds",
        type=argtypes.positive_seconds,
        default=30.0,
        help="time limit per backend row, in seconds",
    )
    parser.add_argument(
        "--xdist",
        type=argtypes.positive_seconds,
        metavar="SECONDS",
        default=None,
        help="also time the pytest campaign with -n 1 and -n 2, each test running SECONDS "
        "of wall-clock time; schedules counted across workers (default: not timed)",
    )
    parser.add_argument(
        "--xdist-rounds",
        type=argtypes.positive_int,
        default=1,
        help="repeat the -n 1/-n 2 pair",
    )
    parser.add_argument(
        "--hunt-seconds",
        type=argtypes.positive_seconds,
        default=10.0,
        help="time of each hunt row, in seconds",
    )
    parser.add_argument(
        "--xdist-backend",
        choices=_backend_names(),
        default=None,
        help="backend of the --xdist campaign (default: native where it is built)",
    )
    parser.add_argument(
        "--tests", default="tests/campaign", help="campaign tests that --xdist runs"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _bench_run(args: argparse.Namespace) -> int:
    import json

    from fuzzlock import bench, protocol

    try:
        proto = _protocol_from_args(args)
    except protocol.ProtocolError as e:
        return _bad(str(e))
    if (missing := _native_missing()) is not None:
        return _bad(missing.replace("--backend native", "bench"))
    try:
        res = bench.run(
            proto,
            args.scenarios,
            args.runs,
            args.native_runs,
            args.seed,
            args.max_seconds,
            args.xdist,
            args.xdist_backend or _default_backend(),
            args.tests,
            args.hunt_seconds,
            args.xdist_rounds,
        )
    except ValueError as e:
        return _bad(str(e))
    if res.scenarios == 0:
        return _bad(f"no generated scenario is inside the C slice under {proto.name}")
    print(json.dumps(res.to_json(), indent=1) if args.json else res.text())
    return 0


register(
    "bench",
    "measure steps/s and schedules/s of the Python and C models on the same scenarios, "
    "and of the hunt end to end",
    _bench_args,
    _bench_run,
    f"0 = measured, {BAD_INPUT}",
)

# --------------------------------------------------------------------------- detection


def _detection_args(parser: argparse.ArgumentParser) -> None:
    from fuzzlock.detection import command

    command.add_arguments(parser)


def _detection_run(args: argparse.Namespace) -> int:
    from fuzzlock.detection import command

    return command.main(args)


register(
    "detection",
    "measure how fast each strategy catches each single-knob setting (docs/detection.md)",
    _detection_args,
    _detection_run,
    "0 = the control rows are clean (apart from kernel findings recorded in the corpus) and "
    f"every finding row is caught, 1 = not, {BAD_INPUT}",
)
