"""W1 overhead: generate ints -> x*2 -> sum, default executors, one worker per stage.

minigun's default is Producer -> Processor -> Consumer, all inline: the
processor and the consumer are fused into the producer's thread. Variants:

* ``minigun_unfused``: ``threads=1`` on the middle stage, so both hops cross a
  queue and a thread boundary (fusion defeated);
* ``minigun_unused_hook``: an ``on_error`` hook registered but never called;
* ``minigun_live_stats``: a thread reads ``RunHandle.statistics()`` every 10 ms
  during the run (statistics are always collected; this prices reading them).

Every minigun run also checks the report's counters (``report.stages``).
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from benchmarks._util import check_executors, check_stats, clock

TITLE = "W1 overhead (gen -> x*2 -> sum, default executors)"
MAIN = "minigun"
QSIZE = 1000
_STOP = object()


def expected(impl: str, n: int) -> Any:
    del impl
    return n * (n - 1)


def _double(x):
    return x * 2


def _gen(n):
    yield from range(n)


def _unused_hook(error):
    msg = f"the unused on_error hook was called: {error!r}"
    raise AssertionError(msg)


# -- hand-written -------------------------------------------------------------


def floor_loop(n):
    t0 = clock()
    total = 0
    for x in range(n):
        total += x * 2
    return clock() - t0, total, {}


def floor_generators(n):
    t0 = clock()
    total = sum(_double(x) for x in _gen(n))
    return clock() - t0, total, {}


def threads_queue(n):
    """Producer thread -> Queue(1000) -> doubler thread -> Queue(1000) -> caller."""
    t0 = clock()
    q1: queue.Queue[Any] = queue.Queue(QSIZE)
    q2: queue.Queue[Any] = queue.Queue(QSIZE)

    def produce():
        put = q1.put
        for x in range(n):
            put(x)
        put(_STOP)

    def double():
        get, put = q1.get, q2.put
        while (x := get()) is not _STOP:
            put(x * 2)
        put(_STOP)

    ts = [threading.Thread(target=produce), threading.Thread(target=double)]
    for t in ts:
        t.start()
    total = 0
    get = q2.get
    while (x := get()) is not _STOP:
        total += x
    for t in ts:
        t.join()
    return clock() - t0, total, {}


def threads_queue_chunk100(n):
    """As threads_queue, but the queues carry lists of 100 items."""
    t0 = clock()
    q1: queue.Queue[Any] = queue.Queue(QSIZE // 100)
    q2: queue.Queue[Any] = queue.Queue(QSIZE // 100)

    def produce():
        for lo in range(0, n, 100):
            q1.put(list(range(lo, min(lo + 100, n))))
        q1.put(_STOP)

    def double():
        while (xs := q1.get()) is not _STOP:
            q2.put([x * 2 for x in xs])
        q2.put(_STOP)

    ts = [threading.Thread(target=produce), threading.Thread(target=double)]
    for t in ts:
        t.start()
    total = 0
    while (xs := q2.get()) is not _STOP:
        for x in xs:
            total += x
    for t in ts:
        t.join()
    return clock() - t0, total, {}


# -- minigun ------------------------------------------------------------------


def _minigun(n, *, middle: dict[str, Any] | None = None, hook=False, live=False):
    import minigun as mg  # noqa: PLC0415

    t0 = clock()
    total = 0

    def add(x):
        nonlocal total
        total += x

    pipe = mg.Pipeline("w1")
    pipe.add(mg.Producer("gen", lambda: range(n)))
    pipe.add(mg.Processor("double", _double, **(middle or {})))
    pipe.add(mg.Consumer("sum", add))
    if hook:
        pipe.hooks.append("on_error", _unused_hook)
    polls = 0
    if live:
        handle = pipe.start()
        handle.close()
        done = threading.Event()

        def poll():
            nonlocal polls
            while not done.wait(0.01):
                handle.statistics()
                polls += 1

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        report = handle.wait(timeout=600)
        done.set()
        poller.join()
    else:
        report = pipe.run(timeout=600)
    seconds = clock() - t0
    check_stats(
        report,
        {
            "gen": {"items_out": n},
            "double": {"items_in": n, "items_out": n},
            "sum": {"items_in": n},
        },
    )
    if middle and "threads" in middle:
        check_executors(report, {"double": ("thread", middle["threads"])})
    extra: dict[str, Any] = {"executors": [s.executor for s in report.stages.values()]}
    if live:
        extra["statistics_polls"] = polls
    return seconds, total, extra


def minigun(n):
    return _minigun(n)


def minigun_unfused(n):
    return _minigun(n, middle={"threads": 1})


def minigun_unused_hook(n):
    return _minigun(n, hook=True)


def minigun_live_stats(n):
    return _minigun(n, live=True)


# -- peers --------------------------------------------------------------------


def pyper_thread(n):
    from pyper import task  # noqa: PLC0415

    t0 = clock()
    pipeline = task(_gen, branch=True, throttle=QSIZE) | task(_double, throttle=QSIZE)
    total = 0
    for x in pipeline(n):
        total += x
    return clock() - t0, total, {}


def pypeln_thread(n):
    import pypeln as pl  # noqa: PLC0415

    t0 = clock()
    stage = pl.thread.map(_double, range(n), workers=1, maxsize=QSIZE)
    total = 0
    for x in stage:
        total += x
    return clock() - t0, total, {}


def mpire_threading(n):
    from mpire import WorkerPool  # noqa: PLC0415

    t0 = clock()
    total = 0
    with WorkerPool(n_jobs=1, start_method="threading") as pool:
        for x in pool.imap_unordered(_double, range(n)):
            total += x
    return clock() - t0, total, {}


IMPLS = {
    "floor_loop": floor_loop,
    "floor_generators": floor_generators,
    "threads_queue": threads_queue,
    "threads_queue_chunk100": threads_queue_chunk100,
    "minigun": minigun,
    "minigun_unfused": minigun_unfused,
    "minigun_unused_hook": minigun_unused_hook,
    "minigun_live_stats": minigun_live_stats,
    "pyper_thread": pyper_thread,
    "pypeln_thread": pypeln_thread,
    "mpire_threading": mpire_threading,
}
PEERS = ("pyper_thread", "pypeln_thread", "mpire_threading")
N_FULL = {
    "*": 3_000_000,
    "floor_loop": 20_000_000,
    "floor_generators": 10_000_000,
    "threads_queue": 300_000,
    "threads_queue_chunk100": 3_000_000,
    "minigun_unfused": 2_000_000,
    "pyper_thread": 300_000,
    "pypeln_thread": 60_000,
    "mpire_threading": 150_000,
}
N_SMOKE = {"*": 20_000, "pypeln_thread": 5_000}
