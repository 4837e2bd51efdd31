"""Find this process's cgroup directories (v2 unified or v1 per controller) under an injectable root."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ._files import exists, is_dir, read_text
from .mountinfo import Mount, read_mountinfo


@dataclass(frozen=True)
class CgroupDirs:
    version: int  # 1 or 2
    dirs: tuple[Path, ...]  # the process's own cgroup first, then each parent up to the mount point

    def read(self, name: str) -> str | None:
        """The file ``name`` in the process's own cgroup."""
        return read_text(self.dirs[0] / name)

    def values(self, name: str) -> list[str]:
        """``name`` in each directory from leaf to top that has it (limits are the minimum over these)."""
        found = (read_text(d / name) for d in self.dirs)
        return [text for text in found if text is not None]


def find_cgroup(root: Path, controller: str) -> CgroupDirs | None:
    """The cgroup directories that hold ``controller`` ("memory" or "cpu") for this process, or None."""
    memberships = _memberships(root)
    mounts = [m for m in read_mountinfo(root) if m.fstype in ("cgroup", "cgroup2")]
    for mount in mounts:
        if mount.fstype == "cgroup2" and controller in (read_text(root / mount.point.lstrip("/") / "cgroup.controllers") or "").split():
            return CgroupDirs(2, _walk(root, mount, memberships.get("", "/")))
    for mount in mounts:
        if mount.fstype == "cgroup" and controller in mount.super_options.split(","):
            own = next((p for c, p in memberships.items() if controller in c.split(",")), "/")
            return CgroupDirs(1, _walk(root, mount, own))
    # No cgroup mount listed (a minimal container or a recorded tree): the conventional places.
    base = root / "sys/fs/cgroup"
    if exists(base / "cgroup.controllers"):
        return CgroupDirs(2, (base,))
    if is_dir(base / controller):  # v1 ("cpu" is usually a link to "cpu,cpuacct")
        return CgroupDirs(1, (base / controller,))
    return None


def _memberships(root: Path) -> dict[str, str]:
    """controllers → cgroup path, from /proc/self/cgroup ("" is the v2 unified hierarchy)."""
    out: dict[str, str] = {}
    for line in (read_text(root / "proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            out[parts[1]] = parts[2]
    return out


def _walk(root: Path, mount: Mount, own: str) -> tuple[Path, ...]:
    top = root / mount.point.lstrip("/")
    rel = own[len(mount.root):] if own.startswith(mount.root) else ""
    leaf = top / rel.strip("/") if rel.strip("/") else top
    # A cgroup namespace shows "/" or "/../.." paths for cgroups that are not below this mount.
    if ".." in Path(rel).parts or not is_dir(leaf):
        leaf = top
    dirs = [leaf]
    while dirs[-1] != top and top in dirs[-1].parents:
        dirs.append(dirs[-1].parent)
    return tuple(dirs)
