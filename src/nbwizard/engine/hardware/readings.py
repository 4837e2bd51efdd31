"""A value together with where it came from, and the parts of a system profile built from such values."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")

Source = Literal[
    "nvml", "torch", "rocm-smi", "sysfs", "sysctl", "psutil", "cgroup", "procfs", "dmi", "env", "catalog", "user"
]
StorageKind = Literal["nvme", "ssd", "hdd", "network", "ram", "unknown"]
Vendor = Literal["nvidia", "amd", "apple"]

GIB = 1024**3
# No machine's RAM and no accelerator's memory comes near 1 PiB (the largest catalog entry is 512 GB); a byte
# count above it is a sentinel or garbage (NVML's 2**64 - 1, a corrupt /proc/meminfo), not a reading.
MAX_PLAUSIBLE_BYTES = 1024**5


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Reading(_Frozen, Generic[T]):
    """One detected value: ``value`` is None when unknown, and ``reason`` then says why.

    ``reason`` may also carry a note on a known value (e.g. "unified memory: system RAM used as the pool").
    """

    value: T | None
    source: Source
    reason: str | None = None

    @property
    def known(self) -> bool:
        return self.value is not None

    @classmethod
    def of(cls, value: T, source: Source, note: str | None = None) -> Reading[T]:
        return cls(value=value, source=source, reason=note)

    @classmethod
    def unknown(cls, source: Source, reason: str) -> Reading[T]:
        return cls(value=None, source=source, reason=reason)


class GpuInfo(_Frozen):
    """One accelerator as the probes (or the catalog, for a what-if) saw it."""

    index: int
    vendor: Vendor
    name: Reading[str]
    memory_total_gib: Reading[float]
    memory_free_gib: Reading[float]
    driver: Reading[str]
    compute_capability: Reading[str]  # "8.9" on NVIDIA, the gfx target ("gfx1100") on AMD
    bf16: Reading[bool]
    fp8: Reading[bool]
    unified: Reading[bool]
    catalog_name: Reading[str]
    uuid: str | None = None  # NVML's "GPU-…" id, matched against CUDA_VISIBLE_DEVICES


class StorageInfo(_Frozen):
    """The device that holds one path (output folder, dataset folder)."""

    path: str
    kind: StorageKind
    device: str | None = None
    filesystem: str | None = None
    mount_point: str | None = None
    free_gib: float | None = None
    total_gib: float | None = None
    reason: str | None = None
    source: Source = "procfs"


class PlatformInfo(_Frozen):
    os: str  # platform.system(): "Linux", "Darwin", "Windows"
    machine: str  # platform.machine(): "x86_64", "arm64", "aarch64"
    python: str


def plausible_bytes(value: object) -> bool:
    """True for a byte count a probe may report as memory: an int (not a bool) in (0, 1 PiB]."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_PLAUSIBLE_BYTES


def gib(n_bytes: float) -> float:
    """Bytes → GiB, rounded to 2 decimals (enough for any budget and stable in JSON)."""
    return round(n_bytes / GIB, 2)
