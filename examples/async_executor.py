"""Async executor: many concurrent requests on one event loop.

A tiny asyncio "API" server runs on 127.0.0.1 (an ephemeral port) in a
thread of its own and answers each request after 50 ms. The ``fetch`` stage
is ``async def`` on `AsyncExecutor(concurrency=20)`: up to 20 requests wait
at the same time on the stage's event loop, so 100 requests take about
0.25 s instead of 5 s. The producer is an async generator and the consumer
is ``async def`` too. A plain function on `AsyncExecutor`, or ``async def``
on any other executor, is a `DefinitionError`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import TYPE_CHECKING, Any

import minigun as mg

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

LATENCY = 0.05
CONCURRENCY = 20


class LocalApi:
    """An asyncio TCP server answering ``GET <id>`` with a JSON line, slowly."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.port = 0
        self.active = 0
        self.peak = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="local-api")

    def __enter__(self) -> LocalApi:  # noqa: PYI034 - a final class
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _main(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            loop.run_until_complete(server.wait_closed())
            loop.close()

    async def _handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        line = await reader.readline()
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(self.latency)  # a slow backend
        self.active -= 1
        item = int(line.split()[1])
        writer.write(json.dumps({"id": item, "square": item * item}).encode() + b"\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()


def make_fetch(port: int) -> Callable[[int], Awaitable[dict[str, Any]]]:
    """Return the ``async def`` stage function that asks the API for one id."""

    async def fetch(item: int) -> dict[str, Any]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {item}\n".encode())
        await writer.drain()
        answer: dict[str, Any] = json.loads(await reader.readline())
        writer.close()
        await writer.wait_closed()
        return answer

    return fetch


def main(n: int | None = None) -> None:
    n = 100 if n is None else n
    saved: list[dict[str, Any]] = []

    async def request_ids() -> AsyncIterator[int]:
        for i in range(n):
            await asyncio.sleep(0)  # e.g. paging through an async source
            yield i

    async def save(record: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # e.g. an async database driver
        saved.append(record)

    with LocalApi(LATENCY) as api:
        pipe = mg.Pipeline("async-fetch")
        pipe.add(mg.Producer("ids", request_ids, executor=mg.AsyncExecutor(1)))
        pipe.add(
            mg.Processor(
                "fetch",
                make_fetch(api.port),
                executor=mg.AsyncExecutor(concurrency=CONCURRENCY),
                max_retries=2,
            )
        )
        pipe.add(mg.Consumer("save", save, executor=mg.AsyncExecutor(4)))
        started = time.perf_counter()
        report = pipe.run(timeout=60)
        elapsed = time.perf_counter() - started

    assert sorted(r["id"] for r in saved) == list(range(n))
    assert all(r["square"] == r["id"] ** 2 for r in saved)
    assert api.peak <= CONCURRENCY
    print(
        f"{n} requests in {elapsed:.2f}s with concurrency {CONCURRENCY} "
        f"(one at a time: about {n * LATENCY:.1f}s); "
        f"the server saw at most {api.peak} at once"
    )
    print(f"fetch: {report.stages['fetch'].items_out} answers, status {report.status}")


if __name__ == "__main__":
    main()
