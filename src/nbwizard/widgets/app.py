"""``Wizard``: the whole app as one widget — a thin view over :mod:`nbwizard.engine.state`.

Every user change goes through one path: make a new state (the engine validates it), recommend around the
user's own values, push it on the history, render. Rendering writes only values, notes and visibility into
widgets built once; it never marks anything as the user's. A failing callback shows its message in the advisor
and keeps the last good state.
"""

from __future__ import annotations

import base64
import functools
import html
import logging
import os
from pathlib import Path
from typing import Any, Callable

import ipywidgets as w

from ..engine import templates
from ..engine.advisor import advise, compare
from ..engine.dataset import DatasetError, analyze_dataset
from ..engine.gpus import gpus
from ..engine.intent import Intent
from ..engine.models import model_info, models
from ..engine.settings import STEPS, Setting, setting, settings
from ..engine.state import (Derived, History, WizardState, apply_recommendation, derive, imported_state,
                            initial_state, recommend_for, state_summary)
from ..engine.validate import apply_fix
from ..engine.yamlio import JobError, dump_job, load_job, save_job
from . import render
from .controls import SettingControl
from .pages import DatasetTools, PreflightPage, ReviewPage, StepPage
from .preflight import hardware_html

log = logging.getLogger("nbwizard")

# settings a model must list in its additional sections to be shown (video frames, audio, control images...)
_GATED = {path.replace("datasets.", "datasets[].") for m in models() for path in m.additional_sections}


def _guarded(method: Callable[..., None]) -> Callable[..., None]:
    """Run a callback; on failure log it, say so in the wizard, and keep the last good state."""

    @functools.wraps(method)
    def run(self: "Wizard", *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception as exc:  # a callback has no caller to raise to: show it instead
            log.exception("wizard callback %s failed", method.__name__)
            self._resync()
            self.status.value = (f"<p class='nbw-bad' role='alert'>✗ Something went wrong: "
                                 f"{html.escape(str(exc) or type(exc).__name__)}. Your settings are unchanged.</p>")

    return run


class Wizard(w.VBox):
    """The configuration wizard. ``controls`` maps each setting path (and each pre-flight field) to its widget."""

    def __init__(self, profile: Any = None, *, intent: Intent | None = None, arch: str = "flux",
                 config_dir: str | Path | None = None, output_dir: str | Path | None = None):
        from ..engine.profile import detect_system

        self._config_dir = config_dir
        # `nbwizard serve` passes the folder it was started in: Voilà runs the kernel beside the notebook
        self._output_dir = Path(output_dir or os.environ.get("NBWIZARD_OUTPUT_DIR") or ".")
        self._detected = profile if profile is not None else detect_system(paths=(str(self._output_dir),))
        self._history = History(initial_state(self._detected, intent, arch))
        self._derived: Derived | None = None
        self._rows: dict[str, SettingControl] = {}
        self._row_version: dict[str, int] = {}
        self._version = 0
        self._rendering = False
        self._page = 0
        self._visited = {0}
        self.status = w.HTML()
        self._rendering = True  # building sets values: none of them is the user's
        self._build()
        self._rendering = False
        super().__init__([w.HTML(render.STYLE), self.progress, self.header, self.body, self.nav, self.status],
                         layout=w.Layout(width="100%"))
        self.add_class("nbw-root")
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
        self._refresh_rows(self._rows.values())
        return {**{p: r.input for p, r in self._rows.items()}, **self._named}

    @property
    def pages(self) -> list[str]:
        """The pages shown for the current model, in order."""
        spec = self._spec()
        shown = ["preflight"]
        for step in STEPS:
            if step.id == "quantization" and not (spec.quantization_supported or spec.te_quantization_supported):
                continue
            if step.id == "model_specific" and not (spec.is_video or spec.supports_layer_offloading
                                                    or spec.additional_sections):
                continue
            shown.append(step.id)
        return shown + ["review"]

    @property
    def page(self) -> str:
        return self.pages[self._page]

    def go(self, page: str) -> None:
        """Show ``page`` (a step id, ``preflight`` or ``review``)."""
        self._page = self.pages.index(page)
        self._visited.add(self._page)
        self._render()

    # -- building -------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.header = w.HTML()
        self.advisor = w.HTML(layout=w.Layout(flex="1 1 280px", min_width="260px", padding="0 0 0 12px"))
        self.advisor.add_class("nbw-advisor-panel")
        self.preflight = PreflightPage([g.name for g in gpus()])
        self.dataset_tools = DatasetTools()
        self._step_pages = {s.id: StepPage(s, self._make_row, extra=[self.dataset_tools.box] if s.id == "dataset"
                                           else None) for s in STEPS}
        for step_page in self._step_pages.values():
            step_page.on_more = self._refresh_rows
        self.review = ReviewPage()
        self._page_boxes = {"preflight": self.preflight.box, "review": self.review.box,
                            **{k: p.box for k, p in self._step_pages.items()}}
        for box in self._page_boxes.values():
            box.add_class("nbw-page")
        self.stack = w.Stack(children=list(self._page_boxes.values()), selected_index=0,
                             layout=w.Layout(flex="3 1 560px", min_width="0"))
        self.body = w.Box([self.stack, self.advisor], layout=w.Layout(display="flex", flex_flow="row wrap",
                                                                     align_items="flex-start", width="100%"))
        self.progress = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self.back = w.Button(description="Previous", tooltip="Go to the previous step")
        self.next = w.Button(description="Next", button_style="primary", tooltip="Go to the next step")
        self.exit = w.Button(description="Exit", tooltip="Close the wizard (the notebook keeps its state)")
        self.undo = w.Button(description="Undo", tooltip="Undo the last change (Ctrl+Z in your notebook)")
        self.redo = w.Button(description="Redo", tooltip="Redo the change you undid")
        self.nav = w.HBox([self.exit, self.back, self.next, self.undo, self.redo])
        self.back.on_click(lambda _: self._move(-1))
        self.next.on_click(lambda _: self._move(+1))
        self.exit.on_click(lambda _: self._exit())
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
            "template.name": pf.template_name, "template.pick": pf.template_pick, "import.path": pf.import_path,
            "import.upload": pf.upload, "review.save_path": self.review.save_path,
            "review.overwrite": self.review.overwrite}
        self.review.save_path.value = str(self._output_dir / f"{self.state.job.get('config.name') or 'job'}.yaml")
        self._refresh_templates()

    def _make_row(self, s: Setting) -> SettingControl:
        was, self._rendering = self._rendering, True  # a new row's first value is not the user's
        try:
            row = SettingControl(s, on_commit=self._commit, on_apply=self._apply_recommended)
            if s.path == "model.arch":
                row.input.options = [(f"{m.label} ({m.group})", m.arch) for m in models()]
                row.show(self.state.arch)
        finally:
            self._rendering = was
        self._rows[s.path] = row
        return row

    def _wire_preflight(self) -> None:
        pf = self.preflight
        pf.target.observe(lambda c: self._profile_changed(), names="value")
        pf.reserve.observe(lambda c: self._profile_changed(), names="value")
        pf.ram.observe(lambda c: self._profile_changed(), names="value")
        pf.vram.observe(lambda c: self._profile_changed(), names="value")
        pf.trainer.observe(lambda c: self._set(trainer=c["new"]), names="value")
        for name in ("training_type", "priority", "experience"):
            getattr(pf, name).observe(self._intent_changed, names="value")
        pf.confirm.on_click(lambda _: self._move(+1))
        pf.template_save.on_click(lambda _: self._save_template())
        pf.template_load.on_click(lambda _: self._load_template())
        pf.template_delete.on_click(lambda _: self._delete_template())
        pf.import_button.on_click(lambda _: self._import(pf.import_path.value))
        pf.upload.observe(self._uploaded, names="value")

    def _wire_review(self) -> None:
        self.review.save.on_click(lambda _: self._save())

    # -- state changes --------------------------------------------------------------------------------------
    def _push(self, state: WizardState) -> None:
        """Make ``state`` current: recommend around the user's values, derive, then (only if all went well) keep."""
        state = apply_recommendation(state, recommend_for(state))
        derived = derive(state)
        self._history.push(state)
        self._render(derived)

    @_guarded
    def _commit(self, path: str, value: Any) -> None:
        if self._rendering:
            return
        if path == "model.arch":
            self._change_arch(str(value))
            return
        try:
            state = self.state.edit(path, value)
        except ValueError as exc:
            row = self._rows[path]
            row.show(self.state.job.get(path))
            row.show_error(_refusal(exc))
            return
        self._push(state)

    def _change_arch(self, arch: str) -> None:
        spec = model_info(arch)  # unknown arch -> error shown by the guard
        state = self.state
        # the new model's own defaults replace what was set for the previous one, and settings the new model
        # has no use for (frames on an image model, offloading where it has none) leave the job
        allowed = {p.replace("datasets.", "datasets[].") for p in spec.additional_sections}
        unusable = {p for p in _GATED if p not in allowed}
        if not spec.supports_layer_offloading:
            unusable |= {"model.layer_offloading", "model.layer_offloading_transformer_percent",
                         "model.layer_offloading_text_encoder_percent"}
        job = state.job
        for path in sorted(unusable):
            if job.is_set(path):
                job = job.unset(path)
        model_paths = {p for p in state.user_set if p.startswith(("model.", "sample."))}
        self._push(state.replace(arch=arch, job=job, user_set=state.user_set - model_paths - unusable))

    @_guarded
    def _apply_recommended(self, path: str) -> None:
        self._push(self.state.release(path))

    def _set(self, **changes: Any) -> None:
        if not self._rendering:
            self._push(self.state.replace(**changes))

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
        if pf.ram.value and pf.ram.value > 0:
            profile = profile.override("ram_total_gib", float(pf.ram.value))
        if pf.vram.value and pf.vram.value > 0 and profile.gpus:
            profile = profile.override("gpu.memory_total_gib", float(pf.vram.value))
        if pf.reserve.value and pf.reserve.value > 0:
            profile = profile.override("reserve_gib", float(pf.reserve.value))
        self._push(self.state.replace(profile=profile))

    @_guarded
    def _undo(self) -> None:
        self._history.undo()
        self._render()

    @_guarded
    def _redo(self) -> None:
        self._history.redo()
        self._render()

    @_guarded
    def _move(self, delta: int) -> None:
        self._page = max(0, min(len(self.pages) - 1, self._page + delta))
        self._visited.add(self._page)
        self._render()

    def _exit(self) -> None:
        self.stack.layout.display = "none"
        self.advisor.layout.display = "none"
        self.status.value = ("<p>The wizard is closed. Run the cell again to reopen it; "
                             "<code>wizard.state.job</code> still holds your job.</p>")

    # -- dataset, templates, import, save --------------------------------------------------------------------
    @_guarded
    def _analyze(self) -> None:
        tools, job = self.dataset_tools, self.state.job
        tools.progress.layout.display = None

        def progress(done: int, total: int) -> None:
            tools.progress.max = max(total, 1)
            tools.progress.value = done

        try:
            info = analyze_dataset(job.get("datasets[].folder_path") or "", progress,
                                   caption_ext=str(job.get("datasets[].caption_ext") or "txt").lstrip("."),
                                   trigger_word=job.get("process.trigger_word"))
        except DatasetError as exc:
            tools.result.value = f"<p class='nbw-bad' role='alert'>✗ {html.escape(str(exc))}</p>"
            return
        finally:
            tools.progress.layout.display = "none"
        tools.result.value = render.dataset_report(info)
        self._push(self.state.replace(dataset=info))

    def _refresh_templates(self) -> None:
        names = templates.list_templates(self._config_dir)
        self.preflight.template_pick.options = names
        self.preflight.template_pick.value = names[0] if names else None

    @_guarded
    def _save_template(self) -> None:
        name = self.preflight.template_name.value.strip()
        try:
            templates.save_template(name, state_summary(self.state), self._config_dir)
        except (templates.TemplateError, FileExistsError) as exc:
            self.preflight.message.value = f"<p class='nbw-bad'>✗ {html.escape(str(exc))}</p>"
            return
        self._refresh_templates()
        self.preflight.message.value = f"<p class='nbw-ok'>✓ Saved template “{html.escape(name)}”.</p>"

    @_guarded
    def _load_template(self) -> None:
        name = self.preflight.template_pick.value
        try:
            data = templates.load_template(name or "", self._config_dir)
            job = load_job(data["job"])
            intent = Intent(**data.get("intent", {}))
        except (templates.TemplateError, JobError, TypeError, ValueError) as exc:
            self.preflight.message.value = f"<p class='nbw-bad'>✗ {html.escape(str(exc))}</p>"
            return
        profile = self._detected.with_target(data["target"]) if data.get("target") else self._detected
        for field, key in (("ram_total_gib", "ram_gib"), ("gpu.memory_total_gib", "vram_gib"),
                           ("reserve_gib", "reserve_gib")):
            if data.get(key) and (field != "gpu.memory_total_gib" or profile.gpus):
                profile = profile.override(field, float(data[key]))
        state = self.state.replace(job=job, intent=intent, arch=str(data.get("arch") or self.state.arch),
                                   trainer=str(data.get("trainer") or "upstream"), profile=profile,
                                   user_set=frozenset(data.get("user_set") or ()))
        self._push(state)
        self.preflight.message.value = f"<p class='nbw-ok'>✓ Loaded template “{html.escape(name)}”.</p>"

    @_guarded
    def _delete_template(self) -> None:
        name = self.preflight.template_pick.value
        if name:
            templates.delete_template(name, self._config_dir)
            self._refresh_templates()
            self.preflight.message.value = f"<p>Deleted template “{html.escape(name)}”.</p>"

    @_guarded
    def _import(self, source: Any) -> None:
        try:
            job = load_job(source)
        except JobError as exc:
            self.preflight.message.value = ("<p class='nbw-bad' role='alert'>✗ Could not import: "
                                            f"{html.escape(str(exc))}</p>")
            return
        self._push(imported_state(self.state, job))
        unknown = job.unknown_keys()
        kept = "".join(f"<li><code>{html.escape(u.where)}</code>" + (
            f" — did you mean <code>{html.escape(u.suggestion)}</code>?" if u.suggestion else "") + "</li>"
            for u in unknown)
        self.preflight.message.value = (
            f"<p class='nbw-ok'>✓ Imported {len(job.set_paths())} settings.</p>"
            + (f"<p>Kept as written, but ai-toolkit does not read them:</p><ul>{kept}</ul>" if unknown else ""))

    def _uploaded(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if files:
            content = files[0]["content"]
            self._import(bytes(content).decode("utf-8", errors="replace"))

    @_guarded
    def _save(self) -> None:
        report = self._derived.report if self._derived else None
        if report is not None and not report.ok:
            self.review.message.value = ("<p class='nbw-bad' role='alert'>✗ Fix the errors above first: "
                                         "a job with errors would fail in the trainer.</p>")
            return
        try:
            path = save_job(self.state.job, self.review.save_path.value, overwrite=self.review.overwrite.value)
        except FileExistsError:
            self.review.message.value = ("<p class='nbw-warn' role='alert'>⚠ That file exists. Tick “Replace the "
                                         "file if it exists” to overwrite it, or choose another name.</p>")
            return
        except OSError as exc:
            self.review.message.value = f"<p class='nbw-bad' role='alert'>✗ Could not save: {html.escape(str(exc))}</p>"
            return
        self.review.message.value = f"<p class='nbw-ok' id='nbw-saved'>✓ Saved {html.escape(str(path))}</p>"

    @_guarded
    def _fix(self, issue: Any) -> None:
        job = apply_fix(self.state.job, issue.fix)
        # the fixed paths (set or removed) are the user's decision now: recommendations leave them alone
        self._push(self.state.replace(job=job, user_set=self.state.user_set | {p for p, *_ in issue.fix.patch}))

    # -- rendering ------------------------------------------------------------------------------------------
    def _spec(self) -> Any:
        return model_info(self.state.arch)

    def _render(self, derived: Derived | None = None) -> None:
        self._rendering = True
        try:
            self._render_all(derived or derive(self.state))
        finally:
            self._rendering = False

    def _render_all(self, derived: Derived) -> None:
        state = self.state
        self._derived = derived
        spec = self._spec()
        pages = self.pages
        self._page = min(self._page, len(pages) - 1)
        page = pages[self._page]
        self.stack.selected_index = list(self._page_boxes).index(page)
        self._render_progress(pages)
        self.back.disabled = self._page == 0
        self.next.layout.display = "none" if page == "review" else None
        self.next.description = "Review" if self._page == len(pages) - 2 else "Next"
        self.undo.disabled = not self._history.can_undo
        self.redo.disabled = not self._history.can_redo
        self._render_preflight(state)
        self._version += 1
        self._refresh_rows(self._page_rows(page))
        job = state.job
        self.header.value = render.header(spec.label, job.get("datasets[].resolution"), job.get("train.steps"),
                                          derived.prediction, derived.report)
        advice = advise(job, state.profile, state.intent, page, recommendation=derived.recommendation,
                        report=derived.report, prediction=derived.prediction)
        title = "Pre-flight" if page == "preflight" else "Review" if page == "review" else setting_title(page)
        self.advisor.value = render.advisor(advice, title)
        if page == "review":
            self._render_review(state, derived)
        self.status.value = ""

    def _render_progress(self, pages: list[str]) -> None:
        buttons = list(self.progress.children)
        if [b.tooltip for b in buttons] != pages:
            buttons = []
            for n, page in enumerate(pages):
                b = w.Button(description=f"{n}. {setting_title(page)}" if n else "Pre-flight", tooltip=page,
                             layout=w.Layout(width="auto"))
                b.on_click(functools.partial(lambda p, _: self.go(p), page))
                buttons.append(b)
            self.progress.children = buttons
        for n, b in enumerate(buttons):
            b.disabled = n not in self._visited and n != self._page + 1
            b.button_style = "info" if n == self._page else ""
            b.description = ("▶ " if n == self._page else "✓ " if n in self._visited else "") + (
                f"{n}. {setting_title(b.tooltip)}" if n else "Pre-flight")

    def _render_preflight(self, state: WizardState) -> None:
        self.preflight.hardware.value = hardware_html(state.profile)
        pf = self.preflight
        pf.training_type.value, pf.priority.value, pf.experience.value = (
            state.intent.training_type, state.intent.priority, state.intent.experience)
        pf.trainer.value = state.trainer
        # the hardware overrides show what the profile holds (after undo, a template, a reset...)
        profile = state.profile
        pf.target.value = profile.target if profile.target in {v for _, v in pf.target.options} else ""
        pf.reserve.value = profile.reserve_gib
        pf.ram.value = profile.ram_total_gib.value if profile.ram_total_gib.source == "user" else 0.0
        gpu = profile.gpu
        pf.vram.value = gpu.memory_total_gib.value if gpu is not None and gpu.memory_total_gib.source == "user" \
            else 0.0

    def _resync(self) -> None:
        """After a failed change, show the state's values again in every control that may have kept the input."""
        self._version += 1
        for row in self._rows.values():
            row.forget()
        try:
            self._refresh_rows(self._page_rows(self.page))
        except Exception:  # the failure is already being reported; never hide it behind a second one
            log.exception("could not restore the controls after a failed change")

    def _page_rows(self, page: str) -> list[SettingControl]:
        """The rows a page shows (review shows every step's common rows inline)."""
        if page == "review":
            self.review.fill_inline([(p.step.title, w.VBox([r.box for r in p.build()]))
                                     for p in self._step_pages.values()])
            return [r for p in self._step_pages.values() for r in p.rows]
        step = self._step_pages.get(page)
        return [*step.build(), *step.more_rows] if step else []

    def _refresh_rows(self, rows: Any) -> None:
        """Bring ``rows`` up to the current state; rows not on screen are refreshed when they are shown."""
        stale = [r for r in rows if self._row_version.get(r.setting.path) != self._version]
        if stale and self._derived is not None:
            was, self._rendering = self._rendering, True
            try:
                self._render_rows(self.state, self._derived, self._spec(), stale)
            finally:
                self._rendering = was

    def _render_rows(self, state: WizardState, derived: Derived, spec: Any, rows: list[SettingControl]) -> None:
        job, rec = state.job, derived.recommendation
        hidden = set(spec.hidden_sections)
        allowed = {p.replace("datasets.", "datasets[].") for p in spec.additional_sections}
        issues: dict[str, list[Any]] = {}
        for issue in derived.report.issues:
            issues.setdefault(issue.field, []).append(issue)
        for row in rows:
            s, path = row.setting, row.setting.path
            self._row_version[path] = self._version
            visible = state.trainer in s.trainers and path not in hidden and (path not in _GATED or path in allowed)
            row.box.layout.display = None if visible else "none"
            if path == "model.arch":
                row.show(state.arch)
            else:
                row.show(job.get(path))
            notes, show_apply = [], False
            reason = rec.reasons.get(path) if rec is not None else None
            if reason is not None and path in state.user_set and job.get(path) != reason.value:
                notes.append(f"<span class='nbw-note'>Recommended: {html.escape(render_value(reason.value))} — "
                             f"{html.escape(reason.why)}</span>")
                show_apply = True
            for issue in issues.get(path, ()):
                mark, word, cls = render.SEVERITY_WORDS[issue.severity]
                notes.append(f"<span class='{cls}'>{mark} {word}: {html.escape(issue.message)}</span>")
            row.set_note("<br>".join(notes), show_apply)

    def _render_review(self, state: WizardState, derived: Derived) -> None:
        rv = self.review
        rows = []
        for issue in derived.report.issues:
            mark, word, cls = render.SEVERITY_WORDS[issue.severity]
            text = w.HTML(f"<span class='{cls}'>{mark} {word}</span> <code>{html.escape(issue.field)}</code>: "
                          f"{html.escape(issue.message)}", layout=w.Layout(flex="1 1 auto"))
            if issue.fix is not None:
                b = w.Button(description="Fix", tooltip=issue.fix.label, layout=w.Layout(width="auto"))
                b.on_click(functools.partial(lambda i, _: self._fix(i), issue))
                rows.append(w.HBox([text, b]))
            else:
                rows.append(w.HBox([text]))
        rv.report.children = rows or [w.HTML("<p class='nbw-ok'>✓ No problems found.</p>")]
        rv.prediction.value = render.vram_bar(derived.prediction) + render.prediction_lines(derived.prediction)
        comparison = [r for r in compare(state.job, derived.recommendation) if r.yours != r.recommended]
        rv.comparison.value = render.table(
            ["Setting", "Yours", "Recommended", "Why", "Matters"],
            [(r.path, render_value(r.yours), render_value(r.recommended), r.why, "yes" if r.matters else "no")
             for r in comparison]) if comparison else "<p>Every value is the recommended one.</p>"
        text = dump_job(state.job)
        rv.yaml.value = render.yaml_preview(text)
        blocked = not derived.report.ok
        rv.save.disabled = blocked
        name = html.escape(Path(rv.save_path.value or "job.yaml").name)
        data = base64.b64encode(text.encode()).decode()
        copy_js = "navigator.clipboard.writeText(document.getElementById('nbw-yaml').innerText)"
        rv.download.value = ("<p class='nbw-bad'>✗ Saving and downloading are blocked until the errors are fixed.</p>"
                             if blocked else
                             f"<a download='{name}' href='data:text/yaml;base64,{data}'>⬇ Download {name}</a> "
                             f"&nbsp; <button onclick=\"{copy_js}\">Copy YAML</button>")


def setting_title(page: str) -> str:
    return {s.id: s.title for s in STEPS}.get(page, page.capitalize())


def render_value(value: Any) -> str:
    from ..engine.yamlio import _scalar

    return _scalar(value)


def _refusal(exc: Exception) -> str:
    """Why a typed value was refused, in words (pydantic's own text without its location and links)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        wanted = sorted({e["msg"].removeprefix("Input should be ").rstrip(".") for e in exc.errors()})
        return f"not a valid value: it should be {' or '.join(wanted)}"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


__all__ = ["Wizard", "settings", "setting"]
