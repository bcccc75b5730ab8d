"""Process hygiene: repeated runs, fd/zombie leaks, mixed graphs, spawn executors."""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun.testing import ListSink

if TYPE_CHECKING:
    from collections.abc import Callable

TIMEOUT = 20.0

#: Module-level state a forked child may read and write (its writes stay in the child).
STATE: dict[str, Any] = {"value": "at import"}


def _three_process_stages() -> tuple[mg.Pipeline, ListSink]:
    pipe = mg.Pipeline("three")
    pipe.add(mg.Producer("src", lambda: range(30)))
    pipe.add(mg.Processor("a", lambda n: n + 1, processes=2))
    pipe.add(mg.Processor("b", lambda n: n * 2, processes=2))
    pipe.add(mg.Processor("c", lambda n: n - 1, processes=2))
    sink = pipe.add(ListSink("sink"))
    return pipe, sink


def test_three_process_stages_run_twenty_times_in_a_row() -> None:
    """Three process stages forking at once never hang, 20 runs in a row."""
    expected = sorted((n + 1) * 2 - 1 for n in range(30))
    for _ in range(20):
        pipe, sink = _three_process_stages()
        report = pipe.run(timeout=20)
        assert sorted(sink.items) == expected
        assert report.status == "succeeded"


def _fd_count() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def test_no_fd_or_zombie_leak_over_five_runs(
    list_children: Callable[[int], list[int]],
) -> None:
    """Five runs with process stages leave the same open fds and no children."""
    before = _fd_count()
    for _ in range(5):
        pipe, sink = _three_process_stages()
        pipe.run(timeout=TIMEOUT)
        assert len(sink.items) == 30
    after = _fd_count()

    assert after == before
    assert list_children(os.getpid()) == []


def test_no_fd_leak_after_failed_runs() -> None:
    """Failing runs (crash retries exhausted) close every pipe they opened."""

    def boom(n: int) -> int:
        if n == 2:
            raise ValueError(n)
        return n

    before = _fd_count()
    for _ in range(3):
        pipe = mg.Pipeline("failing")
        pipe.add(mg.Producer("src", lambda: range(10)))
        pipe.add(mg.Processor("work", boom, processes=2, max_retries=0))
        pipe.add(ListSink("sink"))
        with pytest.raises(mg.PipelineError):
            pipe.run(timeout=TIMEOUT)

    assert _fd_count() == before


def test_thread_process_thread_pipeline() -> None:
    """A thread -> process -> thread chain delivers every item exactly once."""
    pipe = mg.Pipeline("mixed")
    pipe.add(mg.Producer("src", lambda: range(200)))
    pipe.add(mg.Processor("t1", lambda n: n + 1, threads=2))
    pipe.add(mg.Processor("p", lambda n: (n, os.getpid()), processes=2))
    pipe.add(mg.Processor("t2", lambda pair: pair[0] * 10, threads=2))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert Counter(sink.items) == Counter((n + 1) * 10 for n in range(200))


def test_fan_out_and_fan_in_across_process_stages() -> None:
    """Broadcast to two process stages, joined at one inline sink: both multisets."""
    pipe = mg.Pipeline("fan")
    pipe.add(mg.Producer("src", lambda: [*range(50), 7, 7], to=["left", "right"]))
    pipe.add(mg.Processor("left", lambda n: ("left", n), processes=2, to="join"))
    pipe.add(mg.Processor("right", lambda n: ("right", n), processes=2, to="join"))
    join = pipe.add(ListSink("join"))

    pipe.run(timeout=TIMEOUT)

    items = [*range(50), 7, 7]
    expected = Counter([("left", n) for n in items] + [("right", n) for n in items])
    assert Counter(join.items) == expected


# -- SpawnForkExecutor ------------------------------------------------------------


def _spawn_fork_pipeline(
    fn: Callable[[list[int]], Any], n: int = 20, size: int = 5, **opts: Any
) -> tuple[mg.Pipeline, ListSink]:
    pipe = mg.Pipeline("spawn_fork")
    pipe.add(mg.Producer("src", lambda: range(n)))
    pipe.add(mg.Accumulator("batch", max_size=size))
    pipe.add(
        mg.Processor(
            "work", fn, executor=mg.SpawnForkExecutor(max_concurrent=2), **opts
        )
    )
    sink = pipe.add(ListSink("sink"))
    return pipe, sink


def test_spawn_fork_runs_one_child_per_batch() -> None:
    """Each batch runs in its own fresh child: one distinct pid per batch."""
    pipe, sink = _spawn_fork_pipeline(lambda batch: (os.getpid(), sorted(batch)))

    report = pipe.run(timeout=TIMEOUT)

    pids = [pid for pid, _ in sink.items]
    assert len(pids) == 4
    assert len(set(pids)) == 4
    assert os.getpid() not in pids
    assert sorted(n for _, batch in sink.items for n in batch) == list(range(20))
    assert report.stages["work"].executor == "spawn_fork(2)"


def _read_and_write_state(batch: list[int]) -> str:
    seen = str(STATE["value"])
    STATE["value"] = f"written by child {os.getpid()}"
    STATE[f"child {os.getpid()}"] = batch
    return seen


def test_spawn_fork_children_see_parent_memory_and_never_write_back() -> None:
    """Children see the parent's memory as of the fork; their writes stay in them."""
    STATE.clear()
    STATE["value"] = "set by the parent before the run"
    pipe, sink = _spawn_fork_pipeline(_read_and_write_state)

    pipe.run(timeout=TIMEOUT)

    assert sink.items == ["set by the parent before the run"] * 4
    assert STATE == {"value": "set by the parent before the run"}


def test_spawn_fork_large_result_does_not_deadlock() -> None:
    """A 200 KB result (more than a pipe buffer) streams back without deadlock."""
    pipe, sink = _spawn_fork_pipeline(lambda batch: b"x" * 200_000 + bytes(batch))

    pipe.run(timeout=TIMEOUT)

    assert sorted(len(r) for r in sink.items) == [200_005] * 4
    assert all(r.startswith(b"x" * 200_000) for r in sink.items)


def test_spawn_fork_after_fork_runs_in_every_child(tmp_path: Path) -> None:
    """after_fork runs once in each per-batch child; before_fork once per child."""
    log = tmp_path / "forks.log"

    def record(event: str) -> Callable[..., None]:
        def hook(**_: Any) -> None:
            with log.open("a") as f:
                f.write(f"{event} {os.getpid()}\n")

        return hook

    pipe, sink = _spawn_fork_pipeline(
        lambda batch: os.getpid(),
        before_fork=record("before"),
        after_fork=record("after"),
    )

    pipe.run(timeout=TIMEOUT)

    lines = [line.split() for line in log.read_text().splitlines()]
    after = sorted(int(pid) for event, pid in lines if event == "after")
    before = [int(pid) for event, pid in lines if event == "before"]
    assert after == sorted(sink.items)
    assert len(set(after)) == 4
    assert before == [os.getpid()] * 4


# -- SpawnThreadExecutor ------------------------------------------------------------


def test_spawn_thread_runs_each_batch_in_a_new_thread() -> None:
    """Each batch runs in its own new thread (distinct native thread ids)."""
    threads: list[threading.Thread] = []
    lock = threading.Lock()

    def fn(batch: list[int]) -> tuple[int, int, list[int]]:
        with lock:
            threads.append(threading.current_thread())
        return (threading.get_native_id(), os.getpid(), batch)

    pipe = mg.Pipeline("spawn_thread")
    pipe.add(mg.Producer("src", lambda: range(30)))
    pipe.add(mg.Accumulator("batch", max_size=5))
    pipe.add(
        mg.Processor("work", fn, executor=mg.SpawnThreadExecutor(max_concurrent=2))
    )
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    native_ids = [tid for tid, _, _ in sink.items]
    assert len(native_ids) == 6
    assert len(set(native_ids)) == 6
    assert len({id(t) for t in threads}) == 6
    assert threading.get_native_id() not in native_ids
    assert {pid for _, pid, _ in sink.items} == {os.getpid()}
    assert sorted(n for _, _, b in sink.items for n in b) == list(range(30))
    assert report.stages["work"].executor == "spawn_thread(2)"


@pytest.mark.parametrize(
    "executor",
    [mg.SpawnForkExecutor(max_concurrent=2), mg.SpawnThreadExecutor(max_concurrent=2)],
    ids=["spawn_fork", "spawn_thread"],
)
def test_spawn_executor_without_accumulator_is_a_definition_error(
    executor: mg.Executor,
) -> None:
    """A spawn executor on a stage not fed by an Accumulator fails validate()."""
    pipe = mg.Pipeline("no_batches")
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(mg.Processor("work", lambda x: x, executor=executor))
    pipe.add(ListSink("sink"))

    with pytest.raises(mg.DefinitionError, match=r"'work'.*Accumulator"):
        pipe.validate()


# -- statistics --------------------------------------------------------------------


def test_worker_statistics_reach_the_report() -> None:
    """Counts and latencies measured in the children appear in the run report."""

    def work(n: int) -> int | None:
        time.sleep(0.002)
        if n % 10 == 0:
            raise ValueError(n)
        return n

    pipe = mg.Pipeline("stats")
    pipe.add(mg.Producer("src", lambda: range(40)))
    pipe.add(
        mg.Processor(
            "work", work, processes=2, max_retries=1, retry_delay=0, on_error="skip"
        )
    )
    pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    stats = report.stages["work"]
    assert (stats.items_in, stats.items_out) == (40, 36)
    assert (stats.items_failed, stats.items_retried) == (4, 4)
    assert stats.workers == 2
    assert stats.latency_p50 > 0
    assert stats.latency_p99 >= stats.latency_p50
    assert stats.busy_time > 0
    assert report.total_failed == 4
