"""RayExecutor when things go wrong: errors, crashes, timeouts, cancellation."""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (the minigun[ray] extra)")

import minigun as mg  # noqa: E402 - after the skip
from minigun.executors._distributed import RayExecutor  # noqa: E402
from minigun.testing import ListSink  # noqa: E402

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.usefixtures("no_live_actors"), pytest.mark.timeout(60)]

TIMEOUT = 45.0
E = TypeVar("E", bound=BaseException)


class CustomError(Exception):
    """An exception class the actors must send back as itself."""


class UnpicklableError(Exception):
    """An exception that cannot be pickled (it holds a lock)."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.lock = threading.Lock()


def _leaves(group: BaseExceptionGroup[Any], kind: type[E]) -> list[E]:
    found: list[E] = []
    for exc in group.exceptions:
        if isinstance(exc, kind):
            found.append(exc)
        if isinstance(exc, BaseExceptionGroup):
            found.extend(_leaves(exc, kind))
    return found


def _first_time(flag: Path) -> bool:
    """True exactly once per *flag* file, across processes."""
    try:
        fd = os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


# -- exceptions in stage functions ----------------------------------------------------


def test_error_fails_the_run_with_the_original_exception() -> None:
    """on_error='raise': PipelineError holds a StageError naming the item."""

    def fn(n: int) -> int:
        if n == 13:
            raise CustomError("thirteen")
        return n

    pipe = mg.Pipeline("raise")
    pipe.add(mg.Producer("src", lambda: range(100)))
    pipe.add(
        mg.Processor("work", fn, max_retries=1, retry_delay=0, executor=RayExecutor())
    )
    pipe.add(ListSink("sink"))
    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)
    (err,) = _leaves(info.value, mg.StageError)
    assert err.stage == "work"
    assert err.item_repr == "13"
    assert isinstance(err.error, CustomError)
    assert str(err.error) == "thirteen"
    assert info.value.report.stages["work"].items_retried >= 1


def test_unpicklable_error_comes_back_described() -> None:
    """An exception that cannot be pickled crosses as a RuntimeError naming it."""
    errors: list[BaseException] = []

    def fn(n: int) -> int:
        if n == 2:
            raise UnpicklableError("locked")
        return n

    pipe = mg.Pipeline("unpicklable-error")
    pipe.add(mg.Producer("src", lambda: range(5)))
    pipe.add(
        mg.Processor(
            "work",
            fn,
            max_retries=0,
            on_error=lambda item, error: errors.append(error),
            executor=RayExecutor(workers=1),
        )
    )
    sink = pipe.add(ListSink("sink"))
    report = pipe.run(timeout=TIMEOUT)
    assert sorted(sink.items) == [0, 1, 3, 4]
    assert report.stages["work"].items_failed == 1
    (error,) = errors
    assert isinstance(error, RuntimeError)
    assert "UnpicklableError: locked" in str(error)


def test_dead_letters_receive_failed_items() -> None:
    """dead_letter= gets mg.Failed(item, error, stage) from a Ray stage."""

    def fn(n: int) -> int:
        if n % 4 == 0:
            raise ValueError(n)
        return n

    pipe = mg.Pipeline("dead")
    pipe.add(mg.Producer("src", lambda: range(20)))
    pipe.add(
        mg.Processor(
            "work",
            fn,
            max_retries=0,
            dead_letter="dlq",
            executor=RayExecutor(workers=2),
            to="sink",
        )
    )
    sink = pipe.add(ListSink("sink"))
    dlq = pipe.add(ListSink("dlq", to=()))
    report = pipe.run(timeout=TIMEOUT)
    assert report.status == "succeeded"
    assert sorted(sink.items) == [n for n in range(20) if n % 4]
    assert sorted(f.item for f in dlq.items) == [0, 4, 8, 12, 16]
    assert all(isinstance(f.error, ValueError) and f.stage == "work" for f in dlq.items)


def test_setup_error_fails_the_run() -> None:
    """An exception in setup() (in the actor) fails the run with a StageError."""

    class Broken(mg.Processor[Any, Any]):
        def setup(self) -> None:
            raise CustomError("no database")

        def process(self, item: Any) -> Any:
            return item

    pipe = mg.Pipeline("setup-error")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(Broken("work", executor=RayExecutor(workers=2)))
    pipe.add(ListSink("sink"))
    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)
    errors = _leaves(info.value, mg.StageError)
    assert errors
    assert all(isinstance(e.error, CustomError) for e in errors)
    assert "no database" in str(errors[0])


def test_teardown_error_fails_the_run() -> None:
    """An exception in teardown() (in the actor) fails the run."""

    class Broken(mg.Processor[Any, Any]):
        def process(self, item: Any) -> Any:
            return item

        def teardown(self) -> None:
            raise CustomError("flush failed")

    pipe = mg.Pipeline("teardown-error")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(Broken("work", executor=RayExecutor(workers=1)))
    sink = pipe.add(ListSink("sink"))
    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)
    assert sorted(sink.items) == list(range(10))
    (err,) = _leaves(info.value, mg.StageError)
    assert isinstance(err.error, CustomError)


def test_unpicklable_item_and_result_are_named() -> None:
    """An item or a result that cannot be pickled fails with NotPicklableError."""
    for what, src, fn in (
        ("item", lambda: [1, threading.Lock()], lambda x: 1),
        ("result", lambda: [1, 2], lambda x: threading.Lock()),
    ):
        pipe = mg.Pipeline(f"unpicklable-{what}")
        pipe.add(mg.Producer("src", src))
        pipe.add(mg.Processor("work", fn, executor=RayExecutor(workers=1)))
        pipe.add(ListSink("sink"))
        with pytest.raises(mg.PipelineError) as info:
            pipe.run(timeout=TIMEOUT)
        (err,) = _leaves(info.value, mg.NotPicklableError)
        assert err.what == what
        assert err.stage == "work"
        assert "lock" in err.type_name.lower()


# -- crashes ------------------------------------------------------------------------


def test_crashed_actor_restarts_reruns_setup_and_retries_its_batch(
    tmp_path: Path,
) -> None:
    """An actor process that dies is restarted (setup() again); its batch is retried."""
    setups = tmp_path / "setups"
    flag = tmp_path / "crashed"

    class Stage(mg.Processor[Any, Any]):
        def setup(self) -> None:
            with setups.open("a") as f:
                f.write(f"{os.getpid()}\n")

        def process(self, item: Any) -> Any:
            if item == 25 and _first_time(flag):
                os._exit(1)
            return item

    pipe = mg.Pipeline("crash-once")
    pipe.add(mg.Producer("src", lambda: range(100)))
    pipe.add(Stage("work", executor=RayExecutor(workers=1, batch_size=10)))
    sink = pipe.add(ListSink("sink"))
    report = pipe.run(timeout=TIMEOUT)
    assert sorted(sink.items) == list(range(100))
    pids = setups.read_text().split()
    assert len(pids) == 2  # the first actor process and its restart
    assert pids[0] != pids[1]
    st = report.stages["work"]
    assert st.items_retried >= 1
    assert st.items_failed == 0


def test_item_that_keeps_crashing_its_actor_fails_with_worker_crashed() -> None:
    """A unit that kills its actor every time ends as WorkerCrashedError."""
    errors: list[tuple[Any, BaseException]] = []

    def fn(n: int) -> int:
        if n == 3:
            os._exit(1)
        return n

    pipe = mg.Pipeline("crash-always")
    pipe.add(mg.Producer("src", lambda: range(8)))
    pipe.add(
        mg.Processor(
            "work",
            fn,
            max_retries=1,
            on_error=lambda item, error: errors.append((item, error)),
            executor=RayExecutor(workers=1, batch_size=4),
        )
    )
    sink = pipe.add(ListSink("sink"))
    report = pipe.run(timeout=TIMEOUT)
    assert sorted(sink.items) == [0, 1, 2, 4, 5, 6, 7]
    ((item, error),) = errors
    assert item == 3
    assert isinstance(error, mg.WorkerCrashedError)
    assert error.stage == "work"
    assert error.item_repr == "3"
    st = report.stages["work"]
    assert st.items_failed == 1
    assert st.items_retried >= 1


def test_item_timeout_restarts_the_actor() -> None:
    """item_timeout= gives up on a stuck item (TimeoutError) and goes on."""
    errors: list[BaseException] = []

    def fn(n: int) -> int:
        if n == 1:
            time.sleep(60)
        return n

    pipe = mg.Pipeline("item-timeout")
    pipe.add(mg.Producer("src", lambda: range(4)))
    pipe.add(
        mg.Processor(
            "work",
            fn,
            max_retries=0,
            item_timeout=1.0,
            on_error=lambda item, error: errors.append(error),
            executor=RayExecutor(workers=1),
        )
    )
    sink = pipe.add(ListSink("sink"))
    t0 = time.monotonic()
    pipe.run(timeout=TIMEOUT)
    assert time.monotonic() - t0 < 30
    assert sorted(sink.items) == [0, 2, 3]
    (error,) = errors
    assert isinstance(error, TimeoutError)
    assert "item_timeout" in str(error)


# -- stopping -----------------------------------------------------------------------


def test_run_timeout_cancels_and_kills_the_actors() -> None:
    """run(timeout=) raises TimeoutError quickly; no actor is left (fixture)."""

    def slow(n: int) -> int:
        time.sleep(0.5)
        return n

    pipe = mg.Pipeline("timeout")
    pipe.add(mg.Producer("src", lambda: range(1000)))
    pipe.add(mg.Processor("work", slow, executor=RayExecutor(workers=2, batch_size=4)))
    pipe.add(ListSink("sink"))
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        pipe.run(timeout=3)
    assert time.monotonic() - t0 < 15


def test_cancel_while_setup_is_still_running() -> None:
    """A run cancelled while actors are in setup() ends at once."""

    class SlowStart(mg.Processor[Any, Any]):
        def setup(self) -> None:
            time.sleep(60)

        def process(self, item: Any) -> Any:
            return item

    pipe = mg.Pipeline("slow-setup")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(SlowStart("work", executor=RayExecutor(workers=2)))
    pipe.add(ListSink("sink"))
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        pipe.run(timeout=2)
    assert time.monotonic() - t0 < 15


def test_actor_that_cannot_be_placed_is_a_clear_error() -> None:
    """No node has the resource: the run fails after actor_timeout, saying why."""
    pipe = mg.Pipeline("unplaceable")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(
        mg.Processor(
            "work",
            lambda n: n,
            executor=RayExecutor(
                workers=1, resources={"no_such_node": 1}, actor_timeout=2
            ),
        )
    )
    pipe.add(ListSink("sink"))
    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)
    (err,) = _leaves(info.value, mg.ExecutorError)
    assert "did not start within 2s" in str(err)
    assert "no_such_node" in str(err)


def test_setup_that_kills_the_actor_is_a_clear_error() -> None:
    """setup() that kills its process every time fails after actor_timeout."""

    class Doomed(mg.Processor[Any, Any]):
        def setup(self) -> None:
            os._exit(3)

        def process(self, item: Any) -> Any:
            return item

    pipe = mg.Pipeline("doomed")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(Doomed("work", executor=RayExecutor(workers=1, actor_timeout=4)))
    pipe.add(ListSink("sink"))
    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)
    (err,) = _leaves(info.value, mg.ExecutorError)
    assert "Ray actor 0" in str(err)


def test_actor_that_ray_will_not_restart_is_given_up(tmp_path: Path) -> None:
    """max_restarts=0: a dead actor is dropped at once; the other carries on."""
    flag = tmp_path / "crashed"

    def fn(n: int) -> int:
        if n == 30 and _first_time(flag):
            os._exit(1)
        time.sleep(0.001)
        return n

    pipe = mg.Pipeline("no-restart")
    pipe.add(mg.Producer("src", lambda: range(300)))
    pipe.add(
        mg.Processor(
            "work",
            fn,
            executor=RayExecutor(
                workers=2, batch_size=10, actor_options={"max_restarts": 0}
            ),
        )
    )
    sink = pipe.add(ListSink("sink"))
    t0 = time.monotonic()
    report = pipe.run(timeout=TIMEOUT)
    assert time.monotonic() - t0 < 20  # not actor_timeout (120 s)
    assert sorted(sink.items) == list(range(300))
    assert report.stages["work"].items_retried >= 1
