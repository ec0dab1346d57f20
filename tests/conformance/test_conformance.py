"""Backend conformance: any backend runs what the reference runs, event for event.

Moved here from the ad-hoc differential loops (tests/native/test_model_differential.py's
family and corpus loops, tests/test_native_backend.py's corpus replay): they now go
through the ``Backend`` interface, so a third backend runs them unchanged
(``pytest tests/conformance --fuzzlock-backend NAME``; docs/design.md#backends).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from fuzzlock import backends, corpus, model, protocol, scenario
from fuzzlock.corpus import replaying
from fuzzlock.scenarios import FAMILIES, RandomSource, gen_scenario
from tests.conformance.agree import difference

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261128
BASES = ["v6.18", "v6.19", "patch2-only", "patch1-only"]


def random_decisions(rng: random.Random) -> list[int]:
    n = rng.choice([0, 3, 10, 30, 80])
    return [rng.choice([0, 0, 1, 2, 3, rng.randint(0, 50)]) for _ in range(n)]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("base", BASES)
def test_scenario_families_agree(backend: backends.Backend, family: str, base: str) -> None:
    """Every scenario family of fuzzlock.scenarios, as the campaigns generate it (nothing
    filtered out: no scenario falls back to the reference), on every base protocol."""
    rng = random.Random(f"{SEED}-{family}-{base}")
    for _ in range(40):
        sc = gen_scenario(RandomSource(rng), family)
        knobs = {"move.reset_err_on_retry": rng.random() < 0.5}
        proto = protocol.get(base, knobs)
        backend.check(sc, proto)  # Unsupported would mean a fallback
        decisions = random_decisions(rng)
        diff = difference(backend, sc, proto, decisions)
        assert not diff, f"{diff}\nprotocol {proto.name}\ndecisions {decisions}\n{sc.dumps()}"


@pytest.mark.parametrize("path", sorted((ROOT / "docs" / "scenarios").glob("*.json")))
def test_docs_scenarios_agree(backend: backends.Backend, path: Path) -> None:
    sc = scenario.from_json(json.loads(path.read_text()))
    rng = random.Random(f"{SEED}-{path.name}")
    for base in BASES:
        for _ in range(20):
            decisions = random_decisions(rng)
            diff = difference(backend, sc, protocol.get(base), decisions)
            assert not diff, f"{path.name} {base} {decisions}: {diff}"


def test_whole_corpus_replays_identically(backend: backends.Backend) -> None:
    """Every corpus entry runs on the backend (none outside its slice) and replays exactly
    as on the reference (trace, outcome, results and violation), to the recorded digest
    and expectation."""
    n = 0
    for path, e in corpus.iter_entries([ROOT / "corpora"]):
        assert not isinstance(e, corpus.CorpusError), e
        backend.check(e.scenario, e.protocol)
        diff = difference(backend, e.scenario, e.protocol, list(e.decisions))
        assert not diff, f"{path}: {diff}"
        c = replaying.replay(e, backend.name)
        assert c.applicable, f"{path}: {c.message}"
        py = replaying.replay(e, backends.REFERENCE)
        assert (c.outcome, c.digest) == (py.outcome, py.digest), path
        assert c.ok and py.ok, f"{path}: {c.message} / {py.message}"
        n += 1
    assert n >= 1


@pytest.mark.parametrize("kind", ["random", "pct"])
def test_a_batch_is_its_runs_one_by_one(backend: backends.Backend, kind: str) -> None:
    """A batch counts each run once, and its violating run replays one by one (same
    decisions) to the same trace on the backend and on the reference."""
    from fuzzlock import trace

    proto = protocol.get("v6.19", {"move.recheck_dst_under_ptl": False})
    rng = random.Random(SEED)
    violations = 0
    with backend.batches() as batcher:
        for i in range(60):
            sc = gen_scenario(RandomSource(random.Random(rng.randrange(2**32))))
            spec = backends.BatchSpec(kind, i, 16, (0.05, 0.2, 0.5, 1.0), (2, 3), 60)
            try:
                b = batcher.run(sc, proto, spec)
            except model.SetupError:
                continue
            assert b.runs == len(b.hashes) == len(b.ndecisions) <= 16
            assert b.error is None, b.error
            if b.violation is None:
                assert b.runs == 16
                continue
            violations += 1
            v = b.violation
            one = backend.run(sc, proto, v.trimmed_decisions())
            assert (one.outcome, one.events) == (v.outcome, v.events)
            assert trace.hash64(v.events) == b.hashes[-1]
            assert not difference(backend, sc, proto, v.trimmed_decisions())
    assert violations > 0


def test_footprint_runs_are_the_runs(backend: backends.Backend) -> None:
    """The explorer's runner runs the same schedule as ``run``, one footprint per step."""
    rng = random.Random(SEED)
    proto = protocol.get("v6.19")
    for i in range(10):
        sc = gen_scenario(RandomSource(random.Random(rng.randrange(2**32))), FAMILIES[i % 3])
        try:
            model.run(sc, proto, decisions=[], max_steps=1, check=False)
        except model.SetupError:
            continue
        decisions = random_decisions(rng)
        want = backend.run(sc, proto, decisions)
        with backend.footprints(sc, proto) as (runner, _state):
            ex = runner(decisions)
        assert (ex.outcome, list(ex.events)) == (want.outcome, list(want.events))
        assert len(ex.steps) == len(ex.events)


def test_the_state_dump_is_the_schedules(backend: backends.Backend) -> None:
    """``state`` of ``footprints`` dumps what the last run left: hashable, and the same
    for the same schedule run again after another schedule."""
    rng = random.Random(SEED + 1)
    proto = protocol.get("v6.19")
    for i in range(10):
        sc = gen_scenario(RandomSource(random.Random(rng.randrange(2**32))), FAMILIES[i % 3])
        try:
            model.run(sc, proto, decisions=[], max_steps=1, check=False)
        except model.SetupError:
            continue
        a, b = random_decisions(rng), random_decisions(rng)
        with backend.footprints(sc, proto) as (runner, state):
            first = state(runner(a))
            state(runner(b))
            again = state(runner(a))
        assert hash(first) == hash(again) and first == again


def test_setup_error_agrees(backend: backends.Backend) -> None:
    sc = scenario.from_json(
        {
            "setup": [
                {"op": "mmap", "mm": 0, "vma": "a", "start": 0, "pages": 2},
                {"op": "read", "mm": 0, "addr": 0, "folio": "F"},
            ],
            "threads": [{"name": "r", "ops": [{"op": "read", "mm": 0, "addr": 0}]}],
        }
    )
    with pytest.raises(model.SetupError):
        backend.run(sc, protocol.get("v6.19"))


def test_bad_names_are_one_line_errors(backend: backends.Backend) -> None:
    with pytest.raises(ValueError, match="backend 'nope': expected one of python") as e:
        backends.get("nope")
    assert "\n" not in str(e.value)
    assert backends.get(backend.name) is backend
    assert backend.available() and backend.unavailable_reason() == ""
    assert backend.describe() and all("\n" not in line for line in backend.describe())
