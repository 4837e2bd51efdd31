"""Bytes of each resident thing (weights, text encoders, adapters) for one job, shared by the memory, sampling, time
and RAM models. GiB everywhere; parameter counts come from ``_arch.ArchFacts``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import _data as D
from ._data import GIB


@dataclass(frozen=True)
class Part:
    """One line of a breakdown: GiB, a one-line why, and how well it is known (exact / measured / proxy)."""

    name: str
    gib: float
    why: str
    kind: str = "exact"


class Sizes:
    """Derived sizes of one job on its arch (built once per prediction)."""

    def __init__(self, x) -> None:  # x: Inputs with x.f set and a known denoiser size
        f = x.f
        self.x, self.f = x, f
        self.quantize = x.quantize
        self.backend = D.backend(x.qtype) if x.quantize else None
        self.ara = x.quantize and "|" in x.qtype
        if self.backend is not None and not self.backend.known:
            x.notes.append(f"quantization type '{x.qtype}' not known: assumed 8-bit storage")
        # experts on the GPU: Wan 2.2 14B keeps one with low_vram (repo: wan22_14b_model.py l.133-137)
        self.experts_resident = 1 if (f.experts > 1 and x.low_vram) else f.experts
        self.den_resident_params = (f.expert_params or 0.0) * self.experts_resident
        self.den_bpp = self._den_bytes_per_param()
        self.den_gib = self.den_resident_params * self.den_bpp / GIB
        self.quant_params = self.den_resident_params * f.quant_share if self.quantize else 0.0
        te_backend = self._te_backend()
        tq = float(D.data()["text_encoder_quantized_fraction"]["value"])
        self.te_backend = te_backend
        self.te_bpp = (tq * te_backend.bytes_per_weight + (1 - tq) * 2.0) if te_backend else x.train_bytes
        self.te_gib = f.te_params * self.te_bpp / GIB
        self.te_bf16_gib = f.te_params * 2.0 / GIB
        self.te_max_bf16_gib = max((p for _, p in f.text_encoders), default=0.0) * 2.0 / GIB
        self.vae_gib = f.vae_params * 2.0 / GIB
        self.connector_gib = f.connector_bytes / GIB
        self.block_gib_bf16 = f.block_params * 2.0 / GIB
        self.largest_linear_params = f.block_params * D.const("memory", "largest_linear_share_of_block")
        self.lora_params, self.lora_why = self._trainable()

    # ---- denoiser ---------------------------------------------------------------------------------------------
    def _den_bytes_per_param(self) -> float:
        x, f = self.x, self.f
        if not self.quantize:
            return x.train_bytes
        share = f.quant_share
        return share * self.backend.bytes_per_weight + (1 - share) * 2.0

    def den_why(self) -> str:
        x, f = self.x, self.f
        n = self.den_resident_params / 1e9
        experts = (f" ({self.experts_resident} of {f.experts} experts on the GPU"
                   f"{': low_vram keeps only the active one' if self.experts_resident < f.experts else ''})"
                   if f.experts > 1 else "")
        if not self.quantize:
            return f"{n:.2f} B params at {'fp32' if x.train_bytes == 4 else 'bf16'}{experts}"
        b = self.backend
        ara = " on the linears the accuracy-recovery adapter covers" if self.ara else ""
        return (f"{n:.2f} B params, {b.qtype} ({b.backend}, {b.bytes_per_weight:.3f} B/weight{ara}; "
                f"{1 - f.quant_share:.1%} stays bf16){experts}")

    def ara_gib(self) -> float:
        if not self.ara:
            return 0.0
        rank = float(D.data()["ara"]["rank"])
        return rank * self.f.lora_per_rank * 2.0 / GIB

    # ---- text encoders ------------------------------------------------------------------------------------------
    def _te_backend(self):
        x, spec = self.x, self.x.spec
        if not x.quantize_te or not spec.te_quantization_supported:
            return None
        field = self.f.family.get("te_qtype", "qtype_te")
        # archs whose TE reads model.qtype get its base type: an ARA qtype quantizes the TE to plain uintN
        return D.backend(x.qtype if field == "qtype" else x.qtype_te)

    def te_why(self) -> str:
        f = self.f
        how = (f"{self.te_backend.qtype} via model.{self.f.family.get('te_qtype', 'qtype_te')}"
               if self.te_backend else "bf16" if self.x.train_bytes == 2 else "fp32")
        return f"{f.te_params / 1e9:.2f} B params, {how}"

    # ---- adapter ---------------------------------------------------------------------------------------------------
    def _trainable(self) -> tuple[float, str]:
        x, f = self.x, self.f
        if x.full:
            return f.den_params or 0.0, "every denoiser parameter (full fine-tune)"
        lora = f.lora_per_rank * x.rank
        why = f"rank {x.rank} x {f.lora_why}"
        if x.kind == "lokr":
            fac = x.lokr_factor if x.lokr_factor and x.lokr_factor > 0 else max(4.0, math.sqrt(f.hidden))
            if x.lokr_full_rank:
                return (f.den_params or 0.0) * f.quant_share / (fac * fac), \
                    f"LoKr full-rank factors: targeted weights / factor^2 (factor {fac:g})"
            return lora / fac, f"LoKr with decomposed factors: rank-{x.rank} LoRA size / factor {fac:g}"
        if x.conv and f.lora_conv_per_rank:
            lora += f.lora_conv_per_rank * x.conv
            why += f" + conv rank {x.conv}"
        if x.kind == "dora":
            lora *= 1.02
            why += " + DoRA magnitudes"
        return lora, why

    def adapter_parts(self, gradients: bool = True) -> list[Part]:
        x = self.x
        n = self.lora_params
        p_bytes = x.train_bytes if x.full else 4.0  # ai-toolkit: network.force_to(dtype=torch.float32)
        parts = [Part("trainable parameters", n * p_bytes / GIB,
                      f"{n / 1e6:,.1f} M params ({self.lora_why}), {'train dtype' if x.full else 'fp32'}")]
        if gradients:
            parts.append(Part("gradients", n * p_bytes / GIB, "one gradient per trainable parameter"))
        parts.append(Part("optimizer states", n * x.opt_bytes / GIB, f"{x.optimizer}: {x.opt_why}"))
        if x.ema:
            parts.append(Part("EMA", n * p_bytes / GIB, "a GPU copy of the trainable parameters "
                                                        "(repo: toolkit/ema.py)"))
        return parts

    # ---- layer offloading --------------------------------------------------------------------------------------
    def offload_ring_gib(self) -> float:
        """Dequantized weights in flight while layers stream in (two rings of PIPELINE_DEPTH)."""
        if self.x.offload_tr <= 0:
            return 0.0
        return D.const("memory", "offload_ring_linears") * self.largest_linear_params * 2.0 / GIB

    def pinned_factor(self) -> float:
        """Power-of-two rounding of pinned host blocks for this arch's layer shapes (1.0 = none)."""
        h = self.f.hidden
        b = self.backend.bytes_per_weight if self.backend else self.x.train_bytes
        shapes = (h * h, h * h, h * h, h * h, 4 * h * h, 4 * h * h)  # q, k, v, out, MLP up, MLP down
        raw = sum(s * b for s in shapes)
        rounded = sum(2.0 ** math.ceil(math.log2(max(s * b, 1.0))) for s in shapes)
        return rounded / raw if raw else float(D.const("ram", "pinned_pow2_factor_default"))
