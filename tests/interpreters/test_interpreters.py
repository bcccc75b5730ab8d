"""Subinterpreter executors end to end (CPython 3.13+).

`InterpreterExecutor` (``interpreters=n``) and `SpawnInterpreterExecutor`
run stage work in subinterpreters, each with its own GIL. Stage functions
come from ``interp_stages`` (importable by name, see conftest.py). Under an
older Python every test here is skipped; ``test_interpreters_unavailable.py``
covers that path.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun.testing import ListSink

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.interpreters import interp_stages as st
else:  # the name subinterpreters import it by (conftest.py puts it on sys.path)
    import interp_stages as st

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 13) or sys.implementation.name != "cpython",
    reason=(
        "needs CPython 3.13+ (subinterpreters with their own GIL); this is "
        f"{platform.python_implementation()} {platform.python_version()}"
    ),
)

TIMEOUT = 30.0


def _chain(
    items: list[Any], work: mg.Stage[Any, Any], **pipe_opts: Any
) -> tuple[mg.Pipeline, ListSink]:
    """Build ``src -> work -> sink`` over *items*."""
    pipe = mg.Pipeline("interp", **pipe_opts)
    pipe.add(mg.Producer("src", lambda: iter(items)))
    pipe.add(work)
    sink = pipe.add(ListSink("sink"))
    return pipe, sink


def _stage_errors(err: mg.PipelineError) -> list[mg.errors.StageError]:
    """The `StageError`s inside a `PipelineError`."""
    return [e for e in err.exceptions if isinstance(e, mg.errors.StageError)]


# -- running in subinterpreters ---------------------------------------------------


@pytest.mark.parametrize(
    "opts",
    [{"interpreters": 2}, {"executor": mg.InterpreterExecutor(workers=2)}],
    ids=["interpreters=2", "InterpreterExecutor(workers=2)"],
)
def test_work_runs_in_two_subinterpreters(opts: dict[str, Any]) -> None:
    """Items run in 2 subinterpreters (not the main one), each in its own thread."""
    pipe, sink = _chain(list(range(60)), mg.Processor("work", st.where, **opts))

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(n for n, _, _ in sink.items) == list(range(60))
    interps = {i for _, _, i in sink.items}
    threads = {t for _, t, _ in sink.items}
    assert 0 not in interps
    assert 1 <= len(interps) <= 2
    assert len(threads) == len(interps)
    assert threading.get_native_id() not in threads
    stats = report.stages["work"]
    assert report.status == "succeeded"
    assert stats.workers == 2
    assert stats.executor == "interpreters(2)"
    assert (stats.items_in, stats.items_out, stats.items_failed) == (60, 60, 0)
    assert stats.busy_time > 0


def test_values_cross_the_interpreter_boundary_exactly() -> None:
    """Lists stay one item; 0, False, "" and None inside data survive the trip."""
    items: list[Any] = [[1, 2], 0, False, "", (None, 1), {"k": None}, [], "x" * 10_000]

    pipe, sink = _chain(items, mg.Processor("work", st.ident, interpreters=2))
    pipe.run(timeout=TIMEOUT)

    assert sorted(map(repr, sink.items)) == sorted(map(repr, items))


def test_module_level_stage_subclass_runs_in_interpreters() -> None:
    """A Processor subclass defined at module level is importable, so it runs."""
    pipe, sink = _chain(list(range(30)), st.Doubler("double", interpreters=2))

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [2 * n for n in range(30)]
    assert report.stages["double"].workers == 2


def test_stage_subclass_attributes_reach_the_interpreter() -> None:
    """Attributes a Stage subclass sets in ``__init__`` survive the trip."""
    pipe, sink = _chain(list(range(10)), st.Tagger("tag", "blue", interpreters=2))

    pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [(n, "blue") for n in range(10)]


def test_setup_and_teardown_run_once_in_each_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """setup()/teardown() run once per worker, inside its own subinterpreter."""
    log = tmp_path / "lifecycle.log"
    monkeypatch.setenv(st.LOG_ENV, str(log))
    pipe, sink = _chain(
        list(range(80)), st.Recorder("rec", interpreters=2, queue_size=10)
    )

    pipe.run(timeout=TIMEOUT)

    lines = [line.split() for line in log.read_text().splitlines()]
    setups = sorted((int(t), int(i)) for ev, t, i in lines if ev == "setup")
    teardowns = sorted((int(t), int(i)) for ev, t, i in lines if ev == "teardown")
    assert len(setups) == 2, lines
    assert len({t for t, _ in setups}) == 2
    assert len({i for _, i in setups}) == 2
    assert threading.get_native_id() not in {t for t, _ in setups}
    assert 0 not in {i for _, i in setups}
    assert teardowns == setups
    assert sorted(n for n, _ in sink.items) == list(range(80))
    assert {i for _, i in sink.items} <= {i for _, i in setups}


def test_emit_from_an_interpreter() -> None:
    """``fn(item, emit)`` emits several items per input from a subinterpreter."""
    pipe, sink = _chain(
        list(range(1, 11)), mg.Processor("split", st.split, interpreters=2)
    )

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == sorted([*range(1, 11), *range(-10, 0)])
    assert report.stages["split"].items_out == 20


@pytest.mark.parametrize(
    "fn", [st.route_odd, st.emit_odd_to], ids=["return To", "emit(to=)"]
)
def test_to_from_an_interpreter_is_routed_by_the_parent(fn: Callable[..., Any]) -> None:
    """`To` from an interpreter (returned or ``emit(x, to=)``) reaches its target."""
    pipe = mg.Pipeline("routes")
    pipe.add(mg.Producer("src", lambda: range(20)))
    pipe.add(mg.Processor("route", fn, interpreters=2))
    evens = pipe.add(ListSink("evens"))
    odds = pipe.add(ListSink("odds", to=()))

    pipe.run(timeout=TIMEOUT)

    assert sorted(evens.items) == list(range(0, 20, 2))
    assert sorted(odds.items) == list(range(1, 20, 2))


def test_ordered_output_with_two_interpreters() -> None:
    """``ordered=True`` keeps input order although items finish out of order."""
    items = list(range(80))
    pipe, sink = _chain(
        items, mg.Processor("jitter", st.jitter, interpreters=2, ordered=True)
    )

    pipe.run(timeout=TIMEOUT)

    assert sink.items == items


def test_interpreter_stage_between_thread_and_inline_stages() -> None:
    """An interpreter stage works between a thread pool and inline stages."""
    pipe = mg.Pipeline("mixed")
    pipe.add(mg.Producer("src", lambda: range(50)))
    pipe.add(mg.Processor("inc", lambda n: n + 1, threads=2))
    pipe.add(mg.Processor("square", st.square, interpreters=2))
    pipe.add(mg.Processor("neg", lambda n: -n))
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == sorted(-((n + 1) ** 2) for n in range(50))
    assert report.total_produced == 50
    assert report.total_consumed == 50


def test_nested_pipeline_on_interpreters_is_a_definition_error() -> None:
    """A fused region on interpreters is refused with a hint (not supported yet)."""
    inner = mg.Pipeline("inner", interpreters=2)
    inner.add(mg.Processor("sq", st.square))
    pipe = mg.Pipeline("outer")
    pipe.add(mg.Producer("src", lambda: range(20)))
    pipe.add(inner)
    pipe.add(ListSink("sink"))

    with pytest.raises(mg.DefinitionError, match="give it processes= or threads="):
        pipe.validate()


def test_max_interpreters_caps_the_workers() -> None:
    """``max_interpreters=1`` in the pipeline config cuts ``interpreters=3`` to 1."""
    pipe, sink = _chain(
        list(range(20)),
        mg.Processor("work", st.where, interpreters=3),
        max_interpreters=1,
    )

    report = pipe.run(timeout=TIMEOUT)

    assert report.stages["work"].workers == 1
    assert len({i for _, _, i in sink.items}) == 1


# -- validation ---------------------------------------------------------------------


def test_lambda_is_a_definition_error_naming_the_stage() -> None:
    """A lambda on interpreters is rejected at validation, naming stage and reason."""
    pipe, _ = _chain([1], mg.Processor("lam", lambda n: n, interpreters=2))

    with pytest.raises(mg.DefinitionError) as info:
        pipe.validate()

    msg = str(info.value)
    assert "'lam'" in msg
    assert "lambda" in msg
    assert "importable by name" in msg


def test_closure_is_a_definition_error_naming_the_stage() -> None:
    """A nested function (closure) on interpreters is rejected at validation."""
    factor = 3

    def triple(n: int) -> int:
        return n * factor

    pipe, _ = _chain([1], mg.Processor("triple", triple, interpreters=2))

    with pytest.raises(mg.DefinitionError) as info:
        pipe.run(timeout=TIMEOUT)

    msg = str(info.value)
    assert "'triple'" in msg
    assert "closure" in msg
    assert "importable by name" in msg


def test_local_stage_class_is_a_definition_error() -> None:
    """A Stage subclass defined inside a function cannot be sent to an interpreter."""

    class Local(mg.Processor[int, int]):
        def process(self, item: int) -> int:
            return item

    pipe, _ = _chain([1], Local("local", interpreters=2))

    with pytest.raises(mg.DefinitionError) as info:
        pipe.validate()

    msg = str(info.value)
    assert "'local'" in msg
    assert "subinterpreter" in msg


MAIN_SCRIPT = """
import minigun as mg
from minigun.testing import ListSink


def square(n):
    return n * n


if __name__ == "__main__":
    pipe = mg.Pipeline("script")
    pipe.add(mg.Producer("src", lambda: range(5)))
    pipe.add(mg.Processor("sq", square, interpreters=2))
    sink = pipe.add(ListSink("sink"))
    try:
        pipe.validate()
    except mg.DefinitionError as exc:
        print("DEFINITION-ERROR", exc)
    else:
        pipe.run(timeout=30)
        print("RESULT", sorted(sink.items))
"""


def test_function_of_the_main_script_runs_or_is_a_definition_error(
    tmp_path: Path,
) -> None:
    """A ``__main__`` function runs on interpreters or is rejected at validation."""
    script = tmp_path / "script.py"
    script.write_text(MAIN_SCRIPT, encoding="utf-8")

    done = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )

    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    if "DEFINITION-ERROR" in out:
        assert "'sq'" in out
        assert "__main__" in out
    else:
        assert "RESULT [0, 1, 4, 9, 16]" in out


def test_spawn_interpreter_executor_rejects_a_lambda() -> None:
    """SpawnInterpreterExecutor checks stage functions like InterpreterExecutor."""
    pipe = mg.Pipeline("spawn")
    pipe.add(mg.Producer("src", lambda: range(4)))
    pipe.add(mg.Accumulator("batch", max_size=2))
    pipe.add(
        mg.Processor("total", lambda b: b[0], executor=mg.SpawnInterpreterExecutor(2))
    )

    with pytest.raises(mg.DefinitionError, match=r"'total'.*lambda"):
        pipe.validate()


def test_every_bad_stage_is_listed_in_one_error() -> None:
    """Two lambda stages on interpreters give one DefinitionError, one line each."""
    pipe = mg.Pipeline("two")
    pipe.add(mg.Producer("src", lambda: range(4)))
    pipe.add(mg.Processor("first", lambda n: n, interpreters=1))
    pipe.add(mg.Processor("second", lambda n: n, interpreters=1))

    with pytest.raises(mg.DefinitionError) as info:
        pipe.validate()

    lines = str(info.value).splitlines()
    assert any("'first'" in line for line in lines)
    assert any("'second'" in line for line in lines)


@pytest.mark.parametrize(
    "fork_opts",
    [
        {"processes": 2},
        {"executor": mg.ProcessExecutor(workers=1)},
        {"executor": mg.SpawnForkExecutor(max_concurrent=1)},
    ],
    ids=["processes=2", "ProcessExecutor", "SpawnForkExecutor"],
)
def test_mixing_interpreters_and_forks_is_a_definition_error(
    fork_opts: dict[str, Any],
) -> None:
    """One run cannot mix subinterpreter and fork executors; the message says why."""
    pipe = mg.Pipeline("mix")
    pipe.add(mg.Producer("src", lambda: range(4)))
    pipe.add(mg.Processor("interp", st.square, interpreters=2))
    pipe.add(mg.Accumulator("batch", max_size=2))
    pipe.add(mg.Processor("forked", st.ident, **fork_opts))

    with pytest.raises(mg.DefinitionError) as info:
        pipe.validate()

    msg = str(info.value)
    assert "'interp'" in msg
    assert "'forked'" in msg
    assert "subinterpreter" in msg
    assert "fork" in msg


def test_mixing_interpreters_and_threads_is_fine() -> None:
    """Interpreters and thread pools in one run pass validation."""
    pipe = mg.Pipeline("ok")
    pipe.add(mg.Producer("src", lambda: range(4)))
    pipe.add(mg.Processor("interp", st.square, interpreters=2))
    pipe.add(mg.Processor("pool", st.ident, threads=2))

    pipe.validate()


# -- errors -------------------------------------------------------------------------


def test_retries_happen_inside_the_interpreter() -> None:
    """A failing first attempt is retried in the interpreter and then succeeds."""
    pipe, sink = _chain(
        list(range(20)),
        mg.Processor("flaky", st.flaky, interpreters=2, max_retries=2, retry_delay=0),
    )

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [n * 10 for n in range(20)]
    stats = report.stages["flaky"]
    assert stats.items_retried == 20
    assert stats.items_failed == 0


def test_on_error_skip_counts_the_failed_item() -> None:
    """``on_error="skip"``: the bad item is retried, counted, and the run goes on."""
    pipe, sink = _chain(
        list(range(10)),
        mg.Processor(
            "work",
            st.fail_on_three,
            interpreters=2,
            max_retries=2,
            retry_delay=0,
            on_error="skip",
        ),
    )

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [n * n for n in range(10) if n != 3]
    stats = report.stages["work"]
    assert report.status == "succeeded"
    assert (stats.items_in, stats.items_out) == (10, 9)
    assert stats.items_failed == 1
    assert stats.items_retried == 2


def test_on_error_raise_is_a_pipeline_error_with_a_stage_error() -> None:
    """The default policy fails the run: PipelineError holding a StageError."""
    pipe, _ = _chain(
        list(range(10)), mg.Processor("work", st.fail_on_three, interpreters=2)
    )

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    errors = _stage_errors(info.value)
    assert len(errors) == 1
    err = errors[0]
    assert err.stage == "work"
    assert err.item_repr == "3"
    assert isinstance(err.__cause__, ValueError)
    assert str(err.__cause__) == "bad item 3"
    assert info.value.report.status == "failed"


def test_on_error_callable_gets_the_original_exception() -> None:
    """A module-level ``on_error`` callable gets the item and the original error."""
    st.FAILURES.clear()
    pipe, sink = _chain(
        list(range(6)),
        mg.Processor(
            "work",
            st.fail_on_three,
            interpreters=2,
            max_retries=0,
            on_error=st.record_failure,
        ),
    )

    pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [0, 1, 4, 16, 25]
    assert len(st.FAILURES) == 1
    item, error = st.FAILURES[0]
    assert item == 3
    assert isinstance(error, ValueError)


def test_on_error_lambda_runs_in_the_parent() -> None:
    """An ``on_error`` lambda runs in the parent, so it needs no import by name."""
    seen: list[tuple[Any, BaseException]] = []
    pipe, sink = _chain(
        list(range(6)),
        mg.Processor(
            "work",
            st.fail_on_three,
            interpreters=2,
            max_retries=0,
            on_error=lambda item, error: seen.append((item, error)),
        ),
    )

    pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [0, 1, 4, 16, 25]
    assert [item for item, _ in seen] == [3]


def test_dead_letter_receives_failed_items_from_an_interpreter() -> None:
    """``dead_letter=`` gets ``Failed(item, error, stage)`` for an interpreter stage."""
    pipe = mg.Pipeline("dlq")
    pipe.add(mg.Producer("src", lambda: range(6)))
    pipe.add(
        mg.Processor(
            "work", st.fail_on_three, interpreters=2, max_retries=0, dead_letter="dead"
        )
    )
    sink = pipe.add(ListSink("sink"))
    dead = pipe.add(ListSink("dead", to=()))

    report = pipe.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [0, 1, 4, 16, 25]
    assert len(dead.items) == 1
    failed = dead.items[0]
    assert isinstance(failed, mg.Failed)
    assert failed.item == 3
    assert isinstance(failed.error, ValueError)
    assert failed.stage == "work"
    assert report.status == "succeeded"


def test_failing_setup_fails_the_run() -> None:
    """``setup()`` raising inside an interpreter fails the run naming the stage."""
    pipe, _ = _chain(list(range(5)), st.BadSetup("bad", interpreters=2))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    errors = _stage_errors(info.value)
    assert errors
    assert all(e.stage == "bad" for e in errors)
    assert isinstance(errors[0].__cause__, RuntimeError)
    assert "database unreachable" in str(errors[0].__cause__)


def test_unpicklable_result_is_a_clear_error() -> None:
    """A result that cannot be pickled back names the stage and the type."""
    pipe, _ = _chain([1, 2], mg.Processor("lock", st.unpicklable, interpreters=1))

    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)

    text = "\n".join(str(e) for e in info.value.exceptions)
    assert "'lock'" in text
    assert "lock" in text.lower()
    assert any(
        isinstance(e, mg.errors.NotPicklableError)
        or isinstance(e.__cause__, mg.errors.NotPicklableError)
        for e in info.value.exceptions
    ), text


def test_fail_fast_with_full_queues_and_an_endless_producer() -> None:
    """A failure in an interpreter stage stops an endless run behind full queues."""

    def endless() -> Any:
        n = 0
        while True:
            yield n
            n += 1

    pipe = mg.Pipeline("endless", queue_size=4)
    pipe.add(mg.Producer("src", endless))
    pipe.add(mg.Processor("work", st.fail_on_three, interpreters=2, max_retries=0))
    pipe.add(mg.Processor("slow", st.nap, threads=1))

    started = time.monotonic()
    with pytest.raises(mg.PipelineError):
        pipe.run(timeout=TIMEOUT)
    elapsed = time.monotonic() - started

    assert elapsed < 10, f"fail fast took {elapsed:.2f}s"


# -- shutdown -----------------------------------------------------------------------


def test_run_twice_in_a_row_leaves_nothing_behind() -> None:
    """The same pipeline runs twice; each run leaves no interpreter or thread."""
    pipe, sink = _chain(list(range(30)), mg.Processor("sq", st.square, interpreters=2))

    for _ in range(2):
        sink.items.clear()
        report = pipe.run(timeout=TIMEOUT)
        assert sorted(sink.items) == [n * n for n in range(30)]
        assert report.stages["sq"].items_in == 30
        deadline = time.monotonic() + 3
        while (st.minigun_threads() or st.sub_interpreters()) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.02)
        assert st.minigun_threads() == []
        assert st.sub_interpreters() == []


def test_timeout_cancels_and_destroys_the_interpreters() -> None:
    """``run(timeout=0.5)`` over slow items raises TimeoutError soon after 0.5 s."""
    pipe, _ = _chain(list(range(100)), mg.Processor("nap", st.nap, interpreters=2))

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        pipe.run(timeout=0.5)
    elapsed = time.monotonic() - started

    assert elapsed < 3, f"timeout took {elapsed:.2f}s"


# -- SpawnInterpreterExecutor -------------------------------------------------------


def test_spawn_interpreters_run_each_batch_in_a_new_interpreter() -> None:
    """Each batch runs in a fresh subinterpreter, at most max_concurrent at once."""
    pipe = mg.Pipeline("spawn")
    pipe.add(mg.Producer("src", lambda: range(30)))
    pipe.add(mg.Accumulator("batch", max_size=5))
    pipe.add(
        mg.Processor(
            "info",
            st.batch_info,
            executor=mg.SpawnInterpreterExecutor(max_concurrent=2),
        )
    )
    sink = pipe.add(ListSink("sink"))

    report = pipe.run(timeout=TIMEOUT)

    results: list[tuple[int, int, float, float]] = sink.items
    assert len(results) == 6
    assert sum(s for _, s, _, _ in results) == sum(range(30))
    ids = [i for i, _, _, _ in results]
    assert 0 not in ids
    assert len(set(ids)) == 6, ids
    events = sorted(
        [(start, 1) for _, _, start, _ in results] + [(end, -1) for *_, end in results]
    )
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak <= 2
    stats = report.stages["info"]
    assert stats.workers == 2
    assert (stats.items_in, stats.items_out) == (6, 6)


def test_spawn_interpreters_need_an_accumulator() -> None:
    """SpawnInterpreterExecutor without a preceding Accumulator is a DefinitionError."""
    pipe, _ = _chain(
        [1], mg.Processor("total", st.ident, executor=mg.SpawnInterpreterExecutor(2))
    )

    with pytest.raises(mg.DefinitionError, match=r"'total'.*Accumulator"):
        pipe.validate()


# -- speed-up -----------------------------------------------------------------------

#: Cores other processes may use during the measurement before it is not trusted.
BUSY_CORES = 0.5


def _busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have used so far (Linux only)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:  # noqa: PTH123
            fields = f.readline().split()
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal ...
    ticks = [int(v) for v in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_run(workers: int, units: int) -> tuple[float, float]:
    """Run *units* CPU units on ``interpreters=workers``.

    Returns the wall time and how many cores other processes used meanwhile.
    """
    pipe, sink = _chain(
        list(range(units)), mg.Processor("cpu", st.cpu_unit, interpreters=workers)
    )
    busy0, own0 = _busy_seconds(), _own_seconds()
    started = time.perf_counter()
    pipe.run(timeout=120)
    elapsed = time.perf_counter() - started
    busy1, own1 = _busy_seconds(), _own_seconds()
    assert sorted(sink.items) == list(range(units))
    if busy0 is None or busy1 is None:
        return elapsed, 0.0
    others = max(0.0, (busy1 - busy0) - (own1 - own0)) / elapsed
    return elapsed, others


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 CPU cores")
def test_two_interpreters_speed_up_cpu_bound_work() -> None:
    """CPU-bound work on 2 interpreters beats 1 by at least 1.2x (best of 5 tries)."""
    units = 16
    best = 0.0
    quiet_tries = 0
    for _ in range(5):
        one, busy_one = _cpu_run(1, units)
        two, busy_two = _cpu_run(2, units)
        speedup = one / two
        busy = max(busy_one, busy_two)
        print(
            f"\n{units} CPU units: 1 interpreter {one:.2f}s, "
            f"2 interpreters {two:.2f}s, speed-up {speedup:.2f}x "
            f"(other processes used {busy:.2f} cores meanwhile)"
        )
        best = max(best, speedup)
        quiet_tries += busy < BUSY_CORES
        if best >= 1.6:
            break
    if best < 1.2 and quiet_tries == 0:
        pytest.skip(
            f"machine too busy to measure a speed-up (other processes kept "
            f">= {BUSY_CORES} cores busy in every try; best {best:.2f}x)"
        )
    assert best >= 1.2, f"2 interpreters gave only {best:.2f}x over 1"
