"""Database connections and forks: close before fork, reconnect in each child.

A database connection must not be shared across `fork()`. The pipeline's
`before_fork` hook closes the parent's SQLite connection before each worker
process is forked and `after_fork` opens a fresh one in every child, which
then writes its batches. Port of the Ruby gem's
``17_database_connection_hooks.rb`` (whose stage-level fork hooks inside
nested pipelines were ignored, defect D2).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
from pathlib import Path

import minigun as mg


class Database:
    """A connection holder; fork hooks run in runtime threads, hence the lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self.lock = threading.Lock()

    def connect(self) -> None:
        with self.lock:
            self.conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)

    def close(self) -> None:
        with self.lock:
            if self.conn is not None:
                self.conn.close()
                self.conn = None

    def reopen_in_child(self) -> None:
        # Another thread may have held the lock when this process was forked:
        # never trust an inherited lock, make a new one.
        self.lock = threading.Lock()
        self.conn = None
        self.connect()


def main(n: int | None = None) -> None:
    n = 1000 if n is None else n
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "events.db")
        db.connect()
        assert db.conn is not None
        db.conn.execute("CREATE TABLE events (id INTEGER, pid INTEGER)")
        db.conn.commit()

        def write(batch: list[int]) -> None:
            assert db.conn is not None  # opened by after_fork in this child
            with db.conn:
                db.conn.executemany(
                    "INSERT INTO events VALUES (?, ?)",
                    [(i, os.getpid()) for i in batch],
                )

        pipe = mg.Pipeline("to_db")
        pipe.add(mg.Producer("events", lambda: range(n)))
        pipe.add(mg.Accumulator("batch", max_size=100))
        pipe.add(mg.Consumer("write", write, processes=2))
        pipe.hooks.append("before_fork", db.close)
        pipe.hooks.append("after_fork", db.reopen_in_child)
        pipe.run(timeout=60)

        db.connect()  # the parent's connection was closed before forking
        assert db.conn is not None
        rows, writers = db.conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT pid) FROM events"
        ).fetchone()
        db.close()
    assert rows == n
    print(f"{rows} rows written by {writers} worker process(es)")


if __name__ == "__main__":
    main()
