"""Image files, as scanners write them (PNG, JPEG, TIFF with one page per frame): read by OCR."""

from __future__ import annotations

import io
from pathlib import Path

from copilot.core.errors import SkipFile
from copilot.core.records import Document, Page
from index.loaders import Reading, read_bytes, unread_scan
from index.loaders.structure import clean

MAX_PIXELS = 120_000_000  # a 600 dpi A0 scan; beyond it an image is more likely a decompression bomb


def load_image(source: Path | bytes, reading: Reading = Reading()) -> Document:
    """Each frame (page) of the image with the text OCR reads on it, numbered from 1."""
    from index import ocr

    if not (reading.ocr and ocr.available()):
        raise SkipFile(unread_scan(reading, "an image"))
    from PIL import Image, ImageSequence, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        image = Image.open(io.BytesIO(read_bytes(source)))
        count = getattr(image, "n_frames", 1)
        frames = ((n, frame.convert("RGB")) for n, frame in enumerate(ImageSequence.Iterator(image), 1))
        pages = []
        for number, read in ocr.read_many(frames):
            reading.read(number, count)
            text = clean(read)
            if text:
                pages.append(Page(number, text, ocr=True))
    except UnidentifiedImageError:
        raise SkipFile("corrupt: not an image any reader here knows") from None
    except Image.DecompressionBombError:
        raise SkipFile(f"too large an image (over {MAX_PIXELS:,} pixels)") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or damaged image data
        raise SkipFile(f"corrupt: {exc}"[:160]) from None
    if not pages:
        raise SkipFile("no text (a blank image)")
    return Document(tuple(pages))
