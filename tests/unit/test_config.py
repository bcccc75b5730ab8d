"""Unit tests of minigun.Config: defaults, validation and loaders (SPEC §7)."""

from __future__ import annotations

import os
import textwrap
from typing import TYPE_CHECKING, Any

import attrs
import pytest

import minigun as mg
from minigun.errors import ConfigError, DefinitionError, MinigunError

if TYPE_CHECKING:
    from pathlib import Path


def load_problems(data: dict[str, Any]) -> tuple[str, ...]:
    """Return the problems Config.from_dict reports for *data*."""
    with pytest.raises(ConfigError) as exc:
        mg.Config.from_dict(data)
    return exc.value.problems


# --------------------------------------------------------------------------
# Defaults and validators


def test_defaults_match_the_spec() -> None:
    """Config() has the defaults SPEC §7 and §5 name."""
    config = mg.Config()
    actual = {
        "queue_size": config.queue_size,
        "max_threads": config.max_threads,
        "max_processes": config.max_processes,
        "max_interpreters": config.max_interpreters,
        "max_retries": config.max_retries,
        "retry_delay": config.retry_delay,
        "retry_backoff": config.retry_backoff,
        "on_error": config.on_error,
    }
    assert actual == {
        "queue_size": 1000,
        "max_threads": None,
        "max_processes": None,
        "max_interpreters": None,
        "max_retries": 3,
        "retry_delay": 0.05,
        "retry_backoff": 2.0,
        "on_error": "raise",
    }


def test_config_is_frozen() -> None:
    """Assigning to a Config field raises."""
    config = mg.Config()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.queue_size = 5  # type: ignore[misc]


def test_config_takes_keywords_only() -> None:
    """Config fields are keyword-only."""
    with pytest.raises(TypeError):
        mg.Config(10)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("queue_size", -1, "queue_size: must be >= 0, got -1"),
        ("queue_size", "10", "queue_size: expected int, got '10'"),
        ("max_threads", 0, "max_threads: must be >= 1, got 0"),
        ("max_processes", True, "max_processes: expected int, got True"),
        ("max_retries", -1, "max_retries: must be >= 0, got -1"),
        ("retry_delay", -0.1, "retry_delay: must be >= 0, got -0.1"),
        ("retry_backoff", 0.5, "retry_backoff: must be >= 1, got 0.5"),
        (
            "on_error",
            "ignore",
            "on_error: expected one of 'raise', 'skip', got 'ignore'",
        ),
    ],
)
def test_constructor_validates_each_field(field: str, value: Any, problem: str) -> None:
    """A bad value given to Config() raises ConfigError naming the field."""
    with pytest.raises(ConfigError) as exc:
        mg.Config(**{field: value})
    assert exc.value.problems == (problem,)


@pytest.mark.parametrize(
    ("field", "value"),
    [("queue_size", 0), ("queue_size", None), ("max_threads", 8), ("retry_delay", 0)],
)
def test_constructor_accepts_boundary_values(field: str, value: Any) -> None:
    """Boundary values (0, None where optional) are accepted as given."""
    assert getattr(mg.Config(**{field: value}), field) == value


def test_config_error_is_a_value_error_and_minigun_error() -> None:
    """ConfigError can be caught as ValueError or MinigunError."""
    with pytest.raises(ConfigError) as exc:
        mg.Config(queue_size=-1)
    assert isinstance(exc.value, ValueError)
    assert isinstance(exc.value, MinigunError)


def test_config_error_message_has_one_line_per_problem() -> None:
    """str(ConfigError) is the problems joined by newlines."""
    with pytest.raises(ConfigError) as exc:
        mg.Config.from_dict({"queue_size": "many", "queue_sise": 1})
    assert str(exc.value) == (
        "queue_size: expected int, got 'many'\n"
        "queue_sise: unknown key (did you mean 'queue_size'?)"
    )


# --------------------------------------------------------------------------
# from_dict


def test_from_dict_builds_a_config() -> None:
    """from_dict sets the given keys and keeps the other defaults."""
    config = mg.Config.from_dict({"queue_size": 10, "on_error": "skip"})
    assert config == mg.Config(queue_size=10, on_error="skip")


def test_from_dict_round_trips_to_dict() -> None:
    """from_dict(config.to_dict()) equals config."""
    config = mg.Config(queue_size=5, max_threads=3, retry_delay=0.5)
    assert mg.Config.from_dict(config.to_dict()) == config


def test_from_dict_converts_numeric_strings() -> None:
    """Numeric strings (as env vars and CLI --set give them) are converted."""
    config = mg.Config.from_dict({"queue_size": "12", "retry_delay": "0.5"})
    assert (config.queue_size, config.retry_delay) == (12, 0.5)


def test_from_dict_accepts_none_for_optional_fields() -> None:
    """None is accepted where a field is optional."""
    config = mg.Config.from_dict({"queue_size": None, "max_threads": None})
    assert (config.queue_size, config.max_threads) == (None, None)


def test_from_dict_unknown_key_suggests_the_close_one() -> None:
    """An unknown key is one problem line with a suggestion."""
    assert load_problems({"queue_sise": 3}) == (
        "queue_sise: unknown key (did you mean 'queue_size'?)",
    )


def test_from_dict_unknown_key_without_close_match() -> None:
    """An unknown key unlike any field has no suggestion."""
    assert load_problems({"zzzzzz": 3}) == ("zzzzzz: unknown key",)


def test_from_dict_bad_int_names_key_expected_type_and_value() -> None:
    """A non-integer string for an int field reads ``key: expected int, got ...``."""
    assert load_problems({"queue_size": "many"}) == (
        "queue_size: expected int, got 'many'",
    )


def test_from_dict_bad_required_int_has_a_readable_type() -> None:
    """The expected type of a non-optional int field reads ``int``."""
    assert load_problems({"max_retries": "x"}) == (
        "max_retries: expected int, got 'x'",
    )


def test_from_dict_bad_float_has_a_readable_type() -> None:
    """The expected type of a float field reads ``float``."""
    assert load_problems({"retry_delay": "soon"}) == (
        "retry_delay: expected float, got 'soon'",
    )


def test_from_dict_bad_choice_is_a_config_error() -> None:
    """An on_error outside the choices is a ConfigError line naming the key."""
    assert load_problems({"on_error": "ignore"}) == (
        "on_error: expected one of 'raise', 'skip', got 'ignore'",
    )


@pytest.mark.parametrize("value", [True, 2.5])
def test_from_dict_rejects_what_the_constructor_rejects(value: Any) -> None:
    """from_dict does not silently coerce a bool or a float into an int field."""
    problems = load_problems({"max_retries": value})
    assert [p.split(":")[0] for p in problems] == ["max_retries"]


def test_from_dict_lists_every_problem_once() -> None:
    """Several bad keys give one line each, each starting with its key."""
    problems = load_problems(
        {"queue_sise": 1, "queue_size": "many", "max_threads": "x", "chunk_size": 0}
    )
    assert sorted(p.split(":")[0] for p in problems) == [
        "chunk_size",
        "max_threads",
        "queue_sise",
        "queue_size",
    ]


def test_from_dict_lists_every_range_problem() -> None:
    """Two values out of range are two problem lines."""
    assert sorted(load_problems({"max_retries": -1, "chunk_size": 0})) == [
        "chunk_size: must be >= 1, got 0",
        "max_retries: must be >= 0, got -1",
    ]


def test_from_dict_rejects_non_mappings() -> None:
    """from_dict of a list is a ConfigError."""
    with pytest.raises(ConfigError) as exc:
        mg.Config.from_dict([("queue_size", 1)])  # type: ignore[arg-type]
    assert exc.value.problems == ("expected a mapping of settings, got list",)


# --------------------------------------------------------------------------
# from_env


def test_from_env_reads_prefixed_variables() -> None:
    """MINIGUN_* variables set the matching fields; others are ignored."""
    environ = {
        "MINIGUN_QUEUE_SIZE": "5",
        "MINIGUN_ON_ERROR": "skip",
        "MINIGUN_RETRY_DELAY": "0.25",
        "PATH": "/bin",
        "QUEUE_SIZE": "7",
    }
    config = mg.Config.from_env(environ=environ)
    assert config == mg.Config(queue_size=5, on_error="skip", retry_delay=0.25)


@pytest.mark.parametrize("value", ["", "none", "None", " NONE "])
def test_from_env_empty_and_none_mean_none(value: str) -> None:
    """An empty or ``none`` value sets an optional field to None."""
    config = mg.Config.from_env(environ={"MINIGUN_QUEUE_SIZE": value})
    assert config.queue_size is None


def test_from_env_custom_prefix() -> None:
    """A custom prefix reads only the variables with that prefix."""
    environ = {"APP_MAX_RETRIES": "1", "MINIGUN_MAX_RETRIES": "9"}
    assert mg.Config.from_env("APP_", environ=environ).max_retries == 1


def test_from_env_reports_bad_values_and_unknown_names() -> None:
    """Bad values and unknown variables are one line each, with the key."""
    with pytest.raises(ConfigError) as exc:
        mg.Config.from_env("APP_", environ={"APP_QUEUE_SIZE": "x", "APP_BOGUS": "1"})
    assert sorted(exc.value.problems) == [
        "bogus: unknown key",
        "queue_size: expected int, got 'x'",
    ]


def test_from_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without environ=, from_env reads os.environ."""
    for key in list(os.environ):
        if key.startswith("MINIGUN_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MINIGUN_MAX_RETRIES", "7")
    assert mg.Config.from_env() == mg.Config(max_retries=7)


# --------------------------------------------------------------------------
# from_toml


def write(path: Path, text: str) -> Path:
    """Write dedented *text* to *path* and return the path."""
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_from_toml_reads_a_plain_file(tmp_path: Path) -> None:
    """Top-level keys of a plain TOML file are the settings."""
    path = write(
        tmp_path / "minigun.toml",
        """\
        queue_size = 10
        max_retries = 0
        on_error = "skip"
        """,
    )
    assert mg.Config.from_toml(path) == mg.Config(
        queue_size=10, max_retries=0, on_error="skip"
    )


def test_from_toml_reads_tool_minigun_of_pyproject(tmp_path: Path) -> None:
    """A pyproject.toml is read from its [tool.minigun] table."""
    path = write(
        tmp_path / "pyproject.toml",
        """\
        [project]
        name = "app"

        [tool.minigun]
        queue_size = 20
        retry_backoff = 3.0
        """,
    )
    assert mg.Config.from_toml(path) == mg.Config(queue_size=20, retry_backoff=3.0)


def test_from_toml_pyproject_without_table_gives_defaults(tmp_path: Path) -> None:
    """A pyproject.toml without [tool.minigun] gives the default config."""
    path = write(tmp_path / "pyproject.toml", '[project]\nname = "app"\n')
    assert mg.Config.from_toml(str(path)) == mg.Config()


def test_from_toml_reports_every_problem(tmp_path: Path) -> None:
    """Bad values and unknown keys in a TOML file are one line each."""
    path = write(
        tmp_path / "minigun.toml",
        """\
        queue_size = "lots"
        max_retrys = 2
        """,
    )
    with pytest.raises(ConfigError) as exc:
        mg.Config.from_toml(path)
    assert sorted(exc.value.problems) == [
        "max_retrys: unknown key (did you mean 'max_retries'?)",
        "queue_size: expected int, got 'lots'",
    ]


def test_from_toml_missing_file_names_the_path(tmp_path: Path) -> None:
    """A missing file is a ConfigError naming the path."""
    path = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as exc:
        mg.Config.from_toml(path)
    assert exc.value.problems[0].startswith(f"{path}: cannot read configuration")


def test_from_toml_invalid_toml_names_the_path(tmp_path: Path) -> None:
    """Unparsable TOML is a ConfigError naming the path."""
    path = write(tmp_path / "bad.toml", "queue_size = \n")
    with pytest.raises(ConfigError) as exc:
        mg.Config.from_toml(path)
    assert exc.value.problems[0].startswith(f"{path}: cannot read configuration")


# --------------------------------------------------------------------------
# evolve and Pipeline(config=, **overrides)


def test_evolve_returns_a_modified_copy() -> None:
    """evolve() changes the given fields and leaves the original alone."""
    base = mg.Config(queue_size=10)
    changed = base.evolve(max_retries=0)
    assert (base.max_retries, changed) == (3, mg.Config(queue_size=10, max_retries=0))


def test_evolve_validates_values() -> None:
    """evolve() with a bad value raises ConfigError."""
    with pytest.raises(ConfigError) as exc:
        mg.Config().evolve(queue_size=-5)
    assert exc.value.problems == ("queue_size: must be >= 0, got -5",)


def test_evolve_rejects_unknown_keys() -> None:
    """evolve() with an unknown key raises ConfigError with a suggestion."""
    with pytest.raises(ConfigError) as exc:
        mg.Config().evolve(max_retry=1)
    assert exc.value.problems == (
        "max_retry: unknown key (did you mean 'max_retries'?)",
    )


def test_pipeline_default_config() -> None:
    """A pipeline without config has Config()."""
    assert mg.Pipeline("p").config == mg.Config()


def test_pipeline_overrides_apply_on_top_of_config() -> None:
    """Pipeline(name, config=c, **overrides) uses c with the overrides applied."""
    pipe = mg.Pipeline("p", config=mg.Config(max_retries=1, queue_size=5), queue_size=7)
    assert pipe.config == mg.Config(max_retries=1, queue_size=7)


def test_pipeline_rejects_bad_overrides() -> None:
    """A misspelt override is rejected with a suggestion.

    A Pipeline is also a stage, so the keyword may be reported as an unknown
    setting (ConfigError) or an unknown option (DefinitionError).
    """
    with pytest.raises(
        (ConfigError, DefinitionError),
        match=r"queue_sise'?:? unknown .*\(did you mean 'queue_size'\?\)"
        r"|unknown .*'queue_sise' \(did you mean 'queue_size'\?\)",
    ):
        mg.Pipeline("p", queue_sise=7)


def test_pipeline_rejects_bad_override_values() -> None:
    """A bad override value is a ConfigError naming the key."""
    with pytest.raises(ConfigError) as exc:
        mg.Pipeline("p", max_retries=-1)
    assert exc.value.problems == ("max_retries: must be >= 0, got -1",)


def test_pipeline_rejects_a_non_config() -> None:
    """config= must be a Config, not a dict."""
    with pytest.raises(ConfigError) as exc:
        mg.Pipeline("p", config={"queue_size": 1})  # type: ignore[arg-type]
    assert exc.value.problems == ("config must be a minigun.Config, got dict",)
