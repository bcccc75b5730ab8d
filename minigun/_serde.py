"""The one private cattrs converter of minigun (model layer).

Used to load configuration (strict: unknown keys are errors) and to turn
reports and statistics into JSON-compatible dicts. Data items never go
through cattrs; they stay on pickle.
"""

from __future__ import annotations

from typing import Any

import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)

__all__ = ("converter", "describe_errors", "strict_converter")

#: Converter for output (reports, statistics): lenient.
converter = cattrs.Converter()

#: Converter for input (configuration): unknown keys are errors.
strict_converter = cattrs.Converter(forbid_extra_keys=True)


def _type_name(tp: Any) -> str:
    name = getattr(tp, "__name__", None)
    return name or str(tp).replace("typing.", "")


def describe_errors(exc: BaseException, path: str = "") -> list[str]:
    """Flatten a cattrs validation error into ``path: problem`` lines."""
    lines: list[str] = []
    if isinstance(exc, ForbiddenExtraKeysError):
        for key in sorted(exc.extra_fields):
            where = f"{path}.{key}" if path else key
            lines.append(f"{where}: unknown key")
        return lines
    if isinstance(exc, ClassValidationError | IterableValidationError):
        for sub in exc.exceptions:
            note = next(
                (n for n in getattr(sub, "__notes__", []) if hasattr(n, "name")), None
            )
            sub_path = path
            if note is not None:
                name = str(note.name)
                sub_path = f"{path}.{name}" if path else name
                expected = getattr(note, "type", None)
                if not isinstance(sub, ClassValidationError | ForbiddenExtraKeysError):
                    lines.append(_leaf(sub_path, sub, expected))
                    continue
            lines.extend(describe_errors(sub, sub_path))
        return lines
    return [_leaf(path, exc, None)]


def _leaf(path: str, exc: BaseException, expected: Any) -> str:
    where = f"{path}: " if path else ""
    if expected is not None and isinstance(exc, ValueError | TypeError):
        got = ""
        args = getattr(exc, "args", ())
        text = str(args[0]) if args else str(exc)
        # int("many") -> "invalid literal for int() with base 10: 'many'"
        if ": " in text:
            got = text.rsplit(": ", 1)[-1]
        return f"{where}expected {_type_name(expected)}" + (
            f", got {got}" if got else ""
        )
    return f"{where}{exc}"
