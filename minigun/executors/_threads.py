"""ThreadExecutor: a pool of threads sharing a stage's queue (runtime layer)."""

from __future__ import annotations

from typing import ClassVar, final

import attrs

from ._base import Executor, check_workers

__all__ = ("ThreadExecutor",)


@final
@attrs.frozen
class ThreadExecutor(Executor):
    """Run the stage on *workers* threads that share its input queue.

    Each thread takes items from the queue and runs the stage function, so
    up to *workers* items are handled at the same time (I/O-bound work).
    Output order is completion order unless the stage has ``ordered=True``.
    ``setup()``/``teardown()`` run once per thread, on the same stage object.

    Args:
        workers: number of threads (``threads=n`` on a stage is the shortcut).

    Example:
        >>> import minigun as mg
        >>> mg.ThreadExecutor(8).workers
        8
    """

    _workers: int = attrs.field(default=4, validator=check_workers, alias="workers")
    kind: ClassVar[str] = "threads"
    concurrent: ClassVar[bool] = True

    @property
    def workers(self) -> int:
        """Number of threads."""
        return self._workers
