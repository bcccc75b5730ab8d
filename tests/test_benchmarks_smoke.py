"""The benchmark suite's smoke mode: every workload runs and every result verifies.

``python -m benchmarks --smoke`` runs each workload (W1-W7) for every
implementation (minigun, hand-written baselines, peers) once on a tiny N in
fresh interpreters; it exits non-zero if any output is wrong. No speed is
asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = {"w1", "w2", "w3", "w4", "w5", "w6", "w7"}


@pytest.mark.timeout(150)
def test_smoke_run_verifies_every_workload_and_impl(tmp_path: Path) -> None:
    """`python -m benchmarks --smoke` exits 0 with a verified result per impl."""
    raw = tmp_path / "smoke.json"
    cmd = [sys.executable, "-m", "benchmarks", "--smoke", "--quiet", "--json", str(raw)]
    proc = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    results: dict[str, Any] = json.loads(raw.read_text())
    plan: dict[str, Any] = results["plan"]
    assert set(plan) == WORKLOADS
    planned = {(w, impl) for w, spec in plan.items() for impl in spec["impls"]}
    verified = {
        (s["workload"], s["impl"]) for s in results["samples"] if s.get("ok") is True
    }
    assert planned - verified == set()
    for w, spec in plan.items():
        assert any(impl.startswith("minigun") for impl in spec["impls"]), w
