"""Timeouts, stop and Ctrl-C: ending a run early, with every thread cleaned up.

`run(timeout=s)` cancels the run and raises `TimeoutError`; `RunHandle.stop()`
(like a first Ctrl-C) stops the producers and drains what is in flight, the
run ending with status ``"cancelled"``; `cancel()` (a second Ctrl-C) drops
what is in flight. Nothing is left running afterwards. The Ruby gem had no
graceful drain and could hang (D5, D12).
"""

from __future__ import annotations

import _thread
import itertools
import threading
import time

import minigun as mg


def endless() -> mg.Pipeline:
    def ticks():
        for i in itertools.count():
            time.sleep(0.001)
            yield i

    pipe = mg.Pipeline("endless", chunk_size=10)
    pipe.add(mg.Producer("ticks", ticks))
    pipe.add(mg.Consumer("work", lambda _i: time.sleep(0.001), threads=2))
    return pipe


def main(n: int | None = None) -> None:
    del n
    try:
        endless().run(timeout=0.2)
    except TimeoutError as exc:
        print(f"timeout: {exc}")

    handle = endless().start()
    handle.close()
    time.sleep(0.1)
    handle.stop()
    report = handle.wait(timeout=10)
    drained = report.stages["work"].items_in == report.stages["ticks"].items_out
    print(f"stop: {report.status}, drained: {drained}")

    threading.Timer(0.1, _thread.interrupt_main).start()  # simulate one Ctrl-C
    report = endless().run(timeout=10)
    print(f"Ctrl-C: {report.status} after {report.stages['ticks'].items_out} items")
    assert not [t for t in threading.enumerate() if t.name.startswith("minigun:")]


if __name__ == "__main__":
    main()
