"""ThreadExecutor: a pool of threads sharing a stage's queue (runtime layer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, final

import attrs

from ..errors import DefinitionError
from ._base import Executor

if TYPE_CHECKING:
    from .._runtime import StageRunner

__all__ = ("ThreadExecutor",)


def _check_workers(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{attr.name} must be an int >= 1, got {value!r}"
        raise DefinitionError(msg)


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

    _workers: int = attrs.field(default=4, validator=_check_workers, alias="workers")
    kind: ClassVar[str] = "threads"
    concurrent: ClassVar[bool] = True

    @property
    def workers(self) -> int:
        """Number of threads."""
        return self._workers

    def launch(self, runner: StageRunner) -> None:
        """Run *workers* worker loops, each in its own thread."""
        runner.spawn_workers(runner.workers)

    def describe(self) -> str:
        """Return ``"threads(n)"``."""
        return f"threads({self._workers})"
