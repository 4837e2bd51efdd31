"""Hardware probes: one small module per source (NVML, ROCm, Apple, cgroup, storage, cloud, torch).

Nothing here is imported by ``nbwizard.engine.profile`` at import time; `detect.detect` runs the probes.
"""
