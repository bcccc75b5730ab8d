"""The dashboard and progress bars around real runs: run(hud=, progress=) (SPEC §8)."""

from __future__ import annotations

import io
import os
import re
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest
from rich.console import Console

import minigun as mg
from minigun import dashboard
from minigun.testing import ListSink

if TYPE_CHECKING:
    from collections.abc import Iterator

TIMEOUT = 20.0


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event a stuck stage waits on; set when the test ends so its thread exits."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def fast_status(monkeypatch: pytest.MonkeyPatch) -> None:
    """Print status lines every 50 ms instead of every 2 s."""
    monkeypatch.setattr(dashboard._StatusLines, "interval", 0.05)


def slow_pipeline(n: int = 40, delay: float = 0.01) -> tuple[mg.Pipeline, ListSink]:
    """numbers -> work (2 threads, *delay* per item) -> sink."""

    def work(x: int) -> int:
        time.sleep(delay)
        return x

    pipe = mg.Pipeline("etl", queue_size=4)
    pipe.add(mg.Producer("numbers", lambda: range(n)))
    pipe.add(mg.Processor("work", work, threads=2))
    sink = pipe.add(ListSink("sink"))
    return pipe, sink


def failing_pipeline() -> mg.Pipeline:
    """A pipeline whose processor fails on item 3."""

    def boom(n: int) -> int:
        if n == 3:
            msg = "bad record 3"
            raise ValueError(msg)
        return n

    pipe = mg.Pipeline("bad")
    pipe.add(mg.Producer("numbers", lambda: range(10)))
    pipe.add(mg.Processor("boom", boom, max_retries=0))
    pipe.add(mg.Consumer("save", lambda n: None))
    return pipe


def test_hud_without_tty_prints_status_lines(
    capsys: pytest.CaptureFixture[str], fast_status: None
) -> None:
    """run(hud=True) off a terminal prints periodic lines and a final one."""
    pipe, sink = slow_pipeline()

    report = pipe.run(hud=True, timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == list(range(40))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 2
    running = re.compile(
        r"^\[minigun\] etl running \d+\.\ds produced \d+ consumed \d+ failed 0"
    )
    assert all(running.match(line) for line in lines[:-1]), lines
    assert lines[-1].startswith("[minigun] etl succeeded in ")
    assert "produced 40 consumed 40 failed 0 dropped 0" in lines[-1]


def test_hud_without_tty_is_quiet_until_the_interval(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A run shorter than the 2 s interval prints only the final line."""
    pipe, _ = slow_pipeline(n=5, delay=0.0)

    pipe.run(hud=True, timeout=TIMEOUT)

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("[minigun] etl succeeded in ")


def test_progress_completes_and_returns_the_report(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """run(progress=True) returns the report and draws a bar per producer and sink."""
    pipe, sink = slow_pipeline(n=20, delay=0.001)

    report = pipe.run(progress=True, timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert report.total_produced == 20
    assert len(sink.items) == 20
    out = capsys.readouterr().out
    assert re.search(r"numbers\s+produced .* 100% 20/20", out), out
    assert re.search(r"sink\s+consumed .* 20", out), out
    assert "work" not in out


def test_progress_bars_for_producers_and_terminal_stages() -> None:
    """The bars follow every producer and every stage without downstream edges."""
    pipe = mg.Pipeline("fan")
    pipe.add(mg.Producer("a", lambda: range(3), to=["left", "right"]))
    pipe.add(mg.Producer("b", lambda: range(2), to="left"))
    with pipe.parallel():
        pipe.add(ListSink("left"))
        pipe.add(ListSink("right"))
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)

    handle = pipe.start()
    handle.close()
    report = dashboard.watch(
        handle, hud=False, progress=True, timeout=TIMEOUT, console=console
    )

    assert report.status == "succeeded"
    bars = [line.split()[:2] for line in out.getvalue().splitlines()]
    assert bars == [
        ["✔", "a"],
        ["✔", "b"],
        ["✔", "left"],
        ["✔", "right"],
    ]


def test_progress_uses_explicit_terminals() -> None:
    """terminals= picks the stages that get a 'consumed' bar."""
    pipe, _ = slow_pipeline(n=5, delay=0.0)
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)
    handle = pipe.start()
    handle.close()

    dashboard.watch(
        handle,
        hud=False,
        progress=True,
        timeout=TIMEOUT,
        terminals=["work"],
        console=console,
    )

    text = out.getvalue()
    assert re.search(r"work\s+consumed", text), text
    assert "sink" not in text


def test_terminal_stages_from_a_real_run() -> None:
    """Terminal stages are those without downstream edges, nested ones included."""
    inner = mg.Pipeline("inner")
    inner.add(mg.Processor("a", lambda n: n))
    inner.add(ListSink("end"))
    pipe = mg.Pipeline("outer")
    pipe.add(mg.Producer("src", lambda: range(3), to=["inner", "side"]))
    with pipe.parallel():
        pipe.add(inner)
        pipe.add(ListSink("side"))
    handle = pipe.start()
    handle.close()
    report = handle.wait(timeout=TIMEOUT)

    assert dashboard._terminal_stages(report) == ["inner.end", "side"]


def test_hud_and_progress_together_shows_the_dashboard(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With hud and progress both set, the dashboard wins (status lines here)."""
    pipe, _ = slow_pipeline(n=5, delay=0.0)

    pipe.run(hud=True, progress=True, timeout=TIMEOUT)

    out = capsys.readouterr().out
    assert out.startswith("[minigun] etl succeeded")
    assert "produced" in out
    assert "━" not in out


def test_pipeline_error_propagates_through_watch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A failed run raises PipelineError, with its report, through watch."""
    with pytest.raises(mg.PipelineError) as info:
        failing_pipeline().run(hud=True, timeout=TIMEOUT)

    assert info.value.report.status == "failed"
    assert info.value.message == "pipeline 'bad' failed with 1 error"
    out = capsys.readouterr().out
    assert out.startswith("[minigun] bad failed in ")
    assert out.rstrip().endswith("errors 1")


def test_pipeline_error_propagates_through_progress() -> None:
    """progress=True re-raises PipelineError too."""
    with pytest.raises(mg.PipelineError):
        failing_pipeline().run(progress=True, timeout=TIMEOUT)


def test_hud_timeout_raises_timeout_error(
    release: threading.Event, capsys: pytest.CaptureFixture[str]
) -> None:
    """run(hud=True, timeout=0.5) on a stuck pipeline raises TimeoutError in time."""
    pipe = mg.Pipeline("stuck", shutdown_timeout=1.0)
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(mg.Processor("hold", lambda n: release.wait(30)))

    started = time.monotonic()
    with pytest.raises(
        TimeoutError, match=r"^pipeline 'stuck' did not finish within 0\.5s$"
    ):
        pipe.run(hud=True, timeout=0.5)
    elapsed = time.monotonic() - started

    assert elapsed < 5, f"run(hud=True, timeout=0.5) took {elapsed:.1f}s"
    assert capsys.readouterr().out.startswith("[minigun] stuck cancelled ")


def test_progress_timeout_raises_timeout_error(release: threading.Event) -> None:
    """run(progress=True, timeout=0.5) on a stuck pipeline raises TimeoutError."""
    pipe = mg.Pipeline("stuck", shutdown_timeout=1.0)
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(mg.Processor("hold", lambda n: release.wait(30)))

    with pytest.raises(TimeoutError):
        pipe.run(progress=True, timeout=0.5)


def test_live_dashboard_on_a_terminal_console() -> None:
    """On a terminal console the live dashboard draws frames and keeps the last."""
    pipe, _ = slow_pipeline(n=30)
    out = io.StringIO()
    console = Console(
        file=out, width=100, height=30, force_terminal=True, color_system=None
    )
    handle = pipe.start()
    handle.close()

    report = dashboard.watch(
        handle, hud=True, progress=False, timeout=TIMEOUT, console=console
    )

    assert report.status == "succeeded"
    text = out.getvalue()
    final = dashboard.render_text(report, width=100)
    assert "minigun ▸ etl" in text
    assert " running " in text  # at least one live frame
    for line in final.splitlines():
        assert line in text


def test_q_key_stops_the_run(release: threading.Event) -> None:
    """'q' stops producers and drains; the run ends as cancelled."""

    def endless() -> Iterator[int]:
        n = 0
        while not release.is_set():
            yield n
            n += 1
            time.sleep(0.001)

    pipe = mg.Pipeline("endless")
    pipe.add(mg.Producer("src", endless))
    pipe.add(ListSink("sink"))
    console = Console(file=io.StringIO(), width=100, force_terminal=True)
    handle = pipe.start()
    handle.close()
    view = dashboard._Dashboard(handle, console)
    threading.Timer(0.2, view._on_key, args=("q",)).start()

    report = dashboard._drive(handle, view, TIMEOUT)

    assert report.status == "cancelled"
    assert report.total_produced > 0


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_key_reader_reads_a_pty_and_restores_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """_KeyReader puts a terminal stdin in cbreak mode, reads keys, then restores it."""
    import pty  # noqa: PLC0415 - POSIX only
    import termios  # noqa: PLC0415 - POSIX only

    master, slave = pty.openpty()
    stdin = os.fdopen(slave, "r", closefd=False)
    try:
        monkeypatch.setattr(sys, "stdin", stdin)
        before = termios.tcgetattr(slave)
        keys: list[str] = []
        got = threading.Event()

        def on_key(key: str) -> None:
            keys.append(key)
            got.set()

        reader = dashboard._KeyReader(on_key)
        reader.start()
        assert reader.active
        cbreak = termios.tcgetattr(slave)
        assert not cbreak[3] & termios.ICANON
        assert not cbreak[3] & termios.ECHO
        os.write(master, b"q")
        assert got.wait(5)
        reader.stop()

        assert keys == ["q"]
        assert reader._thread is None
        assert termios.tcgetattr(slave) == before
    finally:
        stdin.close()
        os.close(slave)
        os.close(master)


def test_key_reader_is_a_no_op_without_a_terminal() -> None:
    """Without a terminal stdin (pytest's), no thread starts and stop() is safe."""
    reader = dashboard._KeyReader(lambda key: None)

    reader.start()
    reader.stop()

    assert not reader.active


def test_display_failure_does_not_break_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A display that raises is switched off; the run's report still comes back."""

    def broken(self: object, report: mg.RunReport) -> None:
        raise RuntimeError("display bug")

    monkeypatch.setattr(dashboard._StatusLines, "update", broken)
    monkeypatch.setattr(dashboard._StatusLines, "finish", broken)
    monkeypatch.setattr(dashboard._StatusLines, "interval", 0.01)
    pipe, sink = slow_pipeline(n=10)

    report = pipe.run(hud=True, timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert len(sink.items) == 10


def test_display_that_cannot_start_still_waits_for_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A display failing at start leaves a plain wait: the report still comes back."""

    def broken(self: object, report: mg.RunReport) -> None:
        raise RuntimeError("no display")

    monkeypatch.setattr(dashboard._StatusLines, "start", broken)
    pipe, sink = slow_pipeline(n=10)

    report = pipe.run(hud=True, timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert len(sink.items) == 10
