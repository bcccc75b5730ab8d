"""The live dashboard: `run(hud=True)` shows stages, throughput, queues and errors.

In a terminal it is a live view (press ``q`` to quit); without one (a pipe,
CI) it prints a short status line every few seconds. ``progress=True``
shows progress bars instead. The same view is ``minigun run FILE:NAME --hud``.
"""

from __future__ import annotations

import random
import time

import minigun as mg


def main(n: int | None = None) -> None:
    n = 3000 if n is None else n
    rng = random.Random(1)

    def fetch(i: int) -> int:
        time.sleep(rng.uniform(0.001, 0.008))  # slow I/O
        return i

    def parse(i: int) -> int:
        if i % 500 == 499:
            msg = f"bad record {i}"
            raise ValueError(msg)
        return i

    pipe = mg.Pipeline("dashboard_demo", max_retries=0, on_error="skip")
    pipe.add(mg.Producer("records", lambda: range(n), total=n))
    pipe.add(mg.Processor("fetch", fetch, threads=8, queue_size=100))
    pipe.add(mg.Processor("parse", parse))
    pipe.add(mg.Accumulator("batch", max_size=50, max_wait=0.5))
    pipe.add(mg.Consumer("store", lambda _batch: time.sleep(0.01)))
    report = pipe.run(hud=True, timeout=120)

    print(
        f"{report.status}: {report.total_produced} produced, "
        f"{report.total_failed} failed, bottleneck {report.bottleneck}"
    )


if __name__ == "__main__":
    main()
