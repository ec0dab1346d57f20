"""Per-step footprints from the C backend (``libfuzzlock_native_fp.so``, native/footprint.h).

* The schedule information (thread, ``order``, decided) agrees with the Python scheduler's
  decision points on random toy programs and model scenarios, and the footprint library
  runs the very same schedules as the normal one.
* Footprints say what they should: toy memory ops on one variable conflict, on different
  variables they do not; lock operations on one lock conflict; an instrumented access to a
  folio field shows up in model steps; movers in different mms have mostly independent steps.
* Soundness: swapping two adjacent steps of different threads that the footprints call
  independent changes nothing -- for toys, the shared variables and every thread's
  observations; for the model, the outcome, every thread's events and results, and a digest
  of the world's state.
* The build: the normal library has no footprint runners, the footprint library imports
  only libc functions that are wrapped or do not touch model memory.

Set FUZZLOCK_REQUIRE_NATIVE=1 to make a missing library a failure, not a skip.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytest

from fuzzlock import bench, model, native, protocol, scenario
from fuzzlock.native import load as native_load
from fuzzlock.native import runners as native_runners
from fuzzlock.sched import RandomChooser, Replay
from tests import native_toy
from tests.native.test_model_differential import racing_movers, random_scenario
from tests.native.test_sched_differential import Recording, run_python, wild_program
from tests.sched.toy import random_program, small_program

pytestmark = pytest.mark.native

SEED = 20261207


@pytest.fixture(scope="module", autouse=True)
def _need_footprints() -> None:
    reason = "" if native.footprints_available() else native.footprints_unavailable_reason()
    reason = reason or native_toy.unavailable_reason(fp=True)
    if not reason:
        return
    if os.environ.get("FUZZLOCK_REQUIRE_NATIVE"):
        pytest.fail(f"FUZZLOCK_REQUIRE_NATIVE is set but footprints are unavailable: {reason}")
    pytest.skip(f"footprint library unavailable: {reason}")


# --------------------------------------------------------------------------- helpers


def toy_steps(prog: Any, decisions: Sequence[int] = (), **kw: Any) -> tuple[Any, list[Any]]:
    return native_toy.run_toy_footprints(native_toy.encode_toy(prog), decisions, **kw)


def step_of(run: Any, steps: list[native.StepInfo], tid: int, op: str, obj: str) -> Any:
    """The StepInfo of the first event of thread ``tid`` with this op and object."""
    for e, st in zip(run.events, steps):
        if e[1] == tid and e[3] == op and e[4] == obj:
            return st
    raise AssertionError(f"no event T{tid} {op} {obj} in {run.events}")


def check_schedule_info(steps: list[native.StepInfo], events: list[Any], orders: list[Any]) -> None:
    """tid/order/decided of every step against the trace and the orders a recording Python
    chooser was given at the decision points, in sequence."""
    assert len(steps) == len(events)
    asked = iter(orders)
    for st, e in zip(steps, events):
        assert st.tid == e[1]
        assert st.decided == (len(st.order) >= 2)
        if st.decided:
            order, _current = next(asked)
            assert st.order == tuple(order)
        else:
            assert st.order == (st.tid,)
        assert st.tid in st.order
    assert next(asked, None) is None, "the Python chooser was asked more often"


class SwapChooser:
    """Re-run a recorded schedule with its steps ``i`` and ``i + 1`` (threads a, b) swapped:
    the decisions before step ``i`` replayed, then b, then a (if step ``i + 1`` of the new
    schedule is a decision point: ``next_decided``, found by a probe run), then the recorded
    threads of the later decision points (by thread id: ``order`` rotates with the current
    thread).  ``ok`` turns False if a wanted thread is not enabled."""

    def __init__(
        self, steps: list[native.StepInfo], decisions: list[int], i: int, next_decided: bool
    ) -> None:
        self.a, self.b = steps[i].tid, steps[i + 1].tid
        wanted = [self.b, *([self.a] if next_decided else [])]
        self.tids = wanted + [s.tid for s in steps[i + 2 :] if s.decided]
        self.pre = decisions[: sum(1 for s in steps[:i] if s.decided)]
        self.k = self.j = 0
        self.ok = True

    def choose(self, order: Sequence[int], current: int) -> int:
        if self.k < len(self.pre):
            self.k += 1
            return self.pre[self.k - 1]
        if self.j < len(self.tids):
            self.j += 1
            tid = self.tids[self.j - 1]
            if tid in order:
                return list(order).index(tid)
            self.ok = False
        return 0


def swap(
    session: Any, steps: list[native.StepInfo], decisions: list[int], i: int
) -> tuple[Any, list[native.StepInfo], bool]:
    """Run ``session`` (a ToyFootprints or ModelFootprints) with steps i and i + 1 swapped;
    (result, steps, whether the wanted threads were enabled)."""
    probe = SwapChooser(steps, decisions, i, False)
    _r, head = session.run(chooser=probe, max_steps=i + 2)
    ch = SwapChooser(steps, decisions, i, len(head) > i + 1 and head[i + 1].decided)
    res, steps2 = session.run(chooser=ch)
    return res, steps2, ch.ok


def per_thread(events: list[Any]) -> dict[int, list[Any]]:
    """What each thread did and observed, in its own order (fn, op, obj, value)."""
    out: dict[int, list[Any]] = defaultdict(list)
    for e in events:
        out[e[1]].append(e[2:])
    return dict(out)


def independent_pairs(steps: list[native.StepInfo]) -> list[int]:
    return [
        i
        for i in range(len(steps) - 1)
        if steps[i].tid != steps[i + 1].tid and not native.dependent(steps[i], steps[i + 1])
    ]


def swapped_tids(steps: list[native.StepInfo], i: int) -> list[int]:
    want = [s.tid for s in steps]
    want[i], want[i + 1] = want[i + 1], want[i]
    return want


# --------------------------------------------------------------------------- the build


def test_the_footprint_library_is_instrumented_and_the_normal_one_is_not() -> None:
    fp = native.load_footprint_library()
    assert fp.fl_fp_instrumented() == 1
    lib = native.load_library()
    assert not hasattr(lib, "fl_model_footprints")
    assert not hasattr(lib, "fl_toy_footprints")
    if hasattr(lib, "fl_fp_instrumented"):
        lib.fl_fp_instrumented.restype = int
        assert lib.fl_fp_instrumented() == 0


def test_fp_env_var_pointing_nowhere_is_unavailable_with_one_line_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv(native.FP_ENV_VAR, str(tmp_path / "missing.so"))
    native_load.reset_for_tests()
    try:
        assert not native.footprints_available()
        reason = native.footprints_unavailable_reason()
        assert native.FP_ENV_VAR in reason and "\n" not in reason
        with pytest.raises(native.NativeUnavailableError):
            native.run_model_footprints(mover_and_walker(), protocol.get("v6.19").knobs)
        # the normal library is not the footprint one
        monkeypatch.setenv(native.FP_ENV_VAR, str(native.library_path()))
        native_load.reset_for_tests()
        assert not native.footprints_available()
        assert "footprint runners" in native.footprints_unavailable_reason()
    finally:
        monkeypatch.delenv(native.FP_ENV_VAR)
        native_load.reset_for_tests()
    assert native.footprints_available()


# libc functions the footprint library may import: memory-touching ones are wrapped
# (fp_hooks.c, -Wl,--wrap) or only ever touch memory outside the model's state.
_WRAPPED = {"memcpy", "memmove", "memset", "strlen", "strcmp", "vsnprintf", "snprintf"}
_HARMLESS = {
    "abort",
    "calloc",
    "free",
    "malloc",
    "realloc",
    "mmap",
    "mprotect",
    "munmap",
    "sysconf",
    "strerror",
    "pthread_once",
    "__errno_location",
    "__tls_get_addr",
    "__cxa_finalize",
    "__gmon_start__",
    "_ITM_deregisterTMCloneTable",
    "_ITM_registerTMCloneTable",
}


def test_the_footprint_library_imports_only_known_libc_functions() -> None:
    nm = shutil.which("nm")
    path = native.footprint_library_path()
    if nm is None or path is None:
        pytest.skip("no nm")
    out = subprocess.run(
        [nm, "-D", "--undefined-only", str(path)], capture_output=True, text=True, check=True
    ).stdout
    names = {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}
    sanitizer = {n for n in names if n.startswith(("__asan", "__ubsan", "__sanitizer", "__lsan"))}
    unknown = names - _WRAPPED - _HARMLESS - sanitizer
    assert not unknown, (
        f"{path} imports {sorted(unknown)}: wrap them in native/fp_hooks.c (and CMakeLists.txt) "
        "if they can touch model memory, else add them to _HARMLESS here"
    )
    assert not any(n.startswith("__tsan") for n in names), "a __tsan hook is missing"
    exported = subprocess.run(
        [nm, "-D", "--defined-only", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "__tsan_read" not in exported, "the hooks must stay hidden"


# --------------------------------------------------------------------------- schedule info


def test_toy_schedule_info_agrees_with_the_python_scheduler() -> None:
    rng = random.Random(SEED)
    decided = 0
    for k in range(1500):
        prog = random_program(rng) if k % 3 else wild_program(rng)
        seed = rng.randrange(2**32)
        rec = Recording(RandomChooser(seed, preempt=rng.choice((0.1, 0.5, 1.0))))
        py = run_python(prog, (), 10_000, rec)
        decisions = list(py.decisions)
        run, steps = toy_steps(prog, decisions)
        # the same run as the normal library's and the Python scheduler's
        assert run == native_toy.run_toy_detailed(prog, decisions)
        assert run.events == py.events and run.outcome == py.outcome
        check_schedule_info(steps, run.events, rec.orders)
        decided += sum(s.decided for s in steps)
    assert decided > 10_000


def test_toy_schedule_info_with_a_callback_chooser() -> None:
    rng = random.Random(SEED + 1)
    for seed in range(200):
        prog = random_program(rng)
        rec_py = Recording(RandomChooser(seed))
        py = run_python(prog, (), 10_000, rec_py)
        rec_c = Recording(RandomChooser(seed))
        run, steps = native_toy.run_toy_footprints(native_toy.encode_toy(prog), chooser=rec_c)
        assert run.events == py.events
        assert rec_c.orders == rec_py.orders
        check_schedule_info(steps, run.events, rec_py.orders)


def model_cases(n: int, seed: int) -> list[tuple[scenario.Scenario, protocol.Protocol]]:
    """Scenarios of the C slice: the benchmark's generator (every op kind) and the
    differential test's movers, under the real protocols and patch2-only."""
    rng = random.Random(seed)
    protos = [protocol.get(p) for p in ("v6.18", "v6.19", "patch2-only")]
    out = [(sc, protos[i % 3]) for i, sc in enumerate(bench.slice_scenarios(protos[1], n, seed))]
    out += [(random_scenario(rng), rng.choice(protos)) for _ in range(n // 2)]
    out += [(racing_movers(rng), rng.choice(protos)) for _ in range(n // 2)]
    return out


def test_model_schedule_info_agrees_with_the_python_model() -> None:
    rng = random.Random(SEED + 2)
    runs = 0
    for sc, proto in model_cases(24, SEED):
        with native.ModelFootprints(sc, proto.knobs) as mf:
            for _ in range(4):
                decs = [rng.randrange(6) for _ in range(rng.choice([0, 10, 60, 300]))]
                rec = Recording(Replay(decs))
                try:
                    py = model.run(sc, proto, chooser=rec)
                except model.SetupError:
                    with pytest.raises(native.NativeSetupError):
                        mf.run(decs)
                    break
                res, steps = mf.run(decs)
                assert res == native.run_model_results(sc, proto.knobs, decs)
                assert res.run[1] == [tuple(e) for e in py.result.events]
                check_schedule_info(steps, res.run[1], rec.orders)
                runs += 1
    assert runs > 50


# --------------------------------------------------------------------------- what conflicts


def test_toy_memory_ops_conflict_on_one_variable_and_not_across_variables() -> None:
    prog = [
        [("write", 0, 1), ("read", 1), ("inc", 2), ("read", 2)],
        [("write", 0, 2), ("read", 1), ("write", 1, 5), ("inc", 2), ("read", 0)],
    ]
    run, steps = toy_steps(prog)  # no preemption: T0 then T1
    w0 = step_of(run, steps, 0, "write", "var0")
    r1 = step_of(run, steps, 0, "read", "var1")
    inc2 = step_of(run, steps, 0, "atomic", "var2")
    r2 = step_of(run, steps, 0, "read", "var2")
    t1w0 = step_of(run, steps, 1, "write", "var0")
    t1r1 = step_of(run, steps, 1, "read", "var1")
    t1w1 = step_of(run, steps, 1, "write", "var1")
    t1inc2 = step_of(run, steps, 1, "atomic", "var2")
    t1r0 = step_of(run, steps, 1, "read", "var0")
    assert native.dependent(w0, t1w0)  # write/write
    assert native.dependent(w0, t1r0)  # write/read
    assert not native.dependent(r1, t1r1)  # read/read
    assert native.dependent(r1, t1w1)  # read/write
    assert native.dependent(inc2, t1inc2)  # atomic/atomic
    assert native.dependent(r2, t1inc2)
    assert not native.dependent(w0, t1w1)  # different variables
    assert not native.dependent(w0, t1r1)
    assert not native.dependent(inc2, t1w0)
    # one cell per variable, a read reads it, a write writes it (and nothing else)
    assert len(w0.writes) == 1 and not w0.reads
    assert len(r1.reads) == 1 and not r1.writes
    assert inc2.reads == inc2.writes and len(inc2.writes) == 1
    assert w0.writes == t1w0.writes and w0.writes != t1w1.writes


def test_toy_lock_ops_conflict_on_one_lock() -> None:
    prog = [
        [
            ("lock", 0),
            ("unlock", 0),
            ("spin", 1),
            ("spin_unlock", 1),
            ("down_read", 0),
            ("up_read", 0),
        ],
        [("lock", 0), ("unlock", 0), ("lock", 2), ("unlock", 2), ("down_read", 0), ("up_read", 0)],
    ]
    run, steps = toy_steps(prog)
    assert run.outcome == "finished"
    l0 = step_of(run, steps, 0, "lock", "L0")
    u0 = step_of(run, steps, 0, "unlock", "L0")
    s1 = step_of(run, steps, 0, "lock", "S1")
    t1l0 = step_of(run, steps, 1, "lock", "L0")
    t1l2 = step_of(run, steps, 1, "lock", "L2")
    assert native.dependent(l0, t1l0) and native.dependent(u0, t1l0)
    assert not native.dependent(l0, t1l2) and not native.dependent(s1, t1l2)
    assert l0.writes == u0.writes == t1l0.writes and len(l0.writes) == 1 and not l0.reads
    assert l0.writes != s1.writes
    # rwsem readers too: they change the readers and the waiting writers
    dr0 = step_of(run, steps, 0, "down_read", "R0")
    t1dr0 = step_of(run, steps, 1, "down_read", "R0")
    assert native.dependent(dr0, t1dr0)


def test_a_failed_trylock_and_a_wait_only_read_the_lock() -> None:
    prog = [[("lock", 0), ("read", 0), ("unlock", 0)], [("trylock", 0), ("wait", 0)]]
    # T0 takes L0, T1 tries (fails), T1 would wait (blocked), T0 reads and unlocks, T1 waits
    run, steps = toy_steps(prog, [0, 1])
    ops = [(e[1], e[3], e[5]) for e in run.events]
    assert ops[:2] == [(0, "lock", ""), (1, "trylock", "0")], ops
    lock, fail = steps[0], steps[1]
    assert fail.reads == lock.writes and not fail.writes
    assert native.dependent(lock, fail)
    wait = step_of(run, steps, 1, "wait", "L0")
    assert wait.reads == lock.writes and not wait.writes
    # two failed trylocks of one lock are independent
    run, steps = toy_steps([[("lock", 0), ("unlock", 0)], [("trylock", 0)], [("trylock", 0)]])
    a = step_of(run, steps, 1, "trylock", "L0")
    b = step_of(run, steps, 2, "trylock", "L0")
    if run.events[1][5] == "0" and run.events[2][5] == "0":
        assert not native.dependent(a, b)


def test_rcu_sections_of_different_threads_are_independent() -> None:
    run, steps = toy_steps([[("rcu",), ("rcu_unlock",)], [("rcu",), ("rcu_unlock",)]])
    a = step_of(run, steps, 0, "rcu_read_lock", "rcu")
    b = step_of(run, steps, 1, "rcu_read_lock", "rcu")
    assert a.reads == b.reads and len(a.reads) == 1 and not a.writes
    assert not native.dependent(a, b)


def test_nested_acquisitions_that_add_lockdep_edges_conflict() -> None:
    # L0 -> L1 in T0, L2 -> L1 in T1: different locks, but both add a new lockdep edge
    prog = [
        [("lock", 0), ("lock", 1), ("unlock", 1), ("unlock", 0)],
        [("lock", 2), ("read", 0), ("unlock", 2)],
    ]
    run, steps = toy_steps(prog)
    t0l1 = step_of(run, steps, 0, "lock", "L1")
    t1l2 = step_of(run, steps, 1, "lock", "L2")
    assert not native.dependent(t0l1, t1l2)  # T1's first lock adds no edge
    prog2 = [
        [("lock", 0), ("lock", 1), ("unlock", 1), ("unlock", 0)],
        [("lock", 2), ("spin", 0), ("spin_unlock", 0), ("unlock", 2)],
    ]
    run, steps = toy_steps(prog2)
    a = step_of(run, steps, 0, "lock", "L1")
    b = step_of(run, steps, 1, "lock", "S0")
    assert a.writes & b.writes, "two new lockdep edges: both write the graph's cell"


def test_a_step_over_capacity_conflicts_with_everything() -> None:
    prog = [[("write", 0, 1), ("write", 1, 1)], [("read", 2), ("lock", 0)]]
    with native_toy.ToyFootprints(native_toy.encode_toy(prog)) as tf:
        tf.set_step_capacity(2)
        _run, steps = tf.run()
        assert all(not s.conflicts_all for s in steps)  # one cell each: fits
        tf.set_step_capacity(0)  # clamped to 2: still fits
        _run, steps = tf.run()
        assert all(not s.conflicts_all for s in steps)
    sc, proto = model_cases(1, SEED)[0]
    with native.ModelFootprints(sc, proto.knobs) as mf:
        mf.set_step_capacity(8)
        _res, steps = mf.run()
        big = [s for s in steps if s.conflicts_all]
        assert big, "some model step records more than 8 cells"
        for s in big:
            assert s.reads is native.ALL_CELLS and s.writes is native.ALL_CELLS
        other = next(s for s in steps if not s.conflicts_all)
        assert native.dependent(big[0], other) and native.dependent(other, big[0])
        mf.set_step_capacity(1 << 20)
        _res, steps = mf.run()
        assert not any(s.conflicts_all for s in steps)


def two_movers(same_mm: bool) -> scenario.Scenario:
    setup: list[dict[str, Any]] = []
    mms = (0,) if same_mm else (0, 1)
    for mm in mms:
        setup += [
            {"op": "mmap", "mm": mm, "vma": f"src{mm}", "start": 16, "pages": 4, "uffd": True},
            {"op": "mmap", "mm": mm, "vma": f"dst{mm}", "start": 32, "pages": 4, "uffd": True},
            {"op": "write", "mm": mm, "addr": 16, "value": 7 + mm, "folio": f"F{mm}"},
        ]
    threads = [
        {
            "name": f"m{k}",
            "ops": [
                {
                    "op": "move",
                    "mm": 0 if same_mm else k,
                    "dst": 32 + (k if same_mm else 0),
                    "src": 16,
                    "len": 1,
                    "mode": [],
                }
            ],
        }
        for k in (0, 1)
    ]
    return scenario.from_json({"setup": setup, "threads": threads})


def mover_and_walker() -> scenario.Scenario:
    return scenario.from_json(
        {
            "setup": [
                {"op": "mmap", "mm": 0, "vma": "src", "start": 16, "pages": 4, "uffd": True},
                {"op": "mmap", "mm": 0, "vma": "dst", "start": 32, "pages": 4, "uffd": True},
                {"op": "write", "mm": 0, "addr": 16, "value": 7, "folio": "F0"},
            ],
            "threads": [
                {"name": "m", "ops": [{"op": "move", "mm": 0, "dst": 32, "src": 16, "len": 1}]},
                {"name": "w", "ops": [{"op": "page_idle", "folio": "F0"}]},
            ],
        }
    )


@pytest.mark.parametrize("decisions", [[], [1]], ids=["mover-first", "walker-first"])
def test_folio_fields_in_model_steps(decisions: list[int]) -> None:
    """The mover's rmap update writes folio->mapping and folio->index (instrumented stores
    in a thunk); the walker reads them: the steps conflict on exactly those fields."""
    res, steps = native.run_model_footprints(
        mover_and_walker(), protocol.get("v6.19").knobs, decisions
    )
    assert res.results == [["ret=0,move=1"], ["1"]]
    run = native.NativeRun(res.run[0], res.run[1], [], [], None, None, None, "", 0)
    set_index = step_of(run, steps, 0, "write", "folio:0.index")
    set_mapping = step_of(run, steps, 0, "write", "folio:0.mapping")
    read_index = step_of(run, steps, 1, "read", "folio:0.index")
    read_mapping = step_of(run, steps, 1, "read", "folio:0.mapping")
    index_cells = set_index.writes & read_index.reads
    mapping_cells = set_mapping.writes & read_mapping.reads
    assert index_cells and mapping_cells
    assert native.dependent(set_index, read_index) and native.dependent(set_mapping, read_mapping)
    assert not index_cells & set_mapping.writes, "index and mapping are different cells"
    assert not mapping_cells & set_index.writes
    # the same cells in both orders: cells name state, not addresses or times
    res2, steps2 = native.run_model_footprints(
        mover_and_walker(), protocol.get("v6.19").knobs, [1 - len(decisions)]
    )
    run2 = native.NativeRun(res2.run[0], res2.run[1], [], [], None, None, None, "", 0)
    assert step_of(run2, steps2, 0, "write", "folio:0.index").writes == set_index.writes


def test_movers_in_different_mms_have_mostly_independent_steps() -> None:
    proto = protocol.get("v6.19")
    res, steps = native.run_model_footprints(two_movers(False), proto.knobs)
    assert res.results == [["ret=0,move=1"], ["ret=0,move=1"]]
    a = [s for s in steps if s.tid == 0]
    b = [s for s in steps if s.tid == 1]
    dep = sum(native.dependent(x, y) for x in a for y in b)
    assert len(a) > 20 and len(b) > 20
    assert dep < len(a) * len(b) // 10, f"{dep} of {len(a) * len(b)} pairs dependent"
    # the same page in one mm: the movers meet on the PTEs, the PTLs and the folio
    res, steps = native.run_model_footprints(two_movers(True), proto.knobs)
    a = [s for s in steps if s.tid == 0]
    b = [s for s in steps if s.tid == 1]
    assert sum(native.dependent(x, y) for x in a for y in b) > dep
    # without lockdep's cells, fewer still
    _res, steps = native.run_model_footprints(two_movers(False), proto.knobs, lockdep_cells=False)
    a = [s for s in steps if s.tid == 0]
    b = [s for s in steps if s.tid == 1]
    assert sum(native.dependent(x, y) for x in a for y in b) < dep


# --------------------------------------------------------------------------- soundness


def test_swapping_independent_toy_steps_changes_nothing() -> None:
    rng = random.Random(SEED + 3)
    swaps = 0
    with_conflicts = 0
    for _k in range(400):
        prog = random_program(rng, max_threads=4, max_actions=10)
        enc = native_toy.encode_toy(prog)
        decs = [rng.randrange(4) for _ in range(rng.randrange(60))]
        with native_toy.ToyFootprints(enc) as tf:
            run, steps = tf.run(decs)
            vars0 = tf.vars()
            if run.outcome not in ("finished", "deadlock"):
                continue
            for i in independent_pairs(steps)[:25]:
                run2, steps2, ok = swap(tf, steps, run.decisions, i)
                got = [s.tid for s in steps2]
                assert ok and got == swapped_tids(steps, i), (prog, decs, i)
                assert run2.outcome == run.outcome, (prog, decs, i)
                assert tf.vars() == vars0, (prog, decs, i)
                assert per_thread(run2.events) == per_thread(run.events), (prog, decs, i)
                assert sorted(e[1:] for e in run2.events) == sorted(e[1:] for e in run.events)
                swaps += 1
            with_conflicts += any(
                steps[j].tid != steps[j + 1].tid and native.dependent(steps[j], steps[j + 1])
                for j in range(len(steps) - 1)
            )
    assert swaps > 1000 and with_conflicts > 100, (swaps, with_conflicts)


def test_swapping_independent_model_steps_changes_nothing() -> None:
    rng = random.Random(SEED + 4)
    swaps = 0
    for sc, proto in model_cases(30, SEED + 5):
        try:
            mf = native.ModelFootprints(sc, proto.knobs, step_checks=False)
        except native.NativeSetupError:
            continue
        with mf:
            for _ in range(2):
                decs = [rng.randrange(6) for _ in range(300)]
                try:
                    res, steps = mf.run(decs)
                except native.NativeSetupError:
                    break
                outcome, events, decisions, _pre, viol = res.run
                digest = mf.state_digest()
                pairs = independent_pairs(steps)
                for i in rng.sample(pairs, min(len(pairs), 30)):
                    res2, steps2, ok = swap(mf, steps, decisions, i)
                    got = [s.tid for s in steps2]
                    where = f"{sc.dumps()} {proto.name} decisions {decs} swap {i}"
                    if viol is not None and i + 1 == len(steps) - 1:
                        # the violating step comes first and ends the run there
                        assert res2.run[0] == outcome, where
                        assert got == [s.tid for s in steps[:i]] + [steps[i + 1].tid], where
                        continue
                    assert ok and got == swapped_tids(steps, i), where
                    assert res2.run[0] == outcome, where
                    assert per_thread(res2.run[1]) == per_thread(events), where
                    assert res2.results == res.results, where
                    assert mf.state_digest() == digest, where
                    swaps += 1
    assert swaps > 1000, swaps


def test_a_writer_that_turns_pending_depends_on_the_release_before_it() -> None:
    """The writer-waiting rule: a thread that stops at down_write(R) while R is free only
    marks itself pending; had it stopped there while R was still read-held it would be
    waiting, holding new readers off.  So that step depends on the release before it."""

    class Tids:
        def __init__(self, tids: list[int]) -> None:
            self.tids = tids

        def choose(self, order: Sequence[int], current: int) -> int:
            t = self.tids.pop(0) if self.tids else order[0]
            return list(order).index(t)

    prog = [
        [("down_read", 0), ("up_read", 0)],
        [("read", 0), ("down_write", 0), ("up_write", 0)],
        [("read", 1), ("down_read", 0), ("up_read", 0)],
    ]
    with native_toy.ToyFootprints(native_toy.encode_toy(prog)) as tf:
        # T0 takes and releases R0; T1 reads var0 and stops at down_write(R0), pending;
        # T2 gets its read lock before T1's write lock
        run, steps = tf.run(chooser=Tids([0, 0, 1, 2, 2, 2, 1, 1]))
        assert [e[1] for e in run.events] == [0, 0, 1, 2, 2, 2, 1, 1]
        assert run.events[1][3] == "up_read" and run.events[2][3] == "read"
        assert native.dependent(steps[1], steps[2])
        assert steps[1].writes <= steps[2].reads  # it reads the rwsem's state
        # the other order indeed differs: T1 would wait and T2 could not read-lock
        _run2, steps2, ok = swap(tf, steps, run.decisions, 1)
        assert not ok or [s.tid for s in steps2] != swapped_tids(steps, 1)


def all_schedules(tf: native_toy.ToyFootprints, limit: int) -> Any:
    """Every schedule of a toy program (depth first over the decision points), at most
    ``limit`` of them: (run, steps) each."""
    todo: list[list[int]] = [[]]
    while todo and limit > 0:
        prefix = todo.pop()
        run, steps = tf.run(prefix)
        limit -= 1
        yield run, steps
        k = 0
        for st in steps:
            if st.decided:
                if k >= len(prefix):
                    todo += [[*run.decisions[:k], alt] for alt in range(1, len(st.order))]
                k += 1


def test_swapping_independent_steps_of_every_schedule_of_small_toys() -> None:
    """Exhaustively on small programs (mutex, rwsem with its writer-waiting rule, trylocks,
    RCU, shared variables): every adjacent pair of independent steps of every schedule."""
    rng = random.Random(SEED + 6)
    swaps = schedules = 0
    for _ in range(50):
        prog = small_program(rng)
        with native_toy.ToyFootprints(native_toy.encode_toy(prog)) as tf:
            for run, steps in all_schedules(tf, 120):
                schedules += 1
                vars0 = tf.vars()
                for i in independent_pairs(steps):
                    if run.violation_step is not None and i + 1 == len(steps) - 1:
                        continue
                    run2, steps2, ok = swap(tf, steps, run.decisions, i)
                    where = f"{prog} decisions {run.decisions} swap {i}"
                    assert ok and [s.tid for s in steps2] == swapped_tids(steps, i), where
                    assert run2.outcome == run.outcome, where
                    assert tf.vars() == vars0, where
                    assert per_thread(run2.events) == per_thread(run.events), where
                    swaps += 1
    assert schedules > 1500 and swaps > 5000, (schedules, swaps)


def walker_and_exit(walker: str, extra: dict[str, Any] | None) -> scenario.Scenario:
    threads: list[dict[str, Any]] = [
        {"name": "w", "ops": [{"op": walker, "folio": "F0"}]},
        {"name": "k", "ops": [{"op": "exit", "mm": 0}]},
    ]
    if extra is not None:
        threads.append({"name": "x", "ops": [extra]})
    setup = [
        {"op": "mmap", "mm": 0, "vma": "a", "start": 8, "pages": 4},
        {"op": "write", "mm": 0, "addr": 8, "value": 3, "folio": "F0"},
    ]
    return scenario.from_json({"setup": setup, "threads": threads})


def test_anon_vma_frees_are_ordered_against_rcu_section_starts() -> None:
    """An rmap walker's rcu_read_lock and the free of the anon_vma it is about to deref
    (exit racing with the walk, unmap.zap_before_unlink off so the folio still looks
    mapped): whether the deref is covered depends on their order, so they conflict through
    the RCU cell, and swapping the independent steps of these runs changes nothing."""
    proto = protocol.get("v6.19", {"unmap.zap_before_unlink": False})
    rng = random.Random(SEED + 7)
    pairs = swaps = 0
    outcomes: set[str] = set()
    for walker in ("shrink_active_list", "damon_young"):
        for extra in (None, {"op": "write", "mm": 0, "addr": 8, "value": 5}):
            sc = walker_and_exit(walker, extra)
            with native.ModelFootprints(sc, proto.knobs, step_checks=False) as mf:
                for _ in range(25):
                    res, steps = mf.run([rng.randrange(4) for _ in range(200)])
                    outcomes.add(res.run[0])
                    events = res.run[1]
                    for i in range(len(steps) - 1):
                        ops = {events[i][2:4], events[i + 1][2:4]}
                        if ops == {
                            ("folio_lock_anon_vma_read", "rcu_read_lock"),
                            ("anon_vma_free", "write"),
                        }:
                            assert native.dependent(steps[i], steps[i + 1])
                            pairs += 1
                    digest = mf.state_digest()
                    for i in independent_pairs(steps):
                        if res.run[4] is not None and i + 1 == len(steps) - 1:
                            continue
                        res2, steps2, ok = swap(mf, steps, res.run[2], i)
                        assert ok and [s.tid for s in steps2] == swapped_tids(steps, i)
                        assert res2.run[0] == res.run[0]
                        assert per_thread(res2.run[1]) == per_thread(events)
                        assert mf.state_digest() == digest
                        swaps += 1
    assert pairs and swaps > 1000 and "uaf" in outcomes, (pairs, swaps, outcomes)


def test_dependent_steps_do_not_commute_somewhere() -> None:
    """The converse, as a sanity check of the test above: swapping steps that conflict on a
    toy variable (a write and a read of it) changes what the reader sees."""
    run, steps = toy_steps([[("write", 0, 5)], [("read", 0)]])
    assert native.dependent(steps[0], steps[1])
    with native_toy.ToyFootprints(native_toy.encode_toy([[("write", 0, 5)], [("read", 0)]])) as tf:
        run, steps = tf.run()
        run2, _, ok = swap(tf, steps, run.decisions, 0)
        assert ok and per_thread(run2.events) != per_thread(run.events)


# --------------------------------------------------------------------------- robustness


def test_malformed_input_is_a_native_error() -> None:
    with pytest.raises(native.NativeError):
        native_toy.run_toy_footprints([1, 0, 1, 99, 0, 0])
    with pytest.raises(native.NativeError):
        native_toy.run_toy_footprints([])
    with pytest.raises(ValueError):
        native_toy.run_toy_footprints(native_toy.encode_toy([[("read", 0)]]), [-1])
    sc = two_movers(True)
    with pytest.raises(ValueError):
        native.run_model_footprints(sc, protocol.get("v6.19").knobs, [1, -2])
    with pytest.raises(ValueError):
        native.run_model_footprints("{not json", protocol.get("v6.19").knobs)
    # encodings the C side refuses, on the footprint library
    fp = native.load_footprint_library()
    for enc in ([], [0] * 5, [0] * 30, [*[0] * 22, 1, 99, 0, 0, 0, 0, 0, 0, 1, 0, 0]):
        with pytest.raises(native.NativeError):
            native_runners.Model(enc, "a", lib=fp)
    mf = native.ModelFootprints(sc, protocol.get("v6.19").knobs)
    mf.close()
    with pytest.raises(native.NativeError):
        mf.run()
    with pytest.raises(native.NativeError):
        mf.state_digest()
    mf.close()  # twice is fine


def test_a_chooser_exception_propagates_from_a_footprint_run() -> None:
    class Boom:
        def choose(self, order: Sequence[int], current: int) -> int:
            raise KeyError("boom")

    with pytest.raises(KeyError):
        native_toy.run_toy_footprints(
            native_toy.encode_toy([[("read", 0)], [("read", 1)]]), chooser=Boom()
        )
    with pytest.raises(KeyError):
        native.run_model_footprints(two_movers(True), protocol.get("v6.19").knobs, chooser=Boom())


def test_dependent_handles_the_sentinel() -> None:
    a = native.StepInfo(0, (0,), False, frozenset({1}), frozenset())
    b = native.StepInfo(1, (1,), False, frozenset({2}), frozenset())
    c = native.StepInfo(1, (1,), False, frozenset(), frozenset({1}))
    every = native.StepInfo(1, (0, 1), True, native.ALL_CELLS, native.ALL_CELLS)
    assert not native.dependent(a, b)
    assert native.dependent(a, c) and native.dependent(c, a)
    assert native.dependent(a, every) and native.dependent(every, b)
    assert every.conflicts_all and not a.conflicts_all


def test_the_state_digest_of_a_run_does_not_depend_on_the_runs_before_it() -> None:
    """Between runs the world is reset to its counts only; what lies past them (tables,
    folios, anon_vmas, list entries, swap slots a longer run used) is left over from an
    earlier run, so the digest hashes only this run's objects and lists: the end-state
    comparisons of tests/explore must not depend on the order of the runs."""
    rng = random.Random(SEED + 9)
    runs = 0
    for sc, proto in model_cases(12, SEED + 9):
        schedules = [[rng.randrange(4) for _ in range(60)] for _ in range(4)]
        with native.ModelFootprints(sc, proto.knobs) as mf:
            try:
                mf.run([])
            except native.NativeSetupError:
                continue
            digests = []
            for dec in schedules:
                mf.run(dec)
                digests.append(mf.state_digest())
            for dec, want in reversed(list(zip(schedules, digests))):
                mf.run(dec)
                assert mf.state_digest() == want, f"{sc} decisions {dec}"
                runs += 1
    assert runs >= 20
