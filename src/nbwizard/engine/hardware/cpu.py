"""CPU cores this process may use (host count, affinity, cgroup quota) and the CPU's name."""

from __future__ import annotations

import math
import platform
from pathlib import Path

from ._cgroup import find_cgroup
from ._files import MAX_VALUE_CHARS, read_text, uint
from .readings import Reading


def probe_cores(root: Path = Path("/"), host: int | None = None, affinity: int | None = None) -> Reading[int]:
    """min(host logical CPUs, CPUs in this process's affinity mask, cgroup CPU quota rounded down, at least 1)."""
    import psutil

    if host is None:
        try:
            host = psutil.cpu_count(logical=True)
        except Exception:  # noqa: BLE001 - an OS query that fails is an unknown count, not a crash
            host = None
    if affinity is None:
        try:
            affinity = len(psutil.Process().cpu_affinity())
        except Exception:  # noqa: BLE001 - macOS has no affinity API; psutil.AccessDenied is no OSError
            affinity = None
    host = host if isinstance(host, int) and host >= 1 else None
    affinity = affinity if isinstance(affinity, int) and affinity >= 1 else None
    if host is None and affinity is None:
        return Reading.unknown("psutil", "psutil could not count the CPUs")
    if host is None:
        cores, source, note = affinity, "psutil", f"CPU affinity allows {affinity} CPUs; the host's count is unknown"
    else:
        cores, source, note = host, "psutil", None
        if affinity is not None and affinity < cores:
            cores, note = affinity, f"CPU affinity allows {affinity} of {host} CPUs"
    quota = _quota(root)
    if quota is not None and quota[0] < cores:
        host_says = f"the host has {host} CPUs" if host else "the host's count is unknown"
        cores, source, note = quota[0], "cgroup", f"container CPU quota ({quota[1]}); {host_says}"
    return Reading.of(cores, source, note)


def _quota(root: Path) -> tuple[int, str] | None:
    cg = find_cgroup(root, "cpu")
    if cg is None:
        return None
    quotas: list[float] = []
    if cg.version == 2:
        for text in cg.values("cpu.max"):  # "max 100000" or "200000 100000"
            parts = text.split()
            if len(parts) == 2:
                _add_quota(quotas, uint(parts[0]), uint(parts[1]))
        where = "cgroup v2 cpu.max"
    else:
        for d in cg.dirs:  # a quota of -1 means none
            _add_quota(quotas, uint(read_text(d / "cpu.cfs_quota_us")), uint(read_text(d / "cpu.cfs_period_us")))
        where = "cgroup v1 cpu.cfs_quota_us"
    if not quotas:
        return None
    # Rounded down: 1.5 CPUs run one busy data-loader worker well, two badly.
    return max(1, math.floor(min(quotas))), f"{where} = {min(quotas):g} CPUs"


def _add_quota(quotas: list[float], quota: int | None, period: int | None) -> None:
    if quota and period:  # both present and non-zero
        quotas.append(quota / period)


def probe_cpu_name(root: Path = Path("/"), sysctl_name: Reading[str] | None = None) -> Reading[str]:
    """The CPU model from /proc/cpuinfo, macOS sysctl, or the platform module."""
    info = read_text(root / "proc/cpuinfo")
    if info:
        fields: dict[str, str] = {}
        for line in info.splitlines():
            key, sep, value = line.partition(":")
            if sep and 0 < len(value.strip()) <= MAX_VALUE_CHARS:
                fields.setdefault(key.strip().lower(), value.strip())
        for key in ("model name", "hardware", "cpu model", "processor"):
            if key in fields and not fields[key].isdigit():
                return Reading.of(fields[key], "procfs")
    if sysctl_name is not None and sysctl_name.known:
        return sysctl_name
    try:
        name = platform.processor()
    except Exception:  # noqa: BLE001 - on some systems it runs `uname -p`, which can fail
        name = ""
    if name and name not in ("x86_64", "aarch64", "arm", "i386"):
        return Reading.of(name, "env")  # Windows builds it from PROCESSOR_IDENTIFIER
    return Reading.unknown("procfs", "/proc/cpuinfo names no CPU model" if info else "no /proc/cpuinfo")
