"""Back-pressure end to end: bounded queues keep memory flat (SPEC §3)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import minigun as mg
from minigun.testing import ListSink

if TYPE_CHECKING:
    from collections.abc import Iterator

TIMEOUT = 20.0
ITEMS = 300
MAX_GAP = 10


class _Gap:
    """Counts produced and consumed items; remembers the largest difference."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.produced = 0
        self.consumed = 0
        self.max_gap = 0

    def produce(self) -> Iterator[int]:
        for i in range(ITEMS):
            with self.lock:
                self.produced += 1
                self.max_gap = max(self.max_gap, self.produced - self.consumed)
            yield i

    def consume(self, item: int) -> None:
        time.sleep(0.001)
        with self.lock:
            self.consumed += 1
            self.max_gap = max(self.max_gap, self.produced - self.consumed)


def test_slow_consumer_bounds_items_in_flight(executor_opts: dict[str, Any]) -> None:
    """With queue_size=2, a fast producer never runs more than a few items ahead."""
    gap = _Gap()
    pipe = mg.Pipeline("bp")
    pipe.add(mg.Producer("src", gap.produce))
    pipe.add(mg.Consumer("slow", gap.consume, queue_size=2, **executor_opts))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert gap.consumed == ITEMS
    assert gap.max_gap <= MAX_GAP, f"producer ran {gap.max_gap} items ahead"


def test_slow_consumer_bounds_items_in_flight_through_a_chain(
    executor_opts: dict[str, Any],
) -> None:
    """Back-pressure propagates through an intermediate stage with queue_size=2."""
    gap = _Gap()
    pipe = mg.Pipeline("bp")
    pipe.add(mg.Producer("src", gap.produce))
    pipe.add(mg.Processor("middle", lambda n: n, queue_size=2, **executor_opts))
    pipe.add(mg.Consumer("slow", gap.consume, queue_size=2, **executor_opts))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert gap.consumed == ITEMS
    # Two bounded queues and two sets of workers: allow a little more room.
    assert gap.max_gap <= 2 * MAX_GAP, f"producer ran {gap.max_gap} items ahead"


def test_unbounded_queue(executor_opts: dict[str, Any]) -> None:
    """queue_size=0 means unbounded: every item arrives."""
    pipe = mg.Pipeline("unbounded")
    pipe.add(mg.Producer("src", lambda: range(5000)))
    sink = pipe.add(ListSink("sink", queue_size=0, **executor_opts))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == list(range(5000))
    assert report.stages["sink"].queue_size is None


def test_max_queue_depth_never_exceeds_queue_size(
    executor_opts: dict[str, Any],
) -> None:
    """The report's max_queue_depth stays within each stage's queue_size."""
    gap = _Gap()
    pipe = mg.Pipeline("depth")
    pipe.add(mg.Producer("src", gap.produce))
    pipe.add(mg.Processor("middle", lambda n: n, queue_size=3, **executor_opts))
    pipe.add(mg.Consumer("slow", gap.consume, queue_size=2, **executor_opts))

    report = pipe.run(timeout=TIMEOUT)

    depths = {
        name: (report.stages[name].max_queue_depth, size)
        for name, size in (("middle", 3), ("slow", 2))
    }
    assert all(depth <= size for depth, size in depths.values()), depths
