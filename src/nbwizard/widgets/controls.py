"""One control per setting, generated from its description: a short, total dispatch table on the setting's type.

A :class:`SettingControl` shows a value, reads what the user typed (committing on Enter / blur, never clamping),
and carries the note under it: the recommendation with an Apply button, or why a typed value was refused.
A number the job leaves out is shown blank, with the value the trainer will use as its placeholder.
"""

from __future__ import annotations

import functools
import html
import math
from typing import Any, Callable

import ipywidgets as w
import traitlets
import yaml

from ..engine.settings import Setting, find_setting
from ..engine.yamlio import _Loader, _scalar

_DESCRIPTION_STYLE = {"description_width": "200px"}
_WIDE = w.Layout(width="min(560px, 100%)")
NOT_SET = "(trainer default)"


def _number_to_text(value: Any, _widget: Any = None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else _scalar(value)


def _text_to_number(text: Any, widget: "NumberText") -> Any:
    """What the person typed: None when blank, the number, or the text itself when it is not a number (the row
    then says why it was refused)."""
    return _read_number(str(text), widget.whole)


def _read_number(text: str, whole: bool) -> Any:
    raw = text.strip()
    if not raw:
        return None
    try:
        number = float(raw)
    except ValueError:
        return text
    if whole:
        return int(number) if number.is_integer() and "." not in raw and "e" not in raw.lower() else text
    return int(raw) if raw.lstrip("+-").isdigit() else number


class NumberText(w.Text):
    """A text box for a number that may be left blank: ``value`` is an int / float, None (blank: the trainer's
    default applies), or the text typed when it is not a number. The browser sees text, Python sees numbers."""

    value = traitlets.Union([traitlets.Int(), traitlets.Float(), traitlets.Unicode()], allow_none=True,
                            default_value=None).tag(sync=True, to_json=_number_to_text, from_json=_text_to_number)

    def __init__(self, whole: bool, **kwargs: Any):
        self.whole = whole
        super().__init__(continuous_update=False, **kwargs)


def _dropdown(s: Setting, **look: Any) -> w.Widget:
    options = [(str(c), c) for c in s.choices or ()]
    if s.nullable:
        options.insert(0, (NOT_SET, None))
    return w.Dropdown(options=options, value=options[0][1] if options else None, **look)


def _text(s: Setting, **look: Any) -> w.Widget:
    return w.Text(continuous_update=False, placeholder=_placeholder(s), **look)


def _placeholder(s: Setting) -> str:
    return "" if s.default in (None, "", [], {}) else f"default: {_scalar(s.default)}"


# setting type -> widget factory. Types not listed are edited as one line of YAML (lists, unions, dicts).
_FACTORIES: dict[str, Callable[..., w.Widget]] = {
    "bool": lambda s, **look: w.Checkbox(indent=True, **look),
    "int": lambda s, **look: NumberText(whole=True, placeholder=placeholder(s), **look),
    "int|null": lambda s, **look: NumberText(whole=True, placeholder=placeholder(s), **look),
    "float": lambda s, **look: NumberText(whole=False, placeholder=placeholder(s), **look),
    "float|null": lambda s, **look: NumberText(whole=False, placeholder=placeholder(s), **look),
    "str": _text,
    "str|null": _text,
}


def _model_picker(s: Setting, **look: Any) -> w.Widget:
    from ..engine.models import models

    return w.Dropdown(options=[(f"{m.label} ({m.group})", m.arch) for m in models()], **look)


# The one setting whose choices come from the catalog rather than the trainer's description.
_OVERRIDES: dict[str, Callable[..., w.Widget]] = {"model.arch": _model_picker}


def make_input(s: Setting, **look: Any) -> w.Widget:
    """The input widget for ``s``: a dropdown where the trainer has a fixed set of values, else by type.

    ``look``: ``layout`` / ``style`` instances to use (shared between rows: each one made is a model the browser
    builds, and a page of 90 rows would otherwise make ~1,500)."""
    if s.path in _OVERRIDES:
        return _OVERRIDES[s.path](s, **look)
    if s.choices and s.type in ("str", "str|null") and s.path not in _OPEN_CHOICES:
        return _dropdown(s, **look)
    factory = _FACTORIES.get(s.type, _text)
    return factory(s, **look)


def _kind(s: Setting) -> type:
    """The widget class ``make_input`` makes for ``s`` (to pick the shared style that fits it)."""
    if s.path in _OVERRIDES or (s.choices and s.type in ("str", "str|null") and s.path not in _OPEN_CHOICES):
        return w.Dropdown
    return {"bool": w.Checkbox}.get(s.type, w.Text)


@functools.cache
def _shared_style(cls: type, width: str) -> w.Widget:
    """One style object per widget class and label width, shared by every row (never changed after)."""
    return cls.class_traits()["style"].klass(description_width=width)


@functools.cache
def _shared_layout(**values: str) -> w.Layout:
    """One layout object per look, shared by every row that has it (rows never change a shared one)."""
    return w.Layout(**values)


# Settings whose listed choices are examples, not the whole set (the trainer takes any such value).
_OPEN_CHOICES = {"process.device", "model.qtype", "model.qtype_te"}


def row_key(path: str, index: int) -> str:
    """The name of the row editing item ``index`` of ``path``: ``sample.samples[2].prompt`` (item 0 keeps ``[]``)."""
    return path if index == 0 else path.replace("[]", f"[{index}]", 1)


def placeholder(s: Setting, value_of: Callable[[str], Any] | None = None, short: bool = False) -> str:
    """What a blank number box means: the value it falls back to (as the job has it now, when ``value_of`` reads
    the job), the trainer's default, or "not set". ``short``: the value alone (a compact box; its tooltip says
    where the value comes from)."""
    if s.falls_back_to:
        current = value_of(s.falls_back_to) if value_of is not None else None
        if short and current is not None:
            return _scalar(current)
        return f"same as {_lower_label(s.falls_back_to)}" + ("" if current is None else f": {_scalar(current)}")
    if s.default is None:
        return "not set"
    return _scalar(s.default) if short else f"default: {_scalar(s.default)}"


def _lower_label(path: str) -> str:
    other = find_setting(path)
    label = other.label if other else path
    if label.split()[0][1:].islower():  # "Width" reads "width"; "LoRA strength" stays as it is
        label = label[0].lower() + label[1:]
    return label


class SettingControl:
    """The row for one setting: label, input, help line, recommendation note, Apply button, error.

    ``index`` is the item of a list section the row edits (the third sample prompt: 2); ``compact`` rows (the
    fields of one prompt) keep their help in the tooltip and take only the width they need. A row is few widgets:
    its note and Apply button are made the first time they have something to show.
    """

    def __init__(self, setting: Setting, on_commit: Callable[[str, Any, int], None],
                 on_apply: Callable[[str], None], label: str | None = None, index: int = 0, compact: bool = False):
        self.setting = setting
        self.index = index
        self.compact = compact
        self.key = row_key(setting.path, index)
        kind = _kind(setting)
        if compact:
            wide = setting.type.startswith("str") and kind is not w.Checkbox
            layout = _shared_layout(width="100%", flex="1 1 auto") if wide else _shared_layout(width="auto",
                                                                                                 flex="0 0 auto")
            style = _shared_style(kind, "initial")
        else:
            layout = _shared_layout(width="auto") if kind is w.Checkbox else _WIDE
            style = _shared_style(kind, _DESCRIPTION_STYLE["description_width"])
        self.input = make_input(setting, layout=layout, style=style)
        if compact and setting.is_number:
            self.input.add_class("nbw-compact-number")
        self.input.description = label or setting.label
        self.input.tooltip = setting.help + (f" Blank: same as {_lower_label(setting.falls_back_to)}."
                                             if setting.falls_back_to else "")
        self.help = None if compact else w.HTML(f"<span class='nbw-help'>{html.escape(setting.summary)}</span>",
                                                layout=_shared_layout(margin="0 0 0 208px"),
                                                style=_shared_style(w.HTML, ""))
        self._note: w.HTML | None = None  # made the first time there is something to say (see ``note``)
        self.apply: w.Button | None = None  # made the first time a recommendation differs
        self._on_apply = on_apply
        self.box = w.VBox(self._parts(), layout=w.Layout(  # its own: showing / hiding the row changes it
            margin="0 12px 6px 0" if compact else "0 0 6px 0", flex="0 0 auto",
            width="100%" if compact and setting.type.startswith("str") else None))
        self._shown: Any = object()
        self._on_commit = on_commit
        self.input.observe(self._changed, names="value")
        self._quiet = False

    @property
    def note(self) -> w.HTML:
        """The line under the input: the recommendation, a problem, or why a typed value was refused."""
        if self._note is None:
            self._note = w.HTML("", layout=_shared_layout(margin="0" if self.compact else "0 0 0 208px"),
                                style=_shared_style(w.HTML, ""))
            self.box.children = self._parts()
        return self._note

    def _parts(self) -> list[w.Widget]:
        head = self.input if self.apply is None else w.HBox([self.input, self.apply],
                                                            layout=w.Layout(flex_flow="row wrap"))
        return [head, *(x for x in (self.help, self._note) if x is not None)]

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

    def set_placeholder(self, text: str) -> None:
        """What a blank box means (the trainer's default, or the value it falls back to)."""
        if isinstance(self.input, w.Text) and self.input.placeholder != text:
            self.input.placeholder = text

    def _to_widget(self, value: Any) -> Any:
        inp = self.input
        if isinstance(inp, NumberText):
            return value if value is None or isinstance(value, (int, float)) else str(value)
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
        if (text_html or self._note is not None) and self.note.value != text_html:
            self.note.value = text_html
        if show_apply and self.apply is None:
            self.apply = w.Button(description="Apply recommended", tooltip=f"Use the recommended {self.setting.label}",
                                  layout=w.Layout(width="auto", flex="0 0 auto"))
            self.apply.on_click(lambda _: self._on_apply(self.setting.path))
            self.box.children = self._parts()
        if self.apply is not None:
            display = None if show_apply else "none"
            if self.apply.layout.display != display:
                self.apply.layout.display = display

    # -- reading ----------------------------------------------------------------------------------------------
    def parse(self, raw: Any) -> Any:
        """The setting's value for what the widget holds; raises ValueError with a message for the user.

        A blank number is None: the job then leaves the setting out and the trainer's default applies."""
        if isinstance(self.input, NumberText):
            return _number(raw, whole=self.input.whole)
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
        self._on_commit(self.setting.path, value, self.index)

    def show_error(self, message: str) -> None:
        self.note.value = f"<span class='nbw-error' role='alert'>✗ {html.escape(message)}</span>"


def _number(raw: Any, whole: bool) -> Any:
    """A number from what a :class:`NumberText` holds (None stays None: blank)."""
    if isinstance(raw, str):  # text set from Python, as the browser would send it
        raw = _read_number(raw, whole)
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, float) and whole and raw.is_integer():
        return int(raw)
    if isinstance(raw, (int, float)) and not (isinstance(raw, float) and (whole or not math.isfinite(raw))):
        return raw
    kind = "a whole number" if whole else "a number"
    raise ValueError(f"{str(raw).strip()!r} is not {kind}")
