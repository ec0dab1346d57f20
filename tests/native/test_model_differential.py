"""The C model (native/model.c and friends) against the Python model (fuzzlock/model/).

The slice the C model implements so far: setup ``mmap``/``write``/``read``/``bind``, thread
ops ``write``, ``read`` and ``move`` (UFFDIO_MOVE of present and zero-page PTEs) and the rmap
walkers ``shrink_active_list``, ``page_idle``, ``damon_mkold``, ``damon_young`` and
``memory_failure`` on setup-bound folios (test_movers_and_walkers: v6.18, v6.19,
patch2-only, patch1-only and single walker-knob overrides; thread results compared too).  Random
scenarios of 1-3 movers, writers and readers on 1-3 pages run with random decision lists
under v6.18 and v6.19 (each with ``move.reset_err_on_retry`` on and off, and some other move
knobs flipped) on both backends; the traces must be identical event for event, and so
must the outcome, the consumed decisions, the preempted steps and the violating
(step, thread).  Set FUZZLOCK_REQUIRE_NATIVE=1 to make a missing library a failure.

Also ported: ``fork`` (dup_mmap, anon_vma_fork/anon_vma_clone, copy_page_range with the
early copy of a maybe-pinned PAE page and migration entries; knobs fork.clear_exclusive,
fork.link_before_copy), ``pin``/``unpin`` (GUP-fast, MMF_HAS_PINNED) and ``migrate``
(try_to_migrate, remove_migration_ptes, migration_entry_wait in faults and moves) and
``madvise_dontneed``:
test_fork_cow_movers_walkers, test_pins_racing_moves_and_fork,
test_migrate_vs_fork_walkers_movers and test_migrate_vs_fork_copy_before_link.
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
# violations whose objects the C model records (the others: message only)
OBJECTS_PORTED = frozenset({"walk.complete", "lock.walk-discipline", "uaf"})
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
        c, c_results, c_objects = native.run_model_results(sc.dumps(), proto.knobs, decisions)
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
    if py.results != c_results:
        return f"thread results: python {py.results} != C {c_results}"
    pv = pr.violation
    if (pv is None) != (viol is None):
        return f"violation: python {pv} != C {viol}"
    if pv is not None and viol is not None:
        if (pv.step, pv.thread) != (viol[1], viol[2]):
            return f"violation at: python {(pv.step, pv.thread)} != C {(viol[1], viol[2])}"
        if (pv.fn, pv.message) != (viol[3], viol[4]):
            return f"violation text: python {(pv.fn, pv.message)} != C {(viol[3], viol[4])}"
        if c_objects is None and pv.id in OBJECTS_PORTED:
            return f"violation objects: C recorded none for {pv.id}, python {pv.objects}"
        if c_objects is not None and tuple(pv.objects) != c_objects:
            return f"violation objects: python {pv.objects} != C {c_objects}"
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
            "threads": [
                {"name": "f", "ops": [{"op": "madvise_pageout", "mm": 0, "addr": 0, "pages": 1}]}
            ],
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


# --------------------------------------------------------------------------- walkers

WALKER_OPS = ["shrink_active_list", "page_idle", "damon_mkold", "damon_young", "memory_failure"]
WALK_BASES = ["v6.18", "v6.19", "patch2-only", "patch1-only"]
# single walker-knob overrides on top of a base
WALK_VARIANTS: list[dict[str, Any]] = [
    {},
    {"walk.referenced_active_lock": "none"},
    {"walk.referenced_active_lock": "trylock"},
    {"walk.referenced_active_lock": "lock"},
    {"walk.page_idle_lock": "none"},
    {"walk.page_idle_lock": "trylock"},
    {"walk.damon_lock": "none"},
    {"walk.damon_lock": "trylock"},
    {"walk.memory_failure_lock": "none"},
    {"walk.memory_failure_lock": "lock"},
    {"walk.recheck_mapping": True},
    {"walk.recheck_mapping": False},
    {"walk.check_mapped_after_lock": False},
    {"walk.trylock_fail_result": 0},
    {"anon_vma.free_handshake": False},
    {"unmap.zap_before_unlink": False},
]
N_WALK_RUNS = 2400


def movers_and_walkers(rng: random.Random) -> scenario.Scenario:
    """1-2 movers of src pages (each its own VMA, so the move changes folio->mapping)
    racing 1-2 rmap walkers of the moved folios, plus sometimes a reader or writer."""
    npages = rng.randint(1, 2)
    src, dst = 14, 30
    setup: list[dict[str, Any]] = [
        {"op": "mmap", "mm": 0, "vma": "src", "start": src, "pages": 4, "uffd": True},
        {"op": "mmap", "mm": 0, "vma": "dst", "start": dst, "pages": 4, "uffd": True},
    ]
    if rng.random() < 0.3:  # a dst VMA that already has its anon_vma
        setup.append({"op": "write", "mm": 0, "addr": dst + 3, "value": 9})
    for k in range(npages):
        setup.append({"op": "write", "mm": 0, "addr": src + k, "value": 100 + k, "folio": f"F{k}"})
    threads = []
    for k in range(rng.randint(1, 2)):
        off = rng.randint(0, npages - 1)
        ops: list[dict[str, Any]] = [
            {
                "op": "move",
                "mm": 0,
                "dst": dst + (off if rng.random() < 0.7 else rng.randint(0, 2)),
                "src": src + off,
                "len": rng.randint(1, npages),
                "mode": ["ALLOW_SRC_HOLES"] if rng.random() < 0.3 else [],
            }
        ]
        if rng.random() < 0.3:
            ops.append(
                {
                    "op": "move",
                    "mm": 0,
                    "dst": src + off,
                    "src": dst + off,
                    "len": 1,
                    "mode": [],
                }
            )
        threads.append({"name": f"mover{k}", "ops": ops})
    for k in range(rng.randint(1, 2)):
        ops = [
            {"op": rng.choice(WALKER_OPS), "folio": f"F{rng.randint(0, npages - 1)}"}
            for _ in range(rng.randint(1, 2))
        ]
        threads.append({"name": f"walker{k}", "ops": ops})
    if rng.random() < 0.3:  # unmap a VMA (or the whole mm) under the walkers
        u = rng.choice(["munmap-src", "munmap-dst", "exit"])
        if u == "exit":
            threads.append({"name": "exiter", "ops": [{"op": "exit", "mm": 0}]})
        else:
            start = src if u == "munmap-src" else dst
            threads.append(
                {"name": "unmapper", "ops": [{"op": "munmap", "mm": 0, "addr": start, "pages": 4}]}
            )
    if rng.random() < 0.25:
        o: dict[str, Any] = {"op": rng.choice(["read", "write"]), "mm": 0, "addr": dst}
        if o["op"] == "write":
            o["value"] = 77
        threads.append({"name": "user", "ops": [o]})
    return scenario.from_json({"setup": setup, "threads": threads})


def walk_protocol(rng: random.Random) -> protocol.Protocol:
    base = rng.choice(WALK_BASES)
    knobs = dict(rng.choice(WALK_VARIANTS)) if rng.random() < 0.5 else {}
    return protocol.get(base, knobs)


def test_movers_and_walkers() -> None:
    """Movers racing rmap walkers on every base and single walker-knob overrides: the
    traces, results and violations agree; patch2-only loses mappings (walk.complete)."""
    rng = random.Random(SEED + 7)
    outcomes: dict[str, dict[str, int]] = {}
    t0 = time.monotonic()
    for i in range(N_WALK_RUNS):
        sc, proto = movers_and_walkers(rng), walk_protocol(rng)
        decisions = [rng.randint(0, 4) for _ in range(rng.choice([0, 10, 40, 120]))]
        diff = difference(sc, proto, decisions)
        assert not diff, (
            f"run {i}: {diff}\nprotocol {proto.name}\ndecisions {decisions}\n{sc.dumps()}"
        )
        py = model.run(sc, proto, decisions=decisions)
        c = native.run_model(sc.dumps(), proto.knobs, decisions)
        for backend, o in (("python", py.outcome), ("C", c[0])):
            by = outcomes.setdefault(f"{proto.base}/{backend}", {})
            by[o] = by.get(o, 0) + 1
    assert time.monotonic() - t0 < 300
    for backend in ("python", "C"):
        got = outcomes.get(f"patch2-only/{backend}", {})
        assert got.get("walk.complete", 0) > 0, outcomes
    assert sum(n for o, n in outcomes["v6.19/C"].items() if o == "finished") > 0, outcomes


def walker_vs_unmapper(rng: random.Random) -> tuple[scenario.Scenario, protocol.Protocol]:
    """One walker against munmap or exit of its folio's VMA: without the folio_mapped()
    recheck after the root lock (R4, ``walk.check_mapped_after_lock``) the walk touches
    the freed anon_vma outside RCU (uaf)."""
    base = rng.choice(WALK_BASES)
    proto = protocol.get(
        base, {"walk.check_mapped_after_lock": False} if rng.random() < 0.7 else {}
    )
    setup: list[dict[str, Any]] = [
        {"op": "mmap", "mm": 0, "vma": "src", "start": 14, "pages": 4, "uffd": True},
        {"op": "write", "mm": 0, "addr": 14, "value": 100, "folio": "F0"},
    ]
    unmap = rng.choice([{"op": "munmap", "mm": 0, "addr": 14, "pages": 4}, {"op": "exit", "mm": 0}])
    threads = [
        {"name": "walker", "ops": [{"op": rng.choice(WALKER_OPS), "folio": "F0"}]},
        {"name": "unmapper", "ops": [unmap]},
    ]
    return scenario.from_json({"setup": setup, "threads": threads}), proto


N_UNMAP_RUNS = 800


def test_walkers_vs_unmap() -> None:
    rng = random.Random(SEED + 11)
    uaf = {"python": 0, "C": 0}
    for i in range(N_UNMAP_RUNS):
        sc, proto = walker_vs_unmapper(rng)
        decisions = [rng.choice([0, 0, 0, 1, 1, 2]) for _ in range(rng.choice([20, 60, 150]))]
        diff = difference(sc, proto, decisions)
        assert not diff, (
            f"run {i}: {diff}\nprotocol {proto.name}\ndecisions {decisions}\n{sc.dumps()}"
        )
        uaf["python"] += model.run(sc, proto, decisions=decisions).outcome == "uaf"
        uaf["C"] += native.run_model(sc.dumps(), proto.knobs, decisions)[0] == "uaf"
    assert uaf["python"] > 0 and uaf["C"] > 0, uaf


@pytest.mark.parametrize("family", ["mover_walker", "unmap_walker", "reclaim_move"])
@pytest.mark.parametrize("base", WALK_BASES)
def test_strategy_walker_families(family: str, base: str) -> None:
    """The walker families of fuzzlock.strategies, threads outside the slice dropped."""
    from fuzzlock import strategies

    rng = random.Random(f"{SEED}-{family}-{base}")
    n = tries = 0
    while n < 60 and tries < 2000:
        tries += 1
        sc = strategies.gen_scenario(strategies.RandomSource(rng), family)
        if any(o["op"] not in native.MODEL_SETUP_OPS for o in sc.setup):
            continue
        threads = [
            (name, ops)
            for name, ops in sc.threads
            if all(o["op"] in native.MODEL_THREAD_OPS for o in ops)
        ]
        if not threads:
            continue
        sc = scenario.Scenario(sc.setup, tuple(threads), sc.max_steps)
        proto = protocol.get(base)
        decisions = random_decisions(rng)
        diff = difference(sc, proto, decisions)
        assert not diff, f"{diff}\nprotocol {proto.name}\ndecisions {decisions}\n{sc.dumps()}"
        n += 1
    assert n >= 20, (family, base, n, tries)


def test_corpus_entries_in_the_slice() -> None:
    """Every corpus entry whose ops are all in the native slice replays identically."""
    from pathlib import Path

    from fuzzlock import corpus

    root = Path(__file__).resolve().parents[2] / "corpora"
    n = 0
    for path, entry in corpus.iter_entries([root]):
        if isinstance(entry, corpus.CorpusError):
            continue
        sc = entry.scenario
        if any(o["op"] not in native.MODEL_SETUP_OPS for o in sc.setup) or any(
            o["op"] not in native.MODEL_THREAD_OPS for _, ops in sc.threads for o in ops
        ):
            continue
        diff = difference(sc, entry.protocol, list(entry.decisions))
        assert not diff, f"{path}: {diff}"
        n += 1
    assert n > 0


# --------------------------------------------------------------------------- fork

FORK_BASES = ("v6.18", "v6.19", "patch2-only")
FORK_VARIANTS: list[dict[str, Any]] = [
    {"fork.clear_exclusive": False},
    {"fork.clear_exclusive": True},
    {"fork.link_before_copy": False},
    {"fork.link_before_copy": True},
    {"cow.reuse_lock": "trylock"},
    {"cow.reuse_lock": "none"},
    {"move.check_exclusive": False},
    {"walk.recheck_mapping": True},
    {"walk.recheck_mapping": False},
]
N_FORK_RUNS = 2000


def fork_scenario(rng: random.Random) -> scenario.Scenario:
    """A fork of mm0 racing movers, CoW writers and readers of both mms, rmap walkers of
    the shared folios and the child's exit."""
    npages = rng.randint(1, 2)
    src, dst = 14, 30
    setup: list[dict[str, Any]] = [
        {
            "op": "mmap",
            "mm": 0,
            "vma": "src",
            "start": src,
            "pages": 4,
            "uffd": True,
            "dontfork": rng.random() < 0.05,
            "wipeonfork": rng.random() < 0.05,
        },
        {"op": "mmap", "mm": 0, "vma": "dst", "start": dst, "pages": 4, "uffd": True},
    ]
    if rng.random() < 0.3:
        setup.append({"op": "write", "mm": 0, "addr": dst + 3, "value": 9})
    if rng.random() < 0.2:
        setup.append({"op": "read", "mm": 0, "addr": src + 2})
    for k in range(npages):
        setup.append({"op": "write", "mm": 0, "addr": src + k, "value": 100 + k, "folio": f"F{k}"})
    threads: list[dict[str, Any]] = []
    fork_ops: list[dict[str, Any]] = [{"op": "fork", "mm": 0, "child": 1}]
    for _ in range(rng.randint(0, 2)):
        kind = rng.choice(["write", "read", "write", "exit", "fork"])
        if kind == "exit":
            fork_ops.append({"op": "exit", "mm": 1})
            break
        if kind == "fork":
            fork_ops.append({"op": "fork", "mm": rng.choice([0, 1]), "child": rng.choice([1, 2])})
            continue
        o: dict[str, Any] = {"op": kind, "mm": 1, "addr": src + rng.randint(0, npages)}
        if kind == "write":
            o["value"] = rng.randint(1, 999)
        fork_ops.append(o)
    threads.append({"name": "forker", "ops": fork_ops})
    if rng.random() < 0.6:
        off = rng.randint(0, npages - 1)
        threads.append(
            {
                "name": "mover",
                "ops": [
                    {
                        "op": "move",
                        "mm": 0,
                        "dst": dst + off,
                        "src": src + off,
                        "len": rng.randint(1, npages),
                        "mode": ["ALLOW_SRC_HOLES"] if rng.random() < 0.3 else [],
                    }
                ],
            }
        )
    for k in range(rng.randint(0, 2)):
        kind = rng.choice(["write", "read", "walker", "walker", "dontneed"])
        if kind == "walker":
            ops = [{"op": rng.choice(WALKER_OPS), "folio": f"F{rng.randint(0, npages - 1)}"}]
        elif kind == "dontneed":
            ops = [{"op": "madvise_dontneed", "mm": rng.choice([0, 1]), "addr": src, "pages": 2}]
        else:
            o = {"op": kind, "mm": rng.choice([0, 0, 1]), "addr": src + rng.randint(0, npages)}
            if kind == "write":
                o["value"] = rng.randint(1, 999)
            ops = [o]
        threads.append({"name": f"{kind}{k}", "ops": ops})
    return scenario.from_json({"setup": setup, "threads": threads})


def test_fork_cow_movers_walkers() -> None:
    """fork (dup_mmap, anon_vma_fork, copy_page_range) racing movers, CoW faults on both
    mms and rmap walkers, on v6.18, v6.19, patch2-only and single fork/CoW knob overrides."""
    rng = random.Random(SEED + 13)
    outcomes: dict[str, int] = {}
    for i in range(N_FORK_RUNS):
        sc = fork_scenario(rng)
        knobs = dict(rng.choice(FORK_VARIANTS)) if rng.random() < 0.6 else {}
        proto = protocol.get(rng.choice(FORK_BASES), knobs)
        decisions = [rng.randint(0, 4) for _ in range(rng.choice([0, 10, 40, 120]))]
        diff = difference(sc, proto, decisions)
        assert not diff, (
            f"run {i}: {diff}\nprotocol {proto.name}\ndecisions {decisions}\n{sc.dumps()}"
        )
        o = model.run(sc, proto, decisions=decisions).outcome
        outcomes[o] = outcomes.get(o, 0) + 1
    assert outcomes.get("finished", 0) > N_FORK_RUNS // 4, outcomes
    assert len(outcomes) > 2, outcomes


# --------------------------------------------------------------------------- pins

PIN_VARIANTS: list[dict[str, Any]] = [
    {"move.pin_check_before_rmap_update": False},
    {"move.check_exclusive": False},
    {"fork.clear_exclusive": False},
    {"cow.reuse_lock": "trylock"},
    {"cow.reuse_lock": "none"},
    {"move.anon_vma_lock": True},
]
N_PIN_RUNS = 1500


def pins_scenario(rng: random.Random) -> scenario.Scenario:
    """GUP-fast pins (and unpins) racing movers of the pinned pages, a fork (the early
    copy of a maybe-pinned PageAnonExclusive page), CoW writers and walkers."""
    npages = rng.randint(1, 2)
    src, dst = 14, 30
    setup: list[dict[str, Any]] = [
        {"op": "mmap", "mm": 0, "vma": "src", "start": src, "pages": 4, "uffd": True},
        {"op": "mmap", "mm": 0, "vma": "dst", "start": dst, "pages": 4, "uffd": True},
    ]
    for k in range(npages):
        setup.append({"op": "write", "mm": 0, "addr": src + k, "value": 100 + k, "folio": f"F{k}"})
    if rng.random() < 0.2:
        setup.append({"op": "read", "mm": 0, "addr": src + npages})
    threads: list[dict[str, Any]] = []
    for k in range(rng.randint(1, 2)):
        ops: list[dict[str, Any]] = []
        for _ in range(rng.randint(1, 2)):
            ops.append({"op": "pin", "mm": 0, "addr": src + rng.randint(0, npages)})
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            ops.append({"op": "unpin"})
        threads.append({"name": f"pinner{k}", "ops": ops})
    off = rng.randint(0, npages - 1)
    if rng.random() < 0.7:
        threads.append(
            {
                "name": "mover",
                "ops": [
                    {
                        "op": "move",
                        "mm": 0,
                        "dst": dst + off,
                        "src": src + off,
                        "len": rng.randint(1, npages),
                        "mode": ["ALLOW_SRC_HOLES"] if rng.random() < 0.3 else [],
                    }
                ],
            }
        )
    if rng.random() < 0.5:
        ops = [{"op": "fork", "mm": 0, "child": 1}]
        if rng.random() < 0.6:
            o: dict[str, Any] = {"op": rng.choice(["read", "write"]), "mm": 1, "addr": src + off}
            if o["op"] == "write":
                o["value"] = 55
            ops.append(o)
        threads.append({"name": "forker", "ops": ops})
    r = rng.random()
    if r < 0.3:
        o = {"op": rng.choice(["read", "write"]), "mm": 0, "addr": src + off}
        if o["op"] == "write":
            o["value"] = 66
        threads.append({"name": "user", "ops": [o]})
    elif r < 0.5:
        threads.append(
            {"name": "walker", "ops": [{"op": rng.choice(WALKER_OPS), "folio": f"F{off}"}]}
        )
    return scenario.from_json({"setup": setup, "threads": threads})


def test_pins_racing_moves_and_fork() -> None:
    """pin/unpin (gup_fast_pin, unpin_user_page, MMF_HAS_PINNED) racing movers, fork's
    early copy, CoW writers and walkers on v6.18, v6.19, patch2-only and overrides."""
    rng = random.Random(SEED + 17)
    outcomes: dict[str, int] = {}
    results: set[str] = set()
    for i in range(N_PIN_RUNS):
        sc = pins_scenario(rng)
        knobs = dict(rng.choice(PIN_VARIANTS)) if rng.random() < 0.5 else {}
        proto = protocol.get(rng.choice(FORK_BASES), knobs)
        decisions = [rng.randint(0, 4) for _ in range(rng.choice([0, 10, 40, 120]))]
        diff = difference(sc, proto, decisions)
        assert not diff, (
            f"run {i}: {diff}\nprotocol {proto.name}\ndecisions {decisions}\n{sc.dumps()}"
        )
        py = model.run(sc, proto, decisions=decisions)
        outcomes[py.outcome] = outcomes.get(py.outcome, 0) + 1
        results.update(r for rs in py.results for r in rs)
    assert outcomes.get("finished", 0) > N_PIN_RUNS // 4, outcomes
    assert {"no-pin", "-14", "0"} <= results, results
    assert any(r.startswith("folio:") for r in results), results


# --------------------------------------------------------------------------- migrate

MIGRATE_VARIANTS: list[dict[str, Any]] = [
    {"fork.link_before_copy": False},
    {"fork.clear_exclusive": False},
    {"walk.recheck_mapping": True},
    {"walk.recheck_mapping": False},
    {"move.recheck_src_after_sleep": False},
    {"move.unmap_before_sleep": False},
    {"anon_vma.free_handshake": False},
]
N_MIGRATE_RUNS = 2000


def migrate_scenario(rng: random.Random, pins: bool = True) -> scenario.Scenario:
    """migrate of a bound folio (try_to_migrate, remove_migration_ptes) racing fork
    (migration entries copied; with fork.link_before_copy=False unreachable), rmap
    walkers, movers, pins, readers and writers that fault on the migration entries."""
    npages = rng.randint(1, 2)
    src, dst = 14, 30
    setup: list[dict[str, Any]] = [
        {"op": "mmap", "mm": 0, "vma": "src", "start": src, "pages": 4, "uffd": True},
        {"op": "mmap", "mm": 0, "vma": "dst", "start": dst, "pages": 4, "uffd": True},
    ]
    for k in range(npages):
        setup.append({"op": "write", "mm": 0, "addr": src + k, "value": 100 + k, "folio": f"F{k}"})
    off = rng.randint(0, npages - 1)
    threads: list[dict[str, Any]] = [
        {
            "name": "migrator",
            "ops": [{"op": "migrate", "folio": f"F{off}"}]
            + (
                [{"op": "migrate", "folio": f"F{rng.randint(0, npages - 1)}"}]
                if rng.random() < 0.2
                else []
            ),
        }
    ]
    for k in range(rng.randint(1, 2)):
        kind = rng.choice(
            ["fork", "fork", "walker", "move", "pin", "read", "write", "exit", "dontneed"]
        )
        if kind == "pin" and not pins:
            kind = "read"
        if kind == "fork":
            # racing forks to one child id are not modelled alike (see report): one per thread
            ops: list[dict[str, Any]] = [{"op": "fork", "mm": 0, "child": 1 + k}]
            if rng.random() < 0.5:
                ops.append(
                    {
                        "op": rng.choice(["read", "write"]),
                        "mm": 1 + k,
                        "addr": src + off,
                        "value": 5,
                    }
                )
                if ops[-1]["op"] == "read":
                    del ops[-1]["value"]
        elif kind == "walker":
            ops = [{"op": rng.choice(WALKER_OPS), "folio": f"F{rng.randint(0, npages - 1)}"}]
        elif kind == "move":
            ops = [
                {
                    "op": "move",
                    "mm": 0,
                    "dst": dst + off,
                    "src": src + off,
                    "len": rng.randint(1, npages),
                    "mode": ["ALLOW_SRC_HOLES"] if rng.random() < 0.3 else [],
                }
            ]
        elif kind == "pin":
            ops = [{"op": "pin", "mm": 0, "addr": src + off}]
            if rng.random() < 0.5:
                ops.append({"op": "unpin"})
        elif kind == "exit":
            ops = [{"op": "exit", "mm": 0}]
        elif kind == "dontneed":
            ops = [
                {"op": "madvise_dontneed", "mm": 0, "addr": src + off, "pages": rng.randint(1, 5)}
            ]
        else:
            o: dict[str, Any] = {"op": kind, "mm": 0, "addr": src + off}
            if kind == "write":
                o["value"] = 77
            ops = [o]
        threads.append({"name": f"{kind}{k}", "ops": ops})
    return scenario.from_json({"setup": setup, "threads": threads})


def test_migrate_vs_fork_walkers_movers() -> None:
    """migrate racing fork, walkers, movers, pins and faults on the migration entries, on
    v6.18, v6.19, patch2-only and single knob overrides (fork.link_before_copy=False leaves
    unreachable migration entries: migration.reachable on both backends)."""
    rng = random.Random(SEED + 19)
    outcomes: dict[str, int] = {}
    results: set[str] = set()
    for i in range(N_MIGRATE_RUNS):
        knobs = dict(rng.choice(MIGRATE_VARIANTS)) if rng.random() < 0.5 else {}
        # the Python model asserts in copy_present_pte's early copy of a pinned page when
        # fork.link_before_copy=False (the child VMA has no anon_vma yet): no pins there
        sc = migrate_scenario(rng, pins=knobs.get("fork.link_before_copy", True))
        proto = protocol.get(rng.choice(FORK_BASES), knobs)
        decisions = [rng.randint(0, 4) for _ in range(rng.choice([0, 10, 40, 120]))]
        diff = difference(sc, proto, decisions)
        assert not diff, (
            f"run {i}: {diff}\nprotocol {proto.name}\ndecisions {decisions}\n{sc.dumps()}"
        )
        py = model.run(sc, proto, decisions=decisions)
        outcomes[py.outcome] = outcomes.get(py.outcome, 0) + 1
        results.update(r for rs in py.results for r in rs)
    assert outcomes.get("finished", 0) > N_MIGRATE_RUNS // 4, outcomes
    assert {"migrated", "busy"} <= results, results


def test_migrate_vs_fork_copy_before_link() -> None:
    """migrate racing a fork that copies PTEs before linking the child VMA
    (fork.link_before_copy=False, R7): remove_migration_ptes cannot reach the child's
    migration entry, left pointing at the freed folio (migration.reachable) on both."""
    rng = random.Random(SEED + 23)
    hits = {"python": 0, "C": 0}
    for i in range(400):
        proto = protocol.get(rng.choice(["v6.18", "v6.19"]), {"fork.link_before_copy": False})
        sc = scenario.from_json(
            {
                "setup": [
                    {"op": "mmap", "mm": 0, "vma": "src", "start": 14, "pages": 4},
                    {"op": "write", "mm": 0, "addr": 14, "value": 100, "folio": "F0"},
                ],
                "threads": [
                    {"name": "migrator", "ops": [{"op": "migrate", "folio": "F0"}]},
                    {"name": "forker", "ops": [{"op": "fork", "mm": 0, "child": 1}]},
                ],
            }
        )
        decisions = [rng.randint(0, 1) for _ in range(rng.choice([10, 40, 80]))]
        diff = difference(sc, proto, decisions)
        assert not diff, f"run {i}: {diff}\nprotocol {proto.name}\ndecisions {decisions}"
        hits["python"] += model.run(sc, proto, decisions=decisions).outcome == "migration.reachable"
        hits["C"] += (
            native.run_model(sc.dumps(), proto.knobs, decisions)[0] == "migration.reachable"
        )
    assert hits["python"] > 0 and hits["C"] == hits["python"], hits
