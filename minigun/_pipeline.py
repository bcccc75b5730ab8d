"""Pipeline: the composition API; run() hands a validated graph to the runtime.

Model layer. The only imports of the runtime are inside `Pipeline.run` and
`Pipeline.start`, the hand-off point.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs

from ._config import Config
from ._graph import Graph, build_graph
from ._hooks import HookChain
from ._stage import Accumulator, Producer, Stage, StageOptions
from .errors import ConfigError, DefinitionError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._report import RunReport
    from ._runtime import RunHandle

__all__ = ("Pipeline",)

S = TypeVar("S", bound=Stage[Any, Any])


@attrs.define(eq=False, init=False, repr=False)
class Pipeline(Stage[Any, Any]):  # type: ignore[override]
    """A graph of stages; build it with `add` and `connect`, then `run` it.

    Stages added one after another are chained in order unless they have
    explicit edges (``to=``, ``from_=``, `connect`); producers never receive
    implicit edges; stages added inside ``with pipe.parallel():`` are not
    chained to each other. A run moves items through bounded queues, so memory
    stays flat whatever the producers yield.

    Args:
        name: the pipeline's name.
        config: base settings (default `Config()`).
        **config_overrides: settings that override *config* (``queue_size=10``).

    Example:
        >>> import minigun as mg
        >>> out = []
        >>> pipe = mg.Pipeline("etl")
        >>> _ = pipe.add(mg.Producer("numbers", lambda: range(5)))
        >>> _ = pipe.add(mg.Processor("double", lambda n: n * 2))
        >>> _ = pipe.add(mg.Consumer("save", out.append))
        >>> pipe.run().status
        'succeeded'
        >>> out
        [0, 2, 4, 6, 8]
    """

    kind: ClassVar[str] = "pipeline"

    hooks: HookChain
    config: Config
    _entries: list[Any]
    _connections: list[tuple[Any, Any, float | None]]
    _group: list[Stage[Any, Any]] | None

    def __init__(
        self, name: str, *, config: Config | None = None, **config_overrides: Any
    ) -> None:
        """Create an empty pipeline (see the class docstring)."""
        self.name = name
        self.fn = None
        self.options = StageOptions()
        if config is not None and not isinstance(config, Config):
            msg = f"config must be a minigun.Config, got {type(config).__name__}"  # type: ignore[unreachable]
            raise ConfigError(msg)
        base = config or Config()
        self.config = base.evolve(**config_overrides) if config_overrides else base
        self.hooks = HookChain()
        self._entries = []
        self._connections = []
        self._group = None
        if not isinstance(name, str) or not name or "." in name:
            msg = f"pipeline name must be a non-empty string without '.', got {name!r}"
            raise DefinitionError(msg)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, stages={[s.name for s in self.stages]!r})"

    def validate(self) -> None:
        """Check the whole graph; raise one `DefinitionError` listing every problem.

        Checks names (unknown, with a suggestion; duplicates), edges (a
        producer given inputs), cycles (with the path) and executors.

        Raises:
            DefinitionError: one line per problem.
        """
        self.graph()

    def requires_callable(self) -> bool:
        """A pipeline runs its stages, not a function."""
        return False

    # -- building ----------------------------------------------------------

    @property
    def stages(self) -> tuple[Stage[Any, Any], ...]:
        """The stages in the order they were added."""
        out: list[Stage[Any, Any]] = []
        for entry in self._entries:
            out.extend(entry if isinstance(entry, list) else [entry])
        return tuple(out)

    def add(self, stage: S) -> S:
        """Add *stage* and return it.

        Only the stage's own callable is checked here; names and edges are
        checked by `validate` and `run`.

        Raises:
            DefinitionError: *stage* is not a Stage, or is already in this pipeline.
        """
        if isinstance(stage, Pipeline):
            msg = (
                f"cannot add pipeline {stage.name!r} to {self.name!r}: nested "
                "pipelines are not supported by this version yet"
            )
            raise DefinitionError(msg)
        if not isinstance(stage, Stage):
            msg = (  # type: ignore[unreachable]
                f"Pipeline.add() takes a Stage (Producer, Processor, Accumulator...), "
                f"got {stage!r}"
            )
            raise DefinitionError(msg)
        if any(s is stage for s in self.stages):
            msg = f"stage {stage.name!r} was already added to pipeline {self.name!r}"
            raise DefinitionError(msg)
        stage.validate()
        if self._group is not None:
            self._group.append(stage)
        else:
            self._entries.append(stage)
        return stage

    def connect(
        self,
        src: str | Stage[Any, Any],
        dst: str | Stage[Any, Any],
        *,
        weight: float | None = None,
    ) -> None:
        """Add the edge *src* -> *dst* (names may refer to stages added later).

        Args:
            src: upstream stage or its name.
            dst: downstream stage or its name.
            weight: the edge's weight for a `WeightedRouter` on *src*.

        Raises:
            DefinitionError: *weight* is not a positive number.
        """
        if weight is not None and (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or weight <= 0
        ):
            msg = f"weight must be a number > 0, got {weight!r}"
            raise DefinitionError(msg)
        self._connections.append((src, dst, weight))

    @contextlib.contextmanager
    def parallel(self) -> Iterator[None]:
        """Group the stages added inside the block: they are not chained together.

        The stage before the group feeds every member; members without
        explicit outgoing edges feed the stage after the group.

        Raises:
            DefinitionError: groups are nested.
        """
        if self._group is not None:
            msg = "parallel() groups cannot be nested"
            raise DefinitionError(msg)
        group: list[Stage[Any, Any]] = []
        self._group = group
        try:
            yield
        finally:
            self._group = None
            if group:
                self._entries.append(group)

    def stage(self, name: str) -> Stage[Any, Any]:
        """Return the stage named *name*.

        Raises:
            DefinitionError: no stage has that name (with a suggestion).
        """
        for s in self.stages:
            if s.name == name:
                return s
        import difflib  # noqa: PLC0415 - error path only

        names = [s.name for s in self.stages]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        msg = f"pipeline {self.name!r} has no stage {name!r}{hint}"
        raise DefinitionError(msg)

    def graph(self) -> Graph:
        """Return the validated `Graph` of this pipeline.

        Raises:
            DefinitionError: one line per problem.
        """
        graph, problems = build_graph(self._entries, self._connections)
        if graph is not None:
            problems.extend(_check_executors(graph))
        if problems or graph is None:
            header = f"pipeline {self.name!r} is invalid:"
            if len(problems) == 1:
                msg = f"pipeline {self.name!r} is invalid: {problems[0]}"
            else:
                msg = "\n".join([header, *(f"  - {p}" for p in problems)])
            raise DefinitionError(msg)
        return graph

    # -- running -----------------------------------------------------------

    def start(self) -> RunHandle:
        """Start the pipeline and return a live `RunHandle` at once.

        The run stays open for `RunHandle.send` until `RunHandle.close` is
        called, then ends when every producer has finished and everything in
        flight has drained.

        Raises:
            DefinitionError: the pipeline is invalid (nothing was started).
        """
        from ._runtime import Runtime  # noqa: PLC0415 - the model->runtime hand-off

        return Runtime(self, self.graph()).start()

    def run(
        self, *, timeout: float | None = None, deterministic: bool = False
    ) -> RunReport:
        """Run the pipeline to the end and return its `RunReport`.

        ``run()`` is ``start()``, ``close()``, ``wait()``.

        Args:
            timeout: seconds; past it the run is cancelled and `TimeoutError`
                is raised after cleanup.
            deterministic: run every stage in the calling thread, one at a
                time, in a fixed order (for tests and debugging); executors
                are ignored and queues are unbounded.

        Raises:
            DefinitionError: the pipeline is invalid (nothing ran).
            PipelineError: a stage or hook failed; ``.report`` has the report.
            TimeoutError: *timeout* passed.
        """
        graph = self.graph()
        untriggered = [
            s.name
            for s in graph.stages
            if isinstance(s, Producer) and not s.options.auto_start
        ]
        if untriggered:
            msg = (
                f"pipeline {self.name!r}: producer(s) {untriggered!r} have "
                "auto_start=False, which run() can never trigger; use start() "
                "and RunHandle.trigger()"
            )
            raise DefinitionError(msg)
        if deterministic:
            from ._deterministic import run_deterministic  # noqa: PLC0415

            return run_deterministic(self, graph, timeout=timeout)
        from ._runtime import Runtime  # noqa: PLC0415 - the model->runtime hand-off

        handle = Runtime(self, graph).start()
        handle.close()
        return handle.wait(timeout=timeout, raise_on_timeout=True)


def _check_executors(graph: Graph) -> list[str]:
    problems: list[str] = []
    for s in graph.stages:
        opts = s.options
        if opts.interpreters is not None:
            problems.append(
                f"stage {s.name!r}: interpreters= is not available in this "
                "version of minigun yet; use processes= or threads="
            )
        ex = opts.executor
        if ex is not None and getattr(ex, "available", None) is not None:
            why = ex.available()  # type: ignore[attr-defined]
            if why:
                problems.append(f"stage {s.name!r}: {why}")
        if getattr(ex, "spawn", False):
            ups = [graph.stages[j] for j in graph.upstream[graph.stages.index(s)]]
            if not ups or not all(isinstance(u, Accumulator) for u in ups):
                problems.append(
                    f"stage {s.name!r}: {type(ex).__name__} runs one batch per "
                    "child or thread, so the stage must receive batches: put an "
                    "Accumulator before it"
                )
        if isinstance(s, Producer) and (
            ex is not None or opts.threads is not None or opts.processes is not None
        ):
            problems.append(
                f"producer {s.name!r} runs in its own thread; executor options "
                "do not apply to producers"
            )
    return problems
