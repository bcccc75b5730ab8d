"""Errors end to end: retries, error policies, fail fast, timeouts, Ctrl-C (SPEC §5)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun.testing import ListSink

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

TIMEOUT = 10.0
ROOT = Path(__file__).resolve().parents[2]


def _flaky(
    failures: int, exc: type[Exception] = ValueError
) -> tuple[Callable[[int], int], dict[int, int]]:
    """Return a stage function failing *failures* times per item, and its attempts."""
    attempts: dict[int, int] = {}
    lock = threading.Lock()

    def fn(n: int) -> int:
        with lock:
            attempts[n] = attempts.get(n, 0) + 1
            attempt = attempts[n]
        if attempt <= failures:
            raise exc(f"attempt {attempt} on {n}")
        return n * 10

    return fn, attempts


def test_retries_until_success(executor_opts: dict[str, Any]) -> None:
    """An item failing twice succeeds on the third attempt; retries are counted."""
    fn, attempts = _flaky(2)
    pipe = mg.Pipeline("retry")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("flaky", fn, max_retries=3, retry_delay=0, **executor_opts))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [n * 10 for n in range(10)]
    assert attempts == dict.fromkeys(range(10), 3)
    assert report.stages["flaky"].items_retried == 20
    assert report.stages["flaky"].items_failed == 0


def test_retries_exhausted_then_policy(executor_opts: dict[str, Any]) -> None:
    """After max_retries failed retries the item goes to the error policy."""
    fn, attempts = _flaky(100)
    pipe = mg.Pipeline("retry")
    pipe.add(mg.Producer("src", lambda: range(5)))
    pipe.add(
        mg.Processor(
            "flaky",
            fn,
            max_retries=2,
            retry_delay=0,
            on_error="skip",
            **executor_opts,
        )
    )
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sink.items == []
    assert attempts == dict.fromkeys(range(5), 3)
    assert report.stages["flaky"].items_retried == 10
    assert report.stages["flaky"].items_failed == 5


def test_retry_on_filters_exception_types(executor_opts: dict[str, Any]) -> None:
    """Only exceptions listed in retry_on are retried; others fail at once."""
    not_retried, attempts_key = _flaky(1, KeyError)
    retried, attempts_value = _flaky(1, ValueError)
    pipe = mg.Pipeline("retry-on")
    pipe.add(mg.Producer("src", lambda: range(4), to=["keys", "values"]))
    common: dict[str, Any] = {
        "max_retries": 3,
        "retry_delay": 0,
        "retry_on": (ValueError,),
        "on_error": "skip",
        "to": (),
        **executor_opts,
    }
    pipe.add(mg.Processor("keys", not_retried, **common))
    pipe.add(mg.Processor("values", retried, **common))

    report = pipe.run(timeout=TIMEOUT)

    assert attempts_key == dict.fromkeys(range(4), 1)
    assert attempts_value == dict.fromkeys(range(4), 2)
    assert report.stages["keys"].items_retried == 0
    assert report.stages["keys"].items_failed == 4
    assert report.stages["values"].items_retried == 4
    assert report.stages["values"].items_failed == 0


@pytest.mark.parametrize("style", ["generator", "emit"])
def test_retried_stage_does_not_duplicate_outputs(
    executor_opts: dict[str, Any], style: str
) -> None:
    """Outputs of a failed attempt are dropped; only the successful attempt's go on."""
    seen: set[int] = set()
    lock = threading.Lock()

    def first_time(n: int) -> bool:
        with lock:
            new = n not in seen
            seen.add(n)
        return new

    def gen(n: int) -> Iterator[int]:
        yield n
        yield n + 100
        if first_time(n):
            raise ValueError(n)

    def emitting(n: int, emit: mg.Emitter) -> None:
        emit(n)
        emit(n + 100)
        if first_time(n):
            raise ValueError(n)

    fn = gen if style == "generator" else emitting
    pipe = mg.Pipeline("no-dup")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("twice", fn, max_retries=2, retry_delay=0, **executor_opts))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == sorted([*range(10), *range(100, 110)])
    assert report.stages["twice"].items_retried == 10


def test_skip_policy(executor_opts: dict[str, Any]) -> None:
    """on_error="skip" counts failed items and the run still succeeds."""

    def odd_only(n: int) -> int:
        if n % 2 == 0:
            raise ValueError(n)
        return n

    pipe = mg.Pipeline("skip")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(
        mg.Processor("odd", odd_only, on_error="skip", max_retries=0, **executor_opts)
    )
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [1, 3, 5, 7, 9]
    assert report.stages["odd"].items_failed == 5


def test_callable_on_error(executor_opts: dict[str, Any]) -> None:
    """A callable on_error gets (item, error) for each failed item; the run goes on."""
    calls: list[tuple[int, str]] = []
    lock = threading.Lock()

    def handler(item: int, error: BaseException) -> None:
        with lock:
            calls.append((item, str(error)))

    def fail_on_three(n: int) -> int:
        if n % 3 == 0:
            raise ValueError(f"bad {n}")
        return n

    pipe = mg.Pipeline("callable")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(
        mg.Processor(
            "check", fail_on_three, on_error=handler, max_retries=0, **executor_opts
        )
    )
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(calls) == [(n, f"bad {n}") for n in (0, 3, 6, 9)]
    assert sorted(sink.items) == [1, 2, 4, 5, 7, 8]
    assert report.stages["check"].items_failed == 4


def test_dead_letter_receives_failed(executor_opts: dict[str, Any]) -> None:
    """A dead_letter stage receives mg.Failed(item, error, stage) for each failure."""

    def even_only(n: int) -> int:
        if n % 2:
            raise ValueError(f"odd {n}")
        return n

    pipe = mg.Pipeline("dlq")
    pipe.add(mg.Producer("src", lambda: range(6)))
    pipe.add(
        mg.Processor(
            "even",
            even_only,
            dead_letter="dlq",
            max_retries=0,
            **executor_opts,
        )
    )
    sink = pipe.add(ListSink("sink", to=()))
    dlq = pipe.add(ListSink("dlq", to=()))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [0, 2, 4]
    failed = sorted(dlq.items, key=lambda f: f.item)
    assert [type(f) for f in failed] == [mg.Failed] * 3
    assert [(f.item, f.stage, str(f.error)) for f in failed] == [
        (n, "even", f"odd {n}") for n in (1, 3, 5)
    ]
    assert all(isinstance(f.error, ValueError) for f in failed)


def test_raise_policy_raises_pipeline_error(executor_opts: dict[str, Any]) -> None:
    """The default policy fails the run with PipelineError holding a StageError."""
    boom = ValueError("boom")

    def fail_on_seven(n: int) -> int:
        if n == 7:
            raise boom
        return n

    pipe = mg.Pipeline("raise")
    pipe.add(mg.Producer("src", lambda: range(20)))
    pipe.add(mg.Processor("seven", fail_on_seven, retry_delay=0, **executor_opts))
    pipe.add(ListSink("sink"))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    err = info.value
    assert isinstance(err, ExceptionGroup)
    assert len(err.exceptions) == 1
    stage_error = err.exceptions[0]
    assert isinstance(stage_error, mg.StageError)
    assert (stage_error.stage, stage_error.item_repr) == ("seven", "7")
    assert stage_error.__cause__ is boom
    assert err.report.status == "failed"


@pytest.mark.parametrize("shape", ["chain", "fanout"])
def test_fail_fast_with_full_queues_and_infinite_producer(
    executor_opts: dict[str, Any], shape: str
) -> None:
    """A failure ends the run fast with every queue full and endless input."""

    def fail_at_100(n: int) -> int:
        if n == 100:
            raise ValueError("item 100")
        return n

    def slow(n: int) -> None:
        time.sleep(0.002)

    pipe = mg.Pipeline("fail-fast")
    if shape == "chain":
        # src -> fail -> slow: inline stages of a chain may be fused.
        pipe.add(mg.Producer("src", itertools.count))
        fail_opts: dict[str, Any] = {}
        slow_opts: dict[str, Any] = {}
    else:
        # src -> (fail, slow): fan-out gives both stages their own bounded queue,
        # and the slow one keeps the producer blocked on a full queue.
        pipe.add(mg.Producer("src", itertools.count, to=["fail", "slow"]))
        fail_opts = slow_opts = {"to": ()}
    pipe.add(
        mg.Processor(
            "fail",
            fail_at_100,
            queue_size=2,
            max_retries=0,
            **fail_opts,
            **executor_opts,
        )
    )
    pipe.add(mg.Processor("slow", slow, queue_size=2, **slow_opts, **executor_opts))

    started = time.monotonic()
    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=20)
    elapsed = time.monotonic() - started

    assert elapsed < 5, f"fail fast took {elapsed:.1f}s"
    assert [type(e) for e in info.value.exceptions] == [mg.StageError]
    stage_error = info.value.exceptions[0]
    assert isinstance(stage_error, mg.StageError)
    assert (stage_error.stage, stage_error.item_repr) == ("fail", "100")
    assert info.value.report.status == "failed"


def _failing_producer() -> Iterator[int]:
    yield from range(5)
    msg = "source broke"
    raise OSError(msg)


def test_failing_producer_raises_by_default(executor_opts: dict[str, Any]) -> None:
    """A producer's exception goes to the default policy: the run fails."""
    pipe = mg.Pipeline("producer-fails")
    pipe.add(mg.Producer("src", _failing_producer))
    pipe.add(ListSink("sink", **executor_opts))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    errors = info.value.exceptions
    assert [type(e) for e in errors] == [mg.StageError]
    stage_error = errors[0]
    assert isinstance(stage_error, mg.StageError)
    assert stage_error.stage == "src"
    assert isinstance(stage_error.__cause__, OSError)


def test_failing_producer_follows_skip_policy(executor_opts: dict[str, Any]) -> None:
    """A producer with on_error="skip" ends at its exception and the run succeeds."""
    pipe = mg.Pipeline("producer-skips")
    pipe.add(mg.Producer("src", _failing_producer, on_error="skip"))
    sink = pipe.add(ListSink("sink", **executor_opts))

    report = pipe.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [0, 1, 2, 3, 4]
    assert report.stages["src"].items_failed == 1


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event a stuck stage waits on; set when the test ends so its thread exits."""
    event = threading.Event()
    yield event
    event.set()


def test_run_timeout_raises_timeout_error(
    executor_opts: dict[str, Any], release: threading.Event
) -> None:
    """run(timeout=0.5) raises TimeoutError long before a stuck stage would return."""

    def stuck(n: int) -> int:
        release.wait(30)
        return n

    # shutdown_timeout bounds how long cleanup waits for the stuck thread.
    pipe = mg.Pipeline("stuck", shutdown_timeout=1.0)
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(mg.Processor("stuck", stuck, **executor_opts))

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        pipe.run(timeout=0.5)
    elapsed = time.monotonic() - started

    assert elapsed < 5, f"run(timeout=0.5) took {elapsed:.1f}s"


_CTRL_C_SCRIPT = textwrap.dedent(
    """
    import itertools, threading, time
    import minigun as mg

    def source():
        for i in itertools.count():
            if i == 1:
                print("STARTED", flush=True)
            time.sleep({produce_delay})
            yield i

    received = []

    def sink(item):
        time.sleep({consume_delay})
        received.append(item)

    pipe = mg.Pipeline("ctrl-c")
    pipe.add(mg.Producer("src", source))
    # A relay on its own thread keeps the sink unfused, so items wait in its
    # queue and a drain has work to do.
    pipe.add(mg.Processor("relay", lambda x: x, threads=1))
    pipe.add(mg.Consumer("sink", sink, queue_size=10, **{opts}))
    try:
        report = pipe.run(timeout=60)
    except KeyboardInterrupt:
        alive = [t.name for t in threading.enumerate() if t.name.startswith("minigun:")]
        print("ALIVE", len(alive), flush=True)
        raise
    print("STATUS", report.status, report.total_produced, len(received), flush=True)
    """
)


def _start_script(
    executor_opts: dict[str, Any], produce_delay: float, consume_delay: float
) -> subprocess.Popen[str]:
    script = _CTRL_C_SCRIPT.format(
        opts=repr(executor_opts),
        produce_delay=produce_delay,
        consume_delay=consume_delay,
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == "STARTED\n", proc.stderr.read() if proc.stderr else ""
    time.sleep(0.2)
    return proc


def test_first_ctrl_c_stops_producers_and_drains(
    executor_opts: dict[str, Any],
) -> None:
    """One SIGINT stops the producer, drains what is in flight and returns a report."""
    proc = _start_script(executor_opts, produce_delay=0.005, consume_delay=0.001)
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.wait()

    assert proc.returncode == 0, err
    assert "Traceback" not in err
    # A stopped run drains what is in flight; minigun reports it as cancelled.
    status, produced, received = out.split()[-3:]
    assert status == "cancelled"
    assert produced == received


def test_second_ctrl_c_cancels_at_once(executor_opts: dict[str, Any]) -> None:
    """A second SIGINT during the drain cancels at once; KeyboardInterrupt escapes."""
    # A slow consumer (0.1 s per item) keeps the drain busy when the second
    # SIGINT arrives; cancelling must not wait for what is in flight.
    proc = _start_script(executor_opts, produce_delay=0.001, consume_delay=0.1)
    try:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.1)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        elapsed = time.monotonic() - started
    finally:
        proc.kill()
        proc.wait()

    assert proc.returncode == -signal.SIGINT, err
    assert elapsed < 5, f"second Ctrl-C took {elapsed:.1f}s"
    assert out.split()[-2:] == ["ALIVE", "0"]
    assert err.count("Traceback") == 1, err
    assert err.strip().splitlines()[-1] == "KeyboardInterrupt", err
