"""W8 Ray: small dicts through a 2-actor `RayExecutor` stage (issue 9).

Items cross in batches of 1000 (``batch_size`` and the pipeline's
``chunk_size``).

Measures batched throughput on a private local Ray instance: Ray's own
per-call floor here is ~3 k calls/s, so batching is the point. The Ray
instance is started before the clock starts (its start-up costs seconds and
is not what the stage moves); actor start-up is inside the measurement.

Ray phones home by default: this module sets the network fence (usage stats
off, proxies pointed at a closed loopback port) before importing Ray. It is
left out of ``--smoke`` runs and skipped when Ray is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from typing import Any

from benchmarks._util import check_stats, clock

TITLE = "W8 Ray (identity on a 2-actor RayExecutor stage, 10-field dicts)"
MAIN = "minigun_ray"
SMOKE = False
ACTORS = 2
#: Items per Ray call (and per hand-off): batching is the point.
BATCH = 1000
DISTINCT = 1000
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
PAYLOADS = [{f"f{j}": i * j for j in range(10)} for i in range(DISTINCT)]


def expected(impl: str, n: int) -> Any:
    del impl
    return n


def minigun_ray(n):
    os.environ.update(FENCE)
    tmp = tempfile.mkdtemp(prefix="mgr", dir="/tmp")
    os.environ["RAY_TMPDIR"] = tmp
    import ray  # noqa: PLC0415 - after the fence

    import minigun as mg  # noqa: PLC0415
    from minigun.executors import RayExecutor  # noqa: PLC0415

    ray.init(
        address="local",
        include_dashboard=False,
        num_cpus=ACTORS,
        _temp_dir=tmp,
        log_to_driver=False,
    )
    try:
        count = [0]

        def consume(_item):
            count[0] += 1

        t0 = clock()
        pipe = mg.Pipeline("w8", chunk_size=BATCH, queue_size=10 * BATCH)
        pipe.add(
            mg.Producer("gen", lambda: (dict(PAYLOADS[i % DISTINCT]) for i in range(n)))
        )
        pipe.add(
            mg.Processor("ident", lambda d: d, executor=RayExecutor(workers=ACTORS))
        )
        pipe.add(mg.Consumer("sink", consume))
        report = pipe.run(timeout=600)
        seconds = clock() - t0
        check_stats(report, {"ident": {"items_in": n, "items_out": n}})
        return seconds, count[0], {}
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


IMPLS = {"minigun_ray": minigun_ray} if importlib.util.find_spec("ray") else {}
PEERS: tuple[str, ...] = ()
N_FULL = {"*": 1_000_000}
N_SMOKE = {"*": 5_000}
