"""A configuration problem: which field, what is wrong, how to fix it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ROOT = "(root)"
FILE = "(file)"
YAML_SYNTAX = "(yaml)"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    path: str  # dotted field path, e.g. "risk.max_order_size.BTCUSDT"; symbols[1] for list items
    message: str  # what is wrong
    hint: str  # how to fix it
    line: int | None = None  # 1-based line in the YAML file, when known


class ConfigError(Exception):
    """The configuration has problems; `problems` lists every one of them."""

    def __init__(self, problems: Sequence[ConfigProblem], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(render_problems(self.problems, source))


def render_problems(problems: Sequence[ConfigProblem], source: str | None = None) -> str:
    """Plain text for terminals and logs: one `source:line: path: message` line and a hint per problem."""
    where = source or "config"
    count = len(problems)
    lines = [f"{where}: {count} problem{'' if count == 1 else 's'}"]
    for problem in problems:
        location = f"{where}:{problem.line}" if problem.line is not None else where
        lines.append(f"{location}: {problem.path}: {problem.message}")
        lines.append(f"    fix: {problem.hint}")
    return "\n".join(lines)
