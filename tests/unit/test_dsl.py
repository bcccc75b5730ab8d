"""Unit tests of the decorator DSL: declaration, inheritance, validation (SPEC §9)."""

from __future__ import annotations

import abc
import re
from typing import TYPE_CHECKING, Any

import attrs
import pytest

import minigun as mg
from minigun import dsl
from minigun.errors import ConfigError, DefinitionError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# --------------------------------------------------------------------------
# Helpers


def _fn_name(fn: Any) -> str:
    """Name of a stage or hook callable, bound or not."""
    return str(getattr(getattr(fn, "__func__", fn), "__name__", repr(fn)))


def _plain(value: Any) -> Any:
    """Replace callables by their names so options compare across both styles."""
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, mg.Stage):
        return ("stage", value.name)
    if callable(value) and not isinstance(value, type):
        return ("fn", _fn_name(value))
    return value


def shape(pipe: mg.Pipeline) -> dict[str, Any]:
    """A comparable description of a pipeline: graph, options, config, hooks."""
    graph = pipe.graph()
    nodes = []
    for node in graph.nodes:
        stage = node.stage
        options = {
            k: _plain(v) for k, v in attrs.asdict(stage.options, recurse=False).items()
        }
        extra = {
            k: _plain(getattr(stage, k))
            for k in ("max_size", "max_wait", "key", "total")
            if hasattr(stage, k)
        }
        fn = stage.target_callable()
        nodes.append(
            (
                node.name,
                type(stage),
                stage.kind,
                _fn_name(fn) if fn else None,
                options,
                extra,
            )
        )
    edges = [
        (graph.names[e.src], graph.names[e.dst], e.weight, e.explicit)
        for e in graph.edges
    ]
    pipes = [pipe, *(s for s in pipe.stages if isinstance(s, mg.Pipeline))]
    hooks = [
        (p.name, event, _fn_name(h.fn), h.stage, h.errors)
        for p in pipes
        for event in (
            "before_run",
            "after_run",
            "before_stage",
            "after_stage",
            "before_fork",
            "after_fork",
            "on_error",
        )
        for h in p.hooks.for_event(event)
    ]
    configs = [(p.name, p.config, p.options) for p in pipes[1:]]
    return {
        "name": pipe.name,
        "config": pipe.config,
        "nodes": nodes,
        "edges": edges,
        "hooks": hooks,
        "nested": configs,
    }


def definition_error(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """Return the DefinitionError message of *excinfo*."""
    assert isinstance(excinfo.value, DefinitionError)
    return str(excinfo.value)


# --------------------------------------------------------------------------
# The graph is the same whichever way it is declared


def generate() -> Iterator[int]:
    yield from range(3)


def fast(n: int) -> int:
    return n


def slow(n: int) -> int:
    return n


def batch(items: list[int]) -> list[int]:
    return items


def save(item: Any) -> None:
    del item


def audit(item: Any) -> None:
    del item


def enrich(n: int) -> int:
    return n


def by_parity(n: int) -> int:
    return n % 2


def open_db() -> None:
    pass


def close_db() -> None:
    pass


def log_error(error: BaseException) -> None:
    del error


def announce() -> None:
    pass


def test_dsl_builds_the_same_graph_as_the_object_model() -> None:
    """A Task builds exactly the pipeline written with the public classes."""

    class Etl(dsl.Task):
        max_threads = 10
        queue_size = 50

        @dsl.producer(total=3)
        def generate(self) -> Iterator[int]:
            yield from range(3)

        with dsl.parallel():

            @dsl.processor(threads=4, ordered=True)
            def fast(self, n: int) -> int:
                return n

            @dsl.processor(max_retries=0, on_error="skip")
            def slow(self, n: int) -> int:
                return n

        @dsl.accumulator(max_size=20, max_wait=0.5, key=by_parity)
        def batch(self, items: list[int]) -> list[int]:
            return items

        @dsl.pipeline("enrichment", to="save", max_retries=1)
        class Enrichment(dsl.Task):
            retry_delay = 0.0

            @dsl.processor(routing="round_robin")
            def enrich(self, n: int) -> int:
                return n

            @dsl.before
            def announce(self) -> None:
                pass

        @dsl.consumer(queue_size=5)
        def save(self, item: Any) -> None:
            del item

        @dsl.consumer(to=(), dead_letter="save")
        def audit(self, item: Any) -> None:
            del item

        dsl.connect("fast", "audit", weight=2)
        dsl.reroute("slow", to=["audit"])

        @dsl.before_run
        def open_db(self) -> None:
            pass

        @dsl.before_fork("save")
        def close_db(self) -> None:
            pass

        @dsl.on_error(KeyError, ValueError)
        def log_error(self, error: BaseException) -> None:
            del error

    pipe = mg.Pipeline("etl", max_threads=10, queue_size=50)
    pipe.add(mg.Producer("generate", generate, total=3))
    with pipe.parallel():
        pipe.add(mg.Processor("fast", fast, threads=4, ordered=True))
        pipe.add(mg.Processor("slow", slow, max_retries=0, on_error="skip"))
    pipe.add(mg.Accumulator("batch", batch, max_size=20, max_wait=0.5, key=by_parity))
    inner = mg.Pipeline("enrichment", retry_delay=0.0, to="save", max_retries=1)
    inner.add(mg.Processor("enrich", enrich, routing="round_robin"))
    inner.hooks.append("before_stage", announce)
    pipe.add(inner)
    pipe.add(mg.Consumer("save", save, queue_size=5))
    pipe.add(mg.Consumer("audit", audit, to=(), dead_letter="save"))
    pipe.reroute("slow", to=["audit"])
    pipe.connect("fast", "audit", weight=2)
    pipe.hooks.append("before_run", open_db)
    pipe.hooks.append("before_fork", close_db, stage="save")
    pipe.hooks.append("on_error", log_error, errors=(KeyError, ValueError))

    assert shape(Etl().build()) == shape(pipe)


def test_dsl_builds_public_stage_classes() -> None:
    """The built stages are the public Producer/Processor/Accumulator classes."""

    class Kinds(dsl.Task):
        @dsl.producer
        def src(self) -> list[int]:
            return [1]

        @dsl.processor
        def proc(self, x: int) -> int:
            return x

        @dsl.accumulator
        def acc(self, batch: list[int]) -> list[int]:
            return batch

        @dsl.consumer
        def sink(self, x: Any) -> None:
            del x

    stages = Kinds().build().stages
    assert [type(s) for s in stages] == [
        mg.Producer,
        mg.Processor,
        mg.Accumulator,
        mg.Consumer,
    ]
    assert [s.name for s in stages] == ["src", "proc", "acc", "sink"]


# --------------------------------------------------------------------------
# Declaring stages


def test_decorators_work_bare_and_called() -> None:
    """@dsl.processor and @dsl.processor() declare the same stage."""

    class Both(dsl.Task):
        @dsl.processor
        def one(self, x: int) -> int:
            return x

        @dsl.processor()
        def two(self, x: int) -> int:
            return x

    assert [s.name for s in Both().build().stages] == ["one", "two"]


def test_name_keyword_renames_the_stage() -> None:
    """name= sets the stage name; the attribute keeps its own name."""

    class Renamed(dsl.Task):
        @dsl.processor(name="parse")
        def parse_line(self, line: str) -> str:
            return line

    (stage,) = Renamed().build().stages
    assert stage.name == "parse"
    assert Renamed().parse_line("x") == "x"


def test_stage_options_pass_through() -> None:
    """Decorator keywords become the stage's options."""

    def policy(item: Any, error: BaseException) -> None:
        del item, error

    class Opts(dsl.Task):
        @dsl.producer(auto_start=False, total=7)
        def src(self) -> list[int]:
            return []

        @dsl.processor(
            processes=2,
            to="sink",
            queue_size=3,
            max_retries=5,
            retry_delay=0.5,
            retry_backoff=3.0,
            retry_on=KeyError,
            on_error=policy,
            item_timeout=2.0,
            ordered=True,
        )
        def work(self, x: int) -> int:
            return x

        @dsl.consumer(from_="work", routing="broadcast")
        def sink(self, x: Any) -> None:
            del x

    src, work, sink = Opts().build().stages
    assert isinstance(src, mg.Producer)
    assert (src.total, src.options.auto_start) == (7, False)
    o = work.options
    assert (o.processes, o.to, o.queue_size, o.max_retries) == (2, ("sink",), 3, 5)
    assert (o.retry_delay, o.retry_backoff, o.retry_on) == (0.5, 3.0, (KeyError,))
    assert (o.on_error, o.item_timeout, o.ordered) == (policy, 2.0, True)
    assert sink.options.from_ == ("work",)


def test_inline_hook_options_bind_self() -> None:
    """A hook option whose first parameter is self is bound to the task."""

    class Inline(dsl.Task):
        def __init__(self) -> None:
            self.calls: list[str] = []

        def started(self) -> None:
            self.calls.append("started")

        @dsl.processor(before=started, after=[lambda self: self.calls.append("after")])
        def work(self, x: int) -> int:
            return x

    task = Inline()
    (stage,) = task.build().stages
    for hook in (*stage.options.before, *stage.options.after):
        hook()
    assert task.calls == ["started", "after"]


def test_stage_methods_are_bound_to_the_instance() -> None:
    """Built stages call the method on the instance that built them."""

    class Scaled(dsl.Task):
        def __init__(self, factor: int) -> None:
            self.factor = factor

        @dsl.processor
        def scale(self, x: int) -> int:
            return x * self.factor

    (a,) = Scaled(2).build().stages
    (b,) = Scaled(5).build().stages
    assert a.target_callable() is not None
    assert b.target_callable() is not None
    assert (a.target_callable()(3), b.target_callable()(3)) == (6, 15)  # type: ignore[misc]


def test_member_access_from_instance_and_class() -> None:
    """An instance reads a bound method; the class reads the declaration."""

    class Access(dsl.Task):
        @dsl.processor(threads=2)
        def double(self, x: int) -> int:
            return x * 2

        @dsl.before_run
        def hello(self) -> str:
            return "hi"

    assert Access().double(4) == 8
    assert Access().hello() == "hi"
    assert isinstance(Access.double, dsl.StageMethod)
    assert Access.double.kind == "processor"
    assert Access.double.options == {"threads": 2}
    assert isinstance(Access.hello, dsl.HookMethod)
    assert repr(Access.double).startswith("<processor ")


def test_stage_class_adds_an_instance() -> None:
    """@dsl.stage on a nested Stage subclass adds cls(name, **options)."""

    class WithClass(dsl.Task):
        @dsl.producer
        def src(self) -> list[int]:
            return [1, 2]

        @dsl.stage(threads=2)
        class Flatten(mg.Processor[Any, Any]):
            def process(self, item: Any) -> Any:
                return item

        @dsl.stage(name="flat")
        class Spread(mg.Debatch):
            pass

    _, first, second = WithClass().build().stages
    assert type(first) is WithClass.Flatten
    assert (first.name, first.options.threads) == ("flatten", 2)
    assert (type(second), second.name) == (WithClass.Spread, "flat")


def test_stage_class_gets_per_task_keywords() -> None:
    """A stage class's keywords may be computed from the task."""

    class Tagger(mg.Processor[Any, Any]):
        def __init__(self, name: str, *, tag: str, **options: Any) -> None:
            self.tag = tag
            super().__init__(name, **options)

        def process(self, item: Any) -> Any:
            return (self.tag, item)

    class Tagged(dsl.Task):
        def __init__(self, tag: str) -> None:
            self.tag = tag

        tagger = dsl.stage(tag=lambda self: self.tag, threads=lambda self: 2)(Tagger)

    (stage,) = Tagged("x").build().stages
    assert isinstance(stage, Tagger)
    assert (stage.name, stage.tag, stage.options.threads) == ("tagger", "x", 2)


def test_stage_class_bad_constructor_keywords_fail_at_build() -> None:
    """A stage class that rejects the keywords gives a DefinitionError naming it."""

    class Bad(dsl.Task):
        @dsl.stage(colour="red")
        class Paint(mg.Processor[Any, Any]):
            def process(self, item: Any) -> Any:
                return item

    with pytest.raises(
        DefinitionError, match=r"Bad\.Paint: Paint\('paint'\): unknown option 'colour'$"
    ):
        Bad().build()

    class NoName(dsl.Task):
        @dsl.stage
        class Fixed(mg.Processor[Any, Any]):
            def __init__(self) -> None:
                super().__init__("fixed")

            def process(self, item: Any) -> Any:
                return item

    with pytest.raises(
        DefinitionError,
        match=r"NoName\.Fixed: .*Fixed\('fixed', \*\*options\) failed: ",
    ):
        NoName().build()


def test_stage_decorator_rejects_non_stage_classes() -> None:
    """@dsl.stage needs a Stage subclass, and not a Pipeline."""
    with pytest.raises(
        DefinitionError, match=r"^@mg\.stage decorates a Stage subclass, got"
    ):

        class NotStage(dsl.Task):
            @dsl.stage
            class Plain:  # type: ignore[type-var]
                pass

    with pytest.raises(
        DefinitionError, match=r"is a Pipeline; declare nested pipelines"
    ):

        class PipeStage(dsl.Task):
            @dsl.stage
            class Sub(mg.Pipeline):
                pass


def test_stage_name_given_positionally_is_explained() -> None:
    """@dsl.processor("name") says to use name=."""
    with pytest.raises(
        DefinitionError, match=r"^@mg\.processor takes the stage name as name='x'"
    ):

        class Positional(dsl.Task):
            @dsl.processor("x")  # type: ignore[call-overload, untyped-decorator]
            def work(self, x: int) -> int:
                return x


# --------------------------------------------------------------------------
# Values computed from the instance


def test_per_task_options_are_computed_at_build() -> None:
    """Options given as functions of self are computed from the instance."""

    class Sized(dsl.Task):
        def __init__(self, workers: int, size: int) -> None:
            self.workers = workers
            self.size = size

        def target(self) -> str:
            return "sink"

        @dsl.producer(total=lambda self: self.size * 2)
        def src(self) -> list[int]:
            return []

        @dsl.processor(threads=lambda self: self.workers, to=target)
        def work(self, x: int) -> int:
            return x

        @dsl.accumulator(max_size=lambda self: self.size)
        def batch(self, items: list[int]) -> list[int]:
            return items

        @dsl.consumer
        def sink(self, x: Any) -> None:
            del x

    src, work, acc, _ = Sized(4, 25).build().stages
    assert isinstance(src, mg.Producer)
    assert isinstance(acc, mg.Accumulator)
    assert (src.total, work.options.threads, work.options.to, acc.max_size) == (
        50,
        4,
        ("sink",),
        25,
    )
    _, work8, acc8, _ = Sized(8, 3).build().stages
    assert isinstance(acc8, mg.Accumulator)
    assert (work8.options.threads, acc8.max_size) == (8, 3)


def test_callable_options_bind_functions_of_self() -> None:
    """on_error= and key= given as functions of self are bound, not called."""

    class Bound(dsl.Task):
        def __init__(self) -> None:
            self.failed: list[Any] = []

        def record(self, item: Any, error: BaseException) -> None:
            self.failed.append((item, type(error)))

        def parity(self, item: int) -> int:
            return item % 2

        @dsl.processor(on_error=record)
        def work(self, x: int) -> int:
            return x

        @dsl.accumulator(key=parity)
        def batch(self, items: list[int]) -> list[int]:
            return items

    task = Bound()
    work, acc = task.build().stages
    assert isinstance(acc, mg.Accumulator)
    policy = work.options.on_error
    assert callable(policy)
    policy(3, KeyError())
    assert task.failed == [(3, KeyError)]
    assert acc.key is not None
    assert acc.key(5) == 1


def test_per_task_option_errors_name_the_method() -> None:
    """A computed option that is invalid fails build() naming the method."""

    class Zero(dsl.Task):
        @dsl.processor(threads=lambda self: 0)
        def work(self, x: int) -> int:
            return x

    with pytest.raises(
        DefinitionError,
        match=r"Zero\.work: Processor\('work'\): threads must be >= 1, got 0",
    ):
        Zero().build()


def test_per_task_option_with_extra_parameters_is_an_error() -> None:
    """A function of self that needs more arguments is reported."""

    class Extra(dsl.Task):
        @dsl.processor(threads=lambda self, n: n)  # type: ignore[arg-type, misc]
        def work(self, x: int) -> int:
            return x

    with pytest.raises(
        DefinitionError, match=r"option threads= could not be computed from the task"
    ):
        Extra().build()


def test_subclass_init_without_super() -> None:
    """A Task subclass's __init__ need not call super().__init__()."""

    class Own(dsl.Task):
        def __init__(self, workers: int) -> None:  # no super().__init__()
            self.workers = workers

        @dsl.processor(threads=lambda self: self.workers)
        def work(self, x: int) -> int:
            return x

    (stage,) = Own(6).build().stages
    assert stage.options.threads == 6


def test_build_returns_a_fresh_pipeline_each_time() -> None:
    """Each build() creates new Pipeline and stage objects."""

    class Fresh(dsl.Task):
        @dsl.processor
        def work(self, x: int) -> int:
            return x

    task = Fresh()
    first, second = task.build(), task.build()
    assert first is not second
    assert first.stages[0] is not second.stages[0]


# --------------------------------------------------------------------------
# Config


def test_config_class_attributes_set_the_pipeline_config() -> None:
    """Class attributes named like Config fields are the pipeline's config."""

    class Configured(dsl.Task):
        max_threads = 10
        queue_size = 50
        max_retries = 0
        on_error = "skip"
        helper = 3  # not a Config field: ignored

        @dsl.processor
        def work(self, x: int) -> int:
            return x

    config = Configured().build().config
    assert (
        config.max_threads,
        config.queue_size,
        config.max_retries,
        config.on_error,
    ) == (
        10,
        50,
        0,
        "skip",
    )


def test_config_may_depend_on_the_instance() -> None:
    """A config attribute may be a function of self, a property or set on self."""

    class Dynamic(dsl.Task):
        max_threads = lambda self: self.workers * 2  # noqa: E731
        queue_size = 10
        max_retries = 1

        def __init__(self, workers: int) -> None:
            self.workers = workers
            self.max_retries = 4  # overrides the class default

        @property
        def chunk_size(self) -> int:
            return self.workers

    config = Dynamic(3).build().config
    assert (
        config.max_threads,
        config.queue_size,
        config.max_retries,
        config.chunk_size,
    ) == (
        6,
        10,
        4,
        3,
    )


def test_bad_static_config_fails_at_class_creation() -> None:
    """A bad config class attribute raises ConfigError naming the class."""
    with pytest.raises(
        ConfigError, match=r"BadConfig\.max_threads: must be >= 1, got 0"
    ):

        class BadConfig(dsl.Task):
            max_threads = 0


def test_pipeline_name_from_class_keyword_or_class_name() -> None:
    """The pipeline's name is the name= class keyword, else the class's snake_case."""

    class ETLJob(dsl.Task):
        pass

    class Named(dsl.Task, name="custom"):
        pass

    assert ETLJob().build().name == "etl_job"
    assert Named().build().name == "custom"


def test_bad_pipeline_name_is_rejected() -> None:
    """A name= class keyword with a dot is a DefinitionError."""
    with pytest.raises(
        DefinitionError, match=r"name must be a non-empty string without '\.'"
    ):

        class Dotted(dsl.Task, name="a.b"):
            pass


# --------------------------------------------------------------------------
# Hooks


def _hooks(pipe: mg.Pipeline, event: str) -> list[tuple[str, str | None, Any]]:
    return [(_fn_name(h.fn), h.stage, h.errors) for h in pipe.hooks.for_event(event)]


def test_hook_decorators_register_hooks() -> None:
    """Each hook decorator registers its event, stage filter and error filter."""

    class Hooked(dsl.Task):
        @dsl.producer
        def src(self) -> list[int]:
            return []

        @dsl.consumer
        def save(self, x: Any) -> None:
            del x

        @dsl.before_run
        def br(self) -> None: ...

        @dsl.after_run
        def ar(self, pipeline: mg.Pipeline) -> None: ...

        @dsl.before_fork
        def bf(self) -> None: ...

        @dsl.after_fork("save")
        def af(self, stage: str) -> None: ...

        @dsl.before("save")
        def bs(self) -> None: ...

        @dsl.after
        def as_(self, stage: str, pipeline: mg.Pipeline) -> None: ...

        @dsl.before_stage("src")
        def bs2(self) -> None: ...

        @dsl.on_error
        def any_error(self, error: BaseException, item: Any, stage: str) -> None: ...

        @dsl.on_error(KeyError, stage="save")
        def key_error(self, error: BaseException) -> None: ...

    pipe = Hooked().build()
    assert _hooks(pipe, "before_run") == [("br", None, None)]
    assert _hooks(pipe, "after_run") == [("ar", None, None)]
    assert _hooks(pipe, "before_fork") == [("bf", None, None)]
    assert _hooks(pipe, "after_fork") == [("af", "save", None)]
    assert _hooks(pipe, "before_stage") == [("bs", "save", None), ("bs2", "src", None)]
    assert _hooks(pipe, "after_stage") == [("as_", None, None)]
    assert _hooks(pipe, "on_error") == [
        ("any_error", None, None),
        ("key_error", "save", (KeyError,)),
    ]


def test_hooks_are_bound_to_the_instance() -> None:
    """A registered hook is the instance's bound method."""

    class Bound(dsl.Task):
        def __init__(self) -> None:
            self.seen: list[str] = []

        @dsl.before_run
        def begin(self) -> None:
            self.seen.append("begin")

    task = Bound()
    (hook,) = task.build().hooks.for_event("before_run")
    hook.fn()
    assert task.seen == ["begin"]


def test_prepend_hooks_run_first() -> None:
    """prepend=True registers with HookChain.prepend (the subclass's first)."""

    class Base(dsl.Task):
        @dsl.before_run
        def base(self) -> None: ...

    class Child(Base):
        @dsl.before_run(prepend=True)
        def child_first(self) -> None: ...

        @dsl.before_run
        def child_last(self) -> None: ...

    names = [n for n, _, _ in _hooks(Child().build(), "before_run")]
    assert names == ["child_first", "base", "child_last"]


def test_hook_naming_an_unknown_stage_fails_validation() -> None:
    """A stage-limited hook naming no stage fails validation with a suggestion."""

    class Typo(dsl.Task):
        @dsl.processor
        def transform(self, x: int) -> int:
            return x

        @dsl.before("trnsform")
        def hook(self) -> None: ...

    pipe = Typo().build()
    with pytest.raises(
        DefinitionError,
        match=r"unknown stage 'trnsform' \(did you mean 'transform'\?\)$",
    ):
        pipe.validate()


def test_hook_requiring_an_unknown_parameter_is_rejected() -> None:
    """A hook method requiring a keyword its event does not pass is rejected."""
    with pytest.raises(
        DefinitionError,
        match=(
            r"^@mg\.before_run: hook method .*Bad\.hook\(\) requires parameter 'item', "
            r"which before_run hooks are not given \(they receive keyword arguments "
            r"pipeline\)$"
        ),
    ):

        class Bad(dsl.Task):
            @dsl.before_run
            def hook(self, item: Any) -> None: ...


def test_on_error_rejects_non_exception_arguments() -> None:
    """@dsl.on_error takes exception classes only."""
    with pytest.raises(
        DefinitionError, match=r"^@mg\.on_error takes exception types, got 3$"
    ):
        dsl.on_error(3)  # type: ignore[call-overload]


def test_stage_hook_decorators_reject_bad_stage_arguments() -> None:
    """@dsl.before_fork("") is a DefinitionError."""
    with pytest.raises(DefinitionError, match=r"stage must be a stage name, got ''"):
        dsl.before_fork("")


# --------------------------------------------------------------------------
# Nested pipelines


def test_nested_task_class_becomes_nested_pipeline() -> None:
    """A Task class defined in the body is a nested Pipeline (stages, hooks, config)."""

    class Outer(dsl.Task):
        @dsl.producer
        def src(self) -> list[int]:
            return [1]

        class LoadUsers(dsl.Task):
            queue_size = 5

            @dsl.processor
            def load(self, x: int) -> int:
                return x

            @dsl.after_run
            def done(self) -> None: ...

        @dsl.consumer
        def sink(self, x: Any) -> None:
            del x

    pipe = Outer().build()
    _, inner, _ = pipe.stages
    assert isinstance(inner, mg.Pipeline)
    assert inner.name == "load_users"
    assert [s.name for s in inner.stages] == ["load"]
    assert inner.config.queue_size == 5
    assert pipe.config.queue_size == 1000
    assert _hooks(inner, "after_run") == [("done", None, None)]
    graph = pipe.graph()
    assert graph.names == ("src", "load_users.load", "sink")


def test_pipeline_decorator_names_and_routes_nested_pipelines() -> None:
    """@dsl.pipeline gives a nested Task a name and routing options."""

    class Routed(dsl.Task):
        @dsl.pipeline("extract", to="load")
        class Extract(dsl.Task):
            @dsl.producer
            def rows(self) -> list[int]:
                return [1, 2]

        @dsl.pipeline(to=())
        class Transform(dsl.Task):
            @dsl.processor
            def clean(self, x: int) -> int:
                return x

        @dsl.pipeline(from_="extract")
        class Load(dsl.Task):
            @dsl.consumer
            def save(self, x: Any) -> None:
                del x

    pipe = Routed().build()
    assert [s.name for s in pipe.stages] == ["extract", "transform", "load"]
    graph = pipe.graph()
    edges = {(graph.names[e.src], graph.names[e.dst]) for e in graph.edges}
    assert edges == {("extract.rows", "load.save")}
    assert Routed.Extract.__name__ == "Extract"  # the attribute is still the class


def test_pipeline_helper_nests_a_task_defined_elsewhere() -> None:
    """x = dsl.pipeline(...)(Other) nests Other under the attribute's name."""

    class Sink(dsl.Task):
        @dsl.consumer
        def save(self, x: Any) -> None:
            del x

    class Composed(dsl.Task):
        @dsl.producer
        def src(self) -> list[int]:
            return [1]

        left = dsl.pipeline(queue_size=3)(Sink)
        right = dsl.pipeline(Sink)

    pipe = Composed().build()
    _, left, right = pipe.stages
    assert (left.name, right.name) == ("left", "right")
    assert isinstance(left, mg.Pipeline)
    assert left.config.queue_size == 3
    assert Composed.left is Sink


def test_nested_task_reads_the_outer_instance() -> None:
    """A nested task's stage methods see the enclosing task's attributes."""

    class Outer(dsl.Task):
        def __init__(self, workers: int) -> None:
            self.workers = workers

        class Inner(dsl.Task):
            @dsl.processor(threads=lambda self: self.workers)
            def work(self, x: int) -> int:
                return x + self.workers  # type: ignore[attr-defined, no-any-return]

    (inner,) = Outer(3).build().stages
    assert isinstance(inner, mg.Pipeline)
    (work,) = inner.stages
    assert work.options.threads == 3
    fn = work.target_callable()
    assert fn is not None
    assert fn(1) == 4


def test_missing_attribute_without_outer_raises_attribute_error() -> None:
    """A task without an enclosing task raises AttributeError for unknown attributes."""

    class Alone(dsl.Task):
        pass

    with pytest.raises(AttributeError, match=r"'Alone' object has no attribute 'nope'"):
        _ = Alone().nope  # type: ignore[attr-defined]


def test_nested_task_needing_arguments_fails_at_build() -> None:
    """A nested Task class whose __init__ needs arguments gives a DefinitionError."""

    class Outer(dsl.Task):
        class Inner(dsl.Task):
            def __init__(self, n: int) -> None:
                self.n = n

    with pytest.raises(
        DefinitionError,
        match=(
            r"^nested pipeline 'inner': .*Inner\(\) must be callable "
            r"without arguments"
        ),
    ):
        Outer().build()


def test_pipeline_decorator_requires_a_task_class() -> None:
    """dsl.pipeline() applied to something else is a DefinitionError."""
    with pytest.raises(
        DefinitionError, match=r"^mg\.pipeline\(\) nests a mg\.Task subclass"
    ):

        class Bad(dsl.Task):
            x = dsl.pipeline(to="y")(int)  # type: ignore[type-var]


# --------------------------------------------------------------------------
# Parallel groups, reroute, connect


def test_parallel_block_groups_stages() -> None:
    """with dsl.parallel(): builds the same edges as Pipeline.parallel()."""

    class Fan(dsl.Task):
        @dsl.producer
        def src(self) -> list[int]:
            return [1]

        with dsl.parallel():

            @dsl.processor
            def a(self, x: int) -> int:
                return x

            helper = 3  # not a stage: ignored

            @dsl.processor
            def b(self, x: int) -> int:
                return x

        @dsl.consumer
        def sink(self, x: Any) -> None:
            del x

    graph = Fan().build().graph()
    edges = {(graph.names[e.src], graph.names[e.dst]) for e in graph.edges}
    assert edges == {("src", "a"), ("src", "b"), ("a", "sink"), ("b", "sink")}


def test_parallel_blocks_cannot_nest() -> None:
    """Nested with dsl.parallel() blocks are a DefinitionError."""
    with pytest.raises(
        DefinitionError, match=r"^mg\.parallel\(\) groups cannot be nested$"
    ):

        class Nested(dsl.Task):
            with dsl.parallel(), dsl.parallel():
                pass


def test_reroute_and_connect_statements() -> None:
    """dsl.reroute() and dsl.connect() in the body become Pipeline.reroute/connect."""

    class Routes(dsl.Task):
        @dsl.producer
        def src(self) -> list[int]:
            return [1]

        @dsl.processor
        def work(self, x: int) -> int:
            return x

        @dsl.consumer
        def a(self, x: Any) -> None:
            del x

        @dsl.consumer(to=())
        def b(self, x: Any) -> None:
            del x

        dsl.connect("work", "a", weight=3)
        dsl.connect("work", "b", weight=1)
        dsl.reroute("a", to="b")

    graph = Routes().build().graph()
    edges = {(graph.names[e.src], graph.names[e.dst], e.weight) for e in graph.edges}
    assert edges == {
        ("src", "work", None),
        ("work", "a", 3),
        ("work", "b", 1),
        ("a", "b", None),
    }


def test_reroute_and_connect_validate_arguments() -> None:
    """Bad names or weights fail at the statement."""
    with pytest.raises(DefinitionError, match=r"^mg\.reroute\(\) takes stage names"):

        class BadReroute(dsl.Task):
            dsl.reroute("a", to=[1])  # type: ignore[list-item]

    with pytest.raises(DefinitionError, match=r"^weight must be a number > 0, got 0$"):

        class BadWeight(dsl.Task):
            dsl.connect("a", "b", weight=0)


# --------------------------------------------------------------------------
# Inheritance


class Publisher(dsl.Task):
    """A base task used by the inheritance tests."""

    max_retries = 2

    @dsl.producer
    def source(self) -> list[int]:
        return [1, 2]

    @dsl.processor
    def transform(self, x: int) -> int:
        return x * 10

    @dsl.consumer
    def publish(self, x: Any) -> None:
        del x

    @dsl.before_run
    def connect_db(self) -> None: ...


def test_subclass_inherits_and_extends() -> None:
    """A subclass gets its parent's stages, hooks and config in order, then its own."""

    class Audited(Publisher):
        max_retries = 5
        queue_size = 20

        @dsl.consumer(to=())
        def audit(self, x: Any) -> None:
            del x

        @dsl.after_run
        def report(self) -> None: ...

        dsl.reroute("transform", to=["publish", "audit"])

    pipe = Audited().build()
    assert [s.name for s in pipe.stages] == ["source", "transform", "publish", "audit"]
    assert (pipe.config.max_retries, pipe.config.queue_size) == (5, 20)
    assert _hooks(pipe, "before_run") == [("connect_db", None, None)]
    assert _hooks(pipe, "after_run") == [("report", None, None)]
    graph = pipe.graph()
    edges = {(graph.names[e.src], graph.names[e.dst]) for e in graph.edges}
    # publish -> audit is the sequential default: publish has no explicit edge.
    assert edges == {
        ("source", "transform"),
        ("transform", "publish"),
        ("transform", "audit"),
        ("publish", "audit"),
    }


def test_parent_and_siblings_are_unaffected() -> None:
    """Extending a Task changes neither the parent nor a sibling subclass."""

    class One(Publisher):
        max_retries = 0

        @dsl.consumer
        def extra(self, x: Any) -> None:
            del x

    class Two(Publisher):
        dsl.reroute("transform", to=())

    assert [s.name for s in Publisher().build().stages] == [
        "source",
        "transform",
        "publish",
    ]
    assert Publisher().build().config.max_retries == 2
    assert [s.name for s in Two().build().stages] == ["source", "transform", "publish"]
    assert Two().build().config.max_retries == 2
    assert [s.name for s in One().build().stages][-1] == "extra"
    parent_graph = Publisher().build().graph()
    assert len(parent_graph.edges) == 2


def test_multi_level_inheritance() -> None:
    """Grandchildren inherit through every level, in order."""

    class Mid(Publisher):
        @dsl.consumer
        def mid(self, x: Any) -> None:
            del x

    class Leaf(Mid):
        @dsl.consumer
        def leaf(self, x: Any) -> None:
            del x

    assert [s.name for s in Leaf().build().stages] == [
        "source",
        "transform",
        "publish",
        "mid",
        "leaf",
    ]


def test_redefining_an_inherited_stage_is_an_error() -> None:
    """The same stage name in a subclass needs override=True."""
    with pytest.raises(
        DefinitionError,
        match=(
            r"^.*Clash\.transform: stage 'transform' is already defined by "
            r"Publisher; pass override=True to replace it$"
        ),
    ):

        class Clash(Publisher):
            @dsl.processor
            def transform(self, x: int) -> int:
                return x


def test_renamed_stage_clash_is_an_error() -> None:
    """A clash through name= is detected too."""
    with pytest.raises(
        DefinitionError, match=r"stage 'publish' is already defined by Publisher"
    ):

        class Clash(Publisher):
            @dsl.consumer(name="publish")
            def publish_v2(self, x: Any) -> None:
                del x


def test_override_replaces_the_stage_in_place() -> None:
    """override=True replaces the declaration (kind, options) in the same place."""

    class Faster(Publisher):
        @dsl.processor(threads=4, override=True)
        def transform(self, x: int) -> int:
            return x + 1

    pipe = Faster().build()
    assert [s.name for s in pipe.stages] == ["source", "transform", "publish"]
    transform = pipe.stages[1]
    assert transform.options.threads == 4
    fn = transform.target_callable()
    assert fn is not None
    assert fn(1) == 2
    assert Publisher().build().stages[1].options.threads is None


def test_override_without_an_inherited_stage_is_an_error() -> None:
    """override=True naming nothing inherited is a DefinitionError with a suggestion."""
    with pytest.raises(
        DefinitionError,
        match=(
            r"override=True, but no inherited stage is named 'transfrom' "
            r"\(did you mean 'transform'\?\)$"
        ),
    ):

        class Typo(Publisher):
            @dsl.processor(override=True)
            def transfrom(self, x: int) -> int:
                return x


def test_stage_defined_twice_in_one_class_is_an_error() -> None:
    """Two members with one stage name in one class is a DefinitionError."""
    with pytest.raises(
        DefinitionError, match=r"^stage 'work' is defined twice in .*Twice$"
    ):

        class Twice(dsl.Task):
            @dsl.processor
            def work(self, x: int) -> int:
                return x

            @dsl.processor(name="work")
            def work2(self, x: int) -> int:
                return x


def test_plain_method_override_keeps_the_declaration() -> None:
    """Overriding a stage method without a decorator keeps its options and position."""

    class Base(dsl.Task):
        @dsl.processor(threads=3)
        def transform(self, x: int) -> int:
            return x * 10

    class Custom(Base):
        def transform(self, x: int) -> int:
            return Base.transform.fn(self, x) + 1

    (stage,) = Custom().build().stages
    assert stage.options.threads == 3
    fn = stage.target_callable()
    assert fn is not None
    assert fn(2) == 21


def test_plain_override_is_validated() -> None:
    """A plain override with the wrong arity is reported at class creation."""
    with pytest.raises(
        DefinitionError,
        match=r"Wrong\.transform at .*> takes 3 required positional parameters",
    ):

        class Wrong(Publisher):
            def transform(self, x: int, y: int, z: int) -> int:  # type: ignore[override]
                return x


def test_non_method_hiding_a_stage_is_an_error() -> None:
    """Hiding an inherited stage with a plain value is a DefinitionError."""
    with pytest.raises(
        DefinitionError,
        match=r"Hidden\.transform hides the stage 'transform' inherited from Publisher",
    ):

        class Hidden(Publisher):
            transform = None  # type: ignore[assignment]


def test_hook_override_rules() -> None:
    """Hooks: redefining needs override=True; a plain method override keeps the hook."""
    with pytest.raises(
        DefinitionError, match=r"hook 'connect_db' is already defined by Publisher"
    ):

        class Again(Publisher):
            @dsl.before_run
            def connect_db(self) -> None: ...

    class Replaced(Publisher):
        @dsl.after_run(override=True)
        def connect_db(self) -> None: ...

    class Plain(Publisher):
        def connect_db(self) -> None: ...

    assert _hooks(Replaced().build(), "before_run") == []
    assert _hooks(Replaced().build(), "after_run") == [("connect_db", None, None)]
    (hook,) = Plain().build().hooks.for_event("before_run")
    assert hook.fn.__func__ is Plain.connect_db  # type: ignore[attr-defined]


def test_member_hiding_a_member_of_another_kind_is_an_error() -> None:
    """A new member on an inherited member's attribute name is a DefinitionError."""
    with pytest.raises(
        DefinitionError, match=r"Hides\.connect_db hides the hook 'connect_db'"
    ):

        class Hides(Publisher):
            @dsl.processor(name="other")
            def connect_db(self, x: int) -> int:  # type: ignore[override]
                return x


def test_multiple_inheritance_merges_and_detects_conflicts() -> None:
    """Mixins merge in base order; one name from two bases must be resolved."""

    class Left(dsl.Task):
        @dsl.consumer
        def left(self, x: Any) -> None:
            del x

    class Right(dsl.Task):
        @dsl.consumer
        def right(self, x: Any) -> None:
            del x

    class Both(Left, Right):
        pass

    assert [s.name for s in Both().build().stages] == ["left", "right"]

    class OtherLeft(dsl.Task):
        @dsl.consumer(name="left")
        def other(self, x: Any) -> None:
            del x

    with pytest.raises(DefinitionError, match=r"stage 'left' is inherited from both"):

        class Conflict(Left, OtherLeft):
            pass

    class Resolved(Left, OtherLeft):
        @dsl.consumer(name="left", override=True)
        def mine(self, x: Any) -> None:
            del x

    assert [s.name for s in Resolved().build().stages] == ["left"]


def test_diamond_inheritance_shares_the_common_base() -> None:
    """A stage reached through two bases from one ancestor is inherited once."""

    class A(Publisher):
        @dsl.consumer
        def a(self, x: Any) -> None:
            del x

    class B(Publisher):
        @dsl.consumer
        def b(self, x: Any) -> None:
            del x

    class D(A, B):
        pass

    assert [s.name for s in D().build().stages] == [
        "source",
        "transform",
        "publish",
        "a",
        "b",
    ]

    class Faster(Publisher):
        @dsl.processor(threads=2, override=True)
        def transform(self, x: int) -> int:
            return x

    class Both(B, Faster):
        pass

    # Faster's override is more derived than the Publisher stage B inherits.
    assert Both().build().stages[1].options.threads == 2


def test_task_can_be_an_abstract_base() -> None:
    """abc.abstractmethod works on Task subclasses."""

    class Base(dsl.Task):
        @abc.abstractmethod
        def rows(self) -> list[int]: ...

        @dsl.producer
        def source(self) -> list[int]:
            return self.rows()

    with pytest.raises(TypeError, match=r"abstract"):
        Base()  # type: ignore[abstract]

    class Concrete(Base):
        def rows(self) -> list[int]:
            return [1]

    assert [s.name for s in Concrete().build().stages] == ["source"]


def test_reserved_attribute_names_are_rejected() -> None:
    """A member named build, run or start would hide Task's API."""
    with pytest.raises(DefinitionError, match=r"'run' is mg\.Task's own method"):

        class Reserved(dsl.Task):
            @dsl.processor
            def run(self, x: int) -> int:  # type: ignore[override]
                return x


# --------------------------------------------------------------------------
# Arity and placement checks


def test_producer_arity_is_checked_at_decoration() -> None:
    """A producer taking a parameter besides self is rejected, naming the method."""
    with pytest.raises(
        DefinitionError,
        match=(
            r"^stage 'src' \(Producer\): <method .*BadProducer\.src at .*> takes 1 "
            r"required positional parameter\(s\); expected fn\(\) returning an iterable"
        ),
    ):

        class BadProducer(dsl.Task):
            @dsl.producer
            def src(self, x: int) -> list[int]:
                return [x]


@pytest.mark.parametrize("decorator", [dsl.processor, dsl.consumer, dsl.accumulator])
def test_item_stage_arity_is_checked_at_decoration(
    decorator: Callable[[Callable[..., Any]], object],
) -> None:
    """Processors, consumers and accumulators take 1 or 2 parameters besides self."""
    with pytest.raises(
        DefinitionError,
        match=r"<method .*None_\.work at .*> takes no required positional parameter",
    ):

        class None_(dsl.Task):  # noqa: N801
            @decorator
            def work(self) -> None: ...

    with pytest.raises(
        DefinitionError,
        match=r"<method .*Three\.work at .*> takes 3 required positional parameters",
    ):

        class Three(dsl.Task):
            @decorator
            def work(self, a: Any, b: Any, c: Any) -> None: ...

    class Fine(dsl.Task):
        @decorator
        def one(self, item: Any) -> None: ...

        @decorator
        def two(self, item: Any, emit: Any) -> None: ...

        @decorator
        def defaults(self, item: Any, extra: int = 0) -> None: ...

    assert len(Fine().build().stages) == 3


def test_method_without_self_is_rejected() -> None:
    """A decorated function with no parameter at all is rejected."""
    with pytest.raises(
        DefinitionError,
        match=(
            r"^@mg\.processor: method .*NoSelf\.work\(\) takes no self parameter; "
            r"define it as def work\(self, \.\.\.\)$"
        ),
    ):

        class NoSelf(dsl.Task):
            @dsl.processor  # type: ignore[arg-type]
            def work() -> None: ...


def test_unknown_option_is_rejected_at_decoration() -> None:
    """A misspelt stage option fails at decoration with a suggestion."""
    with pytest.raises(
        DefinitionError,
        match=(
            r"^@mg\.processor on .*Typo\.work\(\): Processor\('work'\): unknown "
            r"option 'thread' \(did you mean 'threads'\?\)$"
        ),
    ):

        class Typo(dsl.Task):
            @dsl.processor(thread=3)  # type: ignore[call-overload, untyped-decorator]
            def work(self, x: int) -> int:
                return x


def test_bad_static_option_value_is_rejected_at_decoration() -> None:
    """A static option value is validated when the decorator is applied."""
    with pytest.raises(DefinitionError, match=r"max_size must be an int >= 1, got 0"):

        class Bad(dsl.Task):
            @dsl.accumulator(max_size=0)
            def batch(self, items: list[int]) -> list[int]:
                return items


def test_decorator_at_module_level_is_rejected() -> None:
    """A decorator applied outside a class body raises at decoration."""
    namespace: dict[str, Any] = {"dsl": dsl}
    code = "@dsl.processor\ndef work(self, x):\n    return x\n"
    with pytest.raises(
        DefinitionError,
        match=(
            r"^@mg\.processor must be used in the body of a mg\.Task subclass, "
            r"not at module level$"
        ),
    ):
        exec(code, namespace)  # noqa: S102 - a module body on purpose


def test_decorator_in_a_function_is_rejected() -> None:
    """A decorator applied in a function body raises at decoration."""
    with pytest.raises(
        DefinitionError,
        match=(
            r"^@mg\.consumer must be used in the body of a mg\.Task subclass, "
            r"not in function .*test_decorator_in_a_function_is_rejected\(\)$"
        ),
    ):

        @dsl.consumer
        def save(self: Any, x: Any) -> None:
            del x


def test_decorator_in_a_plain_class_is_rejected() -> None:
    """A decorator in the body of a class that is not a Task raises at decoration."""
    with pytest.raises(
        DefinitionError,
        match=(
            r"^@mg\.before_run must be used in the body of a mg\.Task subclass, "
            r"not in class .*Plain, which is not a mg\.Task subclass$"
        ),
    ):

        class Plain:
            @dsl.before_run
            def hook(self) -> None: ...


@pytest.mark.parametrize(
    ("label", "call"),
    [
        ("mg.parallel()", dsl.parallel),
        ("mg.reroute()", lambda: dsl.reroute("a", to="b")),
        ("mg.connect()", lambda: dsl.connect("a", "b")),
        ("@mg.stage", lambda: dsl.stage(mg.Debatch)),
        ("mg.pipeline()", lambda: dsl.pipeline(dsl.Task)),
        ("@mg.on_error", lambda: dsl.on_error(KeyError)(lambda self: None)),
        ("@mg.before", lambda: dsl.before("x")(lambda self: None)),
        ("@mg.after_fork", lambda: dsl.after_fork(lambda self: None)),
    ],
)
def test_statements_outside_a_task_body_are_rejected(label: str, call: Any) -> None:
    """Every class-body helper checks that it runs in a Task body."""
    with pytest.raises(
        DefinitionError,
        match=rf"^{re.escape(label)} must be used in the body of a mg\.Task subclass",
    ):
        call()


def test_options_with_the_bare_form_are_rejected() -> None:
    """Options and a function in one call are rejected (use the called form)."""
    with pytest.raises(
        DefinitionError, match=r"give options as @mg\.processor\(\.\.\.\) keywords"
    ):

        class Mixed(dsl.Task):
            work = dsl.processor(lambda self, x: x, threads=2)  # type: ignore[call-overload]


def test_lambda_members_take_the_attribute_name() -> None:
    """A stage declared from a lambda is named after its attribute."""

    class Lambdas(dsl.Task):
        double = dsl.processor(lambda self, x: x * 2)

    (stage,) = Lambdas().build().stages
    assert stage.name == "double"
