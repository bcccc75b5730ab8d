"""Unit tests of HookChain and call_hook (SPEC §6)."""

from __future__ import annotations

from typing import Any

import pytest

import minigun as mg
from minigun._hooks import HOOK_EVENTS, call_hook
from minigun.errors import DefinitionError

ALL_EVENTS = (
    "before_run",
    "after_run",
    "before_stage",
    "after_stage",
    "before_fork",
    "after_fork",
    "on_error",
)


def first() -> str:
    return "first"


def second() -> str:
    return "second"


def third() -> str:
    return "third"


def fns(chain: mg.HookChain, event: str) -> list[Any]:
    """Return the callables registered for *event*, in call order."""
    return [hook.fn for hook in chain.for_event(event)]


def only_hook(chain: mg.HookChain, event: str) -> Any:
    """Return the single hook registered for *event*."""
    (hook,) = chain.for_event(event)
    return hook


def test_events_are_the_spec_events() -> None:
    """The hook events are exactly the seven of SPEC §6."""
    assert HOOK_EVENTS == ALL_EVENTS


def test_append_keeps_registration_order() -> None:
    """Appended hooks run in the order they were appended."""
    chain = mg.HookChain()
    chain.append("before_run", first)
    chain.append("before_run", second)
    chain.append("before_run", third)
    assert fns(chain, "before_run") == [first, second, third]


def test_prepend_runs_before_appended_hooks() -> None:
    """A prepended hook runs before those already registered."""
    chain = mg.HookChain()
    chain.append("after_stage", first)
    chain.prepend("after_stage", second)
    assert fns(chain, "after_stage") == [second, first]


def test_later_prepend_runs_first() -> None:
    """Each prepend goes in front of the previous ones (Ruby's prepend)."""
    chain = mg.HookChain()
    chain.prepend("on_error", first)
    chain.prepend("on_error", second)
    chain.append("on_error", third)
    assert fns(chain, "on_error") == [second, first, third]


def test_events_are_independent() -> None:
    """A hook registered for one event is not returned for another."""
    chain = mg.HookChain()
    chain.append("before_stage", first)
    assert (fns(chain, "before_stage"), fns(chain, "after_stage")) == ([first], [])


def test_empty_chain_is_falsy() -> None:
    """A chain without hooks is falsy; one hook makes it truthy."""
    chain = mg.HookChain()
    empty = bool(chain)
    chain.append("after_fork", first)
    assert (empty, bool(chain)) == (False, True)


@pytest.mark.parametrize("method", ["append", "prepend"])
def test_unknown_event_suggests_the_close_one(method: str) -> None:
    """A misspelt event is a DefinitionError with a suggestion and the event list."""
    chain = mg.HookChain()
    with pytest.raises(
        DefinitionError,
        match=r"^unknown hook event 'befor_run' \(did you mean 'before_run'\?\); "
        r"events: before_run, after_run, before_stage, after_stage, before_fork, "
        r"after_fork, on_error$",
    ):
        getattr(chain, method)("befor_run", first)


def test_unknown_event_without_close_match_has_no_suggestion() -> None:
    """An event unlike any known one is reported without a suggestion."""
    chain = mg.HookChain()
    with pytest.raises(
        DefinitionError, match=r"^unknown hook event 'zzzz'; events: before_run"
    ):
        chain.append("zzzz", first)


def test_non_callable_hook_is_rejected() -> None:
    """A hook must be callable."""
    chain = mg.HookChain()
    with pytest.raises(DefinitionError, match=r"^before_stage hook must be callable"):
        chain.append("before_stage", "not callable")  # type: ignore[arg-type]


@pytest.mark.parametrize("event", [e for e in ALL_EVENTS if e != "on_error"])
def test_errors_filter_only_for_on_error(event: str) -> None:
    """errors= on any event but on_error is a DefinitionError."""
    chain = mg.HookChain()
    with pytest.raises(
        DefinitionError, match=rf"^errors= filters on_error hooks only, not {event}$"
    ):
        chain.append(event, first, errors=ValueError)


def test_errors_filter_accepts_one_type_or_several() -> None:
    """errors= takes one exception type or a sequence of them."""
    chain = mg.HookChain()
    chain.append("on_error", first, errors=ValueError)
    chain.append("on_error", second, errors=[KeyError, OSError])
    kinds = [hook.errors for hook in chain.for_event("on_error")]
    assert kinds == [(ValueError,), (KeyError, OSError)]


def test_on_error_hook_matches_its_error_types_and_subclasses() -> None:
    """An on_error hook with errors= matches those types and their subclasses only."""
    chain = mg.HookChain()
    chain.append("on_error", first, errors=LookupError)
    hook = only_hook(chain, "on_error")
    matches = [hook.matches(e) for e in (KeyError("k"), LookupError(), ValueError())]
    assert matches == [True, True, False]


def test_on_error_hook_without_filter_matches_everything() -> None:
    """An on_error hook without errors= matches any exception."""
    chain = mg.HookChain()
    chain.append("on_error", first)
    assert only_hook(chain, "on_error").matches(RuntimeError()) is True


@pytest.mark.parametrize("event", ["before_run", "after_run"])
def test_stage_not_allowed_for_run_events(event: str) -> None:
    """stage= on before_run/after_run is a DefinitionError."""
    chain = mg.HookChain()
    with pytest.raises(
        DefinitionError,
        match=rf"^{event} hooks run once per run and cannot take stage=$",
    ):
        chain.prepend(event, first, stage="parse")


@pytest.mark.parametrize(
    "event", ["before_stage", "after_stage", "before_fork", "after_fork", "on_error"]
)
def test_stage_allowed_for_stage_events(event: str) -> None:
    """stage= limits per-stage events to that stage."""
    chain = mg.HookChain()
    chain.append(event, first, stage="outer.parse")
    assert only_hook(chain, event).stage == "outer.parse"


# --------------------------------------------------------------------------
# call_hook


def test_call_hook_passes_only_accepted_keywords() -> None:
    """A hook taking only stage= receives only stage."""
    seen: list[Any] = []

    def hook(stage: str) -> None:
        seen.append(stage)

    chain = mg.HookChain()
    chain.append("on_error", hook)
    call_hook(only_hook(chain, "on_error"), pipeline="p", stage="s", item=1, error=None)
    assert seen == ["s"]


def test_call_hook_calls_a_hook_without_parameters() -> None:
    """A hook without parameters is called with nothing and its result returned."""
    chain = mg.HookChain()
    chain.append("after_run", first)
    assert call_hook(only_hook(chain, "after_run"), pipeline="p") == "first"


def test_call_hook_passes_everything_to_var_keyword() -> None:
    """A hook with **kwargs receives every keyword."""
    seen: dict[str, Any] = {}

    def hook(**kwargs: Any) -> None:
        seen.update(kwargs)

    chain = mg.HookChain()
    chain.append("before_stage", hook)
    call_hook(only_hook(chain, "before_stage"), pipeline="p", stage="s")
    assert seen == {"pipeline": "p", "stage": "s"}


def test_call_hook_passes_keyword_only_parameters() -> None:
    """Keyword-only parameters are passed when their name is given."""
    seen: list[Any] = []

    def hook(item: Any, *, error: BaseException) -> None:
        seen.append((item, type(error)))

    chain = mg.HookChain()
    chain.append("on_error", hook)
    call_hook(only_hook(chain, "on_error"), stage="s", item=3, error=KeyError())
    assert seen == [(3, KeyError)]


def test_hook_describe_names_the_callable() -> None:
    """Hook.describe() names the hook callable for messages."""
    chain = mg.HookChain()
    chain.append("before_run", first)
    assert only_hook(chain, "before_run").describe() == "first()"
