"""Rendering the wizard's state into its widgets: values, notes, visibility, header, advisor, review.

Rendering writes into widgets built once and never marks a value as the user's.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..engine.advisor import PAGES, advise, compare
from ..engine.arch import identify
from ..engine.items import item_count
from ..engine.job import MISSING, lookup
from ..engine.models import models
from ..engine.paths import safe_file_name
from ..engine.runs.correction import corrected, gpu_name
from ..engine.settings import STEPS, applies, find_setting
from ..engine.state import Derived, WizardState
from ..engine.yamlio import UnwritableValue, _scalar, dump_job
from . import render
from .controls import SettingControl, placeholder
from .guard import log
from .preflight import hardware_html
from .train import LAUNCH_PAGES, show_launch_page

# settings a model must list in its additional sections to be shown (video frames, audio, control images...)
GATED = {path.replace("datasets.", "datasets[].") for m in models() for path in m.additional_sections}


class Renderer:
    """Mixin of :class:`~nbwizard.widgets.app.Wizard`: shows the current state and what is derived from it."""

    def _spec(self) -> Any:
        """The catalog entry of the model, or None for one the catalog does not list."""
        return self.state.spec

    def _render_all(self, derived: Derived) -> None:
        state = self.state
        self._derived = derived
        spec = self._spec()
        pages = self.pages
        page = self._page = self.page
        self.stack.selected_index = list(self._page_boxes).index(page)
        self._render_progress(pages, page)
        self.back.disabled = page == pages[0]
        self.next.layout.display = "none" if page == pages[-1] else None
        following = pages[min(len(pages) - 1, pages.index(page) + 1)]
        self.next.description = {"review": "Review", "train": "Train", "runs": "Runs"}.get(following, "Next")
        self.undo.disabled = not self._history.can_undo
        self.redo.disabled = not self._history.can_redo
        self._render_preflight(state, page)
        self._version += 1
        self._refresh_rows(self._page_rows(page))
        job = state.job
        label = spec.label if spec is not None else f"{identify(job).label} (not in the catalog)"
        self.header.value = render.header(label, job.get("datasets[].resolution"), job.get("train.steps"),
                                          derived.prediction)
        elsewhere = self._render_counts(derived, page)
        # this machine's run history corrects plans for this machine only, never a what-if card's
        prediction = derived.prediction if state.profile.what_if else \
            corrected(derived.prediction, job, gpu_name(state.profile))
        advice = advise(job, state.profile, state.intent, page if page in PAGES else "review",
                        recommendation=derived.recommendation, report=derived.report, prediction=prediction)
        title = "Pre-flight" if page == "preflight" else "Review" if page in ("review", *LAUNCH_PAGES) \
            else setting_title(page)
        self.advisor.value = render.advisor(advice, title, elsewhere)
        if not self._save_path_edited:  # the file name follows the job's name until the user picks one; only a
            # name the user types can leave the output folder (a job name such as ../x or a/b cannot)
            name = job.get("config.name")
            self.review.save_path.value = str(self._output_dir / f"{safe_file_name(str(name or ''), 'job')}.yaml")
        if page == "review":
            self._render_review(state, derived)
        elif page in LAUNCH_PAGES:
            show_launch_page(self, page, state, derived)
        self.status.value = ""

    def _render_progress(self, pages: list[str], current: str) -> None:
        buttons = list(self.progress.children)
        if [b.tooltip for b in buttons] != pages:
            buttons = []
            for n, page in enumerate(pages):
                b = w.Button(description=f"{n}. {setting_title(page)}" if n else "Pre-flight", tooltip=page,
                             layout=w.Layout(width="auto"))
                b.on_click(functools.partial(lambda p, _: self.go(p), page))
                buttons.append(b)
            self.progress.children = buttons
        at = pages.index(current)
        for n, b in enumerate(buttons):
            page = b.tooltip
            b.disabled = not self._all_pages_open and page not in self._visited and n != at + 1
            b.button_style = "info" if page == current else ""
            b.description = ("▶ " if page == current else "✓ " if page in self._visited else "") + (
                f"{n}. {setting_title(page)}" if n else "Pre-flight")

    def _render_preflight(self, state: WizardState, page: str) -> None:
        if page == "preflight":
            self._refresh_templates()  # another page or kernel may have saved one
        self.preflight.hardware.value = hardware_html(state.profile)
        pf = self.preflight
        pf.training_type.value, pf.priority.value, pf.experience.value = (
            state.intent.training_type, state.intent.priority, state.intent.experience)
        pf.trainer.value = state.trainer
        # the hardware overrides show what the profile holds (after undo, a template, a reset...)
        profile = state.profile
        pf.target.value = profile.target if profile.target in {v for _, v in pf.target.options} else ""
        pf.reserve.value = profile.reserve_gib or None
        pf.ram.value = profile.ram_total_gib.value if profile.ram_total_gib.source == "user" else None
        gpu = profile.gpu
        pf.vram.value = gpu.memory_total_gib.value if gpu is not None and gpu.memory_total_gib.source == "user" \
            else None
        # what a blank box means: the machine's (or the target card's) own figure
        base = self._detected.with_target(profile.target) if profile.target else self._detected
        ram, card = base.ram_total_gib.value, base.gpu.memory_total_gib.value if base.gpu is not None else None
        pf.ram.placeholder = f"{ram:.1f} (as detected)" if ram else "as detected"
        pf.vram.placeholder = f"{card:.1f} (the card's)" if card else "as detected"

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
            self.review.fill_inline([(p.step.title, p.form()) for p in self._step_pages.values()])
            return [r for p in self._step_pages.values() for r in (*p.rows, *self._item_rows(p))]
        step = self._step_pages.get(page)
        return [*step.build(), *self._item_rows(step), *step.more_rows] if step else []

    def _item_rows(self, step: Any) -> list[SettingControl]:
        """The rows of a page's item lists, after showing as many items as the job holds (sample prompts)."""
        rows = []
        for items in step.lists:
            for gone in items.sync(item_count(self.state.job, items.section)):
                self._rows.pop(gone.key, None)
                self._row_version.pop(gone.key, None)
            rows += items.rows
        return rows

    def _refresh_rows(self, rows: Any) -> None:
        """Bring ``rows`` up to the current state; rows not on screen are refreshed when they are shown."""
        stale = [r for r in rows if self._row_version.get(r.key) != self._version]
        if stale and self._derived is not None:
            was, self._rendering = self._rendering, True
            try:
                self._render_rows(self.state, self._derived, self._spec(), stale)
            finally:
                self._rendering = was

    def _render_rows(self, state: WizardState, derived: Derived, spec: Any, rows: list[SettingControl]) -> None:
        job, rec = state.job, derived.recommendation
        data = job.to_dict()
        issues: dict[tuple[str, int], list[Any]] = {}
        for issue in derived.report.issues:
            if not getattr(issue, "process", 0):  # a later process entry's issue is not about these controls
                issues.setdefault((issue.field, issue.index or 0), []).append(issue)
        for row in rows:
            s, path, index = row.setting, row.setting.path, row.index
            self._row_version[row.key] = self._version
            mine = issues.get((path, index), ())
            # a setting the trainer ignores for this model or these values is not shown, unless it has a problem
            visible = state.trainer in s.trainers and (applies(s, job.get, spec) or any(
                i.severity == "error" for i in mine))
            row.box.layout.display = None if visible else "none"
            if path == "model.arch":
                row.show(state.arch)
            elif s.is_number and lookup(data, path, index) is MISSING:
                row.show(None)  # left to the trainer: blank, with what the trainer will use as the placeholder
                row.set_placeholder(placeholder(s, job.get, short=row.compact))
            else:
                row.show(job.get(path, index))
            notes, show_apply = [], False
            reason = rec.reasons.get(path) if rec is not None and index == 0 else None
            if reason is not None and path in state.user_set and job.get(path) != reason.value:
                notes.append(f"<span class='nbw-note'>Recommended: {html.escape(render_value(reason.value))} — "
                             f"{html.escape(reason.why)}</span>")
                show_apply = True
            for issue in mine:
                mark, word, cls = render.SEVERITY_WORDS[issue.severity]
                notes.append(f"<span class='{cls}'>{mark} {word}: {html.escape(issue.message)}</span>")
            row.set_note("<br>".join(notes), show_apply)

    def _render_review(self, state: WizardState, derived: Derived) -> None:
        rv = self.review
        rows = []
        for issue in derived.report.issues:
            mark, word, cls = render.SEVERITY_WORDS[issue.severity]
            where = issue.location if issue.process else issue.field
            known = find_setting(issue.field)
            name = f"<b>{html.escape(known.label)}</b> " if known is not None else ""
            text = w.HTML(f"<span class='{cls}'>{mark} {word}</span> {name}<code class='nbw-help'>"
                          f"{html.escape(where)}</code>: {html.escape(issue.message)}", layout=w.Layout(flex="1 1 auto"))
            buttons = []
            if issue.fix is not None:
                b = w.Button(description="Fix", tooltip=issue.fix.label, layout=w.Layout(width="auto", flex="0 0 auto"))
                b.on_click(functools.partial(lambda i, _: self._fix(i), issue))
                buttons.append(b)
            if known is not None and not issue.process and self._issue_page(issue) != "review":
                b = w.Button(description="Show", tooltip=f"Go to {known.label}",
                             layout=w.Layout(width="auto", flex="0 0 auto"))
                b.on_click(functools.partial(lambda i, _: self._show_issue(i), issue))
                buttons.append(b)
            rows.append(w.HBox([text, *buttons], layout=w.Layout(align_items="center")))
        rv.report.children = rows or [w.HTML("<p class='nbw-ok'>✓ No problems found.</p>")]
        rv.prediction.value = render.vram_bar(derived.prediction) + render.prediction_lines(derived.prediction)
        comparison = [r for r in compare(state.job, derived.recommendation) if r.yours != r.recommended] \
            if derived.recommendation is not None else None
        rv.comparison.value = "<p>No recommendation: the model is not in the wizard's catalog.</p>" \
            if comparison is None else render.table(
                ["Setting", "Yours", "Recommended", "Why", "Matters"],
                [(r.label, render_value(r.yours), render_value(r.recommended), r.why, "yes" if r.matters else "no")
                 for r in comparison]) if comparison else "<p>Every value is the recommended one.</p>"
        text, problem = self._job_yaml(state.job)
        rv.yaml.value = render.yaml_preview(text) if problem is None else \
            f"<p class='nbw-bad' role='alert'>✗ This job cannot be written to a file: {html.escape(problem)}</p>"
        blocked = not derived.report.ok or problem is not None
        rv.save.disabled = blocked
        name = html.escape(Path(rv.save_path.value or "job.yaml").name)
        rv.download.value = ("<p class='nbw-bad'>✗ Saving and downloading are blocked until the errors are fixed.</p>"
                             if blocked else render.download_links(name, text))

    def _job_yaml(self, job: Any) -> tuple[str, str | None]:
        """The job's YAML (and why it cannot be written, if so), dumped once per job: the review page renders on
        every change, the YAML only changes with the job (jobs are immutable, so identity is enough)."""
        cached = getattr(self, "_yaml_cache", None)
        if cached is None or cached[0] is not job:
            try:
                cached = (job, dump_job(job), None)
            except UnwritableValue as exc:
                cached = (job, "", str(exc))
            self._yaml_cache = cached
        return cached[1], cached[2]


def setting_title(page: str) -> str:
    return {s.id: s.title for s in STEPS}.get(page, page.capitalize())


def render_value(value: Any) -> str:
    return _scalar(value)
