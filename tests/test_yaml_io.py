"""Job files in and out: lossless, commented, safe, atomic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from nbwizard import JobError, dump_job, load_job, save_job
from nbwizard.engine.job import job_model

JOBS = Path(__file__).parent / "fixtures" / "jobs"
FIXTURES = sorted(JOBS.glob("*.yaml"))


def test_there_are_job_fixtures():
    assert len(FIXTURES) >= 4


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_every_fixture_round_trips_exactly(path):
    job = load_job(path)
    again = load_job(dump_job(job))
    assert again == job
    assert again.to_dict() == job.to_dict()
    assert dump_job(again) == dump_job(job), "the dump is stable"


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_dumped_yaml_is_read_the_same_by_a_plain_safe_loader_with_the_trainer_float_rule(path):
    # ai-toolkit loads with a SafeLoader plus a float rule for "1e-4"; our floats are written so a plain
    # SafeLoader already reads them as numbers.
    data = yaml.safe_load(dump_job(load_job(path)))
    assert data == load_job(path).to_dict()


def test_numbers_written_like_1e_4_become_numbers():
    job = load_job(JOBS / "flux_lora_24gb.yaml")
    assert job.get("train.lr") == pytest.approx(1e-4) and isinstance(job.get("train.lr"), float)
    wan = load_job(JOBS / "wan22_video.yaml")
    assert wan.get("train.optimizer_params.weight_decay") == pytest.approx(1e-4)
    every = load_job(JOBS / "every_section.yaml")
    assert every.get("train.lr_scheduler_params.eta_min") == pytest.approx(1e-7)


def test_tricky_forms_survive():
    flux = load_job(JOBS / "flux_lora_24gb.yaml")
    assert flux.to_dict()["meta"]["name"] == "[name]"
    assert "[trigger] holding a sign" in flux.get("sample.prompts")[2]
    assert flux.get("datasets[].resolution") == [512, 768, 1024]
    wan = load_job(JOBS / "wan22_video.yaml")
    assert wan.get("model.qtype").startswith("uint4|ostris/")
    assert wan.get("model.model_kwargs") == {"train_high_noise": True, "train_low_noise": True}
    assert wan.get("sample.samples[].prompt", index=1) == "a cat, [trigger]"
    every = load_job(JOBS / "every_section.yaml")
    assert every.get("datasets[].is_reg", index=1) is True
    assert every.get("network.network_kwargs.only_if_contains") == ["transformer.single_transformer_blocks"]
    assert every.get("sample.samples[].prompt") == "line one\nline two"
    assert every.to_dict()["meta"]["author"] == "someone"


def test_unset_settings_read_as_the_trainer_default():
    job = load_job(JOBS / "flux_lora_24gb.yaml")
    assert job.get("train.lr_scheduler") == "constant"
    assert not job.is_set("train.lr_scheduler") and job.is_set("train.lr")


def test_unknown_keys_are_kept_and_reported_with_did_you_mean():
    job = load_job(JOBS / "unknown_keys.yaml")
    found = {u.where: u.suggestion for u in job.unknown_keys()}
    assert found == {
        "config.process[0].network.network_dim": "linear",
        "config.process[0].datasets[0].caption_extension": "caption_ext",
        "config.process[0].train.learning_rate": "lr",
        "config.process[0].train.lr_warmup": None,
        "config.process[0].my_notes": None,
    }
    text = dump_job(job)
    assert "learning_rate: 1.0e-4  # not a setting ai-toolkit reads; did you mean 'lr'?" in text
    assert load_job(text).to_dict()["config"]["process"][0]["my_notes"] == {"reviewed": True}


def test_free_form_sections_never_report_unknown_keys():
    job = load_job(JOBS / "every_section.yaml")
    assert job.unknown_keys() == []
    assert "custom_flag: 3  # passed to the trainer as written" in dump_job(job)


def test_dump_comments_each_setting_and_can_leave_them_out():
    job = load_job(JOBS / "flux_lora_24gb.yaml")
    text = dump_job(job)
    assert "lr: 1.0e-4  # Learning rate" in text
    assert "#" not in dump_job(job, comments=False).replace("'I LOVE PROMPTS!'", "")


def test_set_returns_a_new_validated_job():
    job = load_job(JOBS / "flux_lora_24gb.yaml")
    changed = job.set("train.steps", 3000)
    assert changed.get("train.steps") == 3000 and job.get("train.steps") == 2000
    assert changed.set("sample.samples[].prompt", "hello").get("sample.samples[].prompt") == "hello"
    with pytest.raises(ValueError):
        job.set("train.steps", "lots")
    assert changed.unset("train.steps").is_set("train.steps") is False


def test_a_new_job_can_be_built_from_nothing():
    job = job_model()().set("model.name_or_path", "x").set("datasets[].folder_path", "/d")
    assert load_job(dump_job(job)) == job
    assert job.to_dict()["config"]["process"][0]["datasets"] == [{"folder_path": "/d"}]


# -- bad input --------------------------------------------------------------------------------------------

def test_malformed_yaml_names_the_line():
    with pytest.raises(JobError, match="line 3") as err:
        load_job("job: extension\nconfig:\n  name: [unclosed\n")
    assert "malformed YAML" in str(err.value)


def test_a_wrong_type_names_the_setting_and_its_line():
    text = "job: extension\nconfig:\n  process:\n    - train:\n        steps: many\n"
    with pytest.raises(JobError) as err:
        load_job(text)
    assert err.value.line == 5
    assert "config.process[0].train.steps" in str(err.value) and "integer" in str(err.value)


def test_duplicate_keys_are_refused():
    with pytest.raises(JobError, match="duplicate key 'lr'"):
        load_job("config:\n  process:\n    - train:\n        lr: 1\n        lr: 2\n")


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text", "42"])
def test_a_file_that_is_not_a_job_is_refused(text):
    with pytest.raises(JobError):
        load_job(text if text else "\n")


def test_missing_and_unreadable_files_are_clear_errors(tmp_path):
    with pytest.raises(JobError, match="no such file"):
        load_job(tmp_path / "nope.yaml")
    with pytest.raises(JobError, match="folder"):
        load_job(tmp_path)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(JobError, match="UTF-8"):
        load_job(binary)


def test_yaml_tags_that_run_code_are_refused():
    with pytest.raises(JobError):
        load_job("job: !!python/object/apply:os.system ['echo hi']\n")


# -- saving -----------------------------------------------------------------------------------------------

def test_save_is_atomic_and_refuses_to_overwrite(tmp_path):
    job = load_job(JOBS / "flux_lora_24gb.yaml")
    target = save_job(job, tmp_path / "out" / "job.yaml")
    assert load_job(target) == job
    before = target.read_text()
    with pytest.raises(FileExistsError):
        save_job(job.set("train.steps", 1), target)
    assert target.read_text() == before
    save_job(job.set("train.steps", 1), target, overwrite=True)
    assert load_job(target).get("train.steps") == 1
    assert [p.name for p in target.parent.iterdir()] == ["job.yaml"], "no temporary file left behind"


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    job = load_job(JOBS / "flux_lora_24gb.yaml")
    target = save_job(job, tmp_path / "job.yaml")

    def broken_replace(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_job(job.set("train.steps", 5), target, overwrite=True)
    assert load_job(target) == job
    assert len(list(tmp_path.iterdir())) == 1


# -- property: any job we can build dumps and loads back -----------------------------------------------

_PATHS = {
    "train.lr": st.floats(1e-8, 1.0), "train.steps": st.integers(0, 100_000),
    "network.linear": st.integers(1, 256), "datasets[].resolution": st.lists(st.sampled_from([256, 512, 1024]),
                                                                            min_size=1, max_size=3),
    "datasets[].caption_ext": st.sampled_from(["txt", "caption"]),
    "sample.prompts": st.lists(st.text(min_size=0, max_size=30), max_size=3),
    "process.trigger_word": st.text(max_size=20), "model.qtype": st.sampled_from(["qfloat8", "uint4|a/b.safetensors"]),
    "train.optimizer_params.weight_decay": st.floats(0, 1), "meta.name": st.text(max_size=10),
    "sample.neg": st.one_of(st.text(max_size=10), st.sampled_from(["1e-4", "true", "null", "[name]", "#x", ": y"])),
}


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(sorted(_PATHS)), st.none(), min_size=1).flatmap(
    lambda keys: st.fixed_dictionaries({k: _PATHS[k] for k in keys})))
def test_any_job_round_trips(values):
    job = job_model()()
    for path, value in values.items():
        job = job.set(path, value)
    assert load_job(dump_job(job)) == job


def test_line_separators_in_strings_and_keys_survive(tmp_path):
    job = job_model()().set("model.model_kwargs", {"a\u2028b": 1, "c": "x\x85y\u2029z"})
    assert load_job(dump_job(job)) == job


def test_save_refuses_a_folder_or_an_empty_name_and_keeps_the_file_mode(tmp_path):
    job = load_job(JOBS / "flux_lora_24gb.yaml")
    with pytest.raises(IsADirectoryError):
        save_job(job, tmp_path)
    with pytest.raises(IsADirectoryError):
        save_job(job, str(tmp_path / "sub") + "/")
    with pytest.raises(ValueError):
        save_job(job, "  ")
    umask = os.umask(0)
    os.umask(umask)
    target = save_job(job, tmp_path / "job.yaml")
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask, "a new file gets the usual mode, not 0600"
    target.chmod(0o640)
    save_job(job, target, overwrite=True)
    assert target.stat().st_mode & 0o777 == 0o640


def test_a_home_relative_path_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "j.yaml").write_text("job: extension\n")
    assert load_job("~/j.yaml").get("job") == "extension"


# -- equality and exact round trips (issue 7) --------------------------------------------------------------

def test_a_job_holding_nan_equals_its_reload():
    job = job_model()().set("meta.loss_scale", float("nan")).set("train.lr", float("nan"))
    again = load_job(dump_job(job))
    assert again == job and again.to_dict()["meta"]["loss_scale"] != again.to_dict()["meta"]["loss_scale"]


def test_equality_tells_values_of_different_types_apart():
    base = job_model()()
    assert base.set("meta.x", 1) != base.set("meta.x", True) != base.set("meta.x", 1.0)
    assert base.set("meta.x", -0.0) != base.set("meta.x", 0.0)
    assert base.set("meta.x", {1: "a"}) != base.set("meta.x", {True: "a"})


def test_merge_keys_load_and_the_explicit_key_wins():
    job = load_job("defaults: &d {lr: 0.0002, steps: 10}\nconfig:\n  process:\n    - train:\n        <<: *d\n"
                   "        lr: 0.0005\n")
    assert (job.get("train.lr"), job.get("train.steps")) == (0.0005, 10)


def test_a_key_written_as_a_number_null_or_bool_inside_a_stray_key_dumps_and_loads_back():
    job = load_job("config:\n  process:\n    - notes:\n        1: a\n        null: b\n        false: c\n")
    text = dump_job(job)
    assert load_job(text) == job and list(load_job(text).to_dict()["config"]["process"][0]["notes"]) == [1, None, False]


def test_leading_and_trailing_unicode_spaces_survive():
    job = job_model()().set("process.trigger_word", "\u3000ohwx\u00a0").set("meta.note", "\u2003x\t")
    assert load_job(dump_job(job)) == job


def test_a_lone_surrogate_is_refused_when_set_not_written_in_a_form_that_does_not_load():
    with pytest.raises(ValueError, match="surrogate"):
        job_model()().set("config.name", "a\ud800b")
    with pytest.raises(JobError, match="surrogate"):
        load_job({"job": "extension", "meta": {"x": "a\udc00"}})


def test_dumping_a_string_is_linear_in_its_length():
    import time

    job = job_model()().set("meta.blob", "a b " * 5_000_000)  # 20 MB that must be quoted
    start = time.perf_counter()
    text = dump_job(job)
    assert time.perf_counter() - start < 2, "a hang guard: 20 MB dumps in a fraction of a second (~12 s before)"
    assert "blob: 'a b a b " in text


def test_small_floats_are_written_as_the_examples_write_learning_rates():
    """``lr: 1e-4`` in ai-toolkit's examples comes back as ``1.0e-4`` (not ``0.0001``): the form people write, with
    the '.' and the exponent's sign a YAML 1.1 loader needs, and exactly the same number."""
    import yaml

    job = load_job("job: extension\nconfig:\n  name: x\n  process:\n    - type: sd_trainer\n      train:\n"
                   "        lr: 1e-4\n        optimizer_params: {weight_decay: 0.00012345678901234}\n")
    text = dump_job(job, comments=False)
    assert "lr: 1.0e-4\n" in text and "weight_decay: 1.2345678901234e-4" in text
    assert yaml.safe_load(text)["config"]["process"][0]["train"]["lr"] == 1e-4
    assert load_job(text) == job
