"""Turn raw results (``benchmarks/results/*.json``) into tables, goals and a page.

``render_text`` gives the tables and the PASS/MISS list (printed after a run);
``render_markdown`` the whole docs/performance.md page. Blocks of an existing
page between ``<!-- keep:NAME -->`` and ``<!-- /keep:NAME -->`` are carried
over when the page is regenerated, so hand-written text survives a re-run.
"""

from __future__ import annotations

import importlib
import re
import statistics
from typing import TYPE_CHECKING, Any

from benchmarks import WORKLOADS

if TYPE_CHECKING:
    from pathlib import Path

IDEAL_SLEEP = 0.001
_PAYLOAD = {"bytes": "1 KiB bytes", "dict": "20-field dicts"}
W2_WORKERS = 16


# -- numbers --------------------------------------------------------------------


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def summarize(results: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (workload, impl): N, verified reps, medians and ranges."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for w, spec in results["plan"].items():
        for impl in spec["impls"]:
            runs = [
                s
                for s in results["samples"]
                if s["workload"] == w and s["impl"] == impl
            ]
            ok = [s for s in runs if s.get("ok")]
            rates = [s["items_per_s"] for s in ok if s.get("items_per_s")]
            secs = [s["seconds"] for s in ok]
            extras: dict[str, list[Any]] = {}
            for s in ok:
                for k, v in (s.get("extra") or {}).items():
                    extras.setdefault(k, []).append(v)
            leftovers = sorted(
                {
                    f"{len(s['leftover_children'])} child process(es)"
                    for s in runs
                    if s.get("leftover_children")
                }
                | {
                    "threads " + ", ".join(sorted(set(s["leftover_threads"])))
                    for s in runs
                    if s.get("leftover_threads")
                }
            )
            out[w, impl] = {
                "n": spec["n"][impl],
                "runs": len(runs),
                "ok": len(ok),
                "errors": [s.get("error") for s in runs if not s.get("ok")],
                "rate": _median(rates),
                "rate_min": min(rates) if rates else None,
                "rate_max": max(rates) if rates else None,
                "seconds": _median(secs),
                "seconds_min": min(secs) if secs else None,
                "seconds_max": max(secs) if secs else None,
                "extras": extras,
                "leftovers": leftovers,
            }
    return out


def _num_median(values: list[Any]) -> float | None:
    nums = [
        v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    return _median(nums)


def fmt_rate(x: float | None) -> str:
    if x is None:
        return "\u2013"
    if x >= 1e6:
        return f"{x / 1e6:.3g}M"
    if x >= 1e3:
        return f"{x / 1e3:.3g}k"
    return f"{x:.3g}"


def fmt_n(n: int) -> str:
    if n >= 1_000_000 and n % 100_000 == 0:
        return f"{n / 1e6:g}M"
    if n >= 1000 and n % 100 == 0:
        return f"{n / 1e3:g}k"
    return str(n)


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_x(x: float | None, digits: int = 2) -> str:
    return "\u2013" if x is None else f"{x:.{digits}f}\u00d7"


def _us(rate: float | None) -> str:
    return "\u2013" if not rate else f"{1e6 / rate:.3g}"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _module(w: str) -> Any:
    return importlib.import_module(WORKLOADS[w])


def _compare(mod: Any, impl: str) -> str:
    return getattr(mod, "COMPARE", {}).get(impl, mod.MAIN)


def _ok_cell(s: dict[str, Any]) -> str:
    if s["ok"] == s["runs"]:
        return f"{s['ok']}/{s['runs']}"
    return f"**{s['ok']}/{s['runs']}**"


# -- tables per workload ---------------------------------------------------------


def _generic(w: str, summ: dict[tuple[str, str], dict[str, Any]], plan: dict) -> str:
    mod = _module(w)
    floor = "floor_loop" if (w, "floor_loop") in summ else None
    headers = ["impl", "N", "items/s (median)", "min\u2013max", "µs/item"]
    if floor:
        headers.append("slower than floor_loop")
    headers += ["minigun ÷ impl", "verified"]
    rows = []
    for impl in plan[w]["impls"]:
        s = summ[w, impl]
        ref = summ.get((w, _compare(mod, impl)), {}).get("rate")
        row = [
            f"`{impl}`",
            fmt_n(s["n"]),
            fmt_rate(s["rate"]),
            f"{fmt_rate(s['rate_min'])}\u2013{fmt_rate(s['rate_max'])}",
            _us(s["rate"]),
        ]
        if floor:
            row.append(fmt_x(_ratio(summ[w, floor]["rate"], s["rate"]), 1))
        row += [fmt_x(_ratio(ref, s["rate"])), _ok_cell(s)]
        rows.append(row)
    note = (
        "\n\n`minigun ÷ impl` = minigun's median items/s ÷ this row's "
        f"(minigun row: `{mod.MAIN}`"
        + (", or its counterpart for `*_to` rows: `minigun_to`" if w == "w7" else "")
        + "); > 1 means minigun is faster."
    )
    return _table(headers, rows) + note


def _w2(summ: dict[tuple[str, str], dict[str, Any]], plan: dict) -> str:
    headers = [
        "impl",
        "N",
        "wall s (median)",
        "min\u2013max",
        "\u00d7 ideal",
        "\u00d7 fair ideal",
        "sleep(1 ms) ms",
        "minigun ÷ impl",
        "verified",
    ]
    rows = []
    main = summ.get(("w2", "minigun"), {})
    for impl in plan["w2"]["impls"]:
        s = summ["w2", impl]
        n = s["n"]
        sleep_ms = _num_median(s["extras"].get("sleep_ms", []))
        ideal = n * IDEAL_SLEEP / W2_WORKERS
        fair = n * (sleep_ms or 1.0) / 1e3 / W2_WORKERS
        sec = s["seconds"]
        rows.append(
            [
                f"`{impl}`",
                fmt_n(n),
                "\u2013" if sec is None else f"{sec:.3f}",
                "\u2013"
                if sec is None
                else f"{s['seconds_min']:.3f}\u2013{s['seconds_max']:.3f}",
                fmt_x(_ratio(sec, ideal)),
                fmt_x(_ratio(sec, fair)),
                "\u2013" if sleep_ms is None else f"{sleep_ms:.3f}",
                fmt_x(_ratio(main.get("rate"), s["rate"])),
                _ok_cell(s),
            ]
        )
    return _table(headers, rows) + (
        "\n\nideal = N \u00d7 1 ms / 16; fair ideal = N \u00d7 measured "
        "`sleep(0.001)` / 16 "
        "(each child measures 200 sleeps before its timed run). `floor_serial` "
        "runs one thread on N/10 items (its own ideal would be N \u00d7 1 ms, i.e. "
        "16\u00d7 the column's)."
    )


def _w3(summ: dict[tuple[str, str], dict[str, Any]], plan: dict) -> str:
    serial = summ.get(("w3", "floor_serial"), {}).get("rate")
    ceiling = summ.get(("w3", "ceiling_2procs_static"), {}).get("rate")
    main = summ.get(("w3", "minigun"), {}).get("rate")
    headers = [
        "impl",
        "N",
        "items/s (median)",
        "min\u2013max",
        "speedup vs serial (ideal 2)",
        "fraction of static-split ceiling",
        "minigun ÷ impl",
        "verified",
    ]
    rows = []
    for impl in plan["w3"]["impls"]:
        s = summ["w3", impl]
        rows.append(
            [
                f"`{impl}`",
                fmt_n(s["n"]),
                fmt_rate(s["rate"]),
                f"{fmt_rate(s['rate_min'])}\u2013{fmt_rate(s['rate_max'])}",
                fmt_x(_ratio(s["rate"], serial)),
                "\u2013"
                if _ratio(s["rate"], ceiling) is None
                else f"{_ratio(s['rate'], ceiling):.2f}",
                fmt_x(_ratio(main, s["rate"])),
                _ok_cell(s),
            ]
        )
    ms = _num_median(
        summ.get(("w3", "floor_serial"), {})
        .get("extras", {})
        .get("serial_ms_per_item", [])
    )
    tail = f"\n\nSerial ms/item (median): {ms:.3f}" if ms else ""
    return _table(headers, rows) + tail


def _w4(summ: dict[tuple[str, str], dict[str, Any]], plan: dict) -> str:
    bases: list[str] = []
    for impl in plan["w4"]["impls"]:
        base = impl.rsplit("_", 1)[0]
        if base not in bases:
            bases.append(base)
    headers = [
        "impl",
        "N",
        "1 KiB bytes items/s",
        "min\u2013max",
        "minigun ÷ impl",
        "N",
        "20-field dict items/s",
        "min\u2013max",
        "minigun ÷ impl",
        "verified",
    ]
    rows = []
    for base in bases:
        row = [f"`{base}`"]
        oks = []
        for kind in ("bytes", "dict"):
            s = summ.get(("w4", f"{base}_{kind}"))
            if s is None:
                row += ["\u2013"] * 4
                continue
            ref = summ.get(("w4", f"minigun_{kind}"), {}).get("rate")
            row += [
                fmt_n(s["n"]),
                fmt_rate(s["rate"]),
                f"{fmt_rate(s['rate_min'])}\u2013{fmt_rate(s['rate_max'])}",
                fmt_x(_ratio(ref, s["rate"])),
            ]
            oks.append(_ok_cell(s))
        row.append(" / ".join(oks))
        rows.append(row)
    return _table(headers, rows) + (
        "\n\n`floor_pickle_2roundtrips` is the serialisation CPU per item "
        "(dumps+loads there and back, one thread, no transport), not an upper "
        "bound."
    )


def _w6(summ: dict[tuple[str, str], dict[str, Any]], plan: dict) -> str:
    headers = [
        "impl",
        "N",
        "items/s (median)",
        "RSS at start MiB",
        "RSS at 10 % MiB",
        "max RSS MiB",
        "max ÷ RSS at 10 % (worst rep)",
        "max \u2212 start MiB (worst rep)",
        "max queue depth",
        "flat (±10 %)",
        "verified",
    ]
    rows = []
    for impl in plan["w6"]["impls"]:
        s = summ["w6", impl]
        ex = s["extras"]
        growth = [g for g in ex.get("growth", []) if g is not None]
        over_start = [
            m - a
            for m, a in zip(
                ex.get("rss_max_mib", []), ex.get("rss_start_mib", []), strict=True
            )
        ]
        depth = [d for d in ex.get("max_queue_depth", []) if d is not None]
        flat = ex.get("flat", [])
        rows.append(
            [
                f"`{impl}`",
                fmt_n(s["n"]),
                fmt_rate(s["rate"]),
                _f1(_num_median(ex.get("rss_start_mib", []))),
                _f1(_num_median(ex.get("rss_at_10pct_mib", []))),
                _f1(_num_median(ex.get("rss_max_mib", []))),
                "\u2013" if not growth else f"{1 + max(growth):.3f}",
                "\u2013" if not over_start else f"{max(over_start):.1f}",
                "\u2013" if not depth else str(max(depth)),
                "\u2013" if not flat else ("yes" if all(flat) else "**no**"),
                _ok_cell(s),
            ]
        )
    return _table(headers, rows) + (
        "\n\nRSS is sampled every 50 ms by a thread reading /proc/self/statm, "
        "plus once by the consumer when it has taken 10 % of the items. "
        "`control_minigun_unbounded` (consumer on `threads=1`, `queue_size=0`) "
        "is a negative control: its queue fills within the first 10 % of the "
        "run, so the `max ÷ RSS at 10 %` rule alone cannot see it; the "
        "`max \u2212 start` column does."
    )


def _f1(x: float | None) -> str:
    return "\u2013" if x is None else f"{x:.1f}"


_RENDER = {"w2": _w2, "w3": _w3, "w4": _w4, "w6": _w6}


def workload_tables(results: dict[str, Any]) -> str:
    summ = summarize(results)
    plan = results["plan"]
    out = []
    for w, spec in plan.items():
        render = _RENDER.get(w)
        body = render(summ, plan) if render else _generic(w, summ, plan)
        loads = [
            s["loadavg_start"]
            for s in results["samples"]
            if s["workload"] == w and "loadavg_start" in s
        ]
        gates = [
            g["other_load"] for g in results.get("gates", []) if g["workload"] == w
        ]
        meta = f"_N per impl as shown; {results['meta']['reps']} rep(s)"
        if loads:
            meta += (
                f"; 1-min loadavg at run starts {min(loads):.2f}\u2013{max(loads):.2f}"
            )
        if gates:
            meta += (
                f"; other load at rep start {min(gates):.2f}\u2013"
                f"{max(gates):.2f} cores"
            )
        meta += "_"
        notes = _leftover_notes(w, summ, plan)
        out.append(f"### {spec['title']}\n\n{meta}\n\n{body}{notes}")
    return "\n\n".join(out)


def _leftover_notes(w: str, summ: dict, plan: dict) -> str:
    lines = []
    for impl in plan[w]["impls"]:
        s = summ[w, impl]
        if s["leftovers"]:
            lines.append(
                f"- `{impl}` left behind after returning: {'; '.join(s['leftovers'])}"
            )
        lines.extend(
            f"- `{impl}` FAILED: {e}" for e in sorted({e for e in s["errors"] if e})
        )
    return ("\n\n" + "\n".join(lines)) if lines else ""


# -- goals ------------------------------------------------------------------------


def goals(results: dict[str, Any]) -> list[dict[str, str]]:
    """The issue's speed goals, evaluated on medians."""
    summ = summarize(results)
    smoke = results["meta"].get("smoke", False)
    rows: list[dict[str, str]] = []

    def rate(w: str, impl: str) -> float | None:
        return summ.get((w, impl), {}).get("rate")

    def add(goal: str, value: float | None, shown: str, target: str, ok: bool) -> None:
        if value is None:
            status = "n/a (not run)"
        elif smoke:
            status = "n/a (smoke)"
        else:
            status = "PASS" if ok else "MISS"
        rows.append(
            {"goal": goal, "measured": shown, "target": target, "status": status}
        )

    m1 = rate("w1", "minigun")
    add("W1 minigun items/s", m1, fmt_rate(m1) + "/s", "≥ 3M/s", (m1 or 0) >= 3e6)
    for peer, k in (("pyper_thread", 10), ("pypeln_thread", 50)):
        r = _ratio(m1, rate("w1", peer))
        add(f"W1 minigun ÷ {peer}", r, fmt_x(r, 1), f"≥ {k}\u00d7", (r or 0) >= k)
    r = _ratio(rate("w1", "floor_loop"), m1)
    add(
        "W1 floor_loop ÷ minigun", r, fmt_x(r, 1), "≤ 5\u00d7", r is not None and r <= 5
    )

    s2 = summ.get(("w2", "minigun"))
    fair = nominal = None
    if s2 and s2["seconds"] is not None:
        sleep_ms = _num_median(s2["extras"].get("sleep_ms", [])) or 1.0
        fair = s2["seconds"] / (s2["n"] * sleep_ms / 1e3 / W2_WORKERS)
        nominal = s2["seconds"] / (s2["n"] * IDEAL_SLEEP / W2_WORKERS)
    add(
        "W2 minigun wall ÷ fair ideal (measured sleep)",
        fair,
        fmt_x(fair),
        "≤ 1.10\u00d7",
        fair is not None and fair <= 1.10,
    )
    add(
        "W2 minigun wall ÷ nominal ideal (N \u00d7 1 ms / 16)",
        nominal,
        fmt_x(nominal),
        "≤ 1.10\u00d7",
        nominal is not None and nominal <= 1.10,
    )

    r = _ratio(rate("w3", "minigun"), rate("w3", "ceiling_2procs_static"))
    add(
        "W3 minigun ÷ static-split ceiling",
        r,
        "\u2013" if r is None else f"{r:.2f}",
        "≥ 0.95",
        (r or 0) >= 0.95,
    )
    for kind, target in (("bytes", 250e3), ("dict", 100e3)):
        v = rate("w4", f"minigun_{kind}")
        add(
            f"W4 minigun items/s ({_PAYLOAD[kind]})",
            v,
            fmt_rate(v) + "/s",
            f"≥ {fmt_rate(target)}/s",
            (v or 0) >= target,
        )
    m5 = rate("w5", "minigun")
    add("W5 minigun items/s", m5, fmt_rate(m5) + "/s", "≥ 3M/s", (m5 or 0) >= 3e6)
    m8 = rate("w8", "minigun_ray")
    add(
        "W8 RayExecutor items/s",
        m8,
        fmt_rate(m8) + "/s",
        "≥ 150k/s",
        (m8 or 0) >= 1.5e5,
    )

    mod6 = _module("w6")
    for impl in mod6.GATED:
        s6 = summ.get(("w6", impl))
        growth = [
            g for g in (s6 or {}).get("extras", {}).get("growth", []) if g is not None
        ]
        flat = (s6 or {}).get("extras", {}).get("flat", [])
        worst = max(growth) if growth else None
        add(
            f"W6 `{impl}` RSS flat (max ÷ RSS at 10 %, worst rep)",
            worst,
            "\u2013" if worst is None else f"{1 + worst:.3f}",
            "≤ 1.10",
            bool(flat) and all(flat),
        )
    return rows


def goals_table(results: dict[str, Any]) -> str:
    rows = [
        [g["goal"], g["measured"], g["target"], g["status"]] for g in goals(results)
    ]
    return _table(["goal (medians)", "measured", "target", "status"], rows)


# -- pages ------------------------------------------------------------------------


def _failures(results: dict[str, Any]) -> str:
    bad = [s for s in results["samples"] if not s.get("ok")]
    if not bad:
        n = len(results["samples"])
        return f"All {n} runs produced verified results."
    lines = [f"**{len(bad)} run(s) failed:**", ""]
    lines += [
        f"- {s['workload']} `{s['impl']}` rep {s.get('rep')}: {s.get('error')}"
        for s in bad
    ]
    return "\n".join(lines)


def render_text(results: dict[str, Any]) -> str:
    """Tables, goals and failures (what a run prints)."""
    parts = [workload_tables(results), "### Goals", goals_table(results)]
    if results["meta"].get("smoke"):
        parts.append("_Smoke run: tiny N, one repetition; speeds are not meaningful._")
    parts.append(_failures(results))
    return "\n\n".join(parts)


def _machine(meta: dict[str, Any]) -> str:
    peers = ", ".join(f"{k} {v}" for k, v in meta.get("peers", {}).items())
    dirty = ""
    if meta.get("minigun_dirty"):
        files = ", ".join(
            f"`{f.split()[-1]}`" for f in meta.get("minigun_dirty_files", [])
        )
        dirty = f" plus uncommitted changes to {files}"
    rows = [
        ["CPU", f"{meta.get('cpu_model')}; `nproc` = {meta.get('nproc')}"],
        ["RAM", f"{meta.get('mem_gib')} GiB"],
        ["OS", str(meta.get("os"))],
        [
            "Python",
            (
                f"{meta.get('implementation')} {meta.get('python')}, "
                f"multiprocessing start method `{meta.get('start_method')}`"
            ),
        ],
        [
            "minigun",
            f"{meta.get('minigun')} at commit `{meta.get('commit')}`{dirty}; "
            f"source digest `{meta.get('minigun_digest')}`"
            + (
                " (copied to a temporary directory before the run, so edits made "
                "during the run did not mix in)"
                if meta.get("snapshot")
                else ""
            ),
        ],
        ["Peers", peers],
        [
            "Run",
            (
                f"{meta.get('started')} \u2192 {meta.get('finished')} "
                f"({meta.get('duration_s', 0) / 60:.1f} min), {meta.get('reps')} "
                f"repetition(s) per figure, each in a fresh interpreter, interleaved "
                f"across implementations; quiet gate "
                f"{_gate_text(meta)}; "
                f"N scale {meta.get('scale')}; command `python -m benchmarks "
                f"{' '.join(meta.get('argv', []))}`"
            ),
        ],
    ]
    return _table(["", ""], rows)


def _gate_text(meta: dict[str, Any]) -> str:
    if not meta.get("quiet_gate"):
        return "off"
    return (
        f"on (before each repetition, wait up to {meta.get('gate_wait', '?')} s "
        f"until other load < {meta.get('gate_threshold', '?')} cores)"
    )


def _w1_section(results: dict[str, Any]) -> tuple[str, str]:
    summ = summarize(results)

    def row(impl: str, label: str) -> list[str]:
        s = summ.get(("w1", impl))
        base = summ.get(("w1", "minigun"), {}).get("rate")
        if s is None:
            return [label, "\u2013", "\u2013", "\u2013", "\u2013"]
        return [
            label,
            fmt_rate(s["rate"]) + "/s",
            f"{fmt_rate(s['rate_min'])}\u2013{fmt_rate(s['rate_max'])}",
            _us(s["rate"]),
            fmt_x(_ratio(s["rate"], base)),
        ]

    headers = ["W1 variant", "items/s (median)", "min\u2013max", "µs/item", "÷ default"]
    fusion = _table(
        headers,
        [
            row("minigun", "default (inline stages fused into the producer's thread)"),
            row("minigun_unfused", "fusion defeated (`threads=1` on the middle stage)"),
            row("threads_queue", "hand-written: 3 threads, `queue.Queue(1000)`"),
        ],
    )
    unused = _table(
        headers,
        [
            row("minigun", "default (statistics are always on; no switch exists)"),
            row("minigun_unused_hook", "`on_error` hook registered, never called"),
            row("minigun_live_stats", "`RunHandle.statistics()` read every 10 ms"),
        ],
    )
    return fusion, unused


DEFAULT_KEEP = {
    "optimisations": """\
_Placeholder for the lead — fill in one line per optimisation, with the
measurement that isolates it (run the suite on the commit before and after, or
with the optimisation switched off):_

- **Fused inline chains** — TODO (lead). Measured below: W1 default vs
  fusion defeated.
- **Micro-batched queues** — TODO (lead).
- **Batched pickling over pipes** — TODO (lead).
""",
    "observations": """\
_Notes from the run (hand-written; kept when the page is regenerated)._
""",
}


def render_markdown(results: dict[str, Any], keep: dict[str, str] | None = None) -> str:
    """The whole docs/performance.md page."""
    keep = {**DEFAULT_KEEP, **(keep or {})}
    meta = results["meta"]
    fusion, unused = _w1_section(results)
    smoke_note = (
        "\n> **Smoke run**: tiny N, one repetition — the numbers below are not "
        "meaningful.\n"
        if meta.get("smoke")
        else ""
    )

    def block(name: str) -> str:
        return f"<!-- keep:{name} -->\n{keep[name].strip()}\n<!-- /keep:{name} -->"

    return f"""\
# Performance

<!-- Generated by `python -m benchmarks --report docs/performance.md`.
     Edit only inside the keep blocks; everything else is regenerated. -->

What minigun costs per item and how close it gets to the machine's limits,
measured against hand-written baselines (plain loops, `queue.Queue` threads,
`multiprocessing`) and the peers pypeln, pyper and mpire on seven workloads.
Every output of every run is verified (sums, counts, per-consumer sums,
payload integrity, and minigun's own report counters).
{smoke_note}
## Machine and run

{_machine(meta)}

## Goals

{goals_table(results)}

Medians over the repetitions. W2's goal is shown against both ideals: the
nominal one (N \u00d7 1 ms / 16) cannot be met within 1.10\u00d7 on a machine where
`time.sleep(0.001)` itself takes ~1.1 ms, so the fair ideal (measured sleep) is
the meaningful figure.

## What each optimisation bought

{block("optimisations")}

### Fusion (measured)

{fusion}

## Cost of unused features (W1)

{unused}

## Results

{workload_tables(results)}

{_failures(results)}

## Observations

{block("observations")}

## How to reproduce

```sh
# full run: all workloads, 5 reps (~10 min on 2 cores; more with --quiet-gate)
make bench
# a subset, fewer repetitions
.venv/bin/python -m benchmarks --reps 3 --workloads w1,w5
# this page
.venv/bin/python -m benchmarks --quiet-gate --report docs/performance.md
# what `make test` runs (tiny N, 1 rep, ~20 s)
.venv/bin/python -m benchmarks --smoke
# one child run: one JSON line
.venv/bin/python -m benchmarks.run_one w1 minigun 3000000
```

The raw results of the run shown here are in `benchmarks/results/full-run.json`;
`python -m benchmarks --from-json benchmarks/results/full-run.json --report
docs/performance.md` regenerates this page from them.

Options: `--workloads w1,...,w7`, `--impls a,b` (only these implementations),
`--reps N`, `--no-peers`, `--scale F` (multiply every N), `--w6-n N` (items of
W6's minigun runs, default 10 M), `--quiet-gate` (before each repetition wait
up to `--gate-wait` s until other load is below `--gate-threshold` cores),
`--timeout S` (per child run), `--json PATH` (raw results; default
`benchmarks/results/`), `--report PATH`, `--from-json PATH` (render a report
from saved raw results without running anything).

How a figure is made: for each workload, each repetition runs every
implementation once, in an order rotated by one each repetition; each run is a
fresh interpreter in its own process group (`python -m benchmarks.run_one W
IMPL N` prints one JSON line; whatever it leaves running is killed and
reported). The timed part starts before the pipeline (or pool) is built and
ends when the last item has been consumed and the run has returned, so pool
and process start-up are included for every implementation.

## Workloads and how each implementation is driven

- **W1** generate ints → `x*2` → sum. minigun: `Producer → Processor →
  Consumer`, default (inline) executors. `threads_queue`: producer thread →
  `queue.Queue(1000)` → doubler thread → `queue.Queue(1000)` → caller;
  `*_chunk100` carries lists of 100. pyper: `task(gen, branch=True,
  throttle=1000) | task(double, throttle=1000)`, summed by the caller.
  pypeln: `pl.thread.map(double, range(N), workers=1, maxsize=1000)`. mpire:
  `WorkerPool(1, start_method="threading").imap_unordered` with its default
  chunking (it knows N).
- **W2** `time.sleep(0.001)` per item on 16 workers, N = 5000. pyper runs
  all thread workers in one `ThreadPoolExecutor()` of default size
  (min(32, nproc + 4) = 6 here), so `pyper_thread` runs 5 at a time;
  `pyper_thread_uncapped` patches its pool to 64 threads.
- **W3** `work(x)`: K = 9000 iterations of `s += i * i` in pure Python;
  2 worker processes (fork). `ceiling_2procs_static`: two forked processes,
  each given half of the items up front, one result message each.
- **W4** identity on 2 processes; 1000 distinct pre-built payloads cycled
  (1 KiB random bytes carrying their index; 20-field dicts of ints, floats,
  strings and bools, copied per item). mpire calls `f(**item)` for dicts, so
  its items are wrapped in 1-tuples. pyper's process stages go through
  `multiprocessing.Manager` proxy queues; pypeln's through its process
  module (both ~3\u20137k items/s whatever the payload).
- **W5** batches of 100 → sum. minigun: `Accumulator(max_size=100) →
  Consumer`. pyper: `task(batcher, join=True, branch=True)`; pypeln has no
  batch operator, so a generator between `pl.thread.from_iterable` and
  `pl.thread.map` batches; mpire: the caller batches, a worker sums.
- **W6** N = 10 M ints through a consumer doing a 12-step loop per item,
  default queue sizes (1000); baselines and the unbounded control use fewer
  items in the full run to keep its length reasonable (N column).
- **W7** 1 producer → 4 consumers: `routing="round_robin"` (exact rotation)
  and a router stage returning `mg.To(f"c{{x % 4}}", x)` to 4 consumers with
  `to=()`. Each consumer's sum is checked. No peer has per-item routing to
  named stages, so only hand-written baselines are compared.
"""


def write_report(path: Path, render: Any, results: dict[str, Any]) -> None:
    """Write *render(results, keep)* to *path*, keeping its hand-written blocks."""
    keep: dict[str, str] = {}
    if path.exists():
        text = path.read_text()
        for m in re.finditer(
            r"<!-- keep:(\w+) -->\n(.*?)\n?<!-- /keep:\1 -->", text, flags=re.DOTALL
        ):
            keep[m.group(1)] = m.group(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results, keep))
