"""Key routing: partition events by user so each user's events stay together.

`KeyRouter(key)` hashes `key(item)` with a stable hash: equal keys always
reach the same downstream stage, in every run and every process, so each
partition can keep per-user state without locks. Port of the Ruby gem's
``133_partition_routing.rb`` idea.
"""

from __future__ import annotations

import random

import minigun as mg


def main(n: int | None = None) -> None:
    n = 300 if n is None else n
    rng = random.Random(7)
    events = [{"user": f"user{rng.randrange(20)}", "n": i} for i in range(n)]
    partitions: dict[str, dict[str, int]] = {}

    def partition(name: str):
        totals = partitions.setdefault(name, {})

        def count(event: dict[str, object]) -> None:
            user = str(event["user"])
            totals[user] = totals.get(user, 0) + 1  # one thread per partition

        return count

    pipe = mg.Pipeline("partitioned")
    by_user = mg.KeyRouter(lambda event: event["user"])
    pipe.add(mg.Producer("events", lambda: events, router=by_user))
    with pipe.parallel():
        for i in range(3):
            pipe.add(mg.Consumer(f"partition{i}", partition(f"partition{i}")))
    pipe.run(timeout=30)

    owners = [set(users) for users in partitions.values()]
    assert all(a.isdisjoint(b) for a in owners for b in owners if a is not b)
    for name, totals in sorted(partitions.items()):
        print(f"{name}: {len(totals)} users, {sum(totals.values())} events")


if __name__ == "__main__":
    main()
