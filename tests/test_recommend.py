"""recommend(): every arch x reference profile x priority gives a complete, valid, fitting (or explained) job."""

from __future__ import annotations

import time

import pytest

from nbwizard import dump_job, load_job
from nbwizard.engine.intent import PRIORITIES, Intent
from nbwizard.engine.models import models
from nbwizard.engine.profile import SystemProfile
from nbwizard.engine.recommend import NO_GPU, Recommendation, recommend
from nbwizard.engine.validate import validate

ARCH_COUNT = 52


def _cpu_only() -> SystemProfile:
    base = SystemProfile.for_gpu("RTX 4090", ram_gb=16, cores=8)
    return SystemProfile.model_validate({**base.model_dump(), "gpus": [], "gpu_reason": "no GPU found",
                                         "target": None})


PROFILES = {
    "RTX 3060 12 GB": lambda: SystemProfile.for_gpu("RTX 3060 12GB", ram_gb=64, cores=12),
    "RTX 4090 24 GB": lambda: SystemProfile.for_gpu("RTX 4090", ram_gb=64, cores=16),
    "A100 80 GB": lambda: SystemProfile.for_gpu("A100 SXM4 80GB", ram_gb=256, cores=32),
    "Apple M3 Max 64 GB": lambda: SystemProfile.for_gpu("Apple M3 Max", memory_gib=64),
    "DGX Spark": lambda: SystemProfile.for_gpu("DGX Spark"),
    "CPU only": _cpu_only,
}

RESOURCE_ERRORS = {"vram-over-budget", "ram-over-budget", "disk-over-budget"}
REQUIRED_SECTIONS = ("type", "training_folder", "device", "network", "save", "datasets", "train", "model", "sample")


def _check(rec: Recommendation, profile: SystemProfile, where: str) -> None:
    job = rec.job
    data = job.to_dict()
    assert data["job"] == "extension" and data["meta"], where
    process = data["config"]["process"][0]
    missing = [k for k in REQUIRED_SECTIONS if k not in process]
    assert not missing, f"{where}: missing {missing}"
    # comments=False: the commented dump is the same data plus ~80 ms of comment lookup (see test_yaml_round_trip)
    assert load_job(dump_job(job, comments=False)) == job, f"{where}: YAML round trip differs"
    report = validate(job, profile, prediction=rec.prediction)
    # a job that does not fit is allowed the errors that say so (VRAM / RAM over budget), nothing else
    errors = [i for i in report.errors if rec.fits or i.code not in RESOURCE_ERRORS]
    assert not errors, f"{where}: " + "; ".join(f"{i.code}: {i.message}" for i in errors)
    if rec.fits:
        assert rec.prediction.verdict == "fits", where
        assert rec.why_not is None, where
    else:
        assert rec.why_not, f"{where}: fits=False without why_not"


def test_catalog_count():
    assert len(models()) == ARCH_COUNT


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_arch_and_priority(name):
    profile = PROFILES[name]()
    for spec in models():
        for priority in PRIORITIES:
            rec = recommend(profile, Intent("person", priority), spec.arch)
            _check(rec, profile, f"{spec.arch} on {name} ({priority})")
            if name == "CPU only":
                assert not rec.fits and rec.why_not == NO_GPU


def test_yaml_round_trip_with_comments():
    for priority in PRIORITIES:
        rec = recommend(PROFILES["RTX 4090 24 GB"](), Intent("style", priority), "qwen_image")
        assert load_job(dump_job(rec.job)) == rec.job


def test_cpu_only_still_complete():
    rec = recommend(_cpu_only(), Intent("style", "quality"), "flux")
    assert rec.why_not == NO_GPU and not rec.fits
    assert rec.job.get("train.steps") > 0 and rec.job.get("model.name_or_path")


def test_every_chosen_path_has_a_reason():
    rec = recommend(PROFILES["RTX 4090 24 GB"](), Intent("person", "quality"), "qwen_image")
    data = rec.job.to_dict()["config"]["process"][0]

    def leaves(node, prefix):
        for key, value in node.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and key not in ("optimizer_params", "lr_scheduler_params", "model_kwargs"):
                yield from leaves(value, path + ".")
            elif key == "datasets":
                yield from leaves(value[0], "datasets[].")
            elif key == "samples":
                yield "sample.samples[].prompt"
            else:
                yield path.removeprefix("process.")

    for path in leaves(data, ""):
        path = {"type": "process.type", "training_folder": "process.training_folder", "device": "process.device",
                "trigger_word": "process.trigger_word"}.get(path, path)
        assert path in rec.reasons, f"no reason for {path}"
        assert rec.reasons[path].why.strip(), path
    for path in ("job", "config.name", "meta.name", "meta.version"):
        assert path in rec.reasons


def test_locked_value_is_kept_and_the_rest_chosen_around_it():
    profile = PROFILES["RTX 4090 24 GB"]()
    free = recommend(profile, Intent("person", "quality"), "flux")
    rec = recommend(profile, Intent("person", "quality"), "flux", locked={"train.batch_size": 8})
    assert rec.job.get("train.batch_size") == 8
    assert "train.batch_size" in rec.locked
    assert rec.reasons["train.batch_size"].why.startswith("Locked")
    assert rec.fits or rec.why_not
    # more memory levers were needed to make batch 8 fit than batch 1..4
    assert rec.predictor_calls >= free.predictor_calls
    lr = recommend(profile, Intent("style", "speed"), "sdxl", locked={"train.lr": 3e-4, "model.quantize": False})
    assert lr.job.get("train.lr") == 3e-4 and lr.job.get("model.quantize") is False


def test_locked_resolution_is_not_lowered():
    profile = PROFILES["RTX 3060 12 GB"]()
    rec = recommend(profile, Intent("style", "quality"), "flux", locked={"datasets[].resolution": [1024]})
    assert rec.job.get("datasets[].resolution") == [1024]


def test_small_card_quantizes_flux_big_card_does_not():
    small = recommend(PROFILES["RTX 3060 12 GB"](), Intent("person", "quality"), "flux")
    big = recommend(PROFILES["A100 80 GB"](), Intent("person", "quality"), "flux")
    assert small.job.get("model.quantize") is True and small.fits
    assert big.job.get("model.quantize") is False and big.fits
    assert "fit" in big.reasons["model.quantize"].why


def test_a_person_without_an_analysed_dataset_gets_a_trigger_and_no_dop():
    # ai-toolkit's examples leave DOP off; the plan turns it on only with a class word the captions give
    rec = recommend(PROFILES["RTX 4090 24 GB"](), Intent("person", "quality"), "flux")
    assert rec.job.get("train.diff_output_preservation") is False
    assert rec.job.get("process.trigger_word")
    assert all("[trigger]" in s.prompt for s in rec.job.process.sample.samples)


def test_style_bias_flowmatch_and_safe_scheduler():
    rec = recommend(PROFILES["RTX 4090 24 GB"](), Intent("style", "quality"), "flux")
    assert rec.job.get("train.content_or_style") == "style"
    assert rec.job.get("train.noise_scheduler") == "flowmatch"
    assert rec.job.get("train.lr_scheduler") in ("constant", "cosine", "linear", "constant_with_warmup")
    assert not rec.job.get("train.min_snr_gamma")


def test_unified_memory_never_offloads():
    for name in ("Apple M3 Max 64 GB", "DGX Spark"):
        for spec in models():
            rec = recommend(PROFILES[name](), Intent("person", "memory"), spec.arch)
            assert not rec.job.get("model.layer_offloading"), (name, spec.arch)
            assert not rec.job.get("model.low_vram"), (name, spec.arch)


def test_batch_reason_names_the_practice_it_follows():
    rec = recommend(PROFILES["RTX 4090 24 GB"](), Intent("object", "speed"), "sdxl")
    why = rec.reasons["train.batch_size"].why
    assert rec.job.get("train.batch_size") == 1 and "ai-toolkit" in why and "updates" in why


def test_fast_enough():
    profile = PROFILES["RTX 4090 24 GB"]()
    recommend(profile, Intent(), "flux")
    t = time.perf_counter()
    for _ in range(5):
        recommend(profile, Intent(), "flux")
    assert (time.perf_counter() - t) / 5 < 0.1


# ---- locked values: the rest is chosen around them --------------------------------------------------------------
def _errors(rec: Recommendation, profile: SystemProfile) -> list[tuple[str, str]]:
    report = validate(rec.job, profile, prediction=rec.prediction)
    return [(i.code, i.field) for i in report.errors if rec.fits or i.code not in RESOURCE_ERRORS]


def test_a_locked_rank_sets_alpha_and_lr_around_it():
    profile = PROFILES["RTX 4090 24 GB"]()
    free = recommend(profile, Intent("person", "quality"), "flux")
    rec = recommend(profile, Intent("person", "quality"), "flux", locked={"network.linear": 128})
    assert rec.job.get("network.linear") == 128
    assert rec.job.get("network.linear_alpha") == 128
    assert "128" in rec.reasons["network.linear_alpha"].why
    assert rec.job.get("train.lr") == free.job.get("train.lr")  # alpha = rank: the same rate at any rank
    assert "rank 128" in rec.reasons["train.lr"].why
    # a locked alpha is kept, and the rate's reason states the scale it gives
    alpha = recommend(profile, Intent("person", "quality"), "flux",
                      locked={"network.linear": 64, "network.linear_alpha": 8})
    assert alpha.job.get("network.linear_alpha") == 8 and alpha.job.get("train.lr") == free.job.get("train.lr")
    assert "alpha 8 / rank 64" in alpha.reasons["train.lr"].why
    # a locked LoKr network gets LoKr choices and the LoKr rate (no halving for rank)
    lokr = recommend(profile, Intent("person", "quality"), "flux", locked={"network.type": "lokr"})
    assert lokr.job.get("network.lokr_factor") == -1 and lokr.job.get("train.lr") == free.job.get("train.lr")
    assert "LoKr" in lokr.reasons["train.lr"].why
    assert not _errors(lokr, profile)
    # a locked conv rank sets the conv alpha (sdxl has conv layers)
    conv = recommend(profile, Intent("style", "quality"), "sdxl", locked={"network.conv": 8})
    assert conv.job.get("network.conv_alpha") == 8
    # a locked optimizer drives the learning-rate rule
    prodigy = recommend(profile, Intent("person", "quality"), "flux", locked={"train.optimizer": "prodigy"})
    assert prodigy.job.get("train.lr") == 1.0


@pytest.mark.parametrize("name", ["constant", "linear", "constant_with_warmup", "cosine", "cosine_with_restarts"])
def test_a_locked_scheduler_gets_params_that_fit_it(name):
    profile = PROFILES["RTX 4090 24 GB"]()
    rec = recommend(profile, Intent("person", "quality"), "flux", locked={"train.lr_scheduler": name})
    params = rec.job.get("train.lr_scheduler_params") or {}
    assert rec.job.get("train.lr_scheduler") == name
    assert ("eta_min" in params) == (name in ("cosine", "cosine_with_restarts"))
    if name == "constant":
        assert not params
    if name == "linear":
        assert params["start_factor"] > params["end_factor"]
    if name == "constant_with_warmup":
        assert 0 < params["num_warmup_steps"] < rec.job.get("train.steps")
    report = validate(rec.job, profile, prediction=rec.prediction)
    assert not [i for i in report.issues if i.field.startswith("train.lr_scheduler") and i.severity != "suggestion"]
    assert not _errors(rec, profile)


def test_a_locked_constant_scheduler_gets_no_cosine_params():
    rec = recommend(PROFILES["RTX 4090 24 GB"](), Intent("person", "quality"), "flux",
                    locked={"train.lr_scheduler": "constant"})
    assert "eta_min" not in (rec.job.get("train.lr_scheduler_params") or {})


def test_locked_legacy_prompts_stop_samples_and_locked_samples_are_kept():
    profile = PROFILES["RTX 4090 24 GB"]()
    rec = recommend(profile, Intent("person", "quality"), "flux", locked={"sample.prompts": ["a photo of ohwx"]})
    assert not rec.job.to_dict()["config"]["process"][0]["sample"].get("samples")
    assert rec.job.get("sample.prompts") == ["a photo of ohwx"]
    assert "sample.samples[].prompt" not in rec.reasons
    kept = recommend(profile, Intent("person", "quality"), "flux",
                     locked={"sample.samples[].prompt": ["one [trigger]", "two [trigger]"]})
    assert [s.prompt for s in kept.job.process.sample.samples] == ["one [trigger]", "two [trigger]"]


def test_locked_accumulation_steps_and_cadences_drive_the_length():
    profile = PROFILES["RTX 4090 24 GB"]()
    rec = recommend(profile, Intent("person", "quality"), "flux",
                    locked={"train.gradient_accumulation_steps": 4, "train.steps": 2000})
    assert rec.job.get("train.gradient_accumulation") == 1  # both != 1 would raise in the trainer
    assert rec.job.get("sample.sample_every") == 250 and rec.job.get("save.save_every") == 250
    assert not _errors(rec, profile)
    every = recommend(profile, Intent("person", "quality"), "flux", locked={"sample.sample_every": 100})
    assert every.job.get("save.save_every") == 100


LOCKABLE = ("train.steps", "train.gradient_accumulation", "train.gradient_accumulation_steps", "save.save_every",
            "sample.sample_every", "train.lr", "datasets[].num_repeats", "train.batch_size", "datasets[].resolution",
            "network.linear", "network.conv", "network.linear_alpha", "train.lr_scheduler", "train.optimizer",
            "network.type", "network.lokr_factor", "datasets[].num_workers")
ODD_VALUES = (0, None, -1, -3.5, 1, 2, 64, 10**12, 2**63, 1e300, float("inf"), float("nan"), True, "", "abc",
              [], [0], [512, 0])


@pytest.mark.parametrize("path", ["train.steps", "train.gradient_accumulation", "train.gradient_accumulation_steps",
                                  "save.save_every", "sample.sample_every"])
@pytest.mark.parametrize("value", [0, None])
def test_locked_zero_or_none_values_never_crash(path, value):
    profile = PROFILES["RTX 4090 24 GB"]()
    rec = recommend(profile, Intent("person", "quality"), "flux", locked={path: value})
    assert rec.job.get(path) == value  # kept as locked
    assert all(f == path or f.startswith(path) for _, f in _errors(rec, profile)), _errors(rec, profile)
    every = rec.job.get("save.save_every")
    assert path == "save.save_every" or every > 0


def test_locked_none_arithmetic_values_fall_back():
    profile = PROFILES["RTX 4090 24 GB"]()
    for path in ("train.steps", "train.lr", "train.gradient_accumulation", "datasets[].num_repeats",
                 "train.batch_size"):
        rec = recommend(profile, Intent("person", "quality"), "flux", locked={path: None})
        assert rec.job.get(path) is None, path
        assert rec.job.get("sample.sample_every") > 0 and rec.job.get("save.max_step_saves_to_keep") >= 1


def _job_holding(locked: dict):
    """A minimal job with the locked values as the job model holds them; None when it refuses one (1e300 for an
    integer)."""
    from pydantic import ValidationError

    from nbwizard.engine._recommend_values import put_path
    from nbwizard.engine.job import job_model
    data = {"job": "extension", "config": {"name": "x", "process": [{"type": "diffusion_trainer"}]}}
    for path, value in locked.items():
        put_path(data, path, value)
    try:
        return job_model().model_validate(data)
    except ValidationError:
        return None


try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = None

if given is not None:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.dictionaries(st.sampled_from(LOCKABLE), st.sampled_from(ODD_VALUES), min_size=1, max_size=3),
           st.sampled_from(PRIORITIES))
    def test_any_locked_values_never_crash_and_only_they_are_reported(locked, priority):
        profile = PROFILES["RTX 4090 24 GB"]()
        held = _job_holding(locked)
        if held is None:  # e.g. 1e300 for an integer: the job model itself refuses it
            with pytest.raises(ValueError):
                recommend(profile, Intent("person", priority), "sdxl", locked=locked)
            return
        rec = recommend(profile, Intent("person", priority), "sdxl", locked=locked)
        for path, value in locked.items():
            got, want = rec.job.get(path), held.get(path)
            assert got == want or (got != got and want != want), (path, value, got)  # nan != nan
        errors = _errors(rec, profile)
        # only the locked values themselves are reported
        assert all(f in locked for _, f in errors), (locked, errors)
