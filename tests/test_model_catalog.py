"""The model catalog: complete against the arch reference, settings paths real, size facts sourced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nbwizard.engine.models import FACT_NAMES, ROLES, UnknownModelError, all_models, model_info, models

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
ARCHS_REF = REFERENCE / "aitk-archs.json"
SCHEMA_REF = REFERENCE / "aitk-schema.json"
GROUPS = {"image", "video", "instruction", "audio", "experimental"}


def test_catalog_has_all_52_archs_in_order():
    names = [m.arch for m in models()]
    assert len(names) == 52 and len(set(names)) == 52
    if ARCHS_REF.exists():
        ref = json.loads(ARCHS_REF.read_text(encoding="utf-8"))
        assert names == [a["name"] for a in ref["archs"]]


def test_backend_only_archs_follow_the_ui_list_and_resolve_by_name():
    extra = [m for m in all_models() if not m.ui_listed]
    assert [m.arch for m in extra] == ["sd3"]
    assert all_models()[:52] == models()
    sd3 = model_info("sd3")
    assert sd3.label == "SD 3.5 Large" and model_info("SD 3.5 Large") is sd3
    assert sd3.ui_defaults["train.noise_scheduler"] == "flowmatch" and sd3.flow_matching
    if ARCHS_REF.exists():
        ref = json.loads(ARCHS_REF.read_text(encoding="utf-8"))
        assert "sd3" in ref["backend_only_archs"]


def test_every_group_is_present():
    assert {m.group for m in models()} == GROUPS


def test_ui_defaults_keys_are_real_settings():
    if not SCHEMA_REF.exists():
        pytest.skip(f"{SCHEMA_REF} is absent")
    schema = json.loads(SCHEMA_REF.read_text(encoding="utf-8"))
    bad = []
    for m in models():
        for path in m.ui_defaults:
            section, _, key = path.rpartition(".")
            entry = schema.get(section)
            if not isinstance(entry, dict) or key.startswith("$") or key not in entry:
                bad.append(f"{m.arch}: {path}")
    assert not bad, bad


def test_flux_facts():
    flux = model_info("flux")
    (den,) = [c for c in flux.components if c.role == "denoiser"]
    assert den.params_b == 11.9014 and den.source.startswith("measured: fake-tensor trace of")
    assert flux.params_b("denoiser") == 11.9014
    assert flux.params_b("text_encoder") == pytest.approx(4.8854)  # T5-XXL encoder + CLIP-L, counted
    assert flux.latent_channels.value == 16 and flux.latent_channels.source
    assert flux.vae_downsample.value == 8 and flux.patch_size.value == 2
    assert flux.blocks.value == 57 and "19" in flux.blocks.note
    assert flux.ui_defaults["model.quantize"] is True
    assert flux.flow_matching and not flux.is_video and flux.native_resolution == 1024


def test_every_number_has_a_source_or_a_reason():
    missing = []
    for m in all_models():
        for c in m.components:
            assert c.role in ROLES, (m.arch, c.role)
            if not (c.source if c.params_b is not None else c.unknown_reason):
                missing.append(f"{m.arch}: {c.name}")
        for name in FACT_NAMES:
            fact = getattr(m, name)
            if not (fact.source if fact.value is not None else fact.unknown_reason):
                missing.append(f"{m.arch}: {name}")
    assert not missing, missing


def test_every_model_has_one_denoiser_and_video_fields():
    for m in models():
        assert [c.role for c in m.components].count("denoiser") == 1, m.arch
        assert (m.default_frames is not None) == m.is_video, m.arch


def test_params_b_is_none_when_any_part_unknown():
    ltx = model_info("ltx2")
    assert ltx.params_b("denoiser") == 18.8762
    assert ltx.params_b("vae") is None
    assert model_info("sd15").params_b("image_encoder") is None
    with pytest.raises(ValueError):
        ltx.params_b("unet")


def test_lookup_is_case_insensitive_and_accepts_labels():
    assert model_info("FLUX").arch == "flux"
    assert model_info("FLUX.1").arch == "flux"
    assert model_info("Wan21:1B").arch == "wan21:1b"
    assert model_info("Wan 2.2 (14B)").arch == "wan22_14b:t2v"


def test_unknown_arch_lists_close_matches():
    with pytest.raises(UnknownModelError) as err:
        model_info("fluxx")
    assert err.value.query == "fluxx"
    assert "flux" in err.value.close_matches
    assert "flux" in str(err.value)
    assert isinstance(err.value, LookupError)


def test_specs_are_read_only():
    flux = model_info("flux")
    with pytest.raises(TypeError):
        flux.ui_defaults["model.quantize"] = False  # type: ignore[index]
    with pytest.raises(AttributeError):
        flux.arch = "x"  # type: ignore[misc]


def test_ara_and_example_configs_kept():
    qwen = model_info("qwen_image")
    assert qwen.ara and qwen.ara[0].bits == "uint3"
    assert "train_lora_qwen_image_24gb.yaml" in qwen.example_configs
    assert qwen.example_min_vram_gb["train_lora_qwen_image_24gb.yaml"] == 24
    assert model_info("flex2").controls == ("depth", "line", "pose", "inpaint")
    assert "network.conv" in model_info("flux").hidden_sections
