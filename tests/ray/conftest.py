"""Ray tests: fenced from the network, with a private temp dir and no leftovers.

Everything here runs only when Ray is installed (each module starts with
``pytest.importorskip("ray")``, so without Ray the folder is skipped with a
reason). At import, before any test module imports Ray, this file fences
Ray off the network: usage stats off, their report URL and every HTTP(S)
proxy pointed at a closed loopback port, token authentication with one
token for every driver and node of the session, and a short per-session
``RAY_TMPDIR`` (Ray's unix sockets need a short path). The fence is for the
tests only; minigun itself never touches these variables. For a stronger
guarantee run the folder in a loopback-only network namespace::

    unshare -n sh -c 'ip link set lo up; exec .venv/bin/python -m pytest tests/ray -q'

Each module that needs Ray running starts one local instance (`ray_local`);
tests of minigun's private instance run in their own module without it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

if TYPE_CHECKING:
    from tests.ray.raytools import FENCE, kill_all, minigun_threads, ray_processes
else:  # the name the test modules import it by
    from raytools import FENCE, kill_all, minigun_threads, ray_processes

#: One temp dir per pytest session, short enough for Ray's unix sockets.
TMP = tempfile.mkdtemp(prefix="mgray-", dir="/tmp")
os.environ.update(FENCE)
os.environ["RAY_TMPDIR"] = TMP
os.environ["RAY_AUTH_MODE"] = "token"
os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
# A stray RAY_ADDRESS would send ray.init() to some other cluster.
os.environ.pop("RAY_ADDRESS", None)

#: Seconds a test's threads get to disappear after it ended.
GRACE = 5.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``ray``."""
    for item in items:
        if str(item.path).startswith(HERE + os.sep):
            item.add_marker(pytest.mark.ray)


def pytest_sessionfinish() -> None:
    """Kill (by pid) anything Ray left behind, then remove the temp dir."""
    kill_all(ray_processes(TMP))
    shutil.rmtree(TMP, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_tmp() -> str:
    """The session's Ray temp dir (``RAY_TMPDIR``)."""
    return TMP


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    """A local Ray instance for one test module (minigun then uses it as is)."""
    ray = pytest.importorskip("ray")
    ray.init(
        address="local",
        include_dashboard=False,
        num_cpus=4,
        resources={"slot": 4},
        logging_level="warning",
    )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(autouse=True)
def no_thread_leak() -> Iterator[None]:
    """Fail the test if a ``minigun:`` thread outlives it (after a grace period)."""
    yield
    deadline = time.monotonic() + GRACE
    alive = minigun_threads()
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = minigun_threads()
    assert alive == [], f"minigun threads still alive after the test: {alive}"


@pytest.fixture
def no_live_actors(ray_local: Any) -> Iterator[None]:
    """Fail the test if one of its Ray actors is still alive after it."""
    from ray._private import state  # noqa: PLC0415 - white box

    def alive() -> list[str]:
        table: dict[str, Any] = state.actors()
        return [k for k, v in table.items() if v.get("State") != "DEAD"]

    before = set(alive())
    yield
    deadline = time.monotonic() + GRACE
    left = [a for a in alive() if a not in before]
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [a for a in alive() if a not in before]
    assert left == [], f"Ray actors still alive after the test: {left}"
