"""Subinterpreters: CPU-bound Python on 2 cores without processes (3.13+).

``interpreters=2`` (or `InterpreterExecutor(workers=2)`) runs the stage in 2
subinterpreters, each with its own GIL, so pure-Python CPU work runs in
parallel inside one process. Here every item is a range of numbers whose
primes are counted by trial division; the same work runs on 1 and then 2
interpreters and the speed-up is printed. Before CPython 3.13 validation
raises a `DefinitionError` saying which Python is needed, and this example
says so and exits.

A subinterpreter imports the stage function by its module name, so stage
functions must be module-level functions in an importable module (a lambda
or closure is a `DefinitionError`). The script you run is ``__main__``,
which an interpreter cannot import: in a project, keep stage functions in a
module of your package; this single-file example imports itself by name.
"""

from __future__ import annotations

import importlib
import platform
import sys
import time
from pathlib import Path
from typing import Any

import minigun as mg

#: How many numbers one item covers.
SPAN = 20_000


def count_primes(span: tuple[int, int]) -> int:
    """Count the primes in ``range(*span)`` by trial division (pure Python)."""
    start, stop = span
    count = 0
    for n in range(max(start, 2), stop):
        if n % 2 == 0:
            count += n == 2
            continue
        d = 3
        while d * d <= n:
            if n % d == 0:
                break
            d += 2
        else:
            count += 1
    return count


def importable_self() -> Any:
    """This file imported by its module name (``interpreters``), not as ``__main__``."""
    here = Path(__file__).resolve()
    if str(here.parent) not in sys.path:
        sys.path.insert(0, str(here.parent))
    return importlib.import_module(here.stem)


def run_on(workers: int, spans: list[tuple[int, int]]) -> tuple[int, float]:
    """Count primes over *spans* on ``interpreters=workers``: (total, seconds)."""
    stage_fn = importable_self().count_primes
    totals: list[int] = []
    pipe = mg.Pipeline("primes")
    pipe.add(mg.Producer("spans", lambda: spans))
    pipe.add(mg.Processor("count", stage_fn, interpreters=workers))
    pipe.add(mg.Consumer("collect", totals.append))
    started = time.perf_counter()
    pipe.run(timeout=300)
    return sum(totals), time.perf_counter() - started


def main(n: int | None = None) -> None:
    n = 16 if n is None else n
    spans = [(i * SPAN, (i + 1) * SPAN) for i in range(n)]
    try:
        one, t1 = run_on(1, spans)
    except mg.DefinitionError as exc:
        print(f"skipped: interpreters need CPython 3.13+ ({exc})")
        print(f"this is {platform.python_implementation()} {platform.python_version()}")
        return
    two, t2 = run_on(2, spans)
    assert one == two
    print(f"{one} primes below {n * SPAN:,}")
    print(f"1 interpreter {t1:.2f}s, 2 interpreters {t2:.2f}s: speed-up {t1 / t2:.2f}x")


if __name__ == "__main__":
    main()
