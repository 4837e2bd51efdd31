"""The wizard driven the way a person drives it: set values, click buttons, read what is shown."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from PIL import Image

import nbwizard
from nbwizard import SystemProfile, Wizard, load_job

JOB = "tests/fixtures/jobs/unknown_keys.yaml"


@pytest.fixture()
def wizard(tmp_path):
    return Wizard(SystemProfile.for_gpu("RTX 4090", ram_gb=64), config_dir=tmp_path / "templates",
                  output_dir=tmp_path)


def _images(folder, n=6):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (1024, 768 + 64 * (i % 3)), (i * 30, 80, 120)).save(folder / f"img{i}.png")
        (folder / f"img{i}.txt").write_text(f"a photo of sks person, pose {i}")
    return folder


def test_controls_reach_every_upstream_setting_by_name(wizard):
    controls = wizard.controls
    upstream = [s.path for s in nbwizard.settings() if s.upstream]
    assert not [p for p in upstream if p not in controls]
    assert controls["train.lr"].value == pytest.approx(wizard.state.job.get("train.lr"))


def test_the_first_page_is_preflight_and_next_walks_every_step_to_review(wizard):
    assert wizard.page == "preflight"
    seen = []
    while wizard.page != "review":
        wizard.next.click()
        seen.append(wizard.page)
    assert seen[0] == "model" and seen[-1] == "review" and "dataset" in seen
    assert wizard.next.description == "Train"  # after Review: Train, then Runs (the last page)
    wizard.next.click()
    wizard.next.click()
    assert wizard.page == "runs" and wizard.next.layout.display == "none"
    wizard.go("review")
    wizard.back.click()
    assert wizard.page == seen[-2]


def _shown(wizard, path) -> bool:
    wizard.controls  # brings every row up to date
    return wizard._rows[path].box.layout.display != "none"


def test_a_video_model_adds_its_own_step_and_frames_fields(wizard):
    wizard.controls["model.arch"].value = "wan21:1b"
    assert "model_specific" in wizard.pages
    assert _shown(wizard, "datasets[].num_frames")
    wizard.controls["model.arch"].value = "sdxl"
    assert not _shown(wizard, "datasets[].num_frames")
    wizard.controls["model.arch"].value = "flux"
    assert not _shown(wizard, "network.conv"), "the trainer UI hides conv rank for DiT models"


def test_the_header_shows_the_model_steps_and_predicted_vram_in_words(wizard):
    text = wizard.header.value
    assert "FLUX.1" in text and "of 23.6 GiB" in text  # the 4090's 23.99 GiB less the driver's share
    assert any(word in text for word in ("fits", "tight", "does not fit"))


def test_a_user_edit_survives_recomputation_and_shows_the_recommendation(wizard):
    recommended = wizard.state.job.get("train.batch_size")
    wizard.controls["train.batch_size"].value = 16
    assert "train.batch_size" in wizard.state.user_set
    wizard.controls["intent.priority"].value = "memory"  # triggers a full recomputation
    assert wizard.state.job.get("train.batch_size") == 16
    row = wizard._rows["train.batch_size"]
    if wizard._derived.recommendation.reasons["train.batch_size"].value != 16:
        assert "Recommended:" in row.note.value and row.apply.layout.display is None
        row.apply.click()
        assert wizard.state.job.get("train.batch_size") != 16
        assert "train.batch_size" not in wizard.state.user_set
    assert recommended is not None


def test_a_value_of_the_wrong_type_is_refused_with_a_message(wizard):
    before = wizard.state.job.get("datasets[].resolution")
    wizard.controls["datasets[].resolution"].value = "[512, oops"
    assert wizard.state.job.get("datasets[].resolution") == before
    assert "could not read" in wizard._rows["datasets[].resolution"].note.value


def test_undo_and_redo_every_change(wizard):
    wizard.controls["train.steps"].value = 1234
    wizard.controls["network.linear"].value = 8
    wizard.undo.click()
    assert wizard.state.job.get("network.linear") != 8 and wizard.controls["network.linear"].value != 8
    wizard.undo.click()
    assert wizard.state.job.get("train.steps") != 1234
    wizard.redo.click()
    assert wizard.state.job.get("train.steps") == 1234 and wizard.controls["train.steps"].value == 1234


def test_a_target_gpu_changes_the_budget(wizard):
    wizard.controls["preflight.target"].value = "NVIDIA GeForce RTX 3060 12GB"
    assert "of 11.7 GiB" in wizard.header.value  # 12.0 GiB less the driver's 0.3
    assert "RTX 3060" in wizard.preflight.hardware.value


def test_importing_a_yaml_keeps_unknown_keys_and_lists_them(wizard):
    wizard.controls["import.path"].value = JOB
    wizard.preflight.import_button.click()
    message = wizard.preflight.message.value
    assert "learning_rate" in message and "did you mean" in message
    assert wizard.state.job.to_dict()["config"]["process"][0]["train"]["learning_rate"] == 1e-4
    assert "learning_rate" in nbwizard.dump_job(wizard.state.job)


def test_a_broken_yaml_import_changes_nothing(wizard):
    before = wizard.state
    wizard.controls["import.path"].value = "/no/such/job.yaml"
    wizard.preflight.import_button.click()
    assert "Could not import" in wizard.preflight.message.value and wizard.state == before


def test_fix_buttons_clear_their_validation_items(wizard):
    wizard.controls["import.path"].value = JOB
    wizard.preflight.import_button.click()
    wizard.go("review")
    before = [i.code for i in wizard._derived.report.issues]
    buttons = [b for row in wizard.review.report.children for b in row.children[1:] if b.description == "Fix"]
    assert buttons, "the imported job has fixable problems"
    buttons[0].click()
    after = [i.code for i in wizard._derived.report.issues]
    assert len(after) < len(before)


def test_templates_round_trip_through_the_buttons(wizard):
    wizard.controls["train.steps"].value = 4321
    wizard.controls["template.name"].value = "four three two one"
    wizard.preflight.template_save.click()
    assert "four three two one" in wizard.preflight.template_pick.options
    wizard.controls["train.steps"].value = 99
    wizard.controls["template.pick"].value = "four three two one"
    wizard.preflight.template_load.click()
    assert wizard.state.job.get("train.steps") == 4321
    wizard.preflight.template_delete.click()
    assert "four three two one" not in wizard.preflight.template_pick.options


def test_analyze_fills_the_dataset_results(wizard, tmp_path):
    folder = _images(tmp_path / "data")
    wizard.controls["datasets[].folder_path"].value = str(folder)
    wizard.dataset_tools.analyze.click()
    assert "<td>Images</td><td>6</td>" in wizard.dataset_tools.result.value and wizard.state.dataset is not None
    wizard.controls["datasets[].folder_path"].value = str(tmp_path / "missing")
    wizard.dataset_tools.analyze.click()
    assert "✗" in wizard.dataset_tools.result.value


def test_save_writes_the_reviewed_yaml_and_refuses_to_overwrite(wizard, tmp_path):
    folder = _images(tmp_path / "data")
    wizard.controls["datasets[].folder_path"].value = str(folder)
    wizard.go("review")
    target = tmp_path / "job.yaml"
    wizard.controls["review.save_path"].value = str(target)
    wizard.review.save.click()
    assert target.exists(), wizard.review.message.value
    assert load_job(target) == wizard.state.job
    target.write_text("mine")
    wizard.review.save.click()
    assert target.read_text() == "mine" and "exists" in wizard.review.message.value
    wizard.controls["review.overwrite"].value = True
    wizard.review.save.click()
    assert load_job(target) == wizard.state.job


def test_save_is_blocked_while_errors_remain(wizard, tmp_path):
    wizard.controls["train.lr_scheduler"].value = "step"
    wizard.go("review")
    assert not wizard._derived.report.ok
    assert wizard.review.save.disabled and "blocked" in wizard.review.download.value


def test_the_advisor_speaks_to_the_experience_level(wizard):
    wizard.go("optimizer")
    beginner = wizard.advisor.value
    wizard.controls["intent.experience"].value = "advanced"
    assert len(wizard.advisor.value) < len(beginner)
    assert "Why these values" in wizard.advisor.value and "Performance" in wizard.advisor.value


def test_a_failing_callback_shows_a_message_and_keeps_the_state(wizard, monkeypatch):
    before = wizard.state
    import nbwizard.widgets.app as app

    def boom(*_a, **_k):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(app, "derive", boom)
    wizard.controls["train.steps"].value = 777
    assert "engine exploded" in wizard.status.value
    monkeypatch.undo()
    assert wizard.state == before


def test_hardware_values_can_be_corrected_by_hand(wizard):
    wizard.controls["preflight.vram_gib"].value = 16
    assert "of 15.7 GiB" in wizard.header.value  # 16 GiB less the driver's 0.33
    assert "user" in wizard.preflight.hardware.value
    wizard.controls["preflight.reserve_gib"].value = 4
    assert "of 11.7 GiB" in wizard.header.value


def test_a_video_model_full_path_visits_its_model_specific_step(wizard, tmp_path):
    wizard.controls["model.arch"].value = "wan21:1b"
    seen = []
    while wizard.page != "review":
        wizard.next.click()
        seen.append(wizard.page)
    assert "model_specific" in seen and "quantization" in seen
    assert wizard.state.job.get("model.arch") == "wan21:1b"
    assert wizard.state.job.get("datasets[].num_frames") > 1 or wizard.state.job.get("sample.num_frames") > 1
    target = tmp_path / "video.yaml"
    folder = _images(tmp_path / "clips")
    wizard.controls["datasets[].folder_path"].value = str(folder)
    wizard.controls["review.save_path"].value = str(target)
    wizard.review.save.click()
    assert load_job(target) == wizard.state.job


def test_a_refused_value_says_what_was_expected(wizard):
    wizard.controls["datasets[].resolution"].value = "abc"
    note = wizard._rows["datasets[].resolution"].note.value
    assert "should be" in note and "pydantic.dev" not in note


def test_a_failing_change_puts_the_controls_back(wizard, monkeypatch):
    import nbwizard.widgets.app as app

    before = wizard.state.job.get("train.steps")
    monkeypatch.setattr(app, "derive", lambda *_a, **_k: 1 / 0)
    wizard.controls["train.steps"].value = 4242
    monkeypatch.undo()
    assert "Something went wrong" in wizard.status.value
    assert wizard.controls["train.steps"].value == before


def test_undo_puts_the_target_gpu_back_in_its_picker(wizard):
    wizard.controls["preflight.target"].value = "NVIDIA GeForce RTX 3060 12GB"
    wizard.undo.click()
    assert wizard.controls["preflight.target"].value == "" and "of 23.6 GiB" in wizard.header.value
    wizard.controls["preflight.ram_gib"].value = 128
    assert "of 23.6 GiB" in wizard.header.value, "a later edit does not bring the undone card back"


def test_switching_to_an_image_model_drops_video_and_offloading_settings(wizard):
    wizard.controls["model.arch"].value = "wan22_14b:t2v"
    wizard.controls["model.layer_offloading"].value = True
    wizard.controls["model.arch"].value = "flux"
    job = wizard.state.job
    assert not job.is_set("model.layer_offloading") or job.get("model.layer_offloading") is False
    assert not job.is_set("datasets[].num_frames") or job.get("datasets[].num_frames") in (None, 1)


def test_a_user_value_shows_what_the_wizard_would_choose(wizard):
    wizard.controls["train.lr"].value = 5e-3
    wizard.go("optimizer")
    row = wizard._rows["train.lr"]
    assert "Recommended: 1.0e-4" in row.note.value and row.apply.layout.display is None
    wizard.go("review")
    assert "Learning rate" in wizard.review.comparison.value


def test_importing_a_legacy_flag_job_keeps_its_model(wizard, tmp_path):
    source = tmp_path / "lumina.yaml"
    source.write_text("job: extension\nconfig:\n  name: l\n  process:\n    - type: sd_trainer\n"
                      "      training_folder: output\n      model:\n        name_or_path: Alpha-VLLM/Lumina-Image-2.0\n"
                      "        is_lumina2: true\n      train:\n        optimizer_params: {weight_decay: 0.0001, foo: 3}\n")
    wizard.controls["import.path"].value = str(source)
    wizard.preflight.import_button.click()
    job = wizard.state.job
    assert wizard.state.arch == "lumina2" and not job.is_set("model.arch")
    assert job.get("train.optimizer_params") == {"weight_decay": 0.0001, "foo": 3}


def test_a_bare_backend_arch_imports(wizard, tmp_path):
    source = tmp_path / "wan.yaml"
    source.write_text("job: extension\nconfig:\n  name: w\n  process:\n    - type: sd_trainer\n"
                      "      training_folder: output\n      model: {name_or_path: x/y, arch: wan21}\n")
    wizard.controls["import.path"].value = str(source)
    wizard.preflight.import_button.click()
    assert wizard.state.arch.startswith("wan21") and wizard.state.job.get("model.arch") == "wan21"


def test_importing_a_job_with_catalog_model_kwargs_and_sample_list_keeps_every_value(wizard, tmp_path):
    source = tmp_path / "wan.yaml"
    source.write_text(
        "job: extension\nconfig:\n  name: w\n  process:\n    - type: sd_trainer\n      training_folder: output\n"
        "      model:\n        name_or_path: ai-toolkit/Wan2.2-T2V-A14B-Diffusers-bf16\n        arch: wan22_14b:t2v\n"
        "        model_kwargs: {train_high_noise: true, train_low_noise: false}\n"
        "      sample:\n        samples:\n          - prompt: one\n            ctrl_img: /a.png\n          - prompt: two\n")
    wizard.controls["import.path"].value = str(source)
    wizard.preflight.import_button.click()
    job = wizard.state.job
    assert "went wrong" not in wizard.status.value, wizard.status.value
    assert job.get("model.model_kwargs") == {"train_high_noise": True, "train_low_noise": False}
    assert [job.get("sample.samples[].prompt", index=i) for i in (0, 1)] == ["one", "two"]


def test_a_non_training_job_is_not_imported(wizard, tmp_path):
    source = tmp_path / "extract.yaml"
    source.write_text("job: extract\nconfig:\n  name: e\n  base_model: a\n  process:\n    - type: locon\n")
    before = wizard.state
    wizard.controls["import.path"].value = str(source)
    wizard.preflight.import_button.click()
    assert "not a training job" in wizard.preflight.message.value and wizard.state == before


def test_a_new_priority_leaves_no_setting_of_the_old_plan_behind(wizard):
    wizard.controls["intent.priority"].value = "speed"
    job = wizard.state.job
    if job.get("train.lr_scheduler") == "constant":
        assert "eta_min" not in (job.get("train.lr_scheduler_params") or {})
    assert wizard._derived.report.ok, [i.code for i in wizard._derived.report.errors]


def test_switching_models_back_and_forth_leaves_no_trace(wizard):
    fresh = wizard.state.job
    wizard.controls["model.arch"].value = "flex2"
    wizard.controls["model.arch"].value = "flux"
    assert wizard.state.job.get("model.model_kwargs") == fresh.get("model.model_kwargs")
    assert wizard.state.job.get("datasets[].controls") == fresh.get("datasets[].controls")


def test_back_to_upstream_drops_the_forks_keys(wizard):
    wizard.controls["preflight.trainer"].value = "extended"
    wizard.controls["train.auto_scale_batch_size"].value = True
    wizard.controls["preflight.trainer"].value = "upstream"
    assert "auto_scale_batch_size" not in nbwizard.dump_job(wizard.state.job)


def test_a_new_dataset_folder_forgets_the_old_analysis(wizard, tmp_path):
    wizard.controls["datasets[].folder_path"].value = str(_images(tmp_path / "a", n=3))
    wizard.dataset_tools.analyze.click()
    assert wizard.state.dataset is not None
    wizard.controls["datasets[].folder_path"].value = str(_images(tmp_path / "b", n=5))
    assert wizard.state.dataset is None


def test_changing_the_model_keeps_the_users_own_prompts(wizard):
    wizard.controls["sample.sample_every"].value = 500
    wizard.controls["model.arch"].value = "flux_kontext"
    assert wizard.state.job.get("sample.sample_every") == 500


def test_side_changes_of_an_edit_are_said_in_labels_at_the_top(wizard):
    wizard.controls["train.batch_size"].value = 8
    note = wizard.status.value
    assert "also changed" in note and "→" in note
    assert "train." not in note and "<code>" not in note  # labels, not setting paths
    assert wizard.status in wizard._top.children  # shown in the top bar, where the person is looking


def test_the_page_shown_survives_pages_coming_and_going(wizard):
    wizard.controls["model.arch"].value = "sd15"
    wizard.go("review")
    wizard.controls["model.arch"].value = "wan21:1b"  # adds the model-specific page before review
    assert wizard.page == "review"


def test_the_save_path_follows_the_job_name_until_the_user_picks_one(wizard, tmp_path):
    wizard.controls["config.name"].value = "renamed"
    assert wizard.controls["review.save_path"].value.endswith("renamed.yaml")
    wizard.controls["review.save_path"].value = str(tmp_path / "mine.yaml")
    wizard.controls["config.name"].value = "again"
    assert wizard.controls["review.save_path"].value.endswith("mine.yaml")


# ---- hostile input through the page (issue 7) ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["../../etc/evil", "/tmp/evil", "a/b", "..", "x\n$(touch PWNED)"])
def test_save_to_never_follows_a_job_name_out_of_the_output_folder(wizard, tmp_path, name):
    wizard.controls["config.name"].value = name
    wizard.go("review")
    target = wizard.review.save_path.value
    assert str(Path(target).parent) == str(tmp_path) and target.endswith(".yaml")
    assert "\n" not in target and ".." not in Path(target).name.removesuffix(".yaml").strip(".")
    assert any(i.code == "name-unsafe" for i in wizard._derived.report.issues)


def test_a_typed_save_path_is_kept_even_outside_the_output_folder(wizard, tmp_path):
    elsewhere = tmp_path.parent / "elsewhere.yaml"
    wizard.controls["review.save_path"].value = str(elsewhere)
    wizard.controls["config.name"].value = "renamed"
    assert wizard.review.save_path.value == str(elsewhere)


def test_the_import_box_reads_a_file_whose_name_holds_a_colon(wizard, tmp_path):
    target = tmp_path / "run:1.yaml"
    target.write_text(Path(JOB).read_text())
    wizard.controls["import.path"].value = str(target)
    wizard.preflight.import_button.click()
    assert "Imported" in wizard.preflight.message.value, wizard.preflight.message.value


def _upload(wizard, content: bytes) -> None:
    wizard.preflight.upload.value = ({"name": "job.yaml", "type": "", "size": len(content),
                                      "content": memoryview(content),
                                      "last_modified": datetime.datetime.now(datetime.timezone.utc)},)


def test_an_uploaded_alias_bomb_is_refused_at_once(wizard):
    import time

    lines = ['l0: &l0 "lol"'] + [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 10)]
    bomb = ("\n".join(lines) + "\njob: extension\nmeta:\n  x: *l9\n").encode()
    before, start = wizard.state, time.perf_counter()
    _upload(wizard, bomb)
    assert time.perf_counter() - start < 2
    assert "Could not import" in wizard.preflight.message.value and "alias bomb" in wizard.preflight.message.value
    assert wizard.state == before


def test_an_upload_over_the_size_cap_is_refused_before_it_is_read(wizard):
    before = wizard.state
    _upload(wizard, b"job: extension\nmeta:\n  x: '" + b"x" * (5 * 2**20) + b"'\n")
    assert "at most 5 MiB" in wizard.preflight.message.value and wizard.state == before


def test_an_uploaded_single_line_job_is_read_as_text(wizard):
    _upload(wizard, b"{job: extension, config: {name: one_line, process: [{type: sd_trainer}]}}")
    assert "Imported" in wizard.preflight.message.value, wizard.preflight.message.value
    assert wizard.state.job.get("config.name") == "one_line"


def test_the_review_yaml_is_dumped_once_per_job_not_on_every_render(wizard, monkeypatch):
    import nbwizard.widgets.view as view

    calls = []
    real = view.dump_job
    monkeypatch.setattr(view, "dump_job", lambda job, *a, **k: calls.append(job) or real(job, *a, **k))
    wizard.controls["train.steps"].value = 1234
    assert calls == [], "no YAML is built before the review page is shown"
    wizard.go("review")
    assert len(calls) == 1 and "steps: 1234" in wizard.review.yaml.value
    wizard.go("optimizer")
    wizard.go("review")
    wizard._render_all(wizard._derived)
    assert len(calls) == 1, "the same job is not dumped again"
    wizard.controls["train.steps"].value = 1500
    assert len(calls) == 2 and "steps: 1500" in wizard.review.yaml.value


def test_a_huge_job_shows_the_start_of_its_yaml_and_downloads_all_of_it(wizard):
    import base64
    import re

    wizard.controls["sample.prompts"].value = "[" + ", ".join(f"prompt {n} " + "x" * 200 for n in range(1500)) + "]"
    assert len(wizard.state.job.get("sample.prompts")) == 1500
    wizard.go("review")
    assert "more lines: download the file" in wizard.review.yaml.value
    data = re.search(r"base64,([A-Za-z0-9+/=]+)", wizard.review.download.value).group(1)
    assert load_job(base64.b64decode(data).decode(), as_text=True) == wizard.state.job


def test_a_second_process_entry_s_problems_are_listed_on_review_not_under_the_first_s_controls(wizard, tmp_path):
    target = tmp_path / "two.yaml"
    target.write_text(Path(JOB).read_text().replace("meta:\n", "    - type: sd_trainer\n      training_folder: output\n"
                                                                 "meta:\n"))
    wizard.controls["import.path"].value = str(target)
    wizard.preflight.import_button.click()
    wizard.go("review")
    shown = " ".join(row.children[0].value for row in wizard.review.report.children)
    assert "config.process[1].model.name_or_path" in shown
    wizard.go("model")
    assert "config.process[1]" not in wizard.advisor.value
    assert "Model path is required" not in wizard._rows["model.name_or_path"].note.value


def test_the_advisor_lists_what_the_plan_changed_to_fit_the_card(wizard):
    wizard.controls["preflight.target"].value = "NVIDIA GeForce RTX 3060 12GB"
    wizard.controls["model.arch"].value = "qwen_image"
    wizard.go("review")
    shown = wizard.advisor.value
    assert "What the plan changed, and what it costs" in shown
    assert "train_lora_qwen_image_24gb.yaml" in shown and "layer offloading" in shown
    assert "a long run" in shown
