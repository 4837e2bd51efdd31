"""A fake torch for the fake ai-toolkit checkout: it reports the GPUs of the fake NVML (``$FAKE_NVML_STATE``),
filtered by ``CUDA_VISIBLE_DEVICES``, so a CPU-only test machine can check a "CUDA" checkout."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

__version__ = "2.13.0+fake"


def _count() -> int:
    try:
        with open(os.environ["FAKE_NVML_STATE"]) as fh:
            n = len(json.load(fh).get("gpus", []))
    except (KeyError, OSError, ValueError):
        return 0
    mask = os.environ.get("CUDA_VISIBLE_DEVICES")
    return n if mask is None else len([p for p in mask.split(",") if p.strip()])


cuda = SimpleNamespace(is_available=lambda: _count() > 0, device_count=_count)
backends = SimpleNamespace(mps=SimpleNamespace(is_available=lambda: False))
