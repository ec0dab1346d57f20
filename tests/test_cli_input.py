"""Bad command lines are one line on stderr and exit status 2, the same in every subcommand;
good ones in every form the tool itself prints (``v6.19+KNOB=VALUE``) are accepted; every
option is documented with its default and every command with its exit statuses."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from fuzzlock import backends, cli, protocol
from fuzzlock.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: a one-thread corpus entry (fork without clearing PageAnonExclusive): quick to show/minimize
ENTRY = next((ROOT / "corpora").glob("v6.19+fork.clear_exclusive=false*/*.json"))


@pytest.fixture(autouse=True)
def _no_live_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """kernel-check never touches the running kernel here: it says it is skipped (after
    checking its arguments, which is what these tests are about)."""
    from fuzzlock import oracle

    monkeypatch.setattr(oracle, "skip_reason", lambda: "not in the command-line tests")


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# tiny budgets first: the value under test comes last and wins, so that even a version that
# accepted it would end quickly instead of hanging the test
_HUNT = ["hunt", "--backend", "python", "--max-schedules", "1", "--strategy"]
_BENCH = ["--scenarios", "1", "--runs", "1", "--native-runs", "1"]
_TINY = {
    "hunt": [*_HUNT, "pct"],
    "exhaustive": [*_HUNT, "exhaustive"],
    "bench": ["bench", *_BENCH, "--max-seconds", "0.1", "--hunt-seconds", "0.1"],
    "detection": ["detection", "--list"],
    "kernel-check": ["kernel-check", "--steps", "1", "--length", "1"],
}
_BAD_NUMBERS = {
    "hunt": {
        "--max-seconds": ["nan", "inf", "-inf", "-1", "0", "1e999", "abc", ""],
        "--max-schedules": ["0", "-1", "1.5", "nan", str(2**64), "abc"],
        "--seed": ["-1", str(2**63), "1.5", "nan", "abc"],
    },
    "exhaustive": {"--preemptions": ["-1", "1.5", "nan", "abc", str(2**31)]},
    "bench": {
        "--scenarios": ["0", "-3"],
        "--runs": ["0", "nan"],
        "--native-runs": ["-1"],
        "--seed": ["-1", "1e3"],
        "--max-seconds": ["nan", "inf", "0"],
        "--xdist": ["nan", "-1"],
        "--xdist-rounds": ["0"],
        "--hunt-seconds": ["nan", "0"],
    },
    "detection": {
        "--seeds": ["0", "nan"],
        "--max-seconds": ["nan", "inf", "-1"],
        "--max-schedules": ["0", "1.5"],
        "--jobs": ["0", "-2"],
    },
    "kernel-check": {
        "--seed": ["-1", str(2**64)],
        "--steps": ["0"],
        "--length": ["nan"],
        "--runs": ["0"],
        "--schedules": ["-5"],
    },
}


@pytest.mark.parametrize(
    ("cmd", "option", "value"),
    [
        (cmd, option, value)
        for cmd, options in _BAD_NUMBERS.items()
        for option, values in options.items()
        for value in values
    ],
)
def test_a_bad_budget_seed_or_count_is_one_line_naming_the_option_and_exit_status_2(
    cmd: str, option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*_TINY[cmd], f"{option}={value}"]) == 2
    assert option in _one_error_line(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["hunt", "--max-schedules", "1", "--max-seconds=--"],
        ["bench", "--native-runs=--"],
        ["detection", "--list", "--jobs=--"],
        ["kernel-check", "--steps=--"],
    ],
)
def test_a_double_dash_as_an_options_value_is_one_line_not_a_crash(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Python 3.11's argparse turns `--opt=--` into an empty list, past the type= check
    assert main(argv) == 2
    assert "expected one argument" in _one_error_line(capsys)


def test_max_seconds_nan_on_native_is_rejected_instead_of_running_forever(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the schedule budget keeps a version that accepted nan from running forever
    assert main(["hunt", "--max-schedules", "1", "--max-seconds", "nan"]) == 2
    assert "--max-seconds" in _one_error_line(capsys)


@pytest.mark.parametrize(
    "name",
    [
        "v6.19+move.reset_err_on_retry=true",
        "patch2-only+move.reset_err_on_retry=true+walk.page_idle_lock=trylock",
    ],
)
def test_hunt_accepts_the_protocol_names_it_prints(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["hunt", "--protocol", name, "--backend", "python", "--strategy", "random"]
    assert main([*argv, "--max-schedules", "3", "--json"]) in (0, 1)
    d = json.loads(capsys.readouterr().out)
    assert protocol.get(d["protocol"]["name"], d["protocol"]["knobs"]) == protocol.parse(name)
    assert d["protocol"]["knobs"]["move.reset_err_on_retry"] is True


def test_an_explicit_knob_wins_over_the_protocol_names_override(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["hunt", "--protocol", "v6.19+walk.page_idle_lock=none+move.reset_err_on_retry=true"]
    argv += ["--knob", "walk.page_idle_lock=trylock", "--knob", "move.check_exclusive=false"]
    argv += ["--backend", "python", "--strategy", "random", "--max-schedules", "2", "--json"]
    assert main(argv) in (0, 1)
    knobs = json.loads(capsys.readouterr().out)["protocol"]["knobs"]
    assert knobs["walk.page_idle_lock"] == "trylock"
    assert knobs["move.check_exclusive"] is False
    assert knobs["move.reset_err_on_retry"] is True


@pytest.mark.skipif(
    not backends.get("native").available(), reason="bench needs the C backend, not built here"
)
def test_bench_accepts_a_protocol_name_with_knobs(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*_TINY["bench"], "--protocol", "v6.19+walk.damon_lock=none", "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["protocol"] == "v6.19+walk.damon_lock=none"


def test_kernel_check_accepts_a_protocol_name_with_knobs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([*_TINY["kernel-check"], "--protocol", "v6.18+walk.page_idle_lock=trylock"]) == 0
    assert "skipped" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("v6.19+", "''"),
        ("v6.19+walk.damon_lock", "walk.damon_lock"),
        ("v6.19+no.such.knob=1", "no.such.knob"),
        ("v6.19+move.anon_vma_lock=maybe", "maybe"),
        ("v9.99+move.anon_vma_lock=true", "v9.99"),
    ],
)
def test_a_bad_protocol_name_is_one_line_naming_the_bad_part(
    name: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hunt", "--protocol", name, "--max-schedules", "1"]) == 2
    assert named in _one_error_line(capsys)


def test_every_protocol_name_parses_back_to_its_protocol() -> None:
    for base in protocol.protocols():
        for k in protocol.knobs():
            for v in k.values:
                p = protocol.get(base, {k.name: v})
                assert protocol.parse(p.name) == p, p.name


@pytest.mark.parametrize(
    "argv", [["--bogus"], ["--bogus", "hunt"], ["hunt", "--bogus"], ["-x", "replay", "a.json"]]
)
def test_an_unknown_flag_is_named(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "unrecognized arguments" in line and argv[0 if argv[0] != "hunt" else 1] in line


def test_no_command_says_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    line = _one_error_line(capsys)
    assert "COMMAND is required" in line and "hunt" in line


def test_a_scenario_file_that_is_not_json_is_one_line_without_at_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "s.json").write_text('{"setup": "unterminated')
    argv = ["hunt", "--strategy", "exhaustive", "--scenario", str(tmp_path / "s.json")]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "not JSON (Unterminated string starting at line 1 column 11)" in line
    assert "at at" not in line


# --------------------------------------------------------------------------- output paths


def test_show_html_to_a_directory_is_one_line_and_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(ENTRY), "--html", str(tmp_path)]) == 2
    assert "--html" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cmd", [["minimize", str(ENTRY), "-o"], ["show", str(ENTRY), "--html"]])
def test_an_output_file_in_a_missing_directory_is_one_line_and_exit_status_2(
    cmd: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing" / "dir" / "x.json"
    assert main([*cmd, str(out)]) == 2
    assert "does not exist" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_an_output_file_under_a_file_is_one_line_and_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f").write_text("x")
    assert main(["minimize", str(ENTRY), "-o", str(tmp_path / "f" / "x.json")]) == 2
    assert "not a directory" in _one_error_line(capsys)


def test_detection_json_out_is_checked_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["detection", "--setting", "v6.19 (control)", "--strategy", "random", "--seeds", "1"]
    argv += ["--max-schedules", "10", "--jobs", "1", "--backend", "python"]
    assert main([*argv, "--json-out", str(tmp_path / "no" / "x.json")]) == 2
    assert "--json-out" in _one_error_line(capsys)


def test_hunt_save_to_a_file_is_rejected_before_searching(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("")
    argv = ["hunt", "--protocol", "patch2-only", "--max-seconds", "60"]
    assert main([*argv, "--save", str(tmp_path / "afile")]) == 2
    assert "--save" in _one_error_line(capsys)
    assert capsys.readouterr().out == ""


def test_minimize_output_that_fails_to_write_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the path passes the early checks; the write itself fails (as on a full disk)
    import builtins

    real_open = builtins.open
    out = tmp_path / "m.json"

    def full_disk(file, mode="r", *a, **kw):  # type: ignore[no-untyped-def]
        if str(file) == str(out) and "w" in mode:
            raise OSError(28, "No space left on device", str(out))
        return real_open(file, mode, *a, **kw)

    monkeypatch.setattr(builtins, "open", full_disk)
    assert main(["minimize", str(ENTRY), "-o", str(out)]) == 2
    assert "No space left on device" in _one_error_line(capsys)


# --------------------------------------------------------------------------- help


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {"": parser, **action.choices}
    raise AssertionError("no subcommands")


@pytest.mark.parametrize("name", list(_subparsers()))
def test_every_option_has_help_and_its_default_and_every_command_its_exit_statuses(
    name: str,
) -> None:
    p = _subparsers()[name]
    text = " ".join(p.format_help().split())
    assert "exit status:" in text and "0 =" in text and "2 = bad input" in text, name
    formatter = p._get_formatter()
    for action in p._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        what = f"{name} {'/'.join(action.option_strings) or action.dest}"
        assert action.help, f"{what} has no help"
        help_text = formatter._expand_help(action)
        if (
            action.option_strings
            and action.nargs != 0
            and not isinstance(action, argparse._VersionAction)
        ):
            assert "default" in help_text, f"{what}: the help does not give the default"


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", ""],
        ["replay", str(ENTRY), ""],
        ["show", ""],
        ["minimize", ""],
        [*_HUNT, "exhaustive", "--scenario", ""],
    ],
)
def test_an_empty_path_is_one_line_not_the_current_directory(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty PATH reads as the current directory to pathlib: replay would have replayed
    whatever corpus lies there and reported on it."""
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "an empty path" in line, line
