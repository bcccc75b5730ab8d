"""Hooks: code that runs before and after the run and around each stage.

Pipeline hooks (`pipe.hooks.append(event, fn)`) apply to every stage; `stage=`
limits one to a stage; `prepend` puts a hook first; `before=`/`after=` are
per-stage options. `before_run`/`after_run` run exactly once per run (the
Ruby gem ran them twice, defect D1). Port of ``11_hooks_example.rb`` and
``21_inline_hook_procs.rb``.
"""

from __future__ import annotations

import time

import minigun as mg


def main(n: int | None = None) -> None:
    n = 5 if n is None else n
    events: list[str] = []
    started: dict[str, float] = {}

    pipe = mg.Pipeline("hooked")
    pipe.add(mg.Producer("numbers", lambda: range(n)))
    pipe.add(mg.Processor("double", lambda x: x * 2))
    pipe.add(
        mg.Consumer(
            "save",
            lambda _x: None,
            before=lambda stage, **_: events.append(f"open connection for {stage}"),
            after=lambda stage, **_: events.append(f"close connection for {stage}"),
        )
    )

    pipe.hooks.append(
        "before_run", lambda pipeline: events.append(f"start {pipeline.name}")
    )
    pipe.hooks.append(
        "before_stage", lambda stage: started.setdefault(stage, time.monotonic())
    )
    pipe.hooks.append(
        "after_stage",
        lambda stage: events.append(
            f"{stage} done in {time.monotonic() - started[stage]:.3f}s"
        ),
    )
    pipe.hooks.append(
        "after_stage", lambda: events.append("save flushed"), stage="save"
    )
    pipe.hooks.prepend("before_run", lambda: events.append("prepended: runs first"))
    pipe.hooks.append("after_run", lambda: events.append("end"))
    pipe.run(timeout=30)

    assert events[0] == "prepended: runs first"
    assert events[-1] == "end"
    assert events.count("end") == 1
    print("\n".join(events))


if __name__ == "__main__":
    main()
