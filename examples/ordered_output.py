"""Ordered output: keep input order on a multi-worker stage with `ordered=True`.

With several workers, results leave in completion order. ``ordered=True``
forwards them in input order through a bounded reorder buffer (one slow item
holds back at most 2 x workers micro-batches, never the whole stream).
"""

from __future__ import annotations

import random
import time

import minigun as mg


def main(n: int | None = None) -> None:
    n = 40 if n is None else n

    def run(ordered: bool) -> list[int]:
        rng = random.Random(3)
        delays = [rng.uniform(0, 0.005) for _ in range(n)]
        out: list[int] = []
        pipe = mg.Pipeline("jitter")
        pipe.add(mg.Producer("numbers", lambda: range(n)))
        pipe.add(
            mg.Processor(
                "work",
                lambda i: (time.sleep(delays[i]), i)[1],
                threads=4,
                ordered=ordered,
            )
        )
        pipe.add(mg.Consumer("save", out.append))
        pipe.run(timeout=30)
        return out

    unordered, ordered = run(ordered=False), run(ordered=True)
    assert sorted(unordered) == ordered == list(range(n))
    print(f"completion order: {unordered[:10]} ...")
    print(f"ordered=True:     {ordered[:10]} ...")


if __name__ == "__main__":
    main()
