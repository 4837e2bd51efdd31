"""Apple Silicon: chip name and memory from sysctl; the GPU shares that memory."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from ._files import uint
from .readings import GpuInfo, Reading, gib, plausible_bytes

SYSCTL_TIMEOUT_S = 3

Runner = Callable[[list[str]], str]


def run_sysctl(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, timeout=SYSCTL_TIMEOUT_S, check=True).stdout


def is_apple_silicon(system: str, machine: str) -> bool:
    return system == "Darwin" and machine in ("arm64", "aarch64")


def read_sysctl(run: Runner | None = None) -> tuple[Reading[int], Reading[str]]:
    """(memory in bytes, chip name such as "Apple M2 Max"), each known or unknown with the reason."""
    run = run or run_sysctl
    try:
        lines = run(["sysctl", "-n", "hw.memsize", "machdep.cpu.brand_string"]).splitlines()
    except FileNotFoundError:
        why = "sysctl is not available"
        return Reading.unknown("sysctl", why), Reading.unknown("sysctl", why)
    except (subprocess.SubprocessError, OSError, ValueError) as exc:  # ValueError: output that is not text
        why = f"sysctl failed: {exc}"
        return Reading.unknown("sysctl", why), Reading.unknown("sysctl", why)
    mem = uint(lines[0]) if lines else None
    chip = lines[1].strip() if len(lines) > 1 else ""
    return (
        Reading.of(mem, "sysctl") if plausible_bytes(mem) else Reading.unknown("sysctl", "hw.memsize unreadable"),
        Reading.of(chip, "sysctl") if chip else Reading.unknown("sysctl", "machdep.cpu.brand_string empty"),
    )


def apple_gpu(memsize: Reading[int], chip: Reading[str]) -> GpuInfo:
    """The integrated GPU of an Apple Silicon Mac: unified memory, pool = the machine's RAM."""
    note = "unified memory: the GPU shares the Mac's RAM"
    total = Reading.of(gib(memsize.value), "sysctl", note) if memsize.known else memsize
    no_cc = "Apple GPUs have no CUDA compute capability"
    return GpuInfo(
        index=0, vendor="apple", name=chip, memory_total_gib=total,
        memory_free_gib=Reading.unknown("sysctl", "shared with the system; see available RAM"),
        driver=Reading.unknown("sysctl", "Metal ships with macOS; no separate driver version"),
        compute_capability=Reading.unknown("sysctl", no_cc),
        bf16=Reading.unknown("sysctl", "not reported by the OS"),
        fp8=Reading.of(False, "sysctl", "MPS has no fp8 compute"),
        unified=Reading.of(True, "sysctl", note),
        catalog_name=Reading.unknown("catalog", "not looked up"),
    )
