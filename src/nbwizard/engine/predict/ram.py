"""System RAM of a job: the load (what ai-toolkit holds in host memory while it loads and quantizes, per model class)
and the steady state of training (what it keeps there on purpose).

Load, per ``families`` in predict.json (aitk-facts §1.1): diffusers / safetensors loads materialise the bf16
denoiser on the CPU (2 B/param; Chroma builds an fp32 model beside its bf16 state dict: 6 B/param; the SD UNet
pipelines keep the checkpoint's fp32); paths that move the whole model to the GPU before quantizing free that RAM,
block-wise quantization leaves the quantized model on the CPU while the bf16 text encoder loads; Wan 2.2 14B loads
and quantizes its experts one at a time (both bf16 at once with an accuracy-recovery adapter). Training: a text
encoder moved to RAM by ``unload_text_encoder``, Wan 2.2's inactive expert with low_vram, layer-offloaded weights
in pinned memory (power-of-two blocks), latents cached in memory. Memory-mapped checkpoint pages are reclaimable
page cache and not counted.
"""

from __future__ import annotations

from . import _data as D
from ._data import GIB
from ._sizes import Part, Sizes


def _den_load(s: Sizes) -> tuple[list[Part], float]:
    """Parts of the denoiser's load phase, and what of it stays in RAM while the text encoder loads."""
    x, f = s.x, s.f
    fam = f.family
    p_all = f.den_params or 0.0
    q = s.den_bpp
    how = fam.get("den_quantize", "blockwise")
    whole_gpu = x.quantize and (how == "gpu_whole" or (how == "gpu_whole_unless_low_vram" and not x.low_vram))
    if f.experts > 1 and fam.get("experts_one_at_a_time"):
        pe = f.expert_params or 0.0
        if s.ara:
            where = "RAM" if x.low_vram else "the GPU"
            load = p_all * 2.0 if x.low_vram else pe * 2.0
            parts = [Part("denoiser experts (bf16)", load / GIB,
                          f"with an accuracy-recovery adapter both experts stay bf16 until quantize_model runs on "
                          f"the pair, in {where} (repo: wan22_14b_model.py l.360-363)")]
            return parts, (p_all * q if x.low_vram else 0.0) / GIB
        parked = pe * q if x.low_vram else 0.0
        parts = [Part("denoiser expert (bf16)", pe * 2.0 / GIB, "experts are loaded and quantized one at a time "
                                                               "(repo: wan22_14b_model.py l.290-346)")]
        if parked:
            parts.append(Part("first expert (quantized)", parked / GIB, "parked in RAM with low_vram"))
        return parts, (p_all * q if x.low_vram else 0.0) / GIB
    per_param = float(fam.get("load_ram_bytes_per_param", 2))
    if fam.get("unet_pipeline_fp32"):
        total = (p_all + f.te_params + f.vae_params) * per_param
        return [Part("pipeline (fp32 checkpoint)", total / GIB,
                     "UNet, text encoders and VAE load in the checkpoint's fp32 before the cast to the train dtype "
                     f"({fam['source'][:80]}...)")], 0.0
    why = ("bf16 state dict + the fp32 model built on the CPU" if per_param > 2 else "the bf16 denoiser on the CPU")
    parts = [Part("denoiser (load)", p_all * per_param / GIB, f"{why} ({fam.get('source', '')[:90]}...)")]
    if f.connector_bytes:
        parts.append(Part("text connectors (load)", f.connector_bytes / GIB, f"from the same file: {f.connector_why}"))
    if whole_gpu:
        stays = 0.0  # moved to the GPU before quantizing
    elif not x.quantize:
        stays = p_all * x.train_bytes if fam.get("den_parked_during_te") else 0.0
    else:
        stays = p_all * q if fam.get("den_parked_during_te") else 0.0
    return parts, stays / GIB


def load_parts(s: Sizes) -> list[Part]:
    """The larger of the denoiser's and the text encoder's load phases, plus the process baseline."""
    x, f = s.x, s.f
    fam = f.family
    base = Part("process baseline", D.const("ram", "baseline_gib"),
                "Python, torch, CUDA libraries and 2 dataloader workers (assumption)", "measured")
    den, stays = _den_load(s)
    if fam.get("unet_pipeline_fp32"):
        return [base] + den
    te_parts = [Part("text encoder (bf16, loading)", s.te_max_bf16_gib,
                     "materialised in bf16 on the CPU before it is moved / quantized")] if f.text_encoders else []
    if stays > 0 and not fam.get("te_first"):
        te_parts.append(Part("denoiser (on the CPU meanwhile)", stays,
                             "the (quantized) denoiser waits on the CPU while the text encoder loads"))
    if fam.get("te_first") and x.low_vram and fam.get("te_first_parks_with_low_vram"):
        den = den + [Part("text encoder (quantized, parked)", s.te_gib, "moved to the CPU with low_vram")]
    den_total = sum(p.gib for p in den)
    te_total = sum(p.gib for p in te_parts)
    return [base] + (den if den_total >= te_total else te_parts)


def steady_parts(s: Sizes) -> list[Part]:
    x, f = s.x, s.f
    parts = [Part("process baseline", D.const("ram", "baseline_gib"),
                  "Python, torch, CUDA libraries and 2 dataloader workers (assumption)", "measured")]
    if x.unload_te and not x.cache_te:
        parts.append(Part("text encoder (unloaded to RAM)", s.te_gib,
                          "unload_text_encoder without caching moves it to the CPU (repo: SDTrainer.py l.382)"))
    if f.experts > 1 and s.experts_resident < f.experts:
        parts.append(Part("inactive expert", (f.expert_params or 0.0) * s.den_bpp / GIB,
                          "low_vram keeps the other Wan 2.2 expert in RAM (repo: wan22_14b_model.py l.133-137)"))
    if x.offload_tr > 0:
        factor = s.pinned_factor()
        pinned = s.den_resident_params * x.offload_tr * s.den_bpp * factor / GIB
        parts.append(Part("offloaded layers (pinned)", pinned,
                          f"{x.offload_tr:.0%} of the denoiser's linears in pinned RAM, x{factor:.2f} for the "
                          "allocator's power-of-two blocks (ATen CachingHostAllocator)"))
    if x.offload_te > 0 and not (x.cache_te or x.unload_te):
        parts.append(Part("offloaded text encoder (pinned)", s.te_gib * x.offload_te * s.pinned_factor(),
                          f"{x.offload_te:.0%} of the text encoder's linears in pinned RAM"))
    if x.latents_in_ram and f.latent_ch:
        lat = sum(f.latent_ch * (r / f.vae_down) ** 2 for r in x.resolutions)
        lf = 1 + (x.frames - 1) // max(1, f.tdown) if x.frames > 1 else 1
        parts.append(Part("cached latents", x.images * lat * lf * 2.0 / GIB,
                          f"{x.images} items x {len(x.resolutions)} resolution(s) in the model dtype "
                          "(repo: dataloader_mixins.py l.2084)"))
    return parts
