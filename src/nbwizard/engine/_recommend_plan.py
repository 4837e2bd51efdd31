"""What a recommended plan owes its reader (private to :mod:`nbwizard.engine.recommend`).

* **Departures**: every value that differs from the arch's usual recipe (ai-toolkit's example, else the UI's
  defaults), with the reason and its cost. Costs in time and memory are the predictor's: the plan is predicted once
  more with the recipe's value put back, and the two predictions are compared. Costs in quality are stated in words
  (the predictor does not score quality).
* **Notes**: DOP's price (on, or offered), a long run with the plan that halves it, a system-RAM estimate above the
  machine's RAM (a warning, never a block: it is an estimate), a batch larger than the dataset's buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from ._recommend_search import qbits
from ._recommend_values import bucket_step, lower_resolution, positive_int, resolution_list
from .settings import find_setting

# A predicted run longer than this gets a warning and the plan that halves it: it would not finish overnight.
LONG_RUN_HOURS = 8.0
# A ratio of step times within this band of 1 is "the same time".
SAME_TIME = 0.03


@dataclass(frozen=True)
class Departure:
    """One value of the plan that differs from the arch's usual recipe, why, and what it costs or gains."""

    group: str  # "quantization", "resolution", "previews"...
    paths: tuple[str, ...]
    recipe_value: Any
    value: Any
    why: str
    cost: str  # "" when the change costs nothing the predictor or the rules can name

    @property
    def changes(self) -> str:
        """``cache_text_embeddings off → on, unload_text_encoder on → off``."""
        old, new = self.recipe_value, self.value
        return ", ".join(f"{k} {_show(old.get(k))} → {_show(new.get(k))}" for k in new)

    @property
    def text(self) -> str:
        cost = f" Cost: {self.cost}." if self.cost else ""
        return f"{self.group}: {self.changes} — {self.why}.{cost}"


@dataclass(frozen=True)
class Alternative:
    """A plan the user may prefer, as the values it changes, with its prediction."""

    label: str
    changes: Mapping[str, Any]
    step_seconds: float | None
    total_seconds: float | None


@dataclass(frozen=True)
class Note:
    """Something the user should weigh before training; ``severity`` "warning" or "info"."""

    kind: str  # "dop", "long_run", "ram", "batch"
    severity: str
    text: str
    alternative: Alternative | None = None


# ---- departures ---------------------------------------------------------------------------------------------------
# group -> (paths, predicted: whether its cost in time / memory is asked of the predictor)
_GROUPS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("quantization", ("model.quantize", "model.qtype"), True),
    ("text encoder", ("train.cache_text_embeddings", "train.unload_text_encoder", "model.quantize_te"), True),
    ("low_vram", ("model.low_vram",), True),
    ("layer offloading", ("model.layer_offloading", "model.layer_offloading_transformer_percent"), True),
    ("resolution", ("datasets[].resolution",), True),
    ("latent caching", ("datasets[].cache_latents", "datasets[].cache_latents_to_disk"), True),
    ("gradient checkpointing", ("train.gradient_checkpointing",), True),
    ("batch", ("train.batch_size", "train.gradient_accumulation"), True),
    ("steps", ("train.steps",), True),
    ("DOP", ("train.diff_output_preservation",), True),
    ("EMA", ("train.ema_config.use_ema",), True),
    ("previews", ("sample.width", "sample.height", "sample.num_frames", "train.disable_sampling"), True),
    ("learning rate", ("train.lr", "train.lr_scheduler"), False),
    ("rank", ("network.linear", "network.linear_alpha"), False),
    ("timestep type", ("train.timestep_type",), False),
    ("caption dropout", ("datasets[].caption_dropout_rate",), False),
    ("expert switching", ("train.switch_boundary_every",), False),
)
# Paths compared only when the plan makes them matter.
_ONLY_IF = {"model.qtype": "model.quantize", "model.layer_offloading_transformer_percent": "model.layer_offloading",
            "model.quantize_te": "!train.cache_text_embeddings"}
_GROUP_OF = {p: g for g, paths, _ in _GROUPS for p in paths}


def departures(job: Any, pred: Any, recipe: Any, reasons: Mapping[str, Any], spec: Any, profile: Any,
               dataset: Any, predictor: Callable[..., Any]) -> tuple[Departure, ...]:
    """Each group of values where ``job`` differs from ``recipe``, with the reasons and the predicted cost."""
    out = []
    for group, paths, predicted in _GROUPS:
        if group == "expert switching" and "train.switch_boundary_every" not in recipe.example_values:
            continue
        if group == "previews" and not spec.is_video:
            paths = tuple(p for p in paths if p != "sample.num_frames")
        mine = {p: _norm(_bool_default(p, job.get(p))) for p in paths}
        theirs = {p: _norm(_bool_default(p, _recipe_value(recipe, p))) for p in paths}
        differ = [p for p in paths if mine[p] != theirs[p] and _matters(p, mine, theirs)]
        if not differ:
            continue
        why = "; ".join(dict.fromkeys(str(getattr(reasons.get(p), "why", "") or "").rstrip(".") for p in differ
                                      if reasons.get(p) is not None)) or "kept from your job"
        cost = ""
        if predicted and profile.gpu is not None:
            back = {p: _plain(theirs[p]) for p in paths if theirs[p] is not None}
            alt = _predict_with(job, back, profile, dataset, predictor)
            cost = _compare(pred, alt, recipe.name)
        quality = _quality(group, mine, theirs)
        cost = "; ".join(c for c in (quality, cost) if c)
        out.append(Departure(group, tuple(differ), _summary(differ, theirs), _summary(differ, mine), why, cost))
    return tuple(out)


def _matters(path: str, mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> bool:
    """A dependent value counts only where it takes effect: a qtype where the model is quantized (in the plan and
    in the recipe), the text encoder's bits where it is not cached and freed."""
    flag = _ONLY_IF.get(path)
    if flag is None:
        return True
    if flag.startswith("!"):
        return not mine.get(flag[1:]) and not theirs.get(flag[1:])
    return bool(mine.get(flag)) and bool(theirs.get(flag))


def _recipe_value(recipe: Any, path: str) -> Any:
    if path in recipe.values:
        return recipe.values[path]
    known = find_setting(path)
    return known.default if known is not None else None


def _bool_default(path: str, value: Any) -> Any:
    """An unset switch is off (the trainer reads a missing ``layer_offloading`` as False)."""
    known = find_setting(path)
    return False if value is None and known is not None and known.type.startswith("bool") else value


def _norm(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_norm(x) for x in v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _plain(v: Any) -> Any:
    return [_plain(x) for x in v] if isinstance(v, tuple) else v


def _summary(paths: list[str], values: Mapping[str, Any]) -> Any:
    return {p.rsplit(".", 1)[-1]: values[p] for p in paths}


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {_show(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return "/".join(_show(x) for x in v)
    if isinstance(v, str) and "|" in v:
        q, _, ara = v.partition("|")
        return f"{q} + adapter {ara}"
    return {True: "on", False: "off", None: "not set"}.get(v, str(v)) if isinstance(v, (bool, type(None))) \
        else str(v)


def _predict_with(job: Any, changes: Mapping[str, Any], profile: Any, dataset: Any,
                  predictor: Callable[..., Any]) -> Any:
    try:
        alt = job.with_values(dict(changes))
    except ValueError:
        return None
    return predictor(alt, profile, dataset)


def hours(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _compare(pred: Any, alt: Any, recipe_name: str) -> str:
    """The plan against the plan with the recipe's values put back: memory where that does not fit, time."""
    if alt is None:
        return ""
    parts = []
    if alt.verdict in ("does_not_fit", "tight") and pred.verdict == "fits":
        parts.append(f"{recipe_name}'s way is predicted at {alt.peak_vram_gib:.1f} GiB (up to {alt.high_gib:.1f}) "
                     f"on this {alt.budget_gib:.1f} GiB budget: {alt.verdict.replace('_', ' ')}")
    if pred.step_seconds and alt.step_seconds:
        ratio = pred.step_seconds / alt.step_seconds
        if abs(ratio - 1) > SAME_TIME:
            what = f"{ratio:.2g}x the time per step" if ratio > 1 else f"{1 / ratio:.2g}x faster per step"
            parts.append(f"{what} ({alt.step_seconds:.2g} → {pred.step_seconds:.2g} s/step; the run "
                         f"{hours(alt.total_seconds)} → {hours(pred.total_seconds)})")
        elif pred.total_seconds and alt.total_seconds and abs(pred.total_seconds / alt.total_seconds - 1) > SAME_TIME:
            parts.append(f"the run {hours(alt.total_seconds)} → {hours(pred.total_seconds)}")
    return "; ".join(parts)


def _bits(qtype: Any, quantize: Any) -> float:
    return qbits(str(qtype or "qfloat8")) if quantize else 16.0


def _quality(group: str, mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> str:
    """The change in quality the predictor cannot put a number on, in words."""
    if group == "quantization":
        b_mine = _bits(mine.get("model.qtype"), mine.get("model.quantize"))
        b_theirs = _bits(theirs.get("model.qtype"), theirs.get("model.quantize"))
        ara = "|" in str(mine.get("model.qtype") or "")
        if b_mine < b_theirs:
            return ("lower-precision weights; the accuracy-recovery adapter restores most of the loss" if ara else
                    "lower-precision weights: some loss of fine detail and likeness")
        if b_mine > b_theirs:
            return "more precise weights (bf16 is exact)" if b_mine == 16 else "more precise weights"
        return ""
    if group == "resolution":
        top_mine = max(resolution_list(mine["datasets[].resolution"]) or [0])
        top_theirs = max(resolution_list(theirs["datasets[].resolution"]) or [0])
        if 0 < top_mine < top_theirs:
            return f"less fine detail: the adapter learns at {top_mine} px at most, not {top_theirs}"
        return ""
    if group == "previews":
        return "previews only: training is unchanged"
    if group == "text encoder" and theirs.get("train.unload_text_encoder") and mine.get("train.cache_text_embeddings"):
        return "the captions are kept (unload_text_encoder trains on the trigger word alone)"
    if group == "gradient checkpointing" and mine.get("train.gradient_checkpointing") is False:
        return "the same result"
    if group == "steps" and (positive_int(mine.get("train.steps")) or 0) < (positive_int(theirs.get("train.steps"))
                                                                           or 0):
        return "a shorter run: a slightly less converged adapter"
    return ""


# ---- notes ------------------------------------------------------------------------------------------------------
def notes(job: Any, pred: Any, found: Any, intent: Any, spec: Any, profile: Any, dataset: Any,
          predictor: Callable[..., Any], cls: str | None, cls_why: str, locked: Mapping[str, Any]
          ) -> tuple[Note, ...]:
    out: list[Note] = []
    if profile.gpu is not None and intent.training_type in ("person", "pet", "object"):
        out.append(_dop_note(job, pred, profile, dataset, predictor, cls, cls_why))
    long = _long_run(job, pred, spec, profile, dataset, predictor, locked)
    if long is not None:
        out.append(long)
    ram = _ram_note(pred, profile)
    if ram is not None:
        out.append(ram)
    batch = _batch_note(job, dataset)
    if batch is not None:
        out.append(batch)
    return tuple(out)


def _dop_note(job: Any, pred: Any, profile: Any, dataset: Any, predictor: Callable[..., Any], cls: str | None,
              cls_why: str) -> Note:
    on = job.get("train.diff_output_preservation") is True
    if on:
        alt = _predict_with(job, {"train.diff_output_preservation": False}, profile, dataset, predictor)
        price = _price(alt, pred)
        return Note("dop", "info", f"DOP (differential output preservation) is on: it keeps what the model draws "
                                   f"for '{job.get('train.diff_output_preservation_class')}' while the adapter "
                                   f"learns the trigger, at {price}. To drop it, set "
                                   "train.diff_output_preservation to false (or plan for 'speed').",
                    Alternative("DOP off", MappingProxyType({"train.diff_output_preservation": False}),
                                getattr(alt, "step_seconds", None), getattr(alt, "total_seconds", None)))
    if cls is None:
        return Note("dop", "info", f"DOP (differential output preservation) is off: {cls_why}.")
    changes = {"train.diff_output_preservation": True, "train.diff_output_preservation_class": cls,
               "train.diff_output_preservation_multiplier": 1.0}
    alt = _predict_with(job, changes, profile, dataset, predictor)
    fit = "" if alt is None or alt.verdict == "fits" else " It does not fit this card with this plan."
    return Note("dop", "info", f"DOP (differential output preservation) is off. Turning it on with class '{cls}' "
                               f"keeps what the model draws for '{cls}' while the adapter learns the trigger, at "
                               f"{_price(pred, alt)}.{fit}",
                Alternative(f"DOP on (class '{cls}')", MappingProxyType(changes),
                            getattr(alt, "step_seconds", None), getattr(alt, "total_seconds", None)))


def _price(without: Any, with_: Any) -> str:
    """'≈ 2.3x step time (1.6 h → 3.7 h)' from two predictions, without and with the feature."""
    if without is None or with_ is None or not without.step_seconds or not with_.step_seconds:
        return "a price the predictor cannot tell for this model"
    ratio = with_.step_seconds / without.step_seconds
    return (f"≈ {ratio:.2g}x the step time ({without.step_seconds:.2g} → {with_.step_seconds:.2g} s/step; the run "
            f"{hours(without.total_seconds)} → {hours(with_.total_seconds)}) as predicted")


def _long_run(job: Any, pred: Any, spec: Any, profile: Any, dataset: Any, predictor: Callable[..., Any],
              locked: Mapping[str, Any]) -> Note | None:
    total = getattr(pred, "total_seconds", None)
    if total is None or total <= LONG_RUN_HOURS * 3600:
        return None
    options: list[tuple[str, dict[str, Any]]] = []
    every = positive_int(job.get("sample.sample_every"))
    if every and job.get("train.disable_sampling") is not True:  # previews cost time only: tried first
        options.append((f"previews every {every * 2} steps instead of {every}", {"sample.sample_every": every * 2}))
    qtype, quantize = job.get("model.qtype"), job.get("model.quantize")
    current = _bits(qtype, quantize)
    lower_bit = [a for a in sorted(spec.ara, key=lambda a: -_bits(a.qtype_value, True))
                 if _bits(a.qtype_value, True) < current or (job.get("model.layer_offloading")
                                                            and _bits(a.qtype_value, True) <= current)]
    bit = {}
    if lower_bit:
        a = lower_bit[0]
        bit = {"model.quantize": True, "model.qtype": a.qtype_value, "model.layer_offloading": False}
        options.append((f"{a.bits[4:]}-bit weights with {spec.label}'s accuracy-recovery adapter and no offloading",
                        bit))
    res = resolution_list(job.get("datasets[].resolution"))
    lower = lower_resolution(res, bucket_step(spec)) if res else None
    steps = positive_int(job.get("train.steps"))
    half = {"train.steps": max(50, (steps // 2) // 50 * 50)} if steps else {}
    if lower:
        options.append((f"training at ≤ {max(lower)} px", {"datasets[].resolution": lower}))
    if half:
        options.append((f"{half['train.steps']} steps", half))
    if lower and half:
        options.append((f"training at ≤ {max(lower)} px and {half['train.steps']} steps",
                        {"datasets[].resolution": lower, **half}))
    if bit and lower:
        options.append((f"{a.bits[4:]}-bit weights with the adapter, no offloading, at ≤ {max(lower)} px",
                        {**bit, "datasets[].resolution": lower}))
    tried: list[Alternative] = []
    for label, changes in options:
        if any(p in locked for p in changes):
            continue
        alt = _predict_with(job, changes, profile, dataset, predictor)
        if alt is None or alt.verdict != "fits" or alt.total_seconds is None:
            continue
        tried.append(Alternative(label, MappingProxyType(changes), alt.step_seconds, alt.total_seconds))
        if alt.total_seconds <= total / 2:
            break
    head = f"Predicted {hours(total)} in total: a long run (more than {LONG_RUN_HOURS:g} h)."
    if not tried:
        return Note("long_run", "warning", head + " No faster plan that fits was found.")
    best = next((t for t in tried if t.total_seconds <= total / 2), min(tried, key=lambda t: t.total_seconds))
    halves = "halves it" if best.total_seconds <= total / 2 else "is the fastest found"
    return Note("long_run", "warning", f"{head} A plan that {halves}: {best.label}, predicted "
                                       f"{hours(best.total_seconds)}.", best)


def _ram_note(pred: Any, profile: Any) -> Note | None:
    peak = getattr(pred, "ram_peak_gib", None)
    known = getattr(profile, "ram_total_gib", None)
    total = known.value if known is not None and known.known else None
    if peak is None or total is None or peak <= total:
        return None
    return Note("ram", "warning", (
        f"Loading is estimated to need {peak:.1f} GiB of system RAM; this machine has {total:g} GiB. It is an "
        "estimate, and swap, memory-mapped weights and ai-toolkit's loading order (the transformer, then the text "
        "encoder, one part at a time) often make it fit. If loading is killed: add RAM or swap, or toggle low_vram "
        "(it changes where the model is quantized and what waits in RAM)."))


def _batch_note(job: Any, dataset: Any) -> Note | None:
    batch = positive_int(job.get("train.batch_size")) or 1
    res = resolution_list(job.get("datasets[].resolution"))
    if batch <= 1 or not res or dataset is None:
        return None
    plans = {b.resolution: b for b in getattr(dataset, "buckets", None) or ()}
    plan = plans.get(max(res))
    if plan is None:
        return None
    small = [b for b in plan.buckets if b.count < batch]
    if not small:
        return None
    return Note("batch", "warning", (
        f"Batch {batch}: {len(small)} of the {len(plan.buckets)} buckets at {max(res)} px hold fewer than {batch} "
        "images; ai-toolkit pads those batches with duplicates, so those steps repeat images."))
