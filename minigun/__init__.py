"""minigun: composable, high-performance data-processing pipelines.

Producers, processors, accumulators and consumers wired into a graph; each
stage runs on the executor that suits its work; items flow through bounded
queues with back-pressure, routing, retries, hooks and statistics.
"""

from loguru import logger as _logger

from ._config import Config as Config
from ._hooks import HookChain as HookChain
from ._logging import enable_logging as enable_logging
from ._pipeline import Pipeline as Pipeline
from ._queue import Queue as Queue
from ._report import RunReport as RunReport
from ._report import StageStatistics as StageStatistics
from ._router import BroadcastRouter as BroadcastRouter
from ._router import KeyRouter as KeyRouter
from ._router import RoundRobinRouter as RoundRobinRouter
from ._router import Router as Router
from ._router import WeightedRouter as WeightedRouter
from ._runtime import RunHandle as RunHandle
from ._signals import Emitter as Emitter
from ._signals import Failed as Failed
from ._signals import To as To
from ._stage import Accumulator as Accumulator
from ._stage import Consumer as Consumer
from ._stage import Debatch as Debatch
from ._stage import Processor as Processor
from ._stage import Producer as Producer
from ._stage import Stage as Stage
from ._version import __version__ as __version__
from .dsl import Task as Task
from .dsl import accumulator as accumulator
from .dsl import after as after
from .dsl import after_fork as after_fork
from .dsl import after_run as after_run
from .dsl import after_stage as after_stage
from .dsl import before as before
from .dsl import before_fork as before_fork
from .dsl import before_run as before_run
from .dsl import before_stage as before_stage
from .dsl import connect as connect
from .dsl import consumer as consumer
from .dsl import on_error as on_error
from .dsl import parallel as parallel
from .dsl import pipeline as pipeline
from .dsl import processor as processor
from .dsl import producer as producer
from .dsl import reroute as reroute
from .dsl import stage as stage
from .errors import AmbiguousRouteError as AmbiguousRouteError
from .errors import ConfigError as ConfigError
from .errors import DefinitionError as DefinitionError
from .errors import EndOfStream as EndOfStream
from .errors import ExecutorError as ExecutorError
from .errors import HookError as HookError
from .errors import MinigunError as MinigunError
from .errors import NotPicklableError as NotPicklableError
from .errors import PipelineError as PipelineError
from .errors import RoutingError as RoutingError
from .errors import StageError as StageError
from .errors import WorkerCrashedError as WorkerCrashedError
from .errors import WouldBlock as WouldBlock
from .executors import AsyncExecutor as AsyncExecutor
from .executors import Executor as Executor
from .executors import InlineExecutor as InlineExecutor
from .executors import InterpreterExecutor as InterpreterExecutor
from .executors import ProcessExecutor as ProcessExecutor
from .executors import SpawnForkExecutor as SpawnForkExecutor
from .executors import SpawnInterpreterExecutor as SpawnInterpreterExecutor
from .executors import SpawnThreadExecutor as SpawnThreadExecutor
from .executors import ThreadExecutor as ThreadExecutor

_logger.disable("minigun")

__all__ = (
    "Accumulator",
    "AmbiguousRouteError",
    "AsyncExecutor",
    "BroadcastRouter",
    "Config",
    "ConfigError",
    "Consumer",
    "Debatch",
    "DefinitionError",
    "Emitter",
    "EndOfStream",
    "Executor",
    "ExecutorError",
    "Failed",
    "HookChain",
    "HookError",
    "InlineExecutor",
    "InterpreterExecutor",
    "KeyRouter",
    "MinigunError",
    "NotPicklableError",
    "Pipeline",
    "PipelineError",
    "ProcessExecutor",
    "Processor",
    "Producer",
    "Queue",
    "RoundRobinRouter",
    "Router",
    "RoutingError",
    "RunHandle",
    "RunReport",
    "SpawnForkExecutor",
    "SpawnInterpreterExecutor",
    "SpawnThreadExecutor",
    "Stage",
    "StageError",
    "StageStatistics",
    "Task",
    "ThreadExecutor",
    "To",
    "WeightedRouter",
    "WorkerCrashedError",
    "WouldBlock",
    "__version__",
    "accumulator",
    "after",
    "after_fork",
    "after_run",
    "after_stage",
    "before",
    "before_fork",
    "before_run",
    "before_stage",
    "connect",
    "consumer",
    "enable_logging",
    "on_error",
    "parallel",
    "pipeline",
    "processor",
    "producer",
    "reroute",
    "stage",
)
