"""Stage functions and classes the interpreter tests send into subinterpreters.

A subinterpreter receives its stage by pickle, so everything it runs must be
importable by name. ``conftest.py`` puts this folder on ``sys.path``; each
subinterpreter copies the parent's ``sys.path``, so ``import interp_stages``
works on both sides. Keep everything here at module level.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import minigun as mg

#: Loop iterations of one unit of CPU work (about 0.1 s on CPython 3.13 here).
CPU_UNIT = 1_500_000


def interpreter_id() -> int:
    """Return the id of the running interpreter (0 is the main interpreter)."""
    try:
        interpreters = importlib.import_module("_interpreters")
    except ImportError:  # before 3.13: only the main interpreter matters here
        return 0
    return int(interpreters.get_current()[0])


def minigun_threads() -> list[str]:
    """Names of the live ``minigun:`` threads."""
    return [t.name for t in threading.enumerate() if t.name.startswith("minigun:")]


def sub_interpreters() -> list[int]:
    """Ids of the live subinterpreters (the main interpreter excluded)."""
    try:
        interpreters = importlib.import_module("_interpreters")
    except ImportError:  # before 3.13 minigun creates no interpreters
        return []
    return sorted(int(i[0]) for i in interpreters.list_all() if int(i[0]) != 0)


def ident(item: Any) -> Any:
    """Return *item* unchanged."""
    return item


def square(n: int) -> int:
    """Return ``n * n``."""
    return n * n


def where(n: int) -> tuple[int, int, int]:
    """Return ``(n, native thread id, interpreter id)``."""
    time.sleep(0.002)
    return (n, threading.get_native_id(), interpreter_id())


def burn(n: int) -> int:
    """Pure-Python CPU work: a sum of squares over ``range(n)``."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def cpu_unit(n: int) -> int:
    """One unit of CPU work (`CPU_UNIT` iterations); returns *n*."""
    burn(CPU_UNIT)
    return n


_attempted: set[int] = set()


def flaky(n: int) -> int:
    """Fail the first attempt at each item (per interpreter), then succeed."""
    if n not in _attempted:
        _attempted.add(n)
        msg = f"first attempt at {n}"
        raise ConnectionError(msg)
    return n * 10


def fail_on_three(n: int) -> int:
    """Raise ``ValueError`` for the item 3; return the other items squared."""
    if n == 3:
        msg = f"bad item {n}"
        raise ValueError(msg)
    return n * n


#: What `record_failure` saw, in the process that called it (the parent).
FAILURES: list[tuple[Any, BaseException]] = []


def record_failure(item: Any, error: BaseException) -> None:
    """An ``on_error`` callable: remember the item and the error."""
    FAILURES.append((item, error))


def split(n: int, emit: Any) -> None:
    """Emit *n* and ``-n`` through ``emit``."""
    emit(n)
    emit(-n)


def route_odd(n: int) -> Any:
    """Send odd items straight to the stage ``odds`` with `To`; return the rest."""
    if n % 2:
        return mg.To("odds", n)
    return n


def emit_odd_to(n: int, emit: Any) -> None:
    """Route odd items to ``odds`` with ``emit(n, to=...)``; emit even items."""
    if n % 2:
        emit(n, to="odds")
    else:
        emit(n)


def jitter(n: int) -> int:
    """Sleep 0-8 ms depending on *n*, so items finish out of input order."""
    time.sleep(((n * 7) % 5) / 500)
    return n


def nap(n: int) -> int:
    """Sleep 0.2 s; return *n*."""
    time.sleep(0.2)
    return n


def unpicklable(n: int) -> Any:
    """Return a lock, which cannot be pickled back to the parent."""
    del n
    return threading.Lock()


def batch_info(batch: list[int]) -> tuple[int, int, float, float]:
    """Return ``(interpreter id, sum, start, end)`` of a batch; takes 0.1 s."""
    start = time.monotonic()
    time.sleep(0.1)
    return (interpreter_id(), sum(batch), start, time.monotonic())


class Doubler(mg.Processor[int, int]):
    """A module-level Processor subclass: doubles each item."""

    def process(self, item: int) -> int:
        """Return ``2 * item``."""
        return item * 2


#: Environment variable holding the path `Recorder` writes to (the process
#: environment is shared with subinterpreters).
LOG_ENV = "MINIGUN_INTERP_TEST_LOG"


class Recorder(mg.Processor[int, tuple[int, int]]):
    """Writes a line per ``setup()``/``teardown()`` to ``$MINIGUN_INTERP_TEST_LOG``.

    Each line is ``"<event> <native thread id> <interpreter id>"``; items come
    out as ``(item, interpreter id)``.
    """

    def _write(self, event: str) -> None:
        with Path(os.environ[LOG_ENV]).open("a", encoding="utf-8") as f:
            f.write(f"{event} {threading.get_native_id()} {interpreter_id()}\n")

    def setup(self) -> None:
        """Record this worker's thread and interpreter."""
        self._write("setup")

    def teardown(self) -> None:
        """Record this worker's thread and interpreter again."""
        self._write("teardown")

    def process(self, item: int) -> tuple[int, int]:
        """Return ``(item, interpreter id)``."""
        time.sleep(0.001)
        return (item, interpreter_id())


class Tagger(mg.Processor[int, tuple[int, str]]):
    """A Processor subclass with its own constructor argument: tags items."""

    def __init__(self, name: str, tag: str, **opts: Any) -> None:
        self.tag = tag
        super().__init__(name, None, **opts)

    def process(self, item: int) -> tuple[int, str]:
        """Return ``(item, tag)``."""
        return (item, self.tag)


class BadSetup(mg.Processor[int, int]):
    """A Processor whose ``setup()`` always fails."""

    def setup(self) -> None:
        """Fail like a database that cannot be reached."""
        msg = "database unreachable"
        raise RuntimeError(msg)

    def process(self, item: int) -> int:
        """Return *item* (never reached)."""
        return item
