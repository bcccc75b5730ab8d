"""A live run: `start()`, `send()` items, `trigger()` a waiting producer, `close()`.

`pipe.start()` returns a `RunHandle` at once. `send(item, to=)` feeds a stage
of the running pipeline, a producer with ``auto_start=False`` waits until
`trigger()`, `statistics()` gives a live snapshot, and the run ends once
`close()` was called, every producer is done and everything has drained.
(``auto_start``/``trigger`` were only a TODO in the Ruby gem.)
"""

from __future__ import annotations

import threading

import minigun as mg


def main(n: int | None = None) -> None:
    n = 100 if n is None else n
    lock = threading.Lock()
    out: list[int] = []

    def save(x: int) -> None:
        with lock:
            out.append(x)

    pipe = mg.Pipeline("service")
    pipe.add(mg.Producer("backfill", lambda: range(n), auto_start=False))
    pipe.add(mg.Processor("double", lambda x: x * 2, threads=2))
    pipe.add(mg.Consumer("save", save))

    handle = pipe.start()
    for request in (10_000, 10_001, 10_002):  # live requests while it runs
        handle.send(request, to="double")
    print(
        f"running: {handle.running}; backfill has produced "
        f"{handle.statistics().stages['backfill'].items_out} items (not triggered)"
    )
    handle.trigger("backfill")
    handle.close()  # no more send()s
    report = handle.wait(timeout=30)

    assert sorted(out) == sorted([2 * x for x in range(n)] + [20_000, 20_002, 20_004])
    print(f"{report.status}: saved {len(out)} items ({n} backfilled + 3 sent)")


if __name__ == "__main__":
    main()
