"""Fidelity in the engine: which model a job names, held jobs and their suggestions, model changes, what-if texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbwizard import SystemProfile, load_job, model_info
from nbwizard.engine.arch import identify
from nbwizard.engine.job import MISSING
from nbwizard.engine.predict import predict
from nbwizard.engine.profile import Reading
from nbwizard.engine.state import (apply_recommendation, change_model, derive, imported_state, initial_state,
                                   recommend_for, template_state)
from nbwizard.engine.suggest import accept_suggestions, adopt_recommended, suggested_changes
from nbwizard.engine.validate import validate

AITK = Path(__file__).parent / "fixtures" / "jobs" / "aitk"
PROFILE = SystemProfile.for_gpu("RTX 4090", ram_gb=64)


def _job(model: str, **sections: str) -> object:
    text = "job: extension\nconfig:\n  name: t\n  process:\n    - type: sd_trainer\n      training_folder: output\n"
    text += f"      model: {model}\n" + "".join(f"      {k}: {v}\n" for k, v in sections.items())
    return load_job(text)


@pytest.fixture(scope="module")
def fresh():
    return initial_state(PROFILE)


@pytest.fixture(scope="module")
def flux_example(fresh):
    return imported_state(fresh, load_job(AITK / "train_lora_flux_24gb.yaml"))


# ---- which model a job names ------------------------------------------------------------------------------------
def test_legacy_flags_are_read_in_the_trainers_order():
    assert identify(_job("{name_or_path: x/y, is_xl: true, is_v2: true}")).backend == "sd2"
    assert identify(_job("{name_or_path: x/y, is_pixart_sigma: true}")).backend == "pixart_sigma"
    assert identify(_job("{name_or_path: x/y}")).chosen_by == "default"
    assert identify(_job("{name_or_path: x/y, arch: 'flex1'}")).backend == "flux"


def test_a_model_the_catalog_lacks_is_named_as_the_file_names_it():
    ref = identify(_job("{name_or_path: PixArt-alpha/PixArt-Sigma-XL-2-1024-MS, is_pixart_sigma: true}"))
    assert (ref.backend, ref.chosen_by, ref.spec, ref.arch) == (
        "pixart_sigma", "model.is_pixart_sigma", None, "pixart_sigma")
    assert ref.label == "PixArt-alpha/PixArt-Sigma-XL-2-1024-MS"
    text = ref.describe()
    assert "is_pixart_sigma" in text and "not in the wizard's model catalog" in text and "FLUX" not in text


def test_the_weights_pick_the_entry_among_those_of_one_model_class():
    assert identify(_job("{arch: wan21, name_or_path: Wan-AI/Wan2.1-T2V-14B-Diffusers}")).arch == "wan21:14b"
    assert identify(_job("{is_flux: true, name_or_path: ostris/Flex.1-alpha}")).arch == "flex1"
    assert identify(_job("{is_flux: true, name_or_path: /my/local/flux}")).arch == "flux"
    # the trainer drops a variant tag (toolkit/config_modules.py: ``self.arch.split(':')[0]``): the weights decide
    tagged = identify(_job("{arch: 'wan21:1b', name_or_path: Wan-AI/Wan2.1-T2V-14B-Diffusers}"))
    assert tagged.arch == "wan21:14b" and "this job trains Wan 2.1 (14B)" in tagged.mismatch
    assert identify(_job("{arch: 'wan21:1b', name_or_path: /my/local/wan}")).arch == "wan21:1b"
    # entries that share their weights (Krea 2 and its edit training) are each their own, never a mismatch
    edit = identify(_job("{arch: 'krea2:o_edit', name_or_path: krea/Krea-2-Raw}"))
    assert edit.arch == "krea2:o_edit" and edit.mismatch is None


def test_weights_of_another_model_class_are_pointed_out():
    ref = identify(_job("{name_or_path: black-forest-labs/FLUX.1-dev}"))
    assert ref.spec.arch == "sd15" and "FLUX.1's weights" in ref.mismatch and "sets no model.arch" in ref.mismatch
    assert identify(_job("{arch: flux, name_or_path: black-forest-labs/FLUX.1-dev}")).mismatch is None


def test_the_sd35_example_is_the_catalogs_sd3_entry():
    ref = identify(load_job(AITK / "train_lora_sd35_large_24gb.yaml"))
    assert ref.spec is not None and ref.spec.arch == "sd3" and ref.label == "SD 3.5 Large"
    assert ref.chosen_by == "model.is_v3"


# ---- held jobs and their suggestions -----------------------------------------------------------------------------
def test_an_imported_job_is_held_as_written(flux_example):
    written = load_job(AITK / "train_lora_flux_24gb.yaml")
    assert flux_example.job == written and not flux_example.auto
    assert apply_recommendation(flux_example, recommend_for(flux_example)) is flux_example


def test_suggestions_offer_what_would_change_training_and_nothing_the_file_sets(flux_example):
    found = {s.path: s for s in suggested_changes(flux_example)}
    assert {"process.trigger_word", "train.cache_text_embeddings"} <= set(found)
    written = flux_example.job
    assert all(s.kind == "add" and not written.is_set(s.path) for s in found.values())
    # writing out what the trainer already uses changes nothing, so it is not offered: its default, or (quantize_te,
    # unset) the value of quantize it falls back to; nor a preview frame rate for an image model
    assert all(s.suggested != written.get(s.path) for s in found.values())
    assert written.get("model.quantize") is True and "model.quantize_te" not in found
    assert "sample.fps" not in found
    assert all(s.why for s in found.values())


def test_a_suggestion_says_what_it_does_to_this_jobs_prediction():
    """On a 12 GB card, ai-toolkit's FLUX 24 GB example does not fit; the suggestion that lowers its peak says by how
    much on this job (the plan's reasons speak of the plan's search)."""
    state = imported_state(initial_state(SystemProfile.for_gpu("RTX 3060 12GB", ram_gb=64)),
                           load_job(AITK / "train_lora_flux_24gb.yaml"))
    before = predict(state.job, state.profile)
    low_vram = {s.path: s for s in suggested_changes(state)}["model.low_vram"]
    after = predict(accept_suggestions(state, ["model.low_vram"]).job, state.profile)
    assert after.peak_vram_gib < before.peak_vram_gib
    assert low_vram.effect == (f"On this job: peak {before.peak_vram_gib:.1f} → {after.peak_vram_gib:.1f} GiB"
                               + (f", step {before.step_seconds:.2g} → {after.step_seconds:.2g} s"
                                  if abs(after.step_seconds / before.step_seconds - 1) >= 0.02 else ""))


def test_accepting_a_suggestion_writes_that_value_only(flux_example):
    accepted = accept_suggestions(flux_example, ["train.cache_text_embeddings"])
    assert accepted.job.unset("train.cache_text_embeddings") == flux_example.job
    assert "train.cache_text_embeddings" in accepted.user_set and not accepted.auto
    assert "train.cache_text_embeddings" not in {s.path for s in suggested_changes(accepted)}
    assert accept_suggestions(flux_example, ["no.such.path"]) is flux_example
    everything = accept_suggestions(flux_example)
    assert suggested_changes(everything) == ()


def test_apply_recommended_on_a_held_value_writes_the_wizards_choice(flux_example):
    rec = derive(flux_example).recommendation.reasons["save.dtype"].value
    adopted = adopt_recommended(flux_example, "save.dtype")
    assert adopted.job.get("save.dtype") == rec != "float16"
    assert adopted.job.unset("save.dtype") == flux_example.job.unset("save.dtype")


def test_a_fresh_plan_is_filled_in_and_has_no_suggestions(fresh):
    assert fresh.auto and suggested_changes(fresh) == ()


def test_a_template_is_held_and_suggests_removing_what_the_plan_no_longer_writes(fresh):
    extra = fresh.job.set("train.lr_scheduler_params", {"eta_min": 1e-6, "T_max": 100})
    state = template_state(fresh, extra.set("train.lr_scheduler", "constant"), intent=fresh.intent,
                           trainer="upstream", profile=PROFILE, user_set={"train.lr_scheduler"})
    assert state.job.get("train.lr_scheduler_params") == {"eta_min": 1e-6, "T_max": 100} and not state.auto
    removal = {s.path: s for s in suggested_changes(state)}.get("train.lr_scheduler_params")
    assert removal is not None and removal.kind == "remove" and removal.suggested is MISSING
    assert not accept_suggestions(state, ["train.lr_scheduler_params"]).job.is_set("train.lr_scheduler_params")


def test_a_model_outside_the_catalog_gets_no_recommendation_and_still_derives(fresh):
    text = (AITK / "train_lora_sd35_large_24gb.yaml").read_text().replace("is_v3: true", "is_pixart_sigma: true")
    state = imported_state(fresh, load_job(text))
    assert state.spec is None and recommend_for(state) is None and suggested_changes(state) == ()
    derived = derive(state)
    assert derived.recommendation is None and derived.prediction.peak_vram_gib is None


# ---- model changes ----------------------------------------------------------------------------------------------
def test_a_model_change_keeps_the_users_rank_and_names_what_cannot_carry_over(fresh):
    state = fresh.edit("network.linear", 64).edit("model.qtype", "qfloat8")
    changed, dropped = change_model(state, "sdxl")
    assert changed.job.get("network.linear") == 64 and "network.linear" in changed.user_set
    why = {d.path: d.why for d in dropped}
    assert "does not quantize SDXL" in why["model.qtype"] and "network.linear" not in why


def test_an_accuracy_recovery_adapter_stays_with_its_model(fresh):
    ara = model_info("qwen_image").ara[0].qtype_value
    state, _ = change_model(fresh, "qwen_image")
    state = state.edit("model.qtype", ara)
    changed, dropped = change_model(state, "flux")
    assert not changed.job.is_set("model.qtype") or changed.job.get("model.qtype") != ara
    assert any(d.path == "model.qtype" and "made for Qwen-Image" in d.why for d in dropped)


def test_a_held_job_gets_the_new_models_id_and_weights_and_nothing_else(flux_example):
    changed, dropped = change_model(flux_example, "sdxl")
    job = changed.job
    assert (job.get("model.arch"), job.get("model.name_or_path")) == ("sdxl", model_info("sdxl").name_or_path)
    assert not job.is_set("model.is_flux") and not changed.auto
    assert {"model.is_flux", "model.quantize", "train.noise_scheduler", "sample.sampler"} <= {d.path for d in dropped}
    assert job.get("network.linear") == 16 and job.get("train.steps") == 2000


# ---- what-if texts ----------------------------------------------------------------------------------------------
def _detected(ram: float, free: float) -> SystemProfile:
    data = SystemProfile.for_gpu("RTX 3060 12GB").model_dump()
    data.update(target=None, ram_total_gib=Reading.of(ram, "psutil").model_dump(),
                ram_available_gib=Reading.of(free, "psutil").model_dump())
    return SystemProfile.model_validate(data)


def test_ram_texts_name_the_machine_being_planned():
    job = load_job(AITK / "train_lora_flux_24gb.yaml")
    here = _detected(128.0, 4.0)
    here_report = validate(job, here, prediction=predict(job, here))
    assert any("free now" in i.message for i in here_report.issues)  # this machine, now: said
    planned = here.with_target("RTX 4090").override("ram_total_gib", 8.0)
    report = validate(job, planned, prediction=predict(job, planned))
    messages = " ".join(i.message for i in report.issues)
    assert "the planned RTX 4090 machine has" in messages
    assert "this machine" not in messages and "free now" not in messages
