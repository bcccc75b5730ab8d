"""W6 memory: N items (10 M in the full run) through a slow consumer.

A producer yields ints far faster than the consumer (~1 us of work per item)
takes them, with default queue sizes. A sampler thread reads
/proc/self/statm every 50 ms; the consumer also reads RSS when it has taken
10 % of the items. "Flat" means max RSS <= RSS at 10 % x 1.10.

* ``minigun``: Producer -> Consumer, defaults (the consumer is fused into
  the producer's thread, so no queue is involved);
* ``minigun_threaded``: the consumer on ``threads=1``, so items cross the
  default bounded queue (1000) with back-pressure;
* ``threads_queue``: producer thread -> ``queue.Queue(1000)`` -> caller;
* ``control_minigun_unbounded``: as ``minigun_threaded`` with
  ``queue_size=0`` (unbounded): a negative control showing that the
  measurement does see growth. Not a goal.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from benchmarks._util import (
    RssSampler,
    check_executors,
    check_stats,
    clock,
    rss_bytes,
)

TITLE = "W6 memory (slow consumer, default queue sizes)"
MAIN = "minigun"
QSIZE = 1000
_STOP = object()
_SPIN = range(12)
FLAT_TOLERANCE = 0.10


def expected(impl: str, n: int) -> Any:
    del impl
    return (n, n * (n - 1) // 2)


class _SlowSink:
    """Count and sum items, spending ~1 us on each; note RSS at 10 %."""

    __slots__ = ("count", "mark", "rss10", "total")

    def __init__(self, n: int) -> None:
        self.count = 0
        self.total = 0
        self.mark = max(n // 10, 1)
        self.rss10 = 0

    def __call__(self, x: int) -> None:
        self.count += 1
        self.total += x
        for i in _SPIN:
            x ^= i
        if self.count == self.mark:
            self.rss10 = rss_bytes()

    def result(self):
        return (self.count, self.total)


def _measured(n, body):
    rss0 = rss_bytes()
    sink = _SlowSink(n)
    sampler = RssSampler(0.05)
    sampler.start()
    t0 = clock()
    more = body(sink) or {}
    seconds = clock() - t0
    samples = sampler.stop()
    peak = max([r for _, r in samples] + [sink.rss10])
    rss10 = sink.rss10
    growth = peak / rss10 - 1 if rss10 else None
    mib = 2**20
    extra = {
        "rss_start_mib": rss0 / mib,
        "rss_at_10pct_mib": rss10 / mib,
        "rss_max_mib": peak / mib,
        "rss_end_mib": samples[-1][1] / mib,
        "growth": growth,
        "flat": growth is not None and growth <= FLAT_TOLERANCE,
        "samples": len(samples),
        **more,
    }
    return seconds, sink.result(), extra


def _minigun(n, **consumer_opts):
    import minigun as mg  # noqa: PLC0415

    def body(sink):
        pipe = mg.Pipeline("w6")
        pipe.add(mg.Producer("gen", lambda: range(n)))
        pipe.add(mg.Consumer("slow", sink, **consumer_opts))
        report = pipe.run(timeout=3600)
        check_stats(report, {"gen": {"items_out": n}, "slow": {"items_in": n}})
        if "threads" in consumer_opts:
            check_executors(report, {"slow": ("thread", consumer_opts["threads"])})
        st = report.stages["slow"]
        return {
            "executor": st.executor,
            "queue_size": st.queue_size,
            "max_queue_depth": st.max_queue_depth,
        }

    return _measured(n, body)


def minigun(n):
    return _minigun(n)


def minigun_threaded(n):
    return _minigun(n, threads=1)


def control_minigun_unbounded(n):
    return _minigun(n, threads=1, queue_size=0)


def threads_queue(n):
    def body(sink):
        q: queue.Queue[Any] = queue.Queue(QSIZE)

        def produce():
            for x in range(n):
                q.put(x)
            q.put(_STOP)

        t = threading.Thread(target=produce)
        t.start()
        get = q.get
        while (x := get()) is not _STOP:
            sink(x)
        t.join()

    return _measured(n, body)


IMPLS = {
    "minigun": minigun,
    "minigun_threaded": minigun_threaded,
    "threads_queue": threads_queue,
    "control_minigun_unbounded": control_minigun_unbounded,
}
PEERS: tuple[str, ...] = ()
GATED = ("minigun", "minigun_threaded")
# The baseline and the control are slower or memory-hungry; 3 M items keep the
# full run's length reasonable (the table shows N).
N_FULL = {
    "*": 10_000_000,
    "threads_queue": 3_000_000,
    "control_minigun_unbounded": 3_000_000,
}
N_SMOKE = {"*": 100_000}
