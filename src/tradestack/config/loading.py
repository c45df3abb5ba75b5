"""Load settings from YAML at the edge and turn every failure into a `ConfigProblem`.

The config is taken literally: nothing in it is expanded from the environment, and a config that
tries to (`${VAR}`, `$VAR`, `env:VAR`, keys ending `_env`) is rejected with the reason, because
credentials and settings that silently come from the environment are neither reviewed nor
reproducible. A config may say where secrets live (`secrets.path`), never what they are.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tradestack.config.models import Settings
from tradestack.config.problems import FILE, ROOT, YAML_SYNTAX, ConfigError, ConfigProblem


def load_settings(path: Path | None = None) -> Settings:
    """The settings in `path`, or the embedded defaults when `path` is None. Raises ConfigError."""
    if path is None:
        return Settings()
    settings, problems = _check_file(path)
    if settings is None:
        raise ConfigError(problems, str(path))
    return settings


def validate_config_file(path: Path) -> list[ConfigProblem]:
    """Every problem in the file; an empty list means it loads."""
    return _check_file(path)[1]


def settings_from_yaml(text: str, source: str = "<config>") -> Settings:
    settings, problems = check_yaml(text)
    if settings is None:
        raise ConfigError(problems, source)
    return settings


def check_yaml(text: str) -> tuple[Settings | None, list[ConfigProblem]]:
    """Parse and validate YAML text: the settings when valid, else None and every problem."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as error:
        return None, [_yaml_problem(error)]
    except yaml.YAMLError as error:
        return None, [ConfigProblem(YAML_SYNTAX, f"not valid YAML: {error}", "fix the YAML syntax")]
    if data is None:
        data = {}  # an empty file means all defaults
    if not isinstance(data, dict):
        return None, [
            ConfigProblem(
                ROOT,
                f"the config must be a mapping of settings, got a {_yaml_kind(data)}",
                "write `key: value` lines at the top level, e.g. `venue: binance`",
                1,
            )
        ]
    env_problems = list(_environment_references(data, ()))
    field_problems: list[ConfigProblem] = []
    cross_checks: list[ConfigProblem] = []
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data, context={"problems": cross_checks})
    except ValidationError as error:
        field_problems = list(_from_pydantic(error.errors(), cross_checks))
    problems = _without_shadowed(env_problems, field_problems)
    if problems:
        located = _with_lines(problems, text)
        # In file order, so the list reads top to bottom; problems without a line go last.
        return None, sorted(located, key=lambda problem: (problem.line is None, problem.line or 0))
    return settings, []


def _check_file(path: Path) -> tuple[Settings | None, list[ConfigProblem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [
            ConfigProblem(
                FILE,
                f"{path} does not exist",
                "check the path; run without a config file to use the built-in defaults",
            )
        ]
    except IsADirectoryError:
        return None, [ConfigProblem(FILE, f"{path} is a directory", "give the path of a YAML file")]
    except PermissionError:
        return None, [ConfigProblem(FILE, f"{path} cannot be read (permission denied)", f"chmod u+r {path}")]
    except UnicodeDecodeError as error:
        return None, [
            ConfigProblem(FILE, f"{path} is not UTF-8 text (byte {error.start})", "save the file as UTF-8")
        ]
    return check_yaml(text)


# --- YAML ---------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, which plain YAML loading silently resolves last-wins."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Hashable, Any]:
    loader.flatten_mapping(node)
    first_line: dict[Hashable, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, Hashable):
            if key in first_line:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r} (first at line {first_line[key]})",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_problem(error: yaml.MarkedYAMLError) -> ConfigProblem:
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark is not None else None
    column = f", column {mark.column + 1}" if mark is not None else ""
    what = error.problem or error.context or "syntax error"
    hint = (
        "fix the YAML at that line: indent with spaces, put a space after each `key:`, "
        "quote values containing `: ` or `#`"
    )
    if "duplicate key" in what:
        hint = "keep one of the two entries"
    return ConfigProblem(YAML_SYNTAX, f"YAML error at line {line}{column}: {what}", hint, line)


def _yaml_kind(value: object) -> str:
    return {list: "list", str: "text value", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


# --- environment references ---------------------------------------------------------------------

_ENV_KEY = re.compile(r"(?i)(.*_env|env|environ|environment|env_?var|.*_env_?var|from_env)")
_ENV_VALUE = re.compile(r"\$\{[^}]*\}|(?<![\w$])\$[A-Za-z_]\w*|(?i:^\s*env:)|%[A-Za-z_]\w*%")
_ENV_HINT = (
    "write the value itself; a credential goes in the secret store instead "
    "(secrets.path, default secrets.json in data_dir, mode 0600), never in the config or the environment"
)


def _environment_references(value: object, path: tuple[str | int, ...]) -> Iterator[ConfigProblem]:
    if isinstance(value, dict):
        for key, item in value.items():
            child = (*path, str(key))
            if isinstance(key, str) and _ENV_KEY.fullmatch(key):
                yield ConfigProblem(
                    _dotted(child),
                    f"`{key}` names an environment variable; tradestack never reads settings or "
                    "credentials from the environment (they leak to child processes and are not reviewed)",
                    f"remove `{key}`; " + _ENV_HINT,
                )
                continue
            yield from _environment_references(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _environment_references(item, (*path, index))
    elif isinstance(value, str) and _ENV_VALUE.search(value):
        yield ConfigProblem(
            _dotted(path),
            f"{value!r} refers to an environment variable; config values are taken literally and "
            "never expanded from the environment",
            _ENV_HINT,
        )


# --- pydantic errors ----------------------------------------------------------------------------

_SECRET_LIKE = re.compile(r"(?i).*(key|secret|passphrase|password|token|signature).*")
_HINTS = {
    "missing": "add this setting",
    "decimal_parsing": 'write a plain decimal number in quotes, e.g. "0.001"',
    "decimal_type": 'write a plain decimal number in quotes, e.g. "0.001"',
    "int_parsing": "write a whole number, e.g. 20",
    "int_type": "write a whole number, e.g. 20",
    "int_from_float": "write a whole number, e.g. 20",
    "float_parsing": "write a number, e.g. 5 or 0.5",
    "float_type": "write a number, e.g. 5 or 0.5",
    "finite_number": "write a finite number, e.g. 5",
    "string_type": "write a text value",
    "string_too_short": "write a non-empty value",
    "too_short": "give at least one item",
    "list_type": "write a YAML list, one `- item` per line",
    "tuple_type": "write a YAML list, one `- item` per line",
    "dict_type": "write a mapping: `key: value` lines indented under this one",
    "mapping_type": "write a mapping: `key: value` lines indented under this one",
    "model_type": "write a mapping: `key: value` lines indented under this one",
    "model_attributes_type": "write a mapping: `key: value` lines indented under this one",
    "path_type": "write a file system path",
    "string_pattern_mismatch": "write a full URL: https://host:port (http:// only for 127.0.0.1/localhost)",
}


def _from_pydantic(errors: list[ErrorDetails], cross_checks: list[ConfigProblem]) -> Iterator[ConfigProblem]:
    for error in errors:
        if error["type"] == "inconsistent_settings":
            yield from cross_checks
            continue
        location = error["loc"]
        is_key = bool(location) and location[-1] == "[key]"
        if is_key:
            location = location[:-1]
        yield ConfigProblem(_dotted(location), _message(error, is_key), _hint(error, location))


def _message(error: ErrorDetails, is_key: bool) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown setting"  # the value is not echoed: it may be a pasted credential
    message = error["msg"]
    if kind.startswith(("decimal", "not_positive", "negative", "symbol", "unsupported")):
        pass  # our own messages already name the value
    elif isinstance(error.get("input"), str | int | float | bool) and kind != "missing":
        message = f"{message} (got {error['input']!r})"
    if is_key:
        message = f"key: {message}"
    return message[:1].lower() + message[1:]


def _hint(error: ErrorDetails, location: tuple[int | str, ...]) -> str:
    context = error.get("ctx") or {}
    if "hint" in context:
        return str(context["hint"])
    kind = error["type"]
    if kind == "extra_forbidden":
        name = str(location[-1]) if location else ""
        if _SECRET_LIKE.fullmatch(name):
            return (
                f"remove `{name}`: credentials never go in the config; put them in the secret store "
                "(secrets.path, default secrets.json in data_dir, mode 0600)"
            )
        valid = _fields_at(location[:-1])
        close = difflib.get_close_matches(name, valid, n=1)
        suggestion = f"did you mean `{close[0]}`? " if close else ""
        return f"{suggestion}remove or rename it; valid settings here: {', '.join(valid)}"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        bound = next(iter(context.values()), "")
        words = {"greater_than": "above", "greater_than_equal": "at least"}.get(kind, "at most")
        if kind == "less_than":
            words = "below"
        return f"use a value {words} {bound}"
    if kind == "literal_error":
        return f"use one of: {context.get('expected', '')}"
    return _HINTS.get(kind, "see the defaults: Settings() in tradestack.config.models")


def _fields_at(location: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] = Settings
    for part in location:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


# --- paths and lines ----------------------------------------------------------------------------


def _dotted(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or ROOT


def _without_shadowed(
    env_problems: list[ConfigProblem], field_problems: list[ConfigProblem]
) -> list[ConfigProblem]:
    # `api_key_env: X` is also an unknown key to pydantic, `venue: ${V}` also a bad venue: the
    # environment reference is the cause, so field problems at or under its path are dropped.
    shadowing = {problem.path for problem in env_problems}
    return env_problems + [
        problem
        for problem in field_problems
        if not any(
            problem.path == path or problem.path.startswith((f"{path}.", f"{path}[")) for path in shadowing
        )
    ]


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _with_lines(problems: list[ConfigProblem], text: str) -> list[ConfigProblem]:
    if all(problem.line is not None for problem in problems):
        return problems
    try:
        root = yaml.compose(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError:
        return problems
    if root is None:
        return problems
    return [
        problem if problem.line is not None else _at_line(problem, _line_of(root, problem.path))
        for problem in problems
    ]


def _at_line(problem: ConfigProblem, line: int | None) -> ConfigProblem:
    return ConfigProblem(problem.path, problem.message, problem.hint, line)


def _line_of(root: yaml.Node, path: str) -> int | None:
    """The line of the deepest node on `path` (a missing entry reports its parent's line)."""
    if path.startswith("("):
        return None
    node = root
    line: int | None = None
    for name, index in _PATH_PART.findall(path):
        found: yaml.Node | None = None
        if name and isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == name:
                    line = key_node.start_mark.line + 1
                    found = value_node
                    break
        elif index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            found = node.value[int(index)]
            line = found.start_mark.line + 1
        if found is None:
            break
        node = found
    return line
