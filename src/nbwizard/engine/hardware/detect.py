"""Run every probe once and assemble a SystemProfile (no torch unless nothing else can see the GPU)."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..profile import SystemProfile
from ._files import exists
from .amd import probe_amd
from .apple import apple_gpu, is_apple_silicon, read_sysctl
from .cloud import probe_cloud
from .cpu import probe_cores, probe_cpu_name
from .memory import probe_memory
from .nvidia import probe_nvidia
from .readings import GpuInfo, PlatformInfo, Reading, Source, StorageInfo
from .storage import probe_storage
from .torch_probe import probe_torch, torch_installed, torch_version

if TYPE_CHECKING:
    from ..gpus import GpuSpec


def detect(
    paths: Iterable[str | os.PathLike] = (".",),
    *,
    root: Path = Path("/"),
    env: Mapping[str, str] | None = None,
    use_torch: bool | None = None,
    reserve_gib: float = 0.0,
) -> SystemProfile:
    """See `nbwizard.engine.profile.detect_system`.

    Each probe handles the failures it knows (and says which); `_safely` is the last line behind them, so a
    failure nobody foresaw costs one value, labelled, never the whole profile.
    """
    env = os.environ if env is None else env
    system, machine = platform.system(), platform.machine()
    ram_total, ram_available = _safely("the memory probe", lambda: probe_memory(root), _two_unknowns("psutil"))
    apple = is_apple_silicon(system, machine)
    memsize, chip = _safely("sysctl", read_sysctl, _two_unknowns("sysctl")) if apple else (None, None)

    gpus, reasons = _safely("the NVIDIA probe", lambda: probe_nvidia(env), lambda why: ([], why))
    reasons = [reasons] if reasons else []
    if not gpus and system == "Linux":
        gpus, why = _safely("the AMD probe", lambda: probe_amd(root), lambda why: ([], why))
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
        gpus=[_with_catalog(g, ram_total) for g in gpus],
        gpu_reason=None if gpus else "; ".join(r for r in reasons if r),
        ram_total_gib=ram_total,
        ram_available_gib=ram_available,
        cpu_cores=_safely("the CPU count", lambda: probe_cores(root), _unknown("psutil")),
        cpu_name=_safely("the CPU name", lambda: probe_cpu_name(root, chip), _unknown("procfs")),
        storage=[_storage(p, root) for p in paths],
        cloud=_safely("the cloud probe", lambda: probe_cloud(env, root), _unknown("dmi")),
        platform=PlatformInfo(os=system, machine=machine, python=platform.python_version()),
        torch_version=_safely("the torch version", torch_version, _unknown("torch")),
        reserve_gib=reserve_gib,
    )


T = TypeVar("T")


def _safely(what: str, probe: Callable[[], T], fallback: Callable[[str], T]) -> T:
    try:
        return probe()
    except Exception as exc:  # noqa: BLE001 - the point: one probe's surprise must not take the profile down
        return fallback(f"{what} failed unexpectedly: {type(exc).__name__}: {exc}")


def _with_catalog(gpu: GpuInfo, ram_total: Reading[float]) -> GpuInfo:
    return _safely("the catalog lookup", lambda: match_catalog(gpu, ram_total),
                   lambda why: _replace(gpu, catalog_name=Reading.unknown("catalog", why)))


def _storage(path: str | os.PathLike, root: Path) -> StorageInfo:
    return _safely("the storage probe", lambda: probe_storage(path, root),
                   lambda why: StorageInfo(path=str(path), kind="unknown", reason=why))


def _unknown(source: Source) -> Callable[[str], Reading]:
    return lambda why: Reading.unknown(source, why)


def _two_unknowns(source: Source) -> Callable[[str], tuple[Reading, Reading]]:
    return lambda why: (Reading.unknown(source, why), Reading.unknown(source, why))


def _gpu_hint(root: Path, system: str, apple: bool) -> str | None:
    """Why the OS suggests a GPU that NVML / rocm-smi / sysfs / sysctl could not describe, or None."""
    if system == "Linux":
        for path in ("dev/nvidia0", "proc/driver/nvidia", "dev/kfd", "dev/dxg"):
            if exists(root / path):
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


def match_catalog(gpu: GpuInfo, ram_total: Reading[float]) -> GpuInfo:
    """Attach the catalog entry for a detected GPU, fill bf16 / fp8 / compute capability it left unknown, and
    settle a memory size the driver did not report (`resolve_memory`)."""
    try:
        from ..gpus import UnknownGpuError, find_gpu
    except ModuleNotFoundError as exc:
        if exc.name != "nbwizard.engine.gpus":
            raise
        return resolve_memory(_uncatalogued(gpu, "the GPU catalog is not installed"), None, ram_total)
    if not gpu.name.known:
        return resolve_memory(_uncatalogued(gpu, "the GPU's name is unknown"), None, ram_total)
    try:
        spec = find_gpu(gpu.name.value)
    except UnknownGpuError as exc:
        close = list(getattr(exc, "close_matches", ()) or ())
        hint = f"; close: {', '.join(close[:3])}" if close else ""
        why = f"{gpu.name.value!r} is not in the catalog{hint}"
        return resolve_memory(_uncatalogued(gpu, why), None, ram_total)
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
    return resolve_memory(_replace(gpu, **changes), spec, ram_total)


# Catalog segments whose ``memory_gib`` is the one memory the CPU and the GPU share (DGX Spark, Apple silicon).
# A GH200 is "unified" in the catalog too (its Grace RAM is coherent with the GPU), but its ``memory_gib`` is
# its own HBM, which is what PyTorch allocates from.
SHARED_POOL_SEGMENTS = frozenset({"unified", "apple"})


def resolve_memory(gpu: GpuInfo, spec: GpuSpec | None, ram_total: Reading[float]) -> GpuInfo:
    """A GPU whose driver did not report its memory: system RAM only if the catalog says the card has no memory
    of its own; else the catalog's size, labelled as such; else unknown with the reason.

    A discrete card whose memory query failed is never taken for unified memory: that would hand it all of the
    host's RAM (a 4090 on a 256 GiB host would "fit" a 172 GiB job).
    """
    if gpu.memory_total_gib.known:
        return gpu
    failed = gpu.memory_total_gib.reason or "the driver reported no memory size"
    if spec is None:
        why = f"{failed}; {gpu.catalog_name.reason}" if gpu.catalog_name.reason else failed
        unified = gpu.unified if gpu.unified.known else Reading.unknown(
            gpu.unified.source, f"{failed}, and without a catalog entry it is unknown whether the card shares RAM")
        return _replace(gpu, memory_total_gib=Reading.unknown(gpu.memory_total_gib.source, why), unified=unified)
    if spec.unified and spec.segment in SHARED_POOL_SEGMENTS and gpu.unified.value is not False:
        note = (f"unified memory: {failed}, and the catalog lists {spec.name} as sharing system RAM, so system "
                "RAM is the GPU's pool")
        total = (Reading.of(ram_total.value, ram_total.source, note) if ram_total.known
                 else Reading.unknown(ram_total.source, f"{note}, and system RAM is unknown"))
        free = Reading.unknown(gpu.memory_free_gib.source, f"{failed}; see available system RAM")
        return _replace(gpu, memory_total_gib=total, memory_free_gib=free, unified=Reading.of(True, "catalog", note))
    options = sorted(set(spec.memory_options_gib))
    size = options[0] if len(options) > 1 else round(spec.physical_gib, 2)
    which = (f"the smallest of {spec.name}'s {'/'.join(f'{o:g}' for o in options)} GB variants" if len(options) > 1
             else f"the total the driver reports for {spec.name}" if spec.memory_total_mib
             else f"the size of {spec.name}")
    if gpu.unified.known:
        unified = gpu.unified
    elif spec.unified:
        unified = Reading.of(False, "catalog", f"the catalog's {size:g} GB for {spec.name} is the GPU's own memory, "
                             "which PyTorch allocates from; system RAM is only coherent with it")
    else:
        unified = Reading.of(False, "catalog", f"the catalog lists {spec.name} as a card with its own memory")
    return _replace(gpu, unified=unified,
                    memory_total_gib=Reading.of(float(size), "catalog", f"{failed}; catalog value: {which}"))


def _uncatalogued(gpu: GpuInfo, why: str) -> GpuInfo:
    return _replace(gpu, catalog_name=Reading.unknown("catalog", why))


def _replace(model, **changes):
    return type(model).model_validate({**dict(model), **changes})
