"""Run the benchmark suite: ``python -m benchmarks [options]`` (``make bench``).

Each (workload, implementation, repetition) runs in a fresh interpreter
(``python -m benchmarks.run_one``) in its own process group; repetitions are
interleaved across implementations (the order rotates every repetition).
Raw results go to ``benchmarks/results/`` as JSON; the tables are printed and,
with ``--report PATH``, written as a Markdown page (docs/performance.md).

Exit status: 0 when every run produced a verified result, 1 otherwise (a
wrong result, a crash or a timeout fails the run). Speed goals never change
the exit status; they are printed as PASS/MISS.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import WORKLOADS
from benchmarks._util import (
    ROOT,
    loadavg,
    machine_info,
    n_for,
    other_load,
    tree_digest,
)
from benchmarks.report import render_markdown, render_text, write_report

RESULTS = Path(__file__).resolve().parent / "results"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help="comma-separated workload ids (default: all of %(default)s)",
    )
    p.add_argument(
        "--impls",
        default="",
        help="comma-separated implementation names to run (default: all)",
    )
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 5)")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="small N, one repetition, no speed assertions (for `make test`)",
    )
    p.add_argument("--no-peers", action="store_true", help="skip pypeln/pyper/mpire")
    p.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every N by this factor (default 1)",
    )
    p.add_argument(
        "--w6-n",
        type=int,
        default=None,
        help="items for W6's minigun runs (full default 10 M, smoke 100 k); "
        "its baselines use at most this many",
    )
    p.add_argument(
        "--quiet-gate",
        action="store_true",
        help="before each repetition wait (up to --gate-wait s) until other "
        "load is below --gate-threshold cores",
    )
    p.add_argument("--gate-threshold", type=float, default=0.25)
    p.add_argument("--gate-wait", type=float, default=60.0)
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per child run (default 900, smoke 60)",
    )
    p.add_argument(
        "--snapshot",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="copy minigun/ and benchmarks/ to a temporary directory first and "
        "run the children there, so edits made during the run do not mix "
        "versions (default: on, off with --smoke)",
    )
    p.add_argument("--json", type=Path, default=None, help="where to save raw results")
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the Markdown report (e.g. docs/performance.md)",
    )
    p.add_argument(
        "--from-json",
        type=Path,
        default=None,
        metavar="PATH",
        help="do not run anything: render the report from saved raw results",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no per-run lines")
    return p.parse_args(argv)


def _plan(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    wanted = [w.strip().lower() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in WORKLOADS]
    if unknown:
        msg = f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}"
        raise SystemExit(msg)
    only = {i.strip() for i in args.impls.split(",") if i.strip()}
    plan: dict[str, dict[str, Any]] = {}
    for w in wanted:
        mod = importlib.import_module(WORKLOADS[w])
        if args.smoke and not getattr(mod, "SMOKE", True):
            continue  # e.g. W8 starts Ray, which needs the network fence
        table = mod.N_SMOKE if args.smoke else mod.N_FULL
        impls = [
            i
            for i in mod.IMPLS
            if not (args.no_peers and i in mod.PEERS) and (not only or i in only)
        ]
        ns = {}
        for i in impls:
            n = n_for(table, i)
            if w == "w6" and args.w6_n is not None:
                n = args.w6_n if i.startswith("minigun") else min(n, args.w6_n)
            ns[i] = max(1, round(n * args.scale))
        if impls:
            plan[w] = {"title": mod.TITLE, "impls": impls, "n": ns}
    return plan


def _gate(args: argparse.Namespace) -> dict[str, float]:
    t0 = time.monotonic()
    load = other_load(0.5)
    while load >= args.gate_threshold and time.monotonic() - t0 < args.gate_wait:
        time.sleep(1.5)
        load = other_load(0.5)
    return {"other_load": load, "gate_waited_s": time.monotonic() - t0}


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run_child(
    workload: str, impl: str, n: int, timeout: float, cwd: Path = ROOT
) -> dict[str, Any]:
    """Run one child in its own session; kill whatever it left behind."""
    cmd = [sys.executable, "-m", "benchmarks.run_one", workload, impl, str(n)]
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
    ):
        t0 = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=out, stderr=err, start_new_session=True
        )
        try:
            code = proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            code = None
        _kill_group(proc.pid)
        if timed_out:
            proc.wait()
        wall = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        lines = [ln for ln in out.read().splitlines() if ln.startswith("{")]
        stderr = err.read()
    rec: dict[str, Any]
    if lines:
        try:
            rec = json.loads(lines[-1])
        except json.JSONDecodeError:
            rec = {"ok": False, "error": f"unparsable output: {lines[-1][:200]}"}
    else:
        rec = {"ok": False, "error": "no result line"}
    rec.setdefault("workload", workload)
    rec.setdefault("impl", impl)
    rec.setdefault("n", n)
    rec["exit_code"] = code
    rec["child_wall_s"] = wall
    if timed_out:
        rec["ok"] = False
        rec["error"] = f"timed out after {timeout:.0f} s"
    elif code != 0 and rec.get("ok"):
        rec["ok"] = False
        rec["error"] = f"exit code {code}"
    if not rec.get("ok"):
        rec["stderr_tail"] = stderr[-2000:]
    return rec


def _fmt_rate(x: float | None) -> str:
    if not x:
        return "-"
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:.3g}{suffix}/s"
    return f"{x:.3g}/s"


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    reps = args.reps if args.reps is not None else (1 if args.smoke else 5)
    timeout = args.timeout or (60.0 if args.smoke else 900.0)
    plan = _plan(args)
    started = dt.datetime.now().astimezone()
    meta = machine_info()
    meta.update(
        started=started.isoformat(timespec="seconds"),
        reps=reps,
        smoke=args.smoke,
        scale=args.scale,
        quiet_gate=args.quiet_gate,
        gate_threshold=args.gate_threshold,
        gate_wait=args.gate_wait,
        no_peers=args.no_peers,
        argv=sys.argv[1:],
    )
    snapshot = args.snapshot if args.snapshot is not None else not args.smoke
    cwd = ROOT
    if snapshot:
        cwd = Path(tempfile.mkdtemp(prefix="minigun-bench-"))
        skip = shutil.ignore_patterns("__pycache__", "results", "*.pyc")
        for pkg in ("minigun", "benchmarks"):
            shutil.copytree(ROOT / pkg, cwd / pkg, ignore=skip)
    meta["snapshot"] = snapshot
    meta["minigun_digest"] = tree_digest(cwd / "minigun")
    samples: list[dict[str, Any]] = []
    gates: list[dict[str, Any]] = []
    t_start = time.monotonic()
    try:
        _run_plan(args, plan, reps, timeout, cwd, samples, gates)
    finally:
        if snapshot:
            shutil.rmtree(cwd, ignore_errors=True)
    meta["duration_s"] = time.monotonic() - t_start
    meta["finished"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return {"meta": meta, "plan": plan, "gates": gates, "samples": samples}


def _run_plan(
    args: argparse.Namespace,
    plan: dict[str, dict[str, Any]],
    reps: int,
    timeout: float,
    cwd: Path,
    samples: list[dict[str, Any]],
    gates: list[dict[str, Any]],
) -> None:
    for w, spec in plan.items():
        impls = spec["impls"]
        if not args.quiet:
            print(f"== {w}: {spec['title']} ({len(impls)} impls x {reps} reps)")
        for rep in range(reps):
            if args.quiet_gate:
                g = _gate(args)
                gates.append({"workload": w, "rep": rep, **g})
                if not args.quiet:
                    print(
                        f"   gate: other load {g['other_load']:.2f} cores "
                        f"after {g['gate_waited_s']:.1f} s"
                    )
            k = rep % len(impls)
            for impl in impls[k:] + impls[:k]:
                la = loadavg()
                rec = run_child(w, impl, spec["n"][impl], timeout, cwd)
                rec.update(rep=rep, loadavg_start=la, loadavg_end=loadavg())
                samples.append(rec)
                if not args.quiet or not rec.get("ok"):
                    status = "ok" if rec.get("ok") else f"FAILED: {rec.get('error')}"
                    print(
                        f"   [{w} rep {rep + 1}/{reps}] {impl:<32} "
                        f"N={rec['n']:<9} {_fmt_rate(rec.get('items_per_s')):>10} "
                        f"{status}",
                        flush=True,
                    )


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.from_json is not None:
        results = json.loads(args.from_json.read_text())
    else:
        results = run_suite(args)
        path = args.json
        if path is None:
            RESULTS.mkdir(exist_ok=True)
            stamp = results["meta"]["started"].replace(":", "").replace("-", "")
            kind = "smoke" if args.smoke else "full"
            path = RESULTS / f"{kind}-{stamp[:15]}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=1))
        print(f"raw results: {path}")
    print()
    print(render_text(results))
    if args.report is not None:
        write_report(args.report, render_markdown, results)
        print(f"report written to {args.report}")
    failed = [s for s in results["samples"] if not s.get("ok")]
    missing = [
        (w, i)
        for w, spec in results["plan"].items()
        for i in spec["impls"]
        if not any(
            s["workload"] == w and s["impl"] == i and s.get("ok")
            for s in results["samples"]
        )
    ]
    if failed or missing:
        print(f"FAILED: {len(failed)} run(s) failed verification or crashed")
        for s in failed:
            print(f"  {s['workload']} {s['impl']} rep {s.get('rep')}: {s.get('error')}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
