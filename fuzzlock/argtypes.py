"""argparse ``type=`` validators shared by every subcommand (hunt, bench, detection,
kernel-check, ...), so each option is checked the same way everywhere.

Each raises ``argparse.ArgumentTypeError`` with a short reason; argparse prefixes the
option's name ("argument --max-seconds: ...") and the command line turns it into one
line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path

#: The largest count or seed accepted: what a signed 64-bit integer holds (the C model's
#: counters and seeds are 64-bit; a corpus entry's found_by.seed must fit too).
INT_MAX = (1 << 63) - 1


def _int(raw: str, what: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not {what}") from None


def positive_int(raw: str) -> int:
    """A count: an integer from 1 to INT_MAX."""
    n = _int(raw, "a positive integer")
    if not 1 <= n <= INT_MAX:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected a positive integer up to 2**63-1")
    return n


def seed(raw: str) -> int:
    """A seed: an integer from 0 to INT_MAX."""
    n = _int(raw, "a seed (a non-negative integer)")
    if not 0 <= n <= INT_MAX:
        raise argparse.ArgumentTypeError(f"{raw!r}: expected a seed from 0 to 2**63-1")
    return n


def positive_seconds(raw: str) -> float:
    """A time budget: a finite number of seconds greater than 0."""
    try:
        s = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds") from None
    if not (math.isfinite(s) and s > 0):
        raise argparse.ArgumentTypeError(f"{raw!r}: expected a finite number of seconds > 0")
    return s


#: The largest preemption bound accepted (the explorer's own "no bound" is 2**30).
PREEMPTIONS_MAX = 1 << 30


def preemptions(raw: str) -> int | None:
    """A preemption bound: an integer from 0, or ``none`` (no bound)."""
    if raw.strip().lower() == "none":
        return None
    k = _int(raw, "a preemption bound (a non-negative integer or 'none')")
    if not 0 <= k <= PREEMPTIONS_MAX:
        raise argparse.ArgumentTypeError(
            f"{raw!r}: expected a preemption bound from 0 to 2**30, or 'none'"
        )
    return k


def input_path(raw: str) -> str:
    """A file or directory to read: not empty (pathlib would read it as the current
    directory); whether it exists or can be read is the command's to say, in its words."""
    if not raw:
        raise argparse.ArgumentTypeError("an empty path")
    return raw


def output_file(raw: str) -> str:
    """A file to write: not a directory, in an existing directory we may write to.

    Checked when the command line is parsed, so a bad path is one line before any work
    is done; the write itself still handles what can only fail then (a full disk)."""
    problem = output_file_problem(raw)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return raw


def output_file_problem(raw: str) -> str | None:
    """Why ``raw`` cannot be written as a file, or None."""
    return _path_problem(raw, _file_problem)


def _path_problem(raw: str, check: Callable[[str, Path], str | None]) -> str | None:
    if not raw:
        return "an empty path"
    if "\0" in raw:
        return f"{raw!r}: a path with a NUL byte"
    try:
        return check(raw, Path(raw))
    except OSError as e:  # e.g. a name too long
        return f"{raw}: {e.strerror or e}"


def _file_problem(raw: str, p: Path) -> str | None:
    if p.is_dir():
        return f"{raw}: is a directory (expected a file name)"
    parent = p.parent
    if not parent.exists():
        return f"{raw}: directory {str(parent)!r} does not exist"
    if not parent.is_dir():
        return f"{raw}: {str(parent)!r} is not a directory"
    if p.exists() and not os.access(p, os.W_OK):
        return f"{raw}: not writable"
    if not p.exists() and not os.access(parent, os.W_OK | os.X_OK):
        return f"{raw}: directory {str(parent)!r} is not writable"
    return None


def output_dir(raw: str) -> str:
    """A directory to write into (created if missing): no part of it is a file, and the
    nearest existing part is writable."""
    problem = output_dir_problem(raw)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return raw


def output_dir_problem(raw: str) -> str | None:
    """Why files cannot be written under directory ``raw``, or None."""
    return _path_problem(raw, _dir_problem)


def _dir_problem(raw: str, p: Path) -> str | None:
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                what = "is a file" if q == p else f"{str(q)!r} is not a directory"
                return f"{raw}: {what} (expected a directory)"
            if not os.access(q, os.W_OK | os.X_OK):
                return f"{raw}: {str(q)!r} is not writable"
            return None
    return None
