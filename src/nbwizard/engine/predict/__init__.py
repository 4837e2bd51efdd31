"""Predict a job's GPU memory (per phase), fit verdict, step and total time, disk and system RAM before it runs.

``predict(job, profile, dataset=None) -> Prediction``. Pure: no widgets, no formatting beyond short reasons.

The physics follows what ai-toolkit does with the job, on measured facts:

* ``memory``: the training step (weights by qtype, LoRA in fp32 with its optimizer and EMA, the fake-tensor trace's
  activation peak at the job's tokens / batch / checkpointing, quantized backends' backward copies, DOP's second
  graph) and the load path (``families`` in data/predict.json: where the denoiser and text encoder are quantized);
* ``sampling``: the preview forward from the trace's no-grad fit, guidance per pipeline, the VAE decode;
* ``steptime``: traced FLOPs x passes over the card's class efficiency, dequantization and layer-offload traffic,
  dispatch overhead; ``ram``: ai-toolkit's host-memory load path and steady state; ``budget``: bands and verdict.

Constants live in data/predict.json with their sources or the calibration rows that pin them
(``benchmarks/bench_predict.py --fit``). Unknown sizes are never invented: the prediction says "unknown" and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from . import _data as D
from ._inputs import DEFAULT_IMAGE_COUNT, Inputs, read_inputs
from ._sizes import Part, Sizes
from .budget import Band, band, verdict as _verdict
from .disk import disk_parts, free_gib
from .memory import load_phases, prepare_parts, train_parts
from .ram import load_parts, steady_parts
from .sampling import sample_parts
from .steptime import Cost, step_costs, total_seconds

__all__ = ["Item", "Breakdown", "DiskPlan", "Phase", "Cost", "Prediction", "predict", "predict_or_none",
           "FITS_MARGIN", "DEFAULT_IMAGE_COUNT"]

log = logging.getLogger(__name__)

Item = Part  # one component of a breakdown, as the prediction lists it: GiB, a one-line why, how well it is known

# "fits" needs the high end of the band to stay under the budget; between the estimate and the high end: tight.
FITS_MARGIN = 0.0
GIB = D.GIB


@dataclass(frozen=True)
class Breakdown:
    """Components and their sum (GiB)."""

    items: tuple[Item, ...]
    total_gib: float

    def get(self, name: str) -> float:
        """GiB of the component called ``name`` (0.0 when absent)."""
        return sum(i.gib for i in self.items if i.name == name)


@dataclass(frozen=True)
class Phase:
    """One stage of the run with its GPU memory: load, prepare, train, sample."""

    name: str
    breakdown: Breakdown
    low_gib: float
    high_gib: float


@dataclass(frozen=True)
class DiskPlan:
    """Disk the run writes, and the free space where it writes (None when the profile does not know)."""

    items: tuple[Item, ...]
    total_gib: float
    free_gib: float | None
    fits: bool | None


@dataclass(frozen=True)
class Prediction:
    """Everything predicted for one job on one (target) machine."""

    train: Breakdown
    sample: Breakdown | None
    peak_vram_gib: float | None
    low_gib: float | None
    high_gib: float | None
    budget_gib: float | None
    verdict: str  # fits | tight | does_not_fit | unknown
    verdict_reason: str
    step_seconds: float | None
    step_seconds_reason: str
    total_seconds: float | None
    disk: DiskPlan
    ram_peak_gib: float | None
    assumptions: tuple[str, ...]
    # added with the phase model (issue 8); every field above keeps its meaning
    phases: tuple[Phase, ...] = ()
    binding_phase: str = ""
    headroom_gib: float | None = None
    load: Breakdown | None = None
    step_low_seconds: float | None = None
    step_high_seconds: float | None = None
    step_costs: tuple[Cost, ...] = ()
    ram: Breakdown | None = None
    ram_phase: str = ""
    ram_phases: tuple[Phase, ...] = field(default_factory=tuple)


def _bd(parts: list[Part]) -> Breakdown:
    items = tuple(Item(p.name, round(p.gib, 3), p.why, p.kind) for p in parts if p.gib > 0 or p.name == "base weights")
    return Breakdown(items, round(sum(p.gib for p in parts), 2))


def _signif(v: float | None, digits: int = 2) -> float | None:
    """A time shown to its precision: two significant digits (the band is wider than that)."""
    if v is None or v <= 0:
        return v
    from math import floor, log10

    return round(v, max(0, digits - 1 - int(floor(log10(abs(v))))))


def predict_or_none(job: Any, profile: Any, dataset: Any = None) -> Prediction | None:
    """:func:`predict` where the prediction only adds to something else (a later process entry's checks, a
    suggestion's effect): a predictor failure is logged and gives None rather than taking that with it."""
    try:
        return predict(job, profile, dataset)
    except Exception as exc:  # a predictor bug must not break the report or the suggestions it only informs
        log.error("prediction failed: %s: %s", type(exc).__name__, exc)
        return None


def predict(job: Any, profile: Any, dataset: Any = None) -> Prediction:
    """Predict memory, time, RAM and disk for ``job`` on ``profile``'s (target) GPU.

    Args:
        job: an :class:`nbwizard.engine.job.Job`.
        profile: a :class:`nbwizard.engine.profile.SystemProfile` (a detected one or ``SystemProfile.for_gpu``).
        dataset: optional object with ``image_count`` (or ``images`` / ``videos``); else 20 images are assumed.

    Returns:
        A frozen :class:`Prediction`. Never raises for odd settings: what cannot be known is None plus a reason.
    """
    x = read_inputs(job, dataset)
    budget = getattr(profile, "vram_budget_gib", None)
    gpu = getattr(profile, "gpu_spec", None)
    f = x.f
    if f is None or f.den_params is None or f.activity is None:
        return _unknown(x, profile, budget)
    s = Sizes(x)
    phases_parts: list[tuple[str, list[Part]]] = [*load_phases(s), ("prepare: caching", prepare_parts(s)),
                                                  ("training", train_parts(s))]
    if x.sampling:
        phases_parts.append(("sampling", sample_parts(s)))
    bands = [(name, band(parts, f.fallbacks)) for name, parts in phases_parts]
    phases = tuple(Phase(name, _bd(parts), b.low, b.high) for (name, parts), (_, b) in zip(phases_parts, bands))
    verdict, reason, binding = _verdict(bands, budget, profile, x.arch_label)
    top: tuple[str, Band] = max(bands, key=lambda p: p[1].estimate)
    by_name = {p.name: p for p in phases}
    loads = [p for p in phases if p.name.startswith("load")]
    # time
    costs_why = step_costs(s, gpu)
    if costs_why is None:
        step = low_s = high_s = None
        step_reason = "the GPU's bf16 throughput is unknown (no catalog card in the profile)"
        costs: tuple[Cost, ...] = ()
    else:
        costs = tuple(Cost(c.name, round(c.seconds, 4), c.why) for c in costs_why[0])
        raw = sum(c.seconds for c in costs_why[0])
        spread = D.const("time", "band")  # the fitted rows' spread around the estimate
        step, low_s, high_s = _signif(raw), _signif(raw / (1 + spread)), _signif(raw * (1 + spread))
        main = max(costs, key=lambda c: c.seconds)
        step_reason = (f"{step:g} s per step (band {low_s:g}-{high_s:g} s); largest term: {main.name}, {main.why}")
    total = total_seconds(s, step, gpu)
    # RAM
    ram_load, ram_steady = load_parts(s), steady_parts(s)
    ram_phases = (Phase("load", _bd(ram_load), *_lh(ram_load)), Phase("training", _bd(ram_steady), *_lh(ram_steady)))
    ram_top = max(ram_phases, key=lambda p: p.breakdown.total_gib)
    # disk
    disk = _disk(x, profile, s.lora_params)
    headroom = round(budget - by_name[binding].high_gib, 2) if budget is not None and binding in by_name else None
    return Prediction(
        train=by_name["training"].breakdown, sample=by_name["sampling"].breakdown if x.sampling else None,
        peak_vram_gib=top[1].estimate, low_gib=top[1].low, high_gib=top[1].high, budget_gib=budget,
        verdict=verdict, verdict_reason=reason, step_seconds=step, step_seconds_reason=step_reason,
        total_seconds=total, disk=disk, ram_peak_gib=ram_top.breakdown.total_gib,
        assumptions=tuple(dict.fromkeys(x.notes)), phases=phases, binding_phase=binding, headroom_gib=headroom,
        load=max(loads, key=lambda p: p.breakdown.total_gib).breakdown if loads else None,
        step_low_seconds=low_s, step_high_seconds=high_s, step_costs=costs, ram=ram_top.breakdown,
        ram_phase=ram_top.name, ram_phases=ram_phases,
    )


def _lh(parts: list[Part]) -> tuple[float, float]:
    b = band(parts)
    return b.low, b.high


def _disk(x: Inputs, profile: Any, trainable: float | None) -> DiskPlan:
    parts = disk_parts(x, trainable)
    total = round(sum(p.gib for p in parts), 2)
    free = free_gib(x, profile)
    items = tuple(Item(p.name, round(p.gib, 3), p.why) for p in parts)
    return DiskPlan(items, total, free, None if free is None else total <= free)


def _unknown(x: Inputs, profile: Any, budget: float | None) -> Prediction:
    f = x.f
    why = (f.unknown if f is not None and f.unknown else
           f"'{x.arch_label}' is not in the model catalog" if f is None else
           "no activation trace and no traced model of the same layout")
    reason = f"no size facts for {x.arch_label}: {why}"
    if budget is None and f is not None:
        reason += f" (and no VRAM budget: {getattr(profile, 'gpu_reason', None) or 'no GPU in the profile'})"
    train = Breakdown((Item("base weights", 0.0, why),), 0.0)
    return Prediction(
        train=train, sample=None, peak_vram_gib=None, low_gib=None, high_gib=None, budget_gib=budget,
        verdict="unknown", verdict_reason=reason, step_seconds=None,
        step_seconds_reason=f"denoiser size unknown for {x.arch_label}", total_seconds=None,
        disk=_disk(x, profile, None), ram_peak_gib=None, assumptions=tuple(dict.fromkeys(x.notes)),
    )
