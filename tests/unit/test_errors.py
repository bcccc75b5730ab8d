"""Unit tests of the public exception tree (SPEC §5, STYLE §6)."""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun import errors

if TYPE_CHECKING:
    from collections.abc import Callable

# One instance of every public error class, built with every field set.
EXAMPLES: dict[str, Callable[[], BaseException]] = {
    "MinigunError": lambda: errors.MinigunError("something failed"),
    "DefinitionError": lambda: errors.DefinitionError("duplicate stage name 'parse'"),
    "AmbiguousRouteError": lambda: errors.AmbiguousRouteError(
        "save", ["a.save", "b.save"], "parse"
    ),
    "ConfigError": lambda: errors.ConfigError(
        ["queue_size: expected int, got 'many'", "queue_sise: unknown key"]
    ),
    "StageError": lambda: errors.StageError("parse", "'line 1'", ValueError("bad"), 2),
    "HookError": lambda: errors.HookError(
        "before_stage", "open_db()", OSError("refused"), "save"
    ),
    "RoutingError": lambda: errors.RoutingError("stage 'done' has already finished"),
    "ExecutorError": lambda: errors.ExecutorError("fork failed"),
    "WorkerCrashedError": lambda: errors.WorkerCrashedError("parse", None, 9, "42"),
    "NotPicklableError": lambda: errors.NotPicklableError(
        "parse", "item", "Lock", "cannot pickle '_thread.lock' object"
    ),
    "PipelineError": lambda: errors.PipelineError(
        "pipeline 'etl' failed",
        [errors.StageError("parse", "1", KeyError("k")), errors.RoutingError("r")],
    ),
    "WouldBlock": errors.WouldBlock,
    "EndOfStream": errors.EndOfStream,
}


def fields(exc: BaseException) -> dict[str, str]:
    """Return the exception's instance attributes (reprs) and its cause."""
    out = {k: repr(v) for k, v in vars(exc).items() if not k.startswith("__")}
    out["__cause__"] = repr(exc.__cause__)
    if isinstance(exc, BaseExceptionGroup):
        out["exceptions"] = repr(exc.exceptions)
    return out


def test_examples_cover_every_public_error() -> None:
    """Every name in minigun.errors.__all__ has an example below."""
    assert sorted(EXAMPLES) == sorted(errors.__all__)


@pytest.mark.parametrize("name", sorted(errors.__all__))
def test_error_pickles_with_message_and_fields(name: str) -> None:
    """Each error class survives pickle with the same type, message and fields."""
    original = EXAMPLES[name]()
    copy = pickle.loads(pickle.dumps(original))  # noqa: S301 - our own data
    assert (type(copy), str(copy), repr(copy.args), fields(copy)) == (
        type(original),
        str(original),
        repr(original.args),
        fields(original),
    )


@pytest.mark.parametrize(
    ("name", "bases"),
    [
        ("DefinitionError", (errors.MinigunError, ValueError)),
        ("AmbiguousRouteError", (errors.DefinitionError,)),
        ("ConfigError", (errors.MinigunError, ValueError)),
        ("StageError", (errors.MinigunError,)),
        ("HookError", (errors.MinigunError,)),
        ("RoutingError", (errors.MinigunError,)),
        ("ExecutorError", (errors.MinigunError, RuntimeError)),
        ("WorkerCrashedError", (errors.ExecutorError,)),
        ("NotPicklableError", (errors.ExecutorError,)),
        ("PipelineError", (ExceptionGroup, errors.MinigunError)),
    ],
)
def test_error_tree(name: str, bases: tuple[type, ...]) -> None:
    """Each error class sits where the tree of SPEC §5 puts it."""
    cls = getattr(errors, name)
    assert [issubclass(cls, b) for b in bases] == [True] * len(bases)


def test_control_flow_signals_are_not_minigun_errors() -> None:
    """WouldBlock and EndOfStream are not failures."""
    signals = (mg.WouldBlock, mg.EndOfStream)
    assert [issubclass(c, errors.MinigunError) for c in signals] == [False, False]


# --------------------------------------------------------------------------
# Messages


def test_stage_error_message_quotes_the_stage() -> None:
    """StageError names the stage with repr, the item and the original error."""
    exc = errors.StageError("parse", "'line 1'", ValueError("bad"), 2)
    assert str(exc) == "stage 'parse' failed on item 'line 1': ValueError: bad"


def test_stage_error_keeps_fields_and_cause() -> None:
    """StageError exposes stage, item_repr, worker and the original as __cause__."""
    original = ValueError("bad")
    exc = errors.StageError("parse", "1", original, 3)
    assert (exc.stage, exc.item_repr, exc.worker, exc.error, exc.__cause__) == (
        "parse",
        "1",
        3,
        original,
        original,
    )


def test_stage_error_of_a_producer_has_no_item() -> None:
    """A StageError without an item does not mention one."""
    exc = errors.StageError("numbers", None, RuntimeError("exhausted"))
    assert str(exc) == "stage 'numbers' failed: RuntimeError: exhausted"


def test_hook_error_names_event_hook_and_stage() -> None:
    """HookError names the event, the hook and the stage."""
    exc = errors.HookError("before_stage", "open_db()", OSError("refused"), "save")
    assert str(exc) == (
        "before_stage hook open_db() for stage 'save' failed: OSError: refused"
    )


def test_ambiguous_route_error_lists_the_candidates() -> None:
    """AmbiguousRouteError quotes the name and every qualified candidate."""
    exc = errors.AmbiguousRouteError("save", ["a.save", "b.save"], "parse")
    assert str(exc) == (
        "stage name 'save' from parse is ambiguous: it matches 'a.save', 'b.save'; "
        "use a qualified name"
    )


def test_worker_crashed_error_names_stage_signal_and_item() -> None:
    """WorkerCrashedError names the stage, how it died and the item in flight."""
    exc = errors.WorkerCrashedError("parse", None, 9, "42")
    assert (
        str(exc) == "a worker of stage 'parse' died (signal 9) while handling item 42"
    )


def test_not_picklable_error_names_stage_and_type() -> None:
    """NotPicklableError names the stage, what failed and its type."""
    exc = errors.NotPicklableError("parse", "item", "Lock")
    assert str(exc) == (
        "stage 'parse': item of type Lock is not picklable; "
        "make it picklable or use a thread executor"
    )


def test_config_error_joins_problems_with_newlines() -> None:
    """ConfigError's message is one line per problem."""
    exc = errors.ConfigError(["a: bad", "b: unknown key"])
    assert (str(exc), exc.problems) == (
        "a: bad\nb: unknown key",
        ("a: bad", "b: unknown key"),
    )


# --------------------------------------------------------------------------
# PipelineError


def make_report() -> mg.RunReport:
    """Return a small failed RunReport."""
    return mg.RunReport(
        pipeline="etl",
        status="failed",
        duration=1.0,
        stages={},
        total_produced=1,
        total_consumed=0,
        total_failed=1,
        total_dropped=0,
        bottleneck=None,
        errors=("stage 'parse' failed",),
    )


def make_group(report: Any = None) -> errors.PipelineError:
    """Return a PipelineError holding two StageErrors and a RoutingError."""
    return errors.PipelineError(
        "pipeline 'etl' failed",
        [
            errors.StageError("parse", "1", ValueError("a")),
            errors.RoutingError("r"),
            errors.StageError("save", "2", KeyError("b")),
        ],
        report,
    )


def test_pipeline_error_is_an_exception_group() -> None:
    """PipelineError is an ExceptionGroup and a MinigunError with its exceptions."""
    group = make_group()
    kinds = (isinstance(group, ExceptionGroup), isinstance(group, errors.MinigunError))
    assert kinds == (True, True)
    assert [type(e) for e in group.exceptions] == [
        errors.StageError,
        errors.RoutingError,
        errors.StageError,
    ]


def test_pipeline_error_carries_the_report() -> None:
    """PipelineError.report is the report given."""
    report = make_report()
    assert make_group(report).report is report


def test_pipeline_error_report_defaults_to_none() -> None:
    """Without a report, .report is None."""
    assert make_group().report is None


def test_pipeline_error_split_keeps_type_and_report() -> None:
    """split() returns PipelineErrors that keep the report."""
    report = make_report()
    match, rest = make_group(report).split(errors.StageError)
    assert (type(match), type(rest)) == (errors.PipelineError, errors.PipelineError)
    assert isinstance(match, errors.PipelineError)  # narrows the type for mypy
    assert isinstance(rest, errors.PipelineError)
    assert (match.report, rest.report) == (report, report)
    assert [getattr(e, "stage", None) for e in match.exceptions] == ["parse", "save"]
    assert [type(e) for e in rest.exceptions] == [errors.RoutingError]


def test_pipeline_error_subgroup_keeps_type_and_report() -> None:
    """subgroup() returns a PipelineError with the report and matching exceptions."""
    report = make_report()
    sub = make_group(report).subgroup(errors.RoutingError)
    assert type(sub) is errors.PipelineError
    assert isinstance(sub, errors.PipelineError)  # narrows the type for mypy
    assert (sub.report, [type(e) for e in sub.exceptions]) == (
        report,
        [errors.RoutingError],
    )


def test_pipeline_error_works_with_except_star() -> None:
    """``except* StageError`` catches the stage errors of a PipelineError."""
    caught: list[Any] = []
    try:
        raise make_group()
    except* errors.StageError as group:
        caught.extend(getattr(e, "stage", None) for e in group.exceptions)
    except* errors.RoutingError:
        caught.append("routing")
    assert caught == ["parse", "save", "routing"]


def test_pipeline_error_pickles_with_its_report() -> None:
    """A pickled PipelineError keeps its report."""
    report = make_report()
    copy = pickle.loads(pickle.dumps(make_group(report)))  # noqa: S301 - our own data
    assert copy.report == report
