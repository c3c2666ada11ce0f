"""The indexing progress bar drawn on a terminal (stderr, so stdout stays clean)."""

from __future__ import annotations


from copilot.core.indexing import Tally


class IndexBar(Tally):
    """An `copilot.core.indexing.Progress` drawing files, pages, chunks, ETA and the current file.

    The bar advances by bytes (known for every file up front), part-way
    through a large file as its chunks are embedded, so the ETA keeps moving.
    """

    def __init__(self, enabled: bool):
        super().__init__()
        self.enabled = enabled
        self._bar = None
        self._task = None

    def __enter__(self) -> "IndexBar":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("indexing"),
                BarColumn(),
                TextColumn("{task.fields[files]} files · {task.fields[pages]} pages{task.fields[scanned]} · "
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

    def start(self, files: int, total_bytes: int) -> None:
        if self._bar is not None:
            self._task = self._bar.add_task(
                "index", total=max(total_bytes, 1), files="", pages=0, scanned="", chunks=0, current=""
            )
        super().start(files, total_bytes)

    def changed(self) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task, completed=self.done_bytes + self.part,
                files=f"{self.files}/{self.total_files}", pages=self.pages, chunks=self.chunks,
                scanned=f" ({self.ocr_pages} read by OCR)" if self.ocr_pages else "",
                current=self.current[-50:],
            )
