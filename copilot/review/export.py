"""A review written out for whoever signs it off: XLSX, CSV, Markdown or JSON, by the file's suffix.

Every cell goes with what it rests on: the answer, the verbatim quote, file
and page, the calibrated confidence; a cell the documents do not answer says
"not found" and why.  XLSX (openpyxl) has the grid of answers (each with its
quote, citation and confidence as a comment; not-found cells shaded), a sheet
of the sources cited (file, page, sha256), the quotes under the same grid,
and every cell flat; the flat formats carry a row per cell.  A cell signed
off says so (accepted or corrected, and by whom); a corrected one shows the
correction, marked, with the copilot's own answer kept beside it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from copilot.core.errors import CopilotError
from copilot.review.grid import Cell

FORMATS = (".xlsx", ".csv", ".md", ".json")
FIELDS = ("document", "column", "question", "answer", "found", "reason", "quote", "citation", "confidence",
          "signoff", "signed_by", "copilot_answer")


class BadOutput(CopilotError):
    """The review cannot be written where asked (checked before any cell is asked)."""


def check(path: Path) -> None:
    """Refuse an output the review could not be written to, before any work starts."""
    if path.suffix.lower() not in FORMATS:
        raise BadOutput(f"{path}: write a review as {', '.join(FORMATS)} (by the file's suffix)")
    folder = path.resolve().parent
    if path.is_dir():
        raise BadOutput(f"{path} is a folder: give a file name")
    if not folder.is_dir():
        raise BadOutput(f"cannot write {path}: the folder {folder} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".copilot-review-"):
            pass
    except OSError as exc:
        raise BadOutput(f"cannot write {path}: {exc.strerror or exc}") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise BadOutput(f"cannot write {path}: permission denied")


def flat(cell: Cell) -> dict:
    """A cell as one record of FIELDS."""
    a = cell.answer
    return {
        "document": cell.row.source, "column": cell.column.name, "question": cell.column.question,
        "answer": cell.text, "found": cell.found, "reason": (a.reason if a is not None and not a.found else
                                                             "" if cell.row.readable else cell.row.reason),
        "quote": cell.quote, "citation": cell.citation,
        "confidence": None if cell.confidence is None else round(cell.confidence, 3),
        "signoff": cell.verdict.verdict if cell.verdict else "",
        "signed_by": cell.verdict.user if cell.verdict else "",
        "copilot_answer": cell.answered if cell.corrected else "",
    }


def write(path: Path, grid: Sequence[Sequence[Cell]]) -> None:
    """Write `grid` to `path` in the format its suffix names, whole or not at all (a temporary
    file renamed over it: a run killed while writing leaves the old file)."""
    check(path)
    data = render(path.suffix.lower(), grid)
    fd, temporary = tempfile.mkstemp(dir=path.resolve().parent, prefix=".copilot-review-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def render(suffix: str, grid: Sequence[Sequence[Cell]]) -> bytes:
    """`grid` as a file of the format `suffix` names (one of FORMATS)."""
    return {".xlsx": _xlsx, ".csv": _csv, ".md": _markdown, ".json": _json}[suffix](grid)


def cited(grid: Sequence[Sequence[Cell]]) -> dict[tuple[str, int | None, str, str, str], list[str]]:
    """Every (file, page, section, sha256, path) a quote in `grid` is from, with the columns
    citing it (a file without pages, Markdown or text, has its section instead)."""
    found: dict[tuple[str, int | None, str, str, str], list[str]] = {}
    for row in grid:
        for c in row:
            if c.found:
                for _, citation in c.answer.quoted():
                    key = (citation.source, citation.page or None, citation.heading,
                           citation.sha256 or c.row.sha256, citation.path)
                    names = found.setdefault(key, [])
                    if c.column.name not in names:
                        names.append(c.column.name)
    return found


def _csv(grid) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS)
    writer.writeheader()
    for row in grid:
        writer.writerows(flat(c) for c in row)
    return out.getvalue().encode("utf-8-sig")  # the BOM: Excel opens it as UTF-8


def _json(grid) -> bytes:
    rows = [{"document": r[0].row.source, "path": r[0].row.path, "sha256": r[0].row.sha256,
             "readable": r[0].row.readable, "reason": r[0].row.reason,
             "cells": [flat(c) | {"record": c.answer.to_dict() if c.answer else None} for c in r]}
            for r in grid if r]
    return json.dumps({"rows": rows}, indent=2, ensure_ascii=False).encode("utf-8")


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _markdown(grid) -> bytes:
    """The grid of answers, each with a note number; the notes give quote, file and page."""
    if not grid or not grid[0]:
        return b""
    columns = [c.column.name for c in grid[0]]
    lines = ["| document | " + " | ".join(map(_md_cell, columns)) + " |",
             "|" + "---|" * (len(columns) + 1)]
    notes = []
    for row in grid:
        cells = []
        for c in row:
            text = _md_cell(c.text) or "—"
            if c.corrected:
                text = f"{text} (corrected by {_md_cell(c.verdict.user)}; the copilot said: {_md_cell(c.answered)})"
            if c.found:
                sure = f", confidence {c.confidence:.2f}" if c.confidence is not None else ""
                notes.append(f"{len(notes) + 1}. {c.row.source} · {c.column.name}: “{_md_cell(c.quote)}” "
                             f"({c.citation}{sure})")
                text += f" [{len(notes)}]"
            cells.append(text)
        lines.append(f"| {_md_cell(row[0].row.source)} | " + " | ".join(cells) + " |")
    return ("\n".join(lines) + "\n\n" + "\n".join(notes) + "\n").encode("utf-8")


def _xlsx(grid) -> bytes:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    answers = book.active
    answers.title = "Review"
    sources = book.create_sheet("Sources")
    quotes = book.create_sheet("Quotes")
    missing = PatternFill("solid", fgColor="EEEEEE")
    corrected = PatternFill("solid", fgColor="FFF2CC")
    columns = [c.column.name for c in grid[0]] if grid and grid[0] else []
    bold = Font(bold=True)
    for sheet in (answers, quotes):
        sheet.append(["Document", *columns])
        for cell in sheet[1]:
            cell.font = bold
        sheet.freeze_panes = "B2"
    for r, row in enumerate(grid, 2):
        answers.cell(r, 1, row[0].row.source)
        quotes.cell(r, 1, row[0].row.source)
        for k, c in enumerate(row, 2):
            shown = answers.cell(r, k, c.text)
            shown.alignment = Alignment(wrap_text=True, vertical="top")
            note = ""
            if c.found:
                quoted = quotes.cell(r, k, f"“{c.quote}” — {c.citation}")
                quoted.alignment = Alignment(wrap_text=True, vertical="top")
                note = f"“{c.quote}”\n{c.citation}"
                if c.confidence is not None:
                    note += f"\nconfidence {c.confidence:.2f}"
            if c.verdict is not None:
                note = (f"{c.verdict.verdict} by {c.verdict.user}"
                        + (f"; the copilot answered: {c.answered}" if c.corrected else "") + ("\n" + note if note else ""))
            if note:
                shown.comment = Comment(note[:30000], "copilot")
            if c.corrected:
                shown.fill = corrected
            elif not c.found:
                shown.fill = missing
    for sheet in (answers, quotes):
        sheet.column_dimensions["A"].width = 40
        for k in range(2, len(columns) + 2):
            sheet.column_dimensions[sheet.cell(1, k).column_letter].width = 36
    sources.append(["File", "Page", "Section", "SHA-256", "Cited by", "Path"])
    for cell in sources[1]:
        cell.font = bold
    for (source, page, section, sha256, path), cited_by in cited(grid).items():
        sources.append([source, page, section, sha256, ", ".join(cited_by), path])
    for row in grid:  # a document with no cell to cite says why it has none
        if row and not row[0].row.readable:
            r = row[0].row
            sources.append([r.source, None, None, r.sha256, f"({r.reason})", r.path])
    sources.freeze_panes = "A2"
    for letter, width in zip("ABCDEF", (40, 8, 40, 66, 40, 60)):
        sources.column_dimensions[letter].width = width
    cells = book.create_sheet("Cells")  # every cell, flat: what a script or a filter reads
    cells.append(list(FIELDS))
    for row in grid:
        for c in row:
            record = flat(c)  # once a cell, not once a field
            cells.append([record[f] for f in FIELDS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
