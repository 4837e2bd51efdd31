"""User-typed paths: ``~`` and ``~user`` expanded, with a clear error instead of a crash when there is no such user.

``Path.expanduser`` raises ``RuntimeError`` for ``~nouser/...`` and ``os.path.expanduser`` silently leaves it as it
is; a path the user typed should say which part could not be understood. Every place that reads a path the user
typed (the CLI, the job loader, saving) goes through :func:`user_path`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["FILE_NAME_BYTES", "PathError", "safe_file_name", "user_path"]

# A file name holds at most 255 bytes (ext4, NTFS, APFS); the trainer adds up to ~40 to a job's name
# (``CRITIC_<name>_000001000.safetensors``, ``<name>_refiner``), so a name keeps under 200.
FILE_NAME_BYTES = 200
# characters a proposed name leaves out: separators, Windows-reserved, wildcards, shell expansion, control characters
_UNSAFE = re.compile(r'[/\\<>:"|?*\[\]$`\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+')


class PathError(ValueError):
    """A path that cannot be understood (an unknown ``~user``, a NUL character)."""


def user_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`~pathlib.Path`, ``~`` / ``~user`` expanded.

    Raises:
        PathError: ``~user`` names no user of this machine (or ``~`` when there is no home folder), or the path
            holds a NUL character (no file system accepts one).
    """
    text = os.fspath(path)
    if "\0" in text:
        raise PathError(f"{text!r} is not a usable path: it holds a NUL character")
    if not text.startswith("~"):
        return Path(text)
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):  # os.path.expanduser leaves what it cannot expand
        head = text.split("/", 1)[0].split(os.sep, 1)[0]
        who = f"there is no user '{head[1:]}' on this machine" if len(head) > 1 else "there is no home folder"
        raise PathError(f"cannot use the path {text}: {head} cannot be expanded ({who})")
    return Path(expanded)


def safe_file_name(name: str, fallback: str = "my_lora") -> str:
    """``name`` as a file / folder name that stays where it is put on any system: separators, reserved and control
    characters become ``_``, leading and trailing spaces and dots go, and it is cut to :data:`FILE_NAME_BYTES`.
    ``fallback`` when nothing usable is left. Letters of any script, digits, spaces, ``-``, ``_`` and ``.`` stay."""
    if not _UNSAFE.search(name) and name == name.strip(" .") and name and len(name.encode("utf-8", "replace")) <= \
            FILE_NAME_BYTES:
        return name  # already safe: kept exactly
    safe = _UNSAFE.sub("_", name.encode("utf-8", "replace").decode("utf-8")).strip(" ._")
    cut = safe.encode("utf-8")[:FILE_NAME_BYTES].decode("utf-8", "ignore").rstrip(" ._")
    return cut or fallback
