"""Spawn fork: a fresh copy-on-write child process for every batch.

`SpawnForkExecutor(max_concurrent=n)` forks one child per incoming batch (at
most ``n`` at once); the child sees the parent's memory (here a big lookup
table) without copying or pickling it, and its results stream back while it
runs, so large results never deadlock (Ruby defect D9) and lists stay lists
(D10). It must follow an `Accumulator`. Port of ``36_batch_and_process.rb``.
"""

from __future__ import annotations

import os

import minigun as mg

PRICES = {sku: sku * 0.5 for sku in range(200_000)}  # shared with children by fork


def price_batch(batch: list[int]) -> tuple[int, float, list[int]]:
    return os.getpid(), sum(PRICES[sku] for sku in batch), batch


def main(n: int | None = None) -> None:
    n = 2000 if n is None else n
    results: list[tuple[int, float, list[int]]] = []

    pipe = mg.Pipeline("spawn")
    pipe.add(mg.Producer("skus", lambda: range(n)))
    pipe.add(mg.Accumulator("batch", max_size=250))
    pipe.add(
        mg.Processor(
            "price", price_batch, executor=mg.SpawnForkExecutor(max_concurrent=2)
        )
    )
    pipe.add(mg.Consumer("collect", results.append))
    pipe.run(timeout=60)

    pids = {pid for pid, _, _ in results}
    assert os.getpid() not in pids
    assert sum(len(batch) for _, _, batch in results) == n
    total = sum(amount for _, amount, _ in results)
    print(f"{len(results)} batches priced in {len(pids)} forked children")
    print(f"total {total:,.1f}")


if __name__ == "__main__":
    main()
