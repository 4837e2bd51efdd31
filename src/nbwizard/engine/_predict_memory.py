"""VRAM and system-RAM physics for :mod:`nbwizard.engine.predict` (private; GiB everywhere).

Every constant says where it comes from. "Fitted" constants were chosen by ``benchmarks/bench_predict.py --fit``
on ``reference/vram-calibration.csv`` (grid search minimising the median absolute % error of peak VRAM); the rows
that pin each one are named next to it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

GIB = float(1 << 30)

# ---- constants ----------------------------------------------------------------------------------------------
# LoRA parameters per denoiser parameter, per unit of rank / hidden size. Counted on the FLUX.1 layout with every
# linear of every block targeted (ai-toolkit's default): 19 double blocks x 50·h·r + 38 single blocks x 21·h·r
# = 1748·h·r = 86 M params at rank 16 (a 172 MB bf16 file, which is what ai-toolkit's flux rank-16 LoRAs weigh),
# against 1254·h² = 11.8 B denoiser params  -> 1748 / 1254 = 1.39. Wan 2.1 gives 1.75 (larger FFN share).
LORA_PER_PARAM_RANK_OVER_H = 1.4
# When the hidden size is unknown: a transformer whose blocks hold ~20·h² params each and ~60 blocks
# (FLUX.1: 22·h² over 57 blocks), so h ≈ sqrt(P / 1200). Gives 3162 for FLUX (true 3072), 847 for SD 1.5's UNet.
FALLBACK_H_PARAMS_DIVISOR = 1200.0
FALLBACK_BLOCK_PARAMS_PER_H2 = 20.0
# Parameters that stay bf16 when a denoiser is quantized (norms, embeddings, final/modulation layers that
# optimum-quanto / torchao exclude). FLUX.1: ~0.3 B of 12 B are outside the block linears -> 3 %.
QUANT_UNQUANTIZED_FRACTION = 0.03
# Group scales of sub-8-bit formats: one bf16 scale per 32 weights = 0.5 bit/weight (torchao uintN, group 32).
SUB8BIT_SCALE_BITS = 0.5
# Accuracy-recovery adapter (``uintN|<file>``): its size is not in the catalog; counted as a bf16 rank-32 LoRA
# over the denoiser (assumption, stated in the prediction).
ARA_RANK = 32
# Tokens of the text sequence joined to the image tokens (MMDiT) or cross-attended to. Flux pads T5 to 512,
# Qwen / Z-Image use the caption length; 256 is the middle of that range (assumption, stated).
TEXT_TOKENS = 256
# Activation bytes saved per token per block, in units of hidden_size x 2 bytes (bf16), without checkpointing.
# Fitted (24) with --fit on all scored rows; pinned mostly by the GC-off rows 17, 23, 26, 30, 34 (Qwen-Image
# int8 1024² row 23 alone gives ~29, Wan 1.3B 81 frames row 34 ~25). Below the 34 of a fully trained
# transformer (Korthikanti et al. 2022): frozen linears keep no inputs for a weight gradient.
ACT_UNITS_PER_BLOCK = 24.0
# With gradient checkpointing: what stays saved per block (its input plus LoRA-path inputs), same units.
# Fitted (0.5: the bf16 block input is ~1 unit, but SimpleTuner's per-block checkpointing frees part of it) on
# the GC-on rows 14, 24, 31, 36, 39 of the CSV with --fit; the median moves < 1 % between 0.5 and 1.5. One block's full activations
# (ACT_UNITS_PER_BLOCK) are added on top while it is recomputed.
CKPT_UNITS_PER_BLOCK = 0.5
# When hidden size / block count are unknown (the SD 1.5 / SDXL UNets), the fallback transformer shape
# over-counts: a UNet spends most of its tokens at its narrow, high-resolution levels. Fitted (0.25) on rows 3, 4,
# 5, 8 (SD 1.5 / SDXL, GC on and off).
FALLBACK_ACT_SCALE = 0.25
# No-grad forward (sampling, DOP/BPP prior passes): only about one block's working set is alive at once; x2 for
# the attention/FFN intermediates of that block. Same units as above.
INFER_UNITS = 2.0 * ACT_UNITS_PER_BLOCK
# VAE decode working memory per output pixel (bf16): the decoder's last stages run 128 channels at full size,
# 256 bytes/pixel per tensor with ~5 alive (conv in/out, group-norm, skip) -> ~1.25 GiB per megapixel.
VAE_DECODE_BYTES_PER_PIXEL = 1.25 * GIB / (1024 * 1024)
# Video VAEs decode in temporal chunks: the working set is about this many frames at once.
VAE_DECODE_FRAMES_AT_ONCE = 4
# CUDA context + cuBLAS/cuDNN workspaces as nvidia-smi shows them (~0.5 GiB on Ada/Hopper drivers).
CUDA_CONTEXT_GIB = 0.5
# Caching-allocator fragmentation and reserved-but-unused blocks, as a share of everything else.
# Fitted (0.02) together with the two activation constants (all scored rows; most counters there are torch's
# peak allocated, which leaves fragmentation out, so this is a floor).
FRAGMENTATION = 0.02
# When layer offloading is on, about two blocks' weights are on the GPU at once in transit (RamTorch-style).
OFFLOAD_BLOCKS_IN_FLIGHT = 2
# Host RAM of the Python process with torch, CUDA libs and the dataloader before any model is loaded.
RAM_BASELINE_GIB = 3.0

# optimizer name -> (bytes of state per trainable param, what it keeps)
OPTIMIZER_STATE_BYTES = {
    "adamw": (8.0, "2 fp32 states (exp_avg, exp_avg_sq)"), "adam": (8.0, "2 fp32 states"),
    "adamw8bit": (2.0, "2 8-bit states"), "adam8bit": (2.0, "2 8-bit states"),
    "adamw8": (2.0, "2 8-bit states"), "adam8": (2.0, "2 8-bit states"),
    "ademamix8bit": (3.0, "3 8-bit states"), "lion": (4.0, "1 fp32 state"), "lion8bit": (1.0, "1 8-bit state"),
    "adagrad": (4.0, "1 fp32 state"), "adafactor": (0.5, "factored second moment (row/column stats)"),
    "automagic": (2.0, "bf16 factored state + lr mask (ai-toolkit Automagic)"),
    "automagic2": (2.0, "bf16 state (ai-toolkit Automagic)"), "automagic3": (2.0, "bf16 state"),
    "automagicexperiment": (2.0, "bf16 state"),
    "prodigy": (16.0, "4 fp32 states (exp_avg, exp_avg_sq, s, p0)"), "prodigyopt": (16.0, "4 fp32 states"),
    "prodigy8bit": (5.0, "8-bit moments + fp32 s/p0 partly"),
    "dadaptation": (12.0, "3 fp32 states"), "dadaptationadam": (8.0, "builds DAdaptLion: ~2 fp32 states"),
    "dadaptationlion": (8.0, "2 fp32 states"),
}
UNKNOWN_OPTIMIZER_BYTES = 8.0  # assume AdamW-like when the name is not known


def qtype_bits(qtype: str) -> float | None:
    """Bits per weight of a quantization type name (``uint4|ara-file`` reads as ``uint4``); None if unknown."""
    q = (qtype or "").split("|", 1)[0].strip().lower()
    if q in ("qfloat8", "qfloat8_e4m3fn", "qfloat8_e5m2", "float8", "fp8", "qint8", "int8", "e4m3fn", "8bit"):
        return 8.0
    if q == "nvfp4":
        return 4.5  # fp4 + one fp8 scale per 16 weights
    if q == "convrotbitnet":
        return 1.58 + SUB8BIT_SCALE_BITS
    if q == "convrotcomfyw4a4":
        return 4.0 + SUB8BIT_SCALE_BITS
    for prefix in ("qint", "uint", "convrotint", "convrot", "orbitvq", "orbit"):
        if q.startswith(prefix) and q[len(prefix):].isdigit():
            bits = float(q[len(prefix):])
            return bits if bits >= 8 else bits + SUB8BIT_SCALE_BITS
    return None


def quantized_bytes_per_param(bits: float) -> float:
    """Average bytes per param of a quantized component (the unquantized remainder stays bf16)."""
    return (1 - QUANT_UNQUANTIZED_FRACTION) * bits / 8 + QUANT_UNQUANTIZED_FRACTION * 2.0


def hidden_and_blocks(params_b: float, hidden: float | None, blocks: float | None) -> tuple[float, float, bool]:
    """Hidden size and block count, falling back to the documented transformer shape; flag if a fallback was used."""
    p = params_b * 1e9
    fell_back = hidden is None or blocks is None
    h = hidden if hidden else min(6144.0, max(768.0, math.sqrt(p / FALLBACK_H_PARAMS_DIVISOR)))
    n = blocks if blocks else max(1.0, p / (FALLBACK_BLOCK_PARAMS_PER_H2 * h * h))
    return float(h), float(n), fell_back


def trainable_params(kind: str, rank: int, conv: int | None, lokr_factor: int, lokr_full_rank: bool,
                     denoiser_params_b: float, h: float) -> tuple[float, str]:
    """Trainable parameters (count) of the adapter and how they were counted."""
    p = denoiser_params_b * 1e9
    kind = (kind or "lora").lower()
    if kind in ("fullrank", "full"):
        return p, "every denoiser parameter (full fine-tune)"
    lora = LORA_PER_PARAM_RANK_OVER_H * rank * p / h
    if kind == "lokr":
        f = lokr_factor if lokr_factor and lokr_factor > 0 else max(4.0, math.sqrt(h))
        if lokr_full_rank:
            return p / (f * f), f"LoKr full-rank factors: denoiser params / factor² (factor {f:g})"
        return lora / f, f"LoKr with decomposed factors: rank-{rank} LoRA size / factor {f:g}"
    extra = ""
    if kind in ("locon", "lycoris") and conv:
        lora *= 1 + 0.1 * conv / max(rank, 1)  # conv layers are ~10 % of the targeted weights in UNets
        extra = f" + conv rank {conv}"
    if kind == "dora":
        lora *= 1.02  # + one magnitude vector per targeted layer
        extra = " + DoRA magnitudes"
    return lora, (f"rank {rank} on every block linear: {LORA_PER_PARAM_RANK_OVER_H} x rank / hidden {h:g} "
                  f"x denoiser params{extra}")


def activation_units(gc: bool, blocks: float) -> float:
    """Saved activation units (token x hidden x 2 bytes) for the whole denoiser during one training step."""
    if gc:
        return CKPT_UNITS_PER_BLOCK * blocks + ACT_UNITS_PER_BLOCK
    return ACT_UNITS_PER_BLOCK * blocks


def optimizer_bytes(name: str) -> tuple[float, str, bool]:
    key = (name or "").lower().replace("-", "").replace("_", "")
    for known, value in OPTIMIZER_STATE_BYTES.items():
        if key == known.replace("_", ""):
            return value[0], value[1], True
    return UNKNOWN_OPTIMIZER_BYTES, "unknown optimizer: assumed AdamW-like (2 fp32 states)", False


@dataclass(frozen=True)
class Part:
    """One line of a breakdown before it becomes public (name, GiB, why)."""

    name: str
    gib: float
    why: str


# ---- reading a job ------------------------------------------------------------------------------------------------
# Archs whose guidance is distilled into the model (one forward per denoising step); every other arch runs
# classifier-free guidance when guidance_scale > 1, which doubles the sampling batch.
GUIDANCE_DISTILLED = frozenset({"flux", "flux_kontext", "flex1"})
DEFAULT_IMAGE_COUNT = 20
_HALF = {"bf16", "bfloat16", "fp16", "float16", "half"}
_FULL = {"fp32", "float32", "float", "single"}
_FACTS: dict[str, dict] = {}


class Inputs(SimpleNamespace):
    """Everything the predictor reads from a job, the catalog and the dataset, already cleaned (private)."""


def _num(v: Any, default: float, lo: float = -math.inf, hi: float = math.inf) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer past a float's range
        return default
    return default if not math.isfinite(f) else min(hi, max(lo, f))


def _bool(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.strip().lower() in ("true", "yes", "1"))


def _get(job: Any, path: str, index: int = 0) -> Any:
    try:
        return job.get(path, index=index)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError):
        return None


def _facts(spec: Any) -> dict:
    """Per-model numbers, computed once per arch (the UI recomputes on every edit)."""
    cached = _FACTS.get(spec.arch)
    if cached is not None:
        return cached
    notes, fallbacks = [], 0
    den = spec.params_b("denoiser")
    den_names = " ".join(c.name for c in spec.components if c.role == "denoiser")
    unknown = next((c.unknown_reason for c in spec.components if c.role == "denoiser" and c.params_b is None),
                   None) or ("the catalog lists no denoiser" if den is None else None)
    m = re.search(r"\bA(\d+(?:\.\d+)?)B\b", den_names)
    active = float(m.group(1)) if m and den else den  # MoE: "A14B" = 14 B active per step
    h = blocks = None
    fell = False
    if den is not None:
        h, blocks, fell = hidden_and_blocks(den, spec.hidden_size.value, spec.blocks.value)
        if fell:
            fallbacks += 1
            notes.append(f"{spec.arch}: hidden size / block count not in the catalog; assumed a transformer of "
                         f"hidden {h:.0f} x {blocks:.0f} blocks from its {den:g} B params")
    te = [c for c in spec.components if c.role in ("text_encoder", "image_encoder")]
    te_b = sum(c.params_b for c in te if c.params_b is not None)
    te_unknown = [c.name for c in te if c.params_b is None]
    vae = [c for c in spec.components if c.role in ("vae", "audio_vae")]
    vae_b = sum(c.params_b for c in vae if c.params_b is not None)
    vae_unknown = [c.name for c in vae if c.params_b is None]
    has_vae = any(c.role == "vae" for c in spec.components)
    vd = spec.vae_downsample.value or (None if has_vae else 1.0)
    patch = spec.patch_size.value
    if den is not None and (vd is None or patch is None):
        fallbacks += 1
        notes.append(f"{spec.arch}: latent geometry not in the catalog; assumed 8x VAE downsampling and 2x2 patches")
    td = spec.temporal_downsample.value
    if spec.is_video and td is None:
        notes.append(f"{spec.arch}: temporal downsampling unknown; assumed 4 frames per latent frame")
    out = dict(den=den, active=active, unknown=unknown, h=h, blocks=blocks, fell=fell, te_b=te_b,
               te_unknown=te_unknown, vae_b=vae_b, vae_unknown=vae_unknown, vd=vd or 8.0, patch=patch or 2.0,
               td=td or 4.0, latent_ch=spec.latent_channels.value, notes=tuple(notes), fallbacks=fallbacks)
    _FACTS[spec.arch] = out
    return out


def _resolutions(job: Any, n: int) -> list[int]:
    res: set[int] = set()
    for i in range(n):
        v = _get(job, "datasets[].resolution", i)
        for r in (v if isinstance(v, (list, tuple)) else [v]):
            r = int(_num(r, 0, 0, 16384))
            if r >= 64:
                res.add(r)
    return sorted(res) or [512]


def read_inputs(job: Any, dataset: Any) -> Inputs:
    """Read and clean every setting the predictor uses (never raises for odd values)."""
    from .arch import arch_name, arch_of

    spec = arch_of(job)
    x = Inputs(notes=[], arch_label=arch_name(job))
    if spec is None:
        x.denoiser_b, x.denoiser_unknown, f = None, f"'{x.arch_label}' is not in the model catalog", None
    else:
        f = _facts(spec)
        x.arch_label = spec.label
        x.denoiser_b, x.denoiser_unknown = f["den"], f["unknown"]
        x.notes += f["notes"]
    x.fallbacks = f["fallbacks"] if f else 0
    dtype = str(_get(job, "train.dtype") or "").lower()
    x.train_bytes = 4.0 if dtype in _FULL else 2.0
    # datasets
    n_ds = max(1, len(getattr(getattr(job, "process", None), "datasets", None) or []))
    x.resolutions = _resolutions(job, n_ds)
    x.res = max(x.resolutions)
    is_video = bool(spec and spec.is_video)
    x.frames = max(int(_num(_get(job, "datasets[].num_frames", i), 1, 1, 10000)) for i in range(n_ds)) \
        if is_video else 1
    cache_disk = [_bool(_get(job, "datasets[].cache_latents_to_disk", i)) for i in range(n_ds)]
    cache_ram = [_bool(_get(job, "datasets[].cache_latents", i)) for i in range(n_ds)]
    x.latents_cached = all(d or r for d, r in zip(cache_disk, cache_ram))
    x.latents_to_disk = any(cache_disk)
    count = getattr(dataset, "image_count", None)
    if count is None and dataset is not None:
        count = len(getattr(dataset, "images", ()) or ()) + len(getattr(dataset, "videos", ()) or ())
    if not count:
        count = DEFAULT_IMAGE_COUNT
        x.notes.append(f"dataset not analysed: assumed {DEFAULT_IMAGE_COUNT} images for caching time and disk")
    x.images = int(_num(count, DEFAULT_IMAGE_COUNT, 1, 1e7))
    # training loop
    x.batch = int(_num(_get(job, "train.batch_size"), 1, 1, 1024))
    x.grad_accum = int(max(_num(_get(job, "train.gradient_accumulation"), 1, 1, 1024),
                           _num(_get(job, "train.gradient_accumulation_steps"), 1, 1, 1024)))
    x.steps = int(_num(_get(job, "train.steps"), 1000, 0, 1e8))
    x.gc = _bool(_get(job, "train.gradient_checkpointing"))
    x.ema = _bool(_get(job, "train.ema_config.use_ema"))
    x.extra_forwards = int(_bool(_get(job, "train.diff_output_preservation"))) + int(
        _bool(_get(job, "train.blank_prompt_preservation")))
    x.optimizer = str(_get(job, "train.optimizer") or "adamw")
    x.opt_bytes, x.opt_why, known = optimizer_bytes(x.optimizer)
    if not known:
        x.notes.append(f"optimizer '{x.optimizer}' not known: its states are assumed AdamW-sized")
    # model handling
    x.quantize = _bool(_get(job, "model.quantize"))
    x.low_vram = _bool(_get(job, "model.low_vram"))
    qte = _get(job, "model.quantize_te")
    x.quantize_te = x.quantize if qte is None else _bool(qte)
    offload = _bool(_get(job, "model.layer_offloading"))
    if offload and spec is not None and not spec.supports_layer_offloading:
        offload = False  # the trainer's model class for this arch has no offloading: nothing moves to RAM
        x.notes.append(f"layer offloading is on, but {spec.label} does not support it: not counted")
    x.offload_tr = _num(_get(job, "model.layer_offloading_transformer_percent"), 1.0, 0, 1) if offload else 0.0
    offload_te = _num(_get(job, "model.layer_offloading_text_encoder_percent"), 1.0, 0, 1) if offload else 0.0
    unload_te = _bool(_get(job, "train.unload_text_encoder"))
    x.cache_te = _bool(_get(job, "train.cache_text_embeddings"))
    # network
    network_set = job.is_set("network") if hasattr(job, "is_set") else True
    kind = str(_get(job, "network.type") or "lora").lower() if network_set else "full"
    x.full = kind in ("full", "fullrank")
    if not network_set:
        x.notes.append("no network section: ai-toolkit fine-tunes the whole denoiser")
    x.act_factor = 1.1 if kind == "dora" else 1.0  # DoRA rebuilds each weight's norm: ~10 % more saved tensors
    x.sample_w = int(_num(_get(job, "sample.width"), 512, 64, 16384))
    x.sample_h = int(_num(_get(job, "sample.height"), 512, 64, 16384))
    samples = list(getattr(getattr(getattr(job, "process", None), "sample", None), "samples", None) or [])
    prompts = _get(job, "sample.prompts")
    x.prompts = len(samples) or (len(prompts) if isinstance(prompts, list) else 0)
    frames = [int(_num(_get(job, "sample.num_frames"), 1, 1, 10000))]
    frames += [int(_num(getattr(s, "num_frames", None), 1, 1, 10000)) for s in samples]
    x.sample_frames = max(frames) if is_video else 1
    every = int(_num(_get(job, "sample.sample_every"), 100, 0, 1e9))
    x.sampling = (x.prompts > 0 and every > 0 and not _bool(_get(job, "train.disable_sampling")))
    x.sample_events = (x.steps // every + (0 if _bool(_get(job, "train.skip_first_sample")) else 1)) \
        if x.sampling else 0
    x.sample_steps = int(_num(_get(job, "sample.sample_steps"), 20, 1, 1000))
    guidance = _num(_get(job, "sample.guidance_scale"), 1.0)
    x.cfg_doubles = guidance > 1 and not (spec and (spec.arch in GUIDANCE_DISTILLED))
    save = str(_get(job, "save.dtype") or "float16").lower()
    x.save_bytes = 4.0 if save in _FULL else 1.0 if save in ("float8", "e4m3fn", "8bit") else 2.0
    x.max_saves = int(_num(_get(job, "save.max_step_saves_to_keep"), 5, 0, 1e6))
    folder = _get(job, "process.training_folder")
    x.training_folder = folder if isinstance(folder, str) and folder else None
    if f is None or f["den"] is None:
        x.hidden = x.blocks = 1.0
        x.trainable, x.trainable_why = 0.0, "unknown"
        x.te_gib_gpu = x.te_gib_sample = x.te_gib_ram = x.vae_gib_gpu = x.vae_gib_all = x.latents_ram_gib = 0.0
        x.latent_ch = x.vae_down = None
        x.latent_frames = 1
        x.ara_gib = 0.0
        return x
    _sizes(x, f, spec, job, kind, unload_te, offload_te, cache_ram)
    return x


def _sizes(x: Inputs, f: dict, spec: Any, job: Any, kind: str, unload_te: bool, offload_te: float,
           cache_ram: list[bool]) -> None:
    x.hidden, x.blocks = f["h"], f["blocks"]
    x.act_shape_scale = FALLBACK_ACT_SCALE if f["fell"] else 1.0
    x.active_b = f["active"]
    x.vae_down, x.latent_ch = f["vd"], f["latent_ch"]
    x.latent_frames = 1 + (x.frames - 1) // int(f["td"]) if x.frames > 1 else 1
    per_side = x.res / (x.vae_down * f["patch"])
    x.tokens = per_side * per_side * x.latent_frames + TEXT_TOKENS
    # the trainer clones the dataset once per resolution and draws steps from all clones: time follows the
    # mean token count, memory the largest
    x.mean_tokens = sum((r / (x.vae_down * f["patch"])) ** 2 for r in x.resolutions) / len(x.resolutions) \
        * x.latent_frames + TEXT_TOKENS
    lf = 1 + (x.sample_frames - 1) // int(f["td"]) if x.sample_frames > 1 else 1
    x.sample_tokens = (x.sample_w * x.sample_h / (x.vae_down * f["patch"]) ** 2) * lf + TEXT_TOKENS
    # denoiser weights
    qtype = str(_get(job, "model.qtype") or "qfloat8")
    if x.quantize:
        bits = qtype_bits(qtype)
        if bits is None:
            bits, _ = 8.0, x.notes.append(f"quantization type '{qtype}' not known: assumed 8-bit")
        if not spec.quantization_supported:
            x.notes.append(f"{spec.arch}: the trainer UI does not offer quantization; counted as requested")
        x.denoiser_bytes = quantized_bytes_per_param(bits)
        x.denoiser_why = f"{f['den']:g} B params, {qtype.split('|')[0]} ({bits:g} bits)"
    else:
        x.denoiser_bytes = x.train_bytes
        x.denoiser_why = f"{f['den']:g} B params at {'fp32' if x.train_bytes == 4 else 'bf16'}"
    rank = int(_num(_get(job, "network.linear"), 4, 1, 100000))
    x.ara_gib = 0.0
    if x.quantize and "|" in qtype:
        x.ara_gib = LORA_PER_PARAM_RANK_OVER_H * ARA_RANK * f["den"] * 1e9 / x.hidden * 2 / GIB
        x.notes.append(f"accuracy-recovery adapter size not in the catalog: counted as a rank-{ARA_RANK} LoRA")
    conv = _get(job, "network.conv")
    conv = int(_num(conv, 0, 0, 100000)) if conv is not None else None
    full_rank = _bool(_get(job, "network.lokr_full_rank"))
    x.trainable, x.trainable_why = trainable_params(
        kind, rank, conv, int(_num(_get(job, "network.lokr_factor"), -1)), full_rank, f["den"], x.hidden)
    # text encoders
    qtype_te = str(_get(job, "model.qtype_te") or "qfloat8")
    te_bits = (qtype_bits(qtype_te) or 8.0) if x.quantize_te else None
    te_bytes = quantized_bytes_per_param(te_bits) if te_bits else x.train_bytes
    te_all = f["te_b"] * 1e9 * te_bytes / GIB
    dtype_te = qtype_te.split("|")[0] if te_bits else ("fp32" if x.train_bytes == 4 else "bf16")
    if f["te_unknown"]:
        x.notes.append(f"text encoder size unknown ({', '.join(f['te_unknown'])}): not counted")
    if x.cache_te or unload_te:
        x.te_gib_gpu, x.te_why = 0.0, ("embeddings cached, encoder unloaded" if x.cache_te
                                       else "unloaded after encoding the trigger and sample prompts")
        x.te_gib_sample, x.te_sample_why = 0.0, "sample prompts were encoded before training"
        x.te_gib_ram = te_all if unload_te else 0.0
    else:
        x.te_gib_gpu = te_all * (1 - offload_te)
        x.te_why = f"{f['te_b']:g} B params resident, {dtype_te}" + (
            f", {offload_te:.0%} offloaded to RAM" if offload_te else "")
        x.te_gib_sample, x.te_sample_why = x.te_gib_gpu, "resident, encodes the sample prompts"
        x.te_gib_ram = te_all * offload_te
    if x.fallbacks == 0 and f["te_unknown"] and x.te_gib_gpu > 0:
        x.fallbacks += 1
    # VAE
    x.vae_gib_all = f["vae_b"] * 1e9 * 2 / GIB
    if f["vae_unknown"]:
        x.notes.append(f"VAE size unknown ({', '.join(f['vae_unknown'])}): not counted")
    if x.latents_cached:
        x.vae_gib_gpu, x.vae_why = 0.0, "latents cached: the VAE leaves the GPU"
    else:
        x.vae_gib_gpu, x.vae_why = x.vae_gib_all, "resident to encode each batch (latents not cached)"
    lat = (x.latent_ch or 16) * (x.res / x.vae_down) ** 2 * x.latent_frames * 2.0
    x.latents_ram_gib = x.images * lat / GIB if any(cache_ram) else 0.0
