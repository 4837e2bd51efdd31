"""Measure each arch's denoiser by running its real model code on fake tensors: sizes, LoRA, activations, FLOPs.

Writes ``src/nbwizard/engine/data/traces.json``, the measured half of the model catalog. Nothing here runs in CI
and nbwizard never imports it (nor torch): the JSON is committed data, checked by ``tests/test_traces.py``.

How a measurement is made
-------------------------
* **Sizes.** The denoiser class ai-toolkit trains (a diffusers class or ai-toolkit's own module under
  ``extensions_built_in/``) is built on the ``meta`` device with the release's config: exact parameter counts,
  per top-level child, in well under a second. LoRA is placed by ai-toolkit's own rule (``toolkit/lora_special.py``
  ``create_modules``: every ``Linear`` / 1x1 ``Conv2d`` inside the arch's ``target_lora_modules`` class, minus
  names containing ``ignore_if_contains``, and with ``transformer_only`` (the default) only inside the model's
  ``get_transformer_block_names()`` or the legacy block-name rules); a rank-r LoRA on a d_in x d_out linear has
  r * (d_in + d_out) parameters, on a k x k conv r * (d_in * k * k + d_out).
* **Activations and FLOPs.** The same class, cut to two blocks of each kind, is built under
  ``torch._subclasses.fake_tensor.FakeTensorMode`` (no memory, no weights) in bf16 with fp32 LoRA modules that
  compute what ai-toolkit's ``LoRAModule.forward`` computes (``toolkit/network_mixins.py``: the input cast to
  the LoRA dtype, ``lora_up(lora_down(x)) * scale * multiplier`` cast back and added). One training step runs:
  forward, MSE loss on ``pred.float()``, backward into the LoRA weights only, with and without gradient
  checkpointing switched on the way ai-toolkit switches it (``enable_gradient_checkpointing()`` else
  ``gradient_checkpointing = True``). A ``TorchDispatchMode`` records every storage an op creates and when it
  dies (the frozen parameters' and buffers' own storages are excluded, so a weight's ``aten.t`` view is not an
  allocation; LoRA gradients are dropped as they land, they are sized from the parameter count instead):
  ``saved`` is what is live when the loss is formed (saved for backward), ``peak`` the most live at any point of
  forward + backward. ``torch.utils.flop_counter``'s per-op formulas count forward and backward FLOPs. The step is
  repeated with one more block of each kind; the difference is one block's share, and the full depth is
  ``reduced + (full - reduced) * per_block`` (exact for stacks of identical blocks; checked against a full-depth
  trace, see ``--check-depth``).
  The cut keeps two blocks of each kind: with one, the peak can sit in a different phase of the step.
* **Attention as on the GPU.** On CUDA, SDPA runs the flash kernel (no mask) or the memory-efficient kernel
  (with a mask); both keep O(tokens) per head, never the tokens^2 matrix. CPU tensors would pick another kernel,
  so ``torch.nn.functional.scaled_dot_product_attention`` is routed to ``aten._scaled_dot_product_flash_attention``
  / ``aten._scaled_dot_product_efficient_attention`` (their meta kernels give the GPU's output and logsumexp
  shapes, the flop counter has their formulas).
* **Previews.** A no-grad forward with the LoRA active gives the inference transient peak.

The fit (what the runtime evaluates)
------------------------------------
Every quantity ``q`` (bytes or FLOPs) at ``n`` image tokens (latent patches, frames included, text excluded) and
batch ``b`` is stored as six numbers ``[s0, s1, s2, p0, p1, p2]``::

    q(n, b) = (s0 + s1*n + s2*n^2) + b * (p0 + p1*n + p2*n^2)

``s`` is what the batch shares (rotary tables, timestep vectors), ``p`` what each sample adds. The quadratic
terms hold attention (FLOPs) and anything that materialises a tokens x tokens tensor (bytes; ~0 with flash
attention). The text length is fixed per arch (``text_tokens``) and folded into the coefficients. UNets use the
same form with ``n`` = latent pixels (h/8 * w/8). Each fit is exact on three token counts and two batch sizes
and is checked on a fourth token count (``points`` keeps all of them, with the fit's error).

Run (one to five minutes of CPU per traced arch, about an hour for all on one core; ``--sizes-only`` takes
seconds; see tools/README.md)::

    python tools/trace_archs.py --aitk /path/to/ai-toolkit            # all archs -> traces.json
    python tools/trace_archs.py --aitk ... --only flux chroma          # a few, merged into the existing file
    python tools/trace_archs.py --aitk ... --check-depth flux          # full-depth trace vs the block sum

See tools/README.md for the environment (torch, diffusers, transformers versions).
"""

from __future__ import annotations

import argparse
import contextlib
import gc as _gc
import json
import os
import sys
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode, unset_fake_temporarily
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes
from torch.utils._pytree import tree_flatten, tree_map
from torch.utils.flop_counter import flop_registry

OUT = Path(__file__).resolve().parents[1] / "src" / "nbwizard" / "engine" / "data" / "traces.json"
HARNESS_OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "harness_traces.json"
GIB = 1024 ** 3

# ai-toolkit toolkit/lora_special.py LINEAR_MODULES / CONV_MODULES
LINEAR_MODULES = ("Linear", "LoRACompatibleLinear", "QLinear", "OstrisLinear")
CONV_MODULES = ("Conv2d", "LoRACompatibleConv", "QConv2d")


# ------------------------------------------------------------------------------------------------------------------
# Attention with the GPU kernels' memory semantics.
# ------------------------------------------------------------------------------------------------------------------
_ORIG_SDPA = F.scaled_dot_product_attention


def gpu_sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """SDPA as CUDA runs it: flash without a mask, memory-efficient with one (O(tokens) saved per head)."""
    squeeze = query.dim() == 3
    if squeeze:
        query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        if attn_mask is not None and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
    if key.shape[-3] != query.shape[-3]:  # grouped-query attention: the kernels see repeated heads
        rep = query.shape[-3] // key.shape[-3]
        key, value = key.repeat_interleave(rep, dim=-3), value.repeat_interleave(rep, dim=-3)
    b, h, nq, _ = query.shape
    nk = key.shape[-2]
    if attn_mask is None:
        out = torch.ops.aten._scaled_dot_product_flash_attention(query, key, value, dropout_p, is_causal, False,
                                                                 scale=scale)[0]
    else:
        if attn_mask.dtype == torch.bool:
            bias = torch.zeros(attn_mask.shape, dtype=query.dtype, device=query.device)
            bias = bias.masked_fill(~attn_mask, float("-inf"))
        else:
            bias = attn_mask.to(query.dtype)
        while bias.dim() < 4:
            bias = bias.unsqueeze(0)
        bias = bias.expand(b, h, nq, nk)
        need_lse = query.requires_grad or key.requires_grad or value.requires_grad
        out = torch.ops.aten._scaled_dot_product_efficient_attention(query, key, value, bias, need_lse, dropout_p,
                                                                     is_causal, scale=scale)[0]
    return out.squeeze(0) if squeeze else out


@contextlib.contextmanager
def routed_sdpa():
    """Send every ``scaled_dot_product_attention`` reference (module attribute or imported name) to ``gpu_sdpa``."""
    patched = [(F, "scaled_dot_product_attention")]
    for mod in list(sys.modules.values()):
        try:
            if mod is not None and mod is not F and getattr(mod, "scaled_dot_product_attention", None) is _ORIG_SDPA:
                patched.append((mod, "scaled_dot_product_attention"))
        except Exception:  # noqa: BLE001 - lazy modules may raise on getattr
            continue
    for mod, name in patched:
        setattr(mod, name, gpu_sdpa)
    try:
        yield
    finally:
        for mod, name in patched:
            setattr(mod, name, _ORIG_SDPA)


# ------------------------------------------------------------------------------------------------------------------
# Storage tracking.
# ------------------------------------------------------------------------------------------------------------------
class StorageTracker(TorchDispatchMode):
    """Bytes of live storages created by ops while active (storages known at the start are never counted), and
    FLOPs by ``torch.utils.flop_counter``'s per-op formulas.

    The FLOPs are counted here rather than under ``FlopCounterMode`` because its module tracker keeps activations
    alive through backward (measured: with it, checkpointing seemed to save nothing).
    """

    def __init__(self, exclude: set[int]):
        super().__init__()
        self.exclude = exclude
        self.live: dict[int, int] = {}
        self.current = 0
        self.peak = 0
        self.flops = 0

    def _release(self, key: int) -> None:
        self.current -= self.live.pop(key, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += formula(*args, **kwargs, out_val=out)
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                st = t.untyped_storage()
                key = st._cdata
                if key in self.exclude or key in self.live:
                    continue
                nbytes = st.nbytes()
                self.live[key] = nbytes
                self.current += nbytes
                if self.current > self.peak:
                    self.peak = self.current
                weakref.finalize(st, self._release, key)
        return out

    def reset_peak(self) -> None:
        self.peak = self.current


# ------------------------------------------------------------------------------------------------------------------
# Integer bookkeeping with its values (varlen packing: sequence lengths, cu_seqlens, token indices).
# ------------------------------------------------------------------------------------------------------------------
_INT_FACTORIES = {"arange", "zeros", "ones", "full", "empty", "scalar_tensor"}
_INT_DTYPES = {torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool}


def _known(t: Any) -> torch.Tensor | None:
    """The real value beside a fake tensor (``None`` when unknown); a real tensor is its own value."""
    if not isinstance(t, torch.Tensor):
        return None
    return getattr(t, "_known_value", None) if isinstance(t, FakeTensor) else t


class KnownInts(TorchDispatchMode):
    """Carries the real values of small integer tensors beside their fake ones, so model code that packs a batch
    into one variable-length sequence (per-sample lengths, ``cu_seqlens``, gather indices) and reads them back
    (``.item()``, ``.tolist()``, ``repeat_interleave`` by a tensor, ``torch.empty(total)``) runs as on the GPU.

    An op whose tensor inputs all have known values (or an integer factory such as ``arange``) is also run on
    those values, off the fake path, and the result is attached to its fake output; the fake op itself still runs
    below this mode, so the storage tracker sees every allocation. Ops on activations (unknown values) pass
    through untouched; an in-place op that writes unknown data into a known tensor forgets its value. Entered
    inside the storage tracker for the whole step (checkpointed blocks read the lengths again in backward).
    """

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat = tree_flatten((args, kwargs))[0]
        tensors = [a for a in flat if isinstance(a, torch.Tensor)]
        values = [_known(t) for t in tensors]
        known = all(v is not None for v in values)
        real = None
        if known and (tensors or self._int_factory(func, args, kwargs)):
            swap = {id(t): v for t, v in zip(tensors, values)}
            r_args, r_kwargs = tree_map(lambda x: swap.get(id(x), x), (args, kwargs))
            with _disable_current_modes(), unset_fake_temporarily():
                real = func(*r_args, **r_kwargs)
            if not isinstance(real, torch.Tensor) and not isinstance(real, (list, tuple)):
                return real  # a Python number read back (item, _local_scalar_dense)
        if real is not None and func is torch.ops.aten.repeat_interleave.Tensor:
            kwargs = {**kwargs, "output_size": int(real.numel())}
        out = func(*args, **kwargs)
        if real is not None:
            for o, r in zip(tree_flatten(out)[0], tree_flatten(real)[0]):
                if isinstance(o, torch.Tensor) and isinstance(r, torch.Tensor):
                    o._known_value = r
        elif func._schema.is_mutable and tensors and hasattr(tensors[0], "_known_value"):
            del tensors[0]._known_value  # unknown data written into a known tensor
        return out

    @staticmethod
    def _int_factory(func, args, kwargs) -> bool:
        if func._overloadpacket.__name__ not in _INT_FACTORIES:
            return False
        dtype = kwargs.get("dtype")
        if dtype is None:  # arange of Python ints is int64; the other factories default to a float dtype
            return func._overloadpacket.__name__ == "arange" and all(isinstance(a, int) for a in args)
        return dtype in _INT_DTYPES


def storage_keys(module: nn.Module) -> set[int]:
    return {t.untyped_storage()._cdata for t in [*module.parameters(), *module.buffers()]}


# ------------------------------------------------------------------------------------------------------------------
# LoRA the way ai-toolkit places and runs it.
# ------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoraRule:
    """ai-toolkit's LoRA placement for one arch (``toolkit/lora_special.py`` ``create_modules``)."""

    targets: tuple[str, ...]                 # the model class's ``target_lora_modules``
    ignore: tuple[str, ...] = ()             # ``network_kwargs.ignore_if_contains`` the UI sets for the arch
    block_names: tuple[str, ...] | None = None  # ``get_transformer_block_names()``; None = legacy rules
    legacy: str | None = None                # "flux", "lumina2", "v3": the legacy is_* branch
    transformer: bool = True                 # prefix "transformer" (peft format) vs "lora_unet"
    transformer_only: bool = True            # NetworkConfig default (toolkit/config_modules.py)
    source: str = ""


def lora_targets(root: nn.Module, rule: LoraRule, conv: bool = False) -> list[tuple[str, nn.Module]]:
    """The (name, module) pairs ai-toolkit wraps with a LoRA (3x3 convs only when ``conv``)."""
    prefix = "transformer" if rule.transformer else "lora_unet"
    found: dict[int, tuple[str, nn.Module]] = {}
    for name, module in root.named_modules():
        if module.__class__.__name__ not in rule.targets:
            continue
        for child_name, child in module.named_modules():
            cls = child.__class__.__name__
            is_linear, is_conv = cls in LINEAR_MODULES, cls in CONV_MODULES
            if not (is_linear or is_conv):
                continue
            clean = ".".join(x for x in (prefix, name, child_name) if x)
            lora_name = clean.replace(".", "$$") if rule.transformer else clean.replace(".", "_")
            if any(w in clean for w in rule.ignore):
                continue
            if rule.transformer_only and _outside_blocks(root, rule, clean, lora_name):
                continue
            if is_conv and child.kernel_size != (1, 1) and not conv:
                continue
            found.setdefault(id(child), (clean, child))
    return list(found.values())


def _outside_blocks(root: nn.Module, rule: LoraRule, clean: str, lora_name: str) -> bool:
    if rule.block_names is not None:
        return not any(b in clean for b in rule.block_names)
    skip = False
    if rule.legacy in ("flux", "v3") and "transformer_blocks" not in lora_name:
        skip = True
    if rule.legacy == "lumina2" and not any(k in lora_name for k in ("layers$$", "noise_refiner$$",
                                                                      "context_refiner$$")):
        skip = True
    if hasattr(root, "transformer_blocks") and "transformer_blocks" not in lora_name:
        skip = True
    if hasattr(root, "blocks") and "blocks" not in lora_name:
        skip = True
    if hasattr(root, "single_blocks") and "single_blocks" not in lora_name and "double_blocks" not in lora_name:
        skip = True
    return skip


def lora_params_per_rank(targets: list[tuple[str, nn.Module]]) -> tuple[int, int]:
    """(linear + 1x1 conv, k x k conv) LoRA parameters per unit rank."""
    lin = conv = 0
    for _, m in targets:
        if isinstance(m, nn.Linear):
            lin += m.in_features + m.out_features
        elif m.kernel_size == (1, 1):
            lin += m.in_channels + m.out_channels
        else:
            conv += m.in_channels * m.kernel_size[0] * m.kernel_size[1] + m.out_channels
    return lin, conv


class _Multiplier:
    tensor: torch.Tensor | None = None  # network.torch_multiplier: one value per sample


@dataclass(frozen=True)
class LoraStyle:
    """How a trainer's LoRA module computes: its weights' dtype, whether the input is cast to it (a copy kept for
    backward), dropout on the LoRA input (a copy and a mask kept), ai-toolkit's per-sample multiplier."""

    name: str
    dtype: torch.dtype
    cast_input: bool
    dropout: float
    multiplier: bool
    source: str


AITK_STYLE = LoraStyle(
    "ai-toolkit", torch.float32, True, 0.0, True,
    "repo: toolkit/network_mixins.py LoRAModule.forward (lora_input = x.to(lora_down.weight.dtype), "
    "lora_up(lora_down(x)) * scale * multiplier) with network.force_to(dtype=float32)")


@dataclass(frozen=True)
class Branch:
    """One LoRA (down, up) on a wrapped linear: ``d_out`` outputs added to the linear's outputs ``[lo, hi)``
    (``lo = hi = None``: all of them). A fused projection that another trainer's model runs as separate linears
    gets one branch per linear; a linear another trainer's model fuses with its siblings gets the fused output."""

    d_out: int
    lo: int | None = None
    hi: int | None = None


@dataclass(frozen=True)
class Harness:
    """Another trainer's LoRA on this arch, traced to compare its published measurements with the same physics.

    ``targets`` maps a module-name suffix of the traced class (peft's rule: the name equals it or ends with
    ``"." + suffix``) to its branches (None: one branch over the whole output); None as a whole means
    ai-toolkit's placement (``spec.lora``). ``inputs`` replaces the spec's inputs where the trainer feeds another
    text length (``text_tokens``)."""

    trainer: str
    style: LoraStyle
    targets: dict[str, Callable[[nn.Module], list[Branch]] | None] | None
    text_tokens: int | None = None
    inputs: Callable[[nn.Module, "Point"], dict[str, Any]] | None = None
    source: str = ""


# SimpleTuner (bghira/SimpleTuner at bc8e6ab, the commit of its SEGMENTED_CHECKPOINTING sweep): peft LoRA added by
# ``ModelFoundation.add_lora_adapter`` (simpletuner/helpers/models/common.py, ``self.model.add_adapter(LoraConfig(
# target_modules=get_lora_target_layers(), lora_dropout=config.lora_dropout))``). peft places the adapter on the
# base layer's device and dtype (bf16; SimpleTuner does not upcast trainable params), so the input is not copied
# by a cast; ``lora_dropout`` defaults to 0.1 (simpletuner_sdk/server/services/field_registry/sections/lora.py)
# and peft applies it to each wrapped linear's input (a bf16 copy and a mask kept for backward).
SIMPLETUNER_STYLE = LoraStyle(
    "simpletuner", torch.bfloat16, True, 0.1, False,
    "bghira/SimpleTuner bc8e6ab simpletuner/helpers/models/common.py add_lora_adapter (peft LoraConfig, "
    "lora_dropout default 0.1 from field_registry/sections/lora.py); peft LoraLayer: adapter in the base dtype, "
    "lora_B(lora_A(dropout(x))) * scaling")
# ``DEFAULT_LORA_TARGET`` per model family (simpletuner/helpers/models/<family>/model.py; ``lora_type: standard``):
# attention projections only; FLUX / Chroma / Lumina2 add the fused ``to_qkv``.
SIMPLETUNER_TARGETS = {
    "default": ("to_k", "to_q", "to_v", "to_out.0"),
    "flux": ("to_k", "to_q", "to_v", "to_out.0", "to_qkv"),
    "chroma": ("to_k", "to_q", "to_v", "to_out.0", "to_qkv"),
    "lumina2": ("to_k", "to_q", "to_v", "to_out.0", "to_qkv"),
}


# Krea 2: SimpleTuner runs its own transformer with fused QKV (``fuse_qkv_projections``, KREA2.md "Performance
# notes") and then targets ``FUSED_LORA_TARGET = ["to_qkv", "to_out.0"]`` (simpletuner/helpers/models/krea2/model.py);
# ai-toolkit's class keeps wq / wk / wv / wo separate, so the fused LoRA is one branch on ``wq`` whose up projection
# covers q + k + v (its q part is added to wq's output) and one on ``wo``. Captions are padded to max_length 512
# (simpletuner/helpers/models/krea2/pipeline.py encode_prompt: padding="max_length", max_sequence_length=512).
SIMPLETUNER_KREA2_TEXT = 512


def _krea2_fused_qkv(module: nn.Module) -> list[Branch]:
    cfg = sys.modules["trace_arch_specs"].KREA2_CFG
    kv = cfg["features"] // cfg["heads"] * cfg["kvheads"]
    return [Branch(module.out_features + 2 * kv, 0, module.out_features)]


def simpletuner_harness(spec_key: str) -> Harness:
    src = "bghira/SimpleTuner bc8e6ab simpletuner/helpers/models/{}/model.py {} {} (peft suffix match)"
    if spec_key == "krea2":
        specs_mod = sys.modules["trace_arch_specs"]
        return Harness("simpletuner", SIMPLETUNER_STYLE, {"wq": _krea2_fused_qkv, "wo": None},
                       text_tokens=SIMPLETUNER_KREA2_TEXT,
                       inputs=specs_mod.krea2_inputs_padded(SIMPLETUNER_KREA2_TEXT),
                       source=src.format("krea2", "FUSED_LORA_TARGET", ["to_qkv", "to_out.0"])
                       + " on ai-toolkit's wq (fused q+k+v up projection) and wo; captions padded to 512 tokens "
                         "(krea2/pipeline.py encode_prompt)")
    targets = SIMPLETUNER_TARGETS.get(spec_key, SIMPLETUNER_TARGETS["default"])
    return Harness("simpletuner", SIMPLETUNER_STYLE, {t: None for t in targets},
                   source=src.format("*", "DEFAULT_LORA_TARGET", list(targets)))


HARNESSES: dict[str, Callable[[str], Harness]] = {"simpletuner": simpletuner_harness}


def _peft_match(name: str, suffixes) -> str | None:
    return next((s for s in suffixes if name == s or name.endswith("." + s)), None)


def harness_targets(root: nn.Module, spec: "Spec", harness: Harness | None
                    ) -> list[tuple[str, nn.Module, list[Branch]]]:
    """(name, module, branches) each LoRA of ``harness`` (ai-toolkit's when None) wraps in ``root``."""
    if harness is None or harness.targets is None:
        return [(n, m, [Branch(_out_features(m))]) for n, m in lora_targets(root, spec.lora)]
    out = []
    for name, module in root.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        hit = _peft_match(name, harness.targets)
        if hit is None:
            continue
        rule = harness.targets[hit]
        out.append((name, module, rule(module) if rule else [Branch(module.out_features)]))
    return out


def _out_features(m: nn.Module) -> int:
    return m.out_features if isinstance(m, nn.Linear) else m.out_channels


def _in_features(m: nn.Module) -> int:
    return m.in_features if isinstance(m, nn.Linear) else m.in_channels


def branch_params_per_rank(targets: list[tuple[str, nn.Module, list[Branch]]]) -> int:
    """LoRA parameters per unit rank of (linear) targets with their branches: r * (d_in + d_out) each."""
    return sum(_in_features(m) + b.d_out for _, m, branches in targets for b in branches
               if isinstance(m, nn.Linear) or m.kernel_size == (1, 1))


def inject_lora(targets: list[tuple[str, nn.Module, list[Branch]]], rank: int, mult: _Multiplier,
                style: LoraStyle = AITK_STYLE) -> list[nn.Parameter]:
    """Wrap each target with the style's LoRA computation (ai-toolkit: fp32 weights, ``network.force_to(dtype=
    float32)``, the input cast to fp32; peft: weights in the base dtype, ``lora_B(lora_A(dropout(x))) * scaling``)."""
    params: list[nn.Parameter] = []
    for _, org, branches in targets:
        mods = []
        for br in branches:
            if isinstance(org, nn.Linear):
                down = nn.Linear(org.in_features, rank, bias=False, dtype=style.dtype)
                up = nn.Linear(rank, br.d_out, bias=False, dtype=style.dtype)
            else:
                down = nn.Conv2d(org.in_channels, rank, org.kernel_size, org.stride, org.padding, bias=False,
                                 dtype=style.dtype)
                up = nn.Conv2d(rank, br.d_out, 1, bias=False, dtype=style.dtype)
            mods.append((down, up, br))
        scale = torch.tensor(1.0, dtype=style.dtype)  # alpha / rank; its value does not change memory
        org_forward = org.forward

        def forward(x, *args, _org=org_forward, _mods=tuple(mods), _scale=scale, **kwargs):
            org_out = _org(x, *args, **kwargs)
            total = org_out.shape[-1] if isinstance(org, nn.Linear) else org_out.shape[1]
            out = org_out
            for down, up, br in _mods:
                inp = x.to(style.dtype) if style.cast_input else x
                if style.dropout:
                    inp = F.dropout(inp, style.dropout, training=True)
                lx = up(down(inp)) * _scale
                if style.multiplier:
                    m = mult.tensor
                    while m.dim() < lx.dim():
                        m = m.unsqueeze(-1)
                    if lx.shape[0] != m.shape[0]:
                        m = m.repeat_interleave(lx.shape[0] // m.shape[0], dim=0)
                    lx = lx * m
                if br.lo is not None:
                    lx = F.pad(lx[..., :br.hi - br.lo], (br.lo, total - br.hi))
                out = out + lx.to(org_out.dtype)
            return out

        org.forward = forward
        org._lora = nn.ModuleList([m for d, u, _ in mods for m in (d, u)])  # alive, visible to .parameters()
        params += [p for d, u, _ in mods for p in (d.weight, u.weight)]
    return params


# ------------------------------------------------------------------------------------------------------------------
# One traced step.
# ------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    """One grid point: batch and the sample's size in pixels (frames 1 for an image)."""

    batch: int
    frames: int
    height: int
    width: int


@dataclass
class Measured:
    saved: int = 0
    peak: int = 0
    fwd_flops: int = 0
    bwd_flops: int = 0


def set_gc(model: nn.Module, on: bool) -> None:
    """ai-toolkit jobs/process/BaseSDTrainProcess.py: ``enable_gradient_checkpointing()`` else the flag."""
    if on and hasattr(model, "enable_gradient_checkpointing"):
        model.enable_gradient_checkpointing()
    elif not on and hasattr(model, "disable_gradient_checkpointing"):
        model.disable_gradient_checkpointing()
    elif hasattr(model, "gradient_checkpointing"):
        model.gradient_checkpointing = on
    else:
        raise RuntimeError(f"{type(model).__name__} has no gradient-checkpointing switch")


Job = tuple[Point, bool, bool]  # point, gradient checkpointing, training (False: a no-grad preview forward)


def run_steps(spec: "Spec", depth: dict[str, int], jobs: list[Job], rank: int = 32,
              harness: Harness | None = None) -> list[Measured]:
    """Build the cut model once under fake tensors, then measure each job: a training step or a preview forward
    (with ai-toolkit's LoRA, or another trainer's when ``harness`` is given)."""
    results: list[Measured] = []
    with FakeTensorMode(), routed_sdpa():
        torch.manual_seed(0)
        prev = torch.get_default_dtype()
        torch.set_default_dtype(torch.bfloat16)
        try:
            model = spec.build(depth)
        finally:
            torch.set_default_dtype(prev)
        model.requires_grad_(False)
        mult = _Multiplier()
        lora = inject_lora(harness_targets(model, spec, harness), rank, mult,
                           harness.style if harness else AITK_STYLE)
        for p in lora:
            p.requires_grad_(True)
            p.register_post_accumulate_grad_hook(lambda p: setattr(p, "grad", None))
        exclude = storage_keys(model)
        for point, gc, train in jobs:
            model.train(train)
            set_gc(model, gc and train)
            results.append(_one_step(spec, model, mult, exclude, point, train, harness))
            _gc.collect()
        del model, lora
    _gc.collect()
    return results


def _one_step(spec: "Spec", model: nn.Module, mult: _Multiplier, exclude: set[int], point: Point,
              train: bool, harness: Harness | None = None) -> Measured:
    tracker = StorageTracker(exclude)
    res = Measured()
    with tracker, (spec.step_context() if spec.step_context else contextlib.nullcontext()):
        mult.tensor = torch.ones(1 if spec.packed_batch else point.batch * spec.cond_batch, dtype=torch.float32)
        inputs = (harness.inputs if harness and harness.inputs else spec.inputs)(model, point)
        if train:
            pred = spec.forward(model, inputs)
            target = torch.randn(pred.shape, dtype=torch.float32)
            loss = F.mse_loss(pred.float(), target, reduction="none").mean()
            res.saved = tracker.current
            res.fwd_flops = tracker.flops
            loss.backward()
            res.bwd_flops = tracker.flops - res.fwd_flops
            del loss, pred, target
        else:
            with torch.no_grad():
                pred = spec.forward(model, inputs)
            res.fwd_flops = tracker.flops
            del pred
        del inputs
        mult.tensor = None
        res.peak = tracker.peak
    return res


# ------------------------------------------------------------------------------------------------------------------
# Arch description (filled in by tools/trace_arch_specs.py).
# ------------------------------------------------------------------------------------------------------------------
@dataclass
class Spec:
    key: str                                   # trace id
    archs: tuple[str, ...]                     # catalog archs this trace serves
    model_class: str                           # class traced, dotted
    code: str                                  # where the class comes from (library + version / ai-toolkit path)
    config_source: str                         # the config used and where it comes from
    build: Callable[[dict[str, int]], nn.Module]
    depth: dict[str, int]                      # constructor knob -> full block count
    inputs: Callable[[nn.Module, Point], dict[str, Any]] | None  # None: sizes only (see ``not_traced``)
    forward: Callable[[nn.Module, dict[str, Any]], torch.Tensor] | None
    lora: LoraRule
    facts: dict[str, Any]                      # shape facts with sources
    text_tokens: int
    text_note: str
    px: int                                    # pixels per token side: VAE downsample x patch (8 for a UNet)
    grid: tuple[tuple[int, int, int], ...]     # (frames, height, width) in pixels: 3 fit points + 1 check
    cfg_doubles: bool = False                  # previews run cond + uncond in one batch
    cond_batch: int = 1                        # batch multiplier inside the model (e.g. 1)
    public: tuple[float, str] | None = None    # public parameter figure (billions) and its citation
    experts: int = 1                           # MoE of identical experts (Wan 2.2 A14B): the trace is one expert
    components: list[dict[str, Any]] = field(default_factory=list)  # text encoders / VAE counted from code
    unet: bool = False                         # tokens are latent pixels (no patchify)
    notes: list[str] = field(default_factory=list)
    min_depth: dict[str, int] | None = None    # reduced depth (default 1 of each)
    not_traced: str = ""                       # why only the sizes are measured
    config_verified: bool = True               # False: a class default the release may not match

    tdown: int = 1                             # VAE temporal downsample (video): latent frames = 1 + (f - 1) / tdown
    harness: dict[str, "Harness"] = field(default_factory=dict)  # other trainers' LoRA on this arch, by trainer
    # entered around each step inside the storage tracker (e.g. ``KnownInts`` for varlen-packed models)
    step_context: Callable[[], Any] | None = None
    # the model packs the batch into one sequence (batch dim 1): ai-toolkit's per-sample LoRA multiplier cannot
    # follow it, so the step is traced with one multiplier for the whole pack (see the arch's notes)
    packed_batch: bool = False

    def latent_frames(self, frames: int) -> int:
        return 1 + (frames - 1) // self.tdown if self.tdown > 1 else frames

    def tokens(self, frames: int, h: int, w: int) -> int:
        return self.latent_frames(frames) * (h // self.px) * (w // self.px)


# ------------------------------------------------------------------------------------------------------------------
# Sizes on the meta device.
# ------------------------------------------------------------------------------------------------------------------
def meta_build(spec: Spec, depth: dict[str, int] | None = None) -> nn.Module:
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("meta"):
            return spec.build(depth or spec.depth)
    finally:
        torch.set_default_dtype(prev)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def sizes(spec: Spec) -> dict[str, Any]:
    model = meta_build(spec)
    total = count(model)
    children = {name: count(child) for name, child in model.named_children() if count(child)}
    own = total - sum(children.values())
    if own:
        children["(own parameters)"] = own
    targets = lora_targets(model, spec.lora)
    lin, _ = lora_params_per_rank(targets)
    conv_targets = lora_targets(model, spec.lora, conv=True)
    _, conv = lora_params_per_rank(conv_targets)
    return {"params": total, "children": children, "lora_modules": len(targets),
            "lora_params_per_rank": lin, "lora_conv_params_per_rank": conv,
            "lora_conv_modules": len(conv_targets) - len(targets)}


# ------------------------------------------------------------------------------------------------------------------
# Fitting.
# ------------------------------------------------------------------------------------------------------------------
def _quad(ns: list[int], qs: list[float]) -> list[float]:
    """Exact quadratic through three points (c0, c1, c2)."""
    (x0, x1, x2), (y0, y1, y2) = ns, qs
    d01, d12 = (y1 - y0) / (x1 - x0), (y2 - y1) / (x2 - x1)
    c2 = (d12 - d01) / (x2 - x0)
    c1 = d01 - c2 * (x0 + x1)
    c0 = y0 - c1 * x0 - c2 * x0 * x0
    return [c0, c1, c2]


def fit6(ns: list[int], q1: list[float], q2: list[float]) -> list[float]:
    """[s0, s1, s2, p0, p1, p2] from the values at batch 1 (q1) and batch 2 (q2) over three token counts."""
    per = [b - a for a, b in zip(q1, q2)]
    shared = [a - p for a, p in zip(q1, per)]
    return _quad(ns, shared) + _quad(ns, per)


def evaluate(c: list[float], n: float, b: float) -> float:
    return c[0] + c[1] * n + c[2] * n * n + b * (c[3] + c[4] * n + c[5] * n * n)


# ------------------------------------------------------------------------------------------------------------------
# Driver.
# ------------------------------------------------------------------------------------------------------------------
QUANTITIES = ("saved", "peak", "fwd_flops", "bwd_flops")


def _depth_runs(spec: Spec) -> list[tuple[str | None, dict[str, int]]]:
    # Two blocks of each kind, not one: with one block the peak can sit in another phase of the step (measured on
    # Wan 2.1 1.3B with checkpointing: the first extra block adds 69 MiB to the peak, every later one 23 MiB, its
    # checkpointed input); from two on every quantity grows by the same amount per block.
    base = dict(spec.min_depth or {k: min(2, n) for k, n in spec.depth.items()})
    runs: list[tuple[str | None, dict[str, int]]] = [(None, base)]
    for k in spec.depth:
        if spec.depth[k] != base[k]:
            runs.append((k, {**base, k: base[k] + 1}))
    return runs


def measure(spec: Spec, jobs: list[Job], harness: Harness | None = None) -> list[dict[str, float]]:
    """Each job at the cut depth, extrapolated to the full depth by one block more per kind.

    A block's share is measured at batch 1 only and scaled by the batch: everything a block adds is per sample
    (the shared tensors, rotary tables and the like, are made once outside the blocks). Checked on FLUX.1: the
    scaled share equals the one traced at batch 2 to the byte.
    """
    runs = _depth_runs(spec)
    base_depth = runs[0][1]
    base = run_steps(spec, base_depth, jobs, harness=harness)
    out = [{q: float(getattr(m, q)) for q in QUANTITIES} for m in base]
    unit = sorted({(p.frames, p.height, p.width, gc, train) for p, gc, train in jobs})
    unit_jobs = [(Point(1, f, h, w), gc, train) for f, h, w, gc, train in unit]
    for knob, depth in runs[1:]:
        more = dict(zip(unit, run_steps(spec, depth, unit_jobs, harness=harness)))
        base_one = {k: b for k, b in zip(unit, [base[jobs.index(j)] if j in jobs else None for j in unit_jobs])}
        missing = [k for k, v in base_one.items() if v is None]
        if missing:
            extra_base = run_steps(spec, base_depth, [(Point(1, *k[:3]), k[3], k[4]) for k in missing],
                                   harness=harness)
            base_one.update(zip(missing, extra_base))
        extra = spec.depth[knob] - base_depth[knob]
        for o, (p, gc, train) in zip(out, jobs):
            k = (p.frames, p.height, p.width, gc, train)
            for q in QUANTITIES:
                o[q] += extra * p.batch * (getattr(more[k], q) - getattr(base_one[k], q))
    return out


MODES = {"train_gc": (True, True), "train_no_gc": (False, True), "preview": (False, False)}


def trace(spec: Spec, log=print, harness: Harness | None = None) -> dict[str, Any]:
    """All grid points for one arch, fitted (with another trainer's LoRA: the training modes only)."""
    t0 = time.time()
    fit_pts, check_pt = spec.grid[:3], spec.grid[3]
    ns = [spec.tokens(*g) for g in fit_pts]
    n_check = spec.tokens(*check_pt)
    fits: dict[str, dict[str, list[float]]] = {}
    points: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for mode, (gc, train) in MODES.items():
        if harness is not None and not train:
            continue
        jobs = [(Point(b, *g), gc, train) for b in (1, 2) for g in fit_pts] + [(Point(1, *check_pt), gc, train)]
        try:
            values = iter(measure(spec, jobs, harness))
        except RuntimeError as exc:  # the model code itself fails in this mode (stated, not hidden)
            errors[mode] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            log(f"  {spec.key} {mode}: FAILS in the model code: {errors[mode]}")
            continue
        vals = {b: [next(values) for _ in fit_pts] for b in (1, 2)}
        check = next(values)
        quantities = QUANTITIES if train else ("peak", "fwd_flops")
        fits[mode] = {q: fit6(ns, [v[q] for v in vals[1]], [v[q] for v in vals[2]]) for q in quantities}
        for b in (1, 2):
            for n, v in zip(ns, vals[b]):
                points.append({"mode": mode, "tokens": n, "batch": b, **{q: v[q] for q in quantities}})
        points.append({"mode": mode, "tokens": n_check, "batch": 1, "check": True,
                       **{q: check[q] for q in quantities}})
        errs = {q: evaluate(fits[mode][q], n_check, 1) / check[q] - 1 if check[q] else 0.0 for q in quantities}
        log(f"  {spec.key}{' / ' + harness.trainer if harness else ''} {mode}: check at {n_check} tokens, fit error "
            + ", ".join(f"{q} {e:+.2%}" for q, e in errs.items()))
    log(f"  {spec.key}{' / ' + harness.trainer if harness else ''}: traced in {time.time() - t0:.0f} s")
    out: dict[str, Any] = {"fits": fits, "points": points}
    if errors:
        out["mode_errors"] = errors
    return out


def versions() -> dict[str, str]:
    import importlib.metadata as md
    out = {"torch": torch.__version__}
    for pkg in ("diffusers", "transformers"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def record(spec: Spec, aitk_commit: str, with_trace: bool, log=print) -> dict[str, Any]:
    size = sizes(spec)
    rec: dict[str, Any] = {
        "archs": list(spec.archs),
        "model_class": spec.model_class,
        "code": spec.code.replace("{aitk}", aitk_commit),
        "config_source": spec.config_source,
        "config_verified": spec.config_verified,
        "denoiser_params": size["params"] * spec.experts,
        "expert_params": size["params"] if spec.experts > 1 else None,
        "experts": spec.experts,
        "children_params": size["children"],
        "lora": {"modules": size["lora_modules"] * spec.experts,
                 "params_per_rank": size["lora_params_per_rank"] * spec.experts,
                 "conv_modules": size["lora_conv_modules"] * spec.experts,
                 "conv_params_per_rank": size["lora_conv_params_per_rank"] * spec.experts,
                 "targets": list(spec.lora.targets), "ignore_if_contains": list(spec.lora.ignore),
                 "block_names": list(spec.lora.block_names) if spec.lora.block_names is not None else None,
                 "source": spec.lora.source.replace("{aitk}", aitk_commit)},
        "public": {"params_b": spec.public[0], "source": spec.public[1]} if spec.public else None,
        "facts": spec.facts,
        "text_tokens": spec.text_tokens,
        "text_note": spec.text_note,
        "tokens_are": "latent pixels: (height/8) x (width/8), no patchify" if spec.unet else
        f"latent patches: latent frames x (height/{spec.px}) x (width/{spec.px}) in pixels; text tokens excluded",
        "px": spec.px,
        "tdown": spec.tdown,
        "cfg_doubles": spec.cfg_doubles,
        "depth": spec.depth,
        "components": spec.components,
        "notes": spec.notes,
    }
    if spec.public:
        err = rec["denoiser_params"] / (spec.public[0] * 1e9) - 1
        log(f"  {spec.key}: {rec['denoiser_params'] / 1e9:.3f} B params (public {spec.public[0]} B, {err:+.1%}), "
            f"LoRA {rec['lora']['params_per_rank']:,}/rank over {rec['lora']['modules']} modules")
    if spec.inputs is None:
        rec["not_traced"] = spec.not_traced or "forward inputs not described"
    elif with_trace:
        rec.update(trace(spec, log))
    return rec


def record_harness(spec: Spec, harness: Harness, log=print) -> dict[str, Any]:
    """Another trainer's LoRA on this arch: its parameters per rank (full depth, on ``meta``) and the training-step
    fits with its LoRA computation, to compare that trainer's published measurements with the same physics."""
    targets = harness_targets(meta_build(spec), spec, harness)
    if not targets:  # the trainer's module names are not this class's (e.g. diffusers' Chroma vs ai-toolkit's)
        raise ValueError(f"{spec.key}: no module of {spec.model_class} matches {harness.trainer}'s targets "
                         f"{sorted(harness.targets or [])}")
    rec: dict[str, Any] = {
        "trainer": harness.trainer, "archs": list(spec.archs), "model_class": spec.model_class,
        "lora": {"modules": len(targets) * spec.experts,
                 "params_per_rank": branch_params_per_rank(targets) * spec.experts,
                 "dtype": str(harness.style.dtype).replace("torch.", ""), "dropout": harness.style.dropout,
                 "text_tokens": harness.text_tokens or spec.text_tokens,
                 "targets": sorted(harness.targets or []), "source": harness.source,
                 "style_source": harness.style.source},
    }
    log(f"  {spec.key} / {harness.trainer}: LoRA {rec['lora']['params_per_rank']:,}/rank over "
        f"{rec['lora']['modules']} modules")
    rec.update(trace(spec, log, harness=harness))
    return rec


def harness_main(args: argparse.Namespace, all_specs: dict[str, Spec], commit: str) -> None:
    """``--harness TRAINER``: trace the named archs with that trainer's LoRA into ``--out`` (merged by key)."""
    old = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    recs = dict(old.get("harness", {}))
    for key in args.only or []:
        rec = record_harness(all_specs[key], HARNESSES[args.harness](key), log=lambda s: print(s, flush=True))
        recs[f"{key}/{args.harness}"] = rec
        doc = {"$source": "tools/trace_archs.py --harness: the traced denoisers with another trainer's LoRA "
                          "(placement, dtype, dropout), training modes only",
               "versions": {**versions(), "ai-toolkit": commit}, "fit_form": "as traces.json", "lora_rank_traced": 32,
               "harness": dict(sorted(recs.items()))}
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, args.out)


def check_depth(spec: Spec, log=print) -> None:
    """Compare the block-sum extrapolation with a full-depth trace at the first grid point."""
    g = spec.grid[0]
    for gc in (True, False):
        point = Point(1, *g)
        (est,) = measure(spec, [(point, gc, True)])
        t0 = time.time()
        (full,) = run_steps(spec, spec.depth, [(point, gc, True)])
        log(f"{spec.key} gc={gc} full depth ({time.time() - t0:.0f} s): "
            + ", ".join(f"{q} {getattr(full, q):.4g} vs block sum {est[q]:.4g} ({est[q] / getattr(full, q) - 1:+.3%})"
                        for q in QUANTITIES if getattr(full, q)))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--aitk", required=True, type=Path, help="an ai-toolkit checkout (its root folder)")
    ap.add_argument("--only", nargs="*", help="trace ids to (re)measure; the others are kept from the file")
    ap.add_argument("--sizes-only", action="store_true", help="parameter counts and LoRA only, no trace")
    ap.add_argument("--refresh", action="store_true",
                    help="recount sizes and rewrite sources/notes, keeping the traced fits and points in the file")
    ap.add_argument("--check-depth", nargs="*", help="trace ids: full-depth trace vs the block-sum extrapolation")
    ap.add_argument("--out", type=Path, default=None, help="traces.json, or harness_traces.json with --harness")
    ap.add_argument("--harness", choices=sorted(HARNESSES),
                    help="trace --only archs with this trainer's LoRA (benchmarks/data/harness_traces.json)")
    ap.add_argument("--merge", nargs="*", type=Path, default=[],
                    help="other traces files (from parallel runs) whose traced records join the output first")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.modules.setdefault("trace_archs", sys.modules[__name__])  # the specs module imports this one by name
    import trace_arch_specs as specs_mod

    commit = specs_mod.setup_aitk(args.aitk)
    all_specs = specs_mod.specs()
    if args.harness:
        args.out = args.out or HARNESS_OUT
        harness_main(args, all_specs, commit)
        return
    args.out = args.out or OUT
    if args.check_depth:
        for key in args.check_depth:
            check_depth(all_specs[key])
        return
    keys = args.only or list(all_specs)
    old = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    traces = dict(old.get("traces", {}))
    for other in args.merge:
        for key, rec in json.loads(other.read_text(encoding="utf-8"))["traces"].items():
            if "fits" in rec or "fits" not in traces.get(key, {}):
                traces[key] = rec

    def write() -> dict[str, Any]:
        doc = {
            "$source": "tools/trace_archs.py: fake-tensor traces of the denoiser classes ai-toolkit trains",
            "versions": {**versions(), "ai-toolkit": commit},
            "fit_form": "q(n, b) = (s0 + s1*n + s2*n^2) + b*(p0 + p1*n + p2*n^2); coefficients [s0, s1, s2, p0, p1, "
                        "p2]; n = image tokens (see tokens_are), b = batch; bytes or FLOPs",
            "lora_rank_traced": 32,
            "assumptions": assumptions,
            "components": components,
            "traces": {k: traces[k] for k in sorted(traces, key=lambda k: list(all_specs).index(k)
                                                      if k in all_specs else len(all_specs))},
        }
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, args.out)  # after every arch: a long run keeps what it measured
        return doc

    assumptions, components = specs_mod.assumptions(commit), specs_mod.component_sizes()
    failed = []
    for key in keys:
        print(f"{key}:", flush=True)
        try:
            rec = record(all_specs[key], commit, not (args.sizes_only or args.refresh),
                         log=lambda s: print(s, flush=True))
            if args.refresh and "fits" in traces.get(key, {}):
                rec.update({k: traces[key][k] for k in ("fits", "points", "mode_errors") if k in traces[key]})
            traces[key] = rec
        except Exception as exc:  # noqa: BLE001 - one arch's failure must not lose the others' measurements
            import traceback
            traceback.print_exc()
            failed.append(f"{key}: {type(exc).__name__}: {exc}")
        write()
    doc = write()
    print(f"wrote {len(doc['traces'])} traces to {args.out}")
    if failed:
        print("FAILED:\n  " + "\n  ".join(failed))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
