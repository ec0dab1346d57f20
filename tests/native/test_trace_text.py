"""The C trace text (native/trace.c ``fl_sched_trace``) is ``trace.canonical`` of the run.

The batched hunt hashes every run's text (``fl_trace_hash``, ``trace.hash64`` on the Python
side) to count distinct traces, so the text is on its hot path and is written by hand: one
pass, fixed-size copies of the strings, numbers through a two-digit table.  These tests pin
it, byte for byte, to the Python rendering:

* model runs: the C text of generated scenarios under generated decisions is
  ``trace.canonical`` of the Python model's run with the same decisions, and its hash is
  ``trace.hash64`` of that run (strings of every length the model names things with);
* numbers: values of every digit count, both signs and the extremes of a C long long, and
  steps past 1000, on toy programs against the Python scheduler.
"""

from __future__ import annotations

import ctypes
import os
import random
from collections.abc import Iterator

import pytest

from fuzzlock import model, native, protocol, scenario, scenarios, trace
from fuzzlock.native import _schema as native_schema
from fuzzlock.native import hunt as native_hunt
from fuzzlock.native import runners as native_runners
from tests.native.test_sched_differential import check

pytestmark = pytest.mark.native

LLONG_MIN, LLONG_MAX = -(2**63), 2**63 - 1


@pytest.fixture(scope="module", autouse=True)
def _need_native() -> None:
    reason = "" if native_hunt.available() else (native.unavailable_reason() or "stale build")
    if not reason:
        return
    if os.environ.get("FUZZLOCK_REQUIRE_NATIVE"):
        pytest.fail(f"FUZZLOCK_REQUIRE_NATIVE is set but the C model is unavailable: {reason}")
    pytest.skip(f"C model unavailable: {reason}")


def _scenarios(seed: int) -> Iterator[scenario.Scenario]:
    rng = random.Random(seed)
    while True:
        yield scenarios.gen_scenario(scenarios.RandomSource(random.Random(rng.randrange(2**32))))


def _c_text(sc: scenario.Scenario, knobs: object, decisions: list[int]) -> bytes | None:
    """The raw trace text of one C model run (None: outside the C slice, or a setup error)."""
    lib = native.load_library()
    try:
        enc, names = native.encode_model_scenario(sc, knobs)
        m = native_runners.Model(enc, names)
    except native.NativeError:
        return None
    try:
        res = native_schema.FlResult()
        arr = (ctypes.c_longlong * max(len(decisions), 1))(*decisions)
        rc = lib.fl_model_run(m.handle, arr, len(decisions), sc.max_steps, ctypes.byref(res))
        if rc != 0:
            return None
        return ctypes.string_at(res.trace, res.trace_len) if res.trace_len else b""
    finally:
        m.close()


def test_model_trace_text_is_the_canonical_text_of_the_python_run() -> None:
    compared = 0
    outcomes: set[str] = set()
    lengths: set[int] = set()
    for k, base in enumerate(("v6.18", "v6.19", "patch2-only")):
        proto = protocol.get(base)
        gen = _scenarios(1000 + k)
        rng = random.Random(k)
        for _ in range(40):
            sc = next(gen)
            decisions = [rng.randrange(4) for _ in range(rng.randrange(60))]
            text = _c_text(sc, proto.knobs, decisions)
            if text is None:
                continue
            py = model.run(sc, proto, decisions=decisions)
            events = [tuple(e) for e in py.result.events]
            assert text == trace.canonical(events).encode(), (base, sc, decisions)
            assert native_hunt.trace_hash(text) == trace.hash64(events)
            lengths.update(len(str(f)) for e in events for f in e[2:5])
            outcomes.add(py.outcome)
            compared += 1
    assert compared >= 60, compared
    assert len(outcomes) >= 2, outcomes
    # the names take every branch of the string copy: 2-3, 4-7, 8, 9-16 and longer bytes
    for lo, hi in ((2, 3), (4, 7), (8, 8), (9, 16), (17, 64)):
        assert lengths & set(range(lo, hi + 1)), (lo, hi, sorted(lengths))


def _values() -> list[int]:
    out = {0, LLONG_MIN, LLONG_MIN + 1, LLONG_MAX}
    for k in range(19):
        for v in (10**k - 1, 10**k, 10**k + 1):
            out.update((v, -v))
    return sorted(v for v in out if LLONG_MIN <= v <= LLONG_MAX)


def test_numbers_render_like_python_at_every_digit_count() -> None:
    """Values through a write and a read of a toy variable (an int value in the trace),
    with a second thread so that the decisions interleave; then enough reads for steps of
    four digits."""
    values = _values()
    writer = [a for v in values for a in (("write", 0, v), ("read", 0))]
    reader = [("read", 1)] * 900
    for decisions in ([], [1, 0, 1, 1, 0] * 40, [0] * 50 + [1] * 50):
        py = check([writer, reader], decisions)
        assert py.steps > 1000
        rendered = {e[5] for e in py.events}
        assert {str(v) for v in values} <= rendered
