"""Reading procfs / sysfs / DMI / cgroup files that may be missing, unreadable, undecodable, padded or huge.

Every probe reads through here, so one rule holds for all of them: a file that cannot be read is ``None``
(the probe then says what it could not read), never an exception that takes detection down with it.
"""

from __future__ import annotations

import re
from pathlib import Path

# procfs and sysfs files are small; a big /proc/cpuinfo (256 logical CPUs) or mountinfo (a Kubernetes node
# with a few thousand mounts) is well under 1 MiB. Reading stops here so a hostile file cannot eat memory.
MAX_READ_BYTES = 4 * 1024**2
# What surrounds a value in a sysfs / DMI file: whitespace, NUL padding, and the 0xFF bytes real boards pad
# DMI strings with (decoded as U+FFFD).
_PADDING = " \t\r\n\x00\ufffd"
# 30 digits is far above any count a kernel file holds (2**64 has 20); longer runs of digits are garbage, and
# int() refuses strings over 4300 digits anyway.
# A name, id or number in a one-value sysfs / DMI file, a GPU or CPU model name: SMBIOS strings are at most 64
# bytes, NVML's name buffer 96. Anything longer is garbage, and must not reach the profile or the catalog lookup.
MAX_VALUE_CHARS = 256
_UINT = re.compile(r"[0-9]{1,30}")


def read_text(path: Path, limit: int = MAX_READ_BYTES) -> str | None:
    """The file's text (its first ``limit`` bytes) with its padding stripped, or None when it cannot be read.

    Bytes that are not UTF-8 become U+FFFD rather than an error: a stray byte in one field of
    /proc/cpuinfo must not hide the others.
    """
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except (OSError, ValueError):  # missing, a directory, no permission, a name the OS rejects
        return None
    return data.decode("utf-8", errors="replace").strip(_PADDING)


def read_value(path: Path) -> str | None:
    """A one-value file (a name, an id, a number), or None when it is unreadable or too long to be one."""
    text = read_text(path, limit=16 * MAX_VALUE_CHARS)  # room for the padding around a value
    return text if text is not None and len(text) <= MAX_VALUE_CHARS else None


def exists(path: Path) -> bool:
    """``path.exists()`` that is False, not an exception, when a parent directory cannot be searched."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def uint(text: str | None) -> int | None:
    """A non-negative integer of ASCII digits, else None ("max", "-1", "²", "12abc", "", 5 MiB of nines)."""
    if text is None:
        return None
    text = text.strip()
    return int(text) if _UINT.fullmatch(text) else None
