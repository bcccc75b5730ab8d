"""Deterministic mode: a whole pipeline in the caller's thread (runtime layer).

Every stage runs inline, one unit of work at a time, most-downstream
segment first, so a run always takes the same steps. Queues are unbounded
(nothing can block the only thread). For tests and debugging.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ._queue import Cancelled
from ._runtime import IDLE, WORKED, Runtime, _Segment, _Worker
from .errors import MinigunError

if TYPE_CHECKING:
    from ._graph import Graph
    from ._pipeline import Pipeline
    from ._report import RunReport

__all__ = ("run_deterministic",)


def run_deterministic(
    pipeline: Pipeline, graph: Graph, *, timeout: float | None = None
) -> RunReport:
    """Run *pipeline* to the end in this thread and return its report.

    Raises:
        PipelineError: a stage or hook failed.
        TimeoutError: *timeout* passed.
    """
    rt = Runtime(pipeline, graph, deterministic=True)
    rt.start()
    rt.external_open = False
    deadline = None if timeout is None else time.monotonic() + timeout
    workers = {id(seg): _Worker(0) for seg in rt.segments}
    order = list(reversed(rt.segments))
    try:
        if not rt.cancelled:
            for seg in rt.segments:
                rt._setup(seg, workers[id(seg)])  # noqa: SLF001
            with rt.lock:
                rt._check_closures()  # noqa: SLF001
            _loop(rt, order, workers, deadline)
    except Cancelled:
        pass
    finally:
        for seg in rt.segments:
            rt._teardown(workers[id(seg)])  # noqa: SLF001
        rt._finalize()  # noqa: SLF001
    return rt.result()


def _loop(
    rt: Runtime,
    order: list[_Segment],
    workers: dict[int, _Worker],
    deadline: float | None,
) -> None:
    while True:
        if deadline is not None and time.monotonic() > deadline:
            rt.cancel()
            msg = f"pipeline {rt.pipeline.name!r} did not finish within the timeout"
            raise TimeoutError(msg)
        progressed = False
        all_done = True
        for seg in order:
            res = rt.step(seg, workers[id(seg)], block=False)
            if res == WORKED:
                progressed = True
                all_done = False
                break
            if res == IDLE:
                all_done = False
        if all_done:
            return
        if progressed:
            continue
        waits = [
            t
            for seg in order
            if (t := rt._next_timer(seg, workers[id(seg)])) is not None  # noqa: SLF001
        ]
        if not waits:
            stuck = [r.name for r in rt.runners if not r.finished]
            msg = f"deterministic run stalled; unfinished stages: {stuck!r}"
            raise MinigunError(msg)
        time.sleep(min(waits))
