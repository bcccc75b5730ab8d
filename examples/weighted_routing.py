"""Weighted routing: send three items to a fast backend for every one to a slow one.

`WeightedRouter` is a deterministic smooth weighted round-robin: over every
4 items, "fast" gets 3 and "slow" gets 1. Weights come from the router
(`WeightedRouter({"fast": 3, "slow": 1})`) or from `connect(..., weight=)`.
The Ruby gem only planned this ("weighted routing / load balancing").
"""

from __future__ import annotations

import collections
import threading

import minigun as mg


def main(n: int | None = None) -> None:
    n = 400 if n is None else n
    lock = threading.Lock()
    counts: collections.Counter[str] = collections.Counter()

    def backend(name: str):
        def handle(_request: int) -> None:
            with lock:
                counts[name] += 1

        return handle

    pipe = mg.Pipeline("weighted")
    router = mg.WeightedRouter({"fast": 3, "slow": 1})
    pipe.add(mg.Producer("requests", lambda: range(n), router=router))
    with pipe.parallel():
        pipe.add(mg.Consumer("fast", backend("fast"), threads=4))
        pipe.add(mg.Consumer("slow", backend("slow")))
    pipe.run(timeout=30)

    assert counts["fast"] + counts["slow"] == n
    assert abs(counts["fast"] - 3 * counts["slow"]) <= 3
    print(f"fast: {counts['fast']}, slow: {counts['slow']} (3:1)")


if __name__ == "__main__":
    main()
