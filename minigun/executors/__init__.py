"""Executors: where a stage's function runs (runtime layer).

All executors are re-exported from `minigun`.
"""

from ._asyncio import AsyncExecutor as AsyncExecutor
from ._base import Executor as Executor
from ._inline import InlineExecutor as InlineExecutor
from ._processes import ProcessExecutor as ProcessExecutor
from ._processes import SpawnForkExecutor as SpawnForkExecutor
from ._processes import SpawnThreadExecutor as SpawnThreadExecutor
from ._threads import ThreadExecutor as ThreadExecutor

__all__ = (
    "AsyncExecutor",
    "Executor",
    "InlineExecutor",
    "ProcessExecutor",
    "SpawnForkExecutor",
    "SpawnThreadExecutor",
    "ThreadExecutor",
)
