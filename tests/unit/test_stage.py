"""Unit tests of stages: arity rules, emission, subclasses, accumulators, kernels."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun.errors import DefinitionError
from minigun.testing import FakeClock, run_stage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from minigun._stage import Kernel

# --------------------------------------------------------------------------
# Stage functions used below (module level, so their names appear in messages)


def no_args() -> list[int]:
    return [1]


def one_arg(item: Any) -> Any:
    return item


def two_args(item: Any, out: Any) -> None:
    out(item)


def three_args(a: Any, b: Any, c: Any) -> None:
    del a, b, c


def optional_second(item: Any, extra: int = 10) -> Any:
    return (item, extra)


def emit_with_default(item: Any, emit: Any = None) -> None:
    emit(item)
    emit(item)


def keyword_only_emit(item: Any, *, emit: Any) -> None:
    emit(item)
    emit(item + 1)


def star_args(*args: Any) -> Any:
    return args


async def fetch_async(item: Any) -> Any:
    return item


async def numbers_async() -> AsyncIterator[int]:
    yield 1


class Unreadable:
    """A callable whose signature ``inspect.signature`` cannot read."""

    __signature__ = "not a signature"

    def __call__(self, *args: Any) -> Any:
        return args


def fn_name_pattern(name: str) -> str:
    """Return a regex matching ``f_repr`` of the module-level function *name*."""
    return rf"<function [\w.]*\b{re.escape(name)} at .+:\d+>"


# --------------------------------------------------------------------------
# SPEC §1.1: arity rules


def test_consumer_is_processor() -> None:
    """Consumer is an alias of Processor (the same class)."""
    assert mg.Consumer is mg.Processor


def test_producer_arity_zero_is_valid() -> None:
    """A producer function without parameters is accepted and its items come out."""
    assert run_stage(mg.Producer("numbers", no_args)) == [1]


def test_producer_with_a_parameter_names_stage_callable_and_signature() -> None:
    """A producer taking an item is rejected, naming stage, callable and signature."""
    pattern = (
        r"^stage 'numbers' \(Producer\): "
        + fn_name_pattern("one_arg")
        + r" takes 1 required positional parameter.*; "
        r"expected fn\(\) returning an iterable, or a generator function fn\(\)$"
    )
    with pytest.raises(DefinitionError, match=pattern):
        mg.Producer("numbers", one_arg)


def test_producer_with_optional_parameter_is_valid() -> None:
    """A producer parameter with a default does not count towards arity."""
    assert run_stage(mg.Producer("numbers", lambda n=3: range(n))) == [0, 1, 2]


@pytest.mark.parametrize("fn", [one_arg, two_args, optional_second, star_args])
def test_processor_accepts_arity_one_or_two(fn: Callable[..., Any]) -> None:
    """fn(item), fn(item, emit), defaulted extras and *args are valid processors."""
    stage: mg.Processor[Any, Any] = mg.Processor("parse", fn)
    stage.validate()
    assert stage.fn is fn


def test_processor_arity_zero_is_rejected() -> None:
    """A processor function taking no item names stage, callable and signature."""
    pattern = (
        r"^stage 'parse' \(Processor\): "
        + fn_name_pattern("no_args")
        + r" takes no required positional parameter; "
        r"expected fn\(item\) or fn\(item, emit\)$"
    )
    with pytest.raises(DefinitionError, match=pattern):
        mg.Processor("parse", no_args)


def test_processor_arity_three_is_rejected() -> None:
    """A processor function taking three required parameters is rejected."""
    pattern = (
        r"^stage 'parse' \(Processor\): "
        + fn_name_pattern("three_args")
        + r" takes 3 required positional parameters; "
        r"expected fn\(item\) or fn\(item, emit\)$"
    )
    with pytest.raises(DefinitionError, match=pattern):
        mg.Processor("parse", three_args)


def test_consumer_arity_is_checked_like_processor() -> None:
    """A consumer function with no parameter is rejected the same way."""
    with pytest.raises(DefinitionError, match=r"^stage 'save' \(Processor\): "):
        mg.Consumer("save", no_args)


@pytest.mark.parametrize("fn", [one_arg, two_args])
def test_accumulator_accepts_arity_one_or_two(fn: Callable[..., Any]) -> None:
    """fn(batch) and fn(batch, emit) are valid accumulator functions."""
    stage: mg.Accumulator[Any, Any] = mg.Accumulator("batch", fn)
    stage.validate()
    assert stage.fn is fn


@pytest.mark.parametrize(
    ("fn", "problem"),
    [
        (no_args, "takes no required positional parameter"),
        (three_args, "takes 3 required positional parameters"),
    ],
)
def test_accumulator_bad_arity_is_rejected(
    fn: Callable[..., Any], problem: str
) -> None:
    """An accumulator function of arity 0 or 3 names the batch signature."""
    pattern = (
        r"^stage 'batch' \(Accumulator\): <function .+> "
        + re.escape(problem)
        + r"; expected fn\(batch\) or fn\(batch, emit\)$"
    )
    with pytest.raises(DefinitionError, match=pattern):
        mg.Accumulator("batch", fn)


def test_validate_rechecks_a_replaced_callable() -> None:
    """Stage.validate() checks the current callable, not only the constructor's."""
    stage: mg.Processor[Any, Any] = mg.Processor("parse", one_arg)
    stage.fn = three_args
    with pytest.raises(DefinitionError, match=r"three_args"):
        stage.validate()


def test_star_args_alone_counts_as_one_and_gets_the_item_only() -> None:
    """A ``*args`` function is called with exactly one argument, the item."""
    assert run_stage(mg.Processor("p", star_args), [1, 2]) == [(1,), (2,)]


def test_second_positional_parameter_receives_emit() -> None:
    """A second positional parameter without default gets emit, whatever its name."""
    assert run_stage(mg.Processor("p", two_args), ["a"]) == ["a"]


def test_defaulted_second_parameter_does_not_receive_emit() -> None:
    """A defaulted second parameter not named emit keeps its default."""
    assert run_stage(mg.Processor("p", optional_second), [1]) == [(1, 10)]


def test_parameter_named_emit_with_default_receives_emit() -> None:
    """A parameter named ``emit`` gets the emitter even when it has a default."""
    assert run_stage(mg.Processor("p", emit_with_default), [7]) == [7, 7]


def test_keyword_only_parameter_named_emit_receives_emit() -> None:
    """A keyword-only parameter named ``emit`` gets the emitter (SPEC §1.1)."""
    assert run_stage(mg.Processor("p", keyword_only_emit), [1]) == [1, 2]


def test_sum_is_a_valid_consumer_taking_the_item_only() -> None:
    """``sum`` (start has a default) is called with the item only."""
    assert run_stage(mg.Consumer("total", sum), [[1, 2], [3]]) == [3, 3]


def test_print_is_a_valid_consumer_taking_the_item_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``print`` (``*args``) is called with the item only and emits nothing."""
    assert run_stage(mg.Consumer("show", print), ["hello", 2]) == []
    assert capsys.readouterr().out == "hello\n2\n"


def test_unreadable_signature_is_called_with_the_item_only() -> None:
    """A callable whose signature cannot be read is valid and gets the item only."""
    assert run_stage(mg.Processor("p", Unreadable()), [5]) == [(5,)]


def test_unreadable_signature_is_a_valid_accumulator() -> None:
    """An accumulator whose callable has no readable signature gets the batch only."""
    stage: mg.Accumulator[Any, Any] = mg.Accumulator("b", Unreadable(), max_size=2)
    assert run_stage(stage, [1, 2]) == [([1, 2],)]


def test_async_processor_is_rejected_without_async_executor() -> None:
    """An ``async def`` processor raises DefinitionError naming stage and callable."""
    pattern = (
        r"^stage 'fetch' \(Processor\): "
        + fn_name_pattern("fetch_async")
        + r" is async"
    )
    with pytest.raises(DefinitionError, match=pattern):
        mg.Processor("fetch", fetch_async)


def test_async_generator_producer_is_rejected() -> None:
    """An async generator producer raises DefinitionError naming the stage."""
    with pytest.raises(
        DefinitionError, match=r"^stage 'numbers' \(Producer\): .*async"
    ):
        mg.Producer("numbers", numbers_async)


def test_async_accumulator_is_rejected() -> None:
    """An ``async def`` accumulator function raises DefinitionError."""
    with pytest.raises(
        DefinitionError, match=r"^stage 'batch' \(Accumulator\): .*async"
    ):
        mg.Accumulator("batch", fetch_async)


def test_processor_without_function_is_rejected() -> None:
    """A Processor with neither fn nor an overridden process() is rejected."""
    with pytest.raises(
        DefinitionError,
        match=r"^stage 'p' \(Processor\) has no function: "
        r"pass fn or override process\(\)$",
    ):
        mg.Processor("p")


def test_non_callable_fn_is_rejected() -> None:
    """A non-callable fn raises DefinitionError naming the stage."""
    with pytest.raises(
        DefinitionError, match=r"^Processor\('p'\): fn must be callable"
    ):
        mg.Processor("p", 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a.b"])
def test_bad_stage_names_are_rejected(name: str) -> None:
    """Empty names and names with dots are rejected."""
    with pytest.raises(DefinitionError):
        mg.Processor(name, one_arg)


# --------------------------------------------------------------------------
# SPEC §1.1: the four emission styles


def test_return_style_emits_the_returned_value() -> None:
    """A returned value is emitted."""
    assert run_stage(mg.Processor("double", lambda n: n * 2), [1, 2]) == [2, 4]


def test_generator_style_emits_each_yielded_value() -> None:
    """Each yielded value is emitted, in order."""

    def twice(n: int) -> Iterator[int]:
        yield n
        yield -n

    assert run_stage(mg.Processor("twice", twice), [1, 2]) == [1, -1, 2, -2]


def test_emit_style_emits_each_emitted_value() -> None:
    """Each ``emit(x)`` emits x, in order."""

    def split(text: str, emit: mg.Emitter) -> None:
        for word in text.split():
            emit(word)

    assert run_stage(mg.Processor("split", split), ["a b", "c"]) == ["a", "b", "c"]


def test_emit_then_return_emits_both_in_order() -> None:
    """An emit function that also returns a value emits the emitted items first."""

    def both(n: int, emit: mg.Emitter) -> int:
        emit(n)
        return n * 10

    assert run_stage(mg.Processor("both", both), [1]) == [1, 10]


def test_to_yielded_is_kept_as_to() -> None:
    """A yielded To is routed (run_stage shows it as a To), items stay in order."""

    def audit(n: int) -> Iterator[Any]:
        yield mg.To("audit", n)
        yield n

    assert run_stage(mg.Processor("p", audit), [1]) == [mg.To("audit", 1), 1]


def test_to_returned_is_kept_as_to() -> None:
    """A returned To is routed."""
    stage: mg.Processor[Any, Any] = mg.Processor("p", lambda n: mg.To("audit", n))
    assert run_stage(stage, [1, 2]) == [mg.To("audit", 1), mg.To("audit", 2)]


def test_emit_to_keyword_and_emit_of_to_are_routed() -> None:
    """``emit(x, to=t)`` and ``emit(To(t, x))`` both route x to t."""

    def route(n: int, emit: mg.Emitter) -> None:
        emit(n, to="a")
        emit(mg.To("b", n))
        emit(n)

    expected = [mg.To("a", 5), mg.To("b", 5), 5]
    assert run_stage(mg.Processor("p", route), [5]) == expected


def test_to_accepts_a_stage_object_as_target() -> None:
    """A To may name its target with a Stage object; target_name gives its name."""
    audit: mg.Processor[Any, Any] = mg.Processor("audit", one_arg)
    out = run_stage(mg.Processor("p", lambda n: mg.To(audit, n)), [1])
    assert out == [mg.To(audit, 1)]
    assert out[0].target_name == "audit"


def test_list_return_stays_one_item() -> None:
    """A returned list is one item, not split."""
    assert run_stage(mg.Processor("p", lambda n: [n, n]), [1]) == [[1, 1]]


def test_tuple_return_stays_one_item() -> None:
    """A returned tuple is one item."""
    assert run_stage(mg.Processor("p", lambda n: (n, n)), [1]) == [(1, 1)]


def test_falsy_returns_are_items() -> None:
    """0, False and "" returned are emitted; only a plain None return is nothing."""
    assert run_stage(mg.Processor("p", one_arg), [0, False, "", None, []]) == [
        0,
        False,
        "",
        [],
    ]


def test_yielded_none_is_an_item() -> None:
    """A yielded None is an item (only a None return means nothing)."""

    def gen(n: int) -> Iterator[Any]:
        yield None
        yield n

    assert run_stage(mg.Processor("p", gen), [1]) == [None, 1]


def test_emitted_none_is_an_item() -> None:
    """``emit(None)`` emits None."""

    def fn(n: int, emit: mg.Emitter) -> None:
        emit(None)

    assert run_stage(mg.Processor("p", fn), [1]) == [None]


def test_producer_returning_none_emits_nothing() -> None:
    """A producer function returning None produces no item."""
    assert run_stage(mg.Producer("p", lambda: None)) == []


def test_producer_generator_emits_yielded_items() -> None:
    """A generator producer emits what it yields, including falsy values."""

    def gen() -> Iterator[Any]:
        yield from (0, False, "", [1, 2])

    assert run_stage(mg.Producer("p", gen)) == [0, False, "", [1, 2]]


def test_run_stage_propagates_exceptions_unchanged() -> None:
    """run_stage lets the stage's exception through, unwrapped."""

    def fail(n: int) -> int:
        raise KeyError(n)

    with pytest.raises(KeyError):
        run_stage(mg.Processor("p", fail), [1])


# --------------------------------------------------------------------------
# Subclasses


class Upper(mg.Processor[str, str]):
    """A processor subclass taking emit, with setup/teardown."""

    log: list[str]

    def setup(self) -> None:
        self.log = ["setup"]

    def process(self, item: str, emit: mg.Emitter) -> None:  # type: ignore[override]
        self.log.append(item)
        emit(item.upper())

    def teardown(self) -> None:
        self.log.append("teardown")


class Letters(mg.Producer[str]):
    """A producer subclass."""

    log: list[str]

    def setup(self) -> None:
        self.log = ["setup"]

    def produce(self) -> Iterator[str]:
        yield from "xy"

    def teardown(self) -> None:
        self.log.append("teardown")


class Summer(mg.Accumulator[int, int]):
    """An accumulator subclass summing each batch."""

    log: list[str]

    def setup(self) -> None:
        self.log = ["setup"]

    def process_batch(self, batch: list[int]) -> int:
        self.log.append(f"batch {batch}")
        return sum(batch)

    def teardown(self) -> None:
        self.log.append("teardown")


class Exploding(mg.Processor[int, int]):
    """A processor whose process() raises; setup/teardown record the calls."""

    log: list[str]

    def setup(self) -> None:
        self.log = ["setup"]

    def process(self, item: int) -> int:
        raise ValueError(item)

    def teardown(self) -> None:
        self.log.append("teardown")


def test_processor_subclass_process_with_emit_and_lifecycle() -> None:
    """run_stage calls setup, process(item, emit) per item, then teardown."""
    stage = Upper("upper")
    assert run_stage(stage, ["a", "b"]) == ["A", "B"]
    assert stage.log == ["setup", "a", "b", "teardown"]


def test_producer_subclass_produce_and_lifecycle() -> None:
    """run_stage calls setup, produce, then teardown for a producer subclass."""
    stage = Letters("letters")
    assert run_stage(stage) == ["x", "y"]
    assert stage.log == ["setup", "teardown"]


def test_accumulator_subclass_process_batch_and_lifecycle() -> None:
    """run_stage calls process_batch on full batches and on the final flush."""
    stage = Summer("sum", max_size=2)
    assert run_stage(stage, [1, 2, 3]) == [3, 3]
    assert stage.log == ["setup", "batch [1, 2]", "batch [3]", "teardown"]


def test_teardown_runs_when_the_stage_raises() -> None:
    """run_stage calls teardown even when process() raises."""
    stage = Exploding("boom")
    with pytest.raises(ValueError, match=r"^1$"):
        run_stage(stage, [1])
    assert stage.log == ["setup", "teardown"]


def test_subclass_without_override_is_rejected() -> None:
    """A Processor subclass overriding nothing and given no fn is rejected."""

    class Nothing(mg.Processor[Any, Any]):
        pass

    with pytest.raises(
        DefinitionError, match=r"^stage 'n' \(Nothing\) has no function"
    ):
        Nothing("n")


def test_subclass_with_bad_process_arity_is_rejected() -> None:
    """An overridden process() without an item parameter is rejected."""

    class NoItem(mg.Processor[Any, Any]):
        def process(self) -> None:  # type: ignore[override]
            pass

    with pytest.raises(
        DefinitionError,
        match=r"^stage 'n' \(NoItem\): <method .*NoItem\.process .*> takes no required",
    ):
        NoItem("n")


def test_producer_subclass_with_parameter_is_rejected() -> None:
    """An overridden produce() with a required parameter is rejected."""

    class Needy(mg.Producer[Any]):
        def produce(self, n: int) -> Iterator[Any]:  # type: ignore[override]
            yield n

    with pytest.raises(DefinitionError, match=r"^stage 'n' \(Needy\): .*produce"):
        Needy("n")


# --------------------------------------------------------------------------
# Accumulator and Debatch


def test_accumulator_without_fn_emits_batch_lists() -> None:
    """Without fn, batches of max_size are emitted; the rest on the final flush."""
    stage: mg.Accumulator[Any, Any] = mg.Accumulator("batch", max_size=2)
    assert run_stage(stage, [1, 2, 3, 4, 5]) == [[1, 2], [3, 4], [5]]


def test_accumulator_empty_input_emits_nothing() -> None:
    """No items means no batch, not an empty one."""
    stage: mg.Accumulator[Any, Any] = mg.Accumulator("batch", max_size=2)
    assert run_stage(stage, []) == []


def test_accumulator_default_max_size_is_100() -> None:
    """The default max_size is 100."""
    stage: mg.Accumulator[Any, Any] = mg.Accumulator("batch")
    assert [len(b) for b in run_stage(stage, range(250))] == [100, 100, 50]


def test_accumulator_fn_receives_each_batch() -> None:
    """fn(batch) is called per batch and its return value emitted."""
    stage: mg.Accumulator[Any, Any] = mg.Accumulator("sum", sum, max_size=2)
    assert run_stage(stage, [1, 2, 3, 4, 5]) == [3, 7, 5]


def test_accumulator_fn_with_emit() -> None:
    """fn(batch, emit) emits like a processor."""

    def spread(batch: list[int], emit: mg.Emitter) -> None:
        for n in batch:
            emit(n * 10)

    stage: mg.Accumulator[Any, Any] = mg.Accumulator("b", spread, max_size=2)
    assert run_stage(stage, [1, 2, 3]) == [10, 20, 30]


def test_accumulator_key_batches_per_key() -> None:
    """With key, each key has its own batch; a full batch goes out at once."""
    stage: mg.Accumulator[Any, Any] = mg.Accumulator(
        "batch", max_size=2, key=lambda n: n % 2
    )
    assert run_stage(stage, [1, 2, 3, 4, 5]) == [[1, 3], [2, 4], [5]]


def test_accumulator_final_flush_emits_partial_batches_oldest_key_first() -> None:
    """The final flush emits every partial batch, in first-seen key order."""
    stage: mg.Accumulator[Any, Any] = mg.Accumulator(
        "batch", max_size=10, key=str.lower
    )
    assert run_stage(stage, ["b", "a", "B", "c"]) == [["b", "B"], ["a"], ["c"]]


@pytest.mark.parametrize("max_size", [0, -1, 1.5, True, "2"])
def test_accumulator_rejects_bad_max_size(max_size: Any) -> None:
    """max_size must be an int >= 1."""
    with pytest.raises(
        DefinitionError, match=r"^Accumulator\('b'\): max_size must be an int >= 1"
    ):
        mg.Accumulator("b", max_size=max_size)


@pytest.mark.parametrize("max_wait", [0, -1.0, True, "1"])
def test_accumulator_rejects_bad_max_wait(max_wait: Any) -> None:
    """max_wait must be a positive number of seconds."""
    with pytest.raises(
        DefinitionError, match=r"^Accumulator\('b'\): max_wait must be > 0 seconds"
    ):
        mg.Accumulator("b", max_wait=max_wait)


def test_accumulator_rejects_non_callable_key() -> None:
    """key must be callable."""
    with pytest.raises(DefinitionError, match=r"key must be callable"):
        mg.Accumulator("b", key="id")  # type: ignore[arg-type]


def test_debatch_emits_each_element() -> None:
    """Debatch emits each element of each batch; empty batches emit nothing."""
    assert run_stage(mg.Debatch("flat"), [[1, 2], [], (3,)]) == [1, 2, 3]


def test_debatch_inverts_accumulator() -> None:
    """Debatch after Accumulator gives back the original items."""
    stage: mg.Accumulator[Any, Any] = mg.Accumulator("b", max_size=3)
    batches = run_stage(stage, range(7))
    assert run_stage(mg.Debatch("flat"), batches) == list(range(7))


def test_debatch_keeps_nested_lists_whole() -> None:
    """Debatch flattens one level only."""
    assert run_stage(mg.Debatch("flat"), [[[1, 2], [3]]]) == [[1, 2], [3]]


# --------------------------------------------------------------------------
# FakeClock and max_wait through the kernel API


def test_fake_clock_moves_only_when_advanced() -> None:
    """FakeClock starts where told and moves only by advance()."""
    clock = FakeClock(10.0)
    assert clock() == 10.0
    clock.advance(2.5)
    assert clock() == 12.5


def make_timed(
    clock: FakeClock, **kwargs: Any
) -> tuple[mg.Accumulator[Any, Any], Kernel]:
    """Return an accumulator on *clock* with max_wait=5 and its kernel."""
    stage: mg.Accumulator[Any, Any] = mg.Accumulator(
        "batch", max_size=10, max_wait=5, clock=clock, **kwargs
    )
    return stage, stage.kernel()


def test_deadline_is_none_without_items() -> None:
    """An empty accumulator has no deadline and nothing due."""
    _, kernel = make_timed(FakeClock())
    assert kernel.deadline() is None
    assert kernel.due(100.0) == []


def test_batch_falls_due_max_wait_after_first_item() -> None:
    """A partial batch is due max_wait after its first item, not its last."""
    clock = FakeClock()
    _, kernel = make_timed(clock)
    assert kernel.admit(1) is None
    assert kernel.deadline() == 5.0
    clock.advance(3)
    assert kernel.admit(2) is None
    assert kernel.deadline() == 5.0
    assert kernel.due(clock()) == []
    clock.advance(2)
    assert kernel.due(clock()) == [[1, 2]]
    assert kernel.deadline() is None
    assert kernel.drain() == []


def test_new_batch_after_due_starts_a_new_timer() -> None:
    """After a batch fell due, the next item starts a fresh max_wait."""
    clock = FakeClock()
    _, kernel = make_timed(clock)
    kernel.admit("a")
    clock.advance(5)
    assert kernel.due(clock()) == [["a"]]
    clock.advance(1)
    kernel.admit("b")
    assert kernel.deadline() == 11.0


def test_full_batch_clears_its_timer() -> None:
    """A batch that reaches max_size is returned by admit and leaves no deadline."""
    clock = FakeClock()
    stage: mg.Accumulator[Any, Any] = mg.Accumulator(
        "batch", max_size=2, max_wait=5, clock=clock
    )
    kernel = stage.kernel()
    assert kernel.admit(1) is None
    assert kernel.admit(2) == [1, 2]
    assert kernel.deadline() is None
    clock.advance(10)
    assert kernel.due(clock()) == []


def test_per_key_timers_fall_due_separately() -> None:
    """With key, each key's batch has its own max_wait timer."""
    clock = FakeClock()
    _, kernel = make_timed(clock, key=lambda s: s[0])
    kernel.admit("a1")
    clock.advance(2)
    kernel.admit("b1")
    kernel.admit("a2")
    assert kernel.deadline() == 5.0
    clock.advance(3)
    assert kernel.due(clock()) == [["a1", "a2"]]
    assert kernel.deadline() == 7.0
    clock.advance(2)
    assert kernel.due(clock()) == [["b1"]]


def test_drain_returns_partial_batches_and_clears_timers() -> None:
    """drain() returns every partial batch and leaves no deadline."""
    clock = FakeClock()
    _, kernel = make_timed(clock, key=len)
    kernel.admit("x")
    kernel.admit("yy")
    assert kernel.drain() == [["x"], ["yy"]]
    assert kernel.deadline() is None
    assert kernel.drain() == []


def test_due_batch_runs_through_fn() -> None:
    """kernel.run on a due batch emits what fn returns into the kernel's output."""
    clock = FakeClock()
    stage: mg.Accumulator[Any, Any] = mg.Accumulator(
        "sum", sum, max_size=10, max_wait=1, clock=clock
    )
    out: list[Any] = []
    kernel = stage.kernel(out)
    kernel.admit(2)
    kernel.admit(3)
    clock.advance(1)
    for batch in kernel.due(clock()):
        kernel.run(batch)
    assert out == [5]


def test_accumulator_without_max_wait_has_no_deadline() -> None:
    """Without max_wait nothing ever falls due; only drain flushes."""
    stage: mg.Accumulator[Any, Any] = mg.Accumulator("b", max_size=10)
    kernel = stage.kernel()
    kernel.admit(1)
    assert kernel.deadline() is None
    assert kernel.due(1e9) == []
    assert kernel.drain() == [[1]]


# --------------------------------------------------------------------------
# StageOptions validation


def test_unknown_option_suggests_the_close_one() -> None:
    """A misspelt option names the stage and suggests the right one."""
    with pytest.raises(
        DefinitionError,
        match=r"^Processor\('p'\): unknown option 'thread' "
        r"\(did you mean 'threads'\?\)$",
    ):
        mg.Processor("p", one_arg, thread=3)  # type: ignore[call-arg]


def test_unknown_option_without_close_match_has_no_suggestion() -> None:
    """An option unlike any known one is reported without a suggestion."""
    with pytest.raises(
        DefinitionError, match=r"^Processor\('p'\): unknown option 'zzzzzz'$"
    ):
        mg.Processor("p", one_arg, zzzzzz=1)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("option", "value", "pattern"),
    [
        ("threads", 0, r"threads must be >= 1, got 0"),
        ("threads", "2", r"threads must be .*got '2'"),
        ("threads", True, r"threads must be .*got True"),
        ("processes", 0, r"processes must be >= 1, got 0"),
        ("queue_size", -1, r"queue_size must be an int >= 0 .*got -1"),
        ("queue_size", 1.5, r"queue_size must be an int >= 0 .*got 1\.5"),
        ("queue_size", True, r"queue_size must be an int >= 0 .*got True"),
        ("max_retries", -1, r"max_retries must be >= 0, got -1"),
        ("retry_delay", -0.5, r"retry_delay must be >= 0, got -0\.5"),
        ("on_error", "ignore", r"on_error must be 'raise', 'skip' or a callable"),
        ("routing", "random", r"routing must be 'broadcast' or 'round_robin'"),
        ("retry_on", [ValueError, "KeyError"], r"retry_on= takes exception types"),
        ("to", [1], r"to= takes stage names or stages, got 1"),
    ],
)
def test_bad_option_values_raise_definition_error(
    option: str, value: Any, pattern: str
) -> None:
    """Each bad option value raises DefinitionError naming the stage and option."""
    with pytest.raises(DefinitionError, match=r"^Processor\('p'\): " + pattern):
        mg.Processor("p", one_arg, **{option: value})


def test_executor_and_threads_together_are_rejected() -> None:
    """executor= and threads= are mutually exclusive."""
    with pytest.raises(
        DefinitionError, match=r"^Processor\('p'\): give only one of executor, threads$"
    ):
        mg.Processor("p", one_arg, threads=2, executor=mg.ThreadExecutor(workers=2))


def test_router_and_routing_together_are_rejected() -> None:
    """router= and routing= are mutually exclusive."""
    with pytest.raises(DefinitionError, match=r"give router= or routing=, not both"):
        mg.Processor("p", one_arg, router=mg.RoundRobinRouter(), routing="broadcast")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("queue_size", None),
        ("queue_size", 0),
        ("threads", 4),
        ("on_error", "skip"),
        ("routing", "round_robin"),
        ("max_retries", 0),
    ],
)
def test_good_option_values_are_kept(option: str, value: Any) -> None:
    """Valid option values are stored as given."""
    stage: mg.Processor[Any, Any] = mg.Processor("p", one_arg, **{option: value})
    assert getattr(stage.options, option) == value


def test_callable_on_error_is_accepted() -> None:
    """on_error may be a callable (item, error)."""

    def policy(item: Any, error: BaseException) -> None:
        del item, error

    stage: mg.Processor[Any, Any] = mg.Processor("p", one_arg, on_error=policy)
    assert stage.options.on_error is policy


def test_to_and_from_are_normalised_to_tuples() -> None:
    """to= and from_= accept one name or a sequence; to=() stays empty."""
    stage: mg.Processor[Any, Any] = mg.Processor("p", one_arg, to="a", from_=["b", "c"])
    assert (stage.options.to, stage.options.from_) == (("a",), ("b", "c"))
    off: mg.Processor[Any, Any] = mg.Processor("q", one_arg, to=())
    assert off.options.to == ()


# --------------------------------------------------------------------------
# Kernel atomicity


def yields_then_raises(n: int) -> Iterator[Any]:
    yield n
    yield mg.To("audit", n)
    yield n + 1
    raise ValueError(n)


def emits_then_raises(n: int, emit: mg.Emitter) -> None:
    emit(n)
    emit(n, to="audit")
    raise ValueError(n)


def test_generator_failure_rolls_back_its_outputs() -> None:
    """A generator that yields then raises leaves no output of that call."""
    out: list[Any] = []
    kernel = mg.Processor("p", yields_then_raises).kernel(out)
    with pytest.raises(ValueError, match=r"^1$"):
        kernel.run(1)
    assert out == []


def test_rollback_keeps_earlier_calls_outputs() -> None:
    """Rollback removes only the failed call's outputs, in both lists."""
    out: list[Any] = []
    tos: list[Any] = []

    def maybe(n: int) -> Iterator[Any]:
        yield n
        yield mg.To("audit", n)
        if n < 0:
            raise ValueError(n)

    kernel = mg.Processor("p", maybe).kernel(out, tos)
    kernel.run(1)
    with pytest.raises(ValueError, match=r"^-1$"):
        kernel.run(-1)
    assert (out, tos) == ([1], [mg.To("audit", 1)])


def test_emit_failure_rolls_back_its_outputs() -> None:
    """An emit function that emits then raises leaves no output of that call."""
    out: list[Any] = []
    tos: list[Any] = []
    kernel = mg.Processor("p", emits_then_raises).kernel(out, tos)
    with pytest.raises(ValueError, match=r"^1$"):
        kernel.run(1)
    assert (out, tos) == ([], [])


def test_spill_streams_generator_outputs_before_the_failure() -> None:
    """With spill=, outputs produced before a failure are forwarded, not rolled back."""
    out: list[Any] = []
    forwarded: list[Any] = []

    def spill() -> None:
        forwarded.extend(out)
        out.clear()

    kernel = mg.Processor("p", yields_then_raises).kernel(out, spill=spill, spill_at=1)
    with pytest.raises(ValueError, match=r"^1$"):
        kernel.run(1)
    assert (forwarded, out) == ([1, mg.To("audit", 1), 2], [])


def test_spill_keeps_emit_outputs_on_failure() -> None:
    """With spill=, what an emit function emitted before raising is kept."""
    out: list[Any] = []
    kernel = mg.Processor("p", emits_then_raises).kernel(out, spill=lambda: None)
    with pytest.raises(ValueError, match=r"^3$"):
        kernel.run(3)
    assert out == [3, mg.To("audit", 3)]


def test_spill_is_called_every_spill_at_items() -> None:
    """spill() is called each time the output list reaches spill_at items."""
    out: list[Any] = []
    sizes: list[int] = []

    def spill() -> None:
        sizes.append(len(out))
        out.clear()

    def many(n: int) -> Iterator[int]:
        yield from range(n)

    kernel = mg.Processor("p", many).kernel(out, spill=spill, spill_at=3)
    kernel.run(7)
    assert (sizes, out) == ([3, 3], [6])


def test_producer_has_no_item_kernel() -> None:
    """Asking a producer for an item kernel is a DefinitionError."""
    with pytest.raises(DefinitionError, match=r"^producer 'p' has no item kernel"):
        mg.Producer("p", no_args).kernel()
