"""The boundary schema: everything the Python model and the C port must agree on, in one place.

Plain data, importable without the C library.  From it ``python -m fuzzlock.schema_gen
--write`` generates native/fuzzlock_schema.h (included by the hand-written C headers) and
fuzzlock/native/_schema.py (the ctypes declarations); tests/test_schema.py fails when either
is stale.  docs/design.md#the-boundary-schema describes it; docs/extending.md shows how a
new knob or operation is added.

* ``KNOBS``: the knob table (docs/design.md#knobs).  Each knob crosses the C border as one
  ``long long`` slot (``enum fl_knob``, in table order), its value coded by one rule: the
  index of the value in ``Knob.codes`` (bools ``(False, True)``, ints ``(0, 1)``, strings
  their ``values`` unless ``wire`` reorders them).
* ``OPS``: the scenario operations, their fields, C codes (``enum fl_sc_code``) and
  implementations (``Op``, ``Slot``: in fuzzlock/schema_ops.py, imported here).
* ``INVARIANTS``: the invariant ids and what each checks (docs/design.md#invariants).
* ``OP_KINDS``, ``MODES``, ``OUTCOMES``: event kinds of the scheduler's trace.
* ``CONSTANTS``: capacity limits and flag values shared by both sides.
* ``STRUCTS``: the layouts of the structures ctypes reads or fills.
* ``FUNCTIONS``: every exported C function with its signature, by library group.

``ABI_VERSION`` is bumped by hand when a change is not visible here (a calling convention
changed behind an unchanged signature); any change to this file changes ``schema_hash()``,
which the library exports (``fl_schema_hash``) and fuzzlock compares on load.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import attrs

from fuzzlock.schema_ops import FL_MAX_FOLIO_NAMES, OPS, Op, Slot  # noqa: F401  (the ops part)

#: The boundary's version: ``fl_abi_version()`` must return it.
ABI_VERSION = 2

KnobValue = str | bool | int


@attrs.frozen
class Knob:
    """One protocol knob: its values, its v6.18 and v6.19 settings, and its C slot."""

    name: str
    values: tuple[KnobValue, ...]
    v6_18: KnobValue
    v6_19: KnobValue
    doc: str
    #: ``enum fl_knob`` constant of its slot in the C model's knob vector.
    c_name: str = ""
    #: The values in the order of their C codes (0, 1, ...), when not the default order.
    wire: tuple[KnobValue, ...] = ()
    #: ``#define`` names for the C codes of a non-boolean knob, in code order (optional).
    c_consts: tuple[str, ...] = ()

    @property
    def codes(self) -> tuple[KnobValue, ...]:
        """The values in the order of their C codes: value ``codes[i]`` crosses as ``i``."""
        if self.wire:
            return self.wire
        if all(isinstance(v, bool) for v in self.values):
            return (False, True)
        if all(isinstance(v, int) for v in self.values):
            return tuple(sorted(self.values))
        return self.values

    def code(self, value: KnobValue) -> int:
        """The C code of ``value`` (the one encoding rule)."""
        for i, v in enumerate(self.codes):
            if v == value and type(v) is type(value):
                return i
        raise ValueError(f"knob {self.name}: {value!r} is not one of {self.values}")


KNOBS: tuple[Knob, ...] = (
    Knob(
        "walk.referenced_active_lock",
        ("none", "trylock", "lock"),
        "none",
        "trylock",
        "folio lock taken by folio_referenced(is_locked=0) from shrink_active_list (R1-R3)",
        c_name="K_REF_ACTIVE_LOCK",
        c_consts=("FL_WALK_LOCK_NONE", "FL_WALK_LOCK_TRYLOCK", "FL_WALK_LOCK_LOCK"),
    ),
    Knob(
        "walk.page_idle_lock",
        ("none", "trylock"),
        "none",
        "trylock",
        "folio lock taken by page_idle_clear_pte_refs",
        c_name="K_PAGE_IDLE_LOCK",
    ),
    Knob(
        "walk.damon_lock",
        ("none", "trylock"),
        "none",
        "trylock",
        "folio lock taken by damon_folio_mkold / damon_folio_young",
        c_name="K_DAMON_LOCK",
    ),
    Knob(
        "walk.memory_failure_lock",
        ("none", "lock"),
        "none",
        "lock",
        "folio lock taken by kill_procs_now before collect_procs_anon",
        c_name="K_MF_LOCK",
    ),
    Knob(
        "walk.recheck_mapping",
        (True, False),
        True,
        False,
        "folio_lock_anon_vma_read rechecks folio->mapping after locking the root (R1)",
        c_name="K_RECHECK_MAPPING",
    ),
    Knob(
        "walk.check_mapped_after_lock",
        (True, False),
        True,
        True,
        "folio_lock_anon_vma_read checks folio_mapped() after locking the root (R4)",
        c_name="K_CHECK_MAPPED",
    ),
    Knob(
        "walk.trylock_fail_result",
        (1, 0),
        1,
        1,
        "what folio_referenced returns when its folio trylock fails",
        c_name="K_TRYLOCK_FAIL_RESULT",
    ),
    Knob(
        "reclaim.unmap_lock",
        ("trylock", "none"),
        "trylock",
        "trylock",
        "shrink_folio_list try-locks the folio before try_to_unmap",
        c_name="K_RECLAIM_UNMAP_TRYLOCK",
        wire=("none", "trylock"),
    ),
    Knob(
        "move.anon_vma_lock",
        (True, False),
        True,
        False,
        "UFFDIO_MOVE takes the src root anon_vma write lock (R2; patch 2 removes it)",
        c_name="K_MOVE_ANON_VMA_LOCK",
    ),
    Knob(
        "move.lock_order",
        ("folio-first", "anon-vma-first"),
        "folio-first",
        "folio-first",
        "order of the folio lock and the anon_vma write lock in move_pages_ptes (I14)",
        c_name="K_MOVE_LOCK_ORDER_AV_FIRST",
    ),
    Knob(
        "move.check_exclusive",
        (True, False),
        True,
        True,
        "move refuses a folio that is not PageAnonExclusive with -EBUSY (R12, fork)",
        c_name="K_MOVE_CHECK_EXCLUSIVE",
    ),
    Knob(
        "move.recheck_dst_under_ptl",
        (True, False),
        True,
        True,
        "is_pte_pages_stable rechecks the dst PTE under double_pt_lock (R8)",
        c_name="K_MOVE_RECHECK_DST",
    ),
    Knob(
        "move.recheck_src_after_sleep",
        (True, False),
        True,
        True,
        "after sleeping on the folio lock, the src PTE must still be src_folio_pte (R9)",
        c_name="K_MOVE_RECHECK_SRC",
    ),
    Knob(
        "move.pin_check_before_rmap_update",
        (True, False),
        True,
        True,
        "the pin check after clearing the src PTE, rolled back before mapping/index (R10)",
        c_name="K_MOVE_PIN_FIRST",
    ),
    Knob(
        "move.swap_moves_rmap",
        (True, False),
        True,
        True,
        "move_swap_pte moves the swap-cache folio's rmap with the swap PTE (I12)",
        c_name="K_MOVE_SWAP_MOVES_RMAP",
    ),
    Knob(
        "move.unmap_before_sleep",
        (True, False),
        True,
        True,
        "pte_unmap before sleeping in folio_lock / anon_vma_lock_write (I14)",
        c_name="K_MOVE_UNMAP_BEFORE_SLEEP",
    ),
    Knob(
        "move.batch_same_anon_vma_check",
        (True, False),
        True,
        False,
        "batched move requires folio_anon_vma(next) == src_anon_vma (v6.18 only)",
        c_name="K_MOVE_BATCH_SAME_AV",
    ),
    Knob(
        "move.reset_err_on_retry",
        (False, True),
        False,
        False,
        "move_pages clears err when a retried move_pages_ptes succeeds (the later upstream fix; "
        "v6.18/v6.19 keep a sticky -EAGAIN: docs/kernel-notes/move.md)",
        c_name="K_MOVE_RESET_ERR",
    ),
    Knob(
        "fork.clear_exclusive",
        (True, False),
        True,
        True,
        "copy_present_pte clears PageAnonExclusive on the shared page (I5, R12)",
        c_name="K_FORK_CLEAR_EXCL",
    ),
    Knob(
        "fork.link_before_copy",
        (True, False),
        True,
        True,
        "anon_vma_fork links the child VMA before copy_page_range (R7)",
        c_name="K_FORK_LINK_FIRST",
    ),
    Knob(
        "cow.reuse_lock",
        ("trylock", "none"),
        "trylock",
        "trylock",
        "wp_can_reuse_anon_folio try-locks the folio before reuse and the rmap move (R11)",
        c_name="K_COW_REUSE_TRYLOCK",
        wire=("none", "trylock"),
    ),
    Knob(
        "unmap.zap_before_unlink",
        (True, False),
        True,
        True,
        "munmap/exit zap the PTEs before unlink_anon_vmas (I6)",
        c_name="K_ZAP_BEFORE_UNLINK",
    ),
    Knob(
        "anon_vma.free_handshake",
        (True, False),
        True,
        True,
        "anon_vma_free takes and drops the root write lock if it is locked (R5)",
        c_name="K_FREE_HANDSHAKE",
    ),
)


# --------------------------------------------------------------------------- constants

FL_MAX_THREADS = 16
FL_MSG_LEN = 1024
FL_OP_WORDS = 7
FL_PCT_MAX_DEPTH = 64
FL_PCT_MAX_K = 1 << 24
FL_HUNT_MAX_CHOICES = 8
FL_HUNT_MAX_DEPTH = 16
FL_HUNT_MAX_K = 1 << 24
FL_FP_STEP_CELLS = 8192
FL_MODEL_OK = 0
FL_MODEL_ERROR = -1
FL_MODEL_SETUP_ERROR = -2
FL_MODEL_NO_STEP_CHECKS = 1

#: Constants shared by both sides: name -> what it bounds (the value is the module's).
CONSTANTS: dict[str, str] = {
    "FL_MAX_THREADS": "concurrent threads of one run (the solo setup thread is extra)",
    "FL_MSG_LEN": "a violation message, terminating NUL included",
    "FL_OP_WORDS": "words per scenario op in the model encoding: code, mm, a, b, c, d, e",
    "FL_MAX_FOLIO_NAMES": "distinct setup folio names of one scenario",
    "FL_PCT_MAX_DEPTH": "the C PCT chooser's largest depth",
    "FL_PCT_MAX_K": "the C PCT chooser's largest k",
    "FL_HUNT_MAX_CHOICES": "preempt values or depths one hunt batch draws from",
    "FL_HUNT_MAX_DEPTH": "the batched hunt loop's largest PCT depth",
    "FL_HUNT_MAX_K": "the batched hunt loop's largest PCT k",
    "FL_FP_STEP_CELLS": "footprint cells (reads + writes) one step may record",
    "FL_MODEL_OK": "fl_model_run() and friends: the run was made",
    "FL_MODEL_ERROR": "internal error or refused arguments: fl_result.message",
    "FL_MODEL_SETUP_ERROR": "the setup failed (model.SetupError): fl_result.message",
    "FL_MODEL_NO_STEP_CHECKS": "fl_model_footprints() flag: leave out the per-step invariants",
}

OP_BY_NAME: dict[str, Op] = {o.name: o for o in OPS}

#: ``move`` op modes (UFFDIO_MOVE_MODE_*), as bits.
MOVE_MODES: dict[str, int] = {"DONTWAKE": 1 << 0, "ALLOW_SRC_HOLES": 1 << 1}

#: ``mmap`` op flags, as the C encoding's bits (``FL_MMAP_*``).
MMAP_FLAGS: dict[str, int] = {
    "uffd": 1,
    "write": 2,
    "locked": 4,
    "dontfork": 8,
    "wipeonfork": 16,
}

# --------------------------------------------------------------------------- invariants

#: Invariant ids and what each checks (docs/design.md#invariants).
INVARIANTS: dict[str, str] = {
    "rmap.reachable": "I1: every mapping of an anon folio is in a VMA linked into folio->mapping",
    "rmap.index": "I2: folio->index matches the linear page index of every mapping",
    "folio.mapcount": "I3: mapcount equals the number of PTEs mapping the folio",
    "folio.refcount": "I4: refcount covers mappings, swap cache, pins and isolation",
    "folio.exclusive": "I5: PageAnonExclusive means exactly one mapping; writable implies PAE",
    "anon_vma.lifetime": "I6: a mapped folio's anon_vma (and root) is allocated; refcounts hold",
    "anon_vma.tree": "I7: AVCs are on both lists, one root per VMA, no freed references",
    "lock.write-discipline": "I8: mapping/index of a mapped folio stored under its folio lock",
    "lock.walk-discipline": "I9: rmap walks hold the folio lock (v6.19) and the root rwsem",
    "walk.complete": "I10: a walk finds every mapping that exists during the whole walk",
    "move.post-state": "I11: a successful move leaves src none and dst mapping the folio",
    "swap.rmap": "I12: a swap-cache folio's rmap covers every swap PTE holding its entry",
    "migration.reachable": "I13: every migration entry is reachable from the folio's anon_vma",
    "lock.order": "I14: lock classes are taken in one order (lockdep)",
    "thread.end": "I15: a thread ends with no lock, map or temporary reference held",
    "move.result": "I16: the move returns bytes moved or an errno consistent with what moved",
    "deadlock": "no thread can run and some have not finished",
    "sleep-in-atomic": "a sleeping operation under a spinlock, RCU or a PTE map",
    "unlock-not-held": "releasing a lock the thread does not hold",
    "uaf": "touching freed memory outside an RCU section that covers the free",
    "user.data": "a user read returned a value no sequential execution could return",
    "differential": "the Python and C backends disagree",
}

# --------------------------------------------------------------------------- trace events

#: Scheduling-point op kinds (fuzzlock/sched/ops.py, ``enum fl_op_kind``).
OP_KINDS: dict[str, int] = {
    "LOCK": 0,  # blocking acquisition (mutex, spinlock, rwsem read or write)
    "TRYLOCK": 1,  # never blocks; result True/False
    "UNLOCK": 2,
    "MEM": 3,  # lock-free read/write/atomic of shared state: runs a thunk
    "RCU_LOCK": 4,
    "RCU_UNLOCK": 5,
    "PTE_MAP": 6,  # pte_offset_map: an RCU read section in which sleeping is forbidden
    "PTE_UNMAP": 7,
    "WAIT": 8,  # sleep until a lock is free, without taking it (folio_wait_locked)
    "MIGHT_SLEEP": 9,  # a point that may sleep (allocation, split_folio, cond_resched)
}

#: Lock modes (fuzzlock/sched/ops.py, ``enum fl_mode``).
MODES: dict[str, int] = {"EXCL": 0, "READ": 1, "WRITE": 2}

#: How a C run ended (``enum fl_outcome``; ``fl_result.outcome``).
OUTCOMES: dict[str, int] = {
    "FL_FINISHED": 0,
    "FL_STEP_BOUND": 1,
    "FL_VIOLATION": 2,  # fl_result.outcome_id says which
    "FL_ABORTED": 3,  # the chooser asked to stop
    "FL_ERROR": 4,  # misuse or out of memory: fl_result.message
}

#: How the batched hunt loop draws a run's decisions (``enum fl_hunt_strategy``).
HUNT_STRATEGIES: dict[str, int] = {
    "FL_HUNT_RANDOM": 0,
    "FL_HUNT_PCT_BOUNDED": 1,
    "FL_HUNT_PCT": 2,
}

# --------------------------------------------------------------------------- structures

#: Structures ctypes reads or fills: (C type, field, array length or "") per field.  The C
#: types are those of ``schema_gen.CTYPES``.
STRUCTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    # the result of one run (fl_model_run, fl_toy_run, ...)
    "fl_result": (
        ("int", "outcome", ""),  # enum fl_outcome
        ("const char *", "outcome_id", ""),
        ("int", "steps", ""),
        ("int", "violation_step", ""),  # -1 without a violation
        ("int", "violation_thread", ""),
        ("const char *", "violation_fn", ""),
        ("const char *", "message", ""),
        ("const long long *", "decisions", ""),
        ("size_t", "ndecisions", ""),
        ("const int *", "preempted", ""),
        ("size_t", "npreempted", ""),
        ("const char *", "trace", ""),  # canonical trace text
        ("size_t", "trace_len", ""),
        ("size_t", "nevents", ""),
    ),
    # one step recorded with its footprint
    "fl_fp_step": (
        ("int32_t", "tid", ""),
        ("int32_t", "norder", ""),
        ("int32_t", "order", "FL_MAX_THREADS"),
        ("uint8_t", "decided", ""),
        ("uint8_t", "all", ""),  # conflicts with every step (capacity or unknown lock)
        ("uint8_t", "pad", "6"),
        ("uint64_t", "reads_off", ""),  # into fl_fp_result.cells
        ("uint64_t", "nreads", ""),
        ("uint64_t", "writes_off", ""),
        ("uint64_t", "nwrites", ""),
    ),
    # what a footprint run returns
    "fl_fp_result": (
        ("const struct fl_fp_step *", "steps", ""),
        ("size_t", "nsteps", ""),
        ("const int64_t *", "cells", ""),
        ("size_t", "ncells", ""),
    ),
    # input of fl_model_hunt()
    "fl_hunt_args": (
        ("unsigned long long", "seed", ""),  # the whole batch's decisions derive from it
        ("double", "deadline", ""),  # CLOCK_MONOTONIC seconds: start no run after it; 0 = none
        ("int", "strategy", ""),  # enum fl_hunt_strategy
        ("int", "runs", ""),  # at most this many schedules (>= 1)
        ("int", "max_steps", ""),  # per run, >= 0
        ("int", "pct_k", ""),  # PCT_*: 1..FL_HUNT_MAX_K
        ("int", "npreempt", ""),  # RANDOM: 1..FL_HUNT_MAX_CHOICES values in [0, 1]
        ("int", "ndepth", ""),  # PCT_*: 1..FL_HUNT_MAX_CHOICES depths in 1..FL_HUNT_MAX_DEPTH
        ("double", "preempt", "FL_HUNT_MAX_CHOICES"),
        ("int", "depth", "FL_HUNT_MAX_CHOICES"),
    ),
    # output of fl_model_hunt()
    "fl_hunt_out": (
        ("long long", "runs", ""),  # schedules run (the violating one included)
        ("long long", "steps", ""),  # their trace events, summed
        ("int", "violation", ""),  # 1: the last run broke an invariant, res has it
        ("double", "preempt", ""),  # the last run's preempt (RANDOM)
        ("int", "depth", ""),  # the last run's depth (PCT_*)
        ("unsigned long long", "pct_seed", ""),  # the last run's PCTChooser seed (PCT)
        ("char", "message", "FL_MSG_LEN + 64"),  # why, for a return other than FL_MODEL_OK
    ),
}

# --------------------------------------------------------------------------- functions

#: Exported functions by library group, as C prototypes (parameter types only; the C
#: types are those of ``schema_gen.CTYPES``).
#:
#: * ``core``: every library (libfuzzlock_native.so, libfuzzlock_native_fp.so, the test
#:   library of tests/native_toy.py);
#: * ``hunt``: the batched hunt loop, libfuzzlock_native.so only;
#: * ``fp``: the footprint runners, libfuzzlock_native_fp.so only;
#: * ``toy``, ``toy_fp``: the toy programs of tests/sched/toy.py (tests/native/toy.c), built
#:   only into the test library (and its footprint variant).
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "core": (
        "int fl_abi_version()",
        "unsigned long long fl_schema_hash()",
        "long fl_selftest_sum(const long *, int)",
        "int fl_debug_randbelow(unsigned long long, unsigned int, unsigned int *, int)",
        "int fl_debug_flip_decision_rule(int)",
        "int fl_fp_instrumented()",
        "struct fl_model *fl_model_new(const long long *, size_t, const char *, char *, size_t)",
        "struct fl_model *fl_model_reload(struct fl_model *, const long long *, size_t, const char *, char *, size_t)",
        "int fl_model_run(struct fl_model *, const long long *, size_t, int, struct fl_result *)",
        "int fl_model_run_cb(struct fl_model *, fl_choose_fn, void *, int, struct fl_result *)",
        "int fl_model_run_pct(struct fl_model *, unsigned long long, int, int, int, struct fl_result *)",
        "long long fl_model_bench(struct fl_model *, long long, unsigned long long, int)",
        "long long fl_model_bench_pct(struct fl_model *, long long, unsigned long long, int, int, int)",
        "const char *fl_model_results(struct fl_model *)",
        "const char *fl_model_violation_objects(struct fl_model *)",
        "unsigned long long fl_model_state_digest(struct fl_model *)",
        "void fl_model_free(struct fl_model *)",
    ),
    "hunt": (
        "unsigned int fl_hunt_strategies()",
        "int fl_model_hunt(struct fl_model *, const struct fl_hunt_args *, unsigned long long *, int *, size_t, struct fl_hunt_out *, struct fl_result *)",
        "unsigned long long fl_trace_hash(const char *, size_t)",
    ),
    "fp": (
        "struct fl_fp *fl_model_fp_new(struct fl_model *)",
        "int fl_model_footprints(struct fl_model *, struct fl_fp *, const long long *, size_t, fl_choose_fn, void *, int, int, struct fl_result *, struct fl_fp_result *)",
        "long long fl_model_fp_bench(struct fl_model *, struct fl_fp *, long long, unsigned long long, int)",
        "void fl_fp_set_capacity(struct fl_fp *, size_t)",
        "void fl_fp_set_lockdep(struct fl_fp *, int)",
        "void fl_fp_free(struct fl_fp *)",
    ),
    "toy": (
        "struct fl_toy *fl_toy_new(const long long *, size_t, char *, size_t)",
        "int fl_toy_run(struct fl_toy *, const long long *, size_t, int, struct fl_result *)",
        "int fl_toy_run_cb(struct fl_toy *, fl_choose_fn, void *, int, struct fl_result *)",
        "int fl_toy_run_pct(struct fl_toy *, unsigned long long, int, int, int, struct fl_result *)",
        "long long fl_toy_bench(struct fl_toy *, long long, unsigned long long, int)",
        "int fl_toy_vars(struct fl_toy *, long long *, int)",
        "void fl_toy_free(struct fl_toy *)",
    ),
    "toy_fp": (
        "struct fl_fp *fl_toy_fp_new(struct fl_toy *)",
        "int fl_toy_footprints(struct fl_toy *, struct fl_fp *, const long long *, size_t, fl_choose_fn, void *, int, struct fl_result *, struct fl_fp_result *)",
    ),
}

#: Which groups each library has (the loader checks the whole list after the hash).
LIBRARY_GROUPS: dict[str, tuple[str, ...]] = {
    "native": ("core", "hunt"),
    "fp": ("core", "fp"),
    "toy": ("core", "toy"),
    "toy_fp": ("core", "fp", "toy", "toy_fp"),
}


def _jsonable(x: Any) -> Any:
    if isinstance(x, type):
        return x.__name__
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if attrs.has(type(x)):
        return _jsonable(attrs.asdict(x, recurse=False))
    return x


def prototypes(group: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(return type, name, parameter types) of each function of ``group``."""
    out = []
    for proto in FUNCTIONS[group]:
        m = re.fullmatch(r"(.*?)\s*\b(fl_\w+)\((.*)\)", proto)
        if m is None:
            raise ValueError(f"not a prototype: {proto!r}")
        params = tuple(p.strip() for p in m[3].split(",")) if m[3] else ()
        out.append((m[1], m[2], params))
    return out


def schema_json() -> str:
    """The whole schema as canonical JSON: what ``schema_hash`` hashes."""
    data = {
        "abi_version": ABI_VERSION,
        "knobs": [[k.name, k.c_name, list(map(str, k.codes)), k.c_consts] for k in KNOBS],
        "ops": OPS,
        "move_modes": MOVE_MODES,
        "mmap_flags": MMAP_FLAGS,
        "invariants": sorted(INVARIANTS),
        "op_kinds": OP_KINDS,
        "modes": MODES,
        "outcomes": OUTCOMES,
        "hunt_strategies": HUNT_STRATEGIES,
        "constants": {name: globals()[name] for name in CONSTANTS},
        "structs": STRUCTS,
        "functions": {g: prototypes(g) for g in FUNCTIONS},
    }
    return json.dumps(_jsonable(data), sort_keys=True, separators=(",", ":"))


def schema_hash() -> int:
    """A 64-bit hash of the schema: the library exports the one it was built with."""
    return int.from_bytes(hashlib.sha256(schema_json().encode()).digest()[:8], "little")
