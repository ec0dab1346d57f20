"""The corpus: saved interleavings, one JSON file each, replayed in CI (docs/design.md#corpus).

An entry is ``corpora/<protocol>/<entry digest>.json``::

    {"schema": 1, "fuzzlock_version": "0.1.0", "model_hash": "3f2a...",
     "protocol": {"name": "patch2-only", "knobs": {...every knob...}},
     "scenario": {...}, "decisions": [0, 1, 1], "expect": "walk.complete",
     "trace_digest": "9c1e...", "found_by": {"strategy": "random", "seed": 8},
     "minimized": true, "note": "..."}

* The file is named by ``entry_digest``: a sha256 of everything that makes two entries
  different (the protocol's name and full knob map, the whole scenario with its thread
  names and move modes, the decisions and ``expect``), not of the trace (``trace_digest``,
  which ignores names and modes) nor of the metadata (note, found_by, model_hash).
* ``load_entry`` validates a file; anything wrong is a ``CorpusError`` whose message is one
  line naming the file and the field, never a traceback.  Every integer is checked
  against the range both backends hold (decisions: int64, ``max_steps``: int, a write's
  ``value``: int64, ``found_by.seed``: uint64), so a valid entry replays on either.
* ``store.save_entry`` / ``store.write_entry`` (``fuzzlock.corpus.store``) write atomically (a temp file in the same directory,
  then a hard link, which never replaces an existing file), so concurrent xdist workers
  and machines merging corpora never lose or corrupt an entry, and never overwrite one:
  an identical entry (same entry digest) is "already in the corpus" and kept as it is
  (its note too); a different file under the name is kept and the new entry goes to
  ``<entry digest>-2.json`` (-3, ...).  A directory that cannot be written is a
  ``CorpusWriteError`` (one line).
* ``replaying.replay`` (``fuzzlock.corpus.replaying``) re-runs an entry on a backend and passes iff the recorded ``expect``
  reproduces with the recorded trace (``trace_digest``).  A changed trace is a failure
  until the entry is re-recorded (``rerecord``, ``fuzzlock replay --re-record``); a
  changed ``model_hash`` alone is not worth a word (it changes with every edit of the
  model's sources, whether or not this entry's trace does).
* ``iter_entries`` walks files and directories; one bad file never stops the others.

Entries replay on the backends of ``fuzzlock.backends`` (``Backend.replay``: ``Entry ->
replaying.BackendRun``); ``python`` runs the reference model, ``native`` the C model.  The
C model implements every scenario op; an entry it
still cannot run (a value it cannot represent, or beyond its fixed capacities) is outside
the C slice: the native backend reports it as *not applicable* (outcome
``not-applicable``, ``Replayed.applicable`` False, ``ok`` True, message ``skipped: outside
the C slice (...)``): it is neither a reproduction nor a failure, and ``fuzzlock replay
--backend native`` prints it as ``skip``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from fuzzlock.protocol import Protocol, ProtocolError
from fuzzlock.protocol import from_json as protocol_from_json
from fuzzlock.scenario import Scenario, ScenarioError, json_error
from fuzzlock.scenario import from_json as scenario_from_json

if TYPE_CHECKING:
    from fuzzlock.model import ModelRun

__all__ = [
    "CLEAN",
    "SCHEMA",
    "CorpusError",
    "CorpusWriteError",
    "Entry",
    "entry_digest",
    "entry_from_json",
    "entry_from_run",
    "iter_entries",
    "load_entry",
    "make_entry",
    "model_hash",
    "protocol_dir",
]

#: The corpus format version this fuzzlock reads and writes.
SCHEMA = 1
#: ``expect`` of an entry whose run finishes with no violation.
CLEAN = "clean"

_FIELDS = (
    "schema",
    "fuzzlock_version",
    "model_hash",
    "protocol",
    "scenario",
    "decisions",
    "expect",
    "trace_digest",
    "found_by",
    "minimized",
    "note",
)
_DIGEST_RE = re.compile(r"[0-9a-f]{16,128}")
_UNSAFE_RE = re.compile(r"[^A-Za-z0-9.\-+=_]")
#: A decision is a C ``long long`` (fuzzlock/native/encoding.py).
DECISION_MAX = 2**63 - 1
#: ``found_by.seed``: the hunt's seed, at most 64 bits (the C hunts take a ``uint64_t``).
SEED_MAX = 2**64 - 1


class CorpusError(ValueError):
    """A malformed or unreadable corpus entry.

    ``str(err)`` is one line: ``<source>: field '<field>': <message>`` (or
    ``<source>: <message>`` when no single field is at fault)."""

    def __init__(self, source: str, message: str, field: str | None = None) -> None:
        self.source = source
        self.field = field
        self.message = " ".join(message.split("\n"))
        where = f"{source}: field {field!r}: " if field is not None else f"{source}: "
        super().__init__(where + self.message)


class CorpusWriteError(CorpusError):
    """An entry could not be saved (a directory that is read-only, is a file, a full
    disk, ...): ``str(err)`` is one line, ``<path>: cannot save the entry: <reason>``."""

    def __init__(self, path: str | os.PathLike[str], err: OSError | str) -> None:
        reason = err if isinstance(err, str) else (err.strerror or str(err))
        super().__init__(os.fspath(path), f"cannot save the entry: {reason}")


def _default_found_by() -> dict[str, Any]:
    return {"strategy": "manual", "seed": None}


def _current_model_hash() -> str:
    return model_hash()


def _current_version() -> str:
    import fuzzlock

    return str(fuzzlock.__version__)


@attrs.define(kw_only=True)
class Entry:
    """One corpus entry (docs/design.md#corpus); ``to_json`` / ``entry_from_json``."""

    protocol: Protocol
    scenario: Scenario
    decisions: list[int]
    expect: str
    trace_digest: str
    found_by: dict[str, Any] = attrs.field(factory=_default_found_by)
    minimized: bool = False
    note: str = ""
    schema: int = SCHEMA
    fuzzlock_version: str = attrs.field(factory=_current_version)
    model_hash: str = attrs.field(factory=lambda: _current_model_hash())

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "fuzzlock_version": self.fuzzlock_version,
            "model_hash": self.model_hash,
            "protocol": self.protocol.to_json(),
            "scenario": self.scenario.to_json(),
            "decisions": list(self.decisions),
            "expect": self.expect,
            "trace_digest": self.trace_digest,
            "found_by": {"strategy": self.found_by["strategy"], "seed": self.found_by["seed"]},
            "minimized": self.minimized,
            "note": self.note,
        }

    def dumps(self) -> str:
        """The file text: sorted keys, indent 1, trailing newline."""
        return json.dumps(self.to_json(), sort_keys=True, indent=1) + "\n"


def expect_for(outcome: str) -> str:
    """The ``expect`` that records a run's outcome (``finished`` -> ``clean``)."""
    from fuzzlock.sched.result import FINISHED, STEP_BOUND

    if outcome == FINISHED:
        return CLEAN
    if outcome == STEP_BOUND:
        raise ValueError(
            "a step-bound run is not a corpus outcome (raise the scenario's max_steps)"
        )
    return outcome


def entry_from_run(
    scenario: Scenario,
    protocol: Protocol,
    run: ModelRun,
    *,
    strategy: str = "manual",
    seed: int | None = None,
    minimized: bool = False,
    note: str = "",
) -> Entry:
    """An entry recording ``run`` (its trimmed decisions, outcome and trace digest)."""
    return Entry(
        protocol=protocol,
        scenario=scenario,
        decisions=run.result.trimmed_decisions(),
        expect=expect_for(run.outcome),
        trace_digest=run.digest,
        found_by={"strategy": strategy, "seed": seed},
        minimized=minimized,
        note=note,
    )


def make_entry(
    protocol: Protocol,
    scenario: Scenario,
    decisions: Iterable[int],
    run: ModelRun,
    *,
    strategy: str = "manual",
    seed: int | None = None,
    minimized: bool = False,
    note: str = "",
) -> Entry:
    """Like ``entry_from_run`` with the decisions given explicitly (trailing zeros, which
    mean "no preemption" like exhausted decisions, are dropped).  ``run`` must be the run of
    exactly these decisions: its outcome and digest are recorded."""
    d = list(decisions)
    while d and d[-1] == 0:
        d.pop()
    e = entry_from_run(
        scenario, protocol, run, strategy=strategy, seed=seed, minimized=minimized, note=note
    )
    e.decisions = d
    return e


# --------------------------------------------------------------------------- reading


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _known_expects() -> set[str]:
    from fuzzlock.schema import INVARIANTS

    return {CLEAN, *INVARIANTS}


def _split_where(msg: str, default: str) -> tuple[str, str]:
    """Split ``"scenario.threads[0].op: unknown op"`` into the field path and the message."""
    head, sep, rest = msg.partition(": ")
    if sep and head.startswith(default) and " " not in head:
        return head, rest
    return default, msg


def entry_from_json(obj: Any, source: str = "<entry>") -> Entry:
    """Validate and build an entry; any problem is a one-line ``CorpusError``."""

    def bad(field: str | None, msg: str) -> CorpusError:
        return CorpusError(source, msg, field)

    if not isinstance(obj, Mapping):
        raise bad(None, f"expected a JSON object, got {type(obj).__name__}")
    if "schema" not in obj:
        raise bad("schema", "missing")
    schema = obj["schema"]
    if not _is_int(schema):
        raise bad("schema", f"expected an integer, got {schema!r}")
    if schema != SCHEMA:
        raise bad("schema", f"unsupported schema {schema} (this fuzzlock reads schema {SCHEMA})")
    for f in _FIELDS:
        if f not in obj:
            raise bad(f, "missing")
    unknown = sorted(set(obj) - set(_FIELDS))
    if unknown:
        raise bad(unknown[0], "unknown field")
    for f in ("fuzzlock_version", "model_hash", "expect", "trace_digest", "note"):
        if not isinstance(obj[f], str):
            raise bad(f, f"expected a string, got {obj[f]!r}")
    try:
        proto = protocol_from_json(obj["protocol"])
    except ProtocolError as e:
        msg = str(e)
        field, rest = _split_where(msg, "protocol")
        if field == "protocol" and rest == msg:
            field = "protocol.name" if msg.startswith("unknown protocol") else "protocol.knobs"
        raise bad(field, rest) from None
    if isinstance(obj["protocol"], Mapping):
        extra = sorted(set(obj["protocol"]) - {"name", "knobs"})
        if extra:
            raise bad(f"protocol.{extra[0]}", "unknown field")
    try:
        sc = scenario_from_json(obj["scenario"])
    except ScenarioError as e:
        field, rest = _split_where(str(e), "scenario")
        raise bad(field, rest) from None
    decisions = obj["decisions"]
    if not isinstance(decisions, list) or not all(_is_int(d) and d >= 0 for d in decisions):
        raise bad("decisions", "expected a list of non-negative integers")
    for i, d in enumerate(decisions):
        if d > DECISION_MAX:
            raise bad(f"decisions[{i}]", f"{d} is out of range (at most 2**63-1)")
    n = len(decisions)
    while n and decisions[n - 1] == 0:
        n -= 1  # trailing zeros mean "no preemption", like no decision at all
    if n > sc.max_steps:
        raise bad(
            "decisions", f"{n} decisions for at most {sc.max_steps} steps (scenario.max_steps)"
        )
    expect = obj["expect"]
    if expect not in _known_expects():
        raise bad("expect", f"{expect!r} is neither 'clean' nor a known invariant id")
    digest = obj["trace_digest"]
    if not _DIGEST_RE.fullmatch(digest):
        raise bad("trace_digest", f"expected a lowercase hex digest, got {digest!r}")
    fb = obj["found_by"]
    if not isinstance(fb, Mapping) or set(fb) != {"strategy", "seed"}:
        raise bad("found_by", "expected an object with exactly 'strategy' and 'seed'")
    if not isinstance(fb["strategy"], str):
        raise bad("found_by.strategy", f"expected a string, got {fb['strategy']!r}")
    if fb["seed"] is not None and not _is_int(fb["seed"]):
        raise bad("found_by.seed", f"expected an integer or null, got {fb['seed']!r}")
    if fb["seed"] is not None and not 0 <= fb["seed"] <= SEED_MAX:
        raise bad("found_by.seed", f"{fb['seed']} is out of range (0 to 2**64-1)")
    if not isinstance(obj["minimized"], bool):
        raise bad("minimized", f"expected true or false, got {obj['minimized']!r}")
    return Entry(
        schema=schema,
        fuzzlock_version=obj["fuzzlock_version"],
        model_hash=obj["model_hash"],
        protocol=proto,
        scenario=sc,
        decisions=list(decisions),
        expect=expect,
        trace_digest=digest,
        found_by={"strategy": fb["strategy"], "seed": fb["seed"]},
        minimized=obj["minimized"],
        note=obj["note"],
    )


def _shown(p: str | os.PathLike[str]) -> str:
    """A path as printed in an error: as it is, or quoted if it has unprintable characters."""
    s = os.fspath(p)
    return s if s.isprintable() else repr(s)


def load_entry(path: str | os.PathLike[str], source: str | None = None) -> Entry:
    """Read and validate one entry file; ``source`` (default: ``path``) names it in errors."""
    src = source if source is not None else os.fspath(path)
    return entry_from_json(read_json(path, src), source=src)


def read_json(path: str | os.PathLike[str], src: str) -> Any:
    """The JSON value in file ``path``; anything unreadable or not JSON (not UTF-8, a NUL
    byte in the path, nested too deeply) is a one-line ``CorpusError`` naming ``src``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CorpusError(src, "not JSON (not UTF-8 text)") from None
    except OSError as e:
        raise CorpusError(src, f"cannot read: {e.strerror or e}") from None
    except ValueError as e:  # a path with a NUL byte
        raise CorpusError(_shown(src), f"cannot read: {e}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise CorpusError(src, f"not JSON ({json_error(e)})") from None
    except RecursionError:
        raise CorpusError(src, "not JSON (nested too deeply)") from None
    return obj


def iter_entries(
    paths: Iterable[str | os.PathLike[str]],
) -> Iterator[tuple[Path, Entry | CorpusError]]:
    """``(path, entry or error)`` for each file, and each ``*.json`` under each directory
    (recursively, sorted).  A bad file yields its ``CorpusError`` and the walk goes on."""
    for p in paths:
        path = Path(p)
        try:
            if path.is_dir():
                files = sorted(f for f in path.rglob("*.json") if f.is_file())
            elif path.exists():
                files = [path]
            else:
                yield path, CorpusError(_shown(p), "no such file or directory")
                continue
        except (OSError, ValueError) as e:  # unreadable directory, a NUL byte in the path
            yield path, CorpusError(_shown(p), f"cannot read: {e}")
            continue
        for f in files:
            try:
                yield f, load_entry(f)
            except CorpusError as e:
                yield f, e


# --------------------------------------------------------------------------- naming


def protocol_dir(proto: Protocol | str) -> str:
    """The directory name for a protocol: its name with characters outside
    ``[A-Za-z0-9.-+=_]`` replaced by ``_``."""
    name = proto if isinstance(proto, str) else proto.name
    return _UNSAFE_RE.sub("_", name) or "_"


def entry_digest(entry: Entry) -> str:
    """The sha256 (hex) naming ``entry``'s file: of everything that makes two entries
    different: the protocol (name and full knob map), the whole scenario (thread names,
    move modes, ``max_steps``: ``Scenario.to_json``, defaults filled in), the decisions
    (trailing zeros dropped: they mean "no preemption" like no decision) and ``expect``.
    Not the note, ``found_by``, ``minimized``, ``model_hash`` or ``trace_digest``: an
    entry re-found, or re-recorded after a model change, is the same entry."""
    d = list(entry.decisions)
    while d and d[-1] == 0:
        d.pop()
    key = {
        "protocol": entry.protocol.to_json(),
        "scenario": entry.scenario.to_json(),
        "decisions": d,
        "expect": entry.expect,
    }
    text = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(b"fuzzlock corpus entry\0" + text.encode()).hexdigest()


# --------------------------------------------------------------------------- model hash


def _package_dirs(pkg: Any) -> list[Path]:
    """The concrete directories behind ``importlib.resources.files("fuzzlock")`` (one for a
    normal install, several for a multiplexed editable install)."""
    if isinstance(pkg, Path):
        return [pkg]
    for attr in ("paths", "_paths"):
        ps = getattr(pkg, attr, None)
        if ps:
            return [Path(p) for p in ps]
    return []


@functools.cache
def model_hash() -> str:
    """sha256 (first 16 hex digits) of the model sources: ``model/*.py``, ``sched/*.py``,
    ``protocol.py``, ``invariants.py``, ``scenario.py``, ``trace.py`` and, when present (a
    source tree), ``native/*.c``
    and ``native/*.h``.  Each file contributes its relative name and its bytes, in sorted
    order, so a rename, an edit or a new file all change it.  Cached per process."""
    pkg = importlib.resources.files("fuzzlock")
    files: dict[str, bytes] = {}
    for sub in ("model", "sched"):
        d = pkg.joinpath(sub)
        if d.is_dir():
            for f in d.iterdir():
                if f.name.endswith(".py") and f.is_file():
                    files[f"fuzzlock/{sub}/{f.name}"] = f.read_bytes()
    for name in ("protocol.py", "invariants.py", "scenario.py", "trace.py"):
        f = pkg.joinpath(name)
        if f.is_file():
            files[f"fuzzlock/{name}"] = f.read_bytes()
    for d in _package_dirs(pkg):
        native = d.parent / "native"
        # Only the fuzzlock source tree's native/ (an installed wheel has none; do not pick
        # up some other top-level "native" package next to site-packages/fuzzlock).
        if (native / "fuzzlock.h").is_file():
            for f in sorted(native.iterdir()):
                if f.suffix in (".c", ".h") and f.is_file():
                    files[f"native/{f.name}"] = f.read_bytes()
            break
    h = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- known findings

KERNEL_FINDING = "kernel finding"


def known_findings(root: str | os.PathLike[str], proto: Protocol) -> dict[str, tuple[Path, str]]:
    """Invariants recorded under ``root`` as kernel findings for exactly this protocol
    (entries whose note starts with "kernel finding"): invariant -> (path, note).  A
    campaign that hits one of them reports it as known, with the entry, instead of
    failing CI on a bug that is documented and kept as a reproducer."""
    out: dict[str, tuple[Path, str]] = {}
    d = Path(root) / protocol_dir(proto)
    if not d.is_dir():
        return out
    for path, item in iter_entries([d]):
        if isinstance(item, CorpusError) or item.expect == CLEAN:
            continue
        if item.note.startswith(KERNEL_FINDING) and dict(item.protocol.knobs) == dict(proto.knobs):
            out.setdefault(item.expect, (Path(path), item.note))
    return out
