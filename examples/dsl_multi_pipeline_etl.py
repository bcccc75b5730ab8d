"""A multi-pipeline ETL declared with nested Tasks that route to each other.

``Etl`` holds four nested pipelines, each a nested ``mg.Task`` class with
its own stages, hooks and config. Sibling pipelines never chain on their
own, so ``mg.pipeline(to=..., from_=...)`` wires them: ``extract`` feeds
``transform`` and ``quality``; ``load`` reads from ``transform``. ``load``
has two entry stages in a ``mg.parallel()`` group, so every record reaches
both. Stage methods of the nested tasks read the outer task's state
(``self.rows``, ``self.store``): a nested task looks up what it lacks on
the task that encloses it.

Run it with ``python examples/dsl_multi_pipeline_etl.py [ROWS]``.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter

import minigun as mg


class Etl(mg.Task):
    """Extract CSV-like rows, clean them, check them and load them."""

    queue_size = 100

    def __init__(self, rows: int = 200) -> None:
        self.rows = rows
        self.lock = threading.Lock()
        self.store: dict[str, list[object]] = {"users": [], "emails": [], "bad": []}
        self.log: list[str] = []

    @mg.pipeline("extract", to=["transform", "quality"])
    class Extract(mg.Task):
        @mg.producer
        def lines(self):
            for i in range(self.rows):
                email = f"User{i}@Example.COM" if i % 10 else f"user{i}-at-nowhere"
                yield f"{i},user{i},{email}"

        @mg.processor
        def parse(self, line):
            uid, name, email = line.split(",")
            return {"id": int(uid), "name": name, "email": email}

    @mg.pipeline(to="load")
    class Transform(mg.Task):
        max_threads = 4  # this nested pipeline's own limit

        @mg.processor
        def valid_only(self, user):
            return user if "@" in user["email"] else None

        @mg.processor(threads=4)
        def normalize(self, user):
            return {**user, "email": user["email"].lower()}

        @mg.after("normalize")
        def normalized(self):
            with self.lock:
                self.log.append("transform.normalize finished")

    @mg.pipeline(to=())
    class Quality(mg.Task):
        @mg.consumer
        def check(self, user):
            if "@" not in user["email"]:
                with self.lock:
                    self.store["bad"].append(user["id"])

    @mg.pipeline(from_="transform")
    class Load(mg.Task):
        with mg.parallel():

            @mg.consumer
            def users(self, user):
                with self.lock:
                    self.store["users"].append((user["id"], user["name"]))

            @mg.consumer
            def emails(self, user):
                with self.lock:
                    self.store["emails"].append(user["email"])

        @mg.before_run
        def open_store(self):
            self.log.append("load ready")

    @mg.after_run
    def done(self):
        counts = Counter({k: len(v) for k, v in self.store.items()})
        print(
            f"loaded {counts['users']} users and {counts['emails']} emails; "
            f"{counts['bad']} bad rows held back"
        )


def main(n: int | None = None) -> dict[str, list[object]]:
    task = Etl(200 if n is None else n)
    graph = task.build().graph()
    for e in sorted(graph.edges, key=lambda e: graph.order.index(e.src)):
        # An internal entry node spreads items over a pipeline's entry stages.
        targets = graph.downstream[e.dst] if graph.nodes[e.dst].internal else [e.dst]
        if not graph.nodes[e.src].internal:
            names = ", ".join(graph.names[t] for t in targets)
            print(f"  {graph.names[e.src]} -> {names}")
    report = task.run(timeout=60)
    bad = sum(1 for i in range(task.rows) if i % 10 == 0)
    assert len(task.store["users"]) == task.rows - bad
    assert len(task.store["emails"]) == task.rows - bad
    assert sorted(task.store["bad"]) == [i for i in range(task.rows) if i % 10 == 0]
    assert "load ready" in task.log
    print(f"{report.total_produced} rows in {report.duration:.2f} s, {report.status}")
    return task.store


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
