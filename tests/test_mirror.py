"""The mirrored layout (docs/design.md#layout): the Python reference and the C port are
laid out alike, so that grepping a kernel function name lands in both twins.

* Every Python module of the model and the scheduler (``fuzzlock/model/``,
  ``fuzzlock/sched/``, and the three top-level modules the C port also implements) has a C
  file in ``native/`` with the same stem, and every C file has a Python twin; a package's
  ``__init__.py`` goes by the package's name.  The exceptions are listed below, each with
  why it has no twin.
* Every kernel function named in a *follows line* of one twin is named in a follows line
  of the other.  A follows line opens the doc of a function: in Python its docstring
  starts with the kernel function in double backquotes and its versions in parentheses
  (````folio_referenced`` (v6.18/v6.19): ...``), in C its comment starts with the bare
  name and the versions (``/* folio_referenced (v6.18/v6.19): ...``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native"
PY_PACKAGES = ("fuzzlock/model", "fuzzlock/sched")
PY_TOP = ("fuzzlock/invariants.py", "fuzzlock/scenario.py", "fuzzlock/trace.py")

# Files with no twin, and why.
C_ONLY = {
    "abi": "the library's ABI version and self-test (the Python side checks, in fuzzlock/native)",
    "explore": "C runners for the exhaustive and PCT strategies (their Python is the search code)",
    "fiber": "threads as coroutines with their own stacks; Python's threads are generators",
    "fp_hooks": "the memory-access hooks of the instrumented footprint library",
    "hunt": "the batched hunt loop (Python: the campaign)",
}
PY_ONLY = {
    "sched": "the package's re-exports (fuzzlock/sched/__init__.py)",
}

_PY_FOLLOWS = re.compile(r'^\s*(?:r?""")?``([a-z_][a-z0-9_]*)``(?: -> ``[a-z_]\w*``)? \(v6\.\d')
_C_FOLLOWS = re.compile(r"^\s*(?:/\*|\*)\s+([a-z_][a-z0-9_]*)(?: -> [a-z_]\w*)? \(v6\.\d")


def _python_modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for pkg in PY_PACKAGES:
        for p in sorted((ROOT / pkg).glob("*.py")):
            stem = Path(pkg).name if p.stem == "__init__" else p.stem
            assert stem not in mods, f"two Python modules with the stem {stem}"
            mods[stem] = p
    for top in PY_TOP:
        p = ROOT / top
        assert p.stem not in mods
        mods[p.stem] = p
    return mods


def _c_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(NATIVE.glob("*.c"))}


def _follows(path: Path, rx: re.Pattern[str]) -> set[str]:
    return {m.group(1) for line in path.read_text().splitlines() if (m := rx.match(line))}


def test_every_python_module_has_a_c_twin_and_every_c_file_a_python_one() -> None:
    py, c = _python_modules(), _c_files()
    assert not set(C_ONLY) & set(py), "a C-only exception has a Python twin after all"
    assert not set(PY_ONLY) & set(c), "a Python-only exception has a C twin after all"
    assert sorted(set(py) - set(c) - set(PY_ONLY)) == []
    assert sorted(set(c) - set(py) - set(C_ONLY)) == []
    assert sorted(set(C_ONLY) - set(c)) == [], "a C-only exception names no file"
    assert sorted(set(PY_ONLY) - set(py)) == [], "a Python-only exception names no module"


def _pairs() -> list[str]:
    return sorted(set(_python_modules()) & set(_c_files()))


@pytest.mark.parametrize("stem", _pairs())
def test_twins_follow_the_same_kernel_functions(stem: str) -> None:
    py = _follows(_python_modules()[stem], _PY_FOLLOWS)
    c = _follows(_c_files()[stem], _C_FOLLOWS)
    assert sorted(py - c) == [], f"named in the Python {stem} only"
    assert sorted(c - py) == [], f"named in the C {stem} only"


def test_a_kernel_function_is_followed_in_one_pair_of_twins() -> None:
    where: dict[str, str] = {}
    for stem, p in _python_modules().items():
        for name in _follows(p, _PY_FOLLOWS):
            assert name not in where, f"{name} follows in {where.get(name)} and {stem}"
            where[name] = stem
    assert len(where) > 50, "the follows-line convention matched almost nothing"
