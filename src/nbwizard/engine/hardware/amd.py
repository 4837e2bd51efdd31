"""AMD GPUs without torch: ``rocm-smi --json`` first, then the amdgpu driver's sysfs files."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from ._files import MAX_VALUE_CHARS, exists, read_value
from .readings import GpuInfo, Reading, gib, plausible_bytes

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


def probe_amd(root: Path, run: Runner | None = None) -> tuple[list[GpuInfo], str | None]:
    """AMD GPUs from rocm-smi (richer), else from sysfs; rocm-smi only runs when sysfs or /dev/kfd shows AMD."""
    sysfs_gpus, sysfs_reason = _from_sysfs(root)
    if not sysfs_gpus and not exists(root / "dev/kfd"):
        return [], sysfs_reason
    gpus, smi_reason = _from_rocm_smi(run or run_rocm_smi)
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
    except (OSError, ValueError) as exc:  # no permission to run it; output that is not text
        return [], f"rocm-smi could not be run: {type(exc).__name__}: {exc}"
    try:
        data = json.loads(out)
    except (TypeError, ValueError):  # JSONDecodeError is a ValueError
        return [], "rocm-smi printed something that is not JSON"
    if not isinstance(data, dict):
        return [], "rocm-smi printed JSON that is not an object of cards"
    cards = sorted((k for k, v in data.items() if isinstance(v, dict) and re.fullmatch(r"card\d+", str(k))),
                   key=lambda k: int(k[4:]))
    gpus = [_smi_card(i, {str(kk).lower(): v for kk, v in data[k].items()}) for i, k in enumerate(cards)]
    return gpus, "" if gpus else "rocm-smi listed no GPU"


def _smi_card(index: int, card: dict[str, object]) -> GpuInfo:
    name = next((v.strip() for v in (card.get(k) for k in ("card series", "card model", "market name"))
                 if isinstance(v, str) and 0 < len(v.strip()) <= MAX_VALUE_CHARS and v.strip() != "N/A"), None)
    gfx = card.get("gfx version")
    gfx = gfx.strip() if isinstance(gfx, str) and re.fullmatch(r"gfx[0-9a-f]+", gfx.strip()) else None
    total, free = _vram(_int(card.get("vram total memory (b)")), _int(card.get("vram total used memory (b)")),
                        "rocm-smi", "rocm-smi's VRAM total", "rocm-smi's VRAM used")
    return _gpu(
        index,
        Reading.of(name, "rocm-smi") if name else Reading.unknown("rocm-smi", "rocm-smi gave no product name"),
        total, free, gfx, "rocm-smi",
    )


def _vram(total: int | None, used: int | None, source, total_what: str, used_what: str) -> tuple[Reading, Reading]:
    """(total, free) GiB readings from byte counts; a missing or implausible count is an unknown saying so."""
    if not plausible_bytes(total):
        why = f"{total_what} is missing" if total is None else f"{total_what} is implausible ({total} bytes)"
        return Reading.unknown(source, why), Reading.unknown(source, why)
    if used is None or not 0 <= used <= total:
        why = f"{used_what} is missing" if used is None else f"{used_what} is implausible ({used} bytes)"
        return Reading.of(gib(total), source), Reading.unknown(source, why)
    return Reading.of(gib(total), source), Reading.of(gib(total - used), source)


def _from_sysfs(root: Path) -> tuple[list[GpuInfo], str]:
    drm = root / "sys/class/drm"
    try:
        cards = sorted((p for p in drm.glob("card*") if re.fullmatch(r"card\d+", p.name)), key=lambda p: int(p.name[4:]))
    except OSError as exc:
        return [], f"/sys/class/drm cannot be listed: {exc}"
    gpus: list[GpuInfo] = []
    for card in cards:
        dev = card / "device"
        if read_value(dev / "vendor") != AMD_PCI_VENDOR:
            continue
        total, free = _vram(_int(read_value(dev / "mem_info_vram_total")),
                            _int(read_value(dev / "mem_info_vram_used")), "sysfs", "mem_info_vram_total",
                            "mem_info_vram_used")
        product = read_value(dev / "product_name")
        name = product or f"AMD GPU {read_value(dev / 'device') or ''}".strip()
        gpus.append(_gpu(
            len(gpus),
            Reading.of(name, "sysfs", None if product else "the driver gave no product name; PCI device id shown"),
            total, free, None, "sysfs",
        ))
    if gpus:
        return gpus, ""
    return [], "no AMD GPU under /sys/class/drm" if cards or exists(drm) else "no /sys/class/drm (no GPU driver)"


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


def _int(value: object) -> int | None:
    """A byte count as rocm-smi (a string or a number) or sysfs (a string) writes it; anything else is None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,30}", value.strip()):
        return int(value)
    return None
