"""Forked workers: ProcessExecutor, SpawnForkExecutor, SpawnThreadExecutor (runtime).

A `ForkWorker` is one forked child that holds a copy of the stage (fork
copies memory, so lambdas and closures work; only items and results are
pickled). The parent's worker thread sends it lists of units over a pipe
and reads back one message per list: the outputs, the routed items, the
failures after retries, and the counters. The child also forwards its log
records. Hygiene:

* forks are serialised by a lock, and a new child closes every pipe end of
  other workers it inherited, so a worker's EOF always arrives (Ruby D12);
* every child is reaped with ``waitpid``; a child that dies is detected by
  EOF on its pipe at once, respawned, and its units retried one by one;
* children ignore SIGINT (the parent decides what Ctrl-C means).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
import time
import warnings
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, ClassVar, final

import attrs
from loguru import logger

from .._hooks import call_hook
from .._policy import run_with_retries
from .._queue import Cancelled
from .._stats import Counters
from ..errors import (
    HookError,
    MinigunError,
    StageError,
    WorkerCrashedError,
    _short_repr,
)
from ._base import CrashRetry, Executor, RemoteResult, check_workers
from ._serve import culprit, portable_error, serve

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._runtime import StageRunner

__all__ = (
    "ForkWorker",
    "ProcessExecutor",
    "SpawnForkExecutor",
    "SpawnThreadExecutor",
)

_log = logger.bind(component="processes")

# Serialises pipe creation and fork; guards _OPEN_FDS.
_FORK_LOCK = threading.Lock()
# Every pipe end of every live worker in this process.
_OPEN_FDS: set[int] = set()
_PROTOCOL = pickle.HIGHEST_PROTOCOL


def _fork_unavailable() -> str | None:
    if not hasattr(os, "fork"):
        return "forked workers need os.fork(), which this platform lacks"
    return None


class _CrashedError(Exception):
    """The child died (or was killed for taking too long)."""

    def __init__(self, exitcode: int | None, sig: int | None, *, timeout: bool) -> None:
        super().__init__(exitcode, sig, timeout)
        self.exitcode = exitcode
        self.sig = sig
        self.timeout = timeout


_FORWARDERS: dict[str, Callable[[str, str, dict[str, Any]], None]] = {}


def _forward_log(name: str, level: str, message: str, extra: dict[str, Any]) -> None:
    """Re-emit a child's log record in the parent as if logged in module *name*."""
    fwd = _FORWARDERS.get(name)
    if fwd is None:
        # loguru takes the record's name (and enable/disable) from the calling
        # frame's module; a function whose globals name the child's module
        # makes the forwarded record look like the original.
        ns: dict[str, Any] = {"__name__": name, "_logger": logger}
        exec(  # noqa: S102 - a fixed snippet, no user input
            "def forward(level, message, extra):\n"
            "    _logger.bind(**extra).opt(depth=0).log(level, message)\n",
            ns,
        )
        fwd = _FORWARDERS[name] = ns["forward"]
    fwd(level, message, extra)


def _reap(pid: int, *, block: bool) -> tuple[int | None, int | None] | None:
    """Wait for child *pid*; return (exitcode, signal), or None if still alive."""
    try:
        got, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return (None, None)
    if got == 0:
        return None
    if os.WIFSIGNALED(status):
        return (None, os.WTERMSIG(status))
    return (os.waitstatus_to_exitcode(status), None)


class ForkWorker(CrashRetry):
    """One persistent forked child running a stage's units (see module docstring)."""

    crash_type = _CrashedError

    def __init__(self, runner: StageRunner, index: int) -> None:
        self.runner = runner
        self.index = index
        self.pid: int | None = None
        self._to_child: Connection | None = None
        self._from_child: Connection | None = None
        self._fds: set[int] = set()
        self.item_timeout = runner.stage.options.item_timeout

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Run before_fork hooks, fork the child, wait until it is set up."""
        r = self.runner
        # before_fork hooks and the fork itself run under one lock, so no other
        # worker forks while a hook holds a user lock (the child would start
        # with it held and hang in after_fork).
        with _FORK_LOCK:
            for hook in r.before_fork:
                try:
                    call_hook(hook, stage=r.name, pipeline=r.rt.pipeline)
                except Exception as exc:
                    event = "before_fork"
                    raise HookError(event, hook.describe(), exc, r.name) from exc
            c_read, p_write = os.pipe()
            p_read, c_write = os.pipe()
            mine = {c_read, c_write}
            _OPEN_FDS.update((c_read, p_write, p_read, c_write))
            with warnings.catch_warnings():
                # 3.12+ warns about fork in a threaded process; the child only
                # runs the stage and never touches the parent's locks.
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                code = 70
                try:
                    code = _child_main(r, c_read, c_write, mine)
                finally:
                    os._exit(code)
            os.close(c_read)
            os.close(c_write)
            _OPEN_FDS.difference_update(mine)
            self._fds = {p_write, p_read}
        self.pid = pid
        self._to_child = Connection(p_write, readable=False)
        self._from_child = Connection(p_read, writable=False)
        _log.debug(
            "forked worker {worker} of stage {stage}: pid {pid}",
            worker=self.index,
            stage=r.name,
            pid=pid,
        )
        msg = self._receive(deadline=None)
        if msg[0] != "ready":  # pragma: no cover - _receive raises on fatal
            self.kill()
            raise _CrashedError(None, None, timeout=False)

    def stop(self, *, cancelled: bool) -> None:
        """Ask the child to tear down and exit; kill it when *cancelled*."""
        if self.pid is None:
            return
        try:
            if not cancelled and self._to_child is not None:
                try:
                    self._to_child.send_bytes(pickle.dumps(None, _PROTOCOL))
                    deadline = time.monotonic() + self.runner.rt.config.shutdown_timeout
                    while True:
                        msg = self._receive(deadline=deadline)
                        if msg[0] == "bye":
                            break
                except (_CrashedError, OSError, EOFError):
                    pass
        finally:
            self.kill()

    def kill(self) -> None:
        """Kill the child (if alive), reap it and close the pipes."""
        pid = self.pid
        if pid is not None:
            status = _reap(pid, block=False)
            if status is None:
                # Give a child that is exiting on its own a moment first.
                for _ in range(20):
                    time.sleep(0.005)
                    status = _reap(pid, block=False)
                    if status is not None:
                        break
            if status is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                status = _reap(pid, block=True)
            _log.debug(
                "worker {worker} of stage {stage} (pid {pid}) exited: {status}",
                worker=self.index,
                stage=self.runner.name,
                pid=pid,
                status=_describe_status(status),
            )
            self.pid = None
        self._close()

    def _close(self) -> None:
        for conn in (self._to_child, self._from_child):
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()
        self._to_child = self._from_child = None
        with _FORK_LOCK:
            _OPEN_FDS.difference_update(self._fds)
        self._fds = set()

    # -- running units ---------------------------------------------------------

    def run_units(self, units: list[Any]) -> RemoteResult:
        """Run *units* in the child; retry units of a crashed child one by one."""
        if self.item_timeout is not None and len(units) > 1:
            return RemoteResult.merge([self.run_units([u]) for u in units])
        return self._run_batch(units)

    def _crash_error(self, unit: Any, crash: _CrashedError) -> Exception:
        r = self.runner
        if crash.timeout:
            return TimeoutError(
                f"stage {r.name!r}: item took longer than item_timeout="
                f"{self.item_timeout}s; its worker was killed"
            )
        return WorkerCrashedError(r.name, crash.exitcode, crash.sig, _short_repr(unit))

    def _after_crash(self, crash: _CrashedError) -> None:
        r = self.runner
        _log.warning(
            "worker {worker} of stage {stage} {what}; respawning",
            worker=self.index,
            stage=r.name,
            what="timed out" if crash.timeout else "died",
        )
        self.kill()
        if r.rt.cancelled:
            raise Cancelled
        self.start()

    def _call(self, units: list[Any]) -> RemoteResult:
        r = self.runner
        try:
            payload = pickle.dumps(units, _PROTOCOL)
        except Exception as exc:
            raise culprit(r.name, "item", units) from exc
        conn = self._to_child
        if conn is None:
            raise _CrashedError(None, None, timeout=False)
        try:
            conn.send_bytes(payload)
        except OSError:
            raise self._crashed() from None
        deadline = None
        if self.item_timeout is not None:
            deadline = time.monotonic() + self.item_timeout * max(1, len(units))
        while True:
            msg = self._receive(deadline=deadline)
            if msg[0] == "result":
                _, out, tos, failures, stats, inner = msg
                c = Counters()
                c.items_failed, c.items_retried, c.busy_time, c.samples = stats
                c.seen = len(c.samples)
                result = RemoteResult(out, tos, failures, c)
                result.inner = inner
                return result

    def _crashed(self) -> _CrashedError:
        pid = self.pid
        status = _reap(pid, block=True) if pid is not None else (None, None)
        self.pid = None
        exitcode, sig = status if status is not None else (None, None)
        return _CrashedError(exitcode, sig, timeout=False)

    def _receive(self, *, deadline: float | None) -> tuple[Any, ...]:
        """Return the next non-log message; raise on a fatal one or a crash."""
        conn = self._from_child
        rt = self.runner.rt
        if conn is None:
            raise _CrashedError(None, None, timeout=False)
        while True:
            wait = 0.1
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - time.monotonic()))
            try:
                ready = conn.poll(wait)
            except OSError:
                raise self._crashed() from None
            if not ready:
                if rt.cancelled:
                    self.kill()
                    raise Cancelled
                if deadline is not None and time.monotonic() >= deadline:
                    self.kill()
                    raise _CrashedError(None, None, timeout=True)
                continue
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):
                raise self._crashed() from None
            msg: tuple[Any, ...] = pickle.loads(data)  # noqa: S301 - our child's bytes
            tag = msg[0]
            if tag == "log":
                _forward_log(*msg[1:])
                continue
            if tag == "fatal":
                self.kill()
                raise msg[1]
            return msg


def _describe_status(status: tuple[int | None, int | None] | None) -> str:
    if status is None:
        return "unknown"
    exitcode, sig = status
    if sig is not None:
        return f"killed by signal {sig}"
    return f"exit code {exitcode}"


def _child_main(  # pragma: no cover - runs in forked children
    r: StageRunner, read_fd: int, write_fd: int, mine: set[int]
) -> int:
    """Body of a forked worker; returns the exit code."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for fd in _OPEN_FDS - mine:
        with contextlib.suppress(OSError):
            os.close(fd)
    _OPEN_FDS.clear()
    conn_in = Connection(read_fd, writable=False)
    conn_out = Connection(write_fd, readable=False)
    send_lock = threading.Lock()

    def send(msg: tuple[Any, ...]) -> None:
        data = pickle.dumps(msg, _PROTOCOL)
        with send_lock:
            conn_out.send_bytes(data)

    def log_sink(message: Any) -> None:
        rec = message.record
        extra = {
            k: v if isinstance(v, (str, int, float, bool)) else repr(v)
            for k, v in rec["extra"].items()
        }
        extra["child_pid"] = os.getpid()
        with contextlib.suppress(OSError):
            send(
                (
                    "log",
                    rec["name"] or "minigun",
                    rec["level"].name,
                    rec["message"],
                    extra,
                )
            )

    logger.remove()
    logger.add(log_sink, level=0, format="{message}", catch=True)

    def fatal(exc: BaseException) -> int:
        with contextlib.suppress(OSError):
            send(("fatal", portable_error(exc)))
        return 1

    for hook in r.after_fork:
        try:
            call_hook(hook, stage=r.name, pipeline=r.rt.pipeline)
        except Exception as exc:
            return fatal(HookError("after_fork", hook.describe(), exc, r.name))

    def recv() -> bytes:
        return conn_in.recv_bytes()

    def send_msg(msg: tuple[Any, ...]) -> None:
        data = pickle.dumps(msg, _PROTOCOL)
        with send_lock:
            conn_out.send_bytes(data)

    code = serve(r.name, r.stage, r.policy, recv, send_msg, os.getpid())
    logger.complete()
    return code


@final
@attrs.frozen
class ProcessExecutor(Executor):
    """Run the stage in *workers* persistent forked processes.

    Each worker is forked once per run (``before_fork`` hooks run in the
    parent first; ``after_fork`` hooks and ``setup()`` in the child) and keeps
    a copy of the stage, so stage functions need not be picklable; items and
    results are pickled in batches. A worker that dies (SIGKILL, OOM) is
    respawned and its units retried one by one under the stage's retry
    policy (`WorkerCrashedError` when retries run out); ``item_timeout=``
    kills and respawns a worker stuck on one item.

    Args:
        workers: number of processes (``processes=n`` on a stage is the shortcut).

    Example:
        >>> import minigun as mg
        >>> mg.ProcessExecutor(2).workers
        2
    """

    _workers: int = attrs.field(default=2, validator=check_workers, alias="workers")
    kind: ClassVar[str] = "processes"
    crosses_process: ClassVar[bool] = True
    concurrent: ClassVar[bool] = True

    @property
    def workers(self) -> int:
        """Number of processes."""
        return self._workers

    def available(self) -> str | None:
        """Forked workers need ``os.fork``."""
        return _fork_unavailable()

    def remote_worker(self, runner: StageRunner, index: int) -> ForkWorker:
        """Return the forked worker for parent thread *index*."""
        return ForkWorker(runner, index)


class SpawnPerUnit:
    """Runs each unit on a fresh worker made by *factory*, then stops it.

    The spawn executors' remote worker: one forked child (`ForkWorker`) or
    one subinterpreter per unit, set up, used once and reaped.
    """

    def __init__(
        self,
        runner: StageRunner,
        index: int,
        factory: Callable[[StageRunner, int], ForkWorker],
    ) -> None:
        self.runner = runner
        self.index = index
        self.factory = factory

    def start(self) -> None:
        """Nothing to start: a worker is made per unit."""

    def run_units(self, units: list[Any]) -> RemoteResult:
        """Run each unit on its own fresh worker; results stream back."""
        results = []
        for unit in units:
            worker = self.factory(self.runner, self.index)
            try:
                worker.start()
                results.append(worker.run_units([unit]))
            finally:
                worker.stop(cancelled=self.runner.rt.cancelled)
        return RemoteResult.merge(results)

    def stop(self, *, cancelled: bool) -> None:
        """Nothing to stop: each worker was stopped after its unit."""


@final
@attrs.frozen
class SpawnForkExecutor(Executor):
    """Fork one copy-on-write child per incoming batch, up to *max_concurrent*.

    The child sees the parent's memory as of the fork (its writes never reach
    the parent), runs ``after_fork`` hooks, ``setup()``, the batch and
    ``teardown()``; its results are read while it runs. The stage must
    receive batches (follow an `Accumulator`).

    Args:
        max_concurrent: most children alive at once.
    """

    _max: int = attrs.field(default=2, validator=check_workers, alias="max_concurrent")
    kind: ClassVar[str] = "spawn_fork"
    crosses_process: ClassVar[bool] = True
    concurrent: ClassVar[bool] = True
    spawn: ClassVar[bool] = True

    @property
    def workers(self) -> int:
        """Most children at once."""
        return self._max

    def available(self) -> str | None:
        """Forked children need ``os.fork``."""
        return _fork_unavailable()

    def remote_worker(self, runner: StageRunner, index: int) -> SpawnPerUnit:
        """Return the per-unit forker of parent thread *index*."""
        return SpawnPerUnit(runner, index, ForkWorker)


class _SpawnThreadWorker:
    """Runs each unit in a fresh thread (setup/teardown per thread)."""

    def __init__(self, runner: StageRunner, index: int) -> None:
        self.runner = runner
        self.index = index

    def start(self) -> None:
        """Nothing to start: threads are created per unit."""

    def run_units(self, units: list[Any]) -> RemoteResult:
        """Run each unit in a new thread and wait for it."""
        results: list[RemoteResult] = []
        for unit in units:
            box: list[RemoteResult | BaseException] = []
            t = threading.Thread(
                target=self._one,
                args=(unit, box),
                name=f"minigun:{self.runner.name}:spawn",
            )
            t.start()
            t.join()
            got = box[0]
            if isinstance(got, BaseException):
                raise got
            results.append(got)
        return RemoteResult.merge(results)

    def _one(self, unit: Any, box: list[RemoteResult | BaseException]) -> None:
        r = self.runner
        try:
            r.stage.setup()
            try:
                k = r.stage.kernel([], [])
                c = Counters()
                t0 = time.perf_counter()
                error = run_with_retries(k.run, unit, r.policy, c, r.rt.sleep)
                c.busy_time += time.perf_counter() - t0
                c.sample(c.busy_time)
                failures: list[tuple[Any, BaseException]] = (
                    [] if error is None else [(unit, error)]
                )
                box.append(RemoteResult(k.out[:], k.tos[:], failures, c))
            finally:
                r.stage.teardown()
        except BaseException as exc:
            box.append(
                exc
                if isinstance(exc, MinigunError | Cancelled)
                else StageError(r.name, None, exc)
            )

    def stop(self, *, cancelled: bool) -> None:
        """Nothing to stop."""


@final
@attrs.frozen
class SpawnThreadExecutor(Executor):
    """Run each incoming batch in a new thread, up to *max_concurrent* at once.

    Like `SpawnForkExecutor` but in threads: ``setup()``/``teardown()`` run in
    each new thread. The stage must receive batches (follow an `Accumulator`).

    Args:
        max_concurrent: most threads alive at once.
    """

    _max: int = attrs.field(default=2, validator=check_workers, alias="max_concurrent")
    kind: ClassVar[str] = "spawn_thread"
    concurrent: ClassVar[bool] = True
    spawn: ClassVar[bool] = True

    @property
    def workers(self) -> int:
        """Most threads at once."""
        return self._max

    def remote_worker(self, runner: StageRunner, index: int) -> _SpawnThreadWorker:
        """Return the per-unit thread spawner of parent thread *index*."""
        return _SpawnThreadWorker(runner, index)
