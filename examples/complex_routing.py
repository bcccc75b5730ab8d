"""Complex routing: several splits and a filter, wired with explicit `to=`.

    fetch -> validate -> transform -> store
          |          -> archive
          -> log

Port of the Ruby gem's ``04_complex_routing.rb``. There, the consumers
``store``, ``archive`` and ``log`` were silently chained to each other by the
sequential default (defect D17); here every edge is explicit and the
consumers end the chain with ``to=()``.
"""

from __future__ import annotations

import collections
import threading

import minigun as mg


def main(n: int | None = None) -> None:
    n = 10 if n is None else n
    lock = threading.Lock()
    seen: dict[str, list[int]] = collections.defaultdict(list)

    def record(name: str, value: int) -> None:
        with lock:
            seen[name].append(value)

    def validate(num: int) -> int | None:
        record("validated", num)
        return num if num % 2 == 0 else None  # only even numbers go on

    pipe = mg.Pipeline("complex")
    pipe.add(mg.Producer("fetch", lambda: range(1, n + 1), to=["validate", "log"]))
    pipe.add(mg.Processor("validate", validate, to=["transform", "archive"]))
    pipe.add(mg.Processor("transform", lambda num: num * 10, to="store"))
    pipe.add(mg.Consumer("store", lambda num: record("stored", num), to=()))
    pipe.add(mg.Consumer("archive", lambda num: record("archived", num), to=()))
    pipe.add(mg.Consumer("log", lambda num: record("logged", num), to=()))
    pipe.run(timeout=30)

    evens = [x for x in range(1, n + 1) if x % 2 == 0]
    assert sorted(seen["logged"]) == list(range(1, n + 1))
    assert sorted(seen["archived"]) == evens
    assert sorted(seen["stored"]) == [x * 10 for x in evens]
    for name in ("logged", "validated", "archived", "stored"):
        print(f"{name:9}: {sorted(seen[name])}")


if __name__ == "__main__":
    main()
