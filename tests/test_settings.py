"""Every setting ai-toolkit reads is described once, completely."""

from __future__ import annotations

import pytest

import nbwizard
from nbwizard.engine.settings import STEP_IDS, setting, step_settings, suggest_key


def _reference_paths(reference: dict) -> set[str]:
    paths = set()
    for section, body in reference.items():
        if section.startswith("$") or not isinstance(body, dict):
            continue
        for key, entry in body.items():
            if isinstance(entry, dict) and entry.get("kind") in ("leaf", "free_dict"):
                paths.add(key if section == "job" else f"{section}.{key}")
    return paths


def test_every_reference_key_is_described_and_nothing_else(schema_reference):
    described = {s.path for s in nbwizard.settings()}
    reference = _reference_paths(schema_reference)
    assert reference - described == set(), "keys the trainer reads but we do not describe"
    assert described - reference == set(), "described keys the trainer does not read"


def test_all_376_upstream_core_keys_and_the_advanced_sections_are_there(schema_reference):
    # The reference counts leaves (not the free-form dicts) of every section but the advanced ones, which are
    # counted apart; the fork's monitoring section is not upstream.
    advanced = ("network.lorm.", "guidance.", "embedding.", "decorator.", "adapter.")
    core_upstream = [
        s for s in nbwizard.settings() if s.kind == "leaf" and s.upstream and not s.path.startswith(advanced)
    ]
    assert len(core_upstream) == schema_reference["$meta"]["counts"]["core_upstream_leaf"] == 376
    advanced_leaves = [s for s in nbwizard.settings() if s.path.startswith(advanced)]
    assert len(advanced_leaves) == schema_reference["$meta"]["counts"]["advanced_leaf"] == 64
    assert any(s.path.startswith("slider.") for s in nbwizard.settings())


def test_each_setting_has_the_public_attributes():
    for s in nbwizard.settings():
        assert s.path and s.type and s.help.strip(), s.path
        assert s.step in STEP_IDS, s.path
        assert isinstance(s.common, bool)
        assert set(s.trainers) <= {"upstream", "extended"} and s.trainers, s.path
        assert s.choices is None or isinstance(s.choices, tuple)


def test_fork_only_keys_belong_to_the_extended_flavour_only():
    assert setting("train.auto_scale_batch_size").trainers == ("extended",)
    assert setting("datasets[].gpu_prefetch_batches").trainers == ("extended",)
    assert setting("train.lr").trainers == ("upstream", "extended")


def test_a_setting_reads_like_the_trainer():
    lr = setting("train.lr")
    assert lr.type == "float" and lr.default == 1e-6 and lr.step == "optimizer" and lr.common
    assert setting("train.lr_scheduler").choices[:2] == ("constant", "linear")
    assert setting("datasets[].resolution").section == "datasets[]"
    assert setting("job").key == "job"


def test_unknown_setting_path_names_close_matches():
    with pytest.raises(KeyError, match="train.lr"):
        setting("train.lrr")


def test_every_step_has_common_settings_and_more_settings():
    for step in STEP_IDS:
        assert step_settings(step), step
    assert any(s.path == "train.lr" for s in step_settings("optimizer", common=True))
    assert all(not s.common for s in step_settings("optimizer", common=False))


def test_the_extended_flavour_shows_its_own_keys_only_when_chosen():
    upstream = {s.path for s in step_settings("memory")}
    extended = {s.path for s in step_settings("memory", trainer="extended")}
    assert "train.auto_scale_batch_size" in extended - upstream


def test_did_you_mean_uses_other_trainers_names_and_spelling():
    assert suggest_key("train", "learning_rate") == "lr"
    assert suggest_key("network", "network_dim") == "linear"
    assert suggest_key("train", "gradient_checkpoint") == "gradient_checkpointing"
    assert suggest_key("train", "zzzz") is None


def test_summaries_are_one_line():
    for s in nbwizard.settings():
        assert "\n" not in s.summary and len(s.summary) <= 110


def test_labels_are_in_peoples_words_not_the_keys():
    assert setting("network.linear").label == "LoRA rank"
    assert setting("train.lr").label == "Learning rate"
    assert setting("sample.samples[].network_multiplier").label == "LoRA strength"
    assert setting("model.te_dtype").label == "Text encoder precision"  # made from the key's words
    for s in nbwizard.settings():
        assert s.label and s.label[0].isupper() or s.label[0] == "x", s.path


def test_no_two_settings_of_a_page_share_a_label():
    from collections import Counter

    def group(s):  # a list item's fields (a prompt's width) sit apart from the section's own (the preview width)
        return s.step, s.section.endswith("[]") and s.section != "datasets[]"

    counts = Counter((group(s), s.label) for s in nbwizard.settings())
    assert [k for k, n in counts.items() if n > 1] == []


CODE_TALK = ("float()", "int()", "cast with", "aitk-archs", "aitk-schema", ".md", "ModelConfig", "parse time",
             "raises", "get_torch_dtype")


def test_help_has_no_implementation_notes():
    for s in nbwizard.settings():
        assert not [w for w in CODE_TALK if w in s.help], (s.path, s.help)
    assert setting("datasets[].network_weight").help == "The adapter's strength while training on this dataset."
    assert "aitk" not in setting("model.model_kwargs").help


def test_summaries_end_on_a_whole_word():
    words = {w.strip(".,;:()'") for s in nbwizard.settings() for w in s.help.split()}
    for s in nbwizard.settings():
        if s.summary.endswith("..."):
            last = s.summary[:-3].split()[-1].strip(".,;:()'")
            assert last in words, (s.path, s.summary)


def test_a_setting_says_when_it_applies_from_the_trainer_ui_facts():
    from nbwizard.engine.models import model_info
    from nbwizard.engine.settings import applies

    flux, sdxl, wan = model_info("flux"), model_info("sdxl"), model_info("wan21:1b")
    lora = {"network.type": "lora"}.get
    lokr = {"network.type": "lokr"}.get
    assert not applies(setting("network.conv_alpha"), lora, flux) and applies(setting("network.conv_alpha"), lora, sdxl)
    assert not applies(setting("network.lokr_factor"), lora, flux) and applies(setting("network.lokr_factor"), lokr, flux)
    assert applies(setting("network.linear"), lokr, flux), "LoKr reads the rank too"
    assert not applies(setting("datasets[].num_frames"), lora, flux) and applies(setting("datasets[].num_frames"), lora, wan)
    assert not applies(setting("sample.fps"), lora, sdxl) and applies(setting("sample.fps"), lora, wan)
    assert applies(setting("train.lr"), lora, None)


def test_a_per_prompt_value_names_the_setting_it_falls_back_to():
    assert setting("sample.samples[].width").falls_back_to == "sample.width"
    assert setting("sample.samples[].network_multiplier").falls_back_to == "sample.network_multiplier"


def test_the_committed_descriptions_are_what_the_tool_makes_from_the_reference(schema_reference):
    """Labels, help and conditions are generated (tools/import_schema.py): nobody edits the JSON by hand."""
    import importlib.util
    import json
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        spec = importlib.util.spec_from_file_location("import_schema", ROOT / "tools" / "import_schema.py")
        tool = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tool)
    finally:
        sys.path.remove(str(ROOT / "tools"))
    committed = json.loads((ROOT / "src/nbwizard/engine/data/settings.json").read_text())
    assert tool.build(schema_reference) == committed
