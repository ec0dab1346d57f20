"""The specification pages, docs/design.md and docs/protocol.md, describe the code as it is.

The knob table and the invariant table of docs/design.md are compared with
``fuzzlock.protocol`` and ``fuzzlock.invariants``; docs/protocol.md must cover every
invariant id and name only tests that exist; their links must resolve, and so must every
anchor of either page that any file of the repository links to.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from fuzzlock import protocol
from fuzzlock.schema import INVARIANTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SPECS = ("design.md", "protocol.md")
NAMED = ("v6.18", "v6.19", "patch2-only", "patch1-only")

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
_SPEC_REF = re.compile(r"docs/(design|protocol)\.md#([A-Za-z0-9_-]+)")


def _text(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _table_rows(text: str, header_start: str) -> list[list[str]]:
    """The cells of the markdown table whose header row starts with ``header_start``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    out = set(_ANCHOR.findall(text))
    for line in text.splitlines():
        if line.startswith("#"):
            out.add(_slug(line.lstrip("#")))
    return out


def test_design_knob_table_is_every_knob_with_its_values_and_named_protocol_settings() -> None:
    rows = _table_rows(_text("design.md"), "| knob | values |")
    documented = {}
    for cells in rows:
        documented[cells[0].strip("`")] = cells[1:6]
    fmt = protocol._fmt
    expected = {
        k.name: [", ".join(fmt(v) for v in k.values)]
        + [fmt(protocol.NAMED[n][k.name]) for n in NAMED]
        for k in protocol.KNOBS
    }
    assert list(documented) == list(expected), "knob rows differ from fuzzlock.protocol.KNOBS"
    for name, cells in expected.items():
        assert documented[name] == cells, f"{name}: docs say {documented[name]}, code {cells}"


def test_design_invariant_table_is_exactly_the_invariant_catalogue() -> None:
    rows = _table_rows(_text("design.md"), "| id | one line")
    assert {c[0].strip("`"): c[1] for c in rows} == INVARIANTS


def test_protocol_spec_says_what_each_invariant_id_checks() -> None:
    rows = _table_rows(_text("protocol.md"), "| id | I | checks |")
    assert sorted(c[0].strip("`") for c in rows) == sorted(INVARIANTS)


def test_every_test_the_protocol_spec_names_exists() -> None:
    named = set(re.findall(r"`(test_\w+)`", _text("protocol.md")))
    assert named, "docs/protocol.md names no test"
    defined = set()
    for f in (ROOT / "tests").rglob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)\(", f.read_text(encoding="utf-8"), re.M))
    assert sorted(named - defined) == []


@pytest.mark.parametrize("spec", SPECS)
def test_links_in_the_spec_resolve_to_files_and_anchors_in_the_repository(spec: str) -> None:
    bad = []
    for target in _LINK.findall(_text(spec)):
        if "://" in target:
            bad.append(f"{target}: the spec links outside the repository")
            continue
        file, _, anchor = target.partition("#")
        path = (DOCS / file).resolve() if file else DOCS / spec
        if not path.exists() or ROOT not in path.parents:
            bad.append(f"{target}: no such file in the repository")
        elif anchor and anchor not in _anchors(path):
            bad.append(f"{target}: no anchor #{anchor} in {path.relative_to(ROOT)}")
    assert bad == []


def test_every_reference_to_a_spec_anchor_in_the_repository_exists() -> None:
    anchors = {name: _anchors(DOCS / name) for name in SPECS}
    bad = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "build"]
        for name in filenames:
            path = Path(dirpath, name)
            if path.suffix not in (".py", ".c", ".h", ".md", ".toml", ".ini", ".txt"):
                continue
            text = path.read_text(encoding="utf-8", errors="ignore")
            for which, anchor in _SPEC_REF.findall(text):
                if anchor not in anchors[f"{which}.md"]:
                    bad.append(f"{path.relative_to(ROOT)}: docs/{which}.md#{anchor}")
    assert bad == []


def test_nothing_in_the_repository_refers_to_the_founding_spec_outside_it() -> None:
    """The repository is self-contained: code, tests and docs cite docs/design.md and
    docs/protocol.md, never the founding DESIGN.md, protocol.md or ENGINEERING.md that
    live outside it (a bare ``protocol.md`` link inside docs/ is docs/protocol.md)."""
    outside = re.compile(r'DESIGN\.md|DESIGN "|DESIGN:|DESIGN\'s|ENGINEERING\.md|protocol\.md §')
    offenders = []
    for path in sorted(ROOT.rglob("*")):
        rel = path.relative_to(ROOT)
        if rel.parts[0].startswith((".", "build")) or path.suffix not in (
            ".py",
            ".c",
            ".h",
            ".md",
            ".toml",
            ".ini",
        ):
            continue
        if rel == Path("tests/test_docs.py"):
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if outside.search(line):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
