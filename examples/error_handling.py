"""Error handling: retries with backoff, then skip, a handler, or fail fast.

A flaky call is retried (`max_retries=`, `retry_delay=`, doubling each time,
only for `retry_on=` types) and a retry never duplicates outputs. When retries
run out, `on_error` decides: ``"raise"`` (the default: the run fails fast with
`PipelineError`, never hangs), ``"skip"`` (counted, the run goes on) or a
callable. The Ruby gem had no retries and aborted whole stages (D5). Port of
``20_error_handling_hooks.rb`` and ``27_error_handling.rb``.
"""

from __future__ import annotations

import collections

import minigun as mg


def main(n: int | None = None) -> None:
    n = 20 if n is None else n
    attempts: collections.Counter[int] = collections.Counter()

    def flaky_fetch(i: int) -> int:
        attempts[i] += 1
        if attempts[i] < 3:  # fails twice, then works
            msg = f"timeout fetching {i}"
            raise ConnectionError(msg)
        return i

    def parse(i: int) -> int:
        if i % 7 == 3:
            msg = f"bad record {i}"
            raise ValueError(msg)
        return i

    def build(on_error: object) -> mg.Pipeline:
        pipe = mg.Pipeline("errors", retry_delay=0.001)
        pipe.add(mg.Producer("ids", lambda: range(n)))
        pipe.add(mg.Processor("fetch", flaky_fetch, retry_on=ConnectionError))
        pipe.add(mg.Processor("parse", parse, max_retries=0, on_error=on_error))
        pipe.add(mg.Consumer("save", lambda _i: None))
        return pipe

    report = build("skip").run(timeout=30)
    print(
        f"skip: {report.status}, retried {report.stages['fetch'].items_retried}, "
        f"failed {report.stages['parse'].items_failed}"
    )

    attempts.clear()
    bad: list[int] = []
    report = build(lambda item, _error: bad.append(item)).run(timeout=30)
    print(f"handler: {report.status}, handed {bad} to the handler")

    attempts.clear()
    try:
        build("raise").run(timeout=30)
    except mg.PipelineError as exc:
        error = exc.exceptions[0]
        assert isinstance(error, mg.StageError)
        print(f"raise: {exc.report.status}: {error}")


if __name__ == "__main__":
    main()
