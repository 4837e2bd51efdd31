"""Suggestions: what the wizard would add, change or remove in a job it holds as written.

After an import or a template (``WizardState.auto`` off) the job is exactly what the file said. The wizard still
computes its recommendation around the file's values; every value that recommendation would write differently is a
:class:`Suggestion` with its reason, which the user accepts one by one or all at once
(:func:`accept_suggestions`, an ordinary edit: undoable, and the accepted values become the user's). Nothing is
added silently, not even a key whose trainer default the wizard would write out.

Example:
    >>> from nbwizard import SystemProfile, load_job
    >>> from nbwizard.engine.state import initial_state, imported_state
    >>> job = load_job("config:\\n  process:\\n    - model: {arch: flux, name_or_path: black-forest-labs/FLUX.1-dev}"
    ...                "\\n      train: {lr: 1e-4}\\n")
    >>> state = imported_state(initial_state(SystemProfile.for_gpu("RTX 4090", ram_gb=64)), job)
    >>> state.job == job, any(s.path == "train.lr" for s in suggested_changes(state))
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .job import MISSING, JobBase, lookup
from .settings import find_setting, settings
from .state import WizardState, apply_recommendation, recommend_for, suggestions, with_values_of

__all__ = ["Suggestion", "accept_suggestions", "adopt_recommended", "suggested_changes"]


@dataclass(frozen=True)
class Suggestion:
    """One value the wizard would write: ``current`` / ``suggested`` are ``MISSING`` when the job writes no value
    there (the trainer's default applies) / when the wizard would remove the key. List sections show their first
    item; accepting writes every item."""

    path: str
    label: str
    current: Any
    suggested: Any
    why: str
    effect: str | None = None  # what accepting it does to this job's prediction ("peak 22.7 → 21.0 GiB"), if anything

    @property
    def kind(self) -> str:
        """``add``, ``change`` or ``remove``."""
        return "add" if self.current is MISSING else "remove" if self.suggested is MISSING else "change"


def suggested_changes(state: WizardState, priced: bool = True) -> tuple[Suggestion, ...]:
    """Every value the wizard would add, change or remove in ``state``'s held job, in the steps' order.

    Empty for a job the wizard fills in itself (``auto`` on: there the recommendation is applied, and the user's
    own values only carry a "recommended" note) and for a model the catalog does not list. ``priced``: each
    suggestion carries its :attr:`~Suggestion.effect` on this job's prediction (one prediction per suggestion).
    """
    proposal = _proposal(state)
    if proposal is None:
        return ()
    proposed, reasons = proposal
    before, after = state.job.to_dict(), proposed.to_dict()
    from .predict import predict_or_none

    now_predicted = predict_or_none(state.job, state.profile, state.dataset) if priced else None
    found = []
    for path in _candidates(state.job, proposed, reasons):
        now, then = _values(before, path), _values(after, path)
        setting = find_setting(path)
        if _video_only(setting) and not getattr(state.spec, "is_video", True):
            continue  # a preview frame rate for an image model: the trainer never reads it
        if now != then and not _changes_nothing(state.job, path, now, then):
            why = reasons[path].why if path in reasons else "The recommendation for this job does not write it"
            found.append(Suggestion(path, setting.label if setting else path, now[0] if now else MISSING,
                                    then[0] if then else MISSING, why,
                                    _effect(state, now_predicted, proposed, path, then) if priced else None))
    return tuple(found)


def accept_suggestions(state: WizardState, paths: Iterable[str] | None = None) -> WizardState:
    """``state`` with the suggestions for ``paths`` (all of them when None) written into the job.

    The accepted values become the user's own (later recomputations keep them); the rest of the job is untouched.
    A path with no pending suggestion is ignored.
    """
    proposal = _proposal(state)
    if proposal is None:
        return state
    proposed, reasons = proposal
    pending = {s.path: s for s in suggested_changes(state, priced=False)}
    chosen = [p for p in (pending if paths is None else paths) if p in pending]
    if not chosen:
        return state
    job = with_values_of(state.job, proposed, [p for p in chosen if pending[p].kind != "remove"])
    data = state.job.to_dict()
    for path in (p for p in chosen if pending[p].kind == "remove"):
        for index in reversed(range(len(_values(data, path)))):
            job = job.without([path], index)
    return state.replace(job=job, user_set=state.user_set | set(chosen))


# ---- helpers ----------------------------------------------------------------------------------------------------
def _proposal(state: WizardState) -> tuple[JobBase, Any] | None:
    """The job the wizard would make of ``state`` if it could write, and the reasons; None when it would not."""
    if state.auto:
        return None
    rec = recommend_for(state)
    if rec is None:
        return None
    return apply_recommendation(state.replace(auto=True), rec).job, rec.reasons


_ORDER = {s.path: n for n, s in enumerate(settings())}


def _candidates(job: JobBase, proposed: JobBase, reasons: Any) -> list[str]:
    """Setting paths either job writes (a key inside a dict setting goes with that setting)."""
    paths = dict.fromkeys([*reasons, *(p for p in job.set_paths() if find_setting(p) is not None),
                           *(p for p in proposed.set_paths() if find_setting(p) is not None)])
    whole = [p for p in paths if not any(".".join(p.split(".")[:n]) in paths for n in range(1, p.count(".") + 1))]
    return sorted(whole, key=lambda p: _ORDER.get(p, len(_ORDER)))


def _changes_nothing(job: JobBase, path: str, now: tuple[Any, ...], then: tuple[Any, ...]) -> bool:
    """Whether writing ``then`` where the job writes nothing only spells out what the trainer already uses: its
    default, or for a setting that falls back to another (``quantize_te`` to ``quantize``) that one's value."""
    return not now and all(v is MISSING or v == _in_effect(job, path, i) for i, v in enumerate(then))


def _video_only(setting: Any) -> bool:
    return setting is not None and setting.applies is not None and setting.applies.video


def _in_effect(job: JobBase, path: str, index: int) -> Any:
    value = job.get(path, index)
    setting = find_setting(path)
    if value is None and setting is not None and setting.falls_back_to:
        return job.get(setting.falls_back_to, index)
    return value


def _effect(state: WizardState, old: Any, proposed: JobBase, path: str, then: tuple[Any, ...]) -> str | None:
    """What accepting the suggestion for ``path`` alone does to the held job's prediction (``old``), in a few words;
    None when the predicted peak, verdict and step time stay as they are (or cannot be predicted)."""
    if old is None:
        return None
    from .predict import predict_or_none

    changed = with_values_of(state.job, proposed, [path]) if then else state.job.without([path])
    new = predict_or_none(changed, state.profile, state.dataset)
    if new is None:
        return None
    parts = []
    if old.peak_vram_gib is not None and new.peak_vram_gib is not None and (
            abs(new.peak_vram_gib - old.peak_vram_gib) >= 0.05 or new.verdict != old.verdict):
        parts.append(f"peak {old.peak_vram_gib:.1f} → {new.peak_vram_gib:.1f} GiB"
                     + (f" ({new.verdict.replace('_', ' ')})" if new.verdict != old.verdict else ""))
    if old.step_seconds and new.step_seconds and abs(new.step_seconds / old.step_seconds - 1) >= 0.02:
        parts.append(f"step {_seconds(old.step_seconds)} → {_seconds(new.step_seconds)} s")
    return "On this job: " + ", ".join(parts) if parts else None


def _seconds(s: float) -> str:
    return f"{s:,.0f}" if s >= 100 else f"{s:.3g}"


def _values(data: Any, path: str) -> tuple[Any, ...]:
    """The values ``data`` writes at ``path``: one per item of a list section, none when it writes none."""
    if "[]" in path:
        items = lookup(data, path.split("[]")[0])
        count = len(items) if isinstance(items, list) else 0
    else:
        count = 1
    found = tuple(lookup(data, path, i) for i in range(count))
    return found if any(v is not MISSING for v in found) else ()


def adopt_recommended(state: WizardState, path: str) -> WizardState:
    """``state`` with the wizard's own choice for ``path`` written as the user's value (a held job's "apply
    recommended": nothing there follows the recommendation by itself)."""
    rec = suggestions(state)
    if rec is None or path not in rec.reasons:
        return state
    return state.replace(job=with_values_of(state.job, rec.job, [path]), user_set=state.user_set | {path})
