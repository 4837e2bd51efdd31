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

    A bare backend id several catalog entries share (``wan21``: the 1.3B and the 14B) is told apart by the weights
    the job loads (``model.name_or_path``), as the trainer itself does; the first entry only when they say nothing.
    """
    name = arch_name(job)
    name = _BACKEND_TO_UI.get(name, name)
    try:
        return model_info(name)
    except UnknownModelError:
        found = [m for m in models() if m.backend_arch == name]
        return _by_weights(found, job.get("model.name_or_path")) if len(found) > 1 else (found or [None])[0]


def _by_weights(specs: list[ModelSpec], name_or_path: Any) -> ModelSpec:
    """The spec whose weights ``name_or_path`` names: the same repo or file, else the longest shared name part
    (``Wan2.1-T2V-14B`` in a local folder ``/models/Wan2.1-T2V-14B-Diffusers``)."""
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        return specs[0]
    wanted = name_or_path.strip().rstrip("/").casefold()
    for spec in specs:
        if spec.name_or_path.casefold() == wanted:
            return spec
    tail = wanted.rsplit("/", 1)[-1]
    scored = [(_shared(spec.name_or_path.casefold().rsplit("/", 1)[-1], tail), -i, spec)
              for i, spec in enumerate(specs)]
    best = max(scored, key=lambda t: (t[0], t[1]))
    return best[2] if best[0] > 0 else specs[0]


def _shared(a: str, b: str) -> int:
    """How many of ``a``'s name parts (split at - _ .) ``b`` also has, the size parts (14b, 1.3b) counting most."""
    parts = [p for p in re.split(r"[-_/]", a) if p]
    theirs = set(re.split(r"[-_/]", b))
    return sum(10 if re.fullmatch(r"a?\d+(\.\d+)?b", p) else 1 for p in parts if p in theirs)
