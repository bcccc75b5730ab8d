"""AsyncExecutor end to end: ``async def`` stages on an event loop.

Covers overlap of awaiting coroutines, the concurrency bound, async
producers, processors and consumers, ``emit``/`To`, retries and error
policies, fail fast, timeouts and cancellation, the deterministic mode and
`minigun.testing.run_stage`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun.testing import ListSink, run_stage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

TIMEOUT = 10.0


class _Gauge:
    """Counts coroutines inside ``async with gauge:``; remembers the peak."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    async def __aenter__(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    async def __aexit__(self, *exc: object) -> None:
        self.now -= 1


def _chain(
    items: Any, work: mg.Stage[Any, Any], **pipe_opts: Any
) -> tuple[mg.Pipeline, ListSink]:
    """Build ``src -> work -> sink``."""
    pipe = mg.Pipeline("aio", **pipe_opts)
    pipe.add(mg.Producer("src", lambda: iter(items)))
    pipe.add(work)
    sink = pipe.add(ListSink("sink"))
    return pipe, sink


async def _double(n: int) -> int:
    await asyncio.sleep(0)
    return n * 2


async def _count_up(limit: int) -> AsyncIterator[int]:
    for i in range(limit):
        await asyncio.sleep(0)
        yield i


async def _numbers() -> AsyncIterator[int]:
    async for i in _count_up(20):
        yield i


# -- concurrency ----------------------------------------------------------------------


def test_twenty_sleeps_overlap_with_concurrency_twenty() -> None:
    """20 items that each await 0.1 s finish in well under 0.5 s on concurrency=20."""

    async def fetch(n: int) -> int:
        await asyncio.sleep(0.1)
        return n

    pipe, sink = _chain(
        range(20), mg.Processor("fetch", fetch, executor=mg.AsyncExecutor(20))
    )

    started = time.monotonic()
    report = pipe.run(timeout=TIMEOUT)
    elapsed = time.monotonic() - started

    assert sorted(sink.items) == list(range(20))
    assert elapsed < 0.5, f"20 x 0.1 s on concurrency=20 took {elapsed:.2f}s"
    stats = report.stages["fetch"]
    assert (stats.items_in, stats.items_out) == (20, 20)
    assert stats.workers == 20
    assert stats.executor == "async(20)"


@pytest.mark.parametrize("concurrency", [1, 3, 8])
def test_concurrency_is_bounded(concurrency: int) -> None:
    """At most ``concurrency`` coroutines of a stage run at once; the bound is hit."""
    gauge = _Gauge()

    async def fetch(n: int) -> int:
        async with gauge:
            await asyncio.sleep(0.01)
        return n

    pipe, sink = _chain(
        range(60), mg.Processor("fetch", fetch, executor=mg.AsyncExecutor(concurrency))
    )

    pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == list(range(60))
    assert gauge.peak <= concurrency
    assert gauge.peak == concurrency or (concurrency > 1 and gauge.peak > 1)


def test_all_coroutines_of_a_stage_share_one_loop_thread() -> None:
    """A stage's coroutines run on one event-loop thread, not the caller's."""
    threads: set[str] = set()

    async def where(n: int) -> int:
        threads.add(threading.current_thread().name)
        await asyncio.sleep(0.001)
        return n

    pipe, _ = _chain(
        range(30), mg.Processor("where", where, executor=mg.AsyncExecutor(5))
    )
    pipe.run(timeout=TIMEOUT)

    assert len(threads) == 1
    (name,) = threads
    assert name != threading.current_thread().name
    assert name.startswith("minigun:")


def test_ordered_keeps_input_order() -> None:
    """``ordered=True`` forwards outputs in input order despite uneven sleeps."""

    async def jitter(n: int) -> int:
        await asyncio.sleep(((n * 7) % 5) / 500)
        return n

    items = list(range(100))
    pipe, sink = _chain(
        items,
        mg.Processor("jitter", jitter, executor=mg.AsyncExecutor(8), ordered=True),
    )

    pipe.run(timeout=TIMEOUT)

    assert sink.items == items


# -- stage kinds ----------------------------------------------------------------------


def test_async_generator_producer() -> None:
    """An async generator producer on ``AsyncExecutor(1)`` feeds the pipeline."""
    pipe = mg.Pipeline("aio")
    pipe.add(mg.Producer("numbers", _numbers, executor=mg.AsyncExecutor(1)))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert sink.items == list(range(20))
    assert report.total_produced == 20


def test_async_producer_processor_and_consumer() -> None:
    """Async producer, async processor and async consumer in one pipeline."""
    saved: list[int] = []

    async def save(n: int) -> None:
        await asyncio.sleep(0)
        saved.append(n)

    pipe = mg.Pipeline("aio")
    pipe.add(mg.Producer("numbers", _numbers, executor=mg.AsyncExecutor(1)))
    pipe.add(mg.Processor("double", _double, executor=mg.AsyncExecutor(4)))
    pipe.add(mg.Consumer("save", save, executor=mg.AsyncExecutor(4)))

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(saved) == [2 * n for n in range(20)]
    assert report.stages["save"].items_in == 20
    assert report.stages["save"].items_out == 0
    assert report.total_consumed == 20


def test_async_generator_processor_emits_several_items() -> None:
    """An async generator processor yields 0..n items per input."""

    async def repeat(n: int) -> AsyncIterator[int]:
        for _ in range(n % 3):
            await asyncio.sleep(0)
            yield n

    pipe, sink = _chain(
        range(10), mg.Processor("repeat", repeat, executor=mg.AsyncExecutor(4))
    )

    report = pipe.run(timeout=TIMEOUT)

    expected = sorted(n for n in range(10) for _ in range(n % 3))
    assert sorted(sink.items) == expected
    assert report.stages["repeat"].items_out == len(expected)


def test_emit_from_an_async_stage() -> None:
    """``async def f(item, emit)`` emits several items per input."""

    async def split(n: int, emit: Any) -> None:
        await asyncio.sleep(0)
        emit(n)
        emit(-n)

    pipe, sink = _chain(
        range(1, 6), mg.Processor("split", split, executor=mg.AsyncExecutor(3))
    )

    pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]


async def _route_return(n: int) -> Any:
    await asyncio.sleep(0)
    return mg.To("odds", n) if n % 2 else n


async def _route_emit(n: int, emit: Any) -> None:
    await asyncio.sleep(0)
    if n % 2:
        emit(n, to="odds")
    else:
        emit(n)


async def _route_yield(n: int) -> AsyncIterator[Any]:
    await asyncio.sleep(0)
    yield mg.To("odds", n) if n % 2 else n


@pytest.mark.parametrize(
    "fn",
    [_route_return, _route_emit, _route_yield],
    ids=["return To", "emit(to=)", "yield To"],
)
def test_to_from_an_async_stage(fn: Callable[..., Any]) -> None:
    """`To` from an async stage (returned, emitted or yielded) reaches its target."""
    pipe = mg.Pipeline("routes")
    pipe.add(mg.Producer("src", lambda: range(20)))
    pipe.add(mg.Processor("route", fn, executor=mg.AsyncExecutor(4)))
    evens = pipe.add(ListSink("evens"))
    odds = pipe.add(ListSink("odds", to=()))

    pipe.run(timeout=TIMEOUT)

    assert sorted(evens.items) == list(range(0, 20, 2))
    assert sorted(odds.items) == list(range(1, 20, 2))


class _Session(mg.Processor[int, tuple[int, str]]):
    """An async Processor subclass with setup()/teardown()."""

    def __init__(self, name: str, **opts: Any) -> None:
        super().__init__(name, **opts)
        self.events: list[str] = []
        self.session: str | None = None

    def setup(self) -> None:
        self.events.append("setup")
        self.session = "open"

    def teardown(self) -> None:
        self.events.append("teardown")
        self.session = None

    async def process(self, item: int) -> tuple[int, str]:
        await asyncio.sleep(0.001)
        assert self.session is not None
        return (item, self.session)


def test_subclass_with_async_process_and_setup_teardown() -> None:
    """An ``async def process`` subclass runs; setup()/teardown() run once per stage."""
    stage = _Session("session", executor=mg.AsyncExecutor(6))
    pipe, sink = _chain(range(30), stage)

    pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [(n, "open") for n in range(30)]
    assert stage.events == ["setup", "teardown"]


def test_async_stage_between_thread_and_inline_stages() -> None:
    """An async stage works between a thread pool and an inline stage."""
    pipe = mg.Pipeline("mixed")
    pipe.add(mg.Producer("src", lambda: range(40)))
    pipe.add(mg.Processor("inc", lambda n: n + 1, threads=2))
    pipe.add(mg.Processor("double", _double, executor=mg.AsyncExecutor(5)))
    pipe.add(mg.Processor("neg", lambda n: -n))
    sink = pipe.add(ListSink("sink"))

    pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == sorted(-2 * (n + 1) for n in range(40))


def test_run_twice_in_a_row() -> None:
    """The same pipeline with an async stage runs twice with the same result."""
    pipe, sink = _chain(
        range(25), mg.Processor("double", _double, executor=mg.AsyncExecutor(5))
    )

    for _ in range(2):
        sink.items.clear()
        pipe.run(timeout=TIMEOUT)
        assert sorted(sink.items) == [2 * n for n in range(25)]


# -- validation ---------------------------------------------------------------------


def _sync_double(n: int) -> int:
    return n * 2


def test_sync_function_on_async_executor_is_a_definition_error() -> None:
    """A plain function on AsyncExecutor is rejected, naming the stage and why."""
    with pytest.raises(mg.DefinitionError) as info:
        mg.Processor("sync", _sync_double, executor=mg.AsyncExecutor(2))

    msg = str(info.value)
    assert "'sync'" in msg
    assert "async def" in msg


def test_sync_producer_on_async_executor_is_a_definition_error() -> None:
    """A plain generator producer on AsyncExecutor is rejected too."""
    with pytest.raises(mg.DefinitionError, match="'numbers'"):
        mg.Producer("numbers", lambda: range(3), executor=mg.AsyncExecutor(1))


@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"threads": 2},
        {"processes": 2},
        {"executor": mg.InlineExecutor()},
        {"executor": mg.ThreadExecutor(workers=2)},
    ],
    ids=["inline default", "threads=2", "processes=2", "InlineExecutor", "ThreadEx"],
)
def test_async_def_on_other_executors_is_a_definition_error(
    opts: dict[str, Any],
) -> None:
    """``async def`` anywhere but AsyncExecutor is rejected, naming the stage."""
    with pytest.raises(mg.DefinitionError) as info:
        mg.Processor("fetch", _double, **opts)

    msg = str(info.value)
    assert "'fetch'" in msg
    assert "AsyncExecutor" in msg


def test_async_generator_producer_without_async_executor_is_rejected() -> None:
    """An async generator producer needs ``executor=AsyncExecutor(...)``."""
    with pytest.raises(mg.DefinitionError, match="AsyncExecutor"):
        mg.Producer("numbers", _numbers)


@pytest.mark.parametrize("bad", [0, -3, True, 2.5, "4"])
def test_bad_concurrency_is_a_definition_error(bad: Any) -> None:
    """``concurrency`` must be an int >= 1."""
    with pytest.raises(mg.DefinitionError, match=">= 1"):
        mg.AsyncExecutor(bad)


def test_default_concurrency() -> None:
    """AsyncExecutor() allows 16 coroutines at once by default."""
    assert mg.AsyncExecutor().workers == 16
    assert mg.AsyncExecutor(concurrency=3).describe() == "async(3)"


# -- errors ---------------------------------------------------------------------------


def test_retries_for_an_async_stage() -> None:
    """A failing first attempt is retried and then succeeds; retries are counted."""
    attempts: dict[int, int] = {}

    async def flaky(n: int) -> int:
        attempts[n] = attempts.get(n, 0) + 1
        await asyncio.sleep(0)
        if attempts[n] == 1:
            msg = f"first attempt at {n}"
            raise ConnectionError(msg)
        return n

    pipe, sink = _chain(
        range(15),
        mg.Processor(
            "flaky",
            flaky,
            executor=mg.AsyncExecutor(5),
            max_retries=2,
            retry_delay=0.001,
        ),
    )

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == list(range(15))
    assert set(attempts.values()) == {2}
    assert report.stages["flaky"].items_retried == 15
    assert report.stages["flaky"].items_failed == 0


def test_retry_on_filters_exception_types() -> None:
    """``retry_on=`` limits retries of an async stage to the listed types."""
    attempts: dict[int, int] = {}

    async def picky(n: int) -> int:
        attempts[n] = attempts.get(n, 0) + 1
        await asyncio.sleep(0)
        raise (ConnectionError if n % 2 else ValueError)(str(n))

    pipe, _ = _chain(
        range(4),
        mg.Processor(
            "picky",
            picky,
            executor=mg.AsyncExecutor(4),
            max_retries=2,
            retry_delay=0,
            retry_on=(ConnectionError,),
            on_error="skip",
        ),
    )

    report = pipe.run(timeout=TIMEOUT)

    assert attempts == {0: 1, 1: 3, 2: 1, 3: 3}
    assert report.stages["picky"].items_failed == 4
    assert report.stages["picky"].items_retried == 4


async def _fail_on_three(n: int) -> int:
    await asyncio.sleep(0)
    if n == 3:
        msg = f"bad item {n}"
        raise ValueError(msg)
    return n


def test_on_error_skip_for_an_async_stage() -> None:
    """``on_error="skip"``: the failing item is counted and the run goes on."""
    pipe, sink = _chain(
        range(8),
        mg.Processor(
            "work",
            _fail_on_three,
            executor=mg.AsyncExecutor(4),
            max_retries=1,
            retry_delay=0,
            on_error="skip",
        ),
    )

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [0, 1, 2, 4, 5, 6, 7]
    stats = report.stages["work"]
    assert report.status == "succeeded"
    assert (stats.items_failed, stats.items_retried) == (1, 1)


def test_on_error_callable_and_dead_letter_for_an_async_stage() -> None:
    """An on_error callable gets the original error; dead_letter gets `Failed`."""
    seen: list[tuple[Any, BaseException]] = []
    pipe = mg.Pipeline("errors")
    pipe.add(mg.Producer("src", lambda: range(6)))
    pipe.add(
        mg.Processor(
            "cb",
            _fail_on_three,
            executor=mg.AsyncExecutor(3),
            max_retries=0,
            on_error=lambda item, error: seen.append((item, error)),
        )
    )
    pipe.add(
        mg.Processor(
            "dl",
            _fail_on_three,
            executor=mg.AsyncExecutor(3),
            max_retries=0,
            dead_letter="dead",
        )
    )
    sink = pipe.add(ListSink("sink"))
    dead = pipe.add(ListSink("dead", to=()))

    report = pipe.run(timeout=TIMEOUT)

    assert [item for item, _ in seen] == [3]
    assert isinstance(seen[0][1], ValueError)
    assert sorted(sink.items) == [0, 1, 2, 4, 5]
    assert dead.items == []  # 3 never reached "dl": "cb" dropped it
    assert report.status == "succeeded"


def test_dead_letter_for_an_async_stage() -> None:
    """``dead_letter=`` receives ``Failed(item, error, stage)`` from an async stage."""
    pipe = mg.Pipeline("dlq")
    pipe.add(mg.Producer("src", lambda: range(6)))
    pipe.add(
        mg.Processor(
            "work",
            _fail_on_three,
            executor=mg.AsyncExecutor(3),
            max_retries=0,
            dead_letter="dead",
        )
    )
    sink = pipe.add(ListSink("sink"))
    dead = pipe.add(ListSink("dead", to=()))

    pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [0, 1, 2, 4, 5]
    assert len(dead.items) == 1
    failed = dead.items[0]
    assert isinstance(failed, mg.Failed)
    assert (failed.item, failed.stage) == (3, "work")
    assert isinstance(failed.error, ValueError)


def test_default_policy_raises_pipeline_error_with_stage_error() -> None:
    """With the default policy an async failure is a PipelineError with a StageError."""
    pipe, _ = _chain(
        range(8),
        mg.Processor(
            "work", _fail_on_three, executor=mg.AsyncExecutor(4), retry_delay=0
        ),
    )

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    errors = [e for e in info.value.exceptions if isinstance(e, mg.errors.StageError)]
    assert len(errors) == 1
    assert errors[0].stage == "work"
    assert errors[0].item_repr == "3"
    assert isinstance(errors[0].__cause__, ValueError)
    assert info.value.report.status == "failed"
    assert info.value.report.stages["work"].items_retried == 3


class _FailingSession(mg.Processor[int, int]):
    """An async stage that counts setup()/teardown() and fails on item 3."""

    def __init__(self, name: str, **opts: Any) -> None:
        super().__init__(name, **opts)
        self.events: list[str] = []

    def setup(self) -> None:
        self.events.append("setup")

    def teardown(self) -> None:
        self.events.append("teardown")

    async def process(self, item: int) -> int:
        return await _fail_on_three(item)


def test_fail_fast_reports_only_the_real_error_every_time() -> None:
    """Over 30 failing runs: one StageError each, and teardown() once per setup()."""
    for _ in range(30):
        stage = _FailingSession(
            "work", executor=mg.AsyncExecutor(4), max_retries=0, queue_size=2
        )
        pipe, _ = _chain(range(8), stage)

        with pytest.raises(mg.PipelineError) as info:
            pipe.run(timeout=TIMEOUT)

        messages = [str(e) for e in info.value.exceptions]
        assert len(messages) == 1, messages
        assert "bad item 3" in messages[0]
        assert stage.events == ["setup", "teardown"]


# -- cancellation, fail fast, timeouts ------------------------------------------------


def test_fail_fast_while_other_coroutines_sleep_long() -> None:
    """One failing coroutine fails the run at once; 30 s sleepers are cancelled."""
    cancelled: list[int] = []

    async def work(n: int) -> int:
        if n == 5:
            await asyncio.sleep(0.05)
            msg = "boom"
            raise ValueError(msg)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(n)
            raise
        return n

    pipe, _ = _chain(
        range(10),
        mg.Processor("work", work, executor=mg.AsyncExecutor(10), max_retries=0),
    )

    started = time.monotonic()
    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)
    elapsed = time.monotonic() - started

    assert elapsed < 2, f"fail fast took {elapsed:.2f}s"
    assert isinstance(info.value.exceptions[0].__cause__, ValueError)
    assert sorted(cancelled) == [n for n in range(10) if n != 5]


def test_timeout_cancels_a_long_sleeping_coroutine() -> None:
    """``run(timeout=0.5)`` with a coroutine awaiting 30 s raises TimeoutError fast."""
    cancelled = threading.Event()

    async def stuck(n: int) -> int:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return n

    pipe, _ = _chain([1], mg.Processor("stuck", stuck, executor=mg.AsyncExecutor(2)))

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        pipe.run(timeout=0.5)
    elapsed = time.monotonic() - started

    assert elapsed < 2, f"timeout took {elapsed:.2f}s"
    assert cancelled.wait(2)


def test_stop_cancels_an_endless_async_producer() -> None:
    """``RunHandle.stop()`` ends a run fed by an endless async generator."""

    async def endless() -> AsyncIterator[int]:
        n = 0
        while True:
            await asyncio.sleep(0.001)
            yield n
            n += 1

    pipe = mg.Pipeline("endless")
    pipe.add(mg.Producer("ticks", endless, executor=mg.AsyncExecutor(1)))
    pipe.add(mg.Processor("double", _double, executor=mg.AsyncExecutor(4)))
    sink = pipe.add(ListSink("sink"))

    handle = pipe.start()
    time.sleep(0.2)
    started = time.monotonic()
    handle.stop()
    report = handle.wait(timeout=TIMEOUT)
    elapsed = time.monotonic() - started

    assert elapsed < 2, f"stop took {elapsed:.2f}s"
    assert len(sink.items) > 0
    assert report.status in {"cancelled", "succeeded"}


# -- deterministic mode and run_stage -------------------------------------------------


def test_deterministic_mode_runs_async_stages_in_the_caller_thread() -> None:
    """``run(deterministic=True)`` runs async producer and processor in this thread."""
    threads: set[str] = set()

    async def tag(n: int) -> int:
        threads.add(threading.current_thread().name)
        await asyncio.sleep(0)
        return n * 2

    pipe = mg.Pipeline("det")
    pipe.add(mg.Producer("numbers", _numbers, executor=mg.AsyncExecutor(1)))
    pipe.add(mg.Processor("tag", tag, executor=mg.AsyncExecutor(8)))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(deterministic=True, timeout=TIMEOUT)

    assert sink.items == [2 * n for n in range(20)]
    assert threads == {threading.current_thread().name}
    assert report.stages["tag"].items_in == 20


def test_deterministic_mode_applies_the_error_policy_to_async_stages() -> None:
    """Retries and ``on_error="skip"`` hold for async stages in deterministic mode."""
    pipe, sink = _chain(
        range(6),
        mg.Processor(
            "work",
            _fail_on_three,
            executor=mg.AsyncExecutor(2),
            max_retries=2,
            retry_delay=0,
            on_error="skip",
        ),
    )

    report = pipe.run(deterministic=True, timeout=TIMEOUT)

    assert sink.items == [0, 1, 2, 4, 5]
    assert report.stages["work"].items_failed == 1
    assert report.stages["work"].items_retried == 2


def test_run_stage_on_an_async_processor() -> None:
    """`run_stage` runs an async processor over a list of items, in order."""
    stage: mg.Processor[int, int] = mg.Processor(
        "double", _double, executor=mg.AsyncExecutor(4)
    )

    assert run_stage(stage, [1, 2, 3]) == [2, 4, 6]


def test_run_stage_on_an_async_generator_producer() -> None:
    """`run_stage` drives an async generator producer to the end."""
    stage: mg.Producer[int] = mg.Producer(
        "numbers", _numbers, executor=mg.AsyncExecutor(1)
    )

    assert run_stage(stage) == list(range(20))


def test_run_stage_on_async_generators_and_emit() -> None:
    """`run_stage` drives async generator processors, ``emit`` and `To`."""

    async def twice(n: int) -> AsyncIterator[int]:
        yield n
        yield n

    async def split(n: int, emit: Any) -> None:
        emit(n)
        emit(-n, to="neg")

    assert run_stage(
        mg.Processor("twice", twice, executor=mg.AsyncExecutor(2)), [1, 2]
    ) == [1, 1, 2, 2]
    out = run_stage(mg.Processor("split", split, executor=mg.AsyncExecutor(2)), [1])
    assert out[0] == 1
    assert isinstance(out[1], mg.To)
    assert (out[1].target, out[1].item) == ("neg", -1)
