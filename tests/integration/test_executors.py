"""Executors end to end: concurrency, ordering, setup/teardown, deterministic mode."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import minigun as mg
from minigun.testing import ListSink, run_inline

TIMEOUT = 10.0


class _Concurrency:
    """Tracks how many calls run at the same time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.max = 0

    def __call__(self, item: int) -> int:
        with self.lock:
            self.now += 1
            self.max = max(self.max, self.now)
        time.sleep(0.002)
        with self.lock:
            self.now -= 1
        return item


def test_thread_executor_runs_items_concurrently() -> None:
    """Ten 0.1 s items on threads=10 take about 0.1 s, not 1 s."""

    def sleep(n: int) -> int:
        time.sleep(0.1)
        return n

    pipe = mg.Pipeline("concurrent")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("sleep", sleep, threads=10))
    sink = pipe.add(ListSink("sink"))

    started = time.monotonic()
    pipe.run(timeout=TIMEOUT)
    elapsed = time.monotonic() - started

    assert sorted(sink.items) == list(range(10))
    assert elapsed < 0.5, f"10 x 0.1 s on 10 threads took {elapsed:.2f}s"


def test_thread_executor_explicit_instance() -> None:
    """executor=ThreadExecutor(workers=n) behaves like threads=n."""
    tracker = _Concurrency()
    pipe = mg.Pipeline("explicit")
    pipe.add(mg.Producer("src", lambda: range(40)))
    pipe.add(mg.Processor("work", tracker, executor=mg.ThreadExecutor(workers=4)))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == list(range(40))
    assert report.stages["work"].workers == 4
    assert 1 < tracker.max <= 4


def test_inline_executor_is_never_concurrent() -> None:
    """An inline stage fed by two producers is never called concurrently."""
    tracker = _Concurrency()
    pipe = mg.Pipeline("inline")
    pipe.add(mg.Producer("a", lambda: range(50), to="work"))
    pipe.add(mg.Producer("b", lambda: range(50, 100), to="work"))
    pipe.add(mg.Processor("work", tracker, executor=mg.InlineExecutor()))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == list(range(100))
    assert tracker.max == 1


def _random_sleep(seed: int) -> Any:
    rng = random.Random(seed)  # noqa: S311 - test delays, not crypto
    delays = [rng.uniform(0, 0.005) for _ in range(60)]

    def fn(n: int) -> int:
        time.sleep(delays[n])
        return n

    return fn


def test_ordered_keeps_input_order() -> None:
    """ordered=True on threads=4 emits results in input order despite random delays."""
    pipe = mg.Pipeline("ordered")
    pipe.add(mg.Producer("src", lambda: range(60)))
    pipe.add(mg.Processor("work", _random_sleep(1), threads=4, ordered=True))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert sink.items == list(range(60))


def test_unordered_output_is_a_permutation() -> None:
    """Without ordered=, threads=4 emits every item exactly once, in any order."""
    pipe = mg.Pipeline("unordered")
    pipe.add(mg.Producer("src", lambda: range(60)))
    pipe.add(mg.Processor("work", _random_sleep(2), threads=4))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == list(range(60))


class _Counting(mg.Processor[int, int]):
    """A processor that counts setup() and teardown() calls."""

    def __init__(self, name: str, **options: Any) -> None:
        self.lock = threading.Lock()
        self.setups = 0
        self.teardowns = 0
        super().__init__(name, **options)

    def setup(self) -> None:
        with self.lock:
            self.setups += 1

    def teardown(self) -> None:
        with self.lock:
            self.teardowns += 1

    def process(self, item: int) -> int:
        return item


def test_setup_and_teardown_once_per_worker(executor_opts: dict[str, Any]) -> None:
    """setup() and teardown() run once per worker: 1 inline, 3 on threads=3."""
    pipe = mg.Pipeline("lifecycle")
    pipe.add(mg.Producer("src", lambda: range(30)))
    stage = pipe.add(_Counting("count", **executor_opts))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    workers = executor_opts.get("threads", 1)
    assert (stage.setups, stage.teardowns) == (workers, workers)
    assert sorted(sink.items) == list(range(30))


def _recording_pipeline(
    executor_opts: dict[str, Any],
) -> tuple[mg.Pipeline, ListSink, set[int]]:
    idents: set[int] = set()

    def record(n: int) -> int:
        idents.add(threading.get_ident())
        return n

    def split(n: int, emit: mg.Emitter) -> None:
        idents.add(threading.get_ident())
        emit(n)
        if n % 3 == 0:
            emit(-n, to="sink")

    pipe = mg.Pipeline("det")
    pipe.add(mg.Producer("a", lambda: range(20), to="split"))
    pipe.add(mg.Producer("b", lambda: range(100, 120), to="split"))
    pipe.add(mg.Processor("split", split, to=["left", "right"], **executor_opts))
    pipe.add(mg.Processor("left", record, to="batch", **executor_opts))
    pipe.add(mg.Processor("right", record, to="batch", **executor_opts))
    pipe.add(mg.Accumulator("batch", max_size=7))
    pipe.add(mg.Debatch("flat"))
    sink = pipe.add(ListSink("sink"))
    return pipe, sink, idents


def test_deterministic_mode_runs_in_the_calling_thread(
    executor_opts: dict[str, Any],
) -> None:
    """run(deterministic=True) runs every stage in the caller's thread."""
    pipe, sink, idents = _recording_pipeline(executor_opts)

    report = pipe.run(timeout=TIMEOUT, deterministic=True)

    assert report.status == "succeeded"
    assert idents == {threading.get_ident()}
    inputs = [*range(20), *range(100, 120)]
    expected = sorted([*inputs, *inputs, *(-n for n in inputs if n % 3 == 0)])
    assert sorted(sink.items) == expected


def test_deterministic_mode_is_repeatable(executor_opts: dict[str, Any]) -> None:
    """Deterministic runs of the same pipeline give identical outputs."""
    outputs = []
    for _ in range(3):
        pipe, sink, idents = _recording_pipeline(executor_opts)
        run_inline(pipe, timeout=TIMEOUT)
        assert idents == {threading.get_ident()}
        outputs.append(sink.items)

    assert outputs[1] == outputs[0]
    assert outputs[2] == outputs[0]
