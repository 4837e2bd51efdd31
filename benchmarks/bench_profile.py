"""Time ``import nbwizard`` (fresh interpreter, best of 5) and ``detect_system()``; report whether torch loaded.

Run: ``PYTHONPATH=src python benchmarks/bench_profile.py``
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def import_target() -> str:
    return "nbwizard" if (SRC / "nbwizard" / "__init__.py").exists() else "nbwizard.engine.profile"


def time_import(module: str, runs: int = 5) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        times.append(float(out.stdout.strip()))
    return min(times)


def main() -> None:
    module = import_target()
    print(f"import {module}: {time_import(module) * 1000:.0f} ms (best of 5, fresh interpreter)")
    profile_module = "nbwizard.engine.profile"
    print(f"import {profile_module}: {time_import(profile_module) * 1000:.0f} ms (best of 5; pydantic dominates)")
    sys.path.insert(0, str(SRC))
    from nbwizard.engine.profile import detect_system

    start = time.perf_counter()
    profile = detect_system(["."])
    first = time.perf_counter() - start
    start = time.perf_counter()
    detect_system(["."])
    again = time.perf_counter() - start
    print(f"detect_system(): {first * 1000:.0f} ms first, {again * 1000:.0f} ms again")
    print(f"torch imported: {'torch' in sys.modules}")
    gpu = profile.gpu
    print(f"accelerator: {profile.accelerator}; GPU: {gpu.name.value if gpu else profile.gpu_reason}")
    print(f"RAM {profile.ram_total_gib.value} GiB ({profile.ram_total_gib.source}), cores {profile.cpu_cores.value}")
    for s in profile.storage:
        print(f"storage {s.path}: {s.kind} on {s.device} ({s.filesystem}), free {s.free_gib} GiB; {s.reason or ''}")


if __name__ == "__main__":
    main()
