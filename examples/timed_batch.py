"""Timed batches: flush a partial batch after `max_wait` seconds.

A trickling source (one event every few milliseconds) would leave a
size-only batch waiting; with ``max_wait=0.05`` the accumulator emits what it
holds 50 ms after the batch's first item, even if nothing else arrives.
``chunk_size=1`` makes the producer hand on each event at once. ``max_wait``
was accepted and ignored by the Ruby gem (defect D15). Port of
``45_timed_batch_stage.rb``.
"""

from __future__ import annotations

import time

import minigun as mg


def main(n: int | None = None) -> None:
    n = 40 if n is None else n
    batches: list[tuple[float, int]] = []
    t0 = time.monotonic()

    def trickle():
        for i in range(n):
            time.sleep(0.005)
            yield i

    pipe = mg.Pipeline("timed", chunk_size=1)
    pipe.add(mg.Producer("events", trickle))
    pipe.add(mg.Accumulator("batch", max_size=1000, max_wait=0.05))
    pipe.add(
        mg.Consumer(
            "flush", lambda batch: batches.append((time.monotonic() - t0, len(batch)))
        )
    )
    pipe.run(timeout=30)

    assert sum(size for _, size in batches) == n
    if n >= 20:
        assert len(batches) > 1  # flushed by time, not by size
    for at, size in batches:
        print(f"{at:6.3f}s: batch of {size}")


if __name__ == "__main__":
    main()
