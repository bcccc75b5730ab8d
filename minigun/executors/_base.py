"""The Executor interface every executor implements (runtime layer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .._stage import ExecutorLike

if TYPE_CHECKING:
    from .._runtime import StageRunner
    from .._stats import Counters

__all__ = ("CrashRetry", "Executor", "RemoteResult", "RemoteWorker")


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

    @classmethod
    def merge(cls, results: list[RemoteResult]) -> RemoteResult:
        """Combine the results of several calls, in order."""
        from .._stats import Counters  # noqa: PLC0415 - typing-only at module level

        c = Counters()
        out: list[Any] = []
        tos: list[Any] = []
        failures: list[tuple[Any, BaseException]] = []
        for res in results:
            out.extend(res.out)
            tos.extend(res.tos)
            failures.extend(res.failures)
            c.add(res.counters)
        merged = cls(out, tos, failures, c)
        inners = [res.inner for res in results if res.inner is not None]
        merged.inner = inners[-1] if inners else None
        return merged


class CrashRetry:
    """Mixin of remote workers whose worker can die (a process, an actor).

    `_run_batch` calls `_call`; when the worker died (an exception of
    `crash_type`), `_after_crash` restarts it and every unit of the lost
    batch is retried alone, under the stage's retry budget, so the unit that
    kills the worker is found and reported by `_crash_error`
    (`WorkerCrashedError` or a timeout) while the others go through.
    """

    runner: StageRunner
    crash_type: ClassVar[type[Exception]] = Exception

    def _call(self, units: list[Any]) -> RemoteResult:  # pragma: no cover
        raise NotImplementedError

    def _after_crash(self, crash: Any) -> None:  # pragma: no cover
        raise NotImplementedError

    def _crash_error(self, unit: Any, crash: Any) -> Exception:  # pragma: no cover
        raise NotImplementedError

    def _run_batch(self, units: list[Any]) -> RemoteResult:
        try:
            return self._call(units)
        except self.crash_type as crash:
            self._after_crash(crash)
            return RemoteResult.merge(
                [self._retry_after_crash(u, crash) for u in units]
            )

    def _retry_after_crash(self, unit: Any, crash: Any) -> RemoteResult:
        from .._stats import Counters  # noqa: PLC0415

        retried = 0
        while True:
            if retried >= self.runner.max_retries:
                c = Counters()
                c.items_retried = retried
                c.items_failed = 1
                error = self._crash_error(unit, crash)
                return RemoteResult([], [], [(unit, error)], c)
            retried += 1
            try:
                result = self._call([unit])
            except self.crash_type as again:
                crash = again
                self._after_crash(crash)
            else:
                result.counters.items_retried += retried
                return result


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
