"""Decorator DSL: pipelines declared as classes (presentation layer).

The DSL is sugar over the object model of SPEC §1: a `Task` subclass lists
stage methods (`producer`, `processor`, `consumer`, `accumulator`), custom
stage classes (`stage`), nested pipelines (nested `Task` classes and
`pipeline`), hooks (`before_run`, `after_run`, `before_fork`, `after_fork`,
`before`, `after`, `on_error`) and config defaults (class attributes named
like `Config` fields). `Task.build` turns that declaration into a fresh
`Pipeline` of ordinary `Producer` / `Processor` / `Accumulator` stages, using
only their public constructors and `Pipeline.add` / `connect` / `parallel` /
`reroute` / `hooks`; the DSL has no run-time logic of its own.

Everything a class body declares is collected once, when the class is
created (``__init_subclass__``), into a class-level blueprint; inheritance
merges the parents' blueprints. Nothing is stored on instances, so a
subclass may define ``__init__`` freely (without calling ``super()``).

Example:
    >>> import minigun as mg
    >>> class Double(mg.Task):
    ...     def __init__(self, n):
    ...         self.n = n
    ...         self.out = []
    ...
    ...     @mg.producer
    ...     def numbers(self):
    ...         yield from range(self.n)
    ...
    ...     @mg.processor(threads=lambda self: 2)
    ...     def double(self, x):
    ...         return x * 2
    ...
    ...     @mg.consumer
    ...     def save(self, x):
    ...         self.out.append(x)
    >>> task = Double(4)
    >>> task.run(timeout=10).status
    'succeeded'
    >>> sorted(task.out)
    [0, 2, 4, 6]
"""

from __future__ import annotations

import abc
import inspect
import re
import sys
import types
from collections.abc import Callable, Sequence
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Concatenate,
    Generic,
    Literal,
    ParamSpec,
    Protocol,
    TypedDict,
    TypeVar,
    cast,
    final,
    overload,
)

import attrs

# Imported under private names: minigun.dsl exports only its own API.
from ._config import Config as _Config
from ._pipeline import Pipeline as _Pipeline
from ._stage import Accumulator as _Accumulator
from ._stage import Processor as _Processor
from ._stage import Producer as _Producer
from ._stage import Stage as _Stage
from .errors import ConfigError as _ConfigError
from .errors import DefinitionError as _DefinitionError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from typing import Self, Unpack

    from ._pipeline import Pipeline
    from ._report import RunReport
    from ._router import Router
    from ._runtime import RunHandle
    from ._stage import ExecutorLike, Stage

__all__ = (
    "AccumulatorKeywords",
    "HookMethod",
    "PerTask",
    "PipelineDef",
    "PipelineKeywords",
    "ProducerKeywords",
    "StageClass",
    "StageKeywords",
    "StageMethod",
    "Task",
    "TaskMeta",
    "accumulator",
    "after",
    "after_fork",
    "after_run",
    "after_stage",
    "before",
    "before_fork",
    "before_run",
    "before_stage",
    "connect",
    "consumer",
    "on_error",
    "parallel",
    "pipeline",
    "processor",
    "producer",
    "reroute",
    "stage",
)

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
V = TypeVar("V")
S = TypeVar("S", bound="Stage[Any, Any]")
TT = TypeVar("TT", bound="Task")

#: A value computed from the task instance in `Task.build`: a function whose
#: first parameter is named ``self`` (``lambda self: self.workers``). The
#: parameter is typed `Any` so the lambda can read the subclass's attributes.
PerTask = Callable[[Any], V]


class StageKeywords(TypedDict, total=False):
    """The stage options of SPEC §1.2 as DSL keywords.

    Every data option may also be a `PerTask` function, called with the
    instance when the pipeline is built. Options that take a callable
    (``on_error``, ``before``, ``after``, ``before_fork``, ``after_fork``)
    bind a function whose first parameter is ``self`` to the instance.
    """

    to: str | Stage[Any, Any] | Sequence[str | Stage[Any, Any]] | PerTask[Any] | None
    from_: str | Stage[Any, Any] | Sequence[str | Stage[Any, Any]] | PerTask[Any] | None
    executor: ExecutorLike | PerTask[ExecutorLike | None] | None
    threads: int | PerTask[int | None] | None
    processes: int | PerTask[int | None] | None
    interpreters: int | PerTask[int | None] | None
    router: Router | PerTask[Router | None] | None
    routing: Literal["broadcast", "round_robin"] | PerTask[str | None] | None
    queue_size: int | PerTask[int | None] | None
    max_retries: int | PerTask[int | None] | None
    retry_delay: float | PerTask[float | None] | None
    retry_backoff: float | PerTask[float | None] | None
    retry_on: (
        type[BaseException]
        | Sequence[type[BaseException]]
        | PerTask[type[BaseException] | Sequence[type[BaseException]] | None]
        | None
    )
    on_error: Literal["raise", "skip"] | Callable[..., object] | None
    dead_letter: str | Stage[Any, Any] | PerTask[str | Stage[Any, Any] | None] | None
    ordered: bool | PerTask[bool]
    item_timeout: float | PerTask[float | None] | None
    auto_start: bool | PerTask[bool]
    before: Callable[..., object] | Sequence[Callable[..., object]] | None
    after: Callable[..., object] | Sequence[Callable[..., object]] | None
    before_fork: Callable[..., object] | Sequence[Callable[..., object]] | None
    after_fork: Callable[..., object] | Sequence[Callable[..., object]] | None


class ProducerKeywords(StageKeywords, total=False):
    """`StageKeywords` plus `Producer`'s ``total``."""

    total: int | PerTask[int | None] | None


class AccumulatorKeywords(StageKeywords, total=False):
    """`StageKeywords` plus `Accumulator`'s ``max_size``, ``max_wait`` and ``key``."""

    max_size: int | PerTask[int]
    max_wait: float | PerTask[float | None] | None
    key: Callable[..., object] | None
    clock: Callable[..., float]


class PipelineKeywords(StageKeywords, total=False):
    """Options of a nested pipeline: its stage options and `Config` overrides.

    ``queue_size``, ``max_retries``, ``retry_delay``, ``retry_backoff`` and
    ``on_error`` are `Config` fields here: they set the nested pipeline's
    defaults, as ``Pipeline(name, **kwargs)`` does.
    """

    max_threads: int | PerTask[int | None] | None
    max_processes: int | PerTask[int | None] | None
    max_interpreters: int | PerTask[int | None] | None
    min_threads: int | PerTask[int | None] | None
    log_level: str | PerTask[str]
    chunk_size: int | PerTask[int]
    shutdown_timeout: float | PerTask[float]


# Options whose value is itself a callable: a function of ``self`` there is
# bound to the instance instead of being called.
_CALLABLE_OPTIONS = frozenset(
    {"on_error", "key", "clock", "before", "after", "before_fork", "after_fork"}
)
_CONFIG_FIELDS = frozenset(a.name for a in attrs.fields(_Config))
_KINDS: dict[str, type[Stage[Any, Any]]] = {
    "producer": _Producer,
    "processor": _Processor,
    "consumer": _Processor,
    "accumulator": _Accumulator,
}
# Keyword arguments each hook event passes (SPEC §6).
_HOOK_KEYWORDS: dict[str, frozenset[str]] = {
    "before_run": frozenset({"pipeline"}),
    "after_run": frozenset({"pipeline"}),
    "before_stage": frozenset({"stage", "pipeline"}),
    "after_stage": frozenset({"stage", "pipeline"}),
    "before_fork": frozenset({"stage", "pipeline"}),
    "after_fork": frozenset({"stage", "pipeline"}),
    "on_error": frozenset({"error", "item", "stage"}),
}
# How error messages name the decorator of each event.
_HOOK_DECORATOR_NAMES = {
    **{e: f"@mg.{e}" for e in _HOOK_KEYWORDS},
    "before_stage": "@mg.before",
    "after_stage": "@mg.after",
}
# Task's own API: a member with one of these attribute names would hide it.
_RESERVED = frozenset({"build", "run", "start"})
_BODY_KEY = "_minigun_body_"
_OUTER_KEY = "_minigun_outer_"


def _snake(name: str) -> str:
    """``LoadUsers`` -> ``load_users``, ``ETLJob`` -> ``etl_job``."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _is_self_function(value: object) -> bool:
    """Return whether *value* is a function whose first parameter is ``self``."""
    if not inspect.isfunction(value):
        return False
    try:
        params = list(inspect.signature(value).parameters.values())
    except (TypeError, ValueError):  # pragma: no cover - plain functions have one
        return False
    return (
        bool(params)
        and params[0].name == "self"
        and params[0].kind
        in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD)
    )


def _per_task(value: object) -> bool:
    """Return whether *value* (or an element of it) depends on the instance."""
    if _is_self_function(value):
        return True
    if isinstance(value, list | tuple):
        return any(_is_self_function(v) for v in value)
    return False


def _resolve(options: dict[str, Any], task: Task, where: str) -> dict[str, Any]:
    """Turn DSL option values into constructor values for *task*."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key in _CALLABLE_OPTIONS:
            if isinstance(value, list | tuple):
                out[key] = type(value)(_bind(v, task) for v in value)
            else:
                out[key] = _bind(value, task)
        elif _is_self_function(value):
            try:
                out[key] = value(task)
            except TypeError as exc:
                msg = (
                    f"{where}: option {key}= could not be computed from the task: {exc}"
                )
                raise _DefinitionError(msg) from exc
        else:
            out[key] = value
    return out


def _bind(value: object, task: Task) -> object:
    if _is_self_function(value):
        return types.MethodType(cast("Callable[..., Any]", value), task)
    return value


def _where(frame: types.FrameType | None) -> str:
    if frame is None:  # pragma: no cover - CPython always has frames
        return "outside a class body"
    ns = frame.f_locals
    if ns is frame.f_globals:
        return "at module level"
    if "__qualname__" in ns and "__module__" in ns:
        return f"in class {ns['__qualname__']}, which is not a mg.Task subclass"
    return f"in function {frame.f_code.co_qualname}()"


def _task_body(frame: types.FrameType | None, what: str) -> _TaskNamespace:
    """Return the namespace of the Task class body *frame* runs, or raise."""
    ns = frame.f_locals if frame is not None else None
    if isinstance(ns, _TaskNamespace):
        return ns
    msg = f"{what} must be used in the body of a mg.Task subclass, not {_where(frame)}"
    raise _DefinitionError(msg)


def _caller(depth: int) -> types.FrameType | None:
    """Return the frame *depth* levels above the caller of this function."""
    return sys._getframe(depth + 1)  # noqa: SLF001 - the class-body check needs it


def _method_label(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__qualname__', repr(fn))}()"


def _check_method(fn: object, what: str) -> None:
    """Check *fn* is a plain function taking ``self`` first."""
    if not inspect.isfunction(fn):
        msg = f"{what} decorates a method (def name(self, ...)), got {fn!r}"
        raise _DefinitionError(msg)
    params = list(inspect.signature(fn).parameters.values())
    if not params or params[0].kind not in (
        params[0].POSITIONAL_ONLY,
        params[0].POSITIONAL_OR_KEYWORD,
        params[0].VAR_POSITIONAL,
    ):
        msg = (
            f"{what}: method {_method_label(fn)} takes no self parameter; "
            f"define it as def {fn.__name__}(self, ...)"
        )
        raise _DefinitionError(msg)


def _probe_stage(
    kind: str, name: str, fn: Callable[..., Any], options: dict[str, Any]
) -> None:
    """Validate *fn* and the static *options* by building a throwaway stage.

    The method is bound to a placeholder, so ``Stage.validate`` applies its
    own arity rules without counting ``self`` and names the method.
    """
    static = {k: v for k, v in options.items() if not _per_task(v)}
    if "executor" in options and "executor" not in static:
        return  # the async/executor check needs the real executor
    bound = types.MethodType(fn, _PLACEHOLDER)
    try:
        _KINDS[kind](name, bound, **static)
    except _DefinitionError as exc:
        if fn.__qualname__ in str(exc):
            raise
        msg = f"@mg.{kind} on {_method_label(fn)}: {exc}"
        raise _DefinitionError(msg) from None


_PLACEHOLDER = object()


def _check_hook_method(fn: Callable[..., Any], event: str, what: str) -> None:
    """Check every required parameter of the hook (besides self) is passed."""
    given = _HOOK_KEYWORDS[event]
    params = list(inspect.signature(fn).parameters.values())[1:]
    for p in params:
        if p.default is not p.empty or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        if p.kind is p.POSITIONAL_ONLY or p.name not in given:
            msg = (
                f"{what}: hook method {_method_label(fn)} requires parameter "
                f"{p.name!r}, which {event} hooks are not given (they receive "
                f"keyword arguments {', '.join(sorted(given))})"
            )
            raise _DefinitionError(msg)


def _check_name(name: object, what: str) -> None:
    if name is not None and (not isinstance(name, str) or not name or "." in name):
        msg = f"{what}: name must be a non-empty string without '.', got {name!r}"
        raise _DefinitionError(msg)


# --------------------------------------------------------------------------
# Members: what the decorators return


class _Member:
    """Base of everything a Task body declares with a decorator."""

    __slots__ = ("name", "override")

    name: str | None
    override: bool


class _MethodMember(_Member, Generic[T, P, R]):
    """A decorated method: an instance reads it bound, the class reads the member."""

    __slots__ = ("fn",)

    fn: Callable[Concatenate[T, P], R]

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(self, obj: T, owner: type[Any] | None = None) -> Callable[P, R]: ...
    def __get__(
        self, obj: T | None, owner: type[Any] | None = None
    ) -> Self | Callable[P, R]:
        if obj is None:
            return self
        return cast("Callable[P, R]", types.MethodType(self.fn, obj))


@final
class StageMethod(_MethodMember[T, P, R]):
    """A method declared as a stage (`producer`, `processor`, `consumer`...).

    Reading it from an instance gives the bound method (call it in tests);
    reading it from the class gives this declaration.

    Attributes:
        kind: ``"producer"``, ``"processor"``, ``"consumer"`` or ``"accumulator"``.
        fn: the decorated function (``self`` first).
        name: the stage name given with ``name=``, or ``None`` (the attribute name).
        override: whether it replaces an inherited stage of the same name.
        options: the decorator keywords (stage options).
    """

    __slots__ = ("kind", "options")

    def __init__(
        self,
        kind: str,
        fn: Callable[Concatenate[T, P], R],
        name: str | None,
        override: bool,
        options: dict[str, Any],
    ) -> None:
        """Record a stage declaration (use the decorators instead)."""
        self.kind = kind
        self.fn = fn
        self.name = name
        self.override = override
        self.options = options

    def __repr__(self) -> str:
        return f"<{self.kind} {self.fn.__qualname__}>"


@final
class HookMethod(_MethodMember[T, P, R]):
    """A method declared as a hook (`before_run`, `on_error`, ...).

    Attributes:
        event: the hook event (SPEC §6).
        fn: the decorated function (``self`` first).
        stage: the stage the hook is limited to, or ``None``.
        errors: for ``on_error``: the exception types, or ``None`` for all.
        prepend: register with `HookChain.prepend` instead of ``append``.
        override: whether it replaces an inherited hook of the same attribute.
    """

    __slots__ = ("errors", "event", "prepend", "stage")

    def __init__(
        self,
        event: str,
        fn: Callable[Concatenate[T, P], R],
        *,
        stage: str | None = None,
        errors: tuple[type[BaseException], ...] | None = None,
        prepend: bool = False,
        override: bool = False,
    ) -> None:
        """Record a hook declaration (use the decorators instead)."""
        self.event = event
        self.fn = fn
        self.stage = stage
        self.errors = errors
        self.prepend = prepend
        self.override = override
        self.name = None

    def __repr__(self) -> str:
        return f"<{self.event} hook {self.fn.__qualname__}>"


@final
class StageClass(_Member, Generic[S]):
    """A custom `Stage` subclass declared in a Task body with `stage`.

    Reading it gives back the class; `Task.build` adds
    ``cls(name, **options)``.

    Attributes:
        cls: the Stage subclass.
        name: the stage name given with ``name=``, or ``None`` (the attribute
            name in snake_case).
        override: whether it replaces an inherited stage of the same name.
        options: constructor keywords.
    """

    __slots__ = ("cls", "options")

    def __init__(
        self,
        cls: type[S],
        *,
        name: str | None,
        override: bool,
        options: dict[str, Any],
    ) -> None:
        """Record a stage class declaration (use `stage` instead)."""
        self.cls = cls
        self.name = name
        self.override = override
        self.options = options

    def __get__(self, obj: object, owner: type[Any] | None = None) -> type[S]:
        return self.cls

    def __repr__(self) -> str:
        return f"<stage class {self.cls.__qualname__}>"


@final
class PipelineDef(_Member, Generic[TT]):
    """A `Task` class used as a nested pipeline, with its routing options.

    Created by `pipeline`; reading it gives back the Task class.

    Attributes:
        task: the Task class whose pipeline is nested.
        name: the nested pipeline's name, or ``None``.
        override: whether it replaces an inherited member of the same name.
        options: `PipelineKeywords` for ``Pipeline(name, **options)``.
    """

    __slots__ = ("options", "task")

    def __init__(
        self,
        task: type[TT],
        *,
        name: str | None,
        override: bool,
        options: dict[str, Any],
    ) -> None:
        """Record a nested pipeline declaration (use `pipeline` instead)."""
        self.task = task
        self.name = name
        self.override = override
        self.options = options

    def __get__(self, obj: object, owner: type[Any] | None = None) -> type[TT]:
        return self.task

    def __repr__(self) -> str:
        return f"<pipeline {self.task.__qualname__}>"


class _StageDecorator(Protocol):
    def __call__(
        self, fn: Callable[Concatenate[T, P], R], /
    ) -> StageMethod[T, P, R]: ...


class _HookDecorator(Protocol):
    def __call__(
        self, fn: Callable[Concatenate[T, P], R], /
    ) -> HookMethod[T, P, R]: ...


class _StageClassDecorator(Protocol):
    def __call__(self, cls: type[S], /) -> StageClass[S]: ...


class _PipelineDecorator(Protocol):
    def __call__(self, task: type[TT], /) -> PipelineDef[TT]: ...


# --------------------------------------------------------------------------
# Stage decorators


def _stage_method(
    kind: str,
    fn: Callable[..., Any],
    *,
    name: str | None,
    override: bool,
    options: dict[str, Any],
    frame: types.FrameType | None,
) -> StageMethod[Any, Any, Any]:
    what = f"@mg.{kind}"
    _task_body(frame, what)
    _check_method(fn, what)
    _probe_stage(kind, name or fn.__name__, fn, options)
    return StageMethod(kind, fn, name, override, options)


def _stage_decorator(
    kind: str,
    fn: object,
    name: str | None,
    override: bool,
    options: dict[str, Any],
) -> Any:
    what = f"@mg.{kind}"
    _check_name(name, what)
    if fn is None:

        def decorate(f: Callable[..., Any]) -> StageMethod[Any, Any, Any]:
            return _stage_method(
                kind, f, name=name, override=override, options=options, frame=_caller(1)
            )

        return decorate
    if isinstance(fn, str):
        msg = f"{what} takes the stage name as name={fn!r}, not positionally"
        raise _DefinitionError(msg)
    if options or name is not None or override:
        msg = f"{what}: give options as @mg.{kind}(...) keywords, not with a function"
        raise _DefinitionError(msg)
    return _stage_method(
        kind,
        cast("Callable[..., Any]", fn),
        name=None,
        override=False,
        options={},
        frame=_caller(2),
    )


@overload
def producer(fn: Callable[Concatenate[T, P], R], /) -> StageMethod[T, P, R]: ...
@overload
def producer(
    *,
    name: str | None = None,
    override: bool = False,
    **options: Unpack[ProducerKeywords],
) -> _StageDecorator: ...
def producer(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    override: bool = False,
    **options: Any,
) -> Any:
    """Declare a method as a `Producer`: ``def name(self)`` yields or returns items.

    Use bare (``@mg.producer``) or with options
    (``@mg.producer(total=100, name="source")``). The method runs bound to
    the task instance, in the producer's own thread.

    Args:
        fn: the method (bare form).
        name: the stage name (default: the attribute name).
        override: replace the inherited stage of the same name.
        **options: `ProducerKeywords`; data values may be `PerTask` functions.

    Returns:
        A `StageMethod` (or a decorator making one).

    Raises:
        DefinitionError: used outside a Task body, the method takes
            parameters besides ``self``, or an option is invalid.
    """
    return _stage_decorator("producer", fn, name, override, options)


@overload
def processor(fn: Callable[Concatenate[T, P], R], /) -> StageMethod[T, P, R]: ...
@overload
def processor(
    *,
    name: str | None = None,
    override: bool = False,
    **options: Unpack[StageKeywords],
) -> _StageDecorator: ...
def processor(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    override: bool = False,
    **options: Any,
) -> Any:
    """Declare a method as a `Processor`: ``def name(self, item[, emit])``.

    It emits by returning a value, yielding, or calling ``emit``, exactly as
    a `Processor` function. With ``threads=`` / ``processes=`` it runs in
    worker threads or forked worker processes, still bound to the instance
    (a forked worker has its own copy of it).

    Args:
        fn: the method (bare form).
        name: the stage name (default: the attribute name).
        override: replace the inherited stage of the same name.
        **options: `StageKeywords`; data values may be `PerTask` functions.

    Returns:
        A `StageMethod` (or a decorator making one).

    Raises:
        DefinitionError: used outside a Task body, the method does not take
            ``(self, item)`` or ``(self, item, emit)``, or an option is invalid.
    """
    return _stage_decorator("processor", fn, name, override, options)


@overload
def consumer(fn: Callable[Concatenate[T, P], R], /) -> StageMethod[T, P, R]: ...
@overload
def consumer(
    *,
    name: str | None = None,
    override: bool = False,
    **options: Unpack[StageKeywords],
) -> _StageDecorator: ...
def consumer(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    override: bool = False,
    **options: Any,
) -> Any:
    """Declare a method as a `Consumer` (the same class as `Processor`).

    Args:
        fn: the method (bare form).
        name: the stage name (default: the attribute name).
        override: replace the inherited stage of the same name.
        **options: `StageKeywords`; data values may be `PerTask` functions.

    Returns:
        A `StageMethod` (or a decorator making one).

    Raises:
        DefinitionError: as for `processor`.
    """
    return _stage_decorator("consumer", fn, name, override, options)


@overload
def accumulator(fn: Callable[Concatenate[T, P], R], /) -> StageMethod[T, P, R]: ...
@overload
def accumulator(
    *,
    name: str | None = None,
    override: bool = False,
    **options: Unpack[AccumulatorKeywords],
) -> _StageDecorator: ...
def accumulator(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    override: bool = False,
    **options: Any,
) -> Any:
    """Declare a method as an `Accumulator`: ``def name(self, batch[, emit])``.

    The method handles each batch of up to ``max_size`` items (return the
    batch to pass it on unchanged).

    Args:
        fn: the method (bare form).
        name: the stage name (default: the attribute name).
        override: replace the inherited stage of the same name.
        **options: `AccumulatorKeywords` (``max_size``, ``max_wait``, ``key``
            and the stage options); data values may be `PerTask` functions.

    Returns:
        A `StageMethod` (or a decorator making one).

    Raises:
        DefinitionError: used outside a Task body, the method does not take
            ``(self, batch)`` or ``(self, batch, emit)``, or an option is invalid.
    """
    return _stage_decorator("accumulator", fn, name, override, options)


@overload
def stage(cls: type[S], /) -> StageClass[S]: ...
@overload
def stage(
    *, name: str | None = None, override: bool = False, **options: object
) -> _StageClassDecorator: ...
def stage(
    cls: object = None,
    /,
    *,
    name: str | None = None,
    override: bool = False,
    **options: object,
) -> Any:
    """Declare a custom `Stage` subclass, defined in the Task body, as a stage.

    `Task.build` adds ``cls(name, **options)``: the keywords are the class's
    constructor keywords (stage options for the built-in kinds). The stage's
    methods run bound to the *stage* object; pass the task in with a
    `PerTask` keyword (``task=lambda self: self``) if the class accepts one.

    Args:
        cls: the class (bare form).
        name: the stage name (default: the attribute name in snake_case).
        override: replace the inherited stage of the same name.
        **options: constructor keywords; data values may be `PerTask` functions.

    Returns:
        A `StageClass` (or a decorator making one).

    Raises:
        DefinitionError: used outside a Task body, or *cls* is not a Stage
            subclass (a `Pipeline` is declared as a nested Task instead).
    """
    _check_name(name, "@mg.stage")

    def decorate(c: object, frame: types.FrameType | None) -> StageClass[Any]:
        _task_body(frame, "@mg.stage")
        if not isinstance(c, type) or not issubclass(c, _Stage):
            msg = f"@mg.stage decorates a Stage subclass, got {c!r}"
            raise _DefinitionError(msg)
        if issubclass(c, _Pipeline):
            msg = (
                f"@mg.stage: {c.__qualname__} is a Pipeline; declare nested "
                "pipelines as nested mg.Task classes or with mg.pipeline()"
            )
            raise _DefinitionError(msg)
        return StageClass(c, name=name, override=override, options=dict(options))

    if cls is None:
        return lambda c: decorate(c, _caller(1))
    if isinstance(cls, str):
        msg = f"@mg.stage takes the stage name as name={cls!r}, not positionally"
        raise _DefinitionError(msg)
    return decorate(cls, _caller(1))


@overload
def pipeline(task: type[TT], /) -> PipelineDef[TT]: ...
@overload
def pipeline(
    name: str | None = None,
    /,
    *,
    override: bool = False,
    **options: Unpack[PipelineKeywords],
) -> _PipelineDecorator: ...
def pipeline(
    task: type[Task] | str | None = None,
    /,
    *,
    override: bool = False,
    **options: Any,
) -> Any:
    """Nest a Task class's pipeline, with a name and routing options.

    Two forms, both in a Task body::

        @mg.pipeline("extract", to="load")     # decorate a nested Task class
        class Extract(mg.Task): ...

        load = mg.pipeline(to=())(LoadTask)    # nest a Task class defined elsewhere

    A nested Task class without the decorator is nested too, with no
    options. When the outer task is built, the nested class is instantiated
    without arguments; attributes it does not have are read from the outer
    instance, so its stages can use the outer task's state.

    Args:
        task: the Task class (bare form), or the pipeline name.
        override: replace the inherited member of the same name.
        **options: `PipelineKeywords`: ``to=``, ``from_=``, ``routing=``,
            ``router=``, hooks, and `Config` overrides for the nested pipeline.
            `PerTask` functions get the outer instance.

    Returns:
        A `PipelineDef` (or a decorator making one).

    Raises:
        DefinitionError: used outside a Task body, or not given a Task class.
    """
    name = options.pop("name", None)
    if isinstance(task, str):
        if name is not None:
            msg = f"mg.pipeline() got two names, {task!r} and name={name!r}"
            raise _DefinitionError(msg)
        name, task = task, None
    _check_name(name, "mg.pipeline")

    def decorate(t: type[Any], frame: types.FrameType | None) -> PipelineDef[Any]:
        _task_body(frame, "mg.pipeline()")
        if not isinstance(t, TaskMeta):
            msg = f"mg.pipeline() nests a mg.Task subclass, got {t!r}"
            raise _DefinitionError(msg)
        return PipelineDef(t, name=name, override=override, options=dict(options))

    if task is None:
        return lambda t: decorate(t, _caller(1))
    return decorate(task, _caller(1))


# --------------------------------------------------------------------------
# Hook decorators


def _hook_decorator(
    event: str,
    fn: object,
    *,
    stage: str | None = None,
    errors: tuple[type[BaseException], ...] | None = None,
    prepend: bool = False,
    override: bool = False,
    depth: int,
) -> Any:
    what = _HOOK_DECORATOR_NAMES[event]
    if stage is not None and (not isinstance(stage, str) or not stage):
        msg = f"{what}: stage must be a stage name, got {stage!r}"
        raise _DefinitionError(msg)

    def decorate(f: object, frame: types.FrameType | None) -> HookMethod[Any, Any, Any]:
        _task_body(frame, what)
        _check_method(f, what)
        fn_ = cast("Callable[..., Any]", f)
        _check_hook_method(fn_, event, what)
        return HookMethod(
            event, fn_, stage=stage, errors=errors, prepend=prepend, override=override
        )

    if fn is None:
        return lambda f: decorate(f, _caller(1))
    return decorate(fn, _caller(depth))


@overload
def before_run(fn: Callable[Concatenate[T, P], R], /) -> HookMethod[T, P, R]: ...
@overload
def before_run(*, prepend: bool = False, override: bool = False) -> _HookDecorator: ...
def before_run(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    prepend: bool = False,
    override: bool = False,
) -> Any:
    """Declare a method as a ``before_run`` hook: once, before any stage starts.

    The method may accept ``pipeline``. A hook that raises fails the run
    with `HookError`.

    Args:
        fn: the method (bare form).
        prepend: run before the hooks declared earlier (and the parent's).
        override: replace the inherited hook with the same attribute name.

    Returns:
        A `HookMethod` (or a decorator making one).

    Raises:
        DefinitionError: used outside a Task body, or the method requires a
            parameter the event does not pass.
    """
    return _hook_decorator(
        "before_run", fn, prepend=prepend, override=override, depth=2
    )


@overload
def after_run(fn: Callable[Concatenate[T, P], R], /) -> HookMethod[T, P, R]: ...
@overload
def after_run(*, prepend: bool = False, override: bool = False) -> _HookDecorator: ...
def after_run(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    prepend: bool = False,
    override: bool = False,
) -> Any:
    """Declare a method as an ``after_run`` hook: once after the run, even a failed one.

    Args:
        fn: the method (bare form).
        prepend: run before the hooks declared earlier (and the parent's).
        override: replace the inherited hook with the same attribute name.

    Returns:
        A `HookMethod` (or a decorator making one).

    Raises:
        DefinitionError: as for `before_run`.
    """
    return _hook_decorator("after_run", fn, prepend=prepend, override=override, depth=2)


def _stage_hook(event: str, arg: object, prepend: bool, override: bool) -> Any:
    if isinstance(arg, str) or arg is None:
        return _hook_decorator(
            event, None, stage=arg, prepend=prepend, override=override, depth=1
        )
    return _hook_decorator(event, arg, prepend=prepend, override=override, depth=3)


@overload
def before_fork(fn: Callable[Concatenate[T, P], R], /) -> HookMethod[T, P, R]: ...
@overload
def before_fork(
    stage: str | None = None, /, *, prepend: bool = False, override: bool = False
) -> _HookDecorator: ...
def before_fork(
    fn: Callable[..., Any] | str | None = None,
    /,
    *,
    prepend: bool = False,
    override: bool = False,
) -> Any:
    """Declare a ``before_fork`` hook: in the parent, before each worker process.

    Bare, it applies to every forking stage of the pipeline (and its nested
    pipelines); ``@mg.before_fork("save")`` limits it to one stage. Close
    what must not cross a fork (database connections, sockets) here.

    Args:
        fn: the method (bare form), or the stage name.
        prepend: run before the hooks declared earlier (and the parent's).
        override: replace the inherited hook with the same attribute name.

    Returns:
        A `HookMethod` (or a decorator making one).

    Raises:
        DefinitionError: as for `before_run`.
    """
    return _stage_hook("before_fork", fn, prepend, override)


@overload
def after_fork(fn: Callable[Concatenate[T, P], R], /) -> HookMethod[T, P, R]: ...
@overload
def after_fork(
    stage: str | None = None, /, *, prepend: bool = False, override: bool = False
) -> _HookDecorator: ...
def after_fork(
    fn: Callable[..., Any] | str | None = None,
    /,
    *,
    prepend: bool = False,
    override: bool = False,
) -> Any:
    """Declare an ``after_fork`` hook: in each worker process, after the fork.

    It runs on the worker's copy of the task instance, so what it sets on
    ``self`` (a fresh connection) is what the stage methods of that worker
    see. Bare, it applies to every forking stage; ``@mg.after_fork("save")``
    limits it to one.

    Args:
        fn: the method (bare form), or the stage name.
        prepend: run before the hooks declared earlier (and the parent's).
        override: replace the inherited hook with the same attribute name.

    Returns:
        A `HookMethod` (or a decorator making one).

    Raises:
        DefinitionError: as for `before_run`.
    """
    return _stage_hook("after_fork", fn, prepend, override)


@overload
def before(fn: Callable[Concatenate[T, P], R], /) -> HookMethod[T, P, R]: ...
@overload
def before(
    stage: str | None = None, /, *, prepend: bool = False, override: bool = False
) -> _HookDecorator: ...
def before(
    fn: Callable[..., Any] | str | None = None,
    /,
    *,
    prepend: bool = False,
    override: bool = False,
) -> Any:
    """Declare a ``before_stage`` hook: once when the stage starts.

    ``@mg.before("parse")`` limits it to one stage (a name relative to this
    Task's pipeline, ``"inner.parse"`` for a nested one); bare, it runs for
    every stage. `before_stage` is the same decorator.

    Args:
        fn: the method (bare form), or the stage name.
        prepend: run before the hooks declared earlier (and the parent's).
        override: replace the inherited hook with the same attribute name.

    Returns:
        A `HookMethod` (or a decorator making one).

    Raises:
        DefinitionError: as for `before_run`; `Pipeline.validate` raises it
            for an unknown stage name.
    """
    return _stage_hook("before_stage", fn, prepend, override)


@overload
def after(fn: Callable[Concatenate[T, P], R], /) -> HookMethod[T, P, R]: ...
@overload
def after(
    stage: str | None = None, /, *, prepend: bool = False, override: bool = False
) -> _HookDecorator: ...
def after(
    fn: Callable[..., Any] | str | None = None,
    /,
    *,
    prepend: bool = False,
    override: bool = False,
) -> Any:
    """Declare an ``after_stage`` hook: once after the stage's last item and flush.

    ``@mg.after("save")`` limits it to one stage; bare, it runs for every
    stage. `after_stage` is the same decorator.

    Args:
        fn: the method (bare form), or the stage name.
        prepend: run before the hooks declared earlier (and the parent's).
        override: replace the inherited hook with the same attribute name.

    Returns:
        A `HookMethod` (or a decorator making one).

    Raises:
        DefinitionError: as for `before`.
    """
    return _stage_hook("after_stage", fn, prepend, override)


before_stage = before
after_stage = after


@overload
def on_error(  # type: ignore[overload-overlap]  # a class is not a method
    *errors: type[BaseException],
    stage: str | None = None,
    prepend: bool = False,
    override: bool = False,
) -> _HookDecorator: ...
@overload
def on_error(fn: Callable[Concatenate[T, P], R], /) -> HookMethod[T, P, R]: ...
def on_error(
    *errors: Any,
    stage: str | None = None,
    prepend: bool = False,
    override: bool = False,
) -> Any:
    """Declare an ``on_error`` hook: called once per failed item (after retries).

    ``@mg.on_error`` takes every exception; ``@mg.on_error(KeyError,
    ValueError)`` only those types; ``stage=`` limits it to one stage. The
    method may accept ``error``, ``item`` and ``stage``. It observes the
    failure; the stage's ``on_error=`` option decides what happens to the
    item. A hook that raises is logged and ignored.

    Args:
        *errors: exception types (or the method, in the bare form).
        stage: limit the hook to this stage.
        prepend: run before the hooks declared earlier (and the parent's).
        override: replace the inherited hook with the same attribute name.

    Returns:
        A `HookMethod` (or a decorator making one).

    Raises:
        DefinitionError: used outside a Task body, an argument is not an
            exception type, or the method requires a parameter not passed.
    """
    if len(errors) == 1 and inspect.isfunction(errors[0]):
        if stage is not None or prepend or override:  # pragma: no cover - typing
            msg = "@mg.on_error: give options as @mg.on_error(...) keywords"
            raise _DefinitionError(msg)
        return _hook_decorator("on_error", errors[0], depth=2)
    for e in errors:
        if not (isinstance(e, type) and issubclass(e, BaseException)):
            msg = f"@mg.on_error takes exception types, got {e!r}"
            raise _DefinitionError(msg)
    return _hook_decorator(
        "on_error",
        None,
        stage=stage,
        errors=tuple(errors) or None,
        prepend=prepend,
        override=override,
        depth=1,
    )


# --------------------------------------------------------------------------
# Class-body statements


@attrs.define
class _BodyRecord:
    """What statements in one class body declared besides attributes."""

    groups: list[list[str]] = attrs.field(factory=list)
    reroutes: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    connects: list[tuple[str, str, float | None]] = attrs.field(factory=list)


class _TaskNamespace(dict[str, Any]):
    """The namespace of a Task class body: records parallel groups."""

    def __init__(self) -> None:
        super().__init__()
        self.record = _BodyRecord()
        self.group: list[str] | None = None

    def __setitem__(self, key: str, value: Any) -> None:
        if self.group is not None:
            self.group.append(key)
        super().__setitem__(key, value)


class _ParallelBlock:
    """``with mg.parallel():`` in a Task body."""

    def __init__(self, ns: _TaskNamespace) -> None:
        self._ns = ns

    def __enter__(self) -> None:
        if self._ns.group is not None:
            msg = "mg.parallel() groups cannot be nested"
            raise _DefinitionError(msg)
        self._ns.group = []

    def __exit__(self, *exc: object) -> None:
        group, self._ns.group = self._ns.group, None
        if group:
            self._ns.record.groups.append(group)


def parallel() -> AbstractContextManager[None]:
    """Group the stages declared in a ``with`` block of a Task body.

    As `Pipeline.parallel`: members are not chained to each other; the stage
    before the group feeds every member; members without explicit outgoing
    edges feed the stage after the group. Stage methods, stage classes and
    nested pipelines declared in the block are members.

    Returns:
        A context manager for the ``with`` statement.

    Raises:
        DefinitionError: used outside a Task body, or blocks are nested.
    """
    return _ParallelBlock(_task_body(_caller(1), "mg.parallel()"))


def reroute(stage: str, *, to: str | Sequence[str]) -> None:
    """Replace the outgoing edges of *stage* with edges to *to* (class-body statement).

    The `Pipeline.reroute` of the DSL, mostly for subclasses: write
    ``mg.reroute("transform", to=["publish", "audit"])`` in the body. A later
    reroute of the same stage (in the class or a subclass) replaces it.

    Args:
        stage: the stage name (relative to this Task's pipeline).
        to: the new downstream stage name(s); ``()`` for none.

    Raises:
        DefinitionError: used outside a Task body, or a name is not a string.
    """
    ns = _task_body(_caller(1), "mg.reroute()")
    targets = (to,) if isinstance(to, str) else tuple(to)
    if not isinstance(stage, str) or not all(isinstance(t, str) for t in targets):
        msg = f"mg.reroute() takes stage names, got {stage!r} to={to!r}"
        raise _DefinitionError(msg)
    ns.record.reroutes[stage] = targets


def connect(src: str, dst: str, *, weight: float | None = None) -> None:
    """Add the edge *src* -> *dst* (a class-body statement; see `Pipeline.connect`).

    Args:
        src: upstream stage name.
        dst: downstream stage name.
        weight: the edge's weight for a `WeightedRouter` on *src*.

    Raises:
        DefinitionError: used outside a Task body, a name is not a string,
            or *weight* is not a positive number.
    """
    ns = _task_body(_caller(1), "mg.connect()")
    if not isinstance(src, str) or not isinstance(dst, str):
        msg = f"mg.connect() takes stage names, got {src!r}, {dst!r}"  # type: ignore[unreachable]
        raise _DefinitionError(msg)
    _Pipeline("connect").connect(src, dst, weight=weight)  # validates the weight
    ns.record.connects.append((src, dst, weight))


# --------------------------------------------------------------------------
# The blueprint of a Task class


@attrs.frozen
class _Slot:
    """A member as registered in a class: where it is and who declared it."""

    attr: str
    member: _Member
    owner: type[Task]


@attrs.frozen
class _Blueprint:
    """Everything a Task class declares, parents included, in order."""

    name: str
    explicit_name: bool
    entries: tuple[str | tuple[str, ...], ...]
    slots: dict[str, _Slot]
    hooks: tuple[_Slot, ...]
    config: tuple[str, ...]
    reroutes: dict[str, tuple[str, ...]]
    connects: tuple[tuple[str, str, float | None], ...]


def _member_of(cls: type[Task], attr: str, value: object) -> _Member | None:
    """Return the DSL member *value* declares in *cls*, if any."""
    if isinstance(value, _Member):
        return value
    if (
        isinstance(value, TaskMeta)
        and value.__qualname__ == f"{cls.__qualname__}.{attr}"
    ):
        task = cast("type[Task]", value)
        return PipelineDef(task, name=None, override=False, options={})
    return None


def _stage_name(attr: str, member: _Member) -> str:
    if member.name is not None:
        return member.name
    if isinstance(member, PipelineDef):
        bp = member.task._minigun_blueprint_
        return bp.name if bp.explicit_name else _snake(attr)
    if isinstance(member, StageClass):
        return _snake(attr)
    return attr


def _suggest(name: str, names: Sequence[str]) -> str:
    import difflib  # noqa: PLC0415 - error path only

    close = difflib.get_close_matches(name, list(names), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Collector:
    """Builds the `_Blueprint` of one class from its bases and its body."""

    def __init__(self, cls: type[Task]) -> None:
        self.cls = cls
        self.entries: list[str | list[str]] = []
        self.slots: dict[str, _Slot] = {}
        self.hooks: list[_Slot] = []
        self.config: dict[str, None] = {}
        self.reroutes: dict[str, tuple[str, ...]] = {}
        self.connects: list[tuple[str, str, float | None]] = []
        # Names inherited differently from two bases; fine if the body overrides.
        self.conflicts: dict[str, str] = {}

    @property
    def label(self) -> str:
        return self.cls.__qualname__

    # -- inheritance ---------------------------------------------------------

    def inherit(self, bases: Sequence[type[Task]]) -> None:
        for base in bases:
            bp = base._minigun_blueprint_
            for entry in bp.entries:
                names = list(entry) if isinstance(entry, tuple) else [entry]
                new = [n for n in names if self._inherit_slot(n, bp.slots[n])]
                if new:
                    self.entries.append(new if isinstance(entry, tuple) else new[0])
            for hook in bp.hooks:
                mine = [h for h in self.hooks if h.attr == hook.attr]
                if not mine:
                    self.hooks.append(hook)
                    continue
                kept = self._more_derived(mine[0], hook, f"hook {hook.attr!r}")
                self.hooks = [kept if h is mine[0] else h for h in self.hooks]
            self.config.update(dict.fromkeys(bp.config))
            self.connects += [c for c in bp.connects if c not in self.connects]
        for base in reversed(bases):
            self.reroutes.update(base._minigun_blueprint_.reroutes)

    def _inherit_slot(self, name: str, slot: _Slot) -> bool:
        mine = self.slots.get(name)
        if mine is None:
            self.slots[name] = slot
            return True
        self.slots[name] = self._more_derived(mine, slot, f"stage {name!r}")
        return False

    def _more_derived(self, mine: _Slot, other: _Slot, what: str) -> _Slot:
        """Pick between one member inherited through two bases (a diamond).

        The declaration of the more derived class wins, as Python's method
        resolution would have it; unrelated declarations are a conflict.
        """
        if mine.member is other.member or issubclass(mine.owner, other.owner):
            return mine
        if issubclass(other.owner, mine.owner):
            return other
        self.conflicts[what] = (
            f"{what} is inherited from both {mine.owner.__qualname__} "
            f"and {other.owner.__qualname__}"
        )
        return mine

    # -- the class body ------------------------------------------------------

    def body(self, record: _BodyRecord) -> None:
        inherited_slots = dict(self.slots)
        inherited_hooks = {h.attr: h for h in self.hooks}
        by_attr: dict[str, str] = {s.attr: n for n, s in inherited_slots.items()}
        group_of = {a: i for i, g in enumerate(record.groups) for a in g}
        group_entries: dict[int, list[str]] = {}
        own: set[str] = set()
        statics: dict[str, Any] = {}
        for attr, value in self.cls.__dict__.items():
            member = _member_of(self.cls, attr, value)
            if member is None:
                self._plain(attr, value, by_attr, inherited_hooks, statics)
                continue
            if attr in _RESERVED:
                msg = (
                    f"{self.label}.{attr}: {attr!r} is mg.Task's own method; give "
                    f"the member another attribute name (and name={attr!r})"
                )
                raise _DefinitionError(msg)
            if isinstance(member, HookMethod):
                self._hook(attr, member, inherited_hooks, by_attr)
                continue
            name = _stage_name(attr, member)
            if attr in by_attr and by_attr[attr] != name:
                msg = (
                    f"{self.label}.{attr} hides the stage {by_attr[attr]!r} inherited "
                    f"from {inherited_slots[by_attr[attr]].owner.__qualname__}; "
                    "use another attribute name"
                )
                raise _DefinitionError(msg)
            if attr in inherited_hooks:
                msg = (
                    f"{self.label}.{attr} hides the hook {attr!r} inherited from "
                    f"{inherited_hooks[attr].owner.__qualname__}; use another "
                    "attribute name"
                )
                raise _DefinitionError(msg)
            if name in own:
                msg = f"stage {name!r} is defined twice in {self.label}"
                raise _DefinitionError(msg)
            own.add(name)
            slot = _Slot(attr, member, self.cls)
            if member.override:
                if name not in inherited_slots:
                    msg = (
                        f"{self.label}.{attr}: override=True, but no inherited stage "
                        f"is named {name!r}{_suggest(name, list(inherited_slots))}"
                    )
                    raise _DefinitionError(msg)
                self.slots[name] = slot  # keeps the inherited position
                self.conflicts.pop(f"stage {name!r}", None)
                continue
            if name in inherited_slots:
                msg = (
                    f"{self.label}.{attr}: stage {name!r} is already defined by "
                    f"{inherited_slots[name].owner.__qualname__}; pass override=True "
                    "to replace it"
                )
                raise _DefinitionError(msg)
            self.slots[name] = slot
            if attr in group_of:
                gi = group_of[attr]
                if gi not in group_entries:
                    group_entries[gi] = []
                    self.entries.append(group_entries[gi])
                group_entries[gi].append(name)
            else:
                self.entries.append(name)
        if self.conflicts:
            first = next(iter(self.conflicts.values()))
            msg = (
                f"{self.label}: {first}; redefine it in {self.label} with "
                "override=True to choose"
            )
            raise _DefinitionError(msg)
        if statics:
            try:
                _Config().evolve(**statics)
            except _ConfigError as exc:
                raise _ConfigError(
                    [f"{self.label}.{p}" for p in exc.problems]
                ) from None
        self.reroutes.update(record.reroutes)
        self.connects += record.connects

    def _plain(
        self,
        attr: str,
        value: object,
        by_attr: dict[str, str],
        hooks: dict[str, _Slot],
        statics: dict[str, Any],
    ) -> None:
        """Handle a body attribute that is not a DSL member."""
        if attr in by_attr:
            slot = self.slots[by_attr[attr]]
            self._shadow_stage(attr, value, slot)
        elif attr in hooks:
            slot = hooks[attr]
            member = cast("HookMethod[Any, Any, Any]", slot.member)
            what = f"{self.label}.{attr} (overriding hook {attr!r})"
            if not inspect.isfunction(value):
                msg = (
                    f"{what}: a hook can only be overridden by a method; "
                    "redefine it with its decorator and override=True"
                )
                raise _DefinitionError(msg)
            _check_method(value, what)
            _check_hook_method(value, member.event, what)
        elif attr in _CONFIG_FIELDS:
            self.config[attr] = None
            if not (inspect.isfunction(value) or isinstance(value, property)):
                statics[attr] = value

    def _shadow_stage(self, attr: str, value: object, slot: _Slot) -> None:
        """A plain method overriding an inherited stage's method keeps the stage."""
        member = slot.member
        what = f"{self.label}.{attr} (overriding stage {attr!r})"
        if not isinstance(member, StageMethod) or not inspect.isfunction(value):
            msg = (
                f"{self.label}.{attr} hides the stage {_stage_name(attr, member)!r} "
                f"inherited from {slot.owner.__qualname__}; to replace it, "
                "redeclare it with its decorator and override=True"
            )
            raise _DefinitionError(msg)
        _check_method(value, what)
        _probe_stage(member.kind, _stage_name(attr, member), value, member.options)

    def _hook(
        self,
        attr: str,
        member: HookMethod[Any, Any, Any],
        inherited: dict[str, _Slot],
        by_attr: dict[str, str],
    ) -> None:
        if attr in by_attr:
            msg = (
                f"{self.label}.{attr} hides the stage {by_attr[attr]!r} inherited "
                f"from {self.slots[by_attr[attr]].owner.__qualname__}; use another "
                "attribute name"
            )
            raise _DefinitionError(msg)
        slot = _Slot(attr, member, self.cls)
        if member.override:
            if attr not in inherited:
                msg = (
                    f"{self.label}.{attr}: override=True, but no inherited hook is "
                    f"named {attr!r}{_suggest(attr, list(inherited))}"
                )
                raise _DefinitionError(msg)
            self.hooks = [slot if h.attr == attr else h for h in self.hooks]
            self.conflicts.pop(f"hook {attr!r}", None)
            return
        if attr in inherited:
            msg = (
                f"{self.label}.{attr}: hook {attr!r} is already defined by "
                f"{inherited[attr].owner.__qualname__}; pass override=True to "
                "replace it, or override the method without a decorator to "
                "keep its declaration"
            )
            raise _DefinitionError(msg)
        self.hooks.append(slot)

    def blueprint(self, name: str | None) -> _Blueprint:
        return _Blueprint(
            name=name or _snake(self.cls.__name__),
            explicit_name=name is not None,
            entries=tuple(e if isinstance(e, str) else tuple(e) for e in self.entries),
            slots=self.slots,
            hooks=tuple(self.hooks),
            config=tuple(self.config),
            reroutes=self.reroutes,
            connects=tuple(self.connects),
        )


# --------------------------------------------------------------------------
# Building


def _config_value(task: Task, name: str) -> Any:
    value = getattr(task, name)
    if inspect.ismethod(value) and value.__self__ is task:
        return value()
    return value


def _build(
    task: Task, cls: type[Task], name: str | None, extra: dict[str, Any]
) -> Pipeline:
    bp = cls._minigun_blueprint_
    kwargs = {n: _config_value(task, n) for n in bp.config}
    kwargs.update(extra)
    pipe = _Pipeline(name or bp.name, **kwargs)
    for entry in bp.entries:
        if isinstance(entry, tuple):
            with pipe.parallel():
                for n in entry:
                    pipe.add(_build_member(task, n, bp.slots[n]))
        else:
            pipe.add(_build_member(task, entry, bp.slots[entry]))
    for src, targets in bp.reroutes.items():
        pipe.reroute(src, to=list(targets))
    for src, dst, weight in bp.connects:
        pipe.connect(src, dst, weight=weight)
    for slot in bp.hooks:
        member = cast("HookMethod[Any, Any, Any]", slot.member)
        add = pipe.hooks.prepend if member.prepend else pipe.hooks.append
        add(
            member.event,
            getattr(task, slot.attr),
            stage=member.stage,
            errors=member.errors,
        )
    return pipe


def _build_member(task: Task, name: str, slot: _Slot) -> Stage[Any, Any]:
    member = slot.member
    where = f"{slot.owner.__qualname__}.{slot.attr}"
    if isinstance(member, PipelineDef):
        options = _resolve(member.options, task, where)
        inner = _nested_instance(task, member.task, name)
        return _build(inner, member.task, name, options)
    try:
        if isinstance(member, StageMethod):
            options = _resolve(member.options, task, where)
            return _KINDS[member.kind](name, getattr(task, slot.attr), **options)
        stage_class = cast("StageClass[Any]", member)
        options = _resolve(stage_class.options, task, where)
        try:
            return stage_class.cls(name, **options)  # type: ignore[no-any-return]
        except TypeError as exc:
            msg = (
                f"{where}: {stage_class.cls.__qualname__}({name!r}, **options) "
                f"failed: {exc}"
            )
            raise _DefinitionError(msg) from exc
    except _DefinitionError as exc:
        if str(exc).startswith(where):
            raise
        msg = f"{where}: {exc}"
        raise _DefinitionError(msg) from None


def _nested_instance(outer: Task, cls: type[Task], name: str) -> Task:
    try:
        inner = cls()
    except TypeError as exc:
        msg = (
            f"nested pipeline {name!r}: {cls.__qualname__}() must be callable "
            f"without arguments ({exc})"
        )
        raise _DefinitionError(msg) from exc
    object.__setattr__(inner, _OUTER_KEY, outer)
    return inner


# --------------------------------------------------------------------------
# Task


class TaskMeta(abc.ABCMeta):
    """Metaclass of `Task`: gives class bodies a namespace that records DSL statements.

    It derives from `abc.ABCMeta`, so a Task may also be an abstract base
    class (``@abc.abstractmethod`` works, ``abc.ABC`` mixes in).
    """

    @classmethod
    def __prepare__(
        cls, name: str, bases: tuple[type, ...], /, **kwargs: Any
    ) -> _TaskNamespace:
        """Return the recording namespace for a Task class body."""
        return _TaskNamespace()

    def __new__(
        mcs,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        /,
        **kwargs: Any,
    ) -> TaskMeta:
        """Create the class, handing the body's statements to ``__init_subclass__``."""
        body = dict(namespace)
        if isinstance(namespace, _TaskNamespace):
            body[_BODY_KEY] = namespace.record
        return super().__new__(mcs, name, bases, body, **kwargs)


class Task(metaclass=TaskMeta):
    """Base class of a pipeline declared with decorators (SPEC §9).

    Stage methods, hooks, nested pipelines and config defaults declared in
    the class body are collected when the class is created; `build` turns
    them into a fresh `Pipeline` for this instance, so constructor arguments
    can size stages (``threads=lambda self: self.workers``). Stage methods run
    bound to the instance: in a thread, or in a forked worker on the worker's
    copy of it. A subclass inherits its parents' stages, hooks and config,
    in order, and may add stages and hooks, override config, replace a stage
    with ``override=True`` and `reroute` stages.

    The pipeline's name is the class keyword ``name=`` (``class Etl(mg.Task,
    name="etl")``), else the class name in snake_case. Task keeps no state on
    its instances: ``__init__`` is yours.

    Example:
        >>> import minigun as mg
        >>> class Etl(mg.Task):
        ...     queue_size = 50
        ...
        ...     @mg.producer
        ...     def numbers(self):
        ...         yield from range(3)
        ...
        ...     @mg.consumer
        ...     def save(self, n):
        ...         print(n)
        >>> pipe = Etl().build()
        >>> [s.name for s in pipe.stages], pipe.config.queue_size
        (['numbers', 'save'], 50)
    """

    _minigun_blueprint_: ClassVar[_Blueprint]

    def __init_subclass__(cls, *, name: str | None = None, **kwargs: Any) -> None:
        """Collect the class's declarations, merged with its parents'.

        Raises:
            DefinitionError: a name clash, a bad override, a hidden member.
            ConfigError: a config class attribute has a bad value.
        """
        super().__init_subclass__(**kwargs)
        _check_name(name, f"class {cls.__qualname__}")
        record = cls.__dict__.get(_BODY_KEY)
        if record is not None:
            delattr(cls, _BODY_KEY)
        collector = _Collector(cls)
        bases = [b for b in cls.__bases__ if isinstance(b, TaskMeta)]
        collector.inherit(cast("list[type[Task]]", bases))
        collector.body(record if isinstance(record, _BodyRecord) else _BodyRecord())
        cls._minigun_blueprint_ = collector.blueprint(name)

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            # Only for attributes the instance lacks: a nested pipeline's task
            # reads them from the enclosing task (its "context").
            if name.startswith("__") or name == _OUTER_KEY:
                raise AttributeError(name)
            outer = self.__dict__.get(_OUTER_KEY)
            if outer is None:
                msg = f"{type(self).__name__!r} object has no attribute {name!r}"
                raise AttributeError(msg, name=name, obj=self)
            return getattr(outer, name)

    def build(self) -> Pipeline:
        """Return a new `Pipeline` of this task's declarations, for this instance.

        Each call builds new stage objects, so an instance can be built and
        run any number of times; `PerTask` option values and config
        attributes are read from the instance now.

        Raises:
            DefinitionError: an option computed from the instance is invalid,
                or a nested Task class needs constructor arguments. (Names
                and edges are checked by `Pipeline.validate` and ``run``.)
            ConfigError: a config value is invalid.
        """
        return _build(self, type(self), None, {})

    def run(
        self,
        *,
        timeout: float | None = None,
        deterministic: bool = False,
        hud: bool = False,
        progress: bool = False,
    ) -> RunReport:
        """Build the pipeline and run it to the end (see `Pipeline.run`).

        Args:
            timeout: seconds; past it the run is cancelled and `TimeoutError`
                is raised after cleanup.
            deterministic: run every stage in the calling thread.
            hud: show the live dashboard.
            progress: show progress bars.

        Returns:
            The `RunReport`.

        Raises:
            DefinitionError: the pipeline is invalid (nothing ran).
            PipelineError: a stage or hook failed; ``.report`` has the report.
            TimeoutError: *timeout* passed.
        """
        return self.build().run(
            timeout=timeout, deterministic=deterministic, hud=hud, progress=progress
        )

    def start(self) -> RunHandle:
        """Build the pipeline and start it; return its live `RunHandle`.

        Raises:
            DefinitionError: the pipeline is invalid (nothing was started).
        """
        return self.build().start()


Task._minigun_blueprint_ = _Collector(Task).blueprint(None)
