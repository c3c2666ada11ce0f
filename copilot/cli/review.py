"""`copilot review`: the grid filling on the terminal, then written out.

On a terminal the grid is drawn as it fills (the latest rows that fit, a
progress bar with the cells done and the time left) on stderr; stdout gets
the finished grid as Markdown, or as JSON with `--json`.  Ctrl-C stops the
cell in hand: every cell answered before it is saved, and the same command
goes on from there.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from copilot.core.errors import Unavailable

if TYPE_CHECKING:
    from copilot.review.grid import Cell, Progress

SHOWN_CHARS = 28  # of an answer, in the live grid (the file has all of it)


class LiveGrid:
    """The grid drawn on stderr while a review fills (nothing when stderr is not a terminal)."""

    def __init__(self, rows, columns, enabled: bool):
        from copilot.review.grid import Progress

        self.enabled, self.columns = enabled, columns
        self.texts = {r.path: {} for r in rows}
        self.order = list(rows)
        self.progress = Progress(0, sum(r.readable for r in rows) * len(columns), 0, 0.0)
        self._live = None

    def __enter__(self) -> LiveGrid:
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            self._console = Console(stderr=True)
            self._live = Live(self._render(), console=self._console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def cell(self, cell: Cell, progress: Progress) -> None:
        self.texts[cell.row.path][cell.column.name] = cell
        self.progress = progress
        if self._live is not None:
            self._live.update(self._render())

    def _render(self):
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        table = Table(expand=True, show_lines=False)
        table.add_column("document", overflow="ellipsis", no_wrap=True, max_width=30)
        for name in self.columns:
            table.add_column(name, overflow="ellipsis", no_wrap=True)
        room = max(3, (self._console.height if self._live else 24) - 8)
        filled = [r for r in self.order if self.texts[r.path]]
        for row in filled[-room:]:
            cells = []
            for name in self.columns:
                c = self.texts[row.path].get(name)
                text = "" if c is None else c.text[:SHOWN_CHARS]
                cells.append(Text(text, style="" if c is not None and c.found else "dim"))
            table.add_row(row.source, *cells)
        p = self.progress
        return Group(table, ProgressBar(total=max(p.total, 1), completed=p.done, width=40),
                     Text(progress_line(p), style="bold"))


def progress_line(p: Progress) -> str:
    left = p.left_s
    pace = f" · {p.seconds / p.asked:.1f} s a cell" if p.asked else ""
    eta = f" · {_duration(left)} left" if left is not None and p.done < p.total else ""
    return f"review: {p.done}/{p.total} cells{pace}{eta}"


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--collection", help="Review the indexed documents of this collection (instead of PATHS).")
@click.option("--ask", "asks", multiple=True, metavar="COLUMN",
              help='A column: a field name ("Payment terms") or a question; repeatable.')
@click.option("--columns", "columns_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A file of columns, one a line (# starts a comment).")
@click.option("--name", help="The review's name (default: from the PATHS or the collection).")
@click.option("--out", type=click.Path(path_type=Path),
              help="Write the grid to this file: .xlsx, .csv, .md or .json.")
@click.option("--json", "as_json", is_flag=True, help="Print the grid as JSON (every cell's record).")
@click.option("--list", "listing", is_flag=True, help="List the reviews kept, the latest first.")
@click.option("--show", metavar="NAME", help="Print (or --out) a kept review as it stands; nothing is asked.")
@click.pass_context
def review(ctx: click.Context, paths: tuple[Path, ...], collection: str | None, asks: tuple[str, ...],
           columns_file: Path | None, name: str | None, out: Path | None, as_json: bool, listing: bool,
           show: str | None) -> None:
    """Ask every document in PATHS (or --collection) the same questions, as a grid.

    Each cell is answered from its own document alone, with the verbatim
    quote, file and page it rests on, or "not found" and why.  PATHS that are
    not indexed yet are indexed first, as `copilot index` would (files already
    indexed are not read again; one that cannot be read is a row saying why).

    The review is kept cell by cell under its name: run the same command
    again to go on after a stop, to catch up documents that changed (only
    their rows are asked again) or to add a column (only it is asked).

    Through a firm's server (`--server`) the review is kept and asked there,
    cell by cell in the server's queue, behind your walls; PATHS are then the
    server's (as `copilot index --status` lists them) and are not indexed here.
    """
    from copilot.review import export
    from copilot.review.desk import kept
    from copilot.review.store import checked_name, default_name

    config = ctx.obj
    if listing:
        from copilot.cli.engine import engine_for

        return _list(kept(engine_for(config) if config.server else None, config.reviews_dir))
    if show is not None:
        return _show(ctx, checked_name(show), out, as_json)
    if bool(paths) == (collection is not None):
        raise click.UsageError("give the files or folders to review, or --collection NAME (not both)")
    if out is not None:
        export.check(out)  # refused before any work starts
    from copilot.review.columns import columns as make_columns
    from copilot.review.columns import read_columns

    columns = make_columns([*asks, *(read_columns(columns_file) if columns_file else ())], _warn)
    name = checked_name(name) if name is not None else default_name(paths, collection)
    _run(ctx, name, paths, collection, columns, out, as_json)


def _warn(line: str) -> None:
    click.secho(line, fg="yellow", err=True)


def _run(ctx: click.Context, name: str, paths, collection, columns, out, as_json: bool) -> None:
    from copilot.cli.engine import engine_for
    from copilot.cli.progress import IndexBar
    from copilot.review import export
    from copilot.review.desk import open_review, scope_for

    config = ctx.obj
    engine = engine_for(config)
    live = sys.stderr.isatty() and not as_json
    if paths and not config.server:  # on a server, IT indexes
        here = [p for p in paths if p.exists()]
        for missing in sorted(set(paths) - set(here)):
            _warn(f"{missing}: no such file or folder")
        if here:
            with IndexBar(enabled=live) as bar:
                summary = engine.index(here, bar)
            click.echo(summary.line(), err=True)
            for source, reason in summary.skipped:
                _warn(f"  skipped {source}: {reason}")
    reader = engine.local_reader()
    scope = scope_for(paths, collection) if not config.server else (
        {"collection": collection} if collection is not None else {"paths": [str(p) for p in paths]})
    grid = open_review(engine, config.reviews_dir, reader, name, scope, [c.name for c in columns], _warn)
    try:
        rows = grid.rows
        for p in paths if not config.server else ():
            root = p.resolve()
            if p.exists() and not any(Path(r.path) == root or root in Path(r.path).parents for r in rows):
                _warn(f"{p}: no document to review there")
        started = time.perf_counter()
        stopped = False
        with LiveGrid(rows, [c.name for c in grid.columns], live) as screen:
            try:
                done = grid.run(screen.cell)
            except KeyboardInterrupt:
                stopped = True
            except Unavailable as exc:  # the server went away: what it answered is kept there
                raise Unavailable(f"{exc}; every cell answered is kept: run the same command to go on") from None
        cells = grid.cells()
    finally:
        grid.close()
    if stopped:
        saved = sum(1 for row in cells for c in row if c.answer is not None)
        click.echo(f"stopped: {saved} cells of the review {name!r} kept; run the same command to go on",
                   err=True)
        ctx.exit(130)
    if out is not None:
        export.write(out, cells)
    every = [c for row in cells for c in row]
    answered = sum(1 for c in every if c.found)
    unread = sum(1 for r in rows if not r.readable)
    click.echo(f"review {name!r}: {len(rows)} documents × {len(grid.columns)} columns: {answered} answered, "
               f"{sum(1 for c in every if c.answer is not None and not c.found)} not found"
               + (f", {unread} documents not readable" if unread else "")
               + f"; {done.asked} asked now in {_duration(time.perf_counter() - started)}"
               + (f" → {out}" if out else ""), err=True)
    _print(cells, as_json)


def _print(cells, as_json: bool) -> None:
    from copilot.review import export

    if as_json:
        click.echo(export.render(".json", cells).decode("utf-8"))
    else:
        click.echo(export.render(".md", cells).decode("utf-8"), nl=False)


def _show(ctx: click.Context, name: str, out: Path | None, as_json: bool) -> None:
    """A kept review as it stands, for the reader as they are now (their walls decide the rows)."""
    from copilot.cli.engine import engine_for
    from copilot.review import export
    from copilot.review.desk import open_review

    config = ctx.obj
    if out is not None:
        export.check(out)
    engine = engine_for(config)
    grid = open_review(engine, config.reviews_dir, engine.local_reader(), name, note=_warn)
    try:
        cells = grid.cells()
    finally:
        grid.close()
    if out is not None:
        export.write(out, cells)
        click.echo(f"review {name!r} → {out}", err=True)
    _print(cells, as_json)


def _list(saved) -> None:
    if not saved:
        click.echo("no reviews yet: copilot review PATH --ask COLUMN")
        return
    for s in saved:
        scope = (f"collection {s.scope['collection']}" if "collection" in s.scope
                 else ", ".join(s.scope.get("paths", ())))
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.updated))
        click.echo(f"{s.name}\t{len(s.columns)} columns\t{s.cells} cells\t{when}\t{scope}")
