"""The backend conformance suite: what any backend of fuzzlock.backends must pass.

Run it against one backend with ``pytest tests/conformance --fuzzlock-backend NAME`` (or
``FUZZLOCK_BACKEND=NAME``); without either it runs against every registered backend that
is available here (the reference included: it must agree with itself).  Each test compares
the backend with the reference (``python``) through the ``Backend`` interface only.
"""

from __future__ import annotations

import os

import pytest

from fuzzlock import backends


def _selected(config: pytest.Config) -> list[str]:
    chosen = config.getoption("fuzzlock_backend", default=None) or os.environ.get(
        "FUZZLOCK_BACKEND"
    )
    if chosen:
        return [str(chosen)]
    return list(backends.names())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend_name", _selected(metafunc.config), scope="module")


@pytest.fixture(scope="module")
def backend(backend_name: str) -> backends.Backend:
    b = backends.get(backend_name)
    if not b.available():
        from tests.native_required import REQUIRE_ENV

        reason = f"backend {backend_name}: {b.unavailable_reason()}"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set but: {reason}")
        pytest.skip(reason)
    return b


@pytest.fixture(scope="module")
def reference() -> backends.Backend:
    return backends.get(backends.REFERENCE)
