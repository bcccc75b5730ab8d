"""Unit tests of routers: pure target selection, without queues (SPEC §2.3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigun as mg
from minigun._router import BoundRouter, stable_hash
from minigun.errors import DefinitionError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def names(n: int) -> list[str]:
    """Return *n* target names ``t0 .. t{n-1}``."""
    return [f"t{i}" for i in range(n)]


def bind(
    router: mg.Router,
    targets: list[str],
    weights: Sequence[float | None] | None = None,
) -> BoundRouter:
    """Bind *router* to *targets* (edge weights default to None)."""
    return router.bind(targets, [None] * len(targets) if weights is None else weights)


def route_all(bound: BoundRouter, items: list[Any]) -> list[tuple[int, ...]]:
    """Route each item by itself and return the chosen target indices."""
    return [tuple(bound.route(x)) for x in items]


def lanes_item_by_item(bound: BoundRouter, items: list[Any]) -> list[list[Any]]:
    """Build per-target lanes by calling route() on each item."""
    lanes: list[list[Any]] = [[] for _ in range(bound.n)]
    for x in items:
        for i in bound.route(x):
            lanes[i].append(x)
    return lanes


def chunked(items: list[Any], sizes: list[int]) -> list[list[Any]]:
    """Cut *items* into consecutive chunks of the given *sizes* (rest last)."""
    out: list[list[Any]] = []
    pos = 0
    for size in sizes:
        out.append(items[pos : pos + size])
        pos += size
    out.append(items[pos:])
    return out


def route_chunks(bound: BoundRouter, chunks: list[list[Any]]) -> list[list[Any]]:
    """Route each chunk with route_chunk and concatenate the lanes."""
    lanes: list[list[Any]] = [[] for _ in range(bound.n)]
    for chunk in chunks:
        for i, lane in enumerate(bound.route_chunk(chunk)):
            lanes[i].extend(lane)
    return lanes


def weighted(weights: Mapping[str, float] | None = None) -> mg.WeightedRouter:
    """Return ``WeightedRouter(weights)`` (one place for the typing workaround)."""
    if weights is None:
        return mg.WeightedRouter()
    # attrs types the parameter from converter=dict, which rejects dict[str, int].
    return mg.WeightedRouter(weights)


# --------------------------------------------------------------------------
# RoundRobinRouter


def test_round_robin_rotates_exactly_in_edge_order() -> None:
    """Item k goes to target k % n."""
    bound = bind(mg.RoundRobinRouter(), names(3))
    assert route_all(bound, list(range(7))) == [
        (0,),
        (1,),
        (2,),
        (0,),
        (1,),
        (2,),
        (0,),
    ]


def test_round_robin_chunk_continues_rotation_across_chunks() -> None:
    """route_chunk keeps the rotation position from one chunk to the next."""
    bound = bind(mg.RoundRobinRouter(), names(3))
    assert bound.route_chunk([1, 2]) == [[1], [2], []]
    assert bound.route_chunk([3, 4, 5, 6]) == [[4], [5], [3, 6]]
    assert bound.route(7) == (0,)


def test_round_robin_route_then_chunk_agree() -> None:
    """route() and route_chunk() share one rotation."""
    bound = bind(mg.RoundRobinRouter(), names(2))
    assert bound.route("a") == (0,)
    assert bound.route_chunk(["b", "c", "d"]) == [["c"], ["b", "d"]]


def test_round_robin_single_target_gets_everything() -> None:
    """With one target every item goes to it."""
    bound = bind(mg.RoundRobinRouter(), names(1))
    assert bound.route_chunk([1, 2, 3]) == [[1, 2, 3]]


def test_bindings_are_independent() -> None:
    """Each bind() returns a fresh rotation state."""
    router = mg.RoundRobinRouter()
    first = bind(router, names(2))
    first.route(0)
    second = bind(router, names(2))
    assert (first.route(1), second.route(1)) == ((1,), (0,))


# --------------------------------------------------------------------------
# BroadcastRouter


def test_broadcast_sends_every_item_to_every_target() -> None:
    """Broadcast routes each item to all targets, in edge order."""
    bound = bind(mg.BroadcastRouter(), names(3))
    assert tuple(bound.route("x")) == (0, 1, 2)
    assert bound.route_chunk([1, 2]) == [[1, 2], [1, 2], [1, 2]]


def test_broadcast_is_the_default_label_free_router() -> None:
    """Broadcast has an empty diagram label; the others name their kind."""
    labels = [
        mg.BroadcastRouter().label([None]),
        mg.RoundRobinRouter().label([None]),
        weighted().label([None]),
    ]
    assert labels == ["", "round_robin", "weighted"]


# --------------------------------------------------------------------------
# WeightedRouter


def weighted_sequence(bound: BoundRouter, targets: list[str], n: int) -> str:
    """Return the first *n* target names chosen, concatenated."""
    return "".join(targets[bound.route(k)[0]] for k in range(n))


def test_weighted_smooth_sequence_matches_nginx() -> None:
    """{a:5, b:1, c:1} gives nginx's smooth sequence a a b a c a a, repeating."""
    targets = ["a", "b", "c"]
    bound = bind(weighted({"a": 5, "b": 1, "c": 1}), targets)
    assert weighted_sequence(bound, targets, 14) == "aabacaa" * 2


def test_weighted_by_edge_weight() -> None:
    """Edge weights passed to bind() are used when the router names none."""
    targets = ["fast", "slow"]
    bound = bind(weighted(), targets, [3, 1])
    chosen = [targets[bound.route(k)[0]] for k in range(8)]
    assert Counter(chosen) == {"fast": 6, "slow": 2}


def test_weighted_name_map_wins_over_edge_weight() -> None:
    """A weight given by name overrides the edge weight of that target."""
    targets = ["a", "b"]
    bound = bind(weighted({"a": 1}), targets, [5, 3])
    assert Counter(weighted_sequence(bound, targets, 4)) == {"a": 1, "b": 3}


def test_weighted_missing_weight_defaults_to_one() -> None:
    """A target with neither a named nor an edge weight gets weight 1."""
    targets = ["a", "b"]
    bound = bind(weighted({"a": 2}), targets)
    assert Counter(weighted_sequence(bound, targets, 3)) == {"a": 2, "b": 1}


def test_weighted_accepts_short_names_of_qualified_targets() -> None:
    """A weight keyed by the short name applies to the qualified target."""
    targets = ["inner.fast", "inner.slow"]
    bound = bind(weighted({"fast": 3}), targets)
    assert Counter(bound.route(k)[0] for k in range(4)) == {0: 3, 1: 1}


def test_weighted_fractional_weights_keep_their_ratio() -> None:
    """Float weights 0.5 : 0.25 behave like 2 : 1."""
    targets = ["a", "b"]
    bound = bind(weighted({"a": 0.5, "b": 0.25}), targets)
    assert weighted_sequence(bound, targets, 6) == "abaaba"


def test_weighted_chunk_matches_sequence() -> None:
    """route_chunk follows the same smooth sequence as route()."""
    bound = bind(weighted({"a": 2, "b": 1}), ["a", "b"])
    assert bound.route_chunk(list(range(6))) == [[0, 2, 3, 5], [1, 4]]


def test_weighted_unknown_name_is_a_definition_error() -> None:
    """A weight for a name that is not a downstream stage is rejected at bind."""
    router = weighted({"fsat": 1})
    with pytest.raises(DefinitionError, match=r"\['fsat'\].*not downstream stages"):
        bind(router, ["fast", "slow"])


@pytest.mark.parametrize(
    "weight", [0, -1, -0.5, "3", True, None, float("nan"), float("inf")]
)
def test_weighted_rejects_bad_named_weights(weight: Any) -> None:
    """Named weights must be finite numbers > 0."""
    with pytest.raises(DefinitionError, match=r"^weight of 'a' must be a number > 0"):
        weighted({"a": weight})


@pytest.mark.parametrize("weight", [0, -1, float("nan"), float("inf")])
def test_weighted_rejects_bad_edge_weights(weight: float) -> None:
    """Edge weights given to bind() must be finite numbers > 0."""
    with pytest.raises(DefinitionError):
        bind(weighted(), ["a", "b"], [weight, 1])


# --------------------------------------------------------------------------
# KeyRouter and stable_hash


def test_key_router_sends_equal_keys_to_the_same_target() -> None:
    """Items with equal keys always go to the same target."""
    bound = bind(mg.KeyRouter(lambda item: item["user"]), names(4))
    items: list[dict[str, Any]] = [
        {"user": u, "n": n} for n in range(5) for u in ("ann", "bob", "cy")
    ]
    by_user: dict[str, set[int]] = {}
    for item in items:
        by_user.setdefault(item["user"], set()).update(bound.route(item))
    assert {u: len(t) for u, t in by_user.items()} == {"ann": 1, "bob": 1, "cy": 1}


def test_key_router_chunk_agrees_with_route() -> None:
    """route_chunk partitions exactly like route() item by item."""
    router = mg.KeyRouter(str)
    items = list(range(50))
    expected = lanes_item_by_item(bind(router, names(3)), items)
    assert bind(router, names(3)).route_chunk(items) == expected


def test_key_router_spreads_distinct_keys() -> None:
    """Distinct keys reach more than one target (the hash is not constant)."""
    bound = bind(mg.KeyRouter(lambda s: s), names(4))
    assert len({bound.route(f"key{i}")[0] for i in range(100)}) == 4


def test_stable_hash_golden_values() -> None:
    """stable_hash of str and bytes is CRC-32 and of ints the int itself."""
    assert [stable_hash("abc"), stable_hash(b"abc"), stable_hash(42)] == [
        891568578,
        891568578,
        42,
    ]


def test_stable_hash_distinguishes_tuple_order() -> None:
    """Tuples hash by content and order."""
    assert stable_hash(("a", 1)) == stable_hash(("a", 1))
    assert stable_hash(("a", 1)) != stable_hash((1, "a"))


_HASH_SCRIPT = """
import json, sys
from minigun._router import stable_hash
keys = ["abc", "", "héllo", b"\\x00\\xff", 7, -3, 2**70, ("a", 1, b"x"), (("n",), 2)]
print(json.dumps([stable_hash(k) for k in keys]))
"""


def test_stable_hash_is_the_same_in_other_processes() -> None:
    """stable_hash gives the same values under different PYTHONHASHSEEDs."""
    results = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", _HASH_SCRIPT],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            timeout=60,
        )
        results.append(json.loads(proc.stdout))
    keys: list[Any] = ["abc", "", "héllo", b"\x00\xff", 7, -3, 2**70]
    keys += [("a", 1, b"x"), (("n",), 2)]
    here = [stable_hash(k) for k in keys]
    assert results == [here, here]


# --------------------------------------------------------------------------
# Hypothesis properties

weights_st = st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=6)
chunk_sizes_st = st.lists(st.integers(min_value=0, max_value=40), max_size=8)


@given(weights=weights_st, sizes=chunk_sizes_st, n_items=st.integers(0, 200))
def test_weighted_route_chunk_equals_route_item_by_item(
    weights: list[int], sizes: list[int], n_items: int
) -> None:
    """Any chunking of the input routes exactly like route() item by item."""
    targets = names(len(weights))
    router = weighted(dict(zip(targets, weights, strict=True)))
    items = list(range(n_items))
    expected = lanes_item_by_item(bind(router, targets), items)
    assert route_chunks(bind(router, targets), chunked(items, sizes)) == expected


@given(n_targets=st.integers(1, 7), sizes=chunk_sizes_st, n_items=st.integers(0, 200))
def test_round_robin_route_chunk_equals_route_item_by_item(
    n_targets: int, sizes: list[int], n_items: int
) -> None:
    """Any chunking of the input rotates exactly like route() item by item."""
    items = list(range(n_items))
    expected = lanes_item_by_item(bind(mg.RoundRobinRouter(), names(n_targets)), items)
    bound = bind(mg.RoundRobinRouter(), names(n_targets))
    assert route_chunks(bound, chunked(items, sizes)) == expected


@given(weights=weights_st, periods=st.integers(1, 4), offset=st.integers(0, 30))
def test_weighted_proportions_are_exact_per_period(
    weights: list[int], periods: int, offset: int
) -> None:
    """Every window of sum(weights) items holds exactly weights[i] items for i."""
    targets = names(len(weights))
    bound = bind(weighted(), targets, list(map(float, weights)))
    period = sum(weights)
    chosen = [bound.route(k)[0] for k in range(offset + periods * period)]
    for p in range(periods):
        window = chosen[offset + p * period : offset + (p + 1) * period]
        counts = Counter(window)
        assert [counts[i] for i in range(len(weights))] == weights


@given(weights=weights_st)
def test_weighted_sequence_is_deterministic(weights: list[int]) -> None:
    """Two bindings of the same weights choose the same sequence."""
    targets = names(len(weights))
    router = weighted(dict(zip(targets, weights, strict=True)))
    n = 2 * sum(weights)
    first = route_all(bind(router, targets), list(range(n)))
    assert route_all(bind(router, targets), list(range(n))) == first


@given(
    keys=st.lists(
        st.one_of(st.text(), st.binary(), st.integers(), st.tuples(st.text())),
        max_size=30,
    ),
    n_targets=st.integers(1, 5),
)
def test_key_router_equal_keys_same_target(keys: list[Any], n_targets: int) -> None:
    """Whatever the keys, each key maps to exactly one target."""
    bound = bind(mg.KeyRouter(lambda item: item[0]), names(n_targets))
    seen: dict[Any, int] = {}
    for k in keys + keys:
        (target,) = bound.route((k, object()))
        assert 0 <= target < n_targets
        assert seen.setdefault(k, target) == target
