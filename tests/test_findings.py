"""fuzzlock.findings: each recorded kernel finding is recognised by its signature, on its
own corpus entries, and on nothing else (other findings, other bugs with the same
invariant id)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzzlock import backends, campaign, corpus, findings, protocol
from fuzzlock.corpus import replaying

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "findings"


def corpus_entries() -> list[tuple[str, corpus.Entry]]:
    """Every violating entry of the committed corpus, by its path."""
    out = []
    for path, e in corpus.iter_entries([ROOT / "corpora"]):
        assert not isinstance(e, corpus.CorpusError), e
        if e.expect != corpus.CLEAN:
            out.append((str(path.relative_to(ROOT)), e))
    return out


def recorded_as(e: corpus.Entry) -> list[findings.Finding]:
    """The findings whose docs page the entry's note names."""
    return [f for f in findings.FINDINGS if f.doc in e.note]


def test_every_docs_findings_page_has_one_registered_finding() -> None:
    pages = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs/findings").glob("*.md"))
    assert sorted(f.doc for f in findings.FINDINGS) == pages
    assert len({f.id for f in findings.FINDINGS}) == len(findings.FINDINGS)
    for f in findings.FINDINGS:
        assert f.doc == f"docs/findings/{f.id}.md"
        assert set(f.protocols) <= set(protocol.NAMED)
        assert f.title and f.knob_says


@pytest.mark.parametrize("finding", findings.FINDINGS, ids=lambda f: f.id)
def test_a_findings_corpus_entries_match_its_signature_and_no_other(
    finding: findings.Finding,
) -> None:
    mine = [(p, e) for p, e in corpus_entries() if finding in recorded_as(e)]
    assert mine, f"no corpus entry's note names {finding.doc}"
    for path, e in mine:
        m = findings.match_entry(e)
        assert m is not None and m.finding is finding, path
        assert e.expect == finding.invariant
        others = [f.id for f in findings.FINDINGS if f is not finding and _matches(f, e)]
        assert others == [], f"{path} also matches {others}"


def _matches(f: findings.Finding, e: corpus.Entry) -> bool:
    from fuzzlock import model

    r = model.run(e.scenario, e.protocol, decisions=e.decisions)
    return f.match(e.protocol, r.result) is not None


def test_no_other_corpus_violation_is_taken_for_a_finding() -> None:
    """Knob bugs share invariant ids with the findings (walk.complete on v6.18 and
    patch2-only bases): none of them may be hidden as a known finding."""
    others = [(p, e) for p, e in corpus_entries() if not recorded_as(e)]
    assert any(e.expect == "walk.complete" and e.protocol.base == "v6.18" for _p, e in others)
    for path, e in others:
        m = findings.match_entry(e)
        assert m is None, f"{path} ({e.expect}) taken for {m.finding.id if m else ''}"


@pytest.mark.parametrize(
    "name",
    ["walk-complete-present-pte-move-v6.18.json", "walk-complete-no-mapping-recheck-v6.18.json"],
)
def test_a_walk_complete_bug_by_another_path_on_v6_18_is_not_the_swap_finding(name: str) -> None:
    """Same invariant, a protocol the swap-move finding is recorded on (base v6.18, the
    walker without the folio lock), a mover rewriting the folio's mapping under the
    walk: but not through move_swap_pte, so it is a bug of its own."""
    e = corpus.load_entry(DATA / name)
    assert e.expect == "walk.complete" and e.protocol.base == "v6.18"
    assert e.protocol["walk.damon_lock"] == "none"
    assert findings.match_entry(e) is None
    assert replaying.replay(e).ok  # it is a real violation of the same invariant


def test_the_two_sticky_eagain_findings_are_told_apart() -> None:
    """Both break move.result on v6.19; each entry is named by its own finding."""
    got = {}
    for path, e in corpus_entries():
        if e.protocol.name == "v6.19" and e.expect == "move.result":
            m = findings.match_entry(e)
            assert m is not None, path
            got[m.finding.id] = path
    assert set(got) == {"sticky-eagain", "holes-livelock"}


def test_the_fix_knob_turns_the_sticky_eagain_signatures_off() -> None:
    """With move.reset_err_on_retry=true the same interleaving is no longer the finding
    (the protocol condition), whatever the trace shows."""
    from fuzzlock import model

    for _path, e in corpus_entries():
        if e.expect != "move.result":
            continue
        fixed = protocol.get(e.protocol.base, {**e.protocol.knobs, findings.FIX_STICKY: True})
        r = model.run(e.scenario, e.protocol, decisions=e.decisions)
        assert findings.match(e.protocol, r.result) is not None
        assert findings.match(fixed, r.result) is None


def test_the_swap_finding_is_not_matched_on_protocols_with_patch_1() -> None:
    """patch 1 (v6.19, patch1-only) makes the walker take the folio lock: the same
    interleaving on such a base is not the v6.18 finding."""
    from fuzzlock import model

    swap = findings.by_id("swap-move-unlocked-walker")
    e = next(e for _p, e in corpus_entries() if recorded_as(e) == [swap])
    r = model.run(e.scenario, e.protocol, decisions=e.decisions)
    assert findings.match(e.protocol, r.result) is not None
    on_v6_19 = protocol.get("v6.19", dict(e.protocol.knobs))  # same knobs, v6.19 base
    assert findings.match(on_v6_19, r.result) is None


# --------------------------------------------------------------------------- hunt note


def test_a_hunt_that_finds_the_sticky_eagain_finding_says_so() -> None:
    """The default hunt (v6.19, no fix) stops at the recorded kernel finding: its notes
    name it, its docs page and the knob that searches past it."""
    backend = "native" if backends.get("native").available() else "python"
    res = campaign.hunt(
        protocol.get("v6.19"), backend, "random", max_seconds=60, max_schedules=5000, seed=0
    )
    assert res.invariant == "move.result"
    assert res.finding is not None and res.finding.finding.id in ("sticky-eagain", "holes-livelock")
    f = res.finding.finding
    note = [n for n in res.notes if f.doc in n]
    assert len(note) == 1
    assert f"'{f.id}'" in note[0] and "--knob move.reset_err_on_retry=true" in note[0]
    assert res.to_json()["known_finding"] == {
        "id": f.id,
        "doc": f.doc,
        "knob": "move.reset_err_on_retry=true",
    }


def test_a_hunt_that_finds_a_knob_bug_names_no_finding() -> None:
    """walk.complete on a v6.18 base through the present-PTE move (move.anon_vma_lock
    =false): the same invariant as the swap-move finding, found live by the model, and
    not taken for it."""
    backend = "native" if backends.get("native").available() else "python"
    proto = protocol.get("v6.18", {"move.anon_vma_lock": False, "move.reset_err_on_retry": True})
    res = campaign.hunt(proto, backend, "random", max_seconds=60, max_schedules=5000, seed=0)
    assert res.invariant == "walk.complete"
    assert res.finding is None
    assert not any("known kernel finding" in n for n in res.notes)
    assert "known_finding" not in res.to_json()
