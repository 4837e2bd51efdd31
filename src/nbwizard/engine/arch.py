"""Which catalog model a job trains: ``model.arch``, or the legacy ``is_*`` flags ai-toolkit still reads."""

from __future__ import annotations

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
    """The catalog entry for ``job``'s arch (by UI name, else by backend id), or ``None`` if it has none."""
    name = arch_name(job)
    name = _BACKEND_TO_UI.get(name, name)
    try:
        return model_info(name)
    except UnknownModelError:
        return next((m for m in models() if m.backend_arch == name), None)
