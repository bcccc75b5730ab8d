"""Frozen results of a run: `RunReport` and `StageStatistics` (runtime layer)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, final

import attrs

from ._serde import converter

__all__ = ("RunReport", "StageStatistics")

RunStatus = Literal["succeeded", "failed", "cancelled", "running"]


@final
@attrs.frozen(kw_only=True)
class StageStatistics:
    """What one stage did during a run (a snapshot).

    Latency percentiles are seconds per item. Each sample is the mean time
    per item of one micro-batch, so with one-at-a-time hand-offs (thread
    pools, slow stages) they are exact per-item figures.
    """

    name: str
    """Qualified stage name."""
    kind: str
    """``producer``, ``processor`` or ``accumulator``."""
    executor: str
    """Short description of the executor (``inline``, ``threads(8)``)."""
    status: str = "pending"
    """``pending``, ``running``, ``closing``, ``finished``."""
    items_in: int = 0
    """Items taken from the input queue (for producers: 0)."""
    items_out: int = 0
    """Items emitted (including routed `To` items)."""
    items_failed: int = 0
    """Items (or batches) whose retries were exhausted."""
    items_retried: int = 0
    """Retry attempts (an item retried twice counts 2)."""
    items_dropped: int = 0
    """Items handled without error that emitted nothing (filters)."""
    latency_p50: float = 0.0
    latency_p90: float = 0.0
    latency_p95: float = 0.0
    latency_p99: float = 0.0
    throughput: float = 0.0
    """Items handled per second of the run (producers: items emitted)."""
    busy_time: float = 0.0
    """Seconds spent in the stage's function, summed over workers."""
    blocked_time: float = 0.0
    """Seconds spent waiting on full downstream queues (back-pressure)."""
    queue_depth: int = 0
    """Items in the input queue when the snapshot was taken."""
    max_queue_depth: int = 0
    """Most items ever waiting in the input queue."""
    queue_size: int | None = None
    """Capacity of the input queue (``None``: unbounded or no queue)."""
    total: int | None = None
    """Producers: items they will emit, when known (``total=`` or ``len()``)."""
    items_routed: int = 0
    """Items emitted with `To` (included in ``items_out``)."""
    terminal: bool = False
    """The stage has no downstream stage (its outputs leave the pipeline)."""
    downstream: tuple[str, ...] = ()
    """Qualified names of the stages it sends to (static edges)."""
    workers: int = 1
    """Workers that ran the stage."""
    utilisation: float = 0.0
    """``busy_time / (workers * duration)``."""


@final
@attrs.frozen(kw_only=True)
class RunReport:
    """The result of a run (returned by ``run()``, attached to `PipelineError`)."""

    pipeline: str
    status: RunStatus
    duration: float
    """Seconds from start to end."""
    stages: Mapping[str, StageStatistics]
    """Statistics by qualified stage name, in topological order."""
    total_produced: int
    """Items emitted by producers."""
    total_consumed: int
    """Items taken by terminal stages (stages without downstream edges)."""
    total_failed: int
    """Items that failed in any stage."""
    total_dropped: int
    """Items that stages handled without emitting anything."""
    bottleneck: str | None
    """The stage with the highest utilisation, if any stage was busy."""
    errors: tuple[str, ...] = ()
    """One line per error that failed the run."""

    def summary(self) -> str:
        """Return an aligned text table of the run."""
        headers = (
            "stage",
            "executor",
            "in",
            "out",
            "failed",
            "retried",
            "p50",
            "p99",
            "items/s",
            "busy%",
            "blocked%",
        )
        rows = []
        for s in self.stages.values():
            denom = max(self.duration * max(s.workers, 1), 1e-9)
            rows.append(
                (
                    s.name,
                    s.executor,
                    str(s.items_in),
                    str(s.items_out),
                    str(s.items_failed),
                    str(s.items_retried),
                    _fmt_time(s.latency_p50),
                    _fmt_time(s.latency_p99),
                    _fmt_rate(s.throughput),
                    f"{100 * s.busy_time / denom:.0f}",
                    f"{100 * s.blocked_time / denom:.0f}",
                )
            )
        widths = [len(h) for h in headers]
        for row in rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

        def line(cells: tuple[str, ...]) -> str:
            parts = [
                c.ljust(w) if k < 2 else c.rjust(w)
                for k, (c, w) in enumerate(zip(cells, widths, strict=True))
            ]
            return "  ".join(parts).rstrip()

        out = [
            f"pipeline {self.pipeline!r} {self.status} in {self.duration:.3f}s",
            line(headers),
            line(tuple("-" * w for w in widths)),
        ]
        out.extend(line(r) for r in rows)
        out.append(
            f"produced {self.total_produced}, consumed {self.total_consumed}, "
            f"failed {self.total_failed}, dropped {self.total_dropped}"
            + (f"; bottleneck: {self.bottleneck}" if self.bottleneck else "")
        )
        out.extend(f"error: {e}" for e in self.errors)
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-compatible values."""
        data: dict[str, Any] = converter.unstructure(self)
        data["stages"] = {k: converter.unstructure(v) for k, v in self.stages.items()}
        return data

    def to_json(self, **kwargs: Any) -> str:
        """Return the report as JSON text (*kwargs* go to `json.dumps`)."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunReport:
        """Rebuild a report from `to_dict` output."""
        stages = {
            k: converter.structure(v, StageStatistics)
            for k, v in data["stages"].items()
        }
        rest = {k: v for k, v in data.items() if k != "stages"}
        rest["errors"] = tuple(rest.get("errors", ()))
        return cls(stages=stages, **rest)


def _fmt_time(seconds: float) -> str:
    if seconds <= 0:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f}us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f}ms"
    return f"{seconds:.2f}s"


def _fmt_rate(rate: float) -> str:
    if rate <= 0:
        return "-"
    if rate >= 1e6:
        return f"{rate / 1e6:.2f}M"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f}k"
    return f"{rate:.0f}"
