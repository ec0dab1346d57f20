"""Tests that need the C model: skipped, saying why, where it is not built (an install
without a C compiler uses the Python backend), and failed instead under
FUZZLOCK_REQUIRE_NATIVE=1 (``.ci/run`` sets it for the README's install, where a missing
library means the C build broke)."""

from __future__ import annotations

import os

import pytest

REQUIRE_ENV = "FUZZLOCK_REQUIRE_NATIVE"


def native_model_missing() -> str | None:
    """Why the C model cannot run here (one line), or None when it can."""
    from fuzzlock import native

    if not native.native_available():
        return f"C model unavailable: {native.unavailable_reason()}"
    return None


def require_native_model() -> None:
    """Skip the calling test (or fail it under FUZZLOCK_REQUIRE_NATIVE) without the C model."""
    reason = native_model_missing()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{REQUIRE_ENV} is set but: {reason}")
    pytest.skip(reason)
