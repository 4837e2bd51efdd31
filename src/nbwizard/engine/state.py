"""The wizard's state as one immutable value, its undo history, and what is derived from it.

A change makes a new :class:`WizardState`; the view never mutates one. ``user_set`` records which settings the
user set by hand (or imported): a recomputation keeps them and may only suggest. ``auto`` says whether the wizard
writes its recommendation into the other values (a fresh plan) or holds the job as written (after an import or a
template: what it would add or change is offered by :mod:`.suggest`, never applied unasked). :func:`derive` runs
the engine once per state and caches by the inputs each part depends on, so an edit recomputes only what it affects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping

from .intent import Intent
from .job import MISSING, JobBase, job_model, lookup
from .models import ModelSpec, UnknownModelError, model_info
from .profile import SystemProfile
from .settings import find_setting


@dataclass(frozen=True)
class WizardState:
    """Everything the wizard knows: the job, the machine, the user's answers and which values are theirs."""

    job: JobBase
    profile: SystemProfile
    intent: Intent = field(default_factory=Intent)
    arch: str = "flux"
    trainer: str = "upstream"
    dataset: Any = None  # DatasetInfo from the last analysis, or None
    user_set: frozenset[str] = frozenset()
    auto: bool = True  # False: the job is held as written (imported / a template); the wizard only suggests

    @property
    def spec(self) -> ModelSpec | None:
        """The catalog entry of the model, or None for a model the catalog does not list (imported)."""
        try:
            return model_info(self.arch)
        except UnknownModelError:
            return None

    def replace(self, **changes: Any) -> "WizardState":
        return dataclasses.replace(self, **changes)

    def edit(self, path: str, value: Any) -> "WizardState":
        """The state after the user set ``path`` to ``value`` by hand (validated: raises ValueError if wrong)."""
        return self.replace(job=self.job.set(path, value), user_set=self.user_set | {path})

    def release(self, path: str) -> "WizardState":
        """The state with ``path`` handed back to the recommendation."""
        return self.replace(user_set=self.user_set - {path})

    @property
    def locked(self) -> dict[str, Any]:
        """The user's own values of settings the trainer reads, as ``recommend`` takes them."""
        return {path: self.job.get(path) for path in sorted(self.user_set) if find_setting(path) is not None}


def initial_state(profile: SystemProfile, intent: Intent | None = None, arch: str = "flux") -> WizardState:
    """A fresh state: the recommended job for ``arch`` on ``profile``."""
    state = WizardState(job=job_model()(), profile=profile, intent=intent or Intent(), arch=arch)
    return apply_recommendation(state, recommend_for(state))


def imported_state(state: WizardState, job: JobBase) -> WizardState:
    """``state`` with an imported job, held exactly as the file writes it.

    Every value the file sets counts as the user's own, and the wizard adds nothing (``auto`` off): what it would
    add or change is a suggestion (:func:`~nbwizard.engine.suggest.suggested_changes`). The model is the one the
    trainer will build (:func:`~nbwizard.engine.arch.identify`); one the catalog does not list keeps its own
    name, never another model's. ``model.arch`` is kept as the file has it, written or not.
    """
    from .arch import identify

    return state.replace(job=job, arch=identify(job).arch, user_set=frozenset(job.set_paths()) | {"model.arch"},
                         auto=False)


def template_state(state: WizardState, job: JobBase, *, intent: Intent, trainer: str, profile: SystemProfile,
                   user_set: Any = (), dataset: Any = None) -> WizardState:
    """``state`` with a saved template loaded: its job exactly as saved, held like an import.

    The template's own values stay the user's; the rest of its job is kept too, and what the wizard would now
    choose differently (another card, another dataset) is offered as suggestions.
    """
    from .arch import identify

    return state.replace(job=job, intent=intent, trainer=trainer, profile=profile, arch=identify(job).arch,
                         user_set=frozenset(user_set), dataset=dataset, auto=False)


# -- derived values ------------------------------------------------------------------------------------------

def recommend_for(state: WizardState) -> Any:
    """The recommendation around the user's own values (cached on everything it depends on); None for a model
    the catalog does not list (the wizard has nothing to recommend from)."""
    if state.spec is None:
        return None
    locked = tuple((p, _freeze(v)) for p, v in state.locked.items())
    return _recommend(_Key(state.profile), state.intent, state.arch, _Key(state.dataset), locked, state.trainer)


@lru_cache(maxsize=64)
def _recommend(profile: "_Key", intent: Intent, arch: str, dataset: "_Key", locked: tuple, trainer: str) -> Any:
    from .recommend import recommend

    return recommend(profile.value, intent, arch, dataset=dataset.value, locked={p: _thaw(v) for p, v in locked},
                     trainer=trainer)


def apply_recommendation(state: WizardState, rec: Any) -> WizardState:
    """``state`` with every recommended value that is not the user's own; unknown keys stay as they were.

    A held job (``auto`` off) and a model without a recommendation are returned unchanged.
    """
    if rec is None or not state.auto:
        return state
    if not state.job.set_paths():
        return state.replace(job=rec.job.with_values(state.locked))
    # a path stays the user's when they set it or any key inside it (a free-form dict keeps its unknown keys)
    def mine(path: str) -> bool:
        return path in state.user_set or any(u.startswith(path + ".") for u in state.user_set)

    paths = [path for path in rec.reasons if not mine(path)]
    job = with_values_of(state.job, rec.job, paths)
    # what an earlier recommendation wrote and this one does not (another model's kwargs, cosine's eta_min
    # after a switch to constant) leaves the job; the user's values and unknown keys never do
    rec_data = rec.job.to_dict()
    job = job.without([p for p in job.set_paths() if not mine(p) and lookup(rec_data, p) is MISSING])
    return state if job is state.job else state.replace(job=job)


def with_values_of(job: JobBase, source: JobBase, paths: Any) -> JobBase:
    """``job`` with the values ``source`` writes for ``paths`` (every item of a list section: all prompts of
    ``sample.samples[].prompt``), validated once per item index; ``job`` itself when nothing differs."""
    data, target = source.to_dict(), job.to_dict()
    by_index: dict[int, dict[str, Any]] = {}
    for path in paths:
        items = lookup(data, path.split("[]")[0]) if "[]" in path else None
        for i in range(len(items) if isinstance(items, list) else 1):
            value = lookup(data, path, i)
            if value is not MISSING and lookup(target, path, i) != value:
                by_index.setdefault(i, {})[path] = value
    for i, values in sorted(by_index.items()):
        job = job.with_values(values, index=i)
    return job


@dataclass(frozen=True)
class Derived:
    """What the views show: the recommendation, the prediction, the validation report.

    ``recommendation`` is the one the job follows, except that for each of the user's own values it carries
    what the wizard would choose on its own (value and reason): that is the suggestion shown beside them.
    """

    recommendation: Any
    prediction: Any
    report: Any


def derive(state: WizardState) -> Derived:
    from .predict import predict
    from .validate import validate

    rec = suggestions(state)
    prediction = predict(state.job, state.profile, dataset=state.dataset)
    report = validate(state.job, state.profile, trainer=state.trainer, dataset=state.dataset, prediction=prediction)
    return Derived(rec, prediction, report)


def suggestions(state: WizardState) -> Any:
    """The recommendation around the user's values, with the free choice (no value locked) for each of them."""
    rec = recommend_for(state)
    if rec is None or not state.user_set:
        return rec
    free = recommend_for(state.replace(user_set=frozenset()))
    mine = {p: free.reasons[p] for p in state.user_set if p in free.reasons}
    if not mine:
        return rec
    return dataclasses.replace(rec, reasons={**rec.reasons, **mine}, job=with_values_of(rec.job, free.job, mine))


class _Key:
    """Wraps an immutable but unhashable value (a profile, a DatasetInfo) so caches key on its identity."""

    def __init__(self, value: Any):
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and other.value is self.value


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return ("__list__",) + tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return ("__dict__",) + tuple((k, _freeze(v)) for k, v in value.items())
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple) and value and value[0] == "__list__":
        return [_thaw(v) for v in value[1:]]
    if isinstance(value, tuple) and value and value[0] == "__dict__":
        return {k: _thaw(v) for k, v in value[1:]}
    return value


# -- history --------------------------------------------------------------------------------------------------

class History:
    """Undo / redo over whole states (snapshots are cheap: states share their immutable parts)."""

    def __init__(self, first: WizardState, limit: int = 200):
        self._states = [first]
        self._index = 0
        self._limit = limit

    @property
    def current(self) -> WizardState:
        return self._states[self._index]

    @property
    def can_undo(self) -> bool:
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        return self._index < len(self._states) - 1

    def push(self, state: WizardState) -> WizardState:
        if state == self.current:
            return state
        del self._states[self._index + 1:]
        self._states.append(state)
        if len(self._states) > self._limit:
            del self._states[0]
        self._index = len(self._states) - 1
        return state

    def undo(self) -> WizardState:
        if self.can_undo:
            self._index -= 1
        return self.current

    def redo(self) -> WizardState:
        if self.can_redo:
            self._index += 1
        return self.current


def state_summary(state: WizardState) -> Mapping[str, Any]:
    """Plain data describing the state (for templates)."""
    profile = state.profile
    gpu = profile.gpu
    return {
        "job": state.job.to_dict(), "intent": dataclasses.asdict(state.intent), "arch": state.arch,
        "trainer": state.trainer, "user_set": sorted(state.user_set), "target": profile.target,
        "reserve_gib": profile.reserve_gib,
        "ram_gib": profile.ram_total_gib.value if profile.ram_total_gib.source == "user" else None,
        "vram_gib": gpu.memory_total_gib.value if gpu is not None and gpu.memory_total_gib.source == "user" else None,
        "dataset_analyzed": state.dataset is not None,
    }


def change_model(state: WizardState, arch: str) -> tuple[WizardState, tuple[Any, ...]]:
    """``state`` planned for catalog model ``arch``; the user's values that the new model cannot use, with why.

    The user's other values survive the change (see :mod:`._model_change`); the caller recommends around them.
    """
    from ._model_change import change_model as change

    return change(state, arch)
