"""``Wizard``: the whole app as one widget — a thin view over :mod:`nbwizard.engine.state`.

Every user change goes through one path: make a new state (the engine validates it), recommend around the
user's own values, derive, and only then keep it and render. A failing callback shows its message and keeps the
last good state. Rendering lives in :mod:`.view`, file and data actions in :mod:`.actions`.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..engine.changes import job_changes
from ..engine.gpus import gpus
from ..engine.intent import Intent
from ..engine.items import add_item, edit_value, remove_item
from ..engine.settings import STEPS, Setting, find_setting, setting
from ..engine.state import (Derived, History, WizardState, apply_recommendation, change_model, derive, initial_state,
                            recommend_for)
from . import render
from .actions import FileActions
from .controls import SettingControl, row_key
from .guard import _guarded
from .items import ItemList
from .navigation import Navigation
from .pages import DatasetTools, PreflightPage, ReviewPage, StepPage
from .suggestions import SuggestionActions, SuggestionsPanel
from .train import LAUNCH_PAGES, RunsPage, TrainPage
from .view import Renderer, render_value, setting_title


class Wizard(Navigation, FileActions, SuggestionActions, Renderer, w.VBox):
    """The configuration wizard. ``controls`` maps each setting path (and each pre-flight field) to its widget."""

    def __init__(self, profile: Any = None, *, intent: Intent | None = None, arch: str = "flux",
                 config_dir: str | Path | None = None, output_dir: str | Path | None = None):
        from ..engine.profile import detect_system

        self._config_dir = config_dir
        # `nbwizard serve` passes the folder it was started in: Voilà runs the kernel beside the notebook
        self._output_dir = _output_folder(output_dir or os.environ.get("NBWIZARD_OUTPUT_DIR") or ".")
        self._detected = profile if profile is not None else detect_system(paths=(str(self._output_dir),))
        self._history = History(initial_state(self._detected, intent, arch))
        self._derived: Derived | None = None
        self._rows: dict[str, SettingControl] = {}
        self._row_version: dict[str, int] = {}
        self._version = 0
        self._page = "preflight"  # the page shown, by name (pages come and go with the model)
        self._visited = {"preflight"}
        self._save_path_edited = False
        self._all_pages_open = False  # every step reachable at once (after an import or a template)
        self._pushes = 0  # states made current (an action that made none brought no job)
        self.status = w.HTML()
        self._rendering = True  # building sets values: none of them is the user's
        self._build()
        self._top = self._build_top()
        self._rendering = False
        super().__init__([w.HTML(render.STYLE), self.progress, self._top, self.top_slot, self.body, self.closed_box],
                         layout=w.Layout(width="100%"))
        self.add_class("nbw-root")
        self.add_class("nbw-app")
        self._render()

    # -- public ---------------------------------------------------------------------------------------------
    @property
    def state(self) -> WizardState:
        return self._history.current

    @property
    def controls(self) -> dict[str, w.Widget]:
        """Every control by name: setting paths (``train.lr``) and pre-flight fields (``preflight.target``)."""
        for page in self._step_pages.values():
            page.build()
            page.build_more()
            self._item_rows(page)
            for items in page.lists:
                items.build_more()
        self._refresh_rows(list(self._rows.values()))
        return {**{p: r.input for p, r in self._rows.items()}, **self._named}

    @property
    def pages(self) -> list[str]:
        """The pages shown for the current model, in order."""
        spec = self._spec()  # None: a model the catalog does not list shows the generic steps
        shown = ["preflight"]
        for step in STEPS:
            if step.id == "quantization" and spec is not None and not (
                    spec.quantization_supported or spec.te_quantization_supported):
                continue
            if step.id == "model_specific" and not (spec is not None and (
                    spec.is_video or spec.supports_layer_offloading or spec.additional_sections)):
                continue
            shown.append(step.id)
        return shown + ["review", *LAUNCH_PAGES]

    @property
    def page(self) -> str:
        """The page shown (when the model drops the page it was on, the nearest earlier one that remains)."""
        pages = self.pages
        if self._page in pages:
            return self._page
        order = ["preflight", *(s.id for s in STEPS), "review", *LAUNCH_PAGES]
        earlier = order[:order.index(self._page)]
        return next(p for p in reversed(earlier) if p in pages)

    def go(self, page: str) -> None:
        """Show ``page`` (a step id, ``preflight`` or ``review``)."""
        if page not in self.pages:
            raise KeyError(f"no page {page!r} for this model; pages: {', '.join(self.pages)}")
        self._page = page
        self._visited.add(page)
        self._render()

    # -- building -------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.header = w.HTML()
        self.advisor = w.HTML(layout=w.Layout(flex="1 1 280px", min_width="230px", padding="0 0 0 12px"))
        self.advisor.add_class("nbw-advisor-panel")
        self.preflight = PreflightPage([(gpu_label(g), g.name) for g in gpus()])
        self.dataset_tools = DatasetTools()
        self._step_pages = {s.id: StepPage(s, self._make_row, extra=[self.dataset_tools.box] if s.id == "dataset"
                                           else None, extra_after="datasets[].folder_path",
                                           make_items=self._make_items) for s in STEPS}
        for step_page in self._step_pages.values():
            step_page.on_more = self._refresh_rows
        self.review = ReviewPage()
        self.suggestions = SuggestionsPanel(self._accept)
        self.top_slot = w.Box(layout=w.Layout(width="100%"))  # the suggestions, on every page but pre-flight
        self.top_slot.add_class("nbw-top-slot")
        self.train_page, self.runs_page = TrainPage(), RunsPage()
        self._page_boxes = {"preflight": self.preflight.box, "review": self.review.box,
                            **{k: p.box for k, p in self._step_pages.items()},
                            "train": self.train_page.box, "runs": self.runs_page.box}
        for box in self._page_boxes.values():
            box.add_class("nbw-page")
        self.stack = w.Stack(children=list(self._page_boxes.values()), selected_index=0,
                             layout=w.Layout(flex="3 1 520px", min_width="0"))
        self.stack.add_class("nbw-stack")
        self.body = w.Box([self.stack, self.advisor], layout=w.Layout(display="flex", flex_flow="row nowrap",
                                                                     align_items="stretch", width="100%"))
        self.body.add_class("nbw-body")
        self.progress = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.back = w.Button(description="Previous", tooltip="Go to the previous step")
        self.next = w.Button(description="Next", button_style="primary", tooltip="Go to the next step")
        self.exit = w.Button(description="Exit", tooltip="Close the wizard (it asks first)")
        self.undo = w.Button(description="Undo", tooltip="Undo the last change (Ctrl+Z in your notebook)")
        self.redo = w.Button(description="Redo", tooltip="Redo the change you undid")
        self.nav = w.HBox([self.exit, self.back, self.next, self.undo, self.redo],
                          layout=w.Layout(flex_flow="row wrap", margin="4px 0"))
        self.back.on_click(lambda _: self._move(-1))
        self.next.on_click(lambda _: self._move(+1))
        self.exit.on_click(lambda _: self._ask_exit())
        self.undo.on_click(lambda _: self._undo())
        self.redo.on_click(lambda _: self._redo())
        self._wire_preflight()
        self._wire_review()
        self.dataset_tools.analyze.on_click(lambda _: self._analyze())
        pf = self.preflight
        self._named: dict[str, w.Widget] = {
            "preflight.target": pf.target, "preflight.reserve_gib": pf.reserve, "preflight.ram_gib": pf.ram,
            "preflight.vram_gib": pf.vram,
            "preflight.trainer": pf.trainer, "intent.training_type": pf.training_type,
            "intent.priority": pf.priority, "intent.experience": pf.experience,
            "template.name": pf.template_name, "template.pick": pf.template_pick,
            "template.replace": pf.template_replace, "import.path": pf.import_path,
            "import.upload": pf.upload, "review.save_path": self.review.save_path,
            "review.overwrite": self.review.overwrite}
        self.preflight.template_pick.refresh = self._refresh_templates
        self._refresh_templates()

    def _make_row(self, s: Setting, index: int = 0, compact: bool = False) -> SettingControl:
        was, self._rendering = self._rendering, True  # a new row's first value is not the user's
        try:
            row = SettingControl(s, on_commit=self._commit, on_apply=self._apply_recommended, index=index,
                                 compact=compact)
            if s.path == "model.arch":
                row.show(self.state.arch)
        finally:
            self._rendering = was
        self._rows[row.key] = row
        return row

    def _make_items(self, section: str, common: list[Setting], more: list[Setting]) -> ItemList:
        return ItemList(section, common, more, lambda s, i: self._make_row(s, i, compact=True),
                        on_add=lambda: self._add_item(common[0].path), on_remove=lambda i: self._remove_item(section, i),
                        on_more=self._refresh_rows)

    def _wire_preflight(self) -> None:
        pf = self.preflight
        pf.target.observe(lambda c: self._profile_changed(), names="value")
        pf.reserve.observe(lambda c: self._profile_changed(), names="value")
        pf.ram.observe(lambda c: self._profile_changed(), names="value")
        pf.vram.observe(lambda c: self._profile_changed(), names="value")
        pf.trainer.observe(lambda c: self._trainer_changed(c["new"]), names="value")
        for name in ("training_type", "priority", "experience"):
            getattr(pf, name).observe(self._intent_changed, names="value")
        pf.confirm.on_click(lambda _: self._move(+1))
        pf.template_save.on_click(lambda _: self._save_template())
        pf.template_load.on_click(lambda _: self._opening_a_job(self._load_template))
        pf.template_delete.on_click(lambda _: self._delete_template())
        pf.import_button.on_click(lambda _: self._opening_a_job(self._import, pf.import_path.value))
        pf.upload.observe(lambda change: self._opening_a_job(self._uploaded, change), names="value")

    def _opening_a_job(self, action: Any, *args: Any) -> None:
        """Run an import or a template load; once it brings a job, every step (and Review) is one click away."""
        pushes = self._pushes
        action(*args)
        if self._pushes != pushes and not self._all_pages_open:
            self._all_pages_open = True
            self._render_progress(self.pages, self.page)

    def _wire_review(self) -> None:
        self.review.save.on_click(lambda _: self._save())
        self.review.save_path.observe(self._save_path_typed, names="value")

    def _save_path_typed(self, _change: dict[str, Any]) -> None:
        if not self._rendering:
            self._save_path_edited = True

    # -- state changes --------------------------------------------------------------------------------------
    def _push(self, state: WizardState, note: str = "") -> None:
        """Make ``state`` current: recommend around the user's values, derive, then (only if all went well) keep.

        A held job (imported, a template) is never rewritten here: what the wizard would change is listed in the
        suggestions panel instead. ``note`` (HTML) is said in the status line.
        """
        before = self.state.job
        state = apply_recommendation(state, recommend_for(state))
        derived = derive(state)
        self._history.push(state)
        self._pushes += 1
        self._render(derived)
        if state.auto:  # a held job has no side changes: the wizard only suggests there
            self._tell_side_changes(before, state)
        if note:
            self.status.value = note + self.status.value

    def _tell_side_changes(self, before: Any, state: WizardState) -> None:
        """Say which recommended values moved to follow a change (they are not the user's, so they may move)."""
        after = state.job
        paths = [p for p in dict.fromkeys([*before.set_paths(), *after.set_paths()]) if p not in state.user_set]
        moved = job_changes(before, after, paths)
        if moved and before.set_paths():
            self.status.value = render.notice(
                "nbw-side-note", "ℹ", f"The wizard also changed {len(moved)} recommended value"
                f"{'s' * (len(moved) != 1)} to follow this change (the advisor says why)", [c.text for c in moved])

    @_guarded
    def _commit(self, path: str, value: Any, index: int = 0) -> None:
        if self._rendering:
            return
        if path == "model.arch":
            self._change_arch(str(value))
            return
        try:
            state = edit_value(self.state, path, value, index)
            if path == "datasets[].folder_path":
                state = state.replace(dataset=None)  # the analysis described the old folder
        except ValueError as exc:
            row = self._rows[row_key(path, index)]
            row.show(self.state.job.get(path, index))
            row.show_error(_refusal(exc))
            return
        self._push(state)

    @_guarded
    def _add_item(self, first: str) -> None:
        self._push(add_item(self.state, first))

    @_guarded
    def _remove_item(self, section: str, index: int) -> None:
        self._push(remove_item(self.state, section, index))

    def _change_arch(self, arch: str) -> None:
        """Another model: the user's own values stay unless the new model cannot use them, and those are named."""
        state, dropped = change_model(self.state, arch)  # unknown arch -> error shown by the guard
        label = html.escape(state.spec.label)
        items = "".join(f"<li>{html.escape(d.label)} ({html.escape(render_value(d.value))}): "
                        f"{html.escape(d.why)}</li>" for d in dropped if d.path != "model.name_or_path")
        kept = len([p for p in state.user_set - {"model.arch", "model.name_or_path"} if find_setting(p)])
        note = (f"<div class='nbw-note' role='status'>Model: {label}."
                + (f" Your own {kept} value(s) are kept." if kept else "")
                + (f" Model path is now <code>{html.escape(str(state.job.get('model.name_or_path')))}</code>."
                   if not state.auto else "")
                + (f" Not kept, because {label} cannot use them:<ul>{items}</ul>" if items else "") + "</div>")
        self._push(state, note)

    def _set(self, **changes: Any) -> None:
        if not self._rendering:
            self._push(self.state.replace(**changes))

    @_guarded
    def _trainer_changed(self, trainer: str) -> None:
        """Another trainer flavour: the keys it does not read leave the job (they would be ignored)."""
        if self._rendering or trainer == self.state.trainer:
            return
        state = self.state
        ignored = [p for p in state.job.set_paths() if trainer not in setting(p).trainers]
        self._push(state.replace(trainer=trainer, job=state.job.without(ignored),
                                 user_set=state.user_set - set(ignored)))

    @_guarded
    def _intent_changed(self, _change: dict[str, Any]) -> None:
        pf = self.preflight
        self._set(intent=Intent(pf.training_type.value, pf.priority.value, pf.experience.value))

    @_guarded
    def _profile_changed(self) -> None:
        if self._rendering:
            return
        pf = self.preflight
        profile = self._detected.with_target(pf.target.value) if pf.target.value else self._detected
        ram, vram, reserve = (_positive(x.value) for x in (pf.ram, pf.vram, pf.reserve))  # blank: as detected
        if ram:
            profile = profile.override("ram_total_gib", ram)
        if vram and profile.gpus:
            profile = profile.override("gpu.memory_total_gib", vram)
        if reserve:
            profile = profile.override("reserve_gib", reserve)
        self._push(self.state.replace(profile=profile))

    @_guarded
    def _move(self, delta: int) -> None:
        pages = self.pages
        self._page = pages[max(0, min(len(pages) - 1, pages.index(self.page) + delta))]
        self._visited.add(self._page)
        self._render()

    def _render(self, derived: Derived | None = None) -> None:
        self._rendering = True
        try:
            self._render_all(derived or derive(self.state))
            self._render_suggestions()
        finally:
            self._rendering = False


def gpu_label(gpu: Any) -> str:
    """A card as the target picker names it: its name and its memory (``NVIDIA L4 · 24 GB``)."""
    size = f"{gpu.memory_gib:g} GB"
    return gpu.name if size.replace(" ", "") in gpu.name.replace(" ", "") else f"{gpu.name} · {size}"


def _positive(value: Any) -> float | None:
    """A hardware figure the person typed, or None (blank, zero, or not a number: the detected value stands)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def _output_folder(folder: str | Path) -> Path:
    """The folder relative paths are taken from: absolute, and never inside the installed package (Voilà runs a
    packaged notebook's kernel in the package folder; the person's home is the sensible place then)."""
    path = Path(folder).expanduser().resolve()
    package = Path(__file__).resolve().parents[1]
    return Path.home() if path == package or package in path.parents else path


def _refusal(exc: Exception) -> str:
    """Why a typed value was refused, in words (pydantic's own text without its location and links)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        wanted = sorted({e["msg"].removeprefix("Input should be ").rstrip(".") for e in exc.errors()})
        return f"not a valid value: it should be {' or '.join(wanted)}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


__all__ = ["Wizard", "setting_title"]
