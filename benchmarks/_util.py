"""Helpers shared by the workloads and the driver."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

clock = time.perf_counter
PAGE = os.sysconf("SC_PAGE_SIZE")
ROOT = Path(__file__).resolve().parent.parent


class VerificationError(AssertionError):
    """An implementation produced a wrong result or inconsistent statistics."""


def n_for(table: dict[str, int], impl: str) -> int:
    """Return the item count of *impl* in an ``N_FULL``/``N_SMOKE`` table."""
    return table.get(impl, table["*"])


def check_stats(report: Any, expect: dict[str, dict[str, int]]) -> None:
    """Compare minigun `RunReport` counters with *expect* ({stage: {field: n}})."""
    problems = []
    for stage, fields in expect.items():
        st = report.stages[stage]
        for field, want in fields.items():
            got = getattr(st, field)
            if got != want:
                problems.append(f"{stage}.{field} = {got}, expected {want}")
    if report.status != "succeeded":
        problems.append(f"status {report.status!r}")
    if problems:
        raise VerificationError("; ".join(problems))


def check_executors(report: Any, expect: dict[str, tuple[str, int]]) -> None:
    """Check that stages ran where asked: {stage: ("thread"|"process", workers)}.

    A silently ignored ``threads=``/``processes=`` option would make a run
    measure something else; that fails verification.
    """
    problems = []
    for stage, (kind, workers) in expect.items():
        st = report.stages[stage]
        desc = st.executor
        if not desc.startswith(kind) or st.workers != workers:
            problems.append(
                f"stage {stage!r} ran on {desc!r} with {st.workers} worker(s), "
                f"expected {kind}s({workers})"
            )
    if problems:
        raise VerificationError("; ".join(problems))


def tree_digest(path: Path) -> str:
    """Short sha256 over the .py files under *path* (names and contents)."""
    import hashlib  # noqa: PLC0415

    h = hashlib.sha256()
    for f in sorted(path.rglob("*.py")):
        h.update(str(f.relative_to(path)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def rss_bytes() -> int:
    """Resident set size of this process (from /proc/self/statm)."""
    with open("/proc/self/statm", "rb") as f:  # noqa: PTH123 - hot, tiny
        return int(f.read().split()[1]) * PAGE


class RssSampler(threading.Thread):
    """Sample this process's RSS every *interval* seconds until stopped."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop_event = threading.Event()
        self.t0 = clock()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append((clock() - self.t0, rss_bytes()))
            self._stop_event.wait(self.interval)

    def stop(self) -> list[tuple[float, int]]:
        self._stop_event.set()
        self.join()
        self.samples.append((clock() - self.t0, rss_bytes()))
        return self.samples


def _cpu_busy_idle() -> tuple[int, int]:
    with open("/proc/stat") as f:  # noqa: PTH123
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, idle


def other_load(window: float = 0.5) -> float:
    """CPU cores busy over *window* seconds (call while the suite is idle)."""
    b0, i0 = _cpu_busy_idle()
    time.sleep(window)
    b1, i1 = _cpu_busy_idle()
    total = (b1 - b0) + (i1 - i0)
    if total <= 0:
        return 0.0
    return (os.cpu_count() or 1) * (b1 - b0) / total


def loadavg() -> float:
    """1-minute load average."""
    return os.getloadavg()[0]


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip()


def _version(dist: str) -> str:
    from importlib import metadata  # noqa: PLC0415

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    """What the report says about the machine and the code measured."""
    import multiprocessing  # noqa: PLC0415

    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    dirty = _git("status", "--porcelain", "--", "minigun")
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "mem_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "start_method": multiprocessing.get_start_method(),
        "minigun": _version("minigun"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "minigun_dirty": bool(dirty),
        "minigun_dirty_files": dirty.splitlines(),
        "peers": {d: _version(d) for d in ("pypeln", "python-pyper", "mpire")},
        "executable": sys.executable,
    }
