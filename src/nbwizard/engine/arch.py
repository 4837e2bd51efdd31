"""Which catalog model a job trains: ``model.arch``, or the legacy ``is_*`` flags ai-toolkit still reads."""

from __future__ import annotations

import re
from typing import Any

from .models import ModelSpec, UnknownModelError, model_info, models

# legacy flag -> catalog arch the trainer treats it as (ai-toolkit's ModelConfig picks the arch from these
# flags when ``arch`` is absent; with none set it is SD 1.x)
_LEGACY_FLAGS = (
    ("model.is_flux", "flux"), ("model.is_xl", "sdxl"), ("model.is_lumina2", "lumina2"),
    ("model.is_v2", "sd2"), ("model.is_v3", "sd3"), ("model.is_pixart_sigma", "pixart_sigma"),
    ("model.is_pixart", "pixart"), ("model.is_auraflow", "auraflow"), ("model.is_ssd", "ssd"),
    ("model.is_vega", "vega"),
)

# backend ids whose model class is the one a UI arch trains
_BACKEND_TO_UI = {"sd1": "sd15"}


def arch_name(job: Any) -> str:
    """The arch the trainer will build for ``job`` (``model.arch`` first, then the legacy flags)."""
    arch = job.get("model.arch")
    if arch:
        return str(arch)
    for path, name in _LEGACY_FLAGS:
        if job.get(path):
            return name
    return "sd1"


def arch_of(job: Any) -> ModelSpec | None:
    """The catalog entry for ``job``'s arch (by UI name, else by backend id), or ``None`` if it has none.

    A backend id several catalog entries share (``wan21``: the 1.3B and the 14B) is told apart by
    ``model.name_or_path``: the entry whose checkpoint it names, else the one whose size tag (``14B``, ``1.3B``)
    it contains, else the first.
    """
    name = arch_name(job)
    name = _BACKEND_TO_UI.get(name, name)
    try:
        return model_info(name)
    except UnknownModelError:
        candidates = [m for m in models() if m.backend_arch == name]
        if len(candidates) > 1:
            return _by_checkpoint(candidates, str(job.get("model.name_or_path") or ""))
        return candidates[0] if candidates else None


def _by_checkpoint(candidates: list[ModelSpec], path: str) -> ModelSpec:
    wanted = path.strip().casefold()
    for spec in candidates:
        if spec.name_or_path.casefold() == wanted:
            return spec
    for spec in candidates:
        size = re.search(r"(?<![\d.])(\d+(?:\.\d+)?)b(?![a-z])", spec.name_or_path.casefold())
        if size and re.search(rf"(?<![\d.]){re.escape(size.group(1))}b(?![a-z])", wanted):
            return spec
    return candidates[0]
