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


def test_person_gets_dop_with_class_word():
    rec = recommend(PROFILES["RTX 4090 24 GB"](), Intent("person", "quality"), "flux")
    assert rec.job.get("train.diff_output_preservation") is True
    assert rec.job.get("train.diff_output_preservation_class") == "person"
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


def test_batch_reason_names_budget_and_prediction():
    rec = recommend(PROFILES["RTX 4090 24 GB"](), Intent("object", "speed"), "sdxl")
    why = rec.reasons["train.batch_size"].why
    assert "GiB" in why and "predicted" in why


def test_fast_enough():
    profile = PROFILES["RTX 4090 24 GB"]()
    recommend(profile, Intent(), "flux")
    t = time.perf_counter()
    for _ in range(5):
        recommend(profile, Intent(), "flux")
    assert (time.perf_counter() - t) / 5 < 0.1
