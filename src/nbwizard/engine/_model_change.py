"""Changing the model of a plan: the user's own values survive unless the new model cannot use them.

A value that names the previous model's files or options (its weights, its model kwargs, an adapter made for it,
the legacy flag that selected it) never carries over; nor does a setting the new model does not have (conv rank on a
model without convolutions, quantization where ai-toolkit offers none, video frames on an image model) or a noise
schedule of the other family. Everything else the user set (rank, learning rate, steps, resolution…) is kept, and
each value that is not comes back with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .arch import _rules
from .job import lookup
from .models import ModelSpec, model_info, models
from .settings import find_setting

# settings that name the previous model's own files or options
_MODEL_OWN = {
    "model.name_or_path": "it names {old}'s weights",
    "model.model_kwargs": "these are options of {old}'s model class",
    "model.extras_name_or_path": "it names files made for {old}",
    "model.assistant_lora_path": "it names an adapter made for {old}",
    "model.unconditional_lora_path": "it names an adapter made for {old}",
    "model.arch": "it names {old}",
    **{f"model.{flag}": "this legacy flag selects {old}'s model class" for flag, _ in _rules()["legacy_flags"]},
}
# why a setting the new model's trainer UI hides does not apply to it
_HIDDEN_WHY = {
    "network.conv": "{new} has no convolution layers to adapt",
    "network.conv_alpha": "{new} has no convolution layers to adapt",
    "model.quantize": "ai-toolkit does not quantize {new}",
    "model.qtype": "ai-toolkit does not quantize {new}",
    "model.quantize_te": "ai-toolkit does not quantize {new}'s text encoder",
    "model.qtype_te": "ai-toolkit does not quantize {new}'s text encoder",
}
_OFFLOADING = ("model.layer_offloading", "model.layer_offloading_transformer_percent",
               "model.layer_offloading_text_encoder_percent")
# settings only some models have (the catalog's additional sections: video frames, audio, control images...);
# low_vram and layer offloading are read by every model class that supports them, judged below instead
_GATED = {p.replace("datasets.", "datasets[].") for m in models() for p in m.additional_sections} - {
    "model.low_vram", "model.layer_offloading"}


@dataclass(frozen=True)
class Dropped:
    """A value of the user's that the new model cannot use, and why."""

    path: str
    label: str
    value: Any
    why: str


def unusable(path: str, value: Any, old: str, new: ModelSpec) -> str | None:
    """Why ``new`` cannot use ``path: value`` set for the model called ``old``, or None when it can."""
    name = new.label
    hidden = set(new.hidden_sections) | ({"network.conv_alpha"} if "network.conv" in new.hidden_sections else set())
    hidden |= {"model.qtype"} if "model.quantize" in hidden or not new.quantization_supported else set()
    hidden |= {"model.quantize"} if not new.quantization_supported else set()
    hidden |= {"model.quantize_te", "model.qtype_te"} if not new.te_quantization_supported else set()
    allowed = {p.replace("datasets.", "datasets[].") for p in new.additional_sections}
    if path in _MODEL_OWN:
        return _MODEL_OWN[path].format(old=old)
    if path in hidden:
        return _HIDDEN_WHY.get(path, "ai-toolkit's UI does not offer it for {new}: it does not apply").format(new=name)
    if path in _GATED and path not in allowed:
        return f"{name} has no such setting (it belongs to models with video, audio or control images)"
    if path in _OFFLOADING and not new.supports_layer_offloading:
        return f"{name} does not support layer offloading in ai-toolkit"
    if path in ("model.qtype", "model.qtype_te") and isinstance(value, str) and "|" in value and \
            value not in {a.qtype_value for a in new.ara}:
        return f"this accuracy-recovery adapter is made for {old}, not {name}"
    if path in ("train.noise_scheduler", "sample.sampler") and isinstance(value, str):
        use = "training" if path == "train.noise_scheduler" else "its previews"
        if new.flow_matching and value != "flowmatch":
            return f"{name} is a flow-matching model: {use} need 'flowmatch'"
        if not new.flow_matching and value == "flowmatch":
            return f"{name} is not a flow-matching model: {use} cannot use 'flowmatch'"
    return None


def change_model(state: Any, arch: str) -> tuple[Any, tuple[Dropped, ...]]:
    """``state`` planned for catalog model ``arch``, and the user's values that did not carry over (with why).

    Raises the catalog's ``UnknownModelError`` for an arch it does not list. Values the new model cannot use
    leave the job whoever set them. On a held job (an import) the new model's id and weights are written as part
    of the change the user asked for; everything else the new model would bring is a suggestion.
    """
    spec = model_info(arch)
    old = state.spec.label if state.spec is not None else (state.job.get("model.name_or_path") or state.arch)
    job, dropped = state.job, []
    for path in job.set_paths():
        if path == "model.arch" or find_setting(path) is None:
            continue
        why = unusable(path, job.get(path), old, spec)
        if why is None:
            continue
        if path in state.user_set:
            dropped.append(Dropped(path, find_setting(path).label, job.get(path), why))
        job = _without_everywhere(job, path)
    gone = {d.path for d in dropped} | {p for p in state.user_set if unusable(p, None, old, spec) is not None}
    user_set = {u for u in state.user_set if not any(u == g or u.startswith(g + ".") for g in gone)}
    if not state.auto:  # the user asked for this model: its id and weights are theirs now
        job = job.with_values({"model.arch": spec.arch, "model.name_or_path": spec.name_or_path})
        user_set |= {"model.arch", "model.name_or_path"}
    return state.replace(arch=spec.arch, job=job, user_set=frozenset(user_set)), tuple(dropped)


def _without_everywhere(job: Any, path: str) -> Any:
    """``job`` without ``path`` in any item of its list section."""
    if "[]" not in path:
        return job.unset(path)
    items = lookup(job.to_dict(), path.split("[]")[0])
    for index in reversed(range(len(items) if isinstance(items, list) else 1)):
        job = job.unset(path, index)
    return job
