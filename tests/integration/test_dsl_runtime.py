"""Tasks declared with the decorator DSL, run end to end (SPEC §9)."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun import dsl

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import ModuleType

TIMEOUT = 20.0
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class _Log:
    """A thread-safe list of events."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[Any] = []

    def add(self, event: Any) -> None:
        with self.lock:
            self.events.append(event)


class Etl(dsl.Task):
    """The SPEC §9 example, with a list standing in for the database."""

    max_threads = 10

    def __init__(self, n: int = 100) -> None:
        self.n = n
        self.saved = _Log()
        self.forks = 0

    @dsl.producer
    def generate(self) -> Iterator[int]:
        yield from range(self.n)

    @dsl.processor(threads=10)
    def transform(self, n: int) -> int:
        return n * 2

    @dsl.accumulator(max_size=20)
    def batch(self, items: list[int]) -> list[int]:
        return items

    @dsl.consumer
    def save(self, batch: list[int]) -> None:
        self.saved.add(batch)

    @dsl.before_fork
    def close_db(self) -> None:
        self.forks += 1


def test_spec_example_runs() -> None:
    """The SPEC §9 Etl task runs and delivers every item in batches of 20."""
    task = Etl()
    report = task.run(timeout=TIMEOUT)
    assert report.status == "succeeded"
    batches = task.saved.events
    assert sorted(x for b in batches for x in b) == [n * 2 for n in range(100)]
    assert sorted(len(b) for b in batches) == [20] * 5
    assert report.stages["transform"].workers == 10
    assert task.forks == 0  # no stage forks


def test_task_runs_deterministically() -> None:
    """run(deterministic=True) runs the task in the calling thread."""
    task = Etl(10)
    report = task.run(timeout=TIMEOUT, deterministic=True)
    assert report.status == "succeeded"
    assert task.saved.events == [[0, 2, 4, 6, 8, 10, 12, 14, 16, 18]]


def test_instance_state_sizes_the_run() -> None:
    """Constructor arguments size stages through functions of self."""

    class Sized(dsl.Task):
        def __init__(self, workers: int, batch: int) -> None:
            self.workers = workers
            self.batch_size = batch
            self.out = _Log()

        @dsl.producer
        def src(self) -> range:
            return range(12)

        @dsl.processor(threads=lambda self: self.workers)
        def work(self, x: int) -> int:
            return x

        @dsl.accumulator(max_size=lambda self: self.batch_size)
        def batch(self, items: list[int]) -> list[int]:
            return items

        @dsl.consumer
        def sink(self, batch: list[int]) -> None:
            self.out.add(len(batch))

    small, large = Sized(1, 3), Sized(4, 6)
    assert small.run(timeout=TIMEOUT).stages["work"].workers == 1
    assert large.run(timeout=TIMEOUT).stages["work"].workers == 4
    assert sorted(small.out.events) == [3, 3, 3, 3]
    assert sorted(large.out.events) == [6, 6]


def test_an_instance_runs_again_with_fresh_state() -> None:
    """Running one instance twice works and runs each hook once per run (D1, D13)."""

    class Twice(dsl.Task):
        def __init__(self) -> None:
            self.log = _Log()

        @dsl.producer
        def src(self) -> range:
            return range(3)

        @dsl.accumulator(max_size=10)
        def batch(self, items: list[int]) -> list[int]:
            return items

        @dsl.consumer
        def sink(self, batch: list[int]) -> None:
            self.log.add(("item", tuple(batch)))

        @dsl.before_run
        def begin(self) -> None:
            self.log.add("before_run")

        @dsl.after_run
        def end(self) -> None:
            self.log.add("after_run")

    task = Twice()
    task.run(timeout=TIMEOUT)
    task.run(timeout=TIMEOUT)
    one = ["before_run", ("item", (0, 1, 2)), "after_run"]
    assert task.log.events == one + one


def test_emit_and_to_work_in_methods() -> None:
    """Stage methods emit with emit(), generators and To, like stage functions."""

    class Emitting(dsl.Task):
        def __init__(self) -> None:
            self.evens = _Log()
            self.odds = _Log()

        @dsl.producer
        def src(self) -> Iterator[list[int]]:
            yield [1, 2, 3, 4]

        @dsl.processor
        def split(self, items: list[int], emit: mg.Emitter) -> None:
            for x in items:
                emit(x)

        @dsl.processor
        def route(self, x: int) -> Iterator[Any]:
            if x % 2:
                yield mg.To("odd", x)
            else:
                yield x

        @dsl.consumer
        def even(self, x: int) -> None:
            self.evens.add(x)

        @dsl.consumer(to=())
        def odd(self, x: int) -> None:
            self.odds.add(x)

    task = Emitting()
    task.run(timeout=TIMEOUT)
    assert sorted(task.evens.events) == [2, 4]
    assert sorted(task.odds.events) == [1, 3]


def test_hooks_run_bound_to_the_instance() -> None:
    """Run, stage and error hooks are called on the instance, with their keywords."""

    class Hooked(dsl.Task):
        def __init__(self) -> None:
            self.log = _Log()

        @dsl.producer
        def src(self) -> range:
            return range(4)

        @dsl.processor(max_retries=0, on_error="skip")
        def work(self, x: int) -> int:
            if x == 1:
                raise KeyError(x)
            if x == 2:
                raise ValueError(x)
            return x

        @dsl.consumer
        def sink(self, x: int) -> None:
            del x

        @dsl.before_run
        def started(self, pipeline: mg.Pipeline) -> None:
            self.log.add(("before_run", pipeline.name))

        @dsl.before("work")
        def work_started(self, stage: str) -> None:
            self.log.add(("before", stage))

        @dsl.after("sink")
        def sink_done(self) -> None:
            self.log.add(("after", "sink"))

        @dsl.on_error(KeyError)
        def key_errors(self, error: BaseException, item: Any) -> None:
            self.log.add(("key_error", item, type(error).__name__))

        @dsl.on_error
        def all_errors(self, stage: str) -> None:
            self.log.add(("error", stage))

    task = Hooked()
    report = task.run(timeout=TIMEOUT)
    assert report.status == "succeeded"
    assert report.stages["work"].items_failed == 2
    events = task.log.events
    assert events[0] == ("before_run", "hooked")
    assert events.count(("before", "work")) == 1
    assert events.count(("after", "sink")) == 1
    assert [e for e in events if e[0] == "key_error"] == [("key_error", 1, "KeyError")]
    assert events.count(("error", "work")) == 2


def test_nested_pipelines_route_and_keep_their_hooks() -> None:
    """Nested Tasks route to each other; their stage hooks fire (D2, D16)."""

    class Outer(dsl.Task):
        def __init__(self, factor: int) -> None:
            self.factor = factor
            self.out = _Log()
            self.log = _Log()

        @dsl.pipeline(to="load")
        class Extract(dsl.Task):
            @dsl.producer
            def rows(self) -> range:
                return range(5)

            @dsl.processor
            def scale(self, x: int) -> int:
                return x * self.factor  # type: ignore[attr-defined, no-any-return]

            @dsl.after("scale")
            def scaled(self) -> None:
                self.log.add("extract.scale done")  # type: ignore[attr-defined]

        @dsl.pipeline(to=())
        class Unused(dsl.Task):
            @dsl.consumer
            def never(self, x: Any) -> None:
                self.log.add(("unexpected", x))  # type: ignore[attr-defined]

        @dsl.pipeline(from_="extract")
        class Load(dsl.Task):
            @dsl.consumer
            def save(self, x: int) -> None:
                self.out.add(x)  # type: ignore[attr-defined]

            @dsl.before_run
            def ready(self) -> None:
                self.log.add("load ready")  # type: ignore[attr-defined]

    task = Outer(3)
    report = task.run(timeout=TIMEOUT)
    assert report.status == "succeeded"
    assert sorted(task.out.events) == [0, 3, 6, 9, 12]
    assert sorted(task.log.events) == ["extract.scale done", "load ready"]
    assert set(report.stages) == {
        "extract.rows",
        "extract.scale",
        "unused.never",
        "load.save",
    }


def test_parallel_group_feeds_every_member() -> None:
    """Each member of a dsl.parallel() group gets every item and feeds the next."""

    class Fan(dsl.Task):
        def __init__(self) -> None:
            self.out = _Log()

        @dsl.producer
        def src(self) -> range:
            return range(3)

        with dsl.parallel():

            @dsl.processor
            def double(self, x: int) -> int:
                return x * 2

            @dsl.processor
            def negate(self, x: int) -> int:
                return -x

        @dsl.consumer
        def sink(self, x: int) -> None:
            self.out.add(x)

    task = Fan()
    task.run(timeout=TIMEOUT)
    assert sorted(task.out.events) == [-2, -1, 0, 0, 2, 4]


class Publisher(dsl.Task):
    """A base task for the inheritance runs."""

    def __init__(self) -> None:
        self.published = _Log()
        self.audited = _Log()

    @dsl.producer
    def source(self) -> range:
        return range(4)

    @dsl.processor
    def transform(self, x: int) -> int:
        return x * 10

    @dsl.consumer
    def publish(self, x: int) -> None:
        self.published.add(x)


class Audited(Publisher):
    """Adds an audit stage that receives what transform emits."""

    @dsl.consumer(to=())
    def audit(self, x: int) -> None:
        self.audited.add(x)

    dsl.reroute("transform", to=["publish", "audit"])


class Incremented(Publisher):
    """Overrides transform's method without redeclaring the stage."""

    def transform(self, x: int) -> int:
        return x + 1


def test_subclass_reroute_runs_and_parent_is_unchanged() -> None:
    """A rerouted subclass feeds its new stage; the parent still runs as before."""
    child = Audited()
    child.run(timeout=TIMEOUT)
    assert sorted(child.published.events) == [0, 10, 20, 30]
    assert sorted(child.audited.events) == [0, 10, 20, 30]

    parent = Publisher()
    report = parent.run(timeout=TIMEOUT)
    assert sorted(parent.published.events) == [0, 10, 20, 30]
    assert parent.audited.events == []
    assert "audit" not in report.stages


def test_plain_method_override_runs() -> None:
    """A subclass's plain method override is what the stage runs."""
    task = Incremented()
    task.run(timeout=TIMEOUT)
    assert sorted(task.published.events) == [1, 2, 3, 4]


def test_start_returns_a_live_handle() -> None:
    """Task.start() returns a RunHandle that accepts sends and triggers."""

    class Live(dsl.Task):
        def __init__(self) -> None:
            self.out = _Log()

        @dsl.producer(auto_start=False)
        def later(self) -> range:
            return range(100, 102)

        @dsl.processor
        def work(self, x: int) -> int:
            return x

        @dsl.consumer
        def sink(self, x: int) -> None:
            self.out.add(x)

    task = Live()
    handle = task.start()
    handle.send(1, to="work")
    handle.trigger("later")
    handle.close()
    report = handle.wait(timeout=TIMEOUT)
    assert report.status == "succeeded"
    assert sorted(task.out.events) == [1, 100, 101]


def test_invalid_graph_fails_run_before_anything_runs() -> None:
    """An unknown to= target fails run() with a DefinitionError, nothing started."""

    class Broken(dsl.Task):
        def __init__(self) -> None:
            self.log = _Log()

        @dsl.before_run
        def begin(self) -> None:
            self.log.add("ran")

        @dsl.producer(to="nowhere")
        def src(self) -> range:
            return range(1)

    task = Broken()
    with pytest.raises(mg.DefinitionError, match=r"'nowhere'"):
        task.run(timeout=TIMEOUT)
    assert task.log.events == []


class Forked(dsl.Task):
    """Stage methods in forked workers, with fork hooks that set instance state."""

    def __init__(self, factor: int) -> None:
        self.factor = factor
        self.opened_in: int | None = None
        self.before_forks = 0
        self.lock = threading.Lock()

    @dsl.producer
    def src(self) -> range:
        return range(20)

    @dsl.processor(processes=2)
    def work(self, x: int) -> tuple[int, int, int | None]:
        return (x * self.factor, os.getpid(), self.opened_in)

    @dsl.consumer
    def sink(self, result: tuple[int, int, int | None]) -> None:
        with self.lock:
            self.results.append(result)

    @dsl.before_run
    def reset(self) -> None:
        self.results: list[tuple[int, int, int | None]] = []

    @dsl.before_fork("work")
    def count_fork(self) -> None:
        with self.lock:
            self.before_forks += 1

    @dsl.after_fork
    def open_resource(self) -> None:
        self.lock = threading.Lock()  # an inherited lock may be held
        self.opened_in = os.getpid()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_methods_run_bound_in_forked_workers() -> None:
    """processes=n runs the methods on each worker's copy of the instance."""
    task = Forked(factor=7)
    report = task.run(timeout=TIMEOUT)
    assert report.status == "succeeded"
    assert sorted(value for value, _, _ in task.results) == [x * 7 for x in range(20)]
    pids = {pid for _, pid, _ in task.results}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2
    # after_fork ran in the same worker, on the same copy, before any item.
    assert all(opened == pid for _, pid, opened in task.results)
    assert task.opened_in is None  # the parent's instance was never touched
    assert task.before_forks == 2


# --------------------------------------------------------------------------
# The examples


def _load_example(name: str) -> ModuleType:
    """Import examples/<name>.py as a module."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


needs_reexports = pytest.mark.skipif(
    not hasattr(mg, "Task"),
    reason="the examples use mg.Task etc.: minigun/__init__.py must re-export dsl",
)


@needs_reexports
def test_example_configurable(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/dsl_configurable.py sizes two runs from constructor arguments."""
    main: Callable[[int], list[tuple[int, int, float]]] = _load_example(
        "dsl_configurable"
    ).main
    results = main(60)
    assert [(w, batches) for w, batches, _ in results] == [(1, 6), (8, 2)]
    assert "resize ran on 8 thread(s)" in capsys.readouterr().out


@needs_reexports
def test_example_inherited_reroute(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/dsl_inherited_reroute.py audits only in the subclass."""
    parent, child = _load_example("dsl_inherited_reroute").main(20)
    assert not hasattr(parent, "audited")
    assert sorted(child.audited) == list(range(13, 21))  # with tax above 200
    out = capsys.readouterr().out
    assert "price -> audit" in out
    assert "Publisher: published 20 orders" in out


@needs_reexports
def test_example_multi_pipeline_etl(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/dsl_multi_pipeline_etl.py loads clean rows and holds back bad ones."""
    store = _load_example("dsl_multi_pipeline_etl").main(30)
    assert len(store["users"]) == 27
    assert sorted(store["bad"]) == [0, 10, 20]
    assert "transform.normalize -> load.users, load.emails" in capsys.readouterr().out


@needs_reexports
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_example_db_publisher(capsys: pytest.CaptureFixture[str]) -> None:
    """examples/dsl_db_publisher.py writes every event from forked workers."""
    rows, writers = _load_example("dsl_db_publisher").main(120)
    assert rows == 120
    assert 1 <= writers <= 2
    assert "published 120 events" in capsys.readouterr().out
