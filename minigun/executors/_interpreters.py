"""Subinterpreter executors: stage work with its own GIL (runtime layer).

CPython 3.13+ only: ``concurrent.interpreters`` on 3.14, the private
``_interpreters`` module on 3.13. Each worker is an isolated subinterpreter
(its own GIL) running in a thread of its own; the parent's worker thread
talks to it over two pipes with the same batch protocol as forked workers
(`minigun.executors._serve`): items and results cross as pickles, never
through a queue that polls. The stage itself is pickled into the
interpreter, so its function must be importable by name.
"""

from __future__ import annotations

import contextlib
import copy
import os
import pickle
import struct
import sys
import threading
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, ClassVar, final

import attrs
from loguru import logger

from .._region import FusedRegion
from .._stage import f_repr
from ..errors import ExecutorError, StageError
from ._base import Executor, check_workers
from ._processes import ForkWorker, SpawnPerUnit, _CrashedError

if TYPE_CHECKING:
    from .._runtime import StageRunner
    from .._stage import Stage

__all__ = ("InterpreterExecutor", "SpawnInterpreterExecutor")

_log = logger.bind(component="interpreters")

_MIN_VERSION = (3, 13)


def interpreters_unavailable() -> str | None:
    """Return why subinterpreters cannot be used here, or ``None``."""
    if sys.version_info < _MIN_VERSION:
        have = ".".join(map(str, sys.version_info[:3]))
        return (
            "subinterpreter executors need CPython 3.13 or newer (each "
            f"interpreter with its own GIL); this is Python {have}"
        )
    if sys.implementation.name != "cpython":  # pragma: no cover - CPython here
        return "subinterpreter executors need CPython"
    try:
        import _interpreters  # type: ignore[import-not-found]  # noqa: F401, PLC0415
    except ImportError:  # pragma: no cover - present on 3.13+
        return "this Python has no _interpreters module"
    return None


def portable_stage(stage: Stage[Any, Any]) -> Stage[Any, Any]:
    """Return a copy of *stage* to send into an interpreter.

    Its options stay behind: hooks, ``on_error`` and dead letters run in the
    parent, so they need not be importable by name.
    """
    from .._stage import StageOptions  # noqa: PLC0415

    clone = copy.copy(stage)
    clone.options = StageOptions()
    return clone


def stage_problem(stage: Stage[Any, Any]) -> str | None:
    """Return why *stage* cannot be sent into a subinterpreter, or ``None``."""
    if isinstance(stage, FusedRegion):
        return (
            f"nested pipeline {stage.name!r} cannot run as a fused region on "
            "subinterpreters in this version; give it processes= or threads="
        )
    fn = stage.target_callable()
    qualname = getattr(fn, "__qualname__", "")
    module = (
        getattr(fn, "__module__", None)
        if stage.fn is not None
        else (type(stage).__module__)
    )
    if module == "__main__":
        return (
            f"{f_repr(fn) if fn is not None else stage.describe()} is defined in "
            "the __main__ script, which a subinterpreter cannot import; move "
            "it into a module"
        )
    if (
        fn is not None
        and stage.fn is not None
        and ("<lambda>" in qualname or "<locals>" in qualname)
    ):
        return (
            f"{f_repr(fn)} cannot run in a subinterpreter: stage functions "
            "must be importable by name (a module-level function or a Stage "
            "subclass defined at module level), not a lambda, closure or "
            "nested function"
        )
    try:
        pickle.dumps(portable_stage(stage))
    except Exception as exc:
        return (
            f"{stage.describe()} cannot be sent to a subinterpreter ({exc}); "
            "its function, options and hooks must be importable by name"
        )
    return None


_BOOT = """
import sys
sys.path[:] = _minigun_path.split("\\x00")
from minigun.executors._interpreters import _interp_main
_interp_main(_minigun_read, _minigun_write, _minigun_stage)
"""


def _interp_main(read_fd: int, write_fd: int, payload: bytes) -> None:
    """Body of a subinterpreter worker (runs inside the interpreter)."""
    from ._serve import PROTOCOL, serve  # noqa: PLC0415 - inside the interpreter

    name, stage, policy = pickle.loads(payload)  # noqa: S301 - our parent's bytes

    def read_exact(n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            chunk = os.read(read_fd, n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def recv() -> bytes | None:
        head = read_exact(4)
        if head is None:
            return None
        (size,) = struct.unpack("!i", head)
        return read_exact(size)

    def send(msg: tuple[Any, ...]) -> None:
        data = pickle.dumps(msg, PROTOCOL)
        frame = struct.pack("!i", len(data)) + data
        view = memoryview(frame)
        while view:
            written = os.write(write_fd, view)
            view = view[written:]

    try:
        serve(name, stage, policy, recv, send, threading.get_native_id())
    finally:
        os.close(read_fd)
        os.close(write_fd)


class InterpreterWorker(ForkWorker):
    """One subinterpreter worker: same protocol as a forked child."""

    def __init__(self, runner: StageRunner, index: int) -> None:
        super().__init__(runner, index)
        self.item_timeout = None
        self._thread: threading.Thread | None = None
        self._iid: Any = None
        self._failure: str | None = None

    def start(self) -> None:
        """Create the interpreter, start its loop in a thread, wait until set up."""
        import _interpreters  # noqa: PLC0415 - 3.13+

        r = self.runner
        c_read, p_write = os.pipe()
        p_read, c_write = os.pipe()
        payload = pickle.dumps((r.name, portable_stage(r.stage), r.policy))
        config = _interpreters.new_config("isolated")
        self._iid = _interpreters.create(config)
        shared = {
            "_minigun_path": "\x00".join(sys.path),
            "_minigun_read": c_read,
            "_minigun_write": c_write,
            "_minigun_stage": payload,
        }

        def run() -> None:
            failure = _interpreters.exec(self._iid, _BOOT, shared)
            if failure is not None:
                self._failure = getattr(failure, "formatted", str(failure))
                # The interpreter died before closing its pipe ends.
                for fd in (c_read, c_write):
                    with contextlib.suppress(OSError):
                        os.close(fd)

        self._thread = threading.Thread(
            target=run, name=f"minigun:{r.name}:interp{self.index}", daemon=True
        )
        self._thread.start()
        self._to_child = Connection(p_write, readable=False)
        self._from_child = Connection(p_read, writable=False)
        self.pid = os.getpid()  # the interpreter lives in this process
        _log.debug(
            "started interpreter worker {worker} of stage {stage}",
            worker=self.index,
            stage=r.name,
        )
        msg = self._receive(deadline=None)
        if msg[0] != "ready":  # pragma: no cover - _receive raises on fatal
            raise _CrashedError(None, None, timeout=False)

    def _crashed(self) -> _CrashedError:
        if self._thread is not None:
            self._thread.join(1)
        if self._failure:
            r = self.runner
            raise StageError(r.name, None, ExecutorError(self._failure))
        return _CrashedError(None, None, timeout=False)

    def kill(self) -> None:
        """Close the pipes (the loop ends at EOF), join the thread, destroy."""
        self._close()
        thread = self._thread
        if thread is not None:
            thread.join(self.runner.rt.config.shutdown_timeout)
            if thread.is_alive():  # pragma: no cover - a stuck stage function
                _log.warning(
                    "interpreter worker {worker} of stage {stage} is still busy",
                    worker=self.index,
                    stage=self.runner.name,
                )
                return
        if self._iid is not None:
            import _interpreters  # noqa: PLC0415 - 3.13+

            with contextlib.suppress(Exception):
                _interpreters.destroy(self._iid)
            self._iid = None
        self.pid = None


@final
@attrs.frozen
class InterpreterExecutor(Executor):
    """Run the stage in *workers* subinterpreters, each with its own GIL.

    CPython 3.13+ (elsewhere `Pipeline.validate` raises `DefinitionError`
    saying which Python is needed). The stage is pickled into each
    interpreter, so its function must be importable by name. ``setup()`` and
    ``teardown()`` run inside each interpreter. A run cannot mix it with
    forked executors (forking while a subinterpreter exists crashes).

    Args:
        workers: number of interpreters (``interpreters=n`` is the shortcut).
    """

    _workers: int = attrs.field(default=2, validator=check_workers, alias="workers")
    kind: ClassVar[str] = "interpreters"
    concurrent: ClassVar[bool] = True

    @property
    def workers(self) -> int:
        """Number of interpreters."""
        return self._workers

    def available(self) -> str | None:
        """Subinterpreters need CPython 3.13+."""
        return interpreters_unavailable()

    def check_stage(self, stage: Stage[Any, Any]) -> str | None:
        """The stage must be picklable by reference."""
        return stage_problem(stage)

    def remote_worker(self, runner: StageRunner, index: int) -> InterpreterWorker:
        """Return the interpreter worker of parent thread *index*."""
        return InterpreterWorker(runner, index)


@final
@attrs.frozen
class SpawnInterpreterExecutor(Executor):
    """Run each incoming batch in a new subinterpreter, up to *max_concurrent*.

    CPython 3.13+. The stage must receive batches (follow an `Accumulator`).

    Args:
        max_concurrent: most interpreters alive at once.
    """

    _max: int = attrs.field(default=2, validator=check_workers, alias="max_concurrent")
    kind: ClassVar[str] = "spawn_interpreters"
    concurrent: ClassVar[bool] = True
    spawn: ClassVar[bool] = True

    @property
    def workers(self) -> int:
        """Most interpreters at once."""
        return self._max

    def available(self) -> str | None:
        """Subinterpreters need CPython 3.13+."""
        return interpreters_unavailable()

    def check_stage(self, stage: Stage[Any, Any]) -> str | None:
        """The stage must be picklable by reference."""
        return stage_problem(stage)

    def remote_worker(self, runner: StageRunner, index: int) -> SpawnPerUnit:
        """Return the per-unit interpreter spawner of parent thread *index*."""
        return SpawnPerUnit(runner, index, InterpreterWorker)
