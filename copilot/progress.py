"""The indexing progress bar drawn on a terminal (stderr, so stdout stays clean)."""

from __future__ import annotations


class IndexBar:
    """An `index.report.Progress` drawing files, pages, chunks, ETA and the current file.

    The bar advances by bytes (known for every file up front), part-way
    through a large file as its chunks are embedded, so the ETA keeps moving.
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._bar = None
        self._task = None
        self._files = self._pages = self._chunks = self._total_files = 0
        self._size = 0
        self._credited = 0  # bytes of the current file already shown as done

    def __enter__(self) -> "IndexBar":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("indexing"),
                BarColumn(),
                TextColumn("{task.fields[files]} files · {task.fields[pages]} pages · "
                           "{task.fields[chunks]} chunks · ETA"),
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

    def _show(self, **fields) -> None:
        if self._bar is not None:
            self._bar.update(
                self._task, files=f"{self._files}/{self._total_files}", pages=self._pages,
                chunks=self._chunks, **fields,
            )

    def start(self, files: int, total_bytes: int) -> None:
        self._total_files = files
        if self._bar is not None:
            self._task = self._bar.add_task(
                "index", total=max(total_bytes, 1), files="", pages=0, chunks=0, current=""
            )
        self._show()

    def file(self, source: str, size: int) -> None:
        self._size, self._credited = size, 0
        self._show(current=source[-50:])

    def advance(self, pages: int, chunks: int, fraction: float) -> None:
        self._pages += pages
        self._chunks += chunks
        self._step(int(self._size * fraction))

    def _step(self, credit: int) -> None:
        if self._bar is not None and credit > self._credited:
            self._bar.advance(self._task, credit - self._credited)
        self._credited = max(self._credited, credit)
        self._show()

    def done(self, source: str) -> None:
        self._files += 1
        self._step(self._size)
