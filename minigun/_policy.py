"""Retry policy: run one unit of work with retries (runtime layer).

Shared by the threads of the parent process and by forked workers, so an
item is retried the same way wherever it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

import attrs

from .errors import MinigunError

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._stats import Counters

__all__ = ("RetryPolicy", "run_with_retries")


@final
@attrs.frozen
class RetryPolicy:
    """How a failed unit of work is retried."""

    max_retries: int
    retry_delay: float
    retry_backoff: float
    retry_on: tuple[type[BaseException], ...]

    def retryable(self, error: BaseException) -> bool:
        """Return whether *error* may be retried (minigun's own errors never are)."""
        return isinstance(error, self.retry_on) and not isinstance(error, MinigunError)

    def delay(self, attempt: int) -> float:
        """Return the seconds to wait before retry number *attempt* (1-based)."""
        return self.retry_delay * (self.retry_backoff ** (attempt - 1))


def run_with_retries(
    run: Callable[[Any], None],
    unit: Any,
    policy: RetryPolicy,
    counters: Counters,
    sleep: Callable[[float], None],
    first_error: Exception | None = None,
) -> Exception | None:
    """Run ``run(unit)``, retrying under *policy*; return the final error or None.

    *first_error*, when given, is the error of an attempt already made.
    Counts retries and the final failure in *counters*.
    """
    error = first_error
    if error is None:
        try:
            run(unit)
        except Exception as exc:  # noqa: BLE001 - the policy decides
            error = exc
        else:
            return None
    attempt = 0
    while attempt < policy.max_retries and policy.retryable(error):
        attempt += 1
        counters.items_retried += 1
        wait = policy.delay(attempt)
        if wait > 0:
            sleep(wait)
        try:
            run(unit)
        except Exception as exc:  # noqa: BLE001 - retried or returned
            error = exc
        else:
            return None
    counters.items_failed += 1
    return error
