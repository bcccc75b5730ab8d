"""Back-pressure: a fast producer feeding a slow consumer keeps memory flat.

Every stage has a bounded input queue (`queue_size`, default 1000). When it is
full the sender waits, so at most `queue_size` items plus those in flight are
ever waiting, however fast the producer is. The report shows how long the
producer was blocked. Port of the Ruby gem's ``47_backpressure_demo.rb``.
"""

from __future__ import annotations

import threading
import time

import minigun as mg


def main(n: int | None = None) -> None:
    n = 500 if n is None else n
    lock = threading.Lock()
    produced = consumed = max_waiting = 0

    def fast_source():
        nonlocal produced
        for i in range(n):
            with lock:
                produced += 1
            yield i

    def slow_sink(_item: int) -> None:
        nonlocal consumed, max_waiting
        time.sleep(0.001)
        with lock:
            consumed += 1
            max_waiting = max(max_waiting, produced - consumed)

    pipe = mg.Pipeline("pressure", chunk_size=1)  # hand items on one by one
    pipe.add(mg.Producer("fast", fast_source))
    pipe.add(mg.Consumer("slow", slow_sink, threads=1, queue_size=10))
    report = pipe.run(timeout=60)

    slow = report.stages["slow"]
    assert slow.max_queue_depth <= 10
    assert max_waiting <= 10 + 3  # queue + in flight
    print(
        f"queue_size 10: max depth {slow.max_queue_depth}, "
        f"at most {max_waiting} items produced but not consumed"
    )
    print(f"the producer waited {report.stages['fast'].blocked_time:.2f}s for room")


if __name__ == "__main__":
    main()
