"""Round-robin load balancing: each item goes to exactly one worker stage.

`routing="round_robin"` on the sending stage deals items to its downstream
stages in exact rotation, in edge order. Port of the Ruby gem's
``27_round_robin_load_balancing.rb`` and ``39_load_balancer.rb``.
"""

from __future__ import annotations

import collections
import threading

import minigun as mg


def main(n: int | None = None) -> None:
    n = 9 if n is None else n
    lock = threading.Lock()
    handled: collections.Counter[str] = collections.Counter()

    def worker(name: str):
        def handle(_job: int) -> None:
            with lock:
                handled[name] += 1

        return handle

    pipe = mg.Pipeline("balancer")
    pipe.add(mg.Producer("jobs", lambda: range(n), routing="round_robin"))
    with pipe.parallel():
        for name in ("worker_a", "worker_b", "worker_c"):
            pipe.add(mg.Consumer(name, worker(name)))
    pipe.run(timeout=30)

    assert sum(handled.values()) == n
    assert max(handled.values()) - min(handled.values()) <= 1
    for name, count in sorted(handled.items()):
        print(f"{name}: {count} jobs")


if __name__ == "__main__":
    main()
