"""Logging: minigun is silent until `mg.enable_logging(level)` turns it on.

minigun logs with loguru: INFO gives one line when a run starts and ends,
DEBUG adds stage and worker lifecycle (including forks, with pids), and
records logged in worker processes reach the parent's sinks.
`minigun.testing.capture_logs()` collects the records in tests.
"""

from __future__ import annotations

import sys

from loguru import logger

import minigun as mg
from minigun.testing import capture_logs


def build(n: int) -> mg.Pipeline:
    pipe = mg.Pipeline("logged")
    pipe.add(mg.Producer("numbers", lambda: range(n)))
    pipe.add(mg.Processor("square", lambda x: x * x, processes=2))
    pipe.add(mg.Consumer("save", lambda _x: None))
    return pipe


def main(n: int | None = None) -> None:
    n = 100 if n is None else n
    logger.remove()  # drop loguru's default handler, or records show twice
    handler = mg.enable_logging("INFO", sink=sys.stdout)
    try:
        build(n).run(timeout=60)
    finally:
        logger.remove(handler)

    with capture_logs("DEBUG") as records:
        build(n).run(timeout=60)
    levels = sorted({r["level"] for r in records})
    print(f"captured {len(records)} records at levels {levels}")
    assert any("succeeded" in r["message"] for r in records)


if __name__ == "__main__":
    main()
