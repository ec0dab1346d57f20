"""The ``fuzzlock`` command line: ``main`` and the parser; each subcommand lives in its own
module (``COMMAND_MODULES``), the registry and shared options in ``fuzzlock.cli.common``.

Subcommands live in ``COMMANDS``: name -> ``Command(help, add_arguments, run, exits)``. To
add one, write ``add_arguments(parser)`` and ``run(args) -> int`` and register it with
``fuzzlock.cli.common.register`` in a module listed in ``COMMAND_MODULES`` (or add an entry
to ``COMMANDS`` before ``main`` runs); every option needs a help line (its default is
appended unless the help names it), and ``exits`` says what each exit status means (the end
of the command's ``--help``). Exit status (docs/design.md#exit-status): 0 = no violation /
every entry reproduced, 1 = a violation / an entry did not reproduce, 2 = bad input with a
one-line message; a hunt stopped by SIGINT or SIGTERM exits 130 or 143 after printing (and
saving) what it found.

Option values are checked by the ``fuzzlock.argtypes`` validators when the command line is
parsed, so every subcommand rejects the same bad numbers and paths the same way.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import fuzzlock
from fuzzlock.cli.common import (
    BAD_INPUT,
    COMMANDS,
    DESCRIPTION,
    SIGNAL_EXIT,
    Command,
    _bad,
    _HelpFormatter,
    _Parser,
)

#: The modules that register the subcommands, in the order ``fuzzlock --help`` lists them.
COMMAND_MODULES = ("info", "hunt", "replay", "measure", "entries", "kernel")
for _name in COMMAND_MODULES:
    importlib.import_module(f"fuzzlock.cli.{_name}")

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
