"""Fused regions: a nested pipeline run whole inside each worker (model layer).

A nested pipeline given an executor (``Pipeline("decode", processes=4)``)
becomes one stage of its parent's graph, a `FusedRegion`. Each worker of
that stage holds a copy of the whole sub-graph and pushes every item through
it in the worker's own thread: values passed between the inner stages never
cross a process boundary, so they need not be picklable; only what enters
and leaves the region does. Inner accumulators keep their batches per
worker and flush when the region's input closes.

Inner stages run one item at a time in topological order; an error in any
of them fails the item that entered the region, which then follows the
region's retry and error policy. Items routed with `To` to an inner stage
stay inside; others leave the region and are routed by the parent.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, final

import attrs

from ._router import BroadcastRouter, RoundRobinRouter
from ._stage import Kernel, Processor, Producer
from .errors import DefinitionError, RoutingError

if TYPE_CHECKING:
    from ._graph import Graph  # noqa: TC004 - annotations are never resolved
    from ._pipeline import Pipeline  # noqa: TC004 - annotations are never resolved
    from ._router import BoundRouter
    from ._signals import To

__all__ = ("FLUSH", "FusedRegion", "RegionKernel")


@final
class _Flush:
    """The unit that tells a region kernel to flush its inner batches."""

    _instance: _Flush | None = None

    def __new__(cls) -> _Flush:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Flush, ())

    def __repr__(self) -> str:
        return "<flush>"


FLUSH = _Flush()


@attrs.define(eq=False, init=False, repr=False, getstate_setstate=False)
class FusedRegion(Processor[Any, Any]):  # type: ignore[override]
    """Internal stage standing for a nested pipeline run whole in each worker."""

    kind = "region"

    pipeline: Pipeline
    inner: Graph

    def __init__(self, pipeline: Pipeline, inner: Graph) -> None:
        """Wrap *pipeline*, whose validated stand-alone graph is *inner*."""
        opts = pipeline.options
        self.pipeline = pipeline
        self.inner = inner
        super().__init__(
            pipeline.name,
            None,
            executor=opts.executor,
            threads=opts.threads,
            processes=opts.processes,
            interpreters=opts.interpreters,
            ordered=opts.ordered,
            item_timeout=opts.item_timeout,
            dead_letter=opts.dead_letter,
            before_fork=opts.before_fork,
            after_fork=opts.after_fork,
        )

    def requires_callable(self) -> bool:
        """A region runs its sub-graph, not a function."""
        return False

    def setup(self) -> None:
        """Set up every inner stage (in the worker)."""
        for node in self.inner.nodes:
            node.stage.setup()

    def teardown(self) -> None:
        """Tear down every inner stage (in the worker), last first."""
        for node in reversed(self.inner.nodes):
            node.stage.teardown()

    def kernel(
        self,
        out: list[Any] | None = None,
        tos: list[Any] | None = None,
        *,
        spill: Any = None,
        spill_at: int = 1024,
    ) -> Kernel:
        """Build a `RegionKernel` over a fresh copy of the sub-graph's kernels."""
        del spill, spill_at
        out = [] if out is None else out
        tos = out if tos is None else tos
        return RegionKernel(self, out, tos)


def region_problems(pipeline: Pipeline, inner: Graph) -> list[str]:
    """Return what a fused region may not contain (producers)."""
    return [
        f"fused region {pipeline.name!r}: producer {node.name!r} cannot run "
        "inside a region with its own executor; move it out"
        for node in inner.nodes
        if isinstance(node.stage, Producer)
    ]


class RegionKernel(Kernel):
    """Runs every item through a fused region's sub-graph.

    ``admit(item)`` wraps the item as its own unit; ``drain()`` returns the
    `FLUSH` unit, which flushes inner accumulators. ``inner_stats`` maps each
    inner stage's name (relative to the region) to ``[items_in, items_out,
    busy_time]``, for the report.
    """

    __slots__ = (
        "_downstream",
        "_entries",
        "_entry_router",
        "_graph",
        "_kernels",
        "_order",
        "_routers",
        "inner_stats",
    )

    def __init__(self, stage: FusedRegion, out: list[Any], tos: list[Any]) -> None:
        super().__init__(stage, self._run, out, tos)
        self.batching = True
        graph = stage.inner
        self._graph = graph
        n = len(graph.nodes)
        self._kernels = [node.stage.kernel([], []) for node in graph.nodes]
        self._order = {idx: pos for pos, idx in enumerate(graph.order)}
        self._downstream = graph.downstream
        self._routers: list[BoundRouter | None] = [None] * n
        for i in range(n):
            ds = graph.downstream[i]
            if len(ds) > 1:
                opts = graph.nodes[i].stage.options
                router = opts.router or (
                    RoundRobinRouter()
                    if opts.routing == "round_robin"
                    else BroadcastRouter()
                )
                names = [graph.nodes[d].name for d in ds]
                self._routers[i] = router.bind(names, [graph.weight(i, d) for d in ds])
        self._entries = [
            i for i in range(n) if not graph.upstream[i] and not graph.nodes[i].internal
        ] or [i for i in range(n) if not graph.upstream[i]]
        self._entry_router: BoundRouter | None = None
        if len(self._entries) > 1:
            popts = stage.pipeline.options
            router = popts.router or (
                RoundRobinRouter()
                if popts.routing == "round_robin"
                else BroadcastRouter()
            )
            names = [graph.nodes[e].name for e in self._entries]
            self._entry_router = router.bind(names, [None] * len(names))
        self.inner_stats: dict[str, list[float]] = {
            node.name: [0, 0, 0.0] for node in graph.nodes if not node.internal
        }

    def admit(self, item: Any) -> list[Any] | None:
        """Every item is its own unit (wrapped, so ``None`` items survive)."""
        return [item]

    def drain(self) -> list[list[Any]]:
        """Return the unit that flushes inner batches."""
        return [FLUSH]  # type: ignore[list-item]

    def _run(self, unit: Any) -> None:
        pending: dict[int, list[Any]] = {}
        if unit is FLUSH:
            self._flush(pending)
        elif self._entry_router is None:
            for e in self._entries:
                pending[e] = [unit[0]]
        else:
            for lane in self._entry_router.route(unit[0]):
                pending[self._entries[lane]] = [unit[0]]
        self._pump(pending)

    def _flush(self, pending: dict[int, list[Any]]) -> None:
        for i in self._graph.order:
            k = self._kernels[i]
            if not k.batching:
                continue
            batches = k.drain()
            for b in batches:
                k.run(b)
            self._collect(i, pending)
            self._pump(pending)

    def _pump(self, pending: dict[int, list[Any]]) -> None:
        order = self._order
        nodes = self._graph.nodes
        while pending:
            i = min(pending, key=order.__getitem__)
            items = pending.pop(i)
            k = self._kernels[i]
            t0 = time.perf_counter()
            if k.batching:
                for x in items:
                    batch = k.admit(x)
                    if batch is not None:
                        k.run(batch)
            else:
                for x in items:
                    k.run(x)
            stats = self.inner_stats.get(nodes[i].name)
            if stats is not None:
                stats[0] += len(items)
                stats[2] += time.perf_counter() - t0
            self._collect(i, pending)

    def _collect(self, i: int, pending: dict[int, list[Any]]) -> None:
        k = self._kernels[i]
        outs = k.out[:]
        k.out.clear()
        routed = k.tos[:]
        k.tos.clear()
        stats = self.inner_stats.get(self._graph.nodes[i].name)
        if stats is not None:
            stats[1] += len(outs) + len(routed)
        for t in routed:
            target = self._inner_target(t, i)
            if target is None:
                self.tos.append(t)
            else:
                pending.setdefault(target, []).append(t.item)
        if not outs:
            return
        ds = self._downstream[i]
        if not ds:
            # As for nested pipelines without an executor: a stage with
            # to=() is not an exit of the region.
            if self._graph.nodes[i].stage.options.to != ():
                self.out.extend(outs)
        elif len(ds) == 1:
            pending.setdefault(ds[0], []).extend(outs)
        else:
            router = self._routers[i]
            if router is None:  # pragma: no cover - set for every fan-out
                msg = "fan-out without a router"
                raise DefinitionError(msg)
            for d, lane in zip(ds, router.route_chunk(outs), strict=True):
                if lane:
                    pending.setdefault(d, []).extend(lane)

    def _inner_target(self, t: To, sender: int) -> int | None:
        try:
            return self._graph.route_target(t.target, sender)
        except RoutingError:
            return None
