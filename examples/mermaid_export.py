"""Mermaid export: draw a pipeline as a flowchart (nested pipelines as subgraphs).

`pipe.to_mermaid()` returns a Mermaid ``flowchart`` with each stage's kind
and executor, and edges labelled with the router (and weights); paste it
into a Markdown file or https://mermaid.live. `minigun.mermaid.to_text`
gives a plain-text view. From the shell: ``minigun graph FILE:NAME``.
(`to_mermaid` was only documented in the Ruby gem, never implemented.)
"""

from __future__ import annotations

import minigun as mg
from minigun.mermaid import to_text


def build() -> mg.Pipeline:
    pipe = mg.Pipeline("shop")
    pipe.add(mg.Producer("orders", lambda: range(10), router=mg.WeightedRouter()))
    with pipe.parallel():
        pipe.add(mg.Processor("fast_lane", lambda o: o, threads=4))
        pipe.add(mg.Processor("slow_lane", lambda o: o))
    pipe.connect("orders", "fast_lane", weight=3)
    pipe.connect("orders", "slow_lane", weight=1)
    billing = pipe.add(mg.Pipeline("billing"))
    billing.add(mg.Processor("invoice", lambda o: o))
    billing.add(mg.Accumulator("batch", max_size=5))
    pipe.add(mg.Consumer("ledger", lambda _batch: None))
    return pipe


def main(n: int | None = None) -> None:
    del n  # a fixed example graph
    pipe = build()
    chart = pipe.to_mermaid()
    assert chart.startswith("flowchart")
    print(chart)
    print()
    print(to_text(pipe))


if __name__ == "__main__":
    main()
