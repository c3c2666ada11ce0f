"""`copilot eval`: measured answer quality on public benchmarks, with the product's own code.

SciFact measures retrieval (dense, lexical and hybrid); CUAD measures the
whole path a user takes: retrieval, the answer, its citations and its
refusals.  Each run indexes its data set into its own home (reused, so a
second run only asks) and returns a `Report`: rows for the terminal table
and everything, per question too, for the JSON file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from copilot.config import Config

ProgressFn = Callable[[int, int, str], None]  # done, total, what


def markdown_table(rows: list[tuple[str, str]]) -> str:
    """Measures and values as a Markdown table (readable on a terminal, pasteable into RESULTS.md)."""
    width = max([len(k) for k, _ in rows] + [len("measure")])
    vwidth = max([len(str(v)) for _, v in rows] + [len("value")])
    head = f"| {'measure':<{width}} | {'value':<{vwidth}} |\n|{'-' * (width + 2)}|{'-' * (vwidth + 2)}|"
    return head + "\n" + "\n".join(f"| {k:<{width}} | {str(v):<{vwidth}} |" for k, v in rows)


@dataclass
class Report:
    """An evaluation's headline figures and its raw records."""

    name: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def add(self, measure: str, value, fmt: str = "{:.4f}") -> None:
        """A table row and the same figure, unformatted, in the JSON."""
        self.rows.append((measure, "n/a" if value is None else fmt.format(value)))
        self.data.setdefault("figures", {})[measure] = value

    def table(self) -> str:
        return markdown_table(self.rows)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"name": self.name, "rows": dict(self.rows), **self.data},
                                   indent=2, default=str))


def eval_config(config: Config, workdir: Path) -> Config:
    """The user's settings with a home of the evaluation's own (models stay shared)."""
    return config.replace(home=workdir / "home", models_home=str(config.models_dir))
