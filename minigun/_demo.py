"""The built-in ETL of ``minigun demo`` (presentation layer).

Synthetic orders flow through every kind of executor into SQLite:

    orders (producer) -> enrich (8 threads, simulated I/O) -> score (2 processes,
    CPU) -> batch (500 items or 0.5 s) -> store (SQLite, one transaction per batch)

The data is pseudo-random but deterministic (``random.Random(seed)``), so two
runs with the same seed write the same rows.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from ._pipeline import Pipeline
from ._stage import Accumulator, Processor, Producer
from .errors import MinigunError, PipelineError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ("build_demo", "generate_orders", "run_demo", "score")

COUNTRIES = ("DE", "FR", "JP", "US", "BR", "IN", "GB", "ES", "CA", "AU")
REGIONS = {
    "DE": "EMEA",
    "FR": "EMEA",
    "GB": "EMEA",
    "ES": "EMEA",
    "JP": "APAC",
    "IN": "APAC",
    "AU": "APAC",
    "US": "AMER",
    "CA": "AMER",
    "BR": "AMER",
}
TIERS = ("bronze", "silver", "gold", "platinum")
DISCOUNTS = {"bronze": 0.0, "silver": 0.05, "gold": 0.1, "platinum": 0.15}
COLUMNS = (
    "id",
    "customer",
    "sku",
    "qty",
    "unit_price",
    "country",
    "region",
    "tier",
    "total",
    "risk",
    "checksum",
)
#: Seconds the enrich stage waits per order, standing in for a service call.
IO_WAIT = 0.0005


def generate_orders(n: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """Yield *n* synthetic orders, the same ones for the same *seed*."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not cryptography
    for i in range(1, n + 1):
        yield {
            "id": i,
            "customer": rng.randrange(1, 5001),
            "sku": f"SKU-{rng.randrange(10_000):04d}",
            "qty": rng.randint(1, 5),
            "unit_price": round(rng.uniform(1.0, 250.0), 2),
            "country": rng.choice(COUNTRIES),
        }


class Enrich(Processor[dict[str, Any], dict[str, Any]]):
    """Look up the customer's tier and region (a simulated I/O call)."""

    def process(self, item: dict[str, Any]) -> dict[str, Any]:
        """Return the order with ``tier``, ``region`` and ``total``."""
        time.sleep(IO_WAIT)
        tier = TIERS[item["customer"] % len(TIERS)]
        total = item["qty"] * item["unit_price"] * (1 - DISCOUNTS[tier])
        return {
            **item,
            "tier": tier,
            "region": REGIONS[item["country"]],
            "total": round(total, 2),
        }


def score(order: dict[str, Any]) -> dict[str, Any]:
    """Compute a checksum and a risk score: a little CPU work per order."""
    digest = repr(sorted(order.items())).encode()
    for _ in range(200):
        digest = hashlib.sha256(digest).digest()
    risk = int.from_bytes(digest[:2], "big") / 65535
    if order["total"] > 800:
        risk = min(1.0, risk + 0.25)
    return {**order, "risk": round(risk, 4), "checksum": digest.hex()[:16]}


_CREATE = (
    "CREATE TABLE IF NOT EXISTS orders ("
    "id INTEGER PRIMARY KEY, customer INTEGER, sku TEXT, qty INTEGER, "
    "unit_price REAL, country TEXT, region TEXT, tier TEXT, total REAL, "
    "risk REAL, checksum TEXT)"
)
_INSERT = (
    f"INSERT OR REPLACE INTO orders ({', '.join(COLUMNS)}) "  # noqa: S608 - constants
    f"VALUES ({', '.join('?' for _ in COLUMNS)})"
)


class SqliteWriter(Processor[list[dict[str, Any]], None]):
    """Write each batch of orders in one transaction (``executemany``).

    The connection is opened in `setup`, in the worker that uses it, and
    closed in `teardown`.
    """

    def __init__(self, name: str, path: str | Path) -> None:
        """Write into the SQLite database at *path*."""
        super().__init__(name)
        self.path = str(path)
        self.conn: sqlite3.Connection | None = None

    def setup(self) -> None:
        """Open the database and create the table if it does not exist."""
        self.conn = sqlite3.connect(self.path)
        self.conn.execute(_CREATE)

    def process(self, item: list[dict[str, Any]]) -> None:
        """Insert one batch."""
        if self.conn is None:  # pragma: no cover - setup() always runs first
            msg = "setup() did not run"
            raise RuntimeError(msg)
        with self.conn:
            self.conn.executemany(_INSERT, [tuple(o[c] for c in COLUMNS) for o in item])

    def teardown(self) -> None:
        """Close the database."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def build_demo(
    db: str | Path = "minigun-demo.db", items: int = 20_000, seed: int = 42
) -> Pipeline:
    """Return the demo pipeline writing *items* orders into the database *db*."""
    pipe = Pipeline("demo")
    pipe.add(Producer("orders", lambda: generate_orders(items, seed), total=items))
    pipe.add(Enrich("enrich", threads=8))
    pipe.add(Processor("score", score, processes=2))
    pipe.add(Accumulator("batch", max_size=500, max_wait=0.5))
    pipe.add(SqliteWriter("store", db))
    return pipe


def reset_database(db: str | Path) -> None:
    """Create the database *db* with an empty ``orders`` table."""
    with sqlite3.connect(str(db)) as conn:
        conn.execute("DROP TABLE IF EXISTS orders")
        conn.execute(_CREATE)
    conn.close()


def _say(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def run_demo(
    *,
    db: str | Path = "minigun-demo.db",
    items: int = 20_000,
    hud: bool = False,
    seed: int = 42,
    timeout: float | None = 120.0,
    out: TextIO | None = None,
) -> int:
    """Run the demo, print its report and the row count; return an exit status."""
    out = sys.stdout if out is None else out
    err = sys.stderr
    try:
        reset_database(db)
    except sqlite3.Error as exc:
        _say(err, f"minigun: error: cannot create the database {str(db)!r}: {exc}")
        return 1
    _say(
        out,
        f"minigun demo: {items} orders -> enrich (8 threads, simulated I/O) -> "
        f"score (2 processes) -> batches of 500 -> SQLite {str(db)!r}",
    )
    pipe = build_demo(db, items, seed)
    status = 0
    try:
        report = pipe.run(timeout=timeout, hud=hud)
    except PipelineError as exc:
        report = exc.report
        first = str(exc.exceptions[0]).splitlines()[0] if exc.exceptions else str(exc)
        _say(err, f"minigun: error: {first}")
        status = 1
    except (TimeoutError, MinigunError) as exc:
        _say(err, f"minigun: error: {exc}")
        return 1
    if report is not None:
        _say(out, report.summary())
        if report.status != "succeeded":
            status = status or (130 if report.status == "cancelled" else 1)
    with sqlite3.connect(str(db)) as conn:
        rows, revenue = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(total), 0) FROM orders"
        ).fetchone()
    conn.close()
    _say(out, f"{rows} rows in {str(db)!r} (revenue {revenue:,.2f})")
    return status
