"""Public exception tree of minigun (base layer: imported by every other layer).

```
MinigunError
├── DefinitionError(ValueError)   bad graph, bad arity, bad option, unavailable executor
│   └── AmbiguousRouteError       a name matches several stages at one level
├── ConfigError(ValueError)       configuration failed validation, one line per problem
├── StageError                    user code in a stage raised; __cause__ is the original
├── HookError                     a hook raised; .event, .hook
├── RoutingError                  a To() aimed at a finished stage or an unknown name
├── ExecutorError(RuntimeError)
│   ├── WorkerCrashedError        a worker process died; .exitcode/.signal, .item_repr
│   └── NotPicklableError         an item or stage cannot cross a process boundary
└── PipelineError(ExceptionGroup, MinigunError)   raised by run(); .report
WouldBlock, EndOfStream           control flow, not failures
```

Every class pickles: ``args`` always holds what ``__init__`` needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = (
    "AmbiguousRouteError",
    "ConfigError",
    "DefinitionError",
    "EndOfStream",
    "ExecutorError",
    "HookError",
    "MinigunError",
    "NotPicklableError",
    "PipelineError",
    "RoutingError",
    "StageError",
    "WorkerCrashedError",
    "WouldBlock",
)

_REPR_LIMIT = 200


def _short_repr(value: object, limit: int = _REPR_LIMIT) -> str:
    """Return ``repr(value)`` cut to *limit* characters (never raises)."""
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not mask the error
        text = f"<unreprable {type(value).__name__}: {exc!r}>"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


class MinigunError(Exception):
    """Base class of every error minigun raises.

    Subclasses that build their message from fields keep the fields in
    ``_fields`` so the error pickles (it crosses process boundaries).
    """

    _fields: tuple[Any, ...] | None = None

    def __reduce__(self) -> Any:
        if self._fields is not None:
            return (type(self), self._fields)
        return super().__reduce__()


class DefinitionError(MinigunError, ValueError):
    """The pipeline or a stage is defined wrongly (raised before anything runs)."""


class AmbiguousRouteError(DefinitionError):
    """A stage name matches several stages at the same level of resolution.

    Attributes:
        name: the name that was looked up.
        candidates: the qualified names it matched.
    """

    def __init__(self, name: str, candidates: Sequence[str], where: str = "") -> None:
        self.name = name
        self.candidates = tuple(candidates)
        self.where = where
        listed = ", ".join(repr(c) for c in self.candidates)
        origin = f" from {where}" if where else ""
        super().__init__(
            f"stage name {name!r}{origin} is ambiguous: it matches {listed}; "
            "use a qualified name"
        )
        self._fields = (name, self.candidates, where)


class ConfigError(MinigunError, ValueError):
    """Configuration failed validation.

    Attributes:
        problems: one line per problem, each starting with the path of the value.
    """

    def __init__(self, problems: Sequence[str] | str) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        super().__init__("\n".join(self.problems))
        self._fields = (self.problems,)


class StageError(MinigunError):
    """User code in a stage raised while handling one item.

    The original exception is ``__cause__`` (and ``error``).

    Attributes:
        stage: the qualified stage name.
        item_repr: ``repr`` of the item, truncated (``None`` for producers).
        error: the original exception.
        worker: the worker index, when known.
    """

    def __init__(
        self,
        stage: str,
        item_repr: str | None,
        error: BaseException,
        worker: int | None = None,
    ) -> None:
        self.stage = stage
        self.item_repr = item_repr
        self.error = error
        self.worker = worker
        on = f" on item {item_repr}" if item_repr is not None else ""
        super().__init__(f"stage {stage!r} failed{on}: {type(error).__name__}: {error}")
        self._fields = (stage, item_repr, error, worker)
        self.__cause__ = error


class HookError(MinigunError):
    """A hook raised.

    Attributes:
        event: the hook event (``before_run``, ...).
        hook: a description of the hook callable.
        stage: the stage the hook ran for, if any.
    """

    def __init__(
        self, event: str, hook: str, error: BaseException, stage: str | None = None
    ) -> None:
        self.event = event
        self.hook = hook
        self.error = error
        self.stage = stage
        where = f" for stage {stage!r}" if stage else ""
        super().__init__(
            f"{event} hook {hook}{where} failed: {type(error).__name__}: {error}"
        )
        self._fields = (event, hook, error, stage)
        self.__cause__ = error


class RoutingError(MinigunError):
    """An item was routed where it cannot go (a finished stage, an unknown name)."""


class ExecutorError(MinigunError, RuntimeError):
    """An executor could not run a stage's work."""


class WorkerCrashedError(ExecutorError):
    """A worker process died while it held an item.

    Attributes:
        stage: the qualified stage name.
        exitcode: the process exit code, or ``None`` when a signal killed it.
        signal: the signal number that killed it, if any.
        item_repr: ``repr`` of the item in flight, if known.
    """

    def __init__(
        self,
        stage: str,
        exitcode: int | None = None,
        signal: int | None = None,
        item_repr: str | None = None,
    ) -> None:
        self.stage = stage
        self.exitcode = exitcode
        self.signal = signal
        self.item_repr = item_repr
        how = f"signal {signal}" if signal is not None else f"exit code {exitcode}"
        on = f" while handling item {item_repr}" if item_repr is not None else ""
        super().__init__(f"a worker of stage {stage!r} died ({how}){on}")
        self._fields = (stage, exitcode, signal, item_repr)


class NotPicklableError(ExecutorError):
    """A stage, an item or a result cannot cross a process boundary.

    Attributes:
        stage: the qualified stage name.
        what: what failed to pickle (``"item"``, ``"result"``, ``"stage"``).
        type_name: the type of the value.
    """

    def __init__(self, stage: str, what: str, type_name: str, reason: str = "") -> None:
        self.stage = stage
        self.what = what
        self.type_name = type_name
        self.reason = reason
        why = f": {reason}" if reason else ""
        super().__init__(
            f"stage {stage!r}: {what} of type {type_name} is not picklable{why}; "
            "make it picklable or use a thread executor"
        )
        self._fields = (stage, what, type_name, reason)


class PipelineError(ExceptionGroup[Exception], MinigunError):
    """A run failed; holds one exception per failure (mostly `StageError`).

    Attributes:
        report: the `RunReport` of the failed run (``None`` until attached).
    """

    report: Any

    def __new__(
        cls, message: str, exceptions: Sequence[Exception], report: Any = None
    ) -> Self:
        """Create the group (``ExceptionGroup`` takes its arguments in ``__new__``)."""
        self = super().__new__(cls, message, exceptions)
        self.report = report
        return self

    def __init__(
        self, message: str, exceptions: Sequence[Exception], report: Any = None
    ) -> None:
        super().__init__(message, exceptions)
        self.report = report

    def derive(self, excs: Sequence[Exception]) -> PipelineError:  # type: ignore[override]
        """Return a group of the same kind holding *excs* (used by ``split``)."""
        return PipelineError(self.message, excs, self.report)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, list(self.exceptions), self.report))


class WouldBlock(Exception):  # noqa: N818 - a control-flow signal, not a failure
    """A ``*_nowait`` operation could not complete at once."""


class EndOfStream(Exception):  # noqa: N818 - a control-flow signal, not a failure
    """The queue is closed and empty: no item will ever arrive."""
