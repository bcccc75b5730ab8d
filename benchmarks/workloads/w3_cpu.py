"""W3 CPU-bound: pure-Python work per item on 2 processes (~0.35-0.7 ms).

``work(x)`` runs K = 9000 loop iterations. ``ceiling_2procs_static`` is two
forked processes each given a fixed half up front and sending one result: what
two cores deliver with no per-item IPC. ``floor_serial`` is the single-process
loop (speedup reference).
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from typing import Any

from benchmarks._util import check_executors, check_stats, clock

TITLE = "W3 CPU-bound (pure Python, K = 9000 iterations per item, 2 processes)"
MAIN = "minigun"
K = 9000
WORKERS = 2
QSIZE = 1000
_C = (K - 1) * K * (2 * K - 1) // 6  # sum(i * i for i in range(K))
_CTX = mp.get_context("fork")


def work(x: int) -> int:
    s = 0
    for i in range(K):
        s += i * i
    return s + x


def expected(impl: str, n: int) -> Any:
    del impl
    return n * _C + n * (n - 1) // 2


def _gen(n):
    yield from range(n)


def floor_serial(n):
    t0 = clock()
    total = 0
    for x in range(n):
        total += work(x)
    seconds = clock() - t0
    return seconds, total, {"serial_ms_per_item": seconds / n * 1e3}


def _half(lo, hi, conn):
    conn.send(sum(work(x) for x in range(lo, hi)))
    conn.close()


def ceiling_2procs_static(n):
    t0 = clock()
    pipes = []
    procs = []
    bounds = [0, n // 2, n]
    for k in range(WORKERS):
        r, w = _CTX.Pipe(duplex=False)
        p = _CTX.Process(target=_half, args=(bounds[k], bounds[k + 1], w))
        p.start()
        w.close()
        pipes.append(r)
        procs.append(p)
    total = sum(r.recv() for r in pipes)
    for p in procs:
        p.join()
    return clock() - t0, total, {}


def _mp_worker(q_in, q_out):
    while (x := q_in.get()) is not None:
        q_out.put(work(x))
    q_out.put(None)


def mp_queue_2procs(n):
    """Feeder thread -> mp.Queue(1000) -> 2 forked workers -> mp.Queue -> caller."""
    t0 = clock()
    q_in = _CTX.Queue(QSIZE)
    q_out = _CTX.Queue(QSIZE)
    procs = [
        _CTX.Process(target=_mp_worker, args=(q_in, q_out)) for _ in range(WORKERS)
    ]
    for p in procs:
        p.start()

    def feed():
        for x in range(n):
            q_in.put(x)
        for _ in range(WORKERS):
            q_in.put(None)

    feeder = threading.Thread(target=feed)
    feeder.start()
    total = 0
    stops = 0
    while stops < WORKERS:
        x = q_out.get()
        if x is None:
            stops += 1
        else:
            total += x
    feeder.join()
    for p in procs:
        p.join()
    return clock() - t0, total, {}


def mp_pool_imap_unordered(n):
    t0 = clock()
    total = 0
    with _CTX.Pool(WORKERS) as pool:
        for x in pool.imap_unordered(work, range(n)):
            total += x
    return clock() - t0, total, {}


def minigun(n):
    import minigun as mg  # noqa: PLC0415

    t0 = clock()
    total = 0

    def add(x):
        nonlocal total
        total += x

    pipe = mg.Pipeline("w3")
    pipe.add(mg.Producer("gen", lambda: range(n)))
    pipe.add(mg.Processor("work", work, processes=WORKERS))
    pipe.add(mg.Consumer("sum", add))
    report = pipe.run(timeout=600)
    seconds = clock() - t0
    check_stats(
        report, {"work": {"items_in": n, "items_out": n}, "sum": {"items_in": n}}
    )
    check_executors(report, {"work": ("process", WORKERS)})
    return seconds, total, {"executors": [s.executor for s in report.stages.values()]}


def pyper_process(n):
    from pyper import task  # noqa: PLC0415

    t0 = clock()
    pipeline = task(_gen, branch=True, throttle=QSIZE) | task(
        work, workers=WORKERS, multiprocess=True, throttle=QSIZE
    )
    total = 0
    for x in pipeline(n):
        total += x
    return clock() - t0, total, {}


def pypeln_process(n):
    import pypeln as pl  # noqa: PLC0415

    t0 = clock()
    total = 0
    for x in pl.process.map(work, range(n), workers=WORKERS, maxsize=QSIZE):
        total += x
    return clock() - t0, total, {}


def mpire_process(n):
    from mpire import WorkerPool  # noqa: PLC0415

    t0 = clock()
    total = 0
    with WorkerPool(n_jobs=WORKERS, start_method="fork") as pool:
        for x in pool.imap_unordered(work, range(n)):
            total += x
    return clock() - t0, total, {}


IMPLS = {
    "floor_serial": floor_serial,
    "ceiling_2procs_static": ceiling_2procs_static,
    "mp_queue_2procs": mp_queue_2procs,
    "mp_pool_imap_unordered": mp_pool_imap_unordered,
    "minigun": minigun,
    "pyper_process": pyper_process,
    "pypeln_process": pypeln_process,
    "mpire_process": mpire_process,
}
PEERS = ("pyper_process", "pypeln_process", "mpire_process")
N_FULL = {"*": 3000, "floor_serial": 1500}
N_SMOKE = {"*": 60}
