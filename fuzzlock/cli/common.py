"""What every ``fuzzlock`` subcommand shares: the command registry (``register``), the
argument parser's one-line errors and help format, bad-input errors, and the protocol and
backend options."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NamedTuple, NoReturn

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


def _strategy_names() -> tuple[str, ...]:
    from fuzzlock import search

    return search.names()


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


#: exit status of a hunt stopped by a signal: 128 + the signal's number (shell convention)
SIGNAL_EXIT = 128
