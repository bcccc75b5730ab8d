"""Run every example under examples/ on a small input so the examples don't rot.

Each example runs in its own interpreter (examples fork, install signal
handlers and print), started from a temporary folder: the module is loaded
by path and its ``main()`` is called, with a small ``n`` when it takes one.
Up to ``PARALLEL`` examples run at the same time, each with a time limit.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import minigun

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.slow

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(p for p in EXAMPLES_DIR.glob("*.py") if not p.name.startswith("_"))

#: The ``n`` passed to ``main(n)``; examples not listed get ``SMALL_N``.
SMALL_N = 100
N_FOR = {"large_dataset.py": 20_000}

#: Seconds one example may take.
TIME_LIMIT = 45.0
PARALLEL = 3

#: Examples that need a module which may not exist in this version yet.
REQUIRES = {
    "dashboard.py": "minigun.dashboard",
    "progress_bars.py": "minigun.dashboard",
    "mermaid_export.py": "minigun.mermaid",
}

#: Examples another test folder runs (inside the environment they need).
RUN_ELSEWHERE = {
    "ray_cluster.py": (
        "runs in tests/ray/test_ray_private.py, inside the network fence Ray needs"
    ),
}

DRIVER = """
import importlib.util, inspect, sys
path, n = sys.argv[1], int(sys.argv[2])
spec = importlib.util.spec_from_file_location("example_under_test", path)
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
params = inspect.signature(module.main).parameters
module.main(n) if "n" in params else module.main()
"""


def _missing(path: Path) -> str | None:
    """Why the example cannot run in this version, or None if it can."""
    module = "minigun.dsl" if path.name.startswith("dsl_") else REQUIRES.get(path.name)
    if module is not None and importlib.util.find_spec(module) is None:
        return f"{module} is not available in this version"
    if path.name.startswith("dsl_") and not hasattr(minigun, "Task"):
        return "minigun.Task is not exported in this version"
    if path.name in RUN_ELSEWHERE:
        return RUN_ELSEWHERE[path.name]
    return None


def _run(path: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120"}
    env.pop("MINIGUN_QUEUE_SIZE", None)
    n = N_FOR.get(path.name, SMALL_N)
    try:
        return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-c", DRIVER, str(path), str(n)],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else ""
        err = exc.stderr if isinstance(exc.stderr, str) else ""
        return subprocess.CompletedProcess(
            exc.cmd, -1, out, err + f"\n[timed out after {TIME_LIMIT}s]"
        )


class _Runner:
    """Starts the examples in a small pool; each test waits for its own result."""

    def __init__(self, workdir: Path) -> None:
        self._pool = ThreadPoolExecutor(max_workers=PARALLEL)
        self._workdir = workdir
        self._futures: dict[Path, Future[subprocess.CompletedProcess[str]]] = {}
        self._lock = threading.Lock()

    def start_all(self, paths: list[Path]) -> None:
        for path in paths:
            self._submit(path)

    def _submit(self, path: Path) -> Future[subprocess.CompletedProcess[str]]:
        with self._lock:
            if path not in self._futures:
                folder = self._workdir / path.stem
                folder.mkdir(exist_ok=True)
                self._futures[path] = self._pool.submit(_run, path, folder)
            return self._futures[path]

    def result(self, path: Path) -> subprocess.CompletedProcess[str]:
        return self._submit(path).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Runner]:
    r = _Runner(tmp_path_factory.mktemp("examples"))
    r.start_all([p for p in EXAMPLES if _missing(p) is None])
    yield r
    r.close()


def test_examples_found() -> None:
    """The examples folder holds at least 25 examples."""
    assert len(EXAMPLES) >= 25, [p.name for p in EXAMPLES]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path: Path, runner: _Runner) -> None:
    """The example's main() finishes without an error within the time limit."""
    reason = _missing(path)
    if reason is not None:
        pytest.skip(reason)
    result = runner.result(path)
    assert result.returncode == 0, (
        f"{path.name} exited with {result.returncode}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_documented(path: Path) -> None:
    """Each example has a module docstring, a main() and a __main__ guard."""
    source = path.read_text(encoding="utf-8")
    assert source.lstrip().startswith(('"""', 'r"""')), "no module docstring"
    assert "\ndef main(" in source, "no main() function"
    assert 'if __name__ == "__main__":' in source, "no __main__ guard"
