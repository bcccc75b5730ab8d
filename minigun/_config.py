"""Pipeline configuration: a frozen attrs class loaded through cattrs (model layer)."""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
from cattrs.errors import BaseValidationError

from ._serde import describe_errors, strict_converter
from .errors import ConfigError

__all__ = ("Config",)

_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


def _int_at_least(minimum: int, *, optional: bool) -> Any:
    def check(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"{attr.name}: expected int, got {value!r}"
            raise ConfigError(msg)
        if value < minimum:
            msg = f"{attr.name}: must be >= {minimum}, got {value!r}"
            raise ConfigError(msg)

    return check


def _float_at_least(minimum: float) -> Any:
    def check(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"{attr.name}: expected float, got {value!r}"
            raise ConfigError(msg)
        if value < minimum:
            msg = f"{attr.name}: must be >= {minimum}, got {value!r}"
            raise ConfigError(msg)

    return check


def _one_of(*choices: str) -> Any:
    def check(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            listed = ", ".join(repr(c) for c in choices)
            msg = f"{attr.name}: expected one of {listed}, got {value!r}"
            raise ConfigError(msg)

    return check


@attrs.frozen(kw_only=True)
class Config:
    """Settings of a pipeline; nested pipelines inherit and override them.

    Stage options left unset take their values from here when a run starts.
    Derive a modified copy with `evolve`.

    Example:
        >>> import minigun as mg
        >>> mg.Config(queue_size=10).evolve(max_retries=0).max_retries
        0
    """

    queue_size: int | None = attrs.field(
        default=1000, validator=_int_at_least(0, optional=True)
    )
    """Capacity of each stage's input queue; ``0`` or ``None``: unbounded."""
    max_threads: int | None = attrs.field(
        default=None, validator=_int_at_least(1, optional=True)
    )
    """Bound on the sum of thread workers of all stages (``None``: no bound)."""
    max_processes: int | None = attrs.field(
        default=None, validator=_int_at_least(1, optional=True)
    )
    """Bound on the sum of process workers of all stages."""
    max_interpreters: int | None = attrs.field(
        default=None, validator=_int_at_least(1, optional=True)
    )
    """Bound on the sum of interpreter workers of all stages."""
    min_threads: int | None = attrs.field(
        default=None, validator=_int_at_least(1, optional=True)
    )
    """Default lower bound of autoscaling thread pools."""
    max_retries: int = attrs.field(
        default=3, validator=_int_at_least(0, optional=False)
    )
    """Retries after an item's first failed attempt."""
    retry_delay: float = attrs.field(default=0.05, validator=_float_at_least(0))
    """Seconds before the first retry."""
    retry_backoff: float = attrs.field(default=2.0, validator=_float_at_least(1))
    """Factor the retry delay grows by after each attempt."""
    on_error: Literal["raise", "skip"] = attrs.field(
        default="raise", validator=_one_of("raise", "skip")
    )
    """What happens to an item whose retries are exhausted."""
    log_level: str = attrs.field(default="WARNING", validator=_one_of(*_LOG_LEVELS))
    """Level `minigun.enable_logging` uses when the CLI turns logging on."""
    chunk_size: int = attrs.field(
        default=256, validator=_int_at_least(1, optional=False)
    )
    """Most items moved between stages in one hand-off (micro-batch)."""
    shutdown_timeout: float = attrs.field(default=10.0, validator=_float_at_least(0))
    """Seconds to wait for workers to stop after a failure or a cancel."""

    def evolve(self, **changes: Any) -> Config:
        """Return a copy with *changes* applied (validated)."""
        return Config.from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a plain dict."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build a config from a mapping; unknown keys and bad values are errors.

        Raises:
            ConfigError: one line per problem, each starting with its key.
        """
        if not isinstance(data, Mapping):
            msg = f"expected a mapping of settings, got {type(data).__name__}"  # type: ignore[unreachable]
            raise ConfigError(msg)
        problems: list[str] = []
        fields = {a.name: a for a in attrs.fields(cls)}
        clean: dict[str, Any] = {}
        for key, value in data.items():
            field = fields.get(key)
            if field is None:
                import difflib  # noqa: PLC0415 - error path only

                close = difflib.get_close_matches(str(key), list(fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"{key}: unknown key{hint}")
                continue
            try:
                clean[key] = strict_converter.structure(value, field.type)
            except Exception as exc:  # noqa: BLE001 - every failure is one problem line
                lines = describe_errors(exc, key)
                if not isinstance(exc, BaseValidationError) or not lines:
                    lines = [
                        f"{key}: expected {_type_label(field.type)}, got {value!r}"
                    ]
                problems.extend(lines)
                continue
            validator = field.validator
            if validator is not None:
                try:
                    validator(None, field, clean[key])
                except ConfigError as exc:
                    problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)
        return cls(**clean)

    @classmethod
    def from_env(
        cls, prefix: str = "MINIGUN_", environ: Mapping[str, str] | None = None
    ) -> Config:
        """Build a config from environment variables such as ``MINIGUN_QUEUE_SIZE``.

        Empty values and ``none`` mean ``None``.

        Raises:
            ConfigError: one line per problem.
        """
        env = os.environ if environ is None else environ
        data: dict[str, Any] = {}
        for key, value in env.items():
            if key.startswith(prefix):
                name = key[len(prefix) :].lower()
                data[name] = None if value.strip().lower() in ("", "none") else value
        return cls.from_dict(data)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Config:
        """Build a config from a TOML file; reads ``[tool.minigun]`` of a pyproject.

        Raises:
            ConfigError: the file is unreadable, or one line per problem.
        """
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            msg = f"{p}: cannot read configuration: {exc}"
            raise ConfigError(msg) from exc
        if p.name == "pyproject.toml" or "tool" in data:
            data = data.get("tool", {}).get("minigun", {})
        elif "minigun" in data and isinstance(data["minigun"], dict):
            data = data["minigun"]
        return cls.from_dict(data)


def _type_label(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    text = str(tp)
    return text.replace(" | None", "").replace("typing.", "")


attrs.resolve_types(Config)


def _structure_int(value: Any, _tp: Any) -> int:
    if isinstance(value, bool | float):
        msg = f"expected int, got {value!r}"
        raise TypeError(msg)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value.strip())
    msg = f"expected int, got {value!r}"
    raise TypeError(msg)


def _structure_float(value: Any, _tp: Any) -> float:
    if isinstance(value, bool):
        msg = f"expected float, got {value!r}"
        raise TypeError(msg)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    msg = f"expected float, got {value!r}"
    raise TypeError(msg)


def _structure_str(value: Any, _tp: Any) -> str:
    if not isinstance(value, str):
        msg = f"expected str, got {value!r}"
        raise TypeError(msg)
    return value


strict_converter.register_structure_hook(int, _structure_int)
strict_converter.register_structure_hook(float, _structure_float)
strict_converter.register_structure_hook(str, _structure_str)
