"""Read an image's pixel size from its file header, without decoding pixels.

Formats parsed here: PNG (IHDR), JPEG (SOFn, plus the EXIF orientation tag: 5–8 mean the picture is shown
rotated by 90°, so width and height swap), WebP (VP8 / VP8L / VP8X), GIF and BMP. Anything else falls back to
``PIL.Image.open``, which is lazy and reads only the header. The format is told from the bytes, not the name,
as Pillow (the trainer's loader) does.

``read_image_size`` never raises for a bad file: it returns a :class:`HeaderResult` with ``reason`` set.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass

_HEAD_BYTES = 4096  # enough for every header parsed here except JPEGs with big APPn segments (read further)
_TAIL_BYTES = 1024  # where an end marker (PNG IEND, JPEG EOI) is looked for
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


@dataclass(frozen=True, slots=True)
class HeaderResult:
    """What the header said. ``width``/``height`` are as displayed (EXIF rotation applied); ``None`` if unknown."""

    width: int | None
    height: int | None
    format: str | None
    reason: str | None = None  # why no size could be read (the file is unusable)
    truncated: bool = False  # a size was read, but the format's end marker is missing near the end


def _bad(reason: str, fmt: str | None = None) -> HeaderResult:
    return HeaderResult(None, None, fmt, reason)


def read_image_size(path: str, file_size: int) -> HeaderResult:
    """Return the displayed size of the image at ``path`` (``file_size`` bytes long), reading headers only."""
    if file_size == 0:
        return _bad("empty file (0 bytes)")
    try:
        with open(path, "rb", buffering=0) as f:
            head = f.read(_HEAD_BYTES)
            if file_size <= _HEAD_BYTES:
                tail = head
            else:
                f.seek(-_TAIL_BYTES, 2)
                tail = f.read(_TAIL_BYTES)
            if head.startswith(b"\xff\xd8"):
                return _jpeg(f, head, tail)
    except OSError as exc:
        return _bad(f"cannot read: {exc.strerror or exc}")
    if head.startswith(_PNG_SIG):
        return _png(head, tail)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp(head)
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return _sized(*struct.unpack_from("<HH", head, 6), "GIF") if len(head) >= 10 else _bad("truncated GIF header")
    if head[:2] == b"BM":
        return _bmp(head)
    return _pillow(path)


def _sized(width: int, height: int, fmt: str, truncated: bool = False) -> HeaderResult:
    if width <= 0 or height <= 0:
        return _bad(f"{fmt} header gives an empty size {width}x{height}", fmt)
    return HeaderResult(width, height, fmt, None, truncated)


def _png(head: bytes, tail: bytes) -> HeaderResult:
    if len(head) < 24 or head[12:16] != b"IHDR":
        return _bad("truncated or invalid PNG header (no IHDR)", "PNG")
    width, height = struct.unpack_from(">II", head, 16)
    return _sized(width, height, "PNG", truncated=b"IEND" not in tail)


def _jpeg(f, head: bytes, tail: bytes) -> HeaderResult:
    """Walk the JPEG segments up to the first SOFn; note the EXIF orientation on the way."""
    buf, pos, orientation = head, 2, 1

    def need(n: int) -> bool:  # make buf hold at least n bytes (reads on from the file as needed)
        nonlocal buf
        if len(buf) < n:
            f.seek(len(buf))
            buf += f.read(max(n - len(buf), _HEAD_BYTES))
        return len(buf) >= n

    while True:
        if not need(pos + 4):
            return _bad("truncated JPEG: no frame header (SOF) found", "JPEG")
        if buf[pos] != 0xFF:
            return _bad(f"invalid JPEG: bad marker at byte {pos}", "JPEG")
        marker = buf[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            return _bad("invalid JPEG: image data before any frame header (SOF)", "JPEG")
        (length,) = struct.unpack_from(">H", buf, pos + 2)
        if length < 2:
            return _bad("invalid JPEG: segment length < 2", "JPEG")
        if marker in _JPEG_SOF:
            if not need(pos + 9):
                return _bad("truncated JPEG frame header", "JPEG")
            height, width = struct.unpack_from(">HH", buf, pos + 5)
            if orientation in (5, 6, 7, 8):
                width, height = height, width
            return _sized(width, height, "JPEG", truncated=b"\xff\xd9" not in tail)
        if marker == 0xE1 and need(pos + 2 + length) and buf[pos + 4 : pos + 10] == b"Exif\x00\x00":
            orientation = _exif_orientation(buf[pos + 10 : pos + 2 + length])
        pos += 2 + length


def _exif_orientation(tiff: bytes) -> int:
    """Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block; 1 when absent or unreadable."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    end = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(end + "I", tiff, 4)
    if ifd + 2 > len(tiff):
        return 1
    (count,) = struct.unpack_from(end + "H", tiff, ifd)
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(tiff):
            break
        tag, typ = struct.unpack_from(end + "HH", tiff, entry)
        if tag == 0x0112 and typ == 3:  # SHORT
            return struct.unpack_from(end + "H", tiff, entry + 8)[0]
    return 1


def _webp(head: bytes) -> HeaderResult:
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30:
        if head[23:26] != b"\x9d\x01\x2a":
            return _bad("invalid WebP (VP8 start code missing)", "WEBP")
        width, height = struct.unpack_from("<HH", head, 26)
        return _sized(width & 0x3FFF, height & 0x3FFF, "WEBP")
    if chunk == b"VP8L" and len(head) >= 25:
        if head[20] != 0x2F:
            return _bad("invalid WebP (VP8L signature missing)", "WEBP")
        (bits,) = struct.unpack_from("<I", head, 21)
        return _sized((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, "WEBP")
    if chunk == b"VP8X" and len(head) >= 30:
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return _sized(width, height, "WEBP")
    return _bad("truncated or unknown WebP header", "WEBP")


def _bmp(head: bytes) -> HeaderResult:
    if len(head) < 26:
        return _bad("truncated BMP header", "BMP")
    (dib,) = struct.unpack_from("<I", head, 14)
    if dib == 12:
        width, height = struct.unpack_from("<HH", head, 18)
    else:
        width, height = struct.unpack_from("<ii", head, 18)
    return _sized(width, abs(height), "BMP")


def _pillow(path: str) -> HeaderResult:
    """Any other format: ``PIL.Image.open`` is lazy, so this reads only the header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning and friends: a size is all we want here
            with Image.open(path) as img:
                width, height = img.size
                fmt = img.format
                orientation = img.getexif().get(0x0112, 1) if fmt in ("TIFF", "MPO") else 1
    except UnidentifiedImageError:
        return _bad("not an image (format not recognised)")
    except Image.DecompressionBombError as exc:
        return _bad(f"refused by Pillow as a decompression bomb: {exc}")
    except Exception as exc:  # noqa: BLE001 -- Pillow plugins raise many types on bad input; none may be fatal
        return _bad(f"unreadable ({type(exc).__name__}: {exc})")
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return _sized(width, height, fmt or "unknown")
