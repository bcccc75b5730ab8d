"""Process executors when things go wrong: errors, crashes, timeouts, hooks, Ctrl-C."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

import minigun as mg
from minigun.testing import ListSink

if TYPE_CHECKING:
    from collections.abc import Callable

TIMEOUT = 20.0
ROOT = Path(__file__).resolve().parents[2]

E = TypeVar("E", bound=BaseException)


def _leaves(group: BaseExceptionGroup[Any], kind: type[E]) -> list[E]:
    """Every exception of *kind* held (at any depth) by *group*."""
    found: list[E] = []
    for exc in group.exceptions:
        if isinstance(exc, kind):
            found.append(exc)
        if isinstance(exc, BaseExceptionGroup):
            found.extend(_leaves(exc, kind))
    return found


def _first_time(flag: Path) -> bool:
    """True exactly once per *flag* file, across processes (atomic create)."""
    try:
        fd = os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _append(path: Path, text: str) -> None:
    with path.open("a") as f:
        f.write(text + "\n")


# -- exceptions in workers -------------------------------------------------------


def test_worker_exception_is_retried_then_skipped(tmp_path: Path) -> None:
    """An exception in a child is retried per item, then skipped and counted."""
    flag = tmp_path / "flaky"

    def fn(n: int) -> int:
        if n % 10 == 3:
            raise ValueError(f"always bad {n}")
        if n == 5 and _first_time(flag):
            raise ValueError("bad once")
        return n

    pipe = mg.Pipeline("skip")
    pipe.add(mg.Producer("src", lambda: range(50)))
    pipe.add(
        mg.Processor(
            "work", fn, processes=2, max_retries=2, retry_delay=0, on_error="skip"
        )
    )
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    failing = [3, 13, 23, 33, 43]
    stats = report.stages["work"]
    assert sorted(sink.items) == [n for n in range(50) if n not in failing]
    assert report.status == "succeeded"
    assert stats.items_failed == 5
    assert stats.items_retried == 5 * 2 + 1
    assert stats.items_in == 50


def test_on_error_callable_gets_the_original_exception() -> None:
    """A callable on_error runs in the parent with the item and the child's error."""
    seen: list[tuple[Any, str, str, int]] = []

    def policy(item: Any, error: BaseException) -> None:
        seen.append((item, type(error).__name__, str(error), os.getpid()))

    def fn(n: int) -> int:
        if n in (4, 7):
            raise KeyError(n)
        return n

    pipe = mg.Pipeline("policy")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("work", fn, processes=2, max_retries=0, on_error=policy))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(seen) == [
        (4, "KeyError", "4", os.getpid()),
        (7, "KeyError", "7", os.getpid()),
    ]
    assert sorted(sink.items) == [0, 1, 2, 3, 5, 6, 8, 9]
    assert report.stages["work"].items_failed == 2


def test_dead_letter_receives_failed_items_from_children() -> None:
    """dead_letter= gets `Failed(item, error, stage)` for items failed in a child."""

    def fn(n: int) -> int:
        if n == 6:
            raise ValueError("six")
        return n

    pipe = mg.Pipeline("dlq")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(
        mg.Processor(
            "work", fn, processes=2, max_retries=0, dead_letter="dead", to="sink"
        )
    )
    sink = pipe.add(ListSink("sink", to=()))
    dead = pipe.add(ListSink("dead"))

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [0, 1, 2, 3, 4, 5, 7, 8, 9]
    assert [(f.item, type(f.error).__name__, f.stage) for f in dead.items] == [
        (6, "ValueError", "work")
    ]
    assert report.status == "succeeded"


def test_fail_fast_with_full_queues_and_infinite_producer() -> None:
    """The default raise policy stops an endless run with full queues, no hang."""

    def boom(n: int) -> int:
        if n == 50:
            raise ValueError("boom at 50")
        return n

    pipe = mg.Pipeline("failfast")
    pipe.add(mg.Producer("src", itertools.count))
    pipe.add(mg.Processor("work", boom, processes=2, queue_size=2, retry_delay=0))
    pipe.add(mg.Processor("slow", lambda n: time.sleep(0.001), queue_size=2))

    started = time.monotonic()
    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)
    elapsed = time.monotonic() - started

    errors = _leaves(info.value, mg.StageError)
    assert [(e.stage, e.item_repr) for e in errors] == [("work", "50")]
    assert isinstance(errors[0].__cause__, ValueError)
    assert str(errors[0].__cause__) == "boom at 50"
    assert info.value.report.status == "failed"
    assert elapsed < 10, f"fail fast took {elapsed:.1f}s"


# -- crashed workers ---------------------------------------------------------------


def test_killed_worker_is_respawned_and_every_item_delivered_once(
    tmp_path: Path,
) -> None:
    """A child killed with SIGKILL mid-run is respawned; no item is lost or doubled."""
    flag = tmp_path / "killed"

    def fn(n: int) -> int:
        if n == 25 and _first_time(flag):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.001)
        return n

    pipe = mg.Pipeline("respawn")
    pipe.add(mg.Producer("src", lambda: range(100)))
    pipe.add(mg.Processor("work", fn, processes=2, retry_delay=0))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert flag.exists()
    assert sorted(sink.items) == list(range(100))
    assert report.status == "succeeded"
    assert report.stages["work"].items_retried > 0
    assert report.stages["work"].items_failed == 0


def test_always_crashing_item_fails_with_worker_crashed_error() -> None:
    """An item that kills its worker every time ends in WorkerCrashedError naming it."""

    def fn(n: int) -> int:
        if n == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return n

    pipe = mg.Pipeline("crash")
    pipe.add(mg.Producer("src", lambda: range(6)))
    pipe.add(mg.Processor("work", fn, processes=2, max_retries=1, retry_delay=0))
    pipe.add(ListSink("sink"))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    errors = _leaves(info.value, mg.StageError)
    assert [(e.stage, e.item_repr) for e in errors] == [("work", "3")]
    cause = errors[0].__cause__
    assert isinstance(cause, mg.WorkerCrashedError)
    assert (cause.stage, cause.item_repr, cause.signal) == ("work", "3", 9)


def test_item_timeout_kills_a_stuck_item_and_the_rest_come_through() -> None:
    """item_timeout= fails an item that takes too long; the other items arrive."""
    errors: list[tuple[Any, str]] = []

    def stuck_on_two(n: int) -> int:
        if n == 2:
            time.sleep(60)
        return n

    pipe = mg.Pipeline("item_timeout")
    pipe.hooks.append(
        "on_error",
        lambda item, error: errors.append((item, type(error).__name__)),
    )
    pipe.add(mg.Producer("src", lambda: range(8)))
    pipe.add(
        mg.Processor(
            "work",
            stuck_on_two,
            processes=2,
            item_timeout=0.5,
            on_error="skip",
            max_retries=1,
            retry_delay=0,
        )
    )
    sink = pipe.add(ListSink("sink"))

    started = time.monotonic()
    report = pipe.run(timeout=TIMEOUT)
    elapsed = time.monotonic() - started

    assert sorted(sink.items) == [0, 1, 3, 4, 5, 6, 7]
    assert errors == [(2, "TimeoutError")]
    assert report.stages["work"].items_failed == 1
    assert elapsed < 8, f"a 0.5 s item_timeout run took {elapsed:.1f}s"


# -- pickling --------------------------------------------------------------------


def test_unpicklable_item_is_a_clear_error() -> None:
    """An item that cannot be pickled fails the run with NotPicklableError naming it."""
    lock = threading.Lock()
    pipe = mg.Pipeline("unpicklable_item")
    pipe.add(mg.Producer("src", lambda: iter([1, lock, 2])))
    pipe.add(mg.Processor("work", lambda x: x, processes=2))
    pipe.add(ListSink("sink"))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    errors = _leaves(info.value, mg.NotPicklableError)
    assert [(e.stage, e.what, e.type_name) for e in errors] == [
        ("work", "item", "lock")
    ]


def test_unpicklable_result_is_a_clear_error() -> None:
    """A result that cannot be pickled back fails the run with what == 'result'."""
    pipe = mg.Pipeline("unpicklable_result")
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(mg.Processor("work", lambda _: threading.Lock(), processes=2))
    pipe.add(ListSink("sink"))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    errors = _leaves(info.value, mg.NotPicklableError)
    assert errors != []
    assert {(e.stage, e.what, e.type_name) for e in errors} == {
        ("work", "result", "lock")
    }


# -- fork hooks ------------------------------------------------------------------


def test_fork_hooks_run_in_parent_and_children_in_order(tmp_path: Path) -> None:
    """before_fork runs in the parent, after_fork in each child; pipeline's first."""
    log = tmp_path / "hooks.log"

    def hook(event: str, level: str) -> Callable[..., None]:
        def record(stage: str, **_: Any) -> None:
            assert stage == "work"
            where = threading.get_native_id() if event == "before" else os.getpid()
            _append(log, f"{event} {level} {os.getpid()} {where}")

        return record

    pipe = mg.Pipeline("hooks")
    pipe.hooks.append("before_fork", hook("before", "pipe"))
    pipe.hooks.append("after_fork", hook("after", "pipe"))
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(
        mg.Processor(
            "work",
            lambda n: os.getpid(),
            processes=2,
            before_fork=hook("before", "stage"),
            after_fork=hook("after", "stage"),
        )
    )
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    me = os.getpid()
    order: dict[tuple[str, int], list[str]] = defaultdict(list)
    pids: dict[str, set[int]] = defaultdict(set)
    for line in log.read_text().splitlines():
        event, level, pid, where = line.split()
        order[event, int(where)].append(level)
        pids[event].add(int(pid))
    assert pids["before"] == {me}
    assert me not in pids["after"]
    assert len(pids["after"]) == 2
    assert set(sink.items) <= pids["after"]
    assert sorted(order.values()) == [["pipe", "stage"]] * 4


def test_failing_after_fork_hook_fails_the_run() -> None:
    """An after_fork hook that raises in the child fails the run with HookError."""

    def broken(stage: str, **_: Any) -> None:
        raise RuntimeError(f"no database in the child of {stage}")

    pipe = mg.Pipeline("bad_hook")
    pipe.add(mg.Producer("src", lambda: range(5)))
    pipe.add(mg.Processor("work", lambda n: n, processes=2, after_fork=broken))
    pipe.add(ListSink("sink"))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    errors = _leaves(info.value, mg.HookError)
    assert errors != []
    assert {e.event for e in errors} == {"after_fork"}
    assert {e.stage for e in errors} == {"work"}
    assert str(errors[0].__cause__) == "no database in the child of work"


def test_failing_before_fork_hook_fails_the_run() -> None:
    """A before_fork hook that raises in the parent fails the run with HookError."""

    def broken() -> None:
        raise RuntimeError("cannot close the pool")

    pipe = mg.Pipeline("bad_before")
    pipe.hooks.append("before_fork", broken)
    pipe.add(mg.Producer("src", lambda: range(5)))
    pipe.add(mg.Processor("work", lambda n: n, processes=2))
    pipe.add(ListSink("sink"))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    errors = _leaves(info.value, mg.HookError)
    assert {e.event for e in errors} == {"before_fork"}


def test_stage_fork_hooks_may_take_no_arguments(tmp_path: Path) -> None:
    """Stage-level before_fork=/after_fork= hooks taking no parameters are accepted."""
    log = tmp_path / "hooks.log"

    def before() -> None:
        _append(log, f"before {os.getpid()}")

    def after() -> None:
        _append(log, f"after {os.getpid()}")

    pipe = mg.Pipeline("bare_hooks")
    pipe.add(mg.Producer("src", lambda: range(4)))
    pipe.add(
        mg.Processor(
            "work", lambda n: n, processes=2, before_fork=before, after_fork=after
        )
    )
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    events = sorted(line.split()[0] for line in log.read_text().splitlines())
    assert events == ["after", "after", "before", "before"]
    assert sorted(sink.items) == [0, 1, 2, 3]


def _crashing_pipeline() -> mg.Pipeline:
    def fn(n: int) -> int:
        if n == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return n

    pipe = mg.Pipeline("crash_msg")
    pipe.add(mg.Producer("src", lambda: range(5)))
    pipe.add(mg.Processor("work", fn, processes=2, max_retries=0))
    return pipe


def _unpicklable_item_pipeline() -> mg.Pipeline:
    lock = threading.Lock()
    pipe = mg.Pipeline("item_msg")
    pipe.add(mg.Producer("src", lambda: iter([lock])))
    pipe.add(mg.Processor("work", lambda x: x, processes=2))
    return pipe


def _unpicklable_result_pipeline() -> mg.Pipeline:
    pipe = mg.Pipeline("result_msg")
    pipe.add(mg.Producer("src", lambda: range(1)))
    pipe.add(mg.Processor("work", lambda _: threading.Lock(), processes=1))
    return pipe


def _after_fork_failure_pipeline() -> mg.Pipeline:
    def broken_hook(**_: Any) -> None:
        raise RuntimeError("no database")

    pipe = mg.Pipeline("hook_msg")
    pipe.add(mg.Producer("src", lambda: range(2)))
    pipe.add(mg.Processor("work", lambda n: n, processes=1, after_fork=broken_hook))
    return pipe


@pytest.mark.parametrize(
    ("build", "kind", "fragments"),
    [
        (
            _crashing_pipeline,
            mg.WorkerCrashedError,
            ["stage 'work'", "signal 9", "item 3"],
        ),
        (
            _unpicklable_item_pipeline,
            mg.NotPicklableError,
            ["stage 'work'", "item of type lock"],
        ),
        (
            _unpicklable_result_pipeline,
            mg.NotPicklableError,
            ["stage 'work'", "result of type lock"],
        ),
        (
            _after_fork_failure_pipeline,
            mg.HookError,
            ["after_fork hook", "broken_hook()", "stage 'work'", "no database"],
        ),
    ],
    ids=["crash", "item", "result", "after_fork"],
)
def test_process_error_messages_are_readable(
    build: Callable[[], mg.Pipeline],
    kind: type[Exception],
    fragments: list[str],
) -> None:
    """Process errors read as sentences naming the stage, the type, signal or hook."""
    with pytest.raises(mg.PipelineError) as info:
        build().run(timeout=TIMEOUT)

    found = _leaves(info.value, kind)
    for crashed in _leaves(info.value, mg.StageError):
        if isinstance(crashed.__cause__, kind):
            found.append(crashed.__cause__)
    assert found != []
    message = str(found[0])
    assert [f for f in fragments if f not in message] == [], message


# -- cancellation ----------------------------------------------------------------


def test_run_timeout_cancels_and_reaps_children(
    list_children: Callable[[int], list[int]],
) -> None:
    """run(timeout=0.5) over a stuck process stage raises quickly; no child is left."""
    pipe = mg.Pipeline("stuck")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("work", lambda n: time.sleep(60), processes=2))
    pipe.add(ListSink("sink"))

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        pipe.run(timeout=0.5)
    elapsed = time.monotonic() - started

    assert elapsed < 5, f"run(timeout=0.5) took {elapsed:.1f}s"
    assert list_children(os.getpid()) == []


_CTRL_C_SCRIPT = """
import itertools, os, sys, time
from pathlib import Path
import minigun as mg

pidfile = Path(sys.argv[1])

def record_child(**_):
    with pidfile.open("a") as f:
        f.write(f"{os.getpid()}\\n")

def children():
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == me:
                found.append(int(entry.name))
    return found

def slow(n):
    time.sleep(0.02)
    return n

pipe = mg.Pipeline("ctrl_c")
pipe.add(mg.Producer("src", itertools.count))
pipe.add(
    mg.Processor("work", slow, processes=2, queue_size=4, after_fork=record_child)
)
pipe.add(mg.Processor("sink", lambda n: None, queue_size=4))
try:
    pipe.run(timeout=60)
    outcome = "returned"
except KeyboardInterrupt:
    outcome = "interrupted"
print(outcome, sorted(children()), flush=True)
"""


def test_ctrl_c_twice_leaves_no_children(
    tmp_path: Path, alive: Callable[[int], bool]
) -> None:
    """Two SIGINTs to a script running processes=2 end it fast, every child reaped."""
    pidfile = tmp_path / "children.txt"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, "-c", _CTRL_C_SCRIPT, str(pidfile)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal would
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            not pidfile.exists() or len(pidfile.read_text().split()) < 2
        ):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        time.sleep(0.2)  # let items flow
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole group
        time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    workers = [int(p) for p in pidfile.read_text().split()]
    assert len(workers) >= 2
    assert out.split(maxsplit=1)[1:] == ["[]\n"], (out, err)
    assert elapsed < 10, f"two Ctrl-C took {elapsed:.1f}s"
    deadline = time.monotonic() + 2
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [p for p in workers if alive(p)] == []
