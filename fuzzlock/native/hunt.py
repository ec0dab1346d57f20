"""The batched hunt loop of the C model (native/hunt.c), for ``fuzzlock hunt --backend native``.

One ctypes call (``fl_model_hunt``) runs up to ``runs`` schedules of one scenario with
seeded random decisions and stops at the first violation.  Per batch it returns how many
schedules and steps ran, each run's trace hash (``fuzzlock.trace.hash64`` of its canonical
text: the C side writes the text into a reused buffer and hashes it, no Python objects per
event) and number of decisions, and, for a violating run only, the whole run (events,
decisions, outcome) so that the campaign can replay it on the Python model.

The decision rules are those the seeded strategies pre-draw for one ctypes call per
schedule (``fuzzlock.search.random.predraw_random``, ``fuzzlock.search.pct.predraw_pct``),
drawn in C at each decision point:

* ``STRATEGY_RANDOM``: per run a ``preempt`` out of ``preempts``; each decision is 0
  ("stay") with probability ``1 - preempt``, else uniform among the enabled threads;
* ``STRATEGY_PCT_BOUNDED``: per run a depth out of ``depths``; a uniform first decision,
  then ``depth - 1`` preemptions (a decision in ``1..nthreads-1``) at distinct random
  decision points among ``1..max(k, depth)``, 0 elsewhere;
* ``STRATEGY_PCT``: ``choosers.PCTChooser`` itself (native/choosers.c, bit for bit): per run
  a seed drawn from the batch's stream (``HuntBatch.pct_seed`` for the last run), a depth
  out of ``depths``, ``k = pct_k``.

The batch's random stream is seeded with ``seed`` (splitmix64), so a batch is reproducible,
but its decisions are not those of Python's ``random.Random(seed)``.

The layouts of ``struct fl_hunt_args`` / ``struct fl_hunt_out`` are generated from
fuzzlock/schema.py (``_schema.HuntArgs``, ``_schema.HuntOut``).
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from fuzzlock import schema
from fuzzlock.native._schema import FlResult, HuntArgs, HuntOut
from fuzzlock.native.encoding import INT64_MAX, INT64_MIN, encode_model_scenario
from fuzzlock.native.errors import NativeError, NativeSetupError, NativeUnavailableError
from fuzzlock.native.load import load_library
from fuzzlock.native.runners import Handle, Model, NativeRun, run_of

__all__ = [
    "MAX_CHOICES",
    "MAX_DEPTH",
    "MAX_K",
    "STRATEGY_PCT",
    "STRATEGY_PCT_BOUNDED",
    "STRATEGY_RANDOM",
    "HuntBatch",
    "NativeScenario",
    "available",
    "strategies_built",
    "trace_hash",
]

STRATEGY_RANDOM = schema.HUNT_STRATEGIES["FL_HUNT_RANDOM"]
STRATEGY_PCT_BOUNDED = schema.HUNT_STRATEGIES["FL_HUNT_PCT_BOUNDED"]
STRATEGY_PCT = schema.HUNT_STRATEGIES["FL_HUNT_PCT"]
MAX_CHOICES = schema.FL_HUNT_MAX_CHOICES
MAX_DEPTH = schema.FL_HUNT_MAX_DEPTH
MAX_K = schema.FL_HUNT_MAX_K
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


def _lib() -> Any:
    return load_library()


def available() -> bool:
    """True iff the C library is built and has the batched hunt loop."""
    try:
        _lib()
    except (NativeUnavailableError, OSError):
        return False
    return True


def strategies_built() -> int:
    """Bit ``1 << s`` for every ``STRATEGY_*`` the library runs."""
    return int(_lib().fl_hunt_strategies())


def trace_hash(text: str | bytes) -> int:
    """``fl_trace_hash`` of a canonical trace text, computed in C (tests compare it with
    ``fuzzlock.trace.hash64``)."""
    b = text.encode() if isinstance(text, str) else text
    return int(_lib().fl_trace_hash(b, len(b)))


class HuntBatch(NamedTuple):
    """What one ``fl_model_hunt`` call did."""

    runs: int  # schedules run, the violating one included
    steps: int  # their trace events, summed
    hashes: list[int]  # per run: trace.hash64 of its trace
    ndecisions: list[int]  # per run: decisions consumed
    violation: NativeRun | None  # the violating run (the last one), if any
    preempt: float | None  # the last run's preempt (random)
    depth: int | None  # the last run's depth (pct)
    pct_seed: int | None  # the last run's PCTChooser seed (STRATEGY_PCT)
    error: str | None  # a run hit an internal error (e.g. a C capacity): ``runs`` before it


def _int(name: str, v: int, lo: int = _INT_MIN, hi: int = _INT_MAX) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ValueError(f"{name} {v!r} is not an integer in {lo}..{hi}")
    return v


class NativeScenario(Handle):
    """A scenario and a knob map encoded on the C side (``struct fl_model``), run in
    batches with ``hunt``; ``close()`` (or leaving a ``with``) frees it.

    ``reuse`` (another, open NativeScenario) gives its C model the new scenario
    (``fl_model_reload``: its thread stacks and constant strings are kept, which is most
    of what building a model costs) and takes it over: ``reuse`` is closed then.  If the
    new scenario is refused, ``reuse`` stays open with its old scenario.

    Raises NativeError (from the encoder, ``fl_model_new`` or ``fl_model_reload``) for a
    scenario outside the C slice."""

    _free = "fl_model_free"
    _cap: int
    _hashes: Any
    _ndec: Any

    def __init__(self, sc: Any, knobs: Any, reuse: NativeScenario | None = None) -> None:
        self.lib = _lib()
        encoded, names = encode_model_scenario(sc, knobs)
        if reuse is not None and reuse.handle:
            for x in encoded:
                if not INT64_MIN <= x <= INT64_MAX:
                    raise NativeError(f"encoding value {x} does not fit in 64 bits")
            arr = (ctypes.c_longlong * len(encoded))(*encoded)
            err = ctypes.create_string_buffer(256)
            handle = self.lib.fl_model_reload(
                reuse.handle, arr, len(encoded), names.encode(), err, len(err)
            )
            if not handle:
                msg = err.value.decode(errors="replace")
                raise NativeError(f"malformed model scenario: {msg}")
            reuse.handle = None  # the C model is this object's now
        else:
            model = Model(encoded, names)
            handle, model.handle = model.handle, None  # one owner, one fl_model_free
        self.handle: int | None = handle
        self.max_steps: int = sc.max_steps
        # the output arrays too
        self._cap = reuse._cap if reuse is not None else 0
        self._hashes = reuse._hashes if reuse is not None else None
        self._ndec = reuse._ndec if reuse is not None else None

    def hunt(
        self,
        seed: int,
        strategy: int,
        runs: int,
        preempts: Sequence[float] = (1.0,),
        depths: Sequence[int] = (2,),
        pct_k: int = 1,
        deadline: float = 0.0,
        max_steps: int | None = None,
    ) -> HuntBatch:
        """Run up to ``runs`` schedules (see the module docstring), stopping after the
        first violation or, after at least one run, once ``time.monotonic()`` passes
        ``deadline`` (0 = no deadline).

        Raises NativeSetupError if the scenario's setup fails (no run is made),
        NativeError if the C side refuses the arguments, ValueError for a value the C
        structure cannot hold."""
        if self.handle is None:
            raise NativeError("the scenario was closed")
        steps = self.max_steps if max_steps is None else max_steps
        if len(preempts) > MAX_CHOICES or len(depths) > MAX_CHOICES:
            raise ValueError(f"at most {MAX_CHOICES} preempt values and depths")
        if not isinstance(deadline, (int, float)) or isinstance(deadline, bool):
            raise ValueError(f"deadline {deadline!r} is not a number")
        a = HuntArgs()
        a.seed = _int("seed", seed, -(2**63), 2**64 - 1) & (2**64 - 1)
        a.deadline = float(deadline)
        a.strategy = _int("strategy", strategy)
        a.runs = _int("runs", runs)
        a.max_steps = _int("max_steps", steps)
        a.pct_k = _int("pct_k", pct_k)
        a.npreempt = len(preempts)
        a.ndepth = len(depths)
        for i, p in enumerate(preempts):
            if not isinstance(p, (int, float)) or isinstance(p, bool) or math.isnan(p):
                raise ValueError(f"preempt {p!r} is not a number")
            a.preempt[i] = float(p)
        for i, d in enumerate(depths):
            a.depth[i] = _int("depth", d)
        cap = max(runs, 1)
        if cap > self._cap:
            self._cap = cap
            self._hashes = (ctypes.c_ulonglong * cap)()
            self._ndec = (ctypes.c_int * cap)()
        out = HuntOut()
        res = FlResult()
        rc = self.lib.fl_model_hunt(
            self.handle,
            ctypes.byref(a),
            self._hashes,
            self._ndec,
            self._cap,
            ctypes.byref(out),
            ctypes.byref(res),
        )
        msg = out.message.decode(errors="replace")
        if rc == schema.FL_MODEL_SETUP_ERROR:
            raise NativeSetupError(msg)
        n = int(out.runs)
        if rc != 0 and n == 0 and not out.steps:
            raise NativeError(msg)
        violation = run_of(res) if rc == 0 and out.violation else None
        return HuntBatch(
            runs=n,
            steps=int(out.steps),
            hashes=list(self._hashes[:n]),
            ndecisions=list(self._ndec[:n]),
            violation=violation,
            preempt=float(out.preempt) if strategy == STRATEGY_RANDOM and n else None,
            depth=int(out.depth) if strategy != STRATEGY_RANDOM and n else None,
            pct_seed=int(out.pct_seed) if strategy == STRATEGY_PCT and n else None,
            error=msg if rc != 0 else None,
        )
