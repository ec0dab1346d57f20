"""CI's AddressSanitizer + UBSan check of the C backend: build the library with both
sanitizers (plain gcc, no CMake: seconds, not a second pip install), load it into a fresh
interpreter with the ASan runtime preloaded, and run native campaigns (random and pct on
v6.18 and v6.19, the hypothesis chooser callback, a violating protocol, corpus replay).
Any sanitizer report fails the test.  ``tox -e sanitizer`` runs the whole native suite
against such a build."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.native, pytest.mark.sanitizer, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]

CAMPAIGN = r"""
import glob
import json
from fuzzlock import campaign, corpus, native, protocol
from fuzzlock.corpus import replaying
assert native.library_path() is not None and "san" in str(native.library_path())
fix = {"move.reset_err_on_retry": True}
for name in ("v6.18", "v6.19"):
    for strategy in ("random", "pct"):
        r = campaign.hunt(protocol.get(name, fix), "native", strategy, 60, 400, 3,
                          minimize_found=False)
        assert r.native_runs > 0 and r.verdict == "clean", (name, strategy, r.invariant)
r = campaign.hunt(protocol.get("patch2-only", fix), "native", "random", 60, 3000, 1,
                  minimize_found=False)
assert r.verdict == "violation", r.verdict
r = campaign.hunt(protocol.get("v6.19", fix), "native", "hypothesis", 30, 60, 2,
                  minimize_found=False)
assert r.native_runs > 0
# a uaf raised by an unlock's check (R5 at the end of a walk: tests/model/test_races.py)
teardown = {
    "setup": [
        {"op": "mmap", "mm": 0, "vma": "src", "start": 16, "pages": 4},
        {"op": "write", "mm": 0, "addr": 16, "value": 7, "folio": "F"},
        {"op": "fork", "mm": 0, "child": 1},
    ],
    "threads": [
        {"name": "child", "ops": [{"op": "exit", "mm": 1}]},
        {"name": "parent", "ops": [{"op": "munmap", "mm": 0, "addr": 16, "pages": 4}]},
        {"name": "walker", "ops": [{"op": "page_idle", "folio": "F"}]},
    ],
}
d = [1, 0, 0, 0, 0, 0, 1, 0, 1, 2, 0, 0, 2, 0, 2, 2, 0, 0, 0, 0, 0, 2, 0, 0, 1]
d += [0] * 6 + [1, 0, 0, 0, 1] + [0] * 6 + [1]
for handshake, want in ((False, "uaf"), (True, "finished")):
    knobs = protocol.get("v6.19", {**fix, "anon_vma.free_handshake": handshake}).knobs
    out = native.run_model(json.dumps(teardown), knobs, d)
    assert out[0] == want and (want != "uaf" or out[1][-1][3] == "up_read"), out[0]
for path in sorted(glob.glob("corpora/**/*.json", recursive=True))[:25]:
    res = replaying.replay(corpus.load_entry(path), backend="native")
    assert res.ok, (path, res.message)
print("SANITIZER-CAMPAIGN-OK")
"""


def test_c_backend_runs_campaigns_clean_under_asan_and_ubsan(tmp_path: Path) -> None:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no gcc")
    asan = subprocess.run([gcc, "-print-file-name=libasan.so"], capture_output=True, text=True)
    runtime = asan.stdout.strip()
    if not runtime or not Path(runtime).exists():
        pytest.skip("no ASan runtime")
    lib = tmp_path / "libfuzzlock_native_san.so"
    sources = sorted(str(p) for p in (ROOT / "native").glob("*.c"))
    flags = ["-std=c11", "-O1", "-g", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror"]
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
    build = subprocess.run(
        [
            gcc,
            *flags,
            *san,
            "-fno-omit-frame-pointer",
            f"-I{ROOT / 'native'}",
            *sources,
            "-o",
            str(lib),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    env = dict(os.environ)
    env.update(
        LD_PRELOAD=runtime,
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=1",
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
        FUZZLOCK_NATIVE_LIB=str(lib),
        PYTHONSAFEPATH="1",
    )
    p = subprocess.run(
        [sys.executable, "-c", CAMPAIGN],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    report = p.stdout[-2000:] + p.stderr[-4000:]
    assert "ERROR: AddressSanitizer" not in p.stderr, report
    assert "runtime error:" not in p.stderr, report
    assert p.returncode == 0 and "SANITIZER-CAMPAIGN-OK" in p.stdout, report
