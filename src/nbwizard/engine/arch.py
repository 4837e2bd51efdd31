"""Which model a job trains: the model class ai-toolkit builds for it, and the catalog entry that describes it.

ai-toolkit reads ``model.arch`` (a ``:variant`` tag stripped), else the legacy ``is_*`` flags, else builds SD 1.x
(``data/arch_resolution.json`` holds those rules with their source). The catalog entry is the one for that model
class, refined by ``model.name_or_path`` among the entries that share it (``is_flux`` with Flex.1's weights is
Flex.1; ``arch: wan21`` with the 14B weights is Wan 2.1 14B). A model class the catalog does not list has no entry:
:func:`identify` then says what the file names, and nothing borrows another model's name or facts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Mapping

from .models import ModelSpec, UnknownModelError, all_models, model_info

__all__ = ["ModelRef", "arch_name", "arch_of", "identify"]


@cache
def _rules() -> Mapping[str, Any]:
    text = resources.files("nbwizard.engine").joinpath("data/arch_resolution.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class ModelRef:
    """The model a job names, as the trainer resolves it.

    ``backend`` is the model class ai-toolkit builds (``flux``, ``sd3``, ``sd1``); ``chosen_by`` the key that
    chose it (``model.arch``, ``model.is_v3``, or ``default`` when neither is written); ``spec`` the catalog entry,
    None when the catalog does not list that model class.
    """

    backend: str
    written: str | None
    chosen_by: str
    name_or_path: str | None
    spec: ModelSpec | None
    mismatch: str | None = None

    @property
    def known(self) -> bool:
        return self.spec is not None

    @property
    def arch(self) -> str:
        """The wizard's id for the model: the catalog arch, else what the file writes (or its backend id)."""
        return self.spec.arch if self.spec is not None else (self.written or self.backend)

    @property
    def label(self) -> str:
        """What to call the model: the catalog's label, else the weights the file names, else its arch id."""
        if self.spec is not None:
            return self.spec.label
        return self.name_or_path or self.written or self.backend

    def describe(self) -> str:
        """One sentence on an unknown model: what the file names, and what the wizard can and cannot do for it."""
        if self.spec is not None:
            return f"{self.spec.label} ({self.spec.arch})"
        how = (f"model.arch '{self.written}'" if self.chosen_by == "model.arch" else
               f"the legacy flag {self.chosen_by.removeprefix('model.')}" if self.chosen_by != "default" else
               "no model.arch or legacy flag, so ai-toolkit's default")
        named = f"{self.name_or_path} " if self.name_or_path else ""
        return (f"{named}(model class '{self.backend}', from {how}) is not in the wizard's model catalog: "
                f"predictions of memory and time are unavailable because its sizes are unknown, the wizard makes "
                f"no recommendations for it, and validation checks the generic settings only.")


def _backend_of(written: str) -> str:
    base = written.split(":", 1)[0]
    return _rules()["aliases"].get(base, base)


def _norm(path: Any) -> str:
    return str(path).strip().rstrip("/").casefold() if isinstance(path, str) else ""


def _same_weights(catalog_path: Any, name: str) -> bool:
    """Whether ``name`` (normalised) is the catalog's weights: the same repo id, or a local copy of it whose folder
    is named as the repo is (``/models/Wan2.1-T2V-14B-Diffusers`` for ``Wan-AI/Wan2.1-T2V-14B-Diffusers``)."""
    known = _norm(catalog_path)
    return bool(name and known) and (known == name or known.rsplit("/", 1)[-1] == name.rsplit("/", 1)[-1])


def _catalog_for(backend: str, written: str | None, name: str) -> ModelSpec | None:
    """The catalog entry for a model class: the written arch if it is one, refined by the weights' name."""
    exact = None
    if written:
        try:
            exact = model_info(written)
        except UnknownModelError:
            exact = None
        if exact is not None and ":" in written:
            return exact  # a variant tag names one entry exactly
    catalog_id = _rules()["catalog_ids"].get(backend, backend)
    same = [m for m in all_models() if m.backend_arch in (backend, catalog_id) or m.arch == catalog_id]
    if exact is not None and (not name or _same_weights(exact.name_or_path, name)):
        return exact
    by_name = next((m for m in same if _norm(m.name_or_path) == name), None) or \
        next((m for m in same if _same_weights(m.name_or_path, name)), None)
    return by_name or exact or next((m for m in same if m.arch == catalog_id), None) or (same[0] if same else None)


def identify(job: Any) -> ModelRef:
    """The model ``job`` trains: the model class ai-toolkit builds for it and its catalog entry (or None)."""
    written = job.get("model.arch")
    written = str(written) if written else None
    path = job.get("model.name_or_path")
    path = str(path) if isinstance(path, str) and path.strip() else None
    if written:
        backend, chosen_by = _backend_of(written), "model.arch"
    else:
        flag = next((f"model.{key}" for key, _ in _rules()["legacy_flags"] if job.get(f"model.{key}")), None)
        backend = dict(_rules()["legacy_flags"])[flag.removeprefix("model.")] if flag else _rules()["default"]
        chosen_by = flag or "default"
    spec = _catalog_for(backend, written, _norm(path))
    mismatch = None
    named = next((m for m in all_models() if path and _norm(m.name_or_path) == _norm(path)), None) or \
        next((m for m in all_models() if path and _same_weights(m.name_or_path, _norm(path))), None)
    if named is not None and (spec is None or named.backend_arch != spec.backend_arch):
        built = spec.label if spec is not None else f"model class '{backend}'"
        mismatch = (f"The model path {path} is {named.label}'s weights, but the job "
                    + (f"sets model.arch '{written}'" if written else "sets no model.arch")
                    + f", so ai-toolkit builds {built} from them.")
    elif named is not None and spec is not None and named.arch != spec.arch and \
            not _same_weights(spec.name_or_path, _norm(path)):  # entries that share weights (Krea 2 and its edit)
        # a variant tag (wan21:14b) on another variant's weights (1.3B): the same model class is built, and its size
        # comes from the weights' own config, so the job trains the weights' variant
        mismatch = (f"model.arch '{written}' names {spec.label}, but the model path {path} is {named.label}'s "
                    f"weights: ai-toolkit builds the model from the weights, so this job trains {named.label}.")
        spec = named
    return ModelRef(backend, written, chosen_by, path, spec, mismatch)


def arch_name(job: Any) -> str:
    """The arch the trainer will build for ``job``: ``model.arch`` as written, else the legacy flags' backend id."""
    ref = identify(job)
    return ref.written or ref.backend


def arch_of(job: Any) -> ModelSpec | None:
    """The catalog entry for ``job``'s model, or ``None`` when the catalog does not list it."""
    return identify(job).spec
