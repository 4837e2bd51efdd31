"""NVIDIA GPUs through NVML (the ``pynvml`` module of nvidia-ml-py); no torch, no CUDA context.

NVML's answers are checked, not trusted: any call may raise an NVMLError or something else, be missing from an
older nvidia-ml-py, or return None, "N/A", bytes or absurd numbers (0, 2**64 - 1). Each becomes an unknown that
says why. A GPU that cannot be read is still listed, with its unknowns, so it neither hides the others nor
shifts their CUDA indices.

A failed memory query is left unknown here, ``unified`` too: whether the card shares system RAM (DGX Spark
answers "Not Supported" because it has no memory of its own) or is a discrete card that failed to answer is
for the catalog to say (``detect.resolve_memory``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._files import MAX_VALUE_CHARS, uint
from .readings import GpuInfo, Reading, gib, plausible_bytes

# bf16 tensor cores arrived with Ampere (sm_80), fp8 with Ada / Hopper (sm_89 / sm_90).
BF16_MIN_CC = (8, 0)
FP8_MIN_CC = (8, 9)
# The most GPUs one node holds today is 16 (HGX-2 / DGX-2 class); a count far above it is garbage, and
# asking NVML about each of 2**32 handles would hang detection.
MAX_GPUS = 64
# What NVML and nvidia-smi print where a string field has no value.
_NO_VALUE = frozenset({"", "n/a", "[n/a]", "unknown", "[unknown error]", "not supported", "[not supported]"})

_NOT_LOOKED_UP = Reading.unknown("catalog", "not looked up")


def probe_nvidia(env: Mapping[str, str]) -> tuple[list[GpuInfo], str | None]:
    """Every NVIDIA GPU NVML can see (filtered by CUDA_VISIBLE_DEVICES), or no GPU and the reason."""
    try:
        import pynvml
    except ImportError:
        return [], "nvidia-ml-py (pynvml) is not installed"
    except Exception as exc:  # noqa: BLE001 - a broken or shadowing pynvml module
        return [], f"nvidia-ml-py (pynvml) could not be imported: {_say(None, exc)}"
    init = getattr(pynvml, "nvmlInit", None)
    if not callable(init):
        return [], "this pynvml module has no nvmlInit (not nvidia-ml-py?)"
    try:
        init()
    except Exception as exc:  # noqa: BLE001 - NVMLError subclasses, and OSError / RuntimeError from ctypes
        return [], _init_failure(pynvml, exc)
    try:
        gpus, why = _devices(pynvml)
    finally:
        _shutdown(pynvml)
    if why:
        return [], why
    if not gpus:
        return [], "NVML found no NVIDIA GPU"
    mask = env.get("CUDA_VISIBLE_DEVICES")
    visible = _visible(gpus, mask)
    if not visible:
        return [], f"CUDA_VISIBLE_DEVICES={mask!r} hides all {len(gpus)} NVIDIA GPU(s)"
    return [GpuInfo.model_validate({**dict(g), "index": i}) for i, g in enumerate(visible)], None


def _devices(pynvml) -> tuple[list[GpuInfo], str | None]:
    count, why = _call(pynvml, "nvmlDeviceGetCount")
    if why is None and not _is_int(count, 0, MAX_GPUS):
        why = f"it returned {count!r}"
    if why is not None:
        return [], f"NVML could not count the GPUs: {why}"
    driver = _text(pynvml, "driver version", "nvmlSystemGetDriverVersion")
    return [_device(pynvml, i, driver) for i in range(count)], None


def _shutdown(pynvml) -> None:
    try:
        pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001, S110 - nothing to release when shutdown of a failed session fails
        pass


def _init_failure(pynvml, exc: Exception) -> str:
    reasons = {
        "NVMLError_LibraryNotFound": "no NVIDIA driver: the NVML library was not found",
        "NVMLError_DriverNotLoaded": "the NVIDIA driver is installed but not loaded",
        "NVMLError_NoPermission": "no permission to query the NVIDIA driver",
    }
    for cls_name, reason in reasons.items():
        cls = getattr(pynvml, cls_name, None)
        if isinstance(cls, type) and isinstance(exc, cls):
            return reason
    return f"NVML could not start: {_say(getattr(pynvml, 'NVMLError', None), exc)}"


def _say(pynvml_error: Any, exc: BaseException) -> str:
    """An exception as a reason: NVML's own message ("Not Supported"), else its type and message."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - an exception whose message cannot be formed
        text = ""
    if isinstance(pynvml_error, type) and isinstance(exc, pynvml_error):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _call(pynvml, fn_name: str, *args) -> tuple[Any, str | None]:
    """(value, None), or (None, why) when the function is missing, raises, or returns None."""
    fn = getattr(pynvml, fn_name, None)
    if not callable(fn):
        return None, f"this nvidia-ml-py has no {fn_name}"
    try:
        value = fn(*args)
    except Exception as exc:  # noqa: BLE001 - NVMLError, and whatever a broken binding raises
        return None, _say(getattr(pynvml, "NVMLError", None), exc)
    if value is None:
        return None, "it returned None"
    return value, None


def _text(pynvml, what: str, fn_name: str, *args) -> Reading[str]:
    value, why = _call(pynvml, fn_name, *args)
    if isinstance(value, bytes):  # nvidia-ml-py < 11.5 returned bytes
        value = value.decode("utf-8", errors="replace")
    if why is None and not isinstance(value, str):
        why = f"it returned a {type(value).__name__}"
    elif why is None and value.strip().lower() in _NO_VALUE:
        why = f"it returned {value!r}"
    elif why is None and len(value.strip()) > MAX_VALUE_CHARS:
        why = f"it returned {len(value)} characters, too many for a {what}"
    if why is not None:
        return Reading.unknown("nvml", f"NVML could not report the {what}: {why}")
    return Reading.of(value.strip(), "nvml")


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _memory(pynvml, handle) -> tuple[Reading[float], Reading[float], Reading[bool]]:
    """(total, free, unified) as NVML reports them; all unknown, with the reason, when the query fails."""
    mem, why = _call(pynvml, "nvmlDeviceGetMemoryInfo", handle)
    total, free = getattr(mem, "total", None), getattr(mem, "free", None)
    if why is None and not plausible_bytes(total):
        why = f"it reported {total!r} bytes"
    if why is not None:
        failed = f"NVML memory query failed: {why}"
        return (Reading.unknown("nvml", failed), Reading.unknown("nvml", failed),
                Reading.unknown("nvml", f"{failed}; the catalog decides whether the card shares system RAM"))
    free_gib = (Reading.of(gib(free), "nvml") if _is_int(free, 0, total)
                else Reading.unknown("nvml", f"NVML reported an implausible free memory ({free!r} bytes)"))
    return Reading.of(gib(total), "nvml"), free_gib, Reading.of(False, "nvml", "NVML reports dedicated memory")


def _capability(pynvml, handle) -> tuple[Reading[str], Reading[bool], Reading[bool]]:
    cc, why = _call(pynvml, "nvmlDeviceGetCudaComputeCapability", handle)
    if why is None and not (isinstance(cc, (tuple, list)) and len(cc) == 2 and all(_is_int(v, 0, 99) for v in cc)):
        why = f"it returned {cc!r}"
    if why is not None:
        unknown = Reading.unknown("nvml", f"NVML could not report the compute capability: {why}")
        return unknown, unknown, unknown
    major, minor = cc
    note = f"compute capability {major}.{minor}"
    return (Reading.of(f"{major}.{minor}", "nvml"), Reading.of((major, minor) >= BF16_MIN_CC, "nvml", note),
            Reading.of((major, minor) >= FP8_MIN_CC, "nvml", note))


def _device(pynvml, index: int, driver: Reading[str]) -> GpuInfo:
    handle, why = _call(pynvml, "nvmlDeviceGetHandleByIndex", index)
    if why is not None:
        return _unreadable(index, driver, f"NVML could not open GPU {index}: {why}")
    try:
        total, free, unified = _memory(pynvml, handle)
        cc, bf16, fp8 = _capability(pynvml, handle)
        uuid = _text(pynvml, "UUID", "nvmlDeviceGetUUID", handle)
        return GpuInfo(
            index=index, vendor="nvidia", name=_text(pynvml, "name", "nvmlDeviceGetName", handle),
            memory_total_gib=total, memory_free_gib=free, driver=driver, compute_capability=cc,
            bf16=bf16, fp8=fp8, unified=unified, catalog_name=_NOT_LOOKED_UP, uuid=uuid.value,
        )
    except Exception as exc:  # noqa: BLE001 - whatever slipped past the checks above costs this GPU, not all
        return _unreadable(index, driver, f"GPU {index} could not be described: {type(exc).__name__}: {exc}")


def _unreadable(index: int, driver: Reading[str], why: str) -> GpuInfo:
    """A GPU NVML lists but cannot describe: kept, so CUDA's numbering of the others stays right."""
    unknown = Reading.unknown("nvml", why)
    return GpuInfo(index=index, vendor="nvidia", name=unknown, memory_total_gib=unknown, memory_free_gib=unknown,
                   driver=driver, compute_capability=unknown, bf16=unknown, fp8=unknown, unified=unknown,
                   catalog_name=_NOT_LOOKED_UP)


def _visible(gpus: list[GpuInfo], mask: str | None) -> list[GpuInfo]:
    """Apply CUDA_VISIBLE_DEVICES (indices or GPU-UUID prefixes; CUDA stops at the first invalid entry)."""
    if mask is None:
        return gpus
    chosen: list[GpuInfo] = []
    for item in (part.strip() for part in mask.split(",")):
        number = uint(item)
        if number is not None and number < len(gpus):
            match = gpus[number]
        elif item.startswith("MIG-"):
            return gpus  # MIG instances: NVML lists the parent GPUs; keep them rather than guess
        else:
            match = next((g for g in gpus if item and g.uuid and g.uuid.startswith(item)), None)
        if match is None:
            break
        if match not in chosen:
            chosen.append(match)
    return chosen
