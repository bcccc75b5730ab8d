"""One module per workload.

Each module defines:

* ``TITLE``: the table heading;
* ``IMPLS``: implementation name -> ``fn(n) -> (seconds, result, extra)``;
  ``seconds`` is the timed wall time, ``result`` is compared with
  ``expected(impl, n)`` by `benchmarks.run_one`, ``extra`` is a dict of
  figures for the report;
* ``N_FULL`` / ``N_SMOKE``: items per implementation for the full and smoke
  runs (``"*"`` is the default);
* ``PEERS``: implementations that use a peer library (``--no-peers`` skips them);
* ``MAIN``: the minigun implementation the ratios are computed against, and
  optionally ``COMPARE`` (impl -> minigun impl) when there are several;
* ``expected(impl, n)`` and optionally ``prepare(impl, n) -> dict`` (runs in
  the child before the timed part; its dict is merged into ``extra``).
"""
