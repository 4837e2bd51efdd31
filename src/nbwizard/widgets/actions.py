"""The wizard's actions on files and data: analyse a dataset, templates, import, save, apply a fix."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ..engine import templates
from ..engine.dataset import DatasetError, analyze_dataset
from ..engine.intent import Intent
from ..engine.arch import identify
from ..engine.state import imported_state, state_summary, template_state
from ..engine.validate import apply_fix, is_training_job
from ..engine.yamlio import MAX_JOB_BYTES, JobError, load_job, save_job
from . import render
from .guard import _guarded


_LISTED = 20  # stray keys named after an import; a file with thousands was not typed by hand


class FileActions:
    """Mixin of :class:`~nbwizard.widgets.app.Wizard`: what its buttons do with folders and files."""

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
            if self.state.dataset is not None:
                self._push(self.state.replace(dataset=None))  # the old analysis no longer describes the folder
            return
        finally:
            tools.progress.layout.display = "none"
        tools.result.value = render.dataset_report(info)
        self._push(self.state.replace(dataset=info))

    def _refresh_templates(self, pick: str | None = None) -> None:
        """List the templates as they are on disk now (another page or kernel may have saved or deleted one),
        keeping the one picked (or picking ``pick``)."""
        names = templates.list_templates(self._config_dir)
        picker = self.preflight.template_pick
        keep = pick if pick in names else picker.value if picker.value in names else (names[0] if names else None)
        if list(picker.options) != names:
            picker.options = names
        if picker.value != keep:
            picker.value = keep

    @_guarded
    def _save_template(self) -> None:
        pf = self.preflight
        name = pf.template_name.value.strip()
        try:
            where = templates.save_template(name, state_summary(self.state), self._config_dir,
                                            overwrite=pf.template_replace.value)
        except FileExistsError:
            pf.message.value = (f"<p class='nbw-warn' role='alert'>⚠ A template named “{html.escape(name)}” exists. "
                                "Tick “Replace a template of that name” to replace it, or choose another name.</p>")
            return
        except (templates.TemplateError, OSError) as exc:
            pf.message.value = f"<p class='nbw-bad' role='alert'>✗ {html.escape(str(exc))}</p>"
            return
        pf.template_replace.value = False  # replacing is asked for each time
        self._refresh_templates(pick=name)
        pf.message.value = (f"<p class='nbw-ok'>✓ Saved template “{html.escape(name)}” in "
                            f"<code>{html.escape(str(where.parent))}</code>.</p>")

    @_guarded
    def _load_template(self) -> None:
        self._refresh_templates()
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
        # the job exactly as saved; what the wizard would now choose differently is offered as suggestions
        state = template_state(self.state, job, intent=intent, trainer=str(data.get("trainer") or "upstream"),
                               profile=profile, user_set=data.get("user_set") or ())
        folder, note = job.get("datasets[].folder_path"), ""
        if data.get("dataset_analyzed") and isinstance(folder, str) and Path(folder).expanduser().is_dir():
            # the plan was made with the dataset's analysis: redo it so the same plan comes back
            try:
                state = state.replace(dataset=analyze_dataset(folder, caption_ext=str(
                    job.get("datasets[].caption_ext") or "txt").lstrip("."), trigger_word=job.get("process.trigger_word")))
            except DatasetError as exc:
                note = f" The dataset could not be analysed again ({html.escape(str(exc))}): the plan is made without it."
        self._push(state)
        self.preflight.message.value = f"<p class='nbw-ok'>✓ Loaded template “{html.escape(name)}”.{note}</p>"

    @_guarded
    def _delete_template(self) -> None:
        name = self.preflight.template_pick.value
        if name:
            templates.delete_template(name, self._config_dir)
            self._refresh_templates()
            self.preflight.message.value = f"<p>Deleted template “{html.escape(name)}”.</p>"

    @_guarded
    def _import(self, source: Any, as_text: bool = False) -> None:
        """Import a job: ``source`` is the path typed in the import box (always a file name, even one holding
        ':'), or with ``as_text`` the text of an uploaded file."""
        try:
            job = load_job(source, as_text=as_text)
        except JobError as exc:
            self.preflight.message.value = ("<p class='nbw-bad' role='alert'>✗ Could not import: "
                                            f"{html.escape(str(exc))}</p>")
            return
        if not is_training_job(job):
            self.preflight.message.value = (
                f"<p class='nbw-warn' role='alert'>⚠ This is a '{html.escape(str(job.get('job')))}' job, not a "
                "training job: the wizard plans training jobs, so it was not imported.</p>")
            return
        self._push(imported_state(self.state, job))
        unknown = job.unknown_keys()
        kept = "".join(f"<li><code>{html.escape(u.where)}</code>" + (
            f" — did you mean <code>{html.escape(u.suggestion)}</code>?" if u.suggestion else "") + "</li>"
            for u in unknown[:_LISTED]) + (f"<li>… and {len(unknown) - _LISTED:,} more</li>" if len(unknown) > _LISTED
                                          else "")
        model = identify(job)
        self.preflight.message.value = (
            f"<p class='nbw-ok'>✓ Imported {len(job.set_paths())} settings, exactly as the file writes them: the "
            "wizard adds and changes nothing unless you accept one of its suggestions.</p>"
            + f"<p><b>Model:</b> {html.escape(model.describe())}</p>"
            + (f"<p class='nbw-warn'>⚠ {html.escape(model.mismatch)}</p>" if model.mismatch else "")
            + (f"<p>Kept as written, but ai-toolkit does not read them:</p><ul>{kept}</ul>" if unknown else ""))

    def _uploaded(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if files:
            content = files[0]["content"]
            if len(content) > MAX_JOB_BYTES:  # refused before it is decoded or parsed
                self.preflight.message.value = (
                    f"<p class='nbw-bad' role='alert'>✗ Could not import: the file is {len(content) / 2**20:.1f} MiB; "
                    f"a job file is at most {MAX_JOB_BYTES // 2**20} MiB (real jobs are a few KB).</p>")
                return
            self._import(bytes(content).decode("utf-8", errors="replace"), as_text=True)

    @_guarded
    def _save(self) -> None:
        report = self._derived.report if self._derived else None
        if report is not None and not report.ok:
            self.review.message.value = ("<p class='nbw-bad' role='alert'>✗ Fix the errors above first: "
                                         "a job with errors would fail in the trainer.</p>")
            return
        try:
            path = save_job(self.state.job, self._resolve(self.review.save_path.value),
                            overwrite=self.review.overwrite.value)
        except FileExistsError:
            self.review.message.value = ("<p class='nbw-warn' role='alert'>⚠ That file exists. Tick “Replace the "
                                         "file if it exists” to overwrite it, or choose another name.</p>")
            return
        except (OSError, ValueError) as exc:  # a folder, no name, ~nouser/, a value no file can hold
            self.review.message.value = f"<p class='nbw-bad' role='alert'>✗ Could not save: {html.escape(str(exc))}</p>"
            return
        self._saved_path = Path(path).resolve()
        self.review.message.value = (f"<p class='nbw-ok' id='nbw-saved'>✓ Saved "
                                     f"<code>{html.escape(str(self._saved_path))}</code></p>")

    @_guarded
    def _fix(self, issue: Any) -> None:
        job = apply_fix(self.state.job, issue.fix)
        # the fixed paths (set or removed) are the user's decision now: recommendations leave them alone
        self._push(self.state.replace(job=job, user_set=self.state.user_set | {p for p, *_ in issue.fix.patch}))
