"""Unit tests of minigun.Queue, single-threaded (SPEC §3)."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

import minigun as mg
from minigun import EndOfStream, WouldBlock


def test_default_capacity_is_1000() -> None:
    """A queue created without arguments holds 1000 items."""
    assert mg.Queue[int]().maxsize == 1000


def test_fifo_order() -> None:
    """Items come out in the order they went in."""
    queue: mg.Queue[str] = mg.Queue(3)
    for item in "abc":
        queue.put(item)
    assert [queue.get(), queue.get_nowait(), queue.get()] == ["a", "b", "c"]


def test_put_nowait_on_full_queue_raises_would_block() -> None:
    """put_nowait on a full queue raises WouldBlock and keeps the queue as it was."""
    queue: mg.Queue[int] = mg.Queue(2)
    queue.put(1)
    queue.put_nowait(2)
    with pytest.raises(WouldBlock):
        queue.put_nowait(3)
    assert [queue.get_nowait(), queue.get_nowait()] == [1, 2]


def test_put_with_zero_timeout_on_full_queue_raises_would_block() -> None:
    """put(timeout=0) on a full queue does not wait."""
    queue: mg.Queue[int] = mg.Queue(1)
    queue.put(1)
    with pytest.raises(WouldBlock):
        queue.put(2, timeout=0)


def test_get_nowait_on_empty_queue_raises_would_block() -> None:
    """get_nowait on an empty open queue raises WouldBlock."""
    queue: mg.Queue[int] = mg.Queue(2)
    with pytest.raises(WouldBlock):
        queue.get_nowait()


def test_get_with_zero_timeout_on_empty_queue_raises_would_block() -> None:
    """get(timeout=0) on an empty open queue does not wait."""
    queue: mg.Queue[int] = mg.Queue(2)
    with pytest.raises(WouldBlock):
        queue.get(timeout=0)


def test_room_frees_after_get() -> None:
    """Taking an item from a full queue makes room for one more."""
    queue: mg.Queue[int] = mg.Queue(1)
    queue.put(1)
    queue.get()
    queue.put_nowait(2)
    assert queue.get_nowait() == 2


def test_close_makes_puts_raise_end_of_stream() -> None:
    """After close(), put and put_nowait raise EndOfStream."""
    queue: mg.Queue[int] = mg.Queue(2)
    queue.close()
    with pytest.raises(EndOfStream):
        queue.put(1)
    with pytest.raises(EndOfStream):
        queue.put_nowait(1)


def test_close_on_full_queue_makes_put_raise_end_of_stream() -> None:
    """A put on a closed and full queue raises EndOfStream, not WouldBlock."""
    queue: mg.Queue[int] = mg.Queue(1)
    queue.put(1)
    queue.close()
    with pytest.raises(EndOfStream):
        queue.put_nowait(2)


def test_gets_drain_a_closed_queue_then_raise_end_of_stream() -> None:
    """After close(), gets return what is left, then raise EndOfStream."""
    queue: mg.Queue[int] = mg.Queue(3)
    queue.put(1)
    queue.put(2)
    queue.close()
    assert [queue.get(), queue.get_nowait()] == [1, 2]
    with pytest.raises(EndOfStream):
        queue.get()
    with pytest.raises(EndOfStream):
        queue.get_nowait()


def test_close_is_idempotent() -> None:
    """Closing twice is allowed and changes nothing."""
    queue: mg.Queue[int] = mg.Queue(3)
    queue.put(1)
    queue.close()
    queue.close()
    assert (queue.closed, queue.get()) == (True, 1)


def test_statistics_track_depth_max_depth_and_state() -> None:
    """statistics() reports depth now, max depth ever, capacity and closed."""
    queue: mg.Queue[int] = mg.Queue(5)
    for n in range(4):
        queue.put(n)
    queue.get()
    queue.get()
    queue.put(9)
    before = queue.statistics()
    queue.close()
    after = queue.statistics()
    assert (before.depth, before.max_depth, before.maxsize, before.closed) == (
        3,
        4,
        5,
        False,
    )
    assert (after.depth, after.max_depth, after.closed) == (3, 4, True)


def test_statistics_of_a_new_queue() -> None:
    """A new queue reports zero depth and max depth."""
    stats = mg.Queue[int](7).statistics()
    assert (stats.depth, stats.max_depth, stats.maxsize, stats.closed) == (
        0,
        0,
        7,
        False,
    )


@pytest.mark.parametrize("maxsize", [0, None])
def test_zero_or_none_means_unbounded(maxsize: int | None) -> None:
    """maxsize 0 or None never blocks a put."""
    queue: mg.Queue[int] = mg.Queue(maxsize)
    for n in range(5000):
        queue.put_nowait(n)
    stats = queue.statistics()
    assert (queue.maxsize, stats.maxsize, stats.depth, stats.max_depth) == (
        None,
        None,
        5000,
        5000,
    )


def test_len_is_the_number_of_waiting_items() -> None:
    """len(queue) counts the waiting items."""
    queue: mg.Queue[int] = mg.Queue(4)
    queue.put(1)
    queue.put(2)
    queue.get()
    assert len(queue) == 1


def test_values_pass_through_unchanged() -> None:
    """None, lists and falsy values are items like any other."""
    queue: mg.Queue[Any] = mg.Queue(5)
    items: list[Any] = [None, [1, 2], 0, "", False]
    for item in items:
        queue.put(item)
    assert [queue.get() for _ in items] == items


# --------------------------------------------------------------------------
# Stateful model test: Queue against a deque


class QueueModel(RuleBasedStateMachine):
    """Drive a Queue and a deque model with the same non-blocking operations."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: mg.Queue[int] = mg.Queue(1)
        self.model: deque[int] = deque()
        self.maxsize: int | None = 1
        self.closed = False
        self.max_depth = 0

    @initialize(maxsize=st.sampled_from([None, 0, 1, 2, 5]))
    def create(self, maxsize: int | None) -> None:
        """Create the queue with a capacity (0/None: unbounded)."""
        self.queue = mg.Queue(maxsize)
        self.maxsize = maxsize or None

    def full(self) -> bool:
        """Return whether the model is at capacity."""
        return self.maxsize is not None and len(self.model) >= self.maxsize

    @rule(item=st.integers())
    def put_nowait(self, item: int) -> None:
        """put_nowait adds, or raises EndOfStream when closed, WouldBlock when full."""
        if self.closed:
            with pytest.raises(EndOfStream):
                self.queue.put_nowait(item)
        elif self.full():
            with pytest.raises(WouldBlock):
                self.queue.put_nowait(item)
        else:
            self.queue.put_nowait(item)
            self.model.append(item)
            self.max_depth = max(self.max_depth, len(self.model))

    @precondition(lambda self: self.closed or not self.full())
    @rule(item=st.integers())
    def put(self, item: int) -> None:
        """A blocking put that cannot block: adds, or EndOfStream when closed."""
        if self.closed:
            with pytest.raises(EndOfStream):
                self.queue.put(item)
        else:
            self.queue.put(item)
            self.model.append(item)
            self.max_depth = max(self.max_depth, len(self.model))

    @rule()
    def get_nowait(self) -> None:
        """get_nowait returns the oldest item, or WouldBlock / EndOfStream."""
        if self.model:
            assert self.queue.get_nowait() == self.model.popleft()
        elif self.closed:
            with pytest.raises(EndOfStream):
                self.queue.get_nowait()
        else:
            with pytest.raises(WouldBlock):
                self.queue.get_nowait()

    @precondition(lambda self: self.closed or bool(self.model))
    @rule()
    def get(self) -> None:
        """A blocking get that cannot block: the oldest item or EndOfStream."""
        if self.model:
            assert self.queue.get() == self.model.popleft()
        else:
            with pytest.raises(EndOfStream):
                self.queue.get()

    @rule()
    def close(self) -> None:
        """close() refuses further puts (idempotent)."""
        self.queue.close()
        self.closed = True

    @invariant()
    def statistics_agree(self) -> None:
        """Depth, max depth, capacity and closed state match the model."""
        stats = self.queue.statistics()
        assert (stats.depth, stats.max_depth, stats.maxsize, stats.closed) == (
            len(self.model),
            self.max_depth,
            self.maxsize,
            self.closed,
        )
        assert len(self.queue) == len(self.model)


TestQueueModel = QueueModel.TestCase
