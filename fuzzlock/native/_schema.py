"""The ctypes side of the boundary (generated from fuzzlock/schema.py by `python -m fuzzlock.schema_gen --write`: do not edit).
"""

from __future__ import annotations

import ctypes
from typing import Any

ABI_VERSION = 2
SCHEMA_HASH = 0x81e061c9832e818c

#: ``long long choose(void *ctx, const int *order, int n, int current)``
CHOOSE_CB = ctypes.CFUNCTYPE(
    ctypes.c_longlong, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int, ctypes.c_int
)


class FlResult(ctypes.Structure):
    """``struct fl_result``."""

    _fields_ = [
        ("outcome", ctypes.c_int),
        ("outcome_id", ctypes.c_char_p),
        ("steps", ctypes.c_int),
        ("violation_step", ctypes.c_int),
        ("violation_thread", ctypes.c_int),
        ("violation_fn", ctypes.c_char_p),
        ("message", ctypes.c_char_p),
        ("decisions", ctypes.POINTER(ctypes.c_longlong)),
        ("ndecisions", ctypes.c_size_t),
        ("preempted", ctypes.POINTER(ctypes.c_int)),
        ("npreempted", ctypes.c_size_t),
        ("trace", ctypes.c_char_p),
        ("trace_len", ctypes.c_size_t),
        ("nevents", ctypes.c_size_t),
    ]


class FpStep(ctypes.Structure):
    """``struct fl_fp_step``."""

    _fields_ = [
        ("tid", ctypes.c_int32),
        ("norder", ctypes.c_int32),
        ("order", ctypes.c_int32 * (16)),
        ("decided", ctypes.c_uint8),
        ("all", ctypes.c_uint8),
        ("pad", ctypes.c_uint8 * (6)),
        ("reads_off", ctypes.c_uint64),
        ("nreads", ctypes.c_uint64),
        ("writes_off", ctypes.c_uint64),
        ("nwrites", ctypes.c_uint64),
    ]


class FpResult(ctypes.Structure):
    """``struct fl_fp_result``."""

    _fields_ = [
        ("steps", ctypes.POINTER(FpStep)),
        ("nsteps", ctypes.c_size_t),
        ("cells", ctypes.POINTER(ctypes.c_int64)),
        ("ncells", ctypes.c_size_t),
    ]


class HuntArgs(ctypes.Structure):
    """``struct fl_hunt_args``."""

    _fields_ = [
        ("seed", ctypes.c_ulonglong),
        ("deadline", ctypes.c_double),
        ("strategy", ctypes.c_int),
        ("runs", ctypes.c_int),
        ("max_steps", ctypes.c_int),
        ("pct_k", ctypes.c_int),
        ("npreempt", ctypes.c_int),
        ("ndepth", ctypes.c_int),
        ("preempt", ctypes.c_double * (8)),
        ("depth", ctypes.c_int * (8)),
    ]


class HuntOut(ctypes.Structure):
    """``struct fl_hunt_out``."""

    _fields_ = [
        ("runs", ctypes.c_longlong),
        ("steps", ctypes.c_longlong),
        ("violation", ctypes.c_int),
        ("preempt", ctypes.c_double),
        ("depth", ctypes.c_int),
        ("pct_seed", ctypes.c_ulonglong),
        ("message", ctypes.c_char * (1024 + 64)),
    ]


#: exported functions by group: name -> (restype, argtypes)
FUNCTIONS: dict[str, dict[str, tuple[Any, list[Any]]]] = {
    "core": {
        "fl_abi_version": (ctypes.c_int, []),
        "fl_schema_hash": (ctypes.c_ulonglong, []),
        "fl_selftest_sum": (ctypes.c_long, [ctypes.POINTER(ctypes.c_long), ctypes.c_int]),
        "fl_debug_randbelow": (ctypes.c_int, [ctypes.c_ulonglong, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_int]),
        "fl_debug_flip_decision_rule": (ctypes.c_int, [ctypes.c_int]),
        "fl_fp_instrumented": (ctypes.c_int, []),
        "fl_model_new": (ctypes.c_void_p, [ctypes.POINTER(ctypes.c_longlong), ctypes.c_size_t, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]),
        "fl_model_reload": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_longlong), ctypes.c_size_t, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]),
        "fl_model_run": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_longlong), ctypes.c_size_t, ctypes.c_int, ctypes.POINTER(FlResult)]),
        "fl_model_run_cb": (ctypes.c_int, [ctypes.c_void_p, CHOOSE_CB, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(FlResult)]),
        "fl_model_run_pct": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_ulonglong, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(FlResult)]),
        "fl_model_bench": (ctypes.c_longlong, [ctypes.c_void_p, ctypes.c_longlong, ctypes.c_ulonglong, ctypes.c_int]),
        "fl_model_bench_pct": (ctypes.c_longlong, [ctypes.c_void_p, ctypes.c_longlong, ctypes.c_ulonglong, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
        "fl_model_results": (ctypes.c_char_p, [ctypes.c_void_p]),
        "fl_model_violation_objects": (ctypes.c_char_p, [ctypes.c_void_p]),
        "fl_model_state_digest": (ctypes.c_ulonglong, [ctypes.c_void_p]),
        "fl_model_free": (None, [ctypes.c_void_p]),
    },
    "hunt": {
        "fl_hunt_strategies": (ctypes.c_uint, []),
        "fl_model_hunt": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(HuntArgs), ctypes.POINTER(ctypes.c_ulonglong), ctypes.POINTER(ctypes.c_int), ctypes.c_size_t, ctypes.POINTER(HuntOut), ctypes.POINTER(FlResult)]),
        "fl_trace_hash": (ctypes.c_ulonglong, [ctypes.c_char_p, ctypes.c_size_t]),
    },
    "fp": {
        "fl_model_fp_new": (ctypes.c_void_p, [ctypes.c_void_p]),
        "fl_model_footprints": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_longlong), ctypes.c_size_t, CHOOSE_CB, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(FlResult), ctypes.POINTER(FpResult)]),
        "fl_model_fp_bench": (ctypes.c_longlong, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_longlong, ctypes.c_ulonglong, ctypes.c_int]),
        "fl_fp_set_capacity": (None, [ctypes.c_void_p, ctypes.c_size_t]),
        "fl_fp_set_lockdep": (None, [ctypes.c_void_p, ctypes.c_int]),
        "fl_fp_free": (None, [ctypes.c_void_p]),
    },
    "toy": {
        "fl_toy_new": (ctypes.c_void_p, [ctypes.POINTER(ctypes.c_longlong), ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]),
        "fl_toy_run": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_longlong), ctypes.c_size_t, ctypes.c_int, ctypes.POINTER(FlResult)]),
        "fl_toy_run_cb": (ctypes.c_int, [ctypes.c_void_p, CHOOSE_CB, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(FlResult)]),
        "fl_toy_run_pct": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_ulonglong, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(FlResult)]),
        "fl_toy_bench": (ctypes.c_longlong, [ctypes.c_void_p, ctypes.c_longlong, ctypes.c_ulonglong, ctypes.c_int]),
        "fl_toy_vars": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_longlong), ctypes.c_int]),
        "fl_toy_free": (None, [ctypes.c_void_p]),
    },
    "toy_fp": {
        "fl_toy_fp_new": (ctypes.c_void_p, [ctypes.c_void_p]),
        "fl_toy_footprints": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_longlong), ctypes.c_size_t, CHOOSE_CB, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(FlResult), ctypes.POINTER(FpResult)]),
    },
}

LIBRARY_GROUPS = {'native': ('core', 'hunt'), 'fp': ('core', 'fp'), 'toy': ('core', 'toy'), 'toy_fp': ('core', 'fp', 'toy', 'toy_fp')}


def declare(lib: Any, groups: tuple[str, ...]) -> None:
    """Give every function of ``groups`` its restype and argtypes on ``lib``; AttributeError
    names the first one the library lacks."""
    for group in groups:
        for name, (restype, argtypes) in FUNCTIONS[group].items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes


#: knob name -> its C codes: value ``codes[i]`` crosses the border as ``i``
KNOB_CODES: dict[str, tuple[Any, ...]] = {
    "walk.referenced_active_lock": ('none', 'trylock', 'lock'),
    "walk.page_idle_lock": ('none', 'trylock'),
    "walk.damon_lock": ('none', 'trylock'),
    "walk.memory_failure_lock": ('none', 'lock'),
    "walk.recheck_mapping": (False, True),
    "walk.check_mapped_after_lock": (False, True),
    "walk.trylock_fail_result": (0, 1),
    "reclaim.unmap_lock": ('none', 'trylock'),
    "move.anon_vma_lock": (False, True),
    "move.lock_order": ('folio-first', 'anon-vma-first'),
    "move.check_exclusive": (False, True),
    "move.recheck_dst_under_ptl": (False, True),
    "move.recheck_src_after_sleep": (False, True),
    "move.pin_check_before_rmap_update": (False, True),
    "move.swap_moves_rmap": (False, True),
    "move.unmap_before_sleep": (False, True),
    "move.batch_same_anon_vma_check": (False, True),
    "move.reset_err_on_retry": (False, True),
    "fork.clear_exclusive": (False, True),
    "fork.link_before_copy": (False, True),
    "cow.reuse_lock": ('none', 'trylock'),
    "unmap.zap_before_unlink": (False, True),
    "anon_vma.free_handshake": (False, True),
}


def encode_knobs(knobs: Any) -> list[int]:
    """The knob slots of the model encoding (``enum fl_knob``) from a full knob map."""
    out = []
    for name, codes in KNOB_CODES.items():
        v = knobs[name]
        for i, c in enumerate(codes):
            if c == v and type(c) is type(v):
                out.append(i)
                break
        else:
            raise ValueError(f"knob {name}: {v!r} has no C code")
    return out
