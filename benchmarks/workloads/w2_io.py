"""W2 IO-bound: sleep 1 ms per item on 16 threads, N = 5000.

Ideal wall time = N x 1 ms / 16 = 0.3125 s. ``time.sleep(0.001)`` really
takes longer (~1.1 ms), so each child first measures it (``prepare``) and the
report also gives the "fair ideal" N x measured sleep / 16.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from benchmarks._util import check_executors, check_stats, clock

TITLE = "W2 IO-bound (sleep 1 ms per item, 16 threads)"
MAIN = "minigun"
SLEEP = 0.001
WORKERS = 16
QSIZE = 1000
_STOP = object()


def expected(impl: str, n: int) -> Any:
    del impl
    return (n, n * (n - 1) // 2)


def prepare(impl: str, n: int) -> dict[str, Any]:
    """Measure what ``time.sleep(0.001)`` really costs here (200 calls)."""
    del impl, n
    reps = 200
    t0 = clock()
    for _ in range(reps):
        time.sleep(SLEEP)
    return {"sleep_ms": (clock() - t0) / reps * 1e3}


def _io(x):
    time.sleep(SLEEP)
    return x


def _gen(n):
    yield from range(n)


class _Sum:
    """Count and sum what arrives."""

    __slots__ = ("count", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0

    def __call__(self, x) -> None:
        self.count += 1
        self.total += x

    def result(self):
        return (self.count, self.total)


def floor_serial(n):
    t0 = clock()
    acc = _Sum()
    for x in range(n):
        acc(_io(x))
    return clock() - t0, acc.result(), {}


def threads_queue(n):
    """Feeder thread -> Queue(1000) -> 16 worker threads -> Queue(1000) -> caller."""
    t0 = clock()
    q_in: queue.Queue[Any] = queue.Queue(QSIZE)
    q_out: queue.Queue[Any] = queue.Queue(QSIZE)

    def feed():
        for x in range(n):
            q_in.put(x)
        for _ in range(WORKERS):
            q_in.put(_STOP)

    def work():
        while (x := q_in.get()) is not _STOP:
            q_out.put(_io(x))
        q_out.put(_STOP)

    ts = [threading.Thread(target=feed)]
    ts += [threading.Thread(target=work) for _ in range(WORKERS)]
    for t in ts:
        t.start()
    acc = _Sum()
    stops = 0
    while stops < WORKERS:
        x = q_out.get()
        if x is _STOP:
            stops += 1
        else:
            acc(x)
    for t in ts:
        t.join()
    return clock() - t0, acc.result(), {}


def cf_threadpool_map(n):
    t0 = clock()
    acc = _Sum()
    with ThreadPoolExecutor(WORKERS) as ex:
        for x in ex.map(_io, range(n)):
            acc(x)
    return clock() - t0, acc.result(), {}


def minigun(n):
    import minigun as mg  # noqa: PLC0415

    t0 = clock()
    acc = _Sum()
    pipe = mg.Pipeline("w2")
    pipe.add(mg.Producer("gen", lambda: range(n)))
    pipe.add(mg.Processor("io", _io, threads=WORKERS))
    pipe.add(mg.Consumer("sum", acc))
    report = pipe.run(timeout=600)
    seconds = clock() - t0
    check_stats(report, {"io": {"items_in": n, "items_out": n}, "sum": {"items_in": n}})
    check_executors(report, {"io": ("thread", WORKERS)})
    return (
        seconds,
        acc.result(),
        {"executors": [s.executor for s in report.stages.values()]},
    )


def _pyper(n):
    from pyper import task  # noqa: PLC0415

    t0 = clock()
    pipeline = task(_gen, branch=True, throttle=QSIZE) | task(
        _io, workers=WORKERS, throttle=QSIZE
    )
    acc = _Sum()
    for x in pipeline(n):
        acc(x)
    return clock() - t0, acc.result(), {}


def pyper_thread(n):
    return _pyper(n)


def pyper_thread_uncapped(n):
    """pyper with its shared ThreadPoolExecutor widened to 64 threads (patched)."""
    import concurrent.futures as cf  # noqa: PLC0415

    from pyper._core.util import worker_pool  # noqa: PLC0415

    def init(self):
        self.shutdown_event = threading.Event()
        self._executor = cf.ThreadPoolExecutor(max_workers=64)
        self._futures = []

    worker_pool.ThreadPool.__init__ = init  # type: ignore[method-assign]
    return _pyper(n)


def pypeln_thread(n):
    import pypeln as pl  # noqa: PLC0415

    t0 = clock()
    acc = _Sum()
    for x in pl.thread.map(_io, range(n), workers=WORKERS, maxsize=QSIZE):
        acc(x)
    return clock() - t0, acc.result(), {}


def mpire_threading(n):
    from mpire import WorkerPool  # noqa: PLC0415

    t0 = clock()
    acc = _Sum()
    with WorkerPool(n_jobs=WORKERS, start_method="threading") as pool:
        for x in pool.imap_unordered(_io, range(n)):
            acc(x)
    return clock() - t0, acc.result(), {}


IMPLS = {
    "floor_serial": floor_serial,
    "threads_queue": threads_queue,
    "cf_threadpool_map": cf_threadpool_map,
    "minigun": minigun,
    "pyper_thread": pyper_thread,
    "pyper_thread_uncapped": pyper_thread_uncapped,
    "pypeln_thread": pypeln_thread,
    "mpire_threading": mpire_threading,
}
PEERS = ("pyper_thread", "pyper_thread_uncapped", "pypeln_thread", "mpire_threading")
# floor_serial runs 1/10 of the items (its time scales linearly; shown per item).
N_FULL = {"*": 5000, "floor_serial": 500}
N_SMOKE = {"*": 320, "floor_serial": 32}
