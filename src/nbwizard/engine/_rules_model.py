"""Validation rules for the model and the adapter: quantization (``reference/aitk-schema.md`` §E qtype, §F7),
layer offloading, LoKr factor and LoRA rank / alpha (§D network, §F silent behaviours)."""

from __future__ import annotations

from typing import Iterator

from ._rules_config import has_network, is_true
from .validate import UNSET, Context, Fix, Issue, num


# ---- quantization ---------------------------------------------------------------------------------------------
def _qtype_ok(value: object) -> bool:
    from .settings import setting

    return isinstance(value, str) and value.split("|", 1)[0] in (setting("model.qtype").choices or ())


def quantization(ctx: Context) -> Iterator[Issue]:
    """§E model.qtype (toolkit/util/quantize.py get_qtype: unknown name -> KeyError at quantization); the UI
    offers quantization only where the arch supports it; §F: quantize_te defaults to quantize; §F7: an ARA
    qtype together with assistant_lora_path raises in validate_configs."""
    arch, quantize = ctx.arch, is_true(ctx.get("model.quantize"))
    raw_te = ctx.raw("model.quantize_te", default=None)
    quantize_te = is_true(raw_te) if isinstance(raw_te, bool) else quantize
    if arch is not None and quantize and not arch.quantization_supported:
        yield Issue("quantize-unsupported", "warning", "model.quantize",
                    f"{arch.label} does not support quantization in ai-toolkit (its UI disables it).",
                    fix=Fix.of("Turn quantization off", ("model.quantize", False), ("model.quantize_te", False)))
    elif arch is not None and quantize_te and not arch.te_quantization_supported:
        why = " (quantize_te follows quantize when it is not set)" if raw_te is None else ""
        yield Issue("quantize-te-unsupported", "warning", "model.quantize_te",
                    f"{arch.label} does not support text-encoder quantization{why}.",
                    fix=Fix.of("Turn text-encoder quantization off", ("model.quantize_te", False)))
    for on, path in ((quantize, "model.qtype"), (quantize_te, "model.qtype_te")):
        value = ctx.get(path)
        if on and not _qtype_ok(value):
            good = ctx.ui_default("model.qtype", "qfloat8")
            yield Issue("invalid-qtype", "error", path,
                        f"{path.split('.')[-1]} {value!r} is not a quantization type ai-toolkit knows; quantizing "
                        f"fails with a KeyError while the model loads.",
                        fix=Fix.of(f"Use {good or 'qfloat8'}", (path, good if _qtype_ok(good) else "qfloat8")))
    qtype = ctx.get("model.qtype")
    has_ara = (isinstance(qtype, str) and "|" in qtype) or bool(ctx.get("model.accuracy_recovery_adapter"))
    if has_ara and ctx.get("model.assistant_lora_path"):
        patch = [("model.qtype", "qfloat8")] if isinstance(qtype, str) and "|" in qtype else []
        if ctx.is_set("model.accuracy_recovery_adapter"):
            patch.append(("model.accuracy_recovery_adapter", UNSET))
        yield Issue("ara-with-assistant-lora", "error", "model.assistant_lora_path",
                    "An accuracy-recovery adapter (qtype 'uintN|…') cannot be combined with an assistant LoRA: the "
                    "trainer raises at start.",
                    fix=Fix.of("Quantize to 8 bit without the recovery adapter", *patch))


def weights_mismatch(ctx: Context) -> Iterator[Issue]:
    """The weights' path names another catalog model than ``model.arch`` (:func:`~nbwizard.engine.arch.identify`):
    ai-toolkit builds the model class the arch names from those weights, which either fails or trains another
    model than the job says."""
    from .arch import identify

    mismatch = identify(ctx.job).mismatch
    if mismatch:
        yield Issue("model-weights-mismatch", "warning", "model.name_or_path", mismatch)


def batch_above_model_limit(ctx: Context) -> Iterator[Issue]:
    """A batch the arch's code in ai-toolkit cannot train (``ModelSpec.max_batch``): Mage-Flow packs the batch into
    one sequence, and ai-toolkit's per-sample LoRA multiplier then empties every LoRA'd projection
    (toolkit/network_mixins.py LoRAModule.forward)."""
    limit = getattr(ctx.arch, "max_batch", None)
    batch = num(ctx.get("train.batch_size"))
    if limit is None or limit.value is None or batch is None or batch <= limit.value:
        return
    accumulation = num(ctx.get("train.gradient_accumulation")) or 1
    steps = int(max(accumulation, 1) * batch // limit.value)  # the same samples per optimizer update
    yield Issue("batch-above-model-limit", "error", "train.batch_size",
                f"{ctx.arch.label} cannot train at batch {batch:g} in ai-toolkit: {limit.note} ({limit.source}). "
                f"Train at batch {limit.value:g}; gradient accumulation gives the larger batch's updates.",
                fix=Fix.of(f"Use batch {limit.value:g} with gradient accumulation {steps}",
                           ("train.batch_size", int(limit.value)), ("train.gradient_accumulation", steps)))


def model_code_fails(ctx: Context) -> Iterator[Issue]:
    """A training step the arch's own model code cannot run, found when its step was traced (traces.json
    ``mode_errors``): HiDream's MoE feed-forward modifies a tensor autograd saved unless gradient checkpointing
    recomputes it (extensions_built_in/diffusion_models/hidream, ``MOEFeedForwardSwiGLU.moe_infer``)."""
    trace = getattr(ctx.arch, "trace", None)
    failure = trace.mode_errors.get("train_no_gc") if trace is not None else None
    gc = ctx.get("train.gradient_checkpointing")
    if failure and gc is not None and not is_true(gc):
        yield Issue("model-fails-without-checkpointing", "error", "train.gradient_checkpointing",
                    f"{ctx.arch.label} cannot train with gradient checkpointing off: ai-toolkit's model code fails "
                    f"in the first step ({failure}).",
                    fix=Fix.of("Turn gradient checkpointing on", ("train.gradient_checkpointing", True)))


def layer_offloading(ctx: Context) -> Iterator[Issue]:
    """Model.layer_offloading: the UI offers it only for archs that support it (aitk-archs additional sections)."""
    if ctx.arch is not None and not ctx.arch.supports_layer_offloading and is_true(ctx.get("model.layer_offloading")):
        yield Issue("layer-offloading-unsupported", "warning", "model.layer_offloading",
                    f"{ctx.arch.label} does not support layer offloading in ai-toolkit.",
                    fix=Fix.of("Turn layer offloading off", ("model.layer_offloading", False)))


# ---- network ----------------------------------------------------------------------------------------------------
def lokr(ctx: Context) -> Iterator[Issue]:
    """§E network.lokr_factor: -1 (auto) or a factor (UI: 4, 8, 16, 32); §F: with lokr_full_rank (the default) the
    rank fields are ignored; the factor means nothing for other network types."""
    if not has_network(ctx):
        return
    is_lokr, factor = ctx.get("network.type") == "lokr", num(ctx.get("network.lokr_factor"))
    if is_lokr and factor is not None and factor != -1 and factor < 2:
        yield Issue("lokr-factor-invalid", "warning", "network.lokr_factor",
                    f"lokr_factor {factor:g} is not a usable factor: use -1 (automatic) or a factor such as 4, 8, "
                    f"16 or 32.", fix=Fix.of("Use the automatic factor", ("network.lokr_factor", -1)))
    if not is_lokr and ctx.is_set("network.lokr_factor") and factor != -1:
        yield Issue("lokr-factor-ignored", "suggestion", "network.lokr_factor",
                    "lokr_factor only applies to network type 'lokr'; it is ignored here.",
                    fix=Fix.of("Remove lokr_factor", ("network.lokr_factor", UNSET)))
    if is_lokr and is_true(ctx.get("network.lokr_full_rank")) and ctx.is_set("network.linear"):
        yield Issue("lokr-rank-ignored", "suggestion", "network.linear",
                    "With LoKr full rank (lokr_full_rank, on by default) the rank and alpha are ignored; "
                    "lokr_factor sets the adapter size.")


def network_rank_alpha(ctx: Context) -> Iterator[Issue]:
    """§D network (NetworkConfig): rank wins over linear, linear_alpha falls back to alpha; §F: for transformer
    (DiT) archs the LoRA is PEFT-format and alpha is replaced by the rank."""
    if not has_network(ctx) or ctx.get("network.type") == "lokr":
        return
    rank_path = "network.rank" if ctx.get("network.rank") is not None else "network.linear"
    rank = num(ctx.get(rank_path))
    alpha_path = "network.linear_alpha" if ctx.get("network.linear_alpha") is not None else "network.alpha"
    alpha = num(ctx.get(alpha_path))
    if rank is not None and rank < 1:
        yield Issue("network-rank-invalid", "error", rank_path, f"The LoRA rank must be at least 1 (it is "
                    f"{rank:g}).", fix=Fix.of("Use rank 16", (rank_path, 16), ("network.linear_alpha", 16)))
        return
    dit = ctx.arch is not None and "network.conv" in ctx.arch.hidden_sections
    if alpha is not None and alpha <= 0 and not dit:
        yield Issue("network-alpha-zero", "error", alpha_path,
                    "linear_alpha 0 scales the LoRA's output by 0: nothing would be learned.",
                    fix=Fix.of("Set alpha to the rank", ("network.linear_alpha", rank or 16)))
    elif dit and rank is not None and alpha is not None and ctx.is_set("network.linear_alpha") and alpha != rank:
        yield Issue("network-alpha-ignored", "suggestion", "network.linear_alpha",
                    f"{ctx.arch.label} trains a PEFT-format LoRA where alpha is replaced by the rank: "
                    f"linear_alpha {alpha:g} has no effect; it trains as alpha = {rank:g}.",
                    fix=Fix.of("Set alpha to the rank", ("network.linear_alpha", rank)))
    elif not dit and rank is not None and alpha is not None and alpha > rank:
        yield Issue("network-alpha-above-rank", "warning", "network.linear_alpha",
                    f"linear_alpha {alpha:g} is above the rank {rank:g}: the LoRA's updates are scaled by "
                    f"{alpha / rank:.3g}×, like a {alpha / rank:.3g}× higher learning rate.",
                    fix=Fix.of("Set alpha to the rank", ("network.linear_alpha", rank)))


RULES = (weights_mismatch, quantization, batch_above_model_limit, model_code_fails, layer_offloading, lokr,
         network_rank_alpha)
