"""Ctrl-C (SIGINT) and SIGTERM stop a hunt cleanly: what was searched is printed, the best
violation found so far is printed and saved even if its minimization was cut short, and the
exit status is 130 or 143.  Real subprocesses, real signals; the tests wait for the hunt's
own progress output (stderr on a pseudo-terminal), not for fixed times.  Also: a hunt whose
stderr is not a terminal prints a progress line every few seconds once it runs long."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fuzzlock import corpus
from fuzzlock.cli import main
from fuzzlock.corpus import replaying

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and ptys")

#: v6.19 with the sticky -EAGAIN fix: clean (its campaigns and corpus say so), so a hunt
#: of it runs until its budget or a signal ends it
CLEAN = ["--protocol", "v6.19", "--knob", "move.reset_err_on_retry=true"]
RANDOM_13_S = ["--strategy", "random", "--max-seconds", "13"]


class Hunt:
    """``fuzzlock hunt ARGS`` with stdout on a pipe and stderr on a pseudo-terminal (so the
    hunt shows its progress at once, as to a user at a terminal)."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fuzzlock", "hunt", *args],
            stdout=subprocess.PIPE,
            stderr=slave,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
        )
        os.close(slave)
        self.master = master
        self.err = b""

    def wait_for(self, text: str, timeout: float = 300) -> None:
        """Read stderr until ``text`` shows (fail if the hunt ends or ``timeout`` passes)."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.err:
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} on stderr in {timeout} s: {self.err!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: the hunt closed the terminal (it ended)
                    chunk = b""
                assert chunk, f"the hunt ended before {text!r}: {self.err!r}"
                self.err += chunk

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        """Exit status, stdout and stderr after the hunt ends."""
        assert self.proc.stdout is not None
        out = b""
        deadline = time.monotonic() + timeout
        fds = [self.proc.stdout.fileno(), self.master]
        while fds:
            left = deadline - time.monotonic()
            assert left > 0, "the hunt did not end after the signal"
            ready, _, _ = select.select(fds, [], [], left)
            for fd in ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    fds.remove(fd)
                elif fd == self.master:
                    self.err += chunk
                else:
                    out += chunk
        os.close(self.master)
        return self.proc.wait(timeout), out.decode(), self.err.decode()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def hunts():  # type: ignore[no-untyped-def]
    started: list[Hunt] = []
    yield lambda args, cwd: started.append(Hunt(args, cwd)) or started[-1]
    for h in started:
        h.kill()


def _no_traceback(*texts: str) -> None:
    for t in texts:
        assert "Traceback" not in t and "KeyboardInterrupt" not in t, t


def test_sigint_during_the_search_prints_what_was_searched_and_exits_130(
    hunts, tmp_path: Path
) -> None:
    h = hunts([*CLEAN, "--strategy", "random", "--max-seconds", "600"], tmp_path)
    h.wait_for("distinct traces")  # the progress line: the search is under way
    h.proc.send_signal(signal.SIGINT)
    status, out, err = h.finish()
    assert status == 130, out + err
    _no_traceback(out, err)
    m = re.search(
        r"^(\d+) schedules, \d+ steps in ([\d.]+) s .*, (\d+) distinct traces$", out, re.M
    )
    assert m is not None and int(m[1]) > 0 and int(m[3]) > 0, out
    assert "interrupted by SIGINT" in out
    assert "clean" not in out  # an interrupted search certifies nothing


def test_sigterm_during_the_search_exits_143_with_one_json_object(hunts, tmp_path: Path) -> None:
    h = hunts([*CLEAN, "--max-seconds", "600", "--json"], tmp_path)
    h.wait_for("distinct traces")  # the progress line (hypothesis, on native or python)
    h.proc.send_signal(signal.SIGTERM)
    status, out, err = h.finish()
    assert status == 143, out + err
    _no_traceback(out, err)
    d = json.loads(out)
    assert d["interrupted"] == "SIGTERM" and d["schedules"] > 0 and d["verdict"] == "clean"


def _slow_to_minimize(path: Path) -> None:
    """A scenario whose violation (fork leaves PageAnonExclusive set: folio.exclusive,
    sequential) is found at once but whose minimization takes minutes: 1536 setup
    writes, each removed by its own candidate run, each run replaying the whole setup."""
    setup: list[dict[str, object]] = []
    for v in range(24):
        setup.append({"op": "mmap", "mm": 0, "vma": f"v{v}", "start": 16 + v * 64, "pages": 64})
        setup += [{"op": "write", "mm": 0, "addr": 16 + v * 64 + i, "value": i} for i in range(64)]
    sc = {
        "setup": setup,
        "threads": [{"name": "fork", "ops": [{"op": "fork", "mm": 0, "child": 1}]}],
    }
    path.write_text(json.dumps(sc))


def test_sigint_during_minimization_prints_and_saves_the_best_entry_so_far(
    hunts, tmp_path: Path
) -> None:
    _slow_to_minimize(tmp_path / "big.json")
    args = ["--protocol", "v6.19+fork.clear_exclusive=false", "--backend", "python"]
    args += ["--strategy", "exhaustive", "--preemptions", "0", "--scenario", "big.json"]
    h = hunts([*args, "--save", "saved"], tmp_path)
    h.wait_for("minimizing the folio.exclusive violation")
    h.proc.send_signal(signal.SIGINT)
    status, out, err = h.finish()
    assert status == 130, out + err
    _no_traceback(out, err)
    assert "VIOLATION: folio.exclusive" in out
    assert "minimization cut short by SIGINT" in out
    [replay] = [ln for ln in out.splitlines() if ln.startswith("replay: ")]
    path = tmp_path / replay.split()[-1]
    assert path.is_file() and path.is_relative_to(tmp_path / "saved"), replay
    e = corpus.load_entry(path)
    assert e.expect == "folio.exclusive" and e.minimized is False
    assert "minimization cut short" in e.note
    assert replaying.replay(e, backend="python").ok


def test_hunt_help_names_the_exit_statuses_of_a_signal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["hunt", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "130 = stopped by SIGINT" in text and "143 = stopped by SIGTERM" in text


def test_a_long_hunt_prints_progress_lines_when_stderr_is_not_a_terminal(
    tmp_path: Path,
) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "fuzzlock", "hunt", *CLEAN, *RANDOM_13_S, "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["verdict"] == "clean"  # stdout: still one JSON object
    lines = p.stderr.splitlines()
    assert 1 <= len(lines) <= 2, p.stderr  # after 10 s, then every 5 s: not per schedule
    for ln in lines:
        assert re.fullmatch(
            r"fuzzlock hunt: \d+ s  schedules \d+  [\d,]+/s  distinct traces \d+  violations 0",
            ln,
        ), ln


def test_a_short_hunt_prints_nothing_on_stderr_when_it_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["hunt", *CLEAN, "--strategy", "random", "--max-schedules", "50"]
    assert main(argv) == 0
    assert capsys.readouterr().err == ""
