"""Executors: where a stage's function runs (runtime layer).

All executors are re-exported from `minigun`.
"""

from ._asyncio import AsyncExecutor as AsyncExecutor
from ._base import Executor as Executor
from ._distributed import RayExecutor as RayExecutor
from ._inline import InlineExecutor as InlineExecutor
from ._interpreters import InterpreterExecutor as InterpreterExecutor
from ._interpreters import SpawnInterpreterExecutor as SpawnInterpreterExecutor
from ._processes import ProcessExecutor as ProcessExecutor
from ._processes import SpawnForkExecutor as SpawnForkExecutor
from ._processes import SpawnThreadExecutor as SpawnThreadExecutor
from ._threads import ThreadExecutor as ThreadExecutor

__all__ = (
    "AsyncExecutor",
    "Executor",
    "InlineExecutor",
    "InterpreterExecutor",
    "ProcessExecutor",
    "RayExecutor",
    "SpawnForkExecutor",
    "SpawnInterpreterExecutor",
    "SpawnThreadExecutor",
    "ThreadExecutor",
)

from .._stage import SHORTCUTS as _SHORTCUTS

_SHORTCUTS.update(
    threads=ThreadExecutor,
    processes=ProcessExecutor,
    interpreters=InterpreterExecutor,
)
