"""A custom stage class: a deduplicator with state set up per worker.

Subclass `Processor` and override `process` (and optionally `setup` and
`teardown`, which run once per worker, in the worker). Returning ``None``
emits nothing, so this stage is a filter. `run_stage` tests it without a
pipeline. Port of the Ruby gem's ``46_deduplicator_stage.rb``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import minigun as mg
from minigun.testing import run_stage

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable


class Dedupe(mg.Processor):
    """Emit each item the first time its key is seen."""

    def __init__(
        self, name: str, key: Callable[[Any], Hashable] = lambda x: x, **options: Any
    ) -> None:
        super().__init__(name, **options)
        self.key = key
        self.seen: set[Hashable] = set()

    def setup(self) -> None:
        self.seen = set()  # fresh state for every run

    def process(self, item: Any) -> Any:
        k = self.key(item)
        if k in self.seen:
            return None
        self.seen.add(k)
        return item


def main(n: int | None = None) -> None:
    n = 30 if n is None else n
    assert run_stage(Dedupe("dedupe", key=str.lower), ["a", "A", "b"]) == ["a", "b"]

    emails = [f"user{i % 7}@example.com" for i in range(n)]
    unique: list[str] = []
    pipe = mg.Pipeline("signups")
    pipe.add(mg.Producer("emails", lambda: emails))
    dedupe = pipe.add(Dedupe("dedupe"))
    pipe.add(mg.Consumer("welcome", unique.append))
    report = pipe.run(timeout=30)

    assert sorted(unique) == sorted(set(emails))
    print(
        f"{len(emails)} signups, {len(unique)} unique "
        f"(seen {len(dedupe.seen)}), "
        f"{report.stages['dedupe'].items_dropped} duplicates dropped"
    )


if __name__ == "__main__":
    main()
