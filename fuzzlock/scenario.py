"""Scenario: a sequential setup plus 2-6 thread programs, as JSON.

A scenario is plain data, validated on load with a one-line error naming the field::

    {"setup": [{"op": "mmap", "mm": 0, "vma": "src", "start": 16, "pages": 4, "uffd": true},
               {"op": "write", "mm": 0, "addr": 16, "value": 7, "folio": "F"}],
     "threads": [{"name": "mover", "ops": [{"op": "move", "mm": 0, "dst": 32, "src": 16,
                                            "len": 1}]},
                 {"name": "reclaim", "ops": [{"op": "shrink_active_list", "folio": "F"}]}]}

Addresses and lengths are in pages.  A ``folio`` name is bound by a setup ``write`` (or
``read``/``bind``) to the folio mapped at that address when the setup ends; walkers
reach folios physically (the LRU, a pfn), so they name folios, not addresses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from fuzzlock import schema

MAX_THREADS = 6
MAX_OPS = 8
MAX_ADDR = 1 << 20
#: The largest ``max_steps``: the C model takes it as an ``int`` (native/model.h).
MAX_STEPS = 2**31 - 1
#: The range of a ``write`` op's ``value``: the C model stores it as an ``int64_t``.
VALUE_MIN, VALUE_MAX = -(2**63), 2**63 - 1

# op name -> (required fields, optional fields with defaults), from fuzzlock/schema.py
OPS: dict[str, tuple[dict[str, type], dict[str, Any]]] = {
    o.name: (dict(o.required), dict(o.optional)) for o in schema.OPS
}
SETUP_ONLY = {o.name for o in schema.OPS if o.setup_only}
MOVE_MODES = schema.MOVE_MODES


class ScenarioError(ValueError):
    """A malformed scenario: the message is one line naming the field."""


@attrs.frozen
class Scenario:
    setup: tuple[dict[str, Any], ...]
    threads: tuple[tuple[str, tuple[dict[str, Any], ...]], ...]
    max_steps: int = 20_000

    def to_json(self) -> dict[str, Any]:
        return {
            "setup": [dict(o) for o in self.setup],
            "threads": [{"name": n, "ops": [dict(o) for o in ops]} for n, ops in self.threads],
            "max_steps": self.max_steps,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @property
    def thread_names(self) -> list[str]:
        return [n for n, _ in self.threads]


def json_error(e: json.JSONDecodeError) -> str:
    """``e`` as ``<what> at line L column C`` (json's "Unterminated string starting at"
    already ends in "at")."""
    where = f"line {e.lineno} column {e.colno}"
    return f"{e.msg} {where}" if e.msg.endswith(" at") else f"{e.msg} at {where}"


def loads(text: str) -> Scenario:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ScenarioError(f"scenario: not JSON ({json_error(e)})") from None
    except RecursionError:
        raise ScenarioError("scenario: not JSON (nested too deeply)") from None
    return from_json(obj)


def from_json(obj: Any, where: str = "scenario") -> Scenario:
    """Validate and build; every error is one line naming the offending field."""
    if not isinstance(obj, Mapping):
        raise ScenarioError(f"{where}: expected an object")
    unknown = set(obj) - {"setup", "threads", "max_steps"}
    if unknown:
        raise ScenarioError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    setup_raw = obj.get("setup", [])
    if not isinstance(setup_raw, list):
        raise ScenarioError(f"{where}.setup: expected a list")
    setup = tuple(_op(o, f"{where}.setup[{i}]", setup=True) for i, o in enumerate(setup_raw))
    threads_raw = obj.get("threads")
    if not isinstance(threads_raw, list) or not 1 <= len(threads_raw) <= MAX_THREADS:
        raise ScenarioError(f"{where}.threads: expected a list of 1 to {MAX_THREADS} threads")
    threads = []
    for i, t in enumerate(threads_raw):
        tw = f"{where}.threads[{i}]"
        if not isinstance(t, Mapping) or not isinstance(t.get("ops"), list):
            raise ScenarioError(f"{tw}: expected an object with an 'ops' list")
        name = t.get("name", f"t{i}")
        if not isinstance(name, str) or not name:
            raise ScenarioError(f"{tw}.name: expected a non-empty string")
        if len(t["ops"]) > MAX_OPS:
            raise ScenarioError(f"{tw}.ops: at most {MAX_OPS} operations per thread")
        ops = tuple(_op(o, f"{tw}.ops[{j}]", setup=False) for j, o in enumerate(t["ops"]))
        threads.append((name, ops))
    max_steps = obj.get("max_steps", 20_000)
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
        raise ScenarioError(f"{where}.max_steps: expected a positive integer")
    if max_steps > MAX_STEPS:
        raise ScenarioError(f"{where}.max_steps: {max_steps} is out of range (at most {MAX_STEPS})")
    sc = Scenario(setup, tuple(threads), max_steps)
    _check_names(sc, where)
    return sc


def _op(o: Any, where: str, setup: bool) -> dict[str, Any]:
    if not isinstance(o, Mapping):
        raise ScenarioError(f"{where}: expected an object")
    name = o.get("op")
    if not isinstance(name, str) or name not in OPS:
        raise ScenarioError(f"{where}.op: unknown op {name!r}")
    if not setup and name in SETUP_ONLY:
        raise ScenarioError(f"{where}.op: {name!r} is a setup-only op")
    req, opt = OPS[name]
    out: dict[str, Any] = {"op": name}
    for k, typ in req.items():
        if k not in o:
            raise ScenarioError(f"{where}: missing field {k!r}")
        out[k] = _typed(o[k], typ, f"{where}.{k}")
    for k, default in opt.items():
        v = o.get(k, default)
        if k == "mode":
            if not isinstance(v, list) or any(
                not isinstance(m, str) or m not in MOVE_MODES for m in v
            ):
                raise ScenarioError(f"{where}.mode: expected a list of {sorted(MOVE_MODES)}")
            out[k] = sorted(set(v))
        else:
            out[k] = _typed(v, type(default), f"{where}.{k}")
    extra = set(o) - {"op"} - set(req) - set(opt)
    if extra:
        raise ScenarioError(f"{where}: unknown field {sorted(extra)[0]!r} for op {name!r}")
    for k in ("addr", "start", "dst", "src", "mm", "child"):
        if k in out and not 0 <= out[k] < MAX_ADDR:
            raise ScenarioError(f"{where}.{k}: {out[k]} is out of range")
    for k in ("pages", "len"):
        if k in out and not 1 <= out[k] <= 64:
            raise ScenarioError(f"{where}.{k}: expected 1 to 64 pages")
    if "value" in out and not VALUE_MIN <= out["value"] <= VALUE_MAX:
        raise ScenarioError(f"{where}.value: {out['value']} does not fit in 64 bits")
    return out


def _typed(v: Any, typ: type, where: str) -> Any:
    if typ is int and (not isinstance(v, int) or isinstance(v, bool)):
        raise ScenarioError(f"{where}: expected an integer, got {v!r}")
    if typ is bool and not isinstance(v, bool):
        raise ScenarioError(f"{where}: expected true or false, got {v!r}")
    if typ is str and not isinstance(v, str):
        raise ScenarioError(f"{where}: expected a string, got {v!r}")
    return v


def _check_names(sc: Scenario, where: str) -> None:
    """Folio names used by threads are bound in the setup; VMAs of one mm don't overlap."""
    bound: set[str] = set()
    vmas: dict[int, list[tuple[int, int, str]]] = {}
    names: set[str] = set()
    for i, o in enumerate(sc.setup):
        if o["op"] == "mmap":
            if o["vma"] in names:
                raise ScenarioError(f"{where}.setup[{i}].vma: duplicate VMA name {o['vma']!r}")
            names.add(o["vma"])
            lo, hi = o["start"], o["start"] + o["pages"]
            for a, b, n in vmas.get(o["mm"], []):
                if lo < b and a < hi:
                    raise ScenarioError(f"{where}.setup[{i}]: VMA {o['vma']!r} overlaps {n!r}")
            vmas.setdefault(o["mm"], []).append((lo, hi, o["vma"]))
        if o.get("folio"):
            bound.add(o["folio"])
    made: set[int] = set()  # the mms that exist at each point of the (sequential) setup
    for i, o in enumerate(sc.setup):
        if o["op"] == "mmap":
            made.add(o["mm"])
        elif o["op"] == "fork" and o["mm"] in made:
            made.add(o["child"])
        elif o["op"] in ("write", "read") and o["mm"] not in made:
            # a setup write fills the page like UFFDIO_COPY: it needs the mm to exist
            raise ScenarioError(f"{where}.setup[{i}].mm: mm {o['mm']} has no mapping yet")
    mm_ids = {o["mm"] for o in sc.setup if o["op"] == "mmap"}
    mm_ids |= {o["child"] for o in sc.setup if o["op"] == "fork"}
    children: dict[int, int] = {}  # child mm id -> the thread that forks it
    for ti, (_, ops) in enumerate(sc.threads):
        for j, o in enumerate(ops):
            if o["op"] == "fork":
                # forks in different threads must not race for one child id (a second fork
                # in the same thread just finds it taken: "child-exists")
                if o["child"] in mm_ids or children.get(o["child"], ti) != ti:
                    raise ScenarioError(
                        f"{where}.threads[{ti}].ops[{j}].child: mm {o['child']} already "
                        "exists or is another thread's fork child"
                    )
                children[o["child"]] = ti
            # "folio" is optional (default "": bind nothing) only for write and read
            if "folio" in o and o["op"] not in ("write", "read") and o["folio"] not in bound:
                raise ScenarioError(
                    f"{where}.threads[{ti}].ops[{j}].folio: {o['folio']!r} is not bound in the setup"
                )
