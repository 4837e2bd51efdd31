"""The suggestions panel: what the wizard would add or change in a job it holds as written, each with Accept.

Shown after an import, a template, or any later change (a target GPU, a dataset analysis, another model) while the
job is held; nothing in the job changes until the user accepts a suggestion or applies them all.
"""

from __future__ import annotations

import functools
import html
from typing import Any, Callable

import ipywidgets as w

from ..engine.arch import identify
from ..engine.job import MISSING
from ..engine.suggest import Suggestion, accept_suggestions, adopt_recommended, suggested_changes
from .guard import _guarded
from .view import render_value

ROW_LIMIT = 60  # rows drawn at once; "Apply all" still takes every one


class SuggestionsPanel:
    """A title with "Apply all", then one row per suggestion: setting, value now → suggested value, why, Accept."""

    def __init__(self, on_accept: Callable[[list[str] | None], None]):
        self._on_accept = on_accept
        self._shown: tuple[Suggestion, ...] | None = None
        self._row_widgets: dict[str, w.HBox] = {}
        self.title = w.HTML(layout=w.Layout(flex="1 1 auto"))
        self.apply_all = w.Button(description="Apply all", button_style="info", layout=w.Layout(width="auto"),
                                  tooltip="Accept every suggestion listed (one step: Undo takes it back)")
        self.apply_all.on_click(lambda _: self._on_accept(None))
        self.toggle = w.Button(description="Hide", layout=w.Layout(width="auto"),
                               tooltip="Fold the list away (the suggestions stay until you accept them)")
        self.toggle.on_click(lambda _: self._fold())
        self.rows = w.VBox(layout=w.Layout(max_height="340px", overflow="auto"))
        self.box = w.VBox([w.HBox([self.title, self.apply_all, self.toggle], layout=w.Layout(align_items="center")),
                           self.rows], layout=w.Layout(display="none", border="1px solid #d0d7de", padding="4px 8px",
                                                       margin="6px 0"))
        self.box.add_class("nbw-suggestions")

    @property
    def suggestions(self) -> tuple[Suggestion, ...]:
        return self._shown or ()

    def show(self, suggestions: tuple[Suggestion, ...], job: Any, note: str = "") -> None:
        """List ``suggestions`` for ``job`` (rows are rebuilt only when the list changes); hidden when empty."""
        if not suggestions and not note:
            self.box.layout.display = "none"
            self._shown = ()
            return
        self.box.layout.display = None
        n = len(suggestions)
        head = (f"<b>{n} suggestion{'s' * (n != 1)}</b> — the job stays exactly as loaded until you accept one"
                if n else "<b>No suggestions</b>")
        self.title.value = f"<div role='status'>{head}{note}</div>"
        self.apply_all.layout.display = None if n > 1 else "none"
        self.toggle.layout.display = None if n else "none"
        if suggestions != self._shown:
            paths_before = [s.path for s in self._shown or ()]
            self._shown = suggestions
            rows = [self._row(s, job) for s in suggestions[:ROW_LIMIT]]  # a row per path, reused while it stays
            if [s.path for s in suggestions] != paths_before:
                self.rows.layout.display = None
                self.toggle.description = "Hide"
                self.rows.children = rows + (
                    [w.HTML(f"<p class='nbw-help'>… and {n - ROW_LIMIT} more (Apply all takes them too)</p>")]
                    if n > ROW_LIMIT else [])

    def _row(self, s: Suggestion, job: Any) -> w.Widget:
        now = _now(s, job)
        then = "remove it (the trainer's default applies)" if s.suggested is MISSING else \
            f"<b>{html.escape(render_value(s.suggested))}</b>"
        value = (f"<span title='{html.escape(s.path)}'><b>{html.escape(s.label)}</b></span>: {now} → {then}"
                 f"<br><span class='nbw-help'>{html.escape(s.why)}"
                 + (f"<br><b>{html.escape(s.effect)}</b>" if s.effect else "") + "</span>")
        row = self._row_widgets.get(s.path)
        if row is not None:
            if row.children[0].value != value:
                row.children[0].value = value
            return row
        text = w.HTML(value, layout=w.Layout(flex="1 1 0%", min_width="0"))
        accept = w.Button(description="Accept", tooltip=f"Write the suggested {s.label} into the job",
                          layout=w.Layout(width="90px", flex="0 0 auto"))
        accept.on_click(functools.partial(lambda path, _: self._on_accept([path]), s.path))
        # rows keep their height inside the scrolling list (a flex column would squeeze them on top of each other)
        row = self._row_widgets[s.path] = w.HBox([text, accept], layout=w.Layout(
            align_items="center", margin="2px 0", flex="0 0 auto", border_bottom="1px solid #eaeef2"))
        return row

    def _fold(self) -> None:
        folded = self.rows.layout.display == "none"
        self.rows.layout.display = None if folded else "none"
        self.toggle.description = "Hide" if folded else "Show"


def _now(s: Suggestion, job: Any) -> str:
    if s.current is not MISSING:
        return html.escape(render_value(s.current))
    try:
        default = job.get(s.path)
    except (KeyError, TypeError, IndexError):
        default = None
    used = f" (ai-toolkit uses {html.escape(render_value(default))})" if default not in (None, "", [], {}) else ""
    return f"<span class='nbw-muted'>not set{used}</span>"


class SuggestionActions:
    """Mixin of :class:`~nbwizard.widgets.app.Wizard`: shows the panel where the user is, and accepts from it."""

    _suggested: tuple[Suggestion, ...] = ()
    _suggested_for: Any = None  # the state they were computed for (page moves re-render the same state)

    def _render_suggestions(self) -> None:
        state = self.state
        note = ""
        if not state.auto and state.spec is None:
            note = (f" — {html.escape(identify(state.job).label)} is not in the wizard's catalog, so it has nothing "
                    "to recommend for it")
        if self._suggested_for is not state:
            self._suggested, self._suggested_for = (() if state.auto else suggested_changes(state)), state
        self.suggestions.show(self._suggested, state.job, note)
        here, there = (self.preflight.suggestions_slot, self.top_slot) if self.page == "preflight" else \
            (self.top_slot, self.preflight.suggestions_slot)
        if there.children:
            there.children = ()
        if not here.children:
            here.children = (self.suggestions.box,)

    @_guarded
    def _accept(self, paths: list[str] | None) -> None:
        """Accept the suggestions for ``paths`` (all when None): an ordinary, undoable edit."""
        before = {s.path: s for s in self.suggestions.suggestions}
        state = accept_suggestions(self.state, paths)
        taken = [before[p] for p in (paths if paths is not None else before) if p in before]
        self._push(state)
        if taken:
            items = ", ".join(f"{html.escape(s.label)} → {html.escape(_then(s))}" for s in taken[:6])
            more = f" and {len(taken) - 6} more" if len(taken) > 6 else ""
            self.status.value = (f"<div class='nbw-note' role='status'>✓ Accepted: {items}{more} "
                                 "(Undo takes it back)</div>")

    @_guarded
    def _apply_recommended(self, path: str) -> None:
        """The row's "Apply recommended": the value follows the recommendation again, or (in a held job, where
        nothing follows it) the recommended value is written as the user's."""
        self._push(self.state.release(path) if self.state.auto else adopt_recommended(self.state, path))


def _then(s: Suggestion) -> str:
    return "removed" if s.suggested is MISSING else render_value(s.suggested)
