"""The ``native`` backend: the C port of the model (native/, through the fuzzlock.native
package).  The only product module outside fuzzlock/native/ that imports the C binding."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from fuzzlock import native
from fuzzlock.backends import Batch, BatchSpec, Run, Unsupported
from fuzzlock.native import hunt as native_hunt

if TYPE_CHECKING:
    from fuzzlock.corpus import Entry
    from fuzzlock.corpus.replaying import BackendRun
    from fuzzlock.protocol import Protocol
    from fuzzlock.scenario import Scenario

_KINDS = {
    "random": native_hunt.STRATEGY_RANDOM,
    "pct": native_hunt.STRATEGY_PCT,
    "pct-bounded": native_hunt.STRATEGY_PCT_BOUNDED,
}


def _setup_error(e: native.NativeSetupError) -> Exception:
    from fuzzlock import model

    return model.SetupError(str(e))


def run_of(res: native.ModelRunResults) -> Run:
    outcome, events, decs, pre, viol = res.run
    return Run(
        outcome, events, list(decs), list(pre), viol, res.results, len(events), res, res.objects
    )


def _toy_run(t: Any) -> Run:
    """A batch's violating run (a ``native.NativeRun``) as a backend ``Run``."""
    viol = None
    if t.violation_step is not None:
        thread = t.violation_thread if t.violation_thread is not None else -1
        viol = (t.outcome, t.violation_step, thread, t.violation_fn or "", t.message)
    return Run(
        t.outcome, t.events, list(t.decisions), list(t.preempted), viol, [], len(t.events), t
    )


class _Batcher:
    """One C model (``native_hunt.NativeScenario``), reloaded for each scenario."""

    def __init__(self) -> None:
        self.ns: native_hunt.NativeScenario | None = None

    def run(self, sc: Scenario, proto: Protocol, spec: BatchSpec) -> Batch:
        try:
            self.ns = native_hunt.NativeScenario(sc, proto.knobs, reuse=self.ns)
            b = self.ns.hunt(
                spec.seed,
                _KINDS[spec.kind],
                spec.runs,
                preempts=spec.preempts,
                depths=spec.depths,
                pct_k=spec.pct_k,
                deadline=spec.deadline,
            )
        except native.NativeSetupError as e:
            raise _setup_error(e) from None
        except native.NativeError as e:
            raise Unsupported(str(e)) from None
        v = _toy_run(b.violation) if b.violation is not None else None
        return Batch(b.runs, b.steps, b.hashes, b.ndecisions, v, b.error)

    def close(self) -> None:
        if self.ns is not None:
            self.ns.close()


class NativeBackend:
    """The C model; available where the library is built and has the model."""

    name = "native"
    batched = True

    def available(self) -> bool:
        try:
            native.load_library()
        except (native.NativeUnavailableError, OSError):
            return False
        return True

    def unavailable_reason(self) -> str:
        if self.available():
            return ""
        return native.unavailable_reason() or "the C library has no model (stale build)"

    def describe(self) -> list[str]:
        if native.native_available():
            return [
                f"native backend: built ({native.library_path()})",
                f"ABI version: {native.abi_version()}",
            ]
        return [
            f"native backend: not available: {native.unavailable_reason()}",
            "the Python backend will be used",
        ]

    def pct_kind(self) -> str:
        """``pct``, or ``pct-bounded`` on a library without the C port of PCTChooser."""
        exact = native_hunt.strategies_built() & (1 << native_hunt.STRATEGY_PCT)
        return "pct" if exact else "pct-bounded"

    def check(self, sc: Scenario, proto: Protocol) -> None:
        try:
            native.encode_model_scenario(sc, proto.knobs)
        except native.NativeError as e:
            raise Unsupported(str(e)) from None

    def run(
        self,
        sc: Scenario,
        proto: Protocol,
        decisions: Sequence[int] = (),
        *,
        chooser: Any = None,
        max_steps: int | None = None,
    ) -> Run:
        try:
            res = native.run_model_results(sc, proto.knobs, decisions, max_steps, chooser=chooser)
        except native.NativeSetupError as e:
            raise _setup_error(e) from None
        except native.NativeError as e:
            raise Unsupported(str(e)) from None
        return run_of(res)

    def run_pct(self, sc: Scenario, proto: Protocol, seed: int, depth: int, k: int) -> Run:
        """One schedule of the C port of ``PCTChooser(seed, n_threads, depth, k)``."""
        return run_of(native.run_model_results(sc, proto.knobs, pct=(seed, depth, k)))

    def bench_loop(self, sc: Scenario, proto: Protocol, runs: int, seed: int) -> int:
        """``runs`` seeded random schedules in one C call; their scheduling steps."""
        return native.model_bench(sc, proto.knobs, runs, seed=seed)

    @contextmanager
    def batches(self) -> Iterator[_Batcher]:
        b = _Batcher()
        try:
            yield b
        finally:
            b.close()

    def replay(self, entry: Entry) -> BackendRun:
        from fuzzlock import trace
        from fuzzlock.corpus.replaying import NOT_APPLICABLE, BackendRun

        try:
            outcome, events, _d, _p, viol = native.run_model(
                entry.scenario, entry.protocol.knobs, entry.decisions
            )
        except native.NativeSetupError as e:
            return BackendRun("setup-error", "", str(e))
        except native.NativeUnavailableError as e:
            raise NotImplementedError(f"native backend unavailable: {e}") from None
        except (native.NativeError, ValueError) as e:
            # NativeError: beyond the C model's capacities; ValueError: a value the ctypes
            # call cannot carry (load_entry rejects those, an Entry built in code may not)
            return BackendRun(NOT_APPLICABLE, "", f"outside the C slice ({e})")
        detail = ""
        if viol is not None:
            vid, step, thread, fn, msg = viol
            detail = f"{vid} at step {step} (thread {thread}, {fn}): {msg}"
        return BackendRun(outcome, trace.digest(events), detail)

    @contextmanager
    def footprints(self, sc: Scenario, proto: Protocol) -> Iterator[tuple[Any, Any]]:
        if not native.footprints_available():
            raise ValueError(
                "--strategy exhaustive --backend native needs the footprint build of the C "
                f"model: {native.footprints_unavailable_reason()}; use --backend python"
            )
        # no lockdep cells: whether a class closes a lock-order cycle does not depend on
        # the order of its steps, only where it is reported does (as in the Python model)
        with native.ModelFootprints(sc, proto.knobs, lockdep_cells=False) as session:
            yield _footprint_runner(session), _state_digest(session)


def _state_digest(session: Any) -> Any:
    """The state dump of a footprint session's last run: the C model's hash of its world
    (``fl_model_state_digest``)."""

    def state(_execution: Any) -> int:
        return int(session.state_digest())

    return state


def _footprint_runner(session: Any) -> Any:
    """Runs on the C model's footprint build (a ``native.ModelFootprints`` session)."""
    from fuzzlock.explore import Execution
    from fuzzlock.sched.footprint import UNIVERSAL, StepInfo

    def run(decisions: Sequence[int]) -> Execution:
        res, steps = session.run(decisions)
        outcome, events, decs, _pre, viol = res.run
        infos = [
            StepInfo(s.tid, s.order, s.decided, frozenset(), frozenset({UNIVERSAL}))
            if s.writes is native.ALL_CELLS
            else StepInfo(s.tid, s.order, s.decided, s.reads, s.writes)
            for s in steps
        ]
        return Execution(infos, list(decs), outcome, viol, events, res)

    return run
