"""Hooks: ordered callables per lifecycle event (model layer).

`HookChain` is changed while a pipeline is defined. When a run starts, the
runtime takes a frozen snapshot per stage (one tuple per event), so an event
without hooks costs one truthiness check (trio's ``Instruments`` cache).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Literal, final, get_args

import attrs

from .errors import DefinitionError

__all__ = ("HOOK_EVENTS", "Hook", "HookChain", "HookEvent", "call_hook", "make_hook")

HookEvent = Literal[
    "before_run",
    "after_run",
    "before_stage",
    "after_stage",
    "before_fork",
    "after_fork",
    "on_error",
]
HOOK_EVENTS: tuple[str, ...] = get_args(HookEvent)


def _accepted(fn: Callable[..., Any]) -> frozenset[str] | None:
    """Return the keyword names *fn* accepts, or ``None`` if it takes ``**kw``."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    names = set()
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.add(p.name)
    return frozenset(names)


@final
@attrs.frozen
class Hook:
    """One registered hook.

    Attributes:
        event: the event it runs on.
        fn: the callable; called with the keywords it accepts.
        stage: limit to one stage (qualified name), or ``None`` for all.
        errors: for ``on_error``: only these exception types, or ``None``.
    """

    event: str
    fn: Callable[..., Any]
    stage: str | None = None
    errors: tuple[type[BaseException], ...] | None = None
    accepts: frozenset[str] | None = attrs.field(default=None, eq=False)

    def describe(self) -> str:
        """Return the hook callable's name for messages."""
        fn = self.fn
        name = getattr(fn, "__qualname__", None) or repr(fn)
        return f"{name}()"

    def matches(self, error: BaseException) -> bool:
        """Return whether this ``on_error`` hook wants *error*."""
        return self.errors is None or isinstance(error, self.errors)


def make_hook(event: str, fn: Callable[..., Any], stage: str | None = None) -> Hook:
    """Build a `Hook` for *fn* (reads which keywords it accepts once)."""
    return Hook(event, fn, stage, None, _accepted(fn))


def call_hook(hook: Hook, /, **kwargs: Any) -> Any:
    """Call *hook* with the subset of *kwargs* it accepts."""
    accepts = hook.accepts
    if accepts is None:
        return hook.fn(**kwargs)
    return hook.fn(**{k: v for k, v in kwargs.items() if k in accepts})


@final
@attrs.define(eq=False)
class HookChain:
    """Hooks of a pipeline, per event, in call order.

    Pipeline-level hooks (no ``stage=``) apply to every stage of the pipeline
    and of its nested pipelines; they run before stage-level hooks. Hooks are
    called with keyword arguments (``pipeline=``, ``stage=``, ``item=``,
    ``error=``, as the event has them); a hook may accept only those it needs.

    Example:
        >>> import minigun as mg
        >>> pipe = mg.Pipeline("p")
        >>> pipe.hooks.append("before_run", lambda: print("start"))
        >>> len(pipe.hooks.for_event("before_run"))
        1
    """

    _hooks: dict[str, list[Hook]] = attrs.field(
        init=False, factory=lambda: {e: [] for e in HOOK_EVENTS}
    )

    def _make(
        self,
        event: str,
        fn: Callable[..., Any],
        stage: str | None,
        errors: type[BaseException] | Sequence[type[BaseException]] | None,
    ) -> Hook:
        if event not in HOOK_EVENTS:
            import difflib  # noqa: PLC0415 - error path only

            close = difflib.get_close_matches(event, HOOK_EVENTS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = (
                f"unknown hook event {event!r}{hint}; events: {', '.join(HOOK_EVENTS)}"
            )
            raise DefinitionError(msg)
        if not callable(fn):
            msg = f"{event} hook must be callable, got {fn!r}"  # type: ignore[unreachable]
            raise DefinitionError(msg)
        if errors is not None and event != "on_error":
            msg = f"errors= filters on_error hooks only, not {event}"
            raise DefinitionError(msg)
        err_types: tuple[type[BaseException], ...] | None
        if errors is None:
            err_types = None
        elif isinstance(errors, type):
            err_types = (errors,)
        else:
            err_types = tuple(errors)
        if stage is not None and event in ("before_run", "after_run"):
            msg = f"{event} hooks run once per run and cannot take stage="
            raise DefinitionError(msg)
        return Hook(event, fn, stage, err_types, _accepted(fn))

    def append(
        self,
        event: HookEvent | str,
        fn: Callable[..., Any],
        *,
        stage: str | None = None,
        errors: type[BaseException] | Sequence[type[BaseException]] | None = None,
    ) -> None:
        """Add *fn* to run after the hooks already registered for *event*.

        Args:
            event: one of `HOOK_EVENTS`.
            fn: the hook; called with the keyword arguments it accepts.
            stage: limit the hook to this stage (qualified name).
            errors: for ``on_error``, only these exception types.

        Raises:
            DefinitionError: unknown event, or a bad argument.
        """
        hook = self._make(event, fn, stage, errors)
        self._hooks[event].append(hook)

    def prepend(
        self,
        event: HookEvent | str,
        fn: Callable[..., Any],
        *,
        stage: str | None = None,
        errors: type[BaseException] | Sequence[type[BaseException]] | None = None,
    ) -> None:
        """Add *fn* to run before the hooks already registered for *event*."""
        hook = self._make(event, fn, stage, errors)
        self._hooks[event].insert(0, hook)

    def for_event(self, event: HookEvent | str) -> tuple[Hook, ...]:
        """Return the hooks of *event* in call order."""
        return tuple(self._hooks[event])

    def __bool__(self) -> bool:
        return any(self._hooks.values())
