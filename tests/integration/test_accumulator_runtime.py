"""Accumulators end to end: size, final flush, max_wait, keys, Debatch."""

from __future__ import annotations

import time
from typing import Any

import minigun as mg
from minigun.testing import ListSink

TIMEOUT = 10.0


def test_max_size_batches(executor_opts: dict[str, Any]) -> None:
    """Items are grouped into batches of max_size, the last one partial."""
    pipe = mg.Pipeline("batches")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Accumulator("batch", max_size=3, **executor_opts))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(len(b) for b in sink.items) == [1, 3, 3, 3]
    assert sorted(x for b in sink.items for x in b) == list(range(10))
    assert report.stages["batch"].items_in == 10
    assert report.stages["batch"].items_out == 4


def test_max_size_batches_inline_order() -> None:
    """An inline accumulator batches items in arrival order."""
    pipe = mg.Pipeline("batches")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Accumulator("batch", max_size=3))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert sink.items == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_final_partial_flush(executor_opts: dict[str, Any]) -> None:
    """At the end of input the accumulator flushes its partial batch."""
    pipe = mg.Pipeline("flush")
    pipe.add(mg.Producer("src", lambda: range(5)))
    pipe.add(mg.Accumulator("batch", max_size=100, **executor_opts))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert [sorted(b) for b in sink.items] == [[0, 1, 2, 3, 4]]


def test_batch_function_receives_the_batch(executor_opts: dict[str, Any]) -> None:
    """An accumulator's fn(batch) is called per batch; its result is emitted."""
    pipe = mg.Pipeline("sum")
    pipe.add(mg.Producer("src", lambda: range(12)))
    pipe.add(mg.Accumulator("sum", sum, max_size=4, **executor_opts))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert len(sink.items) == 3
    assert sum(sink.items) == sum(range(12))


def test_max_wait_flushes_without_new_items(executor_opts: dict[str, Any]) -> None:
    """A partial batch leaves about max_wait after its first item, input still open."""
    pipe = mg.Pipeline("timer")
    pipe.add(mg.Accumulator("batch", max_size=100, max_wait=0.1, **executor_opts))
    sink = pipe.add(ListSink("sink"))

    handle = pipe.start()
    try:
        sent = time.monotonic()
        for n in range(3):
            handle.send(n, to="batch")
        deadline = sent + 2.0
        while not sink.items and time.monotonic() < deadline:
            time.sleep(0.01)
        waited = time.monotonic() - sent
        time.sleep(0.2)  # nothing else may arrive before close
        assert handle.running
        assert [sorted(b) for b in sink.items] == [[0, 1, 2]]
        assert waited < 0.6, f"batch arrived {waited:.2f}s after the first item"
    finally:
        handle.close()
    report = handle.wait(timeout=TIMEOUT)

    assert [sorted(b) for b in sink.items] == [[0, 1, 2]]
    assert report.stages["batch"].items_out == 1


def test_per_key_batches(executor_opts: dict[str, Any]) -> None:
    """With key=, each batch holds items of one key only."""
    pipe = mg.Pipeline("keys")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Accumulator("batch", max_size=3, key=lambda n: n % 2, **executor_opts))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert all(len({n % 2 for n in b}) == 1 for b in sink.items), sink.items
    assert sorted(len(b) for b in sink.items) == [2, 2, 3, 3]
    assert sorted(x for b in sink.items for x in b) == list(range(10))


def test_per_key_batches_inline_content() -> None:
    """Inline per-key batching gives exactly the expected batches."""
    pipe = mg.Pipeline("keys")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Accumulator("batch", max_size=3, key=lambda n: n % 2))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [[0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]


def test_debatch_restores_the_stream(executor_opts: dict[str, Any]) -> None:
    """Accumulator then Debatch gives back every item."""
    pipe = mg.Pipeline("roundtrip")
    pipe.add(mg.Producer("src", lambda: range(25)))
    pipe.add(mg.Accumulator("batch", max_size=4, **executor_opts))
    pipe.add(mg.Debatch("flat", **executor_opts))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == list(range(25))
    assert report.stages["flat"].items_out == 25


def test_debatch_inline_keeps_order() -> None:
    """Inline Accumulator then Debatch restores the original order."""
    pipe = mg.Pipeline("roundtrip")
    pipe.add(mg.Producer("src", lambda: range(25)))
    pipe.add(mg.Accumulator("batch", max_size=4))
    pipe.add(mg.Debatch("flat"))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert sink.items == list(range(25))
