"""System RAM (psutil), capped by a container's cgroup v2 ``memory.max`` or v1 ``memory.limit_in_bytes``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._cgroup import find_cgroup
from .readings import Reading, gib


def probe_memory(root: Path = Path("/"), vm: Any = None) -> tuple[Reading[float], Reading[float]]:
    """(total GiB, available GiB): effective total = min(host, cgroup limit).

    Args:
        root: filesystem root holding ``proc`` and ``sys`` (tests pass a recorded tree).
        vm: an object with ``total`` and ``available`` bytes; defaults to ``psutil.virtual_memory()``.
    """
    if vm is None:
        import psutil

        vm = psutil.virtual_memory()
    host_total, host_avail = vm.total, vm.available
    total = Reading.of(gib(host_total), "psutil")
    avail = Reading.of(gib(host_avail), "psutil")
    limit = _limit(root)
    if limit is None or limit[0] >= host_total:
        return total, avail
    limit_bytes, file_name, working_set = limit
    note = f"container limit ({file_name}); the host has {gib(host_total)} GiB"
    total = Reading.of(gib(limit_bytes), "cgroup", note)
    if working_set is not None:
        avail = Reading.of(gib(max(0, min(host_avail, limit_bytes - working_set))), "cgroup",
                           "container limit minus the container's memory in use")
    return total, avail


def _limit(root: Path) -> tuple[int, str, int | None] | None:
    """(limit bytes, the file it came from, bytes in use excluding reclaimable page cache) or None."""
    cg = find_cgroup(root, "memory")
    if cg is None:
        return None
    if cg.version == 2:
        limit_file, usage_file, inactive_key = "memory.max", "memory.current", "inactive_file"
    else:
        limit_file, usage_file, inactive_key = "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"
    limits = [int(v) for v in cg.values(limit_file) if v.isdigit()]  # "max" (v2) means no limit
    if not limits:
        return None
    usage = cg.read(usage_file)
    working_set = int(usage) if usage and usage.isdigit() else None
    if working_set is not None:
        stat = dict(line.split(" ", 1) for line in (cg.read("memory.stat") or "").splitlines() if " " in line)
        inactive = stat.get(inactive_key, "0").strip()
        working_set = max(0, working_set - (int(inactive) if inactive.isdigit() else 0))
    return min(limits), f"cgroup v{cg.version} {limit_file}", working_set
