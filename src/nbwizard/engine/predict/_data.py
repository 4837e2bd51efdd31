"""The predictor's facts as data: ``data/predict.json`` (backends, load paths, proxies, constants), read once.

Every number the physics uses that is not a model size or a trace comes from here with its source; the modules of
this package read it through the small typed accessors below, never the raw dict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Mapping

from .._traces import document as traces_document

GIB = float(1 << 30)


@cache
def data() -> Mapping[str, Any]:
    """The whole predict.json, read once."""
    text = resources.files("nbwizard.engine").joinpath("data/predict.json").read_text(encoding="utf-8")
    return json.loads(text)


@cache
def const(section: str, name: str) -> float:
    """A stated constant (``{"value": ..., "source": ...}``) of ``section``."""
    return float(data()[section][name]["value"])


@cache
def band(kind: str) -> float:
    """Relative half-width of the band for a part of kind exact / measured / proxy."""
    return float(data()["memory"]["band"][kind]["value"])


@dataclass(frozen=True)
class Backend:
    """How ai-toolkit stores and runs one qtype."""

    qtype: str
    backend: str
    bytes_per_weight: float
    saved_extra: float  # bytes per weight kept for backward beyond a bf16 layer
    peak_extra: float  # transient bytes per weight while the layer runs
    dequant_passes: str  # none | forward | all
    known: bool
    source: str


def _measured(what: str) -> Mapping[str, Any] | None:
    return next((a for a in traces_document().get("assumptions", ()) if a.get("what") == what), None)


@cache
def backend(qtype: str) -> Backend:
    """The backend facts of a qtype name (``uint3|repo/file`` reads as ``uint3``); unknown names get 8-bit."""
    name = (qtype or "").split("|", 1)[0].strip().lower()
    table = data()["quant_backends"]
    raw = table.get(name)
    while raw is not None and "alias" in raw:
        raw = table.get(raw["alias"])
    known = raw is not None
    raw = raw or table["$default"]
    measured = _measured(raw["measured"]) if "measured" in raw else None
    if measured is not None:
        stored = float(measured["stored_bytes_per_weight"])
        saved = float(measured["saved_extra_bytes_per_weight"])
        peak = float(measured["peak_extra_bytes_per_weight"])
        source = f"{raw['source']}; {measured['source']}"
    else:
        stored = float(raw["bytes_per_weight"])
        saved = 2.0 if raw.get("saves_dequantized") else 0.0
        peak = saved
        source = raw["source"]
    return Backend(name, raw["backend"], stored, saved, peak, raw["dequant_passes"], known, source)


@cache
def family(backend_arch: str) -> Mapping[str, Any]:
    """ai-toolkit's load path for a model class (``same_as`` resolved); the default for unlisted classes."""
    table = data()["families"]
    raw = table.get(backend_arch) or table["$default"]
    if "same_as" in raw:
        base = dict(table[raw["same_as"]])
        base.update({k: v for k, v in raw.items() if k != "same_as"})
        raw = base
    return raw


def cfg_mode(spec: Any) -> str:
    """distilled | sequential | batched: how the arch's preview applies classifier-free guidance."""
    table = data()["cfg"]
    for key in (spec.arch, spec.backend_arch):
        if key in table:
            return table[key]
    trace = spec.trace
    return "batched" if trace is None or trace.cfg_doubles else "distilled"


def tiles_vae(spec: Any) -> bool:
    return spec.backend_arch in data()["vae_tiling"]["low_vram"] or spec.arch in data()["vae_tiling"]["low_vram"]


def proxy(arch: str, backend_arch: str) -> Mapping[str, Any] | None:
    table = data()["proxies"]
    return table.get(arch) or table.get(backend_arch)


def quant_excludes(backend_arch: str) -> tuple[str, ...]:
    return tuple(data()["quant_excludes"].get(backend_arch, ()))


@cache
def efficiency(segment: str) -> tuple[float, str]:
    """Share of the dense bf16 peak a LoRA step reaches on a card of this catalog segment, and its rows."""
    table = data()["time"]["efficiency"]
    raw = table.get(segment) or table["consumer"]
    return float(raw["value"]), str(raw["rows"])


@cache
def time_const(name: str) -> float:
    return float(data()["time"][name]["value"])


@cache
def pcie_gbs(architecture: str) -> tuple[float, int]:
    """Pinned host-to-device bandwidth (GB/s) and PCIe generation for a catalog architecture string."""
    gens = data()["time"]["pcie_gen_by_architecture"]
    gen = next((g for key, g in gens.items() if not key.startswith("$") and key.lower() in architecture.lower()), 4)
    return float(data()["time"]["pcie_gbs"][str(gen)]), int(gen)


def refresh() -> None:
    """Forget the values read from ``data()`` (``benchmarks/bench_predict.py --fit`` edits them in place)."""
    for reader in (const, band, time_const, efficiency, pcie_gbs):
        reader.cache_clear()
