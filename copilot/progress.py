"""The indexing progress bar drawn on a terminal (stderr, so stdout stays clean)."""

from __future__ import annotations


class IndexBar:
    """An `index.indexer.Progress` that draws a rich progress bar, when enabled."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._bar = None
        self._task = None
        self._chunks = 0

    def __enter__(self) -> "IndexBar":
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("indexing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("files · {task.fields[chunks]} chunks ·"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[current]}", style="dim"),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def start(self, files: int) -> None:
        if self._bar is not None:
            self._task = self._bar.add_task("index", total=files, chunks=0, current="")

    def file(self, source: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, current=source[-50:])

    def done(self, source: str, chunks: int) -> None:
        self._chunks += chunks
        if self._bar is not None:
            self._bar.update(self._task, advance=1, chunks=self._chunks)
