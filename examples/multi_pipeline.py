"""Multi-pipeline: ingest -> validate -> fast or slow lane, each its own pipeline.

Pipelines added to one parent run side by side and are never chained
implicitly; `to=` on a nested `Pipeline(...)` connects them. What a
pipeline's terminal stages emit leaves through its own edges, and items
sent to a pipeline (by an edge or by `To`) reach its entry stage. Port of the Ruby gem's
``07_multi_pipeline_data_processing.rb``.
"""

from __future__ import annotations

import time

import minigun as mg


def main(n: int | None = None) -> None:
    n = 20 if n is None else n
    done: dict[str, list[int]] = {"fast": [], "slow": []}

    ingest = mg.Pipeline("ingest", to="validate")
    ingest.add(
        mg.Producer(
            "receive",
            lambda: (
                {"id": i, "high": i % 3 == 0, "valid": i % 4 != 0} for i in range(n)
            ),
        )
    )

    validate = mg.Pipeline("validate", to="slow")  # high priority: To("fast", ...)
    validate.add(mg.Processor("check", lambda item: item if item["valid"] else None))
    validate.add(
        mg.Processor(
            "route", lambda item: mg.To("fast", item) if item["high"] else item
        )
    )

    fast = mg.Pipeline("fast")
    fast.add(mg.Consumer("complete", lambda item: done["fast"].append(item["id"])))

    slow = mg.Pipeline("slow")
    slow.add(mg.Processor("transform", lambda item: (time.sleep(0.001), item)[1]))
    slow.add(mg.Consumer("complete", lambda item: done["slow"].append(item["id"])))

    root = mg.Pipeline("processing")
    for pipe in (ingest, validate, fast, slow):
        root.add(pipe)
    report = root.run(timeout=30)

    valid = [i for i in range(n) if i % 4 != 0]
    assert sorted(done["fast"] + done["slow"]) == valid
    print(f"stages: {', '.join(report.stages)}")
    print(f"fast lane: {len(done['fast'])} items, slow lane: {len(done['slow'])} items")


if __name__ == "__main__":
    main()
