"""Golden tests of the Mermaid and plain-text renderings (SPEC §8, STYLE §9)."""

from __future__ import annotations

import re
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

import minigun as mg
from minigun.errors import DefinitionError
from minigun.mermaid import to_mermaid, to_text

if TYPE_CHECKING:
    from minigun._runtime import StageRunner


def ident(item: Any) -> Any:
    return item


def nothing() -> list[Any]:
    return []


def src(name: str, **options: Any) -> mg.Producer[Any]:
    """Return a producer named *name*."""
    return mg.Producer(name, nothing, **options)


def proc(name: str, **options: Any) -> mg.Processor[Any, Any]:
    """Return an identity processor named *name*."""
    return mg.Processor(name, ident, **options)


def golden(text: str) -> str:
    """Return the dedented golden text without its leading newline."""
    return textwrap.dedent(text).lstrip("\n")


def etl() -> mg.Pipeline:
    """Return a linear producer -> processor -> accumulator -> consumer chain."""
    pipe = mg.Pipeline("etl")
    pipe.add(src("numbers"))
    pipe.add(proc("double"))
    pipe.add(mg.Accumulator("batch", max_size=4))
    pipe.add(proc("save"))
    return pipe


def fan_out(**options: Any) -> mg.Pipeline:
    """Return numbers -> {fast, slow} with *options* on the producer."""
    pipe = mg.Pipeline("fan")
    pipe.add(src("numbers", **options))
    with pipe.parallel():
        pipe.add(proc("fast"))
        pipe.add(proc("slow"))
    return pipe


def two_level() -> mg.Pipeline:
    """Return numbers -> outer(parse -> inner(a | b, round robin)) -> save."""
    inner = mg.Pipeline("inner", routing="round_robin")
    with inner.parallel():
        inner.add(proc("a"))
        inner.add(proc("b", processes=2))
    outer = mg.Pipeline("outer")
    outer.add(proc("parse", threads=4))
    outer.add(inner)
    pipe = mg.Pipeline("etl")
    pipe.add(src("numbers"))
    pipe.add(outer)
    pipe.add(proc("save"))
    return pipe


class LabelledExecutor(mg.Executor):
    """An executor whose description holds Mermaid's special characters."""

    def launch(self, runner: StageRunner) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return 'gpu "A100" <fast> & #1 `x`'


# -- Mermaid -------------------------------------------------------------------


def test_linear_chain_draws_shapes_and_edges_in_order() -> None:
    """A chain shows each stage with its shape and executor, then its edges."""
    expected = golden(
        """
        flowchart LR
            numbers(["numbers<br/>producer"])
            double["double<br/>inline"]
            batch[["batch<br/>inline"]]
            save["save<br/>inline"]
            numbers --> double
            double --> batch
            batch --> save
        """
    )
    assert to_mermaid(etl()) == expected


def test_broadcast_fan_out_has_no_edge_labels() -> None:
    """The default broadcast router leaves fan-out edges unlabelled."""
    expected = golden(
        """
        flowchart LR
            numbers(["numbers<br/>producer"])
            fast["fast<br/>inline"]
            slow["slow<br/>inline"]
            numbers --> fast
            numbers --> slow
        """
    )
    assert to_mermaid(fan_out()) == expected


@pytest.mark.parametrize(
    "options",
    [{"routing": "round_robin"}, {"router": mg.RoundRobinRouter()}],
    ids=["routing", "router"],
)
def test_round_robin_fan_out_labels_edges(options: dict[str, Any]) -> None:
    """A round-robin fan-out labels each edge with the router kind."""
    expected = golden(
        """
        flowchart LR
            numbers(["numbers<br/>producer"])
            fast["fast<br/>inline"]
            slow["slow<br/>inline"]
            numbers -- round_robin --> fast
            numbers -- round_robin --> slow
        """
    )
    assert to_mermaid(fan_out(**options)) == expected


def test_key_router_labels_edges() -> None:
    """A KeyRouter fan-out labels each edge ``key``."""
    expected = golden(
        """
        flowchart LR
            numbers(["numbers<br/>producer"])
            fast["fast<br/>inline"]
            slow["slow<br/>inline"]
            numbers -- key --> fast
            numbers -- key --> slow
        """
    )
    assert to_mermaid(fan_out(router=mg.KeyRouter(str))) == expected


def test_single_downstream_is_never_labelled() -> None:
    """A router is irrelevant with one downstream, so the edge has no label."""
    pipe = mg.Pipeline("p")
    pipe.add(src("numbers", routing="round_robin"))
    pipe.add(proc("save"))
    assert to_mermaid(pipe).splitlines()[-1] == "    numbers --> save"


def test_weights_from_connect_label_each_edge() -> None:
    """``connect(weight=)`` weights appear on the edges; a missing weight is 1."""
    pipe = mg.Pipeline("w")
    pipe.add(src("numbers", router=mg.WeightedRouter(), to=()))
    pipe.add(proc("fast", to=()))
    pipe.add(proc("slow", to=()))
    pipe.add(proc("spare", to=()))
    pipe.connect("numbers", "fast", weight=3)
    pipe.connect("numbers", "slow", weight=0.5)
    pipe.connect("numbers", "spare")
    expected = golden(
        """
        flowchart LR
            numbers(["numbers<br/>producer"])
            fast["fast<br/>inline"]
            slow["slow<br/>inline"]
            spare["spare<br/>inline"]
            numbers -- "w=3" --> fast
            numbers -- "w=0.5" --> slow
            numbers -- "w=1" --> spare
        """
    )
    assert to_mermaid(pipe) == expected


def test_weights_from_router_names_label_each_edge() -> None:
    """Weights named in ``WeightedRouter({...})`` win over edge weights."""
    router = mg.WeightedRouter({"fast": 3, "slow": 2})
    pipe = mg.Pipeline("w")
    pipe.add(src("numbers", router=router, to=()))
    pipe.add(proc("fast", to=()))
    pipe.add(proc("slow", to=()))
    pipe.connect("numbers", "fast")
    pipe.connect("numbers", "slow", weight=7)
    expected = golden(
        """
        flowchart LR
            numbers(["numbers<br/>producer"])
            fast["fast<br/>inline"]
            slow["slow<br/>inline"]
            numbers -- "w=3" --> fast
            numbers -- "w=2" --> slow
        """
    )
    assert to_mermaid(pipe) == expected


def test_nested_pipeline_is_a_subgraph() -> None:
    """A nested pipeline's stages sit in a subgraph and get qualified ids."""
    inner = mg.Pipeline("inner")
    inner.add(proc("parse"))
    inner.add(proc("clean"))
    pipe = mg.Pipeline("etl")
    pipe.add(src("numbers"))
    pipe.add(inner)
    pipe.add(proc("save"))
    expected = golden(
        """
        flowchart LR
            numbers(["numbers<br/>producer"])
            subgraph inner["inner"]
                inner__parse["parse<br/>inline"]
                inner__clean["clean<br/>inline"]
            end
            save["save<br/>inline"]
            numbers --> inner__parse
            inner__parse --> inner__clean
            inner__clean --> save
        """
    )
    assert to_mermaid(pipe) == expected


def test_two_level_nesting_draws_the_entry_node() -> None:
    """A multi-entry inner pipeline gets a circle labelled with its router."""
    expected = golden(
        """
        flowchart LR
            numbers(["numbers<br/>producer"])
            subgraph outer["outer"]
                outer__parse["parse<br/>threads(4)"]
                subgraph outer__inner["inner"]
                    outer__inner__entry(("round_robin"))
                    outer__inner__a["a<br/>inline"]
                    outer__inner__b["b<br/>processes(2)"]
                end
            end
            save["save<br/>inline"]
            numbers --> outer__parse
            outer__parse --> outer__inner__entry
            outer__inner__entry -- round_robin --> outer__inner__a
            outer__inner__entry -- round_robin --> outer__inner__b
            outer__inner__a --> save
            outer__inner__b --> save
        """
    )
    assert to_mermaid(two_level()) == expected


def test_broadcast_entry_node_is_labelled_broadcast() -> None:
    """The entry node of a pipeline with the default router reads broadcast."""
    inner = mg.Pipeline("inner")
    with inner.parallel():
        inner.add(proc("a"))
        inner.add(proc("b"))
    pipe = mg.Pipeline("p")
    pipe.add(src("numbers"))
    pipe.add(inner)
    expected = golden(
        """
        flowchart LR
            numbers(["numbers<br/>producer"])
            subgraph inner["inner"]
                inner__entry(("broadcast"))
                inner__a["a<br/>inline"]
                inner__b["b<br/>inline"]
            end
            numbers --> inner__entry
            inner__entry --> inner__a
            inner__entry --> inner__b
        """
    )
    assert to_mermaid(pipe) == expected


def region() -> mg.Pipeline:
    """Return numbers -> decode(parse -> batch, 2 processes) -> save."""
    decode = mg.Pipeline("decode", processes=2)
    decode.add(proc("parse", threads=8))
    decode.add(mg.Accumulator("batch", max_size=2))
    pipe = mg.Pipeline("etl")
    pipe.add(src("numbers"))
    pipe.add(decode)
    pipe.add(proc("save"))
    return pipe


def test_fused_region_is_a_subgraph_titled_with_its_executor() -> None:
    """A nested pipeline with an executor is one subgraph the edges point at."""
    expected = golden(
        """
        flowchart LR
            numbers(["numbers<br/>producer"])
            subgraph decode["decode<br/>processes(2)"]
                decode__parse["parse"]
                decode__batch[["batch"]]
            end
            save["save<br/>inline"]
            numbers --> decode
            decode --> save
            decode__parse --> decode__batch
        """
    )
    assert to_mermaid(region()) == expected


def test_fused_region_in_text() -> None:
    """A fused region reads ``(region, executor)``; its stages show no executor."""
    expected = golden(
        """
        etl (pipeline)
            numbers (producer)
            decode (region, processes(2))
                parse (processor)
                batch (accumulator)
            save (processor, inline)
        edges:
            numbers -> decode
            decode -> save
            decode.parse -> decode.batch
        """
    )
    assert to_text(region()) == expected


def test_executors_are_shown_in_labels() -> None:
    """``threads=``, ``processes=`` and ``executor=`` show their description."""
    pipe = mg.Pipeline("p")
    pipe.add(src("numbers"))
    pipe.add(proc("fetch", threads=4))
    pipe.add(proc("parse", processes=2))
    pipe.add(mg.Accumulator("batch", executor=mg.ThreadExecutor(workers=3)))
    pipe.add(proc("save", executor=mg.InlineExecutor()))
    expected = golden(
        """
        flowchart LR
            numbers(["numbers<br/>producer"])
            fetch["fetch<br/>threads(4)"]
            parse["parse<br/>processes(2)"]
            batch[["batch<br/>threads(3)"]]
            save["save<br/>inline"]
            numbers --> fetch
            fetch --> parse
            parse --> batch
            batch --> save
        """
    )
    assert to_mermaid(pipe) == expected


def test_special_characters_in_labels_are_escaped() -> None:
    """Quotes, brackets, ``&``, ``#`` and backticks become entity codes."""
    pipe = mg.Pipeline("p")
    pipe.add(src("numbers"))
    pipe.add(proc("gpu", executor=LabelledExecutor()))
    line = to_mermaid(pipe).splitlines()[2]
    assert line == (
        '    gpu["gpu<br/>gpu #quot;A100#quot; #lt;fast#gt; #amp; #35;1 #96;x#96;"]'
    )


def test_odd_stage_names_get_safe_ids_and_escaped_labels() -> None:
    """Names with spaces or quotes become ``_`` in ids and entities in labels."""
    pipe = mg.Pipeline("p")
    pipe.add(src('say "hi"'))
    pipe.add(proc("to disk"))
    expected = golden(
        """
        flowchart LR
            say__hi_(["say #quot;hi#quot;<br/>producer"])
            to_disk["to disk<br/>inline"]
            say__hi_ --> to_disk
        """
    )
    assert to_mermaid(pipe) == expected


def test_ids_are_unique_and_avoid_mermaid_keywords() -> None:
    """Clashing ids get a numeric suffix; ``end`` becomes ``end_``."""
    inner = mg.Pipeline("inner")
    with inner.parallel():
        inner.add(proc("entry"))
        inner.add(proc("b"))
    pipe = mg.Pipeline("p")
    pipe.add(src("numbers"))
    pipe.add(proc("inner__b", to="inner"))
    pipe.add(inner)
    pipe.add(proc("end"))
    expected = golden(
        """
        flowchart LR
            numbers(["numbers<br/>producer"])
            inner__b["inner__b<br/>inline"]
            subgraph inner["inner"]
                inner__entry(("broadcast"))
                inner__entry_2["entry<br/>inline"]
                inner__b_2["b<br/>inline"]
            end
            end_["end<br/>inline"]
            numbers --> inner__b
            inner__b --> inner__entry
            inner__entry --> inner__entry_2
            inner__entry --> inner__b_2
            inner__entry_2 --> end_
            inner__b_2 --> end_
        """
    )
    assert to_mermaid(pipe) == expected


def test_output_is_deterministic_and_ends_with_newline() -> None:
    """Two renderings of equal pipelines are identical and end with a newline."""
    first = to_mermaid(two_level())
    assert first == to_mermaid(two_level())
    assert first.endswith("\n")
    assert not first.endswith("\n\n")


def test_pipeline_method_matches_function() -> None:
    """``Pipeline.to_mermaid()`` returns what `to_mermaid` returns."""
    pipe = two_level()
    assert pipe.to_mermaid() == to_mermaid(pipe)


def test_invalid_pipeline_raises_definition_error() -> None:
    """An invalid pipeline is reported, not drawn."""
    pipe = mg.Pipeline("p")
    pipe.add(src("numbers", to="sav"))
    pipe.add(proc("save"))
    message = "pipeline 'p' is invalid: stage 'numbers' to=: unknown stage 'sav' "
    message += "(did you mean 'save'?)"
    with pytest.raises(DefinitionError, match=f"^{re.escape(message)}$"):
        to_mermaid(pipe)
    with pytest.raises(DefinitionError, match=f"^{re.escape(message)}$"):
        to_text(pipe)


# -- plain text ----------------------------------------------------------------


def test_text_tree_lists_stages_then_edges() -> None:
    """The text form is an indented tree followed by labelled edges."""
    expected = golden(
        """
        etl (pipeline)
            numbers (producer)
            outer (pipeline)
                parse (processor, threads(4))
                inner (pipeline)
                    <entry> (entry, round_robin)
                    a (processor, inline)
                    b (processor, processes(2))
            save (processor, inline)
        edges:
            numbers -> outer.parse
            outer.parse -> outer.inner.<entry>
            outer.inner.<entry> -> outer.inner.a [round_robin]
            outer.inner.<entry> -> outer.inner.b [round_robin]
            outer.inner.a -> save
            outer.inner.b -> save
        """
    )
    assert to_text(two_level()) == expected


def test_text_shows_kinds_and_weights() -> None:
    """Accumulators read ``accumulator`` and weighted edges carry ``[w=n]``."""
    pipe = mg.Pipeline("w")
    pipe.add(src("numbers", router=mg.WeightedRouter({"fast": 3}), to=()))
    pipe.add(mg.Accumulator("fast", to=()))
    pipe.add(proc("slow", to=()))
    pipe.connect("numbers", "fast")
    pipe.connect("numbers", "slow")
    expected = golden(
        """
        w (pipeline)
            numbers (producer)
            fast (accumulator, inline)
            slow (processor, inline)
        edges:
            numbers -> fast [w=3]
            numbers -> slow [w=1]
        """
    )
    assert to_text(pipe) == expected


def test_text_without_edges_has_no_edge_section() -> None:
    """A pipeline with one stage lists it and nothing else."""
    pipe = mg.Pipeline("solo")
    pipe.add(src("numbers"))
    assert to_text(pipe) == "solo (pipeline)\n    numbers (producer)\n"
