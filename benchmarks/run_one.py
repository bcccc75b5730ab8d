"""Run one implementation of one workload once and print one JSON line.

Usage: ``python -m benchmarks.run_one W IMPL N`` (``W`` is ``w1`` ... ``w7``).
The line has the timed seconds, items/s, whether the result matched the
expected value, and the implementation's extra figures. Exit status: 0 when
the result was verified, 1 when it was wrong, 2 when the run raised.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import WORKLOADS


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)


def _children() -> list[int]:
    me = os.getpid()
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may contain spaces.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z":
            out.append(int(entry.name))
    return out


def _children_after_grace(grace: float = 1.0) -> list[int]:
    """Child processes still alive *grace* seconds after the run returned."""
    deadline = time.monotonic() + grace
    while (kids := _children()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return kids


def run(workload: str, impl: str, n: int) -> tuple[dict[str, Any], int]:
    """Run *impl* of *workload* on *n* items; return the record and the exit code."""
    module = importlib.import_module(WORKLOADS[workload])
    fn = module.IMPLS[impl]
    rec: dict[str, Any] = {
        "workload": workload,
        "impl": impl,
        "n": n,
        "pid": os.getpid(),
    }
    try:
        extra: dict[str, Any] = {}
        prepare = getattr(module, "prepare", None)
        if prepare is not None:
            extra.update(prepare(impl, n))
        seconds, result, more = fn(n)
        extra.update(more)
        want = module.expected(impl, n)
    except BaseException as exc:  # noqa: BLE001 - reported, never swallowed silently
        rec.update(
            ok=False,
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
        )
        return rec, 2
    ok = result == want
    main_thread = threading.main_thread()
    leftover = [t.name for t in threading.enumerate() if t is not main_thread]
    if leftover:
        rec["leftover_threads"] = leftover
    children = _children_after_grace()
    if children:
        rec["leftover_children"] = children
    rec.update(
        ok=ok,
        seconds=seconds,
        items_per_s=n / seconds if seconds > 0 else None,
        extra=_jsonable(extra),
        maxrss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    )
    if not ok:
        rec["result"] = _jsonable(result)
        rec["expected"] = _jsonable(want)
        rec["error"] = "wrong result"
    return rec, 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    workload, impl, n = args[0], args[1], int(args[2])
    rec, code = run(workload, impl, n)
    sys.stdout.flush()
    print(json.dumps(rec), flush=True)
    return code


if __name__ == "__main__":
    code = main()
    # Leave at once: a peer's lingering non-daemon thread must not hold the
    # process after the result is printed. Lingering children were reported in
    # the record; the driver kills this run's process group afterwards.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
