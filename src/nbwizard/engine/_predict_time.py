"""Step time, total time and disk physics for :mod:`nbwizard.engine.predict` (private).

Fitted constants were chosen by ``benchmarks/bench_predict.py --fit`` on the s/it column of
``reference/vram-calibration.csv``; the rows are named next to each.
"""

from __future__ import annotations

GIB = float(1 << 30)

# Share of the card's dense bf16 peak that a training step achieves. Fitted with --fit (grid 0.2-0.8) on the 20
# s/it rows that map to a job (mostly SimpleTuner on H100 80GB, rows 3-39; unsloth on B200, 148-153; diffusers on
# a 4090, 88). 0.6 gives a slightly lower median error (39.7 % vs 44.8 %) but 0.5 puts more rows within ±20 %
# and is the more plausible sustained figure; the Wan 14B row 39 alone would need ~0.77.
MFU = 0.50
# Weight-only quantized matmuls dequantize every weight on every pass. Fitted (x2.0, grid 1.0-3.0) on the quantized
# s/it rows 3, 4, 8, 16, 19, 24, 25, 32, 33, 36 against their bf16 twins (z-image GC 0.479 s -> 1.046 int8 /
# 2.319 fp8-torchao; chroma 1.276 -> 1.821).
QUANT_SLOWDOWN = 2.0
# Fixed cost per optimizer step (optimizer update, data loading, Python): SD 1.5 at 512² (row 3) floors at 0.7 s
# on an H100 with a few TFLOP of work; most of it is per-step overhead. Fitted 0.2 s (grid 0.05-0.4).
STEP_OVERHEAD_S = 0.2
# Host-to-device bandwidth for layer offloading (PCIe 4.0 x16 effective, pinned memory).
PCIE_GBS = 20.0
# Caching cost per image: VAE encode (~4 forward passes of a 84 M conv net at 1 Mpx) and one text-encoder pass.
LATENT_CACHE_S_PER_MPX_AT_100TF = 0.15
TEXT_CACHE_S_PER_CAPTION = 0.05
# Cached latent: fp16 (2 bytes) per element; a cached text embedding: 512 tokens x 4096 x 2 bytes (T5-XXL sized)
# plus pooled vectors -> ~4 MiB (assumption: the catalog has no text-encoder width).
LATENT_BYTES_PER_ELEMENT = 2.0
TEXT_EMBEDDING_BYTES = 4.0 * (1 << 20)
# A preview image (JPEG, ~1 Mpx) ~ 0.5 MiB; a preview video ~ 0.1 MiB per frame (h264 at the trainer's settings).
SAMPLE_IMAGE_BYTES = 0.5 * (1 << 20)
SAMPLE_VIDEO_BYTES_PER_FRAME = 0.1 * (1 << 20)


def forward_flops(params_b: float, tokens: float, hidden: float, blocks: float) -> float:
    """FLOPs of one forward pass over ``tokens`` (linear layers 2·P·s, attention 4·s²·h per block)."""
    return 2.0 * params_b * 1e9 * tokens + 4.0 * tokens * tokens * hidden * blocks


def train_pass_multiplier(full: bool, gc: bool, extra_forwards: int) -> float:
    """Forward-pass equivalents per micro-step.

    Forward 1 + backward of the activations' gradients 1 (needed even through frozen weights) + the weight
    gradients 1 only when the base is trained; gradient checkpointing recomputes one forward; DOP / BPP run
    extra no-grad forwards.
    """
    return 1.0 + 1.0 + (1.0 if full else 0.0) + (1.0 if gc else 0.0) + extra_forwards
