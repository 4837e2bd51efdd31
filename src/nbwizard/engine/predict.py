"""Predict a job's peak VRAM, fit verdict, step and total time, disk and system RAM before it is launched.

``predict(job, profile, dataset=None) -> Prediction``. Pure: no widgets, no formatting beyond short reasons.
The physics and its constants live in ``_predict_memory`` (VRAM, RAM) and ``_predict_time`` (time, disk); each
constant names the calibration rows it was fitted on. Unknown sizes lower confidence (a wider band and a reason),
never raise and are never invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _predict_memory as M
from . import _predict_time as T
from ._predict_memory import Inputs, read_inputs

__all__ = ["Item", "Breakdown", "DiskPlan", "Prediction", "predict", "FITS_MARGIN", "DEFAULT_IMAGE_COUNT"]

# "fits" needs the high end of the band to stay under the budget; between the estimate and the high end: tight.
FITS_MARGIN = 0.0
# Relative band around the estimate when every size is known: ±20 % holds ~77 % of the scored calibration rows
# (bench_predict.py), and the trainers there differ by several GiB for "the same" job. At 0.15 the unsloth FLUX
# fp8 row 150 (23.1 GiB measured, 13.5 predicted) would read "fits" on a 16 GB card; at 0.20 it reads "tight".
BASE_UNCERTAINTY = 0.20
# Added for each fact that fell back to a documented assumption (hidden size / blocks, VAE or TE size...).
FALLBACK_UNCERTAINTY = 0.10
DEFAULT_IMAGE_COUNT = M.DEFAULT_IMAGE_COUNT  # assumed when no dataset is given
GIB = M.GIB


@dataclass(frozen=True)
class Item:
    """One component of a breakdown: GiB and a one-line why."""

    name: str
    gib: float
    why: str


@dataclass(frozen=True)
class Breakdown:
    """Components and their sum (GiB)."""

    items: tuple[Item, ...]
    total_gib: float

    def get(self, name: str) -> float:
        """GiB of the component called ``name`` (0.0 when absent)."""
        return sum(i.gib for i in self.items if i.name == name)


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


def predict(job: Any, profile: Any, dataset: Any = None) -> Prediction:
    """Predict memory, time and disk for ``job`` on ``profile``'s (target) GPU.

    Args:
        job: an :class:`nbwizard.engine.job.Job`.
        profile: a :class:`nbwizard.engine.profile.SystemProfile` (a detected one or ``SystemProfile.for_gpu``).
        dataset: optional object with ``image_count`` (or ``images`` / ``videos``); else 20 images are assumed.

    Returns:
        A frozen :class:`Prediction`. Never raises for odd settings: what cannot be known is None plus a reason.
    """
    x = read_inputs(job, dataset)
    notes = list(x.notes)
    train = _train_breakdown(x) if x.denoiser_b is not None else _unknown_breakdown(x)
    sample = _sample_breakdown(x) if x.denoiser_b is not None and x.sampling else None
    budget = getattr(profile, "vram_budget_gib", None)
    spec = getattr(profile, "gpu_spec", None)
    if x.denoiser_b is None:
        peak = low = high = None
    else:
        peak = max(train.total_gib, sample.total_gib if sample else 0.0)
        rel = BASE_UNCERTAINTY + FALLBACK_UNCERTAINTY * x.fallbacks
        low, high = round(peak * (1 - rel), 2), round(peak * (1 + rel), 2)
        peak = round(peak, 2)
    verdict, reason = _verdict(x, peak, high, budget, train, sample, profile)
    step, step_reason = _step_seconds(x, spec)
    total = _total_seconds(x, step, spec)
    disk = _disk(x, profile)
    return Prediction(
        train=train, sample=sample, peak_vram_gib=peak, low_gib=low, high_gib=high, budget_gib=budget,
        verdict=verdict, verdict_reason=reason, step_seconds=step, step_seconds_reason=step_reason,
        total_seconds=total, disk=disk, ram_peak_gib=_ram_peak(x), assumptions=tuple(dict.fromkeys(notes)),
    )


# ---- memory -----------------------------------------------------------------------------------------------------
def _bd(parts: list[M.Part]) -> Breakdown:
    items = tuple(Item(p.name, round(p.gib, 3), p.why) for p in parts if p.gib > 0 or p.name == "base weights")
    return Breakdown(items, round(sum(p.gib for p in parts), 2))


def _unknown_breakdown(x: Inputs) -> Breakdown:
    return _bd([M.Part("base weights", 0.0, x.denoiser_unknown or "denoiser size unknown")])


def _weights(x: Inputs) -> list[M.Part]:
    """Frozen weights on the GPU during training: denoiser, text encoders, VAE."""
    parts = []
    dw = x.denoiser_b * 1e9 * x.denoiser_bytes / GIB
    if x.offload_tr > 0:
        in_flight = min(1.0, M.OFFLOAD_BLOCKS_IN_FLIGHT / x.blocks)
        on_gpu = dw * max(1 - x.offload_tr, in_flight)
        parts.append(M.Part("base weights", on_gpu, f"{x.denoiser_why}; {x.offload_tr:.0%} of layers offloaded to "
                                                   f"RAM (~{M.OFFLOAD_BLOCKS_IN_FLIGHT} blocks in flight)"))
    else:
        parts.append(M.Part("base weights", dw, x.denoiser_why))
    if x.ara_gib:
        parts.append(M.Part("accuracy-recovery adapter", x.ara_gib, f"bf16 rank-{M.ARA_RANK} LoRA-sized (assumed)"))
    parts.append(M.Part("text encoders", x.te_gib_gpu, x.te_why))
    parts.append(M.Part("VAE", x.vae_gib_gpu, x.vae_why))
    return parts


def _adapter_parts(x: Inputs) -> list[M.Part]:
    n = x.trainable
    p_bytes, g_bytes = (x.train_bytes, x.train_bytes) if x.full else (4.0, 4.0)
    parts = [
        M.Part("trainable parameters", n * p_bytes / GIB, f"{n / 1e6:,.0f} M params ({x.trainable_why}), "
                                                          f"{'train dtype' if x.full else 'fp32'}"),
        M.Part("gradients", n * g_bytes / GIB, "one gradient per trainable parameter"),
        M.Part("optimizer states", n * x.opt_bytes / GIB, f"{x.optimizer}: {x.opt_why}"),
    ]
    if x.ema:
        parts.append(M.Part("EMA", n * p_bytes / GIB, "a second copy of the trainable parameters"))
    return parts


def _act_bytes_unit(x: Inputs, tokens: float) -> float:
    return tokens * x.hidden * 2.0


def _train_breakdown(x: Inputs) -> Breakdown:
    parts = _weights(x) + _adapter_parts(x)
    units = M.activation_units(x.gc, x.blocks)
    act = x.batch * _act_bytes_unit(x, x.tokens) * units * x.act_factor * x.act_shape_scale / GIB
    gc_text = "with gradient checkpointing" if x.gc else "no gradient checkpointing"
    parts.append(M.Part("activations", act, f"{x.batch} x {x.tokens:,.0f} tokens x hidden {x.hidden:g} x "
                                            f"{x.blocks:g} blocks, {gc_text}"))
    if x.extra_forwards:
        extra = x.batch * _act_bytes_unit(x, x.tokens) * M.INFER_UNITS / GIB
        parts.append(M.Part("DOP/BPP passes", extra, f"{x.extra_forwards} extra no-grad forward(s): their working "
                                                     "set and stored targets"))
    return _with_overhead(parts)


def _with_overhead(parts: list[M.Part]) -> Breakdown:
    sub = sum(p.gib for p in parts)
    parts.append(M.Part("framework overhead", M.CUDA_CONTEXT_GIB + M.FRAGMENTATION * sub,
                        f"CUDA context {M.CUDA_CONTEXT_GIB} GiB + allocator fragmentation {M.FRAGMENTATION:.0%}"))
    return _bd(parts)


def _sample_breakdown(x: Inputs) -> Breakdown:
    parts = [p for p in _weights(x) if p.name != "VAE" and p.name != "text encoders"]
    parts.append(M.Part("text encoders", x.te_gib_sample, x.te_sample_why))
    parts.append(M.Part("VAE", x.vae_gib_all, "loaded for decoding previews"))
    parts += [p for p in _adapter_parts(x) if p.name != "gradients"]
    cfg = 2 if x.cfg_doubles else 1
    act = cfg * _act_bytes_unit(x, x.sample_tokens) * M.INFER_UNITS / GIB
    parts.append(M.Part("activations", act, f"no-grad forward at {x.sample_w}x{x.sample_h}"
                        f"{f' x {x.sample_frames} frames' if x.sample_frames > 1 else ''}"
                        f"{', batch doubled by guidance' if cfg == 2 else ''}"))
    frames = min(x.sample_frames, M.VAE_DECODE_FRAMES_AT_ONCE)
    parts.append(M.Part("VAE decode", x.sample_w * x.sample_h * frames * M.VAE_DECODE_BYTES_PER_PIXEL / GIB,
                        "decoder working memory for one preview"))
    return _with_overhead(parts)


def _verdict(x: Inputs, peak, high, budget, train, sample, profile) -> tuple[str, str]:
    if peak is None:
        return "unknown", f"no size facts for {x.arch_label}: {x.denoiser_unknown}"
    if budget is None:
        why = getattr(profile, "gpu_reason", None) or "no GPU in the profile"
        return "unknown", f"no VRAM budget to compare with ({why}); predicted peak {peak:.1f} GiB"
    which = "sampling" if sample is not None and sample.total_gib > train.total_gib else "training"
    if peak > budget:
        return "does_not_fit", (f"{which} peak {peak:.1f} GiB exceeds the {budget:.1f} GiB budget by "
                                f"{peak - budget:.1f} GiB")
    if high * (1 + FITS_MARGIN) > budget:
        return "tight", (f"{which} peak {peak:.1f} GiB is under the {budget:.1f} GiB budget, but the upper "
                         f"estimate {high:.1f} GiB is not")
    return "fits", f"{which} peak {peak:.1f} GiB (up to {high:.1f}) leaves {budget - high:.1f} GiB of {budget:.1f}"


def _ram_peak(x: Inputs) -> float | None:
    if x.denoiser_b is None:
        return None
    full = x.denoiser_b * 1e9 * 2.0 / GIB  # the bf16 checkpoint passes through RAM on load
    dw = x.denoiser_b * 1e9 * x.denoiser_bytes / GIB
    load = full + (dw if x.quantize else 0.0)  # quantizing holds the source and the quantized copy
    resident = dw * x.offload_tr + x.te_gib_ram + x.latents_ram_gib
    return round(M.RAM_BASELINE_GIB + max(load, resident + (full if x.low_vram and x.quantize else 0.0)), 2)


# ---- time and disk -------------------------------------------------------------------------------------------
def _step_seconds(x: Inputs, spec: Any) -> tuple[float | None, str]:
    if x.denoiser_b is None:
        return None, f"denoiser size unknown for {x.arch_label}"
    tflops = getattr(spec, "bf16_tflops", None)
    if not tflops:
        return None, "the GPU's bf16 throughput is unknown (no catalog card in the profile)"
    fwd = T.forward_flops(x.denoiser_b, x.mean_tokens, x.hidden, x.blocks) * x.batch
    flops = fwd * T.train_pass_multiplier(x.full, x.gc, x.extra_forwards)
    compute = flops / (tflops * 1e12 * T.MFU) * (T.QUANT_SLOWDOWN if x.quantize else 1.0)
    offload = 2.0 * x.denoiser_b * 1e9 * x.denoiser_bytes * x.offload_tr / (T.PCIE_GBS * 1e9)
    per_micro = compute + offload + T.STEP_OVERHEAD_S
    mix = f" (mean over {len(x.resolutions)} resolutions)" if len(x.resolutions) > 1 else ""
    return round(per_micro * x.grad_accum, 3), (f"{flops / 1e12:,.0f} TFLOP per micro-step{mix} at {T.MFU:.0%} of "
                                                f"{tflops:g} TFLOPS")


def _total_seconds(x: Inputs, step: float | None, spec: Any) -> float | None:
    tflops = getattr(spec, "bf16_tflops", None)
    if step is None or not tflops:
        return None
    total = x.steps * step
    mpx = x.res * x.res / 1e6 * max(1, x.frames)
    scale = 100.0 / tflops
    if x.latents_cached:
        total += x.images * mpx * T.LATENT_CACHE_S_PER_MPX_AT_100TF * scale * max(1, len(x.resolutions))
    if x.cache_te:
        total += x.images * T.TEXT_CACHE_S_PER_CAPTION * scale
    if x.sampling:
        fwd = T.forward_flops(x.denoiser_b, x.sample_tokens, x.hidden, x.blocks) * (2 if x.cfg_doubles else 1)
        one = x.sample_steps * fwd / (tflops * 1e12 * T.MFU) * (T.QUANT_SLOWDOWN if x.quantize else 1.0)
        total += x.sample_events * x.prompts * one
    return round(total, 1)


def _disk(x: Inputs, profile: Any) -> DiskPlan:
    parts: list[M.Part] = []
    if x.latent_ch and x.vae_down and x.latents_to_disk:
        lat = sum(x.latent_ch * (r / x.vae_down) ** 2 * x.latent_frames for r in x.resolutions)
        parts.append(M.Part("latent cache", x.images * lat * T.LATENT_BYTES_PER_ELEMENT / GIB,
                            f"{x.images} images x {len(x.resolutions)} resolution(s), fp16 latents"))
    if x.cache_te:
        parts.append(M.Part("text-embedding cache", x.images * T.TEXT_EMBEDDING_BYTES / GIB,
                            f"{x.images} captions x ~4 MiB (T5-XXL-sized embedding, assumed)"))
    if x.denoiser_b is not None:
        ckpt = x.trainable * x.save_bytes / GIB
        parts.append(M.Part("checkpoints", ckpt * (x.max_saves + 1), f"{x.max_saves} kept + the final save, "
                                                                    f"{ckpt * 1024:,.0f} MiB each"))
    if x.sampling:
        each = T.SAMPLE_VIDEO_BYTES_PER_FRAME * x.sample_frames if x.sample_frames > 1 else T.SAMPLE_IMAGE_BYTES
        parts.append(M.Part("samples", x.sample_events * x.prompts * each / GIB,
                            f"{x.sample_events} sampling rounds x {x.prompts} prompt(s)"))
    total = round(sum(p.gib for p in parts), 2)
    free = None
    storage_for = getattr(profile, "storage_for", None)
    if storage_for is not None:
        info = (storage_for(x.training_folder) if x.training_folder else None) or storage_for(".")
        free = getattr(info, "free_gib", None)
    items = tuple(Item(p.name, round(p.gib, 3), p.why) for p in parts)
    return DiskPlan(items, total, free, None if free is None else total <= free)

