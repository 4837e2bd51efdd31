"""Regenerate ``src/nbwizard/engine/data/settings.json`` from the team's trainer reference.

The reference (``../shared/reference/aitk-schema.json``) records every key ai-toolkit reads, as found in its
config classes. This script keeps those facts and adds what the wizard needs per setting: the wizard step it
belongs to, whether it is a common field, which trainer flavours read it, and aliases other trainers use for it.
The committed JSON is the package's single source; run this only when the reference changes::

    python tools/import_schema.py ../shared/reference/aitk-schema.json
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

from setting_words import LABELS, applies, clean_help, humanize

OUT = Path(__file__).resolve().parents[1] / "src" / "nbwizard" / "engine" / "data" / "settings.json"

# Sections whose settings serve jobs other than a plain LoRA (sliders, adapters, embeddings...).
ADVANCED_SECTIONS = {"network.lorm", "slider", "guidance", "embedding", "decorator", "adapter"}

# (section, key) -> step, for keys whose step is not their section's.
STEP_BY_KEY: dict[tuple[str, str], str] = {}
def _steps(step: str, section: str, keys: str) -> None:
    for key in keys.split():
        STEP_BY_KEY[(section, key)] = step

_steps("dataset", "process", "trigger_word")
_steps("memory", "process", "device")
_steps("memory", "config", "device")
_steps("training", "process", "training_seed")
_steps("target", "process", "do_lorm lorm_extract_mode lorm_extract_mode_param")
_steps("quantization", "model", "quantize quantize_te qtype qtype_te text_encoder_bits quantize_kwargs "
       "accuracy_recovery_adapter vae_dtype te_dtype")
_steps("memory", "model", "low_vram vae_device te_device split_model_over_gpus "
       "split_model_other_module_param_count_scale auto_memory compile block_compile compile_mode "
       "compile_fullgraph compile_dynamic cache_size_limit attn_masking")
_steps("model_specific", "model", "layer_offloading layer_offloading_transformer_percent "
       "layer_offloading_text_encoder_percent")
_steps("target", "model", "ignore_if_contains only_if_contains")
_steps("memory", "network", "layer_offloading")
_steps("optimizer", "train", "optimizer optimizer_params lr unet_lr text_encoder_lr refiner_lr embedding_lr "
       "adapter_lr lr_scheduler lr_scheduler_params max_grad_norm do_paramiter_swapping paramiter_swapping_factor")
_steps("memory", "train", "batch_size gradient_accumulation_steps gradient_accumulation gradient_checkpointing dtype "
       "xformers sdp attention_backend unload_text_encoder cache_text_embeddings single_item_batching "
       "auto_scale_batch_size min_batch_size max_batch_size batch_size_warmup_steps")
_steps("regularization", "train", "diff_output_preservation diff_output_preservation_multiplier "
       "diff_output_preservation_class blank_prompt_preservation blank_prompt_preservation_multiplier "
       "prompt_dropout_prob reg_weight inverted_mask_prior inverted_mask_prior_multiplier do_prior_divergence "
       "weight_jitter")
_steps("sampling", "train", "skip_first_sample force_first_sample disable_sampling")
_steps("model_specific", "train", "switch_boundary_every audio_loss_multiplier bypass_guidance_embedding")
_steps("dataset", "datasets[]", "type folder_path dataset_path default_caption trigger_word caption_ext is_reg "
       "prior_reg network_weight num_repeats caption_type random_triggers random_triggers_max replacements "
       "use_short_captions loss_multiplier extra_values debug")
_steps("regularization", "datasets[]", "caption_dropout_rate token_dropout_rate shuffle_tokens keep_tokens "
       "diff_output_preservation diff_output_preservation_class")
_steps("resolution", "datasets[]", "resolution random_scale random_crop scale buckets bucket_tolerance flip_x "
       "flip_y augments augmentations shuffle_augmentations square_crop replay_transforms standardize_images "
       "cache_latents cache_latents_to_disk cache_tensors_to_disk load_image_when_caching_latents alpha_mask "
       "fast_image_size")
_steps("memory", "datasets[]", "batch_size num_workers prefetch_factor cache_latents_num_workers persistent_workers "
       "gpu_prefetch_batches cache_text_embeddings cache_clip_vision_to_disk")

# Section -> step for every key not listed above.
STEP_BY_SECTION = {
    "job": "saving", "config": "saving", "meta": "saving", "process": "saving", "process.monitoring": "saving",
    "save": "saving", "logging": "saving",
    "model": "model", "model.model_kwargs": "model", "model.quantize_kwargs": "quantization",
    "network": "target", "network.network_kwargs": "target", "network.lorm": "target",
    "train": "training", "train.optimizer_params": "optimizer", "train.lr_scheduler_params": "optimizer",
    "train.ema_config": "regularization", "train.validation_config": "sampling",
    "train.validation_config.validation_items[]": "sampling",
    "datasets[]": "model_specific",
    "sample": "sampling", "sample.samples[]": "sampling",
    "slider": "target", "guidance": "target", "embedding": "target", "decorator": "target", "adapter": "target",
}

# Names other trainers (kohya_ss, diffusers scripts, SimpleTuner) use for the same setting. ai-toolkit ignores
# them silently, so the wizard offers the real key when it meets one.
ALIASES = {
    "train.lr": ["learning_rate", "unet_learning_rate"],
    "train.steps": ["max_train_steps", "max_steps", "num_train_steps", "train_steps"],
    "train.batch_size": ["train_batch_size"],
    "train.gradient_accumulation_steps": ["grad_accum", "gradient_accumulation_step"],
    "train.optimizer": ["optimizer_type", "optim"],
    "train.lr_scheduler": ["scheduler", "lr_scheduler_type"],
    "train.noise_offset": ["noise_offset_strength"],
    "train.text_encoder_lr": ["te_lr", "text_encoder_learning_rate"],
    "train.gradient_checkpointing": ["grad_checkpointing"],
    "train.timestep_type": ["timestep_sampling", "weighting_scheme"],
    "network.linear": ["network_dim", "dim", "lora_rank"],
    "network.linear_alpha": ["network_alpha", "lora_alpha"],
    "network.type": ["network_type", "network_module"],
    "datasets[].folder_path": ["image_dir", "train_data_dir", "instance_data_dir", "path"],
    "datasets[].caption_ext": ["caption_extension"],
    "datasets[].num_repeats": ["repeats"],
    "datasets[].caption_dropout_rate": ["caption_dropout"],
    "save.save_every": ["save_every_n_steps", "checkpointing_steps"],
    "save.max_step_saves_to_keep": ["save_last_n_steps", "checkpoints_total_limit"],
    "sample.sample_every": ["sample_every_n_steps", "validation_steps"],
    "model.name_or_path": ["pretrained_model_name_or_path", "model_path", "base_model"],
}


def _trainers(entry: dict) -> list[str]:
    if entry.get("fork_only"):
        return ["extended"]
    if entry.get("in_fork") is False:
        return ["upstream"]
    return ["upstream", "extended"]


def _help(path: str, entry: dict) -> str:
    text = " ".join(str(entry.get("doc", "")).split())
    if entry.get("effective") is False:
        text += " (Read by the trainer but has no effect in the current revision.)"
    return clean_help(path, text)


_FALLS_BACK = re.compile(r"^falls back to ([\w.]+)$")


def _falls_back_to(section: str, entry: dict, paths: set[str]) -> str | None:
    """The setting whose value applies when this one is left out ("falls back to sample.width")."""
    match = _FALLS_BACK.match(entry.get("default_note") or "")
    if not match:
        return None
    name = match.group(1)
    for candidate in (name, f"{section}.{name}", f"{section.rpartition('.')[0]}.{name}".lstrip(".")):
        if candidate in paths:
            return candidate
    return None


def _unique_labels(records: list[dict]) -> None:
    """Settings shown on one page never share a label: a repeated one names its section (list items apart)."""
    def group(r: dict) -> tuple[str, bool]:
        section = r["path"].rpartition(".")[0]
        return r["step"], section.endswith("[]") and section != "datasets[]"

    seen = Counter((group(r), r["label"]) for r in records)
    for r in records:
        if seen[(group(r), r["label"])] > 1 and r["path"] not in LABELS:
            section = r["path"].rpartition(".")[0].replace("[]", "").rpartition(".")[2] or "job"
            r["label"] = f"{r['label']} ({humanize(section).lower()})"


def build(reference: dict) -> list[dict]:
    out = []
    for section, body in reference.items():
        if section.startswith("$") or not isinstance(body, dict):
            continue
        for key, entry in body.items():
            if key.startswith("$") or not isinstance(entry, dict) or entry.get("kind") not in ("leaf", "free_dict"):
                continue
            path = key if section == "job" else f"{section}.{key}"
            step = STEP_BY_KEY.get((section, key), STEP_BY_SECTION[section])
            record = {
                "path": path,
                "label": LABELS.get(path) or humanize(key),
                "type": entry["type"],
                "default": entry.get("default"),
                "choices": entry.get("choices") or entry.get("ui_choices"),
                "help": _help(path, entry),
                "step": step,
                "common": bool(entry.get("ui_exposed")) and section not in ADVANCED_SECTIONS,
                "trainers": _trainers(entry),
                "kind": entry["kind"],
            }
            for src, dst in (("ui_default", "ui_default"), ("raises", "raises"), ("required", "required"),
                             ("ui_condition", "ui_condition")):
                if src in entry and entry[src] not in (None, False, ""):
                    record[dst] = entry[src]
            if entry.get("effective") is False:
                record["effective"] = False
            if section in ADVANCED_SECTIONS:
                record["other_jobs"] = True
            if path in ALIASES:
                record["aliases"] = ALIASES[path]
            if rule := applies(path, entry.get("ui_condition")):
                record["applies"] = rule
            out.append(record)
    paths = {r["path"] for r in out}
    for record in out:
        section, _, key = record["path"].rpartition(".")
        entry = reference.get(section or "job", {}).get(key, {})
        if fallback := _falls_back_to(section, entry, paths):
            record["falls_back_to"] = fallback
    _unique_labels(out)
    unknown = {p for r in out for p in r.get("applies", {}).get("when", {})} - paths
    if unknown or set(LABELS) - paths:
        raise SystemExit(f"labels or conditions name unknown settings: {sorted(unknown | (set(LABELS) - paths))}")
    missing = set(ALIASES) - {r["path"] for r in out}
    if missing:
        raise SystemExit(f"aliases name unknown settings: {sorted(missing)}")
    return out


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[2] / "shared/reference/aitk-schema.json"
    records = build(json.loads(src.read_text()))
    OUT.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} settings to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
