"""Scoped worker limits: cap the total threads of a pipeline and its nested ones.

``max_threads`` (and ``max_processes``) in a pipeline's config bound the
**sum** of workers of all its stages, nested pipelines included; every stage
still gets at least one worker, and a stage whose explicit value is cut logs
one warning. The Ruby gem stored these settings and never used them (D15).
"""

from __future__ import annotations

import time

import minigun as mg


def main(n: int | None = None) -> None:
    n = 200 if n is None else n

    def io(x: int) -> int:
        time.sleep(0.001)
        return x

    pipe = mg.Pipeline("limited", max_threads=6)
    pipe.add(mg.Producer("numbers", lambda: range(n)))
    pipe.add(mg.Processor("fetch", io, threads=8))
    inner = pipe.add(mg.Pipeline("inner"))
    inner.add(mg.Processor("enrich", io, threads=8))
    pipe.add(mg.Consumer("save", lambda _x: None))
    report = pipe.run(timeout=60)

    workers = {
        name: s.workers for name, s in report.stages.items() if s.kind != "producer"
    }
    print(f"asked for 8 + 8 threads with max_threads=6, got: {workers}")
    assert workers["fetch"] + workers["inner.enrich"] <= 6


if __name__ == "__main__":
    main()
