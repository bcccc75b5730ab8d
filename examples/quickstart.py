"""Quick start: produce numbers, double them in a thread pool, batch, save.

Run it with ``python examples/quickstart.py`` (or ``make demo``).
"""

from __future__ import annotations

import sys
import time

import minigun as mg


def main(n: int = 1000) -> mg.RunReport:
    saved: list[list[int]] = []

    pipe = mg.Pipeline("quickstart")
    pipe.add(mg.Producer("numbers", lambda: range(n)))
    pipe.add(mg.Processor("double", lambda x: x * 2))
    pipe.add(mg.Processor("slow_io", lambda x: (time.sleep(0.001), x)[1], threads=16))
    pipe.add(mg.Accumulator("batch", max_size=100))
    pipe.add(mg.Consumer("save", saved.append))

    report = pipe.run(timeout=60)
    assert sum(len(b) for b in saved) == n
    return report


if __name__ == "__main__":
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(main(items).summary())
