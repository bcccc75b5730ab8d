"""Ray: run one stage of a pipeline on Ray actors, locally or on a cluster.

`RayExecutor(workers=n)` runs a stage on ``n`` Ray actors. Each actor holds
its own copy of the stage (shipped with cloudpickle, so closures work), runs
``setup()`` once (here: it builds a lookup table) and receives items in
batches; the other stages keep running in this process. By default the run
starts a private local Ray instance and stops it at the end; pass an address
to join a running cluster instead::

    python examples/ray_cluster.py                       # private local Ray
    python examples/ray_cluster.py --address 10.0.0.5:6379   # a cluster's head

Needs the ``ray`` extra: ``pip install 'minigun[ray]'``. See docs/ray.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from collections import Counter
from typing import Any

import minigun as mg

WORDS = ("ray", "minigun", "pipeline", "actor", "batch", "stage", "queue")


class Scorer(mg.Processor[Any, Any]):
    """Scores documents with a table built once per actor in setup()."""

    def setup(self) -> None:
        # Expensive set-up (a model, a connection) belongs here: it runs in
        # the actor, once, and again only if Ray restarts the actor.
        self.weights = {w: len(w) for w in WORDS}
        self.pid = os.getpid()

    def process(self, doc: dict[str, Any]) -> dict[str, Any]:
        score = sum(self.weights.get(w, 0) for w in doc["text"].split())
        return {"id": doc["id"], "score": score, "actor_pid": self.pid}


def documents(n: int) -> Any:
    for i in range(n):
        yield {"id": i, "text": " ".join(WORDS[(i + k) % len(WORDS)] for k in range(5))}


def main(n: int | None = None, address: str | None = None) -> None:
    n = 20_000 if n is None else n
    if importlib.util.find_spec("ray") is None:
        print("this example needs Ray: pip install 'minigun[ray]'")
        return
    from minigun.executors import RayExecutor  # noqa: PLC0415 - needs the extra

    bonus = 1  # a closure: cloudpickle ships it to the actors
    results: list[dict[str, Any]] = []

    pipe = mg.Pipeline("ray-demo")
    pipe.add(mg.Producer("docs", lambda: documents(n)))
    pipe.add(
        Scorer(
            "score",
            executor=RayExecutor(workers=2, address=address, batch_size=500),
        )
    )
    pipe.add(mg.Processor("bonus", lambda d: {**d, "score": d["score"] + bonus}))
    pipe.add(mg.Consumer("collect", results.append))
    report = pipe.run(timeout=120)

    assert len(results) == n
    per_actor = Counter(r["actor_pid"] for r in results)
    assert os.getpid() not in per_actor
    print(f"{n} documents scored on {len(per_actor)} Ray actor(s)")
    print(f"total score {sum(r['score'] for r in results)}")
    print(report.summary())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="a Ray cluster to join (host:port)")
    parser.add_argument("-n", type=int, default=None, help="number of documents")
    args = parser.parse_args()
    main(args.n, args.address)
