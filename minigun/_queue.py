"""Bounded queue with bulk hand-off, close and cancel (runtime layer).

Items are stored one by one (capacity counts items), but the runtime moves
them in lists: one lock round trip per micro-batch, not per item. All queues
of a run share the run's lock, so the runtime can account for items in
flight consistently (end-of-stream detection).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Generic, TypeVar, final

import attrs

from .errors import EndOfStream, WouldBlock

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ("Cancelled", "Queue", "QueueStatistics")

T = TypeVar("T")


class Cancelled(Exception):  # noqa: N818 - internal control flow
    """The run was cancelled; the waiting thread must unwind."""


@final
@attrs.frozen
class QueueStatistics:
    """A snapshot of a queue."""

    depth: int
    """Items waiting now."""
    max_depth: int
    """Most items ever waiting."""
    maxsize: int | None
    """Capacity (``None``: unbounded)."""
    closed: bool


@final
class Queue(Generic[T]):
    """A stage's bounded FIFO input queue.

    A full queue blocks the sender (back-pressure). After `close`, puts fail
    and gets drain what is left, then raise `EndOfStream`.

    Args:
        maxsize: capacity in items; ``0`` or ``None``: unbounded.
        lock: the lock to share (the runtime shares one per run).
        not_empty: a condition on *lock* to notify on puts (shared by the
            queues one thread serves); a new one by default.

    Example:
        >>> from minigun import Queue
        >>> q = Queue(2)
        >>> q.put(1); q.put(2)
        >>> q.get_nowait()
        1
    """

    __slots__ = (
        "_cancelled",
        "_closed",
        "_items",
        "_lock",
        "_max_depth",
        "_not_empty",
        "_not_full",
        "maxsize",
    )

    def __init__(
        self,
        maxsize: int | None = 1000,
        *,
        lock: threading.Lock | threading.RLock | None = None,
        not_empty: threading.Condition | None = None,
    ) -> None:
        """Create a queue; see the class docstring."""
        self.maxsize = maxsize or None
        self._lock = lock if lock is not None else threading.Lock()
        self._not_full = threading.Condition(self._lock)
        self._not_empty = (
            not_empty if not_empty is not None else threading.Condition(self._lock)
        )
        self._items: deque[T] = deque()
        self._closed = False
        self._cancelled = False
        self._max_depth = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    def free(self) -> int:
        """Return the free capacity now (a large number when unbounded)."""
        if self.maxsize is None:
            return 1 << 30
        return max(0, self.maxsize - len(self._items))

    # -- single items (public API) -----------------------------------------

    def put(self, item: T, timeout: float | None = None) -> None:
        """Put *item*, waiting while the queue is full.

        Raises:
            EndOfStream: the queue is closed.
            WouldBlock: *timeout* passed while full.
        """
        with self._lock:
            self.put_locked([item], timeout)

    def put_nowait(self, item: T) -> None:
        """Put *item* or raise `WouldBlock` if the queue is full.

        Raises:
            EndOfStream: the queue is closed.
            WouldBlock: the queue is full.
        """
        self.put(item, timeout=0)

    def get(self, timeout: float | None = None) -> T:
        """Take the oldest item, waiting while the queue is empty.

        Raises:
            EndOfStream: the queue is closed and empty.
            WouldBlock: *timeout* passed while empty.
        """
        with self._lock:
            batch = self._get_locked(1, timeout)
        if not batch:
            raise EndOfStream
        return batch[0]

    def get_nowait(self) -> T:
        """Take the oldest item or raise `WouldBlock` if the queue is empty.

        Raises:
            EndOfStream: the queue is closed and empty.
            WouldBlock: the queue is empty.
        """
        return self.get(timeout=0)

    def close(self) -> None:
        """Refuse further puts; gets drain what is left (idempotent)."""
        with self._lock:
            self.close_locked()

    def statistics(self) -> QueueStatistics:
        """Return a snapshot of the queue."""
        return QueueStatistics(
            len(self._items), self._max_depth, self.maxsize, self._closed
        )

    # -- bulk and lock-held forms (runtime) --------------------------------

    def close_locked(self) -> None:
        """`close` with the lock already held."""
        self._closed = True
        self._not_empty.notify_all()
        self._not_full.notify_all()

    def cancel_locked(self) -> None:
        """Wake every waiter with `Cancelled` (the lock is held)."""
        self._cancelled = True
        self._not_empty.notify_all()
        self._not_full.notify_all()

    def put_locked(
        self, items: list[T], timeout: float | None, *, bounded: bool = True
    ) -> float:
        """Put all *items* (lock held); return the seconds spent blocked.

        With ``bounded=False`` the capacity is ignored (the caller is the
        thread that drains this queue, so waiting would never end).
        """
        if self._cancelled:
            raise Cancelled
        if self._closed:
            raise EndOfStream
        items_q = self._items
        maxsize = self.maxsize if bounded else None
        if maxsize is None:
            items_q.extend(items)
            self._note_depth()
            self._not_empty.notify(len(items))
            return 0.0
        blocked = 0.0
        start = 0
        n = len(items)
        deadline = None if timeout is None else time.monotonic() + timeout
        while start < n:
            room = maxsize - len(items_q)
            if room > 0:
                end = min(n, start + room)
                items_q.extend(items[start:end] if (start or end < n) else items)
                self._not_empty.notify(end - start)
                start = end
                continue
            self._note_depth()
            t0 = time.perf_counter()
            if deadline is None:
                self._not_full.wait()
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WouldBlock
                self._not_full.wait(remaining)
            blocked += time.perf_counter() - t0
            if self._cancelled:
                raise Cancelled
            if self._closed:
                raise EndOfStream
        self._note_depth()
        return blocked

    def _note_depth(self) -> None:
        depth = len(self._items)
        self._max_depth = max(self._max_depth, depth)

    def _get_locked(self, max_n: int, timeout: float | None) -> list[T]:
        """Take up to *max_n* items (lock held); ``[]`` means closed and empty."""
        items_q = self._items
        if not items_q:
            if self._cancelled:
                raise Cancelled
            deadline = None if timeout is None else time.monotonic() + timeout
            while not items_q:
                if self._cancelled:
                    raise Cancelled
                if self._closed:
                    return []
                if deadline is None:
                    self._not_empty.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise WouldBlock
                    self._not_empty.wait(remaining)
        return self.take_locked(max_n)

    def take_locked(self, max_n: int) -> list[T]:
        """Take up to *max_n* waiting items without blocking (lock held)."""
        items_q = self._items
        n = len(items_q)
        if n <= max_n:
            batch = list(items_q)
            items_q.clear()
        else:
            popleft = items_q.popleft
            batch = [popleft() for _ in range(max_n)]
        if self.maxsize is not None and batch:
            self._not_full.notify(len(batch))
        return batch

    def put_many(self, items: Iterable[T], timeout: float | None = None) -> float:
        """Put all *items* in order, waiting for room; return seconds blocked.

        Raises:
            EndOfStream: the queue is closed.
        """
        with self._lock:
            return self.put_locked(list(items), timeout)

    def get_many(self, max_n: int, timeout: float | None = None) -> list[T]:
        """Take 1..*max_n* items, waiting for the first; ``[]`` at end of stream."""
        with self._lock:
            return self._get_locked(max_n, timeout)
