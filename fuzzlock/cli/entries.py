"""``fuzzlock minimize`` and ``fuzzlock show``: shrink and render one corpus entry."""

from __future__ import annotations

import argparse
import sys

from fuzzlock import argtypes
from fuzzlock.cli.common import BAD_INPUT, _bad, register

# --------------------------------------------------------------------------- minimize


def _minimize_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", type=argtypes.input_path, help="a corpus entry")
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
    parser.add_argument("path", metavar="PATH", type=argtypes.input_path, help="a corpus entry")
    parser.add_argument(
        "--html",
        metavar="OUT",
        type=argtypes.output_file,
        help="write a self-contained HTML timeline to this file (default: the text report "
        "on stdout)",
    )


def _show_run(args: argparse.Namespace) -> int:
    from fuzzlock import campaign, corpus, model, report
    from fuzzlock.corpus import replaying
    from fuzzlock.report import timeline

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
    judged = replaying.judge(
        e, replaying.BackendRun(r.outcome, r.digest, v.one_line() if v is not None else "")
    )
    replay = campaign.replay_command(e, args.path)
    if args.html:
        html = timeline.render_html(r.result, protocol=e.protocol.name, replay=replay)
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
