"""Variants of one pipeline with `reroute`: replace a stage's outgoing edges.

A factory builds the standard pipeline; a variant (a test, a dry run)
reroutes one stage elsewhere instead of copying the whole definition. The
stage left without upstream (``publish``) is simply idle and never hangs
the run. Port of the Ruby gem's ``22_reroute_stage.rb``.
"""

from __future__ import annotations

import minigun as mg


def build(published: list[int], dry_run: list[int] | None = None) -> mg.Pipeline:
    pipe = mg.Pipeline("release")
    pipe.add(mg.Producer("builds", lambda: range(5)))
    pipe.add(mg.Processor("check", lambda b: b))
    pipe.add(mg.Consumer("publish", published.append, to=()))
    if dry_run is not None:
        pipe.add(mg.Consumer("record", dry_run.append))
        pipe.reroute("check", to="record")
    return pipe


def main(n: int | None = None) -> None:
    del n
    published: list[int] = []
    build(published).run(timeout=30)
    print(f"standard: published {published}")

    published_dry: list[int] = []
    recorded: list[int] = []
    build(published_dry, dry_run=recorded).run(timeout=30)
    assert published_dry == []
    assert recorded == [0, 1, 2, 3, 4]
    print(f"dry run:  published {published_dry}, recorded {recorded}")


if __name__ == "__main__":
    main()
