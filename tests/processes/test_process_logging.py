"""Log records of forked workers reach the parent; forks and exits are logged."""

from __future__ import annotations

import os
from typing import Any

import minigun as mg
from minigun.testing import ListSink, capture_logs

TIMEOUT = 20.0


def _log_from_child(n: int) -> int:
    from loguru import logger  # noqa: PLC0415 - imported where the user would

    logger.bind().info("hello from child")
    return n


def _pipeline(fn: Any, **opts: Any) -> mg.Pipeline:
    pipe = mg.Pipeline("logs")
    pipe.add(mg.Producer("src", lambda: range(4)))
    pipe.add(mg.Processor("work", fn, **opts))
    pipe.add(ListSink("sink"))
    return pipe


def test_child_log_records_reach_the_parent() -> None:
    """A record logged in a worker arrives in the parent, tagged with the child pid."""
    with capture_logs() as records:
        _pipeline(_log_from_child, processes=2).run(timeout=TIMEOUT)

    hello = [r for r in records if r["message"] == "hello from child"]
    assert len(hello) == 4
    assert {r["level"] for r in hello} == {"INFO"}
    pids = {r["extra"].get("child_pid") for r in hello}
    assert None not in pids
    assert os.getpid() not in pids


def test_forks_and_exits_are_logged_at_debug() -> None:
    """DEBUG records say when each worker forked and when it exited."""
    with capture_logs("DEBUG") as records:
        _pipeline(lambda n: n, processes=2).run(timeout=TIMEOUT)

    debug = [r["message"] for r in records if r["level"] == "DEBUG"]
    forked = [m for m in debug if "forked worker" in m]
    exited = [m for m in debug if "exited" in m]
    assert len(forked) == 2, debug
    assert len(exited) == 2, debug


def test_child_log_records_reach_a_plain_loguru_sink() -> None:
    """A user's own loguru sink in the parent receives records logged in workers."""
    from loguru import logger  # noqa: PLC0415 - the user's logger

    received: list[tuple[str, Any]] = []
    handler = logger.add(
        lambda m: received.append((m.record["message"], m.record["extra"])),
        level="INFO",
    )
    try:
        _pipeline(_log_from_child, processes=2).run(timeout=TIMEOUT)
    finally:
        logger.remove(handler)

    hello = [extra for message, extra in received if message == "hello from child"]
    assert len(hello) == 4
    pids = {extra.get("child_pid") for extra in hello}
    assert None not in pids
    assert os.getpid() not in pids
