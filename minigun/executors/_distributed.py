"""RayExecutor: a stage's workers are Ray actors (runtime layer).

Each worker of a stage is one Ray actor holding its own copy of the stage
(Ray ships it with cloudpickle, so lambdas and closures work). The actor
runs ``setup()`` when it is created (and again whenever Ray restarts it),
runs lists of units with the stage's retry policy exactly like a forked
worker (`minigun.executors._serve`), and runs ``teardown()`` at the end.

Parent side: `RayExecutor.launch` starts ``workers * max_in_flight``
threads; thread *i* drives actor ``i // max_in_flight`` and has at most one
batch in flight, so an actor never holds more than *max_in_flight* batches
(Ray runs an actor's calls one at a time, in submission order) and the
stage's bounded input queue keeps back-pressure end to end.

Ray itself is imported lazily: importing minigun never needs it. Unless Ray
is already initialised in this process, the first Ray stage of a run starts
a private local instance (or joins the cluster at ``address``) and the last
one shuts it down. That happens in a dedicated thread, because Ray's local
processes die with the thread that started them (``PR_SET_PDEATHSIG``).

Crashes: an actor whose process dies is restarted by Ray (it runs
``setup()`` again); the batch it held is retried one unit at a time under the
stage's retry policy, and a unit that keeps crashing its actor fails with
`WorkerCrashedError`. An actor that does not come back within
``actor_timeout`` (its node is gone and nothing else fits it) is given up;
its threads carry on with the stage's other actors.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.machinery
import importlib.util
import logging
import math
import os
import pickle
import random
import socket
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, final

import attrs
from loguru import logger

from .._policy import run_with_retries
from .._queue import Cancelled
from .._stats import Counters
from ..errors import (
    DefinitionError,
    ExecutorError,
    NotPicklableError,
    StageError,
    WorkerCrashedError,
    _short_repr,
)
from ._base import CrashRetry, Executor, RemoteResult, check_workers

if TYPE_CHECKING:
    from .._policy import RetryPolicy
    from .._runtime import StageRunner
    from .._stage import Stage

__all__ = ("RayExecutor", "RayWorker", "ray_unavailable")

_log = logger.bind(component="ray")

#: How often a waiting parent thread checks for a cancelled run (seconds).
_POLL = 0.1
#: Seconds Ray (a private instance, or a connection) may take to start, at least.
_RAY_START = 60.0
#: Latency samples an actor returns per call (the parent keeps a reservoir).
_SAMPLES_PER_CALL = 32
#: Actor options minigun sets itself (the dedicated arguments say how).
_RESERVED = frozenset(
    {"num_cpus", "resources", "runtime_env", "max_concurrency", "concurrency_groups"}
)
_INSTALL_HINT = "install it with: pip install 'minigun[ray]'"


def ray_unavailable() -> str | None:
    """Return why Ray cannot be used here, or ``None`` (Ray is not imported)."""
    try:
        found = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):  # pragma: no cover - a broken install
        found = False
    if not found:
        return f"RayExecutor needs Ray, which is not installed; {_INSTALL_HINT}"
    return None


def _ray() -> Any:
    """Import Ray (lazily), or raise `ExecutorError` naming the extra."""
    try:
        import ray  # noqa: PLC0415 - optional dependency, imported on use
    except ImportError as exc:
        msg = f"RayExecutor needs Ray; {_INSTALL_HINT} ({exc})"
        raise ExecutorError(msg) from exc
    return ray


def _dumps(value: Any) -> bytes:
    from ray import cloudpickle  # noqa: PLC0415 - optional dependency

    data: bytes = cloudpickle.dumps(  # type: ignore[no-untyped-call]
        value, protocol=pickle.HIGHEST_PROTOCOL
    )
    return data


def _culprit(stage: str, what: str, values: list[Any]) -> NotPicklableError:
    """Find which of *values* does not pickle (with cloudpickle); describe it."""
    for v in values:
        try:
            _dumps(v)
        except Exception as exc:
            return NotPicklableError(stage, what, type(v).__qualname__, str(exc))
    return NotPicklableError(stage, what, "unknown", "pickling the batch failed")


def _portable_stage(stage: Stage[Any, Any]) -> Stage[Any, Any]:
    """Return a copy of *stage* to ship to the actors.

    Its options stay behind: hooks, ``on_error`` and dead letters run in the
    parent, so they need not pickle (and are not shipped for nothing).
    """
    from .._stage import StageOptions  # noqa: PLC0415 - model layer, on use

    clone = copy.copy(stage)
    clone.options = StageOptions()
    return clone


def _ship_by_value(stage: Stage[Any, Any]) -> None:
    """Make cloudpickle ship the stage's code by value when no node can import it.

    cloudpickle sends a class or function of an imported module by
    reference (its module's name). A module loaded from a file under a name
    the import system cannot find again (a script loaded by path, a plugin)
    would then fail to unpickle in every actor; ship such modules by value.
    """
    from ray import cloudpickle  # noqa: PLC0415 - optional dependency

    for obj in (type(stage), stage.fn):
        name = getattr(obj, "__module__", None)
        if not isinstance(name, str) or name == "__main__":
            continue
        module = sys.modules.get(name)
        if module is None or name.startswith("minigun."):
            continue
        top = name.partition(".")[0]
        if top in sys.builtin_module_names:
            continue
        try:
            findable = importlib.machinery.PathFinder.find_spec(top) is not None
        except (ImportError, ValueError):
            findable = False
        if not findable:
            cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call]


def _portable(exc: BaseException) -> BaseException:
    """Return *exc*, or a RuntimeError describing it if it cannot cross."""
    try:
        pickle.loads(_dumps(exc))  # noqa: S301 - our own bytes
    except Exception:
        return RuntimeError(f"{type(exc).__qualname__}: {exc}")
    return exc


# -- validators -------------------------------------------------------------------


def _check_cpus(_inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        msg = f"{attr.name} must be a number >= 0, got {value!r}"
        raise DefinitionError(msg)


def _check_address(
    _inst: object, attr: attrs.Attribute[str | None], value: Any
) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        msg = f"{attr.name} must be a non-empty string or None, got {value!r}"
        raise DefinitionError(msg)


def _check_timeout(_inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        msg = f"{attr.name} must be a number > 0 or None, got {value!r}"
        raise DefinitionError(msg)


def _to_resources(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        msg = f"resources must be a mapping of resource name to amount, got {value!r}"
        raise DefinitionError(msg)
    out: dict[str, float] = {}
    for k, v in value.items():
        if (
            not isinstance(k, str)
            or isinstance(v, bool)
            or not isinstance(v, (int, float))
            or v < 0
        ):
            msg = f"resources must map names to amounts >= 0, got {k!r}: {v!r}"
            raise DefinitionError(msg)
        out[k] = float(v)
    return out


def _to_mapping(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        msg = f"expected a mapping or None, got {value!r}"
        raise DefinitionError(msg)
    return dict(value)


def _check_actor_options(
    _inst: object, attr: attrs.Attribute[Any], value: dict[str, Any] | None
) -> None:
    if value is None:
        return
    bad = sorted(set(value) & _RESERVED)
    if bad:
        msg = (
            f"{attr.name} may not set {', '.join(bad)}: use RayExecutor's own "
            "num_cpus=, resources= and runtime_env= arguments (an actor runs "
            "one batch at a time)"
        )
        raise DefinitionError(msg)


# -- the Ray session: a private instance, or a connection to a cluster ------------


class _Session:
    """Process-wide use of Ray by minigun, reference-counted per Ray stage.

    When the first user arrives and Ray is not initialised in this process,
    a daemon thread calls ``ray.init`` and keeps living until the last user
    leaves; then it calls ``ray.shutdown`` (only for what minigun started).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.owned = False
        self.address: str | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._release = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, address: str | None, request: dict[str, float]) -> None:
        """Count one more Ray stage; start Ray if this is the first."""
        ray = _ray()
        with self.lock:
            self.users += 1
            if self.users > 1:
                return
            self.ready = threading.Event()
            self.error = None
            self._release = threading.Event()
            self.address = address
            self.owned = False
            if ray.is_initialized():
                self.ready.set()  # the user's own connection: leave it alone
                return
            self.owned = True
            self._thread = threading.Thread(
                target=self._main,
                args=(address, request, self.ready, self._release),
                name="minigun:ray-session",
                daemon=True,
            )
            self._thread.start()

    def _main(
        self,
        address: str | None,
        request: dict[str, float],
        ready: threading.Event,
        release: threading.Event,
    ) -> None:
        ray = _ray()
        quiet = _DropMessage("SIGTERM handler is not set")
        worker_log = logging.getLogger("ray._private.worker")
        worker_log.addFilter(quiet)
        try:
            if address is None:
                cpus = request.pop("CPU", 1.0)
                ray.init(
                    address="local",
                    include_dashboard=False,
                    num_cpus=max(os.cpu_count() or 1, math.ceil(cpus)),
                    resources=request or None,
                    logging_level=logging.WARNING,
                )
                _log.info("started a private local Ray instance")
            else:
                _probe(address)
                ray.init(address=address, logging_level=logging.WARNING)
                _log.info("connected to the Ray cluster at {address}", address=address)
        except BaseException as exc:
            self.error = exc
            ready.set()
            with contextlib.suppress(Exception):
                ray.shutdown()
            return
        finally:
            worker_log.removeFilter(quiet)
        ready.set()
        release.wait()
        try:
            ray.shutdown()
        except Exception:
            _log.opt(exception=True).warning("ray.shutdown() failed")
        _log.info("Ray shut down")

    def wait_ready(self, runner: StageRunner, deadline: float | None) -> None:
        """Wait until Ray is usable; raise its start error, or `Cancelled`."""
        ready = self.ready
        while not ready.wait(_POLL):
            if runner.rt.cancelled:
                raise Cancelled
            if deadline is not None and time.monotonic() >= deadline:
                where = self.address or "a private local instance"
                msg = f"stage {runner.name!r}: Ray ({where}) did not start in time"
                raise ExecutorError(msg)
        if self.error is not None:
            where = self.address or "a private local Ray instance"
            msg = f"stage {runner.name!r}: could not start {where}: {self.error}"
            raise ExecutorError(msg) from self.error

    def release(self, timeout: float) -> None:
        """Count one Ray stage less; the last one out stops what minigun started."""
        with self.lock:
            self.users -= 1
            if self.users > 0:
                return
            thread = self._thread
            self._thread = None
            self._release.set()
            # Under the lock: a run starting now waits until Ray is down.
            if thread is not None:
                thread.join(timeout)


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail fast if a ``host:port`` address does not accept connections.

    ``ray.init`` retries an unreachable address for minutes; a plain TCP
    connect says at once that nothing listens there.
    """
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", "ray://...": Ray resolves those itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout):
            pass
    except OSError as exc:
        msg = f"nothing answers at {address} ({exc}); is the Ray head running?"
        raise ConnectionError(msg) from exc


class _DropMessage(logging.Filter):
    """Drop log records that start with a given text."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


_SESSION = _Session()


# -- the actor ----------------------------------------------------------------------


class _StageActor:
    """Runs inside a Ray actor: one copy of the stage, ``setup()`` once."""

    def __init__(self, name: str, blob: bytes) -> None:
        self.name = name
        self.error: BaseException | None = None
        self.kernel: Any = None
        try:
            _, self.stage, self.policy = pickle.loads(blob)  # noqa: S301 - ours
        except Exception as exc:
            self.error = ExecutorError(
                f"stage {name!r} could not be unpickled in its Ray actor "
                f"({type(exc).__name__}: {exc}); install the modules it needs "
                "on every node, or ship them with runtime_env="
            )
            return
        try:
            self.stage.setup()
        except Exception as exc:
            self.error = _portable(StageError(self.name, None, exc))
            return
        self.kernel = self.stage.kernel([], [])

    def ready(self) -> tuple[int, str, BaseException | None]:
        """Return the actor's pid, node id and ``setup()`` error (if any)."""
        import ray  # noqa: PLC0415 - inside the actor

        node = ray.get_runtime_context().get_node_id()
        return os.getpid(), node, self.error

    def run(self, payload: bytes) -> bytes:
        """Run a pickled list of units; return the pickled result message."""
        name = self.name
        if self.error is not None:
            return pickle.dumps(("fatal", self.error), pickle.HIGHEST_PROTOCOL)
        try:
            units: list[Any] = pickle.loads(payload)  # noqa: S301 - our parent's
        except Exception as exc:
            bad = ExecutorError(
                f"stage {name!r}: a Ray actor could not unpickle its items "
                f"({type(exc).__name__}: {exc}); is every module they need "
                "installed on the cluster's nodes?"
            )
            return pickle.dumps(("fatal", bad), pickle.HIGHEST_PROTOCOL)
        kernel = self.kernel
        out: list[Any] = kernel.out
        tos: list[Any] = kernel.tos
        run = kernel.run
        policy: RetryPolicy = self.policy
        perf = time.perf_counter
        c = Counters()
        failures: list[tuple[Any, BaseException]] = []
        for unit in units:
            t0 = perf()
            error = run_with_retries(run, unit, policy, c, time.sleep)
            dt = perf() - t0
            c.busy_time += dt
            c.sample(dt)
            if error is not None:
                failures.append((unit, _portable(error)))
        samples = c.samples
        if len(samples) > _SAMPLES_PER_CALL:
            samples = random.sample(samples, _SAMPLES_PER_CALL)
        msg = (
            "result",
            out[:],
            tos[:],
            failures,
            (c.items_failed, c.items_retried, c.busy_time, samples),
            getattr(kernel, "inner_stats", None),
        )
        out.clear()
        tos.clear()
        try:
            return _dumps(msg)
        except Exception:
            culprit = _culprit(name, "result", [*msg[1], *msg[2]])
            return pickle.dumps(("fatal", culprit), pickle.HIGHEST_PROTOCOL)

    def teardown(self) -> BaseException | None:
        """Run ``teardown()``; return its error (if any)."""
        if self.error is not None:
            return None
        try:
            self.stage.teardown()
        except Exception as exc:
            return _portable(StageError(self.name, None, exc))
        return None


_ACTOR_CLASS: list[Any] = []


def _actor_class(ray: Any) -> Any:
    """Return the Ray actor class of `_StageActor` (made once per process)."""
    if not _ACTOR_CLASS:
        _ACTOR_CLASS.append(ray.remote(_StageActor))
    return _ACTOR_CLASS[0]


def _dead_for_good(handle: Any) -> bool:
    """Whether Ray's control store says the actor is dead (best effort)."""
    try:
        from ray._private import state  # noqa: PLC0415 - no public equivalent

        info = state.actors(handle._actor_id.hex())  # noqa: SLF001
    except Exception:
        return False
    return isinstance(info, dict) and info.get("State") == "DEAD"


# -- the parent side ------------------------------------------------------------------


class _Crashed(Exception):  # noqa: N818 - internal control flow
    """The actor died (or was killed) while it held a batch."""

    def __init__(self, detail: str, *, timeout: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.timeout = timeout


class _Actors:
    """The Ray actors of one stage in one run, shared by its parent threads."""

    def __init__(
        self, executor: RayExecutor, runner: StageRunner, threads: int
    ) -> None:
        n = executor.actors
        self.executor = executor
        self.runner = runner
        self.lock = threading.Lock()
        self.handles: list[Any] = [None] * n
        self.ready_refs: list[Any] = [None] * n
        self.lost = [False] * n
        self.threads_left = threads
        self.start_error: BaseException | None = None

    def create(self) -> None:
        """Create every actor of the stage (once; the first thread does it)."""
        with self.lock:
            if self.start_error is not None:
                raise self.start_error
            if self.handles[0] is not None:
                return
            ray = _ray()
            r = self.runner
            ex = self.executor
            try:
                stage = _portable_stage(r.stage)
                _ship_by_value(stage)
                blob = _dumps((r.name, stage, r.policy))
            except Exception as exc:
                self.start_error = NotPicklableError(
                    r.name, "stage", type(r.stage).__qualname__, str(exc)
                )
                raise self.start_error from exc
            options: dict[str, Any] = {
                "max_restarts": -1,
                "max_task_retries": 0,
                "num_cpus": ex.num_cpus,
            }
            if ex.resources:
                options["resources"] = dict(ex.resources)
            if ex.runtime_env is not None:
                options["runtime_env"] = dict(ex.runtime_env)
            options.update(ex.actor_options or {})
            try:
                cls = _actor_class(ray).options(**options)
                for i in range(len(self.handles)):
                    handle = cls.remote(r.name, blob)
                    self.handles[i] = handle
                    self.ready_refs[i] = handle.ready.remote()
            except Exception as exc:
                msg = f"stage {r.name!r}: could not create its Ray actors: {exc}"
                self.start_error = ExecutorError(msg)
                raise self.start_error from exc

    def live_slot(self, preferred: int) -> int | None:
        """Return *preferred*, or another actor that is not lost, or None."""
        n = len(self.handles)
        for k in range(n):
            slot = (preferred + k) % n
            if not self.lost[slot]:
                return slot
        return None

    def mark_lost(self, slot: int) -> None:
        """Give actor *slot* up for the rest of the run."""
        with self.lock:
            if self.lost[slot]:
                return
            self.lost[slot] = True
            handle = self.handles[slot]
        _log.warning(
            "actor {slot} of stage {stage} did not come back; its work goes "
            "to the stage's other actors",
            slot=slot,
            stage=self.runner.name,
        )
        with contextlib.suppress(Exception):
            _ray().kill(handle, no_restart=True)

    def leave(self, *, cancelled: bool) -> None:
        """One parent thread leaves; the last one tears down and kills the actors."""
        with self.lock:
            self.threads_left -= 1
            if self.threads_left > 0:
                return
            handles = [(i, h) for i, h in enumerate(self.handles) if h is not None]
            self.handles = [None] * len(self.handles)
        r = self.runner
        timeout = r.rt.config.shutdown_timeout
        error: BaseException | None = None
        try:
            if handles:
                ray = _ray()
                if not cancelled and not r.rt.cancelled:
                    error = self._teardown(ray, handles, timeout)
                for _, h in handles:
                    with contextlib.suppress(Exception):
                        ray.kill(h, no_restart=True)
        finally:
            _STAGES.pop(r, None)
            _SESSION.release(timeout)
        if error is not None:
            raise error

    def _teardown(
        self, ray: Any, handles: list[tuple[int, Any]], timeout: float
    ) -> BaseException | None:
        refs = [h.teardown.remote() for i, h in handles if not self.lost[i]]
        deadline = time.monotonic() + timeout
        first: BaseException | None = None
        for ref in refs:
            try:
                got = ray.get(ref, timeout=max(0.0, deadline - time.monotonic()))
            except Exception as exc:
                _log.warning(
                    "teardown of an actor of stage {stage} did not finish: {exc}",
                    stage=self.runner.name,
                    exc=exc,
                )
                continue
            if got is not None and first is None:
                first = got
        return first


#: The `_Actors` of each running Ray stage.
_STAGES: weakref.WeakKeyDictionary[StageRunner, _Actors] = weakref.WeakKeyDictionary()


class RayWorker(CrashRetry):
    """One parent thread's view of a Ray stage: drives one actor (see module doc)."""

    crash_type = _Crashed

    def __init__(self, runner: StageRunner, index: int) -> None:
        ex = runner.executor
        if not isinstance(ex, RayExecutor):  # pragma: no cover - launch made it
            msg = f"stage {runner.name!r}: RayWorker needs a RayExecutor"
            raise ExecutorError(msg)
        self.runner = runner
        self.index = index
        self.executor = ex
        self.slot = (index // ex.max_in_flight) % ex.actors
        self.actors = _STAGES[runner]
        self.item_timeout = runner.stage.options.item_timeout

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Wait for Ray, create the stage's actors, wait until this one is set up."""
        try:
            self._start()
        except BaseException:
            # The runtime calls stop() only after a successful start().
            self.actors.leave(cancelled=True)
            raise

    def _start(self) -> None:
        r = self.runner
        ex = self.executor
        if r.rt.cancelled:
            raise Cancelled
        timeout = ex.actor_timeout
        started = time.monotonic()
        # Ray itself may take a while to start: never less than a minute.
        _SESSION.wait_ready(
            r, None if timeout is None else started + max(timeout, _RAY_START)
        )
        deadline = None if timeout is None else time.monotonic() + timeout
        with _SESSION.lock:
            owned, address = _SESSION.owned, _SESSION.address
        if owned and address != ex.address:
            wants = ex.address or "a private local instance"
            joined = address or "a private local instance"
            msg = (
                f"stage {r.name!r} wants Ray at {wants}, but this process "
                f"already uses {joined}; one process joins one cluster"
            )
            raise ExecutorError(msg)
        self.actors.create()
        try:
            pid, node = self._await_ready(self.slot, deadline, starting=True)
        except _Crashed as crash:
            msg = (
                f"stage {r.name!r}: Ray actor {self.slot} kept dying while it "
                f"started ({crash.detail})"
            )
            raise ExecutorError(msg) from None
        _log.debug(
            "worker {worker} of stage {stage} uses actor {slot} "
            "(pid {pid}, node {node})",
            worker=self.index,
            stage=r.name,
            slot=self.slot,
            pid=pid,
            node=node,
        )

    def stop(self, *, cancelled: bool) -> None:
        """Leave; the stage's last thread runs ``teardown()`` and kills the actors."""
        self.actors.leave(cancelled=cancelled)

    # -- waiting on Ray ----------------------------------------------------------

    def _get(self, ref: Any, deadline: float | None) -> Any:
        """``ray.get`` that wakes for cancels; raise `_Crashed` when the actor dies.

        Raises ``TimeoutError`` past *deadline* and `Cancelled` when the run
        is cancelled.
        """
        ray = _ray()
        exceptions = ray.exceptions
        rt = self.runner.rt
        while True:
            wait = _POLL
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - time.monotonic()))
            try:
                return ray.get(ref, timeout=wait)
            except exceptions.GetTimeoutError:
                if rt.cancelled:
                    raise Cancelled from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError from None
            except exceptions.RayTaskError as exc:
                # minigun's actor code raised: not a crash, a bug or a bad node.
                msg = f"stage {self.runner.name!r}: a Ray actor call failed: {exc}"
                raise ExecutorError(msg) from None
            except exceptions.RayError as exc:
                detail = f"{type(exc).__name__}: {exc}"
                raise _Crashed(detail) from None

    def _await_ready(
        self, slot: int, deadline: float | None, *, starting: bool = False
    ) -> tuple[int, str]:
        """Wait until actor *slot* answers (it ran ``setup()``); return (pid, node)."""
        r = self.runner
        acts = self.actors
        with acts.lock:
            handle = acts.handles[slot]
            ref = acts.ready_refs[slot]
            if ref is None or not starting:
                ref = handle.ready.remote()
        while True:
            try:
                pid, node, error = self._get(ref, deadline)
            except TimeoutError:
                if starting:
                    wanted = {
                        "CPU": self.executor.num_cpus,
                        **(self.executor.resources or {}),
                    }
                    msg = (
                        f"stage {r.name!r}: Ray actor {slot} did not start within "
                        f"{self.executor.actor_timeout}s; does some node have the "
                        f"resources it asks for ({wanted}) free? (see `ray status`)"
                    )
                    raise ExecutorError(msg) from None
                raise
            except _Crashed:
                # Died while starting (or restarting): ask again until the
                # deadline, unless Ray will not restart it.
                if (
                    deadline is not None and time.monotonic() >= deadline
                ) or _dead_for_good(handle):
                    raise
                r.rt.sleep(_POLL)
                ref = handle.ready.remote()
                continue
            if error is not None:
                raise error
            return pid, node

    # -- running units ---------------------------------------------------------

    def run_units(self, units: list[Any]) -> RemoteResult:
        """Run *units* on the actor in batches; retry the units of a crashed actor."""
        if self.item_timeout is not None and len(units) > 1:
            return RemoteResult.merge([self._run_batch([u]) for u in units])
        size = self.executor.batch_size
        if len(units) <= size:
            return self._run_batch(units)
        return RemoteResult.merge(
            [self._run_batch(units[i : i + size]) for i in range(0, len(units), size)]
        )

    def _crash_error(self, unit: Any, crash: _Crashed) -> Exception:
        r = self.runner
        if crash.timeout:
            return TimeoutError(
                f"stage {r.name!r}: item took longer than item_timeout="
                f"{self.item_timeout}s; its Ray actor was restarted"
            )
        return WorkerCrashedError(r.name, None, None, _short_repr(unit))

    def _after_crash(self, crash: _Crashed) -> None:
        """Wait until the crashed actor is back; move on if it never comes."""
        r = self.runner
        _log.warning(
            "actor {slot} of stage {stage} {what} ({detail}); waiting for Ray to "
            "restart it",
            slot=self.slot,
            stage=r.name,
            what="timed out" if crash.timeout else "died",
            detail=crash.detail,
        )
        if r.rt.cancelled:
            raise Cancelled
        slot = self.slot
        if self.actors.lost[slot]:
            self._move()
            return
        timeout = self.executor.actor_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._await_ready(slot, deadline)
        except (_Crashed, TimeoutError):
            self.actors.mark_lost(slot)
            self._move()

    def _move(self) -> None:
        other = self.actors.live_slot(self.slot)
        if other is not None:
            self.slot = other

    def _call(self, units: list[Any]) -> RemoteResult:
        """One round trip of *units*; raise `_Crashed` if the actor dies."""
        r = self.runner
        acts = self.actors
        if acts.lost[self.slot]:
            self._move()
        slot = self.slot
        handle = acts.handles[slot]
        if handle is None or acts.lost[slot]:
            detail = "no live actor left"
            raise _Crashed(detail)
        try:
            payload = _dumps(units)
        except Exception as exc:
            raise _culprit(r.name, "item", units) from exc
        t0 = time.perf_counter()
        ref = handle.run.remote(payload)
        deadline = None
        if self.item_timeout is not None:
            deadline = time.monotonic() + self.item_timeout * max(1, len(units))
        try:
            data = self._get(ref, deadline)
        except TimeoutError:
            # Kill the stuck call's actor; Ray restarts it (setup() again).
            with contextlib.suppress(Exception):
                _ray().kill(handle, no_restart=False)
            detail = "item_timeout"
            raise _Crashed(detail, timeout=True) from None
        msg = pickle.loads(data)  # noqa: S301 - our actor's bytes
        if msg[0] == "fatal":
            raise msg[1]
        _, out, tos, failures, stats, inner = msg
        c = Counters()
        c.items_failed, c.items_retried, _, c.samples = stats
        c.seen = len(units)
        # The stage is busy for the whole round trip (transport included), so
        # a slow link shows as this stage's utilisation, not as idle time.
        c.busy_time = time.perf_counter() - t0
        result = RemoteResult(out, tos, failures, c)
        result.inner = inner
        return result


def _request(runner: StageRunner) -> dict[str, float]:
    """What the run's Ray stages on a private instance ask for, in total."""
    total: dict[str, float] = {"CPU": 0.0}
    for other in runner.rt.runners:
        ex = other.executor
        if isinstance(ex, RayExecutor) and ex.address is None and other.uses_remote:
            total["CPU"] += ex.actors * ex.num_cpus
            for k, v in (ex.resources or {}).items():
                total[k] = total.get(k, 0.0) + ex.actors * v
    return total


@final
@attrs.frozen
class RayExecutor(Executor):
    """Run the stage on *workers* Ray actors (the ``ray`` extra).

    Each actor holds one copy of the stage (shipped with cloudpickle, so
    lambdas and closures work) and runs ``setup()`` once when it starts (and
    again if Ray restarts it after a crash) and ``teardown()`` at the end.
    Items cross in batches of up to *batch_size*; each actor holds at most
    *max_in_flight* batches, so the stage's bounded queue keeps
    back-pressure. Results come back in order per actor.

    With ``address=None`` the run starts a private local Ray instance (and
    stops it at the end), unless Ray is already initialised in this process,
    in which case that connection is used and left alone. With an address
    (``"10.0.0.5:6379"``, ``"auto"``) it joins that cluster as a driver.

    Args:
        workers: number of actors.
        address: a Ray cluster to join; ``None`` for a private local instance.
        batch_size: most units (items, or batches after an Accumulator) per call.
        max_in_flight: most batches in flight per actor.
        resources: Ray custom resources each actor needs (``{"node_a": 1}``).
        num_cpus: logical CPUs each actor reserves.
        runtime_env: Ray runtime environment of the actors (``pip``,
            ``working_dir``, ``env_vars``, ...).
        actor_options: further ``ray.remote`` actor options
            (``scheduling_strategy``, ``num_gpus``, ``memory``,
            ``max_restarts``, ...).
        actor_timeout: seconds an actor may take to start or restart
            (``setup()`` included) before minigun gives it up; ``None``
            waits for ever.

    Example:
        >>> import minigun as mg
        >>> from minigun.executors import RayExecutor
        >>> RayExecutor(workers=2).describe()
        'ray(2)'
    """

    _workers: int = attrs.field(default=2, validator=check_workers, alias="workers")
    address: str | None = attrs.field(default=None, validator=_check_address)
    batch_size: int = attrs.field(default=256, validator=check_workers)
    max_in_flight: int = attrs.field(default=1, validator=check_workers)
    resources: dict[str, float] | None = attrs.field(
        default=None, converter=_to_resources, hash=False
    )
    num_cpus: float = attrs.field(default=1, validator=_check_cpus)
    runtime_env: dict[str, Any] | None = attrs.field(
        default=None, converter=_to_mapping, hash=False
    )
    actor_options: dict[str, Any] | None = attrs.field(
        default=None,
        converter=_to_mapping,
        validator=_check_actor_options,
        hash=False,
    )
    actor_timeout: float | None = attrs.field(default=120.0, validator=_check_timeout)
    kind: ClassVar[str] = "ray"
    crosses_process: ClassVar[bool] = True
    concurrent: ClassVar[bool] = True

    @property
    def actors(self) -> int:
        """Number of Ray actors."""
        return self._workers

    @property
    def workers(self) -> int:
        """Batches in flight at once: ``workers * max_in_flight`` parent threads."""
        return self._workers * self.max_in_flight

    def available(self) -> str | None:
        """Ray must be installed (the ``ray`` extra)."""
        return ray_unavailable()

    def check_stage(self, stage: Stage[Any, Any]) -> str | None:
        """The stage must survive cloudpickle (it is shipped to each actor)."""
        try:
            _dumps(_portable_stage(stage))
        except Exception as exc:
            return (
                f"{stage.describe()} cannot be shipped to a Ray actor ({exc}); "
                "create what cannot be pickled in setup()"
            )
        return None

    def launch(self, runner: StageRunner) -> None:
        """Count this stage on the Ray session and start its parent threads."""
        threads = runner.workers
        _STAGES[runner] = _Actors(self, runner, threads)
        _SESSION.acquire(self.address, _request(runner))
        runner.spawn_workers(threads)

    def remote_worker(self, runner: StageRunner, index: int) -> RayWorker:
        """Return the driver of parent thread *index*.

        It drives actor ``index // max_in_flight``.
        """
        return RayWorker(runner, index)

    def describe(self) -> str:
        """Return ``"ray(n)"``."""
        return f"ray({self._workers})"
