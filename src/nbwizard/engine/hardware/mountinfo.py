"""Parse /proc/self/mountinfo and find the mount that holds a path (longest mount-point prefix)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ._files import read_text, uint


@dataclass(frozen=True)
class Mount:
    major: int
    minor: int
    root: str  # the directory of the filesystem that is mounted here (a bind mount's source)
    point: str
    fstype: str
    source: str  # "/dev/nvme0n1p2", "server:/export", "overlay", …
    super_options: str


def _unescape(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def read_mountinfo(root: Path) -> list[Mount]:
    """The mounts in /proc/self/mountinfo; lines that do not parse are skipped, an unreadable file is []."""
    mounts = []
    for line in (read_text(root / "proc/self/mountinfo") or "").splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or len(tail) < 2:
            continue
        major, _, minor = fields[2].partition(":")
        if uint(major) is None or uint(minor) is None:
            continue
        mounts.append(Mount(int(major), int(minor), _unescape(fields[3]), _unescape(fields[4]), tail[0],
                            _unescape(tail[1]), tail[2] if len(tail) > 2 else ""))
    return mounts


def mount_for(path: str, mounts: list[Mount]) -> Mount | None:
    """The mount whose point is the longest prefix of ``path``; of equal points the last (it hides the others)."""
    best: Mount | None = None
    for mount in mounts:
        point = mount.point.rstrip("/") or "/"
        inside = point == "/" or path == point or path.startswith(point + "/")
        if inside and (best is None or len(point) >= len(best.point.rstrip("/") or "/")):
            best = mount
    return best
