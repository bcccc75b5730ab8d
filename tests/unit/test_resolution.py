"""Name resolution and edges across nested pipelines, via ``pipe.graph()`` only.

SPEC §2.2 (siblings never chained), §2.5 (local, descendants, parents,
global; qualified names exact; ambiguity), §2.6 (entries and exits), §2.7
(validation), §2.9 (qualified names). Nothing here runs a pipeline.
"""

from __future__ import annotations

from typing import Any

import pytest

import minigun as mg


def ident(item: Any) -> Any:
    return item


def nothing() -> list[Any]:
    return []


def src(name: str, **options: Any) -> mg.Producer[Any]:
    return mg.Producer(name, nothing, **options)


def proc(name: str, **options: Any) -> mg.Processor[Any, Any]:
    return mg.Processor(name, ident, **options)


def nested(name: str, *stages: mg.Stage[Any, Any], **kwargs: Any) -> mg.Pipeline:
    pipe = mg.Pipeline(name, **kwargs)
    for s in stages:
        pipe.add(s)
    return pipe


def edges(pipe: mg.Pipeline) -> set[tuple[str, str]]:
    """The graph's edges as (qualified source, qualified target) pairs."""
    graph = pipe.graph()
    return {(graph.names[e.src], graph.names[e.dst]) for e in graph.edges}


def out_of(pipe: mg.Pipeline, name: str) -> set[str]:
    """The qualified names stage *name* has static edges to."""
    return {dst for s, dst in edges(pipe) if s == name}


def into(pipe: mg.Pipeline, name: str) -> set[str]:
    """The stages with static edges to stage *name* (internal entries left out)."""
    return {s for s, dst in edges(pipe) if dst == name and not s.endswith("<entry>")}


# ---------------------------------------------------------------------------
# Flattening: qualified names, entries, exits


def test_nested_stages_get_qualified_names_relative_to_the_root() -> None:
    root = mg.Pipeline("root")
    root.add(src("s"))
    a = root.add(mg.Pipeline("a"))
    a.add(proc("x"))
    a.add(nested("b", proc("y")))
    root.add(proc("t"))

    graph = root.graph()

    assert graph.names == ("s", "a.x", "a.b.y", "t")
    assert edges(root) == {("s", "a.x"), ("a.x", "a.b.y"), ("a.b.y", "t")}


def test_names_are_relative_to_the_pipeline_being_validated() -> None:
    root = mg.Pipeline("root")
    a = root.add(mg.Pipeline("a"))
    a.add(proc("x"))
    b = a.add(nested("b", proc("y")))

    assert b.graph().names == ("y",)
    assert a.graph().names == ("x", "b.y")


def test_several_entries_get_one_internal_entry_node() -> None:
    root = mg.Pipeline("root")
    root.add(src("s"))
    inner = root.add(mg.Pipeline("inner", routing="round_robin"))
    with inner.parallel():
        inner.add(proc("a"))
        inner.add(proc("b"))
    root.add(proc("t"))

    graph = root.graph()

    assert edges(root) == {
        ("s", "inner.<entry>"),
        ("inner.<entry>", "inner.a"),
        ("inner.<entry>", "inner.b"),
        ("inner.a", "t"),
        ("inner.b", "t"),
    }
    entry = graph.nodes[graph.index("inner.<entry>")]
    assert entry.internal
    assert entry.stage.options.routing == "round_robin"
    assert [n.name for n in graph.nodes if not n.internal] == [
        "s",
        "inner.a",
        "inner.b",
        "t",
    ]


def test_entries_are_stages_without_upstream_inside_producers_excluded() -> None:
    root = mg.Pipeline("root")
    root.add(src("s"))
    inner = root.add(mg.Pipeline("inner"))
    inner.add(src("isrc", to="merge"))
    inner.add(proc("entry", to="merge"))
    inner.add(proc("merge"))

    assert out_of(root, "s") == {"inner.entry"}
    assert into(root, "inner.merge") == {"inner.isrc", "inner.entry"}


def test_a_pipeline_without_entry_cannot_receive_items() -> None:
    root = mg.Pipeline("root")
    root.add(src("s", to="gen"))
    root.add(nested("gen", src("isrc")))

    with pytest.raises(mg.DefinitionError, match="'gen' has no entry stage"):
        root.graph()


def test_a_producer_inside_a_nested_pipeline_cannot_be_a_target() -> None:
    root = mg.Pipeline("root")
    root.add(src("s", to="inner.isrc"))
    root.add(nested("inner", src("isrc"), proc("x")))

    with pytest.raises(mg.DefinitionError, match=r"producer 'inner\.isrc' cannot"):
        root.graph()


def test_duplicate_names_inside_a_nested_pipeline_are_reported() -> None:
    root = mg.Pipeline("root")
    root.add(nested("inner", proc("x"), proc("x")))

    with pytest.raises(
        mg.DefinitionError, match="duplicate stage name 'x' in pipeline 'inner'"
    ):
        root.graph()


# ---------------------------------------------------------------------------
# Sibling pipelines (SPEC §2.2)


def test_sibling_pipelines_are_never_chained_but_plain_neighbours_are() -> None:
    root = mg.Pipeline("root")
    root.add(src("s"))
    root.add(nested("p1", proc("a")))
    root.add(nested("p2", proc("b")))
    root.add(nested("p3", proc("c")))
    root.add(proc("t"))

    assert edges(root) == {("s", "p1.a"), ("p3.c", "t")}


@pytest.mark.parametrize(
    "wire",
    ["to-name", "to-object", "from_-name", "connect"],
)
def test_pipeline_to_pipeline_edges(wire: str) -> None:
    root = mg.Pipeline("root")
    p2 = mg.Pipeline("p2", from_="p1" if wire == "from_-name" else None)
    p2.add(proc("b"))
    to: Any = {"to-name": "p2", "to-object": p2}.get(wire)
    root.add(nested("p1", proc("a"), to=to))
    root.add(p2)
    if wire == "connect":
        root.connect("p1", p2)

    assert edges(root) == {("p1.a", "p2.b")}


def test_one_to_many_and_many_to_one_between_pipelines() -> None:
    root = mg.Pipeline("root")
    root.add(src("s", to=["p1", "p2"]))
    root.add(nested("p1", proc("a"), to=["p3", "p4"]))
    root.add(nested("p2", proc("b"), to=["p3", "p4"]))
    root.add(nested("p3", proc("c")))
    root.add(nested("p4", proc("d")))

    assert edges(root) == {
        ("s", "p1.a"),
        ("s", "p2.b"),
        ("p1.a", "p3.c"),
        ("p1.a", "p4.d"),
        ("p2.b", "p3.c"),
        ("p2.b", "p4.d"),
    }


# ---------------------------------------------------------------------------
# Name resolution for to= / from_= / connect (SPEC §2.5)


def _tree() -> mg.Pipeline:
    """root[parse, top, a[parse, b[parse, x]], c[z], d[e[x]]] (nothing wired)."""
    root = mg.Pipeline("root")
    root.add(proc("parse", to=()))
    root.add(proc("top", to=()))
    a = root.add(mg.Pipeline("a"))
    a.add(proc("parse", to=()))
    a.add(nested("b", proc("parse", to=()), proc("x", to=())))
    root.add(nested("c", proc("z", to=())))
    d = root.add(mg.Pipeline("d"))
    d.add(nested("e", proc("x", to=())))
    return root


def _sender(root: mg.Pipeline, where: str, **options: Any) -> None:
    """Add stage ``send`` to the pipeline at qualified path *where*."""
    pipe = root if where == "" else root.stage(where)
    assert isinstance(pipe, mg.Pipeline)
    pipe.add(proc("send", **options))


@pytest.mark.parametrize(
    ("where", "ref", "expected"),
    [
        pytest.param("", "parse", "parse", id="local-at-root"),
        pytest.param("a", "parse", "a.parse", id="local-in-a"),
        pytest.param("a.b", "parse", "a.b.parse", id="local-in-a.b"),
        pytest.param("c", "parse", "parse", id="parent-before-cousins"),
        pytest.param("", "z", "c.z", id="descendant"),
        pytest.param("a", "x", "a.b.x", id="own-descendant-before-global"),
        pytest.param("c", "top", "top", id="parent-stage"),
        pytest.param("a.b", "top", "top", id="up-the-parents"),
        pytest.param("a.b", "z", "c.z", id="global-cousin"),
        pytest.param("", "a.b.parse", "a.b.parse", id="qualified"),
        pytest.param("a.b", "d.e.x", "d.e.x", id="qualified-from-deep"),
    ],
)
def test_to_resolves_local_then_descendants_then_parents(
    where: str, ref: str, expected: str
) -> None:
    root = _tree()
    _sender(root, where, to=ref)
    send = f"{where}.send" if where else "send"

    assert out_of(root, send) == {expected}


@pytest.mark.parametrize(
    ("where", "ref", "expected"),
    [
        pytest.param("a.b", "parse", "a.b.parse", id="local"),
        pytest.param("c", "parse", "parse", id="parent"),
        pytest.param("", "z", "c.z", id="descendant"),
        pytest.param("", "d.e.x", "d.e.x", id="qualified"),
    ],
)
def test_from_resolves_the_same_way(where: str, ref: str, expected: str) -> None:
    root = _tree()
    _sender(root, where, from_=ref, to=())
    send = f"{where}.send" if where else "send"

    assert into(root, send) == {expected}


def test_connect_resolves_from_the_pipeline_it_is_called_on() -> None:
    root = _tree()
    a = root.stage("a")
    assert isinstance(a, mg.Pipeline)
    a.connect("parse", "x")  # a.parse -> a.b.x (descendant)
    root.connect("parse", "z")  # parse -> c.z

    assert out_of(root, "a.parse") == {"a.b.x"}
    assert out_of(root, "parse") == {"c.z"}


def test_names_and_objects_are_equivalent_across_nesting() -> None:
    root = mg.Pipeline("root")
    inner = mg.Pipeline("inner")
    target = inner.add(proc("x"))
    root.add(src("by_name", to="inner.x"))
    root.add(src("by_object", to=target))
    root.add(src("pipe_by_object", to=inner))
    root.add(inner)

    assert into(root, "inner.x") == {"by_name", "by_object", "pipe_by_object"}


# ---------------------------------------------------------------------------
# Ambiguity


def _two_parses(**send_options: Any) -> mg.Pipeline:
    root = mg.Pipeline("root")
    root.add(proc("send", **send_options))
    root.add(nested("a", proc("parse")))
    root.add(nested("b", proc("parse")))
    return root


@pytest.mark.parametrize(
    ("options", "option"),
    [
        pytest.param({"to": "parse"}, "to=", id="to"),
        pytest.param({"from_": "parse", "to": ()}, "from_=", id="from_"),
    ],
)
def test_ambiguous_names_list_the_qualified_candidates(
    options: dict[str, Any], option: str
) -> None:
    root = _two_parses(**options)

    with pytest.raises(mg.DefinitionError) as info:
        root.graph()

    message = str(info.value)
    assert f"stage name 'parse' from stage 'send' {option} is ambiguous" in message
    assert "it matches 'a.parse', 'b.parse'" in message
    assert "use a qualified name" in message


def test_an_ambiguous_name_raises_ambiguous_route_error() -> None:
    """SPEC §2.5: several matches at one level -> AmbiguousRouteError."""
    root = _two_parses(to="parse")

    with pytest.raises(mg.AmbiguousRouteError) as info:
        root.graph()

    assert set(info.value.candidates) == {"a.parse", "b.parse"}


def test_ambiguity_is_found_when_looking_up_through_the_parents() -> None:
    root = mg.Pipeline("root")
    root.add(nested("a", proc("parse")))
    root.add(nested("b", proc("parse")))
    root.add(nested("c", proc("send", to="parse")))

    with pytest.raises(mg.DefinitionError, match=r"'a\.parse', 'b\.parse'") as info:
        root.graph()
    assert "from stage 'c.send' to=" in str(info.value)


def test_connect_reports_ambiguity_too() -> None:
    root = _two_parses(to=())
    root.connect("send", "parse")

    with pytest.raises(mg.DefinitionError, match=r"connect.*'a\.parse', 'b\.parse'"):
        root.graph()


def test_matches_at_the_same_depth_of_a_global_lookup_are_ambiguous() -> None:
    """From c, "x" is neither in c nor below it; a.b.x and d.e.x tie globally."""
    root = _tree()
    _sender(root, "c", to="x")

    with pytest.raises(mg.DefinitionError, match=r"'a\.b\.x', 'd\.e\.x'"):
        root.graph()


def test_matches_at_different_depths_are_not_ambiguous() -> None:
    """The shallowest level that has a match wins."""
    root = mg.Pipeline("root")
    root.add(proc("send", to="parse"))
    a = root.add(mg.Pipeline("a"))
    a.add(nested("deep", proc("parse")))
    root.add(nested("b", proc("parse")))

    assert out_of(root, "send") == {"b.parse"}


def test_qualified_names_resolve_ambiguity() -> None:
    root = _two_parses(to=["a.parse", "b.parse"])
    assert out_of(root, "send") == {"a.parse", "b.parse"}


def test_the_same_short_name_in_several_pipelines_is_fine() -> None:
    root = mg.Pipeline("root")
    root.add(src("s", to=["a", "b"]))
    for name in "ab":
        root.add(nested(name, proc("parse"), proc("save")))

    assert edges(root) == {
        ("s", "a.parse"),
        ("s", "b.parse"),
        ("a.parse", "a.save"),
        ("b.parse", "b.save"),
    }


# ---------------------------------------------------------------------------
# Unknown names: "did you mean" across nesting


@pytest.mark.parametrize(
    ("ref", "hint"),
    [
        pytest.param("parze", "a.b.parse", id="short-name-deep"),
        pytest.param("a.b.parze", "a.b.parse", id="qualified"),
        pytest.param("topp", "top", id="outer"),
    ],
)
def test_unknown_names_suggest_the_qualified_name(ref: str, hint: str) -> None:
    root = mg.Pipeline("root")
    root.add(proc("top", to=()))
    a = root.add(mg.Pipeline("a"))
    b = a.add(nested("b", proc("parse", to=())))
    b.add(proc("send", to=ref))

    with pytest.raises(mg.DefinitionError) as info:
        root.graph()

    message = str(info.value)
    assert f"stage 'a.b.send' to=: unknown stage {ref!r}" in message
    assert f"(did you mean {hint!r}?)" in message


def test_unknown_from_in_a_nested_stage_is_reported_with_its_qualified_name() -> None:
    root = mg.Pipeline("root")
    root.add(proc("top"))
    root.add(nested("a", proc("x", from_="tpo")))

    with pytest.raises(
        mg.DefinitionError,
        match=r"stage 'a\.x' from_=: unknown stage 'tpo' \(did you mean 'top'\?\)",
    ):
        root.graph()


# ---------------------------------------------------------------------------
# Cycles (the path shows qualified names)


def test_cycle_between_pipelines_shows_the_qualified_path() -> None:
    root = mg.Pipeline("root")
    root.add(nested("a", proc("x"), to="b"))
    root.add(nested("b", proc("y"), to="a"))

    with pytest.raises(mg.DefinitionError, match=r"cycle: a\.x -> b\.y -> a\.x"):
        root.graph()


# ---------------------------------------------------------------------------
# reroute across nesting


def test_reroute_called_on_the_nested_pipeline() -> None:
    root = mg.Pipeline("root")
    inner = root.add(nested("inner", proc("x", to="y"), proc("y", to=())))
    root.add(proc("other"))
    inner.reroute("x", to="other")

    assert out_of(root, "inner.x") == {"other"}


def test_reroute_of_a_nested_stage_by_qualified_name_from_the_root() -> None:
    """root.reroute("inner.x", ...) must not be silently ignored."""
    root = mg.Pipeline("root")
    root.add(nested("inner", proc("x", to="y"), proc("y", to=())))
    root.add(proc("other"))
    root.reroute("inner.x", to="other")

    assert out_of(root, "inner.x") == {"other"}


def test_reroute_of_a_nested_pipeline_replaces_its_exits_edges() -> None:
    root = mg.Pipeline("root")
    root.add(src("s"))
    root.add(nested("inner", proc("x")))
    root.add(proc("next", to=()))
    root.add(proc("other"))
    root.reroute("inner", to="other")

    assert out_of(root, "inner.x") == {"other"}


def test_reroute_of_an_unknown_name_is_reported() -> None:
    root = mg.Pipeline("root")
    root.add(nested("inner", proc("x")))
    root.reroute("inner.xx", to="x")

    with pytest.raises(mg.DefinitionError, match=r"reroute\(\).*'inner\.xx'"):
        root.graph()


# ---------------------------------------------------------------------------
# Looking stages up, adding pipelines


def test_stage_finds_stages_and_pipelines_at_any_depth() -> None:
    root = mg.Pipeline("root")
    a = root.add(mg.Pipeline("a"))
    b = a.add(mg.Pipeline("b"))
    x = b.add(proc("x"))

    assert root.stage("a") is a
    assert root.stage("a.b") is b
    assert root.stage("a.b.x") is x
    assert a.stage("b.x") is x


def test_stage_with_an_unknown_qualified_name_suggests() -> None:
    root = mg.Pipeline("root")
    root.add(nested("inner", proc("parse")))

    with pytest.raises(mg.DefinitionError, match=r"did you mean 'parse'\?"):
        root.stage("inner.parze")
    with pytest.raises(mg.DefinitionError, match="no stage 'nope'"):
        root.stage("nope.parse")


def test_adding_a_pipeline_twice_is_a_definition_error() -> None:
    root = mg.Pipeline("root")
    inner = root.add(mg.Pipeline("inner"))

    with pytest.raises(mg.DefinitionError, match="'inner' is already part of"):
        root.add(inner)
    with pytest.raises(mg.DefinitionError, match="'inner' is already part of"):
        mg.Pipeline("other").add(inner)


def test_adding_a_pipeline_into_itself_or_a_descendant_is_a_definition_error() -> None:
    root = mg.Pipeline("root")
    inner = root.add(mg.Pipeline("inner"))
    deep = inner.add(mg.Pipeline("deep"))

    with pytest.raises(mg.DefinitionError, match="cannot contain itself"):
        root.add(root)
    with pytest.raises(mg.DefinitionError, match="cannot contain itself"):
        deep.add(root)
    assert root.stages == (inner,)
    assert deep.stages == ()
