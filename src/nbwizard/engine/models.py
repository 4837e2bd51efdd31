"""The model catalog: every arch the ai-toolkit UI offers, what picking it sets, and its size facts.

Records live in ``data/models.json`` (built by ``tools/build_models.py``) and are read on first use. ``ui_defaults``
maps our dotted setting paths (``model.quantize``, ``sample.width``, ``datasets[].num_frames``) to the values the
trainer UI applies when the arch is selected. Size facts (``components`` and the ``Fact`` fields) feed the VRAM
predictor; a number nobody could confirm is ``None`` with an ``unknown_reason``, never a guess.

Measured facts overlay the records: ``data/traces.json`` (``tools/trace_archs.py``, fake-tensor traces of the class
ai-toolkit trains) gives the exact denoiser size, a shape fact the record lacks, and the ``trace`` itself (LoRA
parameters per rank, activation and FLOP fits; see ``_traces``). Backend-only archs (``sd3``: ``model.arch`` takes
it, the UI does not list it) are in the catalog with ``ui_listed`` false: ``model_info`` finds them, ``models()``
(the UI's list) leaves them out.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping

from ._traces import Trace, component_sizes, raw_facts, traces_by_arch

ROLES = ("denoiser", "text_encoder", "vae", "image_encoder", "audio_vae", "connector")
FACT_NAMES = ("latent_channels", "vae_downsample", "temporal_downsample", "patch_size", "blocks", "hidden_size")
# Facts a trace measured, shown with the geometry facts (``ModelSpec.facts``); None without a trace.
MEASURED_FACT_NAMES = ("lora_M_per_rank", "text_tokens", "act_peak_gib_gc", "act_peak_gib_no_gc",
                       "step_tflops_gc", "preview_peak_gib")
_NO_TRACE = "no fake-tensor trace of this arch's denoiser (tools/trace_archs.py)"


@dataclass(frozen=True)
class Fact:
    """One number about a model, with where it came from (or why it is unknown)."""

    value: float | None
    source: str | None = None
    unknown_reason: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Component:
    """A part of the model that takes memory: the denoiser, a text encoder, a VAE..."""

    role: str
    name: str
    params_b: float | None
    source: str | None = None
    unknown_reason: str | None = None
    note: str = ""
    # how it is stored on the GPU, where that is a fact of the release rather than of the job's quantization
    # (a ``connector``: bf16 modules ai-toolkit keeps beside the denoiser every step, outside its quantization)
    bytes_per_param: float | None = None


@dataclass(frozen=True)
class AraOption:
    """An accuracy-recovery adapter offered as a quantization choice (``qtype_value`` is ``uintN|<hf file>``)."""

    label: str
    qtype_value: str
    bits: str


@dataclass(frozen=True)
class ModelSpec:
    """One arch of the trainer UI's model list."""

    arch: str
    label: str
    group: str
    is_video: bool
    backend_arch: str
    name_or_path: str
    gated_url: str | None
    ui_defaults: Mapping[str, Any]
    hidden_sections: tuple[str, ...]
    additional_sections: tuple[str, ...]
    quantization_supported: bool
    te_quantization_supported: bool
    ara: tuple[AraOption, ...]
    flow_matching: bool
    native_resolution: int | None
    native_resolution_note: str
    default_frames: int | None
    default_fps: int | None
    supports_layer_offloading: bool
    controls: tuple[str, ...]
    sample_tags: tuple[str, ...]
    components: tuple[Component, ...]
    latent_channels: Fact
    vae_downsample: Fact
    temporal_downsample: Fact
    patch_size: Fact
    blocks: Fact
    hidden_size: Fact
    example_configs: tuple[str, ...]
    example_min_vram_gb: Mapping[str, int | None] = field(default_factory=lambda: MappingProxyType({}))
    model_kwargs_known: tuple[str, ...] = ()
    reference_size_notes: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))
    ui_listed: bool = True
    max_batch: Fact | None = None  # the largest batch ai-toolkit's code trains correctly, where there is one
    trace: Trace | None = None

    def params_b(self, role: str) -> float | None:
        """Billions of parameters over the components of ``role``; None if any is unknown or there is none."""
        if role not in ROLES:
            raise ValueError(f"unknown component role {role!r}; expected one of {', '.join(ROLES)}")
        sizes = [c.params_b for c in self.components if c.role == role]
        if not sizes or any(s is None for s in sizes):
            return None
        return round(sum(sizes), 4)

    @property
    def bucket_step(self) -> int | None:
        """The side a square bucket is a multiple of: the VAE's downsampling x the patch size (ai-toolkit floors
        each bucket to it); None when either fact is unknown."""
        vae, patch = self.vae_downsample.value, self.patch_size.value
        return int(vae * patch) if vae and patch else None

    def facts(self) -> Mapping[str, Fact]:
        """The latent-geometry facts, then the measured ones (at the native size, batch 1), by name."""
        out = {name: getattr(self, name) for name in FACT_NAMES}
        out.update(_measured_facts(self))
        return MappingProxyType(out)


def _measured_facts(spec: ModelSpec) -> dict[str, Fact]:
    t = spec.trace
    if t is None:
        return {name: Fact(None, None, _NO_TRACE) for name in MEASURED_FACT_NAMES}
    if not t.fits:
        reason = f"{t.not_traced or 'not traced'} (tools/trace_archs.py)"
        return {"lora_M_per_rank": Fact(round(t.lora_params_per_rank / 1e6, 4), t.lora_source,
                                        note=f"millions of LoRA parameters per unit rank over {t.lora_modules} "
                                             "modules"),
                **{name: Fact(None, None, reason) for name in MEASURED_FACT_NAMES[1:]}}
    side = spec.native_resolution or 1024
    frames = spec.default_frames or 1
    n = t.tokens(side, side, frames)
    where = f"{side}x{side}" + (f", {frames} frames" if frames > 1 else "") + f" ({n} tokens), batch 1"
    gib = 1024 ** 3

    def at(mode: str, quantity: str, scale: float, what: str) -> Fact:
        fit = t.fit(mode, quantity)
        if fit is None:
            failure = t.mode_errors.get(mode)
            return Fact(None, None, f"{mode} fails in the model code: {failure}" if failure else
                        f"{mode} {quantity} not traced")
        return Fact(round(fit(n, 1) * scale, 3), t.source, note=f"{what} at {where}")

    steps = [t.fit("train_gc", q) for q in ("fwd_flops", "bwd_flops")]
    step = (Fact(round(sum(f(n, 1) for f in steps) / 1e12, 2), t.source,
                 note=f"forward + backward with checkpointing (backward recomputes the forward) at {where}")
            if all(steps) else Fact(None, None, "train_gc FLOPs not traced"))
    lora_note = f"{t.lora_modules} modules" + (f"; 3x3 convs add {t.lora_conv_params_per_rank:,} per rank when "
                                               "network.conv is set" if t.lora_conv_params_per_rank else "")
    return {
        "lora_M_per_rank": Fact(round(t.lora_params_per_rank / 1e6, 4), t.lora_source,
                                note=f"millions of LoRA parameters per unit rank over {lora_note}"),
        "text_tokens": Fact(t.text_tokens, t.source, note=t.text_note),
        "act_peak_gib_gc": at("train_gc", "peak", 1 / gib, "activation peak of a LoRA step, checkpointing on,"),
        "act_peak_gib_no_gc": at("train_no_gc", "peak", 1 / gib, "activation peak of a LoRA step, "
                                                                   "checkpointing off,"),
        "step_tflops_gc": step,
        "preview_peak_gib": at("preview", "peak", 1 / gib, "no-grad preview forward peak"
                               + (" (the CFG batch doubles it)" if t.cfg_doubles else "")),
    }


class UnknownModelError(LookupError):
    """No arch has that name or label."""

    def __init__(self, query: str, close_matches: tuple[str, ...]):
        self.query = query
        self.close_matches = close_matches
        hint = f"; did you mean {', '.join(close_matches)}?" if close_matches else ""
        super().__init__(f"unknown model {query!r}{hint}")


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _fact(raw: Mapping[str, Any]) -> Fact:
    return Fact(raw["value"], raw.get("source"), raw.get("unknown_reason"), raw.get("note") or "")


def _spec(raw: Mapping[str, Any]) -> ModelSpec:
    examples = raw["example_configs"]
    return ModelSpec(
        arch=raw["arch"],
        label=raw["label"],
        group=raw["group"],
        is_video=raw["is_video"],
        backend_arch=raw["backend_arch"],
        name_or_path=raw["name_or_path"],
        gated_url=raw["gated_url"],
        ui_defaults=_freeze(raw["ui_defaults"]),
        hidden_sections=tuple(raw["hidden_sections"]),
        additional_sections=tuple(raw["additional_sections"]),
        quantization_supported=raw["quantization_supported"],
        te_quantization_supported=raw["te_quantization_supported"],
        ara=tuple(AraOption(a["label"], a["qtype_value"], a["bits"]) for a in raw["ara"]),
        flow_matching=raw["flow_matching"],
        native_resolution=raw["native_resolution"],
        native_resolution_note=raw["native_resolution_note"],
        default_frames=raw["default_frames"],
        default_fps=raw["default_fps"],
        supports_layer_offloading=raw["supports_layer_offloading"],
        controls=tuple(raw["controls"]),
        sample_tags=tuple(raw["sample_tags"]),
        components=tuple(
            Component(c["role"], c["name"], c["params_b"], c.get("source"), c.get("unknown_reason"),
                      c.get("note") or "", c.get("bytes_per_param"))
            for c in raw["components"]
        ),
        **{name: _fact(raw[name]) for name in FACT_NAMES},
        example_configs=tuple(e["file"] for e in examples),
        example_min_vram_gb=MappingProxyType({e["file"]: e.get("min_vram_gb") for e in examples}),
        model_kwargs_known=tuple(raw.get("model_kwargs_known", ())),
        reference_size_notes=_freeze(raw.get("reference_size_notes") or {}),
        ui_listed=raw.get("ui_listed", True),
        max_batch=_fact(raw["max_batch"]) if raw.get("max_batch") else None,
    )


def _measured_component(c: Component) -> Component:
    """A shared text encoder / VAE with its exact count from a meta-device build, when the traces file has it."""
    measured = component_sizes().get(c.name)
    if measured is None or c.role == "denoiser":
        return c
    note = "; ".join(x for x in (c.note, f"config: {measured['config_source']}") if x)
    return Component(c.role, c.name, round(measured["params"] / 1e9, 4),
                     f"measured: meta-device build of {measured['model_class']} ({measured['code']})", None, note)


def _overlay(spec: ModelSpec) -> ModelSpec:
    """The record with what was measured: exact component sizes, the denoiser's trace, shape facts it lacks."""
    spec = replace(spec, components=tuple(_measured_component(c) for c in spec.components))
    trace = traces_by_arch().get(spec.arch)
    if trace is None:
        return spec
    billions = round(trace.denoiser_params / 1e9, 4)
    parts = [f"config: {trace.config_source}"]
    if trace.experts > 1 and trace.expert_params:
        parts.insert(0, f"{trace.experts} experts x {trace.expert_params / 1e9:.3f}B")
    if trace.public_params_b is not None:
        parts.append(f"public figure {trace.public_params_b:g}B ({trace.public_source})")
    components = tuple(
        Component(c.role, c.name, billions, trace.source, None, "; ".join(parts)) if c.role == "denoiser" else c
        for c in spec.components)
    changes: dict[str, Any] = {"components": components, "trace": trace}
    for name, raw in raw_facts(trace.key).items():
        if name in FACT_NAMES and getattr(spec, name).value is None:
            changes[name] = Fact(raw["value"], raw["source"], None, raw.get("note") or "")
    return replace(spec, **changes)


@cache
def _catalog() -> tuple[ModelSpec, ...]:
    text = resources.files("nbwizard.engine").joinpath("data/models.json").read_text(encoding="utf-8")
    return tuple(_overlay(_spec(raw)) for raw in json.loads(text)["models"])


@cache
def _listed() -> tuple[ModelSpec, ...]:
    return tuple(s for s in _catalog() if s.ui_listed)


@cache
def _index() -> Mapping[str, ModelSpec]:
    index: dict[str, ModelSpec] = {}
    for spec in _catalog():
        index.setdefault(spec.label.casefold(), spec)
    for spec in _catalog():  # arch names win over labels
        index[spec.arch.casefold()] = spec
    return MappingProxyType(index)


def models() -> tuple[ModelSpec, ...]:
    """The archs the trainer UI lists, in the reference's order."""
    return _listed()


def all_models() -> tuple[ModelSpec, ...]:
    """The UI's archs, then the backend-only ones (``ui_listed`` false) the catalog also describes."""
    return _catalog()


def model_info(arch: str) -> ModelSpec:
    """The spec for an arch name (``flux``, ``wan21:1b``) or UI label (``FLUX.1``), ignoring case."""
    key = arch.strip().casefold()
    spec = _index().get(key)
    if spec is not None:
        return spec
    names = {s.arch.casefold(): s.arch for s in _catalog()} | {s.label.casefold(): s.arch for s in _catalog()}
    close = difflib.get_close_matches(key, list(names), n=5, cutoff=0.5)
    raise UnknownModelError(arch, tuple(dict.fromkeys(names[c] for c in close)))
