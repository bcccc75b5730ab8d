"""RunHandle end to end: send, close, wait, statistics, trigger, stop (SPEC §8)."""

from __future__ import annotations

import itertools
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun.testing import ListSink

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

TIMEOUT = 10.0


def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """An event that holds a stage; set when the test ends so no thread stays stuck."""
    event = threading.Event()
    yield event
    event.set()


def test_send_close_wait(executor_opts: dict[str, Any]) -> None:
    """Items sent to a started run flow; close() then wait() returns the report."""
    pipe = mg.Pipeline("fed")
    pipe.add(mg.Processor("double", lambda n: n * 2, **executor_opts))
    sink = pipe.add(ListSink("sink"))

    handle = pipe.start()
    try:
        for n in range(5):
            handle.send(n, to="double")
        assert handle.running
    finally:
        handle.close()
    report = handle.wait(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [0, 2, 4, 6, 8]
    assert report.stages["double"].items_in == 5
    assert not handle.running


def test_send_to_a_stage_object(executor_opts: dict[str, Any]) -> None:
    """send(item, to=stage) accepts the Stage object as well as its name."""
    pipe = mg.Pipeline("fed")
    double: mg.Processor[int, int] = pipe.add(
        mg.Processor("double", lambda n: n * 2, **executor_opts)
    )
    sink = pipe.add(ListSink("sink"))

    handle = pipe.start()
    handle.send(21, to=double)
    handle.close()
    handle.wait(timeout=TIMEOUT)

    assert sink.items == [42]


def test_run_stays_open_until_close() -> None:
    """A started run without producers stays open until close() is called."""
    pipe = mg.Pipeline("open")
    pipe.add(ListSink("sink"))

    handle = pipe.start()
    try:
        with pytest.raises(TimeoutError):
            handle.wait(timeout=0.2)
        assert handle.running
    finally:
        handle.close()
    report = handle.wait(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert not handle.running


def test_statistics_while_running(
    executor_opts: dict[str, Any], gate: threading.Event
) -> None:
    """statistics() returns a live snapshot while a stage is held by a gate."""

    def held(n: int) -> int:
        gate.wait(TIMEOUT)
        return n

    pipe = mg.Pipeline("live")
    pipe.add(mg.Producer("src", lambda: range(5)))
    pipe.add(mg.Processor("held", held, **executor_opts))
    sink = pipe.add(ListSink("sink"))

    handle = pipe.start()
    handle.close()
    try:
        # How far the producer runs ahead of the held stage depends on the
        # micro-batch size; it has produced at least the item being held.
        produced = _until(lambda: handle.statistics().total_produced >= 1)
        live = handle.statistics()
        assert produced
        assert handle.running
        assert live.status == "running"
        assert live.stages["held"].items_out == 0
        assert live.stages["sink"].items_in == 0
        assert sink.items == []
    finally:
        gate.set()
    report = handle.wait(timeout=TIMEOUT)

    assert report.stages["held"].items_out == 5
    assert sorted(sink.items) == list(range(5))


@pytest.mark.parametrize("first", ["close", "trigger"])
def test_trigger_starts_a_manual_producer(
    executor_opts: dict[str, Any], first: str
) -> None:
    """An auto_start=False producer runs when triggered; the run ends after close."""
    pipe = mg.Pipeline("manual")
    pipe.add(mg.Producer("src", lambda: range(4), auto_start=False))
    sink = pipe.add(ListSink("sink", **executor_opts))

    handle = pipe.start()
    try:
        if first == "close":
            handle.close()
        else:
            handle.trigger("src")
        with pytest.raises(TimeoutError):
            handle.wait(timeout=0.3)
        assert handle.running
        if first == "close":
            assert sink.items == []
    finally:
        handle.trigger("src")
        handle.close()
    report = handle.wait(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [0, 1, 2, 3]


def test_run_with_a_manual_producer_is_a_definition_error() -> None:
    """run() refuses a producer with auto_start=False (nothing could trigger it)."""
    pipe = mg.Pipeline("manual")
    pipe.add(mg.Producer("src", lambda: range(4), auto_start=False))
    pipe.add(ListSink("sink"))

    with pytest.raises(mg.DefinitionError, match="src"):
        pipe.run(timeout=TIMEOUT)


def test_stop_ends_an_infinite_producer(executor_opts: dict[str, Any]) -> None:
    """stop() stops an endless producer and drains what is in flight."""
    pipe = mg.Pipeline("endless")
    pipe.add(mg.Producer("src", itertools.count))
    sink = pipe.add(ListSink("sink", queue_size=10, **executor_opts))

    handle = pipe.start()
    try:
        assert _until(lambda: len(sink.items) > 100)
    finally:
        handle.stop()
    report = handle.wait(timeout=TIMEOUT)

    assert report.status in {"succeeded", "cancelled"}
    assert report.errors == ()
    assert report.total_consumed == report.total_produced
    assert sorted(sink.items) == list(range(report.total_produced))


def test_send_after_close_raises_routing_error() -> None:
    """send() after close() raises RoutingError."""
    pipe = mg.Pipeline("closed")
    pipe.add(ListSink("sink"))

    handle = pipe.start()
    handle.close()
    handle.close()  # idempotent
    with pytest.raises(mg.RoutingError):
        handle.send(1, to="sink")
    handle.wait(timeout=TIMEOUT)


def test_send_to_unknown_stage_raises_routing_error() -> None:
    """send() to a name no stage has raises RoutingError."""
    pipe = mg.Pipeline("unknown")
    pipe.add(ListSink("sink"))

    handle = pipe.start()
    try:
        with pytest.raises(mg.RoutingError):
            handle.send(1, to="nowhere")
    finally:
        handle.close()
    handle.wait(timeout=TIMEOUT)
