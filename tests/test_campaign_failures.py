"""What a campaign test does with a violation (tests/campaign/test_campaign.py, run with
pytester): a recorded kernel finding is an xfail naming *that* finding; anything else fails
with its report, its entry saved (``--fuzzlock-save-dir``, default under pytest's cache)
and a ``fuzzlock replay`` command that replays the saved file."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

CAMPAIGN = Path(__file__).resolve().parent / "campaign" / "test_campaign.py"
#: a knob bug: DAMON walks without the folio lock on v6.19 (walk.complete within a few
#: schedules), with the sticky -EAGAIN fix so that kernel finding does not come first
BUGGY = "v6.19+move.reset_err_on_retry=true+walk.damon_lock=none"
RANDOM = "test_campaign_finds_no_unknown_violation and random"
REPLAY = re.compile(r"^replay: (fuzzlock replay .+)$", re.MULTILINE)
FOUND = re.compile(r"^random \(seed \d+\) found (\S+) on (\S+):$", re.MULTILINE)


def run_campaign(pytester: pytest.Pytester, protocol: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_campaign=CAMPAIGN.read_text())
    return pytester.runpytest(
        "-rxXs", "-k", RANDOM, "--fuzzlock-protocol", protocol, "--fuzzlock-budget", "2000", *args
    )


def run_shown_command(cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a printed ``fuzzlock ...`` command as a user would (this environment's
    ``fuzzlock`` first on PATH)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    return subprocess.run(
        shlex.split(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_a_sticky_eagain_hit_on_v6_19_is_an_xfail_naming_that_finding(
    pytester: pytest.Pytester,
) -> None:
    """v6.19 has two recorded findings that break move.result; the campaign's xfail names
    the one the minimized trace is (sticky-eagain here), not the first entry filed under
    the same invariant id (holes-livelock)."""
    res = run_campaign(pytester, "v6.19")
    res.assert_outcomes(xfailed=1)
    out = res.stdout.str()
    assert "known kernel finding sticky-eagain (docs/findings/sticky-eagain.md)" in out
    assert "holes-livelock" not in out


def test_a_knob_bug_with_a_findings_invariant_fails_and_is_not_an_xfail(
    pytester: pytest.Pytester,
) -> None:
    """walk.complete on a v6.18 base (where the swap-move finding breaks walk.complete
    too), by the present-PTE move without the anon_vma lock: a failure."""
    res = run_campaign(pytester, "v6.18+move.anon_vma_lock=false+move.reset_err_on_retry=true")
    res.assert_outcomes(failed=1)
    out = res.stdout.str()
    assert "found walk.complete" in out
    assert "known kernel finding" not in out


def test_a_campaign_failure_saves_its_entry_and_its_replay_command_reproduces_it(
    pytester: pytest.Pytester,
) -> None:
    res = run_campaign(pytester, BUGGY)
    res.assert_outcomes(failed=1)
    out = res.stdout.str()
    ((invariant, proto),) = FOUND.findall(out)
    assert proto == BUGGY
    cmds = REPLAY.findall(out)
    assert len(cmds) == 1, out
    saved = list((pytester.path / ".pytest_cache" / "d" / "fuzzlock-failures").rglob("*.json"))
    assert len(saved) == 1
    assert f"saved to {saved[0].relative_to(pytester.path)}" in out
    assert shlex.split(cmds[0])[-1] == str(saved[0].relative_to(pytester.path))
    assert json.loads(saved[0].read_text())["expect"] == invariant
    p = run_shown_command(cmds[0], pytester.path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert invariant in p.stdout


def test_a_campaign_failure_saves_under_the_save_dir_option(pytester: pytest.Pytester) -> None:
    res = run_campaign(pytester, BUGGY, "--fuzzlock-save-dir", "found")
    res.assert_outcomes(failed=1)
    saved = list((pytester.path / "found").rglob("*.json"))
    assert len(saved) == 1
    (cmd,) = REPLAY.findall(res.stdout.str())
    assert "--backend " in cmd and shlex.split(cmd)[-1] == str(saved[0].relative_to(pytester.path))
    assert not (pytester.path / ".pytest_cache" / "d" / "fuzzlock-failures").exists()


def test_a_campaign_failure_that_cannot_be_saved_prints_the_entry(
    pytester: pytest.Pytester,
) -> None:
    (pytester.path / "taken").write_text("a file, not a directory\n")
    res = run_campaign(pytester, BUGGY, "--fuzzlock-save-dir", "taken")
    res.assert_outcomes(failed=1)
    out = res.stdout.str()
    ((invariant, _proto),) = FOUND.findall(out)
    assert "could not save the entry" in out
    assert f'"expect": "{invariant}"' in out  # the entry itself: nothing is lost
    assert REPLAY.findall(out) == []
