"""Smart defaults: a complete, justified job for a profile, an intent and a model, found by searching the predictor.

``recommend(profile, intent, arch, dataset=None, locked=None, trainer="upstream") -> Recommendation``.

Memory is chosen by walking memory levers from the cheapest in quality to the most expensive (gradient
checkpointing, an 8-bit text encoder, cached text embeddings, an 8-bit transformer, low_vram, layer offloading in
steps, 4- and 3-bit transformers, then a lower resolution; the order depends on the priority, see
``_recommend_search.ladder``) until the predictor says the job fits the budget, then growing the batch while it
still fits. Values the user locked are kept exactly and the rest is chosen around them. Every value written has a
:class:`Reason` naming the inputs and the rule.

Example:
    >>> from nbwizard.engine.profile import SystemProfile
    >>> from nbwizard.engine.intent import Intent
    >>> rec = recommend(SystemProfile.for_gpu("RTX 4090"), Intent("person", "quality"), "flux")
    >>> rec.fits, rec.job.get("model.arch"), rec.job.get("train.noise_scheduler")
    (True, 'flux', 'flowmatch')
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from . import _recommend_values as V
from ._recommend_search import BATCH_CAP, Found, Lever, Mem, ladder, search
from .intent import Intent
from .job import JobBase, job_model
from .models import ModelSpec, model_info
from .settings import TRAINERS, setting

__all__ = ["Reason", "Recommendation", "recommend"]

NO_GPU = "no GPU: this plans a job for a card you choose as target"


@dataclass(frozen=True)
class Reason:
    """Why a value was chosen, in words a user reads."""

    value: Any
    why: str


@dataclass(frozen=True)
class Recommendation:
    """A complete job with a reason for every value, its prediction and whether it fits."""

    job: JobBase
    reasons: Mapping[str, Reason]
    prediction: Any
    fits: bool
    why_not: str | None
    locked: tuple[str, ...]
    plan: str  # the memory plan in words, e.g. "gradient checkpointing, 8-bit transformer, 1024 px, batch 2"
    predictor_calls: int


def recommend(profile: Any, intent: Intent, arch: str | ModelSpec, dataset: Any = None,
              locked: Mapping[str, Any] | None = None, trainer: str = "upstream", *,
              predictor: Callable[..., Any] | None = None) -> Recommendation:
    """Recommend a whole job for ``arch`` on ``profile``'s (target) GPU, for ``intent``.

    Args:
        profile: a :class:`~nbwizard.engine.profile.SystemProfile` (detected, or ``SystemProfile.for_gpu``).
        intent: what is trained and the priority (quality / speed / memory).
        arch: a catalog arch name or label (``"flux"``, ``"wan21:1b"``) or its :class:`ModelSpec`.
        dataset: an analysed dataset (:func:`~nbwizard.engine.dataset.analyze_dataset`), optional.
        locked: setting path -> value the user set; kept exactly, the rest is chosen around them.
        trainer: ``"upstream"`` or ``"extended"``; only keys that trainer reads are written.
        predictor: ``predict(job, profile, dataset)``; the engine's predictor by default.

    Returns:
        A frozen :class:`Recommendation`; ``fits`` is False with ``why_not`` when nothing fits.
    """
    if trainer not in TRAINERS:
        raise ValueError(f"unknown trainer {trainer!r}; choose one of {', '.join(TRAINERS)}")
    if predictor is None:
        from .predict import predict as predictor
    spec = arch if isinstance(arch, ModelSpec) else model_info(arch)
    locked = dict(locked or {})
    for path in locked:
        setting(path)  # KeyError with close matches for a path no setting describes
    draft = V.Draft(locked=locked, trainer=trainer)
    te_cache_ok = _base(draft, spec, profile, intent, dataset)
    n, n_why = V.image_count(dataset)
    res, res_why = V.resolutions(spec, intent.priority, dataset)
    te_ok = te_cache_ok and not _locked_true(locked, "train.unload_text_encoder")
    start, levers = ladder(spec, profile, intent.priority, te_ok)
    pin = _pinner(locked)
    start = pin(_replace(start, res=tuple(draft.value("datasets[].resolution", res, V.resolution_list)),
                         dop=intent.training_type in V.CLASS_WORDS and intent.priority != "speed", ema=start.ema))
    if "datasets[].resolution" in locked:
        levers = [lv for lv in levers if lv.label != "lower resolution"]
    levers = [_pinned(lv, pin) for lv in levers]  # a lever never moves a value the user locked
    evaluate = _evaluator(draft, spec, locked, profile, dataset, predictor)
    lb = draft.value("train.batch_size", None, V.positive_int)  # None: not locked, or not a usable batch
    if profile.gpu is None:
        pred = evaluate(start, lb or 1)
        found = Found(start, lb or 1, pred, False, ((None, start, pred),), 1)
    else:
        found = search(start, levers, evaluate, intent.priority, lb, max_batch=n,
                       ram_limit_gib=_ram_limit(profile))
        if found.prediction.verdict == "unknown" and intent.priority != "memory":
            # the model's sizes are unknown, so there is nothing to search against: take the cautious plan
            # (every memory saver that costs little quality) rather than the priority's most demanding one
            cautious, _ = ladder(spec, profile, "memory", te_ok)
            cautious = pin(_replace(cautious, res=start.res, dop=start.dop))
            pred = evaluate(cautious, lb or 1)
            found = Found(cautious, lb or 1, pred, False, ((None, cautious, pred),), found.tried + 1)
    _memory_reasons(draft, spec, found, start, res_why, intent)
    _length(draft, intent, n, n_why, draft.value("train.batch_size", found.batch, V.positive_int))
    job = job_model().model_validate(draft.data({**_mem_paths(found.mem, spec, found.batch), **locked}))
    prediction = predictor(job, profile, dataset)
    ram_ok = prediction.ram_peak_gib is None or _ram_limit(profile) is None or \
        prediction.ram_peak_gib <= _ram_limit(profile)
    fits = found.fits and prediction.verdict == "fits" and ram_ok
    reasons = {p: Reason(draft.values[p], why) for p, why in draft.reasons.items()}
    for path, value in locked.items():
        reasons[path] = Reason(value, "Locked: you set this value; it is kept as it is")
    return Recommendation(
        job=job, reasons=MappingProxyType(reasons), prediction=prediction, fits=fits,
        why_not=None if fits else _why_not(profile, found, prediction, spec),
        locked=tuple(locked), plan=f"{found.mem.describe()}, batch {found.batch}", predictor_calls=found.tried + 1)


# ---- the parts that do not depend on memory -------------------------------------------------------------------
def _base(d: V.Draft, spec: ModelSpec, profile: Any, intent: Intent, dataset: Any) -> bool:
    """Write every value that does not move memory; returns whether text embeddings may be cached."""
    ui = spec.ui_defaults
    slug = spec.arch.replace(":", "_").replace(".", "_")
    d.put("job", "extension", "ai-toolkit runs its trainers as an 'extension' job")
    d.put("config.name", f"{slug}_{intent.training_type}_lora_v1", "Named after the model and what is trained")
    d.put("meta.name", "[name]", "The trainer replaces [name] with config.name")
    d.put("meta.version", "1.0", "First version of this job")
    d.put("process.type", "diffusion_trainer", "The trainer the ai-toolkit UI uses for LoRA / LoKr training")
    d.put("process.training_folder", "output", "Checkpoints and samples go to ./output/<name>")
    device = "mps" if profile.accelerator == "apple" else "cuda"
    d.put("process.device", device, f"The {profile.accelerator if profile.gpu else 'target'} GPU's device "
                                    f"('{device}')")
    trigger = getattr(dataset, "trigger_word", None) or V.DEFAULT_TRIGGER
    d.put("process.trigger_word", trigger, "The dataset's trigger word" if trigger != V.DEFAULT_TRIGGER else
          f"'{trigger}': a rare token with no meaning of its own to the base model; replace it with your own")
    d.put("model.name_or_path", ui["model.name_or_path"], f"{spec.label}'s weights, as the trainer UI loads them")
    d.put("model.arch", spec.arch, f"The arch id of {spec.label}")
    for path in ("model.model_kwargs", "model.assistant_lora_path", "model.extras_name_or_path",
                 "model.unconditional_lora_path", "train.bypass_guidance_embedding", "train.do_guidance_loss",
                 "train.guidance_loss_target", "train.max_loss", "train.audio_loss_multiplier",
                 "datasets[].do_i2v", "datasets[].do_audio", "datasets[].auto_frame_count", "datasets[].fps",
                 "datasets[].num_frames", "network.network_kwargs.ignore_if_contains", "datasets[].controls",
                 "network.transformer_only", "sample.neg", "sample.guidance_scale", "sample.sample_steps",
                 "sample.num_frames", "sample.fps"):
        if path in ui and (ui[path] not in ((), {}, None) or path.startswith("sample.")):
            d.put(path, ui[path], f"The trainer UI's value for {spec.label}")
    # network: rank, alpha and the learning rate follow the user's rank / type when locked
    d.put("network.type", "lora", "LoRA: the adapter every arch supports, small and easy to load elsewhere")
    net = d.value("network.type", check=V.text)
    rank = V.positive_int(ui.get("network.linear", 32)) or 32
    if intent.priority == "memory" and rank > 16:
        rank_why = f"Rank 16 for 'memory' (the UI's {rank} doubles the adapter, its gradients and optimizer states)"
        rank = 16
    else:
        rank_why = f"Rank {rank}: the trainer UI's value for {spec.label}"
    # network.rank wins over network.linear in the trainer (NetworkConfig)
    rank = d.value("network.rank", d.value("network.linear", rank, V.positive_int), V.positive_int)
    if net == "lokr":
        factor = d.value("network.lokr_factor", -1)
        d.put("network.lokr_full_rank", True, "LoKr full rank (the UI's): the Kronecker factors are trained in full; "
              "rank and alpha do not apply")
        d.put("network.lokr_factor", -1, "lokr_factor -1: the trainer picks the factor from each layer's size")
        lokr_why = f" (LoKr factor {factor})" if factor != -1 else ""
        if d.is_locked("network.linear") or d.is_locked("network.rank"):
            d.put("network.linear_alpha", rank, f"Alpha = your rank ({rank}), though full-rank LoKr ignores both")
    else:
        lokr_why = ""
        d.put("network.linear", rank, rank_why)
        d.put("network.linear_alpha", rank, f"Alpha = rank ({rank}): scale 1, as the UI writes it")
    conv = d.value("network.conv", ui.get("network.conv") if "network.conv" not in spec.hidden_sections else None,
                   V.positive_int)
    if "network.conv" not in spec.hidden_sections and "network.conv" in ui:
        d.put("network.conv", ui["network.conv"], f"Conv rank {ui['network.conv']}: {spec.label} has conv layers")
    if V.positive_int(conv) and ("network.conv" in d.values or d.is_locked("network.conv")):
        d.put("network.conv_alpha", conv, f"Conv alpha = conv rank ({conv})")
    # optimizer, schedule, noise
    opt, opt_why = V.optimizer(profile)
    d.put("train.optimizer", opt, opt_why)
    opt = str(d.value("train.optimizer", check=V.text)).lower()
    lr, lr_why = V.learning_rate(spec, opt, "lokr" if net == "lokr" else "lora", rank)
    d.put("train.optimizer_params", {"weight_decay": 1e-4}, "Light weight decay (1e-4), the UI's value")
    d.put("train.lr", lr, lr_why + lokr_why)
    bf16 = profile.gpu is None or profile.gpu.bf16.value is not False
    dt = "bf16" if bf16 else "fp16"
    d.put("train.dtype", dt, "bf16: the precision these models were trained in" if bf16 else
          "fp16: this GPU has no bf16 (expect less stable training than on a bf16 card)")
    save_dt = d.value("train.dtype", check=V.text)
    save_dt = save_dt if save_dt in ("bf16", "fp16", "float16", "bfloat16", "fp32", "float32") else dt
    d.put("save.dtype", save_dt, "The adapter is saved in the training precision")
    d.put("save.save_format", "diffusers", "The format the trainer UI writes")
    sched = ui.get("train.noise_scheduler", "ddpm")
    if spec.flow_matching:
        d.put("train.noise_scheduler", "flowmatch", f"{spec.label} is a flow-matching model: training must use "
                                                     "'flowmatch' (anything else noises it with the wrong schedule)")
        d.put("sample.sampler", "flowmatch", "Previews use the flow-matching sampler the model needs")
        tt = ui.get("train.timestep_type", "sigmoid")
        d.put("train.timestep_type", tt, f"'{tt}' timestep sampling: the trainer UI's choice for {spec.label}")
        bias = {"style": "style", "concept": "content"}.get(intent.training_type, "balanced")
        d.put("train.content_or_style", bias, {
            "style": "Bias towards low-noise timesteps, where a style's textures and colours are learned",
            "content": "Bias towards high-noise timesteps, where a concept's composition and layout are learned",
            "balanced": f"Balanced timesteps: a {intent.training_type} needs both layout and detail"}[bias])
    else:
        d.put("train.noise_scheduler", sched, f"{spec.label} is a diffusion (not flow) model: '{sched}' as in the UI")
        d.put("sample.sampler", ui.get("sample.sampler", sched), "The sampler the UI pairs with this model")
    # dataset
    folder = str(getattr(dataset, "root", None) or "/path/to/dataset")
    d.put("datasets[].folder_path", folder, "The analysed dataset" if dataset is not None else
          "Placeholder: set the folder with your images")
    d.put("datasets[].caption_ext", "txt", "Captions in .txt files next to the images")
    d.put("datasets[].num_repeats", 1, "Each image once per epoch; training length is set by the steps")
    flip = intent.training_type in ("style", "concept")
    d.put("datasets[].flip_x", flip, "Mirrored copies add variety to a style or concept" if flip else
          f"No mirroring: a {intent.training_type} can be asymmetric (faces, text, logos)")
    flip = d.value("datasets[].flip_x", flip, V.boolean)
    n, _ = V.image_count(dataset)
    res_top = max(d.value("datasets[].resolution", V.resolutions(spec, intent.priority, dataset)[0],
                          V.resolution_list))
    frames = d.value("datasets[].num_frames", V.positive_int(ui.get("datasets[].num_frames", 1)) or 1,
                     V.positive_int)
    cache = V.latent_cache_gib(spec, [res_top], n, flip, frames) * 3
    ram = profile.ram_available_gib.value if profile.ram_available_gib.known else None
    in_ram = ram is not None and cache < (0.05 if profile.unified_memory else 0.25) * ram
    d.put("datasets[].cache_latents", in_ram, (
        f"Latents (~{cache:.2f} GiB for {n} images) kept in RAM: under a quarter of {ram:.0f} GiB available"
        if in_ram else "Latents not held in RAM: " + (
            "RAM is not known" if ram is None else f"~{cache:.2f} GiB is too much of {ram:.0f} GiB "
            + ("(unified memory: RAM is GPU memory)" if profile.unified_memory else "available RAM"))))
    in_ram = d.value("datasets[].cache_latents", in_ram, V.boolean)
    d.put("datasets[].cache_latents_to_disk", not in_ram, "Latents cached on disk: encoded once, the VAE leaves "
          "the GPU, and RAM stays free" if not in_ram else "In RAM instead of on disk")
    nw, nw_why = V.workers(profile)
    d.put("datasets[].num_workers", nw, nw_why)
    nw = V.number(d.value("datasets[].num_workers", nw)) or 0
    if nw > 0:
        pf, pf_why = V.prefetch(profile, folder)
        d.put("datasets[].prefetch_factor", pf, pf_why)
    # regularisation that does not depend on memory
    d.put("train.ema_config.ema_decay", 0.99, "EMA decay 0.99 (the UI's), effective over ~100 steps")
    # sampling and saving
    d.put("sample.seed", 42, "A fixed seed, so previews change only because the adapter does")
    d.put("sample.walk_seed", True, "Each prompt gets the next seed: more variety at the same cost")
    if not d.is_locked("sample.prompts"):  # the trainer ignores the legacy prompt list once samples is set
        d.put("sample.samples[].prompt", V.prompts(intent.training_type),
              f"Prompts for a {intent.training_type}, each with [trigger] (replaced by the trigger word)")
    return spec.group != "instruction" and not any("control" in s for s in spec.additional_sections) \
        and "train.unload_text_encoder" not in spec.hidden_sections


def _length(d: V.Draft, intent: Intent, n: int, n_why: str, batch: int) -> None:
    """Accumulation, steps, schedule and cadences, computed from the effective (locked if usable) values."""
    ga, ga_why = V.accumulation(intent.priority, batch, n)
    legacy = d.value("train.gradient_accumulation_steps", None, V.positive_int)
    if d.is_locked("train.gradient_accumulation_steps") and not d.is_locked("train.gradient_accumulation"):
        # both > 1 / != 1 raise in the trainer: the user's legacy key carries the accumulation
        ga, ga_why = 1, "Accumulation 1 here: the gradient_accumulation_steps you set carries the accumulation"
    d.put("train.gradient_accumulation", ga, ga_why)
    ga = d.value("train.gradient_accumulation", ga, V.positive_int)
    if ga == 1 and legacy:
        ga = legacy
    repeats = d.value("datasets[].num_repeats", 1, V.positive_int)
    total, why = V.steps(intent, n, n_why, repeats, batch, ga)
    d.put("train.steps", total, why)
    total = d.value("train.steps", total, V.positive_int)
    lr = d.value("train.lr", check=V.positive_float)
    locked_name = d.value("train.lr_scheduler", None, lambda v: v if isinstance(v, str) else None)
    name, params, s_why, p_why = V.scheduler(intent.priority, lr, total, locked_name)
    d.put("train.lr_scheduler", name, s_why)
    if params:
        d.put("train.lr_scheduler_params", params, p_why)
    every = V.cadence(total)
    d.put("sample.sample_every", every, f"Previews every {every} steps: about {V.SAMPLE_ROUNDS} rounds over "
                                        f"{total} steps")
    sample_every = d.value("sample.sample_every", every, V.positive_int)
    d.put("save.save_every", sample_every, "Checkpoints at the same steps as the previews, so each can be compared")
    save_every = d.value("save.save_every", sample_every, V.positive_int)
    keep = min(V.DEFAULT_KEEP, max(1, total // save_every))
    d.put("save.max_step_saves_to_keep", keep, f"Keep the last {keep} checkpoints (LoRA files are small)")


# ---- memory ----------------------------------------------------------------------------------------------------
def _mem_paths(m: Mem, spec: ModelSpec, batch: int) -> dict[str, Any]:
    q = m.qtype is not None and spec.quantization_supported
    out: dict[str, Any] = {
        "train.batch_size": batch, "train.gradient_checkpointing": m.gc,
        "model.quantize": q, "model.quantize_te": m.te_quant and spec.te_quantization_supported,
        "train.cache_text_embeddings": m.te_cache, "train.unload_text_encoder": False,
        "model.low_vram": m.low_vram, "datasets[].resolution": list(m.res),
        "sample.width": max(m.res), "sample.height": max(m.res),
        "datasets[].caption_dropout_rate": 0.0 if m.te_cache else 0.05,
        "train.diff_output_preservation": m.dop, "train.ema_config.use_ema": m.ema,
    }
    if q:
        out["model.qtype"] = m.qtype
    if out["model.quantize_te"]:
        out["model.qtype_te"] = "qfloat8"
    if spec.supports_layer_offloading:
        out["model.layer_offloading"] = m.offload > 0
        if m.offload:
            out["model.layer_offloading_transformer_percent"] = m.offload
            out["model.layer_offloading_text_encoder_percent"] = 1.0
    return out


def _evaluator(d: V.Draft, spec: ModelSpec, locked: Mapping[str, Any], profile: Any, dataset: Any,
               predictor: Callable[..., Any]) -> Callable[[Mem, int], Any]:
    model, memo = job_model(), {}
    base = {**d.values, "train.steps": 1000, "train.gradient_accumulation": 1}

    def evaluate(m: Mem, batch: int) -> Any:
        paths = {**_mem_paths(m, spec, batch), **locked}
        key = repr(sorted(paths.items(), key=lambda kv: kv[0]))
        if key not in memo:
            data: dict[str, Any] = {}
            for path, value in {**base, **paths}.items():
                V.put_path(data, path, value)
            memo[key] = predictor(model.model_validate(data), profile, dataset)
        return memo[key]

    return evaluate


def _memory_reasons(d: V.Draft, spec: ModelSpec, f: Found, start: Mem, res_why: str, intent: Intent) -> None:
    p, m = f.prediction, f.mem
    budget = f"{p.budget_gib:.1f} GiB" if p.budget_gib is not None else "no known budget"
    peak = f"predicted {p.peak_vram_gib:.1f} GiB" if p.peak_vram_gib is not None else "peak not predictable"

    def why_lever(field: str, on: str, off: str) -> str:
        for i, (label, mem, pred) in enumerate(f.trail):
            if label and getattr(mem, field) != getattr(f.trail[i - 1][1], field):
                before = f.trail[i - 1][2]
                was = (f"{before.peak_vram_gib:.1f} GiB (up to {before.high_gib:.1f})"
                       if before.peak_vram_gib is not None else "unknown")
                return f"{on}: without it the plan was predicted at {was} against {budget}; now {peak}"
        return off

    label = (f"'{intent.priority}' plan" if p.verdict != "unknown" else
             "cautious plan used when the model's size is unknown")
    d.put("train.batch_size", f.batch, (
        f"Batch {f.batch}: the largest batch (at most {BATCH_CAP[intent.priority]} for '{intent.priority}') "
        f"predicted to fit in {budget} at "
        f"{max(m.res)} px with {m.describe()} ({peak})" if f.fits else f"Batch {f.batch}: nothing larger can fit"))
    d.put("train.gradient_checkpointing", m.gc, why_lever("gc", "Gradient checkpointing on", (
        "Gradient checkpointing on: recomputes activations instead of storing them, far less memory for ~25 % time"
        if m.gc else f"Checkpointing off for speed: the job fits without it ({peak} of {budget})")))
    d.put("model.quantize", m.qtype is not None, why_lever("qtype", f"Transformer quantized ({m.qtype})", (
        f"Transformer kept in bf16: it fits without quantization ({peak} of {budget})" if m.qtype is None else
        f"Transformer quantized from the start of the {label}")) if spec.quantization_supported else
        f"{spec.label} offers no quantization")
    if m.qtype is not None and spec.quantization_supported:
        d.put("model.qtype", m.qtype, "4/3-bit types come with an accuracy-recovery adapter where the model "
              "offers one" if "|" in m.qtype else f"'{m.qtype}': the least lossy type that makes the plan fit")
    d.put("model.quantize_te", m.te_quant and spec.te_quantization_supported, why_lever(
        "te_quant", "Text encoder in 8 bits", "Text encoder quantized as part of the plan" if m.te_quant else
        "Text encoder kept in full precision"))
    if m.te_quant and spec.te_quantization_supported:
        d.put("model.qtype_te", "qfloat8", "qfloat8: 8-bit text encoder, barely changes the embeddings")
    d.put("train.cache_text_embeddings", m.te_cache, why_lever(
        "te_cache", "Text embeddings cached and the encoder unloaded", "Embeddings cached from the start of the "
        f"{label}" if m.te_cache else "Text encoder stays loaded (captions vary, previews use it)"))
    d.put("train.unload_text_encoder", False, "Not unloaded without caching: it would freeze the captions")
    d.put("datasets[].caption_dropout_rate", 0.0 if m.te_cache else 0.05, "No caption dropout: cached embeddings "
          "are fixed" if m.te_cache else "5 % of steps without caption: the adapter also works with short prompts")
    d.put("model.low_vram", m.low_vram, why_lever("low_vram", "low_vram on", "low_vram off: not needed"))
    if spec.supports_layer_offloading:
        d.put("model.layer_offloading", m.offload > 0, why_lever(
            "offload", f"{m.offload:.0%} of the transformer's layers offloaded to RAM", "No layer offloading: "
            "it moves weights over PCIe every step" + (" (and on unified memory there is no separate RAM to move "
                                                       "them to)" if m.offload == 0 and start.offload == 0 else "")))
        if m.offload:
            d.put("model.layer_offloading_transformer_percent", m.offload, "The smallest step that fits")
            d.put("model.layer_offloading_text_encoder_percent", 1.0, "The text encoder runs once per step")
    d.put("datasets[].resolution", list(m.res), why_lever("res", f"Resolution lowered to {max(m.res)} px", res_why))
    d.put("sample.width", max(m.res), "Previews at the largest training size")
    d.put("sample.height", max(m.res), "Previews at the largest training size")
    d.put("train.diff_output_preservation", m.dop, (
        "DOP on: keeps what the model draws for 'person' while it learns the trigger" if m.dop else
        why_lever("dop", "DOP off", "DOP is for a person or an object (needs a class word)")))
    if m.dop:
        d.put("train.diff_output_preservation_class", "person" if intent.training_type == "person" else "object",
              "The class word the trigger stands for")
        d.put("train.diff_output_preservation_multiplier", 1.0, "Preservation weighted like the training loss")
    d.put("train.ema_config.use_ema", m.ema, "EMA on for quality: averages the adapter over recent steps" if m.ema
          else why_lever("ema", "EMA off", "EMA off: it slows convergence early in short runs"))


def _why_not(profile: Any, f: Found, p: Any, spec: ModelSpec) -> str:
    if profile.gpu is None:
        return NO_GPU
    if p.verdict == "unknown":
        return f"cannot predict memory for {spec.label}: {p.verdict_reason}"
    limit = _ram_limit(profile)
    if p.verdict == "fits" and p.ram_peak_gib is not None and limit is not None and p.ram_peak_gib > limit:
        machine = getattr(profile, "machine", "this machine")
        return (f"system RAM: loading and quantizing needs {p.ram_peak_gib:.1f} GiB of RAM with "
                f"{f.mem.describe()}, more than the {limit:.0f} GiB {machine} has (VRAM would fit: "
                f"{p.peak_vram_gib:.1f} GiB of {p.budget_gib:.1f})")
    need = f"{p.peak_vram_gib:.1f} GiB (up to {p.high_gib:.1f})" if p.peak_vram_gib is not None else "more"
    return (f"needs {need} even at batch {f.batch} with {f.mem.describe()}; the budget is "
            f"{p.budget_gib:.1f} GiB")


# ---- locked memory values -------------------------------------------------------------------------------------
# Mem field -> the setting that fixes it (a bool setting; quantization and offloading are handled in _pinner)
_PINNED_BOOLS = {"gc": "train.gradient_checkpointing", "te_quant": "model.quantize_te",
                 "te_cache": "train.cache_text_embeddings", "low_vram": "model.low_vram",
                 "dop": "train.diff_output_preservation", "ema": "train.ema_config.use_ema"}


def _pinner(locked: Mapping[str, Any]) -> Callable[[Mem], Mem]:
    """A function that sets a plan's fields to what the user locked, so the plan describes the job as it is."""
    fixed: dict[str, Any] = {f: locked[p] for f, p in _PINNED_BOOLS.items() if isinstance(locked.get(p), bool)}
    if locked.get("model.quantize") is False:
        fixed["qtype"] = None
    elif isinstance(locked.get("model.qtype"), str) and locked.get("model.quantize") is not False:
        fixed["qtype"] = locked["model.qtype"]
    if locked.get("model.layer_offloading") is False:
        fixed["offload"] = 0.0
    elif V.positive_float(locked.get("model.layer_offloading_transformer_percent")):
        fixed["offload"] = V.positive_float(locked["model.layer_offloading_transformer_percent"])
    return (lambda m: _replace(m, **fixed)) if fixed else (lambda m: m)


def _pinned(lever: Lever, pin: Callable[[Mem], Mem]) -> Lever:
    def apply(m: Mem) -> Mem | None:
        nxt = lever.apply(m)
        return None if nxt is None else pin(nxt)
    return Lever(lever.label, apply)


# ---- small helpers -----------------------------------------------------------------------------------------------
def _replace(m: Mem, **kw: Any) -> Mem:
    from dataclasses import replace
    return replace(m, **kw)


def _ram_limit(profile: Any) -> float | None:
    """System RAM the run may use (None when unknown); the pool itself on unified memory."""
    return float(profile.ram_total_gib.value) if profile.ram_total_gib.known else None


def _locked_true(locked: Mapping[str, Any], path: str) -> bool:
    return bool(locked.get(path))
