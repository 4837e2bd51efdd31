"""Start a saved job in a checked ai-toolkit checkout: one run per GPU, the prediction kept with the run."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .checkout import CheckoutCheck, device_of
from .correction import job_features
from .monitor import Predicted
from .runner import Run, RunError, active_runs, nvml_index
from .telemetry import gpu_identity, gpu_processes


def busy_reason(device: str, folder: str | os.PathLike[str] | None = None) -> str | None:
    """Why a run cannot start on ``device`` now (another run there, ours or not), or None."""
    index = nvml_index(device, os.environ)
    where = "the CPU" if device.strip().lower() == "cpu" else f"GPU {index if index is not None else device}"
    for run in active_runs(folder):
        if nvml_index(run.record.get("device"), os.environ) == index:
            return (f"a run is already going on {where}: {run.record.get('job_name') or run.record['job_path']} "
                    f"(pid {run.pid}, started from this wizard); stop it first or wait for it to end")
    others = [p for p in gpu_processes(index)]
    if others:
        listed = "; ".join(p.text for p in others)
        return f"{where} is already in use by {listed}: one training run at a time per GPU; stop it first"
    return None


def start_run(job_path: str | os.PathLike[str], check: CheckoutCheck, *, job: Any = None, prediction: Any = None,
              folder: str | os.PathLike[str] | None = None) -> Run:
    """Start ``job_path`` in the checked checkout; raises :class:`RunError` with the reason when it cannot."""
    from ..yamlio import JobError, load_job

    if not check.ok:
        raise RunError("; ".join(f"{p.message} (fix: {p.fix})" for p in check.problems) or "the checkout is not usable")
    if job is None:
        try:
            job = load_job(job_path)
        except JobError as exc:
            raise RunError(f"{job_path}: {exc}") from None
    device = device_of(job)
    busy = busy_reason(device, folder)
    if busy:
        raise RunError(busy)
    index = nvml_index(device, os.environ)
    name, driver, used = gpu_identity(index)
    extra = {
        "job_name": job.get("config.name"), "training_folder": job.get("process.training_folder"),
        "ui_logger": job.get("logging.use_ui_logger") is True, "features": job_features(job),
        "prediction": asdict(Predicted.of(prediction)) if prediction is not None else None,
        "gpu_name": name or ("CPU" if device.strip().lower() == "cpu" else None), "driver": driver,
        "baseline_gib": used, "checkout": str(check.path), "python": check.python, "torch": check.torch,
    }
    return Run.start(Path(job_path), check.path, check.python, device=device, extra=extra, folder=folder)
