"""Toy programs for the scheduler tests: locks, rwsems, shared variables, RCU.

A program is plain data (a list of threads, each a list of actions) so a test can
generate thousands of them from a seed and build a fresh scheduler for each run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from fuzzlock.sched import Lock, RWSem, Scheduler, ops

Action = tuple[Any, ...]
Program = list[list[Action]]


class ToyWorld:
    def __init__(self, n_locks: int = 3, n_sems: int = 2, n_vars: int = 3) -> None:
        self.locks = [Lock(f"L{i}", f"L{i}", sleeps=True) for i in range(n_locks)]
        self.spins = [Lock(f"S{i}", f"S{i}", sleeps=False) for i in range(n_locks)]
        self.sems = [RWSem(f"R{i}", f"R{i}") for i in range(n_sems)]
        self.vars = [0] * n_vars
        self.log: list[tuple[int, int]] = []


def body(w: ToyWorld, tid: int, actions: list[Action]) -> Iterator[ops.Op]:
    fn = f"t{tid}"
    for a in actions:
        kind = a[0]
        if kind == "lock":
            yield ops.lock(fn, w.locks[a[1]])
        elif kind == "unlock":
            yield ops.unlock(fn, w.locks[a[1]])
        elif kind == "trylock":
            ok = yield ops.trylock(fn, w.locks[a[1]])
            if ok:
                yield ops.unlock(fn, w.locks[a[1]])
        elif kind == "spin":
            yield ops.lock(fn, w.spins[a[1]])
        elif kind == "spin_unlock":
            yield ops.unlock(fn, w.spins[a[1]])
        elif kind == "down_read":
            yield ops.down_read(fn, w.sems[a[1]])
        elif kind == "up_read":
            yield ops.up_read(fn, w.sems[a[1]])
        elif kind == "down_write":
            yield ops.down_write(fn, w.sems[a[1]])
        elif kind == "up_write":
            yield ops.up_write(fn, w.sems[a[1]])
        elif kind == "down_read_trylock":
            ok = yield ops.down_read_trylock(fn, w.sems[a[1]])
            if ok:
                yield ops.up_read(fn, w.sems[a[1]])
        elif kind == "down_write_trylock":
            ok = yield ops.down_write_trylock(fn, w.sems[a[1]])
            if ok:
                yield ops.up_write(fn, w.sems[a[1]])
        elif kind == "read":
            v = a[1]
            got = yield ops.read(fn, f"var{v}", lambda v=v: w.vars[v])
            w.log.append((tid, got))
        elif kind == "write":
            v, val = a[1], a[2]

            def store(v: int = v, val: int = val) -> None:
                w.vars[v] = val

            yield ops.write(fn, f"var{v}", store)
        elif kind == "inc":
            v = a[1]

            def inc(v: int = v) -> int:
                w.vars[v] += 1
                return w.vars[v]

            yield ops.atomic(fn, f"var{v}", inc)
        elif kind == "rcu":
            yield ops.rcu_read_lock(fn)
        elif kind == "rcu_unlock":
            yield ops.rcu_read_unlock(fn)
        else:
            raise ValueError(kind)


def build(program: Program, max_steps: int = 10_000, **world_kw: int) -> tuple[Scheduler, ToyWorld]:
    s = Scheduler(max_steps=max_steps)
    w = ToyWorld(**world_kw)
    for tid, actions in enumerate(program):
        s.spawn(f"toy{tid}", body(w, tid, actions))
    return s, w


def random_program(rng: random.Random, max_threads: int = 4, max_actions: int = 12) -> Program:
    """Well-formed threads: locks released, sleeping locks never taken under a spinlock
    or RCU, rwsems never taken twice by one thread.  Deadlocks between threads can
    still happen (lock order is random), which the determinism tests want too."""
    prog: Program = []
    for _ in range(rng.randint(2, max_threads)):
        acts: list[Action] = []
        held: list[Action] = []
        in_rcu = False
        for _ in range(rng.randint(1, max_actions)):
            r = rng.random()
            atomic = in_rcu or any(h[0] == "spin_unlock" for h in held)
            if r < 0.15 and not atomic:
                i = rng.randrange(3)
                if ("unlock", i) not in held:
                    acts.append(("lock", i))
                    held.append(("unlock", i))
            elif r < 0.22 and not atomic:
                i = rng.randrange(2)
                if ("up_read", i) not in held and ("up_write", i) not in held:
                    if rng.random() < 0.5:
                        acts.append(("down_read", i))
                        held.append(("up_read", i))
                    else:
                        acts.append(("down_write", i))
                        held.append(("up_write", i))
            elif r < 0.27:
                i = rng.randrange(3)
                if ("spin_unlock", i) not in held:
                    acts.append(("spin", i))
                    held.append(("spin_unlock", i))
            elif r < 0.32:
                acts.append(("trylock", rng.randrange(3)))
            elif r < 0.40 and held:
                acts.append(held.pop())
            elif r < 0.45 and not in_rcu:
                acts.append(("rcu",))
                in_rcu = True
            elif r < 0.50 and in_rcu:
                acts.append(("rcu_unlock",))
                in_rcu = False
            elif r < 0.70:
                acts.append(("read", rng.randrange(3)))
            elif r < 0.85:
                acts.append(("write", rng.randrange(3), rng.randrange(100)))
            else:
                acts.append(("inc", rng.randrange(3)))
        while held:
            acts.append(held.pop())
        if in_rcu:
            acts.append(("rcu_unlock",))
        prog.append(acts)
    return prog


def small_program(rng: random.Random) -> Program:
    """2-3 threads of 1-4 well-formed actions on one mutex, one rwsem, two variables."""
    prog: Program = []
    for _ in range(rng.randint(2, 3)):
        acts: list[Action] = []
        for _ in range(rng.randint(1, 4)):
            r = rng.random()
            if r < 0.2:
                acts += [("lock", 0), rng.choice([("read", 0), ("write", 1, 2)]), ("unlock", 0)]
            elif r < 0.35:
                acts += [("down_read", 0), ("read", rng.randrange(2)), ("up_read", 0)]
            elif r < 0.5:
                acts += [("down_write", 0), ("inc", 0), ("up_write", 0)]
            elif r < 0.6:
                acts.append(("trylock", 0))
            elif r < 0.7:
                acts.append(rng.choice([("down_read_trylock", 0), ("down_write_trylock", 0)]))
            elif r < 0.75:
                acts += [("rcu",), ("read", 1), ("rcu_unlock",)]
            else:
                acts.append(rng.choice([("read", 0), ("write", 0, 7), ("inc", 1), ("read", 1)]))
        prog.append(acts)
    return prog
