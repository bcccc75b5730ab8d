"""Unit tests of the stage graph built by Pipeline.graph() (SPEC §2.1, §2.2, §2.7)."""

from __future__ import annotations

import re
from typing import Any

import pytest

import minigun as mg
from minigun.errors import DefinitionError
from minigun.executors import SpawnThreadExecutor


def ident(item: Any) -> Any:
    return item


def nothing() -> list[Any]:
    return []


def src(name: str, **options: Any) -> mg.Producer[Any]:
    """Return a producer named *name*."""
    return mg.Producer(name, nothing, **options)


def proc(name: str, **options: Any) -> mg.Processor[Any, Any]:
    """Return an identity processor named *name*."""
    return mg.Processor(name, ident, **options)


def edges(pipe: mg.Pipeline) -> set[tuple[str, str]]:
    """Return the graph's edges as (source name, target name) pairs."""
    graph = pipe.graph()
    return {(graph.stages[e.src].name, graph.stages[e.dst].name) for e in graph.edges}


def problems(exc: pytest.ExceptionInfo[DefinitionError]) -> list[str]:
    """Return the problem lines of a multi-problem DefinitionError."""
    lines = str(exc.value).splitlines()
    return [line.removeprefix("  - ") for line in lines[1:]]


# --------------------------------------------------------------------------
# Graph structure


def test_graph_exposes_stages_edges_neighbours_and_order() -> None:
    """A linear chain has stages in order, edges, neighbours and topological order."""
    pipe = mg.Pipeline("p")
    a = pipe.add(src("a"))
    b = pipe.add(proc("b"))
    c = pipe.add(proc("c"))
    graph = pipe.graph()
    assert graph.stages == (a, b, c)
    assert [(e.src, e.dst) for e in graph.edges] == [(0, 1), (1, 2)]
    assert graph.downstream == ((1,), (2,), ())
    assert graph.upstream == ((), (0,), (1,))
    assert graph.order == (0, 1, 2)


def test_order_is_topological_with_forward_edges() -> None:
    """A stage fed by a later-added stage comes after it in the order."""
    pipe = mg.Pipeline("p")
    pipe.add(src("s", to="late"))
    pipe.add(proc("sink", to=()))
    pipe.add(proc("late", to="sink"))
    graph = pipe.graph()
    assert [graph.stages[i].name for i in graph.order] == ["s", "late", "sink"]


def test_empty_pipeline_has_an_empty_graph() -> None:
    """A pipeline with no stages validates to an empty graph."""
    graph = mg.Pipeline("p").graph()
    assert (graph.stages, graph.edges, graph.order) == ((), (), ())


# --------------------------------------------------------------------------
# Sequential default (SPEC §2.2)


def test_sequential_default_chains_stages_in_added_order() -> None:
    """Stages without explicit edges feed the next stage added."""
    pipe = mg.Pipeline("p")
    for stage in (src("a"), proc("b"), proc("c"), proc("d")):
        pipe.add(stage)
    assert edges(pipe) == {("a", "b"), ("b", "c"), ("c", "d")}


def test_producers_never_receive_implicit_edges() -> None:
    """Consecutive producers both feed the next non-producer, not each other."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a"))
    pipe.add(src("b"))
    pipe.add(proc("c"))
    assert edges(pipe) == {("a", "c"), ("b", "c")}


def test_processor_skips_a_following_producer() -> None:
    """A processor followed by a producer feeds the next non-producer after it."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a"))
    pipe.add(proc("b"))
    pipe.add(src("c"))
    pipe.add(proc("d"))
    assert edges(pipe) == {("a", "b"), ("b", "d"), ("c", "d")}


def test_last_stage_has_no_outgoing_edge() -> None:
    """The last stage added has no implicit edge."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a"))
    pipe.add(proc("b"))
    assert pipe.graph().downstream[1] == ()


def test_explicit_to_suppresses_the_implicit_edge() -> None:
    """A stage with to= gets only its explicit edges."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a"))
    pipe.add(proc("b", to="d"))
    pipe.add(proc("c"))
    pipe.add(proc("d"))
    assert edges(pipe) == {("a", "b"), ("b", "d"), ("c", "d")}


def test_connect_suppresses_the_implicit_edge() -> None:
    """A stage that is the source of connect() gets no implicit edge."""
    pipe = mg.Pipeline("p")
    a = pipe.add(src("a"))
    pipe.add(proc("b"))
    c = pipe.add(proc("c"))
    pipe.connect(a, c)
    assert edges(pipe) == {("a", "c"), ("b", "c")}


def test_another_stages_from_suppresses_the_implicit_edge() -> None:
    """A stage named in another stage's from_= gets no implicit edge."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a"))
    pipe.add(proc("b"))
    pipe.add(proc("c", from_="a"))
    assert edges(pipe) == {("a", "c"), ("b", "c")}


def test_from_does_not_suppress_the_stages_own_outgoing_edge() -> None:
    """A stage with from_= still feeds the next stage implicitly."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a", to=()))
    pipe.add(proc("b", from_="a"))
    pipe.add(proc("c"))
    assert edges(pipe) == {("a", "b"), ("b", "c")}


def test_empty_to_switches_the_sequential_default_off() -> None:
    """to=() means no outgoing edges at all."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a"))
    pipe.add(proc("b", to=()))
    pipe.add(proc("c"))
    assert edges(pipe) == {("a", "b")}


def test_connect_weight_is_stored_on_the_edge() -> None:
    """connect(weight=) sets the edge weight; implicit edges have none."""
    pipe = mg.Pipeline("p")
    a = pipe.add(src("a", to="b"))
    pipe.add(proc("b", to=()))
    pipe.add(proc("c", to=()))
    pipe.connect(a, "c", weight=3)
    graph = pipe.graph()
    assert (graph.weight(0, 1), graph.weight(0, 2)) == (None, 3)


def test_edge_declared_twice_is_one_edge() -> None:
    """to= and connect() naming the same edge produce it once."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a", to="b"))
    pipe.add(proc("b"))
    pipe.connect("a", "b")
    assert len(pipe.graph().edges) == 1


@pytest.mark.parametrize("weight", [0, -2, True, "3", float("nan"), float("inf")])
def test_connect_rejects_bad_weights(weight: Any) -> None:
    """connect(weight=) must be a finite number > 0."""
    pipe = mg.Pipeline("p")
    with pytest.raises(DefinitionError, match=r"^weight must be a number > 0"):
        pipe.connect("a", "b", weight=weight)


# --------------------------------------------------------------------------
# parallel() groups


def test_parallel_members_are_not_chained_to_each_other() -> None:
    """The stage before a group feeds every member; members feed the stage after."""
    pipe = mg.Pipeline("p")
    pipe.add(src("s"))
    with pipe.parallel():
        pipe.add(proc("x"))
        pipe.add(proc("y"))
    pipe.add(proc("sink"))
    assert edges(pipe) == {("s", "x"), ("s", "y"), ("x", "sink"), ("y", "sink")}


def test_parallel_member_with_explicit_edge_does_not_feed_the_next_stage() -> None:
    """A group member with to= sends only where told."""
    pipe = mg.Pipeline("p")
    pipe.add(src("s"))
    with pipe.parallel():
        pipe.add(proc("x"))
        pipe.add(proc("y", to="z"))
    pipe.add(proc("w"))
    pipe.add(proc("z"))
    expected = {("s", "x"), ("s", "y"), ("x", "w"), ("y", "z"), ("w", "z")}
    assert edges(pipe) == expected


def test_parallel_producers_feed_the_stage_after_the_group() -> None:
    """Producers in a group all feed the first stage after it."""
    pipe = mg.Pipeline("p")
    with pipe.parallel():
        pipe.add(src("a"))
        pipe.add(src("b"))
    pipe.add(proc("c"))
    assert edges(pipe) == {("a", "c"), ("b", "c")}


def test_parallel_groups_cannot_nest() -> None:
    """parallel() inside parallel() is a DefinitionError."""
    pipe = mg.Pipeline("p")
    with (
        pipe.parallel(),
        pytest.raises(DefinitionError, match=r"^parallel\(\) groups cannot be nested$"),
        pipe.parallel(),
    ):
        pass


def test_sibling_pipelines_are_not_chained() -> None:
    """A Pipeline followed by a Pipeline gets no implicit edge (SPEC §2.2).

    The stage before the first pipeline still feeds it, and the second
    pipeline still feeds the plain stage after it.
    """
    outer = mg.Pipeline("outer")
    outer.add(src("s"))
    first = mg.Pipeline("first")
    first.add(proc("f"))
    second = mg.Pipeline("second")
    second.add(proc("g"))
    outer.add(first)
    outer.add(second)
    outer.add(proc("sink"))
    assert edges(outer) == {("s", "f"), ("g", "sink")}


def test_pipeline_cannot_contain_itself() -> None:
    """Adding a pipeline to itself is a DefinitionError."""
    pipe = mg.Pipeline("p")
    with pytest.raises(DefinitionError, match=r"pipeline 'p' cannot contain itself"):
        pipe.add(pipe)


# --------------------------------------------------------------------------
# Forward references


def test_forward_references_by_name_resolve_at_validation() -> None:
    """to=, from_= and connect() may name stages added later."""
    pipe = mg.Pipeline("p")
    pipe.connect("a", "b")
    pipe.add(src("a"))
    pipe.add(proc("c", from_="b", to=()))
    pipe.add(proc("b", to=()))
    assert edges(pipe) == {("a", "b"), ("b", "c")}


def test_names_and_stage_objects_are_equivalent() -> None:
    """connect() with a name or the Stage object builds the same edge."""
    by_name = mg.Pipeline("p")
    by_name.add(src("a", to=()))
    by_name.add(proc("b"))
    by_name.connect("a", "b")
    by_obj = mg.Pipeline("q")
    a = by_obj.add(src("a", to=()))
    b = by_obj.add(proc("b"))
    by_obj.connect(a, b)
    assert edges(by_name) == edges(by_obj) == {("a", "b")}


# --------------------------------------------------------------------------
# Validation (SPEC §2.7): one DefinitionError, one line per problem


def test_unknown_name_suggests_the_close_one() -> None:
    """An unknown to= name is reported with a suggestion."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a", to="pasre"))
    pipe.add(proc("parse"))
    with pytest.raises(
        DefinitionError,
        match=r"^pipeline 'p' is invalid: stage 'a' to=: unknown stage 'pasre' "
        r"\(did you mean 'parse'\?\)$",
    ):
        pipe.validate()


def test_unknown_name_in_connect_and_from_are_reported() -> None:
    """Unknown names in connect() and from_= are each one problem line."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a"))
    pipe.add(proc("b", from_="zzz"))
    pipe.connect("a", "qqq")
    with pytest.raises(DefinitionError) as exc:
        pipe.validate()
    assert problems(exc) == [
        "stage 'b' from_=: unknown stage 'zzz'",
        "connect(): unknown stage 'qqq'",
    ]


def test_stage_object_not_in_pipeline_is_reported() -> None:
    """connect() with a Stage never added is a problem."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a", to=()))
    stray = proc("stray")
    pipe.connect("a", stray)
    with pytest.raises(
        DefinitionError,
        match=r"connect\(\): stage 'stray' is not part of pipeline 'p'; "
        r"add\(\) it first",
    ):
        pipe.validate()


def test_duplicate_names_are_reported() -> None:
    """Two stages with one name in one pipeline are a problem."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a"))
    pipe.add(proc("a"))
    with pytest.raises(
        DefinitionError, match=r"^pipeline 'p' is invalid: duplicate stage name 'a'$"
    ):
        pipe.validate()


def test_cycle_message_shows_the_path() -> None:
    """A two-stage cycle is reported as ``a -> b -> a``."""
    pipe = mg.Pipeline("p")
    pipe.add(proc("a"))
    pipe.add(proc("b", to="a"))
    with pytest.raises(
        DefinitionError, match=r"^pipeline 'p' is invalid: cycle: a -> b -> a$"
    ):
        pipe.validate()


def test_self_loop_is_a_cycle() -> None:
    """A stage routing to itself is a cycle ``a -> a``."""
    pipe = mg.Pipeline("p")
    pipe.add(proc("a", to="a"))
    with pytest.raises(DefinitionError, match=r"cycle: a -> a$"):
        pipe.validate()


def test_longer_cycle_path_is_complete() -> None:
    """A three-stage cycle lists every stage on the path."""
    pipe = mg.Pipeline("p")
    pipe.add(src("s"))
    pipe.add(proc("a"))
    pipe.add(proc("b"))
    pipe.add(proc("c", to="a"))
    with pytest.raises(DefinitionError, match=r"cycle: a -> b -> c -> a$"):
        pipe.validate()


def test_producer_given_inputs_is_reported() -> None:
    """An edge into a producer is a problem naming both stages."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a", to=()))
    pipe.add(proc("b", to="a"))
    with pytest.raises(
        DefinitionError,
        match=r"^pipeline 'p' is invalid: producer 'a' cannot receive items "
        r"\(edge from 'b'\); producers have no input$",
    ):
        pipe.validate()


def test_producer_with_from_is_reported() -> None:
    """A producer with from_= is given inputs, which is a problem."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a", to=()))
    pipe.add(src("b", from_="a"))
    with pytest.raises(DefinitionError, match=r"producer 'b' cannot receive items"):
        pipe.validate()


def test_unavailable_interpreters_option_is_reported() -> None:
    """interpreters= on this Python names the stage and the option."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a"))
    pipe.add(proc("b", interpreters=2))
    with pytest.raises(
        DefinitionError,
        match=r"^pipeline 'p' is invalid: stage 'b': (?i:.*interpreter)",
    ):
        pipe.validate()


def test_spawn_executor_without_preceding_accumulator_is_reported() -> None:
    """A spawn executor fed by a plain processor is a problem naming the stage."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a"))
    pipe.add(proc("b"))
    pipe.add(proc("c", executor=SpawnThreadExecutor(max_concurrent=2)))
    with pytest.raises(
        DefinitionError,
        match=r"^pipeline 'p' is invalid: stage 'c': SpawnThreadExecutor .*Accumulator",
    ):
        pipe.validate()


def test_spawn_executor_after_accumulator_is_valid() -> None:
    """A spawn executor fed by an accumulator validates."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a"))
    pipe.add(mg.Accumulator("batch", max_size=10))
    pipe.add(proc("c", executor=SpawnThreadExecutor(max_concurrent=2)))
    assert edges(pipe) == {("a", "batch"), ("batch", "c")}


def test_producer_with_executor_option_is_reported() -> None:
    """threads= on a producer is a problem: producers run in their own thread."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a", threads=2))
    with pytest.raises(
        DefinitionError,
        match=r"^pipeline 'p' is invalid: producer 'a' runs in its own thread",
    ):
        pipe.validate()


def test_every_problem_is_listed_once_per_line() -> None:
    """One DefinitionError lists every problem, each on its own line."""
    pipe = mg.Pipeline("p")
    pipe.add(src("src", to="pars"))
    pipe.add(proc("parse", to="src"))
    pipe.add(proc("parse"))
    pipe.add(proc("c", to="d"))
    pipe.add(proc("d", to="c", interpreters=2))
    with pytest.raises(DefinitionError) as exc:
        pipe.validate()
    assert str(exc.value).splitlines()[0] == "pipeline 'p' is invalid:"
    found = problems(exc)
    graph_problems = [p for p in found if "interpreters=" not in p]
    assert sorted(graph_problems) == sorted(
        [
            "duplicate stage name 'parse'",
            "stage 'src' to=: unknown stage 'pars' (did you mean 'parse'?)",
            (
                "producer 'src' cannot receive items (edge from 'parse'); "
                "producers have no input"
            ),
            "cycle: c -> d -> c",
        ]
    )
    # The executor problem is matched on its prefix (its hint may change).
    executor_problems = [p for p in found if p.startswith("stage 'd': interpreters=")]
    assert len(executor_problems) == 1


def test_run_validates_before_anything_runs() -> None:
    """run() raises the same DefinitionError and never calls a stage."""
    calls: list[str] = []

    def record() -> list[int]:
        calls.append("produced")
        return [1]

    pipe = mg.Pipeline("p")
    pipe.add(mg.Producer("a", record))
    pipe.add(proc("b", to="nope"))
    with pytest.raises(DefinitionError, match=re.escape("unknown stage 'nope'")):
        pipe.run(timeout=10)
    assert calls == []


# --------------------------------------------------------------------------
# Pipeline.add and Pipeline.stage


def test_add_returns_the_stage() -> None:
    """add() returns its argument, so it can be assigned in one line."""
    pipe = mg.Pipeline("p")
    stage = proc("b")
    assert pipe.add(stage) is stage


def test_add_rejects_non_stages() -> None:
    """add() of something that is not a Stage is a DefinitionError."""
    pipe = mg.Pipeline("p")
    with pytest.raises(DefinitionError, match=r"^Pipeline\.add\(\) takes a Stage"):
        pipe.add(ident)  # type: ignore[type-var]


def test_add_rejects_the_same_stage_twice() -> None:
    """add() of a stage already in the pipeline names stage and pipeline."""
    pipe = mg.Pipeline("p")
    stage = pipe.add(proc("b"))
    with pytest.raises(
        DefinitionError, match=r"^stage 'b' was already added to pipeline 'p'$"
    ):
        pipe.add(stage)


def test_add_checks_only_the_stages_own_callable() -> None:
    """add() accepts unknown names in edges; they are reported by validate()."""
    pipe = mg.Pipeline("p")
    pipe.add(proc("b", to="later"))
    assert [s.name for s in pipe.stages] == ["b"]


def test_stage_returns_the_stage_by_name() -> None:
    """pipe.stage(name) returns the stage with that name."""
    pipe = mg.Pipeline("p")
    pipe.add(src("a"))
    b = pipe.add(proc("b"))
    assert pipe.stage("b") is b


def test_stage_unknown_name_suggests_the_close_one() -> None:
    """pipe.stage() of an unknown name names the pipeline and suggests."""
    pipe = mg.Pipeline("p")
    pipe.add(proc("parse"))
    with pytest.raises(
        DefinitionError,
        match=r"^pipeline 'p' has no stage 'pasre' \(did you mean 'parse'\?\)$",
    ):
        pipe.stage("pasre")


def test_stage_finds_nested_stages_by_qualified_name() -> None:
    """pipe.stage("inner.name") returns a stage of a nested pipeline."""
    outer = mg.Pipeline("outer")
    inner = mg.Pipeline("inner")
    f = inner.add(proc("f"))
    outer.add(inner)
    assert (outer.stage("inner"), outer.stage("inner.f")) == (inner, f)


@pytest.mark.parametrize("name", ["", "a.b"])
def test_pipeline_rejects_bad_names(name: str) -> None:
    """A pipeline name must be non-empty and without dots."""
    with pytest.raises(DefinitionError, match=r"^pipeline name must be"):
        mg.Pipeline(name)
