"""Nested and multiple pipelines end to end (SPEC §2.2, §2.5-§2.9, §6; issue 4).

A Pipeline added to another behaves as a stage; sibling pipelines are wired
only explicitly; names resolve local first, then descendants, then up the
parents; cycles across pipelines are rejected before anything runs; hooks of
a nested pipeline apply to everything below it; ``reroute`` replaces the
outgoing edges of a stage. Inner stages run inline, on threads and on
processes wherever the executor matters.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun.testing import ListSink, capture_logs

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

TIMEOUT = 30.0
N = 40

EXECUTORS = [
    pytest.param({}, id="inline"),
    pytest.param({"threads": 2}, id="threads"),
    pytest.param({"processes": 2}, id="processes"),
]


@pytest.fixture(params=EXECUTORS)
def inner_opts(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Executor options for the stages inside nested pipelines."""
    return dict(request.param)


def describe(opts: dict[str, Any]) -> str:
    """The report's executor column for stage options *opts*."""
    if "threads" in opts:
        return f"threads({opts['threads']})"
    if "processes" in opts:
        return f"processes({opts['processes']})"
    return "inline"


def ident(item: Any) -> Any:
    return item


def proc(
    name: str, fn: Callable[..., Any] = ident, **options: Any
) -> mg.Processor[Any, Any]:
    """Return a processor named *name* running *fn* (identity by default)."""
    return mg.Processor(name, fn, **options)


def source(name: str, items: Iterable[Any], **options: Any) -> mg.Producer[Any]:
    """Return a producer named *name* yielding *items*."""
    data = list(items)
    return mg.Producer(name, lambda: iter(data), **options)


def tag(label: str) -> Callable[[Any], tuple[str, Any]]:
    """Return a function mapping ``x`` to ``(label, x)``."""

    def fn(item: Any) -> tuple[str, Any]:
        return (label, item)

    return fn


def always_fail(item: Any) -> Any:
    msg = f"bad item {item!r}"
    raise ValueError(msg)


def nested(name: str, *stages: mg.Stage[Any, Any], **kwargs: Any) -> mg.Pipeline:
    """Return a pipeline named *name* holding *stages* (added in order)."""
    pipe = mg.Pipeline(name, **kwargs)
    for s in stages:
        pipe.add(s)
    return pipe


# ---------------------------------------------------------------------------
# 1. A nested pipeline behaves as a stage


def test_items_reach_the_entry_and_leave_by_the_pipelines_own_edges(
    inner_opts: dict[str, Any],
) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(
        nested(
            "inner",
            proc("double", lambda n: n * 2, **inner_opts),
            proc("inc", lambda n: n + 1, **inner_opts),
        )
    )
    sink = root.add(ListSink("sink"))

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert report.stages["inner.double"].executor == describe(inner_opts)
    assert sorted(sink.items) == [n * 2 + 1 for n in range(N)]
    assert report.stages["inner.double"].items_in == N
    assert report.stages["inner.inc"].items_out == N
    assert report.stages["sink"].items_in == N
    assert report.total_consumed == N


def test_a_pipeline_nested_two_deep_is_wired_inside_its_parent(
    inner_opts: dict[str, Any],
) -> None:
    """D16: a pipeline nested in a nested pipeline is chained where it was added."""
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    inner = root.add(mg.Pipeline("inner"))
    inner.add(proc("pre", lambda n: n * 10))
    inner.add(nested("deep", proc("work", lambda n: n + 1, **inner_opts)))
    inner.add(proc("post", lambda n: -n))
    sink = root.add(ListSink("sink"))

    report = root.run(timeout=TIMEOUT)

    assert sorted(sink.items) == sorted(-(n * 10 + 1) for n in range(N))
    assert report.stages["inner.deep.work"].items_in == N


def test_several_entries_each_receive_every_item_by_default(
    inner_opts: dict[str, Any],
) -> None:
    """Two entry stages of a nested pipeline: broadcast, and both exits leave."""
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    inner = root.add(mg.Pipeline("inner"))
    with inner.parallel():
        inner.add(proc("a", tag("a"), **inner_opts))
        inner.add(proc("b", tag("b"), **inner_opts))
    sink = root.add(ListSink("sink"))

    report = root.run(timeout=TIMEOUT)

    expected = [(t, n) for t in "ab" for n in range(N)]
    assert sorted(sink.items) == expected
    assert report.stages["inner.a"].items_in == N
    assert report.stages["inner.b"].items_in == N
    assert "inner.<entry>" not in report.stages


def test_round_robin_on_a_nested_pipeline_rotates_among_its_entries(
    inner_opts: dict[str, Any],
) -> None:
    """D8: several entries with routing="round_robin" rotate (and never deadlock).

    Many more items than queue_size go through, so a blocked entrance would
    hang the run (the timeout would fire).
    """
    count = 300
    root = mg.Pipeline("root", queue_size=4)
    root.add(source("src", range(count)))
    inner = root.add(mg.Pipeline("inner", routing="round_robin"))
    with inner.parallel():
        for label in "abc":
            inner.add(proc(label, tag(label), **inner_opts))
    sink = root.add(ListSink("sink"))

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    got: dict[str, set[int]] = {label: set() for label in "abc"}
    for label, n in sink.items:
        got[label].add(n)
    assert got == {label: set(range(k, count, 3)) for k, label in enumerate("abc")}
    assert [report.stages[f"inner.{x}"].items_in for x in "abc"] == [100, 100, 100]


def test_a_router_given_to_a_nested_pipeline_spreads_over_its_entries() -> None:
    """router= on a nested pipeline: a KeyRouter keeps equal keys together."""
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    inner = root.add(mg.Pipeline("inner", router=mg.KeyRouter(lambda n: n % 4)))
    with inner.parallel():
        inner.add(proc("a", tag("a")))
        inner.add(proc("b", tag("b")))
    sink = root.add(ListSink("sink"))

    root.run(timeout=TIMEOUT)

    assert sorted(n for _, n in sink.items) == list(range(N))
    lane_of: dict[int, set[str]] = {}
    for label, n in sink.items:
        lane_of.setdefault(n % 4, set()).add(label)
    assert all(len(labels) == 1 for labels in lane_of.values())


def test_producers_inside_a_nested_pipeline_run_and_are_not_entries(
    inner_opts: dict[str, Any],
) -> None:
    """An inner producer runs; outer items reach the non-producer entry only."""
    root = mg.Pipeline("root")
    root.add(source("src", range(5)))
    inner = root.add(mg.Pipeline("inner"))
    inner.add(source("isrc", range(100, 105), to="merge"))
    inner.add(proc("entry", lambda n: n + 1000, to="merge", **inner_opts))
    inner.add(proc("merge", **inner_opts))
    sink = root.add(ListSink("sink"))

    report = root.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [*range(100, 105), *range(1000, 1005)]
    assert report.stages["inner.entry"].items_in == 5
    assert report.stages["inner.merge"].items_in == 10
    assert report.total_produced == 10


def test_a_pipeline_of_only_a_producer_feeds_the_stage_after_it() -> None:
    root = mg.Pipeline("root")
    root.add(
        nested("gen", source("numbers", range(7)), proc("square", lambda n: n * n))
    )
    sink = root.add(ListSink("sink"))

    report = root.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [n * n for n in range(7)]
    assert report.total_produced == 7


def test_nested_config_inherits_the_parents_with_its_own_overrides(
    inner_opts: dict[str, Any],
) -> None:
    """Inner stages get the parent's queue_size and the inner max_retries=0."""
    root = mg.Pipeline("root", queue_size=5, retry_delay=0, on_error="skip")
    root.add(source("src", range(6), to=["outer_fail", "inner"]))
    root.add(proc("outer_fail", always_fail, to=()))
    inner = root.add(mg.Pipeline("inner", max_retries=0))
    inner.add(proc("inner_fail", always_fail, **inner_opts))
    deep = inner.add(nested("deep", proc("deep_stage")))

    assert (inner.config.queue_size, inner.config.max_retries) == (5, 0)
    assert (deep.config.queue_size, deep.config.max_retries) == (5, 0)
    assert inner.config.on_error == "skip"

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert report.stages["outer_fail"].queue_size == 5
    assert report.stages["inner.inner_fail"].queue_size == 5
    assert report.stages["inner.deep.deep_stage"].queue_size == 5
    # The parent's max_retries (3) applies outside, the override inside.
    assert report.stages["outer_fail"].items_failed == 6
    assert report.stages["outer_fail"].items_retried == 18
    assert report.stages["inner.inner_fail"].items_failed == 6
    assert report.stages["inner.inner_fail"].items_retried == 0


def test_nested_override_beats_the_parents_value() -> None:
    root = mg.Pipeline("root", queue_size=5)
    root.add(source("src", range(3)))
    root.add(nested("inner", proc("x"), queue_size=3))
    root.add(ListSink("sink"))

    report = root.run(timeout=TIMEOUT)

    assert report.stages["inner.x"].queue_size == 3
    assert report.stages["sink"].queue_size == 5


def test_nested_config_argument_is_its_own_base() -> None:
    """config= on a nested pipeline replaces the inherited base (documented)."""
    root = mg.Pipeline("root", queue_size=5)
    inner = root.add(mg.Pipeline("inner", config=mg.Config(max_retries=1)))
    assert (inner.config.queue_size, inner.config.max_retries) == (1000, 1)


# ---------------------------------------------------------------------------
# 2. Sibling pipelines: never chained implicitly, every explicit wiring works


def test_sibling_pipelines_are_never_chained_implicitly() -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(5)))
    first = root.add(nested("first", ListSink("a")))
    second = root.add(nested("second", ListSink("b")))
    sink = root.add(ListSink("sink"))

    graph = root.graph()
    edges = {(graph.names[e.src], graph.names[e.dst]) for e in graph.edges}
    assert edges == {("src", "first.a"), ("second.b", "sink")}

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    a = first.stage("a")
    b = second.stage("b")
    assert isinstance(a, ListSink)
    assert isinstance(b, ListSink)
    assert sorted(a.items) == list(range(5))
    assert (b.items, sink.items) == ([], [])


def _plus(k: int) -> Callable[[int], int]:
    def fn(n: int) -> int:
        return n + k

    return fn


def test_pipeline_to_pipeline_with_to(inner_opts: dict[str, Any]) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(nested("p1", proc("a", _plus(100), **inner_opts), to="p2"))
    root.add(nested("p2", proc("b", _plus(1000), **inner_opts)))
    sink = root.add(ListSink("sink"))

    root.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [n + 1100 for n in range(N)]


def test_pipeline_from_pipeline_with_from(inner_opts: dict[str, Any]) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(nested("p1", proc("a", _plus(100), **inner_opts)))
    root.add(nested("p2", proc("b", _plus(1000), **inner_opts), from_="p1"))
    sink = root.add(ListSink("sink"))

    root.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [n + 1100 for n in range(N)]


def test_stage_to_pipeline_and_pipeline_to_stage(inner_opts: dict[str, Any]) -> None:
    """A stage's to= names a pipeline; the pipeline's to= names a stage."""
    root = mg.Pipeline("root")
    root.add(source("src", range(N), to="p"))
    skipped = root.add(ListSink("skipped", to=()))
    sink = root.add(ListSink("sink", to=()))
    root.add(nested("p", proc("a", _plus(100), **inner_opts), to="sink"))

    root.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [n + 100 for n in range(N)]
    assert skipped.items == []


def test_from_in_each_direction(inner_opts: dict[str, Any]) -> None:
    """A pipeline's from_= names a stage; a stage's from_= names a pipeline."""
    root = mg.Pipeline("root")
    root.add(source("src", range(N), to=()))
    root.add(nested("p", proc("a", _plus(100), **inner_opts), from_="src", to=()))
    sink = root.add(ListSink("sink", from_="p"))

    root.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [n + 100 for n in range(N)]


def test_one_pipeline_to_many(inner_opts: dict[str, Any]) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(nested("p1", proc("a", _plus(100), **inner_opts), to=["p2", "p3"]))
    s2 = ListSink("s2")
    s3 = ListSink("s3")
    root.add(nested("p2", proc("b", _plus(1000), **inner_opts), s2))
    root.add(nested("p3", proc("c", _plus(2000), **inner_opts), s3))

    root.run(timeout=TIMEOUT)

    assert sorted(s2.items) == [n + 1100 for n in range(N)]
    assert sorted(s3.items) == [n + 2100 for n in range(N)]


def test_many_pipelines_to_one(inner_opts: dict[str, Any]) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N), to=["p1", "p2"]))
    root.add(nested("p1", proc("a", _plus(100), **inner_opts), to="p3"))
    root.add(nested("p2", proc("b", _plus(200), **inner_opts), to="p3"))
    sink = ListSink("sink")
    root.add(nested("p3", proc("c", _plus(1000), **inner_opts), sink))

    report = root.run(timeout=TIMEOUT)

    assert Counter(sink.items) == Counter(
        [n + 1100 for n in range(N)] + [n + 1200 for n in range(N)]
    )
    assert report.stages["p3.c"].items_in == 2 * N


def test_many_pipelines_to_many(inner_opts: dict[str, Any]) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N), to=["p1", "p2"]))
    root.add(nested("p1", proc("a", _plus(100), **inner_opts), to=["p3", "p4"]))
    root.add(nested("p2", proc("b", _plus(200), **inner_opts), to=["p3", "p4"]))
    s3 = ListSink("s3")
    s4 = ListSink("s4")
    root.add(nested("p3", proc("c", _plus(1000), **inner_opts), s3))
    root.add(nested("p4", proc("d", _plus(2000), **inner_opts), s4))

    root.run(timeout=TIMEOUT)

    base = [n + 100 for n in range(N)] + [n + 200 for n in range(N)]
    assert Counter(s3.items) == Counter(n + 1000 for n in base)
    assert Counter(s4.items) == Counter(n + 2000 for n in base)


def _deep_tree(
    sender_opts: dict[str, Any], target: Any
) -> tuple[mg.Pipeline, ListSink]:
    """root: src -> disp (To target) ; a[b[c[deep_sink]]] ; x[other]."""
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    deep_sink = ListSink("deep_sink")
    root.add(proc("disp", lambda n: mg.To(target, n), to=(), **sender_opts))
    a = root.add(mg.Pipeline("a"))
    b = a.add(mg.Pipeline("b"))
    b.add(nested("c", deep_sink))
    root.add(nested("x", ListSink("other")))
    return root, deep_sink


@pytest.mark.parametrize("target", ["deep_sink", "a.b.c.deep_sink"])
def test_to_reaches_a_stage_at_any_depth_by_name(
    inner_opts: dict[str, Any], target: str
) -> None:
    root, deep_sink = _deep_tree(inner_opts, target)

    report = root.run(timeout=TIMEOUT)

    assert sorted(deep_sink.items) == list(range(N))
    assert report.stages["a.b.c.deep_sink"].items_in == N
    assert report.stages["x.other"].items_in == 0


def test_to_reaches_a_stage_at_any_depth_by_object() -> None:
    deep_sink = ListSink("deep_sink")
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(proc("disp", lambda n: mg.To(deep_sink, n), to=()))
    a = root.add(mg.Pipeline("a"))
    b = a.add(mg.Pipeline("b"))
    b.add(nested("c", deep_sink))

    root.run(timeout=TIMEOUT)

    assert sorted(deep_sink.items) == list(range(N))


@pytest.mark.parametrize("target", ["deep_sinc", "a.b.c.deep_sinc"])
def test_to_an_unknown_name_suggests_the_qualified_name(target: str) -> None:
    root, deep_sink = _deep_tree({}, target)

    with pytest.raises(mg.PipelineError) as info:
        root.run(timeout=TIMEOUT)

    group = info.value.subgroup(mg.RoutingError)
    assert group is not None
    message = str(group.exceptions[0])
    assert f"unknown stage {target!r}" in message
    assert "did you mean 'a.b.c.deep_sink'?" in message
    assert deep_sink.items == []


@pytest.mark.parametrize("target", ["other", "x.other", "top"])
def test_to_from_deep_inside_reaches_cousins_and_outer_stages(
    inner_opts: dict[str, Any], target: str
) -> None:
    """A stage in a.b sends To a stage of another branch, or of the root."""
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    a = root.add(mg.Pipeline("a"))
    b = a.add(mg.Pipeline("b"))
    b.add(proc("send", lambda n: mg.To(target, n), to=(), **inner_opts))
    other = ListSink("other")
    root.add(nested("x", other))
    top = root.add(ListSink("top", to=()))

    root.run(timeout=TIMEOUT)

    got = top.items if target == "top" else other.items
    assert sorted(got) == list(range(N))


@pytest.mark.parametrize("target", ["inner", "a.inner"])
@pytest.mark.parametrize("routing", [None, "round_robin"])
def test_to_a_nested_pipeline_by_name_reaches_its_entries(
    target: str, routing: str | None
) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(proc("disp", lambda n: mg.To(target, n), to=()))
    a = root.add(mg.Pipeline("a"))
    inner = a.add(mg.Pipeline("inner", routing=routing))
    with inner.parallel():
        e1 = inner.add(ListSink("e1"))
        e2 = inner.add(ListSink("e2"))

    root.run(timeout=TIMEOUT)

    if routing is None:
        assert sorted(e1.items) == sorted(e2.items) == list(range(N))
    else:
        assert sorted(e1.items) == list(range(0, N, 2))
        assert sorted(e2.items) == list(range(1, N, 2))


def test_to_a_nested_pipeline_with_one_entry_reaches_it(
    inner_opts: dict[str, Any],
) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(proc("disp", lambda n: mg.To("inner", n), to=()))
    root.add(nested("inner", proc("inc", _plus(1), **inner_opts)))
    sink = root.add(ListSink("sink"))

    root.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [n + 1 for n in range(N)]


# ---------------------------------------------------------------------------
# 3. Name resolution (SPEC §2.5) at run time


def _sender(label: str, target: str) -> mg.Producer[Any]:
    """A producer that sends one marker ``label`` To *target*."""
    name = "send_" + label.replace(".", "_")
    return mg.Producer(name, lambda: [mg.To(target, label)], to=())


def test_local_stage_wins_then_descendants_then_parents() -> None:
    """``parse`` exists in root, a and a.b; each sender gets the nearest one."""
    root = mg.Pipeline("root")
    sinks = {"root": root.add(ListSink("parse", to=()))}
    root.add(_sender("root", "parse"))
    a = root.add(mg.Pipeline("a"))
    sinks["a"] = a.add(ListSink("parse", to=()))
    a.add(_sender("a", "parse"))
    b = a.add(mg.Pipeline("b"))
    sinks["a.b"] = b.add(ListSink("parse", to=()))
    b.add(_sender("a.b", "parse"))
    # c has no "parse": its sender looks up through its parent (the root).
    c = root.add(mg.Pipeline("c"))
    c.add(_sender("c", "parse"))
    # d.e has no "parse" either; its parent d neither: the root's wins.
    d = root.add(mg.Pipeline("d"))
    e = d.add(mg.Pipeline("e"))
    e.add(_sender("d.e", "parse"))

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sinks["root"].items) == ["c", "d.e", "root"]
    assert sinks["a"].items == ["a"]
    assert sinks["a.b"].items == ["a.b"]


def test_descendants_are_searched_by_depth() -> None:
    """From the root, a.x (depth 1) wins over b.c.x (depth 2)."""
    root = mg.Pipeline("root")
    root.add(_sender("root", "x"))
    near = ListSink("x")
    far = ListSink("x")
    root.add(nested("a", near))
    b = root.add(mg.Pipeline("b"))
    b.add(nested("c", far))

    root.run(timeout=TIMEOUT)

    assert (near.items, far.items) == (["root"], [])


def test_qualified_names_are_exact() -> None:
    """A qualified name reaches that stage even when a nearer one shares the name."""
    root = mg.Pipeline("root")
    local = root.add(ListSink("parse", to=()))
    root.add(_sender("root", "a.b.parse"))
    a = root.add(mg.Pipeline("a"))
    mid = a.add(ListSink("parse", to=()))
    a.add(_sender("a", "a.b.parse"))
    deep = ListSink("parse", to=())
    a.add(nested("b", deep))

    root.run(timeout=TIMEOUT)

    assert (local.items, mid.items) == ([], [])
    assert sorted(deep.items) == ["a", "root"]


def _two_parses(disp_to: Any) -> tuple[mg.Pipeline, ListSink, ListSink]:
    root = mg.Pipeline("root")
    root.add(source("src", range(5)))
    root.add(proc("disp", lambda n: mg.To("parse", n), to=disp_to))
    pa = ListSink("parse")
    pb = ListSink("parse")
    root.add(nested("a", pa))
    root.add(nested("b", pb))
    return root, pa, pb


def test_ambiguous_to_fails_the_run_with_ambiguous_route_error() -> None:
    root, _, _ = _two_parses(())

    with pytest.raises(mg.PipelineError) as info:
        root.run(timeout=TIMEOUT)

    group = info.value.subgroup(mg.AmbiguousRouteError)
    assert group is not None
    err = group.exceptions[0]
    assert isinstance(err, mg.AmbiguousRouteError)
    assert set(err.candidates) == {"a.parse", "b.parse"}
    assert "'a.parse'" in str(err)
    assert "'b.parse'" in str(err)
    assert info.value.report.status == "failed"


@pytest.mark.parametrize("neighbour", ["a", "b.parse"])
def test_ambiguous_to_picks_the_one_immediate_downstream_neighbour(
    neighbour: str,
) -> None:
    root, pa, pb = _two_parses(neighbour)

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    chosen, other = (pa, pb) if neighbour == "a" else (pb, pa)
    assert sorted(chosen.items) == list(range(5))
    assert other.items == []


def test_the_same_short_name_may_exist_in_several_pipelines(
    inner_opts: dict[str, Any],
) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N), to=["a", "b"]))
    sinks = []
    for label in "ab":
        sink = ListSink("save")
        sinks.append(sink)
        root.add(nested(label, proc("parse", tag(label), **inner_opts), sink))

    report = root.run(timeout=TIMEOUT)

    assert {"a.parse", "a.save", "b.parse", "b.save"} <= set(report.stages)
    assert sorted(sinks[0].items) == [("a", n) for n in range(N)]
    assert sorted(sinks[1].items) == [("b", n) for n in range(N)]


def test_report_rows_and_stage_errors_use_qualified_names(
    inner_opts: dict[str, Any],
) -> None:
    root = mg.Pipeline("root", max_retries=0)
    root.add(source("src", [7]))
    a = root.add(mg.Pipeline("a"))
    b = a.add(mg.Pipeline("b"))
    b.add(proc("fail", always_fail, **inner_opts))

    with pytest.raises(mg.PipelineError) as info:
        root.run(timeout=TIMEOUT)

    group = info.value.subgroup(mg.StageError)
    assert group is not None
    err = group.exceptions[0]
    assert isinstance(err, mg.StageError)
    assert err.stage == "a.b.fail"
    assert "'a.b.fail'" in str(err)
    assert err.item_repr == "7"
    assert list(info.value.report.stages) == ["src", "a.b.fail"]


def test_logs_use_qualified_names() -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(3)))
    inner = root.add(mg.Pipeline("inner"))
    inner.add(nested("deep", proc("work")))

    with capture_logs() as records:
        root.run(timeout=TIMEOUT)

    stages = {r["extra"].get("stage") for r in records}
    assert "inner.deep.work" in stages
    assert "work" not in stages
    assert any("inner.deep.work" in r["message"] for r in records)


# ---------------------------------------------------------------------------
# 4. Cycles across pipelines are rejected before anything runs


def _cycle_between_pipelines_to() -> mg.Pipeline:
    root = mg.Pipeline("root")
    root.add(nested("a", proc("x"), to="b"))
    root.add(nested("b", proc("y"), to="a"))
    return root


def _cycle_between_pipelines_from() -> mg.Pipeline:
    root = mg.Pipeline("root")
    root.add(nested("a", proc("x"), from_="b"))
    root.add(nested("b", proc("y"), from_="a"))
    return root


def _pipeline_to_itself() -> mg.Pipeline:
    root = mg.Pipeline("root")
    root.add(nested("a", proc("x"), proc("y"), to="a"))
    return root


def _inner_stage_from_outer_downstream() -> mg.Pipeline:
    root = mg.Pipeline("root")
    root.add(nested("a", proc("x", from_="z")))
    root.add(proc("z"))
    return root


def _deep_stage_to_outer_ancestor() -> mg.Pipeline:
    root = mg.Pipeline("root")
    root.add(proc("head"))
    a = root.add(mg.Pipeline("a"))
    a.add(nested("b", proc("tail", to="head")))
    return root


@pytest.mark.parametrize(
    ("build", "names"),
    [
        pytest.param(_cycle_between_pipelines_to, {"a.x", "b.y"}, id="to"),
        pytest.param(_cycle_between_pipelines_from, {"a.x", "b.y"}, id="from_"),
        pytest.param(_pipeline_to_itself, {"a.x", "a.y"}, id="self"),
        pytest.param(_inner_stage_from_outer_downstream, {"a.x", "z"}, id="inner-from"),
        pytest.param(_deep_stage_to_outer_ancestor, {"head", "a.b.tail"}, id="deep-to"),
    ],
)
def test_cycles_across_pipelines_are_rejected_with_the_path(
    build: Callable[[], mg.Pipeline], names: set[str]
) -> None:
    root = build()
    ran: list[str] = []
    root.hooks.append("before_run", lambda: ran.append("before_run"))

    def probe() -> list[int]:
        ran.append("probe")
        return []

    root.add(mg.Producer("probe", probe, to=()))

    with pytest.raises(mg.DefinitionError, match="cycle: ") as info:
        root.run(timeout=TIMEOUT)

    line = next(x for x in str(info.value).splitlines() if "cycle: " in x)
    path = line.split("cycle: ", 1)[1].split(" -> ")
    assert path[0] == path[-1]
    assert set(path) == names
    assert ran == []


def test_a_single_stage_pipeline_routing_to_itself_is_a_cycle() -> None:
    root = mg.Pipeline("root")
    root.add(nested("a", proc("x"), to="a"))
    with pytest.raises(mg.DefinitionError, match=r"cycle: a\.x -> a\.x"):
        root.validate()


# ---------------------------------------------------------------------------
# 5. Hooks across nesting (SPEC §6, D1, D2)


def _three_levels(
    inner_opts: dict[str, Any],
) -> tuple[mg.Pipeline, mg.Pipeline, mg.Pipeline]:
    """root: src -> inner[deep[work]] -> sink."""
    root = mg.Pipeline("root")
    root.add(source("src", range(6)))
    inner = root.add(mg.Pipeline("inner"))
    deep = inner.add(nested("deep", proc("work", **inner_opts)))
    inner.add(proc("mid"))
    root.add(ListSink("sink"))
    return root, inner, deep


def test_pipeline_hooks_apply_to_their_stages_and_everything_below(
    inner_opts: dict[str, Any],
) -> None:
    """D2: hooks declared on nested pipelines run, for their subtree only."""
    root, inner, deep = _three_levels(inner_opts)
    seen: dict[str, dict[str, list[str]]] = {}
    for label, p in (("root", root), ("inner", inner), ("deep", deep)):
        seen[label] = {"before_stage": [], "after_stage": []}
        for event in ("before_stage", "after_stage"):
            p.hooks.append(
                event, lambda stage, lst=seen[label][event]: lst.append(stage)
            )

    root.run(timeout=TIMEOUT)

    everything = ["src", "inner.deep.work", "inner.mid", "sink"]
    for event in ("before_stage", "after_stage"):
        assert sorted(seen["root"][event]) == sorted(everything)
        assert sorted(seen["inner"][event]) == ["inner.deep.work", "inner.mid"]
        assert seen["deep"][event] == ["inner.deep.work"]


def test_hook_order_is_outer_pipeline_inner_pipeline_then_stage(
    inner_opts: dict[str, Any],
) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(3)))
    inner = root.add(mg.Pipeline("inner"))
    order: dict[str, list[str]] = {"before_stage": [], "after_stage": []}

    def rec(event: str, label: str) -> Callable[[str], None]:
        def hook(stage: str) -> None:
            if stage == "inner.deep.work":
                order[event].append(label)

        return hook

    deep = inner.add(
        nested(
            "deep",
            proc(
                "work",
                before=lambda: order["before_stage"].append("inline"),
                after=lambda: order["after_stage"].append("inline"),
                **inner_opts,
            ),
        )
    )
    for event in ("before_stage", "after_stage"):
        # Registered innermost first and stage-named first, to prove the
        # order comes from the nesting, not from registration.
        deep.hooks.append(event, rec(event, "deep[work]"), stage="work")
        deep.hooks.append(event, rec(event, "deep"))
        inner.hooks.append(event, rec(event, "inner[deep.work]"), stage="deep.work")
        inner.hooks.append(event, rec(event, "inner"))
        root.hooks.append(
            event, rec(event, "root[inner.deep.work]"), stage="inner.deep.work"
        )
        root.hooks.append(event, rec(event, "root"))

    root.run(timeout=TIMEOUT)

    expected = [
        "root",
        "root[inner.deep.work]",
        "inner",
        "inner[deep.work]",
        "deep",
        "deep[work]",
        "inline",
    ]
    assert order["before_stage"] == expected
    assert order["after_stage"] == expected


def test_on_error_hooks_of_a_nested_pipeline_see_only_its_stages(
    inner_opts: dict[str, Any],
) -> None:
    root = mg.Pipeline("root", on_error="skip", max_retries=0)
    root.add(source("src", range(4), to=["outer_fail", "inner"]))
    root.add(proc("outer_fail", always_fail, to=()))
    inner = root.add(nested("inner", proc("inner_fail", always_fail, **inner_opts)))
    by_root: list[str] = []
    by_inner: list[tuple[str, Any]] = []
    root.hooks.append("on_error", lambda stage: by_root.append(stage))  # noqa: PLW0108 - the hook takes stage=
    inner.hooks.append("on_error", lambda stage, item: by_inner.append((stage, item)))

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert Counter(by_root) == Counter({"outer_fail": 4, "inner.inner_fail": 4})
    assert sorted(by_inner) == [("inner.inner_fail", n) for n in range(4)]


def test_fork_hooks_of_a_pipeline_apply_to_process_stages_nested_below(
    tmp_path: Path,
) -> None:
    """before_fork (parent, per worker) and after_fork (each child) from inner."""
    root = mg.Pipeline("root")
    root.add(source("src", range(20)))
    inner = root.add(mg.Pipeline("inner"))
    deep = inner.add(mg.Pipeline("deep"))
    deep.add(proc("work", lambda n: (n, os.getpid()), processes=2))
    deep.add(proc("threaded", threads=2))
    root.add(ListSink("sink"))
    log = tmp_path / "after_fork.log"
    before: list[tuple[str, int]] = []

    def after_fork(stage: str) -> None:
        with log.open("a") as f:
            f.write(f"{os.getpid()} {stage}\n")

    inner.hooks.append("before_fork", lambda stage: before.append((stage, os.getpid())))
    inner.hooks.append("after_fork", after_fork)

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert before == [("inner.deep.work", os.getpid())] * 2
    lines = [line.split() for line in log.read_text().splitlines()]
    assert {stage for _, stage in lines} == {"inner.deep.work"}
    pids = {int(pid) for pid, _ in lines}
    assert len(lines) == 2
    assert len(pids) == 2
    assert os.getpid() not in pids


def test_before_and_after_run_of_nested_pipelines_run_once_per_run(
    inner_opts: dict[str, Any],
) -> None:
    """D1/D2: every pipeline's before_run/after_run, exactly once per run."""
    root, inner, deep = _three_levels(inner_opts)
    events: list[str] = []
    for label, p in (("root", root), ("inner", inner), ("deep", deep)):
        p.hooks.append(
            "before_run",
            lambda pipeline, label=label: events.append(
                f"before_run {label} {pipeline.name}"
            ),
        )
        p.hooks.append(
            "after_run",
            lambda pipeline, label=label: events.append(
                f"after_run {label} {pipeline.name}"
            ),
        )
    root.hooks.append("before_stage", lambda stage: events.append("before_stage"))
    root.hooks.append("after_stage", lambda stage: events.append("after_stage"))

    for run in (1, 2):
        events.clear()
        report = root.run(timeout=TIMEOUT)
        assert report.status == "succeeded", run
        befores = [e for e in events if e.startswith("before_run")]
        afters = [e for e in events if e.startswith("after_run")]
        assert befores == [
            "before_run root root",
            "before_run inner inner",
            "before_run deep deep",
        ]
        assert sorted(afters) == [
            "after_run deep deep",
            "after_run inner inner",
            "after_run root root",
        ]
        # before_run before any stage starts; after_run after every stage ended.
        first_stage = events.index("before_stage")
        assert all(events.index(e) < first_stage for e in befores)
        last_stage = len(events) - 1 - events[::-1].index("after_stage")
        assert all(events.index(e) > last_stage for e in afters)


# ---------------------------------------------------------------------------
# 6. reroute


@pytest.mark.parametrize("wiring", ["to", "connect", "from_", "sequential"])
def test_reroute_replaces_every_outgoing_edge(wiring: str) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(proc("a", _plus(1), to="b" if wiring == "to" else None))
    if wiring == "connect":
        root.connect("a", "b")
    b = root.add(ListSink("b", from_="a" if wiring == "from_" else None, to=()))
    c = root.add(ListSink("c"))
    root.reroute("a", to=["c"])

    graph = root.graph()
    edges = {(graph.names[e.src], graph.names[e.dst]) for e in graph.edges}
    assert ("a", "b") not in edges
    assert ("a", "c") in edges

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(c.items) == [n + 1 for n in range(N)]
    assert b.items == []


def test_a_stage_left_without_upstream_finishes_and_gets_only_to_items(
    inner_opts: dict[str, Any],
) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(proc("a", to="b"))
    root.add(proc("b", _plus(1000), to="sink", **inner_opts))
    root.add(
        proc("c", lambda n: mg.To("b", n) if n % 2 else n, to="sink", **inner_opts)
    )
    sink = root.add(ListSink("sink"))
    root.reroute("a", to="c")

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    odd = [n + 1000 for n in range(1, N, 2)]
    assert sorted(sink.items) == sorted([*range(0, N, 2), *odd])
    assert report.stages["b"].items_in == N // 2


def test_a_stage_left_without_any_sender_does_not_hang(
    inner_opts: dict[str, Any],
) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(proc("a", to="b"))
    b = root.add(ListSink("b", to=(), **inner_opts))
    root.add(proc("slow", **inner_opts))
    c = root.add(ListSink("c"))
    root.reroute("a", to="slow")

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert b.items == []
    assert sorted(c.items) == list(range(N))


def test_reroute_a_nested_pipeline(inner_opts: dict[str, Any]) -> None:
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(nested("inner", proc("x", _plus(1), **inner_opts)))
    skipped = root.add(ListSink("skipped", to=()))
    sink = root.add(ListSink("sink"))
    root.reroute("inner", to="sink")

    root.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [n + 1 for n in range(N)]
    assert skipped.items == []


def test_reroute_a_stage_inside_a_nested_pipeline_from_the_root() -> None:
    """root.reroute("inner.x", ...) replaces inner.x's edges like inner.reroute."""
    root = mg.Pipeline("root")
    root.add(source("src", range(N), to="inner.x"))
    inner = root.add(mg.Pipeline("inner"))
    inner.add(proc("x", _plus(1), to="y"))
    y = inner.add(ListSink("y", to=()))
    other = root.add(ListSink("other"))
    root.reroute("inner.x", to="other")

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(other.items) == [n + 1 for n in range(N)]
    assert y.items == []
