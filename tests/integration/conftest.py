"""Integration fixtures: executor parametrization and a thread-leak check."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Seconds a test's minigun threads get to exit after the test ended.
THREAD_GRACE = 2.0


@pytest.fixture(params=[{}, {"threads": 3}], ids=["inline", "threads"])
def executor_opts(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Stage options selecting the executor: inline (the default) or 3 threads."""
    return dict(request.param)


def _minigun_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("minigun:")]


@pytest.fixture(autouse=True)
def no_thread_leak() -> Iterator[None]:
    """Fail the test if a ``minigun:`` thread outlives it (after a short grace)."""
    yield
    deadline = time.monotonic() + THREAD_GRACE
    alive = _minigun_threads()
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = _minigun_threads()
    assert alive == [], f"minigun threads still alive after the test: {alive}"
