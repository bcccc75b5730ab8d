"""Stages: the units of work of a pipeline, and how their functions emit (model layer).

A stage is data in, data out. The runtime asks a stage for a *kernel*: a small
object that runs the stage's function on one item (or one batch) and collects
what it emitted into plain lists. Kernels never touch queues, threads or
processes, so they run the same way in a thread, a forked worker or a test.
"""

from __future__ import annotations

import enum
import inspect
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypedDict, TypeVar

import attrs

from ._signals import To
from .errors import DefinitionError

if TYPE_CHECKING:
    from typing import Unpack

    from ._router import Router  # noqa: TC004 - annotations are never resolved

__all__ = (
    "Accumulator",
    "Consumer",
    "Debatch",
    "ExecutorLike",
    "Processor",
    "Producer",
    "Stage",
    "StageOptions",
)

In = TypeVar("In")
Out = TypeVar("Out")

ErrorPolicy = Literal["raise", "skip"] | Callable[[Any, BaseException], None]
HookSpec = Callable[..., Any] | Sequence[Callable[..., Any]] | None
Target = "str | Stage[Any, Any]"


#: ``on_error(item, exc)`` callback of `Kernel.run_many`.
OnError = Callable[[Any, Exception], None]


class _Unset(enum.Enum):
    UNSET = enum.auto()

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset.UNSET


class ExecutorLike:
    """What the model needs to know of an executor: its kind and worker count.

    The public executor classes (`minigun.executors`) subclass this; the
    runtime gives them behaviour. Keeping this in the model lets a stage carry
    its executor without the model importing the runtime.
    """

    kind: ClassVar[str] = "abstract"
    #: True when the executor runs the stage in other processes or interpreters.
    crosses_process: ClassVar[bool] = False
    #: True when several items may be handled at the same time.
    concurrent: ClassVar[bool] = False

    @property
    def workers(self) -> int:
        """How many items this executor handles at the same time."""
        return 1

    def describe(self) -> str:
        """Return a short human description (``"threads(8)"``)."""
        return self.kind

    def available(self) -> str | None:
        """Return why this executor cannot run here, or ``None`` if it can."""
        return None

    def check_stage(self, stage: Stage[Any, Any]) -> str | None:
        """Return why *stage* cannot run on this executor, or ``None``."""
        del stage
        return None


#: Executor factories behind the ``threads=``, ``processes=`` and
#: ``interpreters=`` shortcuts; the executors package registers them.
SHORTCUTS: dict[str, Callable[[int], ExecutorLike]] = {}


def resolve_executor(options: StageOptions) -> ExecutorLike | None:
    """Return the executor *options* ask for (``None``: the default, inline)."""
    if options.executor is not None:
        return options.executor
    for name in ("threads", "processes", "interpreters"):
        n = getattr(options, name)
        if n is not None:
            factory = SHORTCUTS.get(name)
            return None if factory is None else factory(n)
    return None


def _to_targets(value: Any, option: str) -> tuple[str | Stage[Any, Any], ...] | None:
    if value is None:
        return None
    if isinstance(value, (str, Stage)):
        return (value,)
    if isinstance(value, Iterable):
        out = tuple(value)
        for v in out:
            if not isinstance(v, (str, Stage)):
                msg = f"{option}= takes stage names or stages, got {v!r}"
                raise DefinitionError(msg)
        return out
    msg = f"{option}= takes a stage name, a stage or a sequence of them, got {value!r}"
    raise DefinitionError(msg)


def _to_hooks(value: Any) -> tuple[Callable[..., Any], ...]:
    if value is None:
        return ()
    if callable(value):
        return (value,)
    hooks = tuple(value)
    for h in hooks:
        if not callable(h):
            msg = f"hooks must be callables, got {h!r}"
            raise DefinitionError(msg)
    return hooks


def _to_exc_types(value: Any) -> tuple[type[BaseException], ...] | None:
    if value is None:
        return None
    types = (value,) if isinstance(value, type) else tuple(value)
    for t in types:
        if not (isinstance(t, type) and issubclass(t, BaseException)):
            msg = f"retry_on= takes exception types, got {t!r}"
            raise DefinitionError(msg)
    return types


def _positive_or_none(
    kind: type | tuple[type, ...], minimum: float
) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    kind_name = "number" if isinstance(kind, tuple) else kind.__name__

    def check(_inst: Any, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, kind):
            article = "an" if kind_name[0] in "aeiou" else "a"
            msg = f"{attr.name} must be {article} {kind_name}, got {value!r}"
            raise DefinitionError(msg)
        if float(value) < minimum:  # type: ignore[arg-type]
            msg = f"{attr.name} must be >= {minimum}, got {value!r}"
            raise DefinitionError(msg)

    return check


def _targets_to(value: Any) -> tuple[str | Stage[Any, Any], ...] | None:
    return _to_targets(value, "to")


def _targets_from(value: Any) -> tuple[str | Stage[Any, Any], ...] | None:
    return _to_targets(value, "from_")


def _check_on_error(_inst: Any, _attr: attrs.Attribute[Any], value: Any) -> None:
    if value is None or value in ("raise", "skip") or callable(value):
        return
    msg = f"on_error must be 'raise', 'skip' or a callable (item, error), got {value!r}"
    raise DefinitionError(msg)


def _check_routing(_inst: Any, _attr: attrs.Attribute[Any], value: Any) -> None:
    if value is None or value in ("broadcast", "round_robin"):
        return
    msg = f"routing must be 'broadcast' or 'round_robin', got {value!r}"
    raise DefinitionError(msg)


def _check_queue_size(_inst: Any, _attr: attrs.Attribute[Any], value: Any) -> None:
    if value is UNSET or value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"queue_size must be an int >= 0 (0 or None: unbounded), got {value!r}"
        raise DefinitionError(msg)


@attrs.frozen(kw_only=True)
class StageOptions:
    """The options every stage accepts (SPEC §1.2); ``None`` means "inherit".

    Values left ``None`` are taken from the pipeline's `Config` when the run
    starts.
    """

    to: tuple[str | Stage[Any, Any], ...] | None = attrs.field(
        default=None, converter=_targets_to
    )
    """Explicit downstream stages; ``()`` means "no outgoing edges"."""
    from_: tuple[str | Stage[Any, Any], ...] | None = attrs.field(
        default=None, converter=_targets_from
    )
    """Explicit upstream stages."""
    executor: ExecutorLike | None = None
    """How the stage's items run (default: `InlineExecutor`)."""
    threads: int | None = attrs.field(default=None, validator=_positive_or_none(int, 1))
    """Shortcut for ``executor=ThreadExecutor(workers=threads)``."""
    processes: int | None = attrs.field(
        default=None, validator=_positive_or_none(int, 1)
    )
    """Shortcut for ``executor=ProcessExecutor(workers=processes)``."""
    interpreters: int | None = attrs.field(
        default=None, validator=_positive_or_none(int, 1)
    )
    """Shortcut for ``executor=InterpreterExecutor(workers=interpreters)``."""
    router: Router | None = None
    """How items are spread over several downstream stages (default broadcast)."""
    routing: Literal["broadcast", "round_robin"] | None = attrs.field(
        default=None, validator=_check_routing
    )
    """Shortcut for the two common routers."""
    queue_size: int | _Unset | None = attrs.field(
        default=UNSET, validator=_check_queue_size
    )
    """Capacity of the input queue; ``0`` or ``None``: unbounded."""
    max_retries: int | None = attrs.field(
        default=None, validator=_positive_or_none(int, 0)
    )
    """Retries after the first failed attempt of an item."""
    retry_delay: float | None = attrs.field(
        default=None,
        validator=_positive_or_none((int, float), 0),
    )
    """Seconds to wait before the first retry."""
    retry_backoff: float | None = attrs.field(
        default=None,
        validator=_positive_or_none((int, float), 1),
    )
    """Factor the delay grows by after each retry."""
    retry_on: tuple[type[BaseException], ...] | None = attrs.field(
        default=None, converter=_to_exc_types
    )
    """Only these exception types are retried (default: every `Exception`)."""
    on_error: ErrorPolicy | None = attrs.field(default=None, validator=_check_on_error)
    """What to do with an item whose retries are exhausted."""
    dead_letter: str | Stage[Any, Any] | None = None
    """A stage that receives failed items as `Failed`."""
    ordered: bool = False
    """Keep input order with several workers."""
    item_timeout: float | None = attrs.field(
        default=None,
        validator=_positive_or_none((int, float), 0),
    )
    """Seconds one item may take (process-like executors)."""
    auto_start: bool = True
    """Producers only: ``False`` waits for `RunHandle.trigger`."""
    before: tuple[Callable[..., Any], ...] = attrs.field(
        default=(), converter=_to_hooks
    )
    """``before_stage`` hooks of this stage."""
    after: tuple[Callable[..., Any], ...] = attrs.field(default=(), converter=_to_hooks)
    """``after_stage`` hooks of this stage."""
    before_fork: tuple[Callable[..., Any], ...] = attrs.field(
        default=(), converter=_to_hooks
    )
    """``before_fork`` hooks of this stage."""
    after_fork: tuple[Callable[..., Any], ...] = attrs.field(
        default=(), converter=_to_hooks
    )
    """``after_fork`` hooks of this stage."""

    def __attrs_post_init__(self) -> None:
        """Reject contradictory executor options."""
        given = [
            n
            for n in ("executor", "threads", "processes", "interpreters")
            if getattr(self, n) is not None
        ]
        if len(given) > 1:
            msg = f"give only one of {', '.join(given)}"
            raise DefinitionError(msg)
        if self.router is not None and self.routing is not None:
            msg = "give router= or routing=, not both"
            raise DefinitionError(msg)


class StageOptionsKw(TypedDict, total=False):
    """Keyword form of `StageOptions`, for typing ``**options``."""

    to: str | Stage[Any, Any] | Sequence[str | Stage[Any, Any]] | None
    from_: str | Stage[Any, Any] | Sequence[str | Stage[Any, Any]] | None
    executor: ExecutorLike | None
    threads: int | None
    processes: int | None
    interpreters: int | None
    router: Router | None
    routing: Literal["broadcast", "round_robin"] | None
    queue_size: int | None
    max_retries: int | None
    retry_delay: float | None
    retry_backoff: float | None
    retry_on: type[BaseException] | Sequence[type[BaseException]] | None
    on_error: ErrorPolicy | None
    dead_letter: str | Stage[Any, Any] | None
    ordered: bool
    item_timeout: float | None
    auto_start: bool
    before: HookSpec
    after: HookSpec
    before_fork: HookSpec
    after_fork: HookSpec


_OPTION_NAMES = tuple(a.name for a in attrs.fields(StageOptions))


def make_options(owner: str, options: dict[str, Any]) -> StageOptions:
    """Build `StageOptions`, turning unknown keywords into a `DefinitionError`."""
    unknown = [k for k in options if k not in _OPTION_NAMES]
    if unknown:
        import difflib  # noqa: PLC0415 - only on the error path

        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, _OPTION_NAMES, n=1)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        msg = f"{owner}: unknown option {', '.join(hints)}"
        raise DefinitionError(msg)
    try:
        return StageOptions(**options)
    except DefinitionError as exc:
        msg = f"{owner}: {exc}"
        raise DefinitionError(msg) from None


# --------------------------------------------------------------------------
# Reading a callable's signature


@attrs.frozen
class CallShape:
    """How the runtime calls a stage callable."""

    required: int
    """Positional parameters without defaults (``*args`` alone counts as 1)."""
    takes_emit: bool
    """The callable receives ``emit`` as its second argument."""
    is_generator: bool
    is_async: bool
    readable: bool
    """False when the signature could not be read (called with the item only)."""
    emit_keyword: bool = False
    """``emit`` is passed as a keyword (a parameter named ``emit`` that is not
    the second positional one)."""


def f_repr(fn: object) -> str:
    """Describe a callable for error messages: ``<function app.parse at app.py:12>``."""
    target = inspect.unwrap(fn) if callable(fn) else fn
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    module = getattr(target, "__module__", None)
    code = getattr(target, "__code__", None)
    kind = "method" if inspect.ismethod(fn) else "function"
    if name is None:
        return f"<{type(fn).__name__} object>"
    full = f"{module}.{name}" if module and module != "builtins" else name
    if code is not None:
        return f"<{kind} {full} at {code.co_filename}:{code.co_firstlineno}>"
    return f"<{kind} {full}>"


def call_shape(fn: Callable[..., Any], *, positional_max: int = 2) -> CallShape:
    """Read how *fn* wants to be called (SPEC §1.1 arity rules)."""
    target = inspect.unwrap(fn)
    is_gen = inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target)
    is_async = inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return CallShape(1, False, is_gen, is_async, readable=False)  # noqa: FBT003
    required = 0
    has_varargs = False
    named_emit = False
    positional_names: list[str] = []
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional_names.append(p.name)
            if p.default is p.empty:
                required += 1
        elif p.kind is p.VAR_POSITIONAL:
            has_varargs = True
        if p.name == "emit":
            named_emit = True
    if required == 0 and has_varargs:
        required = 1
    takes_emit = required >= 2 or named_emit
    emit_keyword = takes_emit and required < 2
    del positional_max
    return CallShape(
        required, takes_emit, is_gen, is_async, readable=True, emit_keyword=emit_keyword
    )


# --------------------------------------------------------------------------
# Kernels: run a stage's function and collect what it emits


class _ListEmitter:
    """An `Emitter` that appends to the kernel's output lists."""

    __slots__ = ("out", "tos")

    def __init__(self, out: list[Any], tos: list[Any]) -> None:
        self.out = out
        self.tos = tos

    def __call__(
        self, item: Any, /, *, to: str | Stage[Any, Any] | None = None
    ) -> None:
        if to is not None:
            self.tos.append(To(to, item))
        elif item.__class__ is To:
            self.tos.append(item)
        else:
            self.out.append(item)


def _compile_call(
    fn: Callable[..., Any],
    shape: CallShape,
    out: list[Any],
    tos: list[Any],
    spill: Callable[[], None] | None,
    spill_at: int,
) -> Callable[[Any], None]:
    """Build ``run(x)``: call *fn* on *x*, append what it emits to *out*/*tos*.

    Without *spill* a call is atomic: if it raises, what it emitted is rolled
    back, so a retry never duplicates outputs. With *spill* (no retries) the
    outputs stream: *spill* is called whenever *out* holds *spill_at* items.
    """
    append = out.append
    tappend = tos.append
    to_cls = To
    emitter = _ListEmitter(out, tos) if shape.takes_emit else None
    if shape.is_async:
        # Outside AsyncExecutor (deterministic mode, run_stage) a coroutine is
        # run to completion here and an async generator is driven item by item.
        fn = _run_async(fn, agen=shape.is_generator)
    if shape.emit_keyword:
        user_fn = fn

        def fn(x: Any, emit: Any) -> Any:
            return user_fn(x, emit=emit)

    if not shape.is_generator and emitter is None:
        # Return style: nothing is appended before fn returns, so no rollback.
        def run_return(x: Any) -> None:
            r = fn(x)
            if r is not None:
                if r.__class__ is to_cls:
                    tappend(r)
                else:
                    append(r)

        def run_many(items: Iterable[Any], on_error: OnError) -> None:
            # The same as run_return per item, without a call per item: the
            # hot loop of fused inline chains.
            for x in items:
                try:
                    r = fn(x)
                except Exception as exc:  # noqa: BLE001 - handed to on_error
                    on_error(x, exc)
                    continue
                if r is not None:
                    if r.__class__ is to_cls:
                        tappend(r)
                    else:
                        append(r)

        run_return.many = run_many  # type: ignore[attr-defined]
        return run_return

    if shape.is_generator:

        def produce(x: Any) -> Iterable[Any]:
            return fn(x, emitter) if emitter is not None else fn(x)  # type: ignore[no-any-return]

        if spill is None:

            def run_gen(x: Any) -> None:
                n0 = len(out)
                t0 = len(tos)
                try:
                    for r in produce(x):
                        if r.__class__ is to_cls:
                            tappend(r)
                        else:
                            append(r)
                except BaseException:
                    del out[n0:]
                    del tos[t0:]
                    raise

            return run_gen

        def run_gen_streaming(x: Any) -> None:
            for r in produce(x):
                if r.__class__ is to_cls:
                    tappend(r)
                else:
                    append(r)
                    if len(out) >= spill_at:
                        spill()

        return run_gen_streaming

    emit_to: _ListEmitter = emitter  # type: ignore[assignment]  # takes_emit here

    def run_emit(x: Any) -> None:
        n0 = len(out)
        t0 = len(tos)
        try:
            r = fn(x, emit_to)
        except BaseException:
            if spill is None:
                del out[n0:]
                del tos[t0:]
            raise
        if r is not None:
            if r.__class__ is to_cls:
                tappend(r)
            else:
                append(r)

    return run_emit


def iterate_source(source: Any) -> Iterator[Any]:
    """Iterate *source*; an async iterable is driven on a private loop."""
    if hasattr(source, "__anext__"):
        return _drive_async_iter(source)
    return iter(source)


def _drive_async_iter(agen: Any) -> Iterator[Any]:
    import asyncio  # noqa: PLC0415 - only for async sources

    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                yield loop.run_until_complete(agen.__anext__())
            except StopAsyncIteration:
                return
    finally:
        if hasattr(agen, "aclose"):
            loop.run_until_complete(agen.aclose())
        loop.close()


def _run_async(fn: Callable[..., Any], *, agen: bool) -> Callable[..., Any]:
    """Wrap an async function so a plain thread can call it (runs its own loop)."""
    import asyncio  # noqa: PLC0415 - only for async stages

    if agen:

        def drive(*args: Any, **kwargs: Any) -> Iterator[Any]:
            return _drive_async_iter(fn(*args, **kwargs))

        return drive

    def call(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(fn(*args, **kwargs))

    return call


class Kernel:
    """Runs a stage's function; emitted values land in ``out`` and ``tos``.

    ``run(x)`` handles one unit of work (an item, or a batch for accumulators).
    Batching stages also expose ``admit`` (add an item, maybe get a full
    batch), ``due(now)``, ``deadline()`` and ``drain()``.
    """

    __slots__ = ("batching", "out", "run", "run_many", "stage", "tos")

    def __init__(
        self,
        stage: Stage[Any, Any],
        run: Callable[[Any], None],
        out: list[Any],
        tos: list[Any],
    ) -> None:
        self.stage = stage
        self.run = run
        self.out = out
        self.tos = tos
        self.batching = False
        #: Run a whole list, calling ``on_error(item, exc)`` for failures.
        self.run_many: Callable[[Iterable[Any], OnError], None] = (
            getattr(run, "many", None) or self._run_each
        )

    def _run_each(self, items: Iterable[Any], on_error: OnError) -> None:
        run = self.run
        for x in items:
            try:
                run(x)
            except Exception as exc:  # noqa: BLE001 - handed to on_error
                on_error(x, exc)

    def admit(self, item: Any) -> list[Any] | None:  # pragma: no cover - overridden
        """Add *item* to a batch; return the batch when it is full."""
        raise NotImplementedError

    def due(self, now: float) -> list[list[Any]]:
        """Return the batches whose ``max_wait`` has passed at *now*."""
        del now
        return []

    def deadline(self) -> float | None:
        """Return when the next batch falls due (the stage's clock), if any."""
        return None

    def drain(self) -> list[list[Any]]:
        """Return every partial batch (the final flush)."""
        return []


class BatchKernel(Kernel):
    """Kernel of an `Accumulator`: collects items into batches, per key."""

    __slots__ = ("_buffers", "_clock", "_first_at", "_key", "_max_size", "_max_wait")

    def __init__(
        self,
        stage: Accumulator[Any, Any],
        run: Callable[[Any], None],
        out: list[Any],
        tos: list[Any],
    ) -> None:
        super().__init__(stage, run, out, tos)
        self.batching = True
        self._max_size = stage.max_size
        self._max_wait = stage.max_wait
        self._key = stage.key
        self._clock = stage.clock
        self._buffers: dict[Any, list[Any]] = {}
        self._first_at: dict[Any, float] = {}

    def admit(self, item: Any) -> list[Any] | None:
        """Add *item* to its batch; return the batch when it reached ``max_size``."""
        k = None if self._key is None else self._key(item)
        buf = self._buffers.get(k)
        if buf is None:
            buf = self._buffers[k] = []
            if self._max_wait is not None:
                self._first_at[k] = self._clock()
        buf.append(item)
        if len(buf) >= self._max_size:
            del self._buffers[k]
            self._first_at.pop(k, None)
            return buf
        return None

    def due(self, now: float) -> list[list[Any]]:
        """Return (and remove) the batches older than ``max_wait`` at *now*."""
        if self._max_wait is None or not self._first_at:
            return []
        ready = [k for k, t in self._first_at.items() if now - t >= self._max_wait]
        batches = []
        for k in ready:
            del self._first_at[k]
            batches.append(self._buffers.pop(k))
        return batches

    def deadline(self) -> float | None:
        """Return the clock time at which the oldest batch falls due."""
        if self._max_wait is None or not self._first_at:
            return None
        return min(self._first_at.values()) + self._max_wait

    def drain(self) -> list[list[Any]]:
        """Return (and remove) every partial batch, oldest key first."""
        batches = [b for b in self._buffers.values() if b]
        self._buffers.clear()
        self._first_at.clear()
        return batches


# --------------------------------------------------------------------------
# Stages


def _validate_name(name: object, owner: str) -> str:
    if not isinstance(name, str) or not name:
        msg = f"{owner} needs a non-empty string name, got {name!r}"
        raise DefinitionError(msg)
    if "." in name:
        msg = f"stage name {name!r} may not contain '.' (dots separate nested names)"
        raise DefinitionError(msg)
    return name


@attrs.define(eq=False, init=False, repr=False, getstate_setstate=False)
class Stage(Generic[In, Out]):
    """Base class of every stage.

    Subclass a kind (`Producer`, `Processor`, `Accumulator`) and override its
    one method, plus `setup` / `teardown` when the stage holds resources.
    Stages hash by identity. ``setup()`` and ``teardown()`` run once per
    worker, in the worker (its thread, forked process or interpreter).

    Attributes:
        name: unique within its pipeline; appears in errors, logs and reports.
        fn: the stage function, or ``None`` when a method is overridden.
        options: the stage's `StageOptions`.
    """

    kind: ClassVar[str] = "stage"
    #: The method a subclass overrides instead of passing ``fn``.
    method_name: ClassVar[str] = ""

    name: str
    fn: Callable[..., Any] | None
    options: StageOptions

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any] | None = None,
        **options: Unpack[StageOptionsKw],
    ) -> None:
        """Create a stage named *name* running *fn* with *options* (SPEC §1.2)."""
        owner = f"{type(self).__name__}({name!r})"
        self.name = _validate_name(name, type(self).__name__)
        if fn is not None and not callable(fn):
            msg = f"{owner}: fn must be callable, got {fn!r}"  # type: ignore[unreachable]
            raise DefinitionError(msg)
        self.fn = fn
        self.options = make_options(owner, dict(options))
        self.validate()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __getstate__(self) -> dict[str, Any]:
        """Pickle every slot and, for plain subclasses, the instance dict."""
        state = dict(getattr(self, "__dict__", {}))
        for klass in type(self).__mro__:
            for slot in getattr(klass, "__slots__", ()):
                if slot not in ("__dict__", "__weakref__") and hasattr(self, slot):
                    state[slot] = getattr(self, slot)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore what `__getstate__` saved."""
        for key, value in state.items():
            object.__setattr__(self, key, value)

    # -- lifecycle (run in each worker) ------------------------------------

    def setup(self) -> None:
        """Acquire per-worker resources; runs once per worker before any item."""

    def teardown(self) -> None:
        """Release per-worker resources; runs once per worker after the last item."""

    # -- introspection -----------------------------------------------------

    def describe(self) -> str:
        """Return ``"Processor 'parse'"`` style text for messages."""
        return f"{type(self).__name__} {self.name!r}"

    def target_callable(self) -> Callable[..., Any] | None:
        """Return the callable the stage runs: ``fn`` or the overridden method."""
        if self.fn is not None:
            return self.fn
        if self.method_name and _overrides(self, self.method_name):
            return getattr(self, self.method_name)  # type: ignore[no-any-return]
        return None

    def shape(self) -> CallShape | None:
        """Return how the stage callable is called, or ``None`` without one."""
        fn = self.target_callable()
        return None if fn is None else call_shape(fn)

    def validate(self) -> None:
        """Check the stage's own callable (arity, async); raise `DefinitionError`."""
        fn = self.target_callable()
        if fn is None:
            if self.requires_callable():
                msg = (
                    f"stage {self.name!r} ({type(self).__name__}) has no function: "
                    f"pass fn or override {self.method_name}()"
                )
                raise DefinitionError(msg)
            return
        shape = call_shape(fn)
        executor = self.options.executor
        if executor is not None and executor.kind == "async" and not shape.is_async:
            msg = (
                f"stage {self.name!r} ({type(self).__name__}): {f_repr(fn)} is "
                "not async def; AsyncExecutor runs async functions only (use "
                "threads= for blocking code)"
            )
            raise DefinitionError(msg)
        if shape.is_async and (executor is None or executor.kind != "async"):
            msg = (
                f"stage {self.name!r} ({type(self).__name__}): {f_repr(fn)} is "
                "async def; async functions run only on AsyncExecutor"
            )
            raise DefinitionError(msg)
        problem = self.arity_problem(shape)
        if problem:
            msg = (
                f"stage {self.name!r} ({type(self).__name__}): {f_repr(fn)} "
                f"{problem}; expected {self.expected_signature()}"
            )
            raise DefinitionError(msg)

    def requires_callable(self) -> bool:
        """Return whether the stage needs ``fn`` or an overridden method."""
        return True

    def arity_problem(self, shape: CallShape) -> str | None:
        """Return what is wrong with *shape* for this kind, or ``None``."""
        if not shape.readable:
            return None
        if shape.required < 1:
            return "takes no required positional parameter"
        if shape.required > 2:
            return f"takes {shape.required} required positional parameters"
        return None

    def expected_signature(self) -> str:
        """Return the signature the stage callable must have."""
        return "fn(item) or fn(item, emit)"

    # -- runtime hooks (pure) ----------------------------------------------

    def kernel(
        self,
        out: list[Any] | None = None,
        tos: list[Any] | None = None,
        *,
        spill: Callable[[], None] | None = None,
        spill_at: int = 1024,
    ) -> Kernel:
        """Build the `Kernel` that runs this stage's function.

        Args:
            out: list that receives emitted items (a new one by default).
            tos: list that receives emitted `To` signals (may be *out* itself).
            spill: called when *out* holds *spill_at* items (streaming outputs;
                outputs of a failed call are then not rolled back).
            spill_at: see *spill*.
        """
        out = [] if out is None else out
        tos = out if tos is None else tos
        fn = self.target_callable()
        if fn is None:  # pragma: no cover - validate() prevents it
            msg = f"stage {self.name!r} has no function"
            raise DefinitionError(msg)
        run = _compile_call(fn, call_shape(fn), out, tos, spill, spill_at)
        return Kernel(self, run, out, tos)


def _overrides(stage: Stage[Any, Any], method: str) -> bool:
    base_impl = None
    for klass in type(stage).__mro__:
        if klass in _BUILTIN_KINDS:
            base_impl = klass.__dict__.get(method)
            break
    return getattr(type(stage), method, None) is not base_impl


@attrs.define(eq=False, init=False, repr=False, getstate_setstate=False)
class Producer(Stage[None, Out]):  # type: ignore[override]
    """A source of items: ``fn()`` returns an iterable or is a generator.

    Or subclass and override `produce`. A producer has no input and is never
    restarted: an exception goes straight to the error policy.

    Example:
        >>> import minigun as mg
        >>> mg.Producer("numbers", lambda: range(3)).name
        'numbers'
    """

    kind: ClassVar[str] = "producer"
    method_name: ClassVar[str] = "produce"

    total: int | None

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any] | None = None,
        *,
        total: int | None = None,
        **options: Unpack[StageOptionsKw],
    ) -> None:
        """Create a producer; *total* is how many items it will yield, if known.

        Without *total*, a source with ``len()`` gives the total (progress bars).
        """
        if total is not None and (
            isinstance(total, bool) or not isinstance(total, int) or total < 0
        ):
            msg = f"Producer({name!r}): total must be an int >= 0, got {total!r}"
            raise DefinitionError(msg)
        self.total = total
        super().__init__(name, fn, **options)

    def produce(self) -> Iterable[Out]:
        """Yield the items of this producer (override in subclasses)."""
        fn = self.fn
        if fn is None:  # pragma: no cover - validate() prevents it
            return iter(())
        result = fn()
        return () if result is None else result

    def target_callable(self) -> Callable[..., Any] | None:
        """Return ``fn`` or the overridden `produce`."""
        if self.fn is not None:
            return self.fn
        if _overrides(self, "produce"):
            return self.produce
        return None

    def arity_problem(self, shape: CallShape) -> str | None:
        """Producers take no required parameter."""
        if shape.readable and shape.required != 0:
            return f"takes {shape.required} required positional parameter(s)"
        return None

    def expected_signature(self) -> str:
        """Producers are called with no argument."""
        return "fn() returning an iterable, or a generator function fn()"

    def iterate(self) -> Iterator[Any]:
        """Return an iterator over everything the producer emits (items and `To`).

        An async generator is driven on a private event loop in the calling
        thread.
        """
        return iterate_source(self.produce())

    def source(self) -> Iterable[Any]:
        """Return the iterable the producer emits from (may have ``len()``)."""
        return self.produce()

    def kernel(
        self,
        out: list[Any] | None = None,
        tos: list[Any] | None = None,
        *,
        spill: Callable[[], None] | None = None,
        spill_at: int = 1024,
    ) -> Kernel:
        """Producers have no per-item kernel; the runtime uses `iterate`."""
        del out, tos, spill, spill_at
        msg = f"producer {self.name!r} has no item kernel; use iterate()"
        raise DefinitionError(msg)


@attrs.define(eq=False, init=False, repr=False, getstate_setstate=False)
class Processor(Stage[In, Out]):
    """Transforms items: ``fn(item)`` or ``fn(item, emit)`` emits 0..n items.

    Emit by returning a value (``None`` means nothing), by yielding, or by
    calling ``emit(x)``; `To` routes an item to a named stage. `Consumer` is
    the same class.

    Example:
        >>> import minigun as mg
        >>> from minigun.testing import run_stage
        >>> run_stage(mg.Processor("double", lambda n: n * 2), [1, 2])
        [2, 4]
    """

    kind: ClassVar[str] = "processor"
    method_name: ClassVar[str] = "process"

    def process(self, item: In) -> Any:
        """Handle one item (override in subclasses; may take ``emit``)."""
        fn = self.fn
        if fn is None:  # pragma: no cover - validate() requires fn or an override
            msg = f"stage {self.name!r} has no function"
            raise DefinitionError(msg)
        return fn(item)


Consumer = Processor


@attrs.define(eq=False, init=False, repr=False, getstate_setstate=False)
class Accumulator(Processor[In, Out]):  # type: ignore[override, override]
    """Collects items into batches of ``max_size`` and emits each batch.

    With ``fn``, ``fn(batch)`` (or ``fn(batch, emit)``) handles each batch and
    emits like a processor; without it the batch list itself is emitted. A
    partial batch is emitted when ``max_wait`` seconds passed since its first
    item, and when the input closes. With ``key``, items are batched per key.

    Example:
        >>> import minigun as mg
        >>> from minigun.testing import run_stage
        >>> run_stage(mg.Accumulator("batch", max_size=2), [1, 2, 3])
        [[1, 2], [3]]
    """

    kind: ClassVar[str] = "accumulator"
    method_name: ClassVar[str] = "process_batch"

    max_size: int
    max_wait: float | None
    key: Callable[[Any], Any] | None
    clock: Callable[[], float]

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any] | None = None,
        *,
        max_size: int = 100,
        max_wait: float | None = None,
        key: Callable[[Any], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        **options: Unpack[StageOptionsKw],
    ) -> None:
        """Create an accumulator; see the class docstring for the arguments."""
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            msg = (
                f"Accumulator({name!r}): max_size must be an int >= 1, got {max_size!r}"
            )
            raise DefinitionError(msg)
        if max_wait is not None and (
            isinstance(max_wait, bool)
            or not isinstance(max_wait, (int, float))
            or max_wait <= 0
        ):
            msg = (
                f"Accumulator({name!r}): max_wait must be > 0 seconds, got {max_wait!r}"
            )
            raise DefinitionError(msg)
        if key is not None and not callable(key):
            msg = f"Accumulator({name!r}): key must be callable, got {key!r}"  # type: ignore[unreachable]
            raise DefinitionError(msg)
        self.max_size = max_size
        self.max_wait = None if max_wait is None else float(max_wait)
        self.key = key
        self.clock = clock
        super().__init__(name, fn, **options)

    def process_batch(self, batch: list[In]) -> Any:
        """Handle one batch (override in subclasses); by default emit it."""
        if self.fn is None:
            return batch
        return self.fn(batch)

    def requires_callable(self) -> bool:
        """Without ``fn`` an accumulator emits its batches."""
        return False

    def expected_signature(self) -> str:
        """Accumulators are called with the batch."""
        return "fn(batch) or fn(batch, emit)"

    def kernel(
        self,
        out: list[Any] | None = None,
        tos: list[Any] | None = None,
        *,
        spill: Callable[[], None] | None = None,
        spill_at: int = 1024,
    ) -> Kernel:
        """Build a `BatchKernel`: ``admit`` items, ``run`` each full batch."""
        out = [] if out is None else out
        tos = out if tos is None else tos
        fn = self.target_callable()
        if fn is None:
            run = _emit_batch(out)
        else:
            run = _compile_call(fn, call_shape(fn), out, tos, spill, spill_at)
        return BatchKernel(self, run, out, tos)


def _emit_batch(out: list[Any]) -> Callable[[Any], None]:
    return out.append


@attrs.define(eq=False, init=False, repr=False, getstate_setstate=False)
class Debatch(Processor[Any, Any]):
    """Emits each element of each incoming batch (the inverse of `Accumulator`).

    Example:
        >>> import minigun as mg
        >>> from minigun.testing import run_stage
        >>> run_stage(mg.Debatch("flat"), [[1, 2], [3]])
        [1, 2, 3]
    """

    def __init__(self, name: str, **options: Unpack[StageOptionsKw]) -> None:
        """Create a debatching stage named *name*."""
        super().__init__(name, None, **options)

    def process(self, item: Iterable[Any]) -> Iterator[Any]:
        """Yield each element of the batch."""
        yield from item


_BUILTIN_KINDS: tuple[type, ...] = (Stage, Producer, Processor, Accumulator)
