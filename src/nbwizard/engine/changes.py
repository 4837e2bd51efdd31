"""What changed between two wizard states, in people's words: for Undo / Redo and the "also changed" notice.

Each change names the setting by its label and gives both values as short text, so "Undo" can say "Undid: Learning
rate 0.0005 → 0.0001" rather than leave the person to guess what moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .advisor import format_value
from .settings import find_setting
from .state import WizardState


@dataclass(frozen=True)
class Change:
    """One thing that differs: what (a label), where (a setting path, or None for the machine and answers)."""

    label: str
    before: str
    after: str
    path: str | None = None

    @property
    def text(self) -> str:
        return f"{self.label}: {self.before} → {self.after}"


def job_changes(before: Any, after: Any, paths: Iterable[str] | None = None) -> list[Change]:
    """The settings whose values differ between two jobs (only ``paths`` when given), in the trainer's order."""
    if paths is None:
        paths = dict.fromkeys([*before.set_paths(), *after.set_paths()])
    out = []
    for path in paths:
        s = find_setting(path)
        if s is None:
            continue
        a, b = before.get(path), after.get(path)
        if a != b:
            out.append(Change(s.label, format_value(a), format_value(b), path))
    return out


def state_changes(before: WizardState, after: WizardState) -> list[Change]:
    """Everything that differs between two states: the machine, the answers, the model, then the job's settings."""
    out = []
    pb, pa = before.profile, after.profile
    if pb.target != pa.target:
        out.append(Change("Target GPU", pb.target or "this machine", pa.target or "this machine"))
    for label, field in (("Reserve", "reserve_gib"), ("RAM", "ram_total_gib")):
        a, b = _reading(getattr(pb, field)), _reading(getattr(pa, field))
        if a != b:
            out.append(Change(label, _gib(a), _gib(b)))
    ga, gb = pb.gpu, pa.gpu
    if ga is not None and gb is not None and ga.memory_total_gib.value != gb.memory_total_gib.value:
        out.append(Change("GPU memory", _gib(ga.memory_total_gib.value), _gib(gb.memory_total_gib.value)))
    for field in ("training_type", "priority", "experience"):
        a, b = getattr(before.intent, field), getattr(after.intent, field)
        if a != b:
            out.append(Change(field.replace("_", " ").capitalize(), str(a), str(b)))
    if before.trainer != after.trainer:
        out.append(Change("Trainer", before.trainer, after.trainer))
    if before.arch != after.arch and before.job.get("model.arch") == after.job.get("model.arch"):
        out.append(Change("Model", before.arch, after.arch, "model.arch"))
    if (before.dataset is None) != (after.dataset is None):
        out.append(Change("Dataset analysis", "done" if before.dataset is not None else "none",
                          "done" if after.dataset is not None else "none"))
    if before.job is not after.job:
        out += job_changes(before.job, after.job)
    return out


def _reading(value: Any) -> Any:
    return getattr(value, "value", value)


def _gib(value: Any) -> str:
    return "unknown" if value is None else f"{float(value):g} GiB"
