"""The runtime: drives a validated graph (runtime layer).

Structure of a run
------------------
* One `StageRunner` per stage: its input `Queue`, resolved options, router,
  hooks snapshot and per-worker counters.
* Runners are grouped into *segments*. A segment is a chain of stages run by
  the same thread(s): a producer or a non-fusable stage at its head, followed
  by inline stages that have exactly one upstream (the previous member) and
  whose upstream has exactly one downstream. Items pass along a segment as
  plain lists (no queue, no thread switch); the member queues only receive
  items routed with `To` and are served by the same thread.
* A thread pool stage is a segment of one member with several workers.

All queues of a run share one lock. Items are counted where they are (in a
queue, or in flight in a segment's worker) under that lock, which makes the
end-of-stream rule of SPEC §2.8 a consistent check: a stage's input closes
when its static upstreams have finished and every stage that is not its
static descendant has finished or is idle. Closing happens one stage at a
time, in topological order (a closed stage is busy until it finished).

Fail fast: the first error cancels every queue; every blocked put or get
wakes with `Cancelled`, so no thread can stay blocked on a full queue.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Sized
from typing import TYPE_CHECKING, Any, Literal

from loguru import logger

from ._hooks import Hook, call_hook, make_hook
from ._policy import RetryPolicy, run_with_retries
from ._queue import Cancelled, Queue
from ._region import FusedRegion
from ._report import RunReport, StageStatistics
from ._router import BroadcastRouter, RoundRobinRouter
from ._signals import Failed, To
from ._stage import (
    Accumulator,
    Kernel,
    Producer,
    Stage,
    _Unset,
    iterate_source,
    resolve_executor,
)
from ._stats import Counters, percentile
from .errors import (
    EndOfStream,
    HookError,
    MinigunError,
    PipelineError,
    RoutingError,
    StageError,
    WouldBlock,
    _short_repr,
)
from .executors import Executor, InlineExecutor

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ._config import Config
    from ._graph import Graph, Node
    from ._pipeline import Pipeline
    from .executors._base import RemoteWorker

__all__ = ("RunHandle", "Runtime", "StageRunner")

_log = logger.bind(component="runtime")

# Micro-batches grow while they take less than _FAST seconds, shrink past _SLOW.
_FAST = 0.005
_SLOW = 0.05
# Batches up to this size check for a cancel before every item; larger ones
# only exist while items are fast, so they end within ~_SLOW seconds anyway.
_CHECKED_BATCH = 32

#: Results of `Runtime.step`.
DONE, WORKED, IDLE = 0, 1, 2


class _Segment:
    """Stages run by the same thread(s); see the module docstring."""

    __slots__ = (
        "chunk",
        "cond",
        "exits",
        "head",
        "in_flight",
        "max_chunk",
        "members",
        "name",
        "rt",
        "workers",
        "workers_alive",
    )

    def __init__(self, rt: Runtime, head: StageRunner) -> None:
        self.rt = rt
        self.head = head
        self.members: list[StageRunner] = [head]
        self.cond = threading.Condition(rt.lock)
        self.in_flight = 0
        self.workers = 1
        self.workers_alive = 0
        self.exits: list[Queue[Any]] = []
        self.name = head.name
        self.max_chunk = rt.chunk_size
        #: The current micro-batch size (see `adapt`).
        self.chunk = 1

    def adapt(self, n: int, seconds: float) -> None:
        """Size the next micro-batch from how long this one took.

        Batches double while they take under 5 ms and halve past 50 ms, so a
        fast stream moves in large batches while a slow one (a slow source, a
        slow fused stage) hands each item on at once.
        """
        if seconds < _FAST and n >= self.chunk:
            self.chunk = min(self.max_chunk, self.chunk * 2)
        elif seconds > _SLOW and self.chunk > 1:
            self.chunk = max(1, self.chunk // 2)

    def idle(self) -> bool:
        """No item is queued for, or held by, any member (lock held)."""
        if self.in_flight:
            return False
        return all(m.queue is None or not m.queue._items for m in self.members)  # noqa: SLF001

    def exit_free(self) -> int:
        """Free room in the queues this segment feeds (approximate, no lock)."""
        free = 1 << 30
        for q in self.exits:
            f = q.free()
            free = min(free, f)
        return free


class _Worker:
    """State of one worker of a segment: kernels and counters per member."""

    __slots__ = (
        "blocked",
        "counters",
        "flushed",
        "index",
        "it",
        "kernels",
        "remote",
        "set_up",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        #: Where units run when not in this thread (a forked worker, ...).
        self.remote: RemoteWorker | None = None
        self.kernels: dict[int, Kernel] = {}
        self.counters: dict[int, Counters] = {}
        self.set_up: list[StageRunner] = []
        self.it: Iterator[Any] | None = None
        #: Fused regions this worker has flushed (each worker flushes its own).
        self.flushed: set[int] = set()
        #: Seconds this worker spent blocked on full queues (all stages).
        self.blocked = 0.0


class StageRunner:
    """The runtime side of one stage (what an `Executor` drives).

    Executors call `spawn_workers`; lower-level executors use `take` and
    `complete` to move batches themselves.
    """

    def __init__(self, rt: Runtime, idx: int, node: Node) -> None:
        stage = node.stage
        cfg = rt.config_of(node.scope)
        opts = stage.options
        self.rt = rt
        self.idx = idx
        self.node = node
        self.stage = stage
        self.name = node.name
        self.internal = node.internal
        self.is_producer = isinstance(stage, Producer)
        self.region = isinstance(stage, FusedRegion)
        self.batching = isinstance(stage, Accumulator) or self.region
        self.flushes = 0

        self.executor: Executor = _resolve_executor(stage)
        #: Units run on a remote worker (a process, a loop) instead of here.
        self.uses_remote = (
            hasattr(self.executor, "remote_worker")
            and not self.is_producer
            and not rt.deterministic
        )
        self.workers = self.executor.workers
        self.max_retries = (
            cfg.max_retries if opts.max_retries is None else opts.max_retries
        )
        self.retry_delay = (
            cfg.retry_delay if opts.retry_delay is None else opts.retry_delay
        )
        self.retry_backoff = (
            cfg.retry_backoff if opts.retry_backoff is None else opts.retry_backoff
        )
        self.retry_on: tuple[type[BaseException], ...] = opts.retry_on or (Exception,)
        self.policy = RetryPolicy(
            self.max_retries, self.retry_delay, self.retry_backoff, self.retry_on
        )
        self.on_error: Any = cfg.on_error if opts.on_error is None else opts.on_error
        self.ordered = opts.ordered and self.workers > 1
        qs = opts.queue_size
        self.queue_size: int | None = (
            cfg.queue_size if isinstance(qs, _Unset) else qs
        ) or None
        if rt.deterministic:
            self.queue_size = None
        self.queue: Queue[Any] | None = None
        self.downstream: list[StageRunner] = []
        self.router: Any = None
        self.fused_next: StageRunner | None = None
        self.segment: _Segment
        self.upstream_open = 0
        self.input_closed = False
        self.finishing = False
        self.finished = False
        self.triggered = opts.auto_start
        self.total: int | None = getattr(stage, "total", None)
        self.nondesc: list[StageRunner] = []
        #: `To` targets resolved for this sender, by name (or id of a Stage).
        self.route_cache: dict[Any, StageRunner] = {}
        self.dead_letter: StageRunner | None = None
        self.counters: list[Counters] = []
        self.before_stage: tuple[Hook, ...] = ()
        self.after_stage: tuple[Hook, ...] = ()
        self.on_error_hooks: tuple[Hook, ...] = ()
        self.before_fork: tuple[Hook, ...] = ()
        self.after_fork: tuple[Hook, ...] = ()
        #: Spawn executors take one unit at a time.
        self.take_one = bool(getattr(self.executor, "spawn", False))
        self.topo = 0
        # ordered output of multi-worker stages
        self._seq_take = 0
        self._seq_commit = 0
        self._pending: dict[int, list[Any]] = {}
        self._order_lock = threading.Lock()
        self._batch_lock = threading.Lock()
        self._shared_kernel: Kernel | None = None
        #: Statistics of a fused region's inner stages, per worker kernel.
        self.inner_parts: dict[tuple[str, int, int], dict[str, list[float]]] = {}

    def __repr__(self) -> str:
        return f"<StageRunner {self.name!r}>"

    # -- API for executors ---------------------------------------------------

    def spawn_workers(self, n: int) -> None:
        """Run *n* standard worker loops of this stage's segment, one per thread."""
        seg = self.segment
        seg.workers = n
        for i in range(n):
            self.rt.spawn(seg, i)

    # -- status --------------------------------------------------------------

    def status(self) -> str:
        """Return ``pending``/``running``/``closing``/``finished``."""
        if self.finished:
            return "finished"
        if self.input_closed:
            return "closing"
        if self.is_producer and not self.triggered:
            return "pending"
        return "running"

    def busy(self) -> bool:
        """Whether this stage could still emit without new input (lock held)."""
        if self.finished:
            return False
        if self.is_producer or (self.input_closed and not self.finished):
            return True
        return not self.segment.idle()

    # -- item handling (outside the lock) -------------------------------------

    def kernel_for(self, w: _Worker) -> Kernel:
        """Return (building on first use) worker *w*'s kernel of this stage."""
        k = w.kernels.get(self.idx)
        if k is None:
            spill = None
            if self.max_retries == 0 and not self.batching:
                spill = self._make_spill(w)
            k = self.stage.kernel([], [], spill=spill, spill_at=self.rt.chunk_size)
            inner = getattr(k, "inner_stats", None)
            if inner is not None:
                with self.rt.lock:
                    self.inner_parts[("local", w.index, id(k))] = inner
            if self.batching and self.workers > 1 and not self.region:
                with self._batch_lock:
                    if self._shared_kernel is None:
                        self._shared_kernel = k
                    else:  # share the batches so max_size holds across workers
                        k._buffers = self._shared_kernel._buffers  # type: ignore[attr-defined]  # noqa: SLF001
                        k._first_at = self._shared_kernel._first_at  # type: ignore[attr-defined]  # noqa: SLF001
            w.kernels[self.idx] = k
        return k

    def _make_spill(self, w: _Worker) -> Callable[[], None]:
        def spill() -> None:
            k = w.kernels[self.idx]
            out = k.out[:]
            k.out.clear()
            c = w.counters[self.idx]
            c.items_out += len(out)
            self.forward(out, w)

        return spill

    def handle(self, items: list[Any], w: _Worker) -> list[Any]:
        """Run the stage on *items*; route `To` outputs; return the other outputs."""
        k = self.kernel_for(w)
        c = w.counters[self.idx]
        if self.uses_remote and w.remote is not None:
            units = items
            if k.batching:
                units = [b for b in (self._admit(k, x) for x in items) if b is not None]
            c.items_in += len(items)
            if units:
                self.run_remote(units, k, c, w.remote)
            return self.collect(k, c)
        perf = time.perf_counter
        t0 = perf()
        run = k.run
        rt = self.rt
        if not k.batching:
            if len(items) <= _CHECKED_BATCH:
                # Small batches mean slow items (batch sizes adapt to time):
                # check for a cancel before each one, so it never waits long.
                for x in items:
                    if rt.cancelled:
                        raise Cancelled
                    try:
                        run(x)
                    except Exception as exc:
                        self.recover(x, exc, k=k, c=c)
            else:
                k.run_many(items, functools.partial(self.recover, k=k, c=c))
        else:
            admit = k.admit
            if self.workers > 1:
                for x in items:
                    with self._batch_lock:
                        batch = admit(x)
                    if batch is not None:
                        self.run_unit(batch, k, c)
            else:
                for x in items:
                    batch = admit(x)
                    if batch is not None:
                        self.run_unit(batch, k, c)
        dt = perf() - t0
        n = len(items)
        c.items_in += n
        c.busy_time += dt
        c.sample(dt / n)
        return self.collect(k, c)

    def _admit(self, k: Kernel, item: Any) -> list[Any] | None:
        if self.workers > 1:
            with self._batch_lock:
                return k.admit(item)
        return k.admit(item)

    def run_remote(
        self, units: list[Any], k: Kernel, c: Counters, remote: RemoteWorker
    ) -> None:
        """Run *units* on *remote*; outputs land in the kernel's lists."""
        result = remote.run_units(units)
        if result.inner is not None:
            with self.rt.lock:
                # Cumulative per worker process: the newest replaces the last.
                self.inner_parts[("remote", id(remote), 0)] = result.inner
        k.out.extend(result.out)
        k.tos.extend(result.tos)
        c.add(result.counters)
        for unit, error in result.failures:
            self.fail_item(unit, error)

    def collect(self, k: Kernel, c: Counters) -> list[Any]:
        """Take what the kernel emitted; route `To` signals now."""
        out = k.out
        res = out[:]
        out.clear()
        c.items_out += len(res)
        if k.tos:
            tos = k.tos[:]
            k.tos.clear()
            c.items_out += len(tos)
            c.items_routed += len(tos)
            self.rt.route_tos(self, tos)
        return res

    def run_unit(self, unit: Any, k: Kernel, c: Counters) -> None:
        """Run one unit (an item, or a batch) under the error policy."""
        try:
            k.run(unit)
        except Exception as exc:
            self.recover(unit, exc, k=k, c=c)

    def recover(self, item: Any, exc: Exception, *, k: Kernel, c: Counters) -> None:
        """Retry *item* under the stage's policy, then hand it to ``on_error``."""
        error = run_with_retries(k.run, item, self.policy, c, self.rt.sleep, exc)
        if error is not None:
            self.fail_item(item, error)

    def fail_item(self, item: Any, error: BaseException) -> None:
        """Apply on_error hooks and the error policy to a failed item."""
        if self.region:
            # A region's unit wraps the item that entered it ([item]); the
            # final flush has no item.
            item = item[0] if isinstance(item, list) and len(item) == 1 else None
        for hook in self.on_error_hooks:
            if hook.matches(error):
                try:
                    call_hook(
                        hook,
                        error=error,
                        item=item,
                        stage=self.name,
                        pipeline=self.rt.pipeline,
                    )
                except Exception:
                    _log.opt(exception=True).warning(
                        "on_error hook {hook} of stage {stage} raised; ignored",
                        hook=hook.describe(),
                        stage=self.name,
                    )
        if self.dead_letter is not None:
            self.rt.deliver(self, self.dead_letter, [Failed(item, error, self.name)])
            return
        policy = self.on_error
        if policy == "skip":
            _log.debug(
                "stage {stage} skipped a failed item: {error!r}",
                stage=self.name,
                error=error,
            )
            return
        if callable(policy):
            try:
                policy(item, error)
            except Exception as hook_exc:
                self.rt.fail(
                    HookError("on_error", _fn_name(policy), hook_exc, self.name)
                )
                raise Cancelled from hook_exc
            return
        item_repr = None if self.is_producer else _short_repr(item)
        self.rt.fail(StageError(self.name, item_repr, error))
        raise Cancelled from error

    def forward(self, out: list[Any], w: _Worker) -> None:
        """Send *out* on: through the fused chain, or into downstream queues."""
        node: StageRunner = self
        items = out
        while items:
            nxt = node.fused_next
            if nxt is None:
                node.emit(items, w)
                return
            items = nxt.handle(items, w)
            node = nxt

    def emit(self, items: list[Any], w: _Worker) -> None:
        """Put *items* into the downstream queues through the router."""
        ds = self.downstream
        if not ds:
            return
        c = w.counters[self.idx]
        if len(ds) == 1:
            blocked = self.rt.put(self, ds[0], items)
        else:
            blocked = 0.0
            lanes = self.router.route_chunk(items)
            for d, lane in zip(ds, lanes, strict=True):
                if lane:
                    blocked += self.rt.put(self, d, lane)
        c.blocked_time += blocked
        w.blocked += blocked

    # -- ordered output ---------------------------------------------------------

    def commit(self, seq: int, out: list[Any], w: _Worker) -> None:
        """Forward *out* (batch number *seq*) once every earlier batch went."""
        with self._order_lock:
            self._pending[seq] = out
            while self._seq_commit in self._pending:
                ready = self._pending.pop(self._seq_commit)
                self.forward(ready, w)
                self._seq_commit += 1
        with self.rt.lock:
            self.segment.cond.notify_all()


def _edge_name(r: StageRunner) -> str:
    """The name a router sees for a downstream: a nested pipeline's own name."""
    return r.name.removesuffix(".<entry>") if r.internal else r.name


def _share(limit: int, group: list[StageRunner]) -> list[int]:
    """Split *limit* workers over *group*: one each, the rest by request."""
    spare = max(0, limit - len(group))
    extra = [r.workers - 1 for r in group]
    total_extra = sum(extra) or 1
    shares = [e * spare / total_extra for e in extra]
    given = [int(x) for x in shares]
    left = spare - sum(given)
    by_remainder = sorted(
        range(len(group)), key=lambda i: shares[i] - given[i], reverse=True
    )
    for i in by_remainder[:left]:
        given[i] += 1
    return [min(r.workers, 1 + g) for r, g in zip(group, given, strict=True)]


def _limit_kind(executor: Executor) -> str | None:
    """Which scoped limit (SPEC §4) an executor's workers count against."""
    if executor.kind in ("threads", "spawn_thread"):
        return "threads"
    if executor.kind in ("processes", "spawn_fork"):
        return "processes"
    if executor.kind in ("interpreters", "spawn_interpreter"):
        return "interpreters"
    return None


def _fn_name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _resolve_executor(stage: Stage[Any, Any]) -> Executor:
    ex = resolve_executor(stage.options)
    if ex is None:
        return InlineExecutor()
    if not isinstance(ex, Executor):  # pragma: no cover - user subclass of the model
        msg = f"stage {stage.name!r}: executor must be a minigun Executor"
        raise MinigunError(msg)
    return ex


def _stage_hooks(
    rt: Runtime, node: Node, event: str, inline: tuple[Any, ...]
) -> tuple[Hook, ...]:
    """Return the hooks of *event* for one stage, in call order.

    Each enclosing pipeline's, outermost first (all-stage hooks, then those
    naming the stage), then the stage's own.
    """
    if node.internal:
        return ()
    hooks: list[Hook] = []
    resolver = rt.graph.resolver
    for pipe in node.scope:
        chain = pipe.hooks.for_event(event)
        hooks += [h for h in chain if h.stage is None]
        prefix = resolver.qnames.get(id(pipe), "")
        prefix = prefix + "." if pipe is not rt.pipeline else ""
        local = node.name.removeprefix(prefix)
        hooks += [h for h in chain if h.stage in (local, node.name)]
    hooks += [make_hook(event, fn, node.name) for fn in inline]
    return tuple(hooks)


class Runtime:
    """One run of a pipeline: threads, queues, end-of-stream and errors."""

    def __init__(
        self, pipeline: Pipeline, graph: Graph, *, deterministic: bool = False
    ) -> None:
        """Prepare (but do not start) a run of *pipeline*."""
        self.pipeline = pipeline
        self.graph = graph
        self.config = pipeline.config
        self.deterministic = deterministic
        self.chunk_size = self.config.chunk_size
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.cancel_event = threading.Event()
        self.cancelled = False
        self.stopping = False
        self.stopped = False
        self.launching = False
        self.external_open = True
        self.errors: list[Exception] = []
        self.threads: list[threading.Thread] = []
        self.started_at = 0.0
        self.ended_at: float | None = None
        self.status: Literal["succeeded", "failed", "cancelled", "running"] = "running"
        self.finalized = False
        self.report: RunReport | None = None
        self._configs: dict[int, Any] = {}
        #: Every pipeline of the tree, outermost first (hooks run per pipeline).
        self.pipelines = [info.pipe for info in graph.resolver.order]
        self.runners = [StageRunner(self, i, n) for i, n in enumerate(graph.nodes)]
        self.segments: list[_Segment] = []
        self.candidates: list[StageRunner] = []
        self._build()

    # -- building ------------------------------------------------------------

    def _build(self) -> None:
        g = self.graph
        runners = self.runners
        for pos, i in enumerate(g.order):
            runners[i].topo = pos
        if not self.deterministic:
            self._apply_limits()
        for r in runners:
            r.downstream = [runners[j] for j in g.downstream[r.idx]]
            r.upstream_open = len(g.upstream[r.idx])
            if len(r.downstream) > 1:
                router = r.stage.options.router
                if router is None:
                    router = (
                        RoundRobinRouter()
                        if r.stage.options.routing == "round_robin"
                        else BroadcastRouter()
                    )
                names = [_edge_name(d) for d in r.downstream]
                weights = [g.weight(r.idx, d.idx) for d in r.downstream]
                r.router = router.bind(names, weights)
            desc = g.descendants(r.idx)
            r.nondesc = [x for x in runners if x.idx not in desc and x is not r]
            dl = r.stage.options.dead_letter
            if dl is not None:
                r.dead_letter = self.resolve(dl, r)
            r.before_stage = _stage_hooks(
                self, r.node, "before_stage", r.stage.options.before
            )
            r.after_stage = _stage_hooks(
                self, r.node, "after_stage", r.stage.options.after
            )
            r.on_error_hooks = _stage_hooks(self, r.node, "on_error", ())
            r.before_fork = _stage_hooks(
                self, r.node, "before_fork", r.stage.options.before_fork
            )
            r.after_fork = _stage_hooks(
                self, r.node, "after_fork", r.stage.options.after_fork
            )
        # Segments, in topological order so an upstream's segment exists first.
        for i in g.order:
            r = runners[i]
            if not r.is_producer:
                r.queue = Queue(r.queue_size, lock=self.lock)
            up = g.upstream[i]
            fuse = (
                not r.is_producer
                and (r.executor.fusable or self.deterministic)
                and len(up) == 1
                and not (r.batching and getattr(r.stage, "max_wait", None) is not None)
            )
            if fuse:
                u = runners[up[0]]
                fuse = (
                    len(u.downstream) == 1
                    and u.segment.workers == 1
                    and (u.is_producer or u.executor.fusable or self.deterministic)
                )
            if fuse:
                u = runners[up[0]]
                u.fused_next = r
                r.segment = u.segment
                u.segment.members.append(r)
            else:
                seg = _Segment(self, r)
                seg.workers = 1 if (r.is_producer or self.deterministic) else r.workers
                r.segment = seg
                self.segments.append(seg)
        for seg in self.segments:
            for m in seg.members:
                if m.queue is not None:
                    m.queue._not_empty = seg.cond  # noqa: SLF001 - the segment's thread serves it
            last = seg.members[-1]
            seg.exits = [d.queue for d in last.downstream if d.queue is not None]
            # A fused member receives items by hand-off instead of through its
            # queue; its queue_size still bounds how many it is handed at once.
            bounds = [m.queue_size for m in seg.members[1:] if m.queue_size]
            seg.max_chunk = min([self.chunk_size, *bounds])
        for r in runners:
            r.counters = []
        self._refresh_candidates()

    def _apply_limits(self) -> None:
        """Cut worker counts so each kind's sum fits the limits (SPEC §4).

        Each pipeline's ``max_threads``/``max_processes``/``max_interpreters``
        bounds the workers of every stage below it, innermost pipelines
        first (the root's limit is global). Every stage keeps at least one
        worker; the rest of a budget is shared in proportion to what stages
        asked for (largest remainder). A stage whose explicit value is cut
        logs one warning, naming the stage, its value and the limit.
        """
        asked = {id(r): r.workers for r in self.runners}
        warned: dict[int, tuple[str, int]] = {}
        for pipe in reversed(self.pipelines):
            cfg = self._config_chain(pipe)
            limits = {
                "threads": cfg.max_threads,
                "processes": cfg.max_processes,
                "interpreters": cfg.max_interpreters,
            }
            for kind, limit in limits.items():
                if limit is None:
                    continue
                group = [
                    r
                    for r in self.runners
                    if not r.is_producer
                    and _limit_kind(r.executor) == kind
                    and pipe in r.node.scope
                ]
                if sum(r.workers for r in group) <= limit:
                    continue
                for r, new in zip(group, _share(limit, group), strict=True):
                    if new < r.workers:
                        r.workers = new
                        warned[id(r)] = (kind, limit)
        for r in self.runners:
            if id(r) in warned:
                kind, limit = warned[id(r)]
                _log.warning(
                    "stage {stage} asked for {asked} {kind} workers; the "
                    "pipeline's max_{kind}={limit} gives it {got}",
                    stage=r.name,
                    asked=asked[id(r)],
                    kind=kind,
                    limit=limit,
                    got=r.workers,
                )

    def _config_chain(self, pipe: Pipeline) -> Config:
        """Return the effective settings of *pipe* (inherited down the tree)."""
        chain = []
        node: Pipeline | None = pipe
        while node is not None and node is not self.pipeline:
            chain.append(node)
            node = node._parent  # noqa: SLF001
        return self.config_of((self.pipeline, *reversed(chain)))

    def config_of(self, scope: tuple[Pipeline, ...]) -> Config:
        """Return the settings of the innermost pipeline of *scope*."""
        cfg: Config | None = None
        for pipe in scope:
            cached = self._configs.get(id(pipe))
            if cached is None:
                cached = self._configs[id(pipe)] = pipe.effective_config(cfg)
            cfg = cached
        return cfg if cfg is not None else self.config

    def resolve(
        self, target: str | Stage[Any, Any], sender: StageRunner | None
    ) -> StageRunner:
        """Find the runner of *target* (a name or a Stage) as seen from *sender*.

        Raises:
            RoutingError: no stage has that name.
            AmbiguousRouteError: several stages match at the same level.
        """
        return self.runners[
            self.graph.route_target(target, None if sender is None else sender.idx)
        ]

    # -- starting ------------------------------------------------------------

    def start(self) -> RunHandle:
        """Run ``before_run`` and ``before_stage`` hooks, then start every worker."""
        self.started_at = time.perf_counter()
        _log.info(
            "pipeline {name} starting ({n} stages)",
            name=self.pipeline.name,
            n=len(self.runners),
        )
        try:
            for pipe in self.pipelines:
                for hook in pipe.hooks.for_event("before_run"):
                    self._call_hook(hook, None, pipeline=pipe)
            for i in self.graph.order:
                r = self.runners[i]
                for hook in r.before_stage:
                    self._call_hook(hook, r, stage=r.name, pipeline=self.pipeline)
        except HookError as exc:
            self.errors.append(exc)
            self.cancelled = True
            self._finalize()
            return RunHandle(self)
        if not self.deterministic:
            # The launcher counts as a live worker until every worker started,
            # so a run whose first workers finish at once is not finalized early.
            self.launching = True
            try:
                for seg in self.segments:
                    if seg.head.is_producer:
                        seg.head.spawn_workers(1)
                    else:
                        seg.head.executor.launch(seg.head)
            finally:
                with self.lock:
                    self.launching = False
                    last = all(s.workers_alive == 0 for s in self.segments)
                if last:
                    self._finalize()
        return RunHandle(self)

    def spawn(self, seg: _Segment, index: int) -> None:
        """Start worker *index* of *seg* in a daemon thread."""
        with self.lock:
            seg.workers_alive += 1
        t = threading.Thread(
            target=self._worker_main,
            args=(seg, index),
            name=f"minigun:{seg.name}:{index}",
            daemon=True,
        )
        self.threads.append(t)
        t.start()

    def _call_hook(self, hook: Hook, r: StageRunner | None, **kwargs: Any) -> None:
        try:
            call_hook(hook, **kwargs)
        except Exception as exc:
            raise HookError(
                hook.event, hook.describe(), exc, r.name if r else None
            ) from exc

    # -- the worker loop ---------------------------------------------------------

    def _worker_main(self, seg: _Segment, index: int) -> None:
        w = _Worker(index)
        log = _log.bind(segment=seg.name, worker=index)
        log.debug("worker {i} of {seg} started", i=index, seg=seg.name)
        try:
            self._setup(seg, w)
            while self.step(seg, w, block=True) != DONE:
                pass
        except Cancelled:
            pass
        except BaseException as exc:
            self.fail(
                exc
                if isinstance(exc, MinigunError) and not isinstance(exc, PipelineError)
                else StageError(seg.name, None, exc, index)
            )
        finally:
            self._teardown(w)
            log.debug("worker {i} of {seg} exiting", i=index, seg=seg.name)
            with self.lock:
                seg.workers_alive -= 1
                last = not self.launching and all(
                    s.workers_alive == 0 for s in self.segments
                )
            if last:
                self._finalize()

    def _setup(self, seg: _Segment, w: _Worker) -> None:
        for m in seg.members:
            c = Counters()
            w.counters[m.idx] = c
            with self.lock:
                m.counters.append(c)
            remote_factory = getattr(m.executor, "remote_worker", None)
            try:
                if m.uses_remote and remote_factory is not None:
                    w.remote = remote_factory(m, w.index)
                    w.remote.start()
                else:
                    m.stage.setup()
            except Cancelled:
                raise
            except MinigunError as exc:
                self.fail(exc)
                raise Cancelled from exc
            except Exception as exc:
                self.fail(StageError(m.name, None, exc, w.index))
                raise Cancelled from exc
            w.set_up.append(m)

    def _teardown(self, w: _Worker) -> None:
        for m in reversed(w.set_up):
            try:
                if m.uses_remote and w.remote is not None:
                    w.remote.stop(cancelled=self.cancelled)
                else:
                    m.stage.teardown()
            except MinigunError as exc:
                self.fail(exc)
            except Exception as exc:
                self.fail(StageError(m.name, None, exc, w.index))
        w.set_up.clear()
        w.remote = None

    def step(self, seg: _Segment, w: _Worker, *, block: bool) -> int:
        """Do one unit of work for *seg*: return `WORKED`, `IDLE` or `DONE`.

        With *block*, waits for work instead of returning `IDLE` (threads);
        without it, the deterministic scheduler gets `IDLE` back.
        """
        action: Callable[[], None] | None = None
        with self.lock:
            while True:
                if self.cancelled:
                    raise Cancelled
                action = self._pick(seg, w)
                if action is not None:
                    break
                if all(m.finished for m in seg.members):
                    seg.cond.notify_all()
                    return DONE
                if not block:
                    return IDLE
                seg.cond.wait(self._next_timer(seg, w))
        action()
        return WORKED

    def _pick(self, seg: _Segment, w: _Worker) -> Callable[[], None] | None:
        """Choose the next unit of work (lock held)."""
        # 1. queued items, upstream members first.
        for m in seg.members:
            q = m.queue
            if q is None or not q._items or m.finished:  # noqa: SLF001
                continue
            if m.ordered and m._seq_take - m._seq_commit >= 2 * m.workers:  # noqa: SLF001
                continue
            n = seg.chunk
            if m.take_one:
                n = 1
            elif seg.workers > 1:
                n = max(1, min(seg.chunk, len(q) // (2 * seg.workers)))
            n = min(n, seg.exit_free() + 1)
            batch = q.take_locked(n)
            seg.in_flight += len(batch)
            seq = -1
            if m.ordered:
                seq = m._seq_take  # noqa: SLF001
                m._seq_take += 1  # noqa: SLF001
            return functools.partial(self._run_batch, seg, m, batch, seq, w)
        # 2. timers of accumulators.
        for m in seg.members:
            if m.batching and not m.finished:
                k = w.kernels.get(m.idx)
                if k is not None:
                    dl = k.deadline() if m.workers == 1 else self._locked_deadline(m, k)
                    if dl is not None and m.stage.clock() >= dl:  # type: ignore[attr-defined]
                        seg.in_flight += 1
                        return functools.partial(self._run_timer, seg, m, k, w)
        # 3. a member whose input closed and drained: finish it (one worker).
        if seg.in_flight == 0:
            for m in seg.members:
                if m.finished:
                    continue
                if (
                    m.input_closed
                    and not m.finishing
                    and (m.queue is None or not len(m.queue))
                ):
                    if m.region:
                        # Each worker flushes its own copy of the region first.
                        if m.idx not in w.flushed:
                            w.flushed.add(m.idx)
                            m.flushes += 1
                            seg.in_flight += 1
                            return functools.partial(self._region_flush, seg, m, w)
                        if m.flushes < seg.workers:
                            break
                    m.finishing = True
                    seg.in_flight += 1
                    return functools.partial(self._finish, seg, m, w)
                break
        # 4. the producer at the head.
        head = seg.head
        if head.is_producer and not head.finished and not head.finishing:
            if self.stopping:
                head.finishing = True
                seg.in_flight += 1
                return lambda: self._finish(seg, head, w)
            if head.triggered:
                seg.in_flight += 1
                return lambda: self._produce(seg, head, w)
        return None

    def _locked_deadline(self, m: StageRunner, k: Kernel) -> float | None:
        with m._batch_lock:  # noqa: SLF001
            return k.deadline()

    def _next_timer(self, seg: _Segment, w: _Worker) -> float | None:
        """Seconds until the nearest accumulator deadline of *seg* (lock held)."""
        best: float | None = None
        for m in seg.members:
            if m.batching and not m.finished:
                k = w.kernels.get(m.idx)
                if k is None:
                    continue
                dl = k.deadline() if m.workers == 1 else self._locked_deadline(m, k)
                if dl is not None:
                    wait = max(0.0, dl - m.stage.clock())  # type: ignore[attr-defined]
                    best = wait if best is None else min(best, wait)
        return best

    def _done(self, seg: _Segment, n: int) -> None:
        with self.lock:
            seg.in_flight -= n
            if seg.in_flight == 0:
                seg.cond.notify_all()
                if self.candidates:
                    self._check_closures()

    def _run_batch(
        self, seg: _Segment, m: StageRunner, batch: list[Any], seq: int, w: _Worker
    ) -> None:
        t0 = time.perf_counter()
        blocked0 = w.blocked
        try:
            out = m.handle(batch, w)
            if seq >= 0:
                m.commit(seq, out, w)
            elif out:
                m.forward(out, w)
        finally:
            self._done(seg, len(batch))
        seg.adapt(len(batch), time.perf_counter() - t0 - (w.blocked - blocked0))

    def _run_timer(self, seg: _Segment, m: StageRunner, k: Kernel, w: _Worker) -> None:
        try:
            now = m.stage.clock()  # type: ignore[attr-defined]
            if m.workers > 1:
                with m._batch_lock:  # noqa: SLF001
                    batches = k.due(now)
            else:
                batches = k.due(now)
            self._flush_batches(m, k, batches, w)
        finally:
            self._done(seg, 1)

    def _flush_batches(
        self, m: StageRunner, k: Kernel, batches: list[list[Any]], w: _Worker
    ) -> None:
        c = w.counters[m.idx]
        if m.uses_remote and w.remote is not None:
            if batches:
                m.run_remote(batches, k, c, w.remote)
                out = m.collect(k, c)
                if out:
                    m.forward(out, w)
            return
        for b in batches:
            t0 = time.perf_counter()
            m.run_unit(b, k, c)
            c.busy_time += time.perf_counter() - t0
            out = m.collect(k, c)
            if out:
                m.forward(out, w)

    def _produce(self, seg: _Segment, head: StageRunner, w: _Worker) -> None:
        c = w.counters[head.idx]
        error: Exception | None = None
        chunk: list[Any] = []
        try:
            if w.it is None:
                src = head.stage.source()  # type: ignore[attr-defined]
                total = head.stage.total  # type: ignore[attr-defined]
                if total is None and isinstance(src, Sized):
                    total = len(src)
                head.total = total
                w.it = iterate_source(src)
            n = min(seg.chunk, seg.exit_free() + 1)
            t0 = time.perf_counter()
            blocked0 = w.blocked
            # extend() keeps what the producer yielded before it raised.
            chunk.extend(itertools.islice(w.it, n))
            c.busy_time += time.perf_counter() - t0
        except Cancelled:
            self._done(seg, 1)
            raise
        except Exception as exc:
            error = exc
        try:
            if chunk:
                c.items_out += len(chunk)
                tos = [x for x in chunk if x.__class__ is To]
                if tos:
                    c.items_routed += len(tos)
                    self.route_tos(head, tos)
                    chunk = [x for x in chunk if x.__class__ is not To]
                if chunk:
                    head.forward(chunk, w)
                # The whole hand-off (source and fused stages), minus waiting.
                took = time.perf_counter() - t0 - (w.blocked - blocked0)
                seg.adapt(n, took)
            elif error is None:
                head.finishing = True
        finally:
            self._done(seg, 1)
        if error is not None:
            c.items_failed += 1
            head.fail_item(None, error)
            self._finish_now(seg, head, w)
        elif head.finishing:
            self._finish_now(seg, head, w)

    def _region_flush(self, seg: _Segment, m: StageRunner, w: _Worker) -> None:
        """Flush this worker's copy of fused region *m* (inner batches)."""
        try:
            k = m.kernel_for(w)
            self._flush_batches(m, k, k.drain(), w)
        finally:
            self._done(seg, 1)

    def _finish_now(self, seg: _Segment, m: StageRunner, w: _Worker) -> None:
        with self.lock:
            m.finishing = True
            seg.in_flight += 1
        self._finish(seg, m, w)

    def _finish(self, seg: _Segment, m: StageRunner, w: _Worker) -> None:
        """Flush *m*, run its after_stage hooks, mark it finished."""
        try:
            k = w.kernels.get(m.idx)
            if m.batching and not m.region:
                k = k or m.kernel_for(w)
                if m.workers > 1:
                    with m._batch_lock:  # noqa: SLF001
                        batches = k.drain()
                else:
                    batches = k.drain()
                self._flush_batches(m, k, batches, w)
            for hook in m.after_stage:
                self._call_hook(hook, m, stage=m.name, pipeline=self.pipeline)
        except HookError as exc:
            self.fail(exc)
            raise Cancelled from exc
        finally:
            with self.lock:
                seg.in_flight -= 1
        _log.debug("stage {stage} finished", stage=m.name)
        with self.lock:
            m.finished = True
            for d in m.downstream:
                d.upstream_open -= 1
            self._refresh_candidates()
            self._check_closures()
            seg.cond.notify_all()

    # -- end of stream -------------------------------------------------------

    def _refresh_candidates(self) -> None:
        self.candidates = sorted(
            (
                r
                for r in self.runners
                if not r.is_producer and not r.input_closed and r.upstream_open == 0
            ),
            key=lambda r: r.topo,
        )

    def _check_closures(self) -> None:
        """Close every input that no item can reach any more (lock held)."""
        if self.external_open or self.cancelled:
            return
        closed_any = False
        for r in self.candidates:
            if all(not x.busy() for x in r.nondesc):
                r.input_closed = True
                if r.queue is not None:
                    r.queue.close_locked()
                r.segment.cond.notify_all()
                closed_any = True
                _log.debug("input of stage {stage} closed", stage=r.name)
        if closed_any:
            self.candidates = [r for r in self.candidates if not r.input_closed]

    # -- moving items --------------------------------------------------------

    def put(self, sender: StageRunner, target: StageRunner, items: list[Any]) -> float:
        """Put *items* into *target*'s queue; return the seconds blocked."""
        q = target.queue
        if q is None:
            msg = f"stage {sender.name!r} routed items to producer {target.name!r}"
            self.fail(RoutingError(msg))
            raise Cancelled
        with self.lock:
            same_thread = target.segment is sender.segment
            try:
                if same_thread:
                    # The sender's own thread drains this queue: never block on it.
                    return q.put_locked(items, None, bounded=False)
                return q.put_locked(items, None)
            except EndOfStream:
                pass
        msg = (
            f"stage {sender.name!r} routed {len(items)} item(s) to stage "
            f"{target.name!r}, which has already finished (first: "
            f"{_short_repr(items[0])}); a stage cannot route back to a stage "
            "whose input closed"
        )
        self.fail(RoutingError(msg))
        raise Cancelled

    def route_tos(self, sender: StageRunner, tos: list[To]) -> None:
        """Deliver routed items straight into their target stages' queues."""
        groups: dict[int, tuple[StageRunner, list[Any]]] = {}
        cache = sender.route_cache
        for t in tos:
            ref = t.target
            key = ref if isinstance(ref, str) else id(ref)
            target = cache.get(key)
            if target is None:
                target = cache[key] = self._route_target(sender, ref)
            entry = groups.get(target.idx)
            if entry is None:
                groups[target.idx] = (target, [t.item])
            else:
                entry[1].append(t.item)
        for target, items in groups.values():
            self.put(sender, target, items)

    def _route_target(
        self, sender: StageRunner, ref: str | Stage[Any, Any]
    ) -> StageRunner:
        """Resolve a `To` target for *sender* (the result is cached per sender)."""
        try:
            target = self.resolve(ref, sender)
        except RoutingError as exc:
            self.fail(exc)
            raise Cancelled from exc
        if target.is_producer:
            msg = (
                f"stage {sender.name!r} routed an item to producer "
                f"{target.name!r}; producers have no input"
            )
            self.fail(RoutingError(msg))
            raise Cancelled
        return target

    def deliver(
        self, sender: StageRunner, target: StageRunner, items: list[Any]
    ) -> None:
        """Put *items* into *target* (dead letters and external sends)."""
        self.put(sender, target, items)

    # -- failure and cancellation --------------------------------------------

    def fail(self, exc: Exception | BaseException) -> None:
        """Record *exc* and cancel the run (fail fast)."""
        with self.lock:
            if not isinstance(exc, Exception):
                exc = StageError("<runtime>", None, exc)
            self.errors.append(exc)
            if self.status == "running":
                self.status = "failed"
            self._cancel_locked()

    def cancel(self) -> None:
        """Cancel at once: every waiting thread wakes and unwinds."""
        with self.lock:
            if self.status == "running":
                self.status = "cancelled"
            self._cancel_locked()

    def _cancel_locked(self) -> None:
        if self.cancelled:
            return
        self.cancelled = True
        self.cancel_event.set()
        for r in self.runners:
            if r.queue is not None:
                r.queue.cancel_locked()
        for seg in self.segments:
            seg.cond.notify_all()

    def stop(self) -> None:
        """Stop producers at their next micro-batch and drain what is in flight."""
        with self.lock:
            self.stopping = True
            self.stopped = True
            for r in self.runners:
                if r.is_producer:
                    r.triggered = True
            self.external_open = False
            for seg in self.segments:
                seg.cond.notify_all()
            self._check_closures()

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early (with `Cancelled`) when the run is cancelled."""
        if self.cancel_event.wait(seconds):
            raise Cancelled

    # -- the end --------------------------------------------------------------

    def _finalize(self) -> None:
        with self.lock:
            if self.finalized:
                return
            self.finalized = True
        try:
            after = [
                (pipe, hook)
                for pipe in reversed(self.pipelines)
                for hook in pipe.hooks.for_event("after_run")
            ]
            for pipe, hook in after:
                try:
                    call_hook(hook, pipeline=pipe)
                except Exception as exc:
                    self.errors.append(HookError("after_run", hook.describe(), exc))
        finally:
            self.ended_at = time.perf_counter()
            with self.lock:
                if self.errors:
                    self.status = "failed"
                elif self.status == "running":
                    stopped = self.cancelled or self.stopped
                    self.status = "cancelled" if stopped else "succeeded"
            self.report = self.snapshot()
            _log.info(
                "pipeline {name} {status} in {duration:.3f}s",
                name=self.pipeline.name,
                status=self.status,
                duration=self.report.duration,
            )
            self.done.set()

    def snapshot(self) -> RunReport:
        """Return a `RunReport` of the run so far (final once the run ended)."""
        end = self.ended_at if self.ended_at is not None else time.perf_counter()
        duration = max(end - self.started_at, 1e-9) if self.started_at else 0.0
        stages: dict[str, StageStatistics] = {}
        best: tuple[float, str] | None = None
        produced = consumed = failed = dropped = 0
        with self.lock:
            parts = {r.idx: list(r.counters) for r in self.runners}
        for i in self.graph.order:
            r = self.runners[i]
            if r.internal:
                continue
            c = Counters.total(parts[r.idx])
            samples = sorted(c.samples)
            workers = (
                1 if r.is_producer else r.segment.workers if r.segment.head is r else 1
            )
            if not r.is_producer and r.segment.head is not r:
                workers = 1
            if r.segment.head is r and not r.is_producer:
                workers = r.segment.workers
            util = c.busy_time / (max(workers, 1) * duration) if duration else 0.0
            drop = (
                0
                if (r.is_producer or r.batching or not r.downstream)
                else max(0, c.items_in - c.items_out - c.items_failed)
            )
            handled = c.items_out if r.is_producer else c.items_in
            q = r.queue
            stats = StageStatistics(
                name=r.name,
                kind=r.stage.kind,
                executor="producer" if r.is_producer else r.executor.describe(),
                status=r.status(),
                items_in=c.items_in,
                items_out=c.items_out,
                items_failed=c.items_failed,
                items_retried=c.items_retried,
                items_dropped=drop,
                latency_p50=percentile(samples, 50),
                latency_p90=percentile(samples, 90),
                latency_p95=percentile(samples, 95),
                latency_p99=percentile(samples, 99),
                throughput=handled / duration if duration else 0.0,
                busy_time=c.busy_time,
                blocked_time=c.blocked_time,
                queue_depth=len(q) if q is not None else 0,
                max_queue_depth=q.statistics().max_depth if q is not None else 0,
                queue_size=r.queue_size if q is not None else None,
                total=r.total,
                items_routed=c.items_routed,
                terminal=not r.downstream and not r.is_producer,
                downstream=tuple(_edge_name(d) for d in r.downstream),
                workers=workers,
                utilisation=util,
            )
            stages[r.name] = stats
            if r.inner_parts:
                stages.update(self._inner_rows(r, duration))
            if r.is_producer:
                produced += c.items_out
            if not r.downstream and not r.is_producer and not c.items_routed:
                consumed += c.items_in
            failed += c.items_failed
            dropped += drop
            if c.busy_time > 0 and (best is None or util > best[0]):
                best = (util, r.name)
        return RunReport(
            pipeline=self.pipeline.name,
            status=self.status,
            duration=duration,
            stages=stages,
            total_produced=produced,
            total_consumed=consumed,
            total_failed=failed,
            total_dropped=dropped,
            bottleneck=best[1] if best else None,
            errors=tuple(str(e) for e in self.errors),
        )

    def result(self) -> RunReport:
        """Return the final report, or raise `PipelineError` if the run failed."""
        report = self.report if self.report is not None else self.snapshot()
        if self.errors:
            n = len(self.errors)
            plural = "s" if n > 1 else ""
            msg = f"pipeline {self.pipeline.name!r} failed with {n} error{plural}"
            raise PipelineError(msg, list(self.errors), report)
        return report

    def _inner_rows(
        self, r: StageRunner, duration: float
    ) -> dict[str, StageStatistics]:
        """Statistics rows for the inner stages of fused region *r*."""
        with self.lock:
            parts = [dict(p) for p in r.inner_parts.values()]
        region = r.stage
        kinds = {
            n.name: n.stage.kind
            for n in region.inner.nodes  # type: ignore[attr-defined]
        }
        rows: dict[str, StageStatistics] = {}
        for name, kind in kinds.items():
            vals = [p[name] for p in parts if name in p]
            if not vals:
                continue
            items_in = int(sum(v[0] for v in vals))
            items_out = int(sum(v[1] for v in vals))
            busy = float(sum(v[2] for v in vals))
            qname = f"{r.name}.{name}"
            rows[qname] = StageStatistics(
                name=qname,
                kind=kind,
                executor=f"in {r.name}",
                status=r.status(),
                items_in=items_in,
                items_out=items_out,
                throughput=items_in / duration if duration else 0.0,
                busy_time=busy,
                workers=r.workers,
            )
        return rows

    def join(self, timeout: float) -> list[str]:
        """Join worker threads; return the names of those still alive."""
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return [t.name for t in self.threads if t.is_alive()]


class RunHandle:
    """A live run, returned by `Pipeline.start`.

    Thread-safe: any thread may call its methods.
    """

    def __init__(self, rt: Runtime) -> None:
        """Wrap runtime *rt* (created by `Pipeline.start`)."""
        self._rt = rt

    @property
    def running(self) -> bool:
        """Whether the run has not ended yet."""
        return not self._rt.done.is_set()

    def statistics(self) -> RunReport:
        """Return a live snapshot of the run's statistics."""
        rt = self._rt
        return rt.report if rt.report is not None else rt.snapshot()

    def send(self, item: Any, *, to: str | Stage[Any, Any]) -> None:
        """Feed *item* into stage *to*'s input queue (waits while it is full).

        Raises:
            RoutingError: unknown stage, a producer, or its input has closed.
        """
        rt = self._rt
        target = rt.resolve(to, None)
        if target.queue is None:
            msg = f"cannot send to producer {target.name!r}; producers have no input"
            raise RoutingError(msg)
        with rt.lock:
            if not rt.external_open:
                msg = f"cannot send to {target.name!r}: close() was called"
                raise RoutingError(msg)
        try:
            target.queue.put_many([item])
        except (EndOfStream, Cancelled, WouldBlock) as exc:
            msg = f"cannot send to {target.name!r}: its input has closed"
            raise RoutingError(msg) from exc

    def trigger(self, stage: str | Stage[Any, Any]) -> None:
        """Start a producer created with ``auto_start=False``.

        Raises:
            RoutingError: *stage* is unknown or not a producer.
        """
        rt = self._rt
        r = rt.resolve(stage, None)
        if not r.is_producer:
            msg = f"trigger() starts producers; {r.name!r} is a {r.stage.kind}"
            raise RoutingError(msg)
        with rt.lock:
            r.triggered = True
            r.segment.cond.notify_all()
        if rt.deterministic:  # pragma: no cover - deterministic runs have no handle
            return

    def close(self) -> None:
        """Declare that no more items will be sent with `send` (idempotent)."""
        rt = self._rt
        with rt.lock:
            rt.external_open = False
            rt._check_closures()  # noqa: SLF001

    def stop(self) -> None:
        """Stop producers and drain what is in flight, then end the run."""
        self._rt.stop()

    def cancel(self) -> None:
        """Cancel the run at once (what is in flight is dropped)."""
        self._rt.cancel()

    def wait(
        self, timeout: float | None = None, *, raise_on_timeout: bool = False
    ) -> RunReport:
        """Wait for the run to end and return its `RunReport`.

        The first Ctrl-C while waiting stops producers and drains; the second
        cancels at once; either way every thread is gone before it raises.

        Args:
            timeout: seconds to wait; past it `TimeoutError` is raised.
            raise_on_timeout: cancel the run (and clean up) before raising
                `TimeoutError` (what ``run(timeout=)`` does).

        Raises:
            PipelineError: the run failed; ``.report`` holds the report.
            TimeoutError: *timeout* passed.
        """
        rt = self._rt
        deadline = None if timeout is None else time.monotonic() + timeout
        interrupts = 0
        while True:
            try:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    if raise_on_timeout:
                        rt.cancel()
                        self._cleanup()
                    name = rt.pipeline.name
                    msg = f"pipeline {name!r} did not finish within {timeout}s"
                    raise TimeoutError(msg)
                if rt.done.wait(0.1 if remaining is None else min(0.1, remaining)):
                    break
            except KeyboardInterrupt:
                interrupts += 1
                if (
                    interrupts == 1
                    and threading.current_thread() is threading.main_thread()
                ):
                    _log.warning(
                        "interrupted: stopping producers and draining "
                        "(Ctrl-C again to cancel)"
                    )
                    rt.stop()
                    continue
                rt.cancel()
                self._cleanup()
                raise
        self._cleanup()
        return rt.result()

    def _cleanup(self) -> None:
        rt = self._rt
        alive = rt.join(rt.config.shutdown_timeout)
        if alive:
            _log.warning("threads still running after shutdown: {alive}", alive=alive)
        if not rt.done.is_set():
            rt._finalize()  # noqa: SLF001
