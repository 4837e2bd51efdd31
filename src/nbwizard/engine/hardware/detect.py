"""Run every probe once and assemble a SystemProfile (no torch unless nothing else can see the GPU)."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..profile import SystemProfile
from .amd import probe_amd
from .apple import apple_gpu, is_apple_silicon, read_sysctl
from .cloud import probe_cloud
from .cpu import probe_cores, probe_cpu_name
from .memory import probe_memory
from .nvidia import probe_nvidia
from .readings import GpuInfo, PlatformInfo, Reading
from .storage import probe_storage
from .torch_probe import probe_torch, torch_installed, torch_version


def detect(
    paths: Iterable[str | os.PathLike] = (".",),
    *,
    root: Path = Path("/"),
    env: Mapping[str, str] | None = None,
    use_torch: bool | None = None,
    reserve_gib: float = 0.0,
) -> SystemProfile:
    """See `nbwizard.engine.profile.detect_system`."""
    env = os.environ if env is None else env
    system, machine = platform.system(), platform.machine()
    ram_total, ram_available = probe_memory(root)
    apple = is_apple_silicon(system, machine)
    memsize, chip = read_sysctl() if apple else (None, None)

    gpus, reasons = probe_nvidia(ram_total, env)
    reasons = [reasons] if reasons else []
    if not gpus and system == "Linux":
        gpus, why = probe_amd(root)
        reasons += [why] if why else []
    if not gpus and apple:
        if memsize.known:
            gpus = [apple_gpu(memsize, chip)]
        else:
            reasons.append(f"Apple Silicon, but {memsize.reason}")
    if not gpus:
        gpus, why = _torch_fallback(use_torch, _gpu_hint(root, system, apple), ram_total)
        reasons.append(why)
    return SystemProfile(
        gpus=[match_catalog(g) for g in gpus],
        gpu_reason=None if gpus else "; ".join(r for r in reasons if r),
        ram_total_gib=ram_total,
        ram_available_gib=ram_available,
        cpu_cores=probe_cores(root),
        cpu_name=probe_cpu_name(root, chip),
        storage=[probe_storage(p, root) for p in paths],
        cloud=probe_cloud(env, root),
        platform=PlatformInfo(os=system, machine=machine, python=platform.python_version()),
        torch_version=torch_version(),
        reserve_gib=reserve_gib,
    )


def _gpu_hint(root: Path, system: str, apple: bool) -> str | None:
    """Why the OS suggests a GPU that NVML / rocm-smi / sysfs / sysctl could not describe, or None."""
    if system == "Linux":
        for path in ("dev/nvidia0", "proc/driver/nvidia", "dev/kfd", "dev/dxg"):
            if (root / path).exists():
                return f"/{path} exists"
        return None
    if apple:
        return "Apple Silicon"
    return f"{system} has no OS-level GPU probe here"


def _torch_fallback(use_torch: bool | None, hint: str | None, ram_total: Reading[float]) -> tuple[list[GpuInfo], str]:
    if use_torch is False:
        return [], "torch was not consulted (use_torch=False)"
    if use_torch is None and hint is None and "torch" not in sys.modules:
        return [], "torch was not consulted: the OS shows no GPU device"
    if not torch_installed():
        return [], "torch is not installed, so it could not be asked either"
    return probe_torch(ram_total)


def match_catalog(gpu: GpuInfo) -> GpuInfo:
    """Attach the catalog entry for a detected GPU and fill bf16 / fp8 / compute capability it left unknown."""
    try:
        from ..gpus import UnknownGpuError, find_gpu
    except ModuleNotFoundError as exc:
        if exc.name != "nbwizard.engine.gpus":
            raise
        return _replace(gpu, catalog_name=Reading.unknown("catalog", "the GPU catalog is not installed"))
    if not gpu.name.known:
        return _replace(gpu, catalog_name=Reading.unknown("catalog", "the GPU's name is unknown"))
    try:
        spec = find_gpu(gpu.name.value)
    except UnknownGpuError as exc:
        close = list(getattr(exc, "close_matches", ()) or ())
        hint = f"; close: {', '.join(close[:3])}" if close else ""
        return _replace(gpu, catalog_name=Reading.unknown("catalog", f"{gpu.name.value!r} is not in the catalog{hint}"))
    changes: dict = {"catalog_name": Reading.of(spec.name, "catalog")}
    note = f"from the catalog entry {spec.name}"
    if not gpu.bf16.known:
        changes["bf16"] = Reading.of(spec.bf16, "catalog", note)
    if not gpu.fp8.known:
        changes["fp8"] = Reading.of(spec.fp8, "catalog", note)
    if not gpu.compute_capability.known and spec.compute_capability:
        changes["compute_capability"] = Reading.of(spec.compute_capability, "catalog", note)
    if spec.unified and gpu.unified.value is False:
        changes["unified"] = Reading.of(False, gpu.unified.source, (
            f"the catalog lists {spec.name} as coherent with system RAM, but the driver reports dedicated "
            "memory, and PyTorch allocates from that"))
    return _replace(gpu, **changes)


def _replace(model, **changes):
    return type(model).model_validate({**dict(model), **changes})
