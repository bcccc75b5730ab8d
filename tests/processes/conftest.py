"""Fixtures of the process tests: no child process or minigun thread may leak."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: Seconds a test's children and minigun threads get to disappear after it ended.
GRACE = 2.0


def children_of(pid: int) -> list[int]:
    """Return the pids whose parent is *pid* (zombies included), from /proc."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process vanished while we looked
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def pid_exists(pid: int) -> bool:
    """Whether a process (zombie or not) with *pid* exists."""
    return Path(f"/proc/{pid}").exists()


@pytest.fixture
def list_children() -> Callable[[int], list[int]]:
    """The `children_of` helper, for tests that inspect other processes."""
    return children_of


@pytest.fixture
def alive() -> Callable[[int], bool]:
    """The `pid_exists` helper."""
    return pid_exists


def _minigun_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("minigun:")]


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail the test if a child process or a ``minigun:`` thread outlives it."""
    yield
    me = os.getpid()
    deadline = time.monotonic() + GRACE
    children = children_of(me)
    threads = _minigun_threads()
    while (children or threads) and time.monotonic() < deadline:
        time.sleep(0.02)
        children = children_of(me)
        threads = _minigun_threads()
    for pid in children:  # clean up so one leak does not fail the next tests too
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    assert children == [], f"child processes left after the test: {children}"
    assert threads == [], f"minigun threads still alive after the test: {threads}"
