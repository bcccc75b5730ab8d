"""W5 batching: items -> batches of 100 -> sum of each batch (items/s counts items).

minigun: Producer -> Accumulator(max_size=100) -> Consumer summing each batch.
Every implementation returns (sum of all items, number of batches, number of
batches that were not 100 long except the last).
"""

from __future__ import annotations

import queue
import threading
from itertools import islice
from typing import Any

from benchmarks._util import check_stats, clock

TITLE = "W5 batching (batches of 100 -> sum)"
MAIN = "minigun"
SIZE = 100
QSIZE = 1000
_STOP = object()


def expected(impl: str, n: int) -> Any:
    del impl
    return (n * (n - 1) // 2, -(-n // SIZE), 0)


def batched(iterable, size):
    """itertools.batched (Python 3.12) for 3.11, yielding lists."""
    it = iter(iterable)
    while batch := list(islice(it, size)):
        yield batch


class _Batches:
    """Sum batches; count them and the short ones (only the last may be short)."""

    __slots__ = ("batches", "short", "total")

    def __init__(self) -> None:
        self.total = 0
        self.batches = 0
        self.short = 0

    def __call__(self, batch) -> None:
        self.total += sum(batch)
        self.batches += 1
        if len(batch) != SIZE:
            self.short += 1

    def add_sum(self, s: int, size: int) -> None:
        self.total += s
        self.batches += 1
        if size != SIZE:
            self.short += 1

    def result(self, n):
        # The last batch may be short when n is not a multiple of SIZE.
        short = self.short - (1 if n % SIZE else 0)
        return (self.total, self.batches, short)


def _gen(n):
    yield from range(n)


def _sum_batch(batch):
    return sum(batch), len(batch)


def floor_loop(n):
    t0 = clock()
    acc = _Batches()
    batch = []
    for x in range(n):
        batch.append(x)
        if len(batch) == SIZE:
            acc(batch)
            batch = []
    if batch:
        acc(batch)
    return clock() - t0, acc.result(n), {}


def threads_queue(n):
    """Producer thread -> Queue(1000) -> batcher thread -> Queue -> caller."""
    t0 = clock()
    q1: queue.Queue[Any] = queue.Queue(QSIZE)
    q2: queue.Queue[Any] = queue.Queue(QSIZE // SIZE)

    def produce():
        put = q1.put
        for x in range(n):
            put(x)
        put(_STOP)

    def batch():
        get = q1.get
        buf = []
        while (x := get()) is not _STOP:
            buf.append(x)
            if len(buf) == SIZE:
                q2.put(buf)
                buf = []
        if buf:
            q2.put(buf)
        q2.put(_STOP)

    ts = [threading.Thread(target=produce), threading.Thread(target=batch)]
    for t in ts:
        t.start()
    acc = _Batches()
    while (b := q2.get()) is not _STOP:
        acc(b)
    for t in ts:
        t.join()
    return clock() - t0, acc.result(n), {}


def minigun(n):
    import minigun as mg  # noqa: PLC0415

    t0 = clock()
    acc = _Batches()
    pipe = mg.Pipeline("w5")
    pipe.add(mg.Producer("gen", lambda: range(n)))
    pipe.add(mg.Accumulator("batch", max_size=SIZE))
    pipe.add(mg.Consumer("sum", acc))
    report = pipe.run(timeout=600)
    seconds = clock() - t0
    nb = -(-n // SIZE)
    check_stats(
        report, {"batch": {"items_in": n, "items_out": nb}, "sum": {"items_in": nb}}
    )
    return seconds, acc.result(n), {}


def _batcher(items):
    yield from batched(items, SIZE)


def pyper_thread(n):
    from pyper import task  # noqa: PLC0415

    t0 = clock()
    pipeline = (
        task(_gen, branch=True, throttle=QSIZE)
        | task(_batcher, join=True, branch=True, throttle=QSIZE // SIZE)
        | task(_sum_batch, throttle=QSIZE // SIZE)
    )
    acc = _Batches()
    for s, size in pipeline(n):
        acc.add_sum(s, size)
    return clock() - t0, acc.result(n), {}


def pypeln_thread(n):
    """No batch operator: a generator between two thread stages does the batching."""
    import pypeln as pl  # noqa: PLC0415

    t0 = clock()
    items = pl.thread.from_iterable(range(n), maxsize=QSIZE)
    sums = pl.thread.map(_sum_batch, batched(items, SIZE), workers=1, maxsize=QSIZE)
    acc = _Batches()
    for s, size in sums:
        acc.add_sum(s, size)
    return clock() - t0, acc.result(n), {}


def mpire_threading(n):
    """A map pool: the caller batches, one worker thread sums, the caller adds up."""
    from mpire import WorkerPool  # noqa: PLC0415

    t0 = clock()
    acc = _Batches()
    nb = -(-n // SIZE)
    with WorkerPool(n_jobs=1, start_method="threading") as pool:
        args = ((b,) for b in batched(range(n), SIZE))
        for s, size in pool.imap_unordered(_sum_batch, args, iterable_len=nb):
            acc.add_sum(s, size)
    return clock() - t0, acc.result(n), {}


IMPLS = {
    "floor_loop": floor_loop,
    "threads_queue": threads_queue,
    "minigun": minigun,
    "pyper_thread": pyper_thread,
    "pypeln_thread": pypeln_thread,
    "mpire_threading": mpire_threading,
}
PEERS = ("pyper_thread", "pypeln_thread", "mpire_threading")
N_FULL = {
    "*": 3_000_000,
    "floor_loop": 20_000_000,
    "threads_queue": 500_000,
    "minigun": 5_000_000,
    "pyper_thread": 500_000,
    "pypeln_thread": 200_000,
    "mpire_threading": 500_000,
}
N_SMOKE = {"*": 20_000}
