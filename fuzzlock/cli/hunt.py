"""``fuzzlock hunt``: search scenarios and schedules for a protocol violation."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fuzzlock import argtypes
from fuzzlock.cli.common import (
    BACKEND_HELP,
    BAD_INPUT,
    KNOB_HELP,
    PROTOCOL_HELP,
    SIGNAL_EXIT,
    _backend_names,
    _bad,
    _default_backend,
    _native_missing,
    _protocol_from_args,
    _strategy_names,
    one_line,
    register,
)

# --------------------------------------------------------------------------- hunt

HUNT_EXITS = (
    "0 = no violation within the budget, 1 = a violation (its report is printed, and its "
    f"entry saved with --save), {BAD_INPUT}, 130 = stopped by SIGINT (Ctrl-C), 143 = stopped "
    "by SIGTERM: what was searched and the best violation found so far are printed (and "
    "saved with --save) first"
)


def _hunt_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--protocol", default="v6.19", help=PROTOCOL_HELP)
    parser.add_argument("--knob", action="append", metavar="K=V", help=KNOB_HELP)
    parser.add_argument("--backend", choices=_backend_names(), default=None, help=BACKEND_HELP)
    parser.add_argument(
        "--strategy",
        default="hypothesis",
        choices=_strategy_names(),
        help="how scenarios and schedules are chosen: hypothesis (generated and shrunk by "
        "Hypothesis), random (seeded random walks), pct (seeded PCT schedules), exhaustive "
        "(every schedule up to --preemptions)",
    )
    parser.add_argument(
        "--max-seconds",
        type=argtypes.positive_seconds,
        default=60.0,
        metavar="S",
        help="wall-clock budget of the search, in seconds",
    )
    parser.add_argument(
        "--max-schedules",
        type=argtypes.positive_int,
        default=None,
        metavar="N",
        help="schedule budget (default: none, only --max-seconds); with it the search is "
        "the same on every machine",
    )
    parser.add_argument(
        "--seed",
        type=argtypes.seed,
        default=0,
        metavar="N",
        help="seed of the scenario and schedule generators (0 to 2**63-1)",
    )
    parser.add_argument(
        "--save",
        metavar="DIR",
        type=argtypes.output_dir,
        help="save the minimized entry to DIR/<protocol>/<digest>.json (default: not saved; "
        "the report then prints the command that reproduces the hunt)",
    )
    parser.add_argument("--json", action="store_true", help="print only one JSON object on stdout")
    ex = parser.add_argument_group("exhaustive strategy")
    ex.add_argument(
        "--preemptions",
        type=argtypes.preemptions,
        default=argparse.SUPPRESS,  # absent unless given (it needs --strategy exhaustive)
        metavar="K",
        help="explore every schedule with at most K preemptions (default 2; 'none' = no bound)",
    )
    ex.add_argument(
        "--scenario",
        action="append",
        metavar="PATH",
        type=argtypes.input_path,
        help="explore this scenario (JSON scenario or corpus entry; repeatable); "
        "default: seeded generated scenarios until the budget ends",
    )
    ex.add_argument("--naive", action="store_true", help="naive enumeration (no reduction)")
    ex.add_argument(
        "--compare-naive",
        action="store_true",
        help="also enumerate naively and print the reduction",
    )


def reproduce_command(args: argparse.Namespace, proto: Any, backend: str) -> str:
    """The ``fuzzlock hunt`` command that runs this hunt again, every setting spelled out
    (defaults too: a later version may change them)."""
    import shlex

    parts = ["fuzzlock", "hunt", "--protocol", proto.base]
    for k, v in proto.overrides:
        parts += ["--knob", f"{k}={_fmt_knob(v)}"]
    parts += ["--backend", backend, "--strategy", args.strategy, "--seed", str(args.seed)]
    parts += ["--max-seconds", _fmt_seconds(args.max_seconds)]
    if args.max_schedules is not None:
        parts += ["--max-schedules", str(args.max_schedules)]
    if args.strategy == "exhaustive":
        k = _preemptions(args)
        parts += ["--preemptions", "none" if k is None else str(k)]
        for p in args.scenario or ():
            parts += ["--scenario", p]
        if args.naive:
            parts.append("--naive")
        if args.compare_naive:
            parts.append("--compare-naive")
    return shlex.join(parts)


#: the preemption bound of ``--strategy exhaustive`` without ``--preemptions``
DEFAULT_PREEMPTIONS = 2


def _preemptions(args: argparse.Namespace) -> int | None:
    """``--preemptions`` (None = no bound), or its default."""
    return vars(args).get("preemptions", DEFAULT_PREEMPTIONS)


def _fmt_knob(v: Any) -> str:
    from fuzzlock import protocol

    return protocol._fmt(v)


def _fmt_seconds(s: float) -> str:
    return str(int(s)) if s == int(s) else repr(s)


class _Progress:
    """The hunt's progress lines on stderr: on a terminal one line rewritten in place; else
    (a log, a CI job) a line every ``EVERY`` seconds once the hunt has run ``AFTER``
    seconds, so short hunts stay quiet and long ones show they are alive."""

    AFTER = 10.0
    EVERY = 5.0

    def __init__(self, tty: bool) -> None:
        import time

        self.tty = tty
        self.start = time.monotonic()
        self.last: float | None = None
        self.open = False  # a terminal line to end with a newline

    def __call__(self, line: str) -> None:
        import time

        if self.tty:
            print(f"\r{line}\033[K", end="", file=sys.stderr, flush=True)
            self.open = True
            return
        now = time.monotonic()
        if now - self.start < self.AFTER or (
            self.last is not None and now - self.last < self.EVERY
        ):
            return
        self.last = now
        print(f"fuzzlock hunt: {line}", file=sys.stderr, flush=True)

    def end(self) -> None:
        if self.open:
            print(file=sys.stderr, flush=True)
            self.open = False


class _StopOnSignals:
    """While active, SIGINT and SIGTERM ask the hunt to stop (``__call__`` is the hunt's
    ``stop``) instead of killing it: the search ends, the best violation so far is
    minimized no further, printed and saved.  A second signal stops at once (exit 130)."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self) -> None:
        self.signum: int | None = None
        self.old: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        import signal

        return signal.Signals(self.signum).name if self.signum is not None else ""

    def _handler(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum

    def __enter__(self) -> _StopOnSignals:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                sig = getattr(signal, name, None)
                if sig is not None:
                    self.old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        for sig, old in self.old.items():
            signal.signal(sig, old)


def _hunt_run(args: argparse.Namespace) -> int:
    from fuzzlock import campaign, protocol

    try:
        proto = _protocol_from_args(args)
    except protocol.ProtocolError as e:
        return _bad(str(e))
    backend = args.backend or _default_backend()
    if backend == "native" and (missing := _native_missing()) is not None:
        return _bad(missing)
    exhaustive_only = args.scenario or args.naive or args.compare_naive
    if args.strategy != "exhaustive" and (exhaustive_only or "preemptions" in vars(args)):
        return _bad("--preemptions/--scenario/--naive/--compare-naive need --strategy exhaustive")
    scs = None
    if args.strategy == "exhaustive":
        try:
            scs = [campaign.load_scenario_file(p) for p in args.scenario or ()]
        except ValueError as e:
            return _bad(str(e))
        from fuzzlock import backends

        for path, sc in zip(args.scenario or (), scs):
            try:  # outside the backend's slice: say so now, not as a crash mid-search
                backends.get(backend).check(sc, proto)
            except backends.Unsupported as e:
                return _bad(f"--backend {backend}: {path}: {e}; use --backend python")
    command = reproduce_command(args, proto, backend)
    unsaved = (
        f"{command}\n        (not saved: add --save corpora to write the entry, then replay it "
        "with `fuzzlock replay FILE`)"
    )
    progress = _Progress(sys.stderr.isatty())  # on stderr: --json's stdout stays one object
    with _StopOnSignals() as stop:
        try:
            if args.strategy == "exhaustive":
                res = campaign.hunt_exhaustive(
                    proto,
                    backend,
                    _preemptions(args),
                    scs or None,
                    args.max_seconds,
                    args.max_schedules,
                    args.seed,
                    naive=args.naive,
                    compare_naive=args.compare_naive,
                    progress=progress,
                    stop=stop,
                    replay=unsaved,
                )
            else:
                res = campaign.hunt(
                    proto,
                    backend,
                    args.strategy,
                    args.max_seconds,
                    args.max_schedules,
                    args.seed,
                    progress=progress,
                    stop=stop,
                    replay=unsaved,
                )
        finally:
            progress.end()
        return _hunt_output(args, res, proto, backend, command, stop)


def _save(args: argparse.Namespace, res: Any) -> tuple[Any, str | None]:
    """Save the hunt's entry under ``--save``: (a ``store.Saved`` saying where it is, or
    None; the error).  An identical entry already there is kept, not rewritten."""
    from fuzzlock.corpus import store

    if res.entry is None or not args.save:
        return None, None
    try:
        return store.save_entry(args.save, res.entry), None
    except (OSError, ValueError) as e:  # corpus.CorpusError is a ValueError
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        where = getattr(e, "filename", None) or args.save
        return None, f"--save {args.save}: the entry was not saved ({where}: {why})"


def _hunt_output(
    args: argparse.Namespace,
    res: Any,
    proto: Any,
    backend: str,
    command: str,
    stop: _StopOnSignals,
) -> int:
    """Print the hunt's result (the report first: a save that fails loses nothing) and
    return its exit status."""
    import json

    from fuzzlock import campaign

    saved, save_error = _save(args, res)
    if res.result is not None and saved is not None:
        res.report = res.render_report(campaign.replay_command(res.entry, saved.path))
    elif res.result is not None and save_error is not None:
        res.report = res.render_report(f"{command}\n        (not saved: {save_error})")
    cut = res.entry is not None and res.minimized is False
    if args.json:
        out = res.to_json()
        out["reproduce"] = command
        if saved is not None:
            out["saved"] = str(saved.path)
        if save_error is not None:
            out["save_error"] = save_error
        if stop.signum is not None:
            out["interrupted"] = stop.name
        if cut:
            out["minimization_cut_short"] = True
        print(json.dumps(out, indent=1, sort_keys=True))
    else:
        print(
            f"protocol {proto.name}  backend {backend}  strategy {args.strategy}  seed {args.seed}"
        )
        print(
            f"{res.schedules} schedules, {res.steps} steps in {res.seconds:.1f} s "
            f"({res.schedules_per_second:,.0f} schedules/s), {res.distinct} distinct traces"
        )
        if res.stopped:
            print(f"interrupted by {stop.name}: the search stopped before its budget")
        elif stop.signum is not None and not cut:
            print(f"interrupted by {stop.name} after the search")
        if res.native_fraction is not None:
            print(
                f"{res.native_runs} schedules on C, {res.python_runs} on Python "
                f"(native fraction {res.native_fraction:.0%})"
            )
        for n in res.notes:
            print(n)
        if res.verdict == "violation":
            print(f"VIOLATION: {res.invariant}")
            if cut:
                print(
                    f"(minimization cut short by {stop.name or 'a stop request'}: the smallest "
                    "failing schedule found so far)"
                )
            print()
            print(res.report)
            if saved is not None:
                print(saved.message)
        elif res.stopped:
            print("no violation in the schedules searched before the interrupt (no certificate)")
        elif res.strategy == "exhaustive":
            done = sum(1 for c in res.certificates if c["complete"] and c["por"] != args.naive)
            part = sum(1 for c in res.certificates if not c["complete"])
            k = _preemptions(args)
            bound = "none" if k is None else k
            print(
                f"clean: {done} scenario(s) certified up to {bound} preemption(s)"
                + (f", {part} unfinished within the budget (no certificate)" if part else "")
            )
        else:
            print("clean: no violation within the budget")
    sys.stdout.flush()
    if save_error is not None:
        print(one_line(f"fuzzlock: error: {save_error}"), file=sys.stderr)
    if stop.signum is not None:
        return SIGNAL_EXIT + stop.signum
    return 1 if res.verdict == "violation" else 0


register(
    "hunt",
    "search scenarios and schedules for a protocol violation",
    _hunt_args,
    _hunt_run,
    HUNT_EXITS,
)
