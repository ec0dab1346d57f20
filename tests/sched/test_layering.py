"""The scheduler knows no kernel objects: nothing in ``fuzzlock/sched`` imports the model
(docs/design.md#layout).  Footprint recording takes its cell naming from the model
through ``footprint.register_cells``, which ``fuzzlock.model`` calls when imported."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import fuzzlock.sched
from fuzzlock.sched import footprint

SCHED = Path(fuzzlock.sched.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def test_no_scheduler_module_imports_the_model() -> None:
    files = sorted(SCHED.glob("*.py"))
    assert len(files) > 5
    bad = {
        f.name: sorted(
            m for m in _imports(f) if m == "fuzzlock.model" or m.startswith("fuzzlock.model.")
        )
        for f in files
    }
    assert not {k: v for k, v in bad.items() if v}


def test_importing_the_scheduler_loads_no_model_module() -> None:
    code = (
        "import sys, fuzzlock.sched, fuzzlock.sched.footprint\n"
        "from fuzzlock.sched import footprint\n"
        "footprint._tracked_classes()\n"
        "print(sorted(m for m in sys.modules if m.startswith('fuzzlock.model')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_model_registers_its_state_classes() -> None:
    from fuzzlock.model import cells, world

    tracked = footprint._tracked_classes()
    for cls in (world.Folio, world.AnonVma, world.VMA, world.MM, world.PageTable, world.World):
        assert tracked[cls] == cells.CELLS[cls]
