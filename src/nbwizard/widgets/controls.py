"""One control per setting, generated from its description: a short, total dispatch table on the setting's type.

A :class:`SettingControl` shows a value, reads what the user typed (committing on Enter / blur, never clamping),
and carries the note under it: the recommendation with an Apply button, or why a typed value was refused.
"""

from __future__ import annotations

import html
from typing import Any, Callable

import ipywidgets as w
import yaml

from ..engine.settings import Setting
from ..engine.yamlio import _Loader, _scalar

_DESCRIPTION_STYLE = {"description_width": "200px"}
_WIDE = w.Layout(width="min(560px, 100%)")
NOT_SET = "(trainer default)"


def _dropdown(s: Setting) -> w.Widget:
    options = [(str(c), c) for c in s.choices or ()]
    if s.nullable:
        options.insert(0, (NOT_SET, None))
    return w.Dropdown(options=options, value=options[0][1] if options else None)


def _text(s: Setting) -> w.Widget:
    return w.Text(continuous_update=False, placeholder=_placeholder(s))


def _placeholder(s: Setting) -> str:
    return "" if s.default in (None, "", [], {}) else f"default: {_scalar(s.default)}"


# setting type -> widget factory. Types not listed are edited as one line of YAML (lists, unions, dicts).
_FACTORIES: dict[str, Callable[[Setting], w.Widget]] = {
    "bool": lambda s: w.Checkbox(indent=True),  # the box lines up with the other inputs
    "int": lambda s: w.IntText(continuous_update=False),
    "float": lambda s: w.FloatText(continuous_update=False),
    "str": _text,
    "str|null": _text,
}


def _model_picker(s: Setting) -> w.Widget:
    from ..engine.models import models

    return w.Dropdown(options=[(f"{m.label} ({m.group})", m.arch) for m in models()])


# The one setting whose choices come from the catalog rather than the trainer's description.
_OVERRIDES: dict[str, Callable[[Setting], w.Widget]] = {"model.arch": _model_picker}


def make_input(s: Setting) -> w.Widget:
    """The input widget for ``s``: a dropdown where the trainer has a fixed set of values, else by type."""
    if s.path in _OVERRIDES:
        return _OVERRIDES[s.path](s)
    if s.choices and s.type in ("str", "str|null") and s.path not in _OPEN_CHOICES:
        return _dropdown(s)
    factory = _FACTORIES.get(s.type, _text)
    return factory(s)


# Settings whose listed choices are examples, not the whole set (the trainer takes any such value).
_OPEN_CHOICES = {"process.device", "model.qtype", "model.qtype_te"}


class SettingControl:
    """The row for one setting: label, input, help line, recommendation note, Apply button, error."""

    def __init__(self, setting: Setting, on_commit: Callable[[str, Any], None],
                 on_apply: Callable[[str], None], label: str | None = None):
        self.setting = setting
        self.input = make_input(setting)
        self.input.description = label or setting.label
        self.input.tooltip = setting.help
        self.input.style = _DESCRIPTION_STYLE
        if not isinstance(self.input, w.Checkbox):
            self.input.layout = _WIDE
        self.help = w.HTML(f"<span class='nbw-help'>{html.escape(setting.summary)}</span>",
                           layout=w.Layout(margin="0 0 0 208px"))
        self.note = w.HTML("", layout=w.Layout(margin="0 0 0 208px"))
        self.apply = w.Button(description="Apply recommended", tooltip=f"Use the recommended {setting.path}",
                              layout=w.Layout(display="none", width="auto"))
        self.apply.on_click(lambda _: on_apply(setting.path))
        self.box = w.VBox([w.HBox([self.input, self.apply]), self.help, self.note],
                          layout=w.Layout(margin="0 0 6px 0"))
        self._shown: Any = object()
        self._on_commit = on_commit
        self.input.observe(self._changed, names="value")
        self._quiet = False

    # -- showing ----------------------------------------------------------------------------------------------
    def show(self, value: Any) -> None:
        """Display ``value`` without treating it as a user edit."""
        if value == self._shown and type(value) is type(self._shown):
            return
        self._shown = value
        self._quiet = True
        try:
            self.input.value = self._to_widget(value)
        finally:
            self._quiet = False

    def forget(self) -> None:
        """Forget what was last shown, so the next ``show`` writes the widget even for an equal value."""
        self._shown = object()

    def _to_widget(self, value: Any) -> Any:
        inp = self.input
        if isinstance(inp, w.Checkbox):
            return bool(value)
        if isinstance(inp, w.Dropdown):
            values = [v for _, v in inp.options]
            if value not in values:
                inp.options = [*inp.options, (str(value), value)]
            return value
        if isinstance(inp, (w.IntText, w.FloatText)):
            return 0 if value is None else value
        if value is None:
            return ""
        if self.setting.type in ("str", "str|null"):
            return str(value)
        return _scalar(value)

    def set_note(self, text_html: str, show_apply: bool) -> None:
        if self.note.value != text_html:
            self.note.value = text_html
        display = None if show_apply else "none"
        if self.apply.layout.display != display:
            self.apply.layout.display = display

    # -- reading ----------------------------------------------------------------------------------------------
    def parse(self, raw: Any) -> Any:
        """The setting's value for what the widget holds; raises ValueError with a message for the user."""
        if isinstance(self.input, (w.Checkbox, w.Dropdown, w.IntText, w.FloatText)):
            return raw
        text = str(raw).strip()
        if self.setting.type == "str":
            return str(raw)
        if self.setting.type == "str|null":
            return text or None
        if not text:
            kinds = self.setting.type.split("|")
            if "null" in kinds or not kinds[0].startswith(("dict", "list")):
                return None
            return {} if kinds[0] == "dict" else []  # a cleared list / dict stays one: the trainer calls .get()
        try:
            return yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "not valid YAML"
            raise ValueError(f"could not read {text!r}: {problem}") from None

    def _changed(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        try:
            value = self.parse(change["new"])
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self._shown = value
        self._on_commit(self.setting.path, value)

    def show_error(self, message: str) -> None:
        self.note.value = f"<span class='nbw-error' role='alert'>✗ {html.escape(message)}</span>"
