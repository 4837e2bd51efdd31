"""Measured denoiser facts: ``data/traces.json``, written by ``tools/trace_archs.py`` (fake-tensor traces).

Each trace ran the class ai-toolkit trains for an arch (no weights, no GPU) and stored parameter counts, LoRA
parameters per unit rank, and fits of activation bytes and FLOPs. A fit is six numbers ``[s0, s1, s2, p0, p1, p2]``
evaluated at ``n`` image tokens and batch ``b`` as::

    q(n, b) = (s0 + s1*n + s2*n^2) + b * (p0 + p1*n + p2*n^2)

``s`` is shared by the batch, ``p`` is per sample; the squared terms are attention (FLOPs) or a tokens x tokens
tensor the model builds (bytes). ``n`` counts latent patches (``Trace.tokens`` from the pixel size, frames
included) and excludes the arch's fixed text length (``text_tokens``), which the coefficients already hold. Modes:
``train_gc`` / ``train_no_gc`` (one LoRA training step with / without gradient checkpointing: ``saved`` = bytes
alive for backward when the loss is formed, ``peak`` = the most alive during forward + backward, ``fwd_flops`` /
``bwd_flops``) and ``preview`` (a no-grad forward with the LoRA active: ``peak``, ``fwd_flops``). Bytes exclude the
weights, the LoRA's own parameters, gradients and optimizer state; a MoE arch's numbers are one expert's step.

Pure JSON and arithmetic: evaluating a fit takes a few hundred nanoseconds and never imports torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Mapping

MODES = ("train_gc", "train_no_gc", "preview")


@dataclass(frozen=True)
class Fit:
    """``q(n, b) = (s0 + s1 n + s2 n^2) + b (p0 + p1 n + p2 n^2)``."""

    coefficients: tuple[float, float, float, float, float, float]

    def __call__(self, tokens: float, batch: float = 1.0) -> float:
        s0, s1, s2, p0, p1, p2 = self.coefficients
        n = tokens
        return s0 + n * (s1 + s2 * n) + batch * (p0 + n * (p1 + p2 * n))


@dataclass(frozen=True)
class Trace:
    """What one fake-tensor trace measured for an arch's denoiser."""

    key: str
    model_class: str
    code: str
    config_source: str
    denoiser_params: int
    expert_params: int | None
    experts: int
    lora_modules: int
    lora_params_per_rank: int
    lora_conv_params_per_rank: int
    lora_source: str
    text_tokens: int
    text_note: str
    tokens_are: str
    px: int
    tdown: int
    cfg_doubles: bool
    fits: Mapping[str, Mapping[str, Fit]]
    notes: tuple[str, ...]
    public_params_b: float | None
    public_source: str | None
    config_verified: bool = True
    not_traced: str = ""
    mode_errors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # steps the model code fails

    @property
    def source(self) -> str:
        caveat = "" if self.config_verified else "; class-default config, not checked against the release"
        return f"measured: fake-tensor trace of {self.model_class} ({self.code}{caveat})"

    def tokens(self, height: int, width: int, frames: int = 1) -> int:
        """Image tokens for a sample of ``frames`` x ``height`` x ``width`` pixels."""
        latent_frames = 1 + (max(frames, 1) - 1) // self.tdown if self.tdown > 1 else max(frames, 1)
        return latent_frames * (height // self.px) * (width // self.px)

    def fit(self, mode: str, quantity: str) -> Fit | None:
        return self.fits.get(mode, {}).get(quantity)


def _trace(key: str, raw: Mapping[str, Any]) -> Trace:
    lora = raw["lora"]
    public = raw.get("public") or {}
    fits = {mode: MappingProxyType({q: Fit(tuple(c)) for q, c in qs.items()})
            for mode, qs in (raw.get("fits") or {}).items()}
    return Trace(
        key=key, model_class=raw["model_class"], code=raw["code"], config_source=raw["config_source"],
        denoiser_params=raw["denoiser_params"], expert_params=raw.get("expert_params"),
        experts=raw.get("experts", 1), lora_modules=lora["modules"], lora_params_per_rank=lora["params_per_rank"],
        lora_conv_params_per_rank=lora["conv_params_per_rank"], lora_source=lora["source"],
        text_tokens=raw["text_tokens"], text_note=raw["text_note"], tokens_are=raw["tokens_are"],
        px=raw["px"], tdown=raw.get("tdown", 1), cfg_doubles=raw["cfg_doubles"],
        fits=MappingProxyType(fits), notes=tuple(raw.get("notes") or ()),
        public_params_b=public.get("params_b"), public_source=public.get("source"),
        config_verified=raw.get("config_verified", True), not_traced=raw.get("not_traced", ""),
        mode_errors=MappingProxyType(dict(raw.get("mode_errors") or {})),
    )


@cache
def document() -> Mapping[str, Any]:
    """The whole traces file (versions, assumptions, component sizes, traces), read once."""
    path = resources.files("nbwizard.engine").joinpath("data/traces.json")
    if not path.is_file():
        return MappingProxyType({"traces": {}})
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def traces_by_arch() -> Mapping[str, Trace]:
    """Catalog arch name -> its trace (several archs share one trace: variants of one denoiser)."""
    out: dict[str, Trace] = {}
    for key, raw in document()["traces"].items():
        trace = _trace(key, raw)
        for arch in raw["archs"]:
            out[arch] = trace
    return MappingProxyType(out)


def raw_facts(key: str) -> Mapping[str, Any]:
    """The shape facts a trace's config gave (value + source), by catalog fact name."""
    return document()["traces"][key].get("facts") or {}


@cache
def component_sizes() -> Mapping[str, Mapping[str, Any]]:
    """Shared text encoders / VAEs counted on the meta device, by the catalog's component name."""
    return MappingProxyType(dict(document().get("components") or {}))
