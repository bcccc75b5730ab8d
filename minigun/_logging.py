"""Opt-in logging for minigun (base layer): the library is silent by default."""

from __future__ import annotations

import sys
from typing import Any

from loguru import logger

__all__ = ("enable_logging",)


def enable_logging(level: str | int = "INFO", sink: Any = None) -> int:
    """Turn minigun's log records on and send them to *sink* (stderr by default).

    Returns:
        The loguru handler id; pass it to ``loguru.logger.remove`` to undo.

    Example:
        >>> import minigun as mg
        >>> from loguru import logger
        >>> handler = mg.enable_logging("DEBUG")
        >>> logger.remove(handler)
    """
    logger.enable("minigun")
    if sink is None:
        # Look sys.stderr up at each write, so a live display (rich) that
        # redirects it keeps log lines above the view instead of over it.
        def sink(message: Any) -> None:
            sys.stderr.write(message)

    return logger.add(sink, level=level, filter="minigun")
