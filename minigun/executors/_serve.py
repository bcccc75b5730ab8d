"""The worker side of the batch protocol (runtime layer).

Shared by forked workers and subinterpreters.

Messages are pickled tuples: the parent sends a list of units (``None``
means "stop"); the worker answers ``("result", outputs, routed, failures,
counters, inner)`` for each list, ``("fatal", error)`` when it cannot go on,
and ``("bye",)`` after ``teardown()``.
"""

from __future__ import annotations

import contextlib
import pickle
import time
from typing import TYPE_CHECKING, Any

from .._policy import run_with_retries
from .._stats import Counters
from ..errors import NotPicklableError, StageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._policy import RetryPolicy
    from .._stage import Stage

__all__ = ("PROTOCOL", "culprit", "portable_error", "serve")

PROTOCOL = pickle.HIGHEST_PROTOCOL


def culprit(stage: str, what: str, values: list[Any]) -> NotPicklableError:
    """Find which of *values* does not pickle; describe it."""
    for v in values:
        try:
            pickle.dumps(v, PROTOCOL)
        except Exception as exc:
            return NotPicklableError(stage, what, type(v).__qualname__, str(exc))
    return NotPicklableError(stage, what, "unknown", "pickling the batch failed")


def portable_error(exc: BaseException) -> BaseException:
    """Return *exc*, or a RuntimeError describing it if it cannot cross."""
    try:
        pickle.loads(pickle.dumps(exc, PROTOCOL))  # noqa: S301 - our own bytes
    except Exception:
        return RuntimeError(f"{type(exc).__qualname__}: {exc}")
    return exc


def serve(
    name: str,
    stage: Stage[Any, Any],
    policy: RetryPolicy,
    recv: Callable[[], bytes | None],
    send: Callable[[tuple[Any, ...]], None],
    ready: Any,
) -> int:
    """Set the stage up, answer unit lists until told to stop, tear down.

    Returns the exit code (0, or 1 after a fatal error was sent).
    """

    def fatal(exc: BaseException) -> int:
        with contextlib.suppress(OSError):
            send(("fatal", portable_error(exc)))
        return 1

    try:
        stage.setup()
    except Exception as exc:
        return fatal(StageError(name, None, exc))
    kernel = stage.kernel([], [])
    out = kernel.out
    tos = kernel.tos
    run = kernel.run
    perf = time.perf_counter
    send(("ready", ready))
    while True:
        try:
            data = recv()
        except (EOFError, OSError):
            break
        if data is None:
            break
        units = pickle.loads(data)  # noqa: S301 - our parent's bytes
        if units is None:
            break
        c = Counters()
        failures: list[tuple[Any, BaseException]] = []
        for unit in units:
            t0 = perf()
            error = run_with_retries(run, unit, policy, c, time.sleep)
            dt = perf() - t0
            c.busy_time += dt
            c.sample(dt)
            if error is not None:
                failures.append((unit, portable_error(error)))
        msg = (
            "result",
            out[:],
            tos[:],
            failures,
            (c.items_failed, c.items_retried, c.busy_time, c.samples),
            getattr(kernel, "inner_stats", None),
        )
        out.clear()
        tos.clear()
        try:
            send(msg)
        except (pickle.PicklingError, TypeError, AttributeError):
            return fatal(culprit(name, "result", [*msg[1], *msg[2]]))
    try:
        stage.teardown()
    except Exception as exc:
        return fatal(StageError(name, None, exc))
    with contextlib.suppress(OSError):
        send(("bye",))
    return 0
