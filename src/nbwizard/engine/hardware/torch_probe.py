"""Last resort when NVML and the OS said nothing: ask torch (imported here, costing ~1.5 s, never at import)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from ._files import read_text
from .amd import BF16_GFX, FP8_GFX
from .nvidia import BF16_MIN_CC, FP8_MIN_CC
from .readings import GpuInfo, Reading, gib, plausible_bytes

_NOT_LOOKED_UP = Reading.unknown("catalog", "not looked up")


def torch_installed() -> bool:
    try:
        return "torch" in sys.modules or importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def torch_version() -> Reading[str]:
    """torch's version without importing it (read from torch/version.py), or why it is unknown."""
    if "torch" in sys.modules:
        return Reading.of(str(sys.modules["torch"].__version__), "torch")
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError) as exc:  # a broken install or a stub module without a spec
        return Reading.unknown("torch", f"torch's install cannot be inspected: {exc}")
    if spec is None or not spec.submodule_search_locations:
        return Reading.unknown("torch", "torch is not installed")
    version_py = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    match = re.search(r"""__version__\s*(?::\s*str)?\s*=\s*['"]([^'"]+)['"]""", read_text(version_py) or "")
    if match is None:
        return Reading.unknown("torch", "torch is installed but its version.py is unreadable")
    return Reading.of(match.group(1), "torch", "read from torch/version.py; torch was not imported")


def probe_torch(ram_total_gib: Reading[float]) -> tuple[list[GpuInfo], str | None]:
    """GPUs torch can see (CUDA, ROCm via torch.version.hip, or Apple MPS), or none and the reason."""
    try:
        return _probe_torch(ram_total_gib)
    except ImportError:
        return [], "torch is not installed"
    except Exception as exc:  # noqa: BLE001 - a broken CUDA setup raises anything; it must not stop detection
        return [], f"torch could not describe the GPU: {type(exc).__name__}: {exc}"


def _probe_torch(ram_total_gib: Reading[float]) -> tuple[list[GpuInfo], str | None]:
    import torch

    if torch.cuda.is_available():
        vendor = "amd" if getattr(torch.version, "hip", None) else "nvidia"
        return [_cuda_device(torch, i, vendor) for i in range(torch.cuda.device_count())], None
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        note = "unified memory: the GPU shares the system RAM"
        total = Reading.of(ram_total_gib.value, ram_total_gib.source, note) if ram_total_gib.known else ram_total_gib
        return [GpuInfo(
            index=0, vendor="apple", name=Reading.of("Apple GPU (MPS)", "torch"), memory_total_gib=total,
            memory_free_gib=Reading.unknown("torch", "shared with the system; see available RAM"),
            driver=Reading.unknown("torch", "Metal ships with macOS"),
            compute_capability=Reading.unknown("torch", "Apple GPUs have no CUDA compute capability"),
            bf16=Reading.unknown("torch", "not reported by torch"), fp8=Reading.of(False, "torch", "MPS has no fp8"),
            unified=Reading.of(True, "torch", note), catalog_name=_NOT_LOOKED_UP,
        )], None
    return [], f"torch {torch.__version__} sees no CUDA, ROCm or MPS device"


def _cuda_device(torch, index: int, vendor: str) -> GpuInfo:
    props = torch.cuda.get_device_properties(index)
    gfx = getattr(props, "gcnArchName", None) if vendor == "amd" else None
    cc = gfx.split(":")[0] if gfx else f"{props.major}.{props.minor}"
    if vendor == "amd":
        bf16, fp8 = bool(gfx) and cc.startswith(BF16_GFX), bool(gfx) and cc.startswith(FP8_GFX)
    else:
        bf16, fp8 = (props.major, props.minor) >= BF16_MIN_CC, (props.major, props.minor) >= FP8_MIN_CC
    driver = torch.version.hip if vendor == "amd" else torch.version.cuda
    return GpuInfo(
        index=index, vendor=vendor, name=Reading.of(props.name, "torch"),
        memory_total_gib=Reading.of(gib(props.total_memory), "torch") if plausible_bytes(props.total_memory)
        else Reading.unknown("torch", f"torch reported an implausible memory size ({props.total_memory!r})"),
        memory_free_gib=Reading.unknown("torch", "reading free memory would start a CUDA context"),
        driver=Reading.of(f"{'ROCm/HIP' if vendor == 'amd' else 'CUDA'} {driver}", "torch", "the runtime torch was built with")
        if driver else Reading.unknown("torch", "torch reports no runtime version"),
        compute_capability=Reading.of(cc, "torch"),
        bf16=Reading.of(bool(bf16), "torch"),
        fp8=Reading.of(fp8, "torch"),
        unified=Reading.of(False, "torch"), catalog_name=_NOT_LOOKED_UP,
    )
