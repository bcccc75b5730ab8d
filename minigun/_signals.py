"""Values stages emit besides plain items: routed items and failures (model layer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, final

import attrs

if TYPE_CHECKING:
    from ._stage import Stage  # noqa: TC004 - annotations are never resolved

__all__ = ("Emitter", "Failed", "To")


@final
@attrs.frozen(slots=True)
class To:
    """Route one item directly into a stage's input queue, bypassing routers.

    Yield it, return it, or call ``emit(item, to=target)``.

    Args:
        target: a stage name (qualified ``"outer.inner.stage"`` allowed) or a Stage.
        item: the item to deliver.

    Example:
        >>> import minigun as mg
        >>> mg.To("audit", {"id": 1})
        To(target='audit', item={'id': 1})
    """

    target: str | Stage[Any, Any] = attrs.field()
    item: Any = attrs.field()

    @property
    def target_name(self) -> str:
        """The target as a name."""
        target = self.target
        return target if isinstance(target, str) else target.name


@final
@attrs.frozen(slots=True)
class Failed:
    """An item that failed in a stage, as delivered to a ``dead_letter`` stage.

    Attributes:
        item: the item that failed.
        error: the original exception of the last attempt.
        stage: the qualified name of the stage it failed in.
    """

    item: Any
    error: BaseException
    stage: str


class Emitter(Protocol):
    """The ``emit`` callable passed to stage functions that take a second parameter.

    ``emit(x)`` emits ``x`` downstream; ``emit(x, to="name")`` routes it directly
    to a stage (the same as emitting ``To("name", x)``). A list's ``append``
    satisfies the plain form.
    """

    def __call__(
        self, item: Any, /, *, to: str | Stage[Any, Any] | None = None
    ) -> None:
        """Emit *item* downstream, or to stage *to*."""
