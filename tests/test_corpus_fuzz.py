"""Fuzz the commands that read corpus entries: 10 000 malformed entries (mutations of the
real entries in corpora/) thrown at ``replay`` (both backends), ``show``, ``minimize`` and
``hunt --strategy exhaustive --scenario`` (both backends, one schedule), in process through
``fuzzlock.cli.main``.

Whatever the entry, a command must exit 0, 1 or 2, print at most two lines on stderr and
no traceback, and write no file but the output paths it was given.  The generator is
seeded (the same cases on every run); most mutations break validation (fast), a few keep
the entry valid but change what it expects, its decisions or names, so the replay, show
and minimize paths run too.  Each failure is listed with its seed, arguments and entry
text, so it can be replayed by hand.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import random
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fuzzlock import backends, cli
from fuzzlock.schema import INVARIANTS

ROOT = Path(__file__).resolve().parents[1]
CASES = 10_000
SHARDS = 4  # parametrized, so `pytest -n 2` runs them on both cores

Json = Any


def _base_entries() -> list[str]:
    """The text of every entry in corpora/ (a mutation starts from a fresh parse)."""
    out = [p.read_text() for p in sorted((ROOT / "corpora").rglob("*.json"))]
    assert len(out) >= 10
    return out


WEIRD: list[Json] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31 - 1,
    2**31,
    2**63 - 1,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    -(10**30),
    1.5,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
    "",
    "x",
    "0",
    "true",
    "v6.19",
    "clean",
    "\x00",
    "ü\u2028|\n",
    "a" * 5000,
    [],
    [0],
    [None],
    [[[]]],
    {},
    {"op": "move"},
    {"": 1},
]
BAD_PROTOCOL_NAMES = [
    "v6.20",
    "V6.19",
    "",
    "v6.19+move.anon_vma_lock=true",
    "v6.18 ",
    "patch2-only/../x",
    "../../etc",
]
OPS = [
    "mmap",
    "write",
    "read",
    "bind",
    "move",
    "fork",
    "munmap",
    "exit",
    "madvise_pageout",
    "shrink_active_list",
    "page_idle",
    "migrate",
    "pin",
    "unpin",
    "teleport",
    "",
]


def _random_path(rng: random.Random, obj: Json) -> tuple[Any, ...]:
    """A path (dict keys, list indices) to a random value inside ``obj``: a random walk
    from the top that stops at each level with probability 1/5 (or at a leaf)."""
    path: tuple[Any, ...] = ()
    while isinstance(obj, (dict, list)) and obj and rng.random() < 0.8:
        k = rng.choice(list(obj)) if isinstance(obj, dict) else rng.randrange(len(obj))
        path, obj = (*path, k), obj[k]
    return path


def _random_path_to(rng: random.Random, obj: Json, want: Callable[[Json], bool]) -> Any:
    """A random path to a value for which ``want`` holds (None if 30 walks find none)."""
    for _ in range(30):
        path = _random_path(rng, obj)
        if want(_get(obj, path)):
            return path
    return None


def _get(obj: Json, path: tuple[Any, ...]) -> Json:
    for k in path:
        obj = obj[k]
    return obj


def _set(obj: Json, path: tuple[Any, ...], value: Json) -> Json:
    if not path:
        return value
    _get(obj, path[:-1])[path[-1]] = value
    return obj


def _weird_number(rng: random.Random, old: int) -> Json:
    near = [old + 1, old - 1, -old - 1, old * 2**40, 1.0 * old, str(old)]
    far = [2**63 - 1, 2**63, 2**64, 2**31, 10**30, math.nan, -1, 0, True]
    return rng.choice([*near, *far])


# --------------------------------------------------------------------------- mutations
# Each takes (rng, entry dict) and returns the mutated entry (any JSON value).


def m_replace_anywhere(rng: random.Random, e: Json) -> Json:
    return _set(e, _random_path(rng, e), copy.deepcopy(rng.choice(WEIRD)))


def m_delete_anywhere(rng: random.Random, e: Json) -> Json:
    path = _random_path(rng, e)
    if path:
        del _get(e, path[:-1])[path[-1]]
    return e


def m_extra_field(rng: random.Random, e: Json) -> Json:
    path = _random_path_to(rng, e, lambda v: isinstance(v, dict))
    if path is not None:
        key = rng.choice(["extra", "op", "mode", "name", "max_steps"])
        _get(e, path)[key] = copy.deepcopy(rng.choice(WEIRD))
    return e


def m_number(rng: random.Random, e: Json) -> Json:
    path = _random_path_to(rng, e, lambda v: isinstance(v, int) and not isinstance(v, bool))
    if path is not None:
        _set(e, path, _weird_number(rng, _get(e, path)))
    return e


def m_protocol(rng: random.Random, e: Json) -> Json:
    if not isinstance(e, dict) or not isinstance(e.get("protocol"), dict):
        return e
    pr = e["protocol"]
    r = rng.random()
    if r < 0.4:
        pr["name"] = rng.choice(BAD_PROTOCOL_NAMES)
    elif r < 0.7 and isinstance(pr.get("knobs"), dict) and pr["knobs"]:
        k = rng.choice(sorted(pr["knobs"]))
        pr["knobs"][k] = rng.choice(["maybe", 2, None, "TRUE", "none", "lock", 1, 0, [], "x"])
    else:
        pr.setdefault("knobs", {})
        if isinstance(pr["knobs"], dict):
            pr["knobs"][rng.choice(["no.such.knob", "", "move", "walk.damon_lock.x"])] = True
    return e


def m_scenario_op(rng: random.Random, e: Json) -> Json:
    sc = e.get("scenario") if isinstance(e, dict) else None
    if not isinstance(sc, dict):
        return e
    path = _random_path_to(rng, sc, lambda v: isinstance(v, dict) and "op" in v)
    if path is None:
        return e
    op = _get(sc, path)
    r = rng.random()
    if r < 0.3:
        op["op"] = rng.choice(OPS)
    elif r < 0.5:
        op["mode"] = rng.choice([["DONTWAKE", "BOGUS"], "DONTWAKE", [1], [[]], None])
    elif r < 0.7:
        for k in list(op):
            if k != "op" and rng.random() < 0.5:
                del op[k]
    elif r < 0.85:
        op[rng.choice(["mm", "addr", "start", "pages", "len", "dst", "src", "child", "value"])] = (
            rng.choice([-1, 2**20, 2**64, 65, 0, 10**30, "1", None, 1.0])
        )
    else:
        op["folio"] = rng.choice(["", "unbound", 7, None, "F|G", "F\nG"])
    return e


def m_threads(rng: random.Random, e: Json) -> Json:
    sc = e.get("scenario") if isinstance(e, dict) else None
    if not isinstance(sc, dict) or not isinstance(sc.get("threads"), list) or not sc["threads"]:
        return e
    th = sc["threads"]
    r = rng.random()
    if r < 0.25:
        sc["threads"] = th * rng.choice([4, 7])  # too many threads
    elif r < 0.45 and isinstance(th[0], dict) and isinstance(th[0].get("ops"), list):
        th[0]["ops"] = th[0]["ops"] * 9  # too many ops
    elif r < 0.6:
        sc["threads"] = []
    elif r < 0.8 and isinstance(sc.get("setup"), list) and sc["setup"]:
        sc["setup"].append(copy.deepcopy(sc["setup"][0]))  # duplicate VMA / overlap
    else:
        sc["setup"] = rng.choice([[], None, {}, [{"op": "write", "mm": 9, "addr": 1, "value": 1}]])
    return e


def m_decisions(rng: random.Random, e: Json) -> Json:
    if isinstance(e, dict):
        e["decisions"] = rng.choice(
            [
                [rng.randrange(4) for _ in range(rng.randrange(60))],
                [10**30],
                [-1],
                [2**63 - 1, 1],
                [1] * 20_001,
                "0110",
                [1.0],
                [True],
                None,
            ]
        )
    return e


def m_expect(rng: random.Random, e: Json) -> Json:
    if isinstance(e, dict):
        e["expect"] = rng.choice(["walk.incomplete", "", "CLEAN", None, 7, "finished"])
    return e


def m_digest(rng: random.Random, e: Json) -> Json:
    if isinstance(e, dict):
        e["trace_digest"] = rng.choice(["../../x", "ABC", "", "0" * 15, "g" * 64, 12, None])
    return e


# Mutations that keep the entry valid (they make replay, show and minimize do real work).
def v_expect(rng: random.Random, e: Json) -> Json:
    e["expect"] = rng.choice(["clean", *sorted(INVARIANTS)])
    return e


def v_decisions(rng: random.Random, e: Json) -> Json:
    e["decisions"] = [rng.choice([0, 1, 2, 3, 2**63 - 1]) for _ in range(rng.randrange(1, 12))]
    return e


def v_names(rng: random.Random, e: Json) -> Json:
    for i, t in enumerate(e["scenario"]["threads"]):
        t["name"] = rng.choice([f"t{i}", f"thread {i}", f"ü{i}|x", f"{i}\n"])
    e["note"] = rng.choice(["", "é" * 300, "line\nbreak"])
    return e


def v_meta(rng: random.Random, e: Json) -> Json:
    e["trace_digest"] = rng.choice(["ab" * 32, "0" * 16, e["trace_digest"]])
    e["model_hash"] = rng.choice(["", "x", e["model_hash"]])
    e["found_by"] = {"strategy": rng.choice(["", "ü"]), "seed": rng.choice([None, 0, 2**64 - 1])}
    e["scenario"]["max_steps"] = rng.choice([1, 5, 50, 2**31 - 1])
    return e


INVALIDATING: list[Callable[[random.Random, Json], Json]] = [
    m_replace_anywhere,
    m_delete_anywhere,
    m_extra_field,
    m_number,
    m_protocol,
    m_scenario_op,
    m_threads,
    m_decisions,
    m_expect,
    m_digest,
]
VALID: list[Callable[[random.Random, Json], Json]] = [v_expect, v_decisions, v_names, v_meta]


def _encode(rng: random.Random, obj: Json) -> bytes:
    """The entry's file content: JSON (NaN/Infinity allowed), now and then truncated,
    in another encoding, with a BOM, nested too deeply, or binary junk."""
    text = json.dumps(obj, indent=rng.choice([None, 1]))
    r = rng.random()
    if r < 0.80:
        return text.encode()
    if r < 0.86:
        return text[: rng.randrange(len(text) + 1)].encode()
    if r < 0.89:
        return text.encode(rng.choice(["utf-16", "utf-32", "utf-8-sig"]))
    if r < 0.92:
        return text.replace('"', "'", rng.randrange(1, 5)).encode()
    if r < 0.94:
        return text.encode("utf-8").replace(b"e", b"\xe9", 3)
    if r < 0.96:
        return b"[" * rng.choice([100, 10_000, 200_000])
    if r < 0.98:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
    return rng.choice([b"", b"null", b"[]", b"1e999", b'"entry"', b"{}"])


def _files(d: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for p in d.rglob("*"):
        if p.is_file():
            st = p.stat()
            out[p.relative_to(d).as_posix()] = (st.st_size, st.st_mtime_ns)
    return out


HUNT_SCENARIO = ["hunt", "--strategy", "exhaustive", "--backend"]


def _case(rng: random.Random, base: list[str], native: bool) -> tuple[bytes, list[str]]:
    """One case: the entry file's bytes and the command line (``ENTRY``, ``OUT``, ``WORK``
    are placeholders for the entry's path, the output path and the working directory)."""
    e: Json = json.loads(rng.choice(base))
    if rng.random() < 0.06:
        for _ in range(rng.randrange(1, 3)):
            e = rng.choice(VALID)(rng, e)
    else:
        for _ in range(rng.randrange(1, 4)):
            e = rng.choice(INVALIDATING)(rng, e)
    data = _encode(rng, e)
    commands = [
        ["replay", "--backend", "python", "ENTRY"],
        ["replay", "--json", "--backend", "python", "ENTRY"],
        ["replay", "--re-record", "--backend", "python", "ENTRY"],
        ["show", "ENTRY"],
        ["show", "ENTRY", "--html", "OUT"],
        ["minimize", "ENTRY"],
        ["minimize", "ENTRY", "-o", "OUT"],
        # hunt reads the entry's scenario (--scenario takes a corpus entry); one schedule
        [*HUNT_SCENARIO, "python", "--scenario", "ENTRY", "--max-schedules", "1"],
    ]
    if native:
        commands += [["replay", "--backend", "native", "ENTRY"], ["replay", "ENTRY"]]
        commands += [[*HUNT_SCENARIO, "native", "--scenario", "ENTRY", "--max-schedules", "1"]]
    if rng.random() < 0.03:  # odd command lines around the entry
        commands = [
            ["replay", "ENTRY", "missing.json"],
            ["replay", "ENTRY\x00"],
            ["replay", "--backend", "bogus", "ENTRY"],
            ["replay", "--bogus", "ENTRY"],
            ["replay", "WORK"],
            ["show", "WORK"],
            ["show", "ENTRY", "--html", "WORK"],
            ["show", "ENTRY", "ENTRY"],
            ["show"],
            ["minimize", "WORK", "-o", "OUT"],
            ["minimize", "ENTRY", "--bogus"],
        ]
    return data, rng.choice(commands)


def _run(argv: list[str]) -> tuple[int | None, str, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status: int | None = None
    crash = ""
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(argv)
        except BaseException as exc:  # any escape is a failure, SystemExit included
            crash = "".join(traceback.format_exception(exc))[-3000:]
    return status, out.getvalue(), err.getvalue(), crash


@pytest.mark.parametrize("shard", range(SHARDS))
def test_malformed_entries_never_crash_replay_show_minimize_or_hunt(
    shard: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _base_entries()
    native = backends.get("native").available()
    if hasattr(cli, "build_parser"):
        # Building the parser (every subcommand's options) costs ~9 ms: build it once; each
        # case still goes through main() and parse_args like a real command line.
        parser = cli.build_parser()
        monkeypatch.setattr(cli, "build_parser", lambda: parser)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    rng = random.Random(f"fuzzlock corpus fuzz {shard}")
    statuses: Counter[int | None] = Counter()
    failures: list[str] = []
    n = CASES // SHARDS
    for i in range(n):
        data, argv = _case(rng, base, native)
        entry = work / "v6.19" / f"entry-{i}.json"
        entry.parent.mkdir(exist_ok=True)
        entry.write_bytes(data)
        out_path = work / "out" / f"out-{i}"
        out_path.parent.mkdir(exist_ok=True)
        names = {"ENTRY": str(entry), "OUT": str(out_path), "WORK": str(work)}
        argv = [names.get(a, a.replace("ENTRY", str(entry))) for a in argv]
        before = _files(work)
        status, out, err, crash = _run(argv)
        statuses[status] += 1
        after = _files(work)
        changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
        allowed = {entry.relative_to(work).as_posix(), out_path.relative_to(work).as_posix()}
        problems = []
        if crash:
            problems.append(f"raised:\n{crash}")
        if status not in (0, 1, 2):
            problems.append(f"exit status {status!r}")
        err_lines = [ln for ln in err.splitlines() if ln.strip()]
        if len(err_lines) > 2:
            problems.append(f"{len(err_lines)} lines on stderr")
        if "Traceback" in out + err:
            problems.append("a traceback in the output")
        if changed - allowed:
            problems.append(f"wrote {sorted(changed - allowed)}")
        if problems:
            failures.append(
                f"case {i} of shard {shard}: fuzzlock {' '.join(argv)}: {'; '.join(problems)}\n"
                f"entry: {data[:600]!r}\nstderr: {err[-800:]}"
            )
        entry.unlink(missing_ok=True)
        if out_path.is_dir():
            os.rmdir(out_path)
        else:
            out_path.unlink(missing_ok=True)
    assert not failures, f"{len(failures)} of {n} cases failed:\n\n" + "\n\n".join(failures[:5])
    assert sum(statuses.values()) == n
    # not vacuous: every exit status happens (valid entries reproduce, or not; most are bad)
    assert {0, 1, 2} <= set(statuses), statuses
    assert statuses[2] > n // 2, statuses
