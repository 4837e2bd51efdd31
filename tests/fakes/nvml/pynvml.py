"""A fake of nvidia-ml-py's ``pynvml`` for tests: GPUs and per-process memory come from ``$FAKE_NVML_STATE``.

The state file (JSON) holds ``gpus`` (``name``, ``total_gib``, ``cc``, ``uuid``, ``used_gib`` besides any process),
``driver`` and ``procs`` (pid -> bytes; the fake trainer ``tests/fakes/fake_aitk/run.py`` writes its own). Only the
calls nbwizard makes exist. Put this folder first on ``sys.path`` (or ``PYTHONPATH``) to use it.
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

GIB = 1 << 30
NVML_ERROR_NOT_SUPPORTED = 3


class NVMLError(Exception):
    def __init__(self, value: int = 999):
        super().__init__(f"fake NVML error {value}")
        self.value = value


class NVMLError_LibraryNotFound(NVMLError):
    pass


def _state() -> dict:
    path = os.environ.get("FAKE_NVML_STATE")
    if not path:
        raise NVMLError_LibraryNotFound(12)
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {"gpus": []}


def nvmlInit() -> None:
    _state()


def nvmlShutdown() -> None:
    pass


def nvmlSystemGetDriverVersion() -> str:
    return _state().get("driver", "580.95.05")


def nvmlDeviceGetCount() -> int:
    return len(_state().get("gpus", []))


def nvmlDeviceGetHandleByIndex(index: int) -> int:
    if index >= nvmlDeviceGetCount():
        raise NVMLError(2)
    return index


def _gpu(handle: int) -> dict:
    return _state()["gpus"][handle]


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True


def _procs(handle: int) -> dict:
    state = _state()
    return {pid: b for pid, b in state.get("procs", {}).items() if handle == 0 and _alive(pid)}


def nvmlDeviceGetComputeRunningProcesses(handle: int) -> list:
    return [SimpleNamespace(pid=int(pid), usedGpuMemory=b) for pid, b in _procs(handle).items()]


def nvmlDeviceGetMemoryInfo(handle: int) -> SimpleNamespace:
    gpu = _gpu(handle)
    total = int(gpu.get("total_gib", 24) * GIB)
    used = int(gpu.get("used_gib", 0.5) * GIB) + sum(_procs(handle).values())
    return SimpleNamespace(total=total, used=used, free=max(0, total - used))


def nvmlDeviceGetName(handle: int) -> str:
    return _gpu(handle).get("name", "NVIDIA GeForce RTX 4090")


def nvmlDeviceGetUUID(handle: int) -> str:
    return _gpu(handle).get("uuid", f"GPU-fake-{handle}")


def nvmlDeviceGetCudaComputeCapability(handle: int) -> tuple[int, int]:
    return tuple(_gpu(handle).get("cc", [8, 9]))
