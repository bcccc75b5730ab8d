"""RayExecutor on a two-node Ray cluster on 127.0.0.1, one node killed mid-run.

The module starts a head and a second node with ``ray start --block`` (each
with one ``slot`` resource, so the stage's two actors land one per node),
joins it by address, kills the second node (every process of it, by pid)
while the run is going, and checks that the run still completes within a
bound: the lost actor is given up after ``actor_timeout`` and its work goes
to the surviving one. Both nodes are stopped by pid at the end.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (the minigun[ray] extra)")

import minigun as mg  # noqa: E402 - after the skip
from minigun.executors._distributed import RayExecutor  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.ray.raytools import descendants, kill_all, wait_gone
else:
    from raytools import descendants, kill_all, wait_gone

pytestmark = pytest.mark.timeout(150)

RAY = str(Path(sys.executable).with_name("ray"))
#: Seconds the cluster may take to come up.
START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_port(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ray start exited with {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), 0.5),
        ):
            return
        time.sleep(0.2)
    pytest.fail(f"the Ray head did not listen on port {port} in time")


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 - the venv's ray CLI, fixed arguments
            [RAY, "start", "--block", "--node-ip-address=127.0.0.1", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each ``ray start --block`` (it stops its node); SIGKILL leftovers."""
    family = sorted({p for proc in procs for p in [proc.pid, *descendants(proc.pid)]})
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    kill_all(wait_gone(family, 10.0))
    assert wait_gone(family, 5.0) == []


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A head and a second node on 127.0.0.1 (``ray start --block``, fenced)."""
    logs = tmp_path_factory.mktemp("ray-nodes")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    procs: list[subprocess.Popen[bytes]] = []
    try:
        head = _start(
            [
                "--head",
                f"--port={port}",
                "--num-cpus=2",
                "--resources=" + json.dumps({"slot": 1, "node_a": 1}),
                "--include-dashboard=false",
                "--disable-usage-stats",
            ],
            logs / "head.log",
        )
        procs.append(head)
        _wait_port(port, head, deadline)
        node_b = _start(
            [
                f"--address={address}",
                "--num-cpus=2",
                "--resources=" + json.dumps({"slot": 1, "node_b": 1}),
                "--disable-usage-stats",
            ],
            logs / "node_b.log",
        )
        procs.append(node_b)
        ray.init(address=address, logging_level="warning")
        try:
            while sum(n["Alive"] for n in ray.nodes()) < 2:
                if time.monotonic() > deadline:
                    pytest.fail("the second Ray node did not join in time")
                time.sleep(0.2)
        finally:
            ray.shutdown()
        yield {"address": address, "head": head, "node_b": node_b, "logs": logs}
    finally:
        _stop(procs)


def test_actors_on_both_nodes_and_a_node_lost_mid_run(cluster: dict[str, Any]) -> None:
    """Actors run on both nodes; killing one node mid-run still completes the run."""
    n = 3000
    out: list[tuple[int, str]] = []
    halfway = threading.Event()

    class WhereAmI(mg.Processor[Any, Any]):
        def setup(self) -> None:
            import ray  # noqa: PLC0415 - in the actor

            self.node = ray.get_runtime_context().get_node_id()

        def process(self, item: Any) -> Any:
            time.sleep(0.004)
            return (item, self.node)

    def sink(x: tuple[int, str]) -> None:
        out.append(x)
        if len(out) == 300:
            halfway.set()

    pipe = mg.Pipeline("two-nodes")
    pipe.add(mg.Producer("src", lambda: range(n)))
    pipe.add(
        WhereAmI(
            "where",
            executor=RayExecutor(
                workers=2,
                address=cluster["address"],
                resources={"slot": 1},
                batch_size=10,
                actor_timeout=8,
            ),
        )
    )
    pipe.add(mg.Consumer("sink", sink))
    t0 = time.monotonic()
    handle = pipe.start()
    handle.close()
    try:
        assert halfway.wait(60), "the run did not get going"
        nodes_before = {node for _, node in out}
        node_b: subprocess.Popen[bytes] = cluster["node_b"]
        victims = [node_b.pid, *descendants(node_b.pid)]
        kill_all(victims)  # the whole node at once, by pid, as a crash would
        node_b.wait(timeout=10)
    finally:
        report = handle.wait(timeout=90, raise_on_timeout=True)
    elapsed = time.monotonic() - t0
    assert report.status == "succeeded"
    assert len(nodes_before) == 2, "the two actors should run on the two nodes"
    items = sorted(i for i, _ in out)
    assert items == list(range(n))  # every item once, none lost, none doubled
    st = report.stages["where"]
    assert st.items_retried >= 1  # the lost actor's batch ran again
    assert st.items_failed == 0
    assert elapsed < 75
    assert not ray.is_initialized()  # minigun disconnected its driver
