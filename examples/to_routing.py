"""`To` routing: send each item straight to a named stage, chosen per item.

Return or yield `mg.To("stage", item)`, or call ``emit(item, to="stage")``:
the item goes directly into that stage's input queue, bypassing edges and
routers. The targets need no edge; a target that is never used does not hang
the run (defects D3, D4, D6 in the Ruby gem). Port of ``40``/``41`` and
``69_yield_routing.rb``.
"""

from __future__ import annotations

import collections

import minigun as mg

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def main(n: int | None = None) -> None:
    n = 40 if n is None else n
    lines = [f"{LEVELS[i % 4]} event {i}" for i in range(n)]
    got: dict[str, list[str]] = collections.defaultdict(list)

    def classify(line: str, emit: mg.Emitter) -> None:
        level = line.split(maxsplit=1)[0]
        if level == "ERROR":
            emit(line, to="alert")  # the emit form
            emit(line, to="archive")
        elif level == "WARNING":
            emit(line, to="archive")
        elif level == "INFO":
            emit(mg.To("archive", line))  # the To form
        # DEBUG lines are dropped

    pipe = mg.Pipeline("logs")
    pipe.add(mg.Producer("lines", lambda: lines))
    pipe.add(mg.Processor("classify", classify, to=()))  # no static edges at all
    pipe.add(mg.Consumer("alert", got["alert"].append, to=()))
    pipe.add(mg.Consumer("archive", got["archive"].append, to=()))
    pipe.add(mg.Consumer("never_used", got["never"].append))
    report = pipe.run(timeout=30)

    assert len(got["alert"]) == n // 4
    assert not got["never"]
    print(
        f"alerts: {len(got['alert'])}, archived: {len(got['archive'])}, "
        f"routed by classify: {report.stages['classify'].items_routed}"
    )


if __name__ == "__main__":
    main()
