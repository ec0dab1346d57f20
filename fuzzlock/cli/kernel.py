"""``fuzzlock kernel-check``: compare the model with the running kernel."""

from __future__ import annotations

import argparse

from fuzzlock.cli.common import BAD_INPUT, register

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
