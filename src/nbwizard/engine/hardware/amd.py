"""AMD GPUs without torch: ``rocm-smi --json`` first, then the amdgpu driver's sysfs files."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from .readings import GpuInfo, Reading, gib

ROCM_SMI_ARGV = ["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"]
ROCM_SMI_TIMEOUT_S = 3
AMD_PCI_VENDOR = "0x1002"

# gfx targets with bf16 matrix support (CDNA2+, RDNA3+) and with fp8 (CDNA3 MI300, RDNA4), per the ROCm
# "Precision support" table. Anything else is reported as False with the target named.
BF16_GFX = ("gfx90a", "gfx94", "gfx95", "gfx11", "gfx12")
FP8_GFX = ("gfx94", "gfx95", "gfx12")

Runner = Callable[[list[str]], str]


def run_rocm_smi(argv: list[str]) -> str:
    """Run rocm-smi and return its stdout (raises FileNotFoundError / TimeoutExpired / CalledProcessError)."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=ROCM_SMI_TIMEOUT_S, check=True)
    return done.stdout


def probe_amd(root: Path, run: Runner = run_rocm_smi) -> tuple[list[GpuInfo], str | None]:
    """AMD GPUs from rocm-smi (richer), else from sysfs; rocm-smi only runs when sysfs or /dev/kfd shows AMD."""
    sysfs_gpus, sysfs_reason = _from_sysfs(root)
    if not sysfs_gpus and not (root / "dev/kfd").exists():
        return [], sysfs_reason
    gpus, smi_reason = _from_rocm_smi(run)
    if gpus:
        return gpus, None
    if sysfs_gpus:
        return sysfs_gpus, None
    return [], f"{smi_reason}; {sysfs_reason}"


def _from_rocm_smi(run: Runner) -> tuple[list[GpuInfo], str]:
    try:
        out = run(ROCM_SMI_ARGV)
    except FileNotFoundError:
        return [], "rocm-smi is not installed"
    except subprocess.TimeoutExpired:
        return [], f"rocm-smi did not answer within {ROCM_SMI_TIMEOUT_S} s"
    except subprocess.CalledProcessError as exc:
        return [], f"rocm-smi failed (exit {exc.returncode})"
    try:
        data = json.loads(out)
    except json.JSONDecodeError:
        return [], "rocm-smi printed something that is not JSON"
    cards = sorted((k for k in data if re.fullmatch(r"card\d+", k)), key=lambda k: int(k[4:]))
    gpus = [_smi_card(i, {kk.lower(): v for kk, v in data[k].items()}) for i, k in enumerate(cards)]
    return gpus, "" if gpus else "rocm-smi listed no GPU"


def _smi_card(index: int, card: dict[str, str]) -> GpuInfo:
    name = card.get("card series") or card.get("card model") or card.get("market name")
    total = _int(card.get("vram total memory (b)"))
    used = _int(card.get("vram total used memory (b)"))
    return _gpu(
        index,
        Reading.of(name, "rocm-smi") if name else Reading.unknown("rocm-smi", "rocm-smi gave no product name"),
        Reading.of(gib(total), "rocm-smi") if total else Reading.unknown("rocm-smi", "rocm-smi gave no VRAM size"),
        Reading.of(gib(total - used), "rocm-smi") if total and used is not None
        else Reading.unknown("rocm-smi", "rocm-smi gave no VRAM usage"),
        card.get("gfx version"),
        "rocm-smi",
    )


def _from_sysfs(root: Path) -> tuple[list[GpuInfo], str]:
    drm = root / "sys/class/drm"
    cards = sorted((p for p in drm.glob("card*") if re.fullmatch(r"card\d+", p.name)), key=lambda p: int(p.name[4:]))
    gpus: list[GpuInfo] = []
    for card in cards:
        dev = card / "device"
        if _read(dev / "vendor") != AMD_PCI_VENDOR:
            continue
        total = _int(_read(dev / "mem_info_vram_total"))
        used = _int(_read(dev / "mem_info_vram_used"))
        product = _read(dev / "product_name")
        name = product or f"AMD GPU {_read(dev / 'device') or ''}".strip()
        gpus.append(_gpu(
            len(gpus),
            Reading.of(name, "sysfs", None if product else "the driver gave no product name; PCI device id shown"),
            Reading.of(gib(total), "sysfs") if total else Reading.unknown("sysfs", "mem_info_vram_total missing"),
            Reading.of(gib(total - used), "sysfs") if total and used is not None
            else Reading.unknown("sysfs", "mem_info_vram_used missing"),
            None,
            "sysfs",
        ))
    if gpus:
        return gpus, ""
    return [], "no AMD GPU under /sys/class/drm" if cards or drm.exists() else "no /sys/class/drm (no GPU driver)"


def _gpu(index, name, total, free, gfx: str | None, source) -> GpuInfo:
    if gfx:
        note = f"gfx target {gfx}"
        cc = Reading.of(gfx, source)
        bf16 = Reading.of(gfx.startswith(BF16_GFX), source, note)
        fp8 = Reading.of(gfx.startswith(FP8_GFX), source, note)
    else:
        cc = bf16 = fp8 = Reading.unknown(source, "the gfx target is not known from this source")
    return GpuInfo(
        index=index, vendor="amd", name=name, memory_total_gib=total, memory_free_gib=free,
        driver=Reading.unknown(source, "the ROCm version is not read by this probe"),
        compute_capability=cc, bf16=bf16, fp8=fp8, unified=Reading.of(False, source),
        catalog_name=Reading.unknown("catalog", "not looked up"),
    )


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
