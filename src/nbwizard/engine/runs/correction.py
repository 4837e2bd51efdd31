"""This machine's history as a correction over a prediction: both numbers are kept, the correction is a layer.

For runs of the same architecture on the same GPU, at a similar resolution and the same quantization, the
correction is the median of measured / predicted: peak VRAM over the predicted peak, steady s/it over the
predicted s/step. An out-of-memory run's peak is the card's limit, not what the job needed, and a crash measured
nothing steady: neither counts. :func:`corrected` wraps a prediction so the advisor shows the correction next to
the uncorrected figures it never replaces.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from statistics import median
from typing import Any, Iterable, Sequence

from .history import RunRow

RESOLUTION_TOLERANCE = 0.25  # 768 px runs still inform a 640 px or 896 px job; 512 px ones do not inform 1024 px
MIN_STEPS = 5  # a stop before this many steps measured only the start-up


@dataclass(frozen=True)
class Correction:
    """Median actual / predicted ratios from ``runs`` matching runs (each factor None when no run measured it)."""

    runs: int
    vram_factor: float | None
    time_factor: float | None
    vram_runs: int
    time_runs: int
    peak_gib: float | None  # the corrected values
    step_seconds: float | None
    total_seconds: float | None

    @property
    def text(self) -> str:
        """``corrected from 3 runs on this machine: +8 % VRAM, ×0.7 time``."""
        parts = []
        if self.vram_factor is not None:
            parts.append(f"{(self.vram_factor - 1) * 100:+.0f} % VRAM")
        if self.time_factor is not None:
            parts.append(f"×{self.time_factor:.2g} time")
        runs = f"{self.runs} run{'s' * (self.runs != 1)}"
        return f"corrected from {runs} on this machine: {', '.join(parts)}"


def job_features(job: Any) -> dict[str, Any]:
    """What a history row keeps of a job to match it later (arch, resolution, quantization, sizes)."""
    from ..arch import arch_of

    spec = arch_of(job)
    res = job.get("datasets[].resolution")
    sizes = [int(r) for r in (res if isinstance(res, list) else [res]) if isinstance(r, (int, float))]
    quant = (job.get("model.qtype") or "qfloat8") if job.get("model.quantize") is True else None
    rank = job.get("network.linear")
    return {
        "arch": spec.arch if spec is not None else job.get("model.arch"),
        "resolution": max(sizes) if sizes else None,
        "quantization": quant, "batch_size": job.get("train.batch_size"), "network": job.get("network.type"),
        "rank": rank if isinstance(rank, int) else None,
        "gradient_checkpointing": job.get("train.gradient_checkpointing"), "optimizer": job.get("train.optimizer"),
        "steps": job.get("train.steps"), "job_name": job.get("config.name"),
    }


def matching(rows: Iterable[RunRow], arch: str | None, gpu: str | None, resolution: int | None,
             quantization: str | None) -> list[RunRow]:
    """History rows that describe the same kind of run on the same card."""
    found = []
    for r in rows:
        if r.arch != arch or not gpu or r.gpu != gpu or (r.quantization or None) != (quantization or None):
            continue
        if resolution and r.resolution and abs(r.resolution - resolution) > RESOLUTION_TOLERANCE * resolution:
            continue
        found.append(r)
    return found


def _ratios(rows: Sequence[RunRow]) -> tuple[list[float], list[float]]:
    vram, time = [], []
    for r in rows:
        enough = r.outcome == "completed" or (r.outcome == "stopped" and (r.steps_done or 0) >= MIN_STEPS)
        if not enough:
            continue
        if r.peak_gib and r.pred_peak_gib:
            vram.append(r.peak_gib / r.pred_peak_gib)
        if r.steady_s_per_it and r.pred_step_s:
            time.append(r.steady_s_per_it / r.pred_step_s)
    return vram, time


def correction_for(prediction: Any, rows: Iterable[RunRow], *, arch: str | None, gpu: str | None,
                   resolution: int | None, quantization: str | None) -> Correction | None:
    """The correction for ``prediction`` from the matching rows; None when no run matches."""
    found = matching(rows, arch, gpu, resolution, quantization)
    vram, time = _ratios(found)
    if not vram and not time:
        return None
    vf = round(median(vram), 3) if vram else None
    tf = round(median(time), 3) if time else None
    peak, step, total = (getattr(prediction, n, None) for n in ("peak_vram_gib", "step_seconds", "total_seconds"))
    return Correction(
        runs=len({r.run_id for r in found if r.peak_gib or r.steady_s_per_it}), vram_factor=vf, time_factor=tf,
        vram_runs=len(vram), time_runs=len(time),
        peak_gib=round(peak * vf, 2) if peak is not None and vf is not None else None,
        step_seconds=round(step * tf, 3) if step is not None and tf is not None else None,
        total_seconds=round(total * tf, 1) if total is not None and tf is not None else None)


class CorrectedPrediction:
    """A prediction with ``correction`` beside it: every other attribute is the uncorrected prediction's."""

    def __init__(self, prediction: Any, correction: Correction):
        self._prediction = prediction
        self.correction = correction

    def __getattr__(self, name: str) -> Any:
        return getattr(self._prediction, name)

    @property
    def uncorrected(self) -> Any:
        return self._prediction


def gpu_name(profile: Any) -> str | None:
    """The GPU a profile plans for, as NVML names it (what the history rows keep)."""
    gpu = getattr(profile, "gpu", None)
    name = getattr(getattr(gpu, "name", None), "value", None)
    return str(name) if name else None


_CACHE: dict[Any, list[RunRow]] = {}


def _rows(history: Any) -> list[RunRow]:
    stamp = (str(history.path), history.stamp())
    if stamp not in _CACHE:
        _CACHE.clear()
        _CACHE[stamp] = history.rows() if stamp[1] is not None else []
    return _CACHE[stamp]


def corrected(prediction: Any, job: Any, gpu: str | None, history: Any = None) -> Any:
    """``prediction`` with this machine's correction for ``job`` on ``gpu`` (itself when no run matches).

    The history is read once per change of its file, so calling this on every edit costs a stat.
    """
    from .history import History

    if prediction is None or job is None or not gpu:
        return prediction
    try:
        rows = _rows(history if history is not None else History())
        f = job_features(job)
    except (sqlite3.Error, OSError):  # a damaged history never breaks the wizard: it only loses the correction
        return prediction
    corr = correction_for(prediction, rows, arch=f["arch"], gpu=gpu, resolution=f["resolution"],
                          quantization=f["quantization"])
    return prediction if corr is None else CorrectedPrediction(prediction, corr)
