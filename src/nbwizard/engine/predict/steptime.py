"""Step time, preview time and total time of a job on a catalog GPU.

    step = traced FLOPs x passes / (peak x efficiency of the card's class)
         + dequantization bytes per pass / (memory bandwidth x share)  + per-call dispatch of quantized linears
         + offloaded bytes x traversals / pinned PCIe bandwidth
         + eager dispatch per block per pass (+ checkpoint bookkeeping) + a fixed cost per step
         + Wan 2.2 low_vram expert swaps amortised over switch_boundary_every

FLOPs come from the trace fits (forward, and backward with the GC recompute included), never from parameters x
tokens. Passes follow ai-toolkit: backward through frozen weights computes input gradients only; gradient
checkpointing re-runs each block's forward; DOP / BPP add a no-grad prior forward and a second forward + backward
(aitk-facts §2: 7F vs 3F without GC, 9F vs 4F with). The constants and the calibration rows that pin them are in
predict.json ``time``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _data as D
from ._sizes import Sizes
from .sampling import cfg_factor, sample_tokens

# Caching cost per image: VAE encode (~4 forward passes of a ~84 M conv net at 1 Mpx) and one text-encoder pass,
# at 100 TFLOPS (scaled by the card's peak).
LATENT_CACHE_S_PER_MPX_AT_100TF = 0.15
TEXT_CACHE_S_PER_CAPTION = 0.05


@dataclass(frozen=True)
class Cost:
    """One term of the step time: seconds per optimizer step and a one-line why."""

    name: str
    seconds: float
    why: str


def _throughput(x, gpu: Any) -> tuple[float, str]:
    eff, _ = D.efficiency(getattr(gpu, "segment", "consumer"))
    peak = float(gpu.bf16_tflops) * 1e12
    why = f"{eff:.0%} of {gpu.bf16_tflops:g} TFLOPS (the {gpu.segment} class's efficiency, data/predict.json)"
    if (not gpu.bf16 and not x.fp16) or x.train_bytes == 4:
        factor = D.time_const("no_bf16_factor")
        peak *= factor
        why += f" x {factor:g}: {'fp32' if x.train_bytes == 4 else 'bf16'} matmuls without tensor cores"
    return peak * eff, why


def passes(x) -> dict[str, int]:
    """Traversals of the denoiser per micro-step: forwards with weights, backwards, LoRA module calls."""
    fwd = 2 if x.gc else 1  # GC recomputes each block's forward
    graded = fwd + 1
    if x.dop:
        return {"forward": 1 + 2 * fwd, "backward": 2, "traversals": 1 + 2 * graded}
    return {"forward": fwd, "backward": 1, "traversals": graded}


def step_flops(s: Sizes, n: float) -> float:
    x, a = s.x, s.f.activity
    mode = "train_gc" if x.gc else "train_no_gc"
    fwd = a.flops(mode, "fwd_flops", n, x.batch)
    bwd = a.flops(mode, "bwd_flops", n, x.batch)  # with GC: includes the recompute
    if x.full:
        bwd += fwd * D.time_const("full_finetune_extra_forward")  # weight gradients
    return fwd + 2 * (fwd + bwd) if x.dop else fwd + bwd


def step_costs(s: Sizes, gpu: Any) -> tuple[list[Cost], str] | None:
    """Seconds per optimizer step, term by term, or None when the card's throughput is unknown."""
    x, f = s.x, s.f
    if gpu is None or not getattr(gpu, "bf16_tflops", None):
        return None
    rate, rate_why = _throughput(x, gpu)
    a = f.activity
    toks = [a.with_controls(a.tokens(r, r, x.frames), x.controls) for r in x.resolutions]
    flops = sum(step_flops(s, n) for n in toks) / len(toks)
    ga = x.grad_accum
    p = passes(x)
    costs = [Cost("compute", flops / rate * ga,
                  f"{flops / 1e12:,.0f} TFLOP per micro-step at {rate_why}"
                  + (f" (mean over {len(toks)} resolutions)" if len(toks) > 1 else ""))]
    modules = f.lora_modules * s.experts_resident / max(f.experts, 1)
    b = s.backend
    if b is not None and b.dequant_passes != "none":
        on_gpu = s.quant_params * (1 - x.offload_tr)
        per = p["traversals"] if b.dequant_passes == "all" else p["forward"]
        bw = (gpu.bandwidth_gbs or 500.0) * 1e9 * D.time_const("dequant_bandwidth_share")
        t = on_gpu * (b.bytes_per_weight + 2.0) * per / bw + modules * per * D.time_const("dequant_call_s")
        costs.append(Cost("dequantization", t * ga,
                          f"{b.qtype} dequantizes {on_gpu / 1e9:.1f} B weights {per}x per micro-step "
                          f"({b.bytes_per_weight + 2:.2f} B moved per weight)"))
    if x.offload_tr > 0:
        pcie, gen = D.pcie_gbs(getattr(gpu, "architecture", ""))
        streamed = s.den_resident_params * x.offload_tr * s.den_bpp
        t = streamed * p["traversals"] / (pcie * 1e9)
        costs.append(Cost("layer offloading", t * ga,
                          f"{streamed / 1e9:.1f} GB streamed {p['traversals']}x per micro-step (forward"
                          f"{', recompute' if x.gc else ''}, backward{', DOP passes' if x.dop else ''}) at "
                          f"{pcie:g} GB/s pinned PCIe {gen}.0"))
    blocks = f.blocks
    passes_s = blocks * p["traversals"] * D.time_const("block_pass_s")
    checkpoint = blocks * (p["backward"] if x.gc else 0) * D.time_const("gc_block_s")
    costs.append(Cost("dispatch", (passes_s + checkpoint) * ga + D.time_const("step_fixed_s"),
                      f"eager dispatch of {blocks:g} blocks x {p['traversals']} passes"
                      + (" + checkpoint bookkeeping" if x.gc else "") + " + optimizer step and data loading"))
    if f.experts > 1 and x.low_vram and s.experts_resident < f.experts:
        pcie, _ = D.pcie_gbs(getattr(gpu, "architecture", ""))
        bw = pcie * D.time_const("pageable_share") * 1e9
        expert = (f.expert_params or 0.0) * s.den_bpp
        t = 2 * expert / bw / max(1, x.switch_every)
        costs.append(Cost("expert swap", t,
                          f"low_vram swaps the {expert / 1e9:.1f} GB experts GPU<->RAM (synchronous, pageable) "
                          f"every {x.switch_every} step(s) (repo: wan22_14b_model.py l.133-137)"))
    return costs, rate_why


def preview_seconds(s: Sizes, gpu: Any) -> float | None:
    """Seconds for one preview image (all its denoising steps)."""
    x, f = s.x, s.f
    a = f.activity
    if gpu is None or not getattr(gpu, "bf16_tflops", None) or not a.has("preview", "fwd_flops"):
        return None
    rate, _ = _throughput(x, gpu)
    batch, forwards, _ = cfg_factor(x)
    n = sample_tokens(x)
    fwd = a.flops("preview", "fwd_flops", n, batch) / rate
    b = s.backend
    if b is not None and b.dequant_passes != "none":
        bw = (gpu.bandwidth_gbs or 500.0) * 1e9 * D.time_const("dequant_bandwidth_share")
        fwd += s.quant_params * (1 - x.offload_tr) * (b.bytes_per_weight + 2.0) / bw
    if x.offload_tr > 0:
        pcie, _ = D.pcie_gbs(getattr(gpu, "architecture", ""))
        fwd += s.den_resident_params * x.offload_tr * s.den_bpp / (pcie * 1e9)
    fwd += f.blocks * D.time_const("block_pass_s")
    return x.sample_steps * forwards * fwd


def total_seconds(s: Sizes, step: float | None, gpu: Any) -> float | None:
    x = s.x
    tflops = getattr(gpu, "bf16_tflops", None)
    if step is None or not tflops:
        return None
    total = x.steps * step
    mpx = x.res * x.res / 1e6 * max(1, x.frames)
    scale = 100.0 / tflops
    if x.latents_cached:
        total += x.images * mpx * LATENT_CACHE_S_PER_MPX_AT_100TF * scale * max(1, len(x.resolutions))
    if x.cache_te:
        total += x.images * TEXT_CACHE_S_PER_CAPTION * scale
    if x.sampling:
        one = preview_seconds(s, gpu)
        if one is not None:
            total += x.sample_events * x.prompts * one
    return round(total, 1)
