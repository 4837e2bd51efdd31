"""The reasons :mod:`nbwizard.engine.recommend` gives for a plan's memory values (private): each lever named with
the prediction before and after it, previews cut with what they would have needed, DOP and EMA with their fit.
"""

from __future__ import annotations

from typing import Any

from . import _recommend_values as V
from ._recommend_search import RECIPE_HEADROOM, Found, te_qtype
from .intent import Intent
from .models import ModelSpec
from .recipes import Recipe

NO_GPU = "no GPU: this plans a job for a card you choose as target"


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def gib(p: Any) -> str:
    return (f"{p.peak_vram_gib:.1f} GiB (up to {p.high_gib:.1f})" if getattr(p, "peak_vram_gib", None) is not None
            else "unknown")


def memory_reasons(d: V.Draft, spec: ModelSpec, recipe: Recipe, f: Found, res_why: str, intent: Intent,
                    cls: str | None, cls_why: str, dataset: Any) -> None:
    p, m = f.prediction, f.mem
    budget = f"{p.budget_gib:.1f} GiB" if p.budget_gib is not None else "no known budget"
    peak = f"training predicted at {gib(p)}"

    def why_lever(field: str, on: str, off: str) -> str:
        for i, (label, mem, pred) in enumerate(f.trail):
            if label and getattr(mem, field) != getattr(f.trail[i - 1][1], field):
                last = i == len(f.trail) - 1
                before = f.trail[i - 1][2]
                known = (f" — {recipe.name}, written for a {recipe.vram_gb:g} GB card, runs with it; a plan without "
                         f"it must leave {RECIPE_HEADROOM:.0%} of the card free" if before.verdict == "fits" and
                         recipe.vram_gb else "")
                start = ("the plan takes memory savers cheapest first; without any of them, training was predicted "
                         if i == 1 else f"memory saver {i} of the plan (cheapest first); with the ones before it, "
                         "training was predicted ")
                return (f"{on}: {start}at {gib(before)} against {budget}{known}"
                        + (f"; with it, {gib(pred)}" if last else " (later savers were needed too)"))
        return off

    label = (f"'{intent.priority}' plan" if p.verdict != "unknown" else
             "cautious plan used when the model's size is unknown")
    batch_why = (f"Batch {f.batch}: ai-toolkit's practice and {recipe.name}'s; the steps count optimizer updates, so "
                 "a larger batch would cost time per step without training more" if f.batch == 1 else
                 f"Batch {f.batch}: nothing larger can fit")
    occupancy = bucket_occupancy(dataset, m.res)
    if occupancy:
        batch_why += f"; the dataset's buckets hold {occupancy}"
    d.put("train.batch_size", f.batch, batch_why)
    no_gc = f.dropped.get("gc_off")
    d.put("train.gradient_checkpointing", m.gc, (
        "Gradient checkpointing off: it changes no result, and the plan fits without it with room to spare "
        f"({peak} of {budget}); each step skips recomputing the forward pass" if not m.gc else
        "Gradient checkpointing on (ai-toolkit's default): recomputes activations instead of storing them" + (
            f"; without it training would need {gib(no_gc)} against {budget}" if no_gc is not None else "")))
    d.put("model.quantize", m.qtype is not None, why_lever("qtype", f"Transformer quantized ({m.qtype})", (
        f"Transformer kept in bf16: it fits without quantization ({peak} of {budget})" if m.qtype is None else
        f"Transformer quantized from the start of the {label}")) if spec.quantization_supported else
        f"{spec.label} offers no quantization")
    if m.qtype is not None and spec.quantization_supported:
        theirs = str(recipe.get("model.qtype") or "")
        path = (f"; the adapter is named as the UI names it: {recipe.name} writes '{theirs.partition('|')[2]}', which "
                "names no repository, so ai-toolkit finds it only in the folder it runs from"
                if "|" in m.qtype and "|" in theirs and "/" not in theirs.partition("|")[2]
                and theirs != m.qtype else "")
        d.put("model.qtype", m.qtype, (
            f"'{m.qtype.split('|')[0]}' with {spec.label}'s accuracy-recovery adapter, which restores most of what "
            f"the low-bit weights lose (ai-toolkit's own recipe for small cards){path}" if "|" in m.qtype else
            f"'{m.qtype}': the least lossy type that makes the plan fit"))
    d.put("model.quantize_te", m.te_quant and spec.te_quantization_supported, why_lever(
        "te_quant", "Text encoder in 8 bits", "Text encoder in 8 bits for the caching pass (loaded once, then freed)"
        if m.te_quant and m.te_cache else "Text encoder quantized as part of the plan" if m.te_quant else
        "Text encoder kept in full precision"))
    if m.te_quant and spec.te_quantization_supported:
        te_q = te_qtype(spec)
        d.put("model.qtype_te", te_q, f"{te_q}: the trainer UI's type for {spec.label}'s text encoder")
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
    preview_reasons(d, spec, f)
    dop_drop = f.dropped.get("dop")
    if m.dop:
        d.put("train.diff_output_preservation", True, (
            f"DOP on for {_a(intent.training_type)} under 'quality': it keeps what the model draws for '{cls}' while "
            "it learns the trigger; its price is in the plan's notes (turn it off to train much faster)"))
    else:
        d.put("train.diff_output_preservation", False, (
            f"DOP off: with it training would need {gib(dop_drop)} against {budget}" if dop_drop is not None else
            "DOP off (ai-toolkit's default and every example's)" + (
                "; it is offered in the plan's notes with its price" if intent.training_type in V.SUBJECTS
                and cls is not None else f"; {cls_why}" if intent.training_type in V.SUBJECTS else "")))
    if m.dop:
        d.put("train.diff_output_preservation_class", cls, f"The class word the trigger stands for: {cls_why}")
        d.put("train.diff_output_preservation_multiplier", 1.0, "Preservation weighted like the training loss")
    ema_drop = f.dropped.get("ema")
    d.put("train.ema_config.use_ema", m.ema, (
        "EMA on for quality: averages the adapter over recent steps (one copy of the adapter, no extra passes)"
        if m.ema and intent.priority == "quality" else f"EMA on: {recipe.name}'s choice" if m.ema else
        f"EMA off: with it training would need {gib(ema_drop)} against {budget}" if ema_drop is not None else
        f"EMA off for '{intent.priority}'" + (f" ({recipe.name} has it on)" if recipe.get(
            "train.ema_config.use_ema") else "")))


def preview_reasons(d: V.Draft, spec: ModelSpec, f: Found) -> None:
    first = f.preview_trail[0] if f.preview_trail else None
    pv = f.preview
    if first is None or len(f.preview_trail) == 1:
        why = "The previews fit beside the training state" if first is not None else "Previews as the recipe has them"
        if first is not None:
            why += f" (predicted {gib(first[2])})"
        d.put("sample.width", pv.width, why)
        d.put("sample.height", pv.height, why)
        if spec.is_video:
            d.put("sample.num_frames", pv.frames, why)
        d.put("train.disable_sampling", not pv.on, "Sampling off, as you set it" if not pv.on else
              "Previews on: they show when the adapter starts to over-train")
        return
    orig = first[1]
    lowvram = any(label == "low_vram" for label, _, _ in f.preview_trail)
    cut = (f"the recipe's previews ({orig.describe()}) would need {gib(first[2])} beside the training state, "
           f"over {f.prediction.budget_gib:.1f} GiB; " + ("low_vram (an offloading preview pipeline) and " if lowvram
                                                         else "") + "previews are cut, training is not")
    why = (f"Sampling off: {cut} (even the smallest previews do not fit)" if not pv.on else
           f"Previews at {pv.describe()}: {cut}" if pv != orig else f"Previews as the recipe has them: {cut}")
    for path, value in (("sample.width", pv.width), ("sample.height", pv.height),
                        ("sample.num_frames", pv.frames if spec.is_video else None),
                        ("train.disable_sampling", not pv.on)):
        if value is not None:
            d.put(path, value, why)


def bucket_occupancy(dataset: Any, res: tuple[int, ...]) -> str:
    """'3 to 12 images (median 5)' at the largest training size, from the dataset analysis."""
    plans = {b.resolution: b for b in getattr(dataset, "buckets", None) or ()}
    plan = plans.get(max(res)) if res else None
    if plan is None or not plan.buckets:
        return ""
    counts = sorted(b.count for b in plan.buckets)
    return (f"{counts[0]} to {counts[-1]} images (median {counts[len(counts) // 2]}) at {max(res)} px; a batch larger "
            "than a bucket is padded with duplicates of its images")


def why_not(profile: Any, f: Found, p: Any, spec: ModelSpec) -> str:
    if profile.gpu is None:
        return NO_GPU
    if p.verdict == "unknown":
        return f"cannot predict memory for {spec.label}: {p.verdict_reason}"
    t = f.prediction
    need = f"{t.peak_vram_gib:.1f} GiB (up to {t.high_gib:.1f})" if t.peak_vram_gib is not None else "more"
    return (f"training needs {need} even at batch {f.batch} with {f.mem.describe()}; the budget is "
            f"{t.budget_gib:.1f} GiB")
