"""CPU cores this process may use (host count, affinity, cgroup quota) and the CPU's name."""

from __future__ import annotations

import math
import platform
from pathlib import Path

from ._cgroup import find_cgroup, read_text
from .readings import Reading


def probe_cores(root: Path = Path("/"), host: int | None = None, affinity: int | None = None) -> Reading[int]:
    """min(host logical CPUs, CPUs in this process's affinity mask, cgroup CPU quota rounded down, at least 1)."""
    import psutil

    if host is None:
        host = psutil.cpu_count(logical=True)
    if affinity is None:
        try:
            affinity = len(psutil.Process().cpu_affinity())
        except (AttributeError, OSError):  # macOS has no affinity API
            affinity = None
    if host is None:
        return Reading.unknown("psutil", "psutil could not count the CPUs")
    cores, source, note = host, "psutil", None
    if affinity is not None and affinity < cores:
        cores, note = affinity, f"CPU affinity allows {affinity} of {host} CPUs"
    quota = _quota(root)
    if quota is not None and quota[0] < cores:
        cores, source, note = quota[0], "cgroup", f"container CPU quota ({quota[1]}); the host has {host} CPUs"
    return Reading.of(cores, source, note)


def _quota(root: Path) -> tuple[int, str] | None:
    cg = find_cgroup(root, "cpu")
    if cg is None:
        return None
    quotas: list[float] = []
    if cg.version == 2:
        for text in cg.values("cpu.max"):  # "max 100000" or "200000 100000"
            parts = text.split()
            if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit() and int(parts[1]) > 0:
                quotas.append(int(parts[0]) / int(parts[1]))
        where = "cgroup v2 cpu.max"
    else:
        for d in cg.dirs:
            q, p = read_text(d / "cpu.cfs_quota_us"), read_text(d / "cpu.cfs_period_us")
            if q and p and q.lstrip("-").isdigit() and p.isdigit() and int(q) > 0 and int(p) > 0:
                quotas.append(int(q) / int(p))  # -1 means no quota
        where = "cgroup v1 cpu.cfs_quota_us"
    if not quotas:
        return None
    # Rounded down: 1.5 CPUs run one busy data-loader worker well, two badly.
    return max(1, math.floor(min(quotas))), f"{where} = {min(quotas):g} CPUs"


def probe_cpu_name(root: Path = Path("/"), sysctl_name: Reading[str] | None = None) -> Reading[str]:
    """The CPU model from /proc/cpuinfo, macOS sysctl, or the platform module."""
    info = read_text(root / "proc/cpuinfo")
    if info:
        fields: dict[str, str] = {}
        for line in info.splitlines():
            key, sep, value = line.partition(":")
            if sep and value.strip():
                fields.setdefault(key.strip().lower(), value.strip())
        for key in ("model name", "hardware", "cpu model", "processor"):
            if key in fields and not fields[key].isdigit():
                return Reading.of(fields[key], "procfs")
    if sysctl_name is not None and sysctl_name.known:
        return sysctl_name
    name = platform.processor()
    if name and name not in ("x86_64", "aarch64", "arm", "i386"):
        return Reading.of(name, "env")  # Windows builds it from PROCESSOR_IDENTIFIER
    return Reading.unknown("procfs", "/proc/cpuinfo names no CPU model" if info else "no /proc/cpuinfo")
