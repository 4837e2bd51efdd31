"""Regenerate ``src/nbwizard/engine/data/models.json``: the model catalog, one record per ai-toolkit arch.

Two inputs:

* the team's arch reference (``../shared/reference/aitk-archs.json``): the trainer UI's arch list, what the UI
  sets when an arch is picked, hidden/extra form sections, quantization and ARA options, example configs;
* ``BACKEND_ONLY``: archs ``model.arch`` accepts without a UI entry (SD 3.5 Large), written from ai-toolkit's example
  config in the reference's format and marked ``ui_listed: false``;
* the size table below (``SIZES``), kept here as data: per arch, the components that take memory (denoiser,
  text encoders, VAE, image/audio encoders) and the latent-geometry facts the VRAM predictor needs. Every number
  carries a short source; a number nobody could confirm is ``None`` with ``unknown_reason``.

The committed JSON is the package's single source; run this only when the reference or the table changes::

    python tools/build_models.py ../shared/reference/aitk-archs.json

Source tags: ``public:`` a model card / paper / diffusers config; ``repo:`` ai-toolkit source (snapshot of
2026-08-21, ``27a03a9``), paths relative to its root; ``derived:`` worked out from facts named in the text.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "nbwizard" / "engine" / "data" / "models.json"
DEFAULT_REF = Path(__file__).resolve().parents[2] / "shared" / "reference" / "aitk-archs.json"

# ---------------------------------------------------------------------------------------------------------------
# UI settings: reference key -> our dotted setting path (relative to a process entry).
# ---------------------------------------------------------------------------------------------------------------
_SECTION_KEYS = {
    "model": "name_or_path quantize qtype quantize_te qtype_te low_vram model_kwargs assistant_lora_path "
    "unconditional_lora_path extras_name_or_path",
    "train": "noise_scheduler timestep_type lr bypass_guidance_embedding unload_text_encoder cache_text_embeddings "
    "audio_loss_multiplier do_guidance_loss guidance_loss_target max_loss",
    "network.network_kwargs": "ignore_if_contains",
    "network": "transformer_only",
}
KEY_MAP: dict[str, str] = {k: f"{sec}.{k}" for sec, keys in _SECTION_KEYS.items() for k in keys.split()}
KEY_MAP.update(
    network_linear="network.linear",
    network_linear_alpha="network.linear_alpha",
    network_conv="network.conv",
    sampler="sample.sampler",
    sample_width="sample.width",
    sample_height="sample.height",
    sample_num_frames="sample.num_frames",
    sample_fps="sample.fps",
    sample_guidance_scale="sample.guidance_scale",
    sample_steps="sample.sample_steps",
    sample_neg="sample.neg",
)
for _k in "num_frames cache_latents_to_disk controls auto_frame_count do_audio do_i2v fps".split():
    KEY_MAP[f"dataset_{_k}"] = f"datasets[].{_k}"

# Reference keys that describe the job rather than being config keys; their meaning is kept as a field.
NOT_CONFIG_KEYS = {"layer_offloading_key_present"}  # -> supports_layer_offloading

# Native-resolution notes the simple parser would misread.
NATIVE_OVERRIDES: dict[str, int | None] = {
    "hidream_e1": None,  # "768-1024 [uncertain]"
    # "~1 MP control images": about 1024 x 1024.
    "qwen_image_edit": 1024, "qwen_image_edit_plus": 1024, "qwen_image_edit_plus:2511": 1024,
}


# ---------------------------------------------------------------------------------------------------------------
# Size facts.
# ---------------------------------------------------------------------------------------------------------------
def C(role, name, params_b, source=None, unknown_reason=None, note="", bytes_per_param=None):
    out = {"role": role, "name": name, "params_b": params_b, "source": source,
           "unknown_reason": unknown_reason, "note": note}
    if bytes_per_param is not None:
        out["bytes_per_param"] = bytes_per_param
    return out


def F(value, source=None, unknown_reason=None, note=""):
    return {"value": value, "source": source, "unknown_reason": unknown_reason, "note": note}


def U(reason, note=""):
    return F(None, None, reason, note)


NOT_VIDEO = U("n/a: not a video model")
PIXEL = U("n/a: pixel-space model, no VAE")
NOT_STATED = "not stated in the ai-toolkit source or a model card checked"

# Shared components --------------------------------------------------------------------------------------------
T5XXL = C("text_encoder", "T5-XXL encoder", 4.76, "public: google/t5-v1_1-xxl encoder half, as listed on the "
          "FLUX.1-dev model card", note="encoder only; ai-toolkit loads T5EncoderModel")
CLIP_L = C("text_encoder", "CLIP-L", 0.123, "public: openai/clip-vit-large-patch14 text tower")
CLIP_G = C("text_encoder", "OpenCLIP bigG", 0.695, "public: laion CLIP-ViT-bigG-14 text tower (SDXL paper)")
UMT5 = C("text_encoder", "umT5-XXL encoder", 5.7, "public: google/umt5-xxl encoder (Wan 2.1 model card; "
         "larger vocabulary than T5-XXL)")
QWEN25VL7 = C("text_encoder", "Qwen2.5-VL-7B", 8.3, "public: model card of Qwen/Qwen2.5-VL-7B-Instruct "
              "(8.3B incl. vision tower)")
QWEN3_4B = C("text_encoder", "Qwen3-4B", 4.0, "public: model card of Qwen/Qwen3-4B")
QWEN3_06B = C("text_encoder", "Qwen3-0.6B", 0.6, "public: model card of Qwen/Qwen3-0.6B",
              note="key prefix text_encoders.qwen3_06b in the AIO file [repo]")
FLUX_VAE = C("vae", "FLUX.1 VAE (16 ch)", 0.084, "derived: SD-VAE conv layout (83.7M, public) with 16 latent "
             "channels; only the latent convs differ")
SD_VAE = C("vae", "SD VAE (4 ch)", 0.084, "public: AutoencoderKL of stable-diffusion-v1-5, 83.7M")
WAN21_VAE = C("vae", "Wan 2.1 VAE", 0.127, "public: Wan 2.1 technical report (Wan-VAE, 127M)")
QWEN_IMAGE_VAE = C("vae", "Qwen-Image VAE", 0.127, "derived: Qwen-Image report - Wan 2.1 VAE architecture with "
                   "a fine-tuned image decoder (127M)")
FLUX2_VAE = C("vae", "FLUX.2 VAE (32 ch)", None, unknown_reason=NOT_STATED,
              note="repo: extensions_built_in/diffusion_models/flux2/src/autoencoder.py (z_channels 32)")


def _nominal(role, name, size, what):
    return C(role, name, size, f"public: nominal size in the model name ({what})",
             note="nominal; the exact count (e.g. with a vision tower) may be a little higher")


# Shared fact sets ---------------------------------------------------------------------------------------------
def _facts(latent, down, temporal, patch, blocks, hidden):
    return {"latent_channels": latent, "vae_downsample": down, "temporal_downsample": temporal,
            "patch_size": patch, "blocks": blocks, "hidden_size": hidden}


FLUX_AE_GEOM = dict(
    latent=F(16, "public: FLUX.1 autoencoder config (z_channels 16)"),
    down=F(8, "public: FLUX.1 autoencoder (ch_mult of 4 levels = 3 downsamples)"),
)
FLUX1 = _facts(**FLUX_AE_GEOM, temporal=NOT_VIDEO,
               patch=F(2, "public: FLUX.1 packs 2x2 latent patches (in_channels 64 = 16 x 4)"),
               blocks=F(57, "public: diffusers FluxTransformer2DModel config (num_layers 19, num_single_layers 38)",
                        note="19 double-stream + 38 single-stream"),
               hidden=F(3072, "public: FLUX.1 config (24 heads x 128)"))
QWEN_VAE_GEOM = dict(
    latent=F(16, "public: Qwen/Qwen-Image vae config (z_dim 16)"),
    down=F(8, "public: Qwen-Image VAE, Wan-style 8x spatial"),
)
QWEN_IMAGE = _facts(**QWEN_VAE_GEOM, temporal=NOT_VIDEO, patch=F(2, "public: Qwen-Image transformer config"),
                    blocks=F(60, "public: Qwen-Image transformer config (num_layers 60)"),
                    hidden=F(3072, "public: Qwen-Image transformer config (24 heads x 128)"))
WAN21_GEOM = dict(
    latent=F(16, "public: Wan 2.1 config (Wan-VAE z_dim 16)"),
    down=F(8, "public: Wan 2.1 config vae_stride (4, 8, 8)"),
    temporal=F(4, "public: Wan 2.1 config vae_stride (4, 8, 8)"),
    patch=F(2, "public: Wan config patch_size (1, 2, 2)", note="1 in time, 2x2 in space"),
)
WAN_14B = _facts(**WAN21_GEOM, blocks=F(40, "public: Wan 2.1/2.2 14B config (num_layers 40)"),
                 hidden=F(5120, "public: Wan 14B config (dim 5120)"))
ZIMAGE = _facts(**FLUX_AE_GEOM, temporal=NOT_VIDEO,
                patch=F(2, "repo: extensions_built_in/diffusion_models/z_image/z_image_l2p_model.py (Z-Image "
                        "transformer config all_patch_size [2])"),
                blocks=F(30, "repo: z_image_l2p_model.py Z-Image config (n_layers 30)",
                         note="plus 2 noise-refiner and 2 context-refiner layers"),
                hidden=F(3840, "repo: z_image_l2p_model.py Z-Image config (dim 3840)"))
for _k in ("latent_channels", "vae_downsample"):
    ZIMAGE[_k] = dict(ZIMAGE[_k], note="Z-Image decodes with the FLUX.1 VAE (public: Tongyi-MAI/Z-Image vae)")

HIDREAM = _facts(**FLUX_AE_GEOM, temporal=NOT_VIDEO, patch=F(2, "public: HiDream-I1 transformer config"),
                 blocks=F(48, "public: HiDream-I1 transformer config (num_layers 16, num_single_layers 32)",
                          note="16 double-stream + 32 single-stream; MoE feed-forward (4 routed experts, repo)"),
                 hidden=F(2560, "public: HiDream-I1 transformer config (20 heads x 128)"))

KREA2 = _facts(latent=F(16, "repo: extensions_built_in/diffusion_models/krea2/krea2.py (channels 16, Qwen-Image "
                        "VAE)"),
               down=F(8, "repo: krea2.py (vae_scale_factor 8, Qwen-Image VAE is f8)"), temporal=NOT_VIDEO,
               patch=F(2, "repo: krea2.py KREA2_MMDIT_CONFIG patch 2"),
               blocks=F(28, "repo: krea2.py KREA2_MMDIT_CONFIG layers 28", note="plus 12 text layers (txtlayers)"),
               hidden=F(6144, "repo: krea2.py KREA2_MMDIT_CONFIG features 6144"))
MAGEFLOW = _facts(latent=F(128, "repo: extensions_built_in/diffusion_models/mageflow/mageflow.py docstring "
                           "(MageVAE 128 ch)"),
                  down=F(16, "repo: mageflow.py (vae_scale_factor 16)"), temporal=NOT_VIDEO,
                  patch=F(1, "repo: mageflow.py (patch_size 1)"),
                  blocks=F(12, "repo: mageflow.py docstring (12 blocks)"),
                  hidden=F(3072, "repo: mageflow.py docstring (hidden 3072)"))
MINIMAX = _facts(latent=F(24, "repo: extensions_built_in/diffusion_models/minimax_h3/src/transformer.py "
                          "(latents_dim 24)"),
                 down=F(16, "repo: minimax_h3.py (16x VAE spatial compression)"),
                 temporal=U("17n+5 pixel frames map to 5n+2 latent frames (repo docstring): no single factor"),
                 patch=F(2, "repo: minimax_h3/src/transformer.py patch_size (1, 2, 2)", note="1 in time, 2x2"),
                 blocks=F(50, "repo: minimax_h3/src/transformer.py (num_layers 50)",
                          note="plus 2 token-refiner layers"),
                 hidden=F(5376, "repo: minimax_h3/src/transformer.py (hidden_size 5376)"))
LTX2 = _facts(latent=F(128, "public: LTX-2 transformer config (in_channels 128, patch 1)"),
              down=F(32, "public: LTX-2 VAE; width/height must be multiples of 32"),
              temporal=F(8, "public: LTX-2 VAE; frame counts are 8n+1"),
              patch=F(1, "public: LTX-2 transformer config (patch_size 1)"),
              blocks=F(48, "public: Lightricks/LTX-2 ltx-core README (48-layer transformer)"),
              hidden=F(4096, "public: LTX-2 video stream (32 heads x 128)",
                       note="audio stream is narrower (32 heads x 64)"))
LTX2_NEWER = _facts(*(U("not checked for this release; LTX-2 values may carry over") for _ in range(6)))
ERNIE = _facts(latent=F(32, "repo: ernie_image.py loads the FLUX.2 VAE (z_channels 32)"),
               down=F(8, "repo: FLUX.2 autoencoder ch_mult [1, 2, 4, 4] (3 downsamples)"), temporal=NOT_VIDEO,
               patch=U("repo says bucket = 16 (VAE incl. 2x2 packing) x 2 (patch); the effective patch on the 8x "
                       "latent is ambiguous"),
               blocks=F(24, "repo: extensions_built_in/diffusion_models/ernie_image/transformer.py class "
                        "defaults (num_layers 24)", note="class default; the checkpoint config may override"),
               hidden=F(3072, "repo: ernie_image/transformer.py class defaults (hidden_size 3072)",
                        note="class default; the checkpoint config may override"))
FLUX2_GEOM = dict(
    latent=F(32, "repo: extensions_built_in/diffusion_models/flux2/src/autoencoder.py (z_channels 32)"),
    down=F(8, "repo: flux2/src/autoencoder.py ch_mult [1, 2, 4, 4] (3 downsamples)"),
    temporal=NOT_VIDEO,
    patch=F(2, "repo: flux2/src/model.py (in_channels 128 = 32 ch x 2x2 packed latents)",
            note="latents are packed 2x2 before the transformer, whose own patch is 1"),
)


def _flux2(params_cls, double, single, hidden):
    return _facts(**FLUX2_GEOM,
                  blocks=F(double + single, f"repo: flux2/src/model.py {params_cls} (depth {double}, "
                           f"depth_single_blocks {single})", note=f"{double} double + {single} single"),
                  hidden=F(hidden, f"repo: flux2/src/model.py {params_cls} (hidden_size {hidden})"))


UNKNOWN_GEOM = _facts(*(U(NOT_STATED) for _ in range(6)))


def _image_unknown(**known):
    facts = dict(UNKNOWN_GEOM, temporal_downsample=NOT_VIDEO)
    facts.update(known)
    return facts


def _pixel(patch, blocks, hidden):
    return _facts(PIXEL, PIXEL, NOT_VIDEO, patch, blocks, hidden)


def denoiser(name, params_b, source=None, unknown_reason=None, note=""):
    return C("denoiser", name, params_b, source, unknown_reason, note)


FLUX_TES = [T5XXL, CLIP_L]
SIZES: dict[str, dict] = {}


def size(*archs, components, facts):
    for arch in archs:
        SIZES[arch] = {"components": components, **facts}


# Audio --------------------------------------------------------------------------------------------------------
_ACE_FACTS = _facts(
    latent=F(64, "repo: extensions_built_in/audio_models/ace_step/ace_step_15_model.py (silence latent [1, 64, T])"),
    down=U("n/a: audio; the Oobleck VAE makes 25 latent frames per second of 48 kHz audio (repo pipeline.py)"),
    temporal=U("n/a: audio model"), patch=U(NOT_STATED), blocks=U(NOT_STATED), hidden=U(NOT_STATED))
OOBLECK = C("audio_vae", "Oobleck audio VAE", None, unknown_reason=NOT_STATED, note="repo: ace_step/src/model.py")
size("ace_step_15", components=[denoiser("ACE-Step 1.5 DiT", None, unknown_reason="DiT size not stated in repo"),
                                QWEN3_06B, OOBLECK], facts=_ACE_FACTS)
size("ace_step_15_xl", components=[denoiser(
    "ACE-Step 1.5 XL DiT", None,
    unknown_reason="missing: the XL DiT's widths and depth. The loader infers them from the checkpoint's tensor "
                   "shapes (repo: extensions_built_in/audio_models/ace_step/src/model.py infer_dit_config) and "
                   "neither the repo nor a public config states them"), QWEN3_06B, OOBLECK],
     facts=_ACE_FACTS)

# Image ----------------------------------------------------------------------------------------------------------
size("anima", components=[
    denoiser("Anima DiT (Cosmos-Predict2-2B based)", 2.0, "public: Anima model card (medium confidence)",
             note="repo loads diffusers CosmosTransformer3DModel"),
    QWEN3_06B,
    C("text_encoder", "LLM adapter", None, unknown_reason=NOT_STATED),
    C("vae", "Anima VAE (from the diffusers pipeline)", None, unknown_reason=NOT_STATED)],
    facts=_image_unknown())
_BOOGU_GEOM = _image_unknown(
    latent_channels=F(16, "repo: boogu_image.py loads a FLUX AutoencoderKL (16 ch)"),
    vae_downsample=F(8, "repo: extensions_built_in/diffusion_models/boogu_image/boogu_image.py (vae_scale_factor 8)"),
    patch_size=F(2, "repo: boogu_image.py (patch_size 2)"))
_BOOGU_COMPONENTS = [
    denoiser("Boogu DiT (Lumina2-style double/single stream)", None, unknown_reason="size not stated in repo"),
    C("text_encoder", "Qwen3-VL (subfolder mllm)", None, unknown_reason="variant and size not stated in repo"),
    FLUX_VAE]
size("boogu_image", "boogu_image_edit", components=_BOOGU_COMPONENTS, facts=_BOOGU_GEOM)
size("chroma", components=[denoiser("Chroma transformer", 8.9, "public: model card of lodestones/Chroma",
                                    note="FLUX.1-schnell derived, modulation replaced by a small approximator"),
                           T5XXL, FLUX_VAE],
     facts=dict(FLUX1,
                blocks=F(57, "repo: extensions_built_in/diffusion_models/chroma/src/model.py (depth 19, "
                         "depth_single_blocks 38)", note="19 double + 38 single"),
                hidden=F(3072, "repo: chroma/src/model.py (hidden_size 3072)")))
size("ernie_image", components=[
    denoiser("ERNIE-Image transformer", None, unknown_reason=NOT_STATED),
    C("text_encoder", "ERNIE-Image text encoder (repo subfolder text_encoder)", None, unknown_reason=NOT_STATED),
    FLUX2_VAE], facts=ERNIE)
_FLEX_FACTS = dict(FLUX1,
                   blocks=U("pruned from FLUX.1-schnell; the kept block count was not confirmed"),
                   hidden=F(3072, "derived: pruned from FLUX.1-schnell, which keeps the 3072 width"))
size("flex1", components=[denoiser("Flex.1 transformer", 8.0, "public: model card of ostris/Flex.1-alpha",
                                   note="pruned from FLUX.1-schnell"), *FLUX_TES, FLUX_VAE], facts=_FLEX_FACTS)
size("flex2", components=[denoiser("Flex.2 transformer", 8.0, "public: model card of ostris/Flex.2-preview"),
                          *FLUX_TES, FLUX_VAE], facts=_FLEX_FACTS)
size("flux", components=[denoiser("FLUX.1 transformer", 12.0, "public: model card of black-forest-labs/FLUX.1-dev"),
                         *FLUX_TES, FLUX_VAE], facts=FLUX1)
size("flux_kontext", components=[denoiser("FLUX.1 Kontext transformer", 12.0,
                                          "public: model card of black-forest-labs/FLUX.1-Kontext-dev"),
                                 *FLUX_TES, FLUX_VAE], facts=FLUX1)
size("flux2", components=[
    denoiser("FLUX.2 transformer", 32.0, "public: model card of black-forest-labs/FLUX.2-dev"),
    _nominal("text_encoder", "Mistral-Small-3.1-24B", 24.0, "repo: flux2_model.py MISTRAL_PATH"),
    FLUX2_VAE], facts=_flux2("Flux2Params", 8, 48, 6144))
size("flux2_klein_4b", components=[
    denoiser("FLUX.2 klein 4B transformer", 4.0, "repo: flux2/src/model.py Klein4BParams (class name)"),
    QWEN3_4B, FLUX2_VAE], facts=_flux2("Klein4BParams", 5, 20, 3072))
size("flux2_klein_9b", components=[
    denoiser("FLUX.2 klein 9B transformer", 9.0, "repo: flux2/src/model.py Klein9BParams (class name)"),
    C("text_encoder", "Qwen3-8B", 8.2, "public: model card of Qwen/Qwen3-8B"),
    FLUX2_VAE], facts=_flux2("Klein9BParams", 8, 24, 4096))
_HIDREAM_TES = [CLIP_L, CLIP_G, T5XXL,
                _nominal("text_encoder", "Llama-3.1-8B-Instruct", 8.0, "repo: hidream_model.py LLAMA_MODEL_PATH")]
size("hidream", components=[denoiser("HiDream-I1 sparse MoE DiT", 17.0, "public: model card of "
                                     "HiDream-ai/HiDream-I1-Full"), *_HIDREAM_TES, FLUX_VAE], facts=HIDREAM)
size("hidream_e1", components=[denoiser("HiDream-E1 DiT (HiDream-I1 based)", 17.0,
                                        "public: HiDream-E1 model card (medium confidence)"), *_HIDREAM_TES,
                               FLUX_VAE],
     facts={k: dict(v, note=(v.get("note") + "; " if v.get("note") else "") + "assumed as HiDream-I1 (shared loader)")
            for k, v in HIDREAM.items()})
size("hidream_o1", components=[
    denoiser("HiDream-O1 unified Qwen3-VL model", None,
             unknown_reason="not stated; its config (hidden 4096, 36 layers) matches an 8B Qwen3-VL, unverified",
             note="the denoiser is itself the language model: no separate text encoder, pixel space (FakeVAE)")],
    facts=_pixel(F(32, "repo: extensions_built_in/diffusion_models/hidream/hidream_o1_model.py (patch size 32)"),
                 F(36, "repo: hidream/src/hidream_o1/model_config.py (num_hidden_layers 36)"),
                 F(4096, "repo: hidream_o1/model_config.py (hidden_size 4096)")))
size("ideogram4", components=[
    denoiser("Ideogram 4 transformer", None, unknown_reason="fp8 weights repo; size not stated"),
    _nominal("text_encoder", "Qwen3-VL-8B-Instruct", 8.0, "repo: ideogram4.py QWEN3_VL_PATH"),
    C("vae", "Ideogram 4 autoencoder (32 ch)", None, unknown_reason=NOT_STATED)],
    facts=_facts(F(32, "repo: extensions_built_in/diffusion_models/ideogram4/src/vae.py (z_channels 32)"),
                 F(8, "repo: ideogram4.py (vae_scale_factor 8)"), NOT_VIDEO,
                 F(2, "repo: ideogram4.py (patch_size 2)"),
                 F(34, "repo: ideogram4/src/transformer.py Ideogram4Config (num_layers 34)"),
                 F(4608, "repo: ideogram4/src/transformer.py Ideogram4Config (emb_dim 4608)")))
_KREA_COMPONENTS = [denoiser("Krea 2 MMDiT", None, unknown_reason=NOT_STATED),
                    _nominal("text_encoder", "Qwen3-VL-4B-Instruct", 4.0, "repo: krea2.py QWEN3_VL_PATH"),
                    QWEN_IMAGE_VAE]
size("krea2", "krea2:o_edit", "krea2:turbo", "krea2:o_edit_turbo", components=_KREA_COMPONENTS, facts=KREA2)
_LUMINA_VAE = dict(FLUX_VAE, note="Lumina-Image 2.0 decodes with the FLUX.1 VAE (public: model card)")
size("lumina2", components=[
    denoiser("Lumina-Image 2.0 Next-DiT", 2.6, "public: Lumina-Image 2.0 paper/model card",
             note="diffusers docs round it to '2 billion'"),
    C("text_encoder", "Gemma-2-2B", 2.6, "public: model card of google/gemma-2-2b (2.6B)"),
    _LUMINA_VAE],
    facts=_facts(F(16, "public: Lumina-Image 2.0 uses the FLUX.1 VAE (16 ch)"),
                 F(8, "public: FLUX.1 VAE, 8x"), NOT_VIDEO,
                 F(2, "public: diffusers Lumina2Transformer2DModel config (patch_size 2)"),
                 F(26, "public: Lumina-Image 2.0 transformer config (num_layers 26)"),
                 F(2304, "public: Lumina-Image 2.0 transformer config (hidden_size 2304)")))
_MAGE_COMPONENTS = [denoiser("Mage-Flow DiT", 4.0, "repo: extensions_built_in/diffusion_models/mageflow/mageflow.py "
                             "docstring (4B params)"),
                    C("text_encoder", "Qwen3-VL (shipped in the model repo)", None,
                      unknown_reason="variant and size not stated in repo"),
                    C("vae", "MageVAE (128 ch)", None, unknown_reason=NOT_STATED)]
size("mageflow", "mageflow_edit", components=_MAGE_COMPONENTS, facts=MAGEFLOW)
size("nucleus_image", components=[
    denoiser("Nucleus MoE image transformer", None, unknown_reason="MoE transformer; size not stated in repo"),
    C("text_encoder", "Qwen3-VL (repo subfolder text_encoder)", None, unknown_reason="variant and size not stated"),
    QWEN_IMAGE_VAE],
    facts=_image_unknown(**{"latent_channels": QWEN_IMAGE["latent_channels"],
                            "vae_downsample": QWEN_IMAGE["vae_downsample"],
                            "patch_size": F(2, "repo: extensions_built_in/diffusion_models/nucleus_image/"
                                            "nucleus_image_model.py (bucket = 16 VAE x 2 patch)")}))
size("omnigen2", components=[
    denoiser("OmniGen2 diffusion decoder", 4.0, "public: OmniGen2 model card (medium confidence)"),
    _nominal("text_encoder", "Qwen2.5-VL-3B (MLLM)", 3.0, "public: OmniGen2 model card, medium confidence"),
    C("vae", "OmniGen2 VAE", None, unknown_reason=NOT_STATED)],
    facts=_image_unknown())
size("prx_pixel", components=[
    denoiser("PRX-7B pixel-space DiT", 7.0, "repo: extensions_built_in/diffusion_models/prx_pixel_t2i/README.md"),
    C("text_encoder", "Qwen3-VL text tower", None, unknown_reason="size not stated (hidden size 2048, repo)")],
    facts=_pixel(F(16, "repo: prx_pixel_t2i/README.md (patch_size 16)"),
                 F(24, "repo: prx_pixel_t2i/README.md (depth 24)"),
                 F(3584, "repo: prx_pixel_t2i/README.md (hidden_size 3584)")))
_QWEN_COMPONENTS = [denoiser("Qwen-Image MMDiT", 20.0, "public: model card of Qwen/Qwen-Image"), QWEN25VL7,
                    QWEN_IMAGE_VAE]
size("qwen_image", "qwen_image:2512", "qwen_image_edit", "qwen_image_edit_plus", "qwen_image_edit_plus:2511",
     components=_QWEN_COMPONENTS, facts=QWEN_IMAGE)
size("sd15", components=[
    C("denoiser", "SD 1.5 UNet", 0.86, "public: model card of stable-diffusion-v1-5 (860M UNet)"),
    CLIP_L, SD_VAE],
    facts=_facts(F(4, "public: SD 1.5 vae config (latent_channels 4)"), F(8, "public: SD 1.5 VAE, 8x"), NOT_VIDEO,
                 F(1, "public: UNet convolves the latent directly (no patchify)"),
                 U("n/a: UNet, not a stack of transformer blocks"), U("n/a: UNet, width varies by level")))
size("sdxl", components=[
    C("denoiser", "SDXL UNet", 2.57, "public: SDXL paper (2.6B UNet; diffusers reports 2.57B)"),
    CLIP_L, CLIP_G, dict(SD_VAE, name="SDXL VAE (4 ch)", source="derived: same AutoencoderKL layout as SD 1.5 (83.7M)")],
    facts=_facts(F(4, "public: SDXL vae config (latent_channels 4)"), F(8, "public: SDXL VAE, 8x"), NOT_VIDEO,
                 F(1, "public: UNet convolves the latent directly (no patchify)"),
                 U("n/a: UNet, not a stack of transformer blocks"), U("n/a: UNet, width varies by level")))

_SD35_URL = "https://huggingface.co/stabilityai/stable-diffusion-3.5-large"
size("sd3", components=[
    C("denoiser", "SD 3.5 Large MMDiT", 8.1, f"public: model card of {_SD35_URL} (8.1B)"),
    CLIP_L, CLIP_G, T5XXL,
    dict(FLUX_VAE, name="SD3 VAE (16 ch)", source="derived: SD-VAE conv layout (83.7M, public) with 16 latent "
         "channels, as the FLUX.1 VAE")],
    facts=_facts(F(16, f"public: {_SD35_URL}/blob/main/vae/config.json (latent_channels 16)"),
                 F(8, "public: SD3 VAE, 8x"), NOT_VIDEO,
                 F(2, f"public: {_SD35_URL}/blob/main/transformer/config.json (patch_size 2)"),
                 F(38, f"public: {_SD35_URL}/blob/main/transformer/config.json (num_layers 38)"),
                 F(2432, f"public: {_SD35_URL}/blob/main/transformer/config.json (38 heads x 64)")))

# Video ----------------------------------------------------------------------------------------------------------
_LTX_VIDEO_VAE = C("vae", "LTX-2 video VAE", None, unknown_reason=NOT_STATED)
_LTX_AUDIO_VAE = C("audio_vae", "LTX-2 audio VAE + vocoder", None, unknown_reason=NOT_STATED)
_GEMMA3_12B = _nominal("text_encoder", "Gemma-3-12B", 12.0, "repo: ltx2.py base_te_path")
# The text connectors turn the Gemma embeddings into the DiT's context on every step: ai-toolkit moves them to the
# transformer's device in get_noise_prediction and keeps them there in bf16 (repo: ltx2.py load_model builds them
# with .to(dtype); the quantization step quantizes the transformer only). LTX-2.5's default file carries them
# pre-quantized to int8 ConvRot (repo: ltx2.py load_model for 2.5, _load_quantized_module(connectors, ...)).
_CONNECTOR_SOURCE = ("measured: meta-device build of diffusers LTX2TextConnectors with repo: extensions_built_in/"
                     "diffusion_models/ltx2/convert_ltx2_to_diffusers.py get_ltx2_connectors_config('{v}')")
_CONNECTOR_NOTE = "on the GPU beside the DiT every step (repo: ltx2.py get_noise_prediction)"
size("ltx2", components=[denoiser("LTX-2 audio+video DiT", 19.0, "public: Lightricks/LTX-2 model card",
                                  note="about 14B video stream + 5B audio stream (ltx-core README)"),
                         C("connector", "LTX-2 text connectors", 1.4315, _CONNECTOR_SOURCE.format(v="2.0"),
                           note=_CONNECTOR_NOTE + ", bf16", bytes_per_param=2.0),
                         _GEMMA3_12B, _LTX_VIDEO_VAE, _LTX_AUDIO_VAE], facts=LTX2)
# The 22 B of the file names is the DiT plus the text connectors: the trace measures the DiT at 18.99 B and the
# connectors at 3.17 B (traces.json ltx2.3 / ltx2.5 notes), so the nominal figure is not the denoiser's size.
_LTX22_NOTE = ("file-name figure = DiT + text connectors; traced DiT 18.99 B, connectors 3.17 B "
               "(traces.json ltx2.3 / ltx2.5)")
size("ltx2.3", components=[denoiser("LTX-2.3 DiT", 22.0, "repo: default file name ltx-2.3-22b-dev.safetensors",
                                    note=_LTX22_NOTE),
                           C("connector", "LTX-2.3 text connectors", 3.1722, _CONNECTOR_SOURCE.format(v="2.3"),
                             note=_CONNECTOR_NOTE + ", bf16", bytes_per_param=2.0),
                           _GEMMA3_12B, _LTX_VIDEO_VAE, _LTX_AUDIO_VAE], facts=LTX2_NEWER)
size("ltx2.5", components=[
    denoiser("LTX-2.5 DiT", 22.0, "repo: file name ltx-2.5-22b-dev-transformer-comfy-int8-convrot.safetensors",
             note=_LTX22_NOTE),
    C("connector", "LTX-2.5 text connectors", 3.1722, _CONNECTOR_SOURCE.format(v="2.5"),
      note=_CONNECTOR_NOTE + ", int8 ConvRot as the default file ships them (1.001 B/weight, predict.json convrot8)",
      bytes_per_param=1.001),
    _nominal("text_encoder", "Gemma-4 12B (with projection)", 12.0, "repo: ltx2.py"),
    _LTX_VIDEO_VAE, _LTX_AUDIO_VAE], facts=LTX2_NEWER)
_MINIMAX_COMPONENTS = [
    denoiser("MiniMax-H3 joint video+audio DiT", 33.0, "repo: extensions_built_in/diffusion_models/minimax_h3/"
             "minimax_h3.py docstring", note="default file is a pre-quantized int8 transformer (~21 GB, repo notes)"),
    _nominal("text_encoder", "Qwen3-VL-32B", 32.0, "repo: minimax_h3/src/text_encoder.py; shipped nvfp4 AWQ ~16 GB"),
    C("vae", "MiniMax-H3 video VAE", None, unknown_reason=NOT_STATED),
    C("audio_vae", "MiniMax-H3 waveform audio VAE", None, unknown_reason=NOT_STATED)]
size("minimax_h3", "minimax_h3_ref2va", components=_MINIMAX_COMPONENTS, facts=MINIMAX)
_WAN_I2V_CLIP = C("image_encoder", "CLIP ViT-H/14 (XLM-RoBERTa CLIP) vision tower", 0.632,
                  "public: OpenCLIP ViT-H/14 vision tower; Wan 2.1 I2V config clip_model")
size("wan21:1b", components=[denoiser("Wan 2.1 T2V 1.3B", 1.3, "public: model card of Wan-AI/Wan2.1-T2V-1.3B"),
                             UMT5, WAN21_VAE],
     facts=_facts(**WAN21_GEOM, blocks=F(30, "public: Wan 2.1 1.3B config (num_layers 30)"),
                  hidden=F(1536, "public: Wan 2.1 1.3B config (dim 1536)")))
size("wan21:14b", components=[denoiser("Wan 2.1 T2V 14B", 14.0, "public: model card of Wan-AI/Wan2.1-T2V-14B"),
                              UMT5, WAN21_VAE], facts=WAN_14B)
size("wan21_i2v:14b480p", "wan21_i2v:14b", components=[
    denoiser("Wan 2.1 I2V 14B", 14.0, "public: model cards of Wan-AI/Wan2.1-I2V-14B-480P/-720P"),
    UMT5, _WAN_I2V_CLIP, WAN21_VAE], facts=WAN_14B)
_WAN22_MOE = denoiser("Wan 2.2 A14B MoE (high-noise + low-noise experts)", 27.0,
                      "public: model card of Wan-AI/Wan2.2-T2V-A14B (27B total, 14B active per step)",
                      note="two 14B-class experts; only one runs per step, ai-toolkit can train either or both")
size("wan22_14b:t2v", "wan22_14b_i2v", components=[
    _WAN22_MOE, UMT5, dict(WAN21_VAE, note="the A14B models reuse the Wan 2.1 VAE (public: Wan 2.2 configs)")],
    facts=WAN_14B)
size("wan22_5b", components=[
    denoiser("Wan 2.2 TI2V 5B", 5.0, "public: model card of Wan-AI/Wan2.2-TI2V-5B"), UMT5,
    C("vae", "Wan 2.2 high-compression VAE", None, unknown_reason=NOT_STATED)],
    facts=_facts(F(48, "public: Wan 2.2 TI2V-5B config (in_dim 48)"),
                 F(16, "public: Wan 2.2 TI2V-5B config vae_stride (4, 16, 16)"),
                 F(4, "public: Wan 2.2 TI2V-5B config vae_stride (4, 16, 16)"),
                 F(2, "public: Wan 2.2 TI2V-5B config patch_size (1, 2, 2)", note="1 in time, 2x2 in space"),
                 F(30, "public: Wan 2.2 TI2V-5B config (num_layers 30)"),
                 F(3072, "public: Wan 2.2 TI2V-5B config (dim 3072)")))

# Z-Image family ---------------------------------------------------------------------------------------------
_Z_VAE = dict(FLUX_VAE, note="Z-Image decodes with the FLUX.1 VAE")
size("zimage", "zimage:turbo", components=[denoiser("Z-Image S3-DiT", 6.0, "public: model card of Tongyi-MAI/Z-Image"),
                                           QWEN3_4B, _Z_VAE], facts=ZIMAGE)
size("zimage:deturbo", components=[denoiser("Z-Image De-Turbo S3-DiT", 6.0,
                                            "derived: de-distilled Z-Image-Turbo (public 6B)"), QWEN3_4B, _Z_VAE],
     facts=ZIMAGE)
size("zimage_l2p", components=[
    denoiser("Z-Image L2P pixel-space transformer", None,
             unknown_reason="repo: Z-Image transformer plus a pixel-space U-Net decoder; total not stated",
             note="the transformer config equals Z-Image's (6B), the decoder adds an unstated amount"),
    dict(QWEN3_4B, note="loaded from the Z-Image-Turbo extras repo")],
    facts=_pixel(U("repo mixes a 2x2 transformer patch with a 16-pixel decoder patch; not resolved"),
                 ZIMAGE["blocks"], ZIMAGE["hidden_size"]))
size("zeta_chroma", components=[
    denoiser("Zeta Chroma pixel-space transformer", None, unknown_reason="experimental; size not stated"),
    dict(QWEN3_4B, note="Qwen3ForCausalLM from the Z-Image-Turbo extras repo (repo: zeta_chroma_model.py)",
         source="derived: the Z-Image-Turbo extras text encoder is Qwen3-4B (public)")],
    facts=_pixel(F(32, "repo: extensions_built_in/diffusion_models/zeta_chroma/zeta_chroma_model.py (patch_size 32)"),
                 F(30, "repo: zeta_chroma/zeta_chroma_transformer.py (n_layers 30)"),
                 F(3840, "repo: zeta_chroma/zeta_chroma_transformer.py (dim 3840)")))


# ---------------------------------------------------------------------------------------------------------------
# Build.
# ---------------------------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------------------------
# Backend-only archs: ``model.arch`` accepts them but the trainer UI does not list them (the reference's
# ``backend_only_archs``). Each record is written here in the reference's own format, from the named example
# config, and is kept out of ``models()`` (the UI's list) by ``ui_listed: false``.
# ---------------------------------------------------------------------------------------------------------------
_SD35_EXAMPLE = "train_lora_sd35_large_24gb.yaml"
BACKEND_ONLY: list[dict] = [{
    "name": "sd3", "label": "SD 3.5 Large", "group": "image", "is_video_model": False, "backend_arch": "sd3",
    "name_or_path_default": "stabilityai/stable-diffusion-3.5-large",
    "gated_url": "https://huggingface.co/stabilityai/stable-diffusion-3.5-large",
    # repo: config/examples/train_lora_sd35_large_24gb.yaml (model, network, train and sample sections)
    "ui_effective_settings": {
        "name_or_path": "stabilityai/stable-diffusion-3.5-large", "quantize": True, "noise_scheduler": "flowmatch",
        "timestep_type": "linear", "lr": 0.0001, "network_linear": 16, "network_linear_alpha": 16,
        "sampler": "flowmatch", "sample_width": 1024, "sample_height": 1024, "sample_guidance_scale": 4,
        "sample_steps": 25, "sample_neg": "", "dataset_cache_latents_to_disk": True,
    },
    "disable_sections": [], "additional_sections": [], "quantization_supported": True,
    "te_quantization_supported": True, "ara": [], "controls": [], "sample_tags": [], "model_kwargs_known": [],
    "native_resolution": "1024 (example config trains and samples at 1024)",
    "example_configs": [{"file": _SD35_EXAMPLE, "min_vram_gb": 24, "basis": "file name"}],
    "size": {"denoiser_params": "8.1B [public]", "text_encoders": "CLIP-L + OpenCLIP bigG + T5-XXL [public]",
             "vae": None, "note": "backend only: set model.arch sd3 (or is_v3); no UI entry"},
}]


def _native(name: str, note: str) -> int | None:
    if name in NATIVE_OVERRIDES:
        return NATIVE_OVERRIDES[name]
    m = re.search(r"(\d{3,4})\s*x\s*(\d{3,4})", note)
    if m:
        return min(int(m.group(1)), int(m.group(2)))
    m = re.search(r"(\d{3,4})p\b", note)
    if m:
        return int(m.group(1))
    m = re.match(r"\s*(\d{3,4})\b", note)
    return int(m.group(1)) if m else None


def _ui_defaults(arch: dict) -> dict:
    out = {}
    for key, value in arch["ui_effective_settings"].items():
        if key in NOT_CONFIG_KEYS:
            continue
        if key not in KEY_MAP:
            raise SystemExit(f"{arch['name']}: no setting path for UI key {key!r}; add it to KEY_MAP")
        out[KEY_MAP[key]] = value
    return out


# The largest batch ai-toolkit's own code trains correctly for an arch, where that is less than any batch.
# Mage-Flow packs a batch into one (1, tokens, dim) sequence, while the trainer sets one LoRA multiplier per sample
# (repo: SDTrainer.py network.multiplier = network_weight_list) and LoRAModule.forward repeats it
# lora_output.size(0) // batch = 0 times (repo: toolkit/network_mixins.py): every LoRA'd projection comes out
# empty. Found by the fake-tensor trace (traces.json mageflow notes), which fails the same way.
_PACKED_BATCH = F(1, "repo: toolkit/network_mixins.py LoRAModule.forward (multiplier.repeat_interleave("
                     "lora_output.size(0) // multiplier.size(0))) with extensions_built_in/diffusion_models/mageflow "
                     "packing the batch into one sequence; traces.json mageflow notes",
                  note="a packed batch of b samples gives each LoRA'd projection an empty output")
MAX_BATCH = {"mageflow": _PACKED_BATCH, "mageflow_edit": _PACKED_BATCH}


def build_record(arch: dict, ui_listed: bool = True) -> dict:
    name = arch["name"]
    eff = arch["ui_effective_settings"]
    video = bool(arch["is_video_model"])
    sizes = SIZES[name]
    return {
        "arch": name,
        "label": arch["label"],
        "group": arch["group"],
        "is_video": video,
        "backend_arch": arch["backend_arch"],
        "name_or_path": arch["name_or_path_default"],
        "gated_url": arch["gated_url"],
        "ui_defaults": _ui_defaults(arch),
        "hidden_sections": arch["disable_sections"] or [],
        "additional_sections": arch["additional_sections"] or [],
        "quantization_supported": arch["quantization_supported"],
        "te_quantization_supported": arch["te_quantization_supported"],
        "ara": arch["ara"] or [],
        "flow_matching": eff.get("noise_scheduler") == "flowmatch",
        "native_resolution": _native(name, arch["native_resolution"] or ""),
        "native_resolution_note": arch["native_resolution"] or "",
        "default_frames": eff.get("sample_num_frames") if video else None,
        "default_fps": eff.get("sample_fps") if video else None,
        "supports_layer_offloading": bool(eff.get("layer_offloading_key_present")),
        "controls": arch["controls"] or [],
        "sample_tags": arch["sample_tags"] or [],
        "model_kwargs_known": arch.get("model_kwargs_known") or [],
        "example_configs": arch["example_configs"] or [],
        "reference_size_notes": arch["size"],
        "ui_listed": ui_listed,
        "max_batch": MAX_BATCH.get(name),
        **sizes,
    }


def main(ref_path: Path = DEFAULT_REF) -> None:
    ref = json.loads(ref_path.read_text(encoding="utf-8"))
    names = [a["name"] for a in ref["archs"]]
    backend = [a["name"] for a in BACKEND_ONLY]
    unknown_backend = [n for n in backend if n not in ref["backend_only_archs"]]
    if unknown_backend:
        raise SystemExit(f"not a backend-only arch of the reference: {unknown_backend}")
    missing = [n for n in names + backend if n not in SIZES]
    extra = [n for n in SIZES if n not in names + backend]
    if missing or extra:
        raise SystemExit(f"size table out of step with the reference: missing {missing}, unknown {extra}")
    doc = {
        "$source": "tools/build_models.py from aitk-archs.json (" + ref_path.name + ") plus its size table",
        "groups": ref["groups"],
        "default_qtype": ref["default_qtype"],
        "qtype_options": ref["qtype_ui_options"],
        "backend_only_archs": ref["backend_only_archs"],
        "models": [build_record(a) for a in ref["archs"]] + [build_record(a, ui_listed=False) for a in BACKEND_ONLY],
    }
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(doc['models'])} models to {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_REF)
