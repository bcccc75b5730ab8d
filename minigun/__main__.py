"""``python -m minigun``: the ``minigun`` command (presentation layer)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
