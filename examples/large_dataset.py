"""Large dataset: a million items through a pipeline with flat memory.

The producer is a generator, so items are created as they are needed; the
bounded queues between stages hold at most ``queue_size`` items each, so
memory does not grow with the size of the input. The peak resident memory is
printed before and after. Port of the Ruby gem's ``14_large_dataset.rb``.
"""

from __future__ import annotations

import resource
import sys

import minigun as mg


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)  # bytes on macOS


def main(n: int | None = None) -> None:
    n = 1_000_000 if n is None else n
    totals = {"count": 0, "sum": 0}

    def record(i: int) -> dict[str, object]:
        return {"id": i, "amount": i % 100, "payload": f"record {i:>93}"}

    def records():
        for i in range(n):
            yield record(i)

    def save(batch: list[int]) -> None:
        totals["count"] += len(batch)
        totals["sum"] += sum(batch)

    sample = record(0)
    total_mb = n * (sys.getsizeof(sample) + sys.getsizeof(str(sample["payload"]))) / 1e6
    before = peak_rss_mb()
    pipe = mg.Pipeline("large", queue_size=1000)
    pipe.add(mg.Producer("records", records))
    pipe.add(mg.Processor("valid", lambda r: r if r["amount"] < 90 else None))
    pipe.add(mg.Processor("amount", lambda r: r["amount"]))
    pipe.add(mg.Accumulator("batch", max_size=1000))
    pipe.add(mg.Consumer("save", save))
    report = pipe.run(timeout=300)
    after = peak_rss_mb()

    assert totals["count"] == n - n // 100 * 10 - max(0, n % 100 - 90)
    rate = report.total_produced / report.duration
    print(
        f"{report.total_produced:,} records in {report.duration:.2f}s ({rate:,.0f}/s), "
        f"{totals['count']:,} saved"
    )
    print(
        f"peak memory: {before:.0f} MB before, {after:.0f} MB after "
        f"(all the records together: {total_mb:,.0f} MB)"
    )


if __name__ == "__main__":
    main()
