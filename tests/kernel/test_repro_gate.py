"""The default test run never starts a live-kernel reproducer (tests/conftest.py).

As root on a kernel with UFFDIO_MOVE, the reproducers of docs/findings/ livelock a CPU in
the kernel for up to 30 s.  These tests collect tests/kernel in a subprocess (collection
only: nothing touches the kernel) with a probe plugin that records, per test, the skip
markers it ends up with, and check who is skipped by default and who is not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPRO_ENV, REPRO_OPTION, kernel_repro_enabled

ROOT = Path(__file__).resolve().parents[2]
KERNEL_TESTS = Path(__file__).resolve().parent
SEQUENTIAL = "tests/kernel/test_oracle_sequential.py"

# Each of these races the live kernel into a kernel bug (a livelock or a sticky -EAGAIN).
REPRODUCERS = {
    "tests/kernel/test_live_findings.py::"
    "test_sticky_eagain_move_reports_eexist_after_moving_the_page",
    "tests/kernel/test_live_findings.py::test_holes_move_livelocks_after_a_sticky_eagain",
    "tests/kernel/test_oracle_concurrent.py::test_concurrent_campaign_has_no_unreproduced_outcome",
    "tests/kernel/test_oracle_concurrent.py::test_sticky_eagain_when_observed_is_move_result",
    "tests/kernel/test_oracle_concurrent.py::test_kernel_check_concurrent_command_runs",
    "tests/kernel/test_oracle_concurrent.py::test_holes_livelock_with_one_mover_and_dontneed",
}

_PROBE = """
import json, os
import pytest

@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    out = {}
    for item in items:
        reasons = [m.kwargs.get("reason", m.args[0] if m.args else "") for m in item.iter_markers("skip")]
        out[item.nodeid] = {
            "kernel": item.get_closest_marker("kernel") is not None,
            "skips": reasons,
            "path": str(item.path),
        }
    with open(os.environ["FUZZLOCK_GATE_PROBE"], "w") as f:
        json.dump(out, f)
"""


def _collect(tmp_path: Path, *args: str, env_value: str | None = None) -> dict[str, dict]:
    """nodeid -> {kernel: marked kernel, skips: skip reasons, path} for tests/kernel."""
    (tmp_path / "fuzzlock_gate_probe.py").write_text(_PROBE)
    out = tmp_path / "items.json"
    env = {k: v for k, v in os.environ.items() if k not in (REPRO_ENV, "PYTEST_ADDOPTS")}
    if env_value is not None:
        env[REPRO_ENV] = env_value
    env["FUZZLOCK_GATE_PROBE"] = str(out)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tmp_path), env.get("PYTHONPATH")) if p)
    argv = [
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "fuzzlock_gate_probe",
        "-n",
        "0",
    ]
    res = subprocess.run(
        [sys.executable, "-m", "pytest", *argv, *args, str(KERNEL_TESTS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    items: dict[str, dict] = json.loads(out.read_text())
    return items


@pytest.fixture(scope="module")
def default_items(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return _collect(tmp_path_factory.mktemp("gate"))


def _gated(item: dict) -> bool:
    return any(REPRO_OPTION in r and f"{REPRO_ENV}=1" in r for r in item["skips"])


def test_default_run_skips_every_live_kernel_reproducer_saying_how_to_run_it(
    default_items: dict[str, dict],
) -> None:
    items = default_items
    missing = REPRODUCERS - items.keys()
    assert not missing, f"renamed or removed? {sorted(missing)}"
    not_gated = sorted(n for n in REPRODUCERS if not _gated(items[n]))
    assert not not_gated, f"run by default: {not_gated}"
    for n in REPRODUCERS:
        assert any("livelock" in r for r in items[n]["skips"]), items[n]["skips"]


def test_only_sequential_conformance_touches_the_live_kernel_by_default(
    default_items: dict[str, dict],
) -> None:
    """Every live-kernel test outside the sequential conformance module, and every test
    in a module that builds a docs/findings/ reproducer, is gated; the sequential ones
    are not (they stay in the default run)."""
    items = default_items
    findings = [p.name for p in (ROOT / "docs" / "findings").glob("*.c")]
    assert findings
    uses_findings = {
        str(p) for p in KERNEL_TESTS.glob("test_*.py") if any(f in p.read_text() for f in findings)
    }
    assert uses_findings
    sequential = [n for n, it in items.items() if it["kernel"] and n.startswith(SEQUENTIAL)]
    assert sequential
    for n, it in items.items():
        must_gate = it["path"] in uses_findings or (it["kernel"] and not n.startswith(SEQUENTIAL))
        if must_gate:
            assert _gated(it), f"{n} touches the live kernel concurrently but runs by default"
    assert not any(_gated(items[n]) for n in sequential)


def test_reproducers_run_with_the_option(tmp_path: Path) -> None:
    items = _collect(tmp_path, REPRO_OPTION)
    assert items.keys() >= REPRODUCERS
    assert not [n for n, it in items.items() if _gated(it)]


@pytest.mark.parametrize(
    ("value", "enabled"),
    [("1", True), ("yes", True), ("true", True), ("0", False), ("", False), ("no", False)],
)
def test_reproducers_run_with_the_environment_variable(
    pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch, value: str, enabled: bool
) -> None:
    monkeypatch.setattr(pytestconfig.option, "fuzzlock_kernel_repro", False)
    monkeypatch.setenv(REPRO_ENV, value)
    assert kernel_repro_enabled(pytestconfig) is enabled
