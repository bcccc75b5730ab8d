"""Hooks end to end: lifecycle events, order, stage hooks, on_error (SPEC §6)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import minigun as mg
from minigun.testing import ListSink

TIMEOUT = 10.0


class _Log:
    """A thread-safe list of events."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[Any, ...]] = []

    def add(self, *event: Any) -> None:
        with self.lock:
            self.events.append(event)

    def count(self, *event: Any) -> int:
        return self.events.count(event)


def test_run_hooks_once_per_run(executor_opts: dict[str, Any]) -> None:
    """before_run and after_run run exactly once per run."""
    log = _Log()
    pipe = mg.Pipeline("runs")
    pipe.hooks.append("before_run", lambda: log.add("before_run"))
    pipe.hooks.append("after_run", lambda: log.add("after_run"))
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(ListSink("sink", **executor_opts))

    pipe.run(timeout=TIMEOUT)
    assert log.events == [("before_run",), ("after_run",)]

    pipe.run(timeout=TIMEOUT)
    assert log.events == [("before_run",), ("after_run",)] * 2


def test_run_hooks_receive_the_pipeline() -> None:
    """Run hooks are called with pipeline= when they accept it."""
    seen: list[mg.Pipeline] = []
    pipe = mg.Pipeline("kw")

    def hook(pipeline: mg.Pipeline) -> None:
        seen.append(pipeline)

    pipe.hooks.append("before_run", hook)
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert seen == [pipe]


def test_stage_hooks_once_per_stage(executor_opts: dict[str, Any]) -> None:
    """before_stage/after_stage run once per stage; after_stage follows the flush."""
    log = _Log()

    def flush(batch: list[int]) -> list[int]:
        log.add("flush", len(batch))
        return batch

    pipe = mg.Pipeline("stages")
    pipe.hooks.append("before_stage", lambda stage: log.add("before_stage", stage))
    pipe.hooks.append("after_stage", lambda stage: log.add("after_stage", stage))
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("double", lambda n: n * 2, **executor_opts))
    pipe.add(mg.Accumulator("batch", flush, max_size=100, **executor_opts))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    names = ["src", "double", "batch", "sink"]
    before = [e[1] for e in log.events if e[0] == "before_stage"]
    after = [e[1] for e in log.events if e[0] == "after_stage"]
    assert sorted(before) == sorted(names)
    assert sorted(after) == sorted(names)
    assert log.count("flush", 10) == 1
    flushed_at = log.events.index(("flush", 10))
    assert flushed_at < log.events.index(("after_stage", "batch"))
    assert [sorted(b) for b in sink.items] == [[n * 2 for n in range(10)]]


def test_pipeline_hooks_run_before_stage_hooks(executor_opts: dict[str, Any]) -> None:
    """For a stage, pipeline-wide hooks run before the stage's own hooks."""
    log = _Log()
    pipe = mg.Pipeline("order")
    # Registered first, but stage hooks still run after pipeline-wide hooks.
    pipe.hooks.append(
        "before_stage", lambda stage: log.add("named", stage), stage="work"
    )
    pipe.hooks.append("before_stage", lambda stage: log.add("pipeline", stage))
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(
        mg.Processor(
            "work",
            lambda n: n,
            before=lambda stage: log.add("option", stage),
            **executor_opts,
        )
    )

    pipe.run(timeout=TIMEOUT)

    work = [e[0] for e in log.events if e[1] == "work"]
    assert work[0] == "pipeline"
    assert sorted(work[1:]) == ["named", "option"]
    assert [e for e in log.events if e[1] == "src"] == [("pipeline", "src")]


def test_stage_hooks_from_options_and_named_append(
    executor_opts: dict[str, Any],
) -> None:
    """before=/after= and hooks.append(stage=) hooks run only for their stage."""
    log = _Log()
    pipe = mg.Pipeline("stage-hooks")
    pipe.hooks.append(
        "after_stage", lambda stage: log.add("named_after", stage), stage="b"
    )
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(
        mg.Processor(
            "a",
            lambda n: n,
            before=lambda stage: log.add("a_before", stage),
            after=[lambda stage: log.add("a_after", stage)],
            **executor_opts,
        )
    )
    pipe.add(mg.Processor("b", lambda n: n, **executor_opts))

    pipe.run(timeout=TIMEOUT)

    assert sorted(log.events) == [
        ("a_after", "a"),
        ("a_before", "a"),
        ("named_after", "b"),
    ]
    assert log.events.index(("a_before", "a")) < log.events.index(("a_after", "a"))


def test_on_error_hooks_once_per_failed_item(executor_opts: dict[str, Any]) -> None:
    """on_error hooks fire once per failed item (not per attempt), with filters."""
    log = _Log()

    def fail(n: int) -> int:
        if n in (1, 3):
            raise ValueError(f"value {n}")
        if n == 5:
            raise KeyError(n)
        return n

    def any_error(error: BaseException, item: Any, stage: str) -> None:
        log.add("any", type(error).__name__, item, stage)

    def value_errors(error: BaseException, item: Any, stage: str) -> None:
        log.add("value", type(error).__name__, item, stage)

    pipe = mg.Pipeline("on-error")
    pipe.hooks.append("on_error", any_error)
    pipe.hooks.append("on_error", value_errors, errors=ValueError)
    pipe.add(mg.Producer("src", lambda: range(8)))
    pipe.add(
        mg.Processor(
            "check",
            fail,
            on_error="skip",
            max_retries=2,
            retry_delay=0,
            **executor_opts,
        )
    )
    pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(log.events) == [
        ("any", "KeyError", 5, "check"),
        ("any", "ValueError", 1, "check"),
        ("any", "ValueError", 3, "check"),
        ("value", "ValueError", 1, "check"),
        ("value", "ValueError", 3, "check"),
    ]


def test_on_error_hook_fires_under_raise_policy() -> None:
    """on_error hooks fire even when the policy then fails the run."""
    log = _Log()
    pipe = mg.Pipeline("on-error-raise")
    pipe.hooks.append("on_error", lambda item: log.add("hook", item))
    pipe.add(mg.Producer("src", lambda: [1]))
    pipe.add(mg.Processor("boom", lambda n: 1 / 0, max_retries=0))

    with pytest.raises(mg.PipelineError):
        pipe.run(timeout=TIMEOUT)

    assert log.events == [("hook", 1)]


def test_failing_before_run_hook_fails_the_run(executor_opts: dict[str, Any]) -> None:
    """A before_run hook that raises fails the run with a HookError naming the event."""
    ran: list[int] = []

    def broken() -> None:
        raise RuntimeError("no database")

    pipe = mg.Pipeline("hook-fails")
    pipe.hooks.append("before_run", broken)
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(mg.Processor("work", ran.append, **executor_opts))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    errors = info.value.exceptions
    assert [type(e) for e in errors] == [mg.HookError]
    hook_error = errors[0]
    assert isinstance(hook_error, mg.HookError)
    assert hook_error.event == "before_run"
    assert "before_run" in str(hook_error)
    assert isinstance(hook_error.__cause__, RuntimeError)
    assert ran == []
    assert info.value.report.status == "failed"


def test_failing_after_stage_hook_fails_the_run(executor_opts: dict[str, Any]) -> None:
    """An after_stage hook that raises fails the run with a HookError."""

    def broken() -> None:
        raise RuntimeError("cannot close")

    pipe = mg.Pipeline("after-fails")
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(mg.Processor("work", lambda n: n, after=broken, **executor_opts))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    events = [e.event for e in info.value.exceptions if isinstance(e, mg.HookError)]
    assert events == ["after_stage"]


def test_failing_on_error_hook_is_ignored(executor_opts: dict[str, Any]) -> None:
    """An on_error hook that raises is ignored; the stage's policy still applies."""

    def broken_hook() -> None:
        raise RuntimeError("hook broke")

    def fail_even(n: int) -> int:
        if n % 2 == 0:
            raise ValueError(n)
        return n

    pipe = mg.Pipeline("bad-hook")
    pipe.hooks.append("on_error", broken_hook)
    pipe.add(mg.Producer("src", lambda: range(6)))
    pipe.add(
        mg.Processor(
            "check", fail_even, on_error="skip", max_retries=0, **executor_opts
        )
    )
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [1, 3, 5]
    assert report.stages["check"].items_failed == 3


def test_failing_on_error_hook_keeps_raise_policy(
    executor_opts: dict[str, Any],
) -> None:
    """With a raising on_error hook the raise policy still fails with the StageError."""

    def broken_hook() -> None:
        raise RuntimeError("hook broke")

    pipe = mg.Pipeline("bad-hook-raise")
    pipe.hooks.append("on_error", broken_hook)
    pipe.add(mg.Producer("src", lambda: [1]))
    pipe.add(mg.Processor("boom", lambda n: 1 / 0, max_retries=0, **executor_opts))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    assert [type(e) for e in info.value.exceptions] == [mg.StageError]
