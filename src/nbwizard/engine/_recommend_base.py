"""The values of :mod:`nbwizard.engine.recommend` that do not move memory (private): names, the network, the
optimizer and learning rate, noise and timesteps, the dataset's loading, previews' prompts, the run's length and
cadences. Each comes from the arch's recipe (ai-toolkit's example, else the UI's defaults) or the dataset, with
its reason.
"""

from __future__ import annotations

from typing import Any

from . import _recommend_values as V
from ._recommend_search import Preview
from .intent import Intent
from .models import ModelSpec
from .recipes import Recipe


def base(d: V.Draft, spec: ModelSpec, recipe: Recipe, profile: Any, intent: Intent, dataset: Any
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


def preview_of(d: V.Draft, spec: ModelSpec, recipe: Recipe) -> Preview:
    """The previews the recipe renders (the user's values where they set them)."""
    recipe_w = V.positive_int(recipe.get("sample.width")) or 1024
    recipe_h = V.positive_int(recipe.get("sample.height")) or recipe_w
    frames = (V.positive_int(recipe.get("sample.num_frames")) or 1) if spec.is_video else 1
    w = d.value("sample.width", recipe_w, V.positive_int)
    h = d.value("sample.height", recipe_h, V.positive_int)
    frames = d.value("sample.num_frames", frames, V.positive_int) if spec.is_video else 1
    on = d.value("train.disable_sampling", False, V.boolean) is not True
    return Preview(w, h, frames, on)


def length(d: V.Draft, recipe: Recipe, intent: Intent, n: int, n_why: str, batch: int) -> None:
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
    if save != sample_every and sample_every <= total and V.positive_int(
            recipe.get("save.save_every")) == V.positive_int(recipe.get("sample.sample_every")):
        save = sample_every  # (a user's interval longer than the run saves nothing: the recipe's stays)
    d.put("save.save_every", save, "Checkpoints at the same steps as the previews, so each can be compared")
    save_every = d.value("save.save_every", save, V.positive_int)
    keep = min(V.positive_int(recipe.get("save.max_step_saves_to_keep")) or V.DEFAULT_KEEP,
               max(1, total // save_every))
    d.put("save.max_step_saves_to_keep", keep, f"Keep the last {keep} checkpoints (LoRA files are small)")
