"""How every benchmark reports: a table on stdout, appended to RESULTS.md, raw JSON kept."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

from copilot.tools.eval import figures_by_measure, markdown_table  # every script puts the project root on sys.path first

HERE = Path(__file__).resolve().parent


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (0.5: the median), one of the values themselves."""
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def machine() -> str:
    """The machine in one line (CPU count matters most for every figure here)."""
    return f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}"


def record(script: str, rows: list[tuple[str, ...]], note: str, raw: dict, where: str | None = None,
           headers: tuple[str, ...] = ("measure", "value")) -> None:
    """Print the table; append it to RESULTS.md; write the raw figures to results/."""
    stamp = time.strftime("%Y-%m-%d %H:%M")
    text = markdown_table(rows, headers)
    print(text)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    name = Path(script).stem
    (results / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps({"when": stamp, "machine": where or machine(),
                    "rows": figures_by_measure(rows), **raw},
                   indent=2, default=str)
    )
    with (HERE / "RESULTS.md").open("a") as fh:
        fh.write(f"\n## {Path(script).name} — {stamp} — {where or machine()}\n\n"
                 f"`{' '.join(sys.argv[1:]) or '(defaults)'}`: {note}\n\n{text}\n")
