"""The wizard's state: immutable edits, provenance, undo/redo history, and named templates on disk."""

from __future__ import annotations

import json

import pytest

from nbwizard import SystemProfile, load_job
from nbwizard.engine import templates
from nbwizard.engine.job import job_model
from nbwizard.engine.state import History, WizardState, imported_state, state_summary

PROFILE = SystemProfile.for_gpu("RTX 4090", ram_gb=64)


def _state(**changes) -> WizardState:
    return WizardState(job=job_model()().set("train.steps", 1000), profile=PROFILE, **changes)


def test_an_edit_makes_a_new_state_and_marks_the_setting_as_the_users():
    first = _state()
    second = first.edit("train.lr", 2e-4)
    assert first.job.get("train.lr") != 2e-4 and second.job.get("train.lr") == 2e-4
    assert second.user_set == {"train.lr"} and second.locked == {"train.lr": 2e-4}
    assert second.release("train.lr").user_set == frozenset()


def test_a_wrong_value_is_refused_and_the_state_is_untouched():
    state = _state()
    with pytest.raises(ValueError):
        state.edit("train.steps", "a lot")
    assert state.job.get("train.steps") == 1000


def test_history_undoes_and_redoes_and_forgets_the_redo_branch_after_a_new_edit():
    history = History(_state())
    history.push(history.current.edit("train.steps", 2000))
    history.push(history.current.edit("train.steps", 3000))
    assert history.undo().job.get("train.steps") == 2000
    assert history.undo().job.get("train.steps") == 1000
    assert not history.can_undo and history.undo().job.get("train.steps") == 1000
    assert history.redo().job.get("train.steps") == 2000
    history.push(history.current.edit("train.steps", 5))
    assert not history.can_redo


def test_pushing_an_equal_state_adds_no_history():
    history = History(_state())
    history.push(_state())
    assert not history.can_undo


def test_an_imported_job_counts_as_the_users_own_values(tmp_path):
    job = load_job("config:\n  process:\n    - model: {arch: sdxl}\n      train: {lr: 3e-4, foo: 1}\n")
    state = imported_state(_state(), job)
    assert state.arch == "sdxl" and {"train.lr", "model.arch"} <= state.user_set


def test_templates_round_trip_list_and_delete(tmp_path):
    state = _state(user_set=frozenset({"train.steps"}))
    templates.save_template("my flux plan", state_summary(state), tmp_path)
    assert templates.list_templates(tmp_path) == ["my flux plan"]
    data = templates.load_template("my flux plan", tmp_path)
    assert load_job(data["job"]) == state.job and data["user_set"] == ["train.steps"]
    with pytest.raises(FileExistsError):
        templates.save_template("my flux plan", state_summary(state), tmp_path)
    templates.delete_template("my flux plan", tmp_path)
    assert templates.list_templates(tmp_path) == []


@pytest.mark.parametrize("name", ["", "../escape", "a/b", " lead", "x" * 200])
def test_a_template_name_cannot_leave_the_folder(name, tmp_path):
    with pytest.raises(templates.TemplateError):
        templates.save_template(name, {"job": {}}, tmp_path)


def test_a_damaged_template_is_a_clear_error(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(templates.TemplateError, match="cannot be read"):
        templates.load_template("broken", tmp_path)
    with pytest.raises(templates.TemplateError, match="not an nbwizard template"):
        templates.load_template("other", tmp_path)


def test_the_templates_folder_follows_nbwizard_home(monkeypatch, tmp_path):
    monkeypatch.setenv("NBWIZARD_HOME", str(tmp_path))
    assert templates.templates_dir() == tmp_path / "templates"
