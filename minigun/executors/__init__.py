"""Executors: where a stage's function runs (runtime layer).

All executors are re-exported from `minigun`.
"""

from ._base import Executor as Executor
from ._inline import InlineExecutor as InlineExecutor
from ._threads import ThreadExecutor as ThreadExecutor

__all__ = ("Executor", "InlineExecutor", "ThreadExecutor")
