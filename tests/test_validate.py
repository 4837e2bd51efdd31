"""Validation: the trainer's real rules as issues (error / warning / suggestion), each fix removes its issue."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from types import SimpleNamespace as NS

import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st
from PIL import Image

from nbwizard import Intent, SystemProfile, dump_job, load_job, recommend
from nbwizard.engine.dataset import DatasetError, analyze_dataset
from nbwizard.engine.predict import predict
from nbwizard.engine.validate import UNSET, Fix, Issue, ValidationReport, apply_fix, rules, validate

JOBS = Path(__file__).parent / "fixtures" / "jobs"

# dataset folders that exist wherever the tests run (a missing folder is a warning of its own)
FOLDER_A = str(Path(__file__).parent / "fixtures")
FOLDER_B = str(Path(__file__).parent / "fixtures" / "jobs")

BASE = {
    "job": "extension",
    "config": {"name": "t", "process": [{
        "type": "diffusion_trainer",
        "training_folder": "output",
        "trigger_word": "sks",
        "network": {"type": "lora", "linear": 16, "linear_alpha": 16},
        "save": {"dtype": "bf16", "save_format": "safetensors"},
        "datasets": [{"folder_path": FOLDER_A, "caption_ext": "txt", "cache_latents_to_disk": True,
                      "resolution": [512, 768, 1024]}],
        "train": {"batch_size": 1, "steps": 2000, "gradient_checkpointing": True, "noise_scheduler": "flowmatch",
                  "optimizer": "adamw8bit", "lr": 1e-4, "dtype": "bf16"},
        "model": {"name_or_path": "black-forest-labs/FLUX.1-dev", "arch": "flux", "quantize": True},
        "sample": {"sampler": "flowmatch"},
    }]},
}


def job(*changes, **sections):
    """The base FLUX job with ``(path, value[, index])`` changes; UNSET removes a key."""
    data = copy.deepcopy(BASE)
    proc = data["config"]["process"][0]
    for key, value in sections.items():
        proc[key] = value
    j = load_job(data)
    for change in changes:
        path, value, index = (*change, 0) if len(change) == 2 else change
        j = j.unset(path, index) if value is UNSET else j.set(path, value, index)
    return j


def codes(report: ValidationReport) -> set[str]:
    return set(report.codes)


def the(report: ValidationReport, code: str) -> Issue:
    found = report.by_code(code)
    assert found, f"{code} not in {report.codes}"
    return found[0]


def fixed(j, code, **kw):
    """Apply the fix of issue ``code`` and return (fixed job, new report); asserts the issue is gone."""
    issue = the(validate(j, **kw), code)
    assert issue.fix is not None, f"{code} has no fix"
    new = apply_fix(j, issue.fix)
    after = validate(new, **kw)
    assert not [i for i in after.by_code(code) if (i.field, i.index) == (issue.field, issue.index)], after.codes
    return new, after


# ---- the report ---------------------------------------------------------------------------------------------------
def test_the_base_job_has_no_issue_at_all():
    assert validate(job()).issues == ()


def test_report_splits_by_severity_errors_first_and_ok_means_no_errors():
    r = validate(job(("train.lr_scheduler", "step"), ("train.loss_type", "l2"), ("train.gradient_checkpointing",
                                                                              False)))
    assert [i.severity for i in r.issues] == sorted((i.severity for i in r.issues),
                                                    key=["error", "warning", "suggestion"].index)
    assert r.errors and r.warnings and r.suggestions and not r.ok
    assert r.for_field("train.lr_scheduler")[0].code == "lr-scheduler-step"
    assert validate(job(("train.loss_type", "l2"))).ok


def test_issues_and_fixes_are_frozen():
    issue = the(validate(job(("train.lr_scheduler", "step"))), "lr-scheduler-step")
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue.code = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue.fix.label = "x"  # type: ignore[misc,union-attr]


def test_an_issue_on_a_dataset_names_its_index():
    j = job(("datasets[].folder_path", FOLDER_B, 1), ("datasets[].caption_ext", "png", 1))
    issue = the(validate(j), "caption-ext-invalid")
    assert (issue.field, issue.index, issue.location) == ("datasets[].caption_ext", 1, "datasets[1].caption_ext")
    assert validate(j).for_field("datasets[].caption_ext", 0) == ()


def test_apply_fix_returns_a_new_job_and_leaves_the_old_one():
    j = job(("train.lr_scheduler", "step"))
    new = apply_fix(j, Fix.of("x", ("train.lr_scheduler", "cosine"), ("train.steps", UNSET)))
    assert (new.get("train.lr_scheduler"), new.is_set("train.steps")) == ("cosine", False)
    assert (j.get("train.lr_scheduler"), j.get("train.steps")) == ("step", 2000)


def test_rules_are_a_registry_of_documented_functions():
    assert len(rules()) == 54
    for rule in rules():
        assert rule.__doc__ and len(rule.__doc__) > 40, rule.__name__


# ---- fixtures -----------------------------------------------------------------------------------------------------
def test_flux_fixture_has_no_errors():
    assert validate(load_job(JOBS / "flux_lora_24gb.yaml")).ok


def test_unknown_keys_fixture_offers_did_you_mean_fixes_that_move_the_value():
    j = load_job(JOBS / "unknown_keys.yaml")
    typos = {(i.field, i.index): i for i in validate(j).by_code("unknown-key-typo")}
    assert set(typos) == {("train.lr", None), ("network.linear", None), ("datasets[].caption_ext", 0)}
    assert all(i.severity == "error" and "Did you mean" in i.message for i in typos.values())
    fixed_job = j
    for issue in typos.values():
        fixed_job = apply_fix(fixed_job, issue.fix)
    assert (fixed_job.get("train.lr"), fixed_job.get("network.linear"),
            fixed_job.get("datasets[].caption_ext")) == (1e-4, 32, "txt")
    assert not fixed_job.is_set("train.learning_rate")
    left = validate(fixed_job)
    assert "unknown-key-typo" not in left.codes
    # keys with no likely meaning stay warnings, with a fix that removes them
    assert {i.field for i in left.by_code("unknown-key")} == {"process.my_notes", "train.lr_warmup"}


def test_unknown_keys_fixture_also_flags_the_flux_noise_scheduler_default():
    assert "noise-scheduler-not-flowmatch" in validate(load_job(JOBS / "unknown_keys.yaml")).codes


@pytest.mark.parametrize("path", sorted(JOBS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_fix_on_every_fixture_removes_its_issue(path):
    j = load_job(path)
    for issue in validate(j).issues:
        if issue.fix is not None:
            after = validate(apply_fix(j, issue.fix))
            assert not [i for i in after.issues if (i.code, i.field, i.index) == (issue.code, issue.field,
                                                                                 issue.index)], issue


def test_every_section_fixture_gets_the_decorator_and_monitoring_issues():
    r = validate(load_job(JOBS / "every_section.yaml"))
    assert {"decorator-non-flux", "trainer-ignores-key", "noise-scheduler-not-flowmatch"} <= codes(r)
    assert "trainer-ignores-key" not in codes(validate(load_job(JOBS / "every_section.yaml"), trainer="extended"))


# ---- schedulers and optimizer -------------------------------------------------------------------------------------
def test_step_scheduler_is_an_error_with_a_fix_to_constant():
    j = job(("train.lr_scheduler", "step"))
    issue = the(validate(j), "lr-scheduler-step")
    assert issue.severity == "error" and "total_iters" in issue.message
    new, _ = fixed(j, "lr-scheduler-step")
    assert new.get("train.lr_scheduler") == "constant"


@pytest.mark.parametrize("name,target", [("polynomial", "constant"), ("cosine_with_min_lr", "cosine")])
def test_diffusers_only_schedulers_are_errors(name, target):
    new, _ = fixed(job(("train.lr_scheduler", name), ("train.lr_scheduler_params", {"num_warmup_steps": 10})),
                   "lr-scheduler-diffusers")
    assert new.get("train.lr_scheduler") == target and not new.is_set("train.lr_scheduler_params")


def test_unknown_scheduler_name_is_an_error():
    fixed(job(("train.lr_scheduler", "cosinus")), "invalid-train-lr-scheduler")


@pytest.mark.parametrize("name,params", [("cosine_with_restarts", {"num_cycles": 3}),
                                         ("linear", {"warmup_steps": 100, "start_factor": 1.0})])
def test_scheduler_params_the_constructor_rejects_are_errors(name, params):
    # the fork wizard's bug B1: these crash the trainer at start
    new, _ = fixed(job(("train.lr_scheduler", name), ("train.lr_scheduler_params", params)), "lr-scheduler-params")
    assert set(new.to_dict()["config"]["process"][0]["train"]["lr_scheduler_params"]) <= {"start_factor"}


def test_linear_scheduler_warns_that_it_ramps_up_by_default():
    assert the(validate(job(("train.lr_scheduler", "linear"))), "lr-scheduler-linear-warmup").severity == "warning"
    new, _ = fixed(job(("train.lr_scheduler", "linear")), "lr-scheduler-linear-warmup")
    assert "lr-scheduler-params" not in validate(new).codes


def test_cosine_with_restarts_never_restarts_suggestion():
    fixed(job(("train.lr_scheduler", "cosine_with_restarts")), "lr-scheduler-no-restarts")


@pytest.mark.parametrize("optimizer", ["adamw", "AdamW8bit", "prodigy", "dadaptation", "adam8"])
def test_eps_in_optimizer_params_is_an_error_for_optimizers_that_get_eps(optimizer):
    j = job(("train.optimizer", optimizer), ("train.lr", 1.0), ("train.optimizer_params", {"eps": 1e-8,
                                                                                           "weight_decay": 0.01}))
    new, _ = fixed(j, "optimizer-eps")
    assert new.to_dict()["config"]["process"][0]["train"]["optimizer_params"] == {"weight_decay": 0.01}


def test_eps_is_fine_for_adafactor_and_lion():
    for optimizer in ("adafactor", "lion"):
        assert "optimizer-eps" not in codes(validate(job(("train.optimizer", optimizer),
                                                         ("train.optimizer_params", {"eps": 1e-8}))))


def test_unknown_optimizer_is_an_error_and_the_fix_picks_the_closest_name():
    new, _ = fixed(job(("train.optimizer", "adamw_8bit")), "invalid-train-optimizer")
    assert new.get("train.optimizer") == "adamw8bit"
    assert validate(job(("train.optimizer", "ProdigyOpt"), ("train.lr", 1.0))).ok


# ---- flow matching ------------------------------------------------------------------------------------------------
def test_non_flowmatch_noise_scheduler_on_flow_model_is_an_error():
    new, _ = fixed(job(("train.noise_scheduler", "euler")), "noise-scheduler-not-flowmatch")
    assert new.get("train.noise_scheduler") == "flowmatch"


def test_leaving_noise_scheduler_unset_on_flux_is_an_error_because_the_default_is_ddpm():
    assert "noise-scheduler-not-flowmatch" in codes(validate(job(("train.noise_scheduler", UNSET))))


def test_flowmatch_on_sdxl_is_a_warning_with_ddpm_fix():
    sdxl = job(("model.arch", "sdxl"), ("model.quantize", False), ("sample.sampler", "ddpm"),
               ("model.name_or_path", "stabilityai/stable-diffusion-xl-base-1.0"), ("datasets[].resolution", 1024))
    new, _ = fixed(sdxl, "noise-scheduler-flowmatch-on-epsilon")
    assert new.get("train.noise_scheduler") == "ddpm"


def test_unknown_noise_scheduler_on_sdxl_is_an_error():
    sdxl = job(("model.arch", "sdxl"), ("model.quantize", False), ("train.noise_scheduler", "eulr"),
               ("sample.sampler", "ddpm"))
    new, _ = fixed(sdxl, "invalid-train-noise-scheduler")
    assert new.get("train.noise_scheduler") == "euler"


@pytest.mark.parametrize("path", ["train.min_snr_gamma", "train.snr_gamma"])
def test_min_snr_on_flow_model_is_an_error(path):
    new, _ = fixed(job((path, 5.0)), "min-snr-on-flow")
    assert not new.is_set(path)
    sdxl = job(("model.arch", "sdxl"), ("model.quantize", False), ("train.noise_scheduler", "ddpm"),
               ("sample.sampler", "ddpm"), (path, 5.0))
    assert "min-snr-on-flow" not in codes(validate(sdxl))


def test_preview_sampler_must_match_legacy_flux():
    fixed(job(("sample.sampler", "euler_a")), "sampler-mismatch")


# ---- text encoders ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["qwen_image_edit", "qwen_image_edit_plus", "flux_kontext"])
def test_unload_te_with_edit_model_is_an_error_with_cache_fix(arch):
    j = job(("model.arch", arch), ("train.unload_text_encoder", True))
    new, after = fixed(j, "unload-te-edit-model")
    assert new.get("train.cache_text_embeddings") is True and "te-unloaded-but-trained" not in after.codes


def test_unload_te_on_image_model_warns_that_captions_are_ignored():
    new, _ = fixed(job(("train.unload_text_encoder", True)), "unload-te-ignores-captions")
    assert (new.get("train.unload_text_encoder"), new.get("train.cache_text_embeddings")) == (False, True)
    fixed(job(("train.unload_text_encoder", True), ("train.cache_text_embeddings", True)), "unload-and-cache-te")


def test_training_the_te_while_caching_embeddings_is_an_error():
    fixed(job(("train.cache_text_embeddings", True), ("train.train_text_encoder", True)), "te-unloaded-but-trained")


def test_caching_te_embeddings_on_only_some_datasets_is_an_error():
    j = job(("datasets[].cache_text_embeddings", True, 0), ("datasets[].folder_path", FOLDER_B, 1))
    issue = the(validate(j), "cache-te-partial")
    assert issue.severity == "error" and issue.index == 1
    fixed(j, "cache-te-partial")


def test_cached_te_embeddings_make_token_dropout_and_shuffling_no_ops():
    j = job(("train.cache_text_embeddings", True), ("datasets[].shuffle_tokens", True),
            ("datasets[].token_dropout_rate", 0.1))
    issue = the(validate(j), "cache-te-dynamic-captions")
    assert "token_dropout_rate" in issue.message and "shuffle_tokens" in issue.message
    fixed(j, "cache-te-dynamic-captions")


def test_caption_dropout_with_cached_te_embeddings_is_fine():
    # upstream caches a blank (or trigger-only) embedding for dropped captions
    j = job(("train.cache_text_embeddings", True), ("datasets[].caption_dropout_rate", 0.05))
    assert validate(j).issues == ()


# ---- output preservation ------------------------------------------------------------------------------------------
def test_dop_and_bpp_together_is_an_error():
    j = job(("train.diff_output_preservation", True), ("train.diff_output_preservation_class", "man"),
            ("train.blank_prompt_preservation", True))
    new, _ = fixed(j, "dop-and-bpp")
    assert new.get("train.blank_prompt_preservation") is False


def test_dop_without_trigger_word_is_an_error_fixed_by_turning_dop_off():
    j = job(("process.trigger_word", UNSET), ("train.diff_output_preservation", True),
            ("train.diff_output_preservation_class", "man"))
    fixed(j, "dop-without-trigger")
    with_dataset_trigger = j.set("datasets[].trigger_word", "ohwx")
    assert "dop-without-trigger" not in codes(validate(with_dataset_trigger))


def test_dop_without_class_is_a_warning():
    assert the(validate(job(("train.diff_output_preservation", True))), "dop-without-class").severity == "warning"


def test_dop_with_te_training_and_without_network_are_errors():
    fixed(job(("train.diff_output_preservation", True), ("train.diff_output_preservation_class", "man"),
              ("train.train_text_encoder", True)), "dop-train-te")
    j = job(("train.blank_prompt_preservation", True))
    data = j.to_dict()
    del data["config"]["process"][0]["network"]
    fixed(load_job(data), "preservation-without-network")


# ---- quantization -------------------------------------------------------------------------------------------------
def test_quantization_on_a_model_that_does_not_support_it_is_a_warning():
    sdxl = job(("model.arch", "sdxl"), ("train.noise_scheduler", "ddpm"), ("sample.sampler", "ddpm"))
    new, _ = fixed(sdxl, "quantize-unsupported")
    assert new.get("model.quantize") is False


def test_te_quantization_follows_quantize_and_is_flagged_where_unsupported():
    j = job(("model.arch", "hidream_o1"))
    issue = the(validate(j), "quantize-te-unsupported")
    assert "follows quantize" in issue.message
    fixed(j, "quantize-te-unsupported")


def test_unknown_qtype_is_an_error_only_when_quantizing():
    fixed(job(("model.qtype", "fp8")), "invalid-qtype")
    assert "invalid-qtype" not in codes(validate(job(("model.qtype", "fp8"), ("model.quantize", False),
                                                     ("model.quantize_te", False))))
    assert "invalid-qtype" not in codes(validate(job(("model.qtype", "uint3|ostris/x.safetensors"))))


def test_ara_with_assistant_lora_is_an_error():
    j = job(("model.qtype", "uint4|ostris/ara.safetensors"), ("model.assistant_lora_path", "ostris/adapter"))
    fixed(j, "ara-with-assistant-lora")


def test_layer_offloading_on_unsupported_arch_is_a_warning():
    fixed(job(("model.layer_offloading", True)), "layer-offloading-unsupported")


# ---- validate_configs rules ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("path,code", [("model.attn_masking", "attn-masking-non-flux"),
                                       ("model.split_model_over_gpus", "split-model-over-gpus-non-flux")])
def test_flux_only_switches_are_errors_on_other_models(path, code):
    assert code not in codes(validate(job((path, True))))
    fixed(job(("model.arch", "qwen_image"), (path, True)), code)


def test_bypass_guidance_with_guidance_loss_is_an_error():
    fixed(job(("train.bypass_guidance_embedding", True), ("train.do_guidance_loss", True)),
          "bypass-with-guidance-loss")
    new, _ = fixed(job(("model.use_flux_cfg", True), ("train.do_guidance_loss", True)), "bypass-with-guidance-loss")
    assert new.get("model.use_flux_cfg") is False


def test_both_gradient_accumulation_keys_is_an_error():
    fixed(job(("train.gradient_accumulation", 4), ("train.gradient_accumulation_steps", 2)), "grad-accum-conflict")


def test_poi_is_an_error():
    fixed(job(("datasets[].poi", "face")), "poi-deprecated")


# ---- network ------------------------------------------------------------------------------------------------------
def test_lokr_factor_values():
    lokr = job(("network.type", "lokr"), ("network.linear", UNSET), ("network.linear_alpha", UNSET))
    new, _ = fixed(lokr.set("network.lokr_factor", 0), "lokr-factor-invalid")
    assert new.get("network.lokr_factor") == -1
    assert validate(lokr.set("network.lokr_factor", 16)).issues == ()
    fixed(job(("network.lokr_factor", 8)), "lokr-factor-ignored")
    assert "lokr-rank-ignored" in codes(validate(job(("network.type", "lokr"))))


def test_linear_alpha_oddities():
    fixed(job(("network.linear", 0)), "network-rank-invalid")
    new, _ = fixed(job(("network.linear_alpha", 1)), "network-alpha-ignored")  # FLUX: PEFT format
    assert new.get("network.linear_alpha") == 16
    sdxl = job(("model.arch", "sdxl"), ("model.quantize", False), ("train.noise_scheduler", "ddpm"),
               ("sample.sampler", "ddpm"))
    fixed(sdxl.set("network.linear_alpha", 64), "network-alpha-above-rank")
    fixed(sdxl.set("network.linear_alpha", 0), "network-alpha-zero")


# ---- required keys and enumerations -------------------------------------------------------------------------------
def test_missing_model_path_says_model_path_is_required():
    issue = the(validate(job(("model.name_or_path", UNSET))), "missing-model-path")
    assert issue.severity == "error" and issue.message.startswith("Model path is required")
    new, _ = fixed(job(("model.name_or_path", UNSET)), "missing-model-path")
    assert new.get("model.name_or_path") == "black-forest-labs/FLUX.1-dev"


def test_required_name_process_type_and_dataset_folder():
    fixed(job(("config.name", UNSET)), "missing-config-name")
    fixed(job(("process.type", UNSET)), "missing-process-type")
    assert the(validate(job(("datasets[].folder_path", UNSET))), "missing-dataset-folder").index == 0
    assert "missing-datasets" in codes(validate(job(datasets=[])))
    empty = load_job({"job": "extension", "config": {"name": "x"}})
    assert "missing-process" in codes(validate(empty))


@pytest.mark.parametrize("path,bad,code,severity", [
    ("job", "extensoin", "invalid-job", "error"),
    ("process.type", "lora_trainer", "invalid-process-type", "error"),
    ("network.type", "loha", "invalid-network-type", "warning"),
    ("train.timestep_type", "sigmod", "invalid-train-timestep-type", "error"),
    ("train.loss_type", "l1", "invalid-train-loss-type", "warning"),
    ("train.dtype", "bfloat", "invalid-train-dtype", "error"),
    ("save.dtype", "bf15", "invalid-save-dtype", "error"),
    ("save.save_format", "ckpt", "invalid-save-save-format", "error"),
    ("train.content_or_style", "styles", "invalid-train-content-or-style", "warning"),
    ("datasets[].type", "video", "invalid-datasets-type", "error"),
])
def test_values_outside_the_enumerations(path, bad, code, severity):
    issue = the(validate(job((path, bad))), code)
    assert issue.severity == severity and "Accepted:" in issue.message
    fixed(job((path, bad)), code)


def test_legacy_job_types_are_a_warning():
    fixed(job(("job", "train")), "job-not-extension")


def test_unknown_augments_and_controls_are_warnings():
    fixed(job(("datasets[].augments", ["ColorJitter", "Blur"]), ("datasets[].cache_latents_to_disk", False)),
          "invalid-datasets-augments")
    fixed(job(("datasets[].controls", ["depth", "edges"])), "invalid-datasets-controls")


@pytest.mark.parametrize("ext", ["png", "", "a b", "captions/txt"])
def test_caption_ext_that_cannot_name_a_caption_file_is_an_error(ext):
    fixed(job(("datasets[].caption_ext", ext)), "caption-ext-invalid")


def test_json_and_dotted_caption_ext_are_fine():
    for ext in ("json", ".caption", "md"):
        assert "caption-ext-invalid" not in codes(validate(job(("datasets[].caption_ext", ext))))


# ---- keys the trainer ignores -------------------------------------------------------------------------------------
def test_fork_only_key_warns_on_upstream_and_is_fine_on_extended():
    j = job(("train.auto_scale_batch_size", True), ("datasets[].gpu_prefetch_batches", 2))
    issues = validate(j).by_code("trainer-ignores-key")
    assert {i.field for i in issues} == {"train.auto_scale_batch_size", "datasets[].gpu_prefetch_batches"}
    fixed(j, "trainer-ignores-key")
    assert validate(j, trainer="extended").issues == ()


def test_upstream_only_key_warns_on_the_extended_trainer():
    j = job(("model.compile_mode", "max-autotune"))
    assert "trainer-ignores-key" not in codes(validate(j))
    fixed(j, "trainer-ignores-key", trainer="extended")


def test_keys_without_effect_are_suggestions():
    issue = the(validate(job(("train.unet_lr", 5e-4))), "no-effect-key")
    assert issue.severity == "suggestion" and "train.lr" in issue.message
    fixed(job(("train.unet_lr", 5e-4)), "no-effect-key")
    assert validate(job(("process.device", "cuda:0"))).issues == ()


def test_typo_next_to_the_real_key_offers_to_use_its_value_there():
    j = job(("train.learning_rate", 3e-4))
    issue = the(validate(j), "unknown-key")
    assert "'lr' is set to 0.0001" in issue.message and "Did you mean 'lr'" in issue.message
    fixed = apply_fix(j, issue.fix)
    assert fixed.get("train.lr") == 3e-4 and "unknown-key" not in validate(fixed).codes


def test_an_unknown_key_with_no_likely_meaning_can_be_removed():
    issue = the(validate(job(("train.zzz_notes", "hi"))), "unknown-key")
    assert issue.fix.patch == (("train.zzz_notes", UNSET, 0),)


# ---- numbers and resolutions --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path,value,code", [("train.steps", 0, "steps-invalid"),
                                             ("train.batch_size", 0, "batch-size-invalid"),
                                             ("train.gradient_accumulation", 0, "gradient-accumulation-invalid"),
                                             ("train.lr", 0, "lr-invalid"), ("train.lr", 0.05, "lr-high"),
                                             ("train.min_denoising_steps", 999, "denoising-range"),
                                             ("datasets[].caption_dropout_rate", 1.5, "caption-dropout-range")])
def test_numbers_out_of_range(path, value, code):
    fixed(job((path, value)), code)


def test_prodigy_learning_rate_is_replaced_by_one():
    new, _ = fixed(job(("train.optimizer", "prodigy")), "lr-replaced-by-optimizer")
    assert new.get("train.lr") == 1.0


def test_resolution_not_divisible_by_the_bucket_step_is_a_warning():
    issue = the(validate(job(("datasets[].resolution", [500, 1024]))), "resolution-not-divisible")
    assert "16" in issue.message and "496" in issue.message
    new, _ = fixed(job(("datasets[].resolution", [500, 1024])), "resolution-not-divisible")
    assert new.get("datasets[].resolution") == [496, 1024]
    new, _ = fixed(job(("datasets[].resolution", 1000)), "resolution-not-divisible")
    assert new.get("datasets[].resolution") == 992


def test_resolution_listed_twice_trains_twice():
    new, _ = fixed(job(("datasets[].resolution", [1024, 1024])), "resolution-duplicate")
    assert new.get("datasets[].resolution") == [1024]
    fixed(job(("datasets[].resolution", [0])), "resolution-invalid")


def test_augments_turn_latent_caching_off():
    fixed(job(("datasets[].augments", ["ColorJitter"])), "augments-disable-cache")


def test_sampling_conflicts():
    fixed(job(("train.skip_first_sample", True), ("train.force_first_sample", True)), "first-sample-conflict")
    fixed(job(("sample.prompts", ["a"]), ("sample.samples", [{"prompt": "b"}])), "sample-prompts-ignored")


# ---- prediction ---------------------------------------------------------------------------------------------------
def pred(verdict="does_not_fit", peak=14.2, budget=12.0, **kw):
    return NS(peak_vram_gib=peak, budget_gib=budget, verdict=verdict, verdict_reason="", **kw)


def predictor(j):
    """A stand-in for predict(): 8 GB per image in the batch, less with checkpointing and quantization."""
    gib = 6.0 * j.get("train.batch_size") + (0 if j.get("train.gradient_checkpointing") else 8)
    gib -= 4 if j.get("model.quantize") else 0
    return pred("does_not_fit" if gib > 12 else "fits", gib, 12.0)


def test_vram_over_budget_is_an_error_in_plain_words():
    j = job(("train.batch_size", 8), ("datasets[].resolution", 1024))
    issue = the(validate(j, prediction=pred()), "vram-over-budget")
    assert issue.severity == "error"
    assert issue.message.startswith("Batch size 8 at 1024px may exceed the 12 GiB your GPU leaves for training")


def test_vram_fix_walks_the_memory_savers_until_the_job_fits():
    j = job(("train.batch_size", 4), ("train.gradient_checkpointing", False), ("model.quantize", False))
    steps = []
    for _ in range(5):
        report = validate(j, prediction=predictor(j))
        if "vram-over-budget" not in report.codes:
            break
        issue = the(report, "vram-over-budget")
        steps.append(issue.fix.label)
        j = apply_fix(j, issue.fix)
    assert steps == ["Turn on gradient checkpointing", "Quantize the model (qfloat8)", "Lower the batch size to 2"]
    assert "vram-over-budget" not in validate(j, prediction=predictor(j)).codes


def test_vram_fix_from_the_prediction_wins():
    offered = Fix.of("Offload 50% of the layers", ("model.layer_offloading_transformer_percent", 0.5))
    issue = the(validate(job(), prediction=pred(fix=offered)), "vram-over-budget")
    assert issue.fix is offered


def test_tight_vram_is_a_warning_and_verdict_can_be_derived_from_numbers():
    assert the(validate(job(), prediction=pred("tight", 11.5)), "vram-tight").severity == "warning"
    assert "vram-over-budget" in codes(validate(job(), prediction=NS(peak_vram_gib=20.0, budget_gib=16.0)))
    assert validate(job(), prediction=pred("fits", 8.0)).issues == ()
    assert validate(job(), prediction=pred("unknown", None, None)).issues == ()


def test_sampling_peak_over_budget_warns_of_a_late_oom():
    p = pred("fits", 10.0, 12.0, sample=NS(peak_vram_gib=13.5))
    fixed(job(), "sample-vram-over-budget", prediction=p)
    assert "sample-vram-over-budget" in codes(validate(job(), prediction=pred("fits", 10.0, 12.0, sample=13.5)))


def test_ram_and_disk_over_budget():
    profile = NS(ram_total_gib=NS(value=32.0), ram_available_gib=NS(value=20.0), vram_budget_gib=24.0)
    assert "ram-over-budget" in codes(validate(job(), profile, prediction=NS(ram_peak_gib=40.0)))
    assert the(validate(job(), profile, prediction=NS(ram_peak_gib=25.0)), "ram-tight").severity == "warning"
    disk = NS(total_gib=50.0, free_gib=10.0)
    assert the(validate(job(), prediction=NS(disk=disk)), "disk-over-budget").severity == "error"


# ---- dataset ------------------------------------------------------------------------------------------------------
def info(n=20, missing=0, with_trigger=None, below=0, corrupt=0, trigger="sks"):
    return NS(images=tuple(range(n)), videos=(), videos_trained=False, corrupt=tuple(range(corrupt)),
              trigger_word=trigger,
              captions=NS(missing=tuple(range(missing)), empty=(), items=n,
                          with_trigger=n if with_trigger is None else with_trigger),
              buckets=(NS(resolution=512, below_resolution=tuple(range(below))),
                       NS(resolution=1024, below_resolution=tuple(range(n)))))


def test_a_healthy_dataset_adds_no_issue():
    assert validate(job(), dataset=info()).issues == ()


def test_missing_or_empty_dataset_folder_is_an_error():
    missing = validate(job(), dataset=DatasetError("/data/a does not exist"))
    assert the(missing, "dataset-missing").severity == "error" and "does not exist" in missing.errors[0].message
    assert the(validate(job(), dataset=info(0)), "dataset-empty").severity == "error"
    assert "dataset-unreadable-files" in codes(validate(job(), dataset=info(corrupt=2)))


def test_images_smaller_than_every_bucket_are_a_warning():
    issue = the(validate(job(), dataset=info(below=3)), "dataset-small-images")
    assert "3 of 20" in issue.message and "512×512" in issue.message


def test_missing_captions_without_default_caption():
    no_trigger = job(("process.trigger_word", UNSET))
    assert the(validate(no_trigger, dataset=info(missing=4, trigger=None)),
               "dataset-captions-missing").severity == "warning"
    assert the(validate(job(), dataset=info(missing=4)), "dataset-captions-missing").severity == "suggestion"
    with_default = no_trigger.set("datasets[].default_caption", "a photo")
    assert "dataset-captions-missing" not in codes(validate(with_default, dataset=info(missing=4, trigger=None)))


def test_trigger_word_absent_from_every_caption_is_a_suggestion():
    assert "dataset-trigger-absent" in codes(validate(job(), dataset=info(with_trigger=0)))
    assert "dataset-trigger-absent" not in codes(validate(job(), dataset=info(with_trigger=3)))


@pytest.mark.parametrize("steps,images", [(2, 20), (20000, 10)])
def test_steps_far_from_the_dataset_size_are_a_suggestion_with_a_fix(steps, images):
    j = job(("train.steps", steps))
    fixed(j, "steps-per-image", dataset=info(images))


def test_dataset_rules_accept_a_list_of_analyses_one_per_dataset():
    j = job(("datasets[].folder_path", FOLDER_B, 1))
    r = validate(j, dataset=[info(), info(0)])
    assert the(r, "dataset-empty").index == 1


def test_a_real_analysis_feeds_the_rules(tmp_path):
    for k in range(3):
        Image.new("RGB", (300, 300)).save(tmp_path / f"{k}.png")
    (tmp_path / "0.txt").write_text("a photo")
    j = job(("datasets[].folder_path", str(tmp_path)), ("process.trigger_word", UNSET))
    r = validate(j, dataset=analyze_dataset(tmp_path, resolutions=(512, 768, 1024)))
    assert {"dataset-small-images", "dataset-captions-missing", "steps-per-image"} <= codes(r)


# ---- "consider enabling" ------------------------------------------------------------------------------------------
def test_consider_gradient_checkpointing_on_a_large_model():
    fixed(job(("train.gradient_checkpointing", False)), "consider-gradient-checkpointing")
    assert "consider-gradient-checkpointing" not in codes(
        validate(job(("train.gradient_checkpointing", False)), prediction=pred("fits", 20.0, 80.0)))


def test_consider_quantization_and_latent_caching():
    new, _ = fixed(job(("model.quantize", False)), "consider-quantization")
    assert new.get("model.qtype") == "qfloat8"
    fixed(job(("datasets[].cache_latents_to_disk", False)), "consider-cache-latents")


# ---- never raises -------------------------------------------------------------------------------------------------
_ANY = st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(allow_nan=True),
                 st.text(max_size=12), st.sampled_from(["", "step", "flowmatch", "lokr", "uint4|x", "qwen_image_edit",
                                                        "sdxl", "prodigy", "-1", "txt"]),
                 st.lists(st.integers(-5, 5000), max_size=4), st.dictionaries(st.text(max_size=5), st.integers(),
                                                                              max_size=3))
_PATHS = ["train.lr", "train.steps", "train.batch_size", "train.lr_scheduler", "train.lr_scheduler_params",
          "train.optimizer", "train.optimizer_params", "train.noise_scheduler", "train.min_snr_gamma",
          "train.gradient_accumulation", "train.gradient_accumulation_steps", "train.diff_output_preservation",
          "train.diff_output_preservation_class", "train.blank_prompt_preservation", "train.unload_text_encoder",
          "train.cache_text_embeddings", "train.min_denoising_steps", "train.max_denoising_steps",
          "model.arch", "model.name_or_path", "model.quantize", "model.quantize_te", "model.qtype",
          "model.assistant_lora_path", "network.type", "network.linear", "network.linear_alpha", "network.rank",
          "network.lokr_factor", "datasets[].resolution", "datasets[].caption_ext", "datasets[].folder_path",
          "datasets[].caption_dropout_rate", "datasets[].augments", "datasets[].poi", "process.trigger_word",
          "config.name", "job", "sample.sampler", "save.save_format"]


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_PATHS), _ANY), max_size=8), st.sampled_from(["upstream", "extended"]))
@example([("network.linear_alpha", float("inf"))], "upstream")  # found by CI: a DiT's alpha check formatted None
def test_validate_never_raises_on_odd_jobs(changes, trainer):
    j = job()
    for path, value in changes:
        try:
            j = j.set(path, value)
        except ValueError:  # the job model rejects the wrong type; odd values of the right type remain
            continue
    report = validate(j, NS(vram_budget_gib=None), trainer, dataset=info(0),
                      prediction=NS(verdict="does_not_fit", peak_vram_gib=float("inf"), budget_gib=None))
    assert "rule-failed" not in report.codes, report.by_code("rule-failed")
    for issue in report.issues:
        if issue.fix is not None:
            try:
                apply_fix(j, issue.fix)
            except ValueError as exc:
                pytest.fail(f"fix of {issue.code} does not apply: {exc}")


def test_an_unknown_trainer_flavour_is_the_callers_mistake():
    with pytest.raises(ValueError, match="trainer flavour"):
        validate(job(), trainer="fork")


def test_the_real_prediction_feeds_the_budget_rule_and_its_fix_lowers_the_peak():
    predict = pytest.importorskip("nbwizard.engine.predict").predict
    from nbwizard.engine.profile import SystemProfile

    profile = SystemProfile.for_gpu("RTX 3060", ram_gb=32)
    j = job(("train.batch_size", 8), ("datasets[].resolution", 1024), ("model.quantize", False))
    before = predict(j, profile)
    issue = the(validate(j, profile, prediction=before), "vram-over-budget")
    assert issue.message.startswith("Batch size 8 at 1024px may exceed the ")
    assert f"{profile.vram_budget_gib:g} GiB your GPU leaves for training" in issue.message
    assert predict(apply_fix(j, issue.fix), profile).peak_vram_gib < before.peak_vram_gib


def test_a_dataset_folder_missing_on_this_machine_is_a_warning_not_an_error(tmp_path):
    job = load_job({"job": "extension", "config": {"name": "x", "process": [
        {"type": "sd_trainer", "datasets": [{"folder_path": str(tmp_path / "nowhere")}, {"folder_path": str(tmp_path)}],
         "model": {"name_or_path": "black-forest-labs/FLUX.1-dev", "arch": "flux"}}]}})
    found = [i for i in validate(job).issues if i.code == "dataset-folder-not-here"]
    assert [(i.severity, i.index) for i in found] == [("warning", 0)]
    assert "does not exist on this machine" in found[0].message


def test_a_job_without_training_folder_is_an_error_with_a_fix():
    j = job(("process.training_folder", UNSET))
    issue = the(validate(j), "missing-training-folder")
    assert issue.severity == "error" and "TypeError" in issue.message
    assert "missing-training-folder" not in validate(apply_fix(j, issue.fix)).codes


def test_numbers_written_as_text_in_the_file_are_a_warning():
    text = "job: extension\nconfig:\n  name: q\n  process:\n    - train: {lr: '1e-4', steps: '2000'}\n"
    found = {i.field: i for i in validate(load_job(text)).issues if i.code == "quoted-number"}
    assert set(found) == {"train.lr", "train.steps"} and "'1e-4'" in found["train.lr"].message
    assert "quoted-number" not in validate(load_job(dump_job(load_job(text)))).codes


@pytest.mark.parametrize("kind,process_type", [("extract", "locon"), ("generate", "to_folder"), ("mod", "rescale_lora"),
                                               ("train", "slider")])
def test_jobs_that_are_not_training_jobs_are_kept_and_not_judged(kind, process_type):
    j = load_job({"job": kind, "config": {"name": "x", "base_model": "m", "process": [{"type": process_type}]}})
    report = validate(j)
    assert report.codes == ("not-a-training-job",) and report.ok
    assert j.unknown_keys() == []


def test_hidream_without_checkpointing_is_an_error_because_its_model_code_fails():
    # the trace of HiDream's step without checkpointing raised in ai-toolkit's own MoE code (traces.json)
    profile = SystemProfile.for_gpu("A100 80GB")
    job = recommend(profile, Intent("style", "quality"), "hidream").job
    off = job.set("train.gradient_checkpointing", False)
    issue = next(i for i in validate(off, profile).issues if i.code == "model-fails-without-checkpointing")
    assert issue.severity == "error" and "inplace" in issue.message
    assert apply_fix(off, issue.fix).get("train.gradient_checkpointing") is True
    assert not [i for i in validate(job, profile).issues if i.code == "model-fails-without-checkpointing"]


def test_a_variant_tag_on_another_variants_weights_is_sized_as_the_weights_and_warned():
    """``arch: 'wan21:14b'`` on Wan 2.1 1.3B weights: ai-toolkit builds the model from the weights, so the job trains
    (and is predicted as) the 1.3B model, and the validator says so."""
    from nbwizard.engine.arch import identify

    mixed = load_job({"job": "extension", "config": {"name": "t", "process": [{
        "type": "sd_trainer", "model": {"arch": "wan21:14b", "name_or_path": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"}}]}})
    assert identify(mixed).spec.arch == "wan21:1b"
    issue = next(i for i in validate(mixed).issues if i.code == "model-weights-mismatch")
    assert issue.severity == "warning" and "trains Wan 2.1 (1.3B)" in issue.message
    matching = mixed.set("model.name_or_path", "Wan-AI/Wan2.1-T2V-14B-Diffusers")
    assert identify(matching).spec.arch == "wan21:14b"
    assert "model-weights-mismatch" not in validate(matching).codes


def test_a_later_process_entry_is_checked_for_the_same_machine():
    """ai-toolkit runs each process entry in turn on the same GPU: the second entry's memory is predicted on its own,
    and its folders are judged for the planned machine, as the first entry's are."""
    first = {"type": "sd_trainer", "training_folder": "output",
             "model": {"arch": "sdxl", "name_or_path": "stabilityai/stable-diffusion-xl-base-1.0"},
             "network": {"type": "lora", "linear": 16, "linear_alpha": 16},
             "datasets": [{"folder_path": "/data/a", "resolution": [1024]}]}
    second = {"type": "sd_trainer", "training_folder": "output",
              "model": {"arch": "flux", "name_or_path": "black-forest-labs/FLUX.1-dev", "quantize": False},
              "train": {"noise_scheduler": "flowmatch", "gradient_checkpointing": False},
              "sample": {"sampler": "flowmatch"}, "network": {"type": "lora", "linear": 16, "linear_alpha": 16},
              "datasets": [{"folder_path": "/data/b", "resolution": [1024]}]}
    job = load_job({"job": "extension", "config": {"name": "two", "process": [first, second]}})
    profile = SystemProfile.for_gpu("RTX 4090", ram_gb=64)
    report = validate(job, profile, prediction=predict(job, profile))
    later = [i for i in report.issues if i.process == 1]
    assert any(i.code == "vram-over-budget" for i in later)
    assert not any(i.code == "vram-over-budget" for i in report.issues if i.process == 0)
    folder = next(i for i in later if i.code == "dataset-folder-not-here")
    assert "planned RTX 4090 machine" in folder.message


def test_a_batch_the_models_code_cannot_train_is_an_error_with_the_accumulation_fix():
    """Mage-Flow packs a batch into one sequence and ai-toolkit's per-sample LoRA multiplier then empties every LoRA'd
    projection: batch 2 is an error whose fix keeps the updates' batch through gradient accumulation."""
    job = load_job({"job": "extension", "config": {"name": "m", "process": [{
        "type": "sd_trainer", "training_folder": "output", "model": {"arch": "mageflow"},
        "train": {"batch_size": 4}, "datasets": [{"folder_path": "/d"}]}]}})
    issue = next(i for i in validate(job).issues if i.code == "batch-above-model-limit")
    assert issue.severity == "error" and "network_mixins.py" in issue.message
    fixed = apply_fix(job, issue.fix)
    assert (fixed.get("train.batch_size"), fixed.get("train.gradient_accumulation")) == (1, 4)
    assert "batch-above-model-limit" not in validate(fixed).codes
    flux = load_job({"job": "extension", "config": {"name": "f", "process": [{
        "type": "sd_trainer", "training_folder": "output", "model": {"arch": "flux"},
        "train": {"batch_size": 4}, "datasets": [{"folder_path": "/d"}]}]}})
    assert "batch-above-model-limit" not in validate(flux).codes
