"""Read an image's size the way ai-toolkit's loader reads it: with Pillow, header only, EXIF orientation applied.

The trainer (``toolkit/data_transfer_object/data_loader.py`` lines 155/158, ai-toolkit 27a03a91) sizes every
image with ``exif_transpose(Image.open(path))``. So here:

* **Pillow decides what is an image.** ``Image.open`` tells the format from the bytes and reads only the header.
  Whatever it refuses (unknown format, broken header, decompression bomb) the trainer refuses too, and the file is
  reported with Pillow's reason. ai-toolkit never assigns ``Image.MAX_IMAGE_PIXELS`` (``git grep`` finds no
  assignment in the snapshot), so Pillow's own limit applies, read at run time: above it Pillow warns
  (``DecompressionBombWarning``) and the trainer still loads the image; above twice it Pillow raises
  ``DecompressionBombError`` and the trainer skips the file. The warning is caught here and reported as a note;
  it never escapes.
* **Orientation** comes from Pillow's ``getexif()`` (EXIF, or the XMP ``tiff:Orientation`` fall-back), as in
  ``exif_transpose``: orientations 5–8 swap width and height.
* **Truncation.** ``exif_transpose`` calls ``load()``, so the trainer decodes the whole image while reading sizes,
  and Pillow raises "image file is truncated" for a file cut short (ai-toolkit does not set
  ``ImageFile.LOAD_TRUNCATED_IMAGES``). Decoding every image is far too slow for a scan, so the file's structure
  is checked, for the three formats the trainer's extensions name: PNG (its image-data chunks lie inside the file
  and an IEND chunk follows), JPEG (an end-of-image marker follows the scan data), WebP (the file is as long as
  its RIFF header says). Only a file that fails this check is decoded, to hear Pillow's verdict: the verdict is
  the trainer's for every cut point of the test images (``tests/test_dataset.py``).

PNG needs one more step to stay header-only: Pillow's ``PngImageFile.getexif`` decodes the image when no EXIF
came before the image data. Metadata after the image data is rare, so the chunks after it are listed (their
headers only) and the full Pillow path runs only when one of them can carry an orientation.

``read_image_size`` / ``read_image_sizes`` never raise for a bad file: they return a :class:`HeaderResult` with
``reason`` set.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from collections.abc import Sequence
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

_ORIENTATION = 0x0112
_SWAPPED = frozenset({5, 6, 7, 8})  # exif_transpose: TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90
_TAIL_BYTES = 4096  # where a JPEG end-of-image marker is looked for first
_PNG_META_CHUNKS = (b"eXIf", b"tEXt", b"zTXt", b"iTXt")
_PNG_ORIENTATION_KEYWORDS = (b"Raw profile type exif", b"XML:com.adobe.xmp")  # what Pillow's getexif reads
_BLOCK = 1 << 20  # read size when looking for a JPEG's end marker


@dataclass(frozen=True, slots=True)
class HeaderResult:
    """What Pillow said. ``width``/``height`` are as the trainer sees them (EXIF rotation applied)."""

    width: int | None
    height: int | None
    format: str | None
    reason: str | None = None  # why the trainer cannot use the file; None when it can
    note: str | None = None  # readable, but Pillow warned (e.g. over its decompression-bomb warning limit)


def _bad(reason: str, fmt: str | None = None) -> HeaderResult:
    return HeaderResult(None, None, fmt, reason)


def read_image_size(path: str, file_size: int) -> HeaderResult:
    """Return the size the trainer sees for the image at ``path`` (``file_size`` bytes), reading headers only."""
    return read_image_sizes([(path, file_size)])[0]


def read_image_sizes(files: Sequence[tuple[str, int]]) -> list[HeaderResult]:
    """:func:`read_image_size` for each ``(path, file_size)``; one warnings guard for the batch (it costs as much as
    a quarter of a header read), each warning given to the file that raised it."""
    results = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for path, file_size in files:
            seen = len(caught)
            result = _read_file(path, file_size)
            if len(caught) > seen and result.reason is None:
                note = "; ".join(dict.fromkeys(f"Pillow warns: {w.message}" for w in caught[seen:]))
                result = HeaderResult(result.width, result.height, result.format, None, note)
            results.append(result)
    return results


def _read_file(path: str, file_size: int) -> HeaderResult:
    if file_size == 0:
        return _bad("empty file (0 bytes)")
    try:
        f = open(path, "rb")  # noqa: SIM115 -- closed below; an error here is the file's, not Pillow's
    except OSError as exc:
        return _bad(f"cannot open it ({exc.strerror or exc}): the trainer skips it")
    with f:
        try:
            return _read(f, file_size)
        except Image.DecompressionBombError as exc:
            return _bad(f"refused by Pillow as a possible decompression bomb ({exc}); the trainer skips it")
        except UnidentifiedImageError:
            return _bad("not an image Pillow can read (format not recognised): the trainer skips it")
        except Exception as exc:  # noqa: BLE001 -- Pillow's plugins raise many types on bad input; none is fatal
            return _bad(f"Pillow cannot read it ({type(exc).__name__}: {exc}): the trainer skips it")


def _read(f: BinaryIO, file_size: int) -> HeaderResult:
    with Image.open(f) as img:
        width, height = img.size
        fmt = img.format or "unknown"
        header_only = False  # whether the orientation can be read without decoding PNG pixels
        if fmt == "PNG" and img.tile:
            cut, meta_after = _png_tail(f, img.tile[0].offset, file_size)
            header_only = not meta_after
        else:
            cut = _cut_short(f, fmt, file_size)
        if cut:  # the structure says the file ends early: decode it, as the trainer will, to be sure
            try:
                img.load()
            except Exception as exc:  # noqa: BLE001 -- whatever stops Pillow here stops the trainer
                return _bad(f"truncated ({cut}): Pillow stops decoding it ({exc}); the trainer skips it", fmt)
        exif = Image.Image.getexif(img) if header_only and not cut else img.getexif()  # the base one never decodes
        orientation = exif.get(_ORIENTATION, 1)
    if width <= 0 or height <= 0:
        return _bad(f"{fmt} header gives an empty size {width}x{height}", fmt)
    if orientation in _SWAPPED:
        width, height = height, width
    return HeaderResult(width, height, fmt)


def _cut_short(f: BinaryIO, fmt: str, file_size: int) -> str | None:
    """Why a JPEG or WebP file may end too early to decode, or None."""
    if fmt in ("JPEG", "MPO"):
        # byte stuffing keeps FF D9 out of the scan data, so one after the scan start ends the (first) image
        found = _find_after(f, b"\xff\xd9", _jpeg_scan_start(f), file_size)
        return None if found else "no end-of-image marker after the image data"
    if fmt == "WEBP":
        f.seek(4)
        (riff_size,) = struct.unpack("<I", f.read(4))
        if file_size < riff_size + 8:
            return f"{file_size} of the {riff_size + 8} bytes its RIFF header announces"
    return None


def _jpeg_scan_start(f: BinaryIO) -> int:
    """Where the first scan's data starts: past the length-prefixed segments up to the first SOS (FF DA).

    Pillow has parsed these segments already, but does not say where they end (an MPO file is rewound to 0).
    An EXIF thumbnail inside them has its own end marker, so the search for the image's must start here.
    """
    pos = 2
    while True:
        f.seek(pos)
        head = f.read(4)
        if len(head) < 4 or head[0] != 0xFF:
            return pos
        if head[1] == 0xFF:  # fill byte
            pos += 1
            continue
        pos += 2 + int.from_bytes(head[2:4], "big")
        if head[1] == 0xDA:
            return pos


def _find_after(f: BinaryIO, needle: bytes, start: int, file_size: int) -> bool:
    """Whether ``needle`` occurs at or after byte ``start``: the tail first (where it usually is), then forwards."""
    tail_start = max(start, file_size - _TAIL_BYTES)
    f.seek(tail_start)
    if needle in f.read():
        return True
    f.seek(start)
    carry = b""
    while f.tell() < tail_start:
        block = carry + f.read(min(_BLOCK, tail_start - f.tell()))
        if needle in block:
            return True
        carry = block[1 - len(needle):]
    return False


def _png_tail(f: BinaryIO, offset: int, file_size: int) -> tuple[str | None, bool]:
    """Walk the chunks from the first image-data chunk on, reading their headers only.

    Returns why the image data may be cut short (or None), and whether a chunk after the image data may carry an
    orientation (``eXIf``, or a text chunk with a keyword Pillow's ``getexif`` reads).
    """
    pos, after, meta = offset - 8, False, False
    while pos + 8 <= file_size:
        f.seek(pos)
        length, kind = struct.unpack(">I4s", f.read(8))
        end = pos + 12 + length
        if kind == b"IDAT" and not after:  # the run of image-data chunks
            if end > file_size:
                return f"image data runs past the end of the file ({file_size} bytes)", False
        elif kind == b"IEND":
            return None, meta
        else:
            after = True
            if kind in _PNG_META_CHUNKS and not meta:
                meta = kind == b"eXIf" or f.read(min(length, 80)).startswith(_PNG_ORIENTATION_KEYWORDS)
        pos = end
    return "no IEND chunk", meta
