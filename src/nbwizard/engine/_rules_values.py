"""Validation rules for single values: required keys, enumerations (``reference/aitk-schema.md`` §E), keys the
trainer ignores (misspelt, of the other trainer flavour, or without effect), numbers and resolutions."""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterator

from ._rules_config import flow_model
from .settings import setting, settings
from .validate import UNSET, Context, Fix, Issue, num, shown, unusable_number

# §E: (setting, severity, what the trainer does with a value outside the list)
_ENUMS = (
    ("job", "error", "run.py rejects it (ValueError)"),
    ("process.type", "error", "ai-toolkit has no process of that type and stops (ValueError 'Unknown process type')"),
    ("network.type", "warning", "ai-toolkit silently builds a plain LoRA instead"),
    ("train.optimizer", "error", "building the optimizer raises 'Unknown optimizer type'"),
    ("train.timestep_type", "error", "training raises ValueError when timesteps are drawn"),
    ("train.loss_type", "warning", "ai-toolkit silently trains with MSE instead"),
    ("train.loss_target", "warning", "ai-toolkit does not recognise it"),
    ("train.content_or_style", "warning", "ai-toolkit silently treats it as 'balanced'"),
    ("train.guidance_loss_schedule", "warning", "ai-toolkit does not recognise it"),
    ("train.dtype", "error", "the name is passed on unchecked and loading the model fails"),
    ("save.dtype", "error", "the name is passed on unchecked and saving fails"),
    ("model.vae_dtype", "error", "the name is passed on unchecked and loading the VAE fails"),
    ("model.te_dtype", "error", "the name is passed on unchecked and loading the text encoder fails"),
    ("save.save_format", "error", "SaveConfig raises ValueError"),
    ("sample.format", "warning", "previews may not be written"),
    ("datasets[].type", "error", "the dataloader raises 'invalid dataset type'"),
)
# §E process.type: processes that are not trainers but exist (kept valid; the wizard does not configure them)
_OTHER_PROCESSES = {"ultimate_slider_trainer", "image_reference_slider_trainer", "concept_replacer",
                    "dataset_tools", "captioners", "generators"}
_MEDIA_EXTENSIONS = {"jpg", "jpeg", "png", "webp", "gif", "bmp", "mp4", "avi", "mov", "webm", "mkv", "wmv", "m4v",
                     "flv"}
_ADAPTIVE_LR = ("prodigy", "dadaptation")  # toolkit/optimizer.py: lr < 0.1 replaced by 1.0
# settings the UI writes although nothing reads them; flagging them would only add noise
_QUIET_NO_EFFECT = {"process.device", "config.device"}


def _slug(path: str) -> str:
    return path.replace("[]", "").replace(".", "-").replace("_", "-")


def _closest(value: Any, choices: tuple, *fallbacks: Any) -> Any:
    """The choice ``value`` most likely meant (case, then spelling), else the first fallback that is a choice."""
    if isinstance(value, str):
        lowered = {str(c).lower(): c for c in choices}
        if value.strip().lower() in lowered:
            return lowered[value.strip().lower()]
        close = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
        if close:
            return lowered[close[0]]
    return next((f for f in fallbacks if f in choices), choices[0])


def _accepted(path: str, value: Any, choices: tuple) -> bool:
    if path == "train.optimizer":  # case-insensitive; any prodigy* / dadaptation* name is accepted
        return isinstance(value, str) and (value.lower() in choices or value.lower().startswith(_ADAPTIVE_LR))
    if path == "process.type":
        return value in choices or value in _OTHER_PROCESSES
    return value in choices


def _indices(ctx: Context, path: str) -> range:
    return ctx.datasets if path.startswith("datasets[]") else range(1)


# ---- required keys ------------------------------------------------------------------------------------------
def required_keys(ctx: Context) -> Iterator[Issue]:
    """§F1 ModelConfig raises without model.name_or_path; get_job needs config.name; the trainer needs a process
    and datasets with a folder_path (or dataset_path) (§H strict layer)."""
    name = ctx.get("config.name")
    if not (isinstance(name, str) and name.strip()):
        yield Issue("missing-config-name", "error", "config.name",
                    "The job needs a name: it names the output folder and the LoRA file.",
                    fix=Fix.of("Name it my_lora_v1", ("config.name", "my_lora_v1")))
    if not ctx.has_process:
        yield Issue("missing-process", "error", "process.type",
                    "The job has no process entry (config.process), so there is nothing to train.")
        return
    path = ctx.get("model.name_or_path")
    if not (isinstance(path, str) and path.strip()):
        known = ctx.arch is not None and ctx.is_set("model.arch")
        yield Issue("missing-model-path", "error", "model.name_or_path",
                    "Model path is required: the Hugging Face repo or local folder of the base model.",
                    fix=Fix.of(f"Use {ctx.arch.name_or_path}", ("model.name_or_path", ctx.arch.name_or_path))
                    if known and ctx.arch.name_or_path else None)
    folder = ctx.get("process.training_folder")
    if not (isinstance(folder, str) and folder.strip()):
        # jobs/process/BaseTrainProcess.py joins training_folder with the name: None raises TypeError at start
        yield Issue("missing-training-folder", "error", "process.training_folder",
                    "The job needs a training_folder (where checkpoints and samples go): without it the trainer "
                    "stops at start with a TypeError.",
                    fix=Fix.of("Use ./output", ("process.training_folder", "output")))
    if ctx.get("process.type") == "concept_slider":
        return
    if not ctx.datasets:
        yield Issue("missing-datasets", "error", "datasets[].folder_path",
                    "The job has no dataset: add the folder of training images.")
    for i in ctx.datasets:
        if not any(isinstance(v, str) and v.strip() for v in (ctx.get("datasets[].folder_path", i),
                                                             ctx.get("datasets[].dataset_path", i))):
            yield Issue("missing-dataset-folder", "error", "datasets[].folder_path",
                        "This dataset has no folder_path: the trainer would have no images to load.", index=i)


# ---- enumerations -------------------------------------------------------------------------------------------
def enumerations(ctx: Context) -> Iterator[Issue]:
    """§E: the values each consumer accepts, and what happens to any other value (raise, or a silent fallback)."""
    for path, severity, consequence in _ENUMS:
        if path != "job" and not ctx.has_process:
            continue
        choices = setting(path).choices or ()
        for i in _indices(ctx, path):
            value = ctx.get(path, i)
            if _accepted(path, value, choices) or (value is None and not setting(path).required):
                continue  # None on an optional setting means "falls back" (e.g. vae_dtype -> dtype)
            missing = value is None or value == ""
            fallback = _closest(value, choices, ctx.ui_default(path), setting(path).default,
                                "extension", "diffusion_trainer")
            what = f"{path.split('.')[-1]} is missing" if missing else f"{path.split('.')[-1]} {value!r} is not " \
                   f"a value ai-toolkit accepts"
            yield Issue(f"{'missing' if missing else 'invalid'}-{_slug(path)}", severity, path,
                        f"{what}: {consequence}. Accepted: {', '.join(map(str, choices))}.",
                        index=i if "[]" in path else None, fix=Fix.of(f"Use {fallback}", (path, fallback, i)))
    if ctx.has_process and (job := ctx.get("job")) in ("train", "extract", "mod", "generate"):
        yield Issue("job-not-extension", "warning", "job",
                    f"job '{job}' does not run ai-toolkit's trainers; training jobs use 'extension'.",
                    fix=Fix.of("Use extension", ("job", "extension")))


def scheduler_and_sampler_names(ctx: Context) -> Iterator[Issue]:
    """§E train.noise_scheduler / sample.sampler (toolkit/sampler.py get_sampler: unknown name -> ValueError on the
    legacy archs). Flow models are checked by the flowmatch rule instead."""
    if not ctx.has_process:
        return
    for path, severity in (("train.noise_scheduler", "error"), ("sample.sampler", "warning")):
        value, choices = ctx.get(path), setting(path).choices or ()
        if path == "train.noise_scheduler" and flow_model(ctx):
            continue
        if value in choices or (path == "sample.sampler" and isinstance(value, str) and value.startswith("sample_")):
            continue
        good = _closest(value, choices, ctx.ui_default("train.noise_scheduler"), "ddpm")
        yield Issue(f"invalid-{_slug(path)}", severity, path,
                    f"{path.split('.')[-1]} {value!r} is not a scheduler ai-toolkit knows: it raises when the model "
                    f"is built. Accepted: {', '.join(choices)}.", fix=Fix.of(f"Use {good}", (path, good)))


def list_choices(ctx: Context) -> Iterator[Issue]:
    """§E datasets[].augments (unknown names ignored) and datasets[].controls (unknown control types)."""
    for key in ("augments", "controls"):
        choices = setting(f"datasets[].{key}").choices or ()
        for i in ctx.datasets:
            value = ctx.get(f"datasets[].{key}", i)
            items = value if isinstance(value, list) else []
            bad = [v for v in items if v not in choices and v != ""]
            if bad:
                yield Issue(f"invalid-datasets-{key}", "warning", f"datasets[].{key}",
                            f"{key} {', '.join(map(repr, bad))} {'is' if len(bad) == 1 else 'are'} not known to "
                            f"ai-toolkit and will be ignored. Known: {', '.join(choices)}.", index=i,
                            fix=Fix.of(f"Remove {', '.join(map(str, bad))}",
                                       (f"datasets[].{key}", [v for v in items if v not in bad], i)))


def caption_ext(ctx: Context) -> Iterator[Issue]:
    """§E datasets[].caption_ext: any extension (a leading dot is added); the caption is the image path with that
    extension, so an image extension or a path makes every caption unreadable."""
    for i in ctx.datasets:
        value = ctx.get("datasets[].caption_ext", i)
        ext = value.lstrip(".").lower() if isinstance(value, str) else ""
        if not ext or re.search(r"[\s/\\]", ext) or ext in _MEDIA_EXTENSIONS:
            yield Issue("caption-ext-invalid", "error", "datasets[].caption_ext",
                        f"caption_ext {value!r} cannot name caption files (the caption of image.jpg is image.<ext>); "
                        f"use an extension such as txt.", index=i,
                        fix=Fix.of("Use txt", ("datasets[].caption_ext", "txt", i)))


# ---- keys the trainer ignores ---------------------------------------------------------------------------------
_WHERE = re.compile(r"config\.process\[(\d+)\]")
_INDEX = re.compile(r"\[(\d+)\]\.[^.\[]+$")
_LISTED_UNKNOWN = 50


def unknown_keys(ctx: Context) -> Iterator[Issue]:
    """§A: keys no config class reads are silently ignored at every level, so a misspelling trains with the
    default (``learning_rate:`` instead of ``lr:`` trains at lr = 1e-6). Past ``_LISTED_UNKNOWN`` keys the rest are
    counted in one issue: a file with thousands of stray keys was not typed by hand, and each listed issue costs the
    wizard a row and a did-you-mean search."""
    unknown = ctx.job.unknown_keys()
    if len(unknown) > _LISTED_UNKNOWN:
        rest = unknown[_LISTED_UNKNOWN:]
        first = rest[0].where if len(rest[0].where) <= 60 else rest[0].where[:57] + "..."
        yield Issue("unknown-keys-more", "warning", "job",
                    f"{len(rest):,} more keys ai-toolkit does not read, such as '{first}': they are kept as written "
                    "and the trainer ignores them.")
    for u in unknown[:_LISTED_UNKNOWN]:
        proc = _WHERE.match(u.where)
        index_match = _INDEX.search(u.where)
        index = int(index_match.group(1)) if index_match else 0
        path = None if u.section == "job" or (proc and proc.group(1) != "0") else f"{u.section}.{u.key}"
        real = f"{u.section}.{u.suggestion}" if u.suggestion and path else None
        if real and not ctx.is_set(real, index):
            value = ctx.raw(path, index)
            fix = _checked(ctx, Fix.of(f"Move the value to '{u.suggestion}'", (path, UNSET, index),
                                       (real, value, index)))
            yield Issue("unknown-key-typo", "error", real,
                        f"'{u.key}' is not a setting ai-toolkit reads, so it is ignored and '{u.suggestion}' keeps "
                        f"its default. Did you mean '{u.suggestion}'?", index=index if "[]" in real else None, fix=fix)
        else:
            also = (f"; '{u.suggestion}' is set to {ctx.get(real, index)!r}. Did you mean '{u.suggestion}'?"
                    if real else ".")
            move = _checked(ctx, Fix.of(f"Use it as '{u.suggestion}' (replacing {ctx.get(real, index)!r})",
                                        (path, UNSET, index), (real, ctx.raw(path, index), index))) if real else None
            yield Issue("unknown-key", "warning", path or u.where,
                        f"'{u.where}' is not a setting ai-toolkit reads; it will be ignored{also}",
                        index=index if path and "[]" in path else None,
                        fix=move or (Fix.of(f"Remove '{u.key}'", (path, UNSET, index)) if path else None))


def _checked(ctx: Context, fix: Fix) -> Fix | None:
    """``fix`` if it applies to the job (the value fits the real key's type), else None."""
    from .validate import apply_fix

    try:
        apply_fix(ctx.job, fix)
    except ValueError:  # pydantic's ValidationError: the value's type does not fit the real key
        return None
    return fix


def trainer_flavour(ctx: Context) -> Iterator[Issue]:
    """§G: upstream silently ignores the fork's keys (batch auto-scaling, prefetch, persistent workers,
    monitoring); the fork, older than upstream, ignores ~45 newer upstream keys."""
    other = "the extended (fork) trainer" if ctx.trainer == "upstream" else "upstream ai-toolkit"
    this = "upstream ai-toolkit" if ctx.trainer == "upstream" else "the extended trainer"
    if ctx.trainer == "upstream" and ctx.is_set("process.monitoring"):
        yield Issue("trainer-ignores-key", "warning", "process.monitoring",
                    f"The monitoring section exists only in {other}; {this} ignores it.",
                    fix=Fix.of("Remove the monitoring section", ("process.monitoring", UNSET)))
    for s in settings():
        if ctx.trainer in s.trainers or s.kind != "leaf" or s.path.startswith("process.monitoring."):
            continue
        for i in _indices(ctx, s.path):
            if ctx.is_set(s.path, i):
                yield Issue("trainer-ignores-key", "warning", s.path,
                            f"{s.key} exists only in {other}; {this} ignores it.",
                            index=i if "[]" in s.path else None, fix=Fix.of(f"Remove {s.key}", (s.path, UNSET, i)))


def no_effect_keys(ctx: Context) -> Iterator[Issue]:
    """§D 'no effect' flags: read by the config classes but used by nothing (unet_lr / text_encoder_lr: the
    trainer passes train.lr for those groups)."""
    for s in settings():
        if s.effective or s.path in _QUIET_NO_EFFECT or s.path.startswith("process.monitoring.") \
                or ctx.trainer not in s.trainers:
            continue
        for i in _indices(ctx, s.path):
            if ctx.is_set(s.path, i):
                extra = " The trainer uses train.lr for every group." if s.path.endswith("_lr") else ""
                yield Issue("no-effect-key", "suggestion", s.path,
                            f"{s.key} is read by ai-toolkit but has no effect in this version.{extra}",
                            index=i if "[]" in s.path else None, fix=Fix.of(f"Remove {s.key}", (s.path, UNSET, i)))


# ---- numbers ----------------------------------------------------------------------------------------------------
def training_numbers(ctx: Context) -> Iterator[Issue]:
    """TrainConfig: steps, lr, batch size and accumulation are used as given (not type-checked); Prodigy and
    D-Adaptation replace lr < 0.1 with 1.0 (toolkit/optimizer.py)."""
    if not ctx.has_process:
        return
    for path, low, good, what in (("train.steps", 1, 2000, "at least 1 step"),
                                  ("train.batch_size", 1, 1, "at least 1"),
                                  ("train.gradient_accumulation", 1, 1, "at least 1")):
        value = num(ctx.get(path))
        if unusable_number(ctx.get(path)):
            continue  # NaN, infinity, past 64 bits: the number rule says so
        if value is None or value < low:
            yield Issue(f"{_slug(path.split('.')[-1])}-invalid", "error", path,
                        f"{path.split('.')[-1]} must be {what} (it is {shown(ctx.get(path))}).",
                        fix=Fix.of(f"Use {good}", (path, good)))
    for i in ctx.datasets:
        value = ctx.get("datasets[].batch_size", i)
        if value is not None and not unusable_number(value) and (num(value) or 0) < 1:
            yield Issue("batch-size-invalid", "error", "datasets[].batch_size", "A dataset's batch size must be at "
                        "least 1.", index=i, fix=Fix.of("Use train.batch_size", ("datasets[].batch_size", UNSET, i)))
    lr, optimizer = num(ctx.get("train.lr")), str(ctx.get("train.optimizer") or "").lower()
    good_lr = ctx.ui_default("train.lr", 1e-4)
    if unusable_number(ctx.get("train.lr")):
        pass  # the number rule says so
    elif lr is None or lr <= 0:
        yield Issue("lr-invalid", "error", "train.lr", f"The learning rate must be above 0 (it is "
                    f"{shown(ctx.get('train.lr'))}).", fix=Fix.of(f"Use {good_lr:g}", ("train.lr", good_lr)))
    elif optimizer.startswith(_ADAPTIVE_LR) and lr < 0.1:
        yield Issue("lr-replaced-by-optimizer", "suggestion", "train.lr",
                    f"{optimizer} sets its own step size: ai-toolkit replaces lr {lr:g} with 1.0.",
                    fix=Fix.of("Use lr 1.0", ("train.lr", 1.0)))
    elif not optimizer.startswith(_ADAPTIVE_LR + ("automagic",)) and lr > 5e-3:
        yield Issue("lr-high", "warning", "train.lr",
                    f"lr {lr:g} is very high for LoRA training (usually 1e-4 to 5e-4); expect the model to fall "
                    f"apart within a few hundred steps.", fix=Fix.of(f"Use {good_lr:g}", ("train.lr", good_lr)))
    low, high = num(ctx.get("train.min_denoising_steps")), num(ctx.get("train.max_denoising_steps"))
    if low is not None and high is not None and not 0 <= low < high <= 999:
        yield Issue("denoising-range", "error", "train.min_denoising_steps",
                    f"The timestep range {low:g}–{high:g} is empty or outside 0–999: drawing timesteps fails.",
                    fix=Fix.of("Use the full range", ("train.min_denoising_steps", UNSET),
                               ("train.max_denoising_steps", UNSET)))


def dataset_numbers(ctx: Context) -> Iterator[Issue]:
    """DatasetConfig: caption_dropout_rate is a probability; augments / augmentations force latent caching off
    (§F silent behaviours)."""
    for i in ctx.datasets:
        rate = num(ctx.get("datasets[].caption_dropout_rate", i))
        if rate is not None and not 0 <= rate < 1:
            yield Issue("caption-dropout-range", "warning", "datasets[].caption_dropout_rate",
                        f"caption_dropout_rate {rate:g} is a probability between 0 and 1 (0.05 is usual); at 1 or "
                        f"more every caption is dropped.", index=i,
                        fix=Fix.of("Use 0.05", ("datasets[].caption_dropout_rate", 0.05, i)))
        augmented = bool(ctx.get("datasets[].augments", i)) or bool(ctx.get("datasets[].augmentations", i))
        caching = [k for k in ("cache_latents", "cache_latents_to_disk") if ctx.get(f"datasets[].{k}", i) is True]
        if augmented and caching:
            yield Issue("augments-disable-cache", "warning", f"datasets[].{caching[0]}",
                        "Augmentations turn latent caching off: every image is encoded by the VAE at every step "
                        "(slower, and the VAE stays in memory).", index=i,
                        fix=Fix.of("Turn latent caching off", *((f"datasets[].{k}", False, i) for k in caching)))


def resolutions(ctx: Context) -> Iterator[Issue]:
    """§E datasets[].resolution: each value is a bucket area target; the dataset is cloned once per list entry
    (review B4: [R, R] trains twice); bucket sides are multiples of the model's divisibility (toolkit/buckets.py,
    get_bucket_divisibility = VAE downsample × patch size)."""
    arch = ctx.arch
    div = arch.bucket_step if arch is not None else None
    for i in ctx.datasets:
        value = ctx.get("datasets[].resolution", i)
        values = value if isinstance(value, list) else [value]
        sizes = [v for v in values if num(v) is not None]
        if not sizes or any(v <= 0 for v in sizes):
            yield Issue("resolution-invalid", "error", "datasets[].resolution",
                        f"Resolution {value!r} is not a positive size in pixels.", index=i,
                        fix=Fix.of("Use 512, 768 and 1024", ("datasets[].resolution", [512, 768, 1024], i)))
            continue
        if len(set(sizes)) < len(sizes):
            unique = list(dict.fromkeys(sizes))
            yield Issue("resolution-duplicate", "warning", "datasets[].resolution",
                        f"Resolution {value} lists a size twice: the trainer builds one copy of the dataset per "
                        f"entry, so those images train twice per epoch.", index=i,
                        fix=Fix.of("Remove the repeated sizes", ("datasets[].resolution", unique, i)))
        odd = [v for v in sizes if div and v % div]
        if odd:
            rounded = list(dict.fromkeys(max(div, round(v / div) * div) for v in sizes))
            yield Issue("resolution-not-divisible", "warning", "datasets[].resolution",
                        f"Resolution {', '.join(map(str, odd))} is not a multiple of {div}, the bucket step of "
                        f"{arch.label}: square images train at {odd[0] // div * div}px instead.", index=i,
                        fix=Fix.of(f"Round to multiples of {div}",
                                   ("datasets[].resolution", rounded if isinstance(value, list) else rounded[0], i)))


def sampling_conflicts(ctx: Context) -> Iterator[Issue]:
    """§F UI exclusions and SampleConfig: skip_first_sample ⟷ force_first_sample; samples win over prompts."""
    if ctx.get("train.skip_first_sample") is True and ctx.get("train.force_first_sample") is True:
        yield Issue("first-sample-conflict", "warning", "train.force_first_sample",
                    "skip_first_sample and force_first_sample are both on; the trainer UI allows only one.",
                    fix=Fix.of("Turn force_first_sample off", ("train.force_first_sample", False)))
    if ctx.get("sample.prompts") and ctx.is_set("sample.samples"):
        yield Issue("sample-prompts-ignored", "warning", "sample.prompts",
                    "sample.prompts is ignored because sample.samples is also set.",
                    fix=Fix.of("Remove sample.prompts", ("sample.prompts", UNSET)))


def quoted_numbers(ctx: Context) -> Iterator[Issue]:
    """toolkit/config_modules.py reads numbers as written: a quoted ``lr: '1e-4'`` stays a string there and
    fails when the optimizer compares it (the job model reads it as a number, and saving writes a number)."""
    quoted = getattr(ctx.job, "quoted_numbers", None)
    for path, index, text in quoted() if callable(quoted) else ():
        yield Issue("quoted-number", "warning", path,
                    f"The file writes this number as text ('{text}'): ai-toolkit would keep it as a string and "
                    "fail when it computes with it. Saving from nbwizard writes it as a number.", index=index)


RULES = (
    required_keys, enumerations, scheduler_and_sampler_names, list_choices, caption_ext, unknown_keys,
    trainer_flavour, no_effect_keys, training_numbers, dataset_numbers, resolutions, sampling_conflicts,
    quoted_numbers,
)
