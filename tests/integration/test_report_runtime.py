"""RunReport end to end: totals, per-stage counters, bottleneck, JSON (SPEC §8)."""

from __future__ import annotations

import json
import time
from typing import Any

import minigun as mg
from minigun.testing import ListSink

TIMEOUT = 10.0


def test_totals_and_per_stage_counters(executor_opts: dict[str, Any]) -> None:
    """total_produced, total_consumed and items_in/out match what flowed."""
    pipe = mg.Pipeline("counts")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(
        mg.Processor("evens", lambda n: n if n % 2 == 0 else None, **executor_opts)
    )
    pipe.add(mg.Processor("fanout", lambda n: [n, n], **executor_opts))
    pipe.add(mg.Debatch("flat", **executor_opts))
    pipe.add(ListSink("sink", **executor_opts))

    report = pipe.run(timeout=TIMEOUT)

    counts = {name: (s.items_in, s.items_out) for name, s in report.stages.items()}
    assert counts == {
        "src": (0, 10),
        "evens": (10, 5),
        "fanout": (5, 5),
        "flat": (5, 10),
        "sink": (10, 0),
    }
    assert (report.total_produced, report.total_consumed) == (10, 10)
    assert report.total_dropped == 5  # the filter's None returns
    assert report.status == "succeeded"
    assert list(report.stages) == ["src", "evens", "fanout", "flat", "sink"]


def test_total_consumed_counts_every_terminal_stage(
    executor_opts: dict[str, Any],
) -> None:
    """total_consumed adds the items taken by every terminal stage."""
    pipe = mg.Pipeline("terminals")
    pipe.add(mg.Producer("src", lambda: range(10), to=["a", "b"]))
    pipe.add(ListSink("a", to=(), **executor_opts))
    pipe.add(ListSink("b", to=(), **executor_opts))

    report = pipe.run(timeout=TIMEOUT)

    assert (report.total_produced, report.total_consumed) == (10, 20)


def test_failures_are_counted(executor_opts: dict[str, Any]) -> None:
    """10 items with 2 skipped failures: items_failed=2 and total_failed=2."""

    def fail_two(n: int) -> int:
        if n in (3, 7):
            raise ValueError(n)
        return n

    pipe = mg.Pipeline("failures")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(
        mg.Processor("check", fail_two, on_error="skip", max_retries=0, **executor_opts)
    )
    pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    check = report.stages["check"]
    assert (check.items_in, check.items_out, check.items_failed) == (10, 8, 2)
    assert report.total_failed == 2
    # Every item is accounted for: produced = consumed + failed + dropped.
    assert (report.total_produced, report.total_consumed) == (10, 8)
    assert report.total_dropped == 0


def test_bottleneck_is_the_slowest_stage(executor_opts: dict[str, Any]) -> None:
    """The bottleneck names the stage that spent the most time working."""

    def slow(n: int) -> int:
        time.sleep(0.01)
        return n

    pipe = mg.Pipeline("bottleneck")
    pipe.add(mg.Producer("src", lambda: range(20)))
    pipe.add(mg.Processor("fast", lambda n: n + 1, **executor_opts))
    pipe.add(mg.Processor("slow", slow, **executor_opts))
    pipe.add(mg.Processor("after", lambda n: n, **executor_opts))

    report = pipe.run(timeout=TIMEOUT)

    assert report.bottleneck == "slow"


def test_throughput_and_duration(executor_opts: dict[str, Any]) -> None:
    """Every stage that handled items reports throughput > 0; duration > 0."""
    pipe = mg.Pipeline("rates")
    pipe.add(mg.Producer("src", lambda: range(50)))
    pipe.add(mg.Processor("work", lambda n: n, **executor_opts))
    pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.duration > 0
    assert {name: s.throughput > 0 for name, s in report.stages.items()} == {
        "src": True,
        "work": True,
        "sink": True,
    }


def test_workers_in_report(executor_opts: dict[str, Any]) -> None:
    """StageStatistics.workers is the stage's worker count (3 on threads=3)."""
    pipe = mg.Pipeline("workers")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("work", lambda n: n, **executor_opts))
    pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.stages["work"].workers == executor_opts.get("threads", 1)


def test_report_to_json_parses(executor_opts: dict[str, Any]) -> None:
    """to_json() gives JSON holding the status, totals and every stage."""
    pipe = mg.Pipeline("json")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("work", lambda n: n, **executor_opts))
    pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)
    data = json.loads(report.to_json())

    assert data["status"] == "succeeded"
    assert data["total_produced"] == 10
    assert sorted(data["stages"]) == ["sink", "src", "work"]
    assert data["stages"]["work"]["items_in"] == 10
    assert mg.RunReport.from_dict(data) == report


def test_failed_run_report_is_attached(executor_opts: dict[str, Any]) -> None:
    """PipelineError.report is a final report with status failed and the error text."""
    pipe = mg.Pipeline("failed")
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(mg.Processor("boom", lambda n: 1 / 0, max_retries=0, **executor_opts))

    try:
        pipe.run(timeout=TIMEOUT)
    except mg.PipelineError as exc:
        report = exc.report
    else:  # pragma: no cover - the run must fail
        raise AssertionError("run() did not raise")

    assert report.status == "failed"
    assert len(report.errors) == 1
    assert "boom" in report.errors[0]
