"""Unit tests of the dashboard's pure rendering (SPEC §8, STYLE.md §9 golden output)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

import minigun as mg
from minigun.dashboard import _tree, render, render_text, status_line

CAPTURE = Path(__file__).with_name("dashboard_capture.txt")


def stage(name: str, **kwargs: Any) -> mg.StageStatistics:
    """A finished inline processor's statistics, with *kwargs* overriding fields."""
    fields: dict[str, Any] = {
        "kind": "processor",
        "executor": "inline",
        "status": "finished",
    }
    fields.update(kwargs)
    return mg.StageStatistics(name=name, **fields)


def etl_stages() -> list[mg.StageStatistics]:
    """A producer, a thread pool at 50 % queue fill, a nested pipeline, a sink."""
    return [
        stage(
            "numbers",
            kind="producer",
            executor="producer",
            items_out=1000,
            throughput=500.0,
            busy_time=0.1,
            blocked_time=1.5,
            total=1000,
        ),
        stage(
            "parse",
            executor="threads(8)",
            items_in=1000,
            items_out=990,
            items_failed=10,
            items_retried=4,
            latency_p50=0.0021,
            latency_p99=0.0153,
            throughput=500.0,
            busy_time=15.2,
            queue_depth=50,
            max_queue_depth=100,
            queue_size=100,
            workers=8,
            utilisation=0.95,
        ),
        stage(
            "clean.strip",
            items_in=990,
            items_out=990,
            latency_p50=2e-7,
            latency_p99=9e-7,
            throughput=495.0,
            busy_time=0.01,
            queue_size=100,
            utilisation=0.005,
        ),
        stage(
            "clean.enrich",
            executor="threads(4)",
            items_in=990,
            items_out=980,
            latency_p50=0.0011,
            latency_p99=0.0019,
            throughput=495.0,
            busy_time=1.1,
            queue_depth=3,
            queue_size=100,
            workers=4,
            utilisation=0.1375,
        ),
        stage(
            "save",
            items_in=980,
            latency_p50=3.1e-5,
            latency_p99=8e-5,
            throughput=490.0,
            busy_time=0.05,
            queue_size=100,
            utilisation=0.025,
        ),
    ]


def make_report(
    stages: list[mg.StageStatistics] | None = None, **kwargs: Any
) -> mg.RunReport:
    """A failed two-second run of `etl_stages`, with *kwargs* overriding fields."""
    items = etl_stages() if stages is None else stages
    fields: dict[str, Any] = {
        "pipeline": "etl",
        "status": "failed",
        "duration": 2.0,
        "stages": {s.name: s for s in items},
        "total_produced": 1000,
        "total_consumed": 980,
        "total_failed": 10,
        "total_dropped": 0,
        "bottleneck": "parse",
        "errors": ("stage 'parse' failed on item 7: ValueError: bad record 7",),
    }
    fields.update(kwargs)
    return mg.RunReport(**fields)


def rows(text: str) -> dict[str, str]:
    """The table rows of a rendered dashboard by their stage cell (first word)."""
    out = {}
    for line in text.splitlines()[3:]:
        words = line.split()
        if len(words) > 1 and line[0] != " ":
            out[words[1]] = line
    return out


def test_render_text_golden_width_100() -> None:
    """A finished report renders to the expected text at width 100."""
    expected = textwrap.dedent(
        """\
        minigun ▸ etl  ✘ failed  2.0s  │  produced 1,000  consumed 980  failed 10  500 items/s
          stage    executor      in   out failed retried items/s    p50    p99 queue           busy blocked
        ───────────────────────────────────────────────────────────────────────────────────────────────────
        ✔ numbers  producer       - 1,000      0       0     500      -      - -                 5%     75%
        ✘ parse ◀  threads(8) 1,000   990     10       4     500  2.1ms 15.3ms ████░░░░ 50/100  95%      0%
        ✔ clean/   pipeline
        ✔   strip  inline       990   990      0       0     495  0.2us  0.9us ░░░░░░░░ 0/100    0%      0%
        ✔   enrich threads(4)   990   980      0       0     495  1.1ms  1.9ms █░░░░░░░ 3/100   14%      0%
        ✔ save     inline       980     0      0       0     490 31.0us 80.0us ░░░░░░░░ 0/100    2%      0%
        ◀ bottleneck parse: busy 95% of the time on 8 workers
        errors (1)
          ✘ stage 'parse' failed on item 7: ValueError: bad record 7
        """  # noqa: E501 - a golden dashboard is 100 columns wide
    )

    assert render_text(make_report(), width=100) == expected


def test_render_text_golden_running_narrow() -> None:
    """Below 90 columns the header splits and retried, p50 and blocked go."""
    report = make_report(status="running", errors=())
    expected = textwrap.dedent(
        """\
        minigun ▸ etl  ⠦ running  2.0s
        produced 1,000/1,000 100%  consumed 980  failed 10  500 items/s
          stage    executor      in   out failed items/s    p99 queue         busy
        ──────────────────────────────────────────────────────────────────────────
        ✔ numbers  producer       - 1,000      0     500      - -               5%
        ✘ parse ◀  threads(8) 1,000   990     10     500 15.3ms ███░░░ 50/100  95%
        ✔ clean/   pipeline
        ✔   strip  inline       990   990      0     495  0.9us ░░░░░░ 0/100    0%
        ✔   enrich threads(4)   990   980      0     495  1.9ms █░░░░░ 3/100   14%
        ✔ save     inline       980     0      0     490 80.0us ░░░░░░ 0/100    2%
        ◀ bottleneck parse: busy 95% of the time on 8 workers
        """
    )

    assert render_text(report, width=80) == expected


def test_render_groups_nested_pipeline_stages_under_a_heading() -> None:
    """Stages named inner.x are indented under one 'inner/' pipeline heading."""
    text = render_text(make_report(), width=100)
    lines = text.splitlines()
    heading = next(i for i, line in enumerate(lines) if "clean/" in line)

    assert lines[heading].split()[1:] == ["clean/", "pipeline"]
    assert lines[heading + 1].startswith("✔   strip ")
    assert lines[heading + 2].startswith("✔   enrich ")
    assert "clean.strip" not in text


def test_render_groups_interleaved_nested_stages_together() -> None:
    """A group keeps the place of its first stage even if the order interleaves."""
    stages = [
        stage("src", kind="producer", executor="producer"),
        stage("a.x"),
        stage("b.y"),
        stage("a.z"),
        stage("a.deep.w"),
        stage("sink"),
    ]
    text = render_text(make_report(stages, bottleneck=None, errors=()))

    names = [line.split()[1] for line in text.splitlines()[3:]]
    assert names == ["src", "a/", "x", "z", "deep/", "w", "b/", "y", "sink"]


def test_tree_rows_carry_depth_and_headings() -> None:
    """_tree yields (depth, heading, name) rows with pipeline headings first."""
    assert _tree(["p", "g.a", "g.h.b", "q"]) == [
        (0, None, "p"),
        (0, "g", ""),
        (1, None, "g.a"),
        (1, "g.h", ""),
        (2, None, "g.h.b"),
        (0, None, "q"),
    ]


def test_render_marks_the_bottleneck() -> None:
    """The bottleneck's row carries ◀ and the footer names it; no other row does."""
    table = rows(render_text(make_report(bottleneck="clean.enrich"), width=100))

    assert "enrich ◀" in table["enrich"]
    assert "◀" not in table["parse"]
    assert "◀ bottleneck clean.enrich: busy 14% of the time on 4 workers" in (
        render_text(make_report(bottleneck="clean.enrich"), width=100)
    )


def test_render_without_bottleneck_has_no_marker() -> None:
    """A report with no busy stage shows no bottleneck line."""
    text = render_text(make_report(bottleneck=None), width=100)

    assert "◀" not in text
    assert "bottleneck" not in text


def test_queue_bar_half_full() -> None:
    """A queue at 50 % of its size fills half the bar."""
    s = stage("work", items_in=5, queue_depth=500, queue_size=1000)
    report = make_report([s], bottleneck=None, errors=())

    assert "████░░░░ 500/1,000" in render_text(report, width=100)
    assert "█████░░░░░ 500/1,000" in render_text(report, width=120)


def test_queue_bar_shows_a_non_empty_queue() -> None:
    """One waiting item in a big queue still lights one cell."""
    s = stage("work", queue_depth=1, queue_size=10_000)
    text = render_text(make_report([s], bottleneck=None, errors=()))

    assert "█░░░░░░░ 1/10,000" in text


def test_queue_cell_for_producers_and_unbounded_queues() -> None:
    """Producers have no queue ('-'); an unbounded queue shows depth/∞."""
    stages = [
        stage("src", kind="producer", executor="producer"),
        stage("sink", queue_depth=7, queue_size=None),
    ]
    table = rows(render_text(make_report(stages, bottleneck=None, errors=())))

    assert table["src"].split()[10] == "-"  # glyph, name, 8 columns, queue
    assert "7/∞" in table["sink"]


def test_render_counts_use_thousands_separators() -> None:
    """Counts read 1,234,567 and switch to millions from ten million."""
    stages = [
        stage("src", kind="producer", items_out=1_234_567),
        stage("sink", items_in=12_345_678),
    ]
    table = rows(render_text(make_report(stages, bottleneck=None, errors=())))

    assert "1,234,567" in table["src"]
    assert "12.3M" in table["sink"]


def test_render_stage_status_glyphs() -> None:
    """Pending, running, closing and finished stages get their own glyphs."""
    stages = [
        stage("a", status="pending"),
        stage("b", status="running"),
        stage("c", status="closing"),
        stage("d", status="finished"),
        stage("e", status="finished", items_failed=1),
    ]
    text = render_text(
        make_report(stages, status="running", duration=0.0, bottleneck=None, errors=())
    )

    glyphs = {line.split()[1]: line.split()[0] for line in text.splitlines()[3:]}
    assert glyphs == {"a": "○", "b": "⠋", "c": "◐", "d": "✔", "e": "✘"}


def test_render_shows_workers_missing_from_the_executor_name() -> None:
    """A multi-worker stage whose executor text lacks the count gets the count."""
    stages = [stage("work", executor="custom", workers=3)]
    text = render_text(make_report(stages, bottleneck=None, errors=()))

    assert "custom×3" in text  # noqa: RUF001 - the times sign is the point


def test_render_uses_previous_snapshot_for_live_rates() -> None:
    """With a previous snapshot, a running report shows the rate between them."""
    before = make_report(
        [stage("src", kind="producer", items_out=100, throughput=100.0)],
        status="running",
        duration=1.0,
        total_produced=100,
    )
    now = make_report(
        [stage("src", kind="producer", items_out=400, throughput=200.0)],
        status="running",
        duration=2.0,
        total_produced=400,
    )

    live = render_text(now, previous=before)
    average = render_text(now)

    assert rows(live)["src"].split()[7] == "300"  # the items/s column
    assert "300 items/s" in live.splitlines()[0]
    assert rows(average)["src"].split()[7] == "200"
    assert "200 items/s" in average.splitlines()[0]


def test_render_ignores_previous_for_a_final_report() -> None:
    """A final report always shows run averages."""
    before = make_report(duration=1.0, total_produced=0, status="running")

    assert render_text(make_report(), previous=before) == render_text(make_report())


def test_render_lists_at_most_five_errors() -> None:
    """Errors show their first line; past five, the rest are counted."""
    errors = tuple(f"error {i}\ntraceback line" for i in range(7))
    text = render_text(make_report(errors=errors))

    assert "errors (7)" in text
    assert "  ✘ error 4" in text
    assert "error 5" not in text
    assert "traceback line" not in text
    assert "  … and 2 more" in text


def test_render_shows_expected_total_while_running() -> None:
    """A running report with known producer totals shows produced/total and %."""
    text = render_text(make_report(status="running", total_produced=250))

    assert "produced 250/1,000 25%" in text.splitlines()[0]


def test_render_returns_a_renderable() -> None:
    """render() returns a rich renderable that a console can print."""
    group = render(make_report())

    assert len(group.renderables) == 4  # header, table, bottleneck, errors


def test_status_line_running_and_final() -> None:
    """status_line() gives the one-line form used without a terminal."""
    running = make_report(status="running", duration=12.34, errors=())

    assert status_line(running) == (
        "[minigun] etl running 12.3s produced 1000 consumed 980 failed 10"
        " bottleneck parse"
    )
    assert status_line(make_report()) == (
        "[minigun] etl failed in 2.00s produced 1000 consumed 980 failed 10"
        " dropped 0 (500 items/s) bottleneck parse errors 1"
    )


def test_render_empty_report() -> None:
    """A report without stages still renders its header."""
    report = make_report(
        [],
        status="running",
        duration=0.0,
        total_produced=0,
        total_consumed=0,
        total_failed=0,
        bottleneck=None,
        errors=(),
    )

    assert render_text(report).startswith("minigun ▸ etl  ⠋ running  0.0s")


_names = st.lists(
    st.text(alphabet="abcxyz_.", min_size=1, max_size=30).filter(
        lambda n: not n.startswith(".") and not n.endswith(".") and ".." not in n
    ),
    min_size=0,
    max_size=8,
    unique=True,
)
_counts = st.integers(min_value=0, max_value=10**12)


@given(
    names=_names,
    counts=st.lists(_counts, min_size=8, max_size=8),
    width=st.integers(min_value=60, max_value=200),
    status=st.sampled_from(["running", "succeeded", "failed", "cancelled"]),
    errors=st.lists(st.text(max_size=300), max_size=8),
)
def test_render_text_fits_the_width(
    names: list[str],
    counts: list[int],
    width: int,
    status: str,
    errors: list[str],
) -> None:
    """Whatever the report, no rendered line is wider than the console."""
    stages = [
        stage(
            n,
            kind="producer" if i == 0 else "processor",
            items_in=counts[0],
            items_out=counts[1],
            items_failed=counts[2],
            items_retried=counts[3],
            queue_depth=counts[4],
            queue_size=counts[5] or None,
            busy_time=float(counts[6]),
            workers=1 + counts[7] % 64,
            latency_p99=counts[6] / 1e3,
            throughput=float(counts[7]),
        )
        for i, n in enumerate(names)
    ]
    report = make_report(
        stages,
        status=status,
        duration=1.0 + counts[0] % 10**6,
        total_produced=counts[1],
        total_consumed=counts[2],
        total_failed=counts[3],
        total_dropped=counts[4],
        bottleneck=names[-1] if names else None,
        errors=tuple(errors),
    )

    text = render_text(report, width=width)

    assert max(cell_len(line) for line in text.splitlines()) <= width


def test_capture_fixture_shows_the_dashboard() -> None:
    """A real-terminal capture (tmux) of `run(hud=True)` shows every heading."""
    text = CAPTURE.read_text(encoding="utf-8")
    lines = text.splitlines()

    assert lines[0].startswith("minigun ▸ etl")
    assert " running " in lines[0]
    assert "produced" in lines[0]
    assert "consumed" in lines[0]
    header = lines[1].split()
    assert header == [
        "stage",
        "executor",
        "in",
        "out",
        "failed",
        "retried",
        "items/s",
        "p50",
        "p99",
        "queue",
        "busy",
        "blocked",
    ]
    assert "clean/" in text
    assert "◀ bottleneck parse" in text
    assert "q stop (drain)" in text
    assert "█" in text  # a queue bar with items waiting
