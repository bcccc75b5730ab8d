"""The ``minigun`` command: run, graph and demo (presentation layer).

``minigun run TARGET`` runs a pipeline and prints its report,
``minigun graph TARGET`` prints its graph, ``minigun demo`` runs the built-in
ETL demo, ``minigun --version`` prints the version. ``TARGET`` is
``path/to/file.py:name`` or ``package.module:name`` naming a `Pipeline`, a
Task class or instance (anything whose ``build()`` returns a Pipeline), or a
function without arguments that returns one. Also runs as ``python -m minigun``.

Exit status: 0 when the run succeeded; 1 when your code failed (importing or
building the target raised, the pipeline is invalid, the run failed or timed
out); 2 when the command line is wrong (unknown option, bad ``--set``, a
TARGET that cannot be found or is not a pipeline); 130 when interrupted.
Errors are one line on stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from loguru import logger

from ._config import Config
from ._logging import enable_logging
from ._pipeline import Pipeline
from ._stage import Stage
from ._version import __version__
from .errors import ConfigError, MinigunError, PipelineError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._report import RunReport

__all__ = (
    "TargetError",
    "UsageError",
    "apply_settings",
    "build_parser",
    "load_target",
    "main",
    "parse_settings",
)

#: Exit statuses.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_CONFIG_KEYS = tuple(a for a in Config().to_dict())


class UsageError(Exception):
    """The command line is wrong (exit status 2)."""


class TargetError(Exception):
    """The user's code failed while the target was imported or built (status 1)."""


def _write(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def _err(text: str) -> None:
    """Print one line of diagnostics on stderr."""
    _write(sys.stderr, text)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, raised instead of printed."""

    def error(self, message: str) -> NoReturn:
        hint = f" (see '{self.prog} --help')"
        raise UsageError(message + hint)


# --------------------------------------------------------------------------
# Loading a target


def _one_line(exc: BaseException) -> str:
    """Describe *exc* in one line: its type, message and where user code raised it."""
    text = str(exc).strip().splitlines()
    message = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    tb = exc.__traceback__
    where = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if "importlib" not in filename and not filename.startswith(
            str(Path(__file__).parent)
        ):
            where = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return f"{message} ({where})" if where else message


def _is_file_location(location: str) -> bool:
    return (
        location.endswith(".py")
        or "/" in location
        or os.sep in location
        or Path(location).is_file()
    )


def _import_file(location: str) -> Any:
    path = Path(location).expanduser()
    if not path.is_file():
        what = "a directory, not a file" if path.is_dir() else "no such file"
        msg = f"cannot load {location!r}: {what}"
        raise UsageError(msg)
    path = path.resolve()
    stem = path.stem
    name = stem if stem.isidentifier() and stem not in sys.modules else None
    name = name or f"_minigun_target_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        msg = f"cannot load {location!r}: not a Python file"
        raise UsageError(msg)
    module = importlib.util.module_from_spec(spec)
    # Like ``python file.py``: the file's folder comes first on sys.path, and
    # the module is registered so pickling and sibling imports find it.
    sys.path.insert(0, str(path.parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        msg = f"importing {location!r} raised {_one_line(exc)}"
        raise TargetError(msg) from exc
    return module


def _import_module(location: str) -> Any:
    if not all(part.isidentifier() for part in location.split(".")):
        msg = f"cannot load {location!r}: not a file path or a module name"
        raise UsageError(msg)
    # Like ``python -m``: the current directory is importable.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(location)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (
            location == exc.name or location.startswith(exc.name + ".")
        ):
            msg = f"cannot load {location!r}: no module named {exc.name!r}"
            raise UsageError(msg) from exc
        msg = f"importing {location!r} raised {_one_line(exc)}"
        raise TargetError(msg) from exc
    except Exception as exc:
        msg = f"importing {location!r} raised {_one_line(exc)}"
        raise TargetError(msg) from exc


def _is_task_class(obj: Any) -> bool:
    return isinstance(obj, type) and callable(getattr(obj, "build", None))


def _candidates(module: Any) -> list[str]:
    """Names in *module* that look like targets (pipelines and Task classes)."""
    names = []
    for key, value in vars(module).items():
        if key.startswith("_"):
            continue
        if isinstance(value, Pipeline) or (
            _is_task_class(value)
            and getattr(value, "__module__", None) == module.__name__
        ):
            names.append(key)
    return names


def _resolve(module: Any, location: str, name: str | None) -> tuple[Any, str]:
    if name is None:
        found = _candidates(module)
        if len(found) == 1:
            return getattr(module, found[0]), f"{location}:{found[0]}"
        listed = ", ".join(repr(f) for f in found) if found else "none found"
        msg = (
            f"{location!r}: say which pipeline to run as '{location}:NAME' "
            f"(pipelines and Task classes in it: {listed})"
        )
        raise UsageError(msg)
    obj = module
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            import difflib  # noqa: PLC0415 - error path only

            names = [k for k in dir(obj) if not k.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"{location!r} has no attribute {name!r}{hint}"
            raise UsageError(msg) from None
    return obj, f"{location}:{name}"


def _call_user(fn: Any, label: str, what: str) -> Any:
    try:
        return fn()
    except Exception as exc:
        msg = f"{label}: {what} raised {_one_line(exc)}"
        raise TargetError(msg) from exc


def _describe(obj: Any) -> str:
    if isinstance(obj, Stage):
        return f"a {type(obj).__name__} stage"
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    return f"an object of type {type(obj).__name__}"


def _to_pipeline(obj: Any, label: str) -> Pipeline:
    """Turn a Pipeline, a Task class or instance, or a factory into a Pipeline."""
    expected = "a Pipeline, a Task class or instance, or a function returning one"
    if isinstance(obj, Pipeline):
        return obj
    if _is_task_class(obj):
        try:
            inspect.signature(obj).bind()
        except TypeError as exc:
            msg = f"{label}: {obj.__name__}() needs arguments ({exc})"
            raise UsageError(msg) from None
        except ValueError:  # signature unreadable: just try it
            pass
        obj = _call_user(obj, label, f"{obj.__name__}()")
    build = getattr(obj, "build", None)
    if callable(build) and not isinstance(obj, type):
        result = _call_user(build, label, "build()")
        if isinstance(result, Pipeline):
            return result
        msg = f"{label}: build() returned {_describe(result)}, not a Pipeline"
        raise UsageError(msg)
    if callable(obj) and not isinstance(obj, type | Stage):
        try:
            inspect.signature(obj).bind()
        except TypeError:
            msg = f"{label} is a function that needs arguments; expected {expected}"
            raise UsageError(msg) from None
        except ValueError:
            pass
        result = _call_user(obj, label, "calling it")
        if isinstance(result, Pipeline):
            return result
        if callable(getattr(result, "build", None)) and not isinstance(result, type):
            return _to_pipeline(result, label)
        msg = f"{label} returned {_describe(result)}, not a Pipeline"
        raise UsageError(msg)
    msg = f"{label} is {_describe(obj)}; expected {expected}"
    raise UsageError(msg)


def load_target(target: str) -> Pipeline:
    """Import ``file.py:name`` or ``module:name`` and return its `Pipeline`.

    Raises:
        UsageError: the target cannot be found or is not a pipeline.
        TargetError: importing or building it raised.
    """
    location, sep, name = target.rpartition(":")
    if not sep or (len(location) == 1 and location.isalpha()):  # no ':' (or C:\)
        location, name = target, ""
    if not location:
        msg = f"bad target {target!r}: expected 'path/to/file.py:name' or 'module:name'"
        raise UsageError(msg)
    if _is_file_location(location):
        module = _import_file(location)
    else:
        module = _import_module(location)
    obj, label = _resolve(module, location, name or None)
    return _to_pipeline(obj, label)


# --------------------------------------------------------------------------
# --set key=value


def parse_settings(pairs: Sequence[str]) -> dict[str, Any]:
    """Parse ``key=value`` pairs; ``none``/``null``/empty means ``None``.

    Values stay strings: `Config.from_dict` parses numbers the way it parses
    environment variables.

    Raises:
        UsageError: a pair has no ``=`` or names no setting.
    """
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not key:
            msg = f"--set takes key=value, got {pair!r}"
            raise UsageError(msg)
        if key not in _CONFIG_KEYS:
            import difflib  # noqa: PLC0415 - error path only

            close = difflib.get_close_matches(key, _CONFIG_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"--set {key}: unknown setting{hint}"
            raise UsageError(msg)
        value = value.strip()
        settings[key] = None if value.lower() in ("", "none", "null") else value
    return settings


def apply_settings(pipe: Pipeline, settings: dict[str, Any]) -> Pipeline:
    """Apply *settings* (``--set``) to *pipe* with `Pipeline.configure`; return it.

    They win over the pipeline's own settings; stage options still win over
    both, as always.

    Raises:
        UsageError: a key or a value is invalid.
    """
    if not settings:
        return pipe
    try:
        return pipe.configure(**settings)
    except ConfigError as exc:
        msg = "--set: " + "; ".join(exc.problems)
        raise UsageError(msg) from None


# --------------------------------------------------------------------------
# Commands


def _setup_logging(config: Config, verbose: int, level: str | None) -> None:
    chosen = level or {0: config.log_level, 1: "INFO"}.get(verbose, "DEBUG")
    # loguru's default handler would print every minigun record at DEBUG.
    with contextlib.suppress(ValueError):
        logger.remove(0)
    enable_logging(chosen.upper())


def _dashboard_available() -> bool:
    return importlib.util.find_spec("minigun.dashboard") is not None


def _write_json(path: str, report: RunReport) -> None:
    text = report.to_json(indent=2) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        _err(f"minigun: error: cannot write {path!r}: {exc}")


def _cmd_run(args: argparse.Namespace) -> int:
    if args.timeout is not None and args.timeout <= 0:
        msg = f"--timeout must be > 0, got {args.timeout}"
        raise UsageError(msg)
    if args.json not in (None, "-"):
        parent = Path(args.json).expanduser().resolve().parent
        if not parent.is_dir():
            msg = f"--json {args.json}: folder {str(parent)!r} does not exist"
            raise UsageError(msg)
    settings = parse_settings(args.set or ())
    pipe = load_target(args.target)
    pipe = apply_settings(pipe, settings)
    _setup_logging(pipe.config, args.verbose, args.log_level)
    hud, progress = args.hud, args.progress
    if (hud or progress) and not _dashboard_available():
        _err("minigun: warning: the dashboard is not available; running without it")
        hud = progress = False
    # With --json -, stdout carries the JSON; the summary goes to stderr.
    out = sys.stderr if args.json == "-" else sys.stdout
    try:
        report = pipe.run(timeout=args.timeout, hud=hud, progress=progress)
    except PipelineError as exc:
        if exc.report is not None:
            _write(out, exc.report.summary())
            if args.json:
                _write_json(args.json, exc.report)
        first = exc.exceptions[0] if exc.exceptions else exc
        more = len(exc.exceptions) - 1
        extra = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
        line = str(first).splitlines()[0] if str(first) else type(first).__name__
        _err(f"minigun: error: {line}{extra}")
        return EXIT_FAILED
    except TimeoutError as exc:
        _err(f"minigun: error: {exc}")
        return EXIT_FAILED
    _write(out, report.summary())
    if args.json:
        _write_json(args.json, report)
    if report.status == "cancelled":
        return EXIT_INTERRUPTED
    return EXIT_OK if report.status == "succeeded" else EXIT_FAILED


def _cmd_graph(args: argparse.Namespace) -> int:
    pipe = load_target(args.target)
    pipe.validate()
    if args.format == "mermaid":
        text = pipe.to_mermaid()
    else:
        from .mermaid import to_text  # noqa: PLC0415 - only this command needs it

        text = to_text(pipe)
    _write(sys.stdout, text.rstrip("\n"))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.items < 0:
        msg = f"--items must be >= 0, got {args.items}"
        raise UsageError(msg)
    from ._demo import run_demo  # noqa: PLC0415 - only this command needs it

    hud = sys.stdout.isatty() if args.hud is None else args.hud
    if hud and not _dashboard_available():
        _err("minigun: warning: the dashboard is not available; running without it")
        hud = False
    return run_demo(
        db=args.db, items=args.items, hud=hud, seed=args.seed, timeout=args.timeout
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``minigun`` command."""
    parser = _Parser(
        prog="minigun",
        description="Run, inspect and demo minigun pipelines.",
        epilog=(
            "TARGET is path/to/file.py:name or package.module:name, naming a "
            "Pipeline, a Task class or instance, or a function returning a "
            "Pipeline. Exit status: 0 ok, 1 failed, 2 bad command line, "
            "130 interrupted."
        ),
    )
    parser.add_argument("--version", action="version", version=f"minigun {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )

    run = commands.add_parser(
        "run",
        help="run a pipeline and print its report",
        description="Run a pipeline to the end and print its report.",
    )
    run.add_argument("target", metavar="TARGET", help="file.py:name or module:name")
    run.add_argument("--hud", action="store_true", help="show the live dashboard")
    run.add_argument("--progress", action="store_true", help="show progress bars")
    run.add_argument(
        "--json",
        metavar="FILE",
        help="also write the report as JSON to FILE ('-': stdout)",
    )
    run.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        help=(
            "override a configuration setting, e.g. --set queue_size=10 "
            "(repeatable; 'none' means None)"
        ),
    )
    run.add_argument(
        "--timeout",
        metavar="S",
        type=float,
        help="cancel the run after S seconds (exit status 1)",
    )
    run.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log INFO records (-vv: DEBUG); default: the config's log_level",
    )
    run.add_argument(
        "--log-level", metavar="LEVEL", help="log records at LEVEL and above"
    )
    run.set_defaults(handler=_cmd_run)

    graph = commands.add_parser(
        "graph",
        help="print a pipeline's graph",
        description="Validate a pipeline and print its graph.",
    )
    graph.add_argument("target", metavar="TARGET", help="file.py:name or module:name")
    graph.add_argument(
        "--format",
        choices=("mermaid", "text"),
        default="mermaid",
        help="Mermaid flowchart (default) or an indented text tree",
    )
    graph.set_defaults(handler=_cmd_graph)

    demo = commands.add_parser(
        "demo",
        help="run the built-in ETL demo into a SQLite database",
        description=(
            "Generate synthetic orders, enrich them in a thread pool, score them "
            "in worker processes, batch them and write them to SQLite."
        ),
    )
    demo.add_argument(
        "--db",
        metavar="PATH",
        default="minigun-demo.db",
        help="the SQLite database to write (default: ./minigun-demo.db)",
    )
    demo.add_argument(
        "--items",
        metavar="N",
        type=int,
        default=20_000,
        help="number of orders (default: 20000)",
    )
    demo.add_argument(
        "--hud",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show the live dashboard (default: when stdout is a terminal)",
    )
    demo.add_argument(
        "--seed", metavar="N", type=int, default=42, help="random seed (default: 42)"
    )
    demo.add_argument(
        "--timeout",
        metavar="S",
        type=float,
        default=120.0,
        help="cancel the demo after S seconds (default: 120)",
    )
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``minigun`` command with *argv* (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 ok, 1 failed, 2 bad command line, 130 interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        status: int = args.handler(args)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except UsageError as exc:
        _err(f"minigun: error: {exc}")
        return EXIT_USAGE
    except (TargetError, MinigunError) as exc:
        lines = str(exc).splitlines() or [type(exc).__name__]
        _err(f"minigun: error: {lines[0]}")
        for line in lines[1:]:
            _err(f"  {line.strip()}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("minigun: interrupted")
        return EXIT_INTERRUPTED
    return status
