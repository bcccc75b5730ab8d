"""Live terminal dashboard and progress bars for runs (presentation layer).

Two halves, kept apart (STYLE.md §2):

* `render` turns one `RunReport` snapshot into a rich renderable, and
  `render_text` turns it into plain text. Both are pure: the same snapshot
  gives the same output, so they are tested with golden strings.
* `watch` is the refresh loop that ``Pipeline.run(hud=True)`` and
  ``run(progress=True)`` hand a started run to. It takes a snapshot only when
  the display refreshes (4 times a second for the dashboard and the bars,
  every 2 seconds for plain status lines), so the run itself pays nothing.

Example:
    >>> import minigun as mg
    >>> from minigun.dashboard import render_text
    >>> pipe = mg.Pipeline("etl")
    >>> _ = pipe.add(mg.Producer("numbers", lambda: range(3)))
    >>> _ = pipe.add(mg.Consumer("save", lambda n: None))
    >>> report = pipe.run(timeout=10)
    >>> render_text(report).splitlines()[0].split()[:4]
    ['minigun', '▸', 'etl', '✔']
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections import deque
from typing import TYPE_CHECKING, Any, Final, Protocol

from loguru import logger
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ._report import _fmt_rate, _fmt_time
from .errors import PipelineError as _PipelineError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from ._report import RunReport, StageStatistics
    from ._runtime import RunHandle

__all__ = ("render", "render_text", "status_line", "watch")

_log = logger.bind(component="dashboard")

#: Dashboard and progress-bar refreshes per second.
REFRESH_PER_SECOND: Final = 4
#: Seconds between two status lines when stdout is not a terminal.
STATUS_INTERVAL: Final = 2.0
#: Seconds of history behind the live "items/s" figures.
RATE_WINDOW: Final = 1.0
#: Errors listed under the table; the rest are counted.
MAX_ERRORS: Final = 5

_SPINNER: Final = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_STATUS_STYLE: Final = {
    "succeeded": "bold green",
    "failed": "bold red",
    "cancelled": "bold yellow",
    "running": "bold cyan",
}
_RUN_GLYPH: Final = {"succeeded": "✔", "failed": "✘", "cancelled": "■"}


# --------------------------------------------------------------------------- render


def render(
    report: RunReport, *, width: int = 100, previous: RunReport | None = None
) -> Group:
    """Build the dashboard for one snapshot of a run.

    The dashboard has a header (pipeline, status, elapsed time, totals and
    the overall rate), one row per stage in topological order (stages of
    nested pipelines indented under a heading for their pipeline), the
    bottleneck marked with ``◀``, and the errors that failed the run. A
    stage's row shows its status glyph, executor, item counts, rate,
    latency, input-queue fill (``████░░░░ 412/1,000``), and how much of the
    run its workers spent busy in the stage's function and blocked on a full
    downstream queue.

    Pure: it reads nothing but its arguments.

    Args:
        report: a snapshot (``RunHandle.statistics()``) or a final report.
        width: the width it will be printed at; below 100 columns the queue
            bar shrinks, below 90 the retry, p50 and blocked columns go.
        previous: an earlier snapshot of the same run; while the run goes
            on, rates are then measured between the two snapshots ("items/s
            now") instead of averaged over the whole run.

    Returns:
        A `rich.console.Group` to print with a rich console.
    """
    live = report.status == "running"
    prev = previous if live and previous is not None else None
    parts: list[Text | Table] = [
        _header(report, prev, width),
        _stage_table(report, width, prev),
    ]
    footer = _footer(report)
    if footer.plain:
        parts.append(footer)
    errors = _errors(report)
    if errors is not None:
        parts.append(errors)
    return Group(*parts)


def render_text(
    report: RunReport, *, width: int = 100, previous: RunReport | None = None
) -> str:
    """Render the dashboard of *report* as plain text (no colour, no escapes).

    The text is what a `width`-column terminal shows, with trailing spaces
    removed from each line: the pure, testable form of `render`.

    Args:
        report: a snapshot or a final report.
        width: the console width in columns.
        previous: see `render`.

    Returns:
        The dashboard, one line per terminal row, ending with a newline.
    """
    console = Console(
        file=io.StringIO(),
        width=width,
        color_system=None,
        force_terminal=False,
        legacy_windows=False,
        emoji=False,
        highlight=False,
    )
    with console.capture() as capture:
        console.print(render(report, width=width, previous=previous))
    return "".join(line.rstrip() + "\n" for line in capture.get().splitlines())


def _handled(s: StageStatistics) -> int:
    # The same count `StageStatistics.throughput` is based on.
    return s.items_out if s.kind == "producer" else s.items_in


def _rate(
    s: StageStatistics, report: RunReport, prev: RunReport | None
) -> float | None:
    if prev is not None:
        before = prev.stages.get(s.name)
        elapsed = report.duration - prev.duration
        if before is not None and elapsed > 0:
            return max(0, _handled(s) - _handled(before)) / elapsed
    return s.throughput if report.duration > 0 else None


def _count(n: int) -> str:
    return f"{n:,}" if n < 10_000_000 else f"{n / 1e6:.1f}M"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole > 0 else "-"


def _glyph(status: str, duration: float, failed: int) -> Text:
    if status == "running":
        return Text(_SPINNER[int(duration * 8) % len(_SPINNER)], style="cyan")
    if status == "closing":
        return Text("◐", style="yellow")
    if status == "finished":
        return Text("✘", style="red") if failed else Text("✔", style="green")
    return Text("○", style="dim")


def _header(report: RunReport, prev: RunReport | None, width: int) -> Text:
    status = report.status
    running = status == "running"
    if running:
        glyph = _SPINNER[int(report.duration * 8) % len(_SPINNER)]
    else:
        glyph = _RUN_GLYPH.get(status, "?")
    style = _STATUS_STYLE.get(status, "bold")
    consumed = report.total_consumed
    # Producers count items; terminal stages may count batches.
    done = report.total_produced
    rate: float | None = done / report.duration if report.duration > 0 else None
    if prev is not None and report.duration > prev.duration:
        elapsed = report.duration - prev.duration
        rate = max(0, done - prev.total_produced) / elapsed
    text = Text.assemble(
        ("minigun ▸ ", "dim"),
        (report.pipeline, "bold"),
        "  ",
        (f"{glyph} {status}", style),
        "  ",
        (f"{report.duration:.1f}s", "bold"),
        ("\n" if width < 90 else "  │  ", "dim"),
        "produced ",
        (_count(report.total_produced), "bold"),
    )
    totals = [s.total for s in report.stages.values() if s.kind == "producer"]
    expected = sum(t for t in totals if t is not None)
    if running and totals and None not in totals and expected > 0:
        text.append(f"/{_count(expected)}")
        text.append(f" {100 * report.total_produced / expected:.0f}%", "bold")
    text.append("  consumed ")
    text.append(_count(consumed), "bold")
    text.append("  failed ")
    text.append(
        _count(report.total_failed), "bold red" if report.total_failed else "bold"
    )
    if report.total_dropped:
        text.append("  dropped ")
        text.append(_count(report.total_dropped), "bold")
    text.append("  ")
    text.append(f"{_fmt_rate(rate or 0.0)} items/s", "bold cyan")
    return text


def _queue_cell(s: StageStatistics, bar_width: int) -> Text:
    if s.kind == "producer":
        return Text("-", style="dim")
    depth = s.queue_depth
    if s.queue_size is None:
        return Text(" " * (bar_width + 1 if bar_width else 0) + f"{_count(depth)}/∞")
    label = f"{_count(depth)}/{_count(s.queue_size)}"
    if not bar_width:
        return Text(label)
    fill = min(1.0, depth / s.queue_size) if s.queue_size > 0 else 0.0
    filled = round(fill * bar_width)
    if depth and not filled:
        filled = 1  # a non-empty queue never looks empty
    colour = "red" if fill >= 0.9 else "yellow" if fill >= 0.5 else "green"
    return Text.assemble(
        ("█" * filled, colour),
        ("░" * (bar_width - filled), "dim"),
        " ",
        label,
    )


def _tree(names: Iterable[str]) -> list[tuple[int, str | None, str]]:
    """Order stage names into (depth, heading, name) rows, grouped by pipeline.

    A heading row has ``heading`` set to the pipeline's qualified prefix and
    ``name`` empty. Groups keep the position of their first stage, and the
    stages inside a group keep their topological order.
    """
    # Nested dicts: prefix -> children (a str for a stage, a dict for a group).
    root: dict[str, object] = {}
    for name in names:
        node = root
        parts = name.split(".")
        for k in range(1, len(parts)):
            prefix = ".".join(parts[:k])
            child = node.setdefault(prefix, {})
            if not isinstance(child, dict):  # a stage and a pipeline share a name
                break
            node = child
        node[name] = name
    rows: list[tuple[int, str | None, str]] = []

    def walk(node: dict[str, object], depth: int) -> None:
        for key, child in node.items():
            if isinstance(child, dict):
                rows.append((depth, key, ""))
                walk(child, depth + 1)
            else:
                rows.append((depth, None, key))

    walk(root, 0)
    return rows


def _stage_table(report: RunReport, width: int, prev: RunReport | None) -> Table:
    compact = width < 90
    bar_width = 10 if width >= 120 else 8 if width >= 100 else 6 if width >= 80 else 0
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=0,
        header_style="bold",
    )
    table.add_column("", no_wrap=True, width=1)
    table.add_column("stage", no_wrap=True, overflow="ellipsis", min_width=5)
    table.add_column("executor", no_wrap=True, overflow="ellipsis")
    table.add_column("in", justify="right", no_wrap=True)
    table.add_column("out", justify="right", no_wrap=True)
    table.add_column("failed", justify="right", no_wrap=True)
    if not compact:
        table.add_column("retried", justify="right", no_wrap=True)
    table.add_column("items/s", justify="right", no_wrap=True)
    if not compact:
        table.add_column("p50", justify="right", no_wrap=True)
    table.add_column("p99", justify="right", no_wrap=True)
    table.add_column("queue", no_wrap=True)
    table.add_column("busy", justify="right", no_wrap=True)
    if not compact:
        table.add_column("blocked", justify="right", no_wrap=True)
    ncols = len(table.columns)
    stages = report.stages
    for depth, heading, name in _tree(stages):
        indent = "  " * depth
        if heading is not None:
            inner = [s for n, s in stages.items() if n.startswith(heading + ".")]
            glyph = _group_glyph(inner, report.duration)
            label = Text.assemble(indent, (heading.rsplit(".", 1)[-1], "bold"), "/")
            table.add_row(
                glyph, label, Text("pipeline", style="dim"), *[""] * (ncols - 3)
            )
            continue
        s = stages[name]
        table.add_row(*_stage_row(s, report, prev, indent, bar_width, compact))
    return table


def _group_glyph(inner: Sequence[StageStatistics], duration: float) -> Text:
    statuses = {s.status for s in inner}
    if statuses == {"finished"}:
        return _glyph("finished", duration, sum(s.items_failed for s in inner))
    if statuses == {"pending"}:
        return _glyph("pending", duration, 0)
    return _glyph("running", duration, 0)


def _stage_row(
    s: StageStatistics,
    report: RunReport,
    prev: RunReport | None,
    indent: str,
    bar_width: int,
    compact: bool,
) -> list[Text | str]:
    workers = max(s.workers, 1)
    denom = report.duration * workers
    bottleneck = s.name == report.bottleneck
    leaf = s.name.rsplit(".", 1)[-1] if indent else s.name
    name = Text(indent + leaf, style="bold yellow" if bottleneck else "")
    if bottleneck:
        name.append(" ◀", style="bold yellow")
    executor = s.executor
    if workers > 1 and f"({workers})" not in executor:
        executor = f"{executor}×{workers}"  # noqa: RUF001 - times sign
    rate = _rate(s, report, prev)
    producer = s.kind == "producer"
    row: list[Text | str] = [
        _glyph(s.status, report.duration, s.items_failed),
        name,
        Text(executor, style="dim"),
        Text("-", style="dim") if producer else _count(s.items_in),
        _count(s.items_out),
        Text(_count(s.items_failed), style="bold red" if s.items_failed else ""),
    ]
    if not compact:
        row.append(
            Text(_count(s.items_retried), style="yellow" if s.items_retried else "")
        )
    row.append(_fmt_rate(rate) if rate else "-")
    if not compact:
        row.append(_fmt_time(s.latency_p50))
    row.append(_fmt_time(s.latency_p99))
    row.append(_queue_cell(s, bar_width))
    row.append(_pct(s.busy_time, denom))
    if not compact:
        row.append(_pct(s.blocked_time, denom))
    return row


def _footer(report: RunReport) -> Text:
    text = Text()
    name = report.bottleneck
    stats = report.stages.get(name) if name is not None else None
    if stats is not None:
        text.append("◀ bottleneck ", style="bold yellow")
        text.append(stats.name, style="bold")
        text.append(
            f": busy {100 * stats.utilisation:.0f}% of the time"
            f" on {max(stats.workers, 1)} worker" + ("s" if stats.workers > 1 else "")
        )
    return text


def _errors(report: RunReport) -> Text | None:
    if not report.errors:
        return None
    n = len(report.errors)
    text = Text(f"errors ({n})", style="bold red")
    for line in report.errors[:MAX_ERRORS]:
        first = line.splitlines()[0] if line else ""
        text.append("\n  ✘ ", style="red")
        text.append(first)
    if n > MAX_ERRORS:
        text.append(f"\n  … and {n - MAX_ERRORS} more", style="dim")
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def status_line(report: RunReport) -> str:
    """Return the one-line status ``watch`` prints when stdout is not a terminal.

    Args:
        report: a snapshot or a final report.

    Returns:
        ``[minigun] etl running 12.3s produced 10000 consumed 9800 failed 0
        bottleneck parse`` for a snapshot; a final report says ``succeeded in
        12.3s`` (or ``failed``/``cancelled``) and adds the dropped count, the
        overall rate and the number of errors.
    """
    running = report.status == "running"
    when = f"{report.duration:.1f}s" if running else f"in {report.duration:.2f}s"
    parts = [
        f"[minigun] {report.pipeline} {report.status} {when}",
        f"produced {report.total_produced}",
        f"consumed {report.total_consumed}",
        f"failed {report.total_failed}",
    ]
    if not running:
        done = report.total_produced
        rate = done / report.duration if report.duration > 0 else 0.0
        parts.append(f"dropped {report.total_dropped}")
        parts.append(f"({_fmt_rate(rate)} items/s)")
    if report.bottleneck:
        parts.append(f"bottleneck {report.bottleneck}")
    if report.errors:
        parts.append(f"errors {len(report.errors)}")
    return " ".join(parts)


# --------------------------------------------------------------------------- watch


class _Display(Protocol):
    #: Seconds between two snapshots.
    interval: float

    def start(self, report: RunReport) -> None: ...
    def update(self, report: RunReport) -> None: ...
    def finish(self, report: RunReport) -> None: ...


def watch(
    handle: RunHandle,
    *,
    hud: bool,
    progress: bool,
    timeout: float | None,
    terminals: Sequence[str] | None = None,
    console: Console | None = None,
) -> RunReport:
    """Show a started run live until it ends, then return its report.

    What it shows:

    * ``hud=True`` and stdout is a terminal: the `render` dashboard, redrawn
      4 times a second; when stdin is a terminal too, ``q`` stops the run
      (producers stop, in-flight items drain) and a second ``q`` cancels it.
      The final state stays on screen.
    * ``hud=True`` otherwise: one `status_line` every 2 seconds, then the
      final one.
    * ``progress=True``: a `rich.progress` bar per producer (against its
      ``total`` when known) and per terminal stage. ``hud`` wins when both
      are set.

    The calling thread waits exactly as ``handle.wait(timeout=timeout,
    raise_on_timeout=True)`` does (Ctrl-C stops, a second Ctrl-C cancels),
    while a daemon thread takes a snapshot only when the display refreshes.

    Args:
        handle: the run, already started (and closed, for ``run()``).
        hud: show the dashboard (or status lines without a terminal).
        progress: show progress bars.
        timeout: seconds for the whole run; past it the run is cancelled.
        terminals: the stages whose consumed items get a progress bar;
            by default those without downstream edges.
        console: where to draw (a rich `Console`; default: stdout). Whether
            it is a terminal decides between the dashboard and status lines.

    Returns:
        The final `RunReport`.

    Raises:
        PipelineError: a stage or hook failed; ``.report`` has the report.
        TimeoutError: *timeout* passed (the run was cancelled and cleaned up).
    """
    display: _Display
    if hud:
        is_tty = console.is_terminal if console is not None else _stdout_is_tty()
        if is_tty:
            display = _Dashboard(handle, console or Console())
        else:
            display = _StatusLines(console)
    elif progress:
        display = _Bars(handle, terminals, console or Console())
    else:
        return handle.wait(timeout=timeout, raise_on_timeout=True)
    return _drive(handle, display, timeout)


def _stdout_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed stdout
        return False


def _drive(handle: RunHandle, display: _Display, timeout: float | None) -> RunReport:
    try:
        display.start(handle.statistics())
    except Exception as exc:  # noqa: BLE001 - the run goes on without a display
        _log.opt(exception=exc).warning("dashboard: display failed to start")
        return handle.wait(timeout=timeout, raise_on_timeout=True)
    stop = threading.Event()
    ticker = threading.Thread(
        target=_tick,
        args=(handle, display, stop),
        name="minigun-dashboard",
        daemon=True,
    )
    ticker.start()
    final: RunReport | None = None
    try:
        final = handle.wait(timeout=timeout, raise_on_timeout=True)
    except _PipelineError as exc:
        final = exc.report
        raise
    finally:
        stop.set()
        ticker.join()
        try:
            display.finish(final if final is not None else handle.statistics())
        except Exception as exc:  # noqa: BLE001 - never mask the run's outcome
            _log.opt(exception=exc).warning("dashboard: final render failed")
    return final


def _tick(handle: RunHandle, display: _Display, stop: threading.Event) -> None:
    # The display is cosmetic: a failing refresh must not touch the run.
    while not stop.wait(display.interval):
        try:
            display.update(handle.statistics())
        except Exception as exc:  # noqa: BLE001 - logged, and the display stops
            _log.opt(exception=exc).warning("dashboard: refresh failed; display off")
            return


class _Dashboard:
    """The live `render` view, with keyboard control."""

    interval = 1 / REFRESH_PER_SECOND

    def __init__(self, handle: RunHandle, console: Console) -> None:
        self._handle = handle
        self._console = console
        self._live = Live(
            console=console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=True,
            redirect_stderr=True,
        )
        self._history: deque[RunReport] = deque()
        self._keys = _KeyReader(self._on_key)
        self._quits = 0

    def _on_key(self, key: str) -> None:
        if key not in "qQ":
            return
        self._quits += 1
        if self._quits == 1:
            self._handle.stop()
        else:
            self._handle.cancel()

    def _hint(self, report: RunReport) -> Text:
        if report.status != "running":
            return Text("")
        if not self._keys.active:
            return Text("Ctrl-C stop · twice: cancel", style="dim")
        if self._quits:
            return Text(
                "stopping: draining in-flight items · q again: cancel", "yellow"
            )
        return Text("q stop (drain) · q twice: cancel", style="dim")

    def _frame(self, report: RunReport) -> Group:
        now = report.duration
        while self._history and now - self._history[0].duration > RATE_WINDOW:
            self._history.popleft()
        prev = self._history[0] if self._history else None
        self._history.append(report)
        body = render(report, width=self._console.width, previous=prev)
        hint = self._hint(report)
        return Group(body, hint) if hint.plain else body

    def start(self, report: RunReport) -> None:
        self._keys.start()
        try:
            self._live.update(self._frame(report))
            self._live.start(refresh=True)
        except BaseException:
            self._keys.stop()  # give the terminal back before giving up
            raise

    def update(self, report: RunReport) -> None:
        self._live.update(self._frame(report), refresh=True)

    def finish(self, report: RunReport) -> None:
        try:
            self._keys.stop()
        finally:
            self._history.clear()
            self._live.update(self._frame(report))
            self._live.stop()  # draws the final frame, in full, and keeps it


class _StatusLines:
    """Periodic one-line status for logs and pipes."""

    interval = STATUS_INTERVAL

    def __init__(self, console: Console | None) -> None:
        self._console = console

    def _write(self, line: str) -> None:
        if self._console is not None:
            self._console.out(line, highlight=False)
            return
        out = sys.stdout  # looked up now: pytest and Live swap it
        out.write(line + "\n")
        out.flush()

    def start(self, report: RunReport) -> None:
        pass

    def update(self, report: RunReport) -> None:
        if report.status == "running":
            self._write(status_line(report))

    def finish(self, report: RunReport) -> None:
        self._write(status_line(report))


class _RateColumn(ProgressColumn):
    """Items per second of a task, from rich's recent samples."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed and task.finished and task.elapsed:
            speed = task.completed / task.elapsed
        if not speed:
            return Text("")
        return Text(f"{_fmt_rate(speed)}/s", style="progress.data.speed")


class _CountColumn(ProgressColumn):
    """``412/1,000`` against a known total, ``412`` otherwise."""

    def render(self, task: Task) -> Text:
        done = _count(int(task.completed))
        if task.total is None or not task.fields.get("known", True):
            return Text(done, style="progress.download")
        return Text(f"{done}/{_count(int(task.total))}", style="progress.download")


class _Bars:
    """A progress bar per producer and per terminal stage."""

    interval = 1 / REFRESH_PER_SECOND

    def __init__(
        self, handle: RunHandle, terminals: Sequence[str] | None, console: Console
    ) -> None:
        self._handle = handle
        self._terminals = terminals
        self._progress = Progress(
            SpinnerColumn(finished_text="[green]✔"),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[pct]}", justify="right"),
            _CountColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            auto_refresh=False,
            transient=False,
        )
        self._tasks: dict[str, tuple[TaskID, bool]] = {}

    def start(self, report: RunReport) -> None:
        producers = [s for s in report.stages.values() if s.kind == "producer"]
        terminals = (
            list(self._terminals)
            if self._terminals is not None
            else _terminal_stages(report)
        )
        names = [s.name for s in producers] + terminals
        width = max((len(n) for n in names), default=0)
        for s in producers:
            label = f"{s.name.ljust(width)} [dim]produced[/]"
            task = self._progress.add_task(label, total=s.total, pct="")
            self._tasks[s.name] = (task, True)
        for name in terminals:
            if name in report.stages and name not in self._tasks:
                label = f"{name.ljust(width)} [dim]consumed[/]"
                task = self._progress.add_task(label, total=None, pct="")
                self._tasks[name] = (task, False)
        self._progress.start()
        self.update(report)

    def update(self, report: RunReport) -> None:
        for name, (task, is_producer) in self._tasks.items():
            s = report.stages.get(name)
            if s is None:
                continue
            done = s.items_out if is_producer else s.items_in
            total = s.total if is_producer else None
            pct = f"{100 * done / total:.0f}%" if total else ""
            self._progress.update(task, completed=done, total=total, pct=pct)
        self._progress.refresh()

    def finish(self, report: RunReport) -> None:
        try:
            self.update(report)
            if report.status == "succeeded":
                # A bar without a known total ends full once the run has ended.
                for task_id, _ in self._tasks.values():
                    task = self._progress.tasks[task_id]
                    if task.total is None:
                        self._progress.update(
                            task_id, total=max(task.completed, 1), known=False
                        )
                self._progress.refresh()
        finally:
            self._progress.stop()


def _terminal_stages(report: RunReport) -> list[str]:
    """Return the names of the stages that end the flow (no downstream edges)."""
    return [name for name, s in report.stages.items() if s.terminal]


class _KeyReader:
    """Read single keys from a terminal stdin in cbreak mode, in a daemon thread.

    A no-op when stdin is not a terminal or the platform has no ``termios``.
    The terminal's settings are restored by `stop`.
    """

    def __init__(self, on_key: Callable[[str], None]) -> None:
        self._on_key = on_key
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fd = -1
        self._saved: list[Any] | None = None

    @property
    def active(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        try:
            import termios  # noqa: PLC0415 - POSIX only
            import tty  # noqa: PLC0415 - POSIX only

            if not sys.stdin.isatty():
                return
            fd = sys.stdin.fileno()
            saved = termios.tcgetattr(fd)
            tty.setcbreak(fd, termios.TCSANOW)
        except (ImportError, AttributeError, ValueError, OSError):
            return
        self._fd, self._saved = fd, saved
        self._thread = threading.Thread(
            target=self._read, name="minigun-dashboard-keys", daemon=True
        )
        self._thread.start()

    def _read(self) -> None:
        import select  # noqa: PLC0415 - only with a terminal

        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(self._fd, 32)
            except OSError:
                return
            if not data:
                return
            for key in data.decode(errors="replace"):
                self._on_key(key)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1.0)
            self._thread = None
        if self._saved is not None:
            import termios  # noqa: PLC0415 - POSIX only

            with contextlib.suppress(OSError):
                termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._saved = None
