"""Nested pipelines: a Pipeline is a stage; reuse one inside another.

The nested ``clean`` pipeline gets the outer producer's items at its entry
stage, and what its last stage emits leaves through its own edge to
``save``. Its stages are reported as ``clean.strip``; `To("clean.lower", x)`
reaches a stage inside it by its qualified name. Port of the Ruby gem's
``08_nested_pipeline_simple.rb`` and ``10_routing_to_nested_stages.rb``.
"""

from __future__ import annotations

import minigun as mg


def cleaning() -> mg.Pipeline:
    """A reusable sub-pipeline: strip, then lower-case."""
    inner = mg.Pipeline("clean", queue_size=50)  # its own config overrides
    inner.add(mg.Processor("strip", str.strip))
    inner.add(mg.Processor("lower", str.lower))
    return inner


def main(n: int | None = None) -> None:
    n = 6 if n is None else n
    words = [f"  Word{i} " for i in range(n)]
    saved: list[str] = []

    def triage(word: str) -> object:
        # Already stripped words skip "strip" and go straight to the inner stage.
        return mg.To("clean.lower", word) if word == word.strip() else word

    pipe = mg.Pipeline("outer")
    pipe.add(mg.Producer("words", lambda: [*words, "ALREADY-CLEAN"]))
    pipe.add(mg.Processor("triage", triage))
    pipe.add(cleaning())
    pipe.add(mg.Consumer("save", saved.append))
    report = pipe.run(timeout=30)

    assert sorted(saved) == sorted(
        [w.strip().lower() for w in words] + ["already-clean"]
    )
    print(f"stages: {list(report.stages)}")
    print(f"saved: {sorted(saved)[:4]} ...")


if __name__ == "__main__":
    main()
