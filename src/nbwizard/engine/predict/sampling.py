"""GPU memory of a preview (sampling) round, from the trace's no-grad ``preview`` fit at the sample size.

ai-toolkit's ``generate`` device preset puts the denoiser, VAE and text encoder on the GPU (repo:
toolkit/models/base_model.py generate_images l.1554-1615): a cached text encoder is a stand-in with no weights, an
unloaded one is moved back for the prompts (BaseSDTrainProcess.py l.2728-2736). Images are generated one prompt at
a time; guidance runs as a second sequential forward for most archs (memory x1, time x2) and as a batch of two for
the diffusers UNet / SD3 / Z-Image / HiDream pipelines (``cfg`` in predict.json). The VAE decode runs after the
denoiser's activations are freed, so the working set is the larger of the two; it is tiled where ai-toolkit tiles.
"""

from __future__ import annotations

from . import _data as D
from ._data import GIB
from ._sizes import Part, Sizes
from .memory import overhead, weights_parts


def sample_tokens(x) -> float:
    a = x.f.activity
    return a.with_controls(a.tokens(x.sample_h, x.sample_w, x.sample_frames), x.controls)


def cfg_factor(x) -> tuple[int, int, str]:
    """(batch multiplier, forwards per step, what) for the preview's guidance."""
    mode = D.cfg_mode(x.spec)
    if x.guidance <= 1 or mode == "distilled":
        return 1, 1, "guidance-distilled: one forward per step" if mode == "distilled" else "no guidance"
    if mode == "sequential":
        return 1, 2, "guidance as a second sequential forward"
    return 2, 1, "guidance batched: a batch of two"


def sample_parts(s: Sizes) -> list[Part]:
    x, f = s.x, s.f
    te_on = not x.cache_te
    te_why = "cached: a stand-in encoder with no weights (prompts encoded before training)"
    unloads = x.low_vram and f.family.get("sample_unloads_with_low_vram", False)
    if unloads:
        why = "low_vram: on the GPU only while the denoiser is not running (repo: AggressiveWanUnloadPipeline)"
        parts = weights_parts(s, te_on_gpu=False, vae_on_gpu=False, te_why=why, vae_why=why)
    else:
        parts = weights_parts(s, te_on_gpu=te_on, vae_on_gpu=True, te_why=te_why, vae_why="decodes the previews")
    parts += s.adapter_parts(gradients=False)
    a = f.activity
    batch, _, cfg_why = cfg_factor(x)
    n = sample_tokens(x)
    fwd = a.bytes("preview", "peak", n, batch) if a.has("preview", "peak") else 0.0
    tiled = D.tiles_vae(x.spec) and (x.low_vram or x.vae_tiling)
    pixels = D.const("memory", "vae_tile_pixels") if tiled else x.sample_w * x.sample_h
    frames = min(x.sample_frames, int(D.const("memory", "vae_decode_frames_at_once"))) if x.sample_frames > 1 else 1
    vae = pixels * frames * D.const("memory", "vae_decode_bytes_per_pixel")
    size = f"{x.sample_w}x{x.sample_h}" + (f" x {x.sample_frames} frames" if x.sample_frames > 1 else "")
    # the denoiser's activations are freed before the decode: the larger working set is the peak; the decode (and,
    # with an unloading pipeline, the text encoder's visit) shows as what it adds above the forward
    te_ws = (s.te_gib if te_on else 0.0) * GIB if unloads else 0.0
    vae_ws = vae + (s.vae_gib * GIB if unloads else 0.0)
    kind = "proxy" if a.proxy else "measured"
    parts.append(Part("activations", fwd / GIB, f"denoiser forward at {size} ({n:,.0f} tokens; {cfg_why}), "
                                                "measured no-grad peak", kind))
    parts.append(Part("VAE decode", max(0.0, vae_ws - fwd) / GIB,
                      f"decoder working set of one {size} preview{' (tiled)' if tiled else ''}"
                      + (" with the VAE moved back" if unloads else "") + ", beyond the denoiser's forward",
                      "measured"))
    if te_ws > max(fwd, vae_ws):
        parts.append(Part("text encoder visit", (te_ws - max(fwd, vae_ws)) / GIB,
                          "moved to the GPU to encode the prompts while the VAE is off", "exact"))
    ws = max(fwd, vae_ws, te_ws) / GIB
    parts.append(overhead(ws))
    return parts
