"""Scoped worker limits (SPEC §4): max_threads / max_processes bound sums."""

from __future__ import annotations

import minigun as mg
from minigun.testing import ListSink, capture_logs

TIMEOUT = 20.0


def _pipe(name: str = "limits", **config: int) -> mg.Pipeline:
    pipe = mg.Pipeline(name, config=mg.Config.from_dict(config))
    pipe.add(mg.Producer("src", lambda: range(50)))
    return pipe


def test_max_threads_bounds_the_sum_and_keeps_one_each() -> None:
    """max_threads caps the total; each stage keeps one; the rest by request."""
    pipe = _pipe(max_threads=5)
    pipe.add(mg.Processor("a", abs, threads=8))
    pipe.add(mg.Processor("b", abs, threads=4))
    pipe.add(mg.Processor("c", abs, threads=1))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    workers = {n: report.stages[n].workers for n in ("a", "b", "c")}
    assert sum(workers.values()) == 5
    assert min(workers.values()) >= 1
    assert workers["a"] >= workers["b"] >= workers["c"]
    assert sorted(sink.items) == list(range(50))


def test_every_stage_keeps_one_worker_below_the_limit() -> None:
    """With fewer threads than stages, each stage still gets one worker."""
    pipe = _pipe(max_threads=1)
    for name in ("a", "b", "c"):
        pipe.add(mg.Processor(name, abs, threads=3))
    pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert [report.stages[n].workers for n in ("a", "b", "c")] == [1, 1, 1]


def test_a_cut_stage_logs_exactly_one_warning() -> None:
    """One warning per cut stage, naming the stage, its value and the limit."""
    pipe = _pipe(max_threads=3)
    pipe.add(mg.Processor("wide", abs, threads=10))
    pipe.add(mg.Processor("narrow", abs, threads=1))
    pipe.add(ListSink("sink"))

    with capture_logs("WARNING") as records:
        pipe.run(timeout=TIMEOUT)

    warnings = [r["message"] for r in records if r["level"] == "WARNING"]
    assert warnings == [
        (
            "stage wide asked for 10 threads workers; the pipeline's "
            "max_threads=3 gives it 2"
        )
    ]


def test_a_nested_pipeline_limit_bounds_its_own_stages() -> None:
    """A nested pipeline's max_threads bounds its subtree; the root's is global."""
    pipe = _pipe(max_threads=10)
    inner = mg.Pipeline("inner", max_threads=2)
    inner.add(mg.Processor("x", abs, threads=4))
    inner.add(mg.Processor("y", abs, threads=4))
    pipe.add(inner)
    pipe.add(mg.Processor("outer", abs, threads=8))
    pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.stages["inner.x"].workers + report.stages["inner.y"].workers == 2
    pools = [s for n, s in report.stages.items() if n not in {"src", "sink"}]
    assert sum(s.workers for s in pools) <= 10


def test_max_processes_bounds_process_workers() -> None:
    """max_processes caps forked workers across process stages."""
    pipe = _pipe(max_processes=2)
    pipe.add(mg.Processor("p1", abs, processes=3))
    pipe.add(mg.Processor("p2", abs, processes=3))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.stages["p1"].workers == 1
    assert report.stages["p2"].workers == 1
    assert sorted(sink.items) == list(range(50))


def test_inline_stages_do_not_count() -> None:
    """An inline stage's own thread does not count against max_threads."""
    pipe = _pipe(max_threads=2)
    pipe.add(mg.Processor("inline", abs))
    pipe.add(mg.Processor("pool", abs, threads=2))
    pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.stages["pool"].workers == 2
