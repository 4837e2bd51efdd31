"""Forms people read, moving around, and where files go: the wizard as a LoRA trainer drives it (issue 10)."""

from __future__ import annotations

import re
from pathlib import Path

import ipywidgets as w
import pytest

import nbwizard
from nbwizard import SystemProfile, Wizard, dump_job, load_job
from nbwizard.engine import templates

JOB = "tests/fixtures/jobs/unknown_keys.yaml"


@pytest.fixture()
def wizard(tmp_path):
    return Wizard(SystemProfile.for_gpu("RTX 4090", ram_gb=64), config_dir=tmp_path / "templates",
                  output_dir=tmp_path)


def _shown(wizard, key) -> bool:
    wizard.controls  # brings every row up to date
    return wizard._rows[key].box.layout.display != "none"


def _widgets(root):
    yield root
    for child in getattr(root, "children", ()):
        yield from _widgets(child)


# -- 5. labels and help in people's words ---------------------------------------------------------------------------
def test_rows_are_labelled_in_peoples_words_with_help_free_of_code_talk(wizard):
    controls = wizard.controls
    assert controls["network.linear"].description == "LoRA rank"
    assert controls["train.lr"].description == "Learning rate"
    assert controls["datasets[].network_weight"].description == "LoRA weight"
    help_line = wizard._rows["datasets[].network_weight"].help.value
    assert "float()" not in help_line and "raises" not in help_line
    assert "aitk-archs" not in wizard._rows["model.model_kwargs"].input.tooltip


def test_yaml_comments_are_the_plain_help_and_never_end_mid_word(wizard):
    text = dump_job(wizard.state.job)
    assert "float()" not in text and "aitk-archs" not in text
    words = {w.strip(".,;:()'\"") for s in nbwizard.settings() for w in s.help.split()}
    for comment in re.findall(r"# (.*)$", text, re.M):
        if comment.endswith("..."):
            assert comment[:-3].split()[-1].strip(".,;:()'\"") in words, comment


# -- 6. only the settings that apply ----------------------------------------------------------------------------
def test_only_the_settings_of_the_model_and_adapter_type_are_shown(wizard):
    assert wizard.state.arch == "flux"
    assert not _shown(wizard, "network.conv_alpha"), "FLUX has no convolution layers"
    assert not _shown(wizard, "network.lokr_factor"), "a LoRA has no LoKr factor"
    assert not _shown(wizard, "datasets[].num_frames") and not _shown(wizard, "sample.fps"), "an image model"
    wizard.controls["network.type"].value = "lokr"
    assert _shown(wizard, "network.lokr_factor") and _shown(wizard, "network.linear")
    wizard.controls["model.arch"].value = "wan21:1b"
    assert _shown(wizard, "datasets[].num_frames") and _shown(wizard, "sample.fps")
    wizard.controls["model.arch"].value = "sdxl"
    assert _shown(wizard, "network.conv_alpha") and not _shown(wizard, "train.timestep_type")


def test_a_settings_follow_up_appears_when_it_is_switched_on(wizard):
    dop = wizard.controls["train.diff_output_preservation"]
    dop.value = not dop.value
    assert _shown(wizard, "train.diff_output_preservation_class") == dop.value
    dop.value = not dop.value
    assert _shown(wizard, "train.diff_output_preservation_class") == dop.value
    ema = wizard.controls["train.ema_config.use_ema"]
    ema.value = not ema.value
    assert _shown(wizard, "train.ema_config.ema_decay") == ema.value
    ema.value = not ema.value
    assert _shown(wizard, "train.ema_config.ema_decay") == ema.value


def test_the_advisor_lists_only_the_settings_the_page_shows(wizard):
    wizard.go("target")
    text = wizard.advisor.value.lower()
    assert "lokr factor" not in text and "lora rank" in text
    wizard.controls["network.type"].value = "lokr"
    assert "lokr factor" in wizard.advisor.value.lower()


# -- 7. blank numbers, every prompt ----------------------------------------------------------------------------
def test_an_unset_number_is_blank_with_what_the_trainer_will_use_as_placeholder(wizard):
    strength = wizard.controls["sample.samples[].network_multiplier"]
    assert strength.value is None, "a LoRA strength of 0 would read as 'no LoRA'"
    assert strength.placeholder == "1"  # the sampling section's strength, which the trainer falls back to
    steps = wizard.controls["train.steps"]
    steps.value = None  # the person clears the box
    assert not wizard.state.job.is_set("train.steps") and not re.search(r"^\s+steps:", dump_job(wizard.state.job), re.M)
    wizard.go("training")
    assert steps.value is None and steps.placeholder == "default: 1000"
    steps.value = "lots"
    assert "not a whole number" in wizard._rows["train.steps"].note.value and not wizard.state.job.is_set("train.steps")


def test_hardware_corrections_are_blank_until_given_with_the_detected_figure_as_placeholder(wizard):
    reserve, vram = wizard.controls["preflight.reserve_gib"], wizard.controls["preflight.vram_gib"]
    assert reserve.value is None and reserve.placeholder == "none"
    assert vram.value is None and vram.placeholder == "24.0 (the card's)"
    vram.value = 16
    budget = wizard.state.profile.vram_budget_gib  # 16 GiB less the driver's share
    assert 15 < budget < 16 and f"of {budget:.1f} GiB" in wizard.header.value and vram.value == 16
    vram.value = None  # cleared: the detected figure again
    budget = wizard.state.profile.vram_budget_gib
    assert 23 < budget < 24 and f"of {budget:.1f} GiB" in wizard.header.value and vram.value is None


def test_every_sample_prompt_is_editable_and_prompts_can_be_added_and_removed(wizard):
    wizard.go("sampling")
    prompts = wizard._step_pages["sampling"].lists[0]
    count = len(prompts.items)
    assert count >= 2
    wizard.controls["sample.samples[1].prompt"].value = "[trigger] on a mountain at dawn"
    assert wizard.state.job.get("sample.samples[].prompt", index=1) == "[trigger] on a mountain at dawn"
    wizard.controls["sample.samples[1].seed"].value = 7
    assert wizard.state.job.get("sample.samples[].seed", index=1) == 7
    prompts.add.click()
    assert len(prompts.items) == count + 1
    wizard.controls[f"sample.samples[{count}].prompt"].value = "a new one"
    first = wizard.state.job.get("sample.samples[].prompt", index=0)
    prompts.items[0].remove.click()
    texts = [wizard.state.job.get("sample.samples[].prompt", index=i) for i in range(count)]
    assert first not in texts and texts[0] == "[trigger] on a mountain at dawn" and texts[-1] == "a new one"
    assert wizard.controls["sample.samples[].prompt"].value == "[trigger] on a mountain at dawn"
    wizard.controls["intent.priority"].value = "speed"  # a recomputation keeps the person's prompts
    assert [wizard.state.job.get("sample.samples[].prompt", index=i) for i in range(count)] == texts


def test_each_prompts_other_fields_open_on_request(wizard):
    wizard.go("sampling")
    item = wizard._step_pages["sampling"].lists[0].items[1]
    item.more.selected_index = 0
    neg = wizard._rows["sample.samples[1].neg"]
    neg.input.value = "blurry"
    assert wizard.state.job.get("sample.samples[].neg", index=1) == "blurry"


# -- 8. nothing cut off -----------------------------------------------------------------------------------------
def test_buttons_and_check_boxes_take_the_width_their_words_need(wizard):
    wizard.controls  # builds every row
    boxes = [x for x in _widgets(wizard) if isinstance(x, w.Checkbox) and x.description]
    assert boxes and all(b.layout.width in (None, "auto") for b in boxes)
    setting_boxes = [r.input for r in wizard._rows.values() if isinstance(r.input, w.Checkbox)]
    assert all(b.layout.width == "auto" for b in setting_boxes)  # ipywidgets' own 300px cut "Cache la…"
    buttons = [x for x in _widgets(wizard) if isinstance(x, w.Button)]
    assert all(b.layout.width in (None, "auto") for b in buttons)
    from nbwizard.widgets.render import STYLE

    assert ".jupyter-button { width: auto" in STYLE.replace(".jupyter-widgets.jupyter-button", ".jupyter-button")


# -- 9. pages open at their top, buttons in view ----------------------------------------------------------------
def test_buttons_and_notices_sit_in_a_top_bar_and_each_page_scrolls_on_its_own(wizard):
    assert wizard.nav in wizard._top.children and wizard.status in wizard._top.children
    assert list(wizard.children).index(wizard._top) < list(wizard.children).index(wizard.body)
    assert "nbw-app" in wizard._dom_classes
    assert all("nbw-page" in box._dom_classes for box in wizard._page_boxes.values())
    from nbwizard.widgets.render import STYLE

    assert re.search(r"\.nbw-page \{[^}]*overflow-y: auto", STYLE)


def test_the_also_changed_notice_names_settings_by_label_in_the_top_bar(wizard):
    wizard.controls["train.batch_size"].value = 8
    assert "also changed" in wizard.status.value and "<code>" not in wizard.status.value


# -- 10. counts that match and lead to the item -------------------------------------------------------------------
def test_the_error_count_leads_to_the_setting_and_other_pages_say_where_the_rest_are(wizard):
    wizard.controls["train.lr_scheduler"].value = "step"
    errors = [i for i in wizard._derived.report.issues if i.severity == "error"]
    assert wizard.errors_button.description == f"✗ {len(errors)} error{'s' * (len(errors) != 1)}"
    wizard.go("dataset")
    assert "Elsewhere:" in wizard.advisor.value and "Optimizer" in wizard.advisor.value
    wizard.errors_button.click()
    assert wizard.page == "optimizer"
    assert "✗ Error" in wizard._rows["train.lr_scheduler"].note.value


def test_the_review_names_each_problem_by_label_and_shows_its_setting(wizard):
    wizard.controls["train.lr_scheduler"].value = "step"
    wizard.go("review")
    row = next(r for r in wizard.review.report.children if "Learning rate schedule" in r.children[0].value)
    show = next(b for b in row.children[1:] if b.description == "Show")
    show.click()
    assert wizard.page == "optimizer"


def test_a_plan_that_cannot_fit_is_an_error_under_warnings_and_errors():
    tiny = Wizard(SystemProfile.for_gpu("RTX 4060", ram_gb=16), arch="qwen_image")
    if getattr(tiny._derived.recommendation, "fits", True):
        pytest.skip("the recommendation made this job fit")
    why, warnings = tiny.advisor.value.split("<h4>Why these values</h4>")[1].split("<h4>Warnings and errors</h4>")
    assert "nbw-bad" not in why
    assert "✗ Error:" in warnings.split("<h4>")[0]
    assert tiny.errors_button.description.startswith("✗") and tiny.errors_button.layout.display is None


# -- 11. review in one click after an import -----------------------------------------------------------------------
def test_after_an_import_every_step_and_review_is_one_click_away(wizard):
    review = next(b for b in wizard.progress.children if b.tooltip == "review")
    assert review.disabled  # a fresh wizard walks the steps
    wizard.controls["import.path"].value = JOB
    wizard.preflight.import_button.click()
    assert not any(b.disabled for b in wizard.progress.children)
    review.click()
    assert wizard.page == "review"


def test_after_loading_a_template_review_is_one_click_away(wizard):
    wizard.controls["template.name"].value = "plan"
    wizard.preflight.template_save.click()
    fresh = Wizard(SystemProfile.for_gpu("RTX 4090", ram_gb=64), config_dir=wizard._config_dir)
    fresh.controls["template.pick"].value = "plan"
    fresh.preflight.template_load.click()
    review = next(b for b in fresh.progress.children if b.tooltip == "review")
    assert not review.disabled
    review.click()
    assert fresh.page == "review"


# -- 12. exit, undo, redo ---------------------------------------------------------------------------------------
def test_exit_asks_then_leaves_a_summary_with_the_saved_path_and_a_way_back(wizard, tmp_path):
    wizard.go("review")
    wizard.controls["review.save_path"].value = "my job.yaml"
    wizard.review.save.click()
    wizard.exit.click()
    assert wizard.exit_confirm.layout.display is None and wizard.body.layout.display != "none"  # it asks first
    wizard.exit_no.click()
    assert wizard.exit_confirm.layout.display == "none" and wizard.body.layout.display != "none"
    wizard.exit.click()
    wizard.exit_yes.click()
    assert wizard.body.layout.display == "none" and wizard.nav.layout.display == "none"
    assert str(tmp_path / "my job.yaml") in wizard.closed.value and "python run.py" in wizard.closed.value
    assert "Run the cell again" not in wizard.closed.value
    wizard.reopen.click()
    assert wizard.body.layout.display is None and wizard.closed_box.layout.display == "none"


def test_exit_names_the_notebook_variable_only_when_one_holds_the_wizard(wizard, monkeypatch):
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()
    monkeypatch.delenv("VOILA_APP_PORT", raising=False)
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    monkeypatch.delenv("VOILA_BASE_URL", raising=False)
    wizard._exit()
    assert "state.job" in wizard.closed.value and "my_wizard" not in wizard.closed.value
    shell.user_ns["my_wizard"] = wizard
    try:
        wizard._exit()
        assert "<code>my_wizard.state.job</code>" in wizard.closed.value
    finally:
        del shell.user_ns["my_wizard"]
    monkeypatch.setenv("VOILA_APP_PORT", "8866")
    wizard._exit()
    assert "this page" in wizard.closed.value and "state.job" not in wizard.closed.value


def test_the_shipped_notebook_binds_the_wizard_to_a_name():
    import json

    cells = json.loads(Path("wizard.ipynb").read_text())["cells"]
    code = "".join(c["source"] if isinstance(c["source"], str) else "".join(c["source"])
                   for c in cells if c["cell_type"] == "code")
    assert re.search(r"^wizard = Wizard\(", code, re.M)


def test_undo_and_redo_say_what_they_changed(wizard):
    before = wizard.state.job.get("train.lr")
    wizard.controls["train.lr"].value = 5e-4
    wizard.undo.click()
    assert "Undid" in wizard.status.value and "Learning rate: 5e-4 → " in wizard.status.value
    assert wizard.state.job.get("train.lr") == before
    wizard.redo.click()
    assert "Redid" in wizard.status.value and "→ 5e-4" in wizard.status.value


# -- 13. where a relative path goes ------------------------------------------------------------------------------
def test_a_relative_save_path_lands_in_the_wizards_folder_and_the_message_shows_the_full_path(wizard, tmp_path,
                                                                                              monkeypatch):
    elsewhere = tmp_path / "kernel-cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # Voilà runs the kernel beside the notebook, not where the wizard was started
    wizard.go("review")
    wizard.controls["review.save_path"].value = "jobs/first.yaml"
    (tmp_path / "jobs").mkdir()
    wizard.review.save.click()
    saved = tmp_path / "jobs" / "first.yaml"
    assert saved.exists() and not (elsewhere / "jobs").exists()
    assert load_job(saved) == wizard.state.job
    assert str(saved) in wizard.review.message.value


def test_the_wizard_never_writes_into_its_own_package_folder():
    from nbwizard.widgets.app import _output_folder

    package = Path(nbwizard.__file__).resolve().parent
    assert _output_folder(package) == Path.home()
    assert _output_folder(package / "engine") == Path.home()
    assert _output_folder(".") == Path.cwd()


# -- 14. templates that outlive the page -------------------------------------------------------------------------
def test_templates_live_in_the_users_config_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("NBWIZARD_HOME")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert templates.templates_dir() == tmp_path / "config" / "nbwizard" / "templates"


def test_a_template_saved_by_one_wizard_is_listed_by_another_and_replaced_only_on_purpose():
    profile = SystemProfile.for_gpu("RTX 4090", ram_gb=64)
    first, second = Wizard(profile), Wizard(profile)  # two pages (kernels) on one machine: the config folder
    first.controls["train.steps"].value = 1500
    first.controls["template.name"].value = "portrait"
    first.preflight.template_save.click()
    assert "portrait" in first.preflight.template_pick.options
    second.go("model")
    second.go("preflight")  # the list is read again when the page is shown
    assert "portrait" in second.preflight.template_pick.options
    first.controls["train.steps"].value = 2500
    first.preflight.template_save.click()
    assert "exists" in first.preflight.message.value
    assert templates.load_template("portrait")["job"]["config"]["process"][0]["train"]["steps"] == 1500
    first.controls["template.replace"].value = True
    first.preflight.template_save.click()
    assert templates.load_template("portrait")["job"]["config"]["process"][0]["train"]["steps"] == 2500
    assert first.controls["template.replace"].value is False  # asked for each time
    second.controls["template.pick"].value = "portrait"
    second.preflight.template_load.click()
    assert second.state.job.get("train.steps") == 2500


def test_picking_a_template_survives_a_refresh_of_the_list(wizard):
    for name in ("a", "b"):
        wizard.controls["template.name"].value = name
        wizard.preflight.template_save.click()
    wizard.controls["template.pick"].value = "a"
    wizard.controls["preflight.reserve_gib"].value = 2  # any change re-renders the pre-flight page
    assert wizard.controls["template.pick"].value == "a"


# -- 16. the target picker ---------------------------------------------------------------------------------------
def test_the_target_picker_shows_each_cards_memory(wizard):
    labels = [label for label, _ in wizard.preflight.target.options]
    assert "NVIDIA A40 · 48 GB" in labels and "NVIDIA RTX 4000 Ada Generation · 20 GB" in labels
    wizard.controls["preflight.target"].value = "NVIDIA A40"
    budget = wizard.state.profile.vram_budget_gib
    assert 47 < budget < 48 and f"of {budget:.1f} GiB" in wizard.header.value
