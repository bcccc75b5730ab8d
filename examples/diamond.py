"""Diamond: one producer fans out to two branches that merge again (fan-in).

    numbers -> square ---> merge
            -> cube   -/

`to=` gives the producer two downstream stages (broadcast: both get every
item); both branches name the same downstream, so their outputs share its one
input queue. The merge stage's input closes only after both branches are done.
Port of the Ruby gem's ``02_diamond_pattern.rb``.
"""

from __future__ import annotations

import minigun as mg


def main(n: int | None = None) -> None:
    n = 10 if n is None else n
    merged: list[tuple[str, int]] = []

    pipe = mg.Pipeline("diamond")
    pipe.add(mg.Producer("numbers", lambda: range(1, n + 1), to=["square", "cube"]))
    pipe.add(mg.Processor("square", lambda x: ("square", x * x), to="merge"))
    pipe.add(mg.Processor("cube", lambda x: ("cube", x**3), to="merge"))
    pipe.add(mg.Consumer("merge", merged.append))
    report = pipe.run(timeout=30)

    assert len(merged) == 2 * n
    squares = sorted(v for kind, v in merged if kind == "square")
    print(f"merged {len(merged)} items; first squares: {squares[:5]}")
    print(f"merge received {report.stages['merge'].items_in} items from 2 branches")


if __name__ == "__main__":
    main()
