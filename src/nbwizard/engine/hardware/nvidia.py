"""NVIDIA GPUs through NVML (the ``pynvml`` module of nvidia-ml-py); no torch, no CUDA context."""

from __future__ import annotations

from collections.abc import Mapping

from .readings import GpuInfo, Reading, gib

# bf16 tensor cores arrived with Ampere (sm_80), fp8 with Ada / Hopper (sm_89 / sm_90).
BF16_MIN_CC = (8, 0)
FP8_MIN_CC = (8, 9)

_NOT_LOOKED_UP = Reading.unknown("catalog", "not looked up")


def probe_nvidia(ram_total_gib: Reading[float], env: Mapping[str, str]) -> tuple[list[GpuInfo], str | None]:
    """Every NVIDIA GPU NVML can see (filtered by CUDA_VISIBLE_DEVICES), or no GPU and the reason.

    A GPU whose memory NVML reports as not supported or zero (DGX Spark / GB10) shares system memory:
    its pool is ``ram_total_gib``, and the reading's reason says so.
    """
    try:
        import pynvml
    except ImportError:
        return [], "nvidia-ml-py (pynvml) is not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return [], _init_failure(pynvml, exc)
    try:
        driver = _call(pynvml, "driver version", pynvml.nvmlSystemGetDriverVersion)
        count = pynvml.nvmlDeviceGetCount()
        gpus = [_device(pynvml, i, driver, ram_total_gib) for i in range(count)]
    except pynvml.NVMLError as exc:
        return [], f"NVML failed while listing GPUs: {exc}"
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass  # nothing left to release: shutdown of a failed session only reports that it failed
    if not gpus:
        return [], "NVML found no NVIDIA GPU"
    mask = env.get("CUDA_VISIBLE_DEVICES")
    visible = _visible(gpus, mask)
    if not visible:
        return [], f"CUDA_VISIBLE_DEVICES={mask!r} hides all {len(gpus)} NVIDIA GPU(s)"
    return [GpuInfo.model_validate({**dict(g), "index": i}) for i, g in enumerate(visible)], None


def _init_failure(pynvml, exc: Exception) -> str:
    reasons = {
        "NVMLError_LibraryNotFound": "no NVIDIA driver: the NVML library was not found",
        "NVMLError_DriverNotLoaded": "the NVIDIA driver is installed but not loaded",
        "NVMLError_NoPermission": "no permission to query the NVIDIA driver",
    }
    for cls_name, reason in reasons.items():
        cls = getattr(pynvml, cls_name, None)
        if cls is not None and isinstance(exc, cls):
            return reason
    return f"NVML could not start: {exc}"


def _call(pynvml, what: str, fn, *args) -> Reading:
    try:
        value = fn(*args)
    except pynvml.NVMLError as exc:
        return Reading.unknown("nvml", f"NVML could not report the {what}: {exc}")
    if isinstance(value, bytes):  # nvidia-ml-py < 11.5 returned bytes
        value = value.decode()
    return Reading.of(value, "nvml")


def _memory(pynvml, handle, ram_total_gib: Reading[float]) -> tuple[Reading, Reading, Reading]:
    mem = _call(pynvml, "memory", pynvml.nvmlDeviceGetMemoryInfo, handle)
    if mem.known and mem.value.total > 0:
        return (Reading.of(gib(mem.value.total), "nvml"), Reading.of(gib(mem.value.free), "nvml"),
                Reading.of(False, "nvml"))
    why = "NVML reports no dedicated memory" + (f" ({mem.reason.split(': ', 1)[-1]})" if mem.reason else "")
    note = f"unified memory: {why}, so system RAM is the GPU's pool"
    if ram_total_gib.known:
        total = Reading.of(ram_total_gib.value, ram_total_gib.source, note)
    else:
        total = Reading.unknown(ram_total_gib.source, f"{note}, and system RAM is unknown")
    free = Reading.unknown("nvml", f"{why}; see available system RAM")
    return total, free, Reading.of(True, "nvml", note)


def _device(pynvml, index: int, driver: Reading, ram_total_gib: Reading[float]) -> GpuInfo:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    total, free, unified = _memory(pynvml, handle, ram_total_gib)
    cc = _call(pynvml, "compute capability", pynvml.nvmlDeviceGetCudaComputeCapability, handle)
    if cc.known:
        major, minor = cc.value
        note = f"compute capability {major}.{minor}"
        cc_text = Reading.of(f"{major}.{minor}", "nvml")
        bf16 = Reading.of((major, minor) >= BF16_MIN_CC, "nvml", note)
        fp8 = Reading.of((major, minor) >= FP8_MIN_CC, "nvml", note)
    else:
        cc_text = bf16 = fp8 = cc
    return GpuInfo(
        index=index, vendor="nvidia", name=_call(pynvml, "name", pynvml.nvmlDeviceGetName, handle),
        memory_total_gib=total, memory_free_gib=free, driver=driver, compute_capability=cc_text,
        bf16=bf16, fp8=fp8, unified=unified, catalog_name=_NOT_LOOKED_UP,
        uuid=_call(pynvml, "UUID", pynvml.nvmlDeviceGetUUID, handle).value,
    )


def _visible(gpus: list[GpuInfo], mask: str | None) -> list[GpuInfo]:
    """Apply CUDA_VISIBLE_DEVICES (indices or GPU-UUID prefixes; CUDA stops at the first invalid entry)."""
    if mask is None:
        return gpus
    chosen: list[GpuInfo] = []
    for item in (part.strip() for part in mask.split(",")):
        if item.isdigit() and int(item) < len(gpus):
            match = gpus[int(item)]
        elif item.startswith("MIG-"):
            return gpus  # MIG instances: NVML lists the parent GPUs; keep them rather than guess
        else:
            match = next((g for g in gpus if item and g.uuid and g.uuid.startswith(item)), None)
        if match is None:
            break
        if match not in chosen:
            chosen.append(match)
    return chosen
