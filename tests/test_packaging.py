"""Packaging smoke tests: the install built the C library, the CLI and the plugin work.

Set FUZZLOCK_REQUIRE_NATIVE=1 (``.ci/run`` does) to make a missing native library a failure
instead of a skip, so CI fails if the C build silently broke.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fuzzlock
from fuzzlock import native
from fuzzlock.native import load as native_load

ROOT = Path(__file__).resolve().parent.parent


def _require_native() -> None:
    if native.native_available():
        return
    reason = native.unavailable_reason()
    if os.environ.get("FUZZLOCK_REQUIRE_NATIVE"):
        pytest.fail(
            f"FUZZLOCK_REQUIRE_NATIVE is set but the native backend is unavailable: {reason}"
        )
    pytest.skip(f"native backend unavailable: {reason}")


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd outside the source tree: `python -m` puts cwd on sys.path, and the source folder
    # has no built library in a non-editable install.
    return subprocess.run(
        [sys.executable, "-m", "fuzzlock", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --------------------------------------------------------------------------- native


@pytest.mark.native
def test_native_library_loads() -> None:
    _require_native()
    assert native.abi_version() == native.ABI_VERSION == 2
    path = native.library_path()
    assert path is not None and path.name == native.LIBRARY_NAME


@pytest.mark.native
def test_native_arrays_cross_the_boundary() -> None:
    _require_native()
    assert native.selftest_sum([]) == 0
    assert native.selftest_sum([1, 2, 3, -4]) == 2
    values = list(range(-500, 1000))
    assert native.selftest_sum(values) == sum(values)
    big = 2 ** (8 * 8 - 2)  # fits in a 64-bit long
    assert native.selftest_sum([big, -big, 7]) == 7
    with pytest.raises(OverflowError):
        native.selftest_sum([2**200])


def test_env_var_pointing_nowhere_is_unavailable_with_one_line_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(native.ENV_VAR, str(tmp_path / "missing.so"))
    native_load.reset_for_tests()
    try:
        assert not native.native_available()
        reason = native.unavailable_reason()
        assert native.ENV_VAR in reason and "\n" not in reason
        with pytest.raises(native.NativeUnavailableError):
            native.load_library()
    finally:
        monkeypatch.delenv(native.ENV_VAR)
        native_load.reset_for_tests()


def test_import_does_not_load_native() -> None:
    code = (
        "import sys, fuzzlock, fuzzlock.native, fuzzlock.pytest_plugin, fuzzlock.cli\n"
        "assert fuzzlock.native.load._main.loaded is False\n"
        "assert 'hypothesis' not in sys.modules, 'plugin import pulled in hypothesis'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --------------------------------------------------------------------------- CLI


def test_cli_help(tmp_path: Path) -> None:
    res = _run_cli("--help", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: fuzzlock")
    assert "native-info" in res.stdout


def test_cli_version(tmp_path: Path) -> None:
    res = _run_cli("--version", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"fuzzlock {fuzzlock.__version__}"
    assert fuzzlock.__version__ != "0.0.0", "fuzzlock is not installed (no metadata)"


@pytest.mark.parametrize("argv", [["--no-such-option"], ["no-such-command"], []])
def test_cli_bad_arguments_exit_2_with_one_line(tmp_path: Path, argv: list[str]) -> None:
    res = _run_cli(*argv, cwd=tmp_path)
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("fuzzlock: error: ")


def test_cli_native_info(tmp_path: Path) -> None:
    res = _run_cli("native-info", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("native backend: ")
    if native.native_available():
        assert f"ABI version: {native.ABI_VERSION}" in res.stdout


def test_cli_main_returns_status() -> None:
    from fuzzlock.cli import main

    assert main(["native-info"]) == 0
    assert main(["--bogus"]) == 2


# --------------------------------------------------------------------------- pytest plugin

_PROFILE_PROBE = """
from hypothesis import settings

def test_profile():
    s = settings.default
    print("PROFILE=%s MAX=%d DERANDOMIZE=%s DB=%s" % (
        settings._current_profile, s.max_examples, s.derandomize, s.database is not None))
"""


def _probe(pytester: pytest.Pytester, *args: str) -> str:
    pytester.makepyfile(test_probe=_PROFILE_PROBE)
    # A subprocess: loading a profile mutates Hypothesis's global settings.
    res = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", *args)
    res.assert_outcomes(passed=1)
    found = re.findall(r"PROFILE=\S+ MAX=\d+ DERANDOMIZE=\w+ DB=\w+", res.stdout.str())
    assert len(found) == 1, res.stdout.str()
    return found[0]


def test_plugin_is_registered(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("fuzzlock")
    assert plugin is not None, "pytest11 entry point 'fuzzlock' is not registered"
    assert plugin.__name__ == "fuzzlock.pytest_plugin"


@pytest.mark.parametrize("ci", ["true", None])
def test_plugin_profile_option(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    # With CI set, Hypothesis auto-loads its own "ci" profile (derandomized, no database):
    # fuzzlock's campaign profile must not inherit from it.
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    line = _probe(pytester, "--fuzzlock-profile", "fuzzlock-campaign")
    assert line == "PROFILE=fuzzlock-campaign MAX=10000 DERANDOMIZE=False DB=True"


def test_plugin_default_profile_in_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")  # would make Hypothesis auto-load its own "ci" profile
    line = _probe(pytester)
    assert line == "PROFILE=fuzzlock-ci MAX=100 DERANDOMIZE=True DB=False"


def test_plugin_default_profile_outside_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    line = _probe(pytester)
    assert line == "PROFILE=fuzzlock-quick MAX=50 DERANDOMIZE=False DB=True"


def test_plugin_rejects_unknown_profile(pytester: pytest.Pytester) -> None:
    res = pytester.runpytest_subprocess("--fuzzlock-profile", "nope")
    assert res.ret == pytest.ExitCode.USAGE_ERROR


# --------------------------------------------------------------------------- CMake


def test_cmake_configure_without_c_compiler_warns_and_succeeds(tmp_path: Path) -> None:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not installed")
    if not (ROOT / "CMakeLists.txt").is_file():
        pytest.skip(f"no source tree at {ROOT}")
    env = {**os.environ, "CC": "/nonexistent/cc"}
    env.pop("CMAKE_C_COMPILER", None)
    res = subprocess.run(
        [cmake, "-S", str(ROOT), "-B", str(tmp_path / "build")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "fuzzlock: no C compiler found" in res.stderr
    assert not list((tmp_path / "build").glob("**/*.so"))


# --------------------------------------------------------------------------- no C library

# The tests that use the C library directly (plus one that once failed without it); the
# whole suite on an install without a C compiler is .ci/run's second install.
_NATIVE_USERS = [
    "tests/native",
    "tests/explore/test_explore_native.py",
    "tests/test_native_backend.py",
    "tests/test_corpus.py::test_backends_plug_in",
    "tests/test_corpus.py::test_native_backend_replays_a_clean_entry",
    "tests/test_packaging.py::test_native_library_loads",
]


def _pytest_without_native(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FUZZLOCK_REQUIRE_NATIVE", "PYTEST_ADDOPTS")
    }
    env[native.ENV_VAR] = str(tmp_path / "no-such-lib.so")
    env[native.FP_ENV_VAR] = str(tmp_path / "no-such-fp-lib.so")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_without_the_c_library_the_suite_collects_and_native_tests_skip_saying_why(
    tmp_path: Path,
) -> None:
    """As on an install without a C compiler (the library is looked up where
    FUZZLOCK_NATIVE_LIB points: nowhere): every test module collects, and the tests that
    need the C library skip, each with the reason, instead of failing or erroring."""
    if not (ROOT / "tests" / "native").is_dir():
        pytest.skip(f"no source tree at {ROOT}")
    collected = _pytest_without_native(tmp_path, "--collect-only", "-q")
    not_items = [
        ln for ln in collected.stdout.splitlines() if "::" not in ln and not ln.endswith(".json")
    ]
    assert collected.returncode == 0, "\n".join(not_items)[-5000:] + collected.stderr[-3000:]
    res = _pytest_without_native(tmp_path, "-q", "-rs", "-m", "not sanitizer", *_NATIVE_USERS)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-5000:]
    skips = [ln for ln in res.stdout.splitlines() if ln.startswith("SKIPPED")]
    assert len(skips) >= 5, out[-3000:]
    for line in skips:
        assert "does not name a file" in line, line  # the reason: where the library was sought
