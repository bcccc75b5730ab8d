"""Subinterpreter executors where they cannot run (CPython 3.11 and 3.12).

`Pipeline.validate()` and `run()` raise `DefinitionError` naming the stage
and the Python that is needed; nothing runs. On 3.13+ these tests are
skipped: ``test_interpreters.py`` covers the working path there.
"""

from __future__ import annotations

import platform
import sys
import threading
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun.testing import ListSink

if TYPE_CHECKING:
    from tests.interpreters import interp_stages as st
else:  # the name subinterpreters import it by (conftest.py puts it on sys.path)
    import interp_stages as st

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 13),
    reason=(
        "tests the unavailable path (CPython < 3.13); this is Python "
        f"{platform.python_version()}, where test_interpreters.py runs instead"
    ),
)

TIMEOUT = 10.0
HERE = ".".join(map(str, sys.version_info[:3]))


def _pipe(work: mg.Stage[Any, Any], *, batches: bool = False) -> mg.Pipeline:
    """``src [-> batch] -> work -> sink``."""
    pipe = mg.Pipeline("interp")
    pipe.add(mg.Producer("src", lambda: range(10)))
    if batches:
        pipe.add(mg.Accumulator("batch", max_size=5))
    pipe.add(work)
    pipe.add(ListSink("sink"))
    return pipe


@pytest.mark.parametrize(
    ("opts", "batches"),
    [
        ({"interpreters": 2}, False),
        ({"executor": mg.InterpreterExecutor(workers=2)}, False),
        ({"executor": mg.SpawnInterpreterExecutor(max_concurrent=2)}, True),
    ],
    ids=["interpreters=2", "InterpreterExecutor", "SpawnInterpreterExecutor"],
)
def test_validate_says_which_python_is_needed(
    opts: dict[str, Any], *, batches: bool
) -> None:
    """validate() raises DefinitionError naming the stage, 3.13 and this Python."""
    pipe = _pipe(mg.Processor("work", st.square, **opts), batches=batches)

    with pytest.raises(mg.DefinitionError) as info:
        pipe.validate()

    msg = str(info.value)
    assert "'work'" in msg
    assert "3.13" in msg
    assert HERE in msg


def test_run_raises_before_anything_runs() -> None:
    """run() raises the same DefinitionError and starts no thread or stage."""
    calls: list[int] = []

    def source() -> range:
        calls.append(1)
        return range(3)

    pipe = mg.Pipeline("interp")
    pipe.add(mg.Producer("src", source))
    pipe.add(mg.Processor("work", st.square, interpreters=2))
    before = threading.active_count()

    with pytest.raises(mg.DefinitionError, match=r"3\.13"):
        pipe.run(timeout=TIMEOUT)

    assert calls == []
    assert threading.active_count() == before


def test_stage_object_is_still_creatable() -> None:
    """Creating the stage works anywhere; only validation needs 3.13."""
    stage: mg.Processor[int, int] = mg.Processor("work", st.square, interpreters=3)

    assert stage.name == "work"
    assert mg.InterpreterExecutor(workers=3).workers == 3
    assert mg.InterpreterExecutor(workers=3).describe() == "interpreters(3)"
    assert mg.SpawnInterpreterExecutor(max_concurrent=2).workers == 2


def test_each_interpreter_stage_is_listed() -> None:
    """Two interpreter stages give one DefinitionError with a line for each."""
    pipe = mg.Pipeline("two")
    pipe.add(mg.Producer("src", lambda: range(3)))
    pipe.add(mg.Processor("first", st.square, interpreters=1))
    pipe.add(mg.Processor("second", st.ident, interpreters=1))

    with pytest.raises(mg.DefinitionError) as info:
        pipe.validate()

    lines = str(info.value).splitlines()
    assert any("'first'" in line and "3.13" in line for line in lines)
    assert any("'second'" in line and "3.13" in line for line in lines)


@pytest.mark.parametrize(
    "fork_opts",
    [{"processes": 2}, {"executor": mg.SpawnForkExecutor(max_concurrent=1)}],
    ids=["processes=2", "SpawnForkExecutor"],
)
def test_mixing_interpreters_and_forks_is_a_definition_error(
    fork_opts: dict[str, Any],
) -> None:
    """Mixing interpreter and fork executors is reported too, with a clear reason."""
    pipe = mg.Pipeline("mix")
    pipe.add(mg.Producer("src", lambda: range(4)))
    pipe.add(mg.Processor("interp", st.square, interpreters=2))
    pipe.add(mg.Accumulator("batch", max_size=2))
    pipe.add(mg.Processor("forked", st.ident, **fork_opts))

    with pytest.raises(mg.DefinitionError) as info:
        pipe.validate()

    msg = str(info.value)
    mix = [line for line in msg.splitlines() if "'forked'" in line]
    assert mix, msg
    assert "'interp'" in mix[0]
    assert "subinterpreter" in mix[0]
    assert "fork" in mix[0]


def test_processes_alone_still_validate() -> None:
    """Without interpreter stages, a process stage validates as usual."""
    pipe = _pipe(mg.Processor("work", st.square, processes=2))

    pipe.validate()


@pytest.mark.parametrize(
    "executor",
    [mg.InterpreterExecutor, mg.SpawnInterpreterExecutor],
    ids=["InterpreterExecutor", "SpawnInterpreterExecutor"],
)
@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_bad_worker_counts_are_definition_errors(executor: Any, bad: Any) -> None:
    """A worker count that is not an int >= 1 is a DefinitionError at once."""
    with pytest.raises(mg.DefinitionError, match=">= 1"):
        executor(bad)
