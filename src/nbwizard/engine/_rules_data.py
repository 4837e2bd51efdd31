"""Validation rules that need more than the job: the resource prediction against the budget, the dataset
analysis, training length against the dataset, and "consider enabling ..." suggestions.

The prediction and dataset inputs are read by attribute with defaults (``getattr``), so any object with the same
names works (tests pass ``types.SimpleNamespace`` stand-ins); a rule whose input is absent yields nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from .validate import Context, Fix, Issue, dataset_inputs, num

_BIG_MODEL_B = 2.0      # denoiser size (billions of parameters) above which checkpointing matters on any card
_HUGE_MODEL_B = 10.0    # denoiser size above which bf16 weights alone fill a 24 GB card
_SPI_LOW, _SPI_HIGH, _SPI_GOOD = 5, 500, 100  # steps per image: too few / too many / a usual middle


def _value(obj: Any, *names: str) -> float | None:
    """The first numeric attribute among ``names`` (a Reading's ``.value`` is unwrapped)."""
    for name in names:
        got = getattr(obj, name, None)
        got = getattr(got, "value", got)
        if num(got) is not None:
            return num(got)
    return None


def _vram_budget(ctx: Context) -> float | None:
    return _value(ctx.prediction, "budget_gib") or _value(ctx.profile, "vram_budget_gib")


def _max_resolution(ctx: Context) -> int | None:
    sizes = []
    for i in ctx.datasets:
        value = ctx.get("datasets[].resolution", i)
        sizes += [v for v in (value if isinstance(value, list) else [value]) if num(v) is not None]
    return int(max(sizes)) if sizes else None


def _memory_fix(ctx: Context) -> Fix | None:
    """The cheapest memory saving this job does not use yet, as a fix."""
    offered = getattr(ctx.prediction, "fix", None)
    if offered is not None and getattr(offered, "patch", None) is not None:
        return offered if isinstance(offered, Fix) else Fix(str(getattr(offered, "label", "Apply the predicted "
                                                                         "fix")), tuple(offered.patch))
    arch = ctx.arch
    if ctx.get("train.gradient_checkpointing") is not True:
        return Fix.of("Turn on gradient checkpointing", ("train.gradient_checkpointing", True))
    if arch is not None and arch.quantization_supported and ctx.get("model.quantize") is not True:
        qtype = ctx.ui_default("model.qtype") or "qfloat8"
        return Fix.of(f"Quantize the model ({qtype})", ("model.quantize", True), ("model.qtype", qtype))
    batch = num(ctx.get("train.batch_size"))
    if batch is not None and batch > 1:
        return Fix.of(f"Lower the batch size to {max(1, int(batch) // 2)}",
                      ("train.batch_size", max(1, int(batch) // 2)))
    if arch is not None and ctx.ui_default("model.low_vram") is True and ctx.get("model.low_vram") is not True:
        return Fix.of("Turn on low_vram", ("model.low_vram", True))
    return None


# ---- predicted resources against the budget ----------------------------------------------------------------------
def vram_budget(ctx: Context) -> Iterator[Issue]:
    """Predicted training peak against the card (PRODUCT §6): OOM is otherwise the only feedback on fit."""
    pred = ctx.prediction
    if pred is None:
        return
    verdict, peak, budget = getattr(pred, "verdict", None), _value(pred, "peak_vram_gib"), _vram_budget(ctx)
    if verdict is None and peak is not None and budget is not None:
        verdict = "does_not_fit" if peak > budget else "fits"
    if verdict not in ("does_not_fit", "tight"):
        return
    batch, res = ctx.get("train.batch_size"), _max_resolution(ctx)
    cap = f"your {budget:g} GB VRAM" if budget is not None else "your GPU's memory"
    head = f"Batch size {batch} at {res}px" if res else f"Batch size {batch}"
    detail = f" (predicted peak {peak:.1f} GiB)" if peak is not None else ""
    reason = getattr(pred, "verdict_reason", None)
    reason = f" Predicted: {reason.rstrip('.')}." if isinstance(reason, str) and reason.strip() else ""
    if verdict == "does_not_fit":
        yield Issue("vram-over-budget", "error", "train.batch_size",
                    f"{head} may exceed {cap}{detail}; training would stop with an out-of-memory error.{reason}",
                    fix=_memory_fix(ctx))
    else:
        yield Issue("vram-tight", "warning", "train.batch_size",
                    f"{head} is close to {cap}{detail}; other programs on the GPU or a long caption may push it "
                    f"over.{reason}", fix=_memory_fix(ctx))


def sample_vram(ctx: Context) -> Iterator[Issue]:
    """User pain: sampling during training OOMs late (SampleConfig previews need the full pipeline)."""
    sample = getattr(ctx.prediction, "sample", None)
    peak = num(sample) if num(sample) is not None else _value(sample, "peak_vram_gib", "total_gib", "peak_gib")
    budget = _vram_budget(ctx)
    if peak is None or budget is None or peak <= budget or ctx.get("train.disable_sampling") is True:
        return
    yield Issue("sample-vram-over-budget", "warning", "sample.sample_every",
                f"Rendering the preview samples may need {peak:.1f} GiB, more than {budget:g} GB: the run could "
                f"stop with out-of-memory at the first preview, after the time spent training.",
                fix=Fix.of("Turn off sampling during training", ("train.disable_sampling", True)))


def ram_budget(ctx: Context) -> Iterator[Issue]:
    """User pain: system RAM (not VRAM) kills the job while the model is loaded and quantized.

    A warning, never an error: the peak is an estimate of loading, and swap, memory-mapped checkpoints and the
    loader's one-part-at-a-time order often make a larger model load; the user decides, with the numbers and the
    options."""
    peak = _value(ctx.prediction, "ram_peak_gib")
    total = _value(ctx.prediction, "ram_budget_gib") or _value(ctx.profile, "ram_total_gib")
    available = _value(ctx.profile, "ram_available_gib")
    if peak is None or total is None:
        return
    machine = getattr(ctx.profile, "machine", "this machine")
    if peak > total:
        yield Issue("ram-over-budget", "warning", "model.low_vram",
                    f"Loading and quantizing the model is estimated to need {peak:.1f} GiB of system RAM; "
                    f"{machine} has {total:g} GiB. If the process is killed while loading: add RAM or swap space, or "
                    "toggle low_vram (it decides whether the model is quantized on the CPU or on the GPU, and what "
                    "waits in RAM); ai-toolkit loads the transformer first and the text encoder after it, so the two "
                    "do not peak together.")
    elif available is not None and peak > available and not getattr(ctx.profile, "what_if", False):
        # free RAM is a reading of this machine now; a planned machine's is not known
        yield Issue("ram-tight", "warning", "model.low_vram",
                    f"Loading the model may need {peak:.1f} GiB of system RAM; only {available:g} GiB is free now. "
                    f"Close other programs before starting.")


def disk_budget(ctx: Context) -> Iterator[Issue]:
    """Predicted disk use (caches, checkpoints, samples) against the free space where the output goes."""
    disk = getattr(ctx.prediction, "disk", None)
    need = num(disk) if num(disk) is not None else _value(disk, "total_gib", "total_gb")
    free = _value(disk, "free_gib")
    if free is None and ctx.profile is not None and hasattr(ctx.profile, "storage_for"):
        folder = ctx.get("process.training_folder")
        storage = ctx.profile.storage_for(folder) if isinstance(folder, str) and folder else None
        free = _value(storage, "free_gib")
    if need is not None and free is not None and need > free:
        yield Issue("disk-over-budget", "error", "save.max_step_saves_to_keep",
                    f"The run may write {need:.1f} GiB (caches, checkpoints, samples) but only {free:.1f} GiB is "
                    f"free where the output goes.")


# ---- the dataset analysis ------------------------------------------------------------------------------------------
def _count(info: Any) -> int | None:
    explicit = getattr(info, "image_count", None)
    if num(explicit) is not None:
        return int(explicit)
    images = getattr(info, "images", None)
    if images is None:
        return None
    videos = getattr(info, "videos", ()) if getattr(info, "videos_trained", False) else ()
    return len(images) + len(videos or ())


def _job_trigger(ctx: Context, i: int) -> str | None:
    trigger = ctx.get("datasets[].trigger_word", i) or ctx.get("process.trigger_word")
    return trigger if isinstance(trigger, str) and trigger.strip() else None


def dataset_contents(ctx: Context) -> Iterator[Issue]:
    """toolkit/data_loader.py: an empty dataset is fatal; unreadable files are skipped with an error printed."""
    for i, info in dataset_inputs(ctx.dataset).items():
        if i not in ctx.datasets:
            continue
        if isinstance(info, BaseException) or getattr(info, "exists", True) is False:
            why = f" ({info})" if isinstance(info, BaseException) else ""
            yield Issue("dataset-missing", "error", "datasets[].folder_path",
                        f"The dataset folder cannot be read{why}: the trainer would stop when loading it.", index=i)
            continue
        count = _count(info)
        if count == 0:
            yield Issue("dataset-empty", "error", "datasets[].folder_path",
                        "The dataset folder holds no image ai-toolkit loads (.jpg, .jpeg, .png, .webp); the trainer "
                        "stops on an empty dataset.", index=i)
        corrupt = getattr(info, "corrupt", ()) or ()
        if corrupt:
            yield Issue("dataset-unreadable-files", "warning", "datasets[].folder_path",
                        f"{len(corrupt)} file(s) cannot be read and will be skipped by the trainer.", index=i)


def dataset_folder_here(ctx: Context) -> Iterator[Issue]:
    """toolkit/data_loader.py lists ``folder_path`` when the job starts: a folder that is not there stops it.

    Only a warning: a job planned on a laptop for a rented GPU names a folder of that machine.
    """
    analysed = dataset_inputs(ctx.dataset)
    for i in ctx.datasets:
        folder = ctx.get("datasets[].folder_path", i)
        if i in analysed or not isinstance(folder, str) or not folder.strip():
            continue
        if not Path(folder).expanduser().is_dir() and getattr(ctx.profile, "what_if", False):
            yield Issue("dataset-folder-not-here", "warning", "datasets[].folder_path",
                        f"The folder {folder} is not on this computer. The job reads it on "
                        f"{ctx.profile.machine}: make sure your images are there before you run it.", index=i)
        elif not Path(folder).expanduser().is_dir():
            yield Issue("dataset-folder-not-here", "warning", "datasets[].folder_path",
                        f"The folder {folder} does not exist on this machine. Set it to your images before you run "
                        "the job (this is fine if the job will run on another machine where it exists).", index=i)


def dataset_small_images(ctx: Context) -> Iterator[Issue]:
    """toolkit/buckets.py: the bucket area is min(image area, resolution²), so images smaller than the smallest
    training resolution are trained at their own, smaller size (never upscaled)."""
    for i, info in dataset_inputs(ctx.dataset).items():
        if i not in ctx.datasets or isinstance(info, BaseException):
            continue
        plans = [p for p in (getattr(info, "buckets", ()) or ()) if num(getattr(p, "resolution", None))]
        if plans:
            smallest = min(plans, key=lambda p: p.resolution)
            below, res = len(getattr(smallest, "below_resolution", ()) or ()), smallest.resolution
        else:
            below, res = _value(info, "images_below_resolution"), _value(info, "resolution")
        count = _count(info)
        if below and count:
            yield Issue("dataset-small-images", "warning", "datasets[].resolution",
                        f"{int(below)} of {count} images are smaller than {int(res or 0)}×{int(res or 0)} pixels, "
                        f"the smallest training resolution: they train at their own size, with less detail.",
                        index=i)


def dataset_captions(ctx: Context) -> Iterator[Issue]:
    """toolkit/dataloader_mixins.py load_caption / inject_trigger_into_prompt: a missing or blank caption uses
    default_caption (else empty); a trigger word missing from a caption is put in front of it."""
    for i, info in dataset_inputs(ctx.dataset).items():
        if i not in ctx.datasets or isinstance(info, BaseException):
            continue
        captions = getattr(info, "captions", None)
        missing = (len(getattr(captions, "missing", ()) or ()) + len(getattr(captions, "empty", ()) or ())
                   if captions is not None else _value(info, "captions_missing"))
        default = ctx.get("datasets[].default_caption", i)
        trigger = _job_trigger(ctx, i)
        if missing and not (isinstance(default, str) and default.strip()):
            if trigger:
                yield Issue("dataset-captions-missing", "suggestion", "datasets[].default_caption",
                            f"{int(missing)} images have no caption; they train with only the trigger word "
                            f"'{trigger}'. Add captions or a default_caption if that is not what you want.", index=i)
            else:
                yield Issue("dataset-captions-missing", "warning", "datasets[].default_caption",
                            f"{int(missing)} images have no caption and there is no default_caption or trigger "
                            f"word: they train with an empty prompt.", index=i)
        with_trigger, items = getattr(captions, "with_trigger", None), getattr(captions, "items", None)
        if trigger and getattr(info, "trigger_word", trigger) == trigger and with_trigger == 0 and items:
            yield Issue("dataset-trigger-absent", "suggestion", "process.trigger_word",
                        f"The trigger word '{trigger}' appears in none of the captions; the trainer puts it in "
                        f"front of every caption. Check its spelling if you wrote it into the captions.", index=i)


def steps_for_dataset(ctx: Context) -> Iterator[Issue]:
    """Epoch arithmetic (review §8.7): each step shows batch × accumulation images; far under 5 or over 500 views
    of each image usually means under- or over-training."""
    infos = dataset_inputs(ctx.dataset)
    counts = [_count(infos.get(i)) if not isinstance(infos.get(i), BaseException) else None for i in ctx.datasets]
    if not counts or any(c is None for c in counts) or sum(counts) == 0:
        return
    steps, batch = num(ctx.get("train.steps")), num(ctx.get("train.batch_size"))
    accum = num(ctx.get("train.gradient_accumulation")) or 1
    if not steps or not batch or steps < 1 or batch < 1 or accum < 1:
        return
    images = sum(counts)
    per_image = steps * batch * accum / images
    if _SPI_LOW <= per_image <= _SPI_HIGH:
        return
    good = max(1, round(_SPI_GOOD * images / (batch * accum)))
    good = round(good, -1) if good > 100 else good
    few = per_image < _SPI_LOW
    yield Issue("steps-per-image", "suggestion", "train.steps",
                f"{int(steps)} steps show each of the {images} images about {per_image:.1f} times; "
                f"{'too few to learn the concept' if few else 'that many usually overfits'}. Around "
                f"{_SPI_GOOD} views per image ({good} steps) is a usual start.",
                fix=Fix.of(f"Use {good} steps", ("train.steps", good)))


# ---- "consider enabling ..." ------------------------------------------------------------------------------------
def consider_memory_savers(ctx: Context) -> Iterator[Issue]:
    """Gradient checkpointing (TrainConfig default true) and quantization cut the big memory terms; skipped when the
    prediction says the job fits."""
    if not ctx.has_process or getattr(ctx.prediction, "verdict", None) in ("fits", "does_not_fit", "tight"):
        return
    size = ctx.arch.params_b("denoiser") if ctx.arch is not None else None
    if size is None:
        return
    if size >= _BIG_MODEL_B and ctx.get("train.gradient_checkpointing") is False:
        yield Issue("consider-gradient-checkpointing", "suggestion", "train.gradient_checkpointing",
                    f"Consider enabling gradient checkpointing: {ctx.arch.label} has {size:g}B parameters, and "
                    f"without it activations take several times more memory.",
                    fix=Fix.of("Turn on gradient checkpointing", ("train.gradient_checkpointing", True)))
    budget = _vram_budget(ctx)
    if size >= _HUGE_MODEL_B and ctx.arch.quantization_supported and ctx.get("model.quantize") is not True \
            and (budget is None or budget < 2.5 * size):
        qtype = ctx.ui_default("model.qtype") or "qfloat8"
        yield Issue("consider-quantization", "suggestion", "model.quantize",
                    f"Consider quantizing: {ctx.arch.label}'s {size:g}B parameters take about {2 * size:.0f} GB "
                    f"in bf16; 8-bit halves that with little quality loss.",
                    fix=Fix.of(f"Quantize the model ({qtype})", ("model.quantize", True), ("model.qtype", qtype)))


def consider_latent_cache(ctx: Context) -> Iterator[Issue]:
    """DatasetConfig cache_latents / cache_latents_to_disk: without either, the VAE encodes every image at every
    step (slower, VAE kept in memory); not possible with augmentations."""
    for i in ctx.datasets:
        if any(ctx.get(f"datasets[].{k}", i) is True for k in ("cache_latents", "cache_latents_to_disk")):
            continue
        if ctx.get("datasets[].augments", i) or ctx.get("datasets[].augmentations", i):
            continue
        yield Issue("consider-cache-latents", "suggestion", "datasets[].cache_latents_to_disk",
                    "Consider caching latents: each image is then encoded once instead of at every step, which is "
                    "faster and lets the VAE leave the GPU.", index=i,
                    fix=Fix.of("Cache latents to disk", ("datasets[].cache_latents_to_disk", True, i)))


RULES = (
    vram_budget, sample_vram, ram_budget, disk_budget, dataset_contents, dataset_folder_here, dataset_small_images,
    dataset_captions,
    steps_for_dataset, consider_memory_savers, consider_latent_cache,
)
