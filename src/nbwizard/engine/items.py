"""Edits a form makes that are more than "set this key": a blank number, and the items of a list (sample prompts).

A blank number means "the trainer's default": the key leaves the job rather than being written as ``null`` (which
the trainer would take literally). List sections (``sample.samples[]``) gain and lose whole items; the section's
values then become the user's own, so a recomputed recommendation never puts a removed prompt back.
"""

from __future__ import annotations

from typing import Any

from .job import MISSING, lookup
from .settings import find_setting
from .state import WizardState


def edit_value(state: WizardState, path: str, value: Any, index: int = 0) -> WizardState:
    """The state after the user set ``path`` (item ``index`` of its list section) to ``value`` by hand.

    Raises ``ValueError`` when the value does not fit the setting (the state is then unchanged)."""
    s = find_setting(path)
    if value is None and s is not None and s.is_number:
        return state.replace(job=state.job.unset(path, index), user_set=state.user_set | {path})
    if index == 0:
        return state.edit(path, value)
    return state.replace(job=state.job.set(path, value, index), user_set=state.user_set | {path})


def list_path(section: str) -> str:
    """Where a list section sits in the job: ``sample.samples[]`` -> ``sample.samples``."""
    if not section.endswith("[]"):
        raise ValueError(f"{section!r} is not a list section (it does not end with [])")
    return section[:-2]


def item_count(job: Any, section: str) -> int:
    """How many items the job's list section holds (0 when it writes none)."""
    items = lookup(job.to_dict(), list_path(section))
    return len(items) if isinstance(items, list) else 0


def add_item(state: WizardState, first: str, value: Any = "") -> WizardState:
    """The state with one more item in ``first``'s list section, holding ``first: value`` (a new prompt)."""
    section = find_setting(first).section  # type: ignore[union-attr]
    job = state.job.set(first, value, index=item_count(state.job, section))
    return state.replace(job=job, user_set=state.user_set | _section_paths(state.job, section) | {first})


def remove_item(state: WizardState, section: str, index: int) -> WizardState:
    """The state without item ``index`` of ``section``; unchanged when there is no such item."""
    data = state.job.to_dict()
    items = lookup(data, list_path(section))
    if items is MISSING or not isinstance(items, list) or not 0 <= index < len(items):
        return state
    del items[index]
    job = type(state.job).model_validate(data)
    return state.replace(job=job, user_set=state.user_set | _section_paths(state.job, section))


def _section_paths(job: Any, section: str) -> set[str]:
    return {p for p in job.set_paths() if p.startswith(section + ".")}
