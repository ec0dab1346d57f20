"""The corpus format (docs/design.md#corpus): round trip, replay, one-line errors, atomic writes."""

from __future__ import annotations

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
from fuzzlock.corpus import CorpusError, Entry, replaying, store
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
    path = store.write_entry(tmp_path, clean)
    assert path == tmp_path / "v6.19" / f"{corpus.entry_digest(clean)}.json"
    text = path.read_text()
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=1) + "\n"
    loaded = corpus.load_entry(path)
    assert loaded == clean
    assert loaded.expect == "clean" and loaded.schema == 1
    assert loaded.fuzzlock_version == fuzzlock.__version__
    assert loaded.model_hash == corpus.model_hash()
    r = replaying.replay(loaded)
    assert r.ok and r.outcome == "finished" and r.expected == "clean"
    assert r.digest_matches and not r.model_hash_changed
    assert r.message == "reproduced clean"


def test_violating_entry_round_trips_and_replays(tmp_path: Path, violating: Entry) -> None:
    assert violating.expect == "walk.complete"
    assert violating.decisions and violating.decisions[-1] != 0  # trimmed
    assert violating.found_by["strategy"] == "random" and violating.found_by["seed"] is not None
    path = store.write_entry(tmp_path, violating)
    assert path.parent.name == "patch2-only"
    loaded = corpus.load_entry(path)
    assert loaded == violating
    r = replaying.replay(loaded)
    assert r.ok and r.outcome == "walk.complete" and r.digest_matches
    assert r.digest == violating.trace_digest


def test_write_same_entry_twice_does_nothing(tmp_path: Path, clean: Entry) -> None:
    p1 = store.write_entry(tmp_path, clean)
    st = p1.stat()
    p2 = store.write_entry(tmp_path, _fresh(clean))
    assert p1 == p2
    assert p2.stat().st_ino == st.st_ino and p2.stat().st_mtime_ns == st.st_mtime_ns
    assert sorted(x.name for x in p1.parent.iterdir()) == [p1.name]


def _renamed_threads(e: Entry) -> Entry:
    """``e`` with its threads renamed: another scenario, the same trace digest."""
    out = _fresh(e)
    sc = e.scenario
    out.scenario = scenario.Scenario(
        sc.setup, tuple((f"{n}-renamed", ops) for n, ops in sc.threads), sc.max_steps
    )
    return out


def test_entry_digest_covers_everything_that_makes_two_entries_different(
    clean: Entry, violating: Entry
) -> None:
    """The file name (entry digest) differs whenever the scenario (thread names, move
    modes, max_steps), protocol (name, knobs), decisions or expect differ; it does not
    depend on the note, found_by, model hash or trace digest."""
    base = corpus.entry_digest(violating)
    assert len(base) == 64 and int(base, 16) >= 0
    variants: list[Entry] = []
    variants.append(_renamed_threads(violating))
    moded = _fresh(violating)
    sc_json = violating.scenario.to_json()
    sc_json["threads"][0]["ops"][0]["mode"] = ["DONTWAKE"]
    moded.scenario = scenario.from_json(sc_json)
    variants.append(moded)
    longer = _fresh(violating)
    longer.scenario = scenario.from_json({**sc_json, "max_steps": 30_000})
    variants.append(longer)
    for e, change in (
        (_fresh(violating), {"decisions": [*violating.decisions, 1]}),
        (_fresh(violating), {"expect": "rmap.reachable"}),
        (_fresh(violating), {"protocol": protocol.get("v6.18")}),
        (
            _fresh(violating),
            {"protocol": protocol.get("patch2-only", {"walk.damon_lock": "trylock"})},
        ),
    ):
        for k, v in change.items():
            setattr(e, k, v)
        variants.append(e)
    digests = [corpus.entry_digest(v) for v in variants]
    assert base not in digests and len(set(digests)) == len(digests)
    # the trace digest ignores thread names and modes: that is why it cannot name files
    renamed = variants[0]
    assert model.run(renamed.scenario, renamed.protocol, decisions=renamed.decisions).digest == (
        violating.trace_digest
    )
    same = _fresh(violating)
    same.note, same.found_by, same.minimized = "another note", {"strategy": "x", "seed": 9}, False
    same.model_hash, same.trace_digest = "0" * 16, "ab" * 32
    same.decisions = [*violating.decisions, 0, 0]  # trailing zeros mean no preemption
    assert corpus.entry_digest(same) == base


def test_saving_another_scenario_with_the_same_trace_keeps_the_curated_entry(
    tmp_path: Path, violating: Entry
) -> None:
    """The reported bug: a hunt's entry whose trace digest equals a curated entry's (its
    threads have other names) replaced the curated file and its note."""
    curated = _fresh(violating)
    curated.note = "kernel finding: curated, hand-written note"
    p1 = store.write_entry(tmp_path, curated)
    found = _renamed_threads(violating)
    assert found.trace_digest == curated.trace_digest
    saved = store.save_entry(tmp_path, found)
    assert saved.written and saved.path != p1 and saved.kept == ()
    assert corpus.load_entry(p1) == curated
    assert corpus.load_entry(saved.path) == found
    assert sorted(p.name for p in p1.parent.iterdir()) == sorted([p1.name, saved.path.name])


def test_saving_an_identical_entry_keeps_the_existing_file_and_says_so(
    tmp_path: Path, clean: Entry
) -> None:
    curated = _fresh(clean)
    curated.note = "hand-written note"
    path = store.write_entry(tmp_path, curated)
    st = path.stat()
    again = store.save_entry(tmp_path, clean)  # same entry, another note
    assert again.path == path and not again.written and again.kept == ()
    assert again.message == f"already in the corpus: {path}"
    assert corpus.load_entry(path).note == "hand-written note"
    assert path.stat().st_mtime_ns == st.st_mtime_ns
    assert store.write_entry(tmp_path, clean) == path
    assert sorted(x.name for x in path.parent.iterdir()) == [path.name]


@pytest.mark.parametrize("occupant", ["other entry", "not json", "directory"])
def test_a_different_file_under_the_name_is_kept_and_the_entry_saved_next_to_it(
    tmp_path: Path, clean: Entry, violating: Entry, occupant: str
) -> None:
    path = store.entry_path(tmp_path, clean)
    path.parent.mkdir(parents=True)
    if occupant == "other entry":  # e.g. hand-edited without renaming
        edited = _fresh(clean)
        edited.decisions = [1]
        path.write_text(edited.dumps())
    elif occupant == "not json":
        path.write_text("{")
    else:
        path.mkdir()
    before = path.read_bytes() if path.is_file() else None
    saved = store.save_entry(tmp_path, clean)
    assert saved.written and saved.kept == (path,)
    assert saved.path == path.with_name(f"{corpus.entry_digest(clean)}-2.json")
    assert corpus.load_entry(saved.path) == clean
    assert (path.read_bytes() if path.is_file() else None) == before
    assert "kept" in saved.message and str(path) in saved.message and "\n" not in saved.message
    assert store.save_entry(tmp_path, clean).path == saved.path  # now already there


def _no_temp_files(root: Path) -> None:
    assert [p for p in root.rglob("*") if p.name.endswith(".tmp")] == []


def test_save_failures_are_one_line_corpus_write_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean: Entry
) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("not a directory")
    proto_file = tmp_path / "root"
    proto_file.mkdir()
    (proto_file / "v6.19").write_text("")
    for root, text in ((a_file, "Not a directory"), (proto_file, "not a directory")):
        with pytest.raises(corpus.CorpusWriteError) as ei:
            store.save_entry(root, clean)
        msg = str(ei.value)
        assert "\n" not in msg and "cannot save the entry" in msg and text in msg, msg
        assert isinstance(ei.value, CorpusError)  # callers catching CorpusError see it
    assert a_file.read_text() == "not a directory"
    assert (proto_file / "v6.19").read_text() == ""

    # a read-only directory (simulated: the tests may run as root) and a full disk
    def read_only(*a: Any, **k: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    for target, fake, text in (
        ("tempfile.mkstemp", read_only, "Permission denied"),
        ("os.fsync", full, "No space left on device"),
    ):
        with monkeypatch.context() as m:
            m.setattr(target, fake)
            with pytest.raises(corpus.CorpusWriteError, match=text):
                store.save_entry(tmp_path / "c", clean)
        _no_temp_files(tmp_path / "c")
        assert list((tmp_path / "c").rglob("*.json")) == []
    assert store.save_entry(tmp_path / "c", clean).written


def test_save_works_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean: Entry, violating: Entry
) -> None:
    def no_links(src: Any, dst: Any) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    p = store.write_entry(tmp_path, clean)
    assert corpus.load_entry(p) == clean
    assert not store.save_entry(tmp_path, clean).written
    other = _renamed_threads(clean)
    assert store.save_entry(tmp_path, other).written
    assert corpus.load_entry(p) == clean
    _no_temp_files(tmp_path)


def test_protocol_dir_is_filesystem_safe(tmp_path: Path, clean: Entry) -> None:
    p = protocol.get("v6.19", {"walk.referenced_active_lock": "none"})
    assert corpus.protocol_dir(p) == "v6.19+walk.referenced_active_lock=none"
    assert corpus.protocol_dir("a/b c:d\\e") == "a_b_c_d_e"
    e = _fresh(clean)
    e.protocol = p
    path = store.write_entry(tmp_path, e)
    assert path.parent == tmp_path / "v6.19+walk.referenced_active_lock=none"
    assert corpus.load_entry(path).protocol == p
    e.trace_digest = "../../escape"  # not part of the file name
    assert store.write_entry(tmp_path, e).parent == path.parent


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
    r = replaying.replay(e)
    assert not r.ok and r.outcome == "walk.complete" and r.expected == "clean"
    assert r.message.startswith("expected clean, got walk.complete (walk.complete: ")
    assert "\n" not in r.message
    e = _fresh(clean)
    e.expect = "walk.complete"
    r = replaying.replay(e)
    assert not r.ok and r.message == "expected walk.complete, got clean"
    e.expect = "rmap.reachable"
    assert not replaying.replay(e).ok


def test_a_changed_model_hash_alone_is_not_worth_a_word(violating: Entry) -> None:
    """A fresh clone said "model changed since the entry was recorded" for 53 of 54 entries:
    the model hash changes with every edit of the model's sources, whether or not an
    entry's trace does.  Only a changed trace is worth saying (and fails)."""
    e = _fresh(violating)
    e.model_hash = "0123456789abcdef"
    r = replaying.replay(e)
    assert r.ok and r.model_hash_changed and r.digest_matches
    assert r.message == "reproduced walk.complete"


def test_a_changed_trace_digest_fails_the_replay(violating: Entry) -> None:
    e = _fresh(violating)
    e.trace_digest = "ab" * 32
    r = replaying.replay(e)
    assert not r.ok and r.reproduced and not r.digest_matches
    assert r.message == (
        f"reproduced walk.complete but the trace changed (recorded {'ab' * 6}, "
        f"now {violating.trace_digest[:12]})"
    )
    e.model_hash = "0123456789abcdef"  # then the model change is the likely reason: say so
    r = replaying.replay(e)
    assert not r.ok and "model_hash 0123456789abcdef -> " in r.message and "\n" not in r.message


@pytest.mark.native
def test_native_backend_replays_a_clean_entry(clean: Entry) -> None:
    require_native_model()
    native = replaying.replay(clean, backend="native")
    assert native.ok or not native.applicable, native.message


def test_backends_plug_in(monkeypatch: pytest.MonkeyPatch, clean: Entry) -> None:
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        replaying.replay(clean, backend="nope")
    from fuzzlock import backends

    seen: list[Entry] = []

    class Fake:
        def replay(self, entry: Entry) -> replaying.BackendRun:
            seen.append(entry)
            return replaying.BackendRun("finished", entry.trace_digest)

    monkeypatch.setitem(backends._REGISTRY, "fake", Fake())  # type: ignore[arg-type]
    monkeypatch.delitem(backends._INSTANCES, "fake", raising=False)
    r = replaying.replay(clean, backend="fake")
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
    r = replaying.replay(e)
    assert not r.ok and r.outcome == "setup-error" and "nothing mapped" in r.message


# --------------------------------------------------------------------------- malformed


def _mutate(obj: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(obj))
    cur = out
    *path, last = key.split(".")
    for k in path:
        cur = cur[int(k)] if isinstance(cur, list) else cur[k]
    key: Any = int(last) if isinstance(cur, list) else last
    if value is _DELETE:
        del cur[key]
    else:
        cur[key] = value
    return out


_DELETE = object()
_BAD_OP = {"setup": [], "threads": [{"name": "t", "ops": [{"op": "teleport"}]}]}

# (key to change, new value, field named in the error, text in the error)
MALFORMED: list[tuple[str, Any, str | None, str]] = [
    ("decisions", _DELETE, "decisions", "missing"),
    ("decisions", [0, -1], "decisions", "expected a list of non-negative integers"),
    ("decisions", [True], "decisions", "expected a list of non-negative integers"),
    ("decisions", "0110", "decisions", "expected a list of non-negative integers"),
    # integers the C backend cannot hold (ctypes long long / int): crashed the C replay
    ("decisions", [1, 10**30], "decisions[1]", "out of range"),
    ("decisions", [2**63], "decisions[0]", "out of range"),
    ("decisions", [1] * 20_001, "decisions", "20001 decisions for at most 20000 steps"),
    ("scenario.max_steps", 10**18, "scenario.max_steps", "out of range"),
    ("scenario.max_steps", 2**31, "scenario.max_steps", "out of range"),
    ("scenario.max_steps", 0, "scenario.max_steps", "expected a positive integer"),
    ("scenario.max_steps", 2.5, "scenario.max_steps", "expected a positive integer"),
    ("scenario.setup.2.value", 2**63, "scenario.setup[2].value", "does not fit in 64 bits"),
    ("scenario.setup.2.value", -(2**63) - 1, "scenario.setup[2].value", "64 bits"),
    ("scenario.setup.2.mm", 1, "scenario.setup[2].mm", "mm 1 has no mapping yet"),
    # unhashable values where a name belongs: were a TypeError traceback
    ("scenario.threads.0.ops.0.op", ["move"], "scenario.threads[0].ops[0].op", "unknown op"),
    ("scenario.threads.0.ops.0.mode", [{}], "scenario.threads[0].ops[0].mode", "a list of"),
    ("found_by.seed", -1, "found_by.seed", "out of range"),
    ("found_by.seed", 2**64, "found_by.seed", "out of range"),
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


def test_unreadable_paths_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A path with a NUL byte (only in process: argv cannot carry one) raised ValueError."""
    for cmd in ("replay", "show", "minimize"):
        status, out, err = _cli(capsys, cmd, "a\x00b.json")
        assert status == 2 and out == [], (cmd, out)
        assert err in (
            ["fuzzlock: error: 'a\\x00b.json': no such file or directory"],
            ["fuzzlock: error: 'a\\x00b.json': cannot read: embedded null byte"],
        ), (cmd, err)


def test_iter_entries_continues_past_bad_files(
    tmp_path: Path, clean: Entry, violating: Entry
) -> None:
    root = tmp_path / "corpora"
    good1 = store.write_entry(root, clean)
    good2 = store.write_entry(root, violating)
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
    for name in ("protocol.py", "invariants.py", "scenario.py", "trace.py", "argtypes.py"):
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
    (pkg / "argtypes.py").write_text("# not part of the model hash\n")
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


def _mine(template: dict[str, Any], proc: int, i: int) -> dict[str, Any]:
    """Writer ``proc``'s entry ``i``: its own decisions, so its own entry digest."""
    return {**template, "decisions": [proc + 1, i + 1], "note": f"writer {proc}"}


def _writer(root: str, proc: int, template: dict[str, Any], barrier: Any) -> None:
    """One process: the shared entry and 25 of its own, all in one directory at once."""
    shared = corpus.entry_from_json(template, "shared")
    mine = [corpus.entry_from_json(_mine(template, proc, i), "mine") for i in range(25)]
    barrier.wait()
    store.write_entry(root, shared)
    for i, e in enumerate(mine):
        store.write_entry(root, e)
        if i == 12:
            store.write_entry(root, shared)


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
    want = {
        f"{corpus.entry_digest(corpus.entry_from_json(_mine(template, p, i)))}.json"
        for p in range(n)
        for i in range(25)
    }
    want.add(f"{corpus.entry_digest(clean)}.json")
    assert set(names) == want and len(names) == n * 25 + 1
    loaded = [r for _, r in corpus.iter_entries([tmp_path])]
    assert all(isinstance(r, Entry) for r in loaded), [
        r for r in loaded if not isinstance(r, Entry)
    ]
    assert corpus.load_entry(d / f"{corpus.entry_digest(clean)}.json") == clean


# --------------------------------------------------------------------------- JSON errors


def _entry_error(tmp_path: Path, text: str) -> str:
    p = tmp_path / "x.json"
    p.write_text(text)
    with pytest.raises(CorpusError) as ei:
        corpus.load_entry(p)
    return str(ei.value)


def _scenario_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(scenario.ScenarioError) as ei:
        scenario.loads(text)
    return str(ei.value)


@pytest.mark.parametrize("load", [_entry_error, _scenario_error])
def test_json_errors_say_where_once(tmp_path: Path, load: Any) -> None:
    """json's "Unterminated string starting at" came out as "starting at at line 1"."""
    msg = load(tmp_path, '{"schema": 1, "note": "abc')
    assert "(Unterminated string starting at line 1 column 23)" in msg, msg
    assert "at at" not in msg
    msg = load(tmp_path, '{"schema": 1 "x": 2}')
    assert "(Expecting ',' delimiter at line 1 column 14)" in msg, msg


# --------------------------------------------------------------------------- fuzzlock replay, show


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], list[str]]:
    """Run the command line in process: (status, stdout lines, stderr lines)."""
    from fuzzlock.cli import main

    capsys.readouterr()
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def _backends() -> list[str]:
    from fuzzlock import backends

    return ["python", "native"] if backends.get("native").available() else ["python"]


@pytest.mark.parametrize("backend", ["python", "native"])
def test_replay_reports_out_of_range_integers_in_one_line_and_replays_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean: Entry, backend: str
) -> None:
    """Entries that passed validation crashed the C replay with a traceback and stopped
    the run (decisions [10**30], max_steps 10**18); on Python they replayed as "ok"."""
    if backend not in _backends():
        pytest.skip("the C model is not built (native backend)")
    root = tmp_path / "corpora"
    good = store.write_entry(root, clean)
    bad_dir = root / "v6.19"
    (bad_dir / "a-decisions.json").write_text(
        json.dumps({**clean.to_json(), "decisions": [10**30]})
    )
    huge = clean.to_json()
    huge["scenario"]["max_steps"] = 10**18
    (bad_dir / "b-max-steps.json").write_text(json.dumps(huge))
    status, out, err = _cli(capsys, "replay", "--backend", backend, str(root))
    assert status == 2
    assert err == [
        f"fuzzlock: error: {bad_dir / 'a-decisions.json'}: field 'decisions[0]': "
        f"{10**30} is out of range (at most 2**63-1)",
        f"fuzzlock: error: {bad_dir / 'b-max-steps.json'}: field 'scenario.max_steps': "
        f"{10**18} is out of range (at most {2**31 - 1})",
    ]
    assert len(out) == 1 and out[0].startswith(f"ok     {good}: "), out


def test_replay_fails_a_changed_trace_and_re_record_accepts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], violating: Entry
) -> None:
    """A hand-edited entry whose recorded digest no longer matched replayed with exit 0."""
    edited = _fresh(violating)
    edited.trace_digest = "ab" * 32
    edited.model_hash = "0123456789abcdef"
    edited.note = "curated"
    path = store.write_entry(tmp_path, edited)
    for backend in _backends():
        status, out, err = _cli(capsys, "replay", "--backend", backend, str(path))
        assert status == 1 and err == []
        assert out == [
            f"FAIL   {path}: reproduced walk.complete but the trace changed (recorded "
            f"{'ab' * 6}, now {violating.trace_digest[:12]}); the model changed since the "
            f"entry was recorded (model_hash 0123456789abcdef -> {corpus.model_hash()}); "
            f"if that is intended: fuzzlock replay --re-record {path}"
        ]
    assert corpus.load_entry(path) == edited  # replay alone never writes
    status, out, err = _cli(capsys, "replay", "--re-record", str(path))
    assert status == 0 and err == []
    assert out == [
        f"re-recorded {path}: reproduced walk.complete; trace_digest {'ab' * 32} -> "
        f"{violating.trace_digest}, model_hash 0123456789abcdef -> {corpus.model_hash()}"
    ]
    after = corpus.load_entry(path)
    assert after.trace_digest == violating.trace_digest
    assert after.model_hash == corpus.model_hash() and after.note == "curated"
    assert corpus.entry_digest(after) == corpus.entry_digest(edited)  # same entry, same name
    status, out, _ = _cli(capsys, "replay", "--re-record", str(path))
    assert status == 0 and out == [f"ok     {path}: reproduced walk.complete"]
    for backend in _backends():
        status, out, _ = _cli(capsys, "replay", "--backend", backend, str(path))
        assert status == 0 and out == [f"ok     {path}: reproduced walk.complete"]


def test_re_record_never_changes_what_an_entry_expects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], violating: Entry
) -> None:
    wrong = _fresh(violating)
    wrong.expect = "clean"
    wrong.trace_digest = "ab" * 32
    path = store.write_entry(tmp_path, wrong)
    text = path.read_text()
    status, out, err = _cli(capsys, "replay", "--re-record", "--json", str(path))
    assert status == 1 and err == []
    (line,) = out
    d = json.loads(line)
    assert d["ok"] is False and d["re_recorded"] == [] and d["outcome"] == "walk.complete"
    assert path.read_text() == text
    with pytest.raises(ValueError, match="does not reproduce"):
        replaying.rerecord(path, wrong, replaying.replay(wrong))


def test_show_exits_1_when_the_entry_no_longer_reproduces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], clean: Entry, violating: Entry
) -> None:
    """`show` on an entry that no longer reproduces printed the run ("clean") with exit 0."""
    stale = _fresh(violating)
    stale.expect = "rmap.reachable"
    path = store.write_entry(tmp_path, stale)
    status, out, err = _cli(capsys, "show", str(path))
    assert status == 1 and out  # the report of what happens now is still shown
    assert err == [
        f"fuzzlock: {path}: the entry no longer reproduces: expected rmap.reachable, got "
        f"walk.complete ({model.run(SC, stale.protocol, decisions=stale.decisions).violation.one_line()})"  # type: ignore[union-attr]
    ]
    gone = _fresh(clean)
    gone.expect = "walk.complete"
    path = store.write_entry(tmp_path, gone)
    html = tmp_path / "t.html"
    status, out, err = _cli(capsys, "show", str(path), "--html", str(html))
    assert status == 1 and out == [f"wrote {html}"] and html.exists()
    assert err == [
        f"fuzzlock: {path}: the entry no longer reproduces: expected walk.complete, got clean"
    ]
    traced = _fresh(violating)
    traced.trace_digest = "ab" * 32
    path = store.write_entry(tmp_path, traced)
    status, _, err = _cli(capsys, "show", str(path))
    assert status == 1 and len(err) == 1 and "replays with another trace" in err[0]
    path = store.write_entry(tmp_path / "fresh", violating)
    status, out, err = _cli(capsys, "show", str(path))
    assert status == 0 and err == [] and any("walk.complete" in ln for ln in out)


def test_show_html_into_a_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], violating: Entry
) -> None:
    path = store.write_entry(tmp_path, violating)
    for out_path in (tmp_path, tmp_path / "missing" / "t.html"):
        status, out, err = _cli(capsys, "show", str(path), "--html", str(out_path))
        assert status == 2 and out == []
        # checked when the arguments are parsed, before the entry is replayed
        assert len(err) == 1 and err[0].startswith("fuzzlock show: error: argument --html: ")
        assert str(out_path) in err[0]
