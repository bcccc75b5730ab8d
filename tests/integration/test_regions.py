"""Fused regions: a nested pipeline with its own executor (issue 4, SPEC §2.6, §4).

``Pipeline("decode", processes=2)`` nested in a parent runs its whole
sub-graph inside each worker: items enter and leave through the executor's
transport, values passed between inner stages stay in the worker, inner
accumulators flush per worker, and an error anywhere inside fails the item
that entered, under the region's policy.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun.testing import ListSink

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

TIMEOUT = 30.0
N = 200

REGIONS = [
    pytest.param(lambda: {"processes": 2}, id="processes"),
    pytest.param(lambda: {"threads": 2}, id="threads"),
    pytest.param(lambda: {"executor": mg.ProcessExecutor(2)}, id="ProcessExecutor"),
]


@pytest.fixture(params=REGIONS)
def region_opts(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The executor options of the region (a fresh executor per test)."""
    factory: Callable[[], dict[str, Any]] = request.param
    return factory()


def in_processes(opts: dict[str, Any]) -> bool:
    return "processes" in opts or isinstance(opts.get("executor"), mg.ProcessExecutor)


def proc(name: str, fn: Callable[..., Any], **options: Any) -> mg.Processor[Any, Any]:
    return mg.Processor(name, fn, **options)


def source(name: str, items: Iterable[Any], **options: Any) -> mg.Producer[Any]:
    data = list(items)
    return mg.Producer(name, lambda: iter(data), **options)


def region(
    *stages: mg.Stage[Any, Any], name: str = "decode", **kwargs: Any
) -> mg.Pipeline:
    """Return a nested pipeline *name* holding *stages*, with *kwargs*."""
    pipe = mg.Pipeline(name, **kwargs)
    for s in stages:
        pipe.add(s)
    return pipe


def around(
    decode: mg.Pipeline, items: Iterable[Any] = range(N), **root_kwargs: Any
) -> tuple[mg.Pipeline, ListSink]:
    """root: src(items) -> decode -> sink."""
    root = mg.Pipeline("root", **root_kwargs)
    root.add(source("src", items))
    root.add(decode)
    sink = root.add(ListSink("sink"))
    return root, sink


def slow_stamp(n: int) -> tuple[int, int, int]:
    """Record where the item ran (slow enough for both workers to get items)."""
    time.sleep(0.001)
    return (n, os.getpid(), threading.get_ident())


def fail_on_fives(n: int) -> int:
    if n % 5 == 0:
        msg = f"bad {n}"
        raise ValueError(msg)
    return n


# ---------------------------------------------------------------------------
# Where the region runs


def test_the_whole_subgraph_runs_inside_each_worker(
    region_opts: dict[str, Any],
) -> None:
    decode = region(
        proc("parse", slow_stamp),
        proc("check", lambda t: (*t, os.getpid(), threading.get_ident())),
        **region_opts,
    )
    root, sink = around(decode)

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(t[0] for t in sink.items) == list(range(N))
    # Both inner stages of one item ran in the same process and thread.
    assert all(t[1] == t[3] and t[2] == t[4] for t in sink.items)
    workers = {(t[1], t[2]) for t in sink.items}
    assert len(workers) == 2
    pids = {pid for pid, _ in workers}
    if in_processes(region_opts):
        assert os.getpid() not in pids
        assert len(pids) == 2
    else:
        assert pids == {os.getpid()}
    assert report.stages["decode"].workers == 2


def test_items_enter_and_leave_through_the_transport_unchanged(
    region_opts: dict[str, Any],
) -> None:
    items: list[Any] = [0, "", False, [1, 2], (None,), {"k": [3]}, [], 2.5]
    decode = region(
        proc("first", lambda x: ("wrapped", x)),
        proc("second", lambda t: t[1]),
        **region_opts,
    )
    root, sink = around(decode, items)

    report = root.run(timeout=TIMEOUT)

    assert sorted(map(repr, sink.items)) == sorted(map(repr, items))
    assert report.stages["decode"].items_in == len(items)
    assert report.stages["decode"].items_out == len(items)


def test_values_between_inner_stages_need_not_be_picklable(
    region_opts: dict[str, Any],
) -> None:
    """A threading.Lock passes from one inner stage to the next."""

    def lock_it(n: int) -> tuple[int, Any]:
        return (n, threading.Lock())

    def unlock(t: tuple[int, Any]) -> int:
        n, lock = t
        with lock:
            return n * 2

    decode = region(proc("lock", lock_it), proc("unlock", unlock), **region_opts)
    root, sink = around(decode)

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [n * 2 for n in range(N)]


def test_what_leaves_a_process_region_must_be_picklable() -> None:
    """The counterpart: a Lock leaving the region is a NotPicklableError."""
    decode = region(proc("lock", lambda n: threading.Lock()), processes=2)
    root, _ = around(decode, range(4))

    with pytest.raises(mg.PipelineError) as info:
        root.run(timeout=TIMEOUT)

    group = info.value.subgroup(mg.NotPicklableError)
    assert group is not None
    err = group.exceptions[0]
    assert isinstance(err, mg.NotPicklableError)
    assert err.stage == "decode"
    assert "lock" in err.type_name


# ---------------------------------------------------------------------------
# Inner accumulators


def test_inner_accumulators_flush_on_every_worker(region_opts: dict[str, Any]) -> None:
    """No item is lost: each worker flushes its own partial batches at the end."""
    decode = region(
        proc("slow", slow_stamp),
        mg.Accumulator("batch", max_size=7),
        proc("size", lambda b: (len(b), os.getpid(), threading.get_ident())),
        **region_opts,
    )
    root, sink = around(decode)

    report = root.run(timeout=TIMEOUT)

    assert sum(size for size, _, _ in sink.items) == N
    assert report.stages["decode.batch"].items_in == N
    assert report.stages["decode.size"].items_in == len(sink.items)
    partial = [size for size, _, _ in sink.items if size < 7]
    assert len(partial) <= 2


def test_each_worker_flushes_its_one_partial_batch(region_opts: dict[str, Any]) -> None:
    """max_size is never reached: every batch is a final flush, one per worker."""
    decode = region(
        proc("slow", slow_stamp),
        mg.Accumulator("batch", max_size=10_000),
        proc("size", lambda b: (len(b), os.getpid(), threading.get_ident())),
        **region_opts,
    )
    root, sink = around(decode)

    root.run(timeout=TIMEOUT)

    assert sum(size for size, _, _ in sink.items) == N
    workers = [(pid, tid) for _, pid, tid in sink.items]
    assert len(workers) == len(set(workers)) == 2


# ---------------------------------------------------------------------------
# Routing around and inside a region


def test_to_from_inside_the_region_reaches_an_outer_stage(
    region_opts: dict[str, Any],
) -> None:
    decode = region(
        proc("parse", lambda n: mg.To("odd", n) if n % 2 else n), **region_opts
    )
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(decode)
    sink = root.add(ListSink("sink", to=()))
    odd = root.add(ListSink("odd"))

    report = root.run(timeout=TIMEOUT)

    assert sorted(sink.items) == list(range(0, N, 2))
    assert sorted(odd.items) == list(range(1, N, 2))
    assert report.stages["odd"].items_in == N // 2


def test_to_an_inner_stage_stays_inside_the_worker(region_opts: dict[str, Any]) -> None:
    def route(n: int) -> Any:
        where = (os.getpid(), threading.get_ident())
        return mg.To("special", (n, where)) if n % 3 == 0 else (n, where)

    def special(item: Any) -> Any:
        # "special" has no upstream inside the region, so it is also an entry:
        # it sees every entering int and keeps only what route sent it.
        if isinstance(item, int):
            return None
        n, where = item
        return ("special", n, where, (os.getpid(), threading.get_ident()))

    decode = region(
        proc("route", route, to="plain"),
        proc("plain", lambda t: None, to=()),
        proc("special", special),
        **region_opts,
    )
    root, sink = around(decode)

    report = root.run(timeout=TIMEOUT)

    assert sorted(t[1] for t in sink.items) == list(range(0, N, 3))
    assert all(t[0] == "special" for t in sink.items)
    # Routed inside the worker: the same process and thread handled both.
    assert all(t[2] == t[3] for t in sink.items)
    assert report.stages["decode.special"].items_in == N + len(sink.items)
    assert report.stages["decode.plain"].items_in == N - len(sink.items)


def _with_to_empty_stage(**kwargs: Any) -> tuple[mg.Pipeline, ListSink]:
    inner = mg.Pipeline("decode", **kwargs)
    inner.add(proc("first", lambda n: n, to=["kept", "closed"]))
    inner.add(proc("kept", lambda n: ("kept", n), to=()))
    inner.add(proc("closed", lambda n: ("closed", n), to=()))
    return around(inner, range(10))


def test_a_stage_with_empty_to_inside_behaves_the_same_fused_or_not() -> None:
    """Whether a ``to=()`` stage is an exit must not depend on the executor."""
    plain, plain_sink = _with_to_empty_stage()
    fused, fused_sink = _with_to_empty_stage(threads=2)

    plain.run(timeout=TIMEOUT)
    fused.run(timeout=TIMEOUT)

    assert sorted(fused_sink.items) == sorted(plain_sink.items)


@pytest.mark.parametrize("routing", [None, "round_robin"])
def test_a_region_with_several_entries_uses_its_router(
    region_opts: dict[str, Any], routing: str | None
) -> None:
    """Each worker holds its own copy of the router: it rotates per worker."""

    def entry(label: str) -> Callable[[int], tuple[str, int, tuple[int, int]]]:
        def fn(n: int) -> tuple[str, int, tuple[int, int]]:
            return (label, n, (os.getpid(), threading.get_ident()))

        return fn

    decode = mg.Pipeline("decode", routing=routing, **region_opts)
    with decode.parallel():
        decode.add(proc("a", entry("a")))
        decode.add(proc("b", entry("b")))
    root, sink = around(decode)

    root.run(timeout=TIMEOUT)

    if routing is None:
        got = sorted((label, n) for label, n, _ in sink.items)
        assert got == [(x, n) for x in "ab" for n in range(N)]
    else:
        assert sorted(n for _, n, _ in sink.items) == list(range(N))
        per_worker: dict[Any, Counter[str]] = {}
        for label, _, worker in sink.items:
            per_worker.setdefault(worker, Counter())[label] += 1
        for counts in per_worker.values():
            assert abs(counts["a"] - counts["b"]) <= 1, per_worker


def test_inner_fan_out_inside_a_region(region_opts: dict[str, Any]) -> None:
    decode = mg.Pipeline("decode", **region_opts)
    decode.add(proc("split", lambda n: n))
    with decode.parallel():
        decode.add(proc("left", lambda n: ("left", n)))
        decode.add(proc("right", lambda n: ("right", n)))
    root, sink = around(decode)

    report = root.run(timeout=TIMEOUT)

    assert sorted(sink.items) == [(x, n) for x in ("left", "right") for n in range(N)]
    assert report.stages["decode"].items_out == 2 * N


def test_to_a_region_by_name_reaches_it(region_opts: dict[str, Any]) -> None:
    """`To("decode", item)` from an outer stage enters the region (SPEC §2.6)."""
    root = mg.Pipeline("root")
    root.add(source("src", range(N)))
    root.add(proc("disp", lambda n: mg.To("decode", n), to=()))
    root.add(region(proc("inc", lambda n: n + 1), **region_opts))
    sink = root.add(ListSink("sink"))

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [n + 1 for n in range(N)]


def test_to_an_inner_stage_of_a_region_from_outside_is_a_clear_routing_error() -> None:
    """An inner stage of a region has no queue of its own: a clear error, no hang."""
    root = mg.Pipeline("root")
    root.add(source("src", range(5)))
    root.add(proc("disp", lambda n: mg.To("decode.inc", n), to=()))
    root.add(region(proc("inc", lambda n: n + 1), processes=2))
    root.add(ListSink("sink"))

    with pytest.raises(mg.PipelineError) as info:
        root.run(timeout=TIMEOUT)

    group = info.value.subgroup(mg.RoutingError)
    assert group is not None
    message = str(group.exceptions[0])
    assert "'decode.inc'" in message
    assert "region" in message
    assert "did you mean 'decode.inc'" not in message


def test_a_pipeline_nested_inside_a_region_runs_there(
    region_opts: dict[str, Any],
) -> None:
    decode = mg.Pipeline("decode", **region_opts)
    sub = decode.add(mg.Pipeline("sub"))
    sub.add(proc("x", lambda n: (n, os.getpid())))
    decode.add(proc("y", lambda t: (*t, os.getpid())))
    root, sink = around(decode)

    report = root.run(timeout=TIMEOUT)

    assert sorted(t[0] for t in sink.items) == list(range(N))
    assert all(t[1] == t[2] for t in sink.items)
    assert report.stages["decode.sub.x"].items_in == N
    assert report.stages["decode.y"].items_in == N


# ---------------------------------------------------------------------------
# The report


def test_inner_statistics_reach_the_report(region_opts: dict[str, Any]) -> None:
    decode = region(
        proc("parse", lambda n: n),
        proc("keep_even", lambda n: n if n % 2 == 0 else None),
        mg.Accumulator("batch", max_size=10),
        **region_opts,
    )
    root, sink = around(decode)

    report = root.run(timeout=TIMEOUT)

    names = list(report.stages)
    assert names.index("decode") < names.index("decode.parse")
    assert {"decode.parse", "decode.keep_even", "decode.batch"} <= set(names)
    assert report.stages["decode"].items_in == N
    assert report.stages["decode.parse"].items_in == N
    assert report.stages["decode.parse"].items_out == N
    assert report.stages["decode.keep_even"].items_in == N
    assert report.stages["decode.keep_even"].items_out == N // 2
    assert report.stages["decode.batch"].items_in == N // 2
    assert report.stages["decode.batch"].items_out == len(sink.items)
    assert sum(len(b) for b in sink.items) == N // 2
    assert report.stages["decode"].items_out == len(sink.items)


# ---------------------------------------------------------------------------
# What a region may not contain


def test_a_region_containing_a_producer_is_a_definition_error() -> None:
    decode = region(source("inner_src", range(3)), proc("x", lambda n: n), processes=2)
    root, _ = around(decode)

    with pytest.raises(mg.DefinitionError, match="producer 'inner_src'") as info:
        root.validate()
    assert "decode" in str(info.value)


@pytest.mark.parametrize(
    "wiring",
    ["to-qualified", "to-short", "connect-in", "from_-out", "connect-out"],
)
def test_an_edge_across_the_border_of_a_region_is_a_definition_error(
    wiring: str,
) -> None:
    root = mg.Pipeline("root")
    src_to = {"to-qualified": "decode.parse", "to-short": "parse"}.get(wiring)
    root.add(source("src", range(3), to=src_to))
    root.add(region(proc("parse", lambda n: n), processes=2))
    root.add(ListSink("sink", from_="decode.parse" if wiring == "from_-out" else None))
    if wiring == "connect-in":
        root.connect("src", "decode.parse")
    if wiring == "connect-out":
        root.connect("decode.parse", "sink")

    with pytest.raises(mg.DefinitionError, match="border") as info:
        root.run(timeout=TIMEOUT)
    assert "fused region 'decode'" in str(info.value)
    assert "'decode.parse'" in str(info.value)


# ---------------------------------------------------------------------------
# Errors: the region's policy applies to the whole item


@pytest.mark.parametrize("given_to", ["parent", "region"])
def test_an_error_inside_follows_the_regions_skip_policy(
    region_opts: dict[str, Any], given_to: str
) -> None:
    parent_kw = {"on_error": "skip"} if given_to == "parent" else {}
    region_kw = {"on_error": "skip"} if given_to == "region" else {}
    decode = region(
        proc("parse", fail_on_fives),
        proc("square", lambda n: n * n),
        **region_opts,
        **region_kw,
    )
    root, sink = around(decode, range(50), retry_delay=0, **parent_kw)

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [n * n for n in range(50) if n % 5]
    assert report.stages["decode"].items_failed == 10
    assert report.stages["decode"].items_retried == 30  # 3 retries per item
    assert report.stages["decode.square"].items_in == 40


def test_an_error_inside_fails_the_run_by_default(region_opts: dict[str, Any]) -> None:
    decode = region(proc("parse", fail_on_fives), max_retries=0, **region_opts)
    root, _ = around(decode, [1, 5, 6])

    with pytest.raises(mg.PipelineError) as info:
        root.run(timeout=TIMEOUT)

    group = info.value.subgroup(mg.StageError)
    assert group is not None
    err = group.exceptions[0]
    assert isinstance(err, mg.StageError)
    assert err.stage in ("decode", "decode.parse")
    assert isinstance(err.error, ValueError)
    assert err.item_repr == "5"  # the item that entered, not an internal unit


def test_on_error_hooks_get_the_item_that_entered_the_region(
    region_opts: dict[str, Any],
) -> None:
    seen: list[tuple[Any, str]] = []
    decode = region(proc("parse", fail_on_fives), on_error="skip", **region_opts)
    decode.hooks.append("on_error", lambda item, stage: seen.append((item, stage)))
    root, _ = around(decode, range(12), retry_delay=0)

    root.run(timeout=TIMEOUT)

    assert sorted(item for item, _ in seen) == [0, 5, 10]
    assert {stage for _, stage in seen} <= {"decode", "decode.parse"}


def test_dead_letter_of_a_region_receives_the_failed_items(
    region_opts: dict[str, Any],
) -> None:
    decode = region(
        proc("parse", fail_on_fives), dead_letter="dead", max_retries=0, **region_opts
    )
    root, sink = around(decode, range(12))
    dead = root.add(ListSink("dead"))

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == [n for n in range(12) if n % 5]
    assert sorted(f.item for f in dead.items) == [0, 5, 10]
    assert all(isinstance(f.error, ValueError) for f in dead.items)


def test_the_regions_retry_policy_reruns_the_whole_item() -> None:
    """Inner retry options do not apply; the region retries the item from its entry."""
    visits: Counter[int] = Counter()
    failed_once: set[int] = set()
    lock = threading.Lock()

    def count(n: int) -> int:
        with lock:
            visits[n] += 1
        return n

    def flaky(n: int) -> int:
        with lock:
            first = n not in failed_once
            failed_once.add(n)
        if first:
            msg = f"first attempt of {n}"
            raise RuntimeError(msg)
        return n

    decode = region(
        proc("count", count),
        proc("flaky", flaky, max_retries=0),
        threads=2,
        max_retries=2,
    )
    root, sink = around(decode, range(20), retry_delay=0)

    report = root.run(timeout=TIMEOUT)

    assert report.status == "succeeded"
    assert sorted(sink.items) == list(range(20))
    assert visits == Counter(dict.fromkeys(range(20), 2))
    assert report.stages["decode"].items_retried == 20


# ---------------------------------------------------------------------------
# Hooks of a region's pipeline


def test_run_hooks_of_a_region_run_once_and_fork_hooks_per_worker(
    tmp_path: Path,
) -> None:
    events: list[str] = []
    log = tmp_path / "after_fork.log"

    def after_fork(stage: str) -> None:
        with log.open("a") as f:
            f.write(f"{os.getpid()} {stage}\n")

    decode = region(proc("x", lambda n: n), processes=2)
    decode.hooks.append("before_run", lambda: events.append("before_run"))
    decode.hooks.append("after_run", lambda: events.append("after_run"))
    decode.hooks.append("before_fork", lambda stage: events.append(f"fork {stage}"))
    decode.hooks.append("after_fork", after_fork)
    root, sink = around(decode)

    root.run(timeout=TIMEOUT)

    assert sorted(sink.items) == list(range(N))
    assert events == ["before_run", "fork decode", "fork decode", "after_run"]
    lines = [line.split() for line in log.read_text().splitlines()]
    assert len(lines) == 2
    assert {stage for _, stage in lines} == {"decode"}
    assert len({pid for pid, _ in lines}) == 2
    assert str(os.getpid()) not in {pid for pid, _ in lines}
