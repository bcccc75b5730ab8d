"""Statistics: the run report, per-stage figures, the bottleneck, JSON, live snapshots.

`run()` returns a frozen `RunReport`; `summary()` prints an aligned table,
`to_json()` exports it, and `RunHandle.statistics()` gives the same figures
while the run goes on. Items produced, consumed, failed and dropped by
filters are all counted (the Ruby gem never incremented ``items_failed``,
defect D11), and the bottleneck is the busiest real stage. Port of
``19_statistics_gathering.rb`` and ``24_statistics_demo.rb``.
"""

from __future__ import annotations

import json
import time

import minigun as mg


def main(n: int | None = None) -> None:
    n = 2000 if n is None else n

    def lookup(x: int) -> int:
        time.sleep(0.0005)
        return x

    pipe = mg.Pipeline("stats", max_retries=0, on_error="skip")
    pipe.add(mg.Producer("numbers", lambda: range(n)))
    pipe.add(mg.Processor("evens", lambda x: x if x % 2 == 0 else None))  # a filter
    pipe.add(mg.Processor("lookup", lookup, threads=4))
    pipe.add(mg.Processor("check", lambda x: 1 // (x % 10)))  # fails on multiples of 10
    pipe.add(mg.Accumulator("batch", max_size=50))
    pipe.add(mg.Consumer("save", lambda _batch: None))

    handle = pipe.start()
    handle.close()
    time.sleep(0.05)
    live = handle.statistics()
    handled = live.stages["lookup"].items_in
    print(f"live: {live.status}, lookup has handled {handled} items")
    report = handle.wait(timeout=60)

    print(report.summary())
    lookup_stats = report.stages["lookup"]
    p50, p99 = lookup_stats.latency_p50 * 1e3, lookup_stats.latency_p99 * 1e3
    print(f"lookup latency: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(f"bottleneck: {report.bottleneck}")
    data = json.loads(report.to_json())
    assert data["total_produced"] == n
    assert report.stages["evens"].items_dropped == n - (n + 1) // 2
    assert report.stages["check"].items_failed == (n + 9) // 10


if __name__ == "__main__":
    main()
