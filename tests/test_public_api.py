"""Check that ``__all__`` and the exported names of each public module agree."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from types import ModuleType

PACKAGE = "minigun"
PUBLIC_MODULES = (
    "minigun",
    "minigun.errors",
    "minigun.executors",
    "minigun.testing",
    "minigun.dashboard",
    "minigun.mermaid",
    "minigun.dsl",
)


def _import(name: str) -> ModuleType:
    """Import a public module, skipping the test while it does not exist yet."""
    module: ModuleType = pytest.importorskip(name)
    return module


def _exported(module: ModuleType) -> tuple[str, ...]:
    """Return the module's ``__all__``, checking that it is a tuple of strings."""
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, tuple), (
        f"{module.__name__}.__all__ must be a tuple, got {type(exported).__name__}"
    )
    assert all(isinstance(name, str) for name in exported)
    return exported


def _defined_in_minigun(obj: object) -> bool:
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and (
        module == PACKAGE or module.startswith(f"{PACKAGE}.")
    )


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_tuple_without_duplicates(name: str) -> None:
    """A public module declares ``__all__`` as a tuple of unique strings."""
    exported = _exported(_import(name))
    duplicates = sorted({item for item in exported if exported.count(item) > 1})
    assert duplicates == [], f"{name}.__all__ lists names twice: {duplicates}"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_names_exist(name: str) -> None:
    """Every name listed in ``__all__`` exists on the module."""
    module = _import(name)
    missing = [item for item in _exported(module) if not hasattr(module, item)]
    assert missing == [], f"{name}.__all__ lists missing names: {missing}"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_definitions_are_exported(name: str) -> None:
    """Every public minigun class or function on the module is listed in ``__all__``."""
    module = _import(name)
    exported = set(_exported(module))
    unlisted = sorted(
        attr
        for attr, obj in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and _defined_in_minigun(obj)
        and attr not in exported
    )
    assert unlisted == [], (
        f"{name} has public definitions missing from __all__: {unlisted}; "
        "add them to __all__ or rename them with a leading underscore"
    )
