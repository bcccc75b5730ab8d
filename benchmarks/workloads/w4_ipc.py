"""W4 IPC: identity on 2 processes, 1 KiB bytes items and 20-field dicts.

Payloads are 1000 distinct pre-built objects cycled (a fresh dict per item),
so pickle's memo cannot collapse a batch. Every implementation exists once per
payload: ``<impl>_bytes`` and ``<impl>_dict``. Each output is checked: its
length / field count and the index it carries (summed).
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import random
import threading
from typing import Any

from benchmarks._util import check_executors, check_stats, clock

TITLE = "W4 IPC (identity on 2 processes: 1 KiB bytes / 20-field dicts)"
MAIN = "minigun_bytes"
WORKERS = 2
QSIZE = 1000
DISTINCT = 1000
_CTX = mp.get_context("fork")


def _make_bytes(i: int) -> bytes:
    return i.to_bytes(2, "little") + random.Random(i).randbytes(1022)


def _make_dict(i: int) -> dict[str, Any]:
    d: dict[str, Any] = {"id": i}
    for j in range(1, 20):
        kind = j % 4
        if kind == 0:
            d[f"f{j}"] = i * j
        elif kind == 1:
            d[f"f{j}"] = f"value-{i}-{j}"
        elif kind == 2:
            d[f"f{j}"] = i / (j + 1)
        else:
            d[f"f{j}"] = j % 2 == 0
    return d


BYTES = [_make_bytes(i) for i in range(DISTINCT)]
DICTS = [_make_dict(i) for i in range(DISTINCT)]


def _items(kind: str, n: int):
    if kind == "bytes":
        src = BYTES
        return (src[i % DISTINCT] for i in range(n))
    src_d = DICTS
    return (dict(src_d[i % DISTINCT]) for i in range(n))


class _Check:
    """Count items and sum the index each one carries; reject malformed ones."""

    __slots__ = ("bad", "count", "ids", "kind")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.count = 0
        self.ids = 0
        self.bad = 0

    def __call__(self, x: Any) -> None:
        self.count += 1
        if self.kind == "bytes":
            if len(x) != 1024:
                self.bad += 1
            self.ids += x[0] | (x[1] << 8)
        else:
            if len(x) != 20:
                self.bad += 1
            self.ids += x["id"]

    def result(self):
        return (self.count, self.ids, self.bad)


def expected(impl: str, n: int) -> Any:
    del impl
    full, rest = divmod(n, DISTINCT)
    ids = full * DISTINCT * (DISTINCT - 1) // 2 + rest * (rest - 1) // 2
    return (n, ids, 0)


def identity(x):
    return x


def identity_list(xs):
    return list(xs)


# -- hand-written -------------------------------------------------------------


def floor_pickle_2roundtrips(kind, n):
    """Serialisation CPU only: dumps+loads twice per item in one thread."""
    t0 = clock()
    chk = _Check(kind)
    dumps, loads, proto = pickle.dumps, pickle.loads, pickle.HIGHEST_PROTOCOL
    for x in _items(kind, n):
        chk(loads(dumps(loads(dumps(x, proto)), proto)))
    return clock() - t0, chk.result(), {}


def _mp_worker(fn, q_in, q_out):
    while (x := q_in.get()) is not None:
        q_out.put(fn(x))
    q_out.put(None)


def _mp_queue(kind, n, chunk):
    t0 = clock()
    q_in = _CTX.Queue(QSIZE // chunk)
    q_out = _CTX.Queue(QSIZE // chunk)
    fn = identity if chunk == 1 else identity_list
    procs = [
        _CTX.Process(target=_mp_worker, args=(fn, q_in, q_out)) for _ in range(WORKERS)
    ]
    for p in procs:
        p.start()

    def feed():
        if chunk == 1:
            for x in _items(kind, n):
                q_in.put(x)
        else:
            buf = []
            for x in _items(kind, n):
                buf.append(x)
                if len(buf) == chunk:
                    q_in.put(buf)
                    buf = []
            if buf:
                q_in.put(buf)
        for _ in range(WORKERS):
            q_in.put(None)

    feeder = threading.Thread(target=feed)
    feeder.start()
    chk = _Check(kind)
    stops = 0
    while stops < WORKERS:
        x = q_out.get()
        if x is None:
            stops += 1
        elif chunk == 1:
            chk(x)
        else:
            for y in x:
                chk(y)
    feeder.join()
    for p in procs:
        p.join()
    return clock() - t0, chk.result(), {}


def mp_queue_2procs(kind, n):
    return _mp_queue(kind, n, 1)


def mp_queue_2procs_chunk100(kind, n):
    return _mp_queue(kind, n, 100)


# -- minigun ------------------------------------------------------------------


def minigun(kind, n):
    import minigun as mg  # noqa: PLC0415

    t0 = clock()
    chk = _Check(kind)
    pipe = mg.Pipeline("w4")
    pipe.add(mg.Producer("gen", lambda: _items(kind, n)))
    pipe.add(mg.Processor("identity", identity, processes=WORKERS))
    pipe.add(mg.Consumer("check", chk))
    report = pipe.run(timeout=600)
    seconds = clock() - t0
    check_stats(
        report, {"identity": {"items_in": n, "items_out": n}, "check": {"items_in": n}}
    )
    check_executors(report, {"identity": ("process", WORKERS)})
    return seconds, chk.result(), {}


# -- peers --------------------------------------------------------------------


def _gen(kind, n):
    yield from _items(kind, n)


def pyper_process(kind, n):
    from pyper import task  # noqa: PLC0415

    t0 = clock()
    pipeline = task(_gen, branch=True, throttle=QSIZE) | task(
        identity, workers=WORKERS, multiprocess=True, throttle=QSIZE
    )
    chk = _Check(kind)
    for x in pipeline(kind, n):
        chk(x)
    return clock() - t0, chk.result(), {}


def pypeln_process(kind, n):
    import pypeln as pl  # noqa: PLC0415

    t0 = clock()
    chk = _Check(kind)
    for x in pl.process.map(identity, _items(kind, n), workers=WORKERS, maxsize=QSIZE):
        chk(x)
    return clock() - t0, chk.result(), {}


def mpire_process(kind, n):
    """mpire unpacks dicts as **kwargs and tuples as *args: wrap in 1-tuples."""
    from mpire import WorkerPool  # noqa: PLC0415

    t0 = clock()
    chk = _Check(kind)
    with WorkerPool(n_jobs=WORKERS, start_method="fork") as pool:
        args = ((x,) for x in _items(kind, n))
        for x in pool.imap_unordered(identity, args, iterable_len=n):
            chk(x)
    return clock() - t0, chk.result(), {}


_BASE = {
    "floor_pickle_2roundtrips": floor_pickle_2roundtrips,
    "mp_queue_2procs": mp_queue_2procs,
    "mp_queue_2procs_chunk100": mp_queue_2procs_chunk100,
    "minigun": minigun,
    "pyper_process": pyper_process,
    "pypeln_process": pypeln_process,
    "mpire_process": mpire_process,
}


def _bind(fn, kind):
    def run(n):
        return fn(kind, n)

    run.__name__ = f"{fn.__name__}_{kind}"
    return run


IMPLS = {
    f"{name}_{kind}": _bind(fn, kind)
    for name in _BASE
    for kind in ("bytes", "dict")
    for fn in (_BASE[name],)
}
PEERS = tuple(
    f"{p}_{k}"
    for p in ("pyper_process", "pypeln_process", "mpire_process")
    for k in ("bytes", "dict")
)
COMPARE = {name: f"minigun_{name.rsplit('_', 1)[1]}" for name in IMPLS}
N_FULL = {
    "*": 200_000,
    "floor_pickle_2roundtrips_dict": 100_000,
    "mp_queue_2procs_bytes": 50_000,
    "mp_queue_2procs_dict": 40_000,
    "mp_queue_2procs_chunk100_dict": 100_000,
    "minigun_dict": 100_000,
    "pyper_process_bytes": 4_000,
    "pyper_process_dict": 4_000,
    "pypeln_process_bytes": 3_000,
    "pypeln_process_dict": 3_000,
    "mpire_process_bytes": 100_000,
    "mpire_process_dict": 50_000,
}
N_SMOKE = {
    "*": 5_000,
    "pyper_process_bytes": 300,
    "pyper_process_dict": 300,
    "pypeln_process_bytes": 300,
    "pypeln_process_dict": 300,
}
