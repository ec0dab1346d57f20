"""The deterministic scheduler: simulated threads, locks, RCU, choosers, lockdep.

Public surface (see docs/design.md#scheduler-contract)::

    from fuzzlock.sched import Scheduler, ops, Lock, RWSem, Replay
    s = Scheduler()
    s.spawn("A", body_a())
    s.spawn("B", body_b())
    result = s.run(Replay([0, 1, 0]))
    result.outcome, result.digest, result.events
"""

from fuzzlock.sched import ops
from fuzzlock.sched.choosers import Chooser, HypothesisChooser, PCTChooser, RandomChooser, Replay
from fuzzlock.sched.locks import Lock, RWSem
from fuzzlock.sched.rcu import TypesafePool
from fuzzlock.sched.result import FINISHED, STEP_BOUND, RunResult, Violation, ViolationError
from fuzzlock.sched.scheduler import DEFAULT_MAX_STEPS, Scheduler, SimThread

__all__ = [
    "DEFAULT_MAX_STEPS",
    "FINISHED",
    "STEP_BOUND",
    "Chooser",
    "HypothesisChooser",
    "Lock",
    "PCTChooser",
    "RWSem",
    "RandomChooser",
    "Replay",
    "RunResult",
    "Scheduler",
    "SimThread",
    "TypesafePool",
    "Violation",
    "ViolationError",
    "ops",
]
