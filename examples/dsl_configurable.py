"""A Task sized from its constructor arguments (decorator DSL).

``Thumbnailer(workers=8, batch_size=32)`` declares its stages once, in the
class body; every option written as ``lambda self: ...`` is computed from
the instance when ``build()`` runs, and a config attribute can be a
property of the instance. So one class gives differently sized pipelines,
and its ``__init__`` is plain Python (no ``super().__init__()`` needed).

Run it with ``python examples/dsl_configurable.py [IMAGES]``.
"""

from __future__ import annotations

import sys
import threading
import time

import minigun as mg


class Thumbnailer(mg.Task):
    """Resize images on a thread pool and save the thumbnails in batches."""

    max_retries = 0  # a config default, as a class attribute

    def __init__(self, images: int, *, workers: int, batch_size: int) -> None:
        self.images = images
        self.workers = workers
        self.batch_size = batch_size
        self.batches: list[int] = []
        self.lock = threading.Lock()

    @property
    def queue_size(self) -> int:
        """Config from the instance: a few batches' worth of items per queue."""
        return self.batch_size * 4

    @mg.producer(total=lambda self: self.images)
    def paths(self):
        for i in range(self.images):
            yield f"img-{i:04}.png"

    @mg.processor(threads=lambda self: self.workers)
    def resize(self, path):
        time.sleep(0.002)  # pretend to decode, resize and encode
        return path.replace(".png", "-thumb.png")

    @mg.accumulator(max_size=lambda self: self.batch_size)
    def batch(self, thumbnails):
        return thumbnails

    @mg.consumer
    def save(self, thumbnails):
        with self.lock:
            self.batches.append(len(thumbnails))


def main(n: int | None = None) -> list[tuple[int, int, float]]:
    images = 300 if n is None else n
    results = []
    for workers, batch_size in ((1, 10), (8, 50)):
        task = Thumbnailer(images, workers=workers, batch_size=batch_size)
        pipe = task.build()
        assert pipe.config.queue_size == batch_size * 4
        report = pipe.run(timeout=60)
        assert sum(task.batches) == images
        print(
            f"workers={workers} batch_size={batch_size}: "
            f"{images} thumbnails in {len(task.batches)} batches, "
            f"{report.duration:.2f} s "
            f"(resize ran on {report.stages['resize'].workers} thread(s))"
        )
        results.append((workers, len(task.batches), report.duration))
    return results


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
