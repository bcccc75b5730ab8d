"""Routing end to end: chains, explicit edges, fan-out routers, To (SPEC §2)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun.testing import ListSink

if TYPE_CHECKING:
    from collections.abc import Iterator

TIMEOUT = 10.0


def _routing_errors(exc: mg.PipelineError) -> list[mg.RoutingError]:
    sub = exc.subgroup(mg.RoutingError)
    if sub is None:
        return []
    return [e for e in sub.exceptions if isinstance(e, mg.RoutingError)]


def test_sequential_chain(executor_opts: dict[str, Any]) -> None:
    """Stages added one after another are chained in order."""
    pipe = mg.Pipeline("chain")
    pipe.add(mg.Producer("src", lambda: range(20)))
    pipe.add(mg.Processor("inc", lambda n: n + 1, **executor_opts))
    pipe.add(mg.Processor("double", lambda n: n * 2, **executor_opts))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [(n + 1) * 2 for n in range(20)]


def test_sequential_chain_inline_keeps_order() -> None:
    """A chain of inline stages keeps the producer's order."""
    pipe = mg.Pipeline("chain")
    pipe.add(mg.Producer("src", lambda: range(50)))
    pipe.add(mg.Processor("double", lambda n: n * 2))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert sink.items == [n * 2 for n in range(50)]


def test_explicit_edges_with_forward_references(executor_opts: dict[str, Any]) -> None:
    """to= and from_= may name stages that are added later."""
    pipe = mg.Pipeline("explicit")
    pipe.add(mg.Producer("src", lambda: range(10), to="double"))
    sink = pipe.add(ListSink("sink", from_="double", to=()))
    pipe.add(mg.Processor("double", lambda n: n * 2, **executor_opts))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [n * 2 for n in range(10)]
    assert report.stages["sink"].items_in == 10


def test_diamond_delivers_each_item_twice_to_the_join(
    executor_opts: dict[str, Any],
) -> None:
    """A broadcast fan-out re-joined by one stage delivers every item twice."""
    pipe = mg.Pipeline("diamond")
    pipe.add(mg.Producer("src", lambda: range(30), to=["left", "right"]))
    pipe.add(mg.Processor("left", lambda n: n, to="join", **executor_opts))
    pipe.add(mg.Processor("right", lambda n: n, to="join", **executor_opts))
    join = pipe.add(ListSink("join"))

    report = pipe.run(timeout=TIMEOUT)

    assert Counter(join.items) == Counter(dict.fromkeys(range(30), 2))
    assert report.stages["join"].items_in == 60


@pytest.mark.parametrize(
    "router_opts",
    [{"router": mg.RoundRobinRouter()}, {"routing": "round_robin"}],
    ids=["router", "shortcut"],
)
def test_round_robin_rotates_exactly(
    executor_opts: dict[str, Any], router_opts: dict[str, Any]
) -> None:
    """Round-robin sends item k to downstream k mod 3, in edge order."""
    pipe = mg.Pipeline("rr")
    pipe.add(
        mg.Producer("src", lambda: range(30), to=["s0", "s1", "s2"], **router_opts)
    )
    sinks = [pipe.add(ListSink(f"s{i}", to=(), **executor_opts)) for i in range(3)]

    pipe.run(timeout=TIMEOUT)

    assert [sorted(s.items) for s in sinks] == [list(range(i, 30, 3)) for i in range(3)]


def test_weighted_router_with_connect_weights(executor_opts: dict[str, Any]) -> None:
    """WeightedRouter splits items exactly by the weights given to connect()."""
    pipe = mg.Pipeline("weighted")
    pipe.add(mg.Producer("src", lambda: range(40), router=mg.WeightedRouter()))
    fast = pipe.add(ListSink("fast", to=(), **executor_opts))
    slow = pipe.add(ListSink("slow", to=(), **executor_opts))
    pipe.connect("src", "fast", weight=3)
    pipe.connect("src", "slow", weight=1)

    pipe.run(timeout=TIMEOUT)

    assert (len(fast.items), len(slow.items)) == (30, 10)
    assert sorted(fast.items + slow.items) == list(range(40))


def test_weighted_router_by_name(executor_opts: dict[str, Any]) -> None:
    """WeightedRouter({"fast": 3, "slow": 1}) splits items exactly 3:1."""
    pipe = mg.Pipeline("weighted")
    pipe.add(
        mg.Producer(
            "src",
            lambda: range(40),
            to=["fast", "slow"],
            router=mg.WeightedRouter({"fast": 3, "slow": 1}),
        )
    )
    fast = pipe.add(ListSink("fast", to=(), **executor_opts))
    slow = pipe.add(ListSink("slow", to=(), **executor_opts))

    pipe.run(timeout=TIMEOUT)

    assert (len(fast.items), len(slow.items)) == (30, 10)
    assert sorted(fast.items + slow.items) == list(range(40))


def test_key_router_sends_each_key_to_one_sink(executor_opts: dict[str, Any]) -> None:
    """KeyRouter delivers every item of one key to the same downstream stage."""
    keys = ["apple", "pear", "plum", "fig", "kiwi", "lime", "date"]
    items = [(keys[i % len(keys)], i) for i in range(70)]
    pipe = mg.Pipeline("keyed")
    pipe.add(
        mg.Producer(
            "src",
            lambda: items,
            to=["s0", "s1", "s2"],
            router=mg.KeyRouter(lambda item: item[0]),
        )
    )
    sinks = [pipe.add(ListSink(f"s{i}", to=(), **executor_opts)) for i in range(3)]

    pipe.run(timeout=TIMEOUT)

    owners: dict[str, set[int]] = {}
    for i, sink in enumerate(sinks):
        for key, _ in sink.items:
            owners.setdefault(key, set()).add(i)
    assert {k: len(v) for k, v in owners.items()} == dict.fromkeys(keys, 1)
    assert sorted(x for s in sinks for x in s.items) == sorted(items)


def test_parallel_group(executor_opts: dict[str, Any]) -> None:
    """parallel(): the stage before feeds every member; members feed the stage after."""
    pipe = mg.Pipeline("group")
    pipe.add(mg.Producer("src", lambda: range(10)))
    with pipe.parallel():
        pipe.add(mg.Processor("tens", lambda n: n * 10, **executor_opts))
        pipe.add(mg.Processor("hundreds", lambda n: n * 100, **executor_opts))
    join = pipe.add(ListSink("join"))

    report = pipe.run(timeout=TIMEOUT)

    expected = sorted([n * 10 for n in range(10)] + [n * 100 for n in range(10)])
    assert sorted(join.items) == expected
    assert report.stages["tens"].items_in == 10
    assert report.stages["hundreds"].items_in == 10


def test_to_only_stage_gets_every_item_from_every_sender(
    executor_opts: dict[str, Any],
) -> None:
    """A stage fed only by To receives every item from both senders, then finishes."""

    def sender(tag: str) -> Any:
        def route(n: int) -> Iterator[Any]:
            yield mg.To("audit", (tag, n))

        return route

    pipe = mg.Pipeline("to")
    pipe.add(mg.Producer("src", lambda: range(25), to=["a", "b"]))
    pipe.add(mg.Processor("a", sender("a"), to=(), **executor_opts))
    pipe.add(mg.Processor("b", sender("b"), to=(), **executor_opts))
    audit = pipe.add(ListSink("audit", to=()))

    report = pipe.run(timeout=TIMEOUT)

    expected = sorted([("a", n) for n in range(25)] + [("b", n) for n in range(25)])
    assert sorted(audit.items) == expected
    assert report.status == "succeeded"
    assert report.stages["audit"].status == "finished"


def test_unused_to_target_does_not_hang(executor_opts: dict[str, Any]) -> None:
    """A To target that never receives anything does not keep the run open."""
    pipe = mg.Pipeline("unused")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(
        mg.Processor(
            "maybe",
            lambda n: mg.To("audit", n) if n > 100 else n,
            **executor_opts,
        )
    )
    sink = pipe.add(ListSink("sink", to=()))
    audit = pipe.add(ListSink("audit", to=()))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == list(range(10))
    assert audit.items == []


def test_emit_with_to(executor_opts: dict[str, Any]) -> None:
    """emit(x, to="name") routes x directly to the named stage."""

    def split(n: int, emit: mg.Emitter) -> None:
        if n % 2:
            emit(n, to="odd")
        else:
            emit(n)

    pipe = mg.Pipeline("emit")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("split", split, **executor_opts))
    even = pipe.add(ListSink("even", to=()))
    odd = pipe.add(ListSink("odd", to=()))

    pipe.run(timeout=TIMEOUT)

    assert (sorted(even.items), sorted(odd.items)) == ([0, 2, 4, 6, 8], [1, 3, 5, 7, 9])


def test_to_with_a_stage_object(executor_opts: dict[str, Any]) -> None:
    """To(stage_object, item) reaches that stage like To(name, item)."""
    pipe = mg.Pipeline("to-object")
    audit = ListSink("audit", to=())
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("route", lambda n: mg.To(audit, n * 3), **executor_opts))
    pipe.add(ListSink("sink", to=()))
    pipe.add(audit)

    pipe.run(timeout=TIMEOUT)

    assert sorted(audit.items) == [n * 3 for n in range(10)]


def test_to_a_finished_ancestor_raises_routing_error(
    executor_opts: dict[str, Any],
) -> None:
    """To aimed at an ancestor whose input has closed fails the run; it never hangs."""
    pipe = mg.Pipeline("back")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("first", lambda n: n, **executor_opts))
    # The accumulator flushes when its input closes, i.e. after "first" finished.
    pipe.add(
        mg.Accumulator("collect", lambda batch: mg.To("first", batch), max_size=1000)
    )

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    assert len(_routing_errors(info.value)) == 1
    assert info.value.report.status == "failed"


def test_to_an_unknown_stage_raises_routing_error(
    executor_opts: dict[str, Any],
) -> None:
    """To aimed at a name no stage has fails the run with RoutingError."""
    pipe = mg.Pipeline("unknown")
    pipe.add(mg.Producer("src", lambda: range(5)))
    pipe.add(mg.Processor("route", lambda n: mg.To("nowhere", n), **executor_opts))
    pipe.add(ListSink("sink"))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    errors = _routing_errors(info.value)
    assert len(errors) == 1
    assert "nowhere" in str(errors[0])
