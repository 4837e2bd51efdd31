"""Smart defaults: a complete, justified job for a profile, an intent and a model, found by searching the predictor.

``recommend(profile, intent, arch, dataset=None, locked=None, trainer="upstream") -> Recommendation``.

The plan starts from the arch's usual recipe (:mod:`~nbwizard.engine.recipes`: ai-toolkit's own example for it,
else the trainer UI's defaults) and departs from it only with a reason. Memory is planned for *training*: levers in
an expert's order (cached text embeddings, 8-bit weights, low_vram, the arch's low-bit recipe with its
accuracy-recovery adapter, layer offloading, then a lower resolution; see ``_recommend_search``) until the
predictor says the training job fits; the features the priority wants (EMA, DOP) are then added where they still
fit, gradient checkpointing is turned off where the plan fits without it, and previews are fitted with their own
levers. Batch 1 (ai-toolkit's practice) unless the user sets one. Values the user locked are kept exactly and the
rest is chosen around them. Every value written has a :class:`Reason`; every value that differs from the recipe is
a :class:`Departure` with its cost, and what the user should know (a long run, system RAM, DOP's price) is a
:class:`Note`.

Example:
    >>> from nbwizard.engine.profile import SystemProfile
    >>> from nbwizard.engine.intent import Intent
    >>> rec = recommend(SystemProfile.for_gpu("RTX 4090"), Intent("person", "quality"), "flux")
    >>> rec.fits, rec.job.get("model.arch"), rec.job.get("train.noise_scheduler"), rec.job.get("train.batch_size")
    (True, 'flux', 'flowmatch', 1)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping

from . import _recommend_values as V
from ._recommend_plan import Alternative, Departure, Note, departures, notes
from ._recommend_search import Found, Lever, Mem, Preview, fits as fits_for, ladder, preview_levers, search
from .intent import Intent
from .job import JobBase, job_model
from .models import ModelSpec, model_info
from .recipes import Recipe, recipe_for
from .settings import TRAINERS, setting

__all__ = ["Alternative", "Departure", "Note", "Reason", "Recommendation", "recommend"]

NO_GPU = "no GPU: this plans a job for a card you choose as target"


@dataclass(frozen=True)
class Reason:
    """Why a value was chosen, in words a user reads."""

    value: Any
    why: str


@dataclass(frozen=True)
class Recommendation:
    """A complete job with a reason for every value, its prediction and whether it fits.

    ``departures`` lists each value that differs from the arch's usual recipe (``recipe``) with its cost;
    ``notes`` what the user should weigh (a long run and the plan that halves it, system RAM, DOP's price).
    """

    job: JobBase
    reasons: Mapping[str, Reason]
    prediction: Any
    fits: bool
    why_not: str | None
    locked: tuple[str, ...]
    plan: str  # the memory plan in words, e.g. "gradient checkpointing, 8-bit transformer, 1024 px, batch 1"
    predictor_calls: int
    recipe: Recipe | None = None
    departures: tuple[Departure, ...] = ()
    notes: tuple[Note, ...] = ()


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
        A frozen :class:`Recommendation`; ``fits`` is False with ``why_not`` when training cannot fit the card.
    """
    if trainer not in TRAINERS:
        raise ValueError(f"unknown trainer {trainer!r}; choose one of {', '.join(TRAINERS)}")
    if predictor is None:
        from .predict import predict as predictor
    spec = arch if isinstance(arch, ModelSpec) else model_info(arch)
    recipe = recipe_for(spec)
    locked = dict(locked or {})
    for path in locked:
        setting(path)  # KeyError with close matches for a path no setting describes
    draft = V.Draft(locked=locked, trainer=trainer)
    te_cache_ok, cls, cls_why = _base(draft, spec, recipe, profile, intent, dataset)
    n, n_why = V.image_count(dataset)
    frames = draft.value("datasets[].num_frames", check=V.positive_int) or 1
    res, res_why = V.resolutions(spec, recipe, dataset, frames)
    res = draft.value("datasets[].resolution", res, V.resolution_list)
    te_ok = te_cache_ok and not _locked_true(locked, "train.unload_text_encoder")
    start, levers = ladder(spec, profile, intent.priority, te_ok, tuple(res))
    pin = _pinner(locked)
    start = pin(start)
    if "datasets[].resolution" in locked:
        levers = [lv for lv in levers if lv.label != "lower resolution"]
    levers = [_pinned(lv, pin) for lv in levers]  # a lever never moves a value the user locked
    features = {
        "ema": _wants_ema(intent, recipe) and "train.ema_config.use_ema" not in locked,
        "dop": _wants_dop(intent, cls, spec) and "train.diff_output_preservation" not in locked,
        "gc_off": "train.gradient_checkpointing" not in locked,
    }
    preview = _preview(draft, spec, recipe)
    evaluate = _evaluator(draft, spec, locked, profile, dataset, predictor)
    batch = draft.value("train.batch_size", None, V.positive_int) or 1
    free = _free_levers(te_ok, spec, pin)
    plevers = [(label, _pinned_preview(step, locked)) for label, step in preview_levers(spec)]
    if profile.gpu is None:
        pred = evaluate(start, batch, None)
        found = Found(start, batch, preview, pred, False, ((None, start, pred),), {}, (), 1)
    else:
        lv = None if profile.unified_memory or "model.low_vram" in locked else \
            (lambda m: replace(m, low_vram=True))
        found = search(start, levers, evaluate, intent.priority, batch, preview, features, free, plevers, lv,
                       _recipe_margin(recipe, profile))
        if found.prediction.verdict == "unknown" and intent.priority != "memory":
            # the model's sizes are unknown, so there is nothing to search against: take the cautious plan
            # (every memory saver that costs little quality) rather than the priority's most demanding one
            cautious, _ = ladder(spec, profile, "memory", te_ok, tuple(res))
            cautious = pin(cautious)
            pred = evaluate(cautious, batch, None)
            found = Found(cautious, batch, preview, pred, False, ((None, cautious, pred),), {}, (),
                          found.tried + 1)
    _memory_reasons(draft, spec, recipe, found, res_why, intent, cls, cls_why, dataset)
    _length(draft, recipe, intent, n, n_why, draft.value("train.batch_size", found.batch, V.positive_int))
    job = job_model().model_validate(draft.data({**_mem_paths(found.mem, spec, found.batch, found.preview),
                                                 **locked}))
    prediction = predictor(job, profile, dataset)
    calls = found.tried + 1
    fits = found.fits and fits_for(prediction, "quality")
    reasons = {p: Reason(draft.values[p], why) for p, why in draft.reasons.items()}
    for path, value in locked.items():
        reasons[path] = Reason(value, "Locked: you set this value; it is kept as it is")
    counted = _Counting(predictor)
    deps = departures(job, prediction, recipe, reasons, spec, profile, dataset, counted) if profile.gpu else ()
    extra = notes(job, prediction, found, intent, spec, profile, dataset, counted, cls, cls_why, draft.locked)
    return Recommendation(
        job=job, reasons=MappingProxyType(reasons), prediction=prediction, fits=fits,
        why_not=None if fits else _why_not(profile, found, prediction, spec),
        locked=tuple(locked), plan=f"{found.mem.describe()}, batch {found.batch}",
        predictor_calls=calls + counted.calls, recipe=recipe, departures=deps, notes=extra)


class _Counting:
    """The predictor, counting its calls (the plan's notes and departures ask it too)."""

    def __init__(self, predictor: Callable[..., Any]):
        self.predictor, self.calls = predictor, 0

    def __call__(self, job: Any, profile: Any, dataset: Any = None) -> Any:
        self.calls += 1
        return self.predictor(job, profile, dataset)


# On a card no larger than the one ai-toolkit's example is written for, the example's memory savers are known to
# run there: a plan that drops one must leave this share of the budget free in the prediction.
RECIPE_HEADROOM = 0.10


def _recipe_margin(recipe: Recipe, profile: Any) -> Callable[[Mem], float]:
    """The headroom a plan needs: RECIPE_HEADROOM when it saves less memory than the example does on the example's
    own card size (or a smaller one), else none."""
    budget = getattr(profile, "vram_budget_gib", None)
    if not recipe.from_example or not recipe.vram_gb or budget is None or budget > recipe.vram_gb:
        return lambda m: 0.0
    bits = _qbits(recipe.get("model.qtype") if recipe.get("model.quantize") else None)
    low = recipe.get("model.low_vram") is True
    te_gone = recipe.get("train.cache_text_embeddings") is True or recipe.get("train.unload_text_encoder") is True

    def margin(m: Mem) -> float:
        lighter = _qbits(m.qtype) > bits or (low and not m.low_vram) or (te_gone and not m.te_cache)
        return RECIPE_HEADROOM if lighter else 0.0
    return margin


def _qbits(qtype: str | None) -> float:
    """Bits per weight a quantization type stores (bf16: 16), for ordering plans by how much they save."""
    if not qtype:
        return 16.0
    q = qtype.split("|")[0].lower()
    digits = "".join(ch for ch in q if ch.isdigit())
    return float(digits) if digits and not q.startswith(("qfloat", "float")) else 8.0


def _wants_ema(intent: Intent, recipe: Recipe) -> bool:
    """EMA for 'quality' (one copy of the adapter, no extra passes); the recipe's choice for 'speed'; off for
    'memory'."""
    if intent.priority == "quality":
        return True
    return intent.priority == "speed" and recipe.get("train.ema_config.use_ema") is True


def _wants_dop(intent: Intent, cls: str | None, spec: ModelSpec) -> bool:
    """DOP only where the design's 'quality' asks for more regularization on an identity, with a class word, and
    not on an edit / control model (it learns a transformation of its control image, and the control tokens
    already double what each of DOP's extra passes costs)."""
    return intent.priority == "quality" and intent.training_type in V.SUBJECTS and cls is not None \
        and not _is_edit(spec)


def _is_edit(spec: ModelSpec) -> bool:
    return spec.group == "instruction" or any("control" in s for s in spec.additional_sections)


# ---- the parts that do not depend on memory -------------------------------------------------------------------
def _base(d: V.Draft, spec: ModelSpec, recipe: Recipe, profile: Any, intent: Intent, dataset: Any
          ) -> tuple[bool, str | None, str]:
    """Write every value that does not move memory; returns whether text embeddings may be cached, and the class
    word with its reason."""
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
    trigger, trigger_why = V.trigger_word(dataset)
    d.put("process.trigger_word", trigger, trigger_why)
    d.put("model.name_or_path", ui["model.name_or_path"], f"{spec.label}'s weights, as the trainer UI loads them")
    d.put("model.arch", spec.arch, f"The arch id of {spec.label}")
    for path in ("model.model_kwargs", "model.assistant_lora_path", "model.extras_name_or_path",
                 "model.unconditional_lora_path", "train.bypass_guidance_embedding", "train.do_guidance_loss",
                 "train.guidance_loss_target", "train.max_loss", "train.audio_loss_multiplier",
                 "datasets[].do_i2v", "datasets[].do_audio", "datasets[].auto_frame_count", "datasets[].fps",
                 "network.network_kwargs.ignore_if_contains", "datasets[].controls", "network.transformer_only",
                 "sample.neg", "sample.fps"):
        if path in ui and (ui[path] not in ((), {}, None) or path.startswith("sample.")):
            d.put(path, ui[path], f"The trainer UI's value for {spec.label}")
    from_recipe = f"{V._cap(recipe.name)}'s value"
    for path in ("datasets[].num_frames", "sample.guidance_scale", "sample.sample_steps"):
        if recipe.get(path) is not None:
            d.put(path, V.plain(recipe.get(path)), from_recipe)
    if spec.arch.startswith("wan22_14b") or recipe.example_values.get("train.switch_boundary_every"):
        every = V.positive_int(recipe.get("train.switch_boundary_every")) or 1
        d.put("train.switch_boundary_every", every, (
            f"Switch the trained expert every {every} steps ({recipe.name}'s): with low_vram only the active expert "
            "is on the GPU and each switch moves a whole expert between RAM and GPU (the trainer's default, 1, "
            "swaps them every step)"))
    # network: rank and alpha from the recipe; the learning rate does not follow the rank
    d.put("network.type", "lora", "LoRA: the adapter every arch supports, small and easy to load elsewhere")
    net = d.value("network.type", check=V.text)
    rank = V.positive_int(recipe.get("network.linear", 32)) or 32
    if intent.priority == "memory" and rank > 16:
        rank_why = f"Rank 16 for 'memory' ({recipe.name}'s {rank} doubles the adapter, its gradients and states)"
        rank = 16
    else:
        rank_why = f"Rank {rank}: {recipe.name}'s value for {spec.label}"
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
    alpha = d.value("network.linear_alpha", rank)
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
    lr, lr_why = V.learning_rate(spec, recipe, opt, "lokr" if net == "lokr" else "lora", rank, alpha)
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
        # the example's own choice where it writes one; else the UI's per-arch choice (the trainer's default,
        # 'sigmoid', is what an example that writes none trains with: a departure, and said so)
        own = "train.timestep_type" in recipe.written or not recipe.from_example
        tt = recipe.get("train.timestep_type") if own else ui.get("train.timestep_type", "sigmoid")
        d.put("train.timestep_type", tt, (
            f"'{tt}' timestep sampling: {recipe.name}'s choice for {spec.label}" if own else
            f"'{tt}' timestep sampling: the trainer UI's choice for {spec.label} ({recipe.name} leaves the "
            f"trainer's default, '{recipe.get('train.timestep_type')}')"))
        bias = {"style": "style", "concept": "content"}.get(intent.training_type, "balanced")
        d.put("train.content_or_style", bias, {
            "style": "Bias towards low-noise timesteps, where a style's textures and colours are learned",
            "content": "Bias towards high-noise timesteps, where a concept's composition and layout are learned",
            "balanced": f"Balanced timesteps (ai-toolkit's default): a {intent.training_type} needs both layout "
                        "and detail"}[bias])
    else:
        d.put("train.noise_scheduler", sched, f"{spec.label} is a diffusion (not flow) model: '{sched}' as in the UI")
        d.put("sample.sampler", ui.get("sample.sampler", sched), "The sampler the UI pairs with this model")
    # dataset
    folder = str(getattr(dataset, "root", None) or "/path/to/dataset")
    d.put("datasets[].folder_path", folder, "The analysed dataset" if dataset is not None else
          "Placeholder: set the folder with your images")
    d.put("datasets[].caption_ext", "txt", "Captions in .txt files next to the images")
    d.put("datasets[].num_repeats", 1, "Each image once per epoch; training length is set by the steps")
    dropout = V.number(recipe.get("datasets[].caption_dropout_rate", 0.05))
    d.put("datasets[].caption_dropout_rate", dropout, (
        f"{dropout:.0%} of steps without the caption ({recipe.name}'s): the adapter also works with short prompts; "
        "with cached text embeddings the trainer caches the dropped caption's embedding too"))
    flip = intent.training_type in ("style", "concept")
    d.put("datasets[].flip_x", flip, "Mirrored copies add variety to a style or concept" if flip else
          f"No mirroring: a {intent.training_type} can be asymmetric (faces, markings, text, logos)")
    flip = d.value("datasets[].flip_x", flip, V.boolean)
    n, _ = V.image_count(dataset)
    frames = d.value("datasets[].num_frames", check=V.positive_int) or 1
    res_top = max(d.value("datasets[].resolution", V.resolutions(spec, recipe, dataset, frames)[0],
                          V.resolution_list))
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
    cls, cls_why = V.class_word(intent.training_type, dataset)
    # the trainer caches text embeddings for every arch the UI offers the switch on (edit models included: the
    # control image is part of the cache key, toolkit/dataloader_mixins.py)
    return "train.cache_text_embeddings" not in spec.hidden_sections, cls, cls_why


def _preview(d: V.Draft, spec: ModelSpec, recipe: Recipe) -> Preview:
    """The previews the recipe renders (the user's values where they set them)."""
    recipe_w = V.positive_int(recipe.get("sample.width")) or 1024
    recipe_h = V.positive_int(recipe.get("sample.height")) or recipe_w
    frames = (V.positive_int(recipe.get("sample.num_frames")) or 1) if spec.is_video else 1
    w = d.value("sample.width", recipe_w, V.positive_int)
    h = d.value("sample.height", recipe_h, V.positive_int)
    frames = d.value("sample.num_frames", frames, V.positive_int) if spec.is_video else 1
    on = d.value("train.disable_sampling", False, V.boolean) is not True
    return Preview(w, h, frames, on)


def _length(d: V.Draft, recipe: Recipe, intent: Intent, n: int, n_why: str, batch: int) -> None:
    """Accumulation, steps, schedule and cadences, computed from the effective (locked if usable) values."""
    d.put("train.gradient_accumulation", 1, "No accumulation: at batch 1 on a small dataset it only makes each "
          "update wait for more images (ai-toolkit's examples use 1)")
    if d.is_locked("train.gradient_accumulation_steps") and not d.is_locked("train.gradient_accumulation"):
        d.reasons["train.gradient_accumulation"] = "Accumulation 1 here: the gradient_accumulation_steps you set " \
                                                   "carries the accumulation"
    repeats = d.value("datasets[].num_repeats", 1, V.positive_int)
    total, why = V.steps(recipe, intent, n, n_why, repeats, batch)
    d.put("train.steps", total, why)
    total = d.value("train.steps", total, V.positive_int)
    lr = d.value("train.lr", check=V.positive_float)
    locked_name = d.value("train.lr_scheduler", None, lambda v: v if isinstance(v, str) else None)
    name, params, s_why, p_why = V.scheduler(lr, total, locked_name)
    d.put("train.lr_scheduler", name, s_why)
    if params:
        d.put("train.lr_scheduler_params", params, p_why)
    every = V.cadence(recipe.get("sample.sample_every"), total)
    d.put("sample.sample_every", every, f"Previews every {every} steps ({recipe.name}'s interval, at most the run)")
    sample_every = d.value("sample.sample_every", every, V.positive_int)
    save = V.cadence(recipe.get("save.save_every"), total)
    if save != sample_every and V.positive_int(recipe.get("save.save_every")) == V.positive_int(
            recipe.get("sample.sample_every")):
        save = sample_every
    d.put("save.save_every", save, "Checkpoints at the same steps as the previews, so each can be compared")
    save_every = d.value("save.save_every", save, V.positive_int)
    keep = min(V.positive_int(recipe.get("save.max_step_saves_to_keep")) or V.DEFAULT_KEEP,
               max(1, total // save_every))
    d.put("save.max_step_saves_to_keep", keep, f"Keep the last {keep} checkpoints (LoRA files are small)")


# ---- memory ----------------------------------------------------------------------------------------------------
def _mem_paths(m: Mem, spec: ModelSpec, batch: int, preview: Preview | None) -> dict[str, Any]:
    """The setting values of a plan; ``preview`` None: the training job alone (sampling disabled)."""
    q = m.qtype is not None and spec.quantization_supported
    out: dict[str, Any] = {
        "train.batch_size": batch, "train.gradient_checkpointing": m.gc,
        "model.quantize": q, "model.quantize_te": m.te_quant and spec.te_quantization_supported,
        "train.cache_text_embeddings": m.te_cache, "train.unload_text_encoder": False,
        "model.low_vram": m.low_vram, "datasets[].resolution": list(m.res),
        "train.diff_output_preservation": m.dop, "train.ema_config.use_ema": m.ema,
        "train.disable_sampling": preview is None or not preview.on,
    }
    if preview is not None:
        out["sample.width"], out["sample.height"] = preview.width, preview.height
        if spec.is_video:
            out["sample.num_frames"] = preview.frames
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
               predictor: Callable[..., Any]) -> Callable[[Mem, int, Preview | None], Any]:
    model, memo = job_model(), {}
    base = {**d.values, "train.steps": 1000, "train.gradient_accumulation": 1}

    def evaluate(m: Mem, batch: int, preview: Preview | None) -> Any:
        paths = {**_mem_paths(m, spec, batch, preview), **locked}
        if preview is None:
            paths["train.disable_sampling"] = True  # the training job alone, whatever the user set
        key = repr(sorted(paths.items(), key=lambda kv: kv[0]))
        if key not in memo:
            data: dict[str, Any] = {}
            for path, value in {**base, **paths}.items():
                V.put_path(data, path, value)
            memo[key] = predictor(model.model_validate(data), profile, dataset)
        return memo[key]

    return evaluate


def _free_levers(te_ok: bool, spec: ModelSpec, pin: Callable[[Mem], Mem]) -> Callable[[Mem], Mem]:
    """Memory savers that cost nothing in quality or time per step (cached text embeddings)."""
    def free(m: Mem) -> Mem:
        return pin(replace(m, te_cache=True, te_quant=spec.te_quantization_supported)) if te_ok else m
    return free


def _gib(p: Any) -> str:
    return (f"{p.peak_vram_gib:.1f} GiB (up to {p.high_gib:.1f})" if getattr(p, "peak_vram_gib", None) is not None
            else "unknown")


def _rate(p: Any) -> str:
    return f"{p.step_seconds:.2g} s/step" if getattr(p, "step_seconds", None) else "unknown s/step"


def _memory_reasons(d: V.Draft, spec: ModelSpec, recipe: Recipe, f: Found, res_why: str, intent: Intent,
                    cls: str | None, cls_why: str, dataset: Any) -> None:
    p, m = f.prediction, f.mem
    budget = f"{p.budget_gib:.1f} GiB" if p.budget_gib is not None else "no known budget"
    peak = f"training predicted at {_gib(p)}"

    def why_lever(field: str, on: str, off: str) -> str:
        for i, (label, mem, pred) in enumerate(f.trail):
            if label and getattr(mem, field) != getattr(f.trail[i - 1][1], field):
                last = i == len(f.trail) - 1
                before = f.trail[i - 1][2]
                known = (f" — {recipe.name}, written for a {recipe.vram_gb:g} GB card, runs with it; a plan without "
                         f"it must leave {RECIPE_HEADROOM:.0%} of the card free" if before.verdict == "fits" and
                         recipe.vram_gb else "")
                return (f"{on}: before this step of the plan training was predicted at {_gib(before)} "
                        f"against {budget}{known}" + (f"; with it, {_gib(pred)}" if last else
                                                      " (later steps were needed too)"))
        return off

    label = (f"'{intent.priority}' plan" if p.verdict != "unknown" else
             "cautious plan used when the model's size is unknown")
    batch_why = (f"Batch {f.batch}: ai-toolkit's practice and {recipe.name}'s; the steps count optimizer updates, so "
                 "a larger batch would cost time per step without training more" if f.batch == 1 else
                 f"Batch {f.batch}: nothing larger can fit")
    occupancy = _bucket_occupancy(dataset, m.res)
    if occupancy:
        batch_why += f"; the dataset's buckets hold {occupancy}"
    d.put("train.batch_size", f.batch, batch_why)
    no_gc = f.dropped.get("gc_off")
    d.put("train.gradient_checkpointing", m.gc, (
        "Gradient checkpointing off: it changes no result, and the plan fits without it with room to spare "
        f"({peak} of {budget}); each step skips recomputing the forward pass" if not m.gc else
        "Gradient checkpointing on (ai-toolkit's default): recomputes activations instead of storing them" + (
            f"; without it training would need {_gib(no_gc)} against {budget}" if no_gc is not None else "")))
    d.put("model.quantize", m.qtype is not None, why_lever("qtype", f"Transformer quantized ({m.qtype})", (
        f"Transformer kept in bf16: it fits without quantization ({peak} of {budget})" if m.qtype is None else
        f"Transformer quantized from the start of the {label}")) if spec.quantization_supported else
        f"{spec.label} offers no quantization")
    if m.qtype is not None and spec.quantization_supported:
        d.put("model.qtype", m.qtype, (
            f"'{m.qtype.split('|')[0]}' with {spec.label}'s accuracy-recovery adapter, which restores most of what "
            "the low-bit weights lose (ai-toolkit's own recipe for small cards)" if "|" in m.qtype else
            f"'{m.qtype}': the least lossy type that makes the plan fit"))
    d.put("model.quantize_te", m.te_quant and spec.te_quantization_supported, why_lever(
        "te_quant", "Text encoder in 8 bits", "Text encoder in 8 bits for the caching pass (loaded once, then freed)"
        if m.te_quant and m.te_cache else "Text encoder quantized as part of the plan" if m.te_quant else
        "Text encoder kept in full precision"))
    if m.te_quant and spec.te_quantization_supported:
        d.put("model.qtype_te", "qfloat8", "qfloat8: 8-bit text encoder, barely changes the embeddings")
    d.put("train.cache_text_embeddings", m.te_cache, why_lever(
        "te_cache", "Text embeddings cached and the encoder unloaded", "Embeddings cached from the start of the "
        f"{label}" if m.te_cache else "Text encoder stays loaded: the plan fits with it"))
    d.put("train.unload_text_encoder", False, "Not unloaded without caching: it would train on the trigger word "
          "alone and ignore the captions")
    d.put("model.low_vram", m.low_vram, why_lever("low_vram", "low_vram on", (
        "low_vram on from the start of the plan: parts wait on the CPU while loading" if m.low_vram else
        "low_vram off: not needed, so loading is faster")))
    if spec.supports_layer_offloading:
        d.put("model.layer_offloading", m.offload > 0, why_lever(
            "offload", f"{m.offload:.0%} of the transformer's layers offloaded to RAM", "No layer offloading: "
            "it streams weights over PCIe every step"))
        if m.offload:
            d.put("model.layer_offloading_transformer_percent", m.offload, "The smallest step that fits")
            d.put("model.layer_offloading_text_encoder_percent", 1.0, "The text encoder runs once per step")
    d.put("datasets[].resolution", list(m.res), why_lever("res", f"Resolution lowered to {max(m.res)} px", res_why))
    _preview_reasons(d, spec, f)
    dop_drop = f.dropped.get("dop")
    if m.dop:
        d.put("train.diff_output_preservation", True, (
            f"DOP on for a {intent.training_type} under 'quality': it keeps what the model draws for '{cls}' while "
            "it learns the trigger; its price is in the plan's notes (turn it off to train much faster)"))
    else:
        d.put("train.diff_output_preservation", False, (
            f"DOP off: with it training would need {_gib(dop_drop)} against {budget}" if dop_drop is not None else
            "DOP off (ai-toolkit's default and every example's)" + (
                f"; it is offered in the plan's notes with its price" if intent.training_type in V.SUBJECTS
                and cls is not None else f"; {cls_why}" if intent.training_type in V.SUBJECTS else "")))
    if m.dop:
        d.put("train.diff_output_preservation_class", cls, f"The class word the trigger stands for: {cls_why}")
        d.put("train.diff_output_preservation_multiplier", 1.0, "Preservation weighted like the training loss")
    ema_drop = f.dropped.get("ema")
    d.put("train.ema_config.use_ema", m.ema, (
        "EMA on for quality: averages the adapter over recent steps (one copy of the adapter, no extra passes)"
        if m.ema and intent.priority == "quality" else f"EMA on: {recipe.name}'s choice" if m.ema else
        f"EMA off: with it training would need {_gib(ema_drop)} against {budget}" if ema_drop is not None else
        f"EMA off for '{intent.priority}'" + (f" ({recipe.name} has it on)" if recipe.get(
            "train.ema_config.use_ema") else "")))


def _preview_reasons(d: V.Draft, spec: ModelSpec, f: Found) -> None:
    first = f.preview_trail[0] if f.preview_trail else None
    pv = f.preview
    if first is None or len(f.preview_trail) == 1:
        why = "The previews fit beside the training state" if first is not None else "Previews as the recipe has them"
        if first is not None:
            why += f" (predicted {_gib(first[2])})"
        d.put("sample.width", pv.width, why)
        d.put("sample.height", pv.height, why)
        if spec.is_video:
            d.put("sample.num_frames", pv.frames, why)
        d.put("train.disable_sampling", not pv.on, "Sampling off, as you set it" if not pv.on else
              "Previews on: they show when the adapter starts to over-train")
        return
    orig = first[1]
    lowvram = any(label == "low_vram" for label, _, _ in f.preview_trail)
    cut = (f"the recipe's previews ({orig.describe()}) would need {_gib(first[2])} beside the training state, "
           f"over {f.prediction.budget_gib:.1f} GiB; " + ("low_vram (an offloading preview pipeline) and " if lowvram
                                                         else "") + "previews are cut, training is not")
    why = (f"Sampling off: {cut} (even the smallest previews do not fit)" if not pv.on else
           f"Previews at {pv.describe()}: {cut}" if pv != orig else f"Previews as the recipe has them: {cut}")
    for path, value in (("sample.width", pv.width), ("sample.height", pv.height),
                        ("sample.num_frames", pv.frames if spec.is_video else None),
                        ("train.disable_sampling", not pv.on)):
        if value is not None:
            d.put(path, value, why)


def _bucket_occupancy(dataset: Any, res: tuple[int, ...]) -> str:
    """'3 to 12 images (median 5)' at the largest training size, from the dataset analysis."""
    plans = {b.resolution: b for b in getattr(dataset, "buckets", None) or ()}
    plan = plans.get(max(res)) if res else None
    if plan is None or not plan.buckets:
        return ""
    counts = sorted(b.count for b in plan.buckets)
    return (f"{counts[0]} to {counts[-1]} images (median {counts[len(counts) // 2]}) at {max(res)} px; a batch larger "
            "than a bucket is padded with duplicates of its images")


def _why_not(profile: Any, f: Found, p: Any, spec: ModelSpec) -> str:
    if profile.gpu is None:
        return NO_GPU
    if p.verdict == "unknown":
        return f"cannot predict memory for {spec.label}: {p.verdict_reason}"
    t = f.prediction
    need = f"{t.peak_vram_gib:.1f} GiB (up to {t.high_gib:.1f})" if t.peak_vram_gib is not None else "more"
    return (f"training needs {need} even at batch {f.batch} with {f.mem.describe()}; the budget is "
            f"{t.budget_gib:.1f} GiB")


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
    res = V.resolution_list(locked.get("datasets[].resolution")) if "datasets[].resolution" in locked else None
    if res:
        fixed["res"] = tuple(res)
    return (lambda m: replace(m, **fixed)) if fixed else (lambda m: m)


def _pinned(lever: Lever, pin: Callable[[Mem], Mem]) -> Lever:
    def apply(m: Mem) -> Mem | None:
        nxt = lever.apply(m)
        return None if nxt is None else pin(nxt)
    return Lever(lever.label, apply)


def _pinned_preview(step: Callable[[Preview], Preview | None], locked: Mapping[str, Any]
                    ) -> Callable[[Preview], Preview | None]:
    """A preview lever that leaves the preview values the user set alone."""
    def apply(p: Preview) -> Preview | None:
        nxt = step(p)
        if nxt is None:
            return None
        keep = {"width": "sample.width", "height": "sample.height", "frames": "sample.num_frames",
                "on": "train.disable_sampling"}
        nxt = replace(nxt, **{f: getattr(p, f) for f, path in keep.items() if path in locked})
        return None if nxt == p else nxt
    return apply


# ---- small helpers -----------------------------------------------------------------------------------------------
def _locked_true(locked: Mapping[str, Any], path: str) -> bool:
    return bool(locked.get(path))
