"""fuzzlock's pytest plugin, driven through real pytest runs (``pytester``, enabled in conftest):
corpus collection and replay, the campaign options and the ``fuzzlock_config`` fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzzlock import backends, corpus
from fuzzlock.corpus import store
from fuzzlock.pytest_plugin import FuzzlockConfig, parse_protocol, worker_index
from tests.native_required import require_native_model
from tests.test_corpus import clean_entry

BAD_DECISIONS = (
    "corpora/v6.19/bad.json: field 'decisions': expected a list of non-negative integers"
)


@pytest.fixture(autouse=True)
def _not_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """This suite may itself run under xdist: inner runs must not inherit the worker id."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)


@pytest.fixture(scope="module")
def clean() -> corpus.Entry:
    return clean_entry()


def _corpora(root: Path, clean: corpus.Entry) -> Path:
    """corpora/ with one good entry and one whose decisions are malformed."""
    good = store.write_entry(root / "corpora", clean)
    bad = {**clean.to_json(), "decisions": [0, -1]}
    (root / "corpora" / "v6.19" / "bad.json").write_text(json.dumps(bad))
    return good


# --------------------------------------------------------------------------- corpus replay


def test_corpus_files_are_items_and_a_malformed_one_fails_alone(
    pytester: pytest.Pytester, clean: corpus.Entry
) -> None:
    good = _corpora(pytester.path, clean)
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "not-a-corpus.json").write_text("{")
    res = pytester.runpytest("-v", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1, failed=1)
    rel = good.relative_to(pytester.path).as_posix()
    res.stdout.fnmatch_lines(["corpora/v6.19/bad.json FAILED*"])
    res.stdout.fnmatch_lines([f"{rel} PASSED*"])
    out = res.stdout.str()
    assert f"\n{BAD_DECISIONS}\n" in out  # the failure is the one line, nothing else
    assert "Traceback" not in out and "runtest" not in out and "fuzzlock/corpus/" not in out
    assert "not-a-corpus" not in out


def test_corpus_item_name_and_marker(pytester: pytest.Pytester, clean: corpus.Entry) -> None:
    good = _corpora(pytester.path, clean)
    rel = good.relative_to(pytester.path).as_posix()
    res = pytester.runpytest("corpora", "--collect-only", "-q", "-m", "corpus")
    assert set(res.stdout.lines) >= {"corpora/v6.19/bad.json", rel}
    items, _ = pytester.inline_genitems("corpora")
    assert sorted(i.name for i in items) == sorted([rel, "corpora/v6.19/bad.json"])
    assert all(i.nodeid == i.name for i in items)


def test_mismatch_fails_with_its_message(pytester: pytest.Pytester, clean: corpus.Entry) -> None:
    wrong = corpus.entry_from_json(clean.to_json())
    wrong.expect = "walk.complete"
    path = store.write_entry(pytester.path / "corpora", wrong)
    rel = path.relative_to(pytester.path).as_posix()
    res = pytester.runpytest("corpora")
    res.assert_outcomes(failed=1)
    assert f"\n{rel}: expected walk.complete, got clean\n" in res.stdout.str()
    assert "Traceback" not in res.stdout.str()


@pytest.mark.native
def test_native_backend_replays_the_corpus(pytester: pytest.Pytester, clean: corpus.Entry) -> None:
    require_native_model()
    store.write_entry(pytester.path / "corpora", clean)
    res = pytester.runpytest("corpora", "--fuzzlock-backend", "native")
    res.assert_outcomes(passed=1)
    assert "Traceback" not in res.stdout.str()


def test_changed_model_hash_alone_passes_silently_and_a_changed_trace_fails(
    pytester: pytest.Pytester, clean: corpus.Entry
) -> None:
    old = corpus.entry_from_json(clean.to_json())
    old.model_hash = "0000000000000000"
    kept = store.write_entry(pytester.path / "corpora", old)
    other = corpus.entry_from_json(clean.to_json())
    other.trace_digest = "ab" * 32
    changed = store.write_entry(pytester.path / "corpora" / "b", other)
    res = pytester.runpytest("corpora", "-v", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1, failed=1)
    out = res.stdout.str()
    assert "another model_hash" not in out and "model changed" not in out
    assert "corpus notes" not in out
    rel = changed.relative_to(pytester.path).as_posix()
    assert (
        f"\n{rel}: reproduced clean but the trace changed (recorded {'ab' * 6}, now "
        f"{clean.trace_digest[:12]}); if that is intended: fuzzlock replay --re-record {rel}\n"
    ) in out
    res.stdout.fnmatch_lines([f"{kept.relative_to(pytester.path).as_posix()} PASSED*"])


@pytest.mark.parametrize("backend", ["python", "native"])
def test_out_of_range_integers_are_one_failed_item_each(
    pytester: pytest.Pytester, clean: corpus.Entry, backend: str
) -> None:
    """decisions [10**30] and max_steps 10**18 passed validation; on native the replay
    failed with a ~900-line traceback, on Python they passed."""

    if backend == "native" and not backends.get("native").available():
        pytest.skip("the C model is not built")
    good = store.write_entry(pytester.path / "corpora", clean)
    d = pytester.path / "corpora" / "v6.19"
    (d / "decisions.json").write_text(json.dumps({**clean.to_json(), "decisions": [10**30]}))
    huge = clean.to_json()
    huge["scenario"]["max_steps"] = 10**18
    (d / "steps.json").write_text(json.dumps(huge))
    res = pytester.runpytest(
        "corpora", "-v", "--fuzzlock-backend", backend, "-p", "no:cacheprovider"
    )
    res.assert_outcomes(passed=1, failed=2)
    out = res.stdout.str()
    assert (
        "Traceback" not in out and "fuzzlock/corpus/" not in out and "fuzzlock/native/" not in out
    )
    assert (
        f"\ncorpora/v6.19/decisions.json: field 'decisions[0]': {10**30} is out of range "
        "(at most 2**63-1)\n"
    ) in out
    assert "\ncorpora/v6.19/steps.json: field 'scenario.max_steps': " in out
    res.stdout.fnmatch_lines([f"{good.relative_to(pytester.path).as_posix()} PASSED*"])


def test_a_crash_while_replaying_is_one_paragraph_not_a_traceback(
    pytester: pytest.Pytester, clean: corpus.Entry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the conftest below replaces the python backend in this process: undo it afterwards
    monkeypatch.setattr(backends, "_REGISTRY", dict(backends._REGISTRY))
    monkeypatch.setattr(backends, "_INSTANCES", dict(backends._INSTANCES))
    store.write_entry(pytester.path / "corpora", clean)
    pytester.makeconftest(
        """
        from fuzzlock import backends

        def crash(entry):
            raise KeyError("boom")

        class Crash:
            replay = staticmethod(crash)

            def available(self):
                return True

        backends.register("python", Crash())
        """
    )
    res = pytester.runpytest("corpora", "--fuzzlock-backend", "python", "-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    out = res.stdout.str()
    assert "Traceback" not in out and "def crash" not in out
    # the item's failure is one line (a short summary, -rf, may repeat it: not counted)
    (line,) = [
        ln
        for ln in out.splitlines()
        if "replaying the entry raised" in ln and not ln.startswith("FAILED ")
    ]
    assert "raised KeyError: 'boom' at " in line and "conftest.py:4" in line, line
    assert "a fuzzlock bug" in line


@pytest.mark.slow
def test_corpus_replays_under_xdist(pytester: pytest.Pytester, clean: corpus.Entry) -> None:
    _corpora(pytester.path, clean)
    res = pytester.runpytest_subprocess("corpora", "-n", "2", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1, failed=1)
    assert BAD_DECISIONS in res.stdout.str()


# --------------------------------------------------------------------------- options, fixture


def test_options_are_registered(pytester: pytest.Pytester) -> None:
    res = pytester.runpytest("--help")
    res.stdout.fnmatch_lines(
        [
            "*--fuzzlock-profile*",
            "*--fuzzlock-protocol*",
            "*--fuzzlock-backend*",
            "*--fuzzlock-budget*",
            "*--fuzzlock-seconds*",
            "*--fuzzlock-seed*",
        ]
    )


def test_fixture_reflects_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from fuzzlock import backends

        def test_cfg(fuzzlock_config):
            c = fuzzlock_config
            # the default backend: native where the C model is built
            want = "native" if backends.get("native").available() else "python"
            assert (c.protocol, c.backend, c.budget, c.seed) == (
                "patch2-only+walk.damon_lock=trylock", want, 17, 5)
            assert (c.worker, c.repeat) == (0, 0)
            assert c.get_protocol().knobs["walk.damon_lock"] == "trylock"

        def test_defaults_are_not_used(fuzzlock_config):
            assert fuzzlock_config.budget != 200
        """
    )
    res = pytester.runpytest(
        "--fuzzlock-protocol",
        "patch2-only+walk.damon_lock=trylock",
        "--fuzzlock-budget",
        "17",
        "--fuzzlock-seed",
        "5",
    )
    res.assert_outcomes(passed=2)


def test_fixture_defaults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from fuzzlock import backends

        def test_cfg(fuzzlock_config):
            c = fuzzlock_config
            want = "native" if backends.get("native").available() else "python"
            assert (c.protocol, c.backend, c.budget, c.seed, c.worker, c.repeat) == (
                "v6.19", want, 200, 0, 0, 0)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_time_budget_and_report(pytester: pytest.Pytester) -> None:
    """--fuzzlock-seconds replaces the schedule budget; report() records what a hunt did
    as user properties, which --junitxml writes out (fuzzlock bench --xdist reads them)."""
    pytester.makepyfile(
        """
        import types

        def test_cfg(fuzzlock_config):
            c = fuzzlock_config
            assert (c.seconds, c.max_seconds, c.max_schedules) == (2.5, 2.5, None)
            res = types.SimpleNamespace(schedules=7, steps=70, seconds=2.6)
            assert c.spent(res)
            assert not c.spent(types.SimpleNamespace(schedules=7, steps=70, seconds=1.0))
            c.report(res)
        """
    )
    res = pytester.runpytest("--fuzzlock-seconds", "2.5", "--junitxml", "out.xml")
    res.assert_outcomes(passed=1)
    xml = (pytester.path / "out.xml").read_text()
    for prop in ("schedules", "steps", "seconds", "t0", "t1", "worker"):
        assert f'name="fuzzlock_{prop}"' in xml
    assert 'name="fuzzlock_schedules" value="7"' in xml
    cfg = FuzzlockConfig("v6.19", "python", 200, 0)
    assert (cfg.max_seconds, cfg.max_schedules) == (120.0, 200)
    cfg.report(object())  # no recorder: nothing to do


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--fuzzlock-protocol", "v6.20"], "--fuzzlock-protocol: unknown protocol 'v6.20'"),
        (["--fuzzlock-protocol", "v6.19+nope=1"], "--fuzzlock-protocol: unknown knob 'nope'"),
        (["--fuzzlock-budget", "0"], "expected a positive integer"),
        (["--fuzzlock-seconds", "0"], "expected a positive number"),
        (["--fuzzlock-seconds", "nan"], "expected a positive number"),
        (["--fuzzlock-seed", "x"], "--fuzzlock-seed"),
        (["--fuzzlock-backend", "rust"], "--fuzzlock-backend: unknown backend 'rust'"),
    ],
)
def test_bad_options_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], text: str
) -> None:
    res = pytester.runpytest(*args)
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    assert text in res.stderr.str()


def test_a_backend_registered_by_a_conftest_is_accepted_by_fuzzlock_backend(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A third backend registers itself in a conftest.py and is chosen by name, as
    docs/design.md#backends tells its author (the conformance suite runs it so)."""
    monkeypatch.setattr(backends, "_REGISTRY", dict(backends._REGISTRY))
    monkeypatch.setattr(backends, "_INSTANCES", dict(backends._INSTANCES))
    pytester.makeconftest(
        """
        from fuzzlock import backends

        backends.register("mirror", "fuzzlock.backends.python:PythonBackend")
        """
    )
    pytester.makepyfile(
        """
        from fuzzlock import backends, pytest_plugin

        def test_chosen(request):
            assert pytest_plugin.resolve_backend(request.config) == "mirror"
            assert backends.get("mirror").available()
        """
    )
    res = pytester.runpytest("--fuzzlock-backend", "mirror", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)


def test_seed_for_is_distinct_per_worker_and_repetition() -> None:
    def cfg(worker: int, repeat: int, seed: int = 0) -> FuzzlockConfig:
        return FuzzlockConfig("v6.19", "python", 200, seed, worker, repeat)

    seeds = {cfg(w, r).seed_for("campaign") for w in range(16) for r in range(64)}
    assert len(seeds) == 16 * 64
    assert all(0 <= s < 2**63 for s in seeds)
    assert cfg(3, 2).seed_for("campaign") == cfg(3, 2).seed_for("campaign")  # deterministic
    assert cfg(3, 2).seed_for("campaign") != cfg(3, 2).seed_for("other")
    assert cfg(3, 2).seed_for("campaign") != cfg(3, 2, seed=1).seed_for("campaign")
    assert cfg(0, 0) == FuzzlockConfig("v6.19", "python", 200, 0, record=print)


def test_worker_index(monkeypatch: pytest.MonkeyPatch) -> None:
    assert worker_index() == 0
    for wid, want in [("gw0", 0), ("gw3", 3), ("gw12", 12), ("master", 0), ("", 0)]:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", wid)
        assert worker_index() == want


def test_parse_protocol_accepts_protocol_names() -> None:
    p = parse_protocol("v6.19+walk.recheck_mapping=true")
    assert p.name == "v6.19+walk.recheck_mapping=true"
    assert parse_protocol(p.name) == p


_SEED_TEST = """
    import json, os

    def test_draw(fuzzlock_config, request):
        with open({out!r}, "a") as fh:
            fh.write(json.dumps([os.environ.get("PYTEST_XDIST_WORKER"), fuzzlock_config.worker,
                                 fuzzlock_config.repeat, fuzzlock_config.seed_for("walk")]) + "\\n")
"""


Draw = tuple[str | None, int, int, int]  # env worker id, worker, repeat, seed


def _draws(out: Path) -> list[Draw]:
    return [tuple(json.loads(line)) for line in out.read_text().splitlines()]


def test_repeat_steps_and_worker_ids_get_distinct_seeds(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = pytester.path / "draws.jsonl"
    pytester.makepyfile(_SEED_TEST.format(out=str(out)))
    for wid in ("gw0", "gw3"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", wid)
        pytester.runpytest("--count", "4").assert_outcomes(passed=4)
    draws = _draws(out)
    assert sorted((w, r) for _, w, r, _ in draws) == [(w, r) for w in (0, 3) for r in range(4)]
    assert len({s for *_, s in draws}) == 8
    for _, w, r, s in draws:
        assert s == FuzzlockConfig("v6.19", "python", 200, 0, w, r).seed_for("walk")


@pytest.mark.slow
def test_real_xdist_workers_get_their_index(pytester: pytest.Pytester) -> None:
    out = pytester.path / "draws.jsonl"
    pytester.makepyfile(_SEED_TEST.format(out=str(out)))
    res = pytester.runpytest_subprocess("-n", "2", "--count", "6", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=6)
    draws = _draws(out)
    assert len(draws) == 6 and len({s for *_, s in draws}) == 6
    for wid, w, _, _ in draws:
        assert wid in ("gw0", "gw1") and w == int(str(wid)[2:])
    assert sorted(r for _, _, r, _ in draws) == list(range(6))


def test_failing_test_shows_the_seeds_it_drew(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_fails(fuzzlock_config):
            fuzzlock_config.seed_for("campaign")
            assert False
        """
    )
    res = pytester.runpytest()
    res.assert_outcomes(failed=1)
    seed = FuzzlockConfig("v6.19", "python", 200, 0).seed_for("campaign")
    res.stdout.fnmatch_lines(
        ["*- fuzzlock -*", f"seeds drawn (worker 0, repeat 0): campaign={seed}"]
    )
