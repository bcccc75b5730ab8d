"""Render a pipeline as a Mermaid flowchart or a plain-text tree (presentation layer).

Both renderers are pure: they validate the pipeline, flatten it with
`Pipeline.graph` and return a string; nothing runs and nothing is printed.

* `to_mermaid` draws a left-to-right ``flowchart``: one node per stage
  (producers ``([...])``, processors ``[...]``, accumulators ``[[...]]``),
  labelled with the stage name and its executor; nested pipelines are
  ``subgraph`` blocks at any depth; the entry node of a nested pipeline with
  several entry stages is a small circle labelled with that pipeline's router;
  a nested pipeline with its own executor (a fused region, run whole in each
  worker) is a subgraph titled with that executor, and the parent's edges
  point at the subgraph itself.
  An edge out of a stage with several downstreams is labelled with the
  stage's router kind (broadcast, the default, has no label), and each edge
  of a `WeightedRouter` with its weight (``w=3``).
* `to_text` writes the same graph as an indented tree of pipelines and stages
  followed by the edge list, for terminals (``minigun graph --format text``).

Output is deterministic: pipelines, stages and edges appear in definition
order (a stage's edges in the order its router sees its downstreams).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

import attrs

from ._pipeline import Pipeline as _Pipeline
from ._region import FusedRegion as _FusedRegion
from ._router import BroadcastRouter as _BroadcastRouter
from ._router import RoundRobinRouter as _RoundRobinRouter
from ._router import Router as _Router
from ._router import WeightedRouter as _WeightedRouter
from ._runtime import _resolve_executor
from ._stage import Accumulator as _Accumulator
from ._stage import Producer as _Producer

if TYPE_CHECKING:
    from ._graph import Graph, Node

__all__ = ("to_mermaid", "to_text")

_INDENT = "    "

# Words the Mermaid flowchart grammar treats as keywords; as node or subgraph
# ids they break the diagram ("end" closes a subgraph), so they get a suffix.
_RESERVED = frozenset(
    {
        "end",
        "graph",
        "flowchart",
        "subgraph",
        "direction",
        "style",
        "class",
        "classdef",
        "click",
        "call",
        "href",
        "linkstyle",
        "default",
        "interpolate",
        "acctitle",
        "accdescr",
    }
)

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_]")
_PLAIN_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Mermaid decodes "#name;" / "#123;" entity codes inside quoted labels; "#"
# itself must be escaped first so user text never forms an entity by accident.
_ESCAPES = (
    ("#", "#35;"),
    ('"', "#quot;"),
    ("<", "#lt;"),
    (">", "#gt;"),
    ("&", "#amp;"),
    ("`", "#96;"),
    ("\r\n", " "),
    ("\n", " "),
    ("\r", " "),
)


def to_mermaid(pipeline: _Pipeline) -> str:
    """Return a Mermaid ``flowchart LR`` of *pipeline*.

    Every leaf stage is a node whose id is its qualified name made safe for
    Mermaid (``inner.parse`` becomes ``inner__parse``; a clash gets a numeric
    suffix, assigned in definition order so ids are stable). Labels read
    ``name<br/>executor`` (``producer`` for producers) and are quoted, with
    ``"``, ``<``, ``>``, ``&``, ``#`` and backticks written as Mermaid entity
    codes. Nested pipelines are ``subgraph`` blocks; the internal entry node
    of a nested pipeline with several entry stages is drawn as a circle
    (``inner__entry(("broadcast"))``) inside its subgraph. A nested pipeline
    with its own executor (a fused region, run whole in each worker) is a
    subgraph titled ``name<br/>executor``; its stages show only their names,
    and the parent's edges point at the subgraph itself.

    Edges follow the nodes. When the source has several downstreams, an edge
    is labelled with the source's router kind (``-- round_robin -->``,
    ``-- key -->``; broadcast, the default, stays unlabelled), and with a
    `_WeightedRouter` each edge carries its effective weight
    (``-- "w=3" -->``), whether it came from the router's name map or from
    ``connect(weight=)``.

    The output uses 4-space indentation and ends with a newline. It is a
    pure function of the pipeline's definition.

    Args:
        pipeline: the pipeline to draw (it is not run).

    Returns:
        The Mermaid source text.

    Raises:
        DefinitionError: the pipeline is invalid (one line per problem).

    Example:
        >>> import minigun as mg
        >>> pipe = mg.Pipeline("etl")
        >>> _ = pipe.add(mg.Producer("numbers", lambda: range(3)))
        >>> _ = pipe.add(mg.Processor("double", lambda n: n * 2, threads=8))
        >>> print(to_mermaid(pipe), end="")
        flowchart LR
            numbers(["numbers<br/>producer"])
            double["double<br/>threads(8)"]
            numbers --> double
    """
    layout = _Layout(pipeline)
    lines = ["flowchart LR"]
    for item in layout.items:
        pad = _INDENT * (item.depth + 1)
        if item.what == "end":
            lines.append(f"{pad}end")
        elif item.what == "node":
            lines.append(pad + _mermaid_node(layout, item.key))
        else:
            title = _escape(item.title)
            if item.what == "region":
                title += "<br/>" + _escape(_executor_of(layout.node(item.key)))
            lines.append(f'{pad}subgraph {item.mermaid_id}["{title}"]')
    for src, dst, label in layout.edges():
        a, b = layout.ids[src], layout.ids[dst]
        if not label:
            lines.append(f"{_INDENT}{a} --> {b}")
        elif _PLAIN_LABEL.fullmatch(label):
            lines.append(f"{_INDENT}{a} -- {label} --> {b}")
        else:
            lines.append(f'{_INDENT}{a} -- "{_escape(label)}" --> {b}')
    return "\n".join(lines) + "\n"


def to_text(pipeline: _Pipeline) -> str:
    """Return *pipeline* as an indented plain-text tree followed by its edges.

    Each line of the tree is ``name (kind, executor)``: pipelines read
    ``name (pipeline)``, producers ``name (producer)``, the internal entry
    node of a nested pipeline with several entry stages ``<entry> (entry,
    router)``, and a fused region (a nested pipeline with its own executor)
    ``name (region, executor)``, its stages without an executor. Children are
    indented by 4 spaces under their pipeline, in definition order. After the
    tree, ``edges:`` lists every edge as ``a -> b`` with qualified names,
    labelled like `to_mermaid` labels them (``[round_robin]``, ``[w=3]``).
    The text ends with a newline.

    Args:
        pipeline: the pipeline to describe (it is not run).

    Returns:
        The text.

    Raises:
        DefinitionError: the pipeline is invalid (one line per problem).

    Example:
        >>> import minigun as mg
        >>> pipe = mg.Pipeline("etl")
        >>> _ = pipe.add(mg.Producer("numbers", lambda: range(3)))
        >>> _ = pipe.add(mg.Processor("double", lambda n: n * 2, threads=8))
        >>> print(to_text(pipe), end="")
        etl (pipeline)
            numbers (producer)
            double (processor, threads(8))
        edges:
            numbers -> double
    """
    layout = _Layout(pipeline)
    lines = [f"{pipeline.name} (pipeline)"]
    for item in layout.items:
        pad = _INDENT * (item.depth + 1)
        if item.what == "pipeline":
            lines.append(f"{pad}{item.title} (pipeline)")
        elif item.what == "region":
            executor = _executor_of(layout.node(item.key))
            lines.append(f"{pad}{item.title} (region, {executor})")
        elif item.what == "node":
            node = layout.node(item.key)
            stage = node.stage
            if node.internal:
                lines.append(f"{pad}<entry> (entry, {_router_of(node).kind})")
            elif isinstance(stage, _Producer) or layout.in_region(item.key):
                lines.append(f"{pad}{stage.name} ({stage.kind})")
            else:
                lines.append(f"{pad}{stage.name} ({stage.kind}, {_executor_of(node)})")
    edges = layout.edges()
    if edges:
        lines.append("edges:")
    for src, dst, label in edges:
        suffix = f" [{label}]" if label else ""
        lines.append(f"{_INDENT}{layout.name(src)} -> {layout.name(dst)}{suffix}")
    return "\n".join(lines) + "\n"


# A node of one of the layout's graphs: (graph number, node index in it).
_Key = tuple[int, int]


@attrs.frozen
class _Item:
    """One line of the tree: a node, the start of a (sub)pipeline, or its end."""

    depth: int
    what: Literal["node", "pipeline", "region", "end"]
    key: _Key = (0, 0)
    """The node (for "node" and "region": the region's node in its parent)."""
    title: str = ""
    """The pipeline's own name (for "pipeline" and "region")."""
    mermaid_id: str = ""
    """The subgraph id (for "pipeline" and "region")."""


class _Layout:
    """The validated graph (and those of fused regions) in drawing order.

    Mermaid ids are assigned while walking, so they depend only on the
    definition order.
    """

    def __init__(self, pipeline: _Pipeline) -> None:
        #: Each graph with the qualified-name prefix of its stages; 0 is the root.
        self.graphs: list[tuple[Graph, str]] = []
        self.items: list[_Item] = []
        #: Mermaid id of every drawn node (a region: its subgraph id).
        self.ids: dict[_Key, str] = {}
        #: Nodes in drawing order; edges are listed by source in this order.
        self.order: list[_Key] = []
        self._regions: set[int] = set()
        self._used: set[str] = set()
        self._walk_graph(pipeline.graph(), pipeline, "", 0)

    def node(self, key: _Key) -> Node:
        """Return the node *key*."""
        return self.graphs[key[0]][0].nodes[key[1]]

    def name(self, key: _Key) -> str:
        """Return the qualified name of node *key* relative to the root."""
        graph, prefix = self.graphs[key[0]]
        return prefix + graph.nodes[key[1]].name

    def in_region(self, key: _Key) -> bool:
        """Whether node *key* runs inside a fused region."""
        return key[0] in self._regions

    def _unique(self, qname: str) -> str:
        base = "__".join(_UNSAFE_ID.sub("_", part) for part in qname.split("."))
        if not base or base.lower() in _RESERVED:
            base += "_"
        candidate, k = base, 2
        while candidate in self._used:
            candidate = f"{base}_{k}"
            k += 1
        self._used.add(candidate)
        return candidate

    def _walk_graph(
        self, graph: Graph, root: _Pipeline, prefix: str, depth: int
    ) -> None:
        g = len(self.graphs)
        self.graphs.append((graph, prefix))
        if depth:
            self._regions.add(g)
        resolver = graph.resolver
        leaf_of: dict[int, int] = {}
        entry_of: dict[int, int] = {}
        region_of: dict[int, tuple[int, _FusedRegion]] = {}
        for i, n in enumerate(graph.nodes):
            if n.internal:
                entry_of[id(n.scope[-1])] = i
            elif isinstance(n.stage, _FusedRegion):
                region_of[id(n.stage.pipeline)] = (i, n.stage)
            else:
                leaf_of[id(n.stage)] = i

        def add_node(i: int, qname: str, depth: int) -> None:
            key = (g, i)
            self.ids[key] = self._unique(qname)
            self.order.append(key)
            self.items.append(_Item(depth, "node", key))

        def walk(pipe: _Pipeline, depth: int) -> None:
            info = resolver.infos[id(pipe)]
            if id(pipe) in entry_of:
                add_node(entry_of[id(pipe)], prefix + info.prefix + "entry", depth)
            for child in info.children:
                qname = prefix + resolver.qname(child)
                if not isinstance(child, _Pipeline):
                    add_node(leaf_of[id(child)], qname, depth)
                    continue
                sid = self._unique(qname)
                if id(child) in region_of:  # one node that runs its own graph
                    i, region = region_of[id(child)]
                    key = (g, i)
                    self.ids[key] = sid
                    self.order.append(key)
                    self.items.append(_Item(depth, "region", key, child.name, sid))
                    self._walk_graph(region.inner, child, qname + ".", depth + 1)
                else:
                    self.items.append(
                        _Item(depth, "pipeline", title=child.name, mermaid_id=sid)
                    )
                    walk(child, depth + 1)
                self.items.append(_Item(depth, "end"))

        walk(root, depth)

    def edges(self) -> list[tuple[_Key, _Key, str]]:
        """Return ``(src, dst, label)`` per edge, grouped by source in draw order."""
        out: list[tuple[_Key, _Key, str]] = []
        for g, src in self.order:
            graph = self.graphs[g][0]
            dsts = graph.downstream[src]
            labels = [""] * len(dsts)
            if len(dsts) > 1:
                router = _router_of(graph.nodes[src])
                weights = [graph.weight(src, d) for d in dsts]
                if isinstance(router, _WeightedRouter):
                    names = [graph.nodes[d].name for d in dsts]
                    resolved = router.resolve(names, weights)
                    labels = [f"w={_number(w)}" for w in resolved]
                else:
                    labels = [router.label(weights)] * len(dsts)
            out.extend(
                ((g, src), (g, d), lab) for d, lab in zip(dsts, labels, strict=True)
            )
        return out


def _mermaid_node(layout: _Layout, key: _Key) -> str:
    """Return the Mermaid declaration of node *key* (id, shape and label)."""
    node = layout.node(key)
    nid = layout.ids[key]
    if node.internal:
        return f'{nid}(("{_escape(_router_of(node).kind)}"))'
    stage = node.stage
    name = _escape(stage.name)
    if isinstance(stage, _Producer):
        return f'{nid}(["{name}<br/>producer"])'
    # Inside a fused region every stage runs in the region's worker.
    label = name
    if not layout.in_region(key):
        label += "<br/>" + _escape(_executor_of(node))
    if isinstance(stage, _Accumulator):
        return f'{nid}[["{label}"]]'
    return f'{nid}["{label}"]'


def _router_of(node: Node) -> _Router:
    """Return the router the runtime uses for *node*'s downstreams."""
    opts = node.stage.options
    if opts.router is not None:
        return opts.router
    if opts.routing == "round_robin":
        return _RoundRobinRouter()
    return _BroadcastRouter()


def _executor_of(node: Node) -> str:
    """Describe the executor the runtime will give *node* (``"threads(8)"``)."""
    return _resolve_executor(node.stage).describe()


def _number(value: float) -> str:
    """Format a weight without a needless ``.0``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _escape(text: str) -> str:
    """Make *text* safe inside a double-quoted Mermaid label."""
    for old, new in _ESCAPES:
        text = text.replace(old, new)
    return text
