"""Choices of :mod:`nbwizard.engine.recommend` that do not change memory: data loading, length, learning rate,
schedules, sampling and saving (private). Each function writes values with their reasons into a :class:`Draft`.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .job import INT64_MAX, put
from .settings import find_setting

# Training resolutions ai-toolkit's UI offers (datasets[].resolution checkboxes) plus the video-native sizes.
STANDARD_RESOLUTIONS = (256, 384, 480, 512, 632, 640, 704, 768, 1024, 1280, 1328, 1536)
# "speed": a shorter run than the recipe's, accepting a slightly less converged adapter.
SPEED_STEP_FACTOR = 0.75
MIN_STEPS, MAX_STEPS = 250, 10_000
ASSUMED_IMAGES = 20  # same assumption as the predictor's DEFAULT_IMAGE_COUNT when no dataset is analysed
DEFAULT_KEEP = 4  # upstream UI's max_step_saves_to_keep
DEFAULT_TRIGGER = "ohwx"  # a rare token with no meaning of its own to the base model
# Training types that teach one subject (an identity): DOP can keep the subject's class from drifting to it.
SUBJECTS = ("person", "pet", "object")
# The class word DOP preserves when the captions name none: only where the intent's word is a real class word
# ("object" or "pet" is not what the base model draws for a teapot or a dog).
INTENT_CLASS_WORDS = {"person": "person"}
PROMPTS = {
    "person": ("[trigger], a close-up portrait photo, soft natural light",
               "[trigger] walking down a city street at night, neon signs",
               "a watercolor painting of [trigger] sitting in a cafe"),
    "pet": ("a photo of [trigger] lying on a sofa, soft window light",
            "[trigger] running across a meadow",
            "a watercolor painting of [trigger] sitting by a fireplace"),
    "style": ("a lighthouse on a cliff at sunset, in the style of [trigger]",
              "a busy market street in the rain, [trigger] style",
              "portrait of an old fisherman, [trigger] style"),
    "object": ("a photo of [trigger] on a wooden table",
               "[trigger] on a beach at sunset",
               "a product shot of [trigger] on a white background"),
    "concept": ("[trigger], a wide shot of a forest clearing",
                "a city square, [trigger]",
                "a close-up photo of a cat, [trigger]"),
    "other": ("[trigger], a photo", "[trigger] in a forest at dawn", "an illustration of [trigger]"),
}


@dataclass
class Draft:
    """The job being built: setting path -> value, and path -> the sentence that justifies it. ``locked`` holds the
    user's values, which the job keeps as they are; :meth:`value` is what every derived choice reads."""

    values: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    locked: Mapping[str, Any] = field(default_factory=dict)
    trainer: str = "upstream"  # keys this trainer flavour does not read are never written

    def put(self, path: str, value: Any, why: str) -> None:
        known = find_setting(path)
        if known is not None and self.trainer not in known.trainers:
            return
        self.values[path] = plain(value)  # a catalog default (mappingproxy, tuple) is shown and compared as data
        self.reasons[path] = why

    def value(self, path: str, chosen: Any = None, check: Callable[[Any], Any] | None = None) -> Any:
        """The effective value of ``path``: the locked one when it is usable, else ``chosen`` (by default the value
        written so far). ``check`` converts a locked value or returns None when it cannot be used (e.g.
        :func:`positive_int`); without it any locked value but None is used as it is."""
        if path in self.locked:
            v = self.locked[path]
            v = v if check is None or v is None else check(v)
            if v is not None:
                return v
        return self.values.get(path) if chosen is None else chosen

    def is_locked(self, path: str) -> bool:
        return path in self.locked

    def data(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """Nested job data (``config.process[0]...``) from the flat paths, ``overrides`` applied last."""
        out: dict[str, Any] = {}
        for path, value in {**self.values, **(overrides or {})}.items():
            put_path(out, path, value)
        return out


# ---- checks for locked values (None when the value cannot be used for arithmetic or as that kind) --------------
def number(v: Any) -> float | int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    try:
        x = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else None


def positive_int(v: Any) -> int | None:
    """An integer ≥ 1 the trainer can use (2.0 and "4" count; past 64 bits does not), else None."""
    x = number(v)
    if x is None or x < 1 or x > INT64_MAX or (isinstance(x, float) and not x.is_integer()):
        return None
    return int(x)


def positive_float(v: Any) -> float | None:
    """A finite number > 0, else None."""
    x = number(v)
    try:
        return float(x) if x is not None and x > 0 else None
    except OverflowError:
        return None


def boolean(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def text(v: Any) -> str | None:
    return v if isinstance(v, str) and v.strip() else None


MAX_SIDE = 16_384  # a training size above this is not a size any model trains at (nor safe to square)


def resolution_list(v: Any) -> list[int] | None:
    """One size or a list of sizes, each a positive integer up to ``MAX_SIDE``; else None."""
    items = v if isinstance(v, (list, tuple)) else [v]
    sizes = [positive_int(x) for x in items]
    return sizes if sizes and all(x is not None and x <= MAX_SIDE for x in sizes) else None


# paths whose value is one item per list entry (``sample.samples[0..n].prompt``)
PER_ITEM = {"sample.samples[].prompt"}


def put_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` (a setting path, index 0 for list sections) inside nested job data."""
    if path in PER_ITEM:
        for i, item in enumerate(value if isinstance(value, (list, tuple)) else [value]):
            _put(data, path, item, i)
        return
    _put(data, path, value, 0)


def _put(data: dict[str, Any], path: str, value: Any, index: int) -> None:
    put(data, path, plain(value), index)


def plain(value: Any) -> Any:
    """Catalog values (mappingproxy, tuples) as YAML-ready dicts and lists."""
    if hasattr(value, "items"):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


# ---- resolution ---------------------------------------------------------------------------------------------
def dataset_side(dataset: Any) -> tuple[float | None, int]:
    """The median image side (sqrt of the area) and the image count, from an analysed dataset."""
    images = getattr(dataset, "images", None) or ()
    if not images:
        return None, 0
    return statistics.median(math.sqrt(i.width * i.height) for i in images), len(images)


def resolutions(spec: Any, recipe: Any, dataset: Any, frames: int = 1) -> tuple[list[int], str]:
    """Training resolutions: the recipe's sizes (ai-toolkit's example for the arch, else the UI's default buckets),
    capped at the arch's usual training size and at what most images offer (no upscaling).

    The usual size is the recipe's largest; a model made for smaller images (SD 1.5, the video models' clip size)
    stops at its native size, and a model that can go higher (Qwen-Image's 1328 px) does not unless the user sets
    the resolution: a larger area costs memory and time for every step.
    """
    listed = sorted({int(r) for r in (recipe.get("datasets[].resolution") or (512, 768, 1024))})
    top = max(listed)
    why = f"{_cap(recipe.name)} trains at {_sizes(listed)} px"
    native = spec.native_resolution
    if native and native < top and (frames > 1 or not recipe.from_example):
        top = native
        why += (f"; {spec.label}'s clips are trained at its native {native} px" if frames > 1 else
                f"; {spec.label}'s native size is {native} px")
    elif native and native > top:
        why += (f" ({spec.label} can train up to {native} px: {(native / top) ** 2:.1f}x the area per image, "
                "so that is yours to ask for)")
    side, n = dataset_side(dataset)
    if side is not None and side < top:
        fitting = [r for r in STANDARD_RESOLUTIONS if r <= side]
        top = fitting[-1] if fitting else STANDARD_RESOLUTIONS[0]
        why += (f"; half of the {n} images are smaller than {round(side)} px, so training stops at {top} px "
                "(no upscaling)")
    if frames > 1:
        return _bucket_aligned([top], why + "; clips train at one size (each extra size is another pass over them)",
                               spec)
    res = [r for r in listed if r <= top]
    if top not in res:
        res = [r for r in (512, 768, 1024, 1280, 1328, 1536) if top / 2 <= r < top] + [top]
    if len(res) > 1:
        why += "; the smaller sizes are multi-resolution buckets (each is a copy of the dataset)"
    return _bucket_aligned(res, why, spec)


def bucket_step(spec: Any) -> int:
    """:attr:`ModelSpec.bucket_step`, 1 (any size) when a fact is unknown."""
    return spec.bucket_step or 1


def _bucket_aligned(res: list[int], why: str, spec: Any) -> tuple[list[int], str]:
    """Sizes written as the trainer trains them (Wan 2.1's example writes 632, which trains at 624 with a step of
    16)."""
    step = bucket_step(spec)
    if all(r % step == 0 for r in res):
        return res, why
    aligned = list(dict.fromkeys(max(step, r // step * step) for r in res))
    odd = [r for r in res if r % step]
    return aligned, why + (f"; written as {_sizes(aligned)}, the size{'s' if len(odd) > 1 else ''} the trainer "
                           f"trains at for {_sizes(odd)} (buckets are multiples of {step} px)")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sizes(sizes: Any) -> str:
    return ", ".join(str(s) for s in sizes)


def lower_resolution(res: list[int], step: int = 1) -> list[int] | None:
    """One step down: drop the largest size, or for a single size go to the next smaller standard size that is a
    multiple of the arch's bucket ``step`` (:func:`bucket_step`)."""
    if len(res) > 1:
        return res[:-1]
    smaller = [r for r in STANDARD_RESOLUTIONS if r < res[0] and r % step == 0]
    return [smaller[-1]] if smaller and smaller[-1] >= 256 else None


# ---- words from the dataset ------------------------------------------------------------------------------------
def trigger_word(dataset: Any) -> tuple[str, str]:
    """The trigger word: the one the dataset is configured with, else the word its captions share, else a rare
    placeholder token."""
    configured = getattr(dataset, "trigger_word", None)
    if configured:
        return configured, "The dataset's trigger word"
    cand = getattr(dataset, "trigger_candidate", None)
    if cand is not None:
        return cand.word, f"'{cand.word}' is the word the captions share: {cand.evidence}"
    return DEFAULT_TRIGGER, (f"'{DEFAULT_TRIGGER}': a rare token with no meaning of its own to the base model; "
                             "replace it with your own" + ("" if dataset is None else
                                                           " (the captions share no such word)"))


def class_word(training_type: str, dataset: Any) -> tuple[str | None, str]:
    """What the trigger word stands for (DOP's preservation class): the captions' noun, else the intent's word
    where that is a real class word; None when neither says."""
    cand = getattr(dataset, "class_candidate", None)
    if cand is not None:
        return cand.word, f"'{cand.word}' from the captions: {cand.evidence}"
    word = INTENT_CLASS_WORDS.get(training_type)
    if word:
        return word, (f"'{word}': what a {training_type} LoRA's trigger word stands for" +
                      (" (the captions name no other class)" if dataset is not None else
                       " (analyse the dataset to take it from the captions)"))
    return None, (f"no class word for a {training_type}: " + (
        "the captions do not name what the trigger word stands for" if dataset is not None else
        "analyse the dataset so its captions can name it (e.g. 'dog')"))


# ---- length and batch -----------------------------------------------------------------------------------------
def image_count(dataset: Any) -> tuple[int, str]:
    if dataset is None:
        return ASSUMED_IMAGES, f"no dataset analysed, {ASSUMED_IMAGES} images assumed"
    n = len(getattr(dataset, "images", ()) or ())
    if getattr(dataset, "videos_trained", False):
        n += len(getattr(dataset, "videos", ()) or ())
    return max(1, n), f"{n} images in the dataset"


def steps(recipe: Any, intent: Any, n: int, n_why: str, repeats: int, batch: int) -> tuple[int, str]:
    """The recipe's step count (ai-toolkit practice: 2000–3000 steps at batch 1), shortened for 'speed'.

    Steps are optimizer updates: a larger batch does not cut them (fewer updates at the same learning rate
    under-train), it shows each image more often at about ``batch`` times the cost per step.
    """
    base = positive_int(recipe.get("train.steps")) or 3000
    value, why = base, f"Steps {base}: {recipe.name}'s"
    if intent.priority == "speed":
        value = max(MIN_STEPS, _ceil_div(round(base * SPEED_STEP_FACTOR), 50) * 50)
        why = (f"Steps {value}: {recipe.name}'s {base} x {SPEED_STEP_FACTOR:g} for 'speed' (a shorter run, a "
               "slightly less converged adapter)")
    value = max(MIN_STEPS, min(MAX_STEPS, value))
    passes = value * max(1, batch) / (max(1, n) * max(1, repeats))
    why += (f"; at batch {batch} each of the {n} images ({n_why}"
            f"{f', x{repeats} repeats' if repeats > 1 else ''}) is seen about {passes:.0f} times")
    if batch > 1:
        why += (f"; batch {batch} keeps the number of optimizer updates (the learning rate is set for them) and "
                f"costs about {batch}x per step")
    return value, why


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# ---- optimizer --------------------------------------------------------------------------------------------------
def optimizer(profile: Any) -> tuple[str, str]:
    if profile.accelerator == "nvidia" or profile.gpu is None:
        return "adamw8bit", ("AdamW 8-bit: upstream's default; its 8-bit states use a quarter of AdamW's memory "
                             "(bitsandbytes, NVIDIA)")
    return "adamw", (f"AdamW: bitsandbytes' 8-bit optimizers are not reliable on {profile.accelerator} GPUs; the "
                     "adapter's fp32 states are small")


def learning_rate(spec: Any, recipe: Any, opt: str, network: str, rank: int, alpha: Any) -> tuple[float, str]:
    """The recipe's learning rate. It does not follow the rank: with alpha = rank the LoRA's scale is 1 at any
    rank, and ai-toolkit's UI keeps the same rate for every rank."""
    if opt.startswith("prodigy") or opt.startswith("dadaptation"):
        return 1.0, f"Learning rate 1.0: {opt} adapts its own step size and expects lr 1.0"
    base = positive_float(recipe.get("train.lr")) or 1e-4
    why = f"Learning rate {base:g}: {recipe.name}'s for {spec.label} with {opt}"
    if network == "lokr":
        return base, why + " (LoKr trains full-rank factors at the same rate)"
    a = positive_float(alpha)
    scale = f"alpha {a:g} / rank {rank} = {a / rank:g}" if a else f"rank {rank}"
    why += f", at {scale}"
    if a and a != rank:
        why += " (the LoRA's output is scaled by alpha/rank; the rate is not changed for it)"
    else:
        why += "; the same rate at any rank while alpha = rank"
    return base, why


# the schedules the trainer builds itself (toolkit/scheduler.py), see _rules_config._TOOLKIT_SCHEDULERS
TOOLKIT_SCHEDULERS = ("constant", "linear", "cosine", "cosine_with_restarts", "constant_with_warmup")
LINEAR_END_FACTOR = 0.1  # linear decay to lr/10, the same floor as cosine's eta_min
WARMUP_SHARE = 0.05  # constant_with_warmup: warm up over the first 5 % of the steps


def scheduler(lr: float, total: int, name: str | None = None) -> tuple[str, dict[str, Any], str, str]:
    """The schedule, its ``lr_scheduler_params``, and the reasons for both. Unless the user chose one: constant,
    the trainer's default and every ai-toolkit example's (a decay needs a reason to be chosen)."""
    if name is None:
        name, why = "constant", ("Constant learning rate: the trainer's default and every ai-toolkit example's; "
                                 "robust when the run is stopped at the best checkpoint")
    else:
        why = f"Locked: you chose '{name}'"
    params, p_why = scheduler_params(name, lr, total)
    return name, params, why, p_why


def scheduler_params(name: Any, lr: float, total: int) -> tuple[dict[str, Any], str]:
    """``lr_scheduler_params`` that fit schedule ``name`` (each key one its constructor accepts)."""
    if name in ("cosine", "cosine_with_restarts"):
        return {"eta_min": lr / 10}, f"eta_min {lr / 10:g}: the floor the {name} schedule decays to (lr/10)"
    if name == "linear":
        return {"start_factor": 1.0, "end_factor": LINEAR_END_FACTOR}, (
            f"start_factor 1.0, end_factor {LINEAR_END_FACTOR:g}: 'linear' is torch's LinearLR, which by default "
            "ramps the rate up (1/3 -> 1); these make it decay from lr to lr/10")
    if name == "constant_with_warmup":
        warm = max(1, min(total - 1, round(total * WARMUP_SHARE))) if total > 1 else 1
        return {"num_warmup_steps": warm}, (f"num_warmup_steps {warm}: the rate warms up over the first "
                                            f"{WARMUP_SHARE:.0%} of the {total} steps")
    return {}, ""  # constant takes none we need; an unknown schedule is the validator's to report


# ---- data loading --------------------------------------------------------------------------------------------
def latent_cache_gib(spec: Any, res: list[int], n: int, flips: bool, frames: int) -> float:
    ch = spec.latent_channels.value or 16
    down = spec.vae_downsample.value or 8
    tdown = spec.temporal_downsample.value or 4
    lat_frames = 1 if frames <= 1 else 1 + (frames - 1) // tdown
    per = sum(ch * (r / down) ** 2 * lat_frames * 2 for r in res)  # fp16 latents
    return n * per * (2 if flips else 1) / 2 ** 30


def workers(profile: Any) -> tuple[int, str]:
    if profile.accelerator == "apple":
        return 0, "0 workers: ai-toolkit's macOS support loads data in the main process"
    cores = profile.cpu_cores.value if profile.cpu_cores.known else None
    ram = profile.ram_available_gib.value if profile.ram_available_gib.known else None
    n, parts = 2, []
    if cores:
        n = max(1, min(8, cores // 4))
        parts.append(f"{cores} cores ÷ 4")
    if ram:
        by_ram = max(1, int(ram // 8))
        if by_ram < n:
            n = by_ram
        parts.append(f"≤ 1 per 8 GiB of {ram:.0f} GiB available RAM")
    if profile.unified_memory:
        n = min(n, 2)
        parts.append("at most 2 on unified memory (each worker's RAM is GPU memory too)")
    why = "; ".join(parts) or "cores and RAM unknown: upstream's default"
    return n, f"{n} data-loader workers ({why}); latents are cached, so workers only read small files"


def prefetch(profile: Any, folder: str) -> tuple[int, str]:
    info = profile.storage_for(folder) or profile.storage_for(".") or (profile.storage[0] if profile.storage else None)
    kind = getattr(info, "kind", "unknown")
    if kind in ("network", "hdd"):
        return 4, f"Prefetch 4 batches per worker: the dataset is on {kind} storage, where reads are slow or bursty"
    return 2, f"Prefetch 2 batches per worker (upstream's default): storage is {kind}"


# ---- saving and sampling -------------------------------------------------------------------------------------
def cadence(every: Any, total: int) -> int:
    """The recipe's preview / save interval, never longer than the run; always ≥ 1."""
    every = positive_int(every) or 250
    return max(1, min(every, max(1, total)))


def prompts(training_type: str) -> list[str]:
    return list(PROMPTS[training_type])
