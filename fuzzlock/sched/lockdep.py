"""A lockdep-style lock-class dependency graph.

Each blocking acquisition of class B while the thread holds class A adds the edge
A -> B (with where it was first seen).  An edge that closes a cycle is a possible
deadlock even if this schedule did not deadlock: the ``lock.order`` violation, with
the chain of edges that makes the cycle.  As in lockdep, a trylock adds no edge
*into* the lock it takes (it cannot block), but a lock taken by trylock is held and
so is the source of edges for later blocking acquisitions.  Nodes are (class,
subclass): ``double_pt_lock`` takes the second PTL with subclass 1, like
``spin_lock_nested(..., SINGLE_DEPTH_NESTING)``.

``find_cycle`` finds the cycle of an actual deadlock, in the wait-for graph.
"""

from __future__ import annotations

import attrs

Node = tuple[str, int]


@attrs.define
class Edge:
    """Where A -> B was first seen."""

    src: Node
    dst: Node
    thread: int
    step: int
    fn: str
    held_name: str
    taken_name: str

    def describe(self) -> str:
        return (
            f"{node_name(self.src)} -> {node_name(self.dst)}: T{self.thread} step {self.step} "
            f"in {self.fn} took {self.taken_name} holding {self.held_name}"
        )


def node_name(n: Node) -> str:
    return n[0] if n[1] == 0 else f"{n[0]}/{n[1]}"


class LockGraph:
    __slots__ = ("edges",)

    def __init__(self) -> None:
        self.edges: dict[Node, dict[Node, Edge]] = {}

    def add(self, edge: Edge) -> list[Edge] | None:
        """Add an edge; return the cycle it closes (list of edges) or None."""
        out = self.edges.get(edge.src)
        if out is not None and edge.dst in out:
            return None
        path = self._path(edge.dst, edge.src)
        self.edges.setdefault(edge.src, {})[edge.dst] = edge
        if path is None:
            return None
        return [*path, edge]

    def _path(self, frm: Node, to: Node) -> list[Edge] | None:
        """A path of edges frm ->* to (depth-first, deterministic order), or None."""
        if frm == to:
            return []
        stack: list[tuple[Node, list[Edge]]] = [(frm, [])]
        seen = {frm}
        while stack:
            node, path = stack.pop()
            for nxt, e in self.edges.get(node, {}).items():
                if nxt == to:
                    return [*path, e]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, e]))
        return None


def unsafe_scenario(cycle: list[Edge]) -> str:
    """lockdep's "Possible unsafe locking scenario" for the first two edges of a cycle."""
    if len(cycle) < 2:
        return ""
    a, b = cycle[-1], cycle[0]
    l1, l2 = node_name(a.src), node_name(a.dst)
    rows = [
        ("CPU0", "CPU1"),
        ("----", "----"),
        (f"lock({l1});", ""),
        ("", f"lock({l2});"),
        ("", f"lock({l1});" if len(cycle) == 2 else f"lock({node_name(b.dst)}); ..."),
        (f"lock({l2});", ""),
    ]
    return "\n".join(f"       {x:<28}{y}".rstrip() for x, y in rows) + "\n\n *** DEADLOCK ***"


def find_cycle(waits: dict[int, tuple[str, list[int]]]) -> list[int]:
    """The cycle of a deadlock in the wait-for graph (thread -> threads it waits for), lowest
    ids first; [] if there is none."""

    def dfs(node: int, path: list[int], on_path: set[int]) -> list[int]:
        for nxt in waits[node][1]:
            if nxt in on_path:
                return path[path.index(nxt) :]
            if nxt in waits:
                found = dfs(nxt, [*path, nxt], on_path | {nxt})
                if found:
                    return found
        return []

    for start in sorted(waits):
        found = dfs(start, [start], {start})
        if found:
            return found
    return []
