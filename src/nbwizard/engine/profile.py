"""The system profile: what this machine (or a what-if card) offers for training, each value with its source.

JSON shape (``SystemProfile.to_json``; ``schema_version`` 1)::

    {"schema_version": 1,
     "gpus": [{"index": 0, "vendor": "nvidia", "uuid": "GPU-…",
               "name": {"value": "NVIDIA GeForce RTX 4090", "source": "nvml", "reason": null},
               "memory_total_gib": {…}, "memory_free_gib": {…}, "driver": {…}, "compute_capability": {…},
               "bf16": {…}, "fp8": {…}, "unified": {…}, "catalog_name": {…}}],
     "gpu_reason": null,                       # why there is no GPU, when "gpus" is empty
     "ram_total_gib": {"value": 64.0, "source": "cgroup", "reason": "container limit …"},
     "ram_available_gib": {…}, "cpu_cores": {…}, "cpu_name": {…},
     "storage": [{"path": ".", "kind": "nvme", "device": "nvme0n1p2 → nvme0n1", "filesystem": "ext4",
                  "mount_point": "/", "free_gib": 812.4, "total_gib": 1862.0, "reason": null, "source": "sysfs"}],
     "cloud": {"value": "RunPod", "source": "env", "reason": "RUNPOD_POD_ID is set"},
     "platform": {"os": "Linux", "machine": "x86_64", "python": "3.11.7"},
     "torch_version": {…}, "reserve_gib": 0.0, "target": null}

Every reading is ``{"value", "source", "reason"}``: a value of null is unknown and ``reason`` says why.
Sources: nvml, torch, rocm-smi, sysfs, sysctl, psutil, cgroup, procfs, dmi, env, catalog, user.
A GPU whose memory the driver did not report has the catalog's size (source ``catalog``, the reason naming the
failed query), system RAM only when the catalog lists the card as sharing it (DGX Spark), or null.
"""

from __future__ import annotations

import os
import platform as _platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from .hardware.readings import GpuInfo, PlatformInfo, Reading, StorageInfo, StorageKind, _Frozen

if TYPE_CHECKING:
    from .gpus import GpuSpec

__all__ = ["GpuInfo", "PlatformInfo", "Reading", "StorageInfo", "SystemProfile", "detect_system"]

# A unified-memory machine keeps this much RAM for the OS, the notebook and the data loader:
# max(4 GiB, 15 % of RAM) — the share macOS / DGX OS leave outside the GPU's working set in practice.
OS_RESERVE_MIN_GIB = 4.0
OS_RESERVE_FRACTION = 0.15

Accelerator = Literal["nvidia", "amd", "apple", "cpu"]


def detect_system(
    paths: Iterable[str | os.PathLike] = (".",),
    *,
    root: Path = Path("/"),
    env: Mapping[str, str] | None = None,
    use_torch: bool | None = None,
    reserve_gib: float = 0.0,
) -> SystemProfile:
    """Detect GPUs, RAM, CPU, the storage under each of ``paths``, and the cloud provider.

    Args:
        paths: folders whose storage matters (output, dataset); they need not exist yet.
        root: filesystem root for procfs / sysfs reads (tests pass a recorded tree).
        env: environment variables (default ``os.environ``).
        use_torch: None asks torch only when NVML and the OS cannot describe a GPU the OS shows;
            False never; True whenever no other probe found a GPU. torch is never imported otherwise.
        reserve_gib: memory the user keeps for other applications.
    """
    from .hardware.detect import detect

    return detect(paths, root=root, env=env, use_torch=use_torch, reserve_gib=reserve_gib)


class SystemProfile(_Frozen):
    """Immutable: `override`, `with_target` and `with_storage` return new, validated profiles."""

    schema_version: Literal[1] = 1
    gpus: list[GpuInfo] = Field(default_factory=list)
    gpu_reason: str | None = None
    ram_total_gib: Reading[float]
    ram_available_gib: Reading[float]
    cpu_cores: Reading[int]
    cpu_name: Reading[str]
    storage: list[StorageInfo] = Field(default_factory=list)
    cloud: Reading[str]
    platform: PlatformInfo
    torch_version: Reading[str]
    reserve_gib: float = Field(0.0, ge=0, description="GiB the user keeps free for other applications")
    target: str | None = Field(None, description="the catalog card of a what-if profile")

    # ---- what consumers read -------------------------------------------------------------------------------
    @property
    def gpu(self) -> GpuInfo | None:
        """The GPU training runs on (``cuda:0``: the first visible one), or None."""
        return self.gpus[0] if self.gpus else None

    @property
    def accelerator(self) -> Accelerator:
        return self.gpu.vendor if self.gpu is not None else "cpu"

    @property
    def unified_memory(self) -> bool:
        return self.gpu is not None and self.gpu.unified.value is True

    @property
    def vram_budget_gib(self) -> float | None:
        """GiB training may use on the GPU: discrete total − reserve; unified RAM − OS reserve − reserve."""
        gpu = self.gpu
        if gpu is None:
            return None
        if self.unified_memory:
            pool = self.ram_total_gib.value if self.ram_total_gib.known else gpu.memory_total_gib.value
            if pool is None:
                return None
            budget = pool - max(OS_RESERVE_MIN_GIB, OS_RESERVE_FRACTION * pool) - self.reserve_gib
        else:
            if not gpu.memory_total_gib.known:
                return None
            budget = gpu.memory_total_gib.value - self.reserve_gib
        return round(max(0.0, budget), 2)

    @property
    def gpu_spec(self) -> GpuSpec | None:
        """The catalog entry of the (target or detected) GPU, or None when it is not in the catalog."""
        from .gpus import UnknownGpuError, find_gpu

        gpu = self.gpu
        if self.target:
            name = self.target
        elif gpu is None:
            return None
        elif gpu.name.source != "user" and gpu.catalog_name.known:
            name = gpu.catalog_name.value
        elif gpu.name.known:
            name = gpu.name.value
        else:
            return None
        try:
            spec = find_gpu(name)
        except UnknownGpuError:
            return None
        if gpu is not None and gpu.memory_total_gib.known:
            spec = _closest_memory_option(spec, gpu.memory_total_gib.value)
        return spec

    def storage_for(self, path: str | os.PathLike) -> StorageInfo | None:
        """The storage entry recorded for ``path`` (compared after normalising), or None."""
        wanted = _norm(path)
        return next((s for s in self.storage if _norm(s.path) == wanted), None)

    # ---- new profiles from this one -----------------------------------------------------------------------
    def override(self, field_path: str, value: Any) -> SystemProfile:
        """A new profile with one value set by the user (source ``user``), validated.

        ``field_path`` is dotted: ``"ram_total_gib"``, ``"gpus.0.memory_total_gib"`` (``"gpu."`` is
        ``"gpus.0."``), ``"storage.0.kind"``, ``"reserve_gib"``. Raises KeyError for a path that does not
        exist and pydantic's ValidationError for a value of the wrong type.
        """
        data = self.model_dump()
        parts = field_path.split(".")
        if parts[0] == "gpu":
            parts[:1] = ["gpus", "0"]
        node: Any = data
        try:
            for part in parts[:-1]:
                node = node[int(part)] if isinstance(node, list) else node[part]
            current = node[parts[-1]] if isinstance(node, dict) else None
        except (KeyError, IndexError, ValueError, TypeError):
            raise KeyError(f"the profile has no field {field_path!r}") from None
        if not isinstance(node, dict) or parts[-1] not in node:
            raise KeyError(f"the profile has no field {field_path!r}")
        if isinstance(current, dict) and set(current) == {"value", "source", "reason"}:
            node[parts[-1]] = {"value": value, "source": "user", "reason": None}
        else:
            node[parts[-1]] = value
            if "source" in node and parts[-1] not in ("source", "reason"):
                node["source"], node["reason"] = "user", None
        return type(self).model_validate(data)

    def with_target(self, name: str, memory_gib: float | None = None) -> SystemProfile:
        """A what-if profile for the catalog card ``name``: the machine that card sits in, not this one.

        Only values the user typed into this profile (source ``user``: RAM, cores, storage) and the reserve carry
        over; this machine's detected RAM, free RAM, CPU and disks say nothing about a rented card's machine, so
        they are unknown there until the user gives them.
        """
        planned = type(self).for_gpu(name, memory_gib=memory_gib, reserve_gib=self.reserve_gib)
        data = planned.model_dump()
        mine = self.model_dump()
        for key in ("ram_total_gib", "ram_available_gib", "cpu_cores", "cpu_name"):
            if mine[key]["source"] == "user":
                data[key] = mine[key]
        data["storage"] = [s for s in mine["storage"] if s["source"] == "user"]
        return type(self).model_validate(data)

    @property
    def what_if(self) -> bool:
        """Whether this profile plans for a card picked as target rather than describing this machine."""
        return self.target is not None

    @property
    def machine(self) -> str:
        """How texts name the machine this profile describes: "this machine", or "the planned RTX 4090 machine"."""
        return f"the planned {self.target} machine" if self.what_if else "this machine"

    def with_storage(self, *paths: str | os.PathLike, root: Path = Path("/")) -> SystemProfile:
        """A new profile that also describes the storage under ``paths`` (replacing entries for them)."""
        from .hardware.storage import probe_storage

        fresh = [probe_storage(p, root) for p in paths]
        kept = [s for s in self.storage if _norm(s.path) not in {_norm(p) for p in paths}]
        return type(self).model_validate({**self.model_dump(), "storage": [*kept, *(s.model_dump() for s in fresh)]})

    @classmethod
    def for_gpu(
        cls,
        name: str,
        *,
        ram_gb: float | None = None,
        cores: int | None = None,
        storage_kind: StorageKind | None = None,
        free_disk_gb: float | None = None,
        memory_gib: float | None = None,
        reserve_gib: float = 0.0,
    ) -> SystemProfile:
        """A what-if profile for a catalog card; raises the catalog's UnknownGpuError for an unknown name.

        Values given here have source ``user``; the card's own have source ``catalog``. A unified-memory
        card (DGX Spark, Apple) without ``ram_gb`` uses its catalog memory as the machine's RAM.
        """
        spec = _find_spec(name, memory_gib)
        gpu = _catalog_gpu(spec)
        not_given = "not given for this what-if profile"
        if ram_gb is not None:
            ram = Reading.of(float(ram_gb), "user")
        elif spec.unified:
            ram = Reading.of(float(spec.memory_gib), "catalog", "unified memory: the card's memory is the RAM")
        else:
            ram = Reading.unknown("user", not_given)
        storage = []
        if storage_kind is not None or free_disk_gb is not None:
            storage = [StorageInfo(path=".", kind=storage_kind or "unknown", free_gib=free_disk_gb, source="user",
                                   reason=None if storage_kind else "storage kind not given")]
        apple = spec.vendor == "apple"
        return cls(
            gpus=[gpu],
            ram_total_gib=ram,
            ram_available_gib=ram,
            cpu_cores=Reading.of(cores, "user") if cores is not None else Reading.unknown("user", not_given),
            cpu_name=Reading.unknown("user", not_given),
            storage=storage,
            cloud=Reading.unknown("user", "what-if profile"),
            platform=PlatformInfo(os="Darwin" if apple else "Linux", machine="arm64" if apple else "x86_64",
                                  python=_platform.python_version()),
            torch_version=Reading.unknown("user", "what-if profile"),
            reserve_gib=reserve_gib,
            target=name,
        )

    # ---- serialisation ------------------------------------------------------------------------------------
    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> SystemProfile:
        return cls.model_validate_json(text)


def _norm(path: str | os.PathLike) -> str:
    return os.path.normpath(os.path.abspath(os.path.expanduser(path)))


def _closest_memory_option(spec: GpuSpec, total_gib: float) -> GpuSpec:
    """The spec's memory option within 1 GiB of what was measured (NVML shows a 24 GB card as 23.99 GiB)."""
    for option in spec.memory_options_gib:
        if abs(option - total_gib) < 1.0 and option != spec.memory_gib:
            return spec.with_memory(option)
    return spec


def _find_spec(name: str, memory_gib: float | None) -> GpuSpec:
    from .gpus import find_gpu

    spec = find_gpu(name)
    return spec.with_memory(memory_gib) if memory_gib is not None else spec


def _catalog_gpu(spec: GpuSpec) -> GpuInfo:
    """A GpuInfo built from a catalog entry (source ``catalog``) for a what-if profile."""
    what_if = "what-if profile: no card to measure"
    unified = "unified memory: the card shares the system RAM" if spec.unified else None
    return GpuInfo(
        index=0,
        vendor=spec.vendor,
        name=Reading.of(spec.name, "catalog"),
        memory_total_gib=Reading.of(float(spec.memory_gib), "catalog", unified),
        memory_free_gib=Reading.unknown("catalog", what_if),
        driver=Reading.unknown("catalog", what_if),
        compute_capability=Reading.of(spec.compute_capability, "catalog") if spec.compute_capability
        else Reading.unknown("catalog", "the catalog lists no compute capability"),
        bf16=Reading.of(spec.bf16, "catalog"),
        fp8=Reading.of(spec.fp8, "catalog"),
        unified=Reading.of(spec.unified, "catalog", unified),
        catalog_name=Reading.of(spec.name, "catalog"),
    )
