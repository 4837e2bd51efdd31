"""Validation rules for cross-field trainer behaviour: schedulers, optimizer, flow matching, text encoders,
DOP / BPP and legacy-flux-only switches. Sources: ``reference/aitk-schema.md`` §E–F and
the ai-toolkit files named in each docstring (upstream 27a03a91). Quantization and network rules are in
``_rules_model.py``."""

from __future__ import annotations

from typing import Iterator

from .validate import UNSET, Context, Fix, Issue, num

# toolkit/scheduler.py: the keyword arguments each scheduler the toolkit builds itself accepts (torch / diffusers
# signatures). The trainer adds total_iters=steps (renamed T_max / T_0 for the cosines; deleted for warmup).
_TOOLKIT_SCHEDULERS = {
    "constant": {"factor", "total_iters", "last_epoch"},
    "linear": {"start_factor", "end_factor", "total_iters", "last_epoch"},
    "cosine": {"T_max", "eta_min", "last_epoch"},
    "cosine_with_restarts": {"T_0", "T_mult", "eta_min", "last_epoch"},
    "constant_with_warmup": {"num_warmup_steps", "last_epoch"},
}
# diffusers SchedulerType names the toolkit does not build itself: its fallback passes total_iters -> ValueError
_DIFFUSERS_ONLY = {"polynomial", "piecewise_constant", "cosine_with_min_lr", "cosine_warmup_with_min_lr",
                   "warmup_stable_decay", "reduce_lr_on_plateau", "linear_with_warmup", "cosine_with_warmup"}
# toolkit/optimizer.py passes eps=1e-6 to these (any name starting prodigy / dadaptation too)
_EPS_OPTIMIZERS = {"adam", "adamw", "adam8bit", "adamw8bit", "ademamix8bit", "adam8", "adamw8"}
# archs on the legacy model class, which build the noise scheduler and the preview sampler from these keys
FLOW_LEGACY = {"flux", "lumina2", "sd3", "auraflow"}
EPSILON_LEGACY = {"sd1", "sd2", "sdxl", "ssd", "vega", "pixart", "pixart_sigma"}
# toolkit/config_modules.py validate_configs: unload_text_encoder raises for these backend archs
_UNLOAD_TE_RAISES = {"qwen_image_edit", "boogu_image_edit"}


def is_true(value: object) -> bool:
    return value is True


def flow_model(ctx: Context) -> bool | None:
    """Whether the job's model is flow-matching; None when unknown."""
    if ctx.arch is not None:
        return bool(ctx.arch.flow_matching)
    if ctx.arch_id in FLOW_LEGACY:
        return True
    if ctx.arch_id in EPSILON_LEGACY:
        return False
    return None


# ---- learning-rate scheduler and optimizer -----------------------------------------------------------------
def lr_scheduler_name(ctx: Context) -> Iterator[Issue]:
    """§E train.lr_scheduler (toolkit/scheduler.py): the trainer always adds total_iters=steps, so ``step``
    (torch StepLR) raises TypeError and every diffusers-only name raises ValueError at start."""
    name = ctx.get("train.lr_scheduler")
    if name == "step":
        yield Issue("lr-scheduler-step", "error", "train.lr_scheduler",
                    "lr_scheduler 'step' crashes the trainer at start: it always passes total_iters, which torch's "
                    "StepLR does not accept (TypeError).",
                    fix=Fix.of("Use the constant schedule", ("train.lr_scheduler", "constant"),
                               ("train.lr_scheduler_params", UNSET)))
    elif isinstance(name, str) and name in _DIFFUSERS_ONLY:
        target = "cosine" if "cosine" in name else "constant"
        yield Issue("lr-scheduler-diffusers", "error", "train.lr_scheduler",
                    f"lr_scheduler '{name}' is a diffusers schedule the trainer cannot build: it passes total_iters, "
                    f"which that schedule rejects (ValueError at start). Use one of "
                    f"{', '.join(_TOOLKIT_SCHEDULERS)}.",
                    fix=Fix.of(f"Use the {target} schedule", ("train.lr_scheduler", target),
                               ("train.lr_scheduler_params", UNSET)))
    elif name not in _TOOLKIT_SCHEDULERS:
        yield Issue("invalid-train-lr-scheduler", "error", "train.lr_scheduler",
                    f"lr_scheduler {name!r} is not a schedule ai-toolkit knows; it raises at start. Use one of "
                    f"{', '.join(_TOOLKIT_SCHEDULERS)}.",
                    fix=Fix.of("Use the constant schedule", ("train.lr_scheduler", "constant"),
                               ("train.lr_scheduler_params", UNSET)))


def lr_scheduler_params(ctx: Context) -> Iterator[Issue]:
    """toolkit/scheduler.py + BaseSDTrainProcess: lr_scheduler_params go verbatim to the torch constructor, so an
    argument it does not take raises TypeError (the fork wizard's num_cycles / warmup_steps bug, review B1)."""
    name = ctx.get("train.lr_scheduler")
    params = ctx.raw("train.lr_scheduler_params", default=None)
    if name not in _TOOLKIT_SCHEDULERS or not isinstance(params, dict):
        return
    bad = sorted(k for k in params if k not in _TOOLKIT_SCHEDULERS[name])
    if bad:
        yield Issue("lr-scheduler-params", "error", "train.lr_scheduler_params",
                    f"lr_scheduler '{name}' does not take {', '.join(bad)}; the trainer passes lr_scheduler_params "
                    f"to the scheduler as they are, so it crashes at start (TypeError). It accepts: "
                    f"{', '.join(sorted(_TOOLKIT_SCHEDULERS[name] - {'total_iters', 'T_max', 'T_0'}))}.",
                    fix=Fix.of(f"Remove {', '.join(bad)}",
                               *((f"train.lr_scheduler_params.{k}", UNSET) for k in bad)))


def lr_scheduler_linear_warms_up(ctx: Context) -> Iterator[Issue]:
    """§E: 'linear' is torch LinearLR, which by default ramps the LR *up* from lr/3 to lr over the run."""
    if ctx.get("train.lr_scheduler") != "linear":
        return
    start = num(ctx.raw("train.lr_scheduler_params.start_factor", default=1 / 3))
    end = num(ctx.raw("train.lr_scheduler_params.end_factor", default=1.0))
    if start is not None and end is not None and end > start:
        yield Issue("lr-scheduler-linear-warmup", "warning", "train.lr_scheduler",
                    f"'linear' here is torch's LinearLR: the learning rate climbs from {start:.3g}×lr to "
                    f"{end:.3g}×lr over the run instead of decaying. Set start_factor / end_factor to decay.",
                    fix=Fix.of("Decay linearly from lr to lr/100",
                               ("train.lr_scheduler_params.start_factor", 1.0),
                               ("train.lr_scheduler_params.end_factor", 0.01)))


def lr_scheduler_never_restarts(ctx: Context) -> Iterator[Issue]:
    """toolkit/scheduler.py: cosine_with_restarts gets T_0 = total_iters = steps, so its first cycle is the whole
    run and it never restarts."""
    params = ctx.raw("train.lr_scheduler_params", default={})
    if ctx.get("train.lr_scheduler") == "cosine_with_restarts" and "max_iterations" not in (params or {}):
        yield Issue("lr-scheduler-no-restarts", "suggestion", "train.lr_scheduler",
                    "cosine_with_restarts never restarts here: the trainer sets its first cycle to the whole run "
                    "(T_0 = steps), so it behaves like 'cosine'.",
                    fix=Fix.of("Use the cosine schedule", ("train.lr_scheduler", "cosine")))


def optimizer_eps(ctx: Context) -> Iterator[Issue]:
    """§F / toolkit/optimizer.py: Adam-family, Prodigy and D-Adaptation get eps=1e-6 from the toolkit, so an
    ``eps`` in optimizer_params is a second value for the same argument (TypeError at optimizer build)."""
    name = str(ctx.get("train.optimizer") or "").lower()
    if not ctx.is_set("train.optimizer_params.eps"):
        return
    if name in _EPS_OPTIMIZERS or name.startswith(("prodigy", "dadaptation")):
        yield Issue("optimizer-eps", "error", "train.optimizer_params",
                    f"optimizer_params.eps crashes the '{name}' optimizer at start: the toolkit already passes "
                    f"eps=1e-6 to it (TypeError: multiple values for 'eps').",
                    fix=Fix.of("Remove optimizer_params.eps", ("train.optimizer_params.eps", UNSET)))


# ---- flow matching --------------------------------------------------------------------------------------------
def noise_scheduler_for_model(ctx: Context) -> Iterator[Issue]:
    """§E train.noise_scheduler: flow-matching archs must use 'flowmatch' (legacy classes build the scheduler from
    it; the flow timestep set-up is keyed on that exact string); epsilon archs (SD 1.x/2.x/XL) use ddpm."""
    flow, value = flow_model(ctx), ctx.get("train.noise_scheduler")
    if flow and value != "flowmatch":
        yield Issue("noise-scheduler-not-flowmatch", "error", "train.noise_scheduler",
                    f"This is a flow-matching model but noise_scheduler is {value!r}: the latents would be noised "
                    f"with a different schedule than the model's target (or the flow timestep settings skipped), "
                    f"which mis-trains silently. It must be 'flowmatch'.",
                    fix=Fix.of("Use flowmatch", ("train.noise_scheduler", "flowmatch")))
    elif flow is False and value == "flowmatch":
        yield Issue("noise-scheduler-flowmatch-on-epsilon", "warning", "train.noise_scheduler",
                    "This model is not flow-matching (it predicts noise), but noise_scheduler is 'flowmatch'.",
                    fix=Fix.of("Use ddpm", ("train.noise_scheduler", ctx.ui_default("train.noise_scheduler",
                                                                                     "ddpm"))))


def snr_weighting_on_flow(ctx: Context) -> Iterator[Issue]:
    """Review B3 / toolkit/train_tools.py apply_snr_weight: (min_)snr_gamma needs alphas_cumprod, which flow-matching
    schedulers do not have (AttributeError at the first loss)."""
    if not flow_model(ctx):
        return
    for path in ("train.min_snr_gamma", "train.snr_gamma"):
        gamma = num(ctx.get(path))
        if gamma is not None and gamma > 1e-6:
            key = path.split(".")[-1]
            yield Issue("min-snr-on-flow", "error", path,
                        f"{key} crashes training on a flow-matching model: SNR weighting needs the noise schedule's "
                        f"alphas_cumprod, which flow-matching schedulers do not have.",
                        fix=Fix.of(f"Remove {key}", (path, UNSET)))


def sampler_for_model(ctx: Context) -> Iterator[Issue]:
    """§E sample.sampler: only legacy model classes read it; 'flowmatch' for flow models, 'ddpm' for SD/SDXL."""
    value = ctx.get("sample.sampler")
    if ctx.arch_id in FLOW_LEGACY and value != "flowmatch":
        yield Issue("sampler-mismatch", "warning", "sample.sampler",
                    f"Preview sampler {value!r} does not match this flow-matching model; previews come out as noise.",
                    fix=Fix.of("Use flowmatch", ("sample.sampler", "flowmatch")))
    elif ctx.arch_id in EPSILON_LEGACY and value == "flowmatch":
        yield Issue("sampler-mismatch", "warning", "sample.sampler",
                    "Preview sampler 'flowmatch' does not match this noise-prediction model.",
                    fix=Fix.of("Use ddpm", ("sample.sampler", "ddpm")))


# ---- text encoders --------------------------------------------------------------------------------------------
def _caching_te(ctx: Context) -> bool:
    return is_true(ctx.get("train.cache_text_embeddings")) or (
        bool(ctx.datasets) and all(is_true(ctx.get("datasets[].cache_text_embeddings", i)) for i in ctx.datasets))


def unload_te_on_edit_model(ctx: Context) -> Iterator[Issue]:
    """§F9: unload_text_encoder raises for qwen_image_edit / boogu_image_edit; the UI disables it for every edit
    (instruction) model, whose control images are encoded together with the prompt."""
    if not is_true(ctx.get("train.unload_text_encoder")) or ctx.arch is None and ctx.arch_id not in _UNLOAD_TE_RAISES:
        return
    arch = ctx.arch
    if ctx.arch_id in _UNLOAD_TE_RAISES or arch.group == "instruction" or \
            "train.unload_text_encoder" in arch.hidden_sections:
        yield Issue("unload-te-edit-model", "error", "train.unload_text_encoder",
                    "unload_text_encoder cannot be used with an edit model: its control images are encoded together "
                    "with the prompt, so the text encoder must stay (the trainer raises for Qwen-Image-Edit). "
                    "Caching the text embeddings works.",
                    fix=Fix.of("Cache the text embeddings instead", ("train.unload_text_encoder", False),
                               ("train.cache_text_embeddings", True)))


def te_off_while_training_te(ctx: Context) -> Iterator[Issue]:
    """SDTrainer.hook_before_train_loop: unloading or caching the text encoder while train_text_encoder is on
    raises 'Cannot unload text encoder if training text encoder'."""
    te_off = is_true(ctx.get("train.unload_text_encoder")) or _caching_te(ctx)
    if is_true(ctx.get("train.train_text_encoder")) and te_off:
        yield Issue("te-unloaded-but-trained", "error", "train.train_text_encoder",
                    "train_text_encoder cannot be combined with unloading the text encoder or caching text "
                    "embeddings: the trainer raises at start.",
                    fix=Fix.of("Do not train the text encoder", ("train.train_text_encoder", False)))


def unload_te_ignores_captions(ctx: Context) -> Iterator[Issue]:
    """SDTrainer: unload_text_encoder (without caching) encodes only '' and the trigger word once; the dataset's
    captions are then ignored. §F UI exclusion: unload_text_encoder ⟷ cache_text_embeddings."""
    if not is_true(ctx.get("train.unload_text_encoder")):
        return
    if _caching_te(ctx):
        yield Issue("unload-and-cache-te", "suggestion", "train.unload_text_encoder",
                    "unload_text_encoder and cache_text_embeddings are both on; caching already unloads the text "
                    "encoder (the trainer UI allows only one).",
                    fix=Fix.of("Turn off unload_text_encoder", ("train.unload_text_encoder", False)))
    elif not (ctx.arch is not None and ctx.arch.group == "instruction") and ctx.arch_id not in _UNLOAD_TE_RAISES:
        yield Issue("unload-te-ignores-captions", "warning", "train.unload_text_encoder",
                    "With unload_text_encoder every image is trained with only the trigger word (or a blank "
                    "prompt): your captions are ignored. cache_text_embeddings saves the same memory and keeps them.",
                    fix=Fix.of("Cache the text embeddings instead", ("train.unload_text_encoder", False),
                               ("train.cache_text_embeddings", True)))


def cache_te_partial(ctx: Context) -> Iterator[Issue]:
    """§F8 validate_configs: when any dataset caches text embeddings, all must (ValueError otherwise)."""
    if is_true(ctx.get("train.cache_text_embeddings")):
        return
    flags = [is_true(ctx.get("datasets[].cache_text_embeddings", i)) for i in ctx.datasets]
    if any(flags) and not all(flags):
        yield Issue("cache-te-partial", "error", "datasets[].cache_text_embeddings",
                    "Only some datasets cache text embeddings; the trainer requires all or none (ValueError).",
                    index=flags.index(False),
                    fix=Fix.of("Cache text embeddings for every dataset", ("train.cache_text_embeddings", True)))


def cache_te_dynamic_captions(ctx: Context) -> Iterator[Issue]:
    """toolkit/dataloader_mixins.py: with cached text embeddings each caption is encoded once, so token dropout is
    skipped and shuffled tokens / random triggers are fixed at caching time. (Caption dropout still works: a blank
    or trigger-only embedding is cached too.)"""
    if not _caching_te(ctx):
        return
    for i in ctx.datasets:
        dynamic = [k for k, on in (
            ("token_dropout_rate", (num(ctx.get("datasets[].token_dropout_rate", i)) or 0) > 0),
            ("shuffle_tokens", is_true(ctx.get("datasets[].shuffle_tokens", i))),
            ("random_triggers", bool(ctx.get("datasets[].random_triggers", i))),
        ) if on]
        if dynamic:
            yield Issue("cache-te-dynamic-captions", "warning", f"datasets[].{dynamic[0]}",
                        f"{', '.join(dynamic)} have no effect with cached text embeddings: each caption is encoded "
                        f"once, before training.", index=i,
                        fix=Fix.of(f"Remove {', '.join(dynamic)}", *((f"datasets[].{k}", UNSET, i) for k in dynamic)))


# ---- output preservation --------------------------------------------------------------------------------------
def has_network(ctx: Context) -> bool:
    return isinstance(ctx.raw("network", default=None), dict)


def preservation(ctx: Context) -> Iterator[Issue]:
    """§F10 validate_configs: DOP and BPP together raise. SDTrainer.__init__: DOP needs a trigger word (process or
    dataset), a network and no text-encoder training; BPP needs a network."""
    dop, bpp = is_true(ctx.get("train.diff_output_preservation")), is_true(ctx.get("train.blank_prompt_preservation"))
    if dop and bpp:
        yield Issue("dop-and-bpp", "error", "train.blank_prompt_preservation",
                    "Differential output preservation and blank prompt preservation cannot both be on: the trainer "
                    "raises at start. Keep one.",
                    fix=Fix.of("Turn off blank prompt preservation", ("train.blank_prompt_preservation", False)))
    off_dop = Fix.of("Turn off DOP", ("train.diff_output_preservation", False))
    if dop:
        triggers = [ctx.get("process.trigger_word")] + [ctx.get("datasets[].trigger_word", i) for i in ctx.datasets]
        if not any(isinstance(t, str) and t.strip() for t in triggers):
            yield Issue("dop-without-trigger", "error", "train.diff_output_preservation",
                        "Differential output preservation needs a trigger word (it swaps the trigger for the class "
                        "word); without one the trainer raises at start. Set a trigger word or turn DOP off.",
                        fix=off_dop)
        cls = ctx.get("train.diff_output_preservation_class")
        if not (isinstance(cls, str) and cls.strip()):
            yield Issue("dop-without-class", "warning", "train.diff_output_preservation_class",
                        "DOP has no class word, so the trigger word is replaced by nothing; set the class your "
                        "subject belongs to (e.g. 'woman', 'dog', 'style').")
        if is_true(ctx.get("train.train_text_encoder")):
            yield Issue("dop-train-te", "error", "train.diff_output_preservation",
                        "DOP does not work with train_text_encoder: the trainer raises at start.", fix=off_dop)
    for on, path, name in ((dop, "train.diff_output_preservation", "DOP"),
                           (bpp, "train.blank_prompt_preservation", "BPP")):
        if on and ctx.has_process and not has_network(ctx):
            yield Issue("preservation-without-network", "error", path,
                        f"{name} needs a LoRA/LoKr network; this job has none (full fine-tune), so the trainer "
                        f"raises at start.", fix=Fix.of(f"Turn off {name}", (path, False)))


# ---- switches that only legacy FLUX accepts, and other validate_configs rules ------------------------------------
def flux_only_switches(ctx: Context) -> Iterator[Issue]:
    """§F4 / §F11: attn_masking, split_model_over_gpus and a decorator raise unless the model is legacy flux."""
    if ctx.arch_id == "flux" or is_true(ctx.get("model.is_flux")):
        return
    for path in ("model.attn_masking", "model.split_model_over_gpus"):
        if is_true(ctx.get(path)):
            key = path.split(".")[-1]
            yield Issue(f"{key.replace('_', '-')}-non-flux", "error", path,
                        f"{key} only works with FLUX.1 / Flex.1 (legacy flux); on this model the trainer raises.",
                        fix=Fix.of(f"Turn {key} off", (path, False)))
    if ctx.raw("decorator", default=None) is not None:
        yield Issue("decorator-non-flux", "error", "decorator.num_tokens",
                    "A decorator can only be trained on FLUX.1 / Flex.1; on this model the trainer raises.",
                    fix=Fix.of("Remove the decorator section", ("decorator", UNSET)))


def guidance_conflict(ctx: Context) -> Iterator[Issue]:
    """§F6 validate_configs: bypass_guidance_embedding with do_guidance_loss raises (legacy flux with
    use_flux_cfg forces bypass on)."""
    forced = (ctx.arch_id == "flux" or is_true(ctx.get("model.is_flux"))) and is_true(ctx.get("model.use_flux_cfg"))
    if is_true(ctx.get("train.do_guidance_loss")) and (is_true(ctx.get("train.bypass_guidance_embedding")) or forced):
        patch = [("train.bypass_guidance_embedding", False)] + ([("model.use_flux_cfg", False)] if forced else [])
        yield Issue("bypass-with-guidance-loss", "error", "train.bypass_guidance_embedding",
                    "The guidance embedding cannot be bypassed while training with the guidance loss: the trainer "
                    "raises at start." + (" use_flux_cfg turns the bypass on." if forced else ""),
                    fix=Fix.of("Keep the guidance embedding", *patch))


def gradient_accumulation_conflict(ctx: Context) -> Iterator[Issue]:
    """§F3 TrainConfig: gradient_accumulation > 1 with gradient_accumulation_steps != 1 raises."""
    ga, gas = num(ctx.get("train.gradient_accumulation")), num(ctx.get("train.gradient_accumulation_steps"))
    if ga is not None and ga > 1 and gas is not None and gas != 1:
        yield Issue("grad-accum-conflict", "error", "train.gradient_accumulation_steps",
                    "gradient_accumulation and the legacy gradient_accumulation_steps cannot both be used: the "
                    "trainer raises. Keep gradient_accumulation.",
                    fix=Fix.of("Remove gradient_accumulation_steps", ("train.gradient_accumulation_steps", UNSET)))


def poi_deprecated(ctx: Context) -> Iterator[Issue]:
    """§F5 DatasetConfig: any non-null poi raises (deprecated)."""
    for i in ctx.datasets:
        if ctx.get("datasets[].poi", i) is not None:
            yield Issue("poi-deprecated", "error", "datasets[].poi", "poi is no longer supported; the trainer "
                        "raises when it is set.", index=i, fix=Fix.of("Remove poi", ("datasets[].poi", UNSET, i)))


RULES = (
    lr_scheduler_name, lr_scheduler_params, lr_scheduler_linear_warms_up, lr_scheduler_never_restarts,
    optimizer_eps, noise_scheduler_for_model, snr_weighting_on_flow, sampler_for_model, unload_te_on_edit_model,
    te_off_while_training_te, unload_te_ignores_captions, cache_te_partial, cache_te_dynamic_captions,
    preservation, flux_only_switches, guidance_conflict, gradient_accumulation_conflict, poi_deprecated,
)
