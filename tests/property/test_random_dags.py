"""Property tests: random pipeline graphs deliver what a plain-Python model predicts.

A Hypothesis strategy draws a *description* of a pipeline (a linear chain, a
fan-out through one of the routers, a diamond that fans back in, or a stage
routing every item with ``mg.To``), made of small deterministic pure stage
functions on random executors and queue sizes. The same description is built
into a real `mg.Pipeline` and walked by a plain-Python reference; the items
each `ListSink` receives and the statistics of every stage must match the
reference (SPEC §1-§3, §8).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from hypothesis import example, given, settings
from hypothesis import strategies as st

import minigun as mg
from minigun.testing import ListSink, ListSource

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

FnKind = Literal["map", "filter", "flat", "fail"]
RouterKind = Literal["broadcast", "round_robin", "weighted", "key"]
EdgeStyle = Literal["to", "connect"]
EmitStyle = Literal["return", "yield", "emit"]
StageRef = tuple[int, int, int, int]  # items_in, items_out, items_failed, dropped

TIMEOUT = 20.0
QUEUE_SIZES = (1, 2, 1000)

# --------------------------------------------------------------------------
# Descriptions


@dataclass(frozen=True)
class Fn:
    """A deterministic pure stage function from a small menu.

    ``map``: ``x*k + c``; ``filter``: drop ``x`` when ``x % m == r``;
    ``flat``: ``x`` then also ``x + 1`` when ``x % m == r``; ``fail``:
    ``x + c``, raising when ``x % m == r`` (the stage skips failed items).
    """

    kind: FnKind
    k: int
    c: int
    m: int
    r: int

    def hit(self, x: int) -> bool:
        return x % self.m == self.r

    def apply(self, x: int) -> list[int] | None:
        """Reference: what the stage emits for *x*; ``None`` when *x* fails."""
        if self.kind == "map":
            return [x * self.k + self.c]
        if self.kind == "filter":
            return [] if self.hit(x) else [x]
        if self.kind == "flat":
            return [x, x + 1] if self.hit(x) else [x]
        return None if self.hit(x) else [x + self.c]

    def build(self) -> Callable[[int], Any]:
        """The real stage function."""
        k, c, hit = self.k, self.c, self.hit
        if self.kind == "map":

            def mapper(x: int) -> int:
                return x * k + c

            return mapper
        if self.kind == "filter":

            def keep(x: int) -> int | None:
                return None if hit(x) else x

            return keep
        if self.kind == "flat":

            def flat(x: int) -> Iterator[int]:
                yield x
                if hit(x):
                    yield x + 1

            return flat

        def fail(x: int) -> int:
            if hit(x):
                raise ValueError(f"boom on {x}")
            return x + c

        return fail


@dataclass(frozen=True)
class Proc:
    """One processor: its function, executor and input queue size."""

    fn: Fn
    threads: bool
    queue_size: int


@dataclass(frozen=True)
class Linear:
    """``src -> p0 -> ... -> sink`` (sequential default)."""

    items: tuple[int, ...]
    procs: tuple[Proc, ...]
    sink_queue: int


@dataclass(frozen=True)
class FanOut:
    """``src -> head... -> split =router=> branch_i... -> sink_i``.

    With a ``join``, every branch ends in ``join -> sink`` instead (a diamond).
    """

    items: tuple[int, ...]
    head: tuple[Proc, ...]
    split: Proc
    router: RouterKind
    weights: tuple[int, ...]
    key_mod: int
    edges: EdgeStyle
    branches: tuple[tuple[Proc, ...], ...]
    join: Proc | None
    sink_queue: int


@dataclass(frozen=True)
class ToRouting:
    """``src -> head... -> route``; route sends ``To(sink_{x % n}, x)``."""

    items: tuple[int, ...]
    head: tuple[Proc, ...]
    route_threads: bool
    route_queue: int
    style: EmitStyle
    by_object: bool
    route_terminal: bool
    n_sinks: int
    sink_queue: int


Desc = Linear | FanOut | ToRouting

# --------------------------------------------------------------------------
# Strategies

items_st = st.lists(st.integers(-20, 60), max_size=30).map(tuple)


@st.composite
def fns(draw: st.DrawFn) -> Fn:
    m = draw(st.integers(2, 4))
    return Fn(
        kind=draw(st.sampled_from(["map", "filter", "flat", "fail"])),
        k=draw(st.integers(-2, 3)),
        c=draw(st.integers(-3, 3)),
        m=m,
        r=draw(st.integers(0, m - 1)),
    )


@st.composite
def procs(draw: st.DrawFn, *, inline: bool = False) -> Proc:
    return Proc(
        fn=draw(fns()),
        threads=False if inline else draw(st.booleans()),
        queue_size=draw(st.sampled_from(QUEUE_SIZES)),
    )


def chains(min_size: int, max_size: int) -> st.SearchStrategy[tuple[Proc, ...]]:
    return st.lists(procs(), min_size=min_size, max_size=max_size).map(tuple)


@st.composite
def linears(draw: st.DrawFn) -> Linear:
    return Linear(
        items=draw(items_st),
        procs=draw(chains(1, 5)),
        sink_queue=draw(st.sampled_from(QUEUE_SIZES)),
    )


@st.composite
def fanouts(draw: st.DrawFn, *, diamond: bool, ordered: bool = False) -> FanOut:
    """A fan-out (or, with *diamond*, a fan-out that fans back in).

    Round-robin and weighted routing assign items by arrival order, which is
    fixed only when everything up to the router is one inline chain (or the
    run is deterministic, *ordered*). Otherwise the branches are left empty,
    so only the union and the per-sink counts are predicted.
    """
    head = draw(chains(0, 2))
    split = draw(procs())
    router: RouterKind = draw(
        st.sampled_from(["broadcast", "round_robin", "weighted", "key"])
    )
    n = draw(st.integers(2, 3))
    inline = ordered or not any(p.threads for p in (*head, split))
    order_free = router in ("broadcast", "key")
    if diamond and (order_free or inline):
        branches = tuple(draw(chains(1, 2)) for _ in range(n))
        join: Proc | None = draw(procs())
    elif order_free or inline:
        branches = tuple(draw(chains(0, 2)) for _ in range(n))
        join = None
    else:
        branches = tuple(() for _ in range(n))
        join = None
    return FanOut(
        items=draw(items_st),
        head=head,
        split=split,
        router=router,
        weights=tuple(draw(st.integers(1, 3)) for _ in range(n)),
        key_mod=draw(st.integers(1, 4)),
        edges=draw(st.sampled_from(["to", "connect"])),
        branches=branches,
        join=join,
        sink_queue=draw(st.sampled_from(QUEUE_SIZES)),
    )


@st.composite
def to_routings(draw: st.DrawFn) -> ToRouting:
    return ToRouting(
        items=draw(items_st),
        head=draw(chains(0, 2)),
        route_threads=draw(st.booleans()),
        route_queue=draw(st.sampled_from(QUEUE_SIZES)),
        style=draw(st.sampled_from(["return", "yield", "emit"])),
        by_object=draw(st.booleans()),
        route_terminal=draw(st.booleans()),
        n_sinks=draw(st.integers(1, 3)),
        sink_queue=draw(st.sampled_from(QUEUE_SIZES)),
    )


def any_pipeline(*, ordered: bool) -> st.SearchStrategy[Desc]:
    return st.one_of(
        linears(),
        fanouts(diamond=False, ordered=ordered),
        fanouts(diamond=True, ordered=ordered),
        to_routings(),
    )


# --------------------------------------------------------------------------
# Building the real pipeline


def make_proc(name: str, p: Proc, **options: Any) -> mg.Processor[Any, Any]:
    if p.fn.kind == "fail":
        options.update(on_error="skip", max_retries=0)
    return mg.Processor(
        name,
        p.fn.build(),
        threads=2 if p.threads else None,
        queue_size=p.queue_size,
        **options,
    )


def head_names(desc: FanOut | ToRouting) -> list[str]:
    return [f"h{i}" for i in range(len(desc.head))]


def branch_names(desc: FanOut, i: int) -> list[str]:
    return [f"b{i}_{j}" for j in range(len(desc.branches[i]))]


def fanout_targets(desc: FanOut) -> list[str]:
    """The split's downstream stages, in edge order."""
    return [
        branch_names(desc, i)[0] if branch else f"sink{i}"
        for i, branch in enumerate(desc.branches)
    ]


def build(desc: Desc) -> tuple[mg.Pipeline, dict[str, ListSink]]:
    pipe = mg.Pipeline("prop")
    pipe.add(ListSource("src", desc.items))
    sinks: dict[str, ListSink] = {}
    if isinstance(desc, Linear):
        for i, p in enumerate(desc.procs):
            pipe.add(make_proc(f"p{i}", p))
        sinks["sink"] = pipe.add(ListSink("sink", queue_size=desc.sink_queue))
        return pipe, sinks
    for name, p in zip(head_names(desc), desc.head, strict=True):
        pipe.add(make_proc(name, p))
    if isinstance(desc, FanOut):
        build_fanout(pipe, desc, sinks)
    else:
        build_to_routing(pipe, desc, sinks)
    return pipe, sinks


def build_fanout(pipe: mg.Pipeline, desc: FanOut, sinks: dict[str, ListSink]) -> None:
    targets = fanout_targets(desc)
    options: dict[str, Any] = {}
    if desc.router == "round_robin":
        options["routing"] = "round_robin"
    elif desc.router == "weighted":
        by_name = dict(zip(targets, desc.weights, strict=True))
        # mypy reads WeightedRouter's parameter type from its attrs
        # ``converter=dict``, which no dict satisfies; hence the ignore.
        options["router"] = mg.WeightedRouter(by_name if desc.edges == "to" else {})
    elif desc.router == "key":
        mod = desc.key_mod

        def key(x: int) -> int:
            return x % mod

        options["router"] = mg.KeyRouter(key)
    if desc.edges == "to":
        options["to"] = targets
    pipe.add(make_proc("split", desc.split, **options))
    for i, branch in enumerate(desc.branches):
        names = branch_names(desc, i)
        for j, (name, p) in enumerate(zip(names, branch, strict=True)):
            last = j == len(branch) - 1
            extra: dict[str, Any] = {"to": "join"} if desc.join and last else {}
            pipe.add(make_proc(name, p, **extra))
        if desc.join is None:
            sink = ListSink(f"sink{i}", queue_size=desc.sink_queue, to=())
            sinks[sink.name] = pipe.add(sink)
    if desc.join is not None:
        pipe.add(make_proc("join", desc.join))
        sinks["sink"] = pipe.add(ListSink("sink", queue_size=desc.sink_queue))
    if desc.edges == "connect":
        for target, w in zip(targets, desc.weights, strict=True):
            pipe.connect(
                "split", target, weight=w if desc.router == "weighted" else None
            )


def build_to_routing(
    pipe: mg.Pipeline, desc: ToRouting, sinks: dict[str, ListSink]
) -> None:
    made = [
        ListSink(f"sink{i}", queue_size=desc.sink_queue, to=())
        for i in range(desc.n_sinks)
    ]
    targets: list[str | mg.Stage[Any, Any]] = (
        list(made) if desc.by_object else [s.name for s in made]
    )
    n = desc.n_sinks

    def route_return(x: int) -> mg.To:
        return mg.To(targets[x % n], x)

    def route_yield(x: int) -> Iterator[mg.To]:
        yield mg.To(targets[x % n], x)

    def route_emit(x: int, emit: mg.Emitter) -> None:
        emit(x, to=targets[x % n])

    styles: dict[str, Callable[..., Any]] = {
        "return": route_return,
        "yield": route_yield,
        "emit": route_emit,
    }
    options: dict[str, Any] = {"to": ()} if desc.route_terminal else {}
    pipe.add(
        mg.Processor(
            "route",
            styles[desc.style],
            threads=2 if desc.route_threads else None,
            queue_size=desc.route_queue,
            **options,
        )
    )
    for sink in made:
        sinks[sink.name] = pipe.add(sink)


# --------------------------------------------------------------------------
# The plain-Python reference


@dataclass
class Model:
    """What the reference predicts for one run."""

    sinks: dict[str, list[int]]
    """Items per sink, in the order a single thread would deliver them."""
    stats: dict[str, StageRef] = field(default_factory=dict)
    terminal: set[str] = field(default_factory=set)
    """Stages without static downstream edges (their drops are not counted)."""
    one_to_one: set[str] = field(default_factory=set)
    """Stages emitting at most one item per input item."""
    exact: bool = True
    """Per-sink multisets are determined (else: the union and the counts)."""
    ordered_sinks: set[str] = field(default_factory=set)
    """Sinks whose arrival order is determined (single inline path, no fan-in)."""


def run_chain(
    model: Model, named: Sequence[tuple[str, Proc]], items: list[int]
) -> list[int]:
    for name, p in named:
        out: list[int] = []
        failed = dropped = 0
        for x in items:
            res = p.fn.apply(x)
            if res is None:
                failed += 1
            elif not res:
                dropped += 1
            else:
                out.extend(res)
        model.stats[name] = (len(items), len(out), failed, dropped)
        if p.fn.kind != "flat":
            model.one_to_one.add(name)
        items = out
    return items


def sink_stats(model: Model) -> None:
    for name, got in model.sinks.items():
        model.stats[name] = (len(got), 0, 0, 0)
        model.terminal.add(name)


def swrr(weights: Sequence[int], count: int) -> list[int]:
    """Smooth weighted round-robin (nginx): the target of each of *count* items."""
    current = [0] * len(weights)
    total = sum(weights)
    out = []
    for _ in range(count):
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(weights)), key=current.__getitem__)  # first max wins
        current[best] -= total
        out.append(best)
    return out


def model_linear(desc: Linear, *, ordered: bool) -> Model:
    named = [(f"p{i}", p) for i, p in enumerate(desc.procs)]
    model = Model(sinks={})
    model.sinks["sink"] = run_chain(model, named, list(desc.items))
    if ordered or not any(p.threads for p in desc.procs):
        model.ordered_sinks.add("sink")
    sink_stats(model)
    return model


def split_outputs(desc: FanOut, model: Model) -> list[int]:
    named = [*zip(head_names(desc), desc.head, strict=True), ("split", desc.split)]
    return run_chain(model, named, list(desc.items))


def model_fanout(
    desc: FanOut, *, ordered: bool, key_assign: dict[int, int] | None = None
) -> Model:
    model = Model(sinks={})
    routed = split_outputs(desc, model)
    n = len(desc.branches)
    lanes: list[list[int]] = [[] for _ in range(n)]
    if desc.router == "broadcast":
        lanes = [list(routed) for _ in range(n)]
    elif desc.router == "round_robin":
        for pos, x in enumerate(routed):
            lanes[pos % n].append(x)
    elif desc.router == "weighted":
        for x, i in zip(routed, swrr(desc.weights, len(routed)), strict=True):
            lanes[i].append(x)
    else:
        assign = key_assign or {}
        for x in routed:
            k = x % desc.key_mod
            lanes[assign.get(k, k % n)].append(x)
    inline = ordered or not any(p.threads for p in (*desc.head, desc.split))
    model.exact = inline or desc.router in ("broadcast", "key")
    joined: list[int] = []
    for i, (branch, lane) in enumerate(zip(desc.branches, lanes, strict=True)):
        out = run_chain(
            model, list(zip(branch_names(desc, i), branch, strict=True)), lane
        )
        if desc.join is None:
            model.sinks[f"sink{i}"] = out
            if inline and (ordered or not any(p.threads for p in branch)):
                model.ordered_sinks.add(f"sink{i}")
        else:
            joined.extend(out)
    if desc.join is not None:
        model.sinks["sink"] = run_chain(model, [("join", desc.join)], joined)
    sink_stats(model)
    return model


def model_to_routing(desc: ToRouting) -> Model:
    model = Model(sinks={f"sink{i}": [] for i in range(desc.n_sinks)})
    named = list(zip(head_names(desc), desc.head, strict=True))
    routed = run_chain(model, named, list(desc.items))
    for x in routed:
        model.sinks[f"sink{x % desc.n_sinks}"].append(x)
    model.stats["route"] = (len(routed), len(routed), 0, 0)
    model.one_to_one.add("route")
    if desc.route_terminal:
        model.terminal.add("route")
    sink_stats(model)
    return model


def key_assignments(desc: FanOut) -> Iterator[dict[int, int]]:
    """Every way of mapping the keys reaching the split's router to branches."""
    keys = sorted({x % desc.key_mod for x in split_outputs(desc, Model(sinks={}))})
    n = len(desc.branches)
    for choice in itertools.product(range(n), repeat=len(keys)):
        yield dict(zip(keys, choice, strict=True))


def model_for(
    desc: Desc,
    got: dict[str, Counter[int]],
    seen: dict[str, tuple[int, int, int]],
    *,
    ordered: bool,
) -> Model:
    """The reference for *desc*.

    Which key a `KeyRouter` sends where is the router's business (hash
    partitioning); the contract is only that equal keys share one branch. So
    for key routing, any assignment of keys to branches that explains what
    every sink received and what every stage counted (*seen*: items in, out
    and failed by stage) is accepted.
    """
    if isinstance(desc, Linear):
        return model_linear(desc, ordered=ordered)
    if isinstance(desc, ToRouting):
        return model_to_routing(desc)
    if desc.router != "key":
        return model_fanout(desc, ordered=ordered)
    for assign in key_assignments(desc):
        model = model_fanout(desc, ordered=ordered, key_assign=assign)
        sinks = {name: Counter(v) for name, v in model.sinks.items()}
        counted = {name: ref[:3] for name, ref in model.stats.items()}
        if sinks == got and counted.items() <= seen.items():
            return model
    return model_fanout(desc, ordered=ordered)


# --------------------------------------------------------------------------
# The properties


def run_and_check(desc: Desc, *, deterministic: bool) -> None:
    pipe, sinks = build(desc)
    report = pipe.run(timeout=TIMEOUT, deterministic=deterministic)
    summary = report.summary()
    assert report.status == "succeeded", summary
    assert report.errors == (), summary
    got = {name: Counter(s.items) for name, s in sinks.items()}
    seen = {
        name: (s.items_in, s.items_out, s.items_failed)
        for name, s in report.stages.items()
    }
    model = model_for(desc, got, seen, ordered=deterministic)
    want = {name: Counter(v) for name, v in model.sinks.items()}

    # Delivery.
    if model.exact:
        assert got == want, summary
    else:
        assert sum(got.values(), Counter()) == sum(want.values(), Counter()), summary
        counts = {name: len(s.items) for name, s in sinks.items()}
        assert counts == {name: len(v) for name, v in model.sinks.items()}, summary
    for name in model.ordered_sinks:
        assert sinks[name].items == model.sinks[name], f"order at {name}\n{summary}"

    # Statistics.
    assert report.total_produced == len(desc.items), summary
    assert report.stages["src"].items_out == len(desc.items), summary
    assert set(report.stages) == {"src", *model.stats}, summary
    for name, (n_in, n_out, n_failed, n_dropped) in model.stats.items():
        s = report.stages[name]
        where = f"stage {name!r}\n{summary}"
        counted = (s.items_in, s.items_out, s.items_failed)
        assert counted == (n_in, n_out, n_failed), where
        if name not in model.terminal:
            assert s.items_dropped == n_dropped, where
            if name in model.one_to_one:
                assert n_in == s.items_out + s.items_failed + s.items_dropped, where
    if not (isinstance(desc, ToRouting) and desc.route_terminal):
        delivered = sum(len(s.items) for s in sinks.values())
        assert report.total_consumed == delivered, summary
    if isinstance(desc, Linear) and all(p.fn.kind != "flat" for p in desc.procs):
        # Every item is accounted for: delivered, failed or filtered (SPEC §5).
        assert report.total_produced == (
            len(sinks["sink"].items) + report.total_failed + report.total_dropped
        ), summary
        assert report.total_failed == sum(f for _, _, f, _ in model.stats.values())


# The smallest pipeline with a thread-pool stage; explicit so that it is
# always tried (the report once lost the statistics of such stages).
THREADED_MAP = Linear(
    items=(0, 1, 2),
    procs=(Proc(Fn("map", 1, 0, 2, 0), threads=True, queue_size=1000),),
    sink_queue=1000,
)


@settings(max_examples=40, deadline=None)
@example(desc=THREADED_MAP)
@given(desc=linears())
def test_linear_chains_deliver_the_reference(desc: Linear) -> None:
    run_and_check(desc, deterministic=False)


@settings(max_examples=40, deadline=None)
@given(desc=fanouts(diamond=False))
def test_fan_out_through_each_router_delivers_the_reference(desc: FanOut) -> None:
    run_and_check(desc, deterministic=False)


@settings(max_examples=40, deadline=None)
@given(desc=fanouts(diamond=True))
def test_diamonds_deliver_the_reference(desc: FanOut) -> None:
    run_and_check(desc, deterministic=False)


@settings(max_examples=40, deadline=None)
@given(desc=to_routings())
def test_to_routing_delivers_the_reference(desc: ToRouting) -> None:
    run_and_check(desc, deterministic=False)


@settings(max_examples=40, deadline=None)
@given(desc=any_pipeline(ordered=True))
def test_deterministic_mode_delivers_the_reference(desc: Desc) -> None:
    run_and_check(desc, deterministic=True)
