"""Disk the run writes (latent and text-embedding caches, checkpoints, samples) and the free space where it
writes."""

from __future__ import annotations

from typing import Any

from ._data import GIB
from ._sizes import Part

# Cached latent: fp16 (2 bytes) per element; a cached text embedding: 512 tokens x 4096 x 2 bytes (T5-XXL sized)
# plus pooled vectors -> ~4 MiB (assumption: the catalog has no text-encoder width).
LATENT_BYTES_PER_ELEMENT = 2.0
TEXT_EMBEDDING_BYTES = 4.0 * (1 << 20)
# A preview image (JPEG, ~1 Mpx) ~ 0.5 MiB; a preview video ~ 0.1 MiB per frame (h264 at the trainer's settings).
SAMPLE_IMAGE_BYTES = 0.5 * (1 << 20)
SAMPLE_VIDEO_BYTES_PER_FRAME = 0.1 * (1 << 20)


def disk_parts(x, trainable: float | None) -> list[Part]:
    f = x.f
    parts: list[Part] = []
    if f is not None and f.latent_ch and x.latents_to_disk:
        lf = 1 + (x.frames - 1) // max(1, f.tdown) if x.frames > 1 else 1
        lat = sum(f.latent_ch * (r / f.vae_down) ** 2 * lf for r in x.resolutions)
        parts.append(Part("latent cache", x.images * lat * LATENT_BYTES_PER_ELEMENT / GIB,
                          f"{x.images} images x {len(x.resolutions)} resolution(s), fp16 latents"))
    if x.cache_te:
        parts.append(Part("text-embedding cache", x.images * TEXT_EMBEDDING_BYTES / GIB,
                          f"{x.images} captions x ~4 MiB (T5-XXL-sized embedding, assumed)"))
    if trainable is not None:
        ckpt = trainable * x.save_bytes / GIB
        parts.append(Part("checkpoints", ckpt * (x.max_saves + 1), f"{x.max_saves} kept + the final save, "
                                                                  f"{ckpt * 1024:,.0f} MiB each"))
    if x.sampling:
        each = SAMPLE_VIDEO_BYTES_PER_FRAME * x.sample_frames if x.sample_frames > 1 else SAMPLE_IMAGE_BYTES
        parts.append(Part("samples", x.sample_events * x.prompts * each / GIB,
                          f"{x.sample_events} sampling rounds x {x.prompts} prompt(s)"))
    return parts


def free_gib(x, profile: Any) -> float | None:
    storage_for = getattr(profile, "storage_for", None)
    if storage_for is None or not getattr(profile, "storage", None):
        return None  # a profile without storage entries knows no free space (and path normalising is not free)
    info = (storage_for(x.training_folder) if x.training_folder else None) or storage_for(".")
    return getattr(info, "free_gib", None)
