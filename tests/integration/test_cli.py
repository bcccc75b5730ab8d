"""The ``minigun`` command line, run as ``python -m minigun`` in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pytest

import minigun as mg
from minigun.cli import UsageError, load_target, main, parse_settings

if TYPE_CHECKING:
    from pathlib import Path

TIMEOUT = 60

TARGETS = textwrap.dedent(
    """
    import minigun as mg

    def build_pipeline(name="etl"):
        pipe = mg.Pipeline(name)
        pipe.add(mg.Producer("numbers", lambda: range(100)))
        pipe.add(mg.Processor("double", lambda n: n * 2, threads=2))
        pipe.add(mg.Consumer("save", lambda n: None))
        return pipe

    pipeline = build_pipeline()

    def make():
        return build_pipeline("made")

    class EtlTask:
        def build(self):
            return build_pipeline("task")

    task_instance = EtlTask()

    def failing():
        pipe = mg.Pipeline("failing", max_retries=0)
        pipe.add(mg.Producer("lines", lambda: ["1", "x"]))
        pipe.add(mg.Processor("parse", int))
        pipe.add(mg.Consumer("save", lambda n: None))
        return pipe

    def invalid():
        pipe = mg.Pipeline("invalid")
        pipe.add(mg.Producer("numbers", lambda: range(3), to="nowhere"))
        pipe.add(mg.Consumer("save", print))
        return pipe

    def forever():
        import itertools, time
        pipe = mg.Pipeline("forever")
        pipe.add(mg.Producer("ticks", itertools.count))
        pipe.add(mg.Consumer("slow", lambda n: time.sleep(0.001)))
        return pipe

    def needs_arguments(size):
        return build_pipeline()

    def returns_number():
        return 42

    def raises():
        raise RuntimeError("cannot build")

    a_stage = mg.Processor("lonely", print)
    not_a_pipeline = 42
    """
)


@pytest.fixture
def targets(tmp_path: Path) -> Path:
    """A file of targets in a fresh folder (also importable as module 'targets')."""
    path = tmp_path / "targets.py"
    path.write_text(TARGETS, encoding="utf-8")
    return path


def minigun(
    *args: str, cwd: Path | None = None, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m minigun ARGS`` and return the finished process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIGUN_")}
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "minigun", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The process wrote exactly one error line to stderr and no traceback."""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("minigun: error: ")
    return lines[0]


def stage(report: dict[str, object], name: str) -> dict[str, object]:
    """The stage *name* of a JSON report, qualified or not."""
    stages = report["stages"]
    assert isinstance(stages, dict)
    for qualified, stats in stages.items():
        if qualified == name or qualified.endswith(f".{name}"):
            assert isinstance(stats, dict)
            return stats
    pytest.fail(f"no stage {name!r} in {list(stages)}")


# -------------------------------------------------------------------- version


def test_version_prints_the_package_version() -> None:
    """``python -m minigun --version`` prints the version and exits 0."""
    result = minigun("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"minigun {mg.__version__}"


def test_main_returns_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    """main() returns a status instead of exiting, for --version and --help."""
    assert main(["--version"]) == 0
    assert main(["run", "--help"]) == 0
    assert "TARGET" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2() -> None:
    """Without a command, the help goes to stderr and the status is 2."""
    result = minigun()
    assert result.returncode == 2
    assert "run" in result.stderr
    assert "graph" in result.stderr


# ------------------------------------------------------------------------ run


def test_run_file_target(targets: Path) -> None:
    """``run file.py:name`` runs the pipeline and prints its report."""
    result = minigun("run", f"{targets}:pipeline")
    assert result.returncode == 0, result.stderr
    assert "pipeline 'etl' succeeded" in result.stdout
    assert "produced 100, consumed 100" in result.stdout


def test_run_module_target(targets: Path) -> None:
    """``run module:name`` imports the module from the current folder."""
    result = minigun("run", "targets:pipeline", cwd=targets.parent)
    assert result.returncode == 0, result.stderr
    assert "pipeline 'etl' succeeded" in result.stdout


def test_run_function_target(targets: Path) -> None:
    """A function without arguments that returns a Pipeline is a target."""
    result = minigun("run", f"{targets}:make")
    assert result.returncode == 0, result.stderr
    assert "pipeline 'made' succeeded" in result.stdout


@pytest.mark.parametrize("name", ["EtlTask", "task_instance"])
def test_run_task_target(targets: Path, name: str) -> None:
    """A class or an object with build() (a Task) is a target."""
    result = minigun("run", f"{targets}:{name}")
    assert result.returncode == 0, result.stderr
    assert "pipeline 'task' succeeded" in result.stdout


def test_run_dsl_task_class(tmp_path: Path) -> None:
    """A `Task` subclass of the decorator DSL is a target."""
    pytest.importorskip("minigun.dsl")
    path = tmp_path / "task.py"
    path.write_text(
        textwrap.dedent(
            """
            from minigun import dsl

            class Etl(dsl.Task):
                @dsl.producer
                def generate(self):
                    yield from range(10)

                @dsl.processor(threads=2)
                def double(self, n):
                    return n * 2

                @dsl.consumer
                def save(self, n):
                    pass
            """
        ),
        encoding="utf-8",
    )
    for target in (f"{path}:Etl", str(path)):
        result = minigun("run", target)
        assert result.returncode == 0, result.stderr
        assert "produced 10, consumed 10" in result.stdout


def test_run_without_name_picks_the_only_pipeline(tmp_path: Path) -> None:
    """``run file.py`` works when the file defines exactly one pipeline."""
    path = tmp_path / "single.py"
    path.write_text(
        "import minigun as mg\n"
        "pipe = mg.Pipeline('single')\n"
        "pipe.add(mg.Producer('numbers', lambda: range(3)))\n"
        "pipe.add(mg.Consumer('save', lambda n: None))\n",
        encoding="utf-8",
    )
    result = minigun("run", str(path))
    assert result.returncode == 0, result.stderr
    assert "pipeline 'single' succeeded" in result.stdout


def test_json_writes_the_report(targets: Path, tmp_path: Path) -> None:
    """``--json FILE`` writes the report as valid JSON."""
    out = tmp_path / "report.json"
    result = minigun("run", f"{targets}:pipeline", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["status"] == "succeeded"
    assert report["total_produced"] == 100
    assert mg.RunReport.from_dict(report).status == "succeeded"


def test_json_to_stdout(targets: Path) -> None:
    """``--json -`` prints the JSON on stdout and the summary on stderr."""
    result = minigun("run", f"{targets}:pipeline", "--json", "-")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "succeeded"
    assert "succeeded" in result.stderr


def test_set_overrides_the_config(targets: Path, tmp_path: Path) -> None:
    """``--set queue_size=10`` gives every stage a queue of 10."""
    out = tmp_path / "report.json"
    result = minigun(
        "run", f"{targets}:pipeline", "--set", "queue_size=10", "--json", str(out)
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert stage(report, "double")["queue_size"] == 10
    assert stage(report, "save")["queue_size"] == 10


def test_set_none_means_unbounded(targets: Path, tmp_path: Path) -> None:
    """``--set queue_size=none`` makes the queues unbounded."""
    out = tmp_path / "report.json"
    result = minigun(
        "run", f"{targets}:pipeline", "--set", "queue_size=none", "--json", str(out)
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert stage(report, "save")["queue_size"] is None


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("queue_sise=10", "unknown setting (did you mean 'queue_size'?)"),
        ("queue_size=-1", "queue_size: must be >= 0"),
        ("max_retries=lots", "max_retries"),
        ("queue_size", "--set takes key=value"),
    ],
)
def test_bad_set_exits_2(targets: Path, setting: str, message: str) -> None:
    """A bad ``--set`` is a one-line usage error (status 2)."""
    result = minigun("run", f"{targets}:pipeline", "--set", setting)
    assert result.returncode == 2
    assert message in assert_one_line_error(result)


def test_failing_pipeline_exits_1(targets: Path, tmp_path: Path) -> None:
    """A run that fails exits 1, prints the report and one error line."""
    out = tmp_path / "report.json"
    result = minigun("run", f"{targets}:failing", "--json", str(out))
    assert result.returncode == 1
    line = assert_one_line_error(result)
    assert "stage 'parse' failed on item 'x'" in line
    assert "pipeline 'failing' failed" in result.stdout
    assert json.loads(out.read_text(encoding="utf-8"))["status"] == "failed"


def test_invalid_pipeline_exits_1(targets: Path) -> None:
    """A pipeline that fails validation exits 1 with the problem."""
    result = minigun("run", f"{targets}:invalid")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "nowhere" in result.stderr


def test_timeout_exits_1(targets: Path) -> None:
    """``--timeout`` cancels the run and exits 1."""
    result = minigun("run", f"{targets}:forever", "--timeout", "0.3")
    assert result.returncode == 1
    assert "did not finish within 0.3s" in assert_one_line_error(result)


def test_ctrl_c_drains_and_exits_130(targets: Path) -> None:
    """The first Ctrl-C stops the producers, prints the report, exits 130."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIGUN_")}
    proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "minigun", "run", f"{targets}:forever"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "pipeline 'forever' cancelled" in out
    assert "Traceback" not in err


def test_building_the_target_raises_exits_1(targets: Path) -> None:
    """An exception raised by the user's factory is one line, status 1."""
    result = minigun("run", f"{targets}:raises")
    assert result.returncode == 1
    line = assert_one_line_error(result)
    assert "RuntimeError: cannot build" in line
    assert "targets.py:" in line


def test_import_error_in_target_exits_1(tmp_path: Path) -> None:
    """A module that raises on import is one line, status 1."""
    path = tmp_path / "broken.py"
    path.write_text("import minigun\n1 / 0\n", encoding="utf-8")
    result = minigun("run", f"{path}:pipe")
    assert result.returncode == 1
    assert "ZeroDivisionError" in assert_one_line_error(result)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing.py:pipe", "no such file"),
        ("{targets}:nope", "has no attribute 'nope'"),
        ("{targets}:not_a_pipeline", "an object of type int"),
        ("{targets}:a_stage", "a Processor stage"),
        ("{targets}:returns_number", "returned an object of type int"),
        ("{targets}:needs_arguments", "needs arguments"),
        ("no_such_module_xyz:pipe", "no module named 'no_such_module_xyz'"),
        ("{targets}", "say which pipeline to run"),
    ],
)
def test_bad_target_exits_2(targets: Path, target: str, message: str) -> None:
    """A target that cannot be found or is not a pipeline is a usage error."""
    result = minigun("run", target.format(targets=targets), cwd=targets.parent)
    assert result.returncode == 2
    assert message in assert_one_line_error(result)


def test_unknown_option_exits_2(targets: Path) -> None:
    """An unknown option is a one-line usage error."""
    result = minigun("run", f"{targets}:pipeline", "--bogus")
    assert result.returncode == 2
    assert "--bogus" in assert_one_line_error(result)


def test_json_into_missing_folder_exits_2(targets: Path, tmp_path: Path) -> None:
    """``--json`` into a folder that does not exist fails before running."""
    result = minigun(
        "run", f"{targets}:pipeline", "--json", str(tmp_path / "nope" / "r.json")
    )
    assert result.returncode == 2
    assert "does not exist" in assert_one_line_error(result)


# ---------------------------------------------------------------------- graph


def test_graph_mermaid(targets: Path) -> None:
    """``graph`` prints a Mermaid flowchart by default."""
    result = minigun("graph", f"{targets}:pipeline")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("flowchart")
    assert "numbers" in result.stdout
    assert "save" in result.stdout


def test_graph_text(targets: Path) -> None:
    """``graph --format text`` prints the stages and edges as text."""
    result = minigun("graph", f"{targets}:pipeline", "--format", "text")
    assert result.returncode == 0, result.stderr
    assert "numbers -> double" in result.stdout
    assert "double -> save" in result.stdout


def test_graph_bad_format_exits_2(targets: Path) -> None:
    """An unknown ``--format`` is a usage error."""
    result = minigun("graph", f"{targets}:pipeline", "--format", "dot")
    assert result.returncode == 2
    assert "invalid choice: 'dot'" in assert_one_line_error(result)


# ----------------------------------------------------------------------- demo


def test_demo_writes_every_row(tmp_path: Path) -> None:
    """``demo`` runs the ETL and the database holds one row per order."""
    db = tmp_path / "x.db"
    result = minigun("demo", "--items", "2000", "--db", str(db), "--no-hud")
    assert result.returncode == 0, result.stderr
    assert "pipeline 'demo' succeeded" in result.stdout
    assert f"2000 rows in {str(db)!r}" in result.stdout
    with sqlite3.connect(db) as conn:
        (rows,) = conn.execute("SELECT COUNT(*) FROM orders").fetchone()
    conn.close()
    assert rows == 2000


def test_demo_recreates_the_table(tmp_path: Path) -> None:
    """Running the demo twice leaves only the second run's rows."""
    db = tmp_path / "x.db"
    assert (
        minigun("demo", "--items", "300", "--db", str(db), "--no-hud").returncode == 0
    )
    result = minigun("demo", "--items", "100", "--db", str(db), "--no-hud")
    assert result.returncode == 0, result.stderr
    assert f"100 rows in {str(db)!r}" in result.stdout


def test_demo_into_missing_folder_exits_1(tmp_path: Path) -> None:
    """A database path that cannot be created is one error line."""
    result = minigun(
        "demo", "--items", "10", "--db", str(tmp_path / "no" / "x.db"), "--no-hud"
    )
    assert result.returncode == 1
    assert "cannot create the database" in assert_one_line_error(result)


# ------------------------------------------------------------- in-process API


def test_parse_settings_keeps_strings_and_none() -> None:
    """``key=value`` pairs become a dict; 'none' means None."""
    assert parse_settings(["queue_size=10", "max_threads=none"]) == {
        "queue_size": "10",
        "max_threads": None,
    }
    with pytest.raises(UsageError, match="unknown setting"):
        parse_settings(["bogus=1"])


def test_load_target_returns_the_pipeline(
    targets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_target() returns the Pipeline a file target names."""
    monkeypatch.setattr(sys, "path", list(sys.path))  # load_target prepends to it
    monkeypatch.setitem(sys.modules, "targets", None)  # restored (removed) afterwards
    monkeypatch.delitem(sys.modules, "targets")
    pipe = load_target(f"{targets}:make")
    assert isinstance(pipe, mg.Pipeline)
    assert pipe.name == "made"
