"""Enforce the one-way import direction between minigun's layers.

base < model < runtime < presentation: a module may import from its own layer
and the layers below it, never above. Every ``import`` and ``from ... import``
counts, wherever it appears (function bodies and ``TYPE_CHECKING`` blocks
included); relative imports are resolved first.
"""

from __future__ import annotations

import ast
import enum
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

PACKAGE = "minigun"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE


class Layer(enum.IntEnum):
    """A layer of the package; a higher value may import a lower one."""

    BASE = 0
    MODEL = 1
    RUNTIME = 2
    PRESENTATION = 3


# Keyed by the first path component under minigun/ (a module or a subpackage,
# which brings all of its modules along).
LAYERS: dict[str, Layer] = {
    "errors": Layer.BASE,
    "_version": Layer.BASE,
    "_compat": Layer.BASE,
    "_logging": Layer.BASE,
    "_signals": Layer.MODEL,
    "_stage": Layer.MODEL,
    "_router": Layer.MODEL,
    "_graph": Layer.MODEL,
    "_config": Layer.MODEL,
    "_hooks": Layer.MODEL,
    "_serde": Layer.MODEL,
    "_pipeline": Layer.MODEL,
    "_region": Layer.MODEL,
    "_queue": Layer.RUNTIME,
    "_stats": Layer.RUNTIME,
    "_policy": Layer.RUNTIME,
    "_report": Layer.RUNTIME,
    "_runtime": Layer.RUNTIME,
    "_deterministic": Layer.RUNTIME,
    "executors": Layer.RUNTIME,
    "testing": Layer.RUNTIME,
    "dsl": Layer.PRESENTATION,
    "mermaid": Layer.PRESENTATION,
    "dashboard": Layer.PRESENTATION,
    "cli": Layer.PRESENTATION,
    "__main__": Layer.PRESENTATION,
    "_demo": Layer.PRESENTATION,
}

# The only upward imports allowed: Pipeline.run()/start() hands a validated
# graph to the runtime (and names the report type it returns), and
# Pipeline.to_mermaid() and run(hud=True) hand it to the presentation layer.
ALLOWED_UPWARD: frozenset[tuple[str, str]] = frozenset(
    {
        ("minigun._pipeline", "minigun._runtime"),
        ("minigun._pipeline", "minigun._deterministic"),
        ("minigun._pipeline", "minigun._report"),
        ("minigun._pipeline", "minigun.mermaid"),
        ("minigun._pipeline", "minigun.dashboard"),
    }
)

# minigun/__init__.py re-exports every layer, so it is exempt.
EXEMPT = frozenset({PACKAGE_DIR / "__init__.py"})

MODULE_FILES = sorted(path for path in PACKAGE_DIR.rglob("*.py") if path not in EXEMPT)


def _module_name(path: Path) -> str:
    """Return the dotted module name of a file under minigun/."""
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _module_id(path: Path) -> str:
    """Return the test id for a module file: its path relative to the repo."""
    return path.relative_to(PACKAGE_DIR.parent).as_posix()


def _is_module(name: str) -> bool:
    """Return whether the dotted minigun name is a module rather than an object."""
    parts = name.split(".")
    if len(parts) == 2 and parts[1] in LAYERS:
        return True
    base = PACKAGE_DIR.parent.joinpath(*parts)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _layer_of(name: str) -> Layer | None:
    """Return the layer of a minigun module, or None if it has not been assigned.

    The package root re-exports everything, so importing from it counts as
    importing from the top layer.
    """
    if name == PACKAGE:
        return Layer.PRESENTATION
    return LAYERS.get(name.split(".")[1])


def _is_internal(name: str) -> bool:
    return name == PACKAGE or name.startswith(f"{PACKAGE}.")


def _imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line, absolute module name) for every minigun import in a file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_internal(alias.name):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            relative = "." * node.level + (node.module or "")
            base = importlib.util.resolve_name(relative, package)
            if not _is_internal(base):
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield node.lineno, submodule if _is_module(submodule) else base


def test_module_files_found() -> None:
    """The layer check sees the package's module files."""
    assert PACKAGE_DIR.is_dir(), f"{PACKAGE_DIR} does not exist"


@pytest.mark.parametrize("path", MODULE_FILES, ids=_module_id)
def test_imports_follow_layers(path: Path) -> None:
    """A module imports only from its own layer and the layers below it."""
    module = _module_name(path)
    own = _layer_of(module)
    if own is None:
        pytest.fail(
            f"{module} is not assigned to a layer; "
            "add it to LAYERS in tests/test_layering.py"
        )
    violations: list[str] = []
    for line, target in sorted(_imported_modules(path)):
        layer = _layer_of(target)
        if layer is None:
            violations.append(
                f"{_module_id(path)}:{line}: imports {target}, which is not "
                "assigned to a layer; add it to LAYERS in tests/test_layering.py"
            )
        elif layer > own and (module, target) not in ALLOWED_UPWARD:
            hint = (
                "; import from the defining module instead" if target == PACKAGE else ""
            )
            violations.append(
                f"{_module_id(path)}:{line}: {module} ({own.name.lower()}) "
                f"imports {target} ({layer.name.lower()}){hint}"
            )
    assert violations == [], "\n".join(violations)
