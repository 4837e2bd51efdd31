"""The recommender's policy, point by point (issue 9: plans an expert would sign).

Where a cost is the predictor's (DOP's price, a preview's peak, what checkpointing saves), the test drives the
policy with a predictor that states that cost, built on the engine's own predictor: the policy must act on what
the predictor says and repeat its numbers, not on numbers of its own.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from PIL import Image

from nbwizard.cli import main as cli_main
from nbwizard.engine.advisor import advise
from nbwizard.engine.arch import arch_of
from nbwizard.engine.dataset import analyze_dataset
from nbwizard.engine.intent import TRAINING_TYPES, Intent
from nbwizard.engine.job import job_model
from nbwizard.engine.predict import predict
from nbwizard.engine.profile import SystemProfile
from nbwizard.engine.recommend import recommend
from nbwizard.engine.validate import validate


def card(name: str, ram: int = 64) -> SystemProfile:
    return SystemProfile.for_gpu(name, ram_gb=ram, cores=16)


RTX3060, RTX4090, RTX5090, A100 = "RTX 3060 12GB", "RTX 4090", "RTX 5090", "A100 80GB"


def _images(root: Path, captions: list[str], size=(1024, 1024)) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(captions):
        Image.new("RGB", size, (i * 9 % 255, 40, 90)).save(root / f"img{i:02d}.png")
        (root / f"img{i:02d}.txt").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def person_dataset(tmp_path_factory):
    """20 photos of one person, each caption naming the trigger and the class ('ohwx man')."""
    captions = [f"a photo of ohwx man {where}" for where in ("smiling", "outdoors", "in a suit", "reading")] * 5
    return analyze_dataset(_images(tmp_path_factory.mktemp("person") / "data", captions, size=(512, 512)))


@pytest.fixture(scope="module")
def dog_dataset(tmp_path_factory):
    """25 photos of one dog: 23 captions say 'sks dog', two forgot the trigger word."""
    captions = [f"a photo of sks dog {where}" for where in
                ("on a sofa", "in the park", "at the beach", "on the grass", "in the snow") * 5][:23]
    captions += ["a photo of a dog in a field", "a dog asleep on a rug"]
    return analyze_dataset(_images(tmp_path_factory.mktemp("dog") / "data", captions))


# ---- a predictor that states a cost, on top of the engine's ---------------------------------------------------
def dop_priced(ratio: float):
    """The engine's predictor, with DOP priced at ``ratio`` x the step time (two passes with gradients and a prior
    pass, as ai-toolkit runs it)."""
    def predictor(job, profile, dataset=None):
        p = predict(job, profile, dataset)
        if job.get("train.diff_output_preservation") is not True:
            return p
        base = predict(job.set("train.diff_output_preservation", False), profile, dataset)
        steps = job.get("train.steps") or 0
        return dataclasses.replace(p, step_seconds=base.step_seconds * ratio,
                                   total_seconds=base.total_seconds + base.step_seconds * (ratio - 1) * steps)
    return predictor


def preview_hungry(max_side: int):
    """The engine's predictor, except that previews larger than ``max_side`` px do not fit beside training."""
    def predictor(job, profile, dataset=None):
        p = predict(job, profile, dataset)
        sampling = job.get("train.disable_sampling") is not True
        if sampling and max(job.get("sample.width") or 0, job.get("sample.height") or 0) > max_side:
            over = p.budget_gib + 4.0
            return dataclasses.replace(p, peak_vram_gib=over, low_gib=over, high_gib=over + 1, verdict="does_not_fit",
                                       verdict_reason="sampling peak over the budget")
        return p
    return predictor


def no_gc_close_to_the_budget(share: float):
    """The engine's predictor, except that a plan without checkpointing fits with only ``1 - share`` left free."""
    def predictor(job, profile, dataset=None):
        p = predict(job, profile, dataset)
        if job.get("train.gradient_checkpointing") is False and p.budget_gib:
            high = p.budget_gib * share
            return dataclasses.replace(p, peak_vram_gib=high / 1.2, low_gib=high / 1.5, high_gib=high, verdict="fits")
        return p
    return predictor


# ---- 1. DOP -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("priority", ["speed", "memory"])
def test_dop_is_off_under_speed_and_memory_and_offered_at_the_predicted_price(priority):
    rec = recommend(card(RTX4090), Intent("person", priority), "flux", predictor=dop_priced(2.3))
    assert rec.job.get("train.diff_output_preservation") is False
    offer = [n for n in rec.notes if n.kind == "dop"]
    assert offer and "≈ 2.3x the step time" in offer[0].text
    assert offer[0].alternative.changes["train.diff_output_preservation"] is True
    assert offer[0].alternative.changes["train.diff_output_preservation_class"] == "person"


def test_dop_under_quality_for_a_person_states_its_real_price_and_how_to_drop_it(person_dataset):
    rec = recommend(card(RTX4090), Intent("person", "quality"), "flux", predictor=dop_priced(2.3),
                    dataset=person_dataset)
    assert rec.job.get("train.diff_output_preservation") is True
    assert rec.job.get("train.diff_output_preservation_class") == "man"
    note = next(n for n in rec.notes if n.kind == "dop")
    assert "≈ 2.3x the step time" in note.text and "set train.diff_output_preservation to false" in note.text
    hours = re.search(r"the run ([\d.]+) h → ([\d.]+) h", note.text)
    assert hours and float(hours.group(2)) > 1.8 * float(hours.group(1))  # previews and caching do not double
    dop = next(d for d in rec.departures if d.group == "DOP")
    assert "2.3x the time per step" in dop.cost
    from nbwizard.engine.advisor import plan_lines

    assert any("DOP" in line for line in plan_lines(rec, "regularization"))


def test_dop_class_word_comes_from_the_captions(dog_dataset):
    for kind in ("pet", "object"):
        rec = recommend(card(A100), Intent(kind, "quality"), "flux", dataset=dog_dataset)
        assert rec.job.get("train.diff_output_preservation") is True
        assert rec.job.get("train.diff_output_preservation_class") == "dog"
        assert "captions" in rec.reasons["train.diff_output_preservation_class"].why


def test_without_captions_dop_is_an_opt_in_with_its_price_as_in_ai_toolkits_examples():
    rec = recommend(card(RTX4090), Intent("person", "quality"), "flux", predictor=dop_priced(2.3))
    assert rec.job.get("train.diff_output_preservation") is False
    offer = next(n for n in rec.notes if n.kind == "dop")
    assert "2.3x" in offer.text


def test_dop_needs_a_class_word_an_object_without_captions_has_none():
    rec = recommend(card(A100), Intent("object", "quality"), "flux")
    assert rec.job.get("train.diff_output_preservation") is False
    assert rec.job.get("train.diff_output_preservation_class") != "object"
    assert any(n.kind == "dop" and "class word" in n.text for n in rec.notes)


def test_dop_stays_off_on_an_edit_model():
    rec = recommend(card(RTX5090), Intent("person", "quality"), "qwen_image_edit")
    assert rec.job.get("train.diff_output_preservation") is False


# ---- 2. previews do not drive the training plan -------------------------------------------------------------------
def test_a_preview_that_does_not_fit_is_cut_never_the_training():
    rec = recommend(card(RTX4090), Intent("style", "quality"), "flux", predictor=preview_hungry(512))
    free = recommend(card(RTX4090), Intent("style", "quality"), "flux")
    assert rec.job.get("datasets[].resolution") == free.job.get("datasets[].resolution") == [512, 768, 1024]
    assert rec.job.get("model.qtype") == free.job.get("model.qtype")
    assert rec.job.get("sample.width") == 512 and rec.job.get("train.disable_sampling") is False
    assert rec.fits
    previews = next(d for d in rec.departures if d.group == "previews")
    assert "training is unchanged" in previews.cost and "previews are cut" in rec.reasons["sample.width"].why


def test_previews_are_turned_off_when_no_size_fits():
    rec = recommend(card(RTX4090), Intent("style", "quality"), "flux", predictor=preview_hungry(128))
    assert rec.job.get("train.disable_sampling") is True and rec.fits
    assert max(rec.job.get("datasets[].resolution")) == 1024


# Wan 2.1's example writes 632, which the trainer buckets to 624 (a multiple of 16): the plan writes what trains
@pytest.mark.parametrize("arch, gpu, top", [("sdxl", RTX3060, 1024), ("wan21:14b", RTX4090, 624)])
def test_training_keeps_its_size_on_cards_where_previews_were_the_binding_peak(arch, gpu, top):
    rec = recommend(card(gpu), Intent("style", "quality"), arch)
    assert rec.fits and max(rec.job.get("datasets[].resolution")) == top
    assert rec.job.get("model.qtype") not in ("uint4", "uint3")


def test_ltx_2_3_fits_a_32_gb_card():
    rec = recommend(card(RTX5090), Intent("style", "quality"), "ltx2.3")
    assert rec.fits, rec.why_not


# ---- 3. gradient checkpointing -------------------------------------------------------------------------------------
def test_checkpointing_is_off_where_the_plan_fits_without_it():
    rec = recommend(card(A100), Intent("style", "quality"), "sd15")
    assert rec.job.get("train.gradient_checkpointing") is False
    assert "changes no result" in rec.reasons["train.gradient_checkpointing"].why
    flux = recommend(card(RTX4090), Intent("style", "quality"), "flux")
    assert flux.job.get("train.gradient_checkpointing") is True  # FLUX at 1024 px needs it on a 24 GB card


def test_checkpointing_stays_on_without_headroom():
    rec = recommend(card(A100), Intent("style", "quality"), "sd15", predictor=no_gc_close_to_the_budget(0.95))
    assert rec.job.get("train.gradient_checkpointing") is True
    roomy = recommend(card(A100), Intent("style", "quality"), "sd15", predictor=no_gc_close_to_the_budget(0.7))
    assert roomy.job.get("train.gradient_checkpointing") is False


# ---- 4. batch and length ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["person", "style"])
def test_batch_one_and_the_examples_steps_on_a_big_card(kind):
    rec = recommend(card(A100), Intent(kind, "quality"), "flux")
    assert rec.job.get("train.batch_size") == 1
    assert rec.job.get("train.gradient_accumulation") == 1
    assert rec.job.get("train.steps") == 2000  # train_lora_flux_24gb.yaml


def test_a_batch_the_user_sets_keeps_the_updates_and_warns_about_small_buckets(tmp_path):
    data = analyze_dataset(_images(tmp_path / "mixed", [f"sks, photo {i}" for i in range(6)], size=(1024, 1024)))
    one = recommend(card(A100), Intent("style", "quality"), "sdxl", dataset=data)
    four = recommend(card(A100), Intent("style", "quality"), "sdxl", dataset=data, locked={"train.batch_size": 4})
    assert four.job.get("train.steps") == one.job.get("train.steps")
    assert "updates" in four.reasons["train.steps"].why


def test_buckets_smaller_than_a_set_batch_are_named(tmp_path):
    sizes = [(1024, 1024)] * 5 + [(1344, 768)] * 2
    root = tmp_path / "buckets"
    root.mkdir()
    for i, size in enumerate(sizes):
        Image.new("RGB", size, (i, 0, 0)).save(root / f"i{i}.png")
        (root / f"i{i}.txt").write_text("sks", encoding="utf-8")
    rec = recommend(card(A100), Intent("style", "quality"), "sdxl", dataset=analyze_dataset(root),
                    locked={"train.batch_size": 4})
    note = next(n for n in rec.notes if n.kind == "batch")
    assert "duplicates" in note.text and "fewer than 4" in note.text


# ---- 5. memory levers in an expert's order --------------------------------------------------------------------------
def test_qwen_image_on_a_4090_takes_the_examples_3_bit_recipe_not_offloading():
    rec = recommend(card(RTX4090), Intent("style", "quality"), "qwen_image")
    assert rec.job.get("model.qtype").startswith("uint3|")
    assert not rec.job.get("model.layer_offloading")
    assert max(rec.job.get("datasets[].resolution")) == 1024
    assert rec.job.get("train.cache_text_embeddings") is True


def test_resolution_stops_at_the_usual_training_size_unless_the_user_asks():
    rec = recommend(card(A100), Intent("style", "quality"), "qwen_image")
    assert max(rec.job.get("datasets[].resolution")) == 1024
    assert "1328" in rec.reasons["datasets[].resolution"].why
    asked = recommend(card(A100), Intent("style", "quality"), "qwen_image", locked={"datasets[].resolution": [1328]})
    assert asked.job.get("datasets[].resolution") == [1328]


def fits_only_offloaded():
    """The engine's predictor, except that the training job fits only with layer offloading (whatever EMA does)."""
    def predictor(job, profile, dataset=None):
        p = predict(job, profile, dataset)
        if job.get("model.layer_offloading"):
            return dataclasses.replace(p, peak_vram_gib=5.0, low_gib=4.0, high_gib=6.0, verdict="fits")
        over = p.budget_gib + 4.0
        return dataclasses.replace(p, peak_vram_gib=over, low_gib=over, high_gib=over + 1, verdict="does_not_fit")
    return predictor


def test_features_dropped_on_the_way_are_tried_again_on_the_final_plan(person_dataset):
    rec = recommend(card(RTX3060), Intent("person", "quality"), "zimage", predictor=fits_only_offloaded(),
                    dataset=person_dataset)
    assert rec.fits and rec.job.get("model.layer_offloading") is True
    assert rec.job.get("train.ema_config.use_ema") is True
    assert rec.job.get("train.diff_output_preservation") is True


# ---- 6. Wan ----------------------------------------------------------------------------------------------------
def test_wan_2_2_writes_the_examples_expert_switching_with_one_resident_expert():
    rec = recommend(card(RTX4090), Intent("style", "quality"), "wan22_14b:t2v")
    assert rec.job.get("train.switch_boundary_every") == 10
    assert rec.job.get("model.low_vram") is True
    assert "expert" in rec.reasons["train.switch_boundary_every"].why


@pytest.mark.parametrize("weights, arch", [("Wan-AI/Wan2.1-T2V-14B-Diffusers", "wan21:14b"),
                                           ("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "wan21:1b"),
                                           ("/models/Wan2.1-T2V-14B-Diffusers/", "wan21:14b")])
def test_wan_2_1_size_is_told_by_its_weights(weights, arch):
    job = job_model().model_validate({"job": "extension", "config": {"name": "x", "process": [
        {"type": "sd_trainer", "model": {"arch": "wan21", "name_or_path": weights}}]}})
    assert arch_of(job).arch == arch


# ---- 7. edit models ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["qwen_image_edit", "qwen_image_edit_plus"])
def test_edit_models_on_a_4090_cache_embeddings_with_the_3_bit_recipe_at_batch_1(arch):
    rec = recommend(card(RTX4090), Intent("person", "quality"), arch)
    assert rec.job.get("train.cache_text_embeddings") is True
    assert rec.job.get("model.qtype").startswith("uint3|")
    assert rec.job.get("train.batch_size") == 1
    assert rec.job.get("train.diff_output_preservation") is False


# ---- 8. caption dropout, schedule, timesteps --------------------------------------------------------------------------
def test_caption_dropout_stays_with_cached_embeddings():
    rec = recommend(card(RTX4090), Intent("style", "quality"), "qwen_image")
    assert rec.job.get("train.cache_text_embeddings") is True
    assert rec.job.get("datasets[].caption_dropout_rate") == 0.05


def test_the_schedule_is_constant_unless_asked():
    for priority in ("quality", "speed", "memory"):
        rec = recommend(card(RTX4090), Intent("style", priority), "flux")
        assert rec.job.get("train.lr_scheduler") == "constant"
        assert not rec.job.get("train.lr_scheduler_params")


@pytest.mark.parametrize("arch, timestep", [("lumina2", "lumina2_shift"), ("flex2", "shift"), ("sd3", "linear")])
def test_timestep_type_follows_the_archs_example(arch, timestep):
    assert recommend(card(RTX4090), Intent("style", "quality"), arch).job.get("train.timestep_type") == timestep


# ---- 9. long runs ------------------------------------------------------------------------------------------------
def test_a_long_run_is_warned_with_the_plan_that_halves_it():
    rec = recommend(card(RTX3060), Intent("style", "quality"), "qwen_image")
    total = rec.prediction.total_seconds
    assert total > 8 * 3600
    note = next(n for n in rec.notes if n.kind == "long_run")
    assert note.severity == "warning" and "halves it" in note.text
    alt = note.alternative
    assert alt.total_seconds <= total / 2
    faster = predict(rec.job.with_values(dict(alt.changes)), card(RTX3060))
    assert faster.verdict == "fits" and faster.total_seconds == alt.total_seconds


def test_a_short_run_gets_no_long_run_warning():
    rec = recommend(card(A100), Intent("style", "quality"), "sd15")
    assert not [n for n in rec.notes if n.kind == "long_run"]


# ---- 10. system RAM ---------------------------------------------------------------------------------------------
def test_a_ram_estimate_above_the_machine_warns_and_never_blocks():
    profile = card(RTX4090, ram=32)
    rec = recommend(profile, Intent("style", "quality"), "chroma")  # ≈ 6 bytes per parameter while loading
    assert rec.prediction.ram_peak_gib > 32
    assert rec.fits
    note = next(n for n in rec.notes if n.kind == "ram")
    assert "estimate" in note.text and "low_vram" in note.text and "RAM" in note.text
    report = validate(rec.job, profile, prediction=rec.prediction)
    issue = next(i for i in report.issues if i.code == "ram-over-budget")
    assert issue.severity == "warning" and report.ok


# ---- 11. values from the dataset -------------------------------------------------------------------------------
def test_the_trigger_word_is_the_one_the_captions_share(dog_dataset):
    rec = recommend(card(RTX4090), Intent("pet", "quality"), "flux", dataset=dog_dataset)
    assert rec.job.get("process.trigger_word") == "sks"
    assert "23 of 25" in rec.reasons["process.trigger_word"].why


def test_a_pet_is_an_intent_of_its_own():
    assert "pet" in TRAINING_TYPES
    rec = recommend(card(RTX4090), Intent("pet", "quality"), "flux")
    assert rec.job.get("datasets[].flip_x") is False
    assert all("[trigger]" in s.prompt for s in rec.job.process.sample.samples)


def test_a_larger_rank_keeps_the_learning_rate_and_says_which_rank():
    base = recommend(card(RTX4090), Intent("person", "quality"), "flux")
    rec = recommend(card(RTX4090), Intent("person", "quality"), "flux", locked={"network.linear": 64})
    assert rec.job.get("train.lr") == base.job.get("train.lr")
    assert "rank 64" in rec.reasons["train.lr"].why and "rank 32" not in rec.reasons["train.lr"].why


# ---- 12. what changed to make it fit ----------------------------------------------------------------------------
def test_departures_from_the_recipe_are_listed_with_their_cost():
    rec = recommend(card(RTX3060), Intent("style", "quality"), "qwen_image")
    offload = next(d for d in rec.departures if d.group == "layer offloading")
    assert "train_lora_qwen_image_24gb.yaml" in offload.cost and "does not fit" in offload.cost
    assert offload.why
    review = advise(rec.job, card(RTX3060), Intent("style", "quality"), "review", recommendation=rec,
                    prediction=rec.prediction)
    assert any("layer offloading" in line for line in review.plan)
    assert any(line.startswith("Compared with the usual recipe") for line in review.plan)
    memory_step = advise(rec.job, card(RTX3060), Intent("style", "quality"), "model_specific", recommendation=rec)
    assert any("layer offloading" in line for line in memory_step.plan)


def test_the_cli_prints_the_departures_and_the_notes(tmp_path, capsys):
    out = tmp_path / "job.yaml"
    code = cli_main(["recommend", "--arch", "qwen_image", "--gpu", RTX3060, "--type", "style", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 0 and out.exists()
    assert "changed from the usual recipe, train_lora_qwen_image_24gb.yaml" in err
    assert "layer offloading" in err and "warning: Predicted" in err and "s/step" in err


def test_no_plan_writes_a_resolution_the_trainer_would_round():
    """Every arch's plan on a 12 GB and a 24 GB card writes its sizes as the trainer buckets them (no 'not a multiple'
    warning from our own validator, as ai-toolkit's Wan 2.1 example's 632 would get), lowered sizes too."""
    from nbwizard import models

    for profile in (card(RTX3060), card(RTX4090)):
        for spec in models():
            rec = recommend(profile, Intent("style", "quality"), spec.arch)
            assert "resolution-not-divisible" not in validate(rec.job, profile).codes, (spec.arch, profile.target)
