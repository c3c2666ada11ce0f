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

from copilot.core.config import Config

ProgressFn = Callable[[int, int, str], None]  # done, total, what


def markdown_table(rows: list[tuple[str, ...]], headers: tuple[str, ...] = ("measure", "value")) -> str:
    """Measures and their values as a Markdown table (readable on a terminal, pasteable into RESULTS.md)."""
    widths = [max([len(str(r[i])) for r in rows] + [len(h)]) for i, h in enumerate(headers)]

    def line(cells) -> str:
        return "| " + " | ".join(f"{str(c):<{w}}" for c, w in zip(cells, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule] + [line(r) for r in rows])


def figures_by_measure(rows: list[tuple[str, ...]]) -> dict:
    """Table rows as JSON: measure → its value, or its values (one per column) in a wider table."""
    return {r[0]: list(r[1:]) if len(r) > 2 else r[1] for r in rows}


@dataclass
class Report:
    """An evaluation's headline figures and its raw records.

    With `headers` of more than one value column (CUAD: all, dev, test),
    each row holds one figure per column.
    """

    name: str
    rows: list[tuple[str, ...]] = field(default_factory=list)
    data: dict = field(default_factory=dict)
    headers: tuple[str, ...] = ("measure", "value")

    def add(self, measure: str, *values, fmt: str = "{:.4f}") -> None:
        """A table row and the same figure(s), unformatted, in the JSON."""
        self.rows.append((measure, *("n/a" if v is None else fmt.format(v) for v in values)))
        for column, v in zip(self.headers[1:], values):
            key = "figures" if column in ("value", "all") else f"figures ({column})"
            self.data.setdefault(key, {})[measure] = v

    def table(self) -> str:
        return markdown_table(self.rows, self.headers)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"name": self.name, "headers": self.headers,
                                    "rows": figures_by_measure(self.rows),
                                    **self.data}, indent=2, default=str))


def eval_config(config: Config, workdir: Path) -> Config:
    """The user's settings with a home of the evaluation's own (models stay shared)."""
    return config.replace(home=workdir / "home", models_home=str(config.models_dir))
