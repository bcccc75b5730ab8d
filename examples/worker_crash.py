"""Worker crashes: a killed worker process is respawned and its item retried.

A worker process that dies (SIGKILL, out of memory, `os._exit`) is reaped and
replaced, and the items it held are retried under the stage's retry policy;
when retries run out the item fails with `WorkerCrashedError`, naming the
item that was in flight. ``item_timeout=`` kills a worker stuck on one item.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import minigun as mg


def main(n: int | None = None) -> None:
    n = max(8, 20 if n is None else n)
    marker = Path(tempfile.gettempdir()) / f"minigun-crash-{os.getpid()}"

    def risky(i: int) -> int:
        if i == 5 and not marker.exists():  # crash once, on the first try
            marker.touch()
            os._exit(1)
        if i == 7:
            time.sleep(10)  # hangs: item_timeout kills the worker
        return i

    out: list[int] = []
    pipe = mg.Pipeline("crashy", retry_delay=0)
    pipe.add(mg.Producer("numbers", lambda: range(n)))
    pipe.add(
        mg.Processor(
            "risky",
            risky,
            processes=2,
            item_timeout=0.5,
            max_retries=1,
            on_error="skip",
        )
    )
    pipe.add(mg.Consumer("save", out.append))
    try:
        report = pipe.run(timeout=60)
    finally:
        marker.unlink(missing_ok=True)

    stats = report.stages["risky"]
    assert 5 in out  # retried after the crash
    assert 7 not in out  # timed out on both attempts
    print(
        f"{report.status}: saved {len(out)} of {n}; retried {stats.items_retried}, "
        f"failed {stats.items_failed} (item 7 timed out twice)"
    )


if __name__ == "__main__":
    main()
