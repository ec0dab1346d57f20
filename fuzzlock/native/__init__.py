"""ctypes binding to the C port of the model (``libfuzzlock_native.so``, built from native/).

The package, one job per module:

* ``_schema``: the ctypes side of the boundary, generated from fuzzlock/schema.py
  (``python -m fuzzlock.schema_gen --write``): structures, argtypes, the knob encoder;
* ``abi``: the handshake (ABI version and schema hash) and the self-test calls;
* ``load``: finding and loading ``libfuzzlock_native.so`` and ``libfuzzlock_native_fp.so``;
* ``encoding``: scenarios, knobs, decisions and PCT parameters into C, traces out;
* ``runners``: one run or many on the C model (``run_model``, ``model_bench``);
* ``footprints``: runs that record per-step footprints (``ModelFootprints``);
* ``hunt``: the batched hunt loop (``NativeScenario.hunt``).

The names used outside the package are re-exported here.  The toy programs of
tests/sched/toy.py run on a test-only library (tests/native_toy.py).
"""

from __future__ import annotations

from fuzzlock.native.abi import (
    ABI_VERSION,
    SCHEMA_HASH,
    abi_version,
    debug_flip_decision_rule,
    debug_randbelow,
    schema_hash,
    selftest_sum,
)
from fuzzlock.native.encoding import (
    MODEL_SETUP_OPS,
    MODEL_THREAD_OPS,
    PCT_MAX_DEPTH,
    PCT_MAX_K,
    encode_model_scenario,
)
from fuzzlock.native.errors import NativeError, NativeSetupError, NativeUnavailableError
from fuzzlock.native.footprints import (
    ALL_CELLS,
    ModelFootprints,
    dependent,
    run_model_footprints,
)
from fuzzlock.native.load import (
    ENV_VAR,
    FP_ENV_VAR,
    FP_LIBRARY_NAME,
    LIBRARY_NAME,
    footprint_library_path,
    footprints_available,
    footprints_unavailable_reason,
    library_path,
    load_footprint_library,
    load_library,
    native_available,
    unavailable_reason,
)
from fuzzlock.native.runners import (
    ModelRunResults,
    NativeRun,
    model_bench,
    run_model,
    run_model_results,
)
from fuzzlock.sched.footprint import StepInfo

__all__ = [
    "ABI_VERSION",
    "ALL_CELLS",
    "ENV_VAR",
    "FP_ENV_VAR",
    "FP_LIBRARY_NAME",
    "LIBRARY_NAME",
    "MODEL_SETUP_OPS",
    "MODEL_THREAD_OPS",
    "PCT_MAX_DEPTH",
    "PCT_MAX_K",
    "SCHEMA_HASH",
    "ModelFootprints",
    "ModelRunResults",
    "NativeError",
    "NativeRun",
    "NativeSetupError",
    "NativeUnavailableError",
    "StepInfo",
    "abi_version",
    "debug_flip_decision_rule",
    "debug_randbelow",
    "dependent",
    "encode_model_scenario",
    "footprint_library_path",
    "footprints_available",
    "footprints_unavailable_reason",
    "library_path",
    "load_footprint_library",
    "load_library",
    "model_bench",
    "native_available",
    "run_model",
    "run_model_footprints",
    "run_model_results",
    "schema_hash",
    "selftest_sum",
    "unavailable_reason",
]
