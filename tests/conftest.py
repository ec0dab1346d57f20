"""Shared test configuration.

``pytester`` drives real pytest runs (used to test fuzzlock's own pytest plugin).

Live-kernel reproducers (marker ``kernel_repro``) race the running kernel into the bugs of
docs/findings/: a move that spins in the kernel (100% of a CPU, up to 30 s, until the
reproducer kills itself) or hundreds of thousands of racing moves.  The default run never
starts them; ``--fuzzlock-kernel-repro`` or ``FUZZLOCK_KERNEL_REPRO=1`` does.  Sequential
conformance against the live kernel (marker ``kernel`` alone) stays in the default run.
"""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["pytester"]

REPRO_OPTION = "--fuzzlock-kernel-repro"
REPRO_ENV = "FUZZLOCK_KERNEL_REPRO"
REPRO_SKIP = (
    "live-kernel reproducer: races the running kernel into a kernel bug and can livelock a "
    f"CPU in the kernel for up to 30 s; run it with {REPRO_OPTION} or {REPRO_ENV}=1 "
    "(as root, with userfaultfd and UFFD_FEATURE_MOVE)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("fuzzlock").addoption(
        REPRO_OPTION,
        action="store_true",
        default=False,
        help="also run the live-kernel reproducers (marker kernel_repro), which deliberately "
        f"livelock a CPU in the kernel for up to 30 s; same as {REPRO_ENV}=1",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "kernel_repro: a live-kernel reproducer of a kernel bug (can livelock a CPU); runs "
        f"only with {REPRO_OPTION} or {REPRO_ENV}=1",
    )


def kernel_repro_enabled(config: pytest.Config) -> bool:
    env = os.environ.get(REPRO_ENV, "").strip().lower()
    return bool(config.getoption(REPRO_OPTION)) or env not in ("", "0", "false", "no")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if kernel_repro_enabled(config):
        return
    skip = pytest.mark.skip(reason=REPRO_SKIP)
    for item in items:
        if item.get_closest_marker("kernel_repro") is not None:
            item.add_marker(skip)
