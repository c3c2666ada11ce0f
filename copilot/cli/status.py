"""Tables the CLI prints (`index --status`, `models`), and `--password-file` read safely."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Callable
from pathlib import Path

from copilot.core.errors import ConfigError
from copilot.core.present import STATE_STYLE

def read_passwords(file: Path, warn: Callable[[str], None]) -> tuple[str, ...]:
    """The passwords in `file`, one per line; blank lines and `#` comments ignored.

    Only line ends are stripped: a password may begin or end with a space.
    """
    try:
        mode = file.stat().st_mode
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the password file {file}: {exc}") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warn(f"warning: {file} is readable by other users; chmod 600 it")
    passwords = tuple(line for line in lines if line and not line.lstrip().startswith("#"))
    if not passwords:
        raise ConfigError(f"the password file {file} holds no passwords")
    return passwords


def show(rows: list, as_json: bool, echo: Callable[[str], None]) -> None:
    """Print (state, Entry) rows as a table, or as JSON."""
    if as_json:
        echo(json.dumps([
            {"state": state, "path": e.path, "file": e.source, "pages": e.pages, "chunks": e.chunks,
             "sha256": e.sha256, "reason": e.reason, "updated": e.updated, "title": e.title,
             "ocr_pages": e.ocr_pages}
            for state, e in rows
        ], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for col, just in (("state", "left"), ("file", "left"), ("pages", "right"), ("chunks", "right"),
                      ("indexed at", "left"), ("reason / notes", "left")):
        table.add_column(col, justify=just, overflow="fold")
    for state, e in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.updated)) if e.updated else ""
        table.add_row(f"[{STATE_STYLE.get(state, '')}]{state}[/]", e.source, str(e.pages or ""),
                      str(e.chunks or ""), when, e.notes)
    console = Console()
    console.print(table)
    counts: dict[str, int] = {}
    for state, _ in rows:
        counts[state] = counts.get(state, 0) + 1
    console.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing indexed yet")


def show_models(rows: list, current: str, as_json: bool, echo: Callable[[str], None]) -> None:
    """Print `copilot.core.admin.ModelInfo` rows as a table (the one in use starred), or as JSON."""
    if as_json:
        echo(json.dumps([
            {"name": m.name, "kind": m.kind, "quant": m.quant, "bytes": m.size, "sha256": m.sha256,
             "path": str(m.path) if m.path else None, "in_use": m.name == current, "note": m.note}
            for m in rows
        ], indent=2))
        return
    # One block per model, not a table: a sha256 folded across table rows cannot be compared.
    width = max((len(m.name) for m in rows), default=4)
    for m in rows:
        mark = "*" if m.name == current else " "
        echo(f"{mark} {m.name:<{width}}  {m.kind:<8}  {m.quant:<7} {m.size / 2**20:>9,.1f} MiB")
        if m.sha256:
            echo(f"  {'':<{width}}  sha256 {m.sha256}")
        if m.path or m.note:
            echo(f"  {'':<{width}}  {m.note or m.path}")
    if not any(m.name == current for m in rows):
        echo(f"* in use: {current} (a file outside the models folder)")
