"""The sequential default: stages added in order are chained, unless told otherwise.

A stage without an explicit outgoing edge feeds the next stage added after
it that is not a producer; producers never receive implicit edges;
``to=()`` ends a chain; `pipe.graph()` shows the result. Port of the Ruby
gem's ``01_sequential_default.rb``.
"""

from __future__ import annotations

import minigun as mg


def main(n: int | None = None) -> None:
    n = 5 if n is None else n
    saved: list[int] = []
    audited: list[int] = []

    pipe = mg.Pipeline("sequential")
    pipe.add(mg.Producer("orders", lambda: range(n)))
    pipe.add(mg.Producer("refunds", lambda: range(-n, 0)))  # also feeds "check"
    pipe.add(mg.Processor("check", lambda x: x if x >= 0 else mg.To("audit", x)))
    pipe.add(mg.Processor("double", lambda x: x * 2))
    pipe.add(mg.Consumer("save", saved.append, to=()))  # the chain ends here
    pipe.add(mg.Consumer("audit", audited.append))  # fed only by To

    graph = pipe.graph()
    edges = [(graph.stages[e.src].name, graph.stages[e.dst].name) for e in graph.edges]
    print("edges:", ", ".join(f"{a} -> {b}" for a, b in edges))
    pipe.run(timeout=30)

    assert sorted(saved) == [2 * x for x in range(n)]
    assert sorted(audited) == list(range(-n, 0))
    print(f"saved {sorted(saved)}, audited {sorted(audited)}")


if __name__ == "__main__":
    main()
