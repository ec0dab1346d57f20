"""The comparison every conformance test makes: a backend's run against the reference's."""

from __future__ import annotations

from collections.abc import Sequence

from fuzzlock import backends, model
from fuzzlock.protocol import Protocol
from fuzzlock.scenario import Scenario

# violations whose objects the C model records (the others: message only)
OBJECTS_PORTED = frozenset({"walk.complete", "lock.walk-discipline", "uaf"})


def difference(
    backend: backends.Backend, sc: Scenario, proto: Protocol, decisions: Sequence[int]
) -> str:
    """'' if ``backend`` runs this schedule event for event as the reference, else the
    first difference."""
    ref = backends.get(backends.REFERENCE)
    py_err = c_err = None
    try:
        py = ref.run(sc, proto, decisions)
    except model.SetupError as e:
        py_err = str(e)
    try:
        c = backend.run(sc, proto, decisions)
    except model.SetupError as e:
        c_err = str(e)
    if py_err is not None or c_err is not None:
        if (py_err is None) != (c_err is None):
            return f"setup error: python {py_err!r}, {backend.name} {c_err!r}"
        return ""
    for i, (pe, ce) in enumerate(zip(py.events, c.events)):
        if tuple(pe) != tuple(ce):
            return f"first differing event #{i}: python {tuple(pe)} != {tuple(ce)}"
    if len(py.events) != len(c.events):
        return f"event counts differ: python {len(py.events)}, {backend.name} {len(c.events)}"
    if py.outcome != c.outcome:
        return f"outcome: python {py.outcome} != {c.outcome}"
    if list(py.decisions) != list(c.decisions):
        return f"decisions: python {py.decisions} != {c.decisions}"
    if list(py.preempted) != list(c.preempted):
        return f"preempted: python {py.preempted} != {c.preempted}"
    if py.results != c.results:
        return f"thread results: python {py.results} != {c.results}"
    pv, cv = py.violation, c.violation
    if (pv is None) != (cv is None):
        return f"violation: python {pv} != {cv}"
    if pv is not None and cv is not None:
        if pv[1:3] != cv[1:3]:
            return f"violation at: python {pv[1:3]} != {cv[1:3]}"
        if pv[3:] != cv[3:]:
            return f"violation text: python {pv[3:]} != {cv[3:]}"
        if c.objects is None and pv[0] in OBJECTS_PORTED:
            return f"violation objects: {backend.name} recorded none for {pv[0]}"
        if c.objects is not None and py.objects != c.objects:
            return f"violation objects: python {py.objects} != {c.objects}"
    return ""
