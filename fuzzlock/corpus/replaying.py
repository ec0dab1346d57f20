"""Replaying corpus entries: run an entry on a backend (``fuzzlock.backends``,
``Backend.replay``) and judge the run against what the entry recorded (``replay``,
``judge``); record a changed trace (``rerecord``)."""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from fuzzlock.corpus import (
    CLEAN,
    CorpusWriteError,
    Entry,
    _current_version,
    model_hash,
)
from fuzzlock.corpus.store import _replace_file

__all__ = [
    "NOT_APPLICABLE",
    "BackendRun",
    "Replayed",
    "judge",
    "replay",
    "rerecord",
]

# --------------------------------------------------------------------------- replay


@attrs.frozen
class BackendRun:
    """What a backend reports for one replayed schedule."""

    outcome: str  # "finished", "step-bound", a violation id, or "setup-error"
    digest: str  # the trace digest ("" if there is no trace)
    detail: str = ""  # one line: the violation, or why the run could not happen


#: ``BackendRun.outcome`` of a backend that cannot run the entry at all (e.g. the native
#: backend on a scenario outside the C slice).
NOT_APPLICABLE = "not-applicable"


@attrs.frozen
class Replayed:
    """The result of replaying one entry.  ``ok`` iff ``expect`` reproduced (``reproduced``)
    with the recorded trace (``digest_matches``): a changed trace is a failure until the
    entry is re-recorded (``rerecord``).  ``message`` is one line; a changed ``model_hash``
    is mentioned only when the replay failed (as a hint to why)."""

    ok: bool
    outcome: str
    expected: str
    digest: str
    digest_matches: bool
    model_hash_changed: bool
    message: str
    applicable: bool = True  # False: the backend cannot run this entry (ok is then True)
    reproduced: bool = True  # the outcome is the recorded ``expect`` (whatever the trace)


def judge(entry: Entry, got: BackendRun) -> Replayed:
    """Compare one run of ``entry`` (on any backend, or ``fuzzlock show``'s) with what
    the entry recorded."""
    from fuzzlock.sched.result import FINISHED

    expected = entry.expect
    if got.outcome == NOT_APPLICABLE:
        return Replayed(
            ok=True,
            outcome=got.outcome,
            expected=expected,
            digest="",
            digest_matches=False,
            model_hash_changed=False,
            message=f"skipped: {got.detail}",
            applicable=False,
            reproduced=False,
        )
    reproduced = got.outcome == FINISHED if expected == CLEAN else got.outcome == expected
    digest_matches = got.digest == entry.trace_digest
    now = model_hash()
    hash_changed = entry.model_hash != now
    shown = CLEAN if got.outcome == FINISHED else got.outcome
    if not reproduced:
        message = f"expected {expected}, got {shown}" + (f" ({got.detail})" if got.detail else "")
    elif not digest_matches:
        message = (
            f"reproduced {expected} but the trace changed "
            f"(recorded {entry.trace_digest[:12]}, now {got.digest[:12]})"
        )
    else:
        message = f"reproduced {expected}"
    if hash_changed and not (reproduced and digest_matches):
        message += f"; the model changed since the entry was recorded (model_hash {entry.model_hash} -> {now})"
    return Replayed(
        ok=reproduced and digest_matches,
        outcome=got.outcome,
        expected=expected,
        digest=got.digest,
        digest_matches=digest_matches,
        model_hash_changed=hash_changed,
        message=message,
        reproduced=reproduced,
    )


def replay(entry: Entry, backend: str = "python") -> Replayed:
    """Re-run ``entry`` on ``backend`` and compare with what it recorded (``judge``)."""
    from fuzzlock import backends

    if backend not in backends.names():
        known = ", ".join(sorted(backends.names()))
        raise ValueError(f"unknown backend {backend!r}; known: {known}")
    return judge(entry, backends.get(backend).replay(entry))


def rerecord(path: str | os.PathLike[str], entry: Entry, replayed: Replayed) -> list[str]:
    """Record ``replayed`` (a replay of ``entry``, loaded from ``path``, that reproduced
    its ``expect``) as what ``entry`` records: its trace digest, the current model hash
    and fuzzlock version; rewrite ``path`` atomically if any changed.  Returns what
    changed, one ``"<field> <old> -> <new>"`` each (empty: nothing to do).  Never changes
    what the entry expects: ValueError if ``replayed`` did not reproduce it.  Raises
    ``CorpusWriteError`` if the file cannot be rewritten."""
    if not (replayed.applicable and replayed.reproduced):
        raise ValueError(f"cannot re-record an entry that does not reproduce: {replayed.message}")
    new = attrs.evolve(
        entry,
        trace_digest=replayed.digest,
        model_hash=model_hash(),
        fuzzlock_version=_current_version(),
    )
    changes = [
        f"{f} {getattr(entry, f)} -> {getattr(new, f)}"
        for f in ("trace_digest", "model_hash", "fuzzlock_version")
        if getattr(entry, f) != getattr(new, f)
    ]
    if changes:
        p = Path(path)
        try:
            _replace_file(p, new.dumps().encode("utf-8"))
        except OSError as e:
            raise CorpusWriteError(p, e) from None
    return changes
