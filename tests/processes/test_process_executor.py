"""ProcessExecutor end to end: exactly-once delivery, real processes, exact values.

Modelled on the Ruby gem's fork specs: every input item comes out exactly as
often as it went in, whatever the input order or size and the pool size.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun.testing import ListSink

if TYPE_CHECKING:
    from pathlib import Path

TIMEOUT = 20.0


def _run_through(
    items: list[Any], fn: Any = None, **opts: Any
) -> tuple[list[Any], mg.RunReport]:
    """Run ``src -> work(**opts) -> sink`` over *items*; return the sink's items."""
    pipe = mg.Pipeline("procs")
    pipe.add(mg.Producer("src", lambda: iter(items)))
    pipe.add(mg.Processor("work", fn if fn is not None else (lambda x: x), **opts))
    sink = pipe.add(ListSink("sink"))
    report = pipe.run(timeout=TIMEOUT)
    return sink.items, report


# -- exactly once ------------------------------------------------------------------


def test_every_item_exactly_once_with_duplicates() -> None:
    """Each value of 1..100 (with duplicates) comes out as often as it went in."""
    items = [*range(1, 101), 7, 7, 42, 100, 1, 1, 1]

    out, report = _run_through(items, lambda n: n, processes=3)

    assert Counter(out) == Counter(items)
    assert report.stages["work"].items_in == len(items)
    assert report.stages["work"].items_out == len(items)


def test_shuffled_input_comes_out_exactly_once() -> None:
    """A shuffled input is delivered exactly once (order is completion order)."""
    items = list(range(500))
    random.Random(1234).shuffle(items)  # noqa: S311 - not crypto

    out, _ = _run_through(items, lambda n: n * 2, processes=2)

    assert sorted(out) == [n * 2 for n in range(500)]


def test_empty_input() -> None:
    """A producer that yields nothing finishes the run with nothing delivered."""
    out, report = _run_through([], processes=2)

    assert out == []
    assert report.status == "succeeded"
    assert report.stages["work"].items_in == 0


def test_one_item() -> None:
    """A single item goes through a two-worker pool exactly once."""
    out, report = _run_through(["only"], processes=2)

    assert out == ["only"]
    assert report.stages["work"].items_out == 1


def test_thousand_items() -> None:
    """1000 items go through a small pool exactly once."""
    out, report = _run_through(list(range(1000)), lambda n: n + 1, processes=2)

    assert sorted(out) == list(range(1, 1001))
    assert report.total_produced == 1000
    assert report.total_consumed == 1000


def test_pool_of_100_workers_with_10_items() -> None:
    """A pool much larger than the input (100 workers, 10 items) delivers each once."""
    out, report = _run_through(list(range(10)), lambda n: n * 3, processes=100)

    assert sorted(out) == [n * 3 for n in range(10)]
    assert report.stages["work"].workers == 100


# -- really other processes ------------------------------------------------------


def _pid_of(n: int) -> tuple[int, int]:
    time.sleep(0.005)
    return (n, os.getpid())


def test_work_runs_in_other_processes() -> None:
    """The stage function runs in child processes, never in the parent."""
    out, _ = _run_through(list(range(20)), _pid_of, processes=2)

    pids = {pid for _, pid in out}
    assert os.getpid() not in pids
    assert sorted(n for n, _ in out) == list(range(20))


def test_two_workers_means_two_processes() -> None:
    """With processes=2 and enough slow items, two distinct child pids do work."""
    out, _ = _run_through(list(range(100)), _pid_of, processes=2, queue_size=10)

    pids = {pid for _, pid in out}
    assert len(pids) == 2
    assert os.getpid() not in pids


# -- values pass through exactly ---------------------------------------------------


def test_a_list_result_stays_one_item() -> None:
    """A returned list is one item downstream, not split into its elements."""
    out, _ = _run_through([1, 2, 3], lambda n: [n, n], processes=2)

    assert sorted(out) == [[1, 1], [2, 2], [3, 3]]


def test_none_inside_data_survives() -> None:
    """None inside items and yielded None values arrive unchanged."""
    items: list[Any] = [[None], (None, 1), {"k": None}, [1, [None]]]

    out, _ = _run_through(items, processes=2)

    assert sorted(out, key=repr) == sorted(items, key=repr)


def _yield_with_none(n: int) -> Any:
    yield n
    yield None


def test_yielded_none_is_an_item() -> None:
    """A generator stage in a worker that yields None emits None as an item."""
    out, _ = _run_through([1, 2], _yield_with_none, processes=2)

    assert sorted(out, key=repr) == sorted([1, 2, None, None], key=repr)


MIXED: list[Any] = [
    [1, [2, [3, []]]],
    {"a": 1, "b": {"c": [1, 2]}},
    (1, (2, 3), ()),
    b"\x00bytes\xff",
    0,
    "",
    False,
    0.0,
    -1,
    "text",
    {"set": frozenset({1, 2})},
    [],
    {},
    (),
    True,
]


def _typed(values: list[Any]) -> list[str]:
    """Order-free, type-aware form of *values* (0, 0.0 and False stay apart)."""
    return sorted(f"{type(v).__name__}:{v!r}" for v in values)


def test_same_results_as_thread_executor_for_mixed_values() -> None:
    """Process and thread executors deliver the same values, types included."""
    threaded, _ = _run_through(MIXED, threads=2)
    forked, _ = _run_through(MIXED, processes=2)

    assert _typed(forked) == _typed(threaded)
    assert _typed(forked) == _typed(MIXED)


# -- routing, accumulators, custom stages ------------------------------------------


def test_to_emitted_in_a_worker_is_routed_by_the_parent() -> None:
    """A `To(...)` returned in a child goes straight into the target stage."""

    def split(n: int) -> Any:
        return mg.To("evens", n) if n % 2 == 0 else n

    pipe = mg.Pipeline("routed")
    pipe.add(mg.Producer("src", lambda: range(40)))
    pipe.add(mg.Processor("split", split, processes=2, to="odds"))
    odds = pipe.add(ListSink("odds", to=()))
    evens = pipe.add(ListSink("evens"))

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(odds.items) == list(range(1, 40, 2))
    assert sorted(evens.items) == list(range(0, 40, 2))
    assert report.stages["split"].items_out == 40


def test_emit_to_in_a_worker_is_routed_by_the_parent() -> None:
    """``emit(x, to=...)`` in a child reaches the named stage."""

    def split(n: int, emit: mg.Emitter) -> None:
        emit(n, to="big" if n >= 5 else "small")

    pipe = mg.Pipeline("emitted")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("split", split, processes=2, to=()))
    small = pipe.add(ListSink("small", to=()))
    big = pipe.add(ListSink("big"))

    pipe.run(timeout=TIMEOUT)

    assert sorted(small.items) == [0, 1, 2, 3, 4]
    assert sorted(big.items) == [5, 6, 7, 8, 9]


def test_accumulator_with_function_on_processes() -> None:
    """An accumulator on processes batches in the parent, runs fn(batch) in children."""
    pipe = mg.Pipeline("acc")
    pipe.add(mg.Producer("src", lambda: range(95)))
    pipe.add(
        mg.Accumulator(
            "batch",
            lambda batch: (len(batch), sum(batch), os.getpid()),
            max_size=10,
            processes=2,
        )
    )
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    sizes = sorted(size for size, _, _ in sink.items)
    assert sizes == [5] + [10] * 9
    assert sum(total for _, total, _ in sink.items) == sum(range(95))
    assert os.getpid() not in {pid for _, _, pid in sink.items}


def test_accumulator_without_function_on_processes() -> None:
    """An accumulator with no fn on processes emits batch lists, the final flush too."""
    pipe = mg.Pipeline("acc_lists")
    pipe.add(mg.Producer("src", lambda: range(23)))
    pipe.add(mg.Accumulator("batch", max_size=5, processes=2))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert sorted(len(b) for b in sink.items) == [3, 5, 5, 5, 5]
    assert sorted(n for b in sink.items for n in b) == list(range(23))


class _PidRecorder(mg.Processor[int, tuple[int, int, bool]]):
    """Records the pid of setup() and teardown() in a file; tags items with it."""

    def __init__(self, name: str, log: Path, **opts: Any) -> None:
        self.log = log
        self.setup_pid: int | None = None
        super().__init__(name, None, **opts)

    def _write(self, what: str) -> None:
        with self.log.open("a") as f:
            f.write(f"{what} {os.getpid()}\n")

    def setup(self) -> None:
        self.setup_pid = os.getpid()
        self._write("setup")

    def teardown(self) -> None:
        self._write("teardown")

    def process(self, item: int) -> tuple[int, int, bool]:
        time.sleep(0.002)
        return (item, os.getpid(), self.setup_pid == os.getpid())


def test_custom_processor_setup_and_teardown_run_in_each_worker(
    tmp_path: Path,
) -> None:
    """setup()/teardown() of a Processor subclass run once in every child process."""
    log = tmp_path / "lifecycle.log"
    pipe = mg.Pipeline("custom")
    pipe.add(mg.Producer("src", lambda: range(60)))
    pipe.add(_PidRecorder("work", log, processes=2, queue_size=10))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    lines = [line.split() for line in log.read_text().splitlines()]
    setup_pids = sorted(int(pid) for what, pid in lines if what == "setup")
    teardown_pids = sorted(int(pid) for what, pid in lines if what == "teardown")
    assert len(setup_pids) == 2
    assert len(set(setup_pids)) == 2
    assert teardown_pids == setup_pids
    assert os.getpid() not in setup_pids
    assert sorted(n for n, _, _ in sink.items) == list(range(60))
    assert all(seen for _, _, seen in sink.items)
    assert {pid for _, pid, _ in sink.items} <= set(setup_pids)


def test_lambdas_and_closures_work() -> None:
    """Stage functions are not pickled: a closure over local state runs in children."""
    factor = 7
    offsets = {"base": 100}

    def scale(n: int) -> int:
        return n * factor + offsets["base"]

    pipe = mg.Pipeline("closures")
    pipe.add(mg.Producer("src", lambda: range(20)))
    pipe.add(mg.Processor("scale", scale, processes=2))
    pipe.add(mg.Processor("neg", lambda n: -n, processes=2))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == sorted(-(n * 7 + 100) for n in range(20))


@pytest.mark.parametrize(
    "opts",
    [{"processes": 2}, {"executor": mg.ProcessExecutor(2)}],
    ids=["processes=2", "executor=ProcessExecutor(2)"],
)
def test_process_executor_instance_equals_shortcut(opts: dict[str, Any]) -> None:
    """``executor=ProcessExecutor(2)`` behaves like ``processes=2``."""
    out, report = _run_through(list(range(50)), _pid_of, **opts)

    stats = report.stages["work"]
    assert sorted(n for n, _ in out) == list(range(50))
    assert os.getpid() not in {pid for _, pid in out}
    assert stats.workers == 2
    assert stats.executor == "processes(2)"
    assert (stats.items_in, stats.items_out) == (50, 50)
