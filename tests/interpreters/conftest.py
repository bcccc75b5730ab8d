"""Fixtures of the interpreter tests: importable stages and a leak check.

This folder goes on ``sys.path`` so ``import interp_stages`` works in the
test modules and in every subinterpreter (which copies the parent's
``sys.path``). After each test, no ``minigun:`` thread, child process or
subinterpreter other than the main one may be left.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

if TYPE_CHECKING:
    from tests.interpreters.interp_stages import minigun_threads, sub_interpreters
else:  # the name subinterpreters import it by
    from interp_stages import minigun_threads, sub_interpreters

#: Seconds a test's threads and interpreters get to disappear after it ended.
GRACE = 3.0


def child_processes() -> list[int]:
    """Pids whose parent is this process, from /proc (empty elsewhere)."""
    me = os.getpid()
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == me:
            found.append(int(entry.name))
    return sorted(found)


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail the test if a minigun thread, child or subinterpreter outlives it."""
    yield
    deadline = time.monotonic() + GRACE

    def left() -> tuple[list[str], list[int], list[int]]:
        return minigun_threads(), sub_interpreters(), child_processes()

    threads, interps, children = left()
    while (threads or interps or children) and time.monotonic() < deadline:
        time.sleep(0.02)
        threads, interps, children = left()
    assert threads == [], f"minigun threads still alive after the test: {threads}"
    assert interps == [], f"subinterpreters still alive after the test: {interps}"
    assert children == [], f"child processes left after the test: {children}"
