"""GPU memory of a job, phase by phase, the way ai-toolkit runs it.

* **train**: resident weights (denoiser by qtype, accuracy-recovery adapter, text encoders unless cached or
  unloaded, VAE unless latents are cached or an edit model encodes controls each step, the modules ai-toolkit keeps
  beside the denoiser outside its quantization such as LTX-2's text connectors), the LoRA in fp32 with its
  gradients, optimizer states and EMA copy, the measured activation peak of one step (fake-tensor trace at the
  job's tokens and batch, ai-toolkit's fp32 LoRA input casts included), the bf16 weight copies a quantized backend
  keeps for backward, DOP/BPP's second graph, and the framework overhead.
* **load**: ai-toolkit's load path per model class (``families`` in predict.json): the whole bf16 denoiser on the
  GPU while it is quantized (legacy FLUX / SD3 without low_vram, Chroma, Kontext, Flex.2, Lumina2, Wan, HiDream),
  one block at a time (``quantize_model``), and the bf16 text encoder on the GPU while it is quantized.
* **prepare**: caching latents / text embeddings before the first step, with the text encoder and VAE on the GPU.

Each part says how well it is known (``exact`` byte counts, ``measured`` trace-based, ``proxy`` borrowed fit);
the band around a phase widens only the uncertain parts.
"""

from __future__ import annotations

from . import _data as D
from ._data import GIB
from ._sizes import Part, Sizes


def memory_tokens(x) -> float:
    """Sequence tokens at the largest training resolution (control tokens appended for edit models)."""
    a = x.f.activity
    return a.with_controls(a.tokens(x.res, x.res, x.frames), x.controls)


def _act_kind(x) -> str:
    if not x.f.activity.proxy:
        return "measured"
    return "proxy" if x.gc else "proxy_nogc"


def weights_parts(s: Sizes, *, te_on_gpu: bool, vae_on_gpu: bool, te_why: str, vae_why: str) -> list[Part]:
    """Frozen weights on the GPU: denoiser (minus offloaded layers), ARA, text encoders, VAE."""
    x = s.x
    parts = []
    if x.offload_tr > 0:
        on_gpu = s.den_gib * (1 - x.offload_tr)
        parts.append(Part("base weights", on_gpu, f"{s.den_why()}; {x.offload_tr:.0%} of the linears offloaded "
                                                  "to pinned RAM"))
        parts.append(Part("offload buffers", s.offload_ring_gib(),
                          "two rings of 4 dequantized linears in flight (repo: memory_management/"
                          "manager_modules.py PIPELINE_DEPTH)", "measured"))
    else:
        parts.append(Part("base weights", s.den_gib, s.den_why()))
    if s.ara:
        parts.append(Part("accuracy-recovery adapter", s.ara_gib(),
                          f"bf16 rank-{D.data()['ara']['rank']} LoRA over the denoiser (rank assumed)"))
    if te_on_gpu:
        offload_te = x.offload_te
        parts.append(Part("text encoders", s.te_gib * (1 - offload_te),
                          s.te_why() + (f", {offload_te:.0%} offloaded" if offload_te else "")))
    else:
        parts.append(Part("text encoders", 0.0, te_why))
    parts.append(Part("VAE", s.vae_gib if vae_on_gpu else 0.0, vae_why))
    if s.connector_gib:
        parts.append(Part("text connectors", s.connector_gib, s.f.connector_why))
    return parts


def _te_state(x) -> tuple[bool, str]:
    if x.cache_te:
        return False, "embeddings cached, encoder freed (repo: SDTrainer.hook_before_train_loop unload_text_encoder)"
    if x.unload_te:
        return False, "moved to RAM after encoding the trigger and sample prompts (repo: SDTrainer.py l.382)"
    return True, ""


def _vae_state(x) -> tuple[bool, str]:
    if x.controls:
        return True, "on the GPU: control images are VAE-encoded every step (never cached as latents)"
    if x.latents_cached:
        return False, "latents cached: the VAE leaves the GPU (repo: SDTrainer.py l.318)"
    return True, "resident to encode each batch (latents not cached)"


def overhead(act_gib: float) -> Part:
    ctx = D.const("memory", "cuda_context_gib")
    frag = D.const("memory", "fragmentation")
    return Part("framework overhead", ctx + frag * act_gib,
                f"CUDA context {ctx} GiB + caching-allocator fragmentation {frag:.0%} of the activation peak",
                "measured")


def train_parts(s: Sizes) -> list[Part]:
    x, f = s.x, s.f
    te_on, te_why = _te_state(x)
    vae_on, vae_why = _vae_state(x)
    parts = weights_parts(s, te_on_gpu=te_on, vae_on_gpu=vae_on, te_why=te_why, vae_why=vae_why)
    parts += s.adapter_parts()
    a = f.activity
    mode = "train_gc" if x.gc else "train_no_gc"
    n = memory_tokens(x)
    peak = a.bytes(mode, "peak", n, x.batch)
    act_factor = D.const("memory", "dora_activation_factor") if x.kind == "dora" else 1.0
    gc_text = "checkpointing on" if x.gc else "no checkpointing"
    where = f"{x.batch} x {n:,.0f} tokens, {gc_text}"
    if x.controls and a.proxy and (a.control or a.control_per):
        where += f" (incl. {x.controls} control image(s))"
    parts.append(Part("activations", peak * act_factor / GIB,
                      f"measured peak of one LoRA step at {where} ({a.source})", _act_kind(x)))
    if x.dop:
        saved = a.bytes(mode, "saved", n, x.batch)
        parts.append(Part("DOP/BPP second graph", saved * act_factor / GIB,
                          "the preservation pass keeps its own graph until the shared backward (repo: "
                          "SDTrainer.train_single_accumulation)", _act_kind(x)))
    extra = quant_backward_extra(s)
    if extra.gib > 0:
        parts.append(extra)
    act = sum(p.gib for p in parts if p.name in ("activations", "DOP/BPP second graph"))
    parts.append(overhead(act))
    if x.f.mode_errors.get(mode):
        x.notes.append(f"{f.arch}: ai-toolkit's model code fails in this mode ({mode}): {f.mode_errors[mode]}")
    return parts


def quant_backward_extra(s: Sizes) -> Part:
    """bf16 weight copies a quantized backend keeps for backward (torchao float8/int8, ai-toolkit uintN)."""
    x = s.x
    b = s.backend
    if b is None or (b.saved_extra <= 0 and b.peak_extra <= 0):
        return Part("quantized backward copies", 0.0, "")
    on_gpu = s.quant_params * (1 - x.offload_tr)  # streamed layers are re-fetched for backward, not saved
    transient = max(0.0, b.peak_extra - b.saved_extra) * s.largest_linear_params
    if x.gc:
        saved = b.saved_extra * min(on_gpu, s.f.block_params)
        why = (f"{b.qtype} keeps a bf16 copy of each weight for backward ({b.saved_extra:g} B/weight, measured): "
               "one block's worth during its recompute")
    else:
        saved = b.saved_extra * on_gpu * (2 if x.dop else 1)
        why = (f"{b.qtype} keeps a bf16 copy of each weight for backward ({b.saved_extra:g} B/weight, measured): "
               "without checkpointing, every quantized layer's")
    return Part("quantized backward copies", (saved + transient) / GIB, why)


def load_phases(s: Sizes) -> list[tuple[str, list[Part]]]:
    """VRAM while ai-toolkit loads and quantizes (only the phases that put something on the GPU)."""
    x, f = s.x, s.f
    fam = f.family
    ctx = Part("CUDA context", D.const("memory", "cuda_context_gib"), "driver, kernels, cuBLAS workspace",
               "measured")
    phases: list[tuple[str, list[Part]]] = []
    te_first = bool(fam.get("te_first"))
    te_q_resident = Part("text encoders (quantized)", s.te_gib, "quantized before the denoiser loads "
                                                                f"({fam.get('source', '')[:60]}...)")
    how = fam.get("den_quantize", "blockwise")
    whole = how == "gpu_whole" or (how == "gpu_whole_unless_low_vram" and not x.low_vram)
    if x.quantize and how != "none":
        parts: list[Part] = []
        if f.experts > 1 and fam.get("experts_one_at_a_time") and not s.ara:
            one = (f.expert_params or 0.0)
            if whole:
                parts.append(Part("denoiser (bf16 expert being quantized)", one * x.train_bytes / GIB,
                                  "experts are loaded and quantized one at a time (repo: wan22_14b_model.py "
                                  "load_wan_transformer l.290-346)"))
                parts.append(Part("denoiser (first expert, quantized)", one * s.den_bpp / GIB,
                                  "the first expert stays on the GPU without low_vram"))
            else:
                parts.append(Part("denoiser (one bf16 block)", s.block_gib_bf16, "block-wise quantization"))
        elif whole:
            total = (f.den_params or 0.0) * x.train_bytes / GIB
            parts.append(Part("denoiser (whole, bf16)", total,
                              "the whole bf16 denoiser is moved to the GPU and quantized there"
                              + (" (low_vram quantizes on the CPU instead)" if how == "gpu_whole_unless_low_vram"
                                 else " (low_vram does not change this path)")))
        else:
            parts.append(Part("denoiser (one bf16 block)", s.block_gib_bf16,
                              "block-wise: one bf16 block on the GPU at a time (repo: toolkit/util/quantize.py "
                              "quantize_model)"))
        if te_first and s.te_gib and not (x.low_vram and fam.get("te_first_parks_with_low_vram")):
            parts.append(te_q_resident)
        parts.append(ctx)
        phases.append(("load: quantizing the denoiser", parts))
    if x.quantize_te and s.te_backend is not None and fam.get("te_quantize") == "gpu" and f.text_encoders:
        parts = []
        # the legacy paths keep the (quantized) denoiser on the GPU while the text encoder loads
        den_on = not te_first and not fam.get("den_parked_during_te")
        if den_on:
            parts.append(Part("denoiser (quantized)" if x.quantize else "denoiser", s.den_gib,
                              "already on the GPU when the text encoder loads"))
        others = s.te_gib - s.te_max_bf16_gib * s.te_bpp / 2.0
        if fam.get("te_offload_before_gpu") and x.offload_te > 0:
            parts.append(Part("text encoder (bf16, being quantized)", s.te_max_bf16_gib * (1 - x.offload_te),
                              f"{x.offload_te:.0%} of its linears were attached to layer offloading before the "
                              f"move to the GPU and stay in RAM ({fam.get('te_offload_source', '')})"))
        else:
            parts.append(Part("text encoder (bf16, being quantized)", s.te_max_bf16_gib,
                              "moved to the GPU in bf16, then quantized there"))
        if others > 0.01:
            parts.append(Part("other text encoders (quantized)", others, "quantized earlier"))
        parts.append(ctx)
        phases.append(("load: quantizing the text encoder", parts))
    return phases


def prepare_parts(s: Sizes) -> list[Part]:
    """Caching latents / text embeddings before the first step: text encoder and VAE on the GPU."""
    x, f = s.x, s.f
    parked = x.low_vram and f.family.get("den_parked_during_te", False)
    parts = []
    if not parked:
        den = s.den_gib * (1 - x.offload_tr)
        parts.append(Part("base weights", den, s.den_why()))
    if s.ara:
        parts.append(Part("accuracy-recovery adapter", s.ara_gib(), "loaded with the denoiser"))
    parts.append(Part("text encoders", s.te_gib, s.te_why() + ": encodes the captions and sample prompts"))
    parts.append(Part("VAE", s.vae_gib, "encodes the dataset into latents"))
    if x.latents_cached:
        frames = min(x.frames, int(D.const("memory", "vae_decode_frames_at_once"))) if x.frames > 1 else 1
        enc = (x.res * x.res * frames * D.const("memory", "vae_decode_bytes_per_pixel")
               * D.const("memory", "vae_encode_share_of_decode"))
        parts.append(Part("VAE encode working set", enc / GIB, f"one {x.res}x{x.res} image per encode",
                          "measured"))
    parts.append(Part("CUDA context", D.const("memory", "cuda_context_gib"), "driver, kernels, cuBLAS workspace",
                      "measured"))
    return parts
