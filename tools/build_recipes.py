"""Regenerate ``src/nbwizard/engine/data/recipes.json``: each arch's usual recipe from ai-toolkit's own examples.

Input: the values of ai-toolkit's ``config/examples/*.yaml`` and of the UI's default job as extracted, with their
commit, into ``tests/data/aitk_examples.json`` (one record per file; ``null`` = the key is not written, so the
trainer's default applies). The recommender reads the result at run time (``engine/recipes.py``): an arch with a
LoRA example trains, on the example's card, the way the example does unless the plan says why not.

Which example is an arch's recipe: the first LoRA example the catalog lists for it (``models.json``
``example_configs``, from the team's arch reference), so FLUX.1 gets ``train_lora_flux_24gb.yaml``, not the schnell
or modal copies. Full fine-tunes, sliders and redux adapters are not LoRA recipes and are skipped.

Each recipe keeps only keys the file writes, as the wizard's setting paths, plus ``vram_gb`` (the card size the file
is written for: the number in its name, else the catalog's ``min_vram_gb`` with its basis). Values that the file
leaves to the trainer are resolved where the trainer's default is the point (``lr_scheduler`` -> ``constant``,
``quantize_te`` -> ``quantize``); see ``TRAINER_DEFAULTS``.

    python tools/build_recipes.py [tests/data/aitk_examples.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "nbwizard" / "engine" / "data" / "recipes.json"
DEFAULT_IN = ROOT / "tests" / "data" / "aitk_examples.json"
MODELS = ROOT / "src" / "nbwizard" / "engine" / "data" / "models.json"

# example record field -> setting path (section, key, path)
_FIELDS = (
    ("model", "quantize", "model.quantize"), ("model", "qtype", "model.qtype"),
    ("model", "quantize_te", "model.quantize_te"), ("model", "qtype_te", "model.qtype_te"),
    ("model", "low_vram", "model.low_vram"), ("model", "layer_offloading", "model.layer_offloading"),
    ("model", "layer_offloading_transformer_percent", "model.layer_offloading_transformer_percent"),
    ("network", "linear", "network.linear"), ("network", "linear_alpha", "network.linear_alpha"),
    ("train", "batch_size", "train.batch_size"), ("train", "steps", "train.steps"),
    ("train", "gradient_accumulation", "train.gradient_accumulation"),
    ("train", "gradient_checkpointing", "train.gradient_checkpointing"), ("train", "lr", "train.lr"),
    ("train", "optimizer", "train.optimizer"), ("train", "lr_scheduler", "train.lr_scheduler"),
    ("train", "timestep_type", "train.timestep_type"),
    ("train", "cache_text_embeddings", "train.cache_text_embeddings"),
    ("train", "unload_text_encoder", "train.unload_text_encoder"),
    ("train", "diff_output_preservation", "train.diff_output_preservation"),
    ("train", "switch_boundary_every", "train.switch_boundary_every"),
    ("train", "content_or_style", "train.content_or_style"),
    ("ema", "use_ema", "train.ema_config.use_ema"),
    ("datasets", "resolution", "datasets[].resolution"), ("datasets", "num_frames", "datasets[].num_frames"),
    ("datasets", "caption_dropout_rate", "datasets[].caption_dropout_rate"),
    ("datasets", "cache_latents", "datasets[].cache_latents"),
    ("datasets", "cache_latents_to_disk", "datasets[].cache_latents_to_disk"),
    ("sample", "width", "sample.width"), ("sample", "height", "sample.height"),
    ("sample", "num_frames", "sample.num_frames"), ("sample", "sample_steps", "sample.sample_steps"),
    ("sample", "sample_every", "sample.sample_every"), ("sample", "guidance_scale", "sample.guidance_scale"),
    ("save", "save_every", "save.save_every"), ("save", "max_step_saves_to_keep", "save.max_step_saves_to_keep"),
)
# Keys a file leaves out whose trainer default is what the example means (toolkit/config_modules.py at the commit):
# TrainConfig lr_scheduler 'constant' (l.389), batch_size 1 (l.393), timestep_type 'sigmoid' (l.556),
# gradient_accumulation 1, EMA off unless
# ema_config.use_ema (l.545-551), DOP off, cache_text_embeddings / unload_text_encoder False; ModelConfig quantize
# False, quantize_te defaults to quantize (l.686), qtype / qtype_te 'qfloat8' (l.687-688), low_vram False.
TRAINER_DEFAULTS = {
    "model.quantize": False, "train.lr_scheduler": "constant", "train.timestep_type": "sigmoid", "train.batch_size": 1, "train.gradient_accumulation": 1,
    "train.ema_config.use_ema": False, "train.diff_output_preservation": False,
    "train.cache_text_embeddings": False, "train.unload_text_encoder": False, "model.low_vram": False,
    "datasets[].cache_latents": False, "datasets[].cache_latents_to_disk": False,
}
# The UI default job's values the recommender falls back to where an arch has no example (jobConfig.ts).
_UI_JOB = (
    ("train", "batch_size", "train.batch_size"), ("train", "steps", "train.steps"),
    ("train", "gradient_accumulation", "train.gradient_accumulation"),
    ("train", "gradient_checkpointing", "train.gradient_checkpointing"), ("train", "lr", "train.lr"),
    ("train", "optimizer", "train.optimizer"), ("train", "timestep_type", "train.timestep_type"),
    ("train", "cache_text_embeddings", "train.cache_text_embeddings"),
    ("train", "unload_text_encoder", "train.unload_text_encoder"),
    ("train", "diff_output_preservation", "train.diff_output_preservation"),
    ("train", "switch_boundary_every", "train.switch_boundary_every"),
    ("train", "content_or_style", "train.content_or_style"),
    ("network", "linear", "network.linear"), ("network", "linear_alpha", "network.linear_alpha"),
    ("save", "save_every", "save.save_every"), ("save", "max_step_saves_to_keep", "save.max_step_saves_to_keep"),
)
_UI_DATASET = (("resolution", "datasets[].resolution"), ("caption_dropout_rate", "datasets[].caption_dropout_rate"),
               ("num_frames", "datasets[].num_frames"), ("cache_latents_to_disk", "datasets[].cache_latents_to_disk"))
_UI_SAMPLE = (("width", "sample.width"), ("height", "sample.height"), ("sample_steps", "sample.sample_steps"),
              ("sample_every", "sample.sample_every"), ("num_frames", "sample.num_frames"),
              ("guidance_scale", "sample.guidance_scale"), ("n_prompts", "sample.n_prompts"))


def _is_lora(ex: dict) -> bool:
    net = ex.get("network") or {}
    return ex.get("process_type") in ("sd_trainer", "diffusion_trainer") and net.get("type") in ("lora",) \
        and not ex.get("adapter_type")


def _written(ex: dict) -> list[str]:
    """The setting paths the file itself writes (the rest of ``values`` are the trainer's defaults)."""
    out = []
    for section, key, path in _FIELDS:
        block = ex.get(section)
        if section == "datasets":
            block = (block or [{}])[0]
        if (block or {}).get(key) is not None:
            out.append(path)
    return sorted(out)


def _values(ex: dict) -> dict:
    out: dict = {}
    for section, key, path in _FIELDS:
        block = ex.get(section)
        if section == "datasets":
            block = (block or [{}])[0]
        value = (block or {}).get(key)
        if value is not None:
            out[path] = value
    for path, default in TRAINER_DEFAULTS.items():
        out.setdefault(path, default)
    out.setdefault("model.quantize_te", out["model.quantize"])
    for flag, qtype in (("model.quantize", "model.qtype"), ("model.quantize_te", "model.qtype_te")):
        if out[flag]:
            out.setdefault(qtype, "qfloat8")
    return dict(sorted(out.items()))


def build(examples_path: Path) -> dict:
    data = json.loads(examples_path.read_text(encoding="utf-8"))
    models = json.loads(MODELS.read_text(encoding="utf-8"))["models"]
    by_file = {ex["file"]: ex for ex in data["examples"]}
    recipes = []
    for m in models:
        for entry in m["example_configs"]:
            name = entry["file"].rsplit("/", 1)[-1]
            ex = by_file.get(name)
            if ex is None or not _is_lora(ex):
                continue
            tier = ex.get("vram_tier_gb_in_name") or entry.get("min_vram_gb")
            recipes.append({
                "arch": m["arch"], "$source": ex["$source"], "vram_gb": tier,
                "vram_basis": "file name" if ex.get("vram_tier_gb_in_name") else entry.get("basis"),
                "name_or_path": ex["model"]["name_or_path"], "values": _values(ex), "written": _written(ex)})
            break
    ui = data["ui_default_job"]
    proc, dataset, sample = ui["process"], ui["dataset"], ui["sample"]
    ui_values = {path: proc[sec][key] for sec, key, path in _UI_JOB if key in proc.get(sec, {})}
    ui_values["train.ema_config.use_ema"] = proc["train"]["ema_config"]["use_ema"]
    ui_values.update({path: dataset[key] for key, path in _UI_DATASET if key in dataset})
    ui_values.update({path: sample[key] for key, path in _UI_SAMPLE if key in sample})
    ui_values.setdefault("train.lr_scheduler", TRAINER_DEFAULTS["train.lr_scheduler"])
    return {
        "$comment": "Generated by tools/build_recipes.py from tests/data/aitk_examples.json (values read from "
                    "ai-toolkit's config/examples and UI at the commit below). 'values' holds only keys the example "
                    "writes, as setting paths, plus the trainer defaults named in TRAINER_DEFAULTS.",
        "$source": data["$source"],
        "ui_default_job": {"$source": ui["$source"], "values": dict(sorted(ui_values.items()))},
        "recipes": recipes,
    }


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else DEFAULT_IN
    OUT.write_text(json.dumps(build(src), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
