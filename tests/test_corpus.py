"""The corpus format (DESIGN "Corpus entry"): round trip, replay, one-line errors, atomic writes."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import multiprocessing
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import fuzzlock
from fuzzlock import corpus, model, protocol, scenario
from fuzzlock.corpus import CorpusError, Entry
from fuzzlock.sched import RandomChooser
from tests.native_required import require_native_model

SC_JSON: dict[str, Any] = {
    "setup": [
        {"op": "mmap", "mm": 0, "vma": "src", "start": 16, "pages": 4, "uffd": True},
        {"op": "mmap", "mm": 0, "vma": "dst", "start": 32, "pages": 4, "uffd": True},
        {"op": "write", "mm": 0, "addr": 16, "value": 7, "folio": "F"},
    ],
    "threads": [
        {"name": "mover", "ops": [{"op": "move", "mm": 0, "dst": 32, "src": 16, "len": 1}]},
        {"name": "reclaim", "ops": [{"op": "shrink_active_list", "folio": "F"}]},
    ],
}
SC = scenario.from_json(SC_JSON)
SOURCE = "corpora/v6.19/ab12.json"


def clean_entry() -> Entry:
    """v6.19 with no preemption: the move, then the walk; finishes clean."""
    p = protocol.get("v6.19")
    r = model.run(SC, p, decisions=[])
    assert r.outcome == "finished"
    return corpus.entry_from_run(SC, p, r, strategy="manual", note="no preemption")


def violating_entry() -> Entry:
    """patch2-only: a random schedule where the walk misses the moved folio (I10)."""
    p = protocol.get("patch2-only")
    for seed in range(2000):
        r = model.run(SC, p, chooser=RandomChooser(seed))
        if r.outcome == "walk.complete":
            again = model.run(SC, p, decisions=r.result.trimmed_decisions())
            assert again.outcome == "walk.complete" and again.digest == r.digest
            return corpus.entry_from_run(SC, p, again, strategy="random", seed=seed)
    raise AssertionError("no walk.complete violation in 2000 random schedules of patch2-only")


@pytest.fixture(scope="module")
def clean() -> Entry:
    return clean_entry()


@pytest.fixture(scope="module")
def violating() -> Entry:
    return violating_entry()


def _fresh(e: Entry) -> Entry:
    return corpus.entry_from_json(e.to_json())


# --------------------------------------------------------------------------- round trip


def test_clean_entry_round_trips_and_replays(tmp_path: Path, clean: Entry) -> None:
    path = corpus.write_entry(tmp_path, clean)
    assert path == tmp_path / "v6.19" / f"{clean.trace_digest}.json"
    text = path.read_text()
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=1) + "\n"
    loaded = corpus.load_entry(path)
    assert loaded == clean
    assert loaded.expect == "clean" and loaded.schema == 1
    assert loaded.fuzzlock_version == fuzzlock.__version__
    assert loaded.model_hash == corpus.model_hash()
    r = corpus.replay(loaded)
    assert r.ok and r.outcome == "finished" and r.expected == "clean"
    assert r.digest_matches and not r.model_hash_changed
    assert r.message == "reproduced clean"


def test_violating_entry_round_trips_and_replays(tmp_path: Path, violating: Entry) -> None:
    assert violating.expect == "walk.complete"
    assert violating.decisions and violating.decisions[-1] != 0  # trimmed
    assert violating.found_by["strategy"] == "random" and violating.found_by["seed"] is not None
    path = corpus.write_entry(tmp_path, violating)
    assert path.parent.name == "patch2-only"
    loaded = corpus.load_entry(path)
    assert loaded == violating
    r = corpus.replay(loaded)
    assert r.ok and r.outcome == "walk.complete" and r.digest_matches
    assert r.digest == violating.trace_digest


def test_write_same_entry_twice_does_nothing(tmp_path: Path, clean: Entry) -> None:
    p1 = corpus.write_entry(tmp_path, clean)
    st = p1.stat()
    p2 = corpus.write_entry(tmp_path, _fresh(clean))
    assert p1 == p2
    assert p2.stat().st_ino == st.st_ino and p2.stat().st_mtime_ns == st.st_mtime_ns
    assert sorted(x.name for x in p1.parent.iterdir()) == [p1.name]


def test_write_replaces_a_different_entry_unless_told_not_to(tmp_path: Path, clean: Entry) -> None:
    path = corpus.write_entry(tmp_path, clean)
    noted = _fresh(clean)
    noted.note = "hand-written note"
    corpus.write_entry(tmp_path, noted)
    assert corpus.load_entry(path).note == "hand-written note"
    corpus.write_entry(tmp_path, clean, replace=False)
    assert corpus.load_entry(path).note == "hand-written note"
    corpus.write_entry(tmp_path, clean)
    assert corpus.load_entry(path).note == clean.note


def test_protocol_dir_is_filesystem_safe(tmp_path: Path, clean: Entry) -> None:
    p = protocol.get("v6.19", {"walk.referenced_active_lock": "none"})
    assert corpus.protocol_dir(p) == "v6.19+walk.referenced_active_lock=none"
    assert corpus.protocol_dir("a/b c:d\\e") == "a_b_c_d_e"
    e = _fresh(clean)
    e.protocol = p
    path = corpus.write_entry(tmp_path, e)
    assert path.parent == tmp_path / "v6.19+walk.referenced_active_lock=none"
    assert corpus.load_entry(path).protocol == p
    e.trace_digest = "../../escape"
    with pytest.raises(ValueError, match="trace_digest"):
        corpus.write_entry(tmp_path, e)


def test_make_entry_takes_explicit_decisions(violating: Entry) -> None:
    p = violating.protocol
    r = model.run(SC, p, decisions=[*violating.decisions, 0, 0])
    e = corpus.make_entry(p, SC, [*violating.decisions, 0, 0], r, strategy="minimize", seed=3)
    assert e.decisions == violating.decisions and e.expect == "walk.complete"
    assert e.trace_digest == violating.trace_digest and e.found_by == {
        "strategy": "minimize",
        "seed": 3,
    }


def test_step_bound_run_is_not_an_entry() -> None:
    sc = scenario.from_json({**SC_JSON, "max_steps": 3})
    r = model.run(sc, protocol.get("v6.19"), decisions=[])
    assert r.outcome == "step-bound"
    with pytest.raises(ValueError, match="step-bound"):
        corpus.entry_from_run(sc, protocol.get("v6.19"), r)


# --------------------------------------------------------------------------- replay


def test_replay_fails_when_expect_does_not_reproduce(clean: Entry, violating: Entry) -> None:
    e = _fresh(violating)
    e.expect = "clean"
    r = corpus.replay(e)
    assert not r.ok and r.outcome == "walk.complete" and r.expected == "clean"
    assert r.message.startswith("expected clean, got walk.complete (walk.complete: ")
    assert "\n" not in r.message
    e = _fresh(clean)
    e.expect = "walk.complete"
    r = corpus.replay(e)
    assert not r.ok and r.message == "expected walk.complete, got clean"
    e.expect = "rmap.reachable"
    assert not corpus.replay(e).ok


def test_changed_model_hash_and_digest_are_reported_not_fatal(violating: Entry) -> None:
    e = _fresh(violating)
    e.model_hash = "0123456789abcdef"
    r = corpus.replay(e)
    assert r.ok and r.model_hash_changed and r.digest_matches
    assert "model changed" in r.message and "0123456789abcdef" in r.message
    e.trace_digest = "ab" * 32
    r = corpus.replay(e)
    assert r.ok and not r.digest_matches and "trace digest changed" in r.message


@pytest.mark.native
def test_native_backend_replays_a_clean_entry(clean: Entry) -> None:
    require_native_model()
    native = corpus.replay(clean, backend="native")
    assert native.ok or not native.applicable, native.message


def test_backends_plug_in(monkeypatch: pytest.MonkeyPatch, clean: Entry) -> None:
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        corpus.replay(clean, backend="nope")
    seen: list[Entry] = []

    def fake(entry: Entry) -> corpus.BackendRun:
        seen.append(entry)
        return corpus.BackendRun("finished", entry.trace_digest)

    monkeypatch.setitem(corpus.BACKENDS, "fake", fake)
    r = corpus.replay(clean, backend="fake")
    assert r.ok and seen == [clean]


def test_setup_error_is_a_failed_replay_not_a_crash(clean: Entry) -> None:
    bad = scenario.from_json(
        {
            **SC_JSON,
            "setup": [*SC_JSON["setup"][:2], {"op": "bind", "mm": 0, "addr": 17, "folio": "F"}],
        }
    )
    e = _fresh(clean)
    e.scenario = bad
    r = corpus.replay(e)
    assert not r.ok and r.outcome == "setup-error" and "nothing mapped" in r.message


# --------------------------------------------------------------------------- malformed


def _mutate(obj: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(obj))
    cur = out
    *path, last = key.split(".")
    for k in path:
        cur = cur[k]
    if value is _DELETE:
        del cur[last]
    else:
        cur[last] = value
    return out


_DELETE = object()
_BAD_OP = {"setup": [], "threads": [{"name": "t", "ops": [{"op": "teleport"}]}]}

# (key to change, new value, field named in the error, text in the error)
MALFORMED: list[tuple[str, Any, str | None, str]] = [
    ("decisions", _DELETE, "decisions", "missing"),
    ("decisions", [0, -1], "decisions", "expected a list of non-negative integers"),
    ("decisions", [True], "decisions", "expected a list of non-negative integers"),
    ("decisions", "0110", "decisions", "expected a list of non-negative integers"),
    ("schema", 2, "schema", "unsupported schema 2"),
    ("schema", "1", "schema", "expected an integer"),
    ("schema", _DELETE, "schema", "missing"),
    ("protocol", "v6.19", "protocol", "expected an object"),
    ("protocol.name", "v9.99", "protocol.name", "unknown protocol 'v9.99'"),
    ("protocol.knobs", [], "protocol.knobs", "expected an object"),
    ("protocol.knobs", {"no.such.knob": True}, "protocol.knobs", "unknown knob 'no.such.knob'"),
    ("protocol.knobs", {"move.anon_vma_lock": "maybe"}, "protocol.knobs", "move.anon_vma_lock"),
    ("protocol.extra", 1, "protocol.extra", "unknown field"),
    ("scenario", [], "scenario", "expected an object"),
    ("scenario", _BAD_OP, "scenario.threads[0].ops[0].op", "unknown op 'teleport'"),
    ("expect", "walk.incomplete", "expect", "'walk.incomplete'"),
    ("expect", 10, "expect", "expected a string"),
    ("trace_digest", "../../etc/passwd", "trace_digest", "hex digest"),
    ("found_by", {"strategy": "random"}, "found_by", "'strategy' and 'seed'"),
    ("found_by.seed", "7", "found_by.seed", "integer or null"),
    ("found_by.strategy", 7, "found_by.strategy", "expected a string"),
    ("minimized", "yes", "minimized", "expected true or false"),
    ("note", None, "note", "expected a string"),
    ("model_hash", _DELETE, "model_hash", "missing"),
    ("surprise", 1, "surprise", "unknown field"),
]


def _check_one_line(err: CorpusError, source: str, field: str | None, text: str) -> None:
    msg = str(err)
    assert "\n" not in msg
    assert msg.startswith(f"{source}: "), msg
    if field is not None:
        assert msg.startswith(f"{source}: field {field!r}: "), msg
    assert err.field == field and err.source == source
    assert text in msg, msg


@pytest.mark.parametrize(
    ("key", "value", "field", "text"),
    MALFORMED,
    ids=[f"{m[0]}-{i}" for i, m in enumerate(MALFORMED)],
)
def test_malformed_entry_is_one_line_naming_file_and_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean: Entry,
    key: str,
    value: Any,
    field: str | None,
    text: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = Path(SOURCE)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_mutate(clean.to_json(), key, value)))
    with pytest.raises(CorpusError) as ei:
        corpus.load_entry(SOURCE)
    _check_one_line(ei.value, SOURCE, field, text)
    e = ei.value
    assert e.__cause__ is None and (e.__context__ is None or e.__suppress_context__)


@pytest.mark.parametrize(
    ("content", "text"),
    [
        (b"{", "not JSON (Expecting property name"),
        (b"", "not JSON"),
        (b"\xff\xfe\x00", "not JSON (not UTF-8 text)"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_unparsable_file_is_one_line(tmp_path: Path, content: bytes, text: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(CorpusError) as ei:
        corpus.load_entry(path, source="corpora/x.json")
    _check_one_line(ei.value, "corpora/x.json", None, text)


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CorpusError) as ei:
        corpus.load_entry(tmp_path / "gone.json")
    _check_one_line(ei.value, str(tmp_path / "gone.json"), None, "cannot read")


def test_iter_entries_continues_past_bad_files(
    tmp_path: Path, clean: Entry, violating: Entry
) -> None:
    root = tmp_path / "corpora"
    good1 = corpus.write_entry(root, clean)
    good2 = corpus.write_entry(root, violating)
    (root / "v6.19" / "0-bad.json").write_text("{")
    (root / "v6.19" / "zz-bad.json").write_text(json.dumps({**clean.to_json(), "decisions": [-1]}))
    (root / "deep" / "er").mkdir(parents=True)
    shutil.copy(good1, root / "deep" / "er" / "copy.json")
    (root / "README.md").write_text("not an entry")
    (root / "v6.19" / ".half-written.tmp").write_text("{")
    got = list(corpus.iter_entries([root, tmp_path / "missing", good2]))
    names = [p.relative_to(tmp_path).as_posix() for p, _ in got]
    in_root = sorted(p for p in root.rglob("*.json"))
    assert [p for p, _ in got[: len(in_root)]] == in_root
    assert len(got) == len(in_root) + 2
    errors = {n: r for n, r in zip(names, (r for _, r in got)) if isinstance(r, CorpusError)}
    assert set(errors) == {
        "corpora/v6.19/0-bad.json",
        "corpora/v6.19/zz-bad.json",
        "missing",
    }
    assert "field 'decisions'" in str(errors["corpora/v6.19/zz-bad.json"])
    entries = [r for _, r in got if isinstance(r, Entry)]
    assert len(entries) == 4 and entries[-1] == violating


# --------------------------------------------------------------------------- model hash


def _copy_sources(dst: Path, with_native: bool) -> Path:
    pkg = Path(protocol.__file__).parent
    out = dst / "fuzzlock"
    for sub in ("model", "sched"):
        (out / sub).mkdir(parents=True)
        for f in (pkg / sub).glob("*.py"):
            shutil.copy(f, out / sub / f.name)
    for name in ("protocol.py", "invariants.py", "scenario.py", "trace.py", "cli.py"):
        shutil.copy(pkg / name, out / name)
    if with_native:
        shutil.copytree(pkg.parent / "native", dst / "native")
    return out


def test_model_hash_covers_model_and_native_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = corpus.model_hash()
    assert len(h) == 16 and int(h, 16) >= 0
    assert corpus.model_hash() is h  # cached
    uncached = corpus.model_hash.__wrapped__
    live = uncached()
    pkg = _copy_sources(tmp_path / "src", with_native=True)
    monkeypatch.setattr(importlib.resources, "files", lambda name: pkg)
    assert uncached() == live  # a plain directory hashes like the editable install
    (pkg / "cli.py").write_text("# not part of the model hash\n")
    assert uncached() == live
    (pkg / "scenario.py").write_text("# scenario semantics are part of it\n")
    assert uncached() != live
    shutil.copy(Path(protocol.__file__).parent / "scenario.py", pkg / "scenario.py")
    (pkg / "model" / "rmap.py").write_text("# changed\n")
    changed = uncached()
    assert changed != live
    (pkg / "model" / "new.py").write_text("")
    assert uncached() != changed
    shutil.rmtree(tmp_path / "src" / "native")  # an installed wheel: no native/
    no_native = uncached()
    assert no_native != changed and len(no_native) == 16


# --------------------------------------------------------------------------- concurrency


def _digest_for(proc: int, i: int) -> str:
    return hashlib.sha256(f"writer {proc} entry {i}".encode()).hexdigest()


def _writer(root: str, proc: int, template: dict[str, Any], barrier: Any) -> None:
    """One process: the shared entry and 25 of its own, all in one directory at once."""
    shared = corpus.entry_from_json(template, "shared")
    mine = [
        corpus.entry_from_json(
            {**template, "trace_digest": _digest_for(proc, i), "note": f"writer {proc}"}, "mine"
        )
        for i in range(25)
    ]
    barrier.wait()
    corpus.write_entry(root, shared)
    for i, e in enumerate(mine):
        corpus.write_entry(root, e)
        if i == 12:
            corpus.write_entry(root, shared)


def test_concurrent_writers_lose_nothing(tmp_path: Path, clean: Entry) -> None:
    n = 8
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n)
    template = clean.to_json()
    procs = [
        ctx.Process(target=_writer, args=(str(tmp_path), p, template, barrier)) for p in range(n)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * n
    d = tmp_path / "v6.19"
    assert sorted(os.listdir(tmp_path)) == ["v6.19"]
    names = sorted(os.listdir(d))
    assert all(x.endswith(".json") for x in names), [x for x in names if not x.endswith(".json")]
    want = {f"{_digest_for(p, i)}.json" for p in range(n) for i in range(25)}
    want.add(f"{clean.trace_digest}.json")
    assert set(names) == want and len(names) == n * 25 + 1
    loaded = [r for _, r in corpus.iter_entries([tmp_path])]
    assert all(isinstance(r, Entry) for r in loaded), [
        r for r in loaded if not isinstance(r, Entry)
    ]
    assert corpus.load_entry(d / f"{clean.trace_digest}.json") == clean
