"""The C model (native/model.c and friends) against the Python model (fuzzlock/model/).

The slice the C model implements so far: setup ``mmap``/``write``/``read``/``bind``, thread
ops ``write``, ``read`` and ``move`` (UFFDIO_MOVE of present and zero-page PTEs).  Random
scenarios of 1-3 movers, writers and readers on 1-3 pages run with random decision lists
under v6.18 and v6.19 (each with ``move.reset_err_on_retry`` on and off, and some other move
knobs flipped) on both backends; the traces must be identical event for event, and so
must the outcome, the consumed decisions, the preempted steps and the violating
(step, thread).  Set FUZZLOCK_REQUIRE_NATIVE=1 to make a missing library a failure.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

import pytest

from fuzzlock import model, native, protocol, scenario

pytestmark = pytest.mark.native

SEED = 20261128
N_RUNS = 3000

# knob variations on top of each base protocol
VARIANTS: list[dict[str, Any]] = [
    {},
    {"move.recheck_dst_under_ptl": False},
    {"move.check_exclusive": False},
    {"move.recheck_src_after_sleep": False},
    {"move.unmap_before_sleep": False},
    {"move.pin_check_before_rmap_update": False},
    {"move.batch_same_anon_vma_check": False},
    {"move.lock_order": "anon-vma-first"},
    {"move.anon_vma_lock": True},
    {"anon_vma.free_handshake": False},
]


@pytest.fixture(scope="module", autouse=True)
def _need_native() -> None:
    reason = ""
    if not native.native_available():
        reason = native.unavailable_reason()
    elif not hasattr(native.load_library(), "fl_model_new"):
        reason = f"{native.library_path()} has no C model (stale build: pip install -e .)"
    if not reason:
        return
    if os.environ.get("FUZZLOCK_REQUIRE_NATIVE"):
        pytest.fail(f"FUZZLOCK_REQUIRE_NATIVE is set but the C model is unavailable: {reason}")
    pytest.skip(f"C model unavailable: {reason}")


# --------------------------------------------------------------------------- generation


def random_scenario(rng: random.Random) -> scenario.Scenario:
    """1-3 movers/writers/readers on 1-3 pages of a src VMA and a dst VMA."""
    npages = rng.randint(1, 3)
    src = rng.choice([16, 14, 5, 22])
    dst = rng.choice([32, 30, 38])
    pages = 4
    setup: list[dict[str, Any]] = [
        {
            "op": "mmap",
            "mm": 0,
            "vma": "src",
            "start": src,
            "pages": pages,
            "uffd": rng.random() < 0.7,
            "write": rng.random() < 0.9,
            "locked": rng.random() < 0.05,
        },
        {"op": "mmap", "mm": 0, "vma": "dst", "start": dst, "pages": pages, "uffd": True},
    ]
    for i in range(npages):
        r = rng.random()
        if r < 0.75:
            setup.append(
                {"op": "write", "mm": 0, "addr": src + i, "value": 100 + i, "folio": f"F{i}"}
            )
        elif r < 0.9:
            setup.append({"op": "read", "mm": 0, "addr": src + i})
    threads = []
    for k in range(rng.randint(1, 3)):
        ops = []
        for _ in range(rng.randint(1, 2)):
            kind = rng.choices(["move", "write", "read"], [5, 2, 2])[0]
            if kind == "move":
                off = rng.randint(0, npages - 1)
                ops.append(
                    {
                        "op": "move",
                        "mm": 0,
                        "dst": dst + (off if rng.random() < 0.6 else rng.randint(0, pages - 1)),
                        "src": src + off,
                        "len": rng.randint(1, 2),
                        "mode": ["ALLOW_SRC_HOLES"] if rng.random() < 0.3 else [],
                    }
                )
            else:
                base = src if rng.random() < 0.6 else dst
                o: dict[str, Any] = {
                    "op": kind,
                    "mm": 0 if rng.random() < 0.95 else 1,  # mm1 does not exist: "no-mm"
                    "addr": base + rng.randint(0, npages),
                }
                if kind == "write":
                    o["value"] = rng.randint(1, 999)
                ops.append(o)
        threads.append({"name": f"{ops[0]['op']}{k}", "ops": ops})
    return scenario.from_json({"setup": setup, "threads": threads})


def racing_movers(rng: random.Random) -> scenario.Scenario:
    """2-3 movers racing for the same src and dst pages (plus a reader or writer of dst),
    where knobs off the real protocols break invariants."""
    npages = rng.randint(1, 3)
    setup: list[dict[str, Any]] = [
        {"op": "mmap", "mm": 0, "vma": "src", "start": 14, "pages": 4, "uffd": True},
        {"op": "mmap", "mm": 0, "vma": "dst", "start": 30, "pages": 4, "uffd": True},
    ]
    setup += [{"op": "write", "mm": 0, "addr": 14 + k, "value": 100 + k} for k in range(npages)]
    if rng.random() < 0.3:
        setup.append({"op": "read", "mm": 0, "addr": 14 + npages})
    threads = []
    for k in range(rng.randint(2, 3)):
        ops: list[dict[str, Any]] = [
            {
                "op": "move",
                "mm": 0,
                "dst": 30 + rng.randint(0, 1),
                "src": 14 + rng.randint(0, npages),
                "len": rng.randint(1, 3),
                "mode": ["ALLOW_SRC_HOLES"] if rng.random() < 0.3 else [],
            }
        ]
        if rng.random() < 0.5:
            o: dict[str, Any] = {
                "op": rng.choice(["read", "write"]),
                "mm": 0,
                "addr": 30 + rng.randint(0, 2),
            }
            if o["op"] == "write":
                o["value"] = 5
            ops.append(o)
        threads.append({"name": f"m{k}", "ops": ops})
    return scenario.from_json({"setup": setup, "threads": threads})


def random_protocol(rng: random.Random) -> protocol.Protocol:
    base = rng.choice(["v6.18", "v6.19"])
    knobs = dict(rng.choice(VARIANTS))
    knobs["move.reset_err_on_retry"] = rng.random() < 0.5
    return protocol.get(base, knobs)


def random_decisions(rng: random.Random) -> list[int]:
    n = rng.choice([0, 3, 10, 30, 80])
    return [rng.choice([0, 0, 1, 2, 3, rng.randint(0, 50)]) for _ in range(n)]


# --------------------------------------------------------------------------- comparison


def difference(sc: scenario.Scenario, proto: protocol.Protocol, decisions: list[int]) -> str:
    """'' if both backends agree on this run, else the first difference."""
    py_err = c_err = None
    try:
        py = model.run(sc, proto, decisions=decisions)
    except model.SetupError as e:
        py_err = str(e)
    try:
        c = native.run_model(sc.dumps(), proto.knobs, decisions)
    except native.NativeSetupError as e:
        c_err = str(e)
    if py_err is not None or c_err is not None:
        if (py_err is None) != (c_err is None):
            return f"setup error: python {py_err!r}, C {c_err!r}"
        return ""
    outcome, events, decs, preempted, viol = c
    pr = py.result
    for i, (pe, ce) in enumerate(zip(pr.events, events)):
        if tuple(pe) != ce:
            return f"first differing event #{i}: python {tuple(pe)} != C {ce}"
    if len(pr.events) != len(events):
        n = min(len(pr.events), len(events))
        more = pr.events[n : n + 3] if len(pr.events) > n else events[n : n + 3]
        return f"event counts differ: python {len(pr.events)}, C {len(events)}; next {more}"
    if pr.outcome != outcome:
        pv = pr.violation
        return (
            f"outcome: python {pr.outcome} ({pv.message if pv else ''}) != C {outcome} "
            f"({viol[4] if viol else ''})"
        )
    if list(pr.decisions) != decs:
        return f"decisions: python {pr.decisions} != C {decs}"
    if list(pr.preempted) != preempted:
        return f"preempted: python {pr.preempted} != C {preempted}"
    pv = pr.violation
    if (pv is None) != (viol is None):
        return f"violation: python {pv} != C {viol}"
    if pv is not None and viol is not None:
        if (pv.step, pv.thread) != (viol[1], viol[2]):
            return f"violation at: python {(pv.step, pv.thread)} != C {(viol[1], viol[2])}"
        if (pv.fn, pv.message) != (viol[3], viol[4]):
            return f"violation text: python {(pv.fn, pv.message)} != C {(viol[3], viol[4])}"
    return ""


def test_random_slice_scenarios() -> None:
    rng = random.Random(SEED)
    outcomes: dict[str, int] = {}
    t0 = time.monotonic()
    for i in range(N_RUNS):
        if i % 3:
            sc, proto, decisions = random_scenario(rng), random_protocol(rng), random_decisions(rng)
        else:
            sc, proto = racing_movers(rng), random_protocol(rng)
            if rng.random() < 0.5:  # off the real protocols: invariants break
                proto = protocol.get(
                    proto.base,
                    {
                        "move.recheck_dst_under_ptl": False,
                        "move.reset_err_on_retry": rng.random() < 0.5,
                    },
                )
            decisions = [rng.randint(0, 5) for _ in range(rng.choice([5, 20, 60]))]
        diff = difference(sc, proto, decisions)
        assert not diff, (
            f"run {i}: {diff}\nprotocol {proto.name}\ndecisions {decisions}\n{sc.dumps()}"
        )
        r = native.run_model(sc.dumps(), proto.knobs, decisions)
        outcomes[r[0]] = outcomes.get(r[0], 0) + 1
    assert time.monotonic() - t0 < 120
    # the runs must exercise more than the happy path
    assert outcomes.get("finished", 0) > N_RUNS // 4
    assert sum(n for o, n in outcomes.items() if o not in ("finished", "step-bound")) > 10, outcomes


@pytest.mark.parametrize("base", ["v6.18", "v6.19"])
def test_strategy_movers_family(base: str) -> None:
    """The ``movers`` scenarios of fuzzlock.strategies (walkers dropped) agree too."""
    from fuzzlock import strategies

    rng = random.Random(SEED + 1)
    n = 0
    while n < 150:
        sc = strategies.gen_scenario(strategies.RandomSource(rng), "movers")
        threads = [
            (name, ops)
            for name, ops in sc.threads
            if all(o["op"] in native.MODEL_THREAD_OPS for o in ops)
        ]
        if not threads:
            continue
        sc = scenario.Scenario(sc.setup, tuple(threads), sc.max_steps)
        proto = protocol.get(base, {"move.reset_err_on_retry": rng.random() < 0.5})
        decisions = random_decisions(rng)
        diff = difference(sc, proto, decisions)
        assert not diff, f"{diff}\nprotocol {proto.name}\ndecisions {decisions}\n{sc.dumps()}"
        n += 1


def test_ops_outside_the_slice_are_refused() -> None:
    sc = scenario.from_json(
        {
            "setup": [{"op": "mmap", "mm": 0, "vma": "a", "start": 0, "pages": 2}],
            "threads": [{"name": "f", "ops": [{"op": "fork", "mm": 0, "child": 1}]}],
        }
    )
    with pytest.raises(native.NativeError, match="not in the native model"):
        native.run_model(sc.dumps(), protocol.get("v6.19").knobs, [])


def test_malformed_encodings_are_refused() -> None:
    sc = random_scenario(random.Random(1))
    enc, names = native.encode_model_scenario(sc, protocol.get("v6.19").knobs)
    rng = random.Random(2)
    for _ in range(300):
        bad = list(enc)
        k = rng.randrange(len(bad))
        bad[k] = rng.choice([-1, 2**40, 7, 65, 0, 3])
        if rng.random() < 0.3:
            bad = bad[: rng.randrange(len(bad))]
        try:
            with native._Model(bad, names):
                pass
        except native.NativeError as e:
            assert "malformed model scenario" in str(e)


def test_setup_error_agrees() -> None:
    sc = scenario.from_json(
        {
            "setup": [
                {"op": "mmap", "mm": 0, "vma": "a", "start": 0, "pages": 2},
                {"op": "read", "mm": 0, "addr": 0, "folio": "F"},
            ],
            "threads": [{"name": "r", "ops": [{"op": "read", "mm": 0, "addr": 0}]}],
        }
    )
    with pytest.raises(model.SetupError):
        model.run(sc, protocol.get("v6.19"))
    with pytest.raises(native.NativeSetupError):
        native.run_model(sc.dumps(), protocol.get("v6.19").knobs, [])
