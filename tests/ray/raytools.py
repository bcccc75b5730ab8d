"""Helpers of the Ray tests: the network fence and process bookkeeping."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

#: Environment that keeps Ray (drivers and nodes) off the network.
FENCE = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_USAGE_STATS_REPORT_URL": "http://127.0.0.1:9/",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "no_proxy": "127.0.0.1,localhost",
    "NO_PROXY": "127.0.0.1,localhost",
}


def minigun_threads() -> list[str]:
    """Names of the live ``minigun:`` threads of this process."""
    return [t.name for t in threading.enumerate() if t.name.startswith("minigun:")]


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, pgid) of *pid*, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[2])


def _pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]


def descendants(pid: int) -> list[int]:
    """Every live process below *pid* (children, grandchildren, ...)."""
    parent: dict[int, int] = {}
    for p in _pids():
        st = _stat(p)
        if st is not None:
            parent[p] = st[0]
    found: list[int] = []
    frontier = [pid]
    while frontier:
        cur = frontier.pop()
        kids = [p for p, pp in parent.items() if pp == cur]
        found += kids
        frontier += kids
    return sorted(found)


def ray_processes(marker: str) -> list[int]:
    """Processes whose command line or environment mentions *marker* (a temp dir)."""
    me = os.getpid()
    found = []
    needle = marker.encode()
    for p in _pids():
        if p == me:
            continue
        for part in ("cmdline", "environ"):
            with contextlib.suppress(OSError):
                if needle in Path(f"/proc/{p}/{part}").read_bytes():
                    found.append(p)
                    break
    return sorted(found)


def alive(pid: int) -> bool:
    """Whether *pid* exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def kill_all(pids: list[int], sig: int = signal.SIGKILL) -> None:
    """Send *sig* to each of *pids* (by pid); ignore those already gone."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of *pids* is alive; return those still alive."""
    deadline = time.monotonic() + timeout
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    return left
