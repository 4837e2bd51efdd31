"""The items of a list section on a step form (the sample prompts): every item editable, added and removed.

Each item shows the section's common fields (prompt, size, seed, LoRA strength...) as compact rows generated from
the setting descriptions, like any other row; its other fields (negative prompt, guidance...) are built the first
time the person opens that item's "More for this prompt". Rows are bound to an item index; after a removal the
rows of the remaining indexes simply show the values that moved up.
"""

from __future__ import annotations

from typing import Any, Callable

import ipywidgets as w

from ..engine.settings import Setting
from .controls import SettingControl

# list sections edited item by item on their step, and what one item is called
ITEM_SECTIONS = {"sample.samples[]": "prompt"}


class _Item:
    def __init__(self, index: int, noun: str, common: list[SettingControl], more: Callable[[], list[SettingControl]],
                 on_remove: Callable[[int], None]):
        self.index = index
        self.rows = list(common)
        self._more = more
        self.remove = w.Button(description=f"Remove {noun} {index + 1}", tooltip=f"Take this {noun} out of the job",
                               layout=w.Layout(width="auto"))
        self.remove.on_click(lambda _: on_remove(index))
        main, *small = common
        self.more = w.Accordion(children=[w.VBox()], selected_index=None)
        self.more.set_title(0, f"More for this {noun}")
        self.more.observe(self._open, names="selected_index")
        self.more_rows: list[SettingControl] = []
        self.on_more: Callable[[list[SettingControl]], None] | None = None
        self.box = w.VBox([w.HBox([w.HTML(f"<b>{noun.capitalize()} {index + 1}</b>"), self.remove],
                                  layout=w.Layout(justify_content="space-between", align_items="center")),
                           main.box, w.HBox([r.box for r in small], layout=w.Layout(flex_flow="row wrap")),
                           self.more], layout=w.Layout(border="1px solid #d0d7de", padding="4px 8px",
                                                       margin="0 0 8px 0"))
        self.box.add_class("nbw-item")

    def _open(self, change: dict[str, Any]) -> None:
        if change["new"] is not None and not self.more_rows:
            self.build_more()
            if self.on_more is not None:
                self.on_more(self.more_rows)

    def build_more(self) -> list[SettingControl]:
        """Build this item's other fields on first use."""
        if not self.more_rows:
            self.more_rows = self._more()
            self.more.children = [w.HBox([r.box for r in self.more_rows], layout=w.Layout(flex_flow="row wrap"))]
            self.rows += self.more_rows
        return self.more_rows


class ItemList:
    """All items of one list section: a box per item (its rows and a Remove button) and an Add button."""

    def __init__(self, section: str, common: list[Setting], more: list[Setting],
                 make_row: Callable[[Setting, int], SettingControl], on_add: Callable[[], None],
                 on_remove: Callable[[int], None], on_more: Callable[[list[SettingControl]], None] | None = None):
        self.section = section
        self.noun = ITEM_SECTIONS[section]
        self.common, self.more = common, more
        self._make_row, self._on_remove, self._on_more = make_row, on_remove, on_more
        self.items: list[_Item] = []
        self.title = w.HTML()
        self.list = w.VBox()
        self.add = w.Button(description=f"Add a {self.noun}", tooltip=f"One more {self.noun} in the job",
                            layout=w.Layout(width="auto"))
        self.add.on_click(lambda _: on_add())
        self.box = w.VBox([self.title, self.list, self.add])

    @property
    def rows(self) -> list[SettingControl]:
        return [r for item in self.items for r in item.rows]

    def build_more(self) -> None:
        """Build every item's other fields (``Wizard.controls`` names them all)."""
        for item in self.items:
            item.build_more()

    def sync(self, count: int) -> list[SettingControl]:
        """Show ``count`` items (building or dropping boxes at the end); returns the rows that were dropped."""
        dropped: list[SettingControl] = []
        if count == len(self.items):
            return dropped
        while len(self.items) < count:
            i = len(self.items)
            item = _Item(i, self.noun, [self._make_row(s, i) for s in self.common],
                         lambda i=i: [self._make_row(s, i) for s in self.more], self._on_remove)
            item.on_more = self._on_more
            self.items.append(item)
        while len(self.items) > count:
            dropped += self.items.pop().rows
        self.list.children = [item.box for item in self.items]
        self.title.value = f"<h4>{self.noun.capitalize()}s ({count})</h4>" + (
            f"<p class='nbw-help'>No {self.noun}s: add one to see previews while training.</p>" if not count else "")
        return dropped
