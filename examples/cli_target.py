"""The command line: run, draw and configure a pipeline defined in a file.

The ``minigun`` command loads ``FILE.py:NAME`` (or ``package.module:NAME``),
where NAME is a Pipeline, a Task class or a function returning a Pipeline::

    minigun run examples/cli_target.py:build --set queue_size=10 --json report.json
    minigun run examples/cli_target.py:build --hud
    minigun graph examples/cli_target.py:build --format text

`main()` does the same in-process through `minigun.cli.main`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import minigun as mg
from minigun.cli import main as minigun


def build(n: int = 1000) -> mg.Pipeline:
    """The target: a zero-argument call returns the pipeline."""
    pipe = mg.Pipeline("cli_demo")
    pipe.add(mg.Producer("numbers", lambda: range(n)))
    pipe.add(mg.Processor("square", lambda x: x * x, threads=2))
    pipe.add(mg.Accumulator("batch", max_size=100))
    pipe.add(mg.Consumer("save", lambda _batch: None))
    return pipe


def main(n: int | None = None) -> None:
    del n  # the command line builds the pipeline with its defaults
    with tempfile.TemporaryDirectory() as tmp:
        report_file = Path(tmp) / "report.json"
        status = minigun(
            [
                "run",
                f"{__file__}:build",
                "--set",
                "queue_size=10",
                "--json",
                str(report_file),
            ]
        )
        assert status == 0
        data = json.loads(report_file.read_text(encoding="utf-8"))
    sizes = {name: stage["queue_size"] for name, stage in data["stages"].items()}
    print(f"status {data['status']}; queue sizes with --set queue_size=10: {sizes}")
    assert minigun(["graph", f"{__file__}:build", "--format", "text"]) == 0


if __name__ == "__main__":
    main()
