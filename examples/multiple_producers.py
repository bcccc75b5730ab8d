"""Multiple producers: several sources run concurrently and feed one stage.

Producers never receive implicit edges, so each one feeds the next
non-producer stage; the shared stage's input closes only after every
producer has finished. A failing producer is never restarted (that would
repeat items): its error goes to the error policy. Port of the Ruby gem's
``25_multiple_producers.rb``.
"""

from __future__ import annotations

import collections
import time

import minigun as mg


def main(n: int | None = None) -> None:
    n = 30 if n is None else n
    by_source: collections.Counter[str] = collections.Counter()

    def slow_api():
        for i in range(n // 3):
            time.sleep(0.002)
            yield ("api", i)

    pipe = mg.Pipeline("sources")
    pipe.add(mg.Producer("database", lambda: (("db", i) for i in range(n))))
    pipe.add(mg.Producer("files", lambda: (("file", i) for i in range(n // 2))))
    pipe.add(mg.Producer("api", slow_api))
    pipe.add(mg.Processor("tag", lambda rec: rec[0]))
    pipe.add(mg.Consumer("count", lambda source: by_source.update([source])))
    report = pipe.run(timeout=30)

    assert report.total_produced == n + n // 2 + n // 3
    print(f"produced {report.total_produced}: {dict(sorted(by_source.items()))}")


if __name__ == "__main__":
    main()
