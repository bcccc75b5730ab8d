"""Routers: which downstream stage(s) an item goes to (model layer, pure).

A router is a policy object. At run time the runtime asks it for a fresh
*bound* copy per source stage with `Router.bind`, which knows the downstream
names and weights and keeps any rotation state; ``route(item)`` then returns
the indices of the targets. ``route_chunk`` spreads a whole list at once (the
runtime's fast path); it must agree with calling ``route`` item by item.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from .errors import DefinitionError

__all__ = (
    "BoundRouter",
    "BroadcastRouter",
    "KeyRouter",
    "RoundRobinRouter",
    "Router",
    "WeightedRouter",
    "stable_hash",
)


class BoundRouter:
    """A router bound to ``n`` targets for one run (holds rotation state)."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n

    def route(self, item: Any) -> Sequence[int]:
        """Return the indices of the targets *item* goes to."""
        raise NotImplementedError

    def route_chunk(self, items: list[Any]) -> list[list[Any]]:
        """Return one list per target with the items it receives, in order."""
        lanes: list[list[Any]] = [[] for _ in range(self.n)]
        for item in items:
            for i in self.route(item):
                lanes[i].append(item)
        return lanes


class Router:
    """Base class of routers; subclass it and implement `bind`.

    A custom router implements ``bind(names, weights) -> BoundRouter``; the
    bound router's ``route(item)`` returns target indices.
    """

    #: Short name used in Mermaid labels and reports.
    kind: str = "router"

    def bind(
        self, names: Sequence[str], weights: Sequence[float | None]
    ) -> BoundRouter:
        """Return a `BoundRouter` for targets *names* (edge weights may be None)."""
        raise NotImplementedError

    def label(self, weights: Sequence[float | None]) -> str:
        """Return an edge label for diagrams ("" for the default router)."""
        del weights
        return self.kind


class _BoundBroadcast(BoundRouter):
    __slots__ = ("_all",)

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self._all = tuple(range(n))

    def route(self, item: Any) -> Sequence[int]:
        del item
        return self._all

    def route_chunk(self, items: list[Any]) -> list[list[Any]]:
        # Receivers never mutate what they are given, so one list serves all.
        return [items] * self.n


@attrs.frozen
class BroadcastRouter(Router):
    """Every downstream stage receives every item (the default)."""

    kind = "broadcast"

    def bind(
        self, names: Sequence[str], weights: Sequence[float | None]
    ) -> BoundRouter:
        """Return a broadcasting bound router."""
        del weights
        return _BoundBroadcast(len(names))

    def label(self, weights: Sequence[float | None]) -> str:
        """Broadcast is the default and has no label."""
        del weights
        return ""


class _BoundRoundRobin(BoundRouter):
    __slots__ = ("_next",)

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self._next = 0

    def route(self, item: Any) -> Sequence[int]:
        del item
        i = self._next
        self._next = (i + 1) % self.n
        return (i,)

    def route_chunk(self, items: list[Any]) -> list[list[Any]]:
        n = self.n
        start = self._next
        # Item k goes to (start + k) % n; lane i holds items[(i - start) % n :: n].
        lanes = [items[(i - start) % n :: n] for i in range(n)]
        self._next = (start + len(items)) % n
        return lanes


@attrs.frozen
class RoundRobinRouter(Router):
    """Each item goes to the next downstream stage, in edge order, exactly."""

    kind = "round_robin"

    def bind(
        self, names: Sequence[str], weights: Sequence[float | None]
    ) -> BoundRouter:
        """Return a rotating bound router."""
        del weights
        return _BoundRoundRobin(len(names))


def smooth_weighted_sequence(weights: Sequence[int]) -> list[int]:
    """Return one period of nginx's smooth weighted round-robin over *weights*.

    The period has ``sum(weights)`` entries; target ``i`` appears
    ``weights[i]`` times, spread as evenly as the algorithm allows.
    """
    current = [0] * len(weights)
    total = sum(weights)
    seq = []
    for _ in range(total):
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(weights)), key=lambda i: (current[i], -i))
        current[best] -= total
        seq.append(best)
    return seq


class _BoundWeighted(BoundRouter):
    __slots__ = ("_pos", "_seq")

    def __init__(self, seq: list[int]) -> None:
        super().__init__(max(seq) + 1 if seq else 0)
        self._seq = seq
        self._pos = 0

    def route(self, item: Any) -> Sequence[int]:
        del item
        i = self._seq[self._pos]
        self._pos = (self._pos + 1) % len(self._seq)
        return (i,)

    def route_chunk(self, items: list[Any]) -> list[list[Any]]:
        lanes: list[list[Any]] = [[] for _ in range(self.n)]
        seq = self._seq
        period = len(seq)
        pos = self._pos
        for item in items:
            lanes[seq[pos]].append(item)
            pos += 1
            if pos == period:
                pos = 0
        self._pos = pos
        return lanes


def _integer_weights(raw: Sequence[float]) -> list[int]:
    """Scale positive weights to small integers keeping their ratios."""
    if all(float(w).is_integer() for w in raw):
        ints = [int(w) for w in raw]
    else:
        ints = [max(1, round(w * 1000)) for w in raw]
    g = 0
    for w in ints:
        g = math.gcd(g, w)
    return [w // g for w in ints] if g > 1 else ints


def _to_weights(value: Mapping[str, float]) -> dict[str, float]:
    return dict(value)


def _check_weight(what: str, w: object) -> None:
    if (
        isinstance(w, bool)
        or not isinstance(w, int | float)
        or not math.isfinite(w)
        or w <= 0
    ):
        msg = f"{what} must be a number > 0, got {w!r}"
        raise DefinitionError(msg)


@attrs.frozen
class WeightedRouter(Router):
    """Spread items by weight with deterministic smooth weighted round-robin.

    Weights come from *weights* (``{"fast": 3, "slow": 1}``, by downstream
    stage name) or from ``Pipeline.connect(..., weight=)``; a target with
    neither gets weight 1. Over each period of ``sum(weights)`` items, target
    ``i`` receives exactly ``weights[i]`` items.

    Example:
        >>> import minigun as mg
        >>> r = mg.WeightedRouter({"a": 2, "b": 1}).bind(["a", "b"], [None, None])
        >>> [r.route(x)[0] for x in range(6)]
        [0, 1, 0, 0, 1, 0]
    """

    weights: Mapping[str, float] = attrs.field(factory=dict, converter=_to_weights)
    kind = "weighted"

    def __attrs_post_init__(self) -> None:
        """Reject weights that are not positive numbers."""
        for name, w in self.weights.items():
            _check_weight(f"weight of {name!r}", w)

    def resolve(
        self, names: Sequence[str], weights: Sequence[float | None]
    ) -> list[float]:
        """Return the weight of each target (name map, then edge weight, then 1)."""
        out = []
        for name, edge_w in zip(names, weights, strict=True):
            if edge_w is not None:
                _check_weight(f"weight of the edge to {name!r}", edge_w)
            short = name.rsplit(".", 1)[-1]
            w = self.weights.get(name, self.weights.get(short, edge_w))
            out.append(1.0 if w is None else float(w))
        return out

    def bind(
        self, names: Sequence[str], weights: Sequence[float | None]
    ) -> BoundRouter:
        """Return a bound router following one smooth weighted period."""
        unknown = set(self.weights) - set(names) - {n.rsplit(".", 1)[-1] for n in names}
        if unknown:
            msg = (
                f"WeightedRouter names {sorted(unknown)!r}, which are not "
                f"downstream stages (downstream: {list(names)!r})"
            )
            raise DefinitionError(msg)
        seq = smooth_weighted_sequence(_integer_weights(self.resolve(names, weights)))
        bound = _BoundWeighted(seq)
        bound.n = len(names)
        return bound

    def label(self, weights: Sequence[float | None]) -> str:
        """Label edges with the router kind."""
        del weights
        return "weighted"


def stable_hash(key: Any) -> int:
    """Hash *key* the same way in every process and run (str, bytes, int, tuples)."""
    if isinstance(key, bool | int):
        return int(key)
    if isinstance(key, str):
        return zlib.crc32(key.encode("utf-8", "surrogatepass"))
    if isinstance(key, bytes | bytearray | memoryview):
        return zlib.crc32(key)
    if isinstance(key, tuple):
        h = 0x345678
        for part in key:
            h = (h * 1000003) ^ stable_hash(part)
            h &= 0xFFFFFFFFFFFF
        return h
    return hash(key)


class _BoundKey(BoundRouter):
    __slots__ = ("_key",)

    def __init__(self, n: int, key: Callable[[Any], Any]) -> None:
        super().__init__(n)
        self._key = key

    def route(self, item: Any) -> Sequence[int]:
        return (stable_hash(self._key(item)) % self.n,)

    def route_chunk(self, items: list[Any]) -> list[list[Any]]:
        n = self.n
        key = self._key
        lanes: list[list[Any]] = [[] for _ in range(n)]
        for item in items:
            lanes[stable_hash(key(item)) % n].append(item)
        return lanes


@attrs.frozen
class KeyRouter(Router):
    """Partition by key: items with equal ``key(item)`` reach the same target.

    Strings, bytes, ints and tuples of them hash the same in every process
    and every run; other keys use ``hash()``.
    """

    key: Callable[[Any], Any]
    kind = "key"

    def bind(
        self, names: Sequence[str], weights: Sequence[float | None]
    ) -> BoundRouter:
        """Return a key-partitioning bound router."""
        del weights
        return _BoundKey(len(names), self.key)
