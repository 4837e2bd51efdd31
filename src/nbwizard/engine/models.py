"""The model catalog: every arch the ai-toolkit UI offers, what picking it sets, and its size facts.

Records live in ``data/models.json`` (built by ``tools/build_models.py``) and are read on first use. ``ui_defaults``
maps our dotted setting paths (``model.quantize``, ``sample.width``, ``datasets[].num_frames``) to the values the
trainer UI applies when the arch is selected. Size facts (``components`` and the ``Fact`` fields) feed the VRAM
predictor; a number nobody could confirm is ``None`` with an ``unknown_reason``, never a guess.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping

ROLES = ("denoiser", "text_encoder", "vae", "image_encoder", "audio_vae")
FACT_NAMES = ("latent_channels", "vae_downsample", "temporal_downsample", "patch_size", "blocks", "hidden_size")


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

    def params_b(self, role: str) -> float | None:
        """Billions of parameters over the components of ``role``; None if any is unknown or there is none."""
        if role not in ROLES:
            raise ValueError(f"unknown component role {role!r}; expected one of {', '.join(ROLES)}")
        sizes = [c.params_b for c in self.components if c.role == role]
        if not sizes or any(s is None for s in sizes):
            return None
        return round(sum(sizes), 4)

    def facts(self) -> Mapping[str, Fact]:
        """The latent-geometry facts by name."""
        return MappingProxyType({name: getattr(self, name) for name in FACT_NAMES})


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
                      c.get("note") or "")
            for c in raw["components"]
        ),
        **{name: _fact(raw[name]) for name in FACT_NAMES},
        example_configs=tuple(e["file"] for e in examples),
        example_min_vram_gb=MappingProxyType({e["file"]: e.get("min_vram_gb") for e in examples}),
        model_kwargs_known=tuple(raw.get("model_kwargs_known", ())),
        reference_size_notes=_freeze(raw.get("reference_size_notes") or {}),
    )


@cache
def _catalog() -> tuple[ModelSpec, ...]:
    text = resources.files("nbwizard.engine").joinpath("data/models.json").read_text(encoding="utf-8")
    return tuple(_spec(raw) for raw in json.loads(text)["models"])


@cache
def _index() -> Mapping[str, ModelSpec]:
    index: dict[str, ModelSpec] = {}
    for spec in _catalog():
        index.setdefault(spec.label.casefold(), spec)
    for spec in _catalog():  # arch names win over labels
        index[spec.arch.casefold()] = spec
    return MappingProxyType(index)


def models() -> tuple[ModelSpec, ...]:
    """All archs, in the reference's order."""
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
