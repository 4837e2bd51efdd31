"""GPU memory and system RAM of a run, sampled through NVML and psutil (no torch, no CUDA context).

NVML's per-process list (``nvmlDeviceGetComputeRunningProcesses``) gives the memory each process holds on the
GPU, the figure ``nvidia-smi`` prints per process. In a container NVML reports the host's pids, which match none of
the run's: the run's figure is then the GPU's used memory minus what was in use before it started, and the sample
says so. The same list tells whether another program already trains on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import psutil

GIB = float(1 << 30)


@dataclass(frozen=True)
class Sample:
    """One reading: seconds since the run started, GiB the run holds on the GPU, GiB the GPU has in use in all,
    the run's resident RAM in GiB (its whole process tree), and the step the console showed."""

    t: float
    gpu_gib: float | None
    used_gib: float | None
    ram_gib: float | None
    step: int | None = None


@dataclass(frozen=True)
class GpuProcess:
    """A compute process on a GPU; ``command`` is None when this machine cannot see it (another container)."""

    pid: int
    gib: float | None
    command: str | None

    @property
    def text(self) -> str:
        size = f"{self.gib:.1f} GiB" if self.gib is not None else "memory unknown"
        who = self.command or "a process this machine cannot see (another container or user)"
        return f"pid {self.pid} ({who}, {size})"


def _nvml() -> Any | None:
    """The initialised ``pynvml`` module, or None without an NVIDIA driver."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    return pynvml


def _close(pynvml: Any) -> None:
    try:
        pynvml.nvmlShutdown()
    except pynvml.NVMLError:
        pass  # shutting down a session that failed has nothing left to release


def _processes(pynvml: Any, handle: Any) -> list[Any]:
    try:
        return list(pynvml.nvmlDeviceGetComputeRunningProcesses(handle))
    except pynvml.NVMLError:
        return []


def _used(pynvml: Any, handle: Any) -> tuple[float | None, float | None]:
    try:
        mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
    except pynvml.NVMLError:
        return None, None
    return mem.used / GIB, mem.total / GIB


def _command(pid: int) -> str | None:
    try:
        return " ".join(psutil.Process(pid).cmdline()) or psutil.Process(pid).name()
    except psutil.Error:
        return None


def gpu_processes(index: int | None) -> list[GpuProcess]:
    """Compute processes on GPU ``index`` (NVML order); empty without NVML or for the CPU."""
    if index is None:
        return []
    pynvml = _nvml()
    if pynvml is None:
        return []
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        return [GpuProcess(p.pid, (p.usedGpuMemory / GIB) if p.usedGpuMemory else None, _command(p.pid))
                for p in _processes(pynvml, handle)]
    except pynvml.NVMLError:
        return []
    finally:
        _close(pynvml)


class Telemetry:
    """Samples one run: open it with the run's GPU index (None: RAM only) and call :meth:`sample` each second.

    ``baseline_gib`` is the GPU memory in use before the run started (for the container fallback).
    """

    def __init__(self, gpu_index: int | None, baseline_gib: float | None = None):
        self.gpu_index = gpu_index
        self.baseline_gib = baseline_gib
        self.note: str | None = None  # how the run's GPU figure was obtained, when not per process
        self._pynvml = _nvml() if gpu_index is not None else None
        self._handle = None
        if self._pynvml is not None:
            try:
                self._handle = self._pynvml.nvmlDeviceGetHandleByIndex(gpu_index)
            except self._pynvml.NVMLError:
                self._handle = None
        if self.baseline_gib is None and self._handle is not None:
            self.baseline_gib = _used(self._pynvml, self._handle)[0]

    @property
    def has_gpu(self) -> bool:
        return self._handle is not None

    def total_gib(self) -> float | None:
        return _used(self._pynvml, self._handle)[1] if self._handle is not None else None

    def sample(self, tree: Iterable[psutil.Process], t: float, step: int | None = None) -> Sample:
        procs = list(tree)
        ram = 0.0
        for p in procs:
            try:
                ram += p.memory_info().rss
            except psutil.Error:
                continue
        gpu = used = None
        if self._handle is not None:
            used = _used(self._pynvml, self._handle)[0]
            pids = {p.pid for p in procs}
            listed = _processes(self._pynvml, self._handle)
            mine = [p for p in listed if p.pid in pids]
            if mine:
                gpu = sum((p.usedGpuMemory or 0) for p in mine) / GIB
                self.note = None
            elif procs and used is not None:
                gpu = max(0.0, used - (self.baseline_gib or 0.0))
                self.note = ("NVML lists no process of this run (a container sees other pids): its GPU memory is "
                             "the GPU's used memory minus what was in use before it started")
        return Sample(round(t, 2), _round(gpu), _round(used), _round(ram / GIB) if procs else None, step)

    def close(self) -> None:
        if self._pynvml is not None:
            _close(self._pynvml)
            self._pynvml = self._handle = None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)




def gpu_identity(index: int | None) -> tuple[str | None, str | None, float | None]:
    """(name, driver version, GiB in use now) of GPU ``index`` through NVML; Nones without it."""
    if index is None:
        return None, None, None
    pynvml = _nvml()
    if pynvml is None:
        return None, None, None
    try:
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        name, driver = pynvml.nvmlDeviceGetName(handle), pynvml.nvmlSystemGetDriverVersion()
        name, driver = (v.decode() if isinstance(v, bytes) else v for v in (name, driver))
        return name, driver, _used(pynvml, handle)[0]
    except pynvml.NVMLError:
        return None, None, None
    finally:
        _close(pynvml)
