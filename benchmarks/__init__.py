"""minigun's benchmark suite (run with ``make bench`` or ``python -m benchmarks``).

Every workload (``benchmarks/workloads/w*.py``) is implemented for minigun,
for hand-written baselines (plain loops, ``queue.Queue`` threads,
``multiprocessing``) and for the peers pypeln, pyper and mpire where they fit.
Each (workload, implementation, repetition) runs in a fresh interpreter
(``python -m benchmarks.run_one W IMPL N`` prints one JSON line); repetitions
are interleaved across implementations; every output is verified.
"""

WORKLOADS: dict[str, str] = {
    "w1": "benchmarks.workloads.w1_overhead",
    "w2": "benchmarks.workloads.w2_io",
    "w3": "benchmarks.workloads.w3_cpu",
    "w4": "benchmarks.workloads.w4_ipc",
    "w5": "benchmarks.workloads.w5_batching",
    "w6": "benchmarks.workloads.w6_memory",
    "w7": "benchmarks.workloads.w7_fanout",
    "w8": "benchmarks.workloads.w8_ray",
}
"""Workload id -> module."""
