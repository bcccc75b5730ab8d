"""Progress bars: `run(progress=True)` shows one bar per producer and terminal stage.

A producer's total comes from ``total=`` or from ``len()`` of what it
returns (here a list). Without a terminal the bars degrade to plain status
lines. From the shell: ``minigun run FILE:NAME --progress``.
"""

from __future__ import annotations

import time

import minigun as mg


def main(n: int | None = None) -> None:
    n = 400 if n is None else n
    pipe = mg.Pipeline("progress")
    pipe.add(
        mg.Producer("files", lambda: [f"file{i}.csv" for i in range(n)])
    )  # len() = total
    pipe.add(mg.Processor("load", lambda name: (time.sleep(0.002), name)[1], threads=4))
    pipe.add(mg.Consumer("index", lambda _name: None))
    report = pipe.run(progress=True, timeout=60)
    files, took = report.total_consumed, report.duration
    print(f"{report.status}: indexed {files} files in {took:.2f}s")


if __name__ == "__main__":
    main()
