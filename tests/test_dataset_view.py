"""The dataset step as a person uses it: the folder, then Analyze, then the files that need attention by name."""

from __future__ import annotations

import html
import re

import pytest
from PIL import Image

from nbwizard import SystemProfile, Wizard


@pytest.fixture()
def wizard(tmp_path):
    return Wizard(SystemProfile.for_gpu("RTX 4090", ram_gb=64), config_dir=tmp_path / "templates",
                  output_dir=tmp_path)


def test_the_analyze_button_comes_right_after_the_folder_it_analyses(wizard):
    wizard.go("dataset")
    children = list(wizard._step_pages["dataset"].box.children)
    folder_row = children.index(wizard._rows["datasets[].folder_path"].box)
    assert children.index(wizard.dataset_tools.box) == folder_row + 1


def test_analyze_names_the_unreadable_and_uncaptioned_files_with_a_count(wizard, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(15):
        Image.new("RGB", (256, 256), (i * 10, 0, 0)).save(folder / f"img{i:02d}.png")
    for i in range(3):
        (folder / f"img{i:02d}.txt").write_text(f"sks dog {i}", encoding="utf-8")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (folder / "empty.png").write_bytes(b"")
    wizard.go("dataset")
    wizard.controls["datasets[].folder_path"].value = str(folder)
    wizard.dataset_tools.analyze.click()
    shown = html.unescape(wizard.dataset_tools.result.value)
    assert "Unreadable: not trained, or stops the training (2)" in shown
    assert "<code>broken.jpg</code> — not an image Pillow can read" in shown
    assert "<code>empty.png</code> — empty file (0 bytes)" in shown
    assert re.search(r"<h4>No caption file \(\.txt\): trained with an empty caption[^<]*\(12\)</h4>", shown)
    assert "<code>img03.png</code> — no img03.txt" in shown and "<code>img12.png</code>" in shown
    assert "<code>img13.png</code>" not in shown and "… and 2 more" in shown  # the first 10 by name, then a count
