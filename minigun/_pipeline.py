"""Pipeline: the composition API; run() hands a validated graph to the runtime.

Model layer. The only imports of the runtime are inside `Pipeline.run` and
`Pipeline.start`, the hand-off point.
"""

from __future__ import annotations

import contextlib
import math
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs

from ._config import Config
from ._graph import Graph, build_graph
from ._hooks import HookChain
from ._stage import Producer, Stage, make_options
from .errors import ConfigError, DefinitionError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._report import RunReport
    from ._runtime import RunHandle

__all__ = ("Pipeline",)

_CONFIG_KEYS = frozenset(a.name for a in attrs.fields(Config))

S = TypeVar("S", bound=Stage[Any, Any])


@attrs.define(eq=False, init=False, repr=False, getstate_setstate=False)
class Pipeline(Stage[Any, Any]):  # type: ignore[override]
    """A graph of stages; build it with `add` and `connect`, then `run` it.

    Stages added one after another are chained in order unless they have
    explicit edges (``to=``, ``from_=``, `connect`); producers never receive
    implicit edges; stages added inside ``with pipe.parallel():`` are not
    chained to each other. A run moves items through bounded queues, so memory
    stays flat whatever the producers yield.

    A pipeline is itself a stage: `add` it to another pipeline and it runs
    as part of that one. Items sent to it reach its entry stages (those with
    no upstream inside it; several entries share items through its router,
    broadcast by default); what its terminal stages emit leaves by its own
    downstream edges. Its stages' qualified names are ``inner.stage``.

    Args:
        name: the pipeline's name.
        config: base settings; a nested pipeline without one inherits its
            parent's (a root pipeline: `Config()`).
        **kwargs: settings that override *config* (``queue_size=10``), and,
            for a nested pipeline, stage options (``to=``, ``from_=``,
            ``router=``/``routing=``, hooks).

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
    _config: Config | None
    _overrides: dict[str, Any]
    _entries: list[Any]
    _connections: list[tuple[Any, Any, float | None]]
    _group: list[Stage[Any, Any]] | None
    _reroutes: dict[Any, tuple[Any, ...]]
    _parent: Pipeline | None

    def __init__(
        self, name: str, *, config: Config | None = None, **kwargs: Any
    ) -> None:
        """Create an empty pipeline (see the class docstring)."""
        if not isinstance(name, str) or not name or "." in name:
            msg = f"pipeline name must be a non-empty string without '.', got {name!r}"
            raise DefinitionError(msg)
        self.name = name
        self.fn = None
        if config is not None and not isinstance(config, Config):
            msg = f"config must be a minigun.Config, got {type(config).__name__}"  # type: ignore[unreachable]
            raise ConfigError(msg)
        config_keys = _CONFIG_KEYS
        overrides = {k: v for k, v in kwargs.items() if k in config_keys}
        options = {k: v for k, v in kwargs.items() if k not in config_keys}
        self.options = make_options(f"Pipeline({name!r})", options)
        self._config = config
        self._overrides = overrides
        # Validate the overrides now, so a bad value fails where it was written.
        (config or Config()).evolve(**overrides)
        self.hooks = HookChain()
        self._entries = []
        self._connections = []
        self._group = None
        self._reroutes = {}
        self._parent = None

    def configure(self, **overrides: Any) -> Pipeline:
        """Override settings of this pipeline (validated); return the pipeline.

        Later calls win over earlier ones and over the keyword settings given
        to the constructor; stage options still win over both.

        Raises:
            ConfigError: an unknown key or a bad value, one line per problem.
        """
        unknown = sorted(k for k in overrides if k not in _CONFIG_KEYS)
        if unknown:
            msg = [f"{k}: unknown setting" for k in unknown]
            raise ConfigError(msg)
        merged = {**self._overrides, **overrides}
        (self._config or Config()).evolve(**merged)
        self._overrides = merged
        return self

    @property
    def config(self) -> Config:
        """The settings of this pipeline (a nested one: as inherited when run)."""
        return self.effective_config(
            self._parent.config if self._parent is not None else None
        )

    def effective_config(self, parent: Config | None) -> Config:
        """Return this pipeline's settings given its parent's (``None``: root)."""
        base = self._config or parent or Config()
        return base.evolve(**self._overrides) if self._overrides else base

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, stages={[s.name for s in self.stages]!r})"

    def describe(self) -> str:
        """Return ``"Pipeline 'name'"``."""
        return f"Pipeline {self.name!r}"

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the pipeline without its parent (a fused region crosses alone)."""
        state = super().__getstate__()
        state["_parent"] = None
        return state

    def to_mermaid(self) -> str:
        """Return a Mermaid ``flowchart`` of this pipeline (see `minigun.mermaid`).

        Raises:
            DefinitionError: the pipeline is invalid.
        """
        from .mermaid import to_mermaid  # noqa: PLC0415 - model->presentation hand-off

        return to_mermaid(self)

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
            if stage._parent is not None:  # noqa: SLF001
                msg = (
                    f"pipeline {stage.name!r} is already part of pipeline "
                    f"{stage._parent.name!r}"  # noqa: SLF001
                )
                raise DefinitionError(msg)
            node: Pipeline | None = self
            while node is not None:
                if node is stage:
                    msg = f"pipeline {stage.name!r} cannot contain itself"
                    raise DefinitionError(msg)
                node = node._parent  # noqa: SLF001
        if not isinstance(stage, Stage):
            msg = (  # type: ignore[unreachable]
                f"Pipeline.add() takes a Stage (Producer, Processor, Accumulator...), "
                f"got {stage!r}"
            )
            raise DefinitionError(msg)
        if any(s is stage for s in self.stages):
            msg = f"stage {stage.name!r} was already added to pipeline {self.name!r}"
            raise DefinitionError(msg)
        if isinstance(stage, Pipeline):
            stage._parent = self  # noqa: SLF001
        else:
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
            or not math.isfinite(weight)
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

    def reroute(
        self,
        stage: str | Stage[Any, Any],
        *,
        to: str | Stage[Any, Any] | list[str | Stage[Any, Any]] | tuple[Any, ...],
    ) -> None:
        """Replace every outgoing edge of *stage* with edges to *to*.

        For variants of a pipeline (subclasses, tests): the stage's own
        ``to=``, `connect` edges from it and other stages' ``from_=`` naming
        it are dropped. A stage left without upstream is reported at run
        start and only receives routed (`To`) items; it never hangs the run.

        Raises:
            DefinitionError: *to* is not a stage, a name or a list of them.
        """
        targets = (to,) if isinstance(to, str | Stage) else tuple(to)
        for t in targets:
            if not isinstance(t, str | Stage):
                msg = f"reroute() to= takes stage names or stages, got {t!r}"
                raise DefinitionError(msg)
        self._reroutes[stage] = targets

    def stage(self, name: str) -> Stage[Any, Any]:
        """Return the stage named *name* (``"inner.stage"`` for nested ones).

        Raises:
            DefinitionError: no stage has that name (with a suggestion).
        """
        if "." in name:
            head, rest = name.split(".", 1)
            inner = self.stage(head)
            if isinstance(inner, Pipeline):
                return inner.stage(rest)
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
        graph, problems = build_graph(self)
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
        self,
        *,
        timeout: float | None = None,
        deterministic: bool = False,
        hud: bool = False,
        progress: bool = False,
    ) -> RunReport:
        """Run the pipeline to the end and return its `RunReport`.

        ``run()`` is ``start()``, ``close()``, ``wait()``.

        Args:
            timeout: seconds; past it the run is cancelled and `TimeoutError`
                is raised after cleanup.
            deterministic: run every stage in the calling thread, one at a
                time, in a fixed order (for tests and debugging); executors
                are ignored and queues are unbounded.
            hud: show the live dashboard while the run goes (`minigun.dashboard`);
                without a terminal, a short status line every few seconds.
            progress: show progress bars per producer and terminal stage.

        Raises:
            DefinitionError: the pipeline is invalid (nothing ran).
            PipelineError: a stage or hook failed; ``.report`` has the report.
            TimeoutError: *timeout* passed.
        """
        graph = self.graph()
        untriggered = [
            n.name
            for n in graph.nodes
            if isinstance(n.stage, Producer) and not n.stage.options.auto_start
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
        if hud or progress:
            from .dashboard import watch  # noqa: PLC0415 - model->presentation hand-off

            return watch(handle, hud=hud, progress=progress, timeout=timeout)
        return handle.wait(timeout=timeout, raise_on_timeout=True)
