"""RayExecutor on a local Ray instance: results, setup, batching, statistics.

The module shares one local Ray instance (`ray_local`); minigun uses it as
it finds it and leaves it running.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (the minigun[ray] extra)")

import minigun as mg  # noqa: E402 - after the skip
from minigun.executors import _distributed  # noqa: E402
from minigun.executors._distributed import RayExecutor  # noqa: E402
from minigun.testing import ListSink  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = [pytest.mark.usefixtures("no_live_actors"), pytest.mark.timeout(60)]

TIMEOUT = 45.0


class Tagger(mg.Processor[Any, Any]):
    """Tags each item with the pid of the actor that ran it and its setups."""

    def setup(self) -> None:
        self.pid = os.getpid()
        self.setups = getattr(self, "setups", 0) + 1

    def process(self, item: Any) -> Any:
        time.sleep(0.002)  # slow enough that every actor gets work
        return (item, self.pid, self.setups)


# -- results and values ------------------------------------------------------------


def test_lambda_stage_runs_on_actors_with_exact_values() -> None:
    """A closure runs on 2 actors; values (lists, None, 0, False) cross exactly."""
    factor = 3
    values: list[Any] = [0, False, "", None, [1, [2, None]], {"k": (1, 2)}]
    items = [*values, *range(200)]

    def fn(x: Any) -> Any:
        if isinstance(x, int) and not isinstance(x, bool):
            return x * factor
        return ("kept", x)  # a plain None return would mean "nothing"

    pipe = mg.Pipeline("values")
    pipe.add(mg.Producer("src", lambda: items))
    pipe.add(mg.Processor("work", fn, executor=RayExecutor(workers=2)))
    sink = pipe.add(ListSink("sink"))
    report = pipe.run(timeout=TIMEOUT)
    assert report.status == "succeeded"
    expected = [fn(x) for x in items]
    got = sink.items
    assert len(got) == len(expected)
    for x in expected:  # unhashable values: compare by equality
        assert x in got
    assert sorted(x for x in got if isinstance(x, int) and x > 0) == sorted(
        x for x in expected if isinstance(x, int) and x > 0
    )


def test_setup_runs_once_per_actor_and_teardown_at_the_end(tmp_path: Path) -> None:
    """setup() once in each actor's process, teardown() once per actor."""
    marks = tmp_path / "teardowns"

    class Stage(Tagger):
        def teardown(self) -> None:
            with marks.open("a") as f:
                f.write(f"{os.getpid()}\n")

    pipe = mg.Pipeline("setup")
    pipe.add(mg.Producer("src", lambda: range(300)))
    pipe.add(Stage("tag", executor=RayExecutor(workers=2, batch_size=10)))
    sink = pipe.add(ListSink("sink"))
    pipe.run(timeout=TIMEOUT)
    pids = {pid for _, pid, _ in sink.items}
    assert sorted(n for n, _, _ in sink.items) == list(range(300))
    assert len(pids) == 2
    assert os.getpid() not in pids
    assert {setups for _, _, setups in sink.items} == {1}
    assert sorted(int(p) for p in marks.read_text().split()) == sorted(pids)


def test_one_actor_keeps_order() -> None:
    """One actor with one batch in flight returns items in input order."""
    pipe = mg.Pipeline("order")
    pipe.add(mg.Producer("src", lambda: range(500)))
    pipe.add(
        mg.Processor(
            "work", lambda n: n + 1, executor=RayExecutor(workers=1, batch_size=7)
        )
    )
    sink = pipe.add(ListSink("sink"))
    pipe.run(timeout=TIMEOUT)
    assert sink.items == list(range(1, 501))


def test_ordered_keeps_order_across_actors() -> None:
    """ordered=True keeps input order with 2 actors and 2 batches in flight each."""
    pipe = mg.Pipeline("ordered")
    pipe.add(mg.Producer("src", lambda: range(600)))
    pipe.add(
        mg.Processor(
            "work",
            lambda n: n * 2,
            ordered=True,
            executor=RayExecutor(workers=2, batch_size=5, max_in_flight=2),
        )
    )
    sink = pipe.add(ListSink("sink"))
    pipe.run(timeout=TIMEOUT)
    assert sink.items == [n * 2 for n in range(600)]


def test_emit_and_routed_items_cross_back() -> None:
    """emit() several outputs and mg.To(...) routed items come back from actors."""

    def fan(n: int, emit: Callable[..., None]) -> None:
        emit(n)
        emit(-n)
        if n % 10 == 0:
            emit(n, to="tens")

    pipe = mg.Pipeline("emit")
    pipe.add(mg.Producer("src", lambda: range(1, 101)))
    pipe.add(mg.Processor("fan", fan, executor=RayExecutor(workers=2), to="all"))
    all_sink = pipe.add(ListSink("all"))
    tens = pipe.add(ListSink("tens", to=()))
    report = pipe.run(timeout=TIMEOUT)
    assert sorted(all_sink.items) == sorted(
        [*range(1, 101), *(-n for n in range(1, 101))]
    )
    assert sorted(tens.items) == list(range(10, 101, 10))
    assert report.stages["fan"].items_routed == 10


def test_accumulated_batches_are_units() -> None:
    """After an Accumulator, each batch is one unit on the actor."""
    pipe = mg.Pipeline("batches")
    pipe.add(mg.Producer("src", lambda: range(1000)))
    pipe.add(mg.Accumulator("acc", max_size=100))
    pipe.add(mg.Processor("sum", sum, executor=RayExecutor(workers=2, batch_size=3)))
    sink = pipe.add(ListSink("sink"))
    pipe.run(timeout=TIMEOUT)
    assert sorted(sink.items) == sorted(
        sum(range(i, i + 100)) for i in range(0, 1000, 100)
    )


# -- batching, in-flight bound, back-pressure ---------------------------------------


def test_batches_and_in_flight_per_actor_are_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No call carries more than batch_size units; no actor holds more than
    max_in_flight calls at once."""
    lock = threading.Lock()
    sizes: list[int] = []
    now: dict[int, int] = defaultdict(int)
    peak: dict[int, int] = defaultdict(int)
    real = _distributed.RayWorker._call

    def spy(self: _distributed.RayWorker, units: list[Any]) -> Any:
        slot = self.slot
        with lock:
            sizes.append(len(units))
            now[slot] += 1
            peak[slot] = max(peak[slot], now[slot])
        try:
            return real(self, units)
        finally:
            with lock:
                now[slot] -= 1

    monkeypatch.setattr(_distributed.RayWorker, "_call", spy)

    def slow(n: int) -> int:
        time.sleep(0.001)
        return n

    pipe = mg.Pipeline("bounded", queue_size=200)
    pipe.add(mg.Producer("src", lambda: range(2000)))
    pipe.add(
        mg.Processor(
            "work",
            slow,
            executor=RayExecutor(workers=2, batch_size=16, max_in_flight=2),
        )
    )
    sink = pipe.add(ListSink("sink"))
    report = pipe.run(timeout=TIMEOUT)
    assert sorted(sink.items) == list(range(2000))
    assert max(sizes) <= 16
    assert sum(sizes) == 2000
    assert set(peak) == {0, 1}
    assert max(peak.values()) <= 2
    assert report.stages["work"].workers == 4


def test_back_pressure_bounds_what_the_producer_runs_ahead() -> None:
    """A slow Ray stage holds the producer back: it never runs far ahead."""
    produced = [0]
    consumed = [0]
    lead: list[int] = []

    def source() -> Any:
        for n in range(3000):
            produced[0] += 1
            lead.append(produced[0] - consumed[0])
            yield n

    def sink(_: int) -> None:
        consumed[0] += 1

    def slow(n: int) -> int:
        time.sleep(0.0005)
        return n

    pipe = mg.Pipeline("pressure", queue_size=50)
    pipe.add(mg.Producer("src", source))
    pipe.add(
        mg.Processor(
            "work", slow, executor=RayExecutor(workers=2, batch_size=8, max_in_flight=2)
        )
    )
    pipe.add(mg.Consumer("sink", sink))
    pipe.run(timeout=TIMEOUT)
    assert consumed[0] == 3000
    # queue (50) + what 4 threads hold (<= 4 x 8) + the sink's queue (50) + slack
    assert max(lead) < 300


# -- statistics -----------------------------------------------------------------------


def test_statistics_from_actors_reach_the_report(tmp_path: Path) -> None:
    """Items, failures, retries and latency from the actors are in the report."""
    flag = tmp_path / "once"

    def fn(n: int) -> int:
        if n % 50 == 7:
            raise ValueError(n)
        if n == 3 and not flag.exists():
            flag.touch()
            raise ValueError("once")
        time.sleep(0.0002)
        return n

    pipe = mg.Pipeline("stats")
    pipe.add(mg.Producer("src", lambda: range(500)))
    pipe.add(
        mg.Processor(
            "work",
            fn,
            max_retries=2,
            retry_delay=0,
            on_error="skip",
            executor=RayExecutor(workers=2, batch_size=32),
        )
    )
    pipe.add(ListSink("sink"))
    report = pipe.run(timeout=TIMEOUT)
    st = report.stages["work"]
    assert st.executor == "ray(2)"
    assert st.items_in == 500
    assert st.items_out == 490
    assert st.items_failed == 10
    assert st.items_retried == 10 * 2 + 1
    assert st.latency_p50 > 0
    assert st.latency_p99 >= st.latency_p50
    assert st.busy_time > 0
    assert report.total_failed == 10
    assert "ray(2)" in report.summary()


def test_dashboard_rows_describe_ray_stages() -> None:
    """A live snapshot names the executor ray(n) like any other."""
    pipe = mg.Pipeline("live")
    pipe.add(mg.Producer("src", lambda: range(100)))
    pipe.add(mg.Processor("work", lambda n: n, executor=RayExecutor(workers=3)))
    pipe.add(ListSink("sink"))
    handle = pipe.start()
    handle.close()
    try:
        assert handle.statistics().stages["work"].executor == "ray(3)"
    finally:
        report = handle.wait(timeout=TIMEOUT, raise_on_timeout=True)
    assert report.stages["work"].items_in == 100


# -- mixing executors -----------------------------------------------------------------


def test_ray_mixes_with_thread_and_process_stages() -> None:
    """Thread, Ray and forked stages in one run (forks happen while Ray runs)."""
    pipe = mg.Pipeline("mixed")
    pipe.add(mg.Producer("src", lambda: range(400)))
    pipe.add(mg.Processor("threads", lambda n: n + 1, threads=3))
    pipe.add(mg.Processor("ray", lambda n: n * 2, executor=RayExecutor(workers=2)))
    pipe.add(mg.Processor("procs", lambda n: n - 1, processes=2))
    pipe.add(mg.Accumulator("acc", max_size=40))
    pipe.add(mg.Processor("forks", sum, executor=mg.SpawnForkExecutor(2)))
    sink = pipe.add(ListSink("sink"))
    report = pipe.run(timeout=TIMEOUT)
    assert report.status == "succeeded"
    assert sum(sink.items) == sum((n + 1) * 2 - 1 for n in range(400))


def test_two_ray_stages_in_one_run() -> None:
    """Two Ray stages run side by side on the same Ray."""
    pipe = mg.Pipeline("two")
    pipe.add(mg.Producer("src", lambda: range(300)))
    pipe.add(mg.Processor("a", lambda n: n + 1, executor=RayExecutor(workers=1)))
    pipe.add(mg.Processor("b", lambda n: n * 10, executor=RayExecutor(workers=2)))
    sink = pipe.add(ListSink("sink"))
    pipe.run(timeout=TIMEOUT)
    assert sorted(sink.items) == [(n + 1) * 10 for n in range(300)]
    assert ray.is_initialized()  # the user's instance is left running


def test_stop_drains_what_is_in_flight() -> None:
    """RunHandle.stop() stops the producer; what was taken is finished."""
    started = threading.Event()

    def source() -> Any:
        for n in range(100_000):
            if n == 200:
                started.set()
            yield n

    def slow(n: int) -> int:
        time.sleep(0.001)
        return n

    pipe = mg.Pipeline("stop", queue_size=100)
    pipe.add(mg.Producer("src", source))
    pipe.add(mg.Processor("work", slow, executor=RayExecutor(workers=2, batch_size=8)))
    sink = pipe.add(ListSink("sink"))
    handle = pipe.start()
    handle.close()
    assert started.wait(TIMEOUT)
    handle.stop()
    report = handle.wait(timeout=TIMEOUT, raise_on_timeout=True)
    st = report.stages["work"]
    assert st.items_in == st.items_out == len(sink.items)
    assert 200 <= len(sink.items) < 100_000
    assert report.stages["src"].items_out == st.items_in


# -- definition ----------------------------------------------------------------------


def test_describe_and_options_are_validated() -> None:
    """describe(), workers and argument checking."""
    ex = RayExecutor(workers=3, max_in_flight=2, resources={"gpu_box": 1})
    assert ex.describe() == "ray(3)"
    assert ex.actors == 3
    assert ex.workers == 6
    assert ex.resources == {"gpu_box": 1.0}
    for bad in (
        {"workers": 0},
        {"batch_size": 0},
        {"max_in_flight": True},
        {"num_cpus": -1},
        {"address": ""},
        {"resources": {"x": -1}},
        {"resources": ["x"]},
        {"actor_timeout": 0},
        {"actor_options": {"max_concurrency": 4}},
        {"actor_options": {"num_cpus": 2}},
    ):
        with pytest.raises(mg.DefinitionError):
            RayExecutor(**bad)


def test_unpicklable_stage_is_a_definition_error() -> None:
    """A stage holding something cloudpickle cannot ship fails validation."""
    lock = threading.Lock()

    def fn(n: int) -> int:
        with lock:
            return n

    pipe = mg.Pipeline("unpicklable")
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(mg.Processor("work", fn, executor=RayExecutor()))
    with pytest.raises(mg.DefinitionError, match="cannot be shipped to a Ray actor"):
        pipe.validate()


def test_missing_ray_is_reported_at_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Ray, validate() names the extra to install."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "ray" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    pipe = mg.Pipeline("noray")
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(mg.Processor("work", lambda n: n, executor=RayExecutor()))
    with pytest.raises(mg.DefinitionError, match=r"minigun\[ray\]"):
        pipe.validate()


def test_importing_minigun_does_not_import_ray() -> None:
    """Ray is imported lazily: importing minigun (and the executor) never loads it."""
    code = (
        "import sys, minigun, minigun.executors, minigun.executors._distributed\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)  # noqa: S603


def test_ray_executor_is_exported() -> None:
    """RayExecutor is public in minigun.executors (not re-exported from minigun)."""
    import minigun.executors  # noqa: PLC0415

    assert getattr(minigun.executors, "RayExecutor", None) is RayExecutor


def test_nested_pipeline_runs_whole_on_ray_actors() -> None:
    """A nested pipeline with a RayExecutor runs its sub-graph inside each actor."""
    inner = mg.Pipeline("inner", executor=RayExecutor(workers=2))
    inner.add(mg.Processor("double", lambda n: n * 2))
    inner.add(mg.Processor("tag", lambda n: (n, os.getpid())))
    out: list[tuple[int, int]] = []
    pipe = mg.Pipeline("outer")
    pipe.add(mg.Producer("src", lambda: range(200)))
    pipe.add(inner)
    # Not a ListSink: the region still drags its parent pipeline along when
    # pickled (FusedRegion -> Pipeline._parent), and ListSink holds a lock.
    pipe.add(mg.Consumer("sink", out.append))
    report = pipe.run(timeout=TIMEOUT)
    assert sorted(n for n, _ in out) == [n * 2 for n in range(200)]
    assert os.getpid() not in {pid for _, pid in out}
    assert report.stages["inner.double"].items_in == 200


def test_parent_side_options_are_not_shipped() -> None:
    """Hooks and on_error run in the parent: they need not pickle."""
    lock = threading.Lock()
    seen: list[str] = []
    failed: list[Any] = []

    def before(stage: str) -> None:
        with lock:
            seen.append(stage)

    def on_error(item: Any, error: BaseException) -> None:
        with lock:
            failed.append(item)

    def fn(n: int) -> int:
        if n == 5:
            raise ValueError(n)
        return n

    pipe = mg.Pipeline("options")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(
        mg.Processor(
            "work",
            fn,
            before=before,
            on_error=on_error,
            max_retries=0,
            executor=RayExecutor(workers=1),
        )
    )
    sink = pipe.add(ListSink("sink"))
    pipe.run(timeout=TIMEOUT)
    assert seen == ["work"]
    assert failed == [5]
    assert sorted(sink.items) == [n for n in range(10) if n != 5]


STAGE_MODULE = """
import os
import minigun as mg

class Plugin(mg.Processor):
    def process(self, item):
        return (item, os.getpid())
"""


def test_stage_from_a_module_loaded_by_path_is_shipped_by_value(
    tmp_path: Path,
) -> None:
    """A stage class whose module cannot be imported by name still reaches actors."""
    path = tmp_path / "plugin_file.py"
    path.write_text(STAGE_MODULE)
    spec = importlib.util.spec_from_file_location("mg_plugin_by_path", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # by reference, no node could import it
    try:
        spec.loader.exec_module(module)
        pipe = mg.Pipeline("by-value")
        pipe.add(mg.Producer("src", lambda: range(50)))
        pipe.add(module.Plugin("plugin", executor=RayExecutor(workers=1)))
        sink = pipe.add(ListSink("sink"))
        pipe.run(timeout=TIMEOUT)
    finally:
        del sys.modules[spec.name]
    assert sorted(n for n, _ in sink.items) == list(range(50))
    assert os.getpid() not in {pid for _, pid in sink.items}


def test_stage_the_actors_cannot_import_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module only this process can import: the error says what to install."""
    (tmp_path / "mg_local_only.py").write_text(STAGE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))  # after ray.init: actors lack it
    module = importlib.import_module("mg_local_only")
    try:
        pipe = mg.Pipeline("unimportable")
        pipe.add(mg.Producer("src", lambda: range(5)))
        pipe.add(module.Plugin("plugin", executor=RayExecutor(workers=1)))
        pipe.add(ListSink("sink"))
        with pytest.raises(mg.PipelineError) as info:
            pipe.run(timeout=TIMEOUT)
    finally:
        sys.modules.pop("mg_local_only", None)
    text = str(info.value.exceptions)
    assert "could not be unpickled in its Ray actor" in text
    assert "mg_local_only" in text
