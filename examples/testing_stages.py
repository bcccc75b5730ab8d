"""Testing with `minigun.testing`: stages as data in, data out; pipelines in one thread.

`run_stage(stage, items)` runs one stage (setup, items, final flush,
teardown) and returns what it emitted, `To` included. `ListSource` and
`ListSink` feed and collect a pipeline; `run_inline` runs it
deterministically in the calling thread; `FakeClock` tests accumulator timers
without sleeping. Write these as pytest tests; `main()` runs them here.
"""

from __future__ import annotations

import minigun as mg
from minigun.testing import FakeClock, ListSink, ListSource, run_inline, run_stage


def normalize(word: str) -> object:
    word = word.strip().lower()
    return word or mg.To("rejects", word)


def test_normalize() -> None:
    stage = mg.Processor("normalize", normalize)
    assert run_stage(stage, [" Hi ", "  "]) == ["hi", mg.To("rejects", "")]


def test_batches() -> None:
    assert run_stage(mg.Accumulator("batch", max_size=2), [1, 2, 3]) == [[1, 2], [3]]


def test_timer_without_sleeping() -> None:
    clock = FakeClock()
    kernel = mg.Accumulator("batch", max_size=100, max_wait=5.0, clock=clock).kernel()
    kernel.admit("a")
    clock.advance(5)
    assert kernel.due(clock()) == [["a"]]


def check_pipeline(n: int) -> None:
    sink = ListSink("sink", to=())
    rejects = ListSink("rejects")
    pipe = mg.Pipeline("words")
    pipe.add(ListSource("words", [f" W{i} " if i % 3 else " " for i in range(n)]))
    pipe.add(mg.Processor("normalize", normalize, threads=4))  # inline in this mode
    pipe.add(sink)
    pipe.add(rejects)
    report = run_inline(pipe)
    assert report.status == "succeeded"
    assert len(sink.items) + len(rejects.items) == n


def main(n: int | None = None) -> None:
    n = 10 if n is None else n
    for test in (test_normalize, test_batches, test_timer_without_sleeping):
        test()
        print(f"{test.__name__}: ok")
    check_pipeline(n)
    print("check_pipeline: ok")


if __name__ == "__main__":
    main()
