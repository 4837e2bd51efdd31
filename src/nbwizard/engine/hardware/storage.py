"""Which device holds a path, and what kind it is (nvme / ssd / hdd / network / ram), from procfs and sysfs.

The mount comes from /proc/self/mountinfo (longest mount-point prefix of the resolved path); its block
device is followed through /sys/dev/block: partition → disk, device-mapper and md RAID → their members.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any
from pathlib import Path

from ._files import exists, read_text
from .mountinfo import Mount, mount_for, read_mountinfo
from .readings import StorageInfo, StorageKind, gib

NETWORK_FS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "fuse.glusterfs", "fuse.ceph", "fuse.sshfs",
    "lustre", "9p", "fuse.s3fs", "fuse.gcsfuse", "beegfs", "gpfs", "wekafs", "afs", "davfs", "fuse.juicefs",
    "fuse.rclone", "fuse.blobfuse", "fuse.blobfuse2", "fuse.mountpoint-s3", "fuse.goofys", "fuse.geesefs",
})
RAM_FS = frozenset({"tmpfs", "ramfs"})
# Disk models of cloud block storage that is attached over the network but looks like a local disk.
NETWORK_DISK_MODELS = ("Elastic Block Store", "PersistentDisk")
# When members of a RAID / volume differ, the slowest one sets the pace.
_SLOWNESS: dict[StorageKind, int] = {"ram": 0, "nvme": 1, "ssd": 2, "network": 3, "hdd": 4, "unknown": 5}
_MAX_DEPTH = 6

DiskUsage = Callable[[str], Any]  # returns an object with .free and .total bytes


def probe_storage(path: str | os.PathLike, root: Path = Path("/"), disk_usage: DiskUsage = shutil.disk_usage) -> StorageInfo:
    """The storage that holds ``path`` (which need not exist yet: its nearest existing parent is used).

    Args:
        path: an output or dataset folder, as the user typed it.
        root: filesystem root holding ``proc`` and ``sys`` (tests pass a recorded tree).
        disk_usage: ``shutil.disk_usage``, replaceable in tests.
    """
    try:
        resolved, existing = _resolve(Path(path), root)
    except (OSError, ValueError, RuntimeError) as exc:  # a symlink loop, a NUL in the name, no permission
        return StorageInfo(path=str(path), kind="unknown", reason=f"the path cannot be resolved: {exc}")
    free = total = None
    try:
        usage = disk_usage(str(_under(root, existing)))
        free, total = gib(usage.free), gib(usage.total)
    except (OSError, ValueError):
        pass  # free space stays None; the kind is still worth reporting
    info = StorageInfo(path=str(path), kind="unknown", free_gib=free, total_gib=total, reason="no mount table")
    mount = mount_for(resolved, read_mountinfo(root))
    if mount is None:
        return info
    try:
        kind, device, reason, source = _classify_mount(mount, root, 0)
    except (OSError, ValueError, RuntimeError) as exc:  # sysfs links that loop or vanish mid-walk
        kind, device, source = "unknown", mount.source, "procfs"
        reason = f"its block device cannot be followed: {exc}"
    return StorageInfo(path=str(path), kind=kind, device=device, filesystem=mount.fstype, mount_point=mount.point,
                       free_gib=free, total_gib=total, reason=reason, source=source)


def _under(root: Path, absolute: str) -> Path:
    return root / absolute.lstrip("/")


def _resolve(path: Path, root: Path) -> tuple[str, str]:
    """(resolved absolute path, its nearest existing ancestor), symlinks followed inside ``root``."""
    p = Path(os.path.abspath(os.path.expanduser(path))) if root == Path("/") else Path(os.path.normpath(Path("/") / path))
    existing, tail = p, []
    while not exists(_under(root, str(existing))) and existing != existing.parent:
        tail.append(existing.name)
        existing = existing.parent
    real = os.path.realpath(_under(root, str(existing)))
    base = os.path.realpath(root)
    real = "/" + os.path.relpath(real, base) if base != "/" else real
    real = os.path.normpath(real)
    return os.path.join(real, *reversed(tail)) if tail else real, real


def _classify_mount(mount: Mount, root: Path, depth: int) -> tuple[StorageKind, str | None, str | None, str]:
    fs = mount.fstype
    if fs in NETWORK_FS:
        return "network", mount.source, f"{fs} network filesystem", "procfs"
    if fs in RAM_FS:
        return "ram", mount.source, f"{fs} lives in memory and is lost on reboot", "procfs"
    if fs == "overlay":
        return _overlay(mount, root, depth)
    if mount.major != 0:
        block = root / "sys/dev/block" / f"{mount.major}:{mount.minor}"
        if exists(block):
            kind, chain, reason = _classify_block(block.resolve(), root, depth)
            return kind, chain, reason, "sysfs"
        return "unknown", mount.source, f"block device {mount.major}:{mount.minor} is not in /sys/dev/block", "procfs"
    by_name = _block_by_source(mount.source, root)  # btrfs and friends show an anonymous 0:N device
    if by_name is not None:
        kind, chain, reason = _classify_block(by_name, root, depth)
        return kind, chain, reason, "sysfs"
    return "unknown", mount.source, f"{fs} filesystem has no block device to inspect", "procfs"


def _overlay(mount: Mount, root: Path, depth: int) -> tuple[StorageKind, str | None, str | None, str]:
    options = dict(o.split("=", 1) for o in mount.super_options.split(",") if "=" in o)
    upper = options.get("upperdir")
    if upper and depth < _MAX_DEPTH and exists(_under(root, upper)):
        under = mount_for(upper, read_mountinfo(root))
        if under is not None and under.fstype != "overlay":
            kind, device, reason, source = _classify_mount(under, root, depth + 1)
            return kind, device, f"overlay; its upper layer is on {under.fstype}" + (f" ({reason})" if reason else ""), source
    return ("unknown", "overlay",
            "overlay filesystem (a container's own disk): the device under its upper layer is not visible from here",
            "procfs")


def _block_by_source(source: str, root: Path) -> Path | None:
    if not source.startswith("/dev/"):
        return None
    name = source.rsplit("/", 1)[-1]
    if source.startswith("/dev/mapper/"):
        for dm in (root / "sys/block").glob("dm-*"):
            if read_text(dm / "dm/name") == name:
                return dm.resolve()
        return None
    candidate = root / "sys/class/block" / name
    return candidate.resolve() if exists(candidate) else None


def _classify_block(dev: Path, root: Path, depth: int) -> tuple[StorageKind, str, str | None]:
    """(kind, "dm-0 (dm-crypt) → nvme0n1p3 → nvme0n1", reason) for a /sys/devices/…/block/X[/Xpn] directory."""
    if exists(dev / "partition"):
        kind, chain, reason = _classify_disk(dev.parent, root, depth)
        return kind, f"{dev.name} → {chain}", reason
    return _classify_disk(dev, root, depth)


def _classify_disk(disk: Path, root: Path, depth: int) -> tuple[StorageKind, str, str | None]:
    name = disk.name
    if depth > _MAX_DEPTH:
        return "unknown", name, "block devices nest too deeply to follow"
    if name.startswith(("dm-", "md")):
        return _stacked(disk, root, depth)
    if name.startswith("loop"):
        backing = read_text(disk / "loop/backing_file")
        if not backing:
            return "unknown", name, "loop device without a backing file"
        inner = probe_storage(backing, root, disk_usage=_no_usage)
        return inner.kind, f"{name} (file {backing}) → {inner.device}", inner.reason
    if name.startswith(("zram", "ram")):
        return "ram", name, "compressed RAM disk"
    model = (read_text(disk / "device/model") or "").strip()
    if any(m in model for m in NETWORK_DISK_MODELS):
        return "network", name, f"cloud block storage attached over the network ({model})"
    if name.startswith("nvme"):
        return "nvme", name, None
    rotational = read_text(disk / "queue/rotational")
    if name.startswith(("vd", "xvd")):
        if rotational == "0":
            return "ssd", name, "virtual disk that the host declares non-rotational"
        return "unknown", name, f"virtual disk ({name}): the host hides what kind of storage is behind it"
    if rotational == "1":
        return "hdd", name, None
    if rotational == "0":
        return "ssd", name, None
    return "unknown", name, f"{name} does not say whether it is rotational"


def _stacked(disk: Path, root: Path, depth: int) -> tuple[StorageKind, str, str | None]:
    name = disk.name
    if name.startswith("dm-"):
        uuid = read_text(disk / "dm/uuid") or ""
        label = "dm-crypt" if uuid.startswith("CRYPT-") else "LVM" if uuid.startswith("LVM-") else "device-mapper"
    else:
        label = f"md {read_text(disk / 'md/level') or 'RAID'}"
    members = [_classify_block(s.resolve(), root, depth + 1) for s in sorted((disk / "slaves").glob("*"))]
    if not members:
        return "unknown", f"{name} ({label})", f"{label} device without visible members"
    kinds = {k for k, _, _ in members}
    kind = max(kinds, key=_SLOWNESS.__getitem__)
    chain = ", ".join(c for _, c, _ in members)
    chain = f"{name} ({label}) → {chain if len(members) == 1 else '[' + chain + ']'}"
    reasons = [r for _, _, r in members if r]
    reason = f"members differ ({', '.join(sorted(kinds))}); the slowest sets the pace" if len(kinds) > 1 else None
    return kind, chain, reason or (reasons[0] if reasons else None)


def _no_usage(_: str):
    raise OSError("free space of a loop device's backing file is not needed")


