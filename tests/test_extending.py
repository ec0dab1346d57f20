"""docs/extending.md's worked example, replayed: its two diffs (a new operation, then a new
knob) apply to a copy of the repository, touch exactly the files the page lists, make the
generated files stale until the generator runs, build, and behave on both backends as the
page says, the backends agreeing event for event."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "extending.md"

_BLOCK = re.compile(r"^Files: ([^\n]*)\n\n```diff\n(.*?)\n```$", re.M | re.S)


def _examples() -> list[tuple[list[str], str]]:
    """(the files the page lists, the diff) of each diff block, in page order."""
    out = []
    for m in _BLOCK.finditer(DOC.read_text()):
        files = re.findall(r"`([^`]+)`", m.group(1))
        out.append((files, m.group(2) + "\n"))
    return out


def _touched(diff: str) -> list[str]:
    return sorted({m.group(1) for m in re.finditer(r"^\+\+\+ b/(\S+)$", diff, re.M)})


def test_the_page_has_an_op_diff_and_a_knob_diff_each_touching_the_files_it_lists() -> None:
    (op_files, op_diff), (knob_files, knob_diff) = _examples()
    assert _touched(op_diff) == sorted(op_files)
    assert _touched(knob_diff) == sorted(knob_files)
    # a new op: the schema, one model module, one C file, one scenario-generator line
    py = [f for f in op_files if f.startswith("fuzzlock/model/")]
    c = [f for f in op_files if f.startswith("native/") and f.endswith(".c")]
    gen = [f for f in op_files if f not in ("fuzzlock/schema_ops.py", *py, *c)]
    assert "fuzzlock/schema_ops.py" in op_files and len(py) == len(c) == len(gen) == 1
    assert Path(py[0]).stem == Path(c[0]).stem  # a twin pair
    added = [ln for ln in op_diff.split(f"+++ b/{gen[0]}\n")[1].split("\ndiff ")[0].splitlines()]
    assert len([ln for ln in added if ln.startswith("+")]) == 1
    assert not [ln for ln in added if ln.startswith("-")]
    # a new knob: the schema plus its use in the same twins
    assert sorted(knob_files) == sorted(["fuzzlock/schema.py", py[0], c[0]])


# run inside the patched copy (argv[1]): the copy's fuzzlock, not an editable install's
_PRELUDE = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__]
sys.path.insert(0, sys.argv[1])
"""

_RUN = """
import json
from fuzzlock import model, protocol, scenario
from fuzzlock.native import runners
sc = scenario.from_json(json.loads(sys.argv[2]))
out = {}
for value in ("mapcount", "pae"):
    for base in ("v6.18", "v6.19"):
        p = protocol.get(base, {"pagemap.exclusive_by": value})
        for decisions in ([], [1], [0, 1, 1, 0, 1]):
            py = model.run(sc, p, decisions=decisions)
            c = runners.run_model_results(sc.dumps(), p.knobs, decisions)
            same = [tuple(e) for e in py.result.events] == c.run[1]
            key = f"{value} {base} {decisions}"
            out[key] = [py.outcome, py.results, c.run[0], c.results, same]
# the generator line: its family now reads the pagemap, and the backends agree on it
import importlib, random
gen = importlib.import_module(sys.argv[3])
seen = 0
for seed in range(20):
    g = gen.gen_scenario(gen.RandomSource(random.Random(seed)), "reclaim_move")
    if any(o["op"] == "pagemap_read" for _, ops in g.threads for o in ops):
        seen += 1
    p = protocol.get("v6.19")
    py = model.run(g, p, decisions=[seed % 3, 1, 0, 2])
    c = runners.run_model_results(g.dumps(), p.knobs, [seed % 3, 1, 0, 2])
    assert [tuple(e) for e in py.result.events] == c.run[1], seed
    assert py.results == c.results, seed
out["generated"] = seen
print(json.dumps(out))
"""

SCENARIO = {
    "setup": [
        {"op": "mmap", "mm": 0, "vma": "a", "start": 0, "pages": 1},
        {"op": "write", "mm": 0, "addr": 0, "value": 1},
        {"op": "fork", "mm": 0, "child": 1},
        {"op": "exit", "mm": 1},
    ],
    "threads": [
        {"name": "r", "ops": [{"op": "pagemap_read", "mm": 0, "addr": 0}]},
        {"name": "w", "ops": [{"op": "write", "mm": 0, "addr": 0, "value": 2}]},
    ],
}


def _python(copy: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _PRELUDE + code, str(copy), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(copy),
    )


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["FUZZLOCK_NATIVE_LIB"] = str(copy / "build" / "libfuzzlock_native.so")
    env.pop("FUZZLOCK_NATIVE_FP_LIB", None)
    return env


def test_the_worked_example_applies_builds_and_behaves_as_the_page_says(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout (the example applies to the tracked tree)")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler: the example builds the C library")
    copy = tmp_path / "tree"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for rel in filter(None, tracked.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, copy / rel)
    (op_files, op_diff), (_knob_files, knob_diff) = _examples()
    for name, diff in (("op", op_diff), ("knob", knob_diff)):
        patch = tmp_path / f"{name}.diff"
        patch.write_text(diff)
        r = subprocess.run(["git", "apply", str(patch)], cwd=copy, capture_output=True, text=True)
        assert r.returncode == 0, f"the {name} diff does not apply: {r.stderr}"

    gen = "from fuzzlock import schema_gen\nsys.exit(schema_gen.main([sys.argv[2]]))"
    check = _python(copy, gen, "--check")
    assert check.returncode == 1, check.stderr
    assert "fuzzlock_ops.h is stale" in check.stderr and "fuzzlock_schema.h" in check.stderr
    assert _python(copy, gen, "--write").returncode == 0
    assert _python(copy, gen, "--check").returncode == 0

    native = copy / "native"
    srcs = sorted(str(p) for p in native.glob("*.c") if p.name != "toy.c")
    (copy / "build").mkdir()
    lib = copy / "build" / "libfuzzlock_native.so"
    cmd = [cc, "-std=c11", "-O1", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror"]
    r = subprocess.run([*cmd, f"-I{native}", *srcs, "-o", str(lib)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

    (gen_file,) = [
        f
        for f in op_files
        if f != "fuzzlock/schema_ops.py" and not f.startswith(("native/", "fuzzlock/model/"))
    ]
    gen_module = gen_file.removesuffix(".py").replace("/", ".")
    r = _python(copy, _RUN, json.dumps(SCENARIO), gen_module)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out.pop("generated") > 0
    for key, (py_outcome, py_results, c_outcome, c_results, same) in out.items():
        assert same, f"{key}: the backends' traces differ"
        assert py_results == c_results and py_outcome == c_outcome == "finished", key
    for base in ("v6.18", "v6.19"):
        # mapcount (v6.18, v6.19): the child's exit brought the mapcount back to 1
        for decisions in ([], [1], [0, 1, 1, 0, 1]):
            assert out[f"mapcount {base} {decisions}"][1][0] == ["present|exclusive"]
        # pae: not exclusive until the write fault reuses the page
        assert out[f"pae {base} []"][1][0] == ["present"]
        assert out[f"pae {base} [1]"][1][0] == ["present|exclusive"]
