"""System RAM (psutil), capped by a container's cgroup v2 ``memory.max`` or v1 ``memory.limit_in_bytes``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ._cgroup import find_cgroup
from ._files import uint
from .readings import Reading, gib, plausible_bytes


def probe_memory(root: Path = Path("/"), vm: Any = None) -> tuple[Reading[float], Reading[float]]:
    """(total GiB, available GiB): effective total = min(host, cgroup limit); unknown, with the reason, when
    the host's memory cannot be read (an unreadable or garbled /proc/meminfo).

    Args:
        root: filesystem root holding ``proc`` and ``sys`` (tests pass a recorded tree).
        vm: an object with ``total`` and ``available`` bytes; defaults to ``psutil.virtual_memory()``.
    """
    host_total, host_avail, why = _host(vm)
    if host_total is None:
        return Reading.unknown("psutil", why), Reading.unknown("psutil", why)
    total = Reading.of(gib(host_total), "psutil")
    avail = (Reading.of(gib(host_avail), "psutil", why) if host_avail is not None
             else Reading.unknown("psutil", why or "psutil gave no available memory"))
    limit = _limit(root)
    if limit is None or limit[0] >= host_total:
        return total, avail
    limit_bytes, file_name, working_set = limit
    note = f"container limit ({file_name}); the host has {gib(host_total)} GiB"
    total = Reading.of(gib(limit_bytes), "cgroup", note)
    if working_set is None:  # the host's free memory says nothing about what is left inside the limit
        return total, Reading.unknown("cgroup", f"the container's memory in use is unreadable, so what is left of "
                                                f"its {gib(limit_bytes)} GiB limit is unknown")
    in_container = max(0, limit_bytes - working_set)
    free = in_container if host_avail is None else min(host_avail, in_container)
    return total, Reading.of(gib(free), "cgroup", "container limit minus the container's memory in use")


def _host(vm: Any) -> tuple[int | None, int | None, str | None]:
    """(total bytes, available bytes, a note or the reason they are unknown) from psutil.

    psutil raises when /proc/meminfo is unreadable or lacks MemTotal / MemFree, and warns (and reports 0)
    when other lines are missing; both are caught here and said in the reading.
    """
    if vm is None:
        try:
            import psutil

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                vm = psutil.virtual_memory()
        except Exception as exc:  # noqa: BLE001 - any failure of the OS query is an unknown, not a crash
            return None, None, f"system memory could not be read (/proc/meminfo): {type(exc).__name__}: {exc}"
        note = "; ".join(str(w.message) for w in caught) or None
    else:
        note = None
    total, avail = getattr(vm, "total", None), getattr(vm, "available", None)
    if not plausible_bytes(total):
        return None, None, f"psutil reported an implausible memory total ({total!r})"
    if not (plausible_bytes(avail) or avail == 0) or avail > total:
        return total, None, f"psutil reported an implausible available memory ({avail!r})"
    return total, avail, (f"psutil: {note}" if note else None)


def _limit(root: Path) -> tuple[int, str, int | None] | None:
    """(limit bytes, the file it came from, bytes in use excluding reclaimable page cache) or None."""
    cg = find_cgroup(root, "memory")
    if cg is None:
        return None
    if cg.version == 2:
        limit_file, usage_file, inactive_key = "memory.max", "memory.current", "inactive_file"
    else:
        limit_file, usage_file, inactive_key = "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"
    # "max" (v2) means no limit; 0 cannot be a real limit, as this process runs inside it.
    limits = [n for n in (uint(v) for v in cg.values(limit_file)) if n]
    if not limits:
        return None
    working_set = uint(cg.read(usage_file))
    if working_set is not None:
        stat = dict(line.split(" ", 1) for line in (cg.read("memory.stat") or "").splitlines() if " " in line)
        working_set = max(0, working_set - (uint(stat.get(inactive_key)) or 0))
    return min(limits), f"cgroup v{cg.version} {limit_file}", working_set
