"""Read a job (and an optional dataset) into the cleaned settings the predictor uses; never raises."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

from . import _arch

DEFAULT_IMAGE_COUNT = 20  # assumed when no dataset is given (caching time and disk only)
_FULL = {"fp32", "float32", "float", "single"}
_FP16 = {"fp16", "float16", "half"}

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


class Inputs(SimpleNamespace):
    """Everything read from a job, the catalog and the dataset, already cleaned (private)."""


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


def optimizer_bytes(name: str) -> tuple[float, str, bool]:
    key = (name or "").lower().replace("-", "").replace("_", "")
    for known, value in OPTIMIZER_STATE_BYTES.items():
        if key == known.replace("_", ""):
            return value[0], value[1], True
    return UNKNOWN_OPTIMIZER_BYTES, "unknown optimizer: assumed AdamW-like (2 fp32 states)", False


def _datasets(job: Any) -> list[Any]:
    """The job's dataset sections (read by attribute: a job may hold thousands of them)."""
    return list(getattr(getattr(job, "process", None), "datasets", None) or [])


def _attr(ds: Any, name: str) -> Any:
    value = getattr(ds, name, None)
    if value is None:
        extra = getattr(ds, "__pydantic_extra__", None) or {}
        value = extra.get(name)
    return value


def _resolutions(datasets: list[Any]) -> list[int]:
    res: set[int] = set()
    for ds in datasets:
        v = _attr(ds, "resolution")
        for r in (v if isinstance(v, (list, tuple)) else [v]):
            r = int(_num(r, 0, 0, 16384))
            if r >= 64:
                res.add(r)
    return sorted(res) or [512]


def _controls(datasets: list[Any]) -> int:
    """Control images per sample: the most any dataset gives (a control_path list, or control_path_1..3)."""
    most = 0
    for ds in datasets:
        path = _attr(ds, "control_path")
        count = len([p for p in path if p]) if isinstance(path, (list, tuple)) else (1 if path else 0)
        count = max(count, sum(1 for k in (1, 2, 3) if _attr(ds, f"control_path_{k}")))
        if _bool(_attr(ds, "control_from_same_folder")):
            count = max(count, int(_num(_attr(ds, "num_controls_from_same_folder"), 1, 1, 16)))
        most = max(most, count)
    return most


def read_inputs(job: Any, dataset: Any) -> Inputs:
    """Read and clean every setting the predictor uses (never raises for odd values)."""
    from ..arch import arch_name, arch_of

    spec = arch_of(job)
    x = Inputs(notes=[], arch_label=arch_name(job), spec=spec, f=None)
    if spec is not None:
        x.f = _arch.facts(spec)
        x.arch_label = spec.label
        x.notes += list(x.f.notes)
    dtype = str(_get(job, "train.dtype") or "").lower()
    x.train_bytes = 4.0 if dtype in _FULL else 2.0
    x.fp16 = dtype in _FP16
    datasets = _datasets(job)
    x.resolutions = _resolutions(datasets)
    x.res = max(x.resolutions)
    x.is_video = bool(spec and spec.is_video)
    x.frames = max((int(_num(_attr(ds, "num_frames"), 1, 1, 10000)) for ds in datasets), default=1) \
        if x.is_video else 1
    cache_disk = [_bool(_attr(ds, "cache_latents_to_disk")) for ds in datasets] or [False]
    cache_ram = [_bool(_attr(ds, "cache_latents")) for ds in datasets] or [False]
    x.latents_cached = all(d or r for d, r in zip(cache_disk, cache_ram))
    x.latents_to_disk = any(cache_disk)
    x.latents_in_ram = any(cache_ram)
    x.controls = _controls(datasets)
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
    x.dop = _bool(_get(job, "train.diff_output_preservation")) or _bool(_get(job, "train.blank_prompt_preservation"))
    x.switch_every = int(_num(_get(job, "train.switch_boundary_every"), 1, 1, 1e9))
    x.optimizer = str(_get(job, "train.optimizer") or "adamw")
    x.opt_bytes, x.opt_why, known = optimizer_bytes(x.optimizer)
    if not known:
        x.notes.append(f"optimizer '{x.optimizer}' not known: its states are assumed AdamW-sized")
    # model handling
    x.quantize = _bool(_get(job, "model.quantize"))
    x.low_vram = _bool(_get(job, "model.low_vram"))
    qte = _get(job, "model.quantize_te")
    x.quantize_te = x.quantize if qte is None else _bool(qte)
    x.qtype = str(_get(job, "model.qtype") or "qfloat8")
    x.qtype_te = str(_get(job, "model.qtype_te") or "qfloat8")
    offload = _bool(_get(job, "model.layer_offloading"))
    if offload and spec is not None and not x.f.family.get("layer_offloading"):
        offload = False  # the trainer's model class never attaches the MemoryManager: nothing moves to RAM
        x.notes.append(f"layer offloading is on, but ai-toolkit's {spec.label} model class does not use it: "
                       "not counted")
    elif offload and spec is not None and not spec.supports_layer_offloading:
        x.notes.append(f"layer offloading: the ai-toolkit UI does not offer it for {spec.label}, but its model "
                       "class honours model.layer_offloading")
    x.offload_tr = _num(_get(job, "model.layer_offloading_transformer_percent"), 1.0, 0, 1) if offload else 0.0
    x.offload_te = _num(_get(job, "model.layer_offloading_text_encoder_percent"), 1.0, 0, 1) if offload else 0.0
    if offload and x.quantize and x.qtype.split("|")[0].strip().lower() in ("qfloat8", ""):
        x.qtype = "float8"  # repo: toolkit/config_modules.py l.714-717: layer offloading turns qfloat8 into float8
        x.notes.append("layer offloading turns qtype qfloat8 into torchao float8 (ai-toolkit ModelConfig)")
    if offload and x.quantize_te and x.qtype_te.split("|")[0].strip().lower() in ("qfloat8", ""):
        x.qtype_te = "float8"
    x.unload_te = _bool(_get(job, "train.unload_text_encoder"))
    x.cache_te = _bool(_get(job, "train.cache_text_embeddings"))
    # network
    process = getattr(job, "process", None)
    fields = getattr(process, "model_fields_set", None)
    network_set = "network" in fields if fields is not None else True  # the section's presence, no dump
    x.kind = str(_get(job, "network.type") or "lora").lower() if network_set else "full"
    x.full = x.kind in ("full", "fullrank")
    if not network_set:
        x.notes.append("no network section: ai-toolkit fine-tunes the whole denoiser")
    x.rank = int(_num(_get(job, "network.linear"), 4, 1, 100000))
    conv = _get(job, "network.conv")
    x.conv = int(_num(conv, 0, 0, 100000)) if conv is not None else 0
    x.lokr_factor = int(_num(_get(job, "network.lokr_factor"), -1))
    x.lokr_full_rank = _bool(_get(job, "network.lokr_full_rank"))
    # sampling
    x.sample_w = int(_num(_get(job, "sample.width"), 512, 64, 16384))
    x.sample_h = int(_num(_get(job, "sample.height"), 512, 64, 16384))
    samples = list(getattr(getattr(getattr(job, "process", None), "sample", None), "samples", None) or [])
    prompts = _get(job, "sample.prompts")
    x.prompts = len(samples) or (len(prompts) if isinstance(prompts, list) else 0)
    frames = [int(_num(_get(job, "sample.num_frames"), 1, 1, 10000))]
    frames += [int(_num(getattr(s, "num_frames", None), 1, 1, 10000)) for s in samples]
    x.sample_frames = max(frames) if x.is_video else 1
    every = int(_num(_get(job, "sample.sample_every"), 100, 0, 1e9))
    x.sampling = (x.prompts > 0 and every > 0 and not _bool(_get(job, "train.disable_sampling")))
    x.sample_events = (x.steps // every + (0 if _bool(_get(job, "train.skip_first_sample")) else 1)) \
        if x.sampling else 0
    x.sample_steps = int(_num(_get(job, "sample.sample_steps"), 20, 1, 1000))
    x.guidance = _num(_get(job, "sample.guidance_scale"), 1.0)
    x.vae_tiling = _bool((_get(job, "model.model_kwargs") or {}).get("vae_tiling")
                         if isinstance(_get(job, "model.model_kwargs"), dict) else False)
    # saving
    save = str(_get(job, "save.dtype") or "float16").lower()
    x.save_bytes = 4.0 if save in _FULL else 1.0 if save in ("float8", "e4m3fn", "8bit") else 2.0
    x.max_saves = int(_num(_get(job, "save.max_step_saves_to_keep"), 5, 0, 1e6))
    folder = _get(job, "process.training_folder")
    x.training_folder = folder if isinstance(folder, str) and folder else None
    return x
