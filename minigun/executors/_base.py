"""The Executor interface every executor implements (runtime layer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .._stage import ExecutorLike

if TYPE_CHECKING:
    from .._runtime import StageRunner
    from .._stats import Counters

__all__ = ("Executor", "RemoteResult", "RemoteWorker")


class Executor(ExecutorLike):
    """How a stage's items are run.

    The runtime owns the stage's input queue, routing, error policy and
    statistics; an executor only decides *where* the stage's function runs.
    It does so in `launch`, through the `StageRunner` the runtime hands it:

    * ``runner.spawn_workers(n)`` runs ``n`` standard worker loops in threads
      (what `ThreadExecutor` does);
    * lower-level executors (processes, interpreters, clusters) take batches
      with ``runner.take()``, run them elsewhere, and hand results back with
      ``runner.complete()``.

    `fusable` executors (only `InlineExecutor`) let the runtime run the stage
    in its upstream's thread.
    """

    kind: ClassVar[str] = "executor"
    fusable: ClassVar[bool] = False

    def available(self) -> str | None:
        """Return why this executor cannot run here, or ``None`` if it can."""
        return None

    def launch(self, runner: StageRunner) -> None:
        """Start the workers of *runner*'s stage (called once per run).

        By default one standard worker loop per worker, each in a thread;
        executors that run units elsewhere give each loop a remote worker
        through ``remote_worker(runner, index)``.
        """
        runner.spawn_workers(runner.workers)

    def describe(self) -> str:
        """Return ``"kind(workers)"`` (``"threads(8)"``)."""
        return f"{self.kind}({self.workers})"


class RemoteResult:
    """What a remote worker sends back for a list of units."""

    __slots__ = ("counters", "failures", "inner", "out", "tos")

    def __init__(
        self,
        out: list[Any],
        tos: list[Any],
        failures: list[tuple[Any, BaseException]],
        counters: Counters,
    ) -> None:
        self.out = out
        self.tos = tos
        self.failures = failures
        self.counters = counters
        #: Cumulative statistics of a fused region's inner stages, if any.
        self.inner: dict[str, list[float]] | None = None


class RemoteWorker(Protocol):
    """A worker that runs a stage's units elsewhere (another process, ...)."""

    def start(self) -> None:
        """Start the worker (fork hooks, ``setup()`` there)."""

    def run_units(self, units: list[Any]) -> RemoteResult:
        """Run *units* there; failures come back after retries."""
        ...

    def stop(self, *, cancelled: bool) -> None:
        """Run ``teardown()`` there and stop (kill at once when *cancelled*)."""


def check_workers(_inst: object, attr: Any, value: int) -> None:
    """Attrs validator: a worker count is an int >= 1."""
    from ..errors import DefinitionError  # noqa: PLC0415 - avoid a cycle at import

    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{attr.name} must be an int >= 1, got {value!r}"
        raise DefinitionError(msg)
