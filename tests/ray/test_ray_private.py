"""minigun's private local Ray instance: started per run, stopped, never leaked.

No test here initialises Ray itself: each run starts (and must stop) its own
instance, so every test checks that no process of it is left.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (the minigun[ray] extra)")

import minigun as mg  # noqa: E402 - after the skip
from minigun.executors import _distributed  # noqa: E402
from minigun.executors._distributed import RayExecutor  # noqa: E402
from minigun.testing import ListSink  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.ray.raytools import descendants, ray_processes, wait_gone
else:
    from raytools import descendants, ray_processes, wait_gone

pytestmark = pytest.mark.timeout(90)

TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def nothing_left() -> Iterator[None]:
    """Ray is not running before or after; no process of ours survives the test."""
    assert not ray.is_initialized()
    yield
    assert not ray.is_initialized(), "minigun left Ray initialised"
    left = wait_gone(descendants(os.getpid()), 10.0)
    assert left == [], f"processes left after the test: {left}"


def _pipeline(n: int = 200, **ray_opts: Any) -> tuple[mg.Pipeline, ListSink]:
    pipe = mg.Pipeline("private")
    pipe.add(mg.Producer("src", lambda: range(n)))
    pipe.add(mg.Processor("work", lambda x: x + 1, executor=RayExecutor(**ray_opts)))
    sink = pipe.add(ListSink("sink"))
    return pipe, sink


def test_a_run_starts_and_stops_its_own_instance() -> None:
    """address=None: a private instance for the run, shut down at its end."""
    pipe, sink = _pipeline(workers=2)
    report = pipe.run(timeout=TIMEOUT)
    assert report.status == "succeeded"
    assert sorted(sink.items) == list(range(1, 201))


def test_two_ray_stages_share_one_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray stages of one run share one instance (ray.init once), sized for both."""
    calls: list[dict[str, Any]] = []
    real_init = ray.init

    def counting_init(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real_init(*args, **kwargs)

    monkeypatch.setattr(ray, "init", counting_init)
    pipe = mg.Pipeline("shared")
    pipe.add(mg.Producer("src", lambda: range(100)))
    pipe.add(mg.Processor("a", lambda n: n + 1, executor=RayExecutor(workers=3)))
    pipe.add(mg.Processor("threads", lambda n: n, threads=2))
    pipe.add(
        mg.Processor(
            "b",
            lambda n: n * 2,
            executor=RayExecutor(workers=2, num_cpus=2, resources={"disk": 1}),
        )
    )
    sink = pipe.add(ListSink("sink"))
    pipe.run(timeout=TIMEOUT)
    assert sorted(sink.items) == [(n + 1) * 2 for n in range(100)]
    (kwargs,) = calls
    assert kwargs["address"] == "local"
    assert kwargs["num_cpus"] >= 3 + 2 * 2
    assert kwargs["resources"] == {"disk": 2.0}


def test_runs_back_to_back() -> None:
    """Each run starts and stops its own instance; the next one starts afresh."""
    for _ in range(2):
        pipe, sink = _pipeline(50, workers=1)
        pipe.run(timeout=TIMEOUT)
        assert sorted(sink.items) == list(range(1, 51))
        assert not ray.is_initialized()


def test_timeout_shuts_the_instance_down() -> None:
    """run(timeout=) on a private instance: TimeoutError, then Ray is gone."""

    def slow(n: int) -> int:
        time.sleep(1)
        return n

    pipe = mg.Pipeline("private-timeout")
    pipe.add(mg.Producer("src", lambda: range(100)))
    pipe.add(mg.Processor("work", slow, executor=RayExecutor(workers=1)))
    pipe.add(ListSink("sink"))
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        pipe.run(timeout=8)
    assert time.monotonic() - t0 < 25


def test_failed_run_shuts_the_instance_down() -> None:
    """An error in the stage fails the run; the instance still goes away."""

    def bad(n: int) -> int:
        raise ValueError(n)

    pipe = mg.Pipeline("private-error")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("work", bad, max_retries=0, executor=RayExecutor()))
    pipe.add(ListSink("sink"))
    with pytest.raises(mg.PipelineError):
        pipe.run(timeout=TIMEOUT)


def test_unreachable_cluster_fails_fast() -> None:
    """An address where nothing listens is an ExecutorError within seconds."""
    pipe, _ = _pipeline(10, address="127.0.0.1:9")
    t0 = time.monotonic()
    with pytest.raises(mg.PipelineError) as info:
        pipe.run(timeout=TIMEOUT)
    assert time.monotonic() - t0 < 15
    assert "nothing answers at 127.0.0.1:9" in str(info.value.exceptions[0])


def test_one_run_joins_one_cluster() -> None:
    """Two Ray stages asking for different clusters: a clear error."""
    pipe = mg.Pipeline("two-clusters")
    pipe.add(mg.Producer("src", lambda: range(10)))
    pipe.add(mg.Processor("a", lambda n: n, executor=RayExecutor(workers=1)))
    pipe.add(
        mg.Processor(
            "b", lambda n: n, executor=RayExecutor(workers=1, address="10.9.9.9:6379")
        )
    )
    pipe.add(ListSink("sink"))
    with pytest.raises(mg.PipelineError, match="failed") as info:
        pipe.run(timeout=TIMEOUT)
    assert "one process joins one cluster" in str(info.value.exceptions)


def test_mix_with_forked_stages_on_a_private_instance() -> None:
    """Forked stages before and after a Ray stage; children fork while Ray runs."""
    pipe = mg.Pipeline("private-mix")
    pipe.add(mg.Producer("src", lambda: range(300)))
    pipe.add(mg.Processor("procs", lambda n: n + 1, processes=2))
    pipe.add(mg.Processor("ray", lambda n: n * 2, executor=RayExecutor(workers=2)))
    pipe.add(mg.Processor("procs2", lambda n: n - 1, processes=2))
    sink = pipe.add(ListSink("sink"))
    pipe.run(timeout=TIMEOUT)
    assert sorted(sink.items) == sorted((n + 1) * 2 - 1 for n in range(300))


DRIVER = textwrap.dedent(
    """
    import time
    import minigun as mg
    from minigun.executors._distributed import RayExecutor

    out = []

    def slow(n):
        time.sleep(0.01)
        return n

    def sink(x):
        if not out:
            print("started", flush=True)
        out.append(x)

    pipe = mg.Pipeline("ctrl-c", queue_size=40)
    pipe.add(mg.Producer("src", lambda: range(1_000_000)))
    pipe.add(mg.Processor("work", slow, executor=RayExecutor(workers=2, batch_size=4)))
    pipe.add(mg.Consumer("sink", sink))
    try:
        report = pipe.run(timeout=120)
    except KeyboardInterrupt:
        print("interrupted", len(out), flush=True)
        raise SystemExit(130)
    print("status", report.status, len(out), flush=True)
    """
)


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_leaves_no_ray_process(ray_tmp: str, presses: int) -> None:
    """Ctrl-C to the whole process group: one drains, two cancel; nothing survives."""
    marker = tempfile.mkdtemp(prefix="int", dir=ray_tmp)  # short: unix sockets
    env = {**os.environ, "RAY_TMPDIR": marker}
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", DRIVER],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("started"):
                break
        time.sleep(0.3)
        for _ in range(presses):
            os.killpg(proc.pid, signal.SIGINT)
            time.sleep(0.2)
        out, _ = proc.communicate(timeout=40)
        lines.append(out)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = "".join(lines)
    if presses == 1:
        assert proc.returncode == 0, text
        assert "status cancelled" in text, text
    else:
        assert proc.returncode == 130, text
        assert "interrupted" in text, text
    assert wait_gone(ray_processes(marker), 10.0) == []


def test_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/ray_cluster.py finishes on a private instance."""
    import minigun.executors  # noqa: PLC0415

    # The example imports the public name (a no-op once it is exported).
    monkeypatch.setattr(minigun.executors, "RayExecutor", RayExecutor, raising=False)
    path = ROOT / "examples" / "ray_cluster.py"
    spec = importlib.util.spec_from_file_location("ray_cluster_example", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(300)


def test_session_thread_is_gone_after_the_run() -> None:
    """The thread that owns the private instance ends with the run."""
    pipe, _ = _pipeline(20, workers=1)
    pipe.run(timeout=TIMEOUT)
    assert _distributed._SESSION.users == 0
    assert _distributed._SESSION._thread is None
