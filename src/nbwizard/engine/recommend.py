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
from ._recommend_base import base, length, preview_of
from ._recommend_plan import Alternative, Departure, Note, departures, notes
from ._recommend_reasons import NO_GPU, memory_reasons, why_not
from ._recommend_search import (Found, Lever, Mem, Preview, fits as fits_for, ladder, preview_levers,
                                recipe_margin, search, te_qtype)
from .intent import Intent
from .job import JobBase, job_model
from .models import ModelSpec, model_info
from .recipes import Recipe, recipe_for
from .settings import TRAINERS, setting

__all__ = ["NO_GPU", "Alternative", "Departure", "Note", "Reason", "Recommendation", "recommend"]


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
    te_cache_ok, cls, cls_why = base(draft, spec, recipe, profile, intent, dataset)
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
        "dop": _wants_dop(intent, dataset, spec) and "train.diff_output_preservation" not in locked,
        "gc_off": "train.gradient_checkpointing" not in locked,
    }
    preview = preview_of(draft, spec, recipe)
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
                       recipe_margin(recipe, profile))
        if found.prediction.verdict == "unknown" and intent.priority != "memory":
            # the model's sizes are unknown, so there is nothing to search against: take the cautious plan
            # (every memory saver that costs little quality) rather than the priority's most demanding one
            cautious, _ = ladder(spec, profile, "memory", te_ok, tuple(res))
            cautious = pin(cautious)
            pred = evaluate(cautious, batch, None)
            found = Found(cautious, batch, preview, pred, False, ((None, cautious, pred),), {}, (),
                          found.tried + 1)
    if not found.preview.on:  # previews off: their size is moot, the recipe's is kept for when they are turned on
        found = replace(found, preview=replace(preview, on=False))
    memory_reasons(draft, spec, recipe, found, res_why, intent, cls, cls_why, dataset)
    length(draft, recipe, intent, n, n_why, draft.value("train.batch_size", found.batch, V.positive_int))
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
        why_not=None if fits else why_not(profile, found, prediction, spec),
        locked=tuple(locked), plan=f"{found.mem.describe()}, batch {found.batch}",
        predictor_calls=calls + counted.calls, recipe=recipe, departures=deps, notes=extra)


class _Counting:
    """The predictor, counting its calls (the plan's notes and departures ask it too)."""

    def __init__(self, predictor: Callable[..., Any]):
        self.predictor, self.calls = predictor, 0

    def __call__(self, job: Any, profile: Any, dataset: Any = None) -> Any:
        self.calls += 1
        return self.predictor(job, profile, dataset)


def _wants_ema(intent: Intent, recipe: Recipe) -> bool:
    """EMA for 'quality' (one copy of the adapter, no extra passes); the recipe's choice for 'speed'; off for
    'memory'."""
    if intent.priority == "quality":
        return True
    return intent.priority == "speed" and recipe.get("train.ema_config.use_ema") is True


def _wants_dop(intent: Intent, dataset: Any, spec: ModelSpec) -> bool:
    """DOP only where the design's 'quality' asks for more regularization on an identity whose captions name its
    class (ai-toolkit's examples and UI leave DOP off, and it more than doubles the step: it is worth its price
    only with a class word the captions vouch for — without an analysed dataset it stays an opt-in whose price
    the notes state), and not on an edit / control model (it learns a transformation of its control image, and
    the control tokens already double what each of DOP's extra passes costs)."""
    return intent.priority == "quality" and intent.training_type in V.SUBJECTS \
        and getattr(dataset, "class_candidate", None) is not None and not _is_edit(spec)


def _is_edit(spec: ModelSpec) -> bool:
    return spec.group == "instruction" or any("control" in s for s in spec.additional_sections)


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
        out["model.qtype_te"] = te_qtype(spec)
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
