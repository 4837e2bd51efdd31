"""The recommended plans against ai-toolkit's own examples (issue 9: plans an expert would sign).

For every arch with a LoRA example in ai-toolkit's ``config/examples`` (values in ``tests/data/aitk_examples.json``,
read at the commit recorded there), the plan ``recommend`` makes for the card the example is written for:

* fits (the predictor's verdict);
* is predicted no slower per step than the example on the same card and data, or lists the departure that makes it
  slower, with that cost;
* differs from the example only in values the plan lists as departures, each with its reason.

The example itself is predicted from its values (a job built here from the test data, not from the engine's copy).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nbwizard.engine.intent import Intent
from nbwizard.engine.job import job_model
from nbwizard.engine.models import model_info
from nbwizard.engine.predict import predict
from nbwizard.engine.profile import SystemProfile
from nbwizard.engine.recipes import recipe_commit, recipe_for
from nbwizard.engine.recommend import recommend

DATA = json.loads((Path(__file__).parent / "data" / "aitk_examples.json").read_text(encoding="utf-8"))
EXAMPLES = {e["file"]: e for e in DATA["examples"]}

# example file -> the catalog arch it trains (by its name_or_path)
EXAMPLE_ARCH = {
    "train_lora_chroma_24gb.yaml": "chroma",
    "train_lora_flex2_24gb.yaml": "flex2",
    "train_lora_flex_24gb.yaml": "flex1",
    "train_lora_flux_24gb.yaml": "flux",
    "train_lora_flux_kontext_24gb.yaml": "flux_kontext",
    "train_lora_hidream_48.yaml": "hidream",
    "train_lora_lumina.yaml": "lumina2",
    "train_lora_omnigen2_24gb.yaml": "omnigen2",
    "train_lora_qwen_image_24gb.yaml": "qwen_image",
    "train_lora_qwen_image_edit_32gb.yaml": "qwen_image_edit",
    "train_lora_qwen_image_edit_2509_32gb.yaml": "qwen_image_edit_plus",
    "train_lora_sd35_large_24gb.yaml": "sd3",
    "train_lora_wan21_14b_24gb.yaml": "wan21:14b",
    "train_lora_wan21_1b_24gb.yaml": "wan21:1b",
    "train_lora_wan22_14b_24gb.yaml": "wan22_14b:t2v",
}
# files that are not an arch's LoRA recipe, and why
NOT_RECIPES = {
    "train_flex_redux.yaml": "trains a redux adapter, not a LoRA",
    "train_full_fine_tune_flex.yaml": "a full fine-tune",
    "train_full_fine_tune_lumina.yaml": "a full fine-tune",
    "train_slider.example.yml": "a slider (its own trainer)",
    "train_lora_flux_schnell_24gb.yaml": "FLUX.1-schnell with its training adapter: the catalog's flux is FLUX.1-dev",
    "modal_train_lora_flux_24gb.yaml": "the same job as train_lora_flux_24gb.yaml, for Modal",
    "modal_train_lora_flux_schnell_24gb.yaml": "schnell, for Modal",
}
# the card each example's size is written for (lumina: "20 GB+" in its header, as the catalog records)
TIER_CARD = {20: "RTX A4500", 24: "RTX 4090", 32: "RTX 5090", 48: "RTX 6000 Ada"}
TIER = {"train_lora_lumina.yaml": 20}
SAME_SPEED = 1.02  # the plan may be this much slower per step with no departure to say why (rounding)

# (section, key) of the example record -> setting path; the values a plan is compared on
COMPARED = (
    ("model", "quantize", "model.quantize"), ("model", "qtype", "model.qtype"),
    ("model", "low_vram", "model.low_vram"), ("model", "layer_offloading", "model.layer_offloading"),
    ("train", "batch_size", "train.batch_size"), ("train", "steps", "train.steps"),
    ("train", "gradient_accumulation", "train.gradient_accumulation"),
    ("train", "gradient_checkpointing", "train.gradient_checkpointing"), ("train", "lr", "train.lr"),
    ("train", "lr_scheduler", "train.lr_scheduler"), ("train", "timestep_type", "train.timestep_type"),
    ("train", "cache_text_embeddings", "train.cache_text_embeddings"),
    ("train", "unload_text_encoder", "train.unload_text_encoder"),
    ("train", "diff_output_preservation", "train.diff_output_preservation"),
    ("train", "switch_boundary_every", "train.switch_boundary_every"),
    ("ema", "use_ema", "train.ema_config.use_ema"),
    ("network", "linear", "network.linear"),
    ("datasets", "resolution", "datasets[].resolution"),
    ("datasets", "caption_dropout_rate", "datasets[].caption_dropout_rate"),
    ("sample", "width", "sample.width"), ("sample", "height", "sample.height"),
)
# what the trainer uses where the file is silent (toolkit/config_modules.py at the recorded commit)
TRAINER_DEFAULT = {"model.quantize": False, "model.low_vram": False, "model.layer_offloading": False,
                   "train.batch_size": 1, "train.gradient_accumulation": 1, "train.lr_scheduler": "constant",
                   "train.timestep_type": "sigmoid", "train.cache_text_embeddings": False,
                   "train.unload_text_encoder": False, "train.diff_output_preservation": False,
                   "train.switch_boundary_every": 1, "train.ema_config.use_ema": False, "model.qtype": "qfloat8"}


def _value(ex: dict, section: str, key: str) -> object:
    block = ex.get(section)
    if section == "datasets":
        block = (block or [{}])[0]
    return (block or {}).get(key)


def example_values(ex: dict) -> dict:
    out = {}
    for section, key, path in COMPARED:
        v = _value(ex, section, key)
        out[path] = TRAINER_DEFAULT.get(path) if v is None else v
    return out


def example_job(ex: dict, arch: str):
    """The example as a job: its values, the catalog arch (the wizard's name for it), three sample prompts (the
    plans' count, so previews weigh the same)."""
    m, t = ex["model"], ex["train"]
    ds = (ex["datasets"] or [{}])[0]
    s = ex["sample"] or {}
    quantize = bool(m["quantize"])
    quantize_te = quantize if m["quantize_te"] is None else m["quantize_te"]
    model = {"name_or_path": m["name_or_path"], "arch": arch, "quantize": quantize, "quantize_te": quantize_te,
             "low_vram": bool(m["low_vram"])}
    if quantize:
        model["qtype"] = m["qtype"] or "qfloat8"
    if quantize_te:
        model["qtype_te"] = m["qtype_te"] or "qfloat8"
    train = {k: t[k] for k in ("batch_size", "steps", "gradient_checkpointing", "lr", "optimizer", "noise_scheduler",
                               "dtype", "timestep_type", "cache_text_embeddings", "unload_text_encoder",
                               "switch_boundary_every", "gradient_accumulation") if t.get(k) is not None}
    train["ema_config"] = {"use_ema": bool((ex.get("ema") or {}).get("use_ema"))}
    dataset = {"folder_path": "/data", "resolution": ds["resolution"],
               "caption_dropout_rate": ds["caption_dropout_rate"],
               "cache_latents_to_disk": bool(ds.get("cache_latents_to_disk")),
               "cache_latents": bool(ds.get("cache_latents"))}
    if ds.get("num_frames"):
        dataset["num_frames"] = ds["num_frames"]
    sample = {k: s[k] for k in ("sampler", "sample_every", "width", "height", "sample_steps", "guidance_scale",
                                "num_frames") if s.get(k) is not None}
    sample["samples"] = [{"prompt": f"a photo of [trigger], {i}"} for i in range(3)]
    process = {"type": "diffusion_trainer", "training_folder": "output", "device": "cuda", "trigger_word": "ohwx",
               "model": model, "train": train, "network": {"type": "lora", "linear": ex["network"]["linear"],
                                                           "linear_alpha": ex["network"]["linear_alpha"]},
               "datasets": [dataset], "sample": sample, "save": {"dtype": "bf16", "save_every": 250}}
    return job_model().model_validate({"job": "extension", "config": {"name": "example", "process": [process]}})


def _profile(file: str) -> SystemProfile:
    ex = EXAMPLES[file]
    tier = TIER.get(file) or ex["vram_tier_gb_in_name"]
    return SystemProfile.for_gpu(TIER_CARD[tier], ram_gb=128, cores=16)


def _norm(v: object) -> object:
    if isinstance(v, (list, tuple)):
        return tuple(_norm(x) for x in v)
    return int(v) if isinstance(v, float) and v.is_integer() else v


def test_every_example_is_a_recipe_or_says_why_not():
    assert set(EXAMPLE_ARCH) | set(NOT_RECIPES) == set(EXAMPLES)
    assert not set(EXAMPLE_ARCH) & set(NOT_RECIPES)


@pytest.mark.parametrize("file", sorted(EXAMPLE_ARCH))
def test_the_engine_recipe_is_the_example(file):
    """data/recipes.json (what the engine reads) holds the example's values, from the same commit."""
    recipe = recipe_for(EXAMPLE_ARCH[file])
    assert recipe.from_example and file in recipe.source
    assert recipe_commit() == DATA["$source"]["commit"]
    for path, want in example_values(EXAMPLES[file]).items():
        if path == "model.qtype" and not EXAMPLES[file]["model"]["quantize"]:
            continue
        got = recipe.get(path, TRAINER_DEFAULT.get(path))
        assert _norm(got) == _norm(want), (file, path, got, want)


@pytest.mark.parametrize("training_type", ["style", "person"])
@pytest.mark.parametrize("file", sorted(EXAMPLE_ARCH))
def test_plan_for_the_examples_card_fits_is_no_slower_and_departs_only_with_reasons(file, training_type):
    arch, ex = EXAMPLE_ARCH[file], EXAMPLES[file]
    profile = _profile(file)
    rec = recommend(profile, Intent(training_type, "quality"), arch)
    where = f"{arch} on {profile.gpu.name.value} ({file}, {training_type})"
    assert rec.fits, f"{where}: {rec.why_not}"
    # differs from the example only where the plan says why
    listed = {p for d in rec.departures for p in d.paths}
    want = example_values(ex)
    for path, value in want.items():
        got = rec.job.get(path)
        if path == "model.qtype" and not (rec.job.get("model.quantize") and want["model.quantize"]):
            continue
        if path == "train.switch_boundary_every" and got is None and value == 1:
            continue
        if path == "model.layer_offloading" and not got and not value:
            continue
        if _norm(got) != _norm(value):
            assert path in listed, f"{where}: {path} is {got!r}, the example's {value!r}, and no departure says why"
    for d in rec.departures:
        assert d.why.strip() and d.why != "kept from your job", f"{where}: {d.group} has no reason"
    # no slower per step than the example, or a departure names the extra time
    example = predict(example_job(ex, arch), profile)
    plan = rec.prediction
    assert plan.step_seconds is not None and example.step_seconds is not None
    if plan.step_seconds > example.step_seconds * SAME_SPEED:
        slower = [d for d in rec.departures if "the time per step" in d.cost]
        assert slower, (f"{where}: {plan.step_seconds} s/step against the example's {example.step_seconds} with "
                        "no departure that says why")
    if training_type == "style":  # no DOP for a style: only memory can make the plan slower than the example
        assert plan.step_seconds <= example.step_seconds * SAME_SPEED or rec.departures


@pytest.mark.parametrize("file", sorted(EXAMPLE_ARCH))
def test_plan_keeps_the_examples_training_practice(file):
    """Batch 1, the example's steps, schedule, timestep type (where it writes one), caption dropout and expert
    switching: values no card size changes."""
    arch, ex = EXAMPLE_ARCH[file], EXAMPLES[file]
    rec = recommend(_profile(file), Intent("style", "quality"), arch)
    want = example_values(ex)
    assert rec.job.get("train.batch_size") == 1
    assert rec.job.get("train.gradient_accumulation") == 1
    assert rec.job.get("train.steps") == want["train.steps"]
    assert rec.job.get("train.lr_scheduler") == want["train.lr_scheduler"]
    assert rec.job.get("datasets[].caption_dropout_rate") == want["datasets[].caption_dropout_rate"]
    if ex["train"]["timestep_type"] is not None:
        assert rec.job.get("train.timestep_type") == ex["train"]["timestep_type"]
    else:  # the example leaves the trainer's default: the UI's per-arch choice, said so
        assert rec.job.get("train.timestep_type") == model_info(arch).ui_defaults["train.timestep_type"]
    if ex["train"]["switch_boundary_every"] is not None:
        assert rec.job.get("train.switch_boundary_every") == ex["train"]["switch_boundary_every"]
