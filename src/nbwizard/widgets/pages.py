"""The wizard's pages, built once: pre-flight (hardware, intent, templates, import), the step forms, review.

Pages only lay widgets out and name them; :mod:`nbwizard.widgets.app` wires them to the state and renders.
"""

from __future__ import annotations

import html
from typing import Any, Callable

import ipywidgets as w

from ..engine.intent import EXPERIENCE_LEVELS, PRIORITIES, TRAINING_TYPES
from ..engine.settings import STEPS, Step, step_settings
from .controls import NumberText, SettingControl
from .items import ITEM_SECTIONS, ItemList

_LABELLED = {"description_width": "200px"}


class FreshDropdown(w.Dropdown):
    """A drop-down that lists its options again each time a page asks the kernel for its whole state: a page load
    (Voilà runs the notebook before the request comes) or a reload shows what is on disk now."""

    def __init__(self, **kwargs: Any):
        self.refresh: Callable[[], None] | None = None
        self._refreshing = False
        super().__init__(**kwargs)

    def get_state(self, key: Any = None, drop_defaults: bool = False) -> dict[str, Any]:
        if key is None and self.refresh is not None and not self._refreshing:  # the whole state: a page wants it
            self._refreshing = True
            try:
                self.refresh()
            finally:
                self._refreshing = False
        return super().get_state(key=key, drop_defaults=drop_defaults)


def _toggle(options: tuple[str, ...], label: str, tooltip: str) -> w.ToggleButtons:
    return w.ToggleButtons(options=[(o.capitalize(), o) for o in options], description=label, tooltip=tooltip,
                           style={**_LABELLED, "button_width": "110px"})


class PreflightPage:
    """Detected hardware with sources, overrides, target GPU, intent questions, templates and import."""

    def __init__(self, gpus: list[tuple[str, str]]):
        """``gpus``: (label shown, catalog name) of every card one can plan for."""
        self.hardware = w.HTML()
        self.target = w.Dropdown(options=[("This machine (as detected)", "")] + gpus,
                                 description="Target GPU", style=_LABELLED, layout=w.Layout(width="min(560px,100%)"),
                                 tooltip="Plan for a card this machine does not have")
        # blank: as detected (the placeholder says what that is); a number: the person's correction
        self.reserve = NumberText(whole=False, description="Reserve (GiB)", style=_LABELLED, placeholder="none",
                                  tooltip="Memory to keep free for other applications, e.g. 4")
        self.ram = NumberText(whole=False, description="RAM (GiB)", style=_LABELLED,
                              tooltip="System RAM, if the detected value is wrong (blank: as detected)")
        self.vram = NumberText(whole=False, description="GPU memory (GiB)", style=_LABELLED,
                               tooltip="The GPU's memory, if the detected value is wrong (blank: as detected)")
        self.trainer = w.Dropdown(options=[("ai-toolkit (upstream)", "upstream"),
                                           ("ai-toolkit extended fork (batch auto-scaling, prefetch)", "extended")],
                                  description="Trainer", style=_LABELLED, layout=w.Layout(width="min(560px,100%)"))
        self.training_type = _toggle(TRAINING_TYPES, "What are you training?", "Person, pet, style, object, concept…")
        self.priority = _toggle(PRIORITIES, "Priority", "Quality: longer, more regularized; speed; memory")
        self.experience = _toggle(EXPERIENCE_LEVELS, "Experience", "How much the advisor explains")
        self.confirm = w.Button(description="Confirm hardware profile", button_style="primary",
                                tooltip="Use these values and go to the first step")
        # templates and import
        self.template_name = w.Text(description="Template name", style=_LABELLED, continuous_update=False,
                                    layout=w.Layout(width="min(460px,100%)"))
        self.template_save = w.Button(description="Save template")
        self.template_replace = w.Checkbox(description="Replace a template of that name", indent=False)
        self.template_pick = FreshDropdown(options=[], description="Saved templates", style=_LABELLED,
                                           layout=w.Layout(width="min(460px,100%)"))
        self.template_load = w.Button(description="Load")
        self.template_delete = w.Button(description="Delete")
        self.import_path = w.Text(description="YAML file path", style=_LABELLED, continuous_update=False,
                                  placeholder="/path/to/job.yaml", layout=w.Layout(width="min(560px,100%)"))
        self.import_button = w.Button(description="Import YAML")
        self.upload = w.FileUpload(accept=".yaml,.yml,.json", multiple=False, description="Upload YAML")
        self.message = w.HTML()
        self.suggestions_slot = w.VBox()  # what the wizard would add to an imported job, right under the message
        start = w.VBox([
            w.HTML("<b>Start from a saved template or an existing ai-toolkit job</b>"),
            w.HBox([self.template_name, self.template_save, self.template_replace],
                   layout=w.Layout(flex_flow="row wrap", align_items="center")),
            w.HBox([self.template_pick, self.template_load, self.template_delete], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.import_path, self.import_button]), self.upload, self.message, self.suggestions_slot])
        self.box = w.VBox([
            w.HTML("<h3>Pre-flight</h3><p>What this machine offers for training, and where each value came from. "
                   "Change any value, or pick a target GPU to plan for another card.</p>"),
            self.hardware, self.target, self.reserve, self.ram, self.vram, self.trainer,
            w.HTML("<h4>What you are training</h4>"), self.training_type, self.priority, self.experience,
            self.confirm, w.HTML("<hr>"), start])


class StepPage:
    """One step: its common settings, then every other setting of the step under "More settings".

    Rows are built the first time the page is shown (``build``): a page load then sends a few dozen widgets to
    the browser, not a thousand.
    """

    def __init__(self, step: Step, make_row: Callable[[Any], SettingControl], extra: list[w.Widget] | None = None,
                 extra_after: str | None = None, make_items: Callable[..., ItemList] | None = None):
        self.step = step
        self._make_row = make_row
        self._make_items = make_items
        self.extra = extra or []
        self.extra_after = extra_after  # the setting whose row the extra widgets follow; None: above the rows
        self.rows: list[SettingControl] = []
        # every flavour's settings are built; the app hides those the chosen trainer does not read. The fields of
        # a list's items (each sample prompt's) are edited item by item, in an ItemList
        every = step_settings(step.id, trainer=None)
        self._items = {sec: ([s for s in every if s.section == sec and s.common],
                             [s for s in every if s.section == sec and not s.common])
                       for sec in ITEM_SECTIONS if make_items is not None and any(s.section == sec for s in every)}
        self._common = [s for s in every if s.common and s.section not in self._items]
        more = [s for s in every if not s.common and s.section not in self._items]
        self._more_settings = [s for s in more if not s.other_jobs]
        self._other_settings = [s for s in more if s.other_jobs]  # sliders, adapters...: behind one more click
        self.lists: list[ItemList] = []
        self.more_rows: list[SettingControl] = []
        self._regular: list[SettingControl] = []
        self.other: w.Accordion | None = None
        self.on_more: Callable[[list[SettingControl]], None] | None = None  # called when the rows appear
        self.more: w.Accordion | None = None
        self._title = w.HTML(f"<h3>{html.escape(step.title)}</h3><p class='nbw-help'>{html.escape(step.summary)}</p>")
        self.box = w.VBox([self._title])

    def build(self) -> list[SettingControl]:
        """Build the common rows (once) and return them."""
        if self.more is None:
            self.rows = [self._make_row(s) for s in self._common]
            self.lists = [self._make_items(sec, common, more) for sec, (common, more) in self._items.items()]
            self.more = w.Accordion(children=[w.VBox()], selected_index=None)
            self.more.set_title(0, f"More settings ({len(self._more_settings) + len(self._other_settings)})")
            self.more.observe(self._open_more, names="selected_index")
            boxes = [r.box for r in self.rows]
            paths = [r.setting.path for r in self.rows]
            at = paths.index(self.extra_after) + 1 if self.extra_after in paths else 0
            self.box.children = [self._title, *boxes[:at], *self.extra, *boxes[at:], *[lst.box for lst in self.lists],
                                 self.more]
        return self.rows

    def form(self) -> w.VBox:
        """The page's common rows and item lists, for the review page's inline editing (the same widgets)."""
        self.build()
        return w.VBox([*[r.box for r in self.rows], *[lst.box for lst in self.lists]])

    def _open_more(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            rows = self.build_more(other_jobs=False)
            if self.on_more is not None:
                self.on_more(rows)

    def _open_other(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            rows = self.build_more()[len(self._regular):]
            if self.on_more is not None:
                self.on_more(rows)

    def build_more(self, other_jobs: bool = True) -> list[SettingControl]:
        """Build the "More settings" rows on first use (they are many, and most people never open them); the
        settings of other kinds of jobs (sliders, adapters...) only with ``other_jobs`` (their own fold)."""
        self.build()
        if not self._regular and (self._more_settings or self._other_settings):
            self._regular = [self._make_row(s) for s in self._more_settings]
            parts: list[w.Widget] = [w.VBox([r.box for r in self._regular])]
            if self._other_settings:
                self.other = w.Accordion(children=[w.VBox()], selected_index=None)
                self.other.set_title(0, f"For other kinds of jobs: sliders, adapters, embeddings "
                                        f"({len(self._other_settings)})")
                self.other.observe(self._open_other, names="selected_index")
                parts.append(self.other)
            self.more.children = [w.VBox(parts)]
            self.more_rows = list(self._regular)
        if other_jobs and self._other_settings and len(self.more_rows) == len(self._regular):
            others = [self._make_row(s) for s in self._other_settings]
            self.other.children = [w.VBox([r.box for r in others])]
            self.more_rows = [*self._regular, *others]
        return self.more_rows


class DatasetTools:
    """Analyze button, progress bar and results for the dataset step."""

    def __init__(self) -> None:
        self.analyze = w.Button(description="Analyze dataset", button_style="info",
                                tooltip="Scan the folder: sizes, captions, buckets, duplicates, unreadable files")
        self.progress = w.IntProgress(value=0, min=0, max=100, description="Scanning", style=_LABELLED,
                                      layout=w.Layout(display="none"))
        self.result = w.HTML()
        self.box = w.VBox([self.analyze, self.progress, self.result])


class ReviewPage:
    """Validation with fixes, comparison, predictions, inline editing, YAML preview, save / download / copy."""

    def fill_inline(self, sections: list[tuple[str, w.Widget]]) -> None:
        """Every step's common rows, editable here too (the same widgets as on the steps: one state)."""
        if not self.inline.children:
            self.inline.children = [box for _, box in sections]
            for i, (title, _) in enumerate(sections):
                self.inline.set_title(i, title)

    def __init__(self) -> None:
        self.report = w.VBox()
        self.comparison = w.HTML()
        self.prediction = w.HTML()
        self.inline = w.Accordion(selected_index=None)
        self.yaml = w.HTML()
        self.save_path = w.Text(description="Save to", style={"description_width": "initial"}, continuous_update=False,
                                layout=w.Layout(flex="1 1 420px", width="auto"),
                                tooltip="A file name or a path; a relative one is taken from the folder the wizard "
                                        "was started in")
        self.overwrite = w.Checkbox(description="Replace the file if it exists", indent=False)
        self.save = w.Button(description="Save YAML", button_style="success", layout=w.Layout(flex="0 0 auto"))
        self.download = w.HTML()
        self.message = w.HTML()
        self.box = w.VBox([
            w.HTML("<h3>Review &amp; save</h3>"),
            w.HTML("<h4>Validation</h4>"), self.report,
            w.HTML("<h4>Predictions</h4>"), self.prediction,
            w.HTML("<h4>Your values and the recommendation</h4>"), self.comparison,
            w.HTML("<h4>Edit any setting</h4>"), self.inline,
            w.HTML("<h4>YAML</h4>"), self.yaml,
            w.HBox([self.save_path, self.save], layout=w.Layout(width="100%", flex_flow="row wrap")), self.overwrite,
            self.download,
            self.message])


STEP_TITLES = {s.id: s.title for s in STEPS}
