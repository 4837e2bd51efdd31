"""Tests of nbwizard.engine.predict: the physics moves the right way, verdicts, robustness, the benchmark metric."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbwizard
from nbwizard.engine.predict import Prediction, predict
from nbwizard.engine.profile import SystemProfile

FIXTURES = Path(__file__).parent / "fixtures" / "jobs"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def flux():
    return nbwizard.load_job(FIXTURES / "flux_lora_24gb.yaml").set("train.cache_text_embeddings", True)


@pytest.fixture(scope="module")
def rtx4090():
    return SystemProfile.for_gpu("RTX 4090", ram_gb=64)


@pytest.fixture(scope="module")
def h100():
    return SystemProfile.for_gpu("H100 80GB", ram_gb=256)


def _train(job, profile, name):
    return predict(job, profile).train.get(name)


def test_flux_1024_qfloat8_fits_on_24gb(flux, rtx4090):
    p = predict(flux, rtx4090)
    assert p.verdict == "fits", p.verdict_reason
    assert p.peak_vram_gib < p.budget_gib


def test_flux_bf16_without_quantization_does_not_fit_on_16gb(flux):
    p = predict(flux.set("model.quantize", False), SystemProfile.for_gpu("RTX 4060 Ti 16GB"))
    assert p.verdict == "does_not_fit"
    assert "exceeds" in p.verdict_reason


def test_gradient_checkpointing_off_raises_activations(flux, h100):
    assert _train(flux.set("train.gradient_checkpointing", False), h100, "activations") > \
        2 * _train(flux, h100, "activations")


def test_batch_4_needs_more_than_batch_1(flux, h100):
    assert predict(flux.set("train.batch_size", 4), h100).train.total_gib > predict(flux, h100).train.total_gib


def test_rank_64_adapter_is_larger_than_rank_16(flux, h100):
    big = predict(flux.set("network.linear", 64), h100).train
    small = predict(flux.set("network.linear", 16), h100).train
    assert big.get("trainable parameters") == pytest.approx(4 * small.get("trainable parameters"), rel=0.01)
    assert big.total_gib > small.total_gib


def test_unloading_the_text_encoder_lowers_vram(h100):
    job = nbwizard.load_job(FIXTURES / "flux_lora_24gb.yaml")
    resident = predict(job, h100)
    unloaded = predict(job.set("train.unload_text_encoder", True), h100)
    assert resident.train.get("text encoders") > 4
    assert unloaded.train.get("text encoders") == 0
    assert unloaded.peak_vram_gib < resident.peak_vram_gib


def test_full_layer_offloading_lowers_vram(h100):
    job = nbwizard.load_job(FIXTURES / "flux_lora_24gb.yaml").set("model.arch", "qwen_image")
    offloaded = job.set("model.layer_offloading", True).set("model.layer_offloading_transformer_percent", 1.0)
    assert predict(offloaded, h100).train.get("base weights") < 0.1 * predict(job, h100).train.get("base weights")
    assert predict(offloaded, h100).peak_vram_gib < predict(job, h100).peak_vram_gib
    assert predict(offloaded, h100).ram_peak_gib > predict(job, h100).ram_peak_gib - 1


def test_ema_adds_adapter_sized_memory(flux, h100):
    with_ema = predict(flux.set("train.ema_config.use_ema", True), h100).train
    without = predict(flux.set("train.ema_config.use_ema", False), h100).train
    assert with_ema.get("EMA") == pytest.approx(with_ema.get("trainable parameters"))
    assert without.get("EMA") == 0


def test_unknown_arch_gives_unknown_verdict_with_reason(flux, rtx4090):
    p = predict(flux.set("model.arch", "no_such_model"), rtx4090)
    assert p.verdict == "unknown"
    assert "no_such_model" in p.verdict_reason
    assert p.peak_vram_gib is None and p.step_seconds is None and p.step_seconds_reason


def test_catalog_arch_without_denoiser_size_is_unknown(flux, rtx4090):
    p = predict(flux.set("model.arch", "ace_step_15_xl"), rtx4090)  # its DiT size is unknown (tests/test_traces.py)
    assert p.verdict == "unknown" and p.peak_vram_gib is None


def test_cpu_only_profile_is_unknown_but_keeps_the_breakdown(flux, rtx4090):
    cpu = rtx4090.model_validate({**rtx4090.model_dump(), "gpus": [], "target": None,
                                  "gpu_reason": "no GPU found"})
    p = predict(flux, cpu)
    assert p.verdict == "unknown" and "no GPU" in p.verdict_reason
    assert p.peak_vram_gib > 0 and p.train.get("base weights") > 0
    assert p.step_seconds is None


def test_video_frames_raise_activations(h100):
    job = nbwizard.load_job(FIXTURES / "wan22_video.yaml")
    assert _train(job.set("datasets[].num_frames", 81), h100, "activations") > \
        1.5 * _train(job.set("datasets[].num_frames", 21), h100, "activations")


def test_sampling_guidance_and_time_and_disk_are_reported(flux, rtx4090):
    p = predict(flux, rtx4090)
    assert isinstance(p, Prediction)
    assert p.sample is not None and p.sample.get("VAE decode") > 0
    assert p.step_seconds > 0 and p.total_seconds > 2000 * p.step_seconds * 0.99
    assert p.disk.total_gib > 0 and p.disk.free_gib is None and p.disk.fits is None
    assert any("20 images" in a for a in p.assumptions)


def test_dataset_image_count_and_free_disk_are_used(flux):
    class Info:
        image_count = 500

    prof = SystemProfile.for_gpu("RTX 4090", ram_gb=64, free_disk_gb=0.01)
    p = predict(flux.set("process.training_folder", "."), prof, Info())
    assert p.disk.free_gib == 0.01 and p.disk.fits is False
    assert not any("20 images" in a for a in p.assumptions)


def test_benchmark_error_metric_on_two_rows():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_predict

    assert bench_predict.abs_pct_error(11.0, 10.0) == pytest.approx(10.0)
    assert bench_predict.abs_pct_error(9.0, 12.0) == pytest.approx(25.0)
    rows = [{"id": "1", "model": "z-image", "network": "lora", "rank": "64", "resolution": "1024x1024", "frames": "",
             "batch_size": "1", "grad_accum": "1", "base_weights": "bf16", "quantization": "none",
             "gradient_checkpointing": "on (per-block)", "optimizer": "optimi-lion",
             "text_encoder_handling": "text embeds pre-cached", "other_memory_options": "",
             "measure_type": "peak_measured", "vram_gb": "12.87", "vram_unit": "GiB", "s_per_it": "0.479",
             "gpu": "H100 80GB", "confidence": "B", "notes": ""},
            {"id": "2", "model": "kolors", "resolution": "1024", "other_memory_options": "", "notes": ""}]
    case, why = bench_predict.row_to_case(rows[0])
    assert case.measured_gib == pytest.approx(12.87) and case.job.get("train.optimizer") == "lion"
    assert bench_predict.row_to_case(rows[1])[0] is None
    result = bench_predict.evaluate([case])
    expected = bench_predict.abs_pct_error(predict(case.job, bench_predict._profile("H100 80GB")).peak_vram_gib,
                                           12.87)
    assert result["n"] == 1 and result["median"] == pytest.approx(expected)


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.floats(allow_nan=True),
                    st.sampled_from(["qfloat8", "uint3|x/y.safetensors", "nvfp4", "lokr", "full", "prodigy", "?"]))
_PATHS = ["model.arch", "model.quantize", "model.qtype", "model.quantize_te", "model.qtype_te",
          "model.layer_offloading", "model.layer_offloading_transformer_percent", "model.low_vram",
          "network.type", "network.linear", "network.lokr_factor", "train.batch_size", "train.optimizer",
          "train.gradient_checkpointing", "train.unload_text_encoder", "train.cache_text_embeddings",
          "train.dtype", "datasets[].resolution", "datasets[].num_frames", "sample.width", "sample.sample_every",
          "sample.guidance_scale", "save.max_step_saves_to_keep", "train.steps"]
_ARCHS = [m.arch for m in nbwizard.models()]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arch=st.sampled_from(_ARCHS), changes=st.lists(st.tuples(st.sampled_from(_PATHS), _VALUES), max_size=6))
def test_random_settings_never_make_predict_raise(arch, changes):
    job = nbwizard.load_job(FIXTURES / "wan22_video.yaml").set("model.arch", arch)
    for path, value in changes:
        try:
            job = job.set(path, value)
        except ValueError:  # the job model refuses a value of the wrong type: nothing to predict
            continue
    p = predict(job, SystemProfile.for_gpu("RTX 4090", ram_gb=64))
    assert p.verdict in ("fits", "tight", "does_not_fit", "unknown")
