"""Configuration from code, a TOML file and environment variables.

`mg.Config` is frozen and validated; `Config.from_toml(path)` reads a
``[minigun]`` table (or ``[tool.minigun]`` in a pyproject.toml),
`Config.from_env()` reads ``MINIGUN_*`` variables, and bad values raise
`ConfigError` with one line per problem. Nested pipelines inherit their
parent's config with their own overrides. Port of ``13_configuration.rb``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import minigun as mg

TOML = """
[minigun]
queue_size = 50
max_retries = 1
on_error = "skip"
"""


def main(n: int | None = None) -> None:
    n = 10 if n is None else n
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "minigun.toml"
        path.write_text(TOML, encoding="utf-8")
        from_file = mg.Config.from_toml(path)
    env = {"MINIGUN_QUEUE_SIZE": "20", "MINIGUN_RETRY_DELAY": "0"}
    from_env = mg.Config.from_env(environ=env)  # default: os.environ
    merged = from_file.evolve(
        **{k: getattr(from_env, k) for k in ("queue_size", "retry_delay")}
    )
    print(
        f"queue_size from the file: {from_file.queue_size}, "
        f"from the environment: {from_env.queue_size}"
    )

    print(
        f"merged: queue_size={merged.queue_size}, max_retries={merged.max_retries}, "
        f"on_error={merged.on_error!r}, retry_delay={merged.retry_delay}"
    )

    try:
        mg.Config.from_dict({"queue_size": -1, "max_retires": 3})
    except mg.ConfigError as exc:
        print("ConfigError:", *exc.problems, sep="\n  ")

    pipe = mg.Pipeline("configured", config=merged)
    pipe.add(mg.Producer("numbers", lambda: range(n)))
    inner = pipe.add(
        mg.Pipeline("inner", queue_size=5)
    )  # inherits, overrides one field
    inner.add(mg.Processor("parse", lambda x: 10 // (x % 5)))  # skipped failures
    pipe.add(mg.Consumer("save", lambda _x: None))
    report = pipe.run(timeout=30)

    assert inner.config.queue_size == 5
    assert inner.config.on_error == "skip"
    print(
        f"{report.status}: inner queue_size {report.stages['inner.parse'].queue_size}, "
        f"failed (skipped) {report.total_failed}"
    )


if __name__ == "__main__":
    main()
