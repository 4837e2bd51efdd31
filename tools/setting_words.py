"""The words people read for each setting: labels, help text cleaned of implementation notes, when a setting applies.

Used by ``import_schema.py`` only. The trainer reference describes every key for developers ("cast with float();
non-numeric raises", "see aitk-archs.md"); the wizard shows people a short label and help in plain words. The
curated tables cover the settings on the step forms (the ones the trainer's own UI shows); every other setting gets
a label made from its key (``lr`` -> learning rate) and its reference text with the code talk taken out.
"""

from __future__ import annotations

import re

# -- labels -------------------------------------------------------------------------------------------------------
# The step forms' settings, in people's words (meaning from the reference's description of each key).
LABELS: dict[str, str] = {
    "config.name": "Job name",
    "process.type": "Trainer process",
    "process.trigger_word": "Trigger word",
    "model.arch": "Model",
    "model.name_or_path": "Model weights",
    "model.assistant_lora_path": "Training adapter",
    "model.unconditional_lora_path": "Unconditional adapter",
    "model.quantize": "Quantize the transformer",
    "model.quantize_te": "Quantize the text encoder",
    "model.qtype": "Transformer quantization",
    "model.qtype_te": "Text encoder quantization",
    "model.low_vram": "Low VRAM mode",
    "model.layer_offloading": "Offload layers to RAM",
    "model.layer_offloading_transformer_percent": "Transformer share offloaded",
    "model.layer_offloading_text_encoder_percent": "Text encoder share offloaded",
    "model.compile": "Compile the model",
    "model.model_kwargs": "Model options",
    "network.type": "Adapter type",
    "network.linear": "LoRA rank",
    "network.linear_alpha": "LoRA alpha",
    "network.conv": "Conv rank",
    "network.conv_alpha": "Conv alpha",
    "network.lokr_factor": "LoKr factor",
    "save.save_every": "Save every (steps)",
    "save.dtype": "Saved precision",
    "save.max_step_saves_to_keep": "Checkpoints to keep",
    "train.content_or_style": "Content or style",
    "train.steps": "Training steps",
    "train.lr": "Learning rate",
    "train.optimizer": "Optimizer",
    "train.optimizer_params": "Optimizer options",
    "train.optimizer_params.weight_decay": "Weight decay",
    "train.batch_size": "Batch size",
    "train.skip_first_sample": "Skip the first samples",
    "train.force_first_sample": "Sample when resuming",
    "train.gradient_accumulation": "Gradient accumulation",
    "train.diff_output_preservation": "Output preservation (DOP)",
    "train.diff_output_preservation_multiplier": "DOP strength",
    "train.diff_output_preservation_class": "DOP class word",
    "train.blank_prompt_preservation": "Blank prompt preservation",
    "train.blank_prompt_preservation_multiplier": "BPP strength",
    "train.loss_type": "Loss",
    "train.timestep_type": "Timestep sampling",
    "train.disable_sampling": "No preview samples",
    "train.unload_text_encoder": "Unload the text encoder",
    "train.cache_text_embeddings": "Cache text embeddings",
    "train.do_guidance_loss": "Guidance loss",
    "train.guidance_loss_target": "Guidance loss target",
    "train.do_differential_guidance": "Differential guidance",
    "train.differential_guidance_scale": "Differential guidance scale",
    "train.switch_boundary_every": "Switch stage every (steps)",
    "train.audio_loss_multiplier": "Audio loss weight",
    "train.ema_config.use_ema": "Use EMA",
    "train.ema_config.ema_decay": "EMA decay",
    "train.validation_config.resolution": "Validation resolution",
    "train.validation_config.validate_every_n_steps": "Validate every (steps)",
    "train.validation_config.validation_sigmas": "Validation noise levels",
    "train.validation_config.validation_items[].image_path": "Validation image",
    "train.validation_config.validation_items[].prompt": "Validation caption",
    "datasets[].folder_path": "Image folder",
    "datasets[].default_caption": "Default caption",
    "datasets[].caption_ext": "Caption extension",
    "datasets[].is_reg": "Regularization images",
    "datasets[].network_weight": "LoRA weight",
    "datasets[].num_repeats": "Repeats",
    "datasets[].batch_size": "Dataset batch size",
    "datasets[].resolution": "Resolutions",
    "datasets[].caption_dropout_rate": "Caption dropout",
    "datasets[].flip_x": "Mirror left-right",
    "datasets[].flip_y": "Flip upside down",
    "datasets[].cache_latents_to_disk": "Cache latents to disk",
    "datasets[].cache_latents_num_workers": "Latent-caching workers",
    "datasets[].control_path": "Control images",
    "datasets[].control_path_1": "Control images 1",
    "datasets[].control_path_2": "Control images 2",
    "datasets[].control_path_3": "Control images 3",
    "datasets[].num_frames": "Frames per clip",
    "datasets[].auto_frame_count": "Every frame of a clip",
    "datasets[].do_i2v": "Image to video",
    "datasets[].do_audio": "Train on audio",
    "datasets[].audio_preserve_pitch": "Keep audio pitch",
    "datasets[].audio_normalize": "Normalize audio",
    "sample.sampler": "Sampler",
    "sample.sample_every": "Sample every (steps)",
    "sample.sample_start_step": "First sample at step",
    "sample.width": "Width",
    "sample.height": "Height",
    "sample.seed": "Seed",
    "sample.walk_seed": "New seed per prompt",
    "sample.guidance_scale": "Guidance scale",
    "sample.sample_steps": "Sampling steps",
    "sample.num_frames": "Frames",
    "sample.fps": "Frames per second",
    "sample.network_multiplier": "LoRA strength",
    "sample.samples[].prompt": "Prompt",
    "sample.samples[].width": "Width",
    "sample.samples[].height": "Height",
    "sample.samples[].seed": "Seed",
    "sample.samples[].network_multiplier": "LoRA strength",
    "sample.samples[].ctrl_img": "Control image",
    "sample.samples[].ctrl_img_1": "Control image 1",
    "sample.samples[].ctrl_img_2": "Control image 2",
    "sample.samples[].ctrl_img_3": "Control image 3",
    # frequent "More settings" keys whose names say little
    "train.dtype": "Training precision",
    "train.gradient_checkpointing": "Gradient checkpointing",
    "train.noise_scheduler": "Noise schedule",
    "train.lr_scheduler": "Learning rate schedule",
    "train.lr_scheduler_params": "Schedule options",
    "train.max_grad_norm": "Gradient clipping",
    "train.noise_offset": "Noise offset",
    "train.reg_weight": "Regularization weight",
    "process.training_folder": "Output folder",
    "process.training_seed": "Training seed",
    "save.save_format": "Save format",
    "datasets[].num_workers": "Data loader workers",
    "datasets[].cache_latents": "Cache latents in RAM",
    "datasets[].buckets": "Aspect-ratio buckets",
    "datasets[].trigger_word": "Dataset trigger word",
    "datasets[].token_dropout_rate": "Token dropout",
}

# Words of keys, as people say them (the rest are lower-cased words as they are).
WORDS: dict[str, str] = {
    "lr": "learning rate", "te": "text encoder", "tes": "text encoders", "ema": "EMA", "vae": "VAE",
    "lora": "LoRA", "lokr": "LoKr", "lorm": "LoRM", "dtype": "precision", "num": "number of", "cfg": "CFG",
    "snr": "SNR", "fft": "FFT", "gpu": "GPU", "cpu": "CPU", "hf": "Hugging Face", "xformers": "xFormers",
    "sdp": "SDPA", "unet": "UNet", "clip": "CLIP", "ip": "IP", "kwargs": "options", "params": "options",
    "ctrl": "control", "img": "image", "imgs": "images", "ext": "extension", "reg": "regularization",
    "qtype": "quantization", "t0": "t0", "id": "ID", "wandb": "W&B", "ui": "UI", "xl": "XL", "v2": "SD 2",
    "v3": "SD 3", "ssd": "SSD-1B", "fps": "frames per second", "llm": "LLM", "i2v": "image to video",
    "ara": "accuracy-recovery adapter", "prob": "probability", "max": "max", "min": "min", "dir": "folder",
    "T_mult": "period multiplier", "sqlite": "SQLite", "db": "database", "mse": "MSE", "vlm": "VLM",
    "paramiter": "parameter", "neg": "negative prompt", "attn": "attention", "gpus": "GPUs",
}


def humanize(key: str) -> str:
    """A label from a key: ``max_grad_norm`` -> ``Max grad norm``, ``te_dtype`` -> ``Text encoder precision``."""
    words = [WORDS.get(w, w) for w in key.split("_") if w]
    text = " ".join(words) or key
    return text if words and words[0] != key.split("_")[0] and not words[0].islower() else text[0].upper() + text[1:]


# -- help -----------------------------------------------------------------------------------------------------------
# Help for the step forms' settings whose reference text is written for developers.
HELP: dict[str, str] = {
    "config.name": "Name of the run; required. The output folder and the saved files are named after it, and "
                   "every '[name]' in the job is replaced with it.",
    "process.type": "Which trainer process runs the job: 'diffusion_trainer' is what the trainer's UI writes, "
                    "'sd_trainer' what its example jobs use; both train the same way.",
    "model.name_or_path": "Where the base model's weights come from: a Hugging Face repo, a local diffusers "
                          "folder, or for some models a single .safetensors file. Required.",
    "model.arch": "The model family being trained; it decides how the trainer loads and trains it.",
    "model.assistant_lora_path": "A training adapter that is active while training but not saved (used to train "
                                 "on distilled models such as FLUX.1-schnell or Z-Image Turbo). Cannot be combined "
                                 "with an accuracy-recovery adapter.",
    "model.qtype": "How the transformer's weights are stored when quantized (qfloat8, uint4, ...). A value "
                   "'uintN|adapter' adds an accuracy-recovery adapter that makes up for the lost precision.",
    "model.qtype_te": "How the text encoder's weights are stored when quantized (the same choices as for the "
                      "transformer).",
    "model.model_kwargs": "Options of this model only, such as which stage of Wan 2.2 to train "
                          "(train_high_noise / train_low_noise) or Qwen-Image-Edit's match_target_res.",
    "model.layer_offloading": "Experimental: keep layer weights in system RAM and move them to the GPU as they "
                              "are needed, trading speed for VRAM. Quantization qfloat8 becomes float8 with it.",
    "model.compile": "Compile the transformer with torch.compile: a slower start for faster steps.",
    "model.low_vram": "Hold parts of the model on the CPU while it is prepared, to fit cards with less memory "
                      "(slower); several large models need it on 24 GB cards.",
    "network.type": "The kind of adapter trained: LoRA, or LoKr (a Kronecker-product adapter).",
    "network.linear": "Rank of the adapter on linear layers: a higher rank learns more detail and makes a larger "
                      "file.",
    "network.linear_alpha": "Scales the adapter's effect; usually equal to the rank. For transformer models saved "
                            "in the PEFT format the rank takes its place.",
    "network.conv": "Rank of the adapter on convolution layers, for models that have them (such as SDXL).",
    "network.conv_alpha": "Scales the convolution adapter's effect; usually equal to the conv rank.",
    "network.lokr_factor": "How a LoKr splits each layer; -1 picks the largest factor.",
    "save.dtype": "Precision of the saved weights: bf16, fp16 or fp32.",
    "train.steps": "Total number of training steps.",
    "train.lr": "Learning rate: how far each training step moves the weights. Prodigy and D-Adaptation set their "
                "own (values below 0.1 become 1.0).",
    "train.optimizer": "The optimizer. 8-bit ones need bitsandbytes, Prodigy needs prodigyopt and Lion needs "
                       "lion_pytorch.",
    "train.optimizer_params": "Extra options for the optimizer, such as weight_decay or betas. Leave eps out: the "
                              "trainer already sets it.",
    "train.batch_size": "Images per training step (a dataset's own batch size takes its place for that dataset).",
    "train.gradient_accumulation": "Add up the gradients of this many batches before each update: the effect of "
                                   "a larger batch without its memory.",
    "train.diff_output_preservation": "Also train the adapter to reproduce the base model's picture for the "
                                      "prompt with the trigger word replaced by the class word, so the class keeps "
                                      "its look. Needs a trigger word; not together with blank prompt preservation.",
    "train.diff_output_preservation_multiplier": "How strongly output preservation (DOP) pulls toward the base "
                                                 "model's picture.",
    "train.diff_output_preservation_class": "The class word that replaces the trigger word for output "
                                            "preservation, e.g. 'woman'.",
    "train.blank_prompt_preservation": "Keep the base model's picture for an empty prompt (BPP).",
    "train.blank_prompt_preservation_multiplier": "How strongly blank prompt preservation pulls toward the base "
                                                  "model.",
    "train.timestep_type": "How training timesteps are drawn for flow-matching models: sigmoid, linear, shift or "
                           "weighted.",
    "train.loss_type": "The loss the training minimizes (mse unless you know why another).",
    "train.unload_text_encoder": "Encode the trigger word and sample prompts once, then unload the text encoder "
                                 "to save memory; dataset captions are then not used. Not for the edit models; "
                                 "not together with caching text embeddings.",
    "train.cache_text_embeddings": "Encode every caption once, store it on disk and unload the text encoder. "
                                   "Captions then stay fixed: no trigger insertion or caption dropout.",
    "train.do_differential_guidance": "Amplify the difference between target and prediction to form a new "
                                      "target (experimental).",
    "train.ema_config.use_ema": "Keep an exponential moving average of the trained weights; it smooths out noise "
                                "in the final adapter.",
    "datasets[].batch_size": "Batch size for this dataset; empty uses the training batch size.",
    "datasets[].folder_path": "The folder of images or videos, each with a caption file of the same name. "
                              "Required.",
    "datasets[].caption_ext": "The extension of the caption files, e.g. txt.",
    "datasets[].is_reg": "These are regularization images: generic pictures of the class, weighted by the "
                         "regularization weight.",
    "datasets[].network_weight": "The adapter's strength while training on this dataset.",
    "datasets[].caption_dropout_rate": "Chance that an image is trained without its caption.",
    "datasets[].control_path": "The folder of control images, named like the training images (edit, Kontext and "
                               "image-to-video models).",
    "datasets[].control_path_1": "The first folder of control images, named like the training images.",
    "datasets[].control_path_2": "The second folder of control images.",
    "datasets[].control_path_3": "The third folder of control images.",
    "datasets[].cache_latents_to_disk": "Encode every image once and keep the result on disk: faster epochs, no "
                                        "VAE in memory (not with augmentations).",
    "sample.sampler": "Sampler for the preview images: flowmatch for flow models, ddpm for SD 1.5 and SDXL. Newer "
                      "models use their own and ignore it.",
    "sample.samples[].network_multiplier": "The adapter's strength for this prompt.",
    "sample.samples[].ctrl_img": "The control or start image for this prompt (edit, Kontext and image-to-video "
                                 "models).",
    "sample.samples[].ctrl_img_1": "The first control image for this prompt.",
    "train.validation_config.validation_items[].image_path": "A held-out image of the concept (not one of the "
                                                              "training images).",
    "model.dtype": "The precision the model is loaded in; the trainer replaces it with the training precision.",
    "datasets[].type": "The kind of dataset; only 'image' works (videos and audio are read as image datasets "
                       "too).",
    "train.lr_scheduler": "How the learning rate changes over the run. The trainer passes the step count to the "
                          "schedule, so 'step' and schedules it does not know fail when training starts.",
    "save.save_format": "'safetensors' or 'diffusers'. A LoRA is always written as .safetensors.",
    "train.noise_scheduler": "The training noise schedule. Every flow-matching model needs 'flowmatch'; models "
                             "that bring their own schedule ignore it.",
    "job": "The kind of job; training jobs are 'extension'.",
    "train.gradient_accumulation_steps": "Older form of gradient accumulation (-1: a whole epoch). Not together "
                                         "with gradient accumulation above 1.",
    "train.bypass_guidance_embedding": "Bypass the guidance embedding (Flex.1 and Flex.2). Not together with the "
                                       "guidance loss.",
    "model.attn_masking": "Attention masking for FLUX.1 (the older FLUX loader only).",
    "model.split_model_over_gpus": "Split the model across GPUs (work in progress; the older FLUX loader only).",
    "network.network_kwargs": "Extra options for the adapter, such as ignore_if_contains / only_if_contains "
                              "(parts of module names to leave out or keep).",
    "datasets[].poi": "No longer supported: leave it empty.",
    "train.max_loss_debug": "Stop with a detailed report when the loss goes above the loss limit.",
    "meta.name": "Free-form name kept in the saved adapter's metadata; '[name]' (what the trainer's UI writes) is "
                 "replaced with the run's name.",
    "meta.version": "Free-form version kept in the saved adapter's metadata (the trainer's UI writes '1.0').",
    "sample.neg": "Negative prompt for the previews of models that use one (empty: none).",
    "datasets[].num_workers": "Processes that load this dataset's images while training. The trainer takes the "
                              "first dataset's value for every dataset.",
    "train.optimizer_params.weight_decay": "Weight decay: pulls the adapter's weights a little towards zero at "
                                           "every step.",
    "datasets[].cache_text_embeddings": "Cache the text embeddings of this dataset; every dataset must agree. Set "
                                        "by the training setting of the same name.",
}

# Code talk taken out of every other reference text.
_DROP = [
    (re.compile(r"\s*\((?:[^()]*\(\)[^()]*|[^()]*(?:raises|cast|aitk-\w+\.md|get_torch_dtype|parse time|"
                r"UI exposes it|sic)[^()]*)\)", re.I), ""),
    (re.compile(r"\s*\(Read by the trainer but has no effect in the current revision\.\)"),
     " It has no effect in this version of ai-toolkit."),
    (re.compile(r"Read but no consumer found in this revision\.\s*"), ""),
    (re.compile(r"\bNot type-checked at parse time\.\s*"), ""),
    (re.compile(r"^FORK ONLY:\s*"), "Extended trainer only: "),
    (re.compile(r"^Fork UI only[:.]\s*"), "Used by the extended trainer's UI only. "),
    (re.compile(r"\bTE\b"), "text encoder"),
]
# Words that must not reach a person (the tests check every help text against them).
CODE_TALK = re.compile(r"\w\(\)|aitk-\w+|\.md\b|\bModelConfig\b|\bTrainConfig\b|\bDatasetConfig\b|"
                       r"get_torch_dtype|\bcast\b|\braises?\b|parse time", re.I)


def clean_help(path: str, doc: str) -> str:
    """The help people read for ``path``: the curated text, else the reference text without code talk."""
    if path in HELP:
        return HELP[path]
    text = doc
    for pattern, repl in _DROP:
        text = pattern.sub(repl, text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([.,;:])", r"\1", text)
    return text or doc


# -- when a setting applies -----------------------------------------------------------------------------------------
# Settings that only matter while another setting holds one of some values (the trainer reads them only then).
WHEN: dict[str, dict[str, list]] = {
    "network.lokr_factor": {"network.type": ["lokr"]},
    "model.layer_offloading_transformer_percent": {"model.layer_offloading": [True]},
    "model.layer_offloading_text_encoder_percent": {"model.layer_offloading": [True]},
    "train.diff_output_preservation_multiplier": {"train.diff_output_preservation": [True]},
    "train.diff_output_preservation_class": {"train.diff_output_preservation": [True]},
    "train.blank_prompt_preservation_multiplier": {"train.blank_prompt_preservation": [True]},
    "train.guidance_loss_target": {"train.do_guidance_loss": [True]},
    "train.differential_guidance_scale": {"train.do_differential_guidance": [True]},
    "train.ema_config.ema_decay": {"train.ema_config.use_ema": [True]},
}
# The reference's UI conditions name the trainer UI's per-model sections.
_ADDS = re.compile(r"^(?:arch additionalSections )?((?:model|datasets|train|sample)\.[\w.]+)(?: archs)?\b")
_REMOVES = re.compile(r"(?:unless arch disables|arch does not disable) ([\w.]+(?: / [\w.]+)*)")


def applies(path: str, ui_condition: str | None) -> dict:
    """When the setting applies: ``arch_adds`` (the model must list that UI section), ``arch_removes`` (the model
    must not disable any of them), ``video`` (video models only), ``when`` (another setting's values)."""
    out: dict = {}
    text = ui_condition or ""
    removes = _REMOVES.search(text)
    if removes:
        out["arch_removes"] = removes.group(1).split(" / ")
    elif (adds := _ADDS.match(text)) and not text.startswith(("when", "unless")):
        out["arch_adds"] = adds.group(1)
    if path == "network.conv_alpha":  # the UI keeps it with the conv rank it belongs to
        out["arch_removes"] = ["network.conv"]
    if text == "video archs":
        out["video"] = True
    if path in WHEN:
        out["when"] = WHEN[path]
    return out
