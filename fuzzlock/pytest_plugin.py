"""fuzzlock's pytest plugin (registered through the ``pytest11`` entry point).

It registers fuzzlock's Hypothesis settings profiles and selects one per run:

* ``fuzzlock-quick``: a developer's run (default outside CI): ~50 examples, random.
* ``fuzzlock-ci``: CI (default when the ``CI`` environment variable is set): derandomized,
  no example database, ~100 examples; the same run on every machine.
* ``fuzzlock-campaign``: a long fuzzing campaign, 10 000 examples per test.

``--fuzzlock-profile NAME`` selects one explicitly. The profile is loaded in
``pytest_configure``, so Hypothesis's built-in ``ci`` profile (auto-loaded when ``CI`` is
set) never wins by accident. An explicit ``--hypothesis-profile`` without
``--fuzzlock-profile`` is left to Hypothesis.

Import cost matters (this module is imported by every pytest run in the environment): it
imports neither Hypothesis (until configure), the model, nor the native library.
"""

from __future__ import annotations

import os

import pytest

PROFILES = ("fuzzlock-quick", "fuzzlock-ci", "fuzzlock-campaign")

_profile_key = pytest.StashKey[str]()


def register_profiles() -> None:
    """Register fuzzlock's Hypothesis profiles (idempotent).

    Each profile's parent is Hypothesis's built-in ``default`` profile: without an explicit
    parent a profile inherits whatever profile is current, and with ``CI`` set that is
    Hypothesis's ``ci`` profile (derandomize=True, no database), which would silently turn
    every campaign into the same fixed examples.
    """
    from hypothesis import HealthCheck, settings

    base = settings.get_profile("default")
    settings.register_profile(
        "fuzzlock-quick",
        parent=base,
        max_examples=50,
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "fuzzlock-ci",
        parent=base,
        max_examples=100,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "fuzzlock-campaign",
        parent=base,
        max_examples=10_000,
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow],
    )


def default_profile() -> str:
    """fuzzlock-ci if the CI environment variable is set (and not false), else fuzzlock-quick."""
    ci = os.environ.get("CI", "").strip().lower()
    return "fuzzlock-ci" if ci not in ("", "0", "false", "no") else "fuzzlock-quick"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fuzzlock")
    group.addoption(
        "--fuzzlock-profile",
        dest="fuzzlock_profile",
        choices=PROFILES,
        default=None,
        help="Hypothesis settings profile to load (default: fuzzlock-ci if $CI is set, "
        "else fuzzlock-quick).",
    )


def pytest_configure(config: pytest.Config) -> None:
    from hypothesis import settings

    register_profiles()
    name = config.getoption("fuzzlock_profile")
    if name is None and config.getoption("hypothesis_profile", default=None):
        name = config.getoption("hypothesis_profile")  # the user's explicit Hypothesis choice
    else:
        name = name or default_profile()
        settings.load_profile(name)
    config.stash[_profile_key] = name


def pytest_report_header(config: pytest.Config) -> str:
    return f"fuzzlock: hypothesis profile {config.stash.get(_profile_key, '?')}"
