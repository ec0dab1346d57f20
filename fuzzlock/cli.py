"""The ``fuzzlock`` command line.

Subcommands live in ``COMMANDS``: name -> ``Command(help, add_arguments, run)``. To add one,
write ``add_arguments(parser)`` and ``run(args) -> int`` and register it with ``register``
(or add an entry to ``COMMANDS`` before ``main`` runs). Exit status (DESIGN.md): 0 = no
violation / every entry reproduced, 1 = a violation / an entry did not reproduce, 2 = bad
input with a one-line message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple, NoReturn

import fuzzlock

DESCRIPTION = (
    "fuzzlock is a property-based concurrency fuzzer for the Linux anonymous-memory rmap "
    "locking protocol. Hypothesis generates scenarios (UFFDIO_MOVE, rmap walks, fork, CoW "
    "writes, reclaim, unmap, madvise) and interleavings; a deterministic scheduler runs them "
    "over a Python reference model and over a C port of it, checks rmap invariants at every "
    "step, and reports a short, replayable interleaving when one fails."
)


class Command(NamedTuple):
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}


def register(
    name: str,
    help: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
) -> None:
    """Register subcommand ``name``."""
    COMMANDS[name] = Command(help, add_arguments, run)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------------- native-info


def _native_info_args(parser: argparse.ArgumentParser) -> None:
    pass


def _native_info_run(args: argparse.Namespace) -> int:
    from fuzzlock import native

    if native.native_available():
        print(f"native backend: built ({native.library_path()})")
        print(f"ABI version: {native.abi_version()}")
    else:
        print(f"native backend: not available: {native.unavailable_reason()}")
        print("the Python backend will be used")
    return 0


register(
    "native-info",
    "say whether the C backend is built and loads, and its ABI version",
    _native_info_args,
    _native_info_run,
)

# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fuzzlock", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"fuzzlock {fuzzlock.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.add_arguments(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (argparse errors give 2)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
    return int(args._run(args))


if __name__ == "__main__":
    sys.exit(main())
