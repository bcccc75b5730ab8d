"""Render a pipeline as a Mermaid flowchart or a plain-text tree (presentation layer).

Both renderers are pure: they validate the pipeline, flatten it with
`Pipeline.graph` and return a string; nothing runs and nothing is printed.

* `to_mermaid` draws a left-to-right ``flowchart``: one node per stage
  (producers ``([...])``, processors ``[...]``, accumulators ``[[...]]``),
  labelled with the stage name and its executor; nested pipelines are
  ``subgraph`` blocks at any depth; the entry node of a nested pipeline with
  several entry stages is a small circle labelled with that pipeline's router.
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
from typing import TYPE_CHECKING, Any

from ._pipeline import Pipeline
from ._router import BroadcastRouter, RoundRobinRouter, Router, WeightedRouter
from ._runtime import _resolve_executor
from ._stage import Accumulator, Producer

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


def to_mermaid(pipeline: Pipeline) -> str:
    """Return a Mermaid ``flowchart LR`` of *pipeline*.

    Every leaf stage is a node whose id is its qualified name made safe for
    Mermaid (``inner.parse`` becomes ``inner__parse``; a clash gets a numeric
    suffix, assigned in definition order so ids are stable). Labels read
    ``name<br/>executor`` (``producer`` for producers) and are quoted, with
    ``"``, ``<``, ``>``, ``&``, ``#`` and backticks written as Mermaid entity
    codes. Nested pipelines are ``subgraph`` blocks; the internal entry node
    of a nested pipeline with several entry stages is drawn as a circle
    (``inner__entry(("broadcast"))``) inside its subgraph.

    Edges follow the nodes. When the source has several downstreams, an edge
    is labelled with the source's router kind (``-- round_robin -->``,
    ``-- key -->``; broadcast, the default, stays unlabelled), and with a
    `WeightedRouter` each edge carries its effective weight
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
    for depth, kind, ref in layout.items:
        pad = _INDENT * (depth + 1)
        if kind == "enter":
            pipe: Pipeline = ref
            sid = layout.subgraph_ids[id(pipe)]
            lines.append(f'{pad}subgraph {sid}["{_escape(pipe.name)}"]')
        elif kind == "exit":
            lines.append(f"{pad}end")
        else:
            lines.append(pad + _mermaid_node(layout, ref))
    for src, dst, label in layout.edges():
        a, b = layout.node_ids[src], layout.node_ids[dst]
        if not label:
            lines.append(f"{_INDENT}{a} --> {b}")
        elif _PLAIN_LABEL.fullmatch(label):
            lines.append(f"{_INDENT}{a} -- {label} --> {b}")
        else:
            lines.append(f'{_INDENT}{a} -- "{_escape(label)}" --> {b}')
    return "\n".join(lines) + "\n"


def to_text(pipeline: Pipeline) -> str:
    """Return *pipeline* as an indented plain-text tree followed by its edges.

    Each line of the tree is ``name (kind, executor)``: pipelines read
    ``name (pipeline)``, producers ``name (producer)``, and the internal entry
    node of a nested pipeline with several entry stages ``<entry> (entry,
    router)``. Children are indented by 4 spaces under their pipeline, in
    definition order. After the tree, ``edges:`` lists every edge as
    ``a -> b`` with qualified names, labelled like `to_mermaid` labels them
    (``[round_robin]``, ``[w=3]``). The text ends with a newline.

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
    for depth, kind, ref in layout.items:
        pad = _INDENT * (depth + 1)
        if kind == "enter":
            lines.append(f"{pad}{ref.name} (pipeline)")
        elif kind == "node":
            node = layout.graph.nodes[ref]
            if node.internal:
                lines.append(f"{pad}<entry> (entry, {_router_of(node).kind})")
            elif isinstance(node.stage, Producer):
                lines.append(f"{pad}{node.stage.name} (producer)")
            else:
                what = f"{node.stage.kind}, {_executor_of(node)}"
                lines.append(f"{pad}{node.stage.name} ({what})")
    edges = layout.edges()
    if edges:
        lines.append("edges:")
    names = layout.graph.names
    for src, dst, label in edges:
        suffix = f" [{label}]" if label else ""
        lines.append(f"{_INDENT}{names[src]} -> {names[dst]}{suffix}")
    return "\n".join(lines) + "\n"


class _Layout:
    """The validated graph in render order, with Mermaid ids assigned."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.graph: Graph = pipeline.graph()
        graph = self.graph
        resolver = graph.resolver
        leaf_of = {id(n.stage): i for i, n in enumerate(graph.nodes) if not n.internal}
        entry_of = {id(n.scope[-1]): i for i, n in enumerate(graph.nodes) if n.internal}
        #: ``(depth, "enter"|"exit"|"node", pipeline or node index)`` in order.
        self.items: list[tuple[int, str, Any]] = []
        self.node_ids: dict[int, str] = {}
        self.subgraph_ids: dict[int, str] = {}
        #: Node indices in the order they are drawn (edges follow it).
        self.order: list[int] = []
        used: set[str] = set()

        def unique(qname: str) -> str:
            base = "__".join(_UNSAFE_ID.sub("_", part) for part in qname.split("."))
            if not base or base.lower() in _RESERVED:
                base += "_"
            candidate, k = base, 2
            while candidate in used:
                candidate = f"{base}_{k}"
                k += 1
            used.add(candidate)
            return candidate

        def walk(pipe: Pipeline, depth: int) -> None:
            info = resolver.infos[id(pipe)]
            if id(pipe) in entry_of:
                idx = entry_of[id(pipe)]
                self.node_ids[idx] = unique(info.prefix + "entry")
                self.order.append(idx)
                self.items.append((depth, "node", idx))
            for child in info.children:
                if isinstance(child, Pipeline):
                    self.subgraph_ids[id(child)] = unique(resolver.qname(child))
                    self.items.append((depth, "enter", child))
                    walk(child, depth + 1)
                    self.items.append((depth, "exit", child))
                else:
                    idx = leaf_of[id(child)]
                    self.node_ids[idx] = unique(graph.nodes[idx].name)
                    self.order.append(idx)
                    self.items.append((depth, "node", idx))

        walk(pipeline, 0)

    def edges(self) -> list[tuple[int, int, str]]:
        """Return ``(src, dst, label)`` per edge, grouped by source in draw order."""
        graph = self.graph
        out: list[tuple[int, int, str]] = []
        for src in self.order:
            dsts = graph.downstream[src]
            labels = [""] * len(dsts)
            if len(dsts) > 1:
                router = _router_of(graph.nodes[src])
                weights = [graph.weight(src, d) for d in dsts]
                if isinstance(router, WeightedRouter):
                    names = [graph.nodes[d].name for d in dsts]
                    resolved = router.resolve(names, weights)
                    labels = [f"w={_number(w)}" for w in resolved]
                else:
                    labels = [router.label(weights)] * len(dsts)
            out.extend((src, d, lab) for d, lab in zip(dsts, labels, strict=True))
        return out


def _mermaid_node(layout: _Layout, idx: int) -> str:
    """Return the Mermaid declaration of node *idx* (id, shape and label)."""
    node = layout.graph.nodes[idx]
    nid = layout.node_ids[idx]
    if node.internal:
        return f'{nid}(("{_escape(_router_of(node).kind)}"))'
    stage = node.stage
    name = _escape(stage.name)
    if isinstance(stage, Producer):
        return f'{nid}(["{name}<br/>producer"])'
    label = f"{name}<br/>{_escape(_executor_of(node))}"
    if isinstance(stage, Accumulator):
        return f'{nid}[["{label}"]]'
    return f'{nid}["{label}"]'


def _router_of(node: Node) -> Router:
    """Return the router the runtime uses for *node*'s downstreams."""
    opts = node.stage.options
    if opts.router is not None:
        return opts.router
    if opts.routing == "round_robin":
        return RoundRobinRouter()
    return BroadcastRouter()


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
