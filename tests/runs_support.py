"""Helpers for the launch-and-watch tests: the replaying fake ai-toolkit, a fake NVML, isolated folders."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

FAKES = Path(__file__).parent / "fakes"
FAKE_AITK = FAKES / "fake_aitk"
RECORDED = FAKE_AITK / "recorded"
GPU_NAME = "NVIDIA GeForce RTX 4090"


def write_nvml_state(path: Path, procs: dict | None = None, gpus: int = 1) -> Path:
    path.write_text(json.dumps({"gpus": [{"name": GPU_NAME, "total_gib": 24, "cc": [8, 9], "used_gib": 0.4}] * gpus,
                                "driver": "580.95.05", "procs": procs or {}}))
    return path


@pytest.fixture()
def launch_env(tmp_path, monkeypatch):
    """NBWIZARD_HOME, the fake NVML (as ``pynvml``) and the fake checkout's interpreter, all in ``tmp_path``."""
    state = write_nvml_state(tmp_path / "nvml.json")
    monkeypatch.setenv("NBWIZARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FAKE_NVML_STATE", str(state))
    monkeypatch.setenv("FAKE_AITK_PYTHON", sys.executable)
    monkeypatch.setenv("FAKE_AITK_DELAY", "0.005")
    monkeypatch.delenv("AITK_PATH", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    spec = importlib.util.spec_from_file_location("pynvml", FAKES / "nvml" / "pynvml.py")
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    return tmp_path


def job_file(folder: Path, name: str = "tiny_sd15_cpu", device: str = "cuda", ui_logger: bool = True) -> Path:
    """The recorded run's job, writing into ``folder`` and running on ``device``."""
    text = (RECORDED / "tiny_sd15_cpu_job.yaml").read_text()
    text = text.replace("/work/scratch/launch/proto/output", str(folder / "output"))
    text = text.replace("/work/scratch/launch/proto/data", str(folder / "data"))
    text = text.replace("device: cpu", f"device: {device}").replace("name: tiny_sd15_cpu", f"name: {name}")
    if not ui_logger:
        text = text.replace("use_ui_logger: true", "use_ui_logger: false")
    (folder / "data").mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path
