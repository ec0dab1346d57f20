"""``fuzzlock replay``: replay corpus entries on a backend."""

from __future__ import annotations

import argparse
import sys

from fuzzlock import argtypes
from fuzzlock.cli.common import (
    _backend_names,
    _bad,
    _default_backend,
    _native_missing,
    register,
)

# --------------------------------------------------------------------------- replay


def _replay_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        type=argtypes.input_path,
        help="corpus files or directories",
    )
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
    from fuzzlock.corpus import replaying

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
            r = replaying.replay(item, backend=backend)
            if not r.applicable and args.backend is None:
                # the default backend cannot run it (outside the C slice): use Python
                r = replaying.replay(item, backend="python")
                r = attrs.evolve(r, message=f"{r.message}; on python: outside the C slice")
        except NotImplementedError as e:
            return _bad(str(e))
        changes: list[str] = []
        if args.re_record and r.applicable and r.reproduced:
            try:
                changes = replaying.rerecord(path, item, r)
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
