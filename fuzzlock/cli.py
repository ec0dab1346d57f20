"""The ``fuzzlock`` command line.

Subcommands live in ``COMMANDS``: name -> ``Command(help, add_arguments, run, exits)``. To
add one, write ``add_arguments(parser)`` and ``run(args) -> int`` and register it with
``register`` (or add an entry to ``COMMANDS`` before ``main`` runs); every option needs a
help line (its default is appended unless the help names it), and ``exits`` says what each
exit status means (the end of the command's ``--help``). Exit status (docs/design.md#exit-status): 0 = no
violation / every entry reproduced, 1 = a violation / an entry did not reproduce, 2 = bad
input with a one-line message; a hunt stopped by SIGINT or SIGTERM exits 130 or 143 after
printing (and saving) what it found.

Option values are checked by the ``fuzzlock.argtypes`` validators when the command line is
parsed, so every subcommand rejects the same bad numbers and paths the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, NoReturn

import fuzzlock
from fuzzlock import argtypes

DESCRIPTION = (
    "fuzzlock is a property-based concurrency fuzzer for the Linux anonymous-memory rmap "
    "locking protocol. Hypothesis generates scenarios (UFFDIO_MOVE, rmap walks, fork, CoW "
    "writes, reclaim, unmap, madvise) and interleavings; a deterministic scheduler runs them "
    "over a Python reference model and over a C port of it, checks rmap invariants at every "
    "step, and reports a short, replayable interleaving when one fails."
)


#: The end of every command's ``--help`` unless it says more.
BAD_INPUT = "2 = bad input (one line on stderr naming what is wrong)"


class Command(NamedTuple):
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    exits: str = f"0 = done, {BAD_INPUT}"  # what each exit status means


COMMANDS: dict[str, Command] = {}


def register(
    name: str,
    help: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    exits: str | None = None,
) -> None:
    """Register subcommand ``name``; ``exits`` says what its exit statuses mean."""
    COMMANDS[name] = Command(help, add_arguments, run, *([exits] if exits else []))


def one_line(msg: str) -> str:
    """``msg`` on one line (a path or value with a newline in it cannot split an error)."""
    return msg.replace("\r", "\\r").replace("\n", "\\n")


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, one_line(f"{self.prog}: error: {message} (see '{self.prog} --help')") + "\n")

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # Python 3.11's argparse drops a "--" value (`--max-seconds=--`) and then returns
        # an empty list for a one-value option, past its type= check
        value = super()._get_values(action, arg_strings)
        if action.nargs is None and isinstance(value, list):
            name = "/".join(action.option_strings) or action.metavar or action.dest
            self.error(f"argument {name}: expected one argument")
        return value


class _HelpFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to an option's help unless the help already names its
    default, or there is none to name (a flag, a repeatable option that starts empty)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        d = action.default
        if "default" in text or not action.option_strings or d is None or d is False:
            return text
        if d is argparse.SUPPRESS or d == []:
            return text
        return f"{text} (default: %(default)s)"


# --------------------------------------------------------------------------- native-info


def _native_info_args(parser: argparse.ArgumentParser) -> None:
    pass


def _native_info_run(args: argparse.Namespace) -> int:
    from fuzzlock import backends

    for line in backends.get("native").describe():
        print(line)
    return 0


register(
    "native-info",
    "say whether the C backend is built and loads, and its ABI version",
    _native_info_args,
    _native_info_run,
    f"0 = printed (whether or not the C backend is built), {BAD_INPUT}",
)

# --------------------------------------------------------------------------- errors


class BadInput(Exception):
    """Bad user input: printed as one line, exit status 2."""


def _bad(msg: str) -> int:
    print(one_line(f"fuzzlock: error: {msg}"), file=sys.stderr)
    return 2


def _protocol_from_args(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from fuzzlock import protocol

    return protocol.parse(args.protocol, args.knob or [])


PROTOCOL_HELP = (
    "named protocol (v6.18, v6.19, patch2-only, patch1-only), optionally with knob "
    "overrides as hunt prints it: NAME+KNOB=VALUE+... (default v6.19)"
)
KNOB_HELP = (
    "override a knob, KNOB=VALUE (repeatable; wins over the --protocol name's; default: none)"
)
BACKEND_HELP = "model to run: python, or native (the C port; default: native where it is built)"


def _backend_names() -> tuple[str, ...]:
    from fuzzlock import backends

    return backends.names()


def _default_backend() -> str:
    from fuzzlock import backends

    return backends.default_name()


def _native_missing() -> str | None:
    """Why ``--backend native`` cannot run, or None if the C model is built."""
    from fuzzlock import backends

    try:
        backends.get("native", require=True)
    except backends.Unavailable as e:
        return str(e)
    return None


# --------------------------------------------------------------------------- protocols


def _protocols_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def _protocols_run(args: argparse.Namespace) -> int:
    import json

    from fuzzlock import protocol

    if args.json:
        out = {
            "protocols": {
                n: {"description": protocol.DESCRIPTIONS[n], "knobs": protocol.get(n).knobs}
                for n in protocol.protocols()
            },
            "knobs": [
                {
                    "name": k.name,
                    "values": list(k.values),
                    "v6.18": k.v6_18,
                    "v6.19": k.v6_19,
                    "doc": k.doc,
                }
                for k in protocol.knobs()
            ],
        }
        print(json.dumps(out, indent=1, default=dict))
        return 0
    for n in protocol.protocols():
        print(f"{n:12} {protocol.DESCRIPTIONS[n]}")
    print()
    print(f"{'knob':36} {'values':28} {'v6.18':14} {'v6.19':14}")
    for k in protocol.knobs():
        vals = ", ".join(protocol._fmt(v) for v in k.values)
        print(f"{k.name:36} {vals:28} {protocol._fmt(k.v6_18):14} {protocol._fmt(k.v6_19):14}")
    return 0


register(
    "protocols",
    "list the named protocols and every knob",
    _protocols_args,
    _protocols_run,
    f"0 = listed, {BAD_INPUT}",
)

# --------------------------------------------------------------------------- hunt

HUNT_EXITS = (
    "0 = no violation within the budget, 1 = a violation (its report is printed, and its "
    f"entry saved with --save), {BAD_INPUT}, 130 = stopped by SIGINT (Ctrl-C), 143 = stopped "
    "by SIGTERM: what was searched and the best violation found so far are printed (and "
    "saved with --save) first"
)
#: exit status of a hunt stopped by a signal: 128 + the signal's number (shell convention)
SIGNAL_EXIT = 128


def _hunt_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--protocol", default="v6.19", help=PROTOCOL_HELP)
    parser.add_argument("--knob", action="append", metavar="K=V", help=KNOB_HELP)
    parser.add_argument("--backend", choices=_backend_names(), default=None, help=BACKEND_HELP)
    parser.add_argument(
        "--strategy",
        default="hypothesis",
        choices=("hypothesis", "random", "pct", "exhaustive"),
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
    """Save the hunt's entry under ``--save``: (a ``corpus.Saved`` saying where it is, or
    None; the error).  An identical entry already there is kept, not rewritten."""
    from fuzzlock import corpus

    if res.entry is None or not args.save:
        return None, None
    try:
        return corpus.save_entry(args.save, res.entry), None
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

# --------------------------------------------------------------------------- replay


def _replay_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="corpus files or directories")
    parser.add_argument(
        "--backend",
        choices=_backend_names(),
        default=None,
        help="model to replay on (default: native where it is built and the entry is inside "
        "the C slice, else python)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line per entry")
    parser.add_argument(
        "--re-record",
        action="store_true",
        help="accept a changed trace: rewrite each entry that reproduces its expected "
        "outcome with the trace digest and model hash of this replay (default: a changed "
        "trace fails)",
    )


def _replay_run(args: argparse.Namespace) -> int:
    import json

    import attrs

    from fuzzlock import corpus

    backend = args.backend or _default_backend()
    if backend == "native" and (missing := _native_missing()) is not None:
        return _bad(missing)
    status = 0
    bad = 0
    n = 0
    for path, item in corpus.iter_entries(args.paths):
        n += 1
        if isinstance(item, Exception):
            bad += 1
            if args.json:
                print(json.dumps({"path": str(path), "ok": False, "error": str(item)}))
            else:
                print(f"fuzzlock: error: {item}", file=sys.stderr)
            continue
        try:
            r = corpus.replay(item, backend=backend)
            if not r.applicable and args.backend is None:
                # the default backend cannot run it (outside the C slice): use Python
                r = corpus.replay(item, backend="python")
                r = attrs.evolve(r, message=f"{r.message}; on python: outside the C slice")
        except NotImplementedError as e:
            return _bad(str(e))
        changes: list[str] = []
        if args.re_record and r.applicable and r.reproduced:
            try:
                changes = corpus.rerecord(path, item, r)
            except corpus.CorpusWriteError as e:
                bad += 1
                print(f"fuzzlock: error: {e}", file=sys.stderr)
                continue
            r = attrs.evolve(r, ok=True)
        if args.json:
            print(
                json.dumps(
                    {
                        "path": str(path),
                        "ok": r.ok,
                        "expected": r.expected,
                        "outcome": r.outcome,
                        "applicable": r.applicable,
                        "digest_matches": r.digest_matches,
                        "re_recorded": changes,
                        "message": r.message,
                    }
                )
            )
        elif not r.applicable:
            print(f"skip   {path}: {r.message}")
        elif changes:
            print(f"re-recorded {path}: reproduced {r.expected}; {', '.join(changes)}")
        elif r.ok:
            print(f"ok     {path}: {r.message}")
        else:
            hint = ""
            if r.reproduced:  # only the trace changed
                hint = f"; if that is intended: fuzzlock replay --re-record {path}"
            print(f"FAIL   {path}: {r.message}{hint}")
        if not r.ok:
            status = 1
    if n == 0:
        return _bad("no corpus entries found under " + " ".join(args.paths))
    if bad:
        return 2
    return status


register(
    "replay",
    "replay corpus entries; exit 1 if one does not reproduce",
    _replay_args,
    _replay_run,
    "0 = every entry reproduced, 1 = an entry did not reproduce, 2 = bad input (a malformed "
    "entry is one line on stderr and the others still replay)",
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
    from fuzzlock import detection

    detection.add_arguments(parser)


def _detection_run(args: argparse.Namespace) -> int:
    from fuzzlock import detection

    return detection.main(args)


register(
    "detection",
    "measure how fast each strategy catches each single-knob setting (docs/detection.md)",
    _detection_args,
    _detection_run,
    "0 = the control rows are clean (apart from kernel findings recorded in the corpus) and "
    f"every finding row is caught, 1 = not, {BAD_INPUT}",
)

# --------------------------------------------------------------------------- minimize


def _minimize_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="a corpus entry")
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        type=argtypes.output_file,
        help="write the minimized entry to this file (default: print it on stdout)",
    )


def _minimize_run(args: argparse.Namespace) -> int:

    from fuzzlock import corpus, model
    from fuzzlock.minimize import minimize

    try:
        e = corpus.load_entry(args.path)
    except corpus.CorpusError as err:
        return _bad(str(err))
    if e.expect == "clean":
        return _bad(f"{args.path}: expect is 'clean': nothing to minimize")
    try:
        m = minimize(e.scenario, e.protocol, e.decisions, e.expect)
    except ValueError as err:
        print(f"fuzzlock: {args.path}: {err}", file=sys.stderr)
        return 1
    r = model.run(m.scenario, e.protocol, decisions=m.decisions)
    out = corpus.make_entry(
        e.protocol,
        m.scenario,
        m.decisions,
        r,
        strategy=e.found_by.get("strategy", "minimize"),
        seed=e.found_by.get("seed"),
        minimized=True,
        note=e.note,
    )
    text = out.dumps()
    if args.output:
        try:
            with open(args.output, "w") as f:
                f.write(text)
        except OSError as err:
            return _bad(f"--output {args.output}: {err.strerror or err}")
        ops = sum(len(t[1]) for t in m.scenario.threads)
        print(
            f"minimized in {m.runs} runs: {len(m.scenario.threads)} threads, {ops} ops, "
            f"{m.preemptions} preemptions -> {args.output}"
        )
    else:
        sys.stdout.write(text)
    return 0


register(
    "minimize",
    "shrink a failing corpus entry (threads, ops, preemptions)",
    _minimize_args,
    _minimize_run,
    f"0 = minimized, 1 = the entry does not reproduce its expected outcome, {BAD_INPUT}",
)

# --------------------------------------------------------------------------- show


def _show_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="a corpus entry")
    parser.add_argument(
        "--html",
        metavar="OUT",
        type=argtypes.output_file,
        help="write a self-contained HTML timeline to this file (default: the text report "
        "on stdout)",
    )


def _show_run(args: argparse.Namespace) -> int:
    from fuzzlock import campaign, corpus, model, report

    try:
        e = corpus.load_entry(args.path)
    except corpus.CorpusError as err:
        return _bad(str(err))
    try:
        r = model.run(e.scenario, e.protocol, decisions=e.decisions)
    except model.SetupError as err:
        print(
            f"fuzzlock: {args.path}: the entry no longer reproduces: expected {e.expect}, "
            f"got a setup error ({err})",
            file=sys.stderr,
        )
        return 1
    v = r.violation
    judged = corpus.judge(
        e, corpus.BackendRun(r.outcome, r.digest, v.one_line() if v is not None else "")
    )
    replay = campaign.replay_command(e, args.path)
    if args.html:
        html = report.render_html(r.result, protocol=e.protocol.name, replay=replay)
        try:
            with open(args.html, "w", encoding="utf-8") as f:
                f.write(html)
        except OSError as err:
            return _bad(f"--html {args.html}: cannot write: {err.strerror or err}")
        print(f"wrote {args.html}")
    else:
        print(report.render_text(r.result, protocol=e.protocol.name, replay=replay))
    if not judged.ok:
        what = "no longer reproduces" if not judged.reproduced else "replays with another trace"
        print(f"fuzzlock: {args.path}: the entry {what}: {judged.message}", file=sys.stderr)
        return 1
    return 0


register(
    "show",
    "render a corpus entry's interleaving (text, or --html)",
    _show_args,
    _show_run,
    f"0 = shown, 1 = the entry no longer reproduces its recorded outcome, {BAD_INPUT}",
)

# --------------------------------------------------------------------------- kernel-check


def _kernel_check_args(parser: argparse.ArgumentParser) -> None:
    from fuzzlock.oracle import cli as oracle_cli

    oracle_cli.add_arguments(parser)


def _kernel_check_run(args: argparse.Namespace) -> int:
    from fuzzlock.oracle import cli as oracle_cli

    return oracle_cli.run(args)


register(
    "kernel-check",
    "compare the model with the running kernel on random operation sequences",
    _kernel_check_args,
    _kernel_check_run,
    "0 = the kernel and the model agree (or the check is skipped here, with one line saying "
    f"why), 1 = a mismatch (printed), {BAD_INPUT}",
)

# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fuzzlock",
        description=DESCRIPTION,
        epilog="exit status: 0 = no violation / every entry reproduced, 1 = a violation / an "
        f"entry did not reproduce, {BAD_INPUT}; each command's --help says more",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fuzzlock {fuzzlock.__version__}")
    # not required=True: argparse would then say "COMMAND required" before naming an unknown
    # option (`fuzzlock --bogus`); main() asks for a command itself
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=cmd.help,
            description=cmd.help,
            epilog=f"exit status: {cmd.exits}",
            formatter_class=_HelpFormatter,
        )
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


_PARSER: tuple[tuple[tuple[str, Command], ...], argparse.ArgumentParser] | None = None


def _parser() -> argparse.ArgumentParser:
    """``build_parser()``, built once per set of registered commands: argparse takes ~20 ms
    to build the subparsers (mostly looking for message catalogs), which in-process
    callers (tests, scripts) pay on every ``main`` call; parsing does not change it."""
    global _PARSER
    key = tuple(COMMANDS.items())
    if _PARSER is None or _PARSER[0] != key:
        _PARSER = (key, build_parser())
    return _PARSER[1]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (argparse errors give 2)."""
    import signal

    if hasattr(signal, "SIGPIPE"):  # `fuzzlock protocols | head` ends quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.error(f"a COMMAND is required: one of {', '.join(COMMANDS)}")
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args._run(args))
    except KeyboardInterrupt:  # outside a hunt (which stops cleanly), or a second Ctrl-C
        print("fuzzlock: interrupted", file=sys.stderr)
        return SIGNAL_EXIT + signal.SIGINT
    except OSError as e:  # writing an output that the early checks let through (full disk...)
        where = f"{e.filename}: " if e.filename else ""
        return _bad(f"{where}{e.strerror or e}")


if __name__ == "__main__":
    sys.exit(main())
