"""Dead letters: failed items go to a quarantine stage instead of failing the run.

`dead_letter="quarantine"` sends each item whose retries ran out to that
stage as `mg.Failed(item, error, stage)`. The run succeeds; the failures show
in the statistics. (The Ruby gem only listed dead-letter queues as a TODO.)
"""

from __future__ import annotations

import json

import minigun as mg


def main(n: int | None = None) -> None:
    n = 10 if n is None else n
    lines = [json.dumps({"id": i}) if i % 4 else f"{{broken {i}" for i in range(n)]
    good: list[dict[str, int]] = []
    dead: list[mg.Failed] = []

    pipe = mg.Pipeline("ingest", max_retries=1, retry_delay=0)
    pipe.add(mg.Producer("lines", lambda: lines))
    pipe.add(mg.Processor("parse", json.loads, dead_letter="quarantine"))
    pipe.add(
        mg.Consumer("save", good.append, to=())
    )  # keep "quarantine" out of the chain
    pipe.add(mg.Consumer("quarantine", dead.append))
    report = pipe.run(timeout=30)

    assert report.status == "succeeded"
    assert len(good) + len(dead) == n
    print(f"saved {len(good)}, quarantined {len(dead)}; status {report.status}")
    for failed in dead[:3]:
        error = f"{type(failed.error).__name__}: {failed.error}"
        print(f"  {failed.stage}: {failed.item!r} -> {error}")


if __name__ == "__main__":
    main()
