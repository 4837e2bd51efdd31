"""Per-arch descriptions for ``tools/trace_archs.py``: which class ai-toolkit trains, its release config, its inputs.

Each ``Spec`` names the class ai-toolkit loads for the arch (a diffusers class, or ai-toolkit's own module under
``extensions_built_in/`` imported from a checkout without running the package ``__init__``), the config of the
release the UI trains (the diffusers class default where it matches the public parameter count, else the public
config typed in with its address), the forward call the way ai-toolkit's ``get_noise_prediction`` makes it, and
ai-toolkit's LoRA placement for it. Sources are written as ``repo:`` (ai-toolkit, path from its root),
``public:`` (a model card / config file, with its address) and ``derived:``.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trace_archs import KnownInts, LoraRule, Point, Spec

AITK: Path | None = None
HF = "https://huggingface.co"


def setup_aitk(path: Path) -> str:
    """Remember the ai-toolkit checkout; return its commit (short) or 'unknown'."""
    global AITK
    AITK = path.resolve()
    if not (AITK / "toolkit" / "lora_special.py").is_file():
        raise SystemExit(f"{AITK} is not an ai-toolkit checkout (toolkit/lora_special.py missing)")
    marker = AITK / ".commit"  # a tree exported without .git: write the commit here
    if marker.is_file():
        return marker.read_text().strip()
    try:
        return subprocess.run(["git", "-C", str(AITK), "rev-parse", "--short=8", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def aitk_module(relpath: str) -> types.ModuleType:
    """Import one ai-toolkit source file as its dotted module, with stub parent packages (no ``__init__`` runs)."""
    assert AITK is not None, "setup_aitk first"
    parts = relpath.removesuffix(".py").split("/")
    for i in range(1, len(parts)):
        pkg = ".".join(parts[:i])
        if pkg not in sys.modules:
            stub = types.ModuleType(pkg)
            stub.__path__ = [str(AITK.joinpath(*parts[:i]))]
            sys.modules[pkg] = stub
    return importlib.import_module(".".join(parts))


def bf16(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.bfloat16)


def steps(b: int) -> torch.Tensor:
    return torch.full((b,), 500.0, dtype=torch.float32)


def aitk_src(relpath: str) -> str:
    return f"ai-toolkit {{aitk}} {relpath}"


def diffusers_src(cls: str) -> str:
    import diffusers
    return f"diffusers {diffusers.__version__}"


def lat(p: Point, down: int) -> tuple[int, int]:
    return p.height // down, p.width // down


IMAGE_GRID = ((1, 512, 512), (1, 1024, 1024), (1, 1536, 1536), (1, 768, 768))


def F(value: Any, source: str, note: str = "") -> dict[str, Any]:
    return {"value": value, "source": source, "note": note}


# ==================================================================================================================
# FLUX.1 family (diffusers FluxTransformer2DModel), Chroma.
# ==================================================================================================================
FLUX_DEV_CFG = dict(patch_size=1, in_channels=64, num_layers=19, num_single_layers=38, attention_head_dim=128,
                    num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768,
                    guidance_embeds=True, axes_dims_rope=(16, 56, 56))
FLUX_DEV_URL = f"{HF}/black-forest-labs/FLUX.1-dev/blob/main/transformer/config.json"
FLUX_LORA = LoraRule(("FluxTransformer2DModel",), legacy="flux",
                     source="repo: toolkit/lora_special.py (is_flux: FluxTransformer2DModel, transformer_only keeps "
                            "names with 'transformer_blocks')")


def _flux_build(cfg: dict[str, Any]):
    def build(depth: dict[str, int]) -> nn.Module:
        from diffusers import FluxTransformer2DModel
        return FluxTransformer2DModel(**{**cfg, **depth})
    return build


def _flux_inputs(control: bool = False, in_channels: int = 64):
    """ai-toolkit's FLUX call (toolkit/stable_diffusion_model.py, flux branch): packed 2x2 latents, T5 512."""
    def inputs(model: nn.Module, p: Point) -> dict[str, Any]:
        h, w = lat(p, 16)
        n = h * w
        x = bf16(p.batch, n, in_channels)
        img_ids = torch.zeros(n, 3)
        if control:  # Kontext: the control image's packed latents are appended to the sequence
            x = torch.cat([x, bf16(p.batch, n, in_channels)], dim=1)
            img_ids = torch.cat([img_ids, torch.ones(n, 3)], dim=0)
        return dict(hidden_states=x, encoder_hidden_states=bf16(p.batch, 512, 4096),
                    pooled_projections=bf16(p.batch, 768), timestep=steps(p.batch) / 1000, img_ids=img_ids,
                    txt_ids=torch.zeros(512, 3), guidance=torch.ones(p.batch), n=n)
    return inputs


def _flux_forward(model: nn.Module, x: dict[str, Any]) -> torch.Tensor:
    n = x.pop("n")
    out = model(**x, return_dict=False)[0]
    return out[:, :n]


FLUX_FACTS = {
    "latent_channels": F(16, f"public: {HF}/black-forest-labs/FLUX.1-dev/blob/main/vae/config.json (latent_channels)"),
    "vae_downsample": F(8, "public: FLUX.1 VAE config (4 block_out_channels = 3 downsamples)"),
    "patch_size": F(2, "repo: toolkit/stable_diffusion_model.py packs 2x2 latent patches (in_channels 64 = 16 x 4)"),
}


def flux_like(key: str, archs: tuple[str, ...], cfg: dict[str, Any], cfg_src: str, public, *, control=False,
              notes=(), lora=FLUX_LORA) -> Spec:
    return Spec(
        key=key, archs=archs, model_class="diffusers.FluxTransformer2DModel",
        code=diffusers_src("FluxTransformer2DModel"), config_source=cfg_src, build=_flux_build(cfg),
        depth={"num_layers": cfg["num_layers"], "num_single_layers": cfg["num_single_layers"]},
        inputs=_flux_inputs(control, cfg["in_channels"]), forward=_flux_forward, lora=lora,
        facts={**FLUX_FACTS,
               "blocks": F(cfg["num_layers"] + cfg["num_single_layers"], cfg_src,
                           f"{cfg['num_layers']} double-stream + {cfg['num_single_layers']} single-stream"),
               "hidden_size": F(cfg["num_attention_heads"] * cfg["attention_head_dim"], cfg_src)},
        text_tokens=512, text_note="T5-XXL padded to 512 tokens (repo: toolkit/train_tools.py encode_prompts_flux)",
        px=16, grid=IMAGE_GRID, cfg_doubles=False, public=public, notes=list(notes))


def _full_caption_mask(mask, max_seq_length, num_extra_padding=8):
    """``modify_mask_to_attend_padding`` for a caption that fills the 512 tokens: the original's clone, unchanged.

    The original reads each caption's length back to the host (``.item()``), which fake tensors cannot.
    """
    return mask.clone()


def _chroma_build(depth: dict[str, int]) -> nn.Module:
    from dataclasses import replace
    mod = aitk_module("extensions_built_in/diffusion_models/chroma/src/model.py")
    mod.modify_mask_to_attend_padding = _full_caption_mask
    return mod.Chroma(replace(mod.chroma_params, **depth))


def _chroma_inputs(model: nn.Module, p: Point) -> dict[str, Any]:
    """repo: extensions_built_in/diffusion_models/chroma/chroma_model.py get_noise_prediction (T5 512, mask)."""
    h, w = lat(p, 16)
    n = h * w
    return dict(img=bf16(p.batch, n, 64), img_ids=torch.zeros(p.batch, n, 3), txt=bf16(p.batch, 512, 4096),
                txt_ids=torch.zeros(p.batch, 512, 3), txt_mask=torch.ones(p.batch, 512, dtype=torch.bfloat16),
                timesteps=steps(p.batch) / 1000, guidance=torch.zeros(p.batch))


def chroma() -> Spec:
    src = "repo: extensions_built_in/diffusion_models/chroma/src/model.py chroma_params"
    return Spec(
        key="chroma", archs=("chroma",), model_class="ai-toolkit Chroma",
        code=aitk_src("extensions_built_in/diffusion_models/chroma/src/model.py"),
        config_source=src + " (the loader builds Chroma(chroma_params) and loads the checkpoint into it)",
        build=_chroma_build, depth={"depth": 19, "depth_single_blocks": 38}, inputs=_chroma_inputs,
        forward=lambda m, x: m(**x),
        lora=LoraRule(("Chroma",), source="repo: chroma_model.py target_lora_modules ['Chroma']; transformer_only "
                      "falls back to the 'single_blocks'/'double_blocks' name rule (toolkit/lora_special.py)"),
        facts={**FLUX_FACTS, "blocks": F(57, src, "19 double + 38 single"), "hidden_size": F(3072, src)},
        text_tokens=512, text_note="T5-XXL padded to 512 with an attention mask (repo: chroma_model.py "
                                   "max_length = 512)",
        px=16, grid=IMAGE_GRID, cfg_doubles=True,
        public=(8.9, f"public: {HF}/lodestones/Chroma (8.9 B)"),
        notes=["Chroma builds a (text + image)^2 attention mask from the padding mask: the s2/p2 byte terms"])


def _flux2_build(params_cls: str):
    def build(depth: dict[str, int]) -> nn.Module:
        mod = aitk_module("extensions_built_in/diffusion_models/flux2/src/model.py")
        return mod.Flux2(getattr(mod, params_cls)(**depth))
    return build


def _flux2_inputs(ctx_dim: int, guidance: bool):
    def inputs(model: nn.Module, p: Point) -> dict[str, Any]:
        """repo: flux2/flux2_model.py get_noise_prediction: batched_prc_img / batched_prc_txt, Mistral/Qwen3 512."""
        h, w = lat(p, 16)
        n = h * w
        return dict(x=bf16(p.batch, n, 128), x_ids=torch.zeros(p.batch, n, 4, dtype=torch.long),
                    timesteps=(steps(p.batch) / 1000).bfloat16(), ctx=bf16(p.batch, 512, ctx_dim),
                    ctx_ids=torch.zeros(p.batch, 512, 4, dtype=torch.long),
                    guidance=torch.ones(p.batch, dtype=torch.bfloat16))
    return inputs


FLUX2_FACTS = {
    "latent_channels": F(32, "repo: extensions_built_in/diffusion_models/flux2/src/autoencoder.py (z_channels 32)"),
    "vae_downsample": F(8, "repo: flux2/src/autoencoder.py ch_mult [1, 2, 4, 4] (3 downsamples)"),
    "patch_size": F(2, "repo: flux2/src/model.py in_channels 128 = 32 ch x 2x2 packed latents"),
}


def flux2(key: str, params_cls: str, double: int, single: int, hidden: int, ctx: int, guidance: bool, public,
          te: str) -> Spec:
    src = f"repo: extensions_built_in/diffusion_models/flux2/src/model.py {params_cls}"
    return Spec(
        key=key, archs=(key,), model_class=f"ai-toolkit Flux2({params_cls})",
        code=aitk_src("extensions_built_in/diffusion_models/flux2/src/model.py"), config_source=src,
        build=_flux2_build(params_cls), depth={"depth": double, "depth_single_blocks": single},
        inputs=_flux2_inputs(ctx, guidance), forward=lambda m, x: m(**x),
        lora=LoraRule(("Flux2",), block_names=("double_blocks", "single_blocks"),
                      source="repo: flux2/flux2_model.py target_lora_modules ['Flux2'], "
                             "get_transformer_block_names ['double_blocks', 'single_blocks']"),
        facts={**FLUX2_FACTS, "blocks": F(double + single, src, f"{double} double + {single} single"),
               "hidden_size": F(hidden, src)},
        text_tokens=512, text_note=f"{te} padded to 512 (repo: flux2/src/pipeline.py MAX_LENGTH 512)",
        px=16, grid=IMAGE_GRID, cfg_doubles=not guidance, public=public,
        notes=["traced without reference images; each reference adds its packed tokens to the sequence "
               "(repo: flux2_model.py, control images capped at 1 MP = 4096 tokens unless match_target_res)"])


# ==================================================================================================================
# Qwen-Image (diffusers QwenImageTransformer2DModel).
# ==================================================================================================================
QWEN_TXT = 128
QWEN_TXT_NOTE = ("Qwen2.5-VL hidden states of the caption, variable length (repo: qwen_image.py get_prompt_embeds, "
                 "diffusers encode_prompt drops the 34-token template prefix); traced at 128 tokens, a typical caption")


def _qwen_build(depth: dict[str, int]) -> nn.Module:
    from diffusers import QwenImageTransformer2DModel
    return QwenImageTransformer2DModel(**depth)


def _qwen_inputs(control: str | None):
    def inputs(model: nn.Module, p: Point) -> dict[str, Any]:
        """repo: qwen_image.py / qwen_image_edit*.py get_noise_prediction (controls appended to the sequence)."""
        h, w = lat(p, 16)
        n = h * w
        shapes = [(1, h, w)]
        x = bf16(p.batch, n, 64)
        if control == "same":      # Qwen-Image-Edit: the control image at the target size
            x = torch.cat([x, bf16(p.batch, n, 64)], dim=1)
            shapes.append((1, h, w))
        elif control == "1mp":     # Edit-Plus: each control resized to 1 MP (1024 x 1024: 64 x 64 tokens)
            x = torch.cat([x, bf16(p.batch, 4096, 64)], dim=1)
            shapes.append((1, 64, 64))
        return dict(hidden_states=x, timestep=steps(p.batch) / 1000, guidance=None,
                    encoder_hidden_states=bf16(p.batch, QWEN_TXT, 3584),
                    encoder_hidden_states_mask=torch.ones(p.batch, QWEN_TXT, dtype=torch.long),
                    img_shapes=[list(shapes) for _ in range(p.batch)], n=n)
    return inputs


def _crop_forward(model: nn.Module, x: dict[str, Any]) -> torch.Tensor:
    n = x.pop("n")
    return model(**x, return_dict=False)[0][:, :n]


QWEN_FACTS = {
    "latent_channels": F(16, f"public: {HF}/Qwen/Qwen-Image/blob/main/vae/config.json (z_dim 16)"),
    "vae_downsample": F(8, "public: Qwen-Image VAE, Wan-style 8x spatial"),
    "patch_size": F(2, "diffusers QwenImageTransformer2DModel patch_size 2 (class default = release)"),
    "blocks": F(60, "diffusers QwenImageTransformer2DModel num_layers 60 (class default = release)"),
    "hidden_size": F(3072, "diffusers QwenImageTransformer2DModel 24 heads x 128"),
}


def qwen(key: str, archs: tuple[str, ...], cls: str, control: str | None, notes=()) -> Spec:
    return Spec(
        key=key, archs=archs, model_class="diffusers.QwenImageTransformer2DModel",
        code=diffusers_src("QwenImageTransformer2DModel"),
        config_source=f"diffusers QwenImageTransformer2DModel class default (= {HF}/Qwen/Qwen-Image/blob/main/"
                      "transformer/config.json: 60 layers, 24 x 128, joint_attention_dim 3584)",
        build=_qwen_build, depth={"num_layers": 60}, inputs=_qwen_inputs(control), forward=_crop_forward,
        lora=LoraRule(("QwenImageTransformer2DModel",),
                      source=f"repo: extensions_built_in/diffusion_models/qwen_image/{cls} target_lora_modules; "
                             "transformer_only keeps names with 'transformer_blocks'"),
        facts=QWEN_FACTS, text_tokens=QWEN_TXT, text_note=QWEN_TXT_NOTE, px=16, grid=IMAGE_GRID, cfg_doubles=True,
        public=(20.4, f"public: {HF}/Qwen/Qwen-Image (20 B MMDiT; diffusers counts 20.4 B)"), notes=list(notes))


# ==================================================================================================================
# Wan (diffusers WanTransformer3DModel).
# ==================================================================================================================
WAN_GRID = ((17, 480, 832), (41, 480, 832), (81, 480, 832), (33, 480, 832))
WAN5B_GRID = ((17, 704, 1280), (61, 704, 1280), (121, 704, 1280), (41, 704, 1280))
WAN_1_3B = dict(num_attention_heads=12, ffn_dim=8960, num_layers=30)
WAN_14B: dict[str, Any] = {}
WAN_I2V_21 = dict(in_channels=36, image_dim=1280, added_kv_proj_dim=5120)
WAN_I2V_22 = dict(in_channels=36)
WAN_5B = dict(num_attention_heads=24, ffn_dim=14336, num_layers=30, in_channels=48, out_channels=48)


def _wan_build(cfg: dict[str, Any]):
    def build(depth: dict[str, int]) -> nn.Module:
        from diffusers import WanTransformer3DModel
        return WanTransformer3DModel(**{**cfg, **depth})
    return build


def _wan_inputs(spec_px: int, tdown: int, in_ch: int, image_tokens: int | None):
    def inputs(model: nn.Module, p: Point) -> dict[str, Any]:
        """repo: toolkit/models/wan21/wan21.py get_noise_prediction: latents [B, C, F, H, W], umT5 512."""
        f = 1 + (p.frames - 1) // tdown
        h, w = p.height // (spec_px // 2), p.width // (spec_px // 2)
        out = dict(hidden_states=bf16(p.batch, in_ch, f, h, w), timestep=steps(p.batch),
                   encoder_hidden_states=bf16(p.batch, 512, 4096))
        if image_tokens:
            out["encoder_hidden_states_image"] = bf16(p.batch, image_tokens, 1280)
        return out
    return inputs


def _wan_geom(latent: int, down: int, src: str) -> dict[str, Any]:
    return {"latent_channels": F(latent, src), "vae_downsample": F(down, src),
            "temporal_downsample": F(4, src), "patch_size": F(2, src + " patch_size (1, 2, 2)", "1 in time, 2x2")}


def wan(key: str, archs: tuple[str, ...], cfg: dict[str, Any], cfg_src: str, public, *, experts: int = 1,
        wan5b: bool = False, image_tokens: int | None = None, target: str = "WanTransformer3DModel",
        lora_src: str = "repo: toolkit/models/wan21/wan21.py target_lora_modules, get_transformer_block_names "
                        "['blocks']", notes=()) -> Spec:
    full = {"num_attention_heads": 40, "attention_head_dim": 128, "ffn_dim": 13824, "num_layers": 40,
            "in_channels": 16, **cfg}
    px = 32 if wan5b else 16
    return Spec(
        key=key, archs=archs, model_class="diffusers.WanTransformer3DModel",
        code=diffusers_src("WanTransformer3DModel"), config_source=cfg_src, build=_wan_build(cfg),
        depth={"num_layers": full["num_layers"]},
        inputs=_wan_inputs(px, 4, full["in_channels"], image_tokens), forward=lambda m, x: m(**x, return_dict=False)[0],
        lora=LoraRule((target, "WanTransformer3DModel"), block_names=("blocks",), source=lora_src),
        facts={**_wan_geom(48 if wan5b else 16, 16 if wan5b else 8, cfg_src),
               "blocks": F(full["num_layers"], cfg_src),
               "hidden_size": F(full["num_attention_heads"] * full["attention_head_dim"], cfg_src)},
        text_tokens=512 + (image_tokens or 0),
        text_note="umT5-XXL padded to 512 (repo: wan21.py get_prompt_embeds max_sequence_length=512)"
                  + (f" + {image_tokens} CLIP image tokens" if image_tokens else ""),
        px=px, tdown=4, grid=WAN5B_GRID if wan5b else WAN_GRID, cfg_doubles=True, public=public, experts=experts,
        notes=list(notes))


# ==================================================================================================================
# Lumina-Image 2.0, Z-Image (diffusers).
# ==================================================================================================================
def _full_caption_rope(orig):
    """``Lumina2RotaryPosEmbed.forward`` for a caption that fills its padded length (mask all ones).

    The original reads the caption lengths back to the host (``mask.sum(1).tolist()``), which fake tensors cannot;
    here that one call answers the known lengths, the rest runs unchanged.
    """
    from torch._subclasses.fake_tensor import FakeTensor

    def forward(self, hidden_states, attention_mask):
        lengths = [attention_mask.shape[1]] * attention_mask.shape[0]
        real = FakeTensor.tolist
        FakeTensor.tolist = lambda t: lengths if t.dim() == 1 and t.shape[0] == len(lengths) else real(t)
        try:
            return orig(self, hidden_states, attention_mask)
        finally:
            FakeTensor.tolist = real
    return forward


def _lumina_build(depth: dict[str, int]) -> nn.Module:
    from diffusers import Lumina2Transformer2DModel
    from diffusers.models.transformers import transformer_lumina2 as mod
    if not getattr(mod.Lumina2RotaryPosEmbed.forward, "_full_caption", False):
        mod.Lumina2RotaryPosEmbed.forward = _full_caption_rope(mod.Lumina2RotaryPosEmbed.forward)
        mod.Lumina2RotaryPosEmbed.forward._full_caption = True
    return Lumina2Transformer2DModel(cap_feat_dim=2304, **depth)


def _lumina_inputs(model: nn.Module, p: Point) -> dict[str, Any]:
    """repo: toolkit/stable_diffusion_model.py lumina2 branch (Gemma-2 max_sequence_length=256, mask)."""
    h, w = lat(p, 8)
    return dict(hidden_states=bf16(p.batch, 16, h, w), timestep=torch.full((p.batch,), 0.5),
                encoder_hidden_states=bf16(p.batch, 256, 2304),
                encoder_attention_mask=torch.ones(p.batch, 256, dtype=torch.long))


def lumina2() -> Spec:
    src = (f"diffusers Lumina2Transformer2DModel class default with cap_feat_dim 2304 (= {HF}/Alpha-VLLM/"
           "Lumina-Image-2.0/blob/main/transformer/config.json; 2304 is Gemma-2-2B's hidden size)")
    return Spec(
        key="lumina2", archs=("lumina2",), model_class="diffusers.Lumina2Transformer2DModel",
        code=diffusers_src("Lumina2Transformer2DModel"), config_source=src, build=_lumina_build,
        depth={"num_layers": 26}, inputs=_lumina_inputs, forward=lambda m, x: m(**x, return_dict=False)[0],
        lora=LoraRule(("Lumina2Transformer2DModel",), legacy="lumina2",
                      source="repo: toolkit/lora_special.py is_lumina2 (layers / noise_refiner / context_refiner)"),
        facts={**FLUX_FACTS, "patch_size": F(2, src), "blocks": F(26, src, "plus 2 noise- and 2 context-refiner "
                                                                          "layers"),
               "hidden_size": F(2304, src)},
        text_tokens=256, text_note="Gemma-2-2B, max_sequence_length 256 (repo: stable_diffusion_model.py)",
        px=16, grid=IMAGE_GRID, cfg_doubles=True,
        public=(2.6, f"public: {HF}/Alpha-VLLM/Lumina-Image-2.0 (2.6 B)"))


ZIMAGE_TXT = 128


def _zimage_build(depth: dict[str, int]) -> nn.Module:
    from diffusers import ZImageTransformer2DModel
    return ZImageTransformer2DModel(**depth)


def _zimage_inputs(model: nn.Module, p: Point) -> dict[str, Any]:
    """repo: extensions_built_in/diffusion_models/z_image/z_image.py get_noise_prediction: per-sample lists."""
    h, w = lat(p, 8)
    return dict(x=[bf16(16, 1, h, w) for _ in range(p.batch)], t=torch.full((p.batch,), 0.5),
                cap_feats=[bf16(ZIMAGE_TXT, 2560) for _ in range(p.batch)])


def zimage() -> Spec:
    src = f"diffusers ZImageTransformer2DModel class default (= {HF}/Tongyi-MAI/Z-Image/blob/main/transformer/config.json)"
    return Spec(
        key="zimage", archs=("zimage", "zimage:turbo", "zimage:deturbo"), model_class="diffusers.ZImageTransformer2DModel",
        code=diffusers_src("ZImageTransformer2DModel"), config_source=src, build=_zimage_build,
        depth={"n_layers": 30}, inputs=_zimage_inputs,
        forward=lambda m, x: torch.stack(m(**x, return_dict=False)[0]),
        lora=LoraRule(("ZImageTransformer2DModel",), source="repo: z_image/z_image.py target_lora_modules, "
                      "get_transformer_block_names"),
        facts={**FLUX_FACTS, "patch_size": F(2, src + " all_patch_size (2,)"),
               "blocks": F(30, src, "plus 2 noise- and 2 context-refiner layers"), "hidden_size": F(3840, src)},
        text_tokens=ZIMAGE_TXT, text_note="Qwen3-4B hidden states of the caption, variable length (repo: "
                                          "z_image.py get_prompt_embeds); traced at 128 tokens, a typical caption",
        px=16, grid=IMAGE_GRID, cfg_doubles=True,
        public=(6.2, f"public: {HF}/Tongyi-MAI/Z-Image (6 B; diffusers counts 6.15 B)"))


# ==================================================================================================================
# Legacy UNets and SD 3.5.
# ==================================================================================================================
SDXL_UNET = dict(sample_size=128, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D",
                                                                         "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                 attention_head_dim=(5, 10, 20), transformer_layers_per_block=(1, 2, 10), cross_attention_dim=2048,
                 use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
                 projection_class_embeddings_input_dim=2816)
SDXL_URL = f"{HF}/stabilityai/stable-diffusion-xl-base-1.0/blob/main/unet/config.json"
SD15_UNET = dict(cross_attention_dim=768)
SD15_URL = f"{HF}/stable-diffusion-v1-5/stable-diffusion-v1-5/blob/main/unet/config.json"
UNET_GRID = ((1, 512, 512), (1, 768, 768), (1, 1024, 1024), (1, 640, 640))


def _unet_build(cfg: dict[str, Any]):
    def build(depth: dict[str, int]) -> nn.Module:
        from diffusers import UNet2DConditionModel
        return UNet2DConditionModel(**cfg)
    return build


def _unet_inputs(xl: bool):
    def inputs(model: nn.Module, p: Point) -> dict[str, Any]:
        h, w = lat(p, 8)
        out = dict(sample=bf16(p.batch, 4, h, w), timestep=steps(p.batch),
                   encoder_hidden_states=bf16(p.batch, 77, 2048 if xl else 768))
        if xl:
            out["added_cond_kwargs"] = {"text_embeds": bf16(p.batch, 1280), "time_ids": bf16(p.batch, 6)}
        return out
    return inputs


UNET_FACTS = {"patch_size": F(1, "public: a UNet convolves the latent directly (no patchify)")}


def unet(key: str, cfg: dict[str, Any], url: str, public, xl: bool) -> Spec:
    return Spec(
        key=key, archs=(key,), model_class="diffusers.UNet2DConditionModel",
        code=diffusers_src("UNet2DConditionModel"), config_source=f"public: {url}" + (
            "" if xl else " (= the class default with cross_attention_dim 768)"),
        build=_unet_build(cfg), depth={}, inputs=_unet_inputs(xl), forward=lambda m, x: m(**x, return_dict=False)[0],
        lora=LoraRule(("UNet2DConditionModel",), transformer=False,
                      source="repo: toolkit/lora_special.py UNET_TARGET_REPLACE_MODULE ['UNet2DConditionModel']; "
                             "no block-name filter applies to a UNet, so every Linear and 1x1 conv is wrapped; 3x3 "
                             "convs too when network.conv is set"),
        facts={**UNET_FACTS, "latent_channels": F(4, f"public: {url} (in_channels 4)"),
               "vae_downsample": F(8, "public: SD VAE (4 block_out_channels = 3 downsamples)")},
        text_tokens=77, text_note="CLIP, 77 tokens (repo: toolkit/train_tools.py; long prompts are chunked by 77)",
        px=8, grid=UNET_GRID, cfg_doubles=True, public=public, unet=True,
        notes=["tokens are latent pixels; the UNet is traced whole (no per-block extrapolation)"])


SD35L = dict(sample_size=128, patch_size=2, in_channels=16, num_layers=38, attention_head_dim=64,
             num_attention_heads=38, joint_attention_dim=4096, caption_projection_dim=2432,
             pooled_projection_dim=2048, out_channels=16, pos_embed_max_size=192, qk_norm="rms_norm")
SD35L_URL = f"{HF}/stabilityai/stable-diffusion-3.5-large/blob/main/transformer/config.json"


def _sd3_build(depth: dict[str, int]) -> nn.Module:
    from diffusers import SD3Transformer2DModel
    return SD3Transformer2DModel(**{**SD35L, **depth})


def _sd3_inputs(model: nn.Module, p: Point) -> dict[str, Any]:
    """repo: toolkit/stable_diffusion_model.py is_v3 branch; train_tools.encode_prompts_sd3 (CLIP 77 + T5 256)."""
    h, w = lat(p, 8)
    return dict(hidden_states=bf16(p.batch, 16, h, w), timestep=steps(p.batch),
                encoder_hidden_states=bf16(p.batch, 333, 4096), pooled_projections=bf16(p.batch, 2048))


def sd3() -> Spec:
    src = f"public: {SD35L_URL} (typed in: the class default is SD 3 Medium)"
    return Spec(
        key="sd3", archs=("sd3",), model_class="diffusers.SD3Transformer2DModel",
        code=diffusers_src("SD3Transformer2DModel"), config_source=src, build=_sd3_build,
        depth={"num_layers": 38}, inputs=_sd3_inputs, forward=lambda m, x: m(**x, return_dict=False)[0],
        lora=LoraRule(("SD3Transformer2DModel",), legacy="v3",
                      source="repo: toolkit/lora_special.py is_v3 (SD3Transformer2DModel, 'transformer_blocks')"),
        facts={"latent_channels": F(16, src + " in_channels 16"), "vae_downsample": F(8, "public: SD3 VAE, 8x"),
               "patch_size": F(2, src), "blocks": F(38, src), "hidden_size": F(2432, src + " 38 heads x 64")},
        text_tokens=333, text_note="CLIP-L + CLIP-G 77 tokens + T5-XXL 256 tokens (repo: toolkit/train_tools.py "
                                   "encode_prompts_sd3; diffusers max_sequence_length 256)",
        px=16, grid=IMAGE_GRID, cfg_doubles=True,
        public=(8.1, f"public: {HF}/stabilityai/stable-diffusion-3.5-large (8.1 B)"))


# ==================================================================================================================
# HiDream-I1 / E1 (ai-toolkit's copy of the HiDream transformer; sparse MoE feed-forward).
# ==================================================================================================================
HIDREAM_DIR = "extensions_built_in/diffusion_models/hidream/src/models"
HIDREAM_LLAMA_LAYERS = list(range(32)) + [31] * 16
HIDREAM_CFG = dict(patch_size=2, in_channels=16, out_channels=16, num_layers=16, num_single_layers=32,
                   attention_head_dim=128, num_attention_heads=20, caption_channels=[4096, 4096], text_emb_dim=2048,
                   num_routed_experts=4, num_activated_experts=2, axes_dims_rope=(64, 32, 32),
                   max_resolution=(128, 128), llama_layers=HIDREAM_LLAMA_LAYERS)
HIDREAM_URL = f"{HF}/HiDream-ai/HiDream-I1-Full/blob/main/transformer/config.json"


def _balanced_moe_infer(self, x, flat_expert_indices, flat_expert_weights):
    """``MOEFeedForwardSwiGLU.moe_infer`` with the per-expert token counts fixed to an even split.

    The original reads the routing back to the host (``bincount().cpu()``), which fake tensors cannot; every
    routed token still passes through exactly ``num_activated_experts`` experts, so the FLOPs and bytes do not
    depend on how the routing splits them.
    """
    expert_cache = torch.zeros_like(x)
    idxs = flat_expert_indices.argsort()
    total, n_exp = flat_expert_indices.numel(), len(self.experts)
    tokens_per_expert = [total * (i + 1) // n_exp for i in range(n_exp)]
    token_idxs = idxs // self.num_activated_experts
    for i, end_idx in enumerate(tokens_per_expert):
        start_idx = 0 if i == 0 else tokens_per_expert[i - 1]
        exp_token_idx = token_idxs[start_idx:end_idx]
        expert_out = self.experts[i](x[exp_token_idx])
        expert_out.mul_(flat_expert_weights[idxs[start_idx:end_idx]])
        expert_cache = expert_cache.to(expert_out.dtype)
        expert_cache.scatter_reduce_(0, exp_token_idx.view(-1, 1).repeat(1, x.shape[-1]), expert_out, reduce="sum")
    return expert_cache


def _hidream_build(depth: dict[str, int]) -> nn.Module:
    moe = aitk_module(f"{HIDREAM_DIR}/moe.py")
    moe.MOEFeedForwardSwiGLU.moe_infer = _balanced_moe_infer
    mod = aitk_module(f"{HIDREAM_DIR}/transformers/transformer_hidream_image.py")
    cfg = {**HIDREAM_CFG, **depth}
    cfg["llama_layers"] = HIDREAM_LLAMA_LAYERS[:cfg["num_layers"] + cfg["num_single_layers"]]  # one per block
    return mod.HiDreamImageTransformer2DModel(**cfg)


def _hidream_inputs(model: nn.Module, p: Point) -> dict[str, Any]:
    """repo: hidream/hidream_model.py get_noise_prediction (square sizes: no padding); T5 and Llama 128 tokens."""
    h, w = lat(p, 8)
    return dict(hidden_states=bf16(p.batch, 16, h, w), timesteps=steps(p.batch),
                encoder_hidden_states=[bf16(p.batch, 128, 4096), bf16(32, p.batch, 128, 4096)],
                pooled_embeds=bf16(p.batch, 2048), img_sizes=None, img_ids=None)


def hidream() -> Spec:
    src = f"public: {HIDREAM_URL} (16 double + 32 single blocks, 20 x 128, 4 routed experts, 2 active)"
    return Spec(
        key="hidream", archs=("hidream", "hidream_e1"), model_class="ai-toolkit HiDreamImageTransformer2DModel",
        code=aitk_src(f"{HIDREAM_DIR}/transformers/transformer_hidream_image.py"), config_source=src,
        build=_hidream_build, depth={"num_layers": 16, "num_single_layers": 32}, inputs=_hidream_inputs,
        forward=lambda m, x: m(**x, return_dict=False)[0],
        lora=LoraRule(("HiDreamImageTransformer2DModel",), ignore=("ff_i.experts", "ff_i.gate"),
                      block_names=("double_stream_blocks", "single_stream_blocks"),
                      source="repo: hidream/hidream_model.py target_lora_modules, get_transformer_block_names; "
                             "the UI's ignore_if_contains ['ff_i.experts', 'ff_i.gate']"),
        facts={**FLUX_FACTS, "patch_size": F(2, src), "blocks": F(48, src, "16 double + 32 single"),
               "hidden_size": F(2560, src)},
        text_tokens=128 * 3, text_note="T5 128 + Llama-3.1 128 tokens (repo: hidream_model.py "
                                       "max_sequence_length = 128); each block sees T5 + its Llama layer",
        px=16, grid=IMAGE_GRID, cfg_doubles=True,
        public=(17.0, f"public: {HF}/HiDream-ai/HiDream-I1-Full (17 B)"),
        notes=["routed experts traced with an even token split (fake tensors cannot read the routing); totals do "
               "not depend on the split",
               "non-square sizes are padded to max_seq = 4096 tokens (repo: hidream_model.py): use 4096 tokens "
               "for any non-square bucket up to 1024 x 1024",
               "hidream_e1 shares the loader and transformer class (repo: hidream_e1_model.py); its edit "
               "conditioning is not traced"])


# ==================================================================================================================
# LTX-2 (diffusers LTX2VideoTransformer3DModel; audio + video).
# ==================================================================================================================
LTX_GRID = ((41, 512, 768), (81, 512, 768), (121, 512, 768), (57, 512, 768))


def _ltx2_build(depth: dict[str, int]) -> nn.Module:
    from diffusers import LTX2VideoTransformer3DModel
    return LTX2VideoTransformer3DModel(**depth)


def _ltx2_inputs(model: nn.Module, p: Point) -> dict[str, Any]:
    """repo: ltx2/ltx2.py get_noise_prediction: packed video latents, audio latents for the clip's duration
    (25 per second at 24 fps), Gemma connector outputs of 1024 tokens."""
    f = 1 + (p.frames - 1) // 8
    h, w = lat(p, 32)
    audio = round(p.frames / 24 * 16000 / 160 / 4)
    return dict(hidden_states=bf16(p.batch, f * h * w, 128), audio_hidden_states=bf16(p.batch, audio, 128),
                encoder_hidden_states=bf16(p.batch, 1024, 3840), audio_encoder_hidden_states=bf16(p.batch, 1024, 3840),
                timestep=steps(p.batch), audio_timestep=steps(p.batch),
                encoder_attention_mask=torch.ones(p.batch, 1024), audio_encoder_attention_mask=torch.ones(p.batch, 1024),
                num_frames=f, height=h, width=w, fps=24.0, audio_num_frames=audio)


def ltx2() -> Spec:
    src = f"diffusers LTX2VideoTransformer3DModel class default (= {HF}/Lightricks/LTX-2 transformer config)"
    return Spec(
        key="ltx2", archs=("ltx2",), model_class="diffusers.LTX2VideoTransformer3DModel",
        code=diffusers_src("LTX2VideoTransformer3DModel"), config_source=src, build=_ltx2_build,
        depth={"num_layers": 48}, inputs=_ltx2_inputs, forward=lambda m, x: m(**x, return_dict=False)[0],
        lora=LoraRule(("LTX2VideoTransformer3DModel",), block_names=("transformer_blocks",),
                      source="repo: ltx2/ltx2.py target_lora_modules, get_transformer_block_names"),
        facts={"latent_channels": F(128, src + " in_channels 128"), "vae_downsample": F(32, src +
                                                                                       " vae_scale_factors (8, 32, 32)"),
               "temporal_downsample": F(8, src + " vae_scale_factors (8, 32, 32)"), "patch_size": F(1, src),
               "blocks": F(48, src), "hidden_size": F(4096, src + " 32 x 128",
                                                      "audio stream 32 x 64")},
        text_tokens=1024, text_note="Gemma-3 connector output, 1024 tokens (repo: ltx2.py max_length=1024), "
                                    "video and audio streams each",
        px=32, tdown=8, grid=LTX_GRID, cfg_doubles=True,
        public=(19.0, f"public: {HF}/Lightricks/LTX-2 (19 B audio-video model)"),
        notes=["the audio stream runs on the clip's audio latents (25 per second at 24 fps) even without audio "
               "data (repo: ltx2.py); traced at 512 x 768, its tokens grow with the frames as the video's do"])


# ==================================================================================================================
# Sizes only: ai-toolkit's own classes built with the config the loader uses (no forward traced yet).
# ==================================================================================================================
EXT = "extensions_built_in/diffusion_models"
NOT_TRACED = "sizes only: the forward call is not described in tools/trace_arch_specs.py yet"
# repo: extensions_built_in/diffusion_models/krea2/krea2.py KREA2_MMDIT_CONFIG (typed in: importing krea2.py pulls
# in the whole trainer)
KREA2_CFG = dict(features=6144, tdim=256, txtdim=2560, heads=48, kvheads=12, multiplier=4, layers=28, patch=2,
                 channels=16, txtheads=20, txtkvheads=20, txtlayers=12)
PRX_CFG = dict(depth=24, hidden_size=3584, num_heads=28, mlp_ratio=3.5, in_channels=3, patch_size=16,
               context_in_dim=2048, bottleneck_size=768, axes_dim=[64, 64], resolution_embeds=True)


def sizes_only(key: str, archs: tuple[str, ...], model_class: str, relpath: str | None, config_source: str,
               build, depth: dict[str, int], lora: LoraRule, facts: dict[str, Any], *, public=None,
               verified: bool = True, notes=(), px: int = 16) -> Spec:
    spec = Spec(key=key, archs=archs, model_class=model_class,
                code=aitk_src(relpath) if relpath else diffusers_src(model_class), config_source=config_source,
                build=build, depth=depth, inputs=None, forward=None, lora=lora, facts=facts, text_tokens=0,
                text_note="", px=px, grid=(), public=public, notes=list(notes), not_traced=NOT_TRACED)
    spec.config_verified = verified
    return spec


def _from(relpath: str, cls: str, cfg_cls: str | None = None, **cfg):
    def build(depth: dict[str, int]) -> nn.Module:
        mod = aitk_module(relpath)
        if cfg_cls is None:
            return getattr(mod, cls)(**{**cfg, **depth})
        return getattr(mod, cls)(getattr(mod, cfg_cls)(**{**cfg, **depth}))
    return build


def _diffusers_build(cls: str):
    def build(depth: dict[str, int]) -> nn.Module:
        import diffusers
        return getattr(diffusers, cls)(**depth)
    return build


def _hidream_o1_build(depth: dict[str, int]) -> nn.Module:
    from transformers.models.qwen3_vl.configuration_qwen3_vl import Qwen3VLConfig
    cfg = aitk_module(f"{EXT}/hidream/src/hidream_o1/model_config.py").model_config
    mod = aitk_module(f"{EXT}/hidream/src/hidream_o1/qwen3_vl_transformers.py")
    return mod.Qwen3VLForConditionalGeneration(Qwen3VLConfig(**cfg))


def _ace_build(depth: dict[str, int]) -> nn.Module:
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))  # only its audio loader uses it
    return aitk_module("extensions_built_in/audio_models/ace_step/src/model.py").AceStep15()


def aitk_classes(relpath: str, names: tuple[str, ...], env: dict[str, Any]) -> dict[str, Any]:
    """Run only the named top-level classes of an ai-toolkit file (its imports pull in the trainer)."""
    import ast
    assert AITK is not None
    tree = ast.parse((AITK / relpath).read_text(encoding="utf-8"))
    body = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name in names]
    scope = dict(env)
    exec(compile(ast.Module(body=body, type_ignores=[]), str(AITK / relpath), "exec"), scope)  # noqa: S102
    return scope


def _l2p_build(depth: dict[str, int]) -> nn.Module:
    import torch.nn.functional as tf
    from diffusers import ZImageTransformer2DModel as Original
    rel = f"{EXT}/z_image/z_image_l2p_model.py"
    import ast
    tree = ast.parse((AITK / rel).read_text(encoding="utf-8"))
    cfg = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
               and getattr(n.targets[0], "id", "") == "ZIMAGE_DEFAULT_CONFIG")
    cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
    cfg.update(in_channels=3, all_patch_size=[16], **depth)
    scope = aitk_classes(rel, ("MicroDiffusionModel", "ZImageTransformer2DModel"),
                         {"torch": torch, "nn": nn, "F": tf, "ZImageTransformer2DModelOriginal": Original,
                          "Union": Any, "List": list, "Optional": Any, "Dict": dict, "Tuple": tuple})
    return scope["ZImageTransformer2DModel"](**cfg)


KREA2_TXT = 128


def _zeta_build(depth: dict[str, int]) -> nn.Module:
    """ZImageDCT as zeta_chroma_model.py builds it; its NerfEmbedder's ``embedder`` is made fp32 up front, the state
    its forward puts it in on the first call (``self.embedder.float()``), which fake parameters cannot swap to."""
    mod = aitk_module(f"{EXT}/zeta_chroma/zeta_chroma_transformer.py")
    model = mod.ZImageDCT(mod.ZImageDCTParams(patch_size=1, in_channels=32 * 32 * 3, **depth))
    for m in model.modules():
        if isinstance(m, mod.NerfEmbedder):
            emb = m.embedder
            for sub in emb.modules():
                for name, p in list(sub._parameters.items()):
                    if p is not None:
                        sub._parameters[name] = nn.Parameter(p.detach().float(), requires_grad=False)
            emb.float = lambda emb=emb: emb  # already fp32: the forward's call is then a no-op
    return model


def _zeta_inputs(model: nn.Module, p: Point) -> dict[str, Any]:
    """repo: zeta_chroma/zeta_chroma_model.py get_noise_prediction: 32 x 32 RGB patches, 512 text tokens."""
    h, w = lat(p, 32)
    n = h * w
    return dict(img=bf16(p.batch, n, 32 * 32 * 3), img_ids=torch.zeros(p.batch, n, 3, dtype=torch.long),
                img_mask=torch.ones(p.batch, n, dtype=torch.bool), txt=bf16(p.batch, 512, 2560),
                txt_ids=torch.zeros(p.batch, 512, 3, dtype=torch.long), txt_mask=torch.ones(p.batch, 512, dtype=torch.bool),
                timesteps=torch.full((p.batch,), 0.5))
IDEOGRAM_TXT = 128


def _ideogram_inputs(model: nn.Module, p: Point) -> dict[str, Any]:
    """repo: ideogram4/ideogram4.py get_noise_prediction: packed latents (B, 128, h/16, w/16), t in [0, 1]."""
    h, w = lat(p, 16)
    return dict(latents=bf16(p.batch, 128, h, w), t=torch.full((p.batch,), 0.5),
                llm_features=bf16(p.batch, IDEOGRAM_TXT, 4096 * 13),
                text_mask=torch.ones(p.batch, IDEOGRAM_TXT, dtype=torch.long))


def _ideogram_forward(model: nn.Module, x: dict[str, Any]) -> torch.Tensor:
    return aitk_module(f"{EXT}/ideogram4/src/pipeline.py").predict_velocity(model, **x)


def traced(spec: Spec, inputs, forward, text_tokens: int, text_note: str, grid=IMAGE_GRID,
           cfg_doubles: bool = True) -> Spec:
    """A sizes-only spec given its forward call."""
    spec.inputs, spec.forward, spec.not_traced = inputs, forward, ""
    spec.text_tokens, spec.text_note, spec.grid, spec.cfg_doubles = text_tokens, text_note, grid, cfg_doubles
    return spec


def _prx_inputs(model: nn.Module, p: Point) -> dict[str, Any]:
    """repo: prx_pixel_t2i/prx_pixel_t2i.py get_noise_prediction: RGB pixels, t in [0, 1], 256 text tokens."""
    return dict(hidden_states=bf16(p.batch, 3, p.height, p.width), timestep=torch.full((p.batch,), 0.5),
                encoder_hidden_states=bf16(p.batch, 256, 2048),
                attention_mask=torch.ones(p.batch, 256, dtype=torch.bool))


def _krea2_inputs(model: nn.Module, p: Point, text: int = KREA2_TXT) -> dict[str, Any]:
    """repo: krea2/krea2.py get_noise_prediction: latents (B, 16, h, w), t in [0, 1] fp32, 12 x 2560 features."""
    h, w = lat(p, 8)
    return dict(latents=bf16(p.batch, 16, h, w), t=torch.full((p.batch,), 0.5),
                context=bf16(p.batch, text, 12 * 2560), text_mask=torch.ones(p.batch, text, dtype=torch.long))


def krea2_inputs_padded(text: int):
    """Krea 2 inputs with another trainer's text length (SimpleTuner pads every caption to ``max_length``)."""
    return lambda model, p: _krea2_inputs(model, p, text)


def _krea2_forward(model: nn.Module, x: dict[str, Any]) -> torch.Tensor:
    pipeline = aitk_module(f"{EXT}/krea2/src/pipeline.py")
    return pipeline.predict_velocity(model, **x)


def more_sizes() -> list[Spec]:
    out = []
    src = f"repo: {EXT}/krea2/krea2.py KREA2_MMDIT_CONFIG (typed in)"
    krea = sizes_only(
        "krea2", ("krea2", "krea2:o_edit", "krea2:turbo", "krea2:o_edit_turbo"), "ai-toolkit SingleStreamDiT",
        f"{EXT}/krea2/src/mmdit.py", src, _from(f"{EXT}/krea2/src/mmdit.py", "SingleStreamDiT", "SingleMMDiTConfig",
                                                **KREA2_CFG),
        {"layers": 28}, LoraRule(("SingleStreamDiT",), block_names=("blocks",),
                                 source="repo: krea2/krea2.py target_lora_modules, get_transformer_block_names"),
        {"blocks": F(28, src, "plus 12 text layers"), "hidden_size": F(6144, src)},
        notes=["all four Krea 2 entries load the same SingleStreamDiT; traced text-to-image (the edit variants "
               "append reference latents to the sequence)"])
    out.append(traced(krea, _krea2_inputs, _krea2_forward, KREA2_TXT,
                      "Qwen3-VL-4B features of 12 layers, caption length variable (repo: krea2.py "
                      "pad_text_features); traced at 128 tokens, a typical caption"))
    src = f"repo: {EXT}/ideogram4/src/transformer.py Ideogram4Config defaults (ideogram4.py builds Ideogram4Config())"
    out.append(traced(sizes_only(
        "ideogram4", ("ideogram4",), "ai-toolkit Ideogram4Transformer2DModel", f"{EXT}/ideogram4/src/transformer.py",
        src, _from(f"{EXT}/ideogram4/src/transformer.py", "Ideogram4Transformer2DModel", "Ideogram4Config"),
        {"num_layers": 34}, LoraRule(("Ideogram4Transformer2DModel",), block_names=("layers",),
                                     source="repo: ideogram4/ideogram4.py target_lora_modules, block names"),
        {"blocks": F(34, src), "hidden_size": F(4608, src)}),
        _ideogram_inputs, _ideogram_forward, IDEOGRAM_TXT,
        "Qwen3-VL-8B features of 13 layers, caption length variable (repo: ideogram4.py get_prompt_embeds); traced "
        "at 128 tokens, a typical caption"))
    src = (f"repo: {EXT}/minimax_h3/src/transformer.py MiniMaxH3TransformerParams defaults (minimax_h3.py builds "
           "MiniMaxH3TransformerParams())")
    out.append(sizes_only(
        "minimax_h3", ("minimax_h3", "minimax_h3_ref2va"), "ai-toolkit MiniMaxH3Transformer",
        f"{EXT}/minimax_h3/src/transformer.py", src,
        _from(f"{EXT}/minimax_h3/src/transformer.py", "MiniMaxH3Transformer", "MiniMaxH3TransformerParams"),
        {"num_layers": 50}, LoraRule(("MiniMaxH3Transformer",), ignore=("adaln_proj",),
                                     source="repo: minimax_h3/minimax_h3.py target_lora_modules; the UI's "
                                            "ignore_if_contains ['adaln_proj']; fallback block rule 'blocks'"),
        {"blocks": F(50, src, "plus 2 token-refiner layers"), "hidden_size": F(5376, src)},
        public=(33.0, f"repo: {EXT}/minimax_h3/minimax_h3.py docstring (33 B)"),
        notes=["the default checkpoint is pre-quantized int8 (repo notes); the count is of the bf16 layout"]))
    src = (f"repo: {EXT}/zeta_chroma/zeta_chroma_transformer.py ZImageDCTParams defaults with patch_size 1 and "
           "in_channels 32 x 32 x 3 (zeta_chroma_model.py)")
    out.append(traced(sizes_only(
        "zeta_chroma", ("zeta_chroma",), "ai-toolkit ZImageDCT", f"{EXT}/zeta_chroma/zeta_chroma_transformer.py", src,
        _zeta_build,
        {"n_layers": 30}, LoraRule(("ZImageDCT",), source="repo: zeta_chroma/zeta_chroma_model.py target_lora_modules"),
        {"blocks": F(30, src, "plus 2 noise- and 2 context-refiner layers"), "hidden_size": F(3840, src)}, px=32),
        _zeta_inputs, lambda m, x: m(**x), 512,
        "Qwen3-4B hidden states padded to 512 with a mask (repo: zeta_chroma_model.py max_sequence_length = 512)"))
    src = f"repo: {EXT}/prx_pixel_t2i/README.md 'Architecture (released checkpoint)' (typed in)"
    out.append(traced(sizes_only(
        "prx_pixel", ("prx_pixel",), "ai-toolkit PRXTransformer2DModel", f"{EXT}/prx_pixel_t2i/src/transformer_prx.py",
        src, _from(f"{EXT}/prx_pixel_t2i/src/transformer_prx.py", "PRXTransformer2DModel", **PRX_CFG),
        {"depth": 24}, LoraRule(("PRXTransformer2DModel",), block_names=("blocks",),
                                source="repo: prx_pixel_t2i/prx_pixel_t2i.py target_lora_modules, block names"),
        {"blocks": F(24, src), "hidden_size": F(3584, src)},
        public=(7.0, f"repo: {EXT}/prx_pixel_t2i/README.md (PRX-7B)")),
        _prx_inputs, lambda m, x: m(**x, return_dict=False)[0], 256,
        "Qwen3-VL text tower, padded to 256 tokens with a mask (repo: prx_pixel_t2i/prx_pixel_t2i.py PROMPT_MAX_TOKENS)"))
    src = f"repo: {EXT}/hidream/src/hidream_o1/model_config.py (Qwen3-VL config the loader builds)"
    out.append(sizes_only(
        "hidream_o1", ("hidream_o1",), "ai-toolkit Qwen3VLForConditionalGeneration",
        f"{EXT}/hidream/src/hidream_o1/qwen3_vl_transformers.py", src, _hidream_o1_build, {},
        LoraRule(("Qwen3VLForConditionalGeneration",), ignore=("lm_head", "patch_embed", "visual"),
                 block_names=("model.language_model.layers",), transformer_only=False,
                 source="repo: hidream/hidream_o1_model.py target_lora_modules; the UI sets transformer_only "
                        "false and ignore_if_contains ['lm_head', 'patch_embed', 'visual']"),
        {"blocks": F(36, src + " num_hidden_layers"), "hidden_size": F(4096, src)}, px=32,
        notes=["the denoiser is the whole Qwen3-VL model (language model + vision tower + lm_head)"]))
    src = f"repo: {EXT}/z_image/z_image_l2p_model.py ZIMAGE_DEFAULT_CONFIG with in_channels 3, all_patch_size [16]"
    out.append(sizes_only(
        "zimage_l2p", ("zimage_l2p",), "ai-toolkit ZImageTransformer2DModel (L2P)", f"{EXT}/z_image/z_image_l2p_model.py",
        src + " (the loader's pixel-space conversion), plus MicroDiffusionModel", _l2p_build, {"n_layers": 30},
        LoraRule(("ZImageTransformer2DModel",), source="repo: z_image/z_image_l2p_model.py (ZImageModel subclass: "
                                                       "target_lora_modules, block names)"),
        {"blocks": F(30, src), "hidden_size": F(3840, src)},
        notes=["counts the Z-Image trunk (its final layer removed) plus the pixel-space U-Net decoder"]))
    default = "class default: the loader reads the checkpoint's config.json, which was not available to check"
    out.append(sizes_only(
        "nucleus_image", ("nucleus_image",), "diffusers.NucleusMoEImageTransformer2DModel", None,
        f"diffusers NucleusMoEImageTransformer2DModel {default}", _diffusers_build("NucleusMoEImageTransformer2DModel"),
        {}, LoraRule(("NucleusMoEImageTransformer2DModel",), ignore=("img_mlp.experts", "img_mlp.gate"),
                     block_names=("transformer_blocks",),
                     source="repo: nucleus_image/nucleus_image_model.py target_lora_modules, block names; the "
                            "UI's ignore_if_contains ['img_mlp.experts', 'img_mlp.gate']"),
        {}, verified=False))
    src = (f"repo: extensions_built_in/audio_models/ace_step/src/model.py AceStep15 defaults; {default.replace('config.json', 'tensor shapes (infer_dit_config)')}")
    out.append(sizes_only(
        "ace_step_15", ("ace_step_15",), "ai-toolkit AceStep15", "extensions_built_in/audio_models/ace_step/src/model.py",
        src, _ace_build, {}, LoraRule(("DiTModel",), block_names=("layers",),
                                      source="repo: ace_step/ace_step_15_model.py target_lora_modules ['DiTModel'], "
                                             "get_transformer_block_names ['layers']"),
        {}, verified=False, notes=["AceStep15 = lyric/timbre encoders + the DiT decoder; LoRA goes on the decoder"]))
    for key, archs, cls, rel, knob, n, lora in (
        ("ernie_image", ("ernie_image",), "ErnieImageTransformer2DModel", f"{EXT}/ernie_image/transformer.py",
         "num_layers", 24, LoraRule(("ErnieImageTransformer2DModel",), source="repo: ernie_image.py "
                                    "target_lora_modules")),
        ("boogu_image", ("boogu_image", "boogu_image_edit"), "BooguImageTransformer2DModel",
         f"{EXT}/boogu_image/src/transformer.py", None, 0,
         LoraRule(("BooguImageTransformer2DModel",), block_names=("double_stream_layers", "single_stream_layers"),
                  source="repo: boogu_image/boogu_image.py target_lora_modules, block names")),
    ):
        out.append(sizes_only(
            key, archs, f"ai-toolkit {cls}", rel, f"repo: {rel} {default}", _from(rel, cls),
            {knob: n} if knob else {}, lora, {}, verified=False))
    return out


# ==================================================================================================================
# OmniGen2, Mage-Flow, Anima, LTX-2.3 / 2.5: the classes their ai-toolkit loaders build, with the release configs.
# ==================================================================================================================
OMNIGEN2_REPO = "https://github.com/VectorSpaceLab/OmniGen2"
# public: VectorSpaceLab/OmniGen2 options/ft.yml model.arch_opt (commit 0f72fa92, the fine-tuning config of
# OmniGen2/OmniGen2); axes_lens (length of the rope tables, no parameters) as the release transformer/config.json
# states it in third-party copies (vllm-omni's OmniGen2 test FULL_CONFIG, DFloat11's OmniGen2 loader)
OMNIGEN2_CFG = dict(patch_size=2, in_channels=16, out_channels=None, hidden_size=2520, num_layers=32,
                    num_refiner_layers=2, num_attention_heads=21, num_kv_heads=7, multiple_of=256,
                    ffn_dim_multiplier=None, norm_eps=1e-5, axes_dim_rope=(40, 40, 40), axes_lens=(1024, 1664, 1664),
                    text_feat_dim=2048, timestep_scale=1000.0)
OMNIGEN2_TXT = 128


def _omnigen2_build(depth: dict[str, int]) -> nn.Module:
    """OmniGen2Transformer2DModel as ai-toolkit's OmniGen2Model loads it; the rope tables the loader makes once
    (``self.freqs_cis``, outside the step) are kept on the model for the forward."""
    mod = aitk_module(f"{EXT}/omnigen2/src/models/transformers/transformer_omnigen2.py")
    trunc_normal = nn.init.trunc_normal_
    nn.init.trunc_normal_ = lambda t, *a, **k: t  # fake weights have no values to draw (it reads one back)
    try:
        model = mod.OmniGen2Transformer2DModel(**{**OMNIGEN2_CFG, **depth})
    finally:
        nn.init.trunc_normal_ = trunc_normal
    model._aitk_freqs_cis = mod.OmniGen2RotaryPosEmbed.get_freqs_cis(
        OMNIGEN2_CFG["axes_dim_rope"], OMNIGEN2_CFG["axes_lens"], theta=10000)
    return model


def _omnigen2_inputs(model: nn.Module, p: Point) -> dict[str, Any]:
    """repo: omnigen2/__init__.py get_noise_prediction: latents (B, 16, h/8, w/8), timestep 1 - t/1000 in the
    latent dtype, Qwen2.5-VL hidden states with their tokenizer mask (padding 'longest', up to 256)."""
    h, w = lat(p, 8)
    return dict(hidden_states=bf16(p.batch, 16, h, w), timestep=(1 - steps(p.batch) / 1000).bfloat16(),
                text_hidden_states=bf16(p.batch, OMNIGEN2_TXT, 2048), freqs_cis=model._aitk_freqs_cis,
                text_attention_mask=torch.ones(p.batch, OMNIGEN2_TXT, dtype=torch.long))


def omnigen2() -> Spec:
    src = f"public: {OMNIGEN2_REPO}/blob/0f72fa92/options/ft.yml model.arch_opt (typed in)"
    rel = f"{EXT}/omnigen2/src/models/transformers/transformer_omnigen2.py"
    spec = Spec(
        key="omnigen2", archs=("omnigen2",), model_class="ai-toolkit OmniGen2Transformer2DModel", code=aitk_src(rel),
        config_source=src, build=_omnigen2_build, depth={"num_layers": 32}, inputs=_omnigen2_inputs,
        forward=lambda m, x: m(**x, ref_image_hidden_states=None), step_context=KnownInts,
        lora=LoraRule(("OmniGen2Transformer2DModel",), block_names=("noise_refiner", "context_refiner", "layers"),
                      source="repo: omnigen2/__init__.py target_lora_modules ['OmniGen2Transformer2DModel'], "
                             "get_transformer_block_names ['noise_refiner', 'context_refiner', 'layers'] (the "
                             "ref_image_refiner only with model_kwargs use_image_refiner)"),
        facts={"latent_channels": F(16, src + " in_channels 16"),
               "vae_downsample": F(8, src + " pretrained_vae_model_name_or_path black-forest-labs/FLUX.1-dev (the "
                                   "FLUX.1 VAE: 3 downsamples)"),
               "patch_size": F(2, src), "blocks": F(32, src, "plus 2 noise-, 2 reference- and 2 context-refiner "
                                                            "layers"),
               "hidden_size": F(2520, src + " (21 heads x 120, 7 kv heads)")},
        text_tokens=OMNIGEN2_TXT, text_note="Qwen2.5-VL-3B hidden states of the chat-templated caption, padding "
                                            "'longest' up to 256 (repo: omnigen2 get_prompt_embeds, pipeline "
                                            "encode_prompt); traced at 128 tokens, a typical caption",
        px=16, grid=IMAGE_GRID, cfg_doubles=True,
        public=(4.0, f"public: {HF}/OmniGen2/OmniGen2 model card (4B diffusion decoder)"),
        notes=["traced text-to-image: a control image (datasets.control_path) adds its packed tokens to the "
               "sequence and runs the reference refiner (repo: omnigen2 condition_noisy_latents)",
               "flash-attn and triton absent: OmniGen2AttnProcessor (SDPA with the padding mask) and torch RMSNorm, "
               "the model code's own fallbacks (its varlen flash kernel unpads the same tokens)"])
    return spec


MAGEFLOW_SRC = "https://github.com/huggingface/diffusers/blob/6b72f849/scripts/convert_mage_flow_to_diffusers.py"
# public: diffusers scripts/convert_mage_flow_to_diffusers.py TRANSFORMER_DIFFUSERS_CONFIG (the Mage-Flow-Base
# transformer config, renamed for diffusers: num_attention_heads = num_heads, num_layers = depth)
MAGEFLOW_CFG = dict(in_channels=128, out_channels=128, context_in_dim=2560, hidden_size=3072, num_heads=24, depth=12,
                    axes_dim=[16, 56, 56], checkpoint=False, patch_size=1)
MAGEFLOW_TXT = 128
MAGEFLOW_EDIT_TXT = MAGEFLOW_TXT + 144


def _mageflow_build(depth: dict[str, int]) -> nn.Module:
    mod = aitk_module(f"{EXT}/mageflow/src/transformer.py")
    return mod.MageFlow(mod.MageFlowParams(**{**MAGEFLOW_CFG, **depth}))


def _mageflow_inputs(edit: bool):
    def inputs(model: nn.Module, p: Point) -> dict[str, Any]:
        """repo: mageflow/mageflow.py get_noise_prediction -> src/pipeline.py predict_velocity: latents
        (B, 128, h/16, w/16), sigma = t/1000, one (L, 2560) Qwen3-VL feature tensor per sample; edit: one clean
        reference latent at the target size per sample."""
        h, w = lat(p, 16)
        txt = MAGEFLOW_EDIT_TXT if edit else MAGEFLOW_TXT
        return dict(latents=bf16(p.batch, 128, h, w), t=steps(p.batch) / 1000,
                    text_embeds=[bf16(txt, 2560) for _ in range(p.batch)],
                    ref_latents=[[bf16(128, h, w)] for _ in range(p.batch)] if edit else None)
    return inputs


def _mageflow_forward(model: nn.Module, x: dict[str, Any]) -> torch.Tensor:
    return aitk_module(f"{EXT}/mageflow/src/pipeline.py").predict_velocity(model, **x)


def mageflow(edit: bool) -> Spec:
    src = f"public: {MAGEFLOW_SRC} TRANSFORMER_DIFFUSERS_CONFIG (typed in)"
    key = "mageflow_edit" if edit else "mageflow"
    notes = ["the batch is packed into one variable-length sequence (per-sample cu_seqlens); traced with the model "
             "code's own SDPA fallback for flash_attn_varlen_func (repo: mageflow/src/attn.py), one attention per "
             "sample, as the varlen kernel computes it",
             "batch_size > 1 fails in ai-toolkit's own LoRA code: the trainer sets one LoRA multiplier per sample "
             "(repo: SDTrainer.py network.multiplier = network_weight_list) and LoRAModule.forward repeats it "
             "lora_output.size(0) // batch = 1 // b = 0 times for the packed (1, tokens, dim) sequence (repo: "
             "toolkit/network_mixins.py), which empties every LoRA'd projection (the trace fails the same way); "
             "batch 2 is traced with one multiplier for the pack, i.e. what the step would cost once that is fixed"]
    if edit:
        notes.append("one reference image at the target size is appended to each sample's sequence (repo: "
                      "mageflow.py _batch_ref_latents_from_batch): the sequence is 2n image tokens + the text; "
                      "each further reference adds n")
    return Spec(
        key=key, archs=(key,), model_class="ai-toolkit MageFlow", code=aitk_src(f"{EXT}/mageflow/src/transformer.py"),
        config_source=src + "; hidden 3072 and 12 blocks also in repo: mageflow/mageflow.py docstring",
        build=_mageflow_build, depth={"depth": 12}, inputs=_mageflow_inputs(edit), forward=_mageflow_forward,
        step_context=KnownInts, packed_batch=True,
        lora=LoraRule(("MageFlow",), block_names=("transformer_blocks",),
                      source="repo: mageflow/mageflow.py target_lora_modules ['MageFlow'], "
                             "get_transformer_block_names ['transformer_blocks']"),
        facts={"latent_channels": F(128, src + " in_channels 128"), "patch_size": F(1, src),
               "vae_downsample": F(16, "repo: mageflow/mageflow.py vae_scale_factor 16"),
               "blocks": F(12, src, "dual-stream"), "hidden_size": F(3072, src + " (24 heads x 128)")},
        text_tokens=MAGEFLOW_EDIT_TXT if edit else MAGEFLOW_TXT,
        text_note=("Qwen3-VL-4B features (2560) at the caption's natural length, template dropped (repo: "
                   "mageflow.py get_prompt_embeds); traced at 128 tokens, a typical caption"
                   + ("; edit adds the reference image's vision tokens: 144 for a square reference capped at "
                      "384 px (repo: vl_cond_long_edge 384; derived: Qwen3-VL 16 px patches merged 2 x 2)"
                      if edit else "")),
        px=16, grid=IMAGE_GRID, cfg_doubles=False,
        public=(4.0, "public: https://github.com/microsoft/Mage README (Mage-Flow 4B)"), notes=notes)


ANIMA_TXT = 128
# public: diffusers scripts/convert_anima_to_diffusers.py converts the Anima DiT with convert_cosmos_to_diffusers.py's
# "Cosmos-2.0-Diffusion-2B-Text2Image" transformer config (typed in here)
ANIMA_CFG = dict(in_channels=16, out_channels=16, num_attention_heads=16, attention_head_dim=128, num_layers=28,
                 mlp_ratio=4.0, text_embed_dim=1024, adaln_lora_dim=256, max_size=(128, 240, 240), patch_size=(1, 2, 2),
                 rope_scale=(1.0, 4.0, 4.0), concat_padding_mask=True, extra_pos_embed_type=None)


def _nearest_resize(img: torch.Tensor, size: list[int], interpolation: str = "nearest") -> torch.Tensor:
    """torchvision ``transforms.functional.resize`` of a tensor with NEAREST (torchvision
    transforms/_functional_tensor.py resize: cast to float32, ``interpolate(mode='nearest')``, cast back)."""
    return torch.nn.functional.interpolate(img.float(), size=size, mode=interpolation).to(img.dtype)


def _anima_build(depth: dict[str, int]) -> nn.Module:
    """diffusers' Cosmos transformer resizes the padding mask with torchvision, which has no build for this CPU
    torch on the package index: that one call (a NEAREST resize of a (1, 1, H, W) mask) is supplied as torchvision
    computes it."""
    import types as _t
    from diffusers.models import CosmosTransformer3DModel
    from diffusers.models.transformers import transformer_cosmos
    if not hasattr(transformer_cosmos, "transforms"):
        transformer_cosmos.transforms = _t.SimpleNamespace(
            functional=_t.SimpleNamespace(resize=_nearest_resize),
            InterpolationMode=_t.SimpleNamespace(NEAREST="nearest"))
    return CosmosTransformer3DModel(**{**ANIMA_CFG, **depth})


def _anima_inputs(model: nn.Module, p: Point) -> dict[str, Any]:
    """repo: anima/anima.py get_noise_prediction: latents (B, 16, 1, h/8, w/8), timestep t/1000 in bf16, the text
    conditioner's output (B, T5 tokens, 1024), a zero padding mask of (1, 1, 16 h, 16 w) as the loader makes it."""
    h, w = lat(p, 8)
    return dict(hidden_states=bf16(p.batch, 16, 1, h, w), timestep=(steps(p.batch) / 1000).bfloat16(),
                encoder_hidden_states=bf16(p.batch, ANIMA_TXT, 1024),
                padding_mask=torch.zeros(1, 1, h * 16, w * 16, dtype=torch.bfloat16))


def anima() -> Spec:
    conv = "https://github.com/huggingface/diffusers/blob/9e854376/scripts/convert_anima_to_diffusers.py"
    src = (f"public: {conv} (the Anima DiT is converted as convert_cosmos_to_diffusers.py "
           "'Cosmos-2.0-Diffusion-2B-Text2Image', typed in)")
    return Spec(
        key="anima", archs=("anima",), model_class="diffusers.CosmosTransformer3DModel",
        code=diffusers_src("CosmosTransformer3DModel"), config_source=src, build=_anima_build,
        depth={"num_layers": 28}, inputs=_anima_inputs, forward=lambda m, x: m(**x, return_dict=False)[0],
        lora=LoraRule(("CosmosTransformer3DModel",), block_names=("transformer_blocks",),
                      source="repo: anima/anima.py target_lora_modules ['CosmosTransformer3DModel'] (the text "
                             "conditioner only with model_kwargs train_text_conditioner), get_transformer_block_names "
                             "['transformer_blocks']"),
        facts={"latent_channels": F(16, src + " in_channels 16"),
               "vae_downsample": F(8, f"public: {conv} (the Qwen-Image VAE, AutoencoderKLQwenImage: 8x)"),
               "patch_size": F(2, src + " patch_size (1, 2, 2)"), "blocks": F(28, src),
               "hidden_size": F(2048, src + " 16 heads x 128")},
        text_tokens=ANIMA_TXT, text_note="the LLM adapter's output: one 1024-d vector per T5 token of the caption, "
                                         "padding 'longest' up to 512 (repo: anima.py max_sequence_length); traced "
                                         "at 128 tokens, a typical caption",
        px=16, grid=IMAGE_GRID, cfg_doubles=True,
        public=(2.0, f"public: {HF}/circlestone-labs/Anima model card (Cosmos-Predict2-2B based)"),
        notes=["the LLM adapter (AnimaTextConditioner) runs before the DiT without trainable weights (no LoRA by "
               "default): its activations are not kept for backward and are not in this trace"])


def _ltx2x_build(version: str):
    def build(depth: dict[str, int]) -> nn.Module:
        """repo: ltx2/convert_ltx2_to_diffusers.py convert_ltx2_transformer: the diffusers class from
        get_ltx2_transformer_config(version); 2.5 swaps each video feed-forward's linears for bias-free ones."""
        from diffusers import LTX2VideoTransformer3DModel
        conv = aitk_module(f"{EXT}/ltx2/convert_ltx2_to_diffusers.py")
        cfg = conv.get_ltx2_transformer_config(version)[0]["diffusers_config"]
        model = LTX2VideoTransformer3DModel.from_config({**cfg, **depth})
        if version == "2.5":
            for block in model.transformer_blocks:
                net = block.ff.net
                net[0].proj = nn.Linear(net[0].proj.in_features, net[0].proj.out_features, bias=False)
                net[2] = nn.Linear(net[2].in_features, net[2].out_features, bias=False)
        return model
    return build


def _ltx2x_inputs(model: nn.Module, p: Point) -> dict[str, Any]:
    """repo: ltx2/ltx2.py get_noise_prediction for 2.3 / 2.5: as LTX-2 (see ``_ltx2_inputs``), but the connectors
    project per modality (video 4096, audio 2048: convert_ltx2_to_diffusers.py connectors config), and the sigma
    and the cross-modality timestep are passed (use_cross_timestep)."""
    x = _ltx2_inputs(model, p)
    b = p.batch
    x.update(encoder_hidden_states=bf16(b, 1024, 4096), audio_encoder_hidden_states=bf16(b, 1024, 2048),
             sigma=steps(b), use_cross_timestep=True)
    return x


def _ltx2_connector_params(version: str) -> int:
    """The text connectors ai-toolkit converts for this release (diffusers LTX2TextConnectors with the repo's
    get_ltx2_connectors_config), counted on the meta device."""
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    cfg = aitk_module(f"{EXT}/ltx2/convert_ltx2_to_diffusers.py").get_ltx2_connectors_config(version)[0]
    with torch.device("meta"):
        return sum(p.numel() for p in LTX2TextConnectors.from_config(cfg["diffusers_config"]).parameters())


def ltx2x(version: str) -> Spec:
    rel = f"{EXT}/ltx2/convert_ltx2_to_diffusers.py"
    src = f"repo: {rel} get_ltx2_transformer_config('{version}')"
    key = f"ltx2.{version[-1]}"
    connectors = _ltx2_connector_params(version) / 1e9 if AITK is not None else None
    notes = ["the audio stream runs on the clip's audio latents (25 per second at 24 fps) even without audio data "
             "(repo: ltx2.py); traced at 512 x 768, its tokens grow with the frames as the video's do"]
    if connectors is not None:
        notes.append(f"the 22 B of the file name is this DiT plus the text connectors ({connectors:.2f} B: diffusers "
                     f"LTX2TextConnectors with repo: {rel} get_ltx2_connectors_config('{version}'), counted on the "
                     "meta device); ai-toolkit runs the connectors on the GPU every step (repo: ltx2.py "
                     "get_noise_prediction), outside this trace")
    if version == "2.5":
        notes.append("2.5 = the 2.3 config with bias-free video feed-forwards (repo: convert_ltx2_transformer); "
                     "the checkpoint's keyframes_abs_pos_embedding (unused by the training forward, its shape "
                     "only in the checkpoint) is not counted")
    file = {"2.3": "ltx-2.3-22b-dev.safetensors", "2.5": "ltx-2.5-22b-dev-transformer-comfy-int8-convrot.safetensors"}
    return Spec(
        key=key, archs=(key,), model_class="diffusers.LTX2VideoTransformer3DModel",
        code=diffusers_src("LTX2VideoTransformer3DModel"), config_source=src + " (the config ai-toolkit converts "
                                                                               "the checkpoint into)",
        build=_ltx2x_build(version), depth={"num_layers": 48}, inputs=_ltx2x_inputs,
        forward=lambda m, x: m(**x, return_dict=False)[0],
        lora=LoraRule(("LTX2VideoTransformer3DModel",), block_names=("transformer_blocks",),
                      source="repo: ltx2/ltx2.py target_lora_modules, get_transformer_block_names"),
        facts={"latent_channels": F(128, src + " in_channels 128"),
               "vae_downsample": F(32, src + " vae_scale_factors (8, 32, 32)"),
               "temporal_downsample": F(8, src + " vae_scale_factors (8, 32, 32)"), "patch_size": F(1, src),
               "blocks": F(48, src), "hidden_size": F(4096, src + " 32 x 128", "audio stream 32 x 64")},
        text_tokens=1024, text_note="Gemma connector output, 1024 tokens (repo: ltx2.py max_length=1024), video "
                                    "(4096-d) and audio (2048-d) streams each",
        px=32, tdown=8, grid=LTX_GRID, cfg_doubles=True,
        public=(22.0, f"repo: ltx2/ltx2.py default file {file[version]} (22 B)"), notes=notes)


# ==================================================================================================================
# Registry.
# ==================================================================================================================
def specs() -> dict[str, Spec]:
    out: dict[str, Spec] = {}

    def add(spec: Spec) -> None:
        out[spec.key] = spec

    add(flux_like("flux", ("flux",), FLUX_DEV_CFG, f"public: {FLUX_DEV_URL}",
                  (11.9, f"public: {HF}/black-forest-labs/FLUX.1-dev (12 B; diffusers counts 11.9 B)")))
    add(flux_like("flux_kontext", ("flux_kontext",), FLUX_DEV_CFG,
                  f"public: {HF}/black-forest-labs/FLUX.1-Kontext-dev/blob/main/transformer/config.json (= FLUX.1-dev)",
                  (12.0, f"public: {HF}/black-forest-labs/FLUX.1-Kontext-dev (12 B)"), control=True,
                  notes=["one control image at the target size is appended to the sequence (repo: "
                         "flux_kontext.py get_noise_prediction): the sequence is 2n image tokens + 512 text"]))
    flex1 = dict(FLUX_DEV_CFG, num_layers=8)
    add(flux_like("flex1", ("flex1",), flex1, f"public: {HF}/ostris/Flex.1-alpha (8 double-stream blocks instead "
                  "of 19, the rest as FLUX.1; guidance embedder kept)",
                  (8.0, f"public: {HF}/ostris/Flex.1-alpha (8 B)")))
    add(flux_like("flex2", ("flex2",), dict(flex1, in_channels=196),
                  f"public: {HF}/ostris/Flex.2-preview (Flex.1 layout); derived: in_channels 196 = (16 latent + 16 "
                  "inpaint + 1 mask + 16 control) x 2x2, the channels repo: extensions_built_in/flex2/flex2.py "
                  "concatenates", (8.0, f"public: {HF}/ostris/Flex.2-preview (8 B)"),
                  lora=LoraRule(("FluxTransformer2DModel",), legacy="flux",
                                source="repo: extensions_built_in/flex2/flex2.py target_lora_modules")))
    add(chroma())
    add(flux2("flux2", "Flux2Params", 8, 48, 6144, 15360, True,
              (32.0, f"public: {HF}/black-forest-labs/FLUX.2-dev (32 B)"), "Mistral-Small-3.1"))
    add(flux2("flux2_klein_4b", "Klein4BParams", 5, 20, 3072, 7680, False,
              (4.0, f"public: {HF}/black-forest-labs/FLUX.2-klein-base-4B (4 B)"), "Qwen3-4B"))
    add(flux2("flux2_klein_9b", "Klein9BParams", 8, 24, 4096, 12288, False,
              (9.0, f"public: {HF}/black-forest-labs/FLUX.2-klein-base-9B (9 B)"), "Qwen3-8B"))
    add(qwen("qwen_image", ("qwen_image", "qwen_image:2512"), "qwen_image.py", None))
    add(qwen("qwen_image_edit", ("qwen_image_edit",), "qwen_image_edit.py", "same",
             ["one control image at the target size is appended to the sequence (repo: qwen_image_edit.py)"]))
    add(qwen("qwen_image_edit_plus", ("qwen_image_edit_plus", "qwen_image_edit_plus:2511"),
             "qwen_image_edit_plus.py", "1mp",
             ["one control image resized to 1 MP (4096 tokens, match_target_res false as the UI sets) is appended; "
              "each further control adds 4096 tokens (repo: qwen_image_edit_plus.py)"]))
    w21 = f"{HF}/Wan-AI/Wan2.1-T2V-14B-Diffusers/blob/main/transformer/config.json"
    add(wan("wan21_1b", ("wan21:1b",), WAN_1_3B,
            f"public: {HF}/Wan-AI/Wan2.1-T2V-1.3B-Diffusers/blob/main/transformer/config.json (12 heads, ffn 8960, "
            "30 layers)", (1.3, f"public: {HF}/Wan-AI/Wan2.1-T2V-1.3B (1.3 B)")))
    add(wan("wan21_14b", ("wan21:14b",), WAN_14B, f"diffusers WanTransformer3DModel class default (= {w21})",
            (14.3, f"public: {HF}/Wan-AI/Wan2.1-T2V-14B (14 B; diffusers counts 14.3 B)")))
    add(wan("wan21_i2v_14b", ("wan21_i2v:14b480p", "wan21_i2v:14b"), WAN_I2V_21,
            f"public: {HF}/Wan-AI/Wan2.1-I2V-14B-720P-Diffusers/blob/main/transformer/config.json (in_channels 36, "
            "image_dim 1280, added_kv_proj_dim 5120; the 480P release has the same config)",
            (14.0, f"public: {HF}/Wan-AI/Wan2.1-I2V-14B-480P (14 B)"), image_tokens=257,
            lora_src="repo: toolkit/models/wan21/wan21_i2v.py target_lora_modules, get_transformer_block_names"))
    a14 = ("repo: extensions_built_in/diffusion_models/wan22/wan22_14b_model.py target_lora_modules "
           "['DualWanTransformer3DModel'] (one WanTransformer3DModel per expert), block names ['blocks']")
    add(wan("wan22_14b_t2v", ("wan22_14b:t2v",), WAN_14B,
            f"diffusers WanTransformer3DModel class default (= {HF}/Wan-AI/Wan2.2-T2V-A14B-Diffusers/blob/main/"
            "transformer/config.json, both experts)", (27.0, f"public: {HF}/Wan-AI/Wan2.2-T2V-A14B (27 B total)"),
            experts=2, target="DualWanTransformer3DModel", lora_src=a14,
            notes=["two experts of identical shape (high-noise, low-noise); a step runs one, so activations and "
                   "FLOPs are one expert's; parameters and LoRA are both experts' (train_high_noise and "
                   "train_low_noise both true in the UI)"]))
    add(wan("wan22_14b_i2v", ("wan22_14b_i2v",), WAN_I2V_22,
            f"public: {HF}/Wan-AI/Wan2.2-I2V-A14B-Diffusers/blob/main/transformer/config.json (in_channels 36, no "
            "image embedding)", (27.0, f"public: {HF}/Wan-AI/Wan2.2-I2V-A14B (27 B total)"), experts=2,
            target="DualWanTransformer3DModel", lora_src=a14,
            notes=["two experts of identical shape; a step runs one (see wan22_14b_t2v)"]))
    add(wan("wan22_5b", ("wan22_5b",), WAN_5B,
            f"public: {HF}/Wan-AI/Wan2.2-TI2V-5B-Diffusers/blob/main/transformer/config.json (24 heads, ffn 14336, "
            "30 layers, 48 channels)", (5.0, f"public: {HF}/Wan-AI/Wan2.2-TI2V-5B (5 B)"), wan5b=True,
            lora_src="repo: extensions_built_in/diffusion_models/wan22/wan22_5b_model.py (Wan21 subclass)"))
    add(lumina2())
    add(zimage())
    add(unet("sd15", SD15_UNET, SD15_URL, (0.86, f"public: {HF}/stable-diffusion-v1-5/stable-diffusion-v1-5 "
                                                   "(860 M UNet)"), False))
    add(unet("sdxl", SDXL_UNET, SDXL_URL, (2.6, f"public: {HF}/stabilityai/stable-diffusion-xl-base-1.0 (2.6 B "
                                                "UNet, SDXL paper)"), True))
    add(sd3())
    add(hidream())
    add(ltx2())
    add(omnigen2())
    add(mageflow(edit=False))
    add(mageflow(edit=True))
    add(anima())
    add(ltx2x("2.3"))
    add(ltx2x("2.5"))
    for spec in more_sizes():
        add(spec)
    return out


# ==================================================================================================================
# What the trace cannot see.
# ==================================================================================================================
QUANT_LAYER = 3072  # a 3072 x 3072 linear (FLUX's attention projections), 256 tokens of batch 1, bf16 activations


def _leaf_storages(t: torch.Tensor) -> list[torch.Tensor]:
    from torch.utils._python_dispatch import is_traceable_wrapper_subclass
    if is_traceable_wrapper_subclass(t):
        names, _ = t.__tensor_flatten__()
        return [leaf for n in names for leaf in _leaf_storages(getattr(t, n))]
    return [t]


def _quantized_linear(backend: str) -> nn.Module:
    """A bf16 linear quantized by one of the backends ai-toolkit's ``toolkit/util/quantize.py`` dispatches to."""
    torch.manual_seed(0)
    lin = nn.Linear(QUANT_LAYER, QUANT_LAYER, bias=True, dtype=torch.bfloat16)
    model = nn.Sequential(lin)
    if backend == "bf16":
        return model
    if backend == "quanto qfloat8":
        from optimum.quanto import freeze, qfloat8, quantize
        quantize(model, weights=qfloat8)
        freeze(model)
    elif backend in ("torchao float8", "torchao int8"):
        from torchao.quantization.quant_api import Float8WeightOnlyConfig, Int8WeightOnlyConfig, quantize_
        quantize_(model, Float8WeightOnlyConfig() if backend.endswith("float8") else Int8WeightOnlyConfig())
    elif backend.startswith("ai-toolkit uint"):
        uintx = aitk_module("toolkit/util/uintx_quant.py")
        ostris = aitk_module("toolkit/util/ostris_quant.py")
        ostris.convert_linear_to_ostris(lin, uintx.UIntXQuantizer(int(backend.removeprefix("ai-toolkit uint"))))
    else:
        raise ValueError(backend)
    return model


def measure_quantized_linear(backend: str) -> dict[str, float]:
    """Stored bytes per weight, and bytes per weight a forward keeps for backward / peaks at beyond a bf16 linear's.

    Real CPU tensors (the kernels' choice of dequantizing is the same on CUDA for these weight-only backends, except
    where noted); the input requires grad and the weight is frozen, as in LoRA training.
    """
    from trace_archs import StorageTracker
    results = {}
    for name in ("bf16", backend):
        model = _quantized_linear(name).requires_grad_(False)
        leaves = [leaf for t in [*model.parameters(), *model.buffers()] for leaf in _leaf_storages(t)]
        stored = sum({leaf.untyped_storage()._cdata: leaf.untyped_storage().nbytes() for leaf in leaves}.values())
        x = torch.randn(1, 256, QUANT_LAYER, dtype=torch.bfloat16, requires_grad=True)
        exclude = {leaf.untyped_storage()._cdata for leaf in leaves} | {x.untyped_storage()._cdata}
        tracker = StorageTracker(exclude)
        with tracker:
            y = model(x)
            saved = tracker.current
            y.float().sum().backward()
        results[name] = {"stored": stored, "saved": saved, "peak": tracker.peak}
    n = QUANT_LAYER * QUANT_LAYER
    base, q = results["bf16"], results[backend]
    return {"stored_bytes_per_weight": round(q["stored"] / n, 4),
            "saved_extra_bytes_per_weight": round((q["saved"] - base["saved"]) / n, 4),
            "peak_extra_bytes_per_weight": round((q["peak"] - base["peak"]) / n, 4)}


QUANT_BACKENDS = ("quanto qfloat8", "torchao float8", "torchao int8", "ai-toolkit uint4", "ai-toolkit uint3")


def quant_assumptions() -> list[dict[str, Any]]:
    import importlib.metadata as md
    out = []
    for backend in QUANT_BACKENDS:
        try:
            m = measure_quantized_linear(backend)
        except Exception as exc:  # noqa: BLE001 - a backend missing here is reported, not fatal
            out.append({"what": f"quantized weights, {backend}", "value": "not measured",
                        "source": f"{type(exc).__name__}: {exc}"[:200]})
            continue
        lib = {"quanto": "optimum-quanto", "torchao": "torchao"}.get(backend.split()[0])
        version = f"{lib} {md.version(lib)}" if lib else "ai-toolkit {aitk} toolkit/util/uintx_quant.py"
        out.append({
            "what": f"quantized weights, {backend}",
            "value": (f"{m['stored_bytes_per_weight']} bytes stored per weight; a LoRA step keeps "
                      f"{m['saved_extra_bytes_per_weight']} bytes per weight more for backward and peaks "
                      f"{m['peak_extra_bytes_per_weight']} bytes per weight higher than a bf16 layer"),
            "source": f"measured: {QUANT_LAYER}x{QUANT_LAYER} linear, 256 tokens, on CPU tensors with {version}",
            **m,
        })
    return out


ASSUMPTIONS: list[dict[str, Any]] = [
    {"what": "CUDA context", "value": "0.3-0.6 GiB per process (driver, kernels of torch's CUDA libraries)",
     "source": "not visible to a fake-tensor trace; nbwizard's predictor uses 0.5 GiB "
               "(engine/_predict_memory.py CUDA_CONTEXT_GIB, its calibration rows)"},
    {"what": "cuBLAS workspace", "value": "up to 4 MiB x 8 per stream on Hopper (CUBLAS_WORKSPACE_CONFIG default "
                                           ":4096:8), within the context figure above",
     "source": "public: https://docs.nvidia.com/cuda/cublas/#cublassetworkspace"},
    {"what": "allocator fragmentation", "value": "reserved - allocated, typically a few percent of the peak; "
                                                 "higher with variable bucket sizes",
     "source": "not visible to a trace (it sees tensors, not the caching allocator's blocks); the predictor's "
               "FRAGMENTATION constant (engine/_predict_memory.py) is fitted on calibration rows"},
    {"what": "flash / memory-efficient attention workspace", "value": "the logsumexp (fp32, batch x heads x "
                                                                      "tokens) is in the trace; kernel scratch is not",
     "source": "meta kernels of aten._scaled_dot_product_flash_attention / _efficient_attention (torch)"},
    {"what": "LoRA input casts", "value": "each wrapped linear casts its input to fp32 and keeps it for backward "
                                          "(in the trace: most of the activation bytes beyond a bf16 LoRA)",
     "source": "repo: toolkit/network_mixins.py ToolkitModuleMixin.forward (lora_input = x.to(lora_down dtype)); "
               "BaseSDTrainProcess: network.force_to(dtype=torch.float32)"},
]


def _vae(latent: int, quant_convs: bool):
    def build():
        from diffusers import AutoencoderKL
        return AutoencoderKL(down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                             block_out_channels=[128, 256, 512, 512], layers_per_block=2, latent_channels=latent,
                             use_quant_conv=quant_convs, use_post_quant_conv=quant_convs)
    return build


def _t5(umt5: bool):
    def build():
        import transformers as tf
        cls, cfg = (tf.UMT5EncoderModel, tf.UMT5Config) if umt5 else (tf.T5EncoderModel, tf.T5Config)
        return cls(cfg(d_model=4096, d_ff=10240, num_layers=24, num_heads=64, d_kv=64, feed_forward_proj="gated-gelu",
                       vocab_size=256384 if umt5 else 32128))
    return build


def _clip(hidden: int, inter: int, layers: int, heads: int, projection: bool):
    def build():
        import transformers as tf
        cfg = tf.CLIPTextConfig(hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                                num_attention_heads=heads, projection_dim=hidden)
        return (tf.CLIPTextModelWithProjection if projection else tf.CLIPTextModel)(cfg)
    return build


def _diffusers_default(cls: str):
    def build():
        import diffusers
        return getattr(diffusers, cls)()
    return build


# catalog component name -> (class, config source, builder). Names are those of tools/build_models.py.
COMPONENTS = {
    "T5-XXL encoder": ("transformers.T5EncoderModel", f"public: {HF}/google/t5-v1_1-xxl/blob/main/config.json "
                       "(d_model 4096, d_ff 10240, 24 layers, 64 heads, vocab 32128; encoder half)", _t5(False)),
    "umT5-XXL encoder": ("transformers.UMT5EncoderModel", f"public: {HF}/google/umt5-xxl/blob/main/config.json "
                         "(T5-XXL shape, vocab 256384; encoder half)", _t5(True)),
    "CLIP-L": ("transformers.CLIPTextModel", f"public: {HF}/openai/clip-vit-large-patch14/blob/main/config.json "
               "(text: 768 wide, 12 layers, 12 heads)", _clip(768, 3072, 12, 12, False)),
    "OpenCLIP bigG": ("transformers.CLIPTextModelWithProjection",
                      f"public: {HF}/stabilityai/stable-diffusion-xl-base-1.0/blob/main/text_encoder_2/config.json "
                      "(1280 wide, 32 layers, 20 heads)", _clip(1280, 5120, 32, 20, True)),
    "FLUX.1 VAE (16 ch)": ("diffusers.AutoencoderKL", f"public: {HF}/black-forest-labs/FLUX.1-dev/blob/main/vae/"
                           "config.json (16 latent channels, no quant convs)", _vae(16, False)),
    "SD3 VAE (16 ch)": ("diffusers.AutoencoderKL", f"public: {HF}/stabilityai/stable-diffusion-3.5-large/blob/main/"
                        "vae/config.json (16 latent channels, no quant convs)", _vae(16, False)),
    "SD VAE (4 ch)": ("diffusers.AutoencoderKL", f"public: {SD15_URL.replace('unet', 'vae')} (4 latent channels)",
                      _vae(4, True)),
    "SDXL VAE (4 ch)": ("diffusers.AutoencoderKL", f"public: {SDXL_URL.replace('unet', 'vae')} (4 latent channels)",
                        _vae(4, True)),
    "Wan 2.1 VAE": ("diffusers.AutoencoderKLWan", f"diffusers AutoencoderKLWan class default (= {HF}/Wan-AI/"
                    "Wan2.1-T2V-14B-Diffusers/blob/main/vae/config.json)", _diffusers_default("AutoencoderKLWan")),
    "Qwen-Image VAE": ("diffusers.AutoencoderKLQwenImage", f"diffusers AutoencoderKLQwenImage class default (= {HF}/"
                       "Qwen/Qwen-Image/blob/main/vae/config.json)", _diffusers_default("AutoencoderKLQwenImage")),
}


def component_sizes() -> dict[str, Any]:
    """Exact parameter counts of the shared text encoders and VAEs, built on the meta device."""
    import importlib.metadata as md
    out = {}
    for name, (cls, source, build) in COMPONENTS.items():
        with torch.device("meta"):
            model = build()
        lib = cls.split(".")[0]
        out[name] = {"params": sum(p.numel() for p in model.parameters()), "model_class": cls,
                     "code": f"{lib} {md.version(lib)}", "config_source": source}
    return out


def assumptions(commit: str) -> list[dict[str, Any]]:
    return [dict(a, source=a["source"].replace("{aitk}", commit)) for a in ASSUMPTIONS + quant_assumptions()]
