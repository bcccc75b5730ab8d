"""Per-stage executors: inline, a thread pool and worker processes in one pipeline.

Each stage runs where its work fits: cheap parsing inline (fused into the
producer's thread), I/O on 8 threads, CPU-bound hashing on 2 forked worker
processes, and the results are collected inline in the parent. Port of the
Ruby gem's ``09_strategy_per_stage.rb`` — whose ``threads:`` option was
ignored and whose thread "pool" ran one item at a time (defect D14).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

import minigun as mg


def fetch(n: int) -> int:
    time.sleep(0.002)  # I/O: a thread pool overlaps the waits
    return n


def digest(n: int) -> tuple[int, int]:
    data = str(n).encode()
    for _ in range(2000):  # CPU: worker processes use several cores
        data = hashlib.sha256(data).digest()
    return n, os.getpid()


def main(n: int | None = None) -> None:
    n = 200 if n is None else n
    threads: set[str] = set()
    pids: set[int] = set()

    def note_thread(x: int) -> int:
        threads.add(threading.current_thread().name)
        return x

    pipe = mg.Pipeline("strategies")
    pipe.add(mg.Producer("numbers", lambda: range(n)))
    pipe.add(mg.Processor("parse", int))  # inline (the default)
    pipe.add(mg.Processor("fetch", fetch, threads=8))
    pipe.add(mg.Processor("threads_seen", note_thread))
    pipe.add(mg.Processor("digest", digest, processes=2))
    pipe.add(mg.Consumer("collect", lambda result: pids.add(result[1])))
    report = pipe.run(timeout=60)

    assert os.getpid() not in pids
    for name, stage in report.stages.items():
        busy = f"busy {stage.busy_time:.3f}s"
        print(f"{name:12} {stage.executor:13} {stage.items_in:5} in, {busy}")
    print(f"worker processes used: {len(pids)}; run took {report.duration:.2f}s")


if __name__ == "__main__":
    main()
