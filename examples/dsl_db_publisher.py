"""Publish events into SQLite from two forked workers (decorator DSL).

An SQLite connection must not cross a ``fork()``. ``before_fork`` runs in
the parent before each worker process is created and closes the parent's
connection; ``after_fork`` runs in each worker, on the worker's copy of the
task, and opens the connection that worker's ``publish`` calls use. The
stage methods run bound to the task instance in every worker.

Run it with ``python examples/dsl_db_publisher.py [EVENTS]``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
import threading
from pathlib import Path

import minigun as mg


class DbPublisher(mg.Task):
    """Render events and write them in batches from ``processes=2`` workers."""

    def __init__(self, path: Path, events: int = 500) -> None:
        self.path = path
        self.events = events
        self.conn: sqlite3.Connection | None = None
        self.forks = 0
        # Hooks run in minigun's threads (workers start concurrently).
        self.lock = threading.Lock()

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, check_same_thread=False)

    @mg.before_run
    def create_schema(self):
        self.conn = self.connect()
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS events (id INTEGER, body TEXT, pid INTEGER)"
        )
        self.conn.commit()

    @mg.producer
    def generate(self):
        for i in range(self.events):
            yield {"id": i, "kind": "signup" if i % 3 else "login"}

    @mg.processor
    def render(self, event):
        return (event["id"], json.dumps(event))

    @mg.accumulator(max_size=50)
    def batch(self, rows):
        return rows

    @mg.consumer(processes=2)
    def publish(self, rows):
        assert self.conn is not None, "after_fork opens one connection per worker"
        with self.conn:  # one transaction per batch
            self.conn.executemany(
                "INSERT INTO events VALUES (?, ?, ?)",
                [(i, body, os.getpid()) for i, body in rows],
            )

    @mg.before_fork("publish")
    def close_connection(self):
        with self.lock:
            self.forks += 1
            if self.conn is not None:
                self.conn.close()
                self.conn = None

    @mg.after_fork("publish")
    def reopen_connection(self):
        # In the worker: never trust a lock inherited through fork.
        self.lock = threading.Lock()
        self.conn = self.connect()  # this worker's own connection


def main(n: int | None = None) -> tuple[int, int]:
    events = 500 if n is None else n
    with tempfile.TemporaryDirectory() as tmp:
        task = DbPublisher(Path(tmp) / "events.db", events)
        report = task.run(timeout=60)
        with task.connect() as conn:
            rows, writers = conn.execute(
                "SELECT COUNT(*), COUNT(DISTINCT pid) FROM events"
            ).fetchone()
            parent_rows = conn.execute(
                "SELECT COUNT(*) FROM events WHERE pid = ?", (os.getpid(),)
            ).fetchone()[0]
        conn.close()
    assert rows == events
    assert parent_rows == 0  # every row came from a forked worker
    assert task.forks == 2
    print(
        f"published {rows} events from {writers} worker process(es) "
        f"({task.forks} forks, {report.stages['publish'].workers} workers), "
        f"{report.duration:.2f} s"
    )
    return rows, writers


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
