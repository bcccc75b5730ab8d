"""Helpers to test stages and pipelines (runtime layer).

``run_stage`` runs one stage on a list of items, with no queue or thread;
``ListSink`` collects what reaches it; ``FakeClock`` is a hand-driven clock
for accumulators' ``max_wait``; ``run_inline`` runs a pipeline in the
deterministic mode; ``capture_logs`` collects minigun's log records.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from loguru import logger

from ._stage import Accumulator as _Accumulator
from ._stage import Processor as _Processor
from ._stage import Producer as _Producer
from ._stage import Stage as _Stage
from .errors import DefinitionError as _DefinitionError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from ._pipeline import Pipeline
    from ._report import RunReport

__all__ = (
    "FakeClock",
    "ListSink",
    "ListSource",
    "capture_logs",
    "run_inline",
    "run_stage",
)


def run_stage(stage: _Stage[Any, Any], items: Iterable[Any] = ()) -> list[Any]:
    """Run *stage* alone: ``setup()``, every item, the final flush, ``teardown()``.

    Returns what the stage emitted, in order; items routed with `To` appear
    as `To` objects. Exceptions propagate unchanged (no retries).

    Example:
        >>> import minigun as mg
        >>> run_stage(mg.Processor("inc", lambda n: n + 1), [1, 2])
        [2, 3]
    """
    stage.setup()
    try:
        if isinstance(stage, _Producer):
            return list(stage.iterate())
        if not isinstance(stage, _Processor):
            msg = f"run_stage() runs producers, processors, accumulators; not {stage!r}"
            raise _DefinitionError(msg)
        out: list[Any] = []
        kernel = stage.kernel(out, out)
        if isinstance(stage, _Accumulator):
            for item in items:
                batch = kernel.admit(item)
                if batch is not None:
                    kernel.run(batch)
            for batch in kernel.drain():
                kernel.run(batch)
        else:
            for item in items:
                kernel.run(item)
        return out
    finally:
        stage.teardown()


class ListSource(_Producer[Any]):
    """A producer that yields the items of a list.

    Example:
        >>> ListSource("src", [1, 2]).name
        'src'
    """

    def __init__(self, name: str, items: Iterable[Any], **options: Any) -> None:
        """Create a producer named *name* yielding *items*."""
        self._items = list(items)
        super().__init__(name, None, **options)

    def produce(self) -> Iterator[Any]:
        """Yield every item of the list."""
        yield from self._items


class ListSink(_Processor[Any, Any]):
    """A consumer that records every item it receives (thread-safe).

    Example:
        >>> sink = ListSink("sink")
        >>> sink.items
        []
    """

    def __init__(self, name: str = "sink", **options: Any) -> None:
        """Create a sink named *name*."""
        self.items: list[Any] = []
        self._lock = threading.Lock()
        super().__init__(name, None, **options)

    def process(self, item: Any) -> None:
        """Record *item*."""
        with self._lock:
            self.items.append(item)


class FakeClock:
    """A clock that moves only when told to (for ``Accumulator(clock=...)``).

    Example:
        >>> clock = FakeClock()
        >>> clock.advance(2.5)
        >>> clock()
        2.5
    """

    def __init__(self, start: float = 0.0) -> None:
        """Start at *start* seconds."""
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """Return the current time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by *seconds*."""
        with self._lock:
            self._now += seconds


def run_inline(pipeline: Pipeline, *, timeout: float | None = None) -> RunReport:
    """Run *pipeline* deterministically in the calling thread (see `Pipeline.run`)."""
    return pipeline.run(deterministic=True, timeout=timeout)


def _minigun_records(record: Any) -> bool:
    """Minigun's own records, and records forwarded from its worker processes."""
    name = record["name"] or ""
    return (
        name == "minigun"
        or name.startswith("minigun.")
        or ("child_pid" in record["extra"])
    )


@contextlib.contextmanager
def capture_logs(level: str = "DEBUG") -> Iterator[list[dict[str, Any]]]:
    """Collect minigun's log records while the block runs.

    Records that forked workers forwarded to this process (they carry
    ``child_pid`` in ``extra``) are collected too, whichever module logged them.

    Yields a list that fills with one dict per record (``level``,
    ``message``, ``extra``).
    """
    records: list[dict[str, Any]] = []

    def sink(message: Any) -> None:
        rec = message.record
        records.append(
            {
                "level": rec["level"].name,
                "message": rec["message"],
                "extra": dict(rec["extra"]),
            }
        )

    logger.enable("minigun")
    handler = logger.add(sink, level=level, filter=_minigun_records)
    try:
        yield records
    finally:
        logger.remove(handler)
        logger.disable("minigun")
