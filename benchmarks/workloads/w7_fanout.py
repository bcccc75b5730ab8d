"""W7 fan-out and To routing: 1 producer -> 4 consumers.

* round robin: the producer feeds 4 consumers with ``routing="round_robin"``
  (exact rotation in edge order, so consumer k gets the items x with
  x % 4 == k);
* To: a router stage returns ``mg.To(f"c{x % 4}", x)`` to 4 consumers declared
  with ``to=()``.

Both must deliver to consumer k exactly the items x with x % 4 == k; the result
is the tuple of the 4 per-consumer sums. No peer has per-item routing to named
stages (pypeln/pyper fan-out is broadcast or linear; mpire is a map pool), so
only hand-written baselines are compared.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from benchmarks._util import check_stats, clock

TITLE = "W7 fan-out (1 producer -> 4 consumers: round robin / To routing)"
MAIN = "minigun_round_robin"
FAN = 4
QSIZE = 1000
_STOP = object()


def expected(impl: str, n: int) -> Any:
    del impl
    out = []
    for k in range(FAN):
        m = (n - k + FAN - 1) // FAN  # how many x in range(n) have x % 4 == k
        out.append(k * m + FAN * m * (m - 1) // 2)
    return tuple(out)


def _counts(n):
    return [(n - k + FAN - 1) // FAN for k in range(FAN)]


class _Sink:
    __slots__ = ("total",)

    def __init__(self) -> None:
        self.total = 0

    def __call__(self, x) -> None:
        self.total += x


def floor_loop_round_robin(n):
    t0 = clock()
    sinks = [_Sink() for _ in range(FAN)]
    k = 0
    for x in range(n):
        sinks[k](x)
        k = (k + 1) % FAN
    return clock() - t0, tuple(s.total for s in sinks), {}


def floor_loop_to(n):
    t0 = clock()
    sinks = [_Sink() for _ in range(FAN)]
    for x in range(n):
        sinks[x % FAN](x)
    return clock() - t0, tuple(s.total for s in sinks), {}


def _consumers(sinks, queues):
    def consume(sink, q):
        get = q.get
        while (x := get()) is not _STOP:
            sink(x)

    ts = [
        threading.Thread(target=consume, args=(s, q))
        for s, q in zip(sinks, queues, strict=True)
    ]
    for t in ts:
        t.start()
    return ts


def threads_queue_round_robin(n):
    """The caller puts round robin into 4 Queue(1000), one consumer thread each."""
    t0 = clock()
    sinks = [_Sink() for _ in range(FAN)]
    queues: list[queue.Queue[Any]] = [queue.Queue(QSIZE) for _ in range(FAN)]
    ts = _consumers(sinks, queues)
    puts = [q.put for q in queues]
    k = 0
    for x in range(n):
        puts[k](x)
        k = (k + 1) % FAN
    for q in queues:
        q.put(_STOP)
    for t in ts:
        t.join()
    return clock() - t0, tuple(s.total for s in sinks), {}


def threads_queue_to(n):
    """Producer thread -> Queue -> router thread -> 4 Queue(1000) -> 4 consumers."""
    t0 = clock()
    sinks = [_Sink() for _ in range(FAN)]
    queues: list[queue.Queue[Any]] = [queue.Queue(QSIZE) for _ in range(FAN)]
    q_in: queue.Queue[Any] = queue.Queue(QSIZE)
    ts = _consumers(sinks, queues)

    def produce():
        for x in range(n):
            q_in.put(x)
        q_in.put(_STOP)

    producer = threading.Thread(target=produce)
    producer.start()
    puts = [q.put for q in queues]
    while (x := q_in.get()) is not _STOP:
        puts[x % FAN](x)
    for q in queues:
        q.put(_STOP)
    producer.join()
    for t in ts:
        t.join()
    return clock() - t0, tuple(s.total for s in sinks), {}


def minigun_round_robin(n):
    import minigun as mg  # noqa: PLC0415

    t0 = clock()
    sinks = [_Sink() for _ in range(FAN)]
    pipe = mg.Pipeline("w7")
    pipe.add(mg.Producer("gen", lambda: range(n), routing="round_robin"))
    with pipe.parallel():
        for k in range(FAN):
            pipe.add(mg.Consumer(f"c{k}", sinks[k]))
    report = pipe.run(timeout=600)
    seconds = clock() - t0
    counts = _counts(n)
    check_stats(report, {f"c{k}": {"items_in": counts[k]} for k in range(FAN)})
    return seconds, tuple(s.total for s in sinks), {}


def minigun_to(n):
    import minigun as mg  # noqa: PLC0415

    to_cls = mg.To

    def route(x):
        return to_cls(f"c{x % FAN}", x)

    t0 = clock()
    sinks = [_Sink() for _ in range(FAN)]
    pipe = mg.Pipeline("w7")
    pipe.add(mg.Producer("gen", lambda: range(n)))
    pipe.add(mg.Processor("router", route))
    for k in range(FAN):
        pipe.add(mg.Consumer(f"c{k}", sinks[k], to=()))
    report = pipe.run(timeout=600)
    seconds = clock() - t0
    counts = _counts(n)
    check_stats(
        report,
        {
            "router": {"items_in": n, "items_out": n},
            **{f"c{k}": {"items_in": counts[k]} for k in range(FAN)},
        },
    )
    return seconds, tuple(s.total for s in sinks), {}


IMPLS = {
    "floor_loop_round_robin": floor_loop_round_robin,
    "floor_loop_to": floor_loop_to,
    "threads_queue_round_robin": threads_queue_round_robin,
    "threads_queue_to": threads_queue_to,
    "minigun_round_robin": minigun_round_robin,
    "minigun_to": minigun_to,
}
PEERS: tuple[str, ...] = ()
COMPARE = {
    name: "minigun_to" if name.endswith("_to") else "minigun_round_robin"
    for name in IMPLS
}
N_FULL = {
    "*": 3_000_000,
    "floor_loop_round_robin": 5_000_000,
    "floor_loop_to": 5_000_000,
    "threads_queue_round_robin": 300_000,
    "threads_queue_to": 200_000,
    "minigun_to": 500_000,
}
N_SMOKE = {"*": 20_000}
