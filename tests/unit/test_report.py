"""Unit tests of RunReport and StageStatistics: serialisation and summary (SPEC §8)."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import minigun as mg

names_st = st.text(
    alphabet=st.characters(categories=["Ll", "Nd"], include_characters="_."),
    min_size=1,
    max_size=12,
)
counts_st = st.integers(min_value=0, max_value=10**12)
seconds_st = st.floats(
    min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False
)


@st.composite
def stage_statistics(draw: st.DrawFn, name: str | None = None) -> mg.StageStatistics:
    """Draw a StageStatistics with every field set."""
    return mg.StageStatistics(
        name=draw(names_st) if name is None else name,
        kind=draw(st.sampled_from(["producer", "processor", "accumulator"])),
        executor=draw(st.sampled_from(["inline", "threads(8)", "processes(2)"])),
        status=draw(st.sampled_from(["pending", "running", "closing", "finished"])),
        items_in=draw(counts_st),
        items_out=draw(counts_st),
        items_failed=draw(counts_st),
        items_retried=draw(counts_st),
        items_dropped=draw(counts_st),
        latency_p50=draw(seconds_st),
        latency_p90=draw(seconds_st),
        latency_p95=draw(seconds_st),
        latency_p99=draw(seconds_st),
        throughput=draw(seconds_st),
        busy_time=draw(seconds_st),
        blocked_time=draw(seconds_st),
        queue_depth=draw(counts_st),
        max_queue_depth=draw(counts_st),
        queue_size=draw(st.none() | counts_st),
        workers=draw(st.integers(min_value=1, max_value=512)),
        utilisation=draw(st.floats(min_value=0, max_value=1)),
    )


@st.composite
def run_reports(draw: st.DrawFn) -> mg.RunReport:
    """Draw a RunReport whose stages are keyed by their names."""
    stage_names = draw(st.lists(names_st, max_size=5, unique=True))
    stages = {name: draw(stage_statistics(name)) for name in stage_names}
    return mg.RunReport(
        pipeline=draw(names_st),
        status=draw(st.sampled_from(["succeeded", "failed", "cancelled"])),
        duration=draw(seconds_st),
        stages=stages,
        total_produced=draw(counts_st),
        total_consumed=draw(counts_st),
        total_failed=draw(counts_st),
        total_dropped=draw(counts_st),
        bottleneck=draw(st.none() | st.sampled_from(stage_names or ["x"])),
        errors=tuple(draw(st.lists(st.text(max_size=40), max_size=3))),
    )


@given(report=run_reports())
def test_to_dict_from_dict_round_trip(report: mg.RunReport) -> None:
    """from_dict(to_dict()) gives back an equal report."""
    assert mg.RunReport.from_dict(report.to_dict()) == report


@given(report=run_reports())
def test_to_json_round_trip(report: mg.RunReport) -> None:
    """A report survives to_json, json.loads and from_dict."""
    assert mg.RunReport.from_dict(json.loads(report.to_json())) == report


@given(report=run_reports())
def test_to_dict_is_json_compatible(report: mg.RunReport) -> None:
    """to_dict() holds only JSON types: dumping and loading it changes nothing."""
    data = report.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data


@given(report=run_reports())
def test_to_dict_keeps_stage_order(report: mg.RunReport) -> None:
    """to_dict() keeps the stages in the report's (topological) order."""
    assert list(report.to_dict()["stages"]) == list(report.stages)


def test_to_json_passes_keyword_arguments_to_json_dumps() -> None:
    """to_json(**kwargs) forwards to json.dumps (e.g. indent)."""
    report = make_report()
    assert report.to_json(indent=2) == json.dumps(report.to_dict(), indent=2)


def test_to_dict_fields() -> None:
    """to_dict() has the report fields SPEC §8 names, with plain values."""
    data = make_report().to_dict()
    picked: dict[str, Any] = {
        k: data[k]
        for k in (
            "status",
            "duration",
            "total_produced",
            "total_consumed",
            "bottleneck",
            "errors",
        )
    }
    assert picked == {
        "status": "succeeded",
        "duration": 2.0,
        "total_produced": 100,
        "total_consumed": 99,
        "bottleneck": "double",
        "errors": ["stage 'save' failed on item 7: KeyError: 'id'"],
    }
    assert data["stages"]["double"]["items_retried"] == 2


def test_statistics_defaults() -> None:
    """A StageStatistics built with only its identity has zero counters."""
    stats = mg.StageStatistics(name="s", kind="processor", executor="inline")
    counters = (
        stats.items_in,
        stats.items_out,
        stats.items_failed,
        stats.items_retried,
        stats.throughput,
        stats.busy_time,
        stats.blocked_time,
        stats.max_queue_depth,
        stats.workers,
    )
    assert counters == (0, 0, 0, 0, 0.0, 0.0, 0.0, 0, 1)


# --------------------------------------------------------------------------
# The summary table


def make_report() -> mg.RunReport:
    """Return a hand-built report of a three-stage run."""
    stats = mg.StageStatistics
    return mg.RunReport(
        pipeline="etl",
        status="succeeded",
        duration=2.0,
        stages={
            "numbers": stats(
                name="numbers",
                kind="producer",
                executor="inline",
                items_out=100,
                throughput=50.0,
                busy_time=0.5,
            ),
            "double": stats(
                name="double",
                kind="processor",
                executor="threads(4)",
                items_in=100,
                items_out=100,
                items_retried=2,
                latency_p50=0.0005,
                latency_p99=0.25,
                throughput=1500.0,
                busy_time=4.0,
                blocked_time=0.8,
                workers=4,
            ),
            "save": stats(
                name="save",
                kind="processor",
                executor="inline",
                items_in=100,
                items_failed=1,
                latency_p50=0.002,
                latency_p99=1.5,
                throughput=2_500_000.0,
                busy_time=1.0,
            ),
        },
        total_produced=100,
        total_consumed=99,
        total_failed=1,
        total_dropped=0,
        bottleneck="double",
        errors=("stage 'save' failed on item 7: KeyError: 'id'",),
    )


def test_summary_golden() -> None:
    """summary() is an aligned table with header, rows, totals and errors."""
    expected = textwrap.dedent(
        """\
        pipeline 'etl' succeeded in 2.000s
        stage    executor     in  out  failed  retried      p50      p99  items/s  busy%  blocked%
        -------  ----------  ---  ---  ------  -------  -------  -------  -------  -----  --------
        numbers  inline        0  100       0        0        -        -       50     25         0
        double   threads(4)  100  100       0        2  500.0us  250.0ms     1.5k     50        10
        save     inline      100    0       1        0    2.0ms    1.50s    2.50M     50         0
        produced 100, consumed 99, failed 1, dropped 0; bottleneck: double
        error: stage 'save' failed on item 7: KeyError: 'id'"""  # noqa: E501
    )
    assert make_report().summary() == expected


def test_summary_of_an_empty_report() -> None:
    """A report without stages has a header, no rows and no bottleneck."""
    report = mg.RunReport(
        pipeline="empty",
        status="cancelled",
        duration=0.0,
        stages={},
        total_produced=0,
        total_consumed=0,
        total_failed=0,
        total_dropped=0,
        bottleneck=None,
    )
    expected = textwrap.dedent(
        """\
        pipeline 'empty' cancelled in 0.000s
        stage  executor  in  out  failed  retried  p50  p99  items/s  busy%  blocked%
        -----  --------  --  ---  ------  -------  ---  ---  -------  -----  --------
        produced 0, consumed 0, failed 0, dropped 0"""
    )
    assert report.summary() == expected
