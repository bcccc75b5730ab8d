"""The stage graph: edges, the sequential default, validation, order (model layer).

`build_graph` turns what a `Pipeline` was told (stages in order, parallel
groups, explicit edges) into a validated `Graph`. Every problem found is
collected; the caller raises one `DefinitionError` listing them all.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import attrs

from .errors import DefinitionError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._stage import Stage  # noqa: TC004 - imported for real inside build_graph

__all__ = ("Edge", "Graph", "build_graph", "find_cycle")


@attrs.frozen
class Edge:
    """A static edge ``src -> dst`` (stage indices) with an optional weight."""

    src: int
    dst: int
    weight: float | None = None
    explicit: bool = True


@attrs.frozen
class Graph:
    """A validated graph of the stages of one pipeline.

    Attributes:
        stages: the stages in definition order (index = node id).
        edges: the static edges, in the order they were declared.
        order: stage indices in topological order (ties: definition order).
    """

    stages: tuple[Stage[Any, Any], ...]
    edges: tuple[Edge, ...]
    order: tuple[int, ...]
    downstream: tuple[tuple[int, ...], ...]
    upstream: tuple[tuple[int, ...], ...]

    def index(self, name: str) -> int:
        """Return the node id of stage *name*."""
        for i, s in enumerate(self.stages):
            if s.name == name:
                return i
        msg = f"unknown stage {name!r}"
        raise DefinitionError(msg)

    def weight(self, src: int, dst: int) -> float | None:
        """Return the weight of edge *src* -> *dst*."""
        for e in self.edges:
            if e.src == src and e.dst == dst:
                return e.weight
        return None

    def descendants(self, i: int) -> frozenset[int]:
        """Return every node reachable from *i* by static edges (not *i* itself)."""
        seen: set[int] = set()
        stack = list(self.downstream[i])
        while stack:
            j = stack.pop()
            if j not in seen:
                seen.add(j)
                stack.extend(self.downstream[j])
        return frozenset(seen)


Entry = "Stage[Any, Any] | list[Stage[Any, Any]]"


def _suggest(name: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def find_cycle(n: int, downstream: Sequence[Sequence[int]]) -> list[int] | None:
    """Return one cycle as a node path ``[a, b, ..., a]``, or ``None``."""
    white, grey, black = 0, 1, 2
    color = [white] * n
    parent: dict[int, int] = {}
    for root in range(n):
        if color[root] != white:
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        color[root] = grey
        while stack:
            node, k = stack[-1]
            if k < len(downstream[node]):
                stack[-1] = (node, k + 1)
                nxt = downstream[node][k]
                if color[nxt] == white:
                    color[nxt] = grey
                    parent[nxt] = node
                    stack.append((nxt, 0))
                elif color[nxt] == grey:
                    path = [nxt]
                    cur = node
                    while cur != nxt:
                        path.append(cur)
                        cur = parent[cur]
                    path.append(nxt)
                    path.reverse()
                    return path
            else:
                color[node] = black
                stack.pop()
    return None


def build_graph(
    entries: Sequence[Any],
    connections: Sequence[tuple[Any, Any, float | None]],
) -> tuple[Graph | None, list[str]]:
    """Build the graph from *entries* (stages or parallel groups, in order).

    Args:
        entries: each a Stage, or a list of Stages added in a ``parallel()`` group.
        connections: explicit ``(src, dst, weight)`` from ``Pipeline.connect``.

    Returns:
        The graph (``None`` when there are problems) and the list of problems.
    """
    from ._stage import Producer, Stage  # noqa: PLC0415 - avoid an import cycle

    problems: list[str] = []
    stages: list[Stage[Any, Any]] = []
    group_of: dict[int, int] = {}  # stage index -> entry index
    entry_members: list[list[int]] = []
    for e_idx, entry in enumerate(entries):
        members = entry if isinstance(entry, list) else [entry]
        idxs = []
        for s in members:
            group_of[len(stages)] = e_idx
            idxs.append(len(stages))
            stages.append(s)
        entry_members.append(idxs)

    names = [s.name for s in stages]
    by_name: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in by_name:
            problems.append(f"duplicate stage name {name!r}")
        else:
            by_name[name] = i
    by_obj = {id(s): i for i, s in enumerate(stages)}

    def resolve(ref: str | Stage[Any, Any], where: str) -> int | None:
        if isinstance(ref, Stage):
            idx = by_obj.get(id(ref))
            if idx is None:
                problems.append(
                    f"{where}: stage {ref.name!r} is not part of this pipeline; "
                    "add() it first"
                )
            return idx
        idx = by_name.get(ref)
        if idx is None:
            problems.append(f"{where}: unknown stage {ref!r}{_suggest(ref, names)}")
        return idx

    edges: list[Edge] = []
    seen: set[tuple[int, int]] = set()
    has_explicit_out = [False] * len(stages)

    def add_edge(src: int, dst: int, weight: float | None, *, explicit: bool) -> None:
        if (src, dst) in seen:
            if weight is not None:
                for k, e in enumerate(edges):
                    if e.src == src and e.dst == dst:
                        edges[k] = attrs.evolve(e, weight=weight)
            return
        seen.add((src, dst))
        edges.append(Edge(src, dst, weight, explicit))
        if explicit:
            has_explicit_out[src] = True

    for i, s in enumerate(stages):
        opts = s.options
        if opts.to is not None:
            has_explicit_out[i] = True
            for ref in opts.to:
                j = resolve(ref, f"stage {s.name!r} to=")
                if j is not None:
                    add_edge(i, j, None, explicit=True)
        if opts.from_ is not None:
            for ref in opts.from_:
                j = resolve(ref, f"stage {s.name!r} from_=")
                if j is not None:
                    add_edge(j, i, None, explicit=True)
        if opts.dead_letter is not None:
            resolve(opts.dead_letter, f"stage {s.name!r} dead_letter=")
    for src_ref, dst_ref, weight in connections:
        a = resolve(src_ref, "connect()")
        b = resolve(dst_ref, "connect()")
        if a is not None and b is not None:
            add_edge(a, b, weight, explicit=True)

    # Sequential default (SPEC §2.2).
    def next_targets(after_entry: int) -> list[int]:
        for e_idx in range(after_entry + 1, len(entry_members)):
            targets = [
                j for j in entry_members[e_idx] if not isinstance(stages[j], Producer)
            ]
            if targets:
                return targets
        return []

    for i in range(len(stages)):
        if has_explicit_out[i]:
            continue
        for j in next_targets(group_of[i]):
            add_edge(i, j, None, explicit=False)

    for e in edges:
        if isinstance(stages[e.dst], Producer):
            problems.append(
                f"producer {names[e.dst]!r} cannot receive items "
                f"(edge from {names[e.src]!r}); producers have no input"
            )
        if e.src == e.dst:
            problems.append(f"cycle: {names[e.src]} -> {names[e.src]}")

    n = len(stages)
    downstream: list[list[int]] = [[] for _ in range(n)]
    upstream: list[list[int]] = [[] for _ in range(n)]
    for e in edges:
        if e.src != e.dst:
            downstream[e.src].append(e.dst)
            upstream[e.dst].append(e.src)
    cycle = find_cycle(n, downstream)
    if cycle is not None:
        problems.append("cycle: " + " -> ".join(names[k] for k in cycle))

    if problems:
        return None, problems

    # Kahn's algorithm; ties broken by definition order.
    indeg = [len(u) for u in upstream]
    ready = [i for i in range(n) if indeg[i] == 0]
    order: list[int] = []
    while ready:
        ready.sort()
        i = ready.pop(0)
        order.append(i)
        for j in downstream[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)
    graph = Graph(
        stages=tuple(stages),
        edges=tuple(edges),
        order=tuple(order),
        downstream=tuple(tuple(d) for d in downstream),
        upstream=tuple(tuple(u) for u in upstream),
    )
    return graph, problems
