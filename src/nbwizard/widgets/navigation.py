"""Moving around the wizard: the top bar's buttons, the error and warning counts, Undo / Redo, and Exit.

The top bar (header, buttons, notices) never scrolls away; each page scrolls on its own and opens at its top. The
counts in the header are buttons that take the person to the first such item: its page, with its row in view.
"""

from __future__ import annotations

import html
import os
from typing import Any

import ipywidgets as w

from ..engine.advisor import step_of
from ..engine.changes import state_changes
from ..engine.paths import user_path
from ..engine.settings import STEPS
from . import render
from .controls import row_key
from .guard import _guarded

_TITLES = {"preflight": "Pre-flight", **{s.id: s.title for s in STEPS}, "review": "Review"}


def in_voila() -> bool:
    """Whether this kernel serves a Voilà page (Voilà gives its kernels these variables) rather than a notebook."""
    return any(k in os.environ for k in ("VOILA_APP_PORT", "VOILA_KERNEL_ID", "VOILA_BASE_URL"))


class Navigation:
    """Mixin of :class:`~nbwizard.widgets.app.Wizard`: the top bar, counts, Undo / Redo and Exit."""

    def _build_top(self) -> w.VBox:
        self.errors_button = w.Button(button_style="danger", tooltip="Go to the first error")
        self.warnings_button = w.Button(button_style="warning", tooltip="Go to the first warning")
        self.errors_button.on_click(lambda _: self._go_to_issue("error"))
        self.warnings_button.on_click(lambda _: self._go_to_issue("warning"))
        self.exit_yes = w.Button(description="Close the wizard", button_style="danger")
        self.exit_no = w.Button(description="Keep working")
        self.exit_yes.on_click(lambda _: self._exit())
        self.exit_no.on_click(lambda _: self._keep_working())
        self.exit_question = w.HTML()
        self.exit_confirm = w.HBox([self.exit_question, self.exit_yes, self.exit_no],
                                   layout=w.Layout(display="none", align_items="center", flex_flow="row wrap"))
        self.closed = w.HTML()
        self.reopen = w.Button(description="Reopen the wizard", button_style="primary")
        self.reopen.on_click(lambda _: self._reopen())
        self.closed_box = w.VBox([self.closed, self.reopen], layout=w.Layout(display="none"))
        counts = w.HBox([self.errors_button, self.warnings_button], layout=w.Layout(flex="0 0 auto"))
        top = w.VBox([w.HBox([self.header, counts], layout=w.Layout(align_items="center", flex_flow="row wrap")),
                      self.nav, self.exit_confirm, self.status])
        top.add_class("nbw-top")
        return top

    # -- counts -----------------------------------------------------------------------------------------------
    def _counted(self, derived: Any) -> list[Any]:
        return [i for i in derived.report.issues if i.severity in ("error", "warning")]

    def _render_counts(self, derived: Any, page: str) -> str:
        """Set the count buttons; return the counted issues this page does not show ("1 warning on Dataset")."""
        issues = self._counted(derived)
        why_not = getattr(derived.recommendation, "fits", True) is False
        errors = sum(i.severity == "error" for i in issues) + why_not
        warnings = sum(i.severity == "warning" for i in issues)
        for button, n, word in ((self.errors_button, errors, "error"), (self.warnings_button, warnings, "warning")):
            button.description = render.count(n, word)
            button.disabled = n == 0
            button.layout.display = None if n or word == "warning" else "none"
        self.warnings_button.button_style = "warning" if warnings else ""
        if page in ("review", "train", "runs"):
            return ""  # the review page lists every issue
        by_page: dict[str, list[int]] = {}
        for issue in issues:
            where = self._issue_page(issue)
            if where != page:
                counts = by_page.setdefault(where, [0, 0])
                counts[issue.severity == "warning"] += 1
        return "; ".join(
            ", ".join(render.count(n, word).split(" ", 1)[1] for n, word in zip(c, ("error", "warning")) if n)
            + f" on {_TITLES.get(p, p.capitalize())}" for p, c in by_page.items())

    def _issue_page(self, issue: Any) -> str:
        page = step_of(issue.field)
        return page if page in self.pages else "review"

    @_guarded
    def _go_to_issue(self, severity: str) -> None:
        """Show the first issue of ``severity``: its page, with its row in view (More settings opened for it)."""
        issue = next((i for i in self._derived.report.issues if i.severity == severity), None)
        if issue is None:
            self.go("review")
            return
        self._show_issue(issue)

    @_guarded
    def _show_issue(self, issue: Any) -> None:
        """Go to the page of ``issue``'s setting and bring its row into view."""
        page = self._issue_page(issue)
        self.go(page)
        row = self._rows.get(row_key(issue.field, issue.index or 0))
        step = self._step_pages.get(page)
        if row is not None and step is not None and row in step.more_rows and step.more is not None:
            step.more.selected_index = 0
            if step.other is not None and row not in step.more_rows[:len(step._regular)]:
                step.other.selected_index = 0
        if row is not None:
            row.input.focus()  # the browser scrolls a focused box into view

    # -- undo / redo ------------------------------------------------------------------------------------------
    @_guarded
    def _undo(self) -> None:
        self._travel(self._history.undo, "Undid")

    @_guarded
    def _redo(self) -> None:
        self._travel(self._history.redo, "Redid")

    def _travel(self, step: Any, verb: str) -> None:
        before = self.state
        step()
        self._render()
        self._say_changes(verb, before, self.state)

    def _say_changes(self, verb: str, before: Any, after: Any) -> None:
        changes = state_changes(before, after)
        if not changes:
            return
        self.status.value = render.notice("nbw-undo-note", "↶" if verb == "Undid" else "↷",
                                          f"{verb} {len(changes)} change{'s' * (len(changes) != 1)}",
                                          [c.text for c in changes])

    # -- exit -------------------------------------------------------------------------------------------------
    def _ask_exit(self) -> None:
        saved = getattr(self, "_saved_path", None)
        unsaved = "" if saved else " Nothing has been saved yet."
        self.exit_question.value = f"<b>Close the wizard?</b>{html.escape(unsaved)}&nbsp;"
        self.exit_confirm.layout.display = None

    def _keep_working(self) -> None:
        self.exit_confirm.layout.display = "none"

    def _exit(self) -> None:
        """Close the wizard, leaving what was done, where it was saved, and how to get back."""
        self.exit_confirm.layout.display = "none"
        for part in (self.progress, self.body, self.nav, self._top.children[0], self.top_slot):
            part.layout.display = "none"
        self.status.value = ""
        saved = getattr(self, "_saved_path", None)
        job = self.state.job
        parts = [f"<h3>The wizard is closed</h3><p>Your job <b>{html.escape(str(job.get('config.name') or 'job'))}"
                 f"</b> ({html.escape(self._spec().label)}, {html.escape(str(job.get('train.steps')))} steps)"]
        parts.append(f" was saved to <code id='nbw-closed-path'>{html.escape(str(saved))}</code>.</p>" if saved else
                     " has not been saved: reopen the wizard and save it on the Review page.</p>")
        if saved:
            parts.append(f"<p>Run it with <code>python run.py {html.escape(str(saved))}</code> in ai-toolkit.</p>")
        name = self._bound_name()
        if in_voila():
            parts.append("<p>Your settings stay in this page until you close its tab or reload it.</p>")
        elif name:
            parts.append(f"<p>In this notebook, <code>{name}.state.job</code> still holds the job "
                         f"(<code>{name}.state.job.to_dict()</code> as plain data).</p>")
        else:
            parts.append("<p>The wizard object still holds the job in this kernel (<code>.state.job</code>).</p>")
        self.closed.value = "".join(parts)
        self.closed_box.layout.display = None

    def _reopen(self) -> None:
        for part in (self.progress, self.body, self.nav, self._top.children[0], self.top_slot):
            part.layout.display = None
        self.closed_box.layout.display = "none"

    def _bound_name(self) -> str | None:
        """The notebook variable that holds this wizard, if any (so the text never names one that does not)."""
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with ipywidgets
            return None
        shell = get_ipython()
        names = [k for k, v in (getattr(shell, "user_ns", None) or {}).items() if v is self and not k.startswith("_")]
        return names[0] if names else None

    # -- where files go ---------------------------------------------------------------------------------------
    def _resolve(self, typed: str) -> str:
        """A path the person typed: ``~`` expanded, a relative one taken from the folder the wizard works in (not
        the kernel's, which Voilà puts beside the notebook). Raises ``PathError`` for an unknown ``~user``."""
        text = typed.strip()
        if not text:
            return typed  # saving says "no file name given"
        path = user_path(text)
        full = path if path.is_absolute() else self._output_dir / path
        return str(full) + (os.sep if text.endswith(("/", os.sep)) else "")
