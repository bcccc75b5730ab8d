"""The stage graph: nesting, edges, the sequential default, validation (model layer).

`build_graph` flattens a tree of pipelines into one graph of leaf stages
with qualified names (``inner.stage``), relative to the pipeline being run.

* Edges are first drawn between the *children* of each pipeline (stages and
  nested pipelines): explicit ``to=``/``from_=``/``connect``/``reroute``
  edges, resolved by name anywhere in the tree (SPEC §2.5), plus the
  sequential default (SPEC §2.2).
* Each child edge then becomes leaf edges: an edge out of a nested pipeline
  leaves from its terminal stages; an edge into it reaches its entry stages.
  A pipeline with several entries gets an internal *entry* node that applies
  the pipeline's router (broadcast by default), so the sender's own router
  still sees the pipeline as one downstream.

Every problem found is collected; the caller raises one `DefinitionError`
listing them all.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import attrs

from ._region import FusedRegion, region_problems
from ._stage import Accumulator, Processor, Producer, Stage, resolve_executor
from .errors import AmbiguousRouteError, DefinitionError, RoutingError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._pipeline import Pipeline  # noqa: TC004 - annotations are never resolved
    from ._router import Router

__all__ = ("Edge", "EntryNode", "Graph", "Node", "build_graph", "find_cycle")


@attrs.frozen
class Edge:
    """A static edge ``src -> dst`` (node indices) with an optional weight."""

    src: int
    dst: int
    weight: float | None = None
    explicit: bool = True


@attrs.define(eq=False, init=False, repr=False, getstate_setstate=False)
class EntryNode(Processor[Any, Any]):
    """Internal stage: the door of a nested pipeline with several entry stages.

    It passes each item on unchanged; the nested pipeline's router spreads
    the items over the entry stages. It never appears in reports.
    """

    def __init__(self, name: str, router: Router | None, routing: Any) -> None:
        """Create the entry node of the pipeline named *name*."""
        super().__init__(name, _identity, router=router, routing=routing)


def _identity(item: Any) -> Any:
    return item


@attrs.frozen
class Node:
    """A leaf of the flattened graph.

    Attributes:
        stage: the stage.
        name: its qualified name relative to the pipeline being run.
        scope: the pipelines that contain it, outermost first.
        internal: an entry node added by flattening (not shown in reports).
    """

    stage: Stage[Any, Any]
    name: str
    scope: tuple[Pipeline, ...]
    internal: bool = False


@attrs.define(eq=False)
class _PipeInfo:
    pipe: Pipeline
    prefix: str
    parent: _PipeInfo | None
    depth: int
    children: list[Any] = attrs.field(factory=list)
    # child entries in order: a Stage/Pipeline, or a list for a parallel group
    entries: list[Any] = attrs.field(factory=list)


class Resolver:
    """Finds stages and pipelines by name in a tree (SPEC §2.5)."""

    def __init__(self, root: Pipeline) -> None:
        """Index the tree under *root*."""
        from ._pipeline import Pipeline  # noqa: PLC0415 - avoid an import cycle

        self.root = root
        self.infos: dict[int, _PipeInfo] = {}
        self.qnames: dict[int, str] = {}
        self.parent_of: dict[int, Pipeline] = {}
        self.order: list[_PipeInfo] = []
        #: Ambiguity problems found while resolving, by message.
        self.ambiguities: dict[str, AmbiguousRouteError] = {}

        def walk(
            p: Pipeline, prefix: str, parent: _PipeInfo | None, depth: int
        ) -> None:
            info = _PipeInfo(p, prefix, parent, depth)
            self.infos[id(p)] = info
            self.order.append(info)
            for entry in p._entries:  # noqa: SLF001 - the model reads its own parts
                info.entries.append(entry)
                members = entry if isinstance(entry, list) else [entry]
                for child in members:
                    info.children.append(child)
                    self.qnames[id(child)] = prefix + child.name
                    self.parent_of[id(child)] = p
                    if isinstance(child, Pipeline):
                        walk(child, prefix + child.name + ".", info, depth + 1)

        walk(root, "", None, 0)

    def qname(self, obj: Stage[Any, Any]) -> str:
        """Return the qualified name of *obj* in this tree."""
        return self.qnames.get(id(obj), obj.name)

    def _subtree_by_depth(self, info: _PipeInfo, name: str) -> list[list[Any]]:
        """Matches named *name* below *info*, grouped by depth (local first)."""
        from ._pipeline import Pipeline  # noqa: PLC0415

        levels: list[list[Any]] = []
        frontier = [info]
        while frontier:
            found = []
            nxt = []
            for f in frontier:
                for child in f.children:
                    if child.name == name:
                        found.append(child)
                    if isinstance(child, Pipeline):
                        nxt.append(self.infos[id(child)])
            levels.append(found)
            frontier = nxt
        return levels

    def candidates(self, ref: str, scope: Pipeline) -> list[Any]:
        """Return the matches of *ref* at the first level that has any.

        Order: the scope's own stages, its descendants by depth, then each
        ancestor's stages and descendants, up to the root. A dotted name is
        a path from the root (or, failing that, from the scope).
        """
        if "." in ref:
            for start in (self.root, scope):
                obj = self._path(ref, start)
                if obj is not None:
                    return [obj]
            return []
        info: _PipeInfo | None = self.infos[id(scope)]
        seen_depth_start = 0
        while info is not None:
            for level in self._subtree_by_depth(info, ref)[seen_depth_start:]:
                if level:
                    return level
            info = info.parent
            seen_depth_start = 0
        return []

    def _path(self, ref: str, start: Pipeline) -> Any:
        from ._pipeline import Pipeline  # noqa: PLC0415

        obj: Any = start
        for part in ref.split("."):
            if not isinstance(obj, Pipeline):
                return None
            info = self.infos[id(obj)]
            nxt = [c for c in info.children if c.name == part]
            if len(nxt) != 1:
                return None
            obj = nxt[0]
        return obj

    def all_names(self) -> list[str]:
        """Every qualified name in the tree (for suggestions)."""
        return list(self.qnames.values())

    def resolve(
        self, ref: str | Stage[Any, Any], scope: Pipeline, where: str
    ) -> tuple[Any, str | None]:
        """Resolve *ref* from *scope*: ``(object, None)`` or ``(None, problem)``."""
        if isinstance(ref, Stage):
            if id(ref) in self.qnames or ref is self.root:
                return ref, None
            return None, (
                f"{where}: stage {ref.name!r} is not part of pipeline "
                f"{self.root.name!r}; add() it first"
            )
        found = self.candidates(ref, scope)
        if len(found) == 1:
            return found[0], None
        if not found:
            names = self.all_names()
            close = difflib.get_close_matches(ref, names, n=1)
            if not close:
                shorts = {n.rsplit(".", 1)[-1]: n for n in names}
                close = [shorts[c] for c in difflib.get_close_matches(ref, shorts, n=1)]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return None, f"{where}: unknown stage {ref!r}{hint}"
        err = AmbiguousRouteError(ref, [self.qname(f) for f in found], where)
        self.ambiguities[str(err)] = err
        return None, str(err)


@attrs.frozen
class Graph:
    """A validated, flattened graph of leaf stages.

    Attributes:
        nodes: the leaves in definition order (index = node id).
        edges: the static edges, in the order they were declared.
        order: node indices in topological order (ties: definition order).
        downstream: for each node, its static downstream node ids in edge order.
        upstream: for each node, its static upstream node ids.
    """

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    order: tuple[int, ...]
    downstream: tuple[tuple[int, ...], ...]
    upstream: tuple[tuple[int, ...], ...]
    resolver: Resolver = attrs.field(eq=False, repr=False)
    targets: dict[int, tuple[int, ...]] = attrs.field(eq=False, repr=False)
    """Node ids an item sent to a pipeline (by ``id()``) goes to."""
    regions: dict[int, str] = attrs.field(factory=dict, eq=False, repr=False)
    """The fused region (qualified name) each object inside one lies in."""

    @property
    def stages(self) -> tuple[Stage[Any, Any], ...]:
        """The leaf stages (index = node id)."""
        return tuple(n.stage for n in self.nodes)

    @property
    def names(self) -> tuple[str, ...]:
        """The qualified names (index = node id)."""
        return tuple(n.name for n in self.nodes)

    def index(self, name: str) -> int:
        """Return the node id of the stage with qualified name *name*."""
        for i, n in enumerate(self.nodes):
            if n.name == name:
                return i
        msg = f"unknown stage {name!r}"
        raise RoutingError(msg)

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

    def route_target(self, ref: str | Stage[Any, Any], sender: int | None) -> int:
        """Resolve a `To` target at run time, from node *sender*.

        Raises:
            RoutingError: no stage has that name.
            AmbiguousRouteError: several match and none is a downstream neighbour.
        """
        scope = (
            self.nodes[sender].scope[-1] if sender is not None else self.resolver.root
        )
        where = f"stage {self.nodes[sender].name!r}" if sender is not None else "send()"
        if isinstance(ref, Stage):
            found = [ref]
        else:
            found = self.resolver.candidates(ref, scope)
        leaf_ids = {id(n.stage): i for i, n in enumerate(self.nodes)}
        options: list[int] = []
        for obj in found:
            if id(obj) in leaf_ids:
                options.append(leaf_ids[id(obj)])
            elif id(obj) in self.targets:
                ts = self.targets[id(obj)]
                if len(ts) == 1:
                    options.append(ts[0])
                elif ts:
                    # A pipeline without a single entry node: send to each.
                    options.append(ts[0])
        if len(options) == 1:
            return options[0]
        if not options:
            name = ref if isinstance(ref, str) else ref.name
            inside = [self.regions[id(o)] for o in found if id(o) in self.regions]
            if inside:
                msg = (
                    f"{where} routed to {name!r}, which is inside fused region "
                    f"{inside[0]!r}; route to the region itself"
                )
                raise RoutingError(msg)
            names = self.resolver.all_names()
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"{where} routed to unknown stage {name!r}{hint}"
            raise RoutingError(msg)
        if sender is not None:
            near = [o for o in options if o in self.downstream[sender]]
            if len(near) == 1:
                return near[0]
        name = ref if isinstance(ref, str) else ref.name
        raise AmbiguousRouteError(name, [self.nodes[o].name for o in options], where)


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


@attrs.define(eq=False)
class _ChildEdge:
    src: Any
    dst: Any
    weight: float | None
    explicit: bool


def build_graph(root: Pipeline) -> tuple[Graph | None, list[str]]:
    """Flatten the pipeline tree under *root* into a `Graph`.

    Returns:
        The graph (``None`` when there are problems) and the list of problems.
    """
    from ._pipeline import Pipeline  # noqa: PLC0415 - avoid an import cycle

    problems: list[str] = []
    res = Resolver(root)

    # 1. Duplicate names per pipeline.
    for info in res.order:
        seen: set[str] = set()
        for child in info.children:
            if child.name in seen:
                where = f" in pipeline {info.prefix[:-1]!r}" if info.prefix else ""
                problems.append(f"duplicate stage name {child.name!r}{where}")
            seen.add(child.name)

    # 2. Child-level edges.
    cedges: list[_ChildEdge] = []
    seen_edges: dict[tuple[int, int], _ChildEdge] = {}
    explicit_out: set[int] = set()
    rerouted: set[int] = set()
    for info in res.order:
        for ref in info.pipe._reroutes:  # noqa: SLF001
            obj, problem = res.resolve(ref, info.pipe, "reroute()")
            if problem:
                problems.append(problem)
            elif obj is not None:
                rerouted.add(id(obj))

    def add(src: Any, dst: Any, weight: float | None, *, explicit: bool) -> None:
        key = (id(src), id(dst))
        old = seen_edges.get(key)
        if old is not None:
            if weight is not None:
                old.weight = weight
            return
        e = _ChildEdge(src, dst, weight, explicit)
        seen_edges[key] = e
        cedges.append(e)
        if explicit:
            explicit_out.add(id(src))

    def resolve(ref: Any, scope: Pipeline, where: str) -> Any:
        obj, problem = res.resolve(ref, scope, where)
        if problem:
            problems.append(problem)
        return obj

    # reroute() may name a stage at any depth; an outer pipeline's reroute
    # wins over an inner one (the outer pipeline is the variant).
    reroutes: dict[int, tuple[tuple[Any, ...], Pipeline]] = {}
    for info in reversed(res.order):
        for ref, new_to in info.pipe._reroutes.items():  # noqa: SLF001
            obj, _ = res.resolve(ref, info.pipe, "reroute()")
            if obj is not None:
                reroutes[id(obj)] = (new_to, info.pipe)

    for info in res.order:
        p = info.pipe
        for child in info.children:
            opts = child.options
            where = f"stage {res.qname(child)!r}"
            to = opts.to
            scope = p
            if id(child) in reroutes:
                to, scope = reroutes[id(child)]
            if to is not None:
                explicit_out.add(id(child))
                for ref in to:
                    dst = resolve(ref, scope, f"{where} to=")
                    if dst is not None:
                        add(child, dst, None, explicit=True)
            if opts.from_ is not None:
                for ref in opts.from_:
                    src = resolve(ref, p, f"{where} from_=")
                    if src is not None and id(src) not in rerouted:
                        add(src, child, None, explicit=True)
            if opts.dead_letter is not None:
                resolve(opts.dead_letter, p, f"{where} dead_letter=")
        for src_ref, dst_ref, weight in p._connections:  # noqa: SLF001
            a = resolve(src_ref, p, "connect()")
            b = resolve(dst_ref, p, "connect()")
            if a is not None and b is not None:
                if id(a) in reroutes:
                    continue
                add(a, b, weight, explicit=True)

    # 3. Sequential default among each pipeline's children (SPEC §2.2).
    for info in res.order:
        entries = info.entries
        for e_idx, entry in enumerate(entries):
            members = entry if isinstance(entry, list) else [entry]
            for child in members:
                if id(child) in explicit_out:
                    continue
                for nxt_entry in entries[e_idx + 1 :]:
                    nxt = nxt_entry if isinstance(nxt_entry, list) else [nxt_entry]
                    nexts = [t for t in nxt if not isinstance(t, Producer)]
                    if not nexts:
                        continue
                    for t in nexts:
                        if isinstance(child, Pipeline) and isinstance(t, Pipeline):
                            continue  # sibling pipelines never chain implicitly
                        add(child, t, None, explicit=False)
                    break

    # 4. Leaves, entries and exits. A nested pipeline with an executor is a
    #    fused region: one leaf that runs its whole sub-graph per worker.
    nodes: list[Node] = []
    leaf_index: dict[int, int] = {}
    targets_memo: dict[int, tuple[int, ...]] = {}
    fused: set[int] = set()
    inside_fused: dict[int, Pipeline] = {}

    def collect(info: _PipeInfo, scope: tuple[Pipeline, ...]) -> None:
        for child in info.children:
            if isinstance(child, Pipeline) and _has_executor(child):
                inner, inner_problems = build_graph(child)
                problems.extend(
                    f"fused region {res.qname(child)!r}: {p}" for p in inner_problems
                )
                _mark_inside(res, child, child, inside_fused)
                fused.add(id(child))
                if inner is None:
                    continue
                problems.extend(region_problems(child, inner))
                leaf_index[id(child)] = len(nodes)
                targets_memo[id(child)] = (len(nodes),)
                region = FusedRegion(child, inner)
                nodes.append(Node(region, res.qname(child), (*scope, child)))
            elif isinstance(child, Pipeline):
                collect(res.infos[id(child)], (*scope, child))
            else:
                leaf_index[id(child)] = len(nodes)
                nodes.append(Node(child, res.qname(child), scope))

    collect(res.order[0], (root,))
    kept: list[_ChildEdge] = []
    for e in cedges:
        a = inside_fused.get(id(e.src))
        b = inside_fused.get(id(e.dst))
        if a is None and b is None:
            kept.append(e)
        elif a is not b and e.explicit:
            region = a or b
            if region is None:  # pragma: no cover - one side is inside
                continue
            problems.append(
                f"{res.qname(e.src)!r} -> {res.qname(e.dst)!r} crosses the border "
                f"of fused region {res.qname(region)!r}; route to or from the "
                "region itself"
            )
    cedges = kept
    out_edges: dict[int, list[_ChildEdge]] = {}
    in_from_inside: dict[int, bool] = {}
    for e in cedges:
        out_edges.setdefault(id(e.src), []).append(e)
        parent = res.parent_of.get(id(e.dst))
        if parent is not None and _inside(res, e.src, parent):
            in_from_inside[id(e.dst)] = True

    def exits(p: Pipeline) -> list[int]:
        out: list[int] = []
        for child in res.infos[id(p)].children:
            if id(child) in out_edges or child.options.to == ():
                continue
            if id(child) in fused:
                if id(child) in leaf_index:
                    out.append(leaf_index[id(child)])
            elif isinstance(child, Pipeline):
                out.extend(exits(child))
            else:
                out.append(leaf_index[id(child)])
        return out

    def targets(obj: Any) -> tuple[int, ...]:
        if not isinstance(obj, Pipeline) or id(obj) in fused:
            return (leaf_index[id(obj)],) if id(obj) in leaf_index else ()
        if id(obj) in targets_memo:
            return targets_memo[id(obj)]
        targets_memo[id(obj)] = ()  # guards against self-reference
        found: list[int] = []
        for child in res.infos[id(obj)].children:
            if isinstance(child, Producer) or in_from_inside.get(id(child)):
                continue
            found.extend(targets(child))
        result: tuple[int, ...] = tuple(dict.fromkeys(found))
        if len(result) > 1:
            entry = EntryNode("entry", obj.options.router, obj.options.routing)
            idx = len(nodes)
            scope = (*_scope_of(res, obj), obj)
            qname = res.qname(obj) + ".<entry>"
            nodes.append(Node(entry, qname, scope, internal=True))
            leaf_edges.extend((idx, t, None, False) for t in result)
            result = (idx,)
        targets_memo[id(obj)] = result
        return result

    leaf_edges: list[tuple[int, int, float | None, bool]] = []
    for e in cedges:
        if id(e.src) in fused or not isinstance(e.src, Pipeline):
            srcs = [leaf_index[id(e.src)]] if id(e.src) in leaf_index else []
        else:
            srcs = exits(e.src)
        dsts = targets(e.dst)
        if isinstance(e.dst, Pipeline) and not dsts and e.explicit:
            problems.append(
                f"pipeline {res.qname(e.dst)!r} has no entry stage to receive "
                f"items from {res.qname(e.src)!r}"
            )
        leaf_edges.extend((s, d, e.weight, e.explicit) for s in srcs for d in dsts)
    # Pipelines nobody sends to still get their entry node when needed by To.
    for info in res.order[1:]:
        if id(info.pipe) not in inside_fused:
            targets(info.pipe)

    edges: list[Edge] = []
    pairs: set[tuple[int, int]] = set()
    for s, d, w, explicit in leaf_edges:
        if (s, d) in pairs:
            continue
        pairs.add((s, d))
        edges.append(Edge(s, d, w, explicit))

    names = [n.name for n in nodes]
    for edge in edges:
        if isinstance(nodes[edge.dst].stage, Producer):
            problems.append(
                f"producer {names[edge.dst]!r} cannot receive items "
                f"(edge from {names[edge.src]!r}); producers have no input"
            )
        if edge.src == edge.dst:
            problems.append(f"cycle: {names[edge.src]} -> {names[edge.src]}")
    n = len(nodes)
    downstream: list[list[int]] = [[] for _ in range(n)]
    upstream: list[list[int]] = [[] for _ in range(n)]
    for edge in edges:
        if edge.src != edge.dst:
            downstream[edge.src].append(edge.dst)
            upstream[edge.dst].append(edge.src)
    problems.extend(_executor_problems(nodes, upstream))
    problems.extend(_router_problems(nodes, downstream, edges))
    problems.extend(_hook_problems(res))
    cycle = find_cycle(n, downstream)
    if cycle is not None:
        problems.append("cycle: " + " -> ".join(_display(nodes, k) for k in cycle))
    if problems:
        unique = list(dict.fromkeys(problems))
        if len(unique) == 1 and unique[0] in res.ambiguities:
            # The one problem is an ambiguous name: raise its own error type.
            raise res.ambiguities[unique[0]]
        return None, unique

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
    return Graph(
        nodes=tuple(nodes),
        edges=tuple(edges),
        order=tuple(order),
        downstream=tuple(tuple(d) for d in downstream),
        upstream=tuple(tuple(u) for u in upstream),
        resolver=res,
        targets=dict(targets_memo),
        regions={k: res.qname(v) for k, v in inside_fused.items()},
    ), problems


def _display(nodes: list[Node], k: int) -> str:
    node = nodes[k]
    return node.name.removesuffix(".<entry>") if node.internal else node.name


def _inside(res: Resolver, obj: Any, pipe: Pipeline) -> bool:
    """Whether *obj* lies inside *pipe* (at any depth)."""
    parent = res.parent_of.get(id(obj))
    while parent is not None:
        if parent is pipe:
            return True
        parent = res.parent_of.get(id(parent))
    return False


def _scope_of(res: Resolver, obj: Any) -> tuple[Pipeline, ...]:
    chain = []
    parent = res.parent_of.get(id(obj))
    while parent is not None:
        chain.append(parent)
        parent = res.parent_of.get(id(parent))
    return tuple(reversed(chain))


def _executor_problems(nodes: list[Node], upstream: list[list[int]]) -> list[str]:
    """Check each stage's executor options (availability, batches, producers)."""
    problems: list[str] = []
    for idx, node in enumerate(nodes):
        s = node.stage
        opts = s.options
        qname = node.name
        ex = resolve_executor(opts)
        if ex is not None:
            why = ex.available() or ex.check_stage(s)
            if why:
                shortcut = next(
                    (
                        f"{o}={getattr(opts, o)}: "
                        for o in ("threads", "processes", "interpreters")
                        if opts.executor is None and getattr(opts, o) is not None
                    ),
                    "",
                )
                problems.append(f"stage {qname!r}: {shortcut}{why}")
        if getattr(ex, "spawn", False):
            ups = [nodes[j].stage for j in upstream[idx]]
            if not ups or not all(isinstance(u, Accumulator) for u in ups):
                problems.append(
                    f"stage {qname!r}: {type(ex).__name__} runs one batch per "
                    "child or thread, so the stage must receive batches: put an "
                    "Accumulator before it"
                )
        async_source = ex is not None and ex.kind == "async"
        if (
            isinstance(s, Producer)
            and not async_source
            and (
                ex is not None or opts.threads is not None or opts.processes is not None
            )
        ):
            problems.append(
                f"producer {qname!r} runs in its own thread; executor options "
                "do not apply to producers"
            )
    kinds = {
        n.name: ex.kind
        for n in nodes
        if (ex := resolve_executor(n.stage.options)) is not None
    }
    interp = sorted(k for k, v in kinds.items() if v.endswith("interpreters"))
    forks = sorted(k for k, v in kinds.items() if v in ("processes", "spawn_fork"))
    if interp and forks:
        problems.append(
            f"stages {interp!r} run in subinterpreters and stages {forks!r} in "
            "forked processes; forking while a subinterpreter exists crashes the "
            "child, so one run cannot mix them: use threads= or interpreters= "
            "for the forked stages"
        )
    return problems


def _has_executor(pipe: Pipeline) -> bool:
    opts = pipe.options
    return any(
        v is not None
        for v in (opts.executor, opts.threads, opts.processes, opts.interpreters)
    )


def _mark_inside(
    res: Resolver, region: Pipeline, pipe: Pipeline, out: dict[int, Pipeline]
) -> None:
    """Record every object inside fused *region* (the region itself excluded)."""
    from ._pipeline import Pipeline as _Pipeline  # noqa: PLC0415

    for child in res.infos[id(pipe)].children:
        out[id(child)] = region
        if isinstance(child, _Pipeline):
            _mark_inside(res, region, child, out)


def _router_problems(
    nodes: list[Node], downstream: list[list[int]], edges: list[Edge]
) -> list[str]:
    """Bind every router once, so a bad router fails before anything runs."""
    weights = {(e.src, e.dst): e.weight for e in edges}
    problems = []
    for i, node in enumerate(nodes):
        router = node.stage.options.router
        ds = downstream[i]
        if router is None or len(ds) < 2:
            continue
        try:
            router.bind([_display(nodes, d) for d in ds], [weights[(i, d)] for d in ds])
        except DefinitionError as exc:
            problems.append(f"stage {node.name!r} router: {exc}")
    return problems


def _hook_problems(res: Resolver) -> list[str]:
    """Hooks limited to a stage must name one that exists."""
    from ._hooks import HOOK_EVENTS  # noqa: PLC0415

    problems = []
    for info in res.order:
        for event in HOOK_EVENTS:
            for hook in info.pipe.hooks.for_event(event):
                if hook.stage is None:
                    continue
                _, problem = res.resolve(hook.stage, info.pipe, f"{event} hook stage=")
                if problem:
                    problems.append(problem)
    return problems
