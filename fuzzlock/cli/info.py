"""``fuzzlock native-info`` and ``fuzzlock protocols``: what is built and what can be run."""

from __future__ import annotations

import argparse

from fuzzlock.cli.common import BAD_INPUT, register

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
