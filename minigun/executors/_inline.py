"""InlineExecutor: one item at a time, fusable, deterministic (runtime layer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, final

import attrs

from ._base import Executor

if TYPE_CHECKING:
    from .._runtime import StageRunner

__all__ = ("InlineExecutor",)


@final
@attrs.frozen
class InlineExecutor(Executor):
    """Run the stage one item at a time; the default executor.

    The stage is never called concurrently. When it has exactly one upstream
    stage that also runs inline (or is a producer), the runtime runs it in
    that upstream's thread: items pass between them as plain lists, with no
    queue and no thread switch.

    Example:
        >>> import minigun as mg
        >>> mg.Processor("p", abs, executor=mg.InlineExecutor()).options.executor
        InlineExecutor()
    """

    kind: ClassVar[str] = "inline"
    fusable: ClassVar[bool] = True

    def launch(self, runner: StageRunner) -> None:
        """Run one worker loop in a thread of its own (when not fused)."""
        runner.spawn_workers(1)

    def describe(self) -> str:
        """Return ``"inline"``."""
        return "inline"
