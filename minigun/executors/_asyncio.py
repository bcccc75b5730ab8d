"""AsyncExecutor: ``async def`` stages on an event loop (runtime layer).

Each stage on an `AsyncExecutor` gets one event loop, in a thread of its
own. The stage's parent-side workers (one per allowed concurrent item) take
items from the queue and hand them to that loop, where a semaphore keeps at
most *concurrency* coroutines in flight. Retries, the error policy, ordering
and statistics work exactly as for the other executors.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar, final

import attrs

from .._queue import Cancelled
from .._signals import To
from .._stage import call_shape
from .._stats import Counters
from ..errors import DefinitionError
from ._base import Executor, RemoteResult, check_workers

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._runtime import StageRunner

__all__ = ("AsyncExecutor",)


class _Loop:
    """An event loop running in a daemon thread, shared by a stage's workers."""

    def __init__(self, name: str, concurrency: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.users = 0
        self.closed = False
        self.concurrency = concurrency
        self.semaphore: asyncio.Semaphore | None = None
        self._thread = threading.Thread(
            target=self._main, name=f"minigun:{name}:loop", daemon=True
        )
        self._ready = threading.Event()
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.semaphore = asyncio.Semaphore(self.concurrency)
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(
                    asyncio.gather(*pending, return_exceptions=True)
                )
            self.loop.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class _AsyncEmitter:
    __slots__ = ("out", "tos")

    def __init__(self, out: list[Any], tos: list[Any]) -> None:
        self.out = out
        self.tos = tos

    def __call__(self, item: Any, /, *, to: Any = None) -> None:
        if to is not None:
            self.tos.append(To(to, item))
        elif item.__class__ is To:
            self.tos.append(item)
        else:
            self.out.append(item)


class _AsyncWorker:
    """Runs a stage's units as coroutines on the stage's shared loop."""

    _lock = threading.Lock()

    def __init__(self, runner: StageRunner, index: int) -> None:
        self.runner = runner
        self.index = index
        self._loop: _Loop | None = None
        fn = runner.stage.target_callable()
        if fn is None:  # pragma: no cover - validate() requires one
            msg = f"stage {runner.name!r} has no function"
            raise DefinitionError(msg)
        self.fn: Callable[..., Any] = fn
        self.shape = call_shape(fn)

    def start(self) -> None:
        """Join (creating on first use) the stage's event loop; run setup()."""
        r = self.runner
        with _AsyncWorker._lock:
            loop: _Loop | None = getattr(r, "async_loop", None)
            if loop is not None and loop.closed:
                # The stage already shut its loop (the run is ending).
                raise Cancelled
            if loop is None:
                ex = r.executor
                loop = _Loop(r.name, ex.workers)
                r.async_loop = loop  # type: ignore[attr-defined]
                r.stage.setup()
            loop.users += 1
        self._loop = loop

    def stop(self, *, cancelled: bool) -> None:
        """Leave the loop; the last worker out runs teardown() and stops it."""
        del cancelled
        r = self.runner
        loop = self._loop
        if loop is None:
            return
        with _AsyncWorker._lock:
            loop.users -= 1
            last = loop.users == 0
            if last:
                loop.closed = True
        if last:
            try:
                r.stage.teardown()
            finally:
                loop.stop()

    def run_units(self, units: list[Any]) -> RemoteResult:
        """Run *units* concurrently on the loop and wait for all of them."""
        loop = self._loop
        if loop is None:  # pragma: no cover - start() comes first
            raise Cancelled
        fut = asyncio.run_coroutine_threadsafe(self._run_all(units), loop.loop)
        rt = self.runner.rt
        while True:
            try:
                return fut.result(timeout=0.1)
            except concurrent.futures.TimeoutError:
                if rt.cancelled:
                    fut.cancel()
                    raise Cancelled from None

    async def _run_all(self, units: list[Any]) -> RemoteResult:
        c = Counters()
        results = await asyncio.gather(*(self._run_one(u, c) for u in units))
        out: list[Any] = []
        tos: list[Any] = []
        failures: list[tuple[Any, BaseException]] = []
        for unit, (o, t, error) in zip(units, results, strict=True):
            out.extend(o)
            tos.extend(t)
            if error is not None:
                failures.append((unit, error))
        return RemoteResult(out, tos, failures, c)

    async def _run_one(
        self, unit: Any, c: Counters
    ) -> tuple[list[Any], list[Any], BaseException | None]:
        loop = self._loop
        assert loop is not None  # noqa: S101 - set in start()
        sem = loop.semaphore
        assert sem is not None  # noqa: S101 - set by the loop thread
        policy = self.runner.policy
        attempt = 0
        async with sem:
            t0 = time.perf_counter()
            while True:
                out: list[Any] = []
                tos: list[Any] = []
                try:
                    await self._call(unit, out, tos)
                except Exception as exc:
                    if attempt < policy.max_retries and policy.retryable(exc):
                        attempt += 1
                        c.items_retried += 1
                        delay = policy.delay(attempt)
                        if delay > 0:
                            await asyncio.sleep(delay)
                        continue
                    c.items_failed += 1
                    dt = time.perf_counter() - t0
                    c.busy_time += dt
                    return [], [], exc
                dt = time.perf_counter() - t0
                c.busy_time += dt
                c.sample(dt)
                return out, tos, None

    async def _call(self, unit: Any, out: list[Any], tos: list[Any]) -> None:
        shape = self.shape
        args: tuple[Any, ...] = (unit,)
        kwargs: dict[str, Any] = {}
        if shape.takes_emit:
            emitter = _AsyncEmitter(out, tos)
            if shape.emit_keyword:
                kwargs["emit"] = emitter
            else:
                args = (unit, emitter)
        result = self.fn(*args, **kwargs)
        if inspect.isasyncgen(result):
            async for r in result:
                (tos if r.__class__ is To else out).append(r)
            return
        if inspect.isawaitable(result):
            result = await result
        if result is not None:
            (tos if result.__class__ is To else out).append(result)


@final
@attrs.frozen
class AsyncExecutor(Executor):
    """Run an ``async def`` stage on an event loop, up to *concurrency* at once.

    The loop runs in a thread of its own (one per stage); the stage function
    must be ``async def`` (or an async generator); a plain function here is a
    `DefinitionError`, and so is ``async def`` on any other executor.
    ``setup()`` and ``teardown()`` run once per stage.

    Args:
        concurrency: most items in flight at once.

    Example:
        >>> import asyncio, minigun as mg
        >>> async def fetch(n):
        ...     await asyncio.sleep(0)
        ...     return n
        >>> mg.Processor("fetch", fetch, executor=mg.AsyncExecutor(20)).name
        'fetch'
    """

    _concurrency: int = attrs.field(
        default=16, validator=check_workers, alias="concurrency"
    )
    kind: ClassVar[str] = "async"
    concurrent: ClassVar[bool] = True

    @property
    def workers(self) -> int:
        """Most items in flight at once."""
        return self._concurrency

    def remote_worker(self, runner: StageRunner, index: int) -> _AsyncWorker:
        """Return the loop-backed worker of feeder *index*."""
        return _AsyncWorker(runner, index)
