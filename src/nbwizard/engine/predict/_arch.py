"""Per-arch facts the predictor needs, computed once per arch: sizes, LoRA size, layout, and the activation / FLOP
model (the arch's own fake-tensor trace, or a traced model of the same layout scaled to it, see ``proxies`` in
predict.json).

A trace fit gives bytes or FLOPs at ``n`` image tokens and batch ``b`` (``_traces.Fit``). A borrowed fit is
scaled term by term: the token-linear FLOP terms by the parameter ratio (every weight costs 2 FLOPs per token it
sees), the attention terms and all activation bytes by blocks x hidden (what one token carries through the stack).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from .._traces import Fit, Trace, traces_by_arch
from . import _data as D

# When the catalog has no hidden size / block count: a transformer whose blocks hold ~20 h^2 parameters and ~60
# blocks (FLUX.1: 22 h^2 over 57 blocks), so h ~ sqrt(P / 1200). Used only for archs without a trace.
FALLBACK_H_PARAMS_DIVISOR = 1200.0
FALLBACK_BLOCK_PARAMS_PER_H2 = 20.0
# LoRA parameters per denoiser parameter, per unit rank / hidden size, for archs without a trace (FLUX.1 layout:
# 1748 h r LoRA params over 1254 h^2 weights; traces.json has the exact count for every traced arch).
LORA_PER_PARAM_RANK_OVER_H = 1.4


@dataclass(frozen=True)
class Activity:
    """Activation bytes and FLOPs of one LoRA step / preview forward, as functions of tokens and batch.

    A borrowed fit scales each quantity by what it follows physically: FLOPs of the token-linear terms by the
    parameters a token passes through (``lin``), attention terms by blocks x hidden (``bh``); bytes saved across
    blocks with checkpointing (each block's input) by blocks x hidden (``bh``), one block's working set by its width
    per token (``width``: parameters a token meets in a block / hidden), everything kept without checkpointing by
    the whole stack's width (``stack``).
    """

    fits: Mapping[str, Mapping[str, Fit]]
    px: int
    tdown: int
    lin: float
    bh: float
    width: float
    stack: float
    control: str | None  # "target": the control image adds as many tokens as the target
    control_per: int  # tokens per control image (fixed size)
    extra_text: int  # tokens the sequence has beyond the reference's (longer text, a VLM's control tokens)
    extra_text_per: int  # ... per control image
    fixed_tokens: int | None  # archs whose token count does not follow the image size
    proxy: bool
    source: str

    def tokens(self, height: int, width: int, frames: int = 1) -> int:
        """Image tokens for a sample (latent frames x patches), before control tokens."""
        if self.fixed_tokens:
            return self.fixed_tokens
        latent_frames = 1 + (max(frames, 1) - 1) // self.tdown if self.tdown > 1 else max(frames, 1)
        return latent_frames * max(1, height // self.px) * max(1, width // self.px)

    def with_controls(self, n: float, controls: int) -> float:
        """Tokens in the sequence when ``controls`` control images are appended (borrowed fits only: an edit
        arch's own trace already holds its control tokens)."""
        if not self.proxy:
            return n
        extra = float(self.extra_text)
        if self.control == "target":
            extra += n * max(1, controls)
        extra += (self.control_per + self.extra_text_per) * controls
        return n + extra

    def has(self, mode: str, quantity: str) -> bool:
        return quantity in self.fits.get(mode, {})

    def bytes(self, mode: str, quantity: str, n: float, batch: float) -> float:
        if quantity not in self.fits.get(mode, {}):
            return _untraced_mode(self, mode, quantity, n, batch)
        fit = self.fits[mode][quantity]
        if not self.proxy:
            return fit(n, batch)
        if mode == "train_no_gc":
            return fit(n, batch) * self.stack
        if mode == "preview":
            return fit(n, batch) * self.width
        saved = self.fits[mode]["saved"](n, batch)
        if quantity == "saved":
            return saved * self.bh
        return saved * self.bh + max(0.0, fit(n, batch) - saved) * self.width

    def flops(self, mode: str, quantity: str, n: float, batch: float) -> float:
        if quantity not in self.fits.get(mode, {}):
            return _untraced_mode(self, mode, quantity, n, batch)
        s0, s1, s2, p0, p1, p2 = self.fits[mode][quantity].coefficients
        lin, att = self.lin, self.bh
        return (s0 + s1 * n) * lin + s2 * n * n * att + batch * ((p0 + p1 * n) * lin + p2 * n * n * att)


# The traced arch whose ratio of a step without checkpointing to one with it stands in for an arch whose own
# trace has no step without checkpointing (its model code fails there, e.g. HiDream's MoE; traces.json
# ``mode_errors``): FLUX.1, the most used layout.
NO_GC_REFERENCE = "flux"


def _untraced_mode(a: Activity, mode: str, quantity: str, n: float, batch: float) -> float:
    """A quantity the arch's trace lacks. Without checkpointing: FLOPs are the checkpointed step's less the
    recompute (one forward); bytes the checkpointed step's scaled by the reference arch's ratio at these tokens.
    Anything else is not derivable: 0 (the callers check ``has`` where a missing mode is expected)."""
    if mode != "train_no_gc" or "train_gc" not in a.fits:
        return 0.0
    if quantity == "fwd_flops":
        return a.flops("train_gc", "fwd_flops", n, batch)
    if quantity == "bwd_flops":
        return a.flops("train_gc", "bwd_flops", n, batch) - a.flops("train_gc", "fwd_flops", n, batch)
    ref = traces_by_arch().get(NO_GC_REFERENCE)
    if ref is None or quantity not in ref.fits.get("train_no_gc", {}) or quantity not in ref.fits.get("train_gc", {}):
        return 0.0
    with_gc = ref.fits["train_gc"][quantity](n, batch)
    ratio = ref.fits["train_no_gc"][quantity](n, batch) / with_gc if with_gc > 0 else 1.0
    return a.bytes("train_gc", quantity, n, batch) * ratio


@dataclass(frozen=True)
class ArchFacts:
    """What the predictor knows about one catalog arch (GiB-free: parameter counts and shares)."""

    arch: str
    label: str
    backend_arch: str
    den_params: float | None  # every expert
    expert_params: float | None  # one expert (= den_params without experts)
    experts: int
    unknown: str | None
    blocks: float
    hidden: float
    quant_share: float  # of the denoiser's parameters that a qtype quantizes
    lora_per_rank: float
    lora_conv_per_rank: float
    lora_modules: int
    lora_why: str
    text_encoders: tuple[tuple[str, float], ...]
    te_unknown: tuple[str, ...]
    vae_params: float
    vae_unknown: tuple[str, ...]
    connector_bytes: float  # bytes of the modules kept on the GPU beside the denoiser every step, outside its qtype
    connector_why: str
    latent_ch: float | None
    vae_down: float
    tdown: int
    activity: Activity | None
    family: Mapping[str, Any]
    notes: tuple[str, ...]
    fallbacks: int
    mode_errors: Mapping[str, str]

    @property
    def block_params(self) -> float:
        return (self.expert_params or 0.0) / max(self.blocks, 1.0)

    @property
    def te_params(self) -> float:
        return sum(p for _, p in self.text_encoders)


_CACHE: dict[str, ArchFacts] = {}


def facts(spec: Any) -> ArchFacts:
    """The facts for a catalog spec, computed on first use (the UI recomputes a prediction on every edit)."""
    cached = _CACHE.get(spec.arch)
    if cached is None:
        cached = _CACHE[spec.arch] = _build(spec)
    return cached


def _shape(spec: Any, trace: Trace | None, params: float) -> tuple[float, float, bool]:
    hidden, blocks = spec.hidden_size.value, spec.blocks.value
    if not blocks and trace is not None and trace.fits:
        depth = sum(v for v in _depth(trace).values())
        blocks = depth or None
    fell = not hidden or not blocks
    h = float(hidden) if hidden else min(6144.0, max(768.0, math.sqrt(params / FALLBACK_H_PARAMS_DIVISOR)))
    n = float(blocks) if blocks else max(1.0, params / (FALLBACK_BLOCK_PARAMS_PER_H2 * h * h))
    return h, n, fell


def _depth(trace: Trace) -> Mapping[str, int]:
    from .._traces import document

    raw = document()["traces"].get(trace.key, {})
    return {k: v for k, v in (raw.get("depth") or {}).items() if isinstance(v, (int, float))}


def _children(trace: Trace | None) -> Mapping[str, float]:
    if trace is None:
        return {}
    from .._traces import document

    return document()["traces"].get(trace.key, {}).get("children_params") or {}


def _build(spec: Any) -> ArchFacts:
    from ..models import model_info

    notes: list[str] = []
    fallbacks = 0
    trace = spec.trace
    den = spec.params_b("denoiser")
    unknown = next((c.unknown_reason for c in spec.components if c.role == "denoiser" and c.params_b is None),
                   None) or ("the catalog lists no denoiser" if den is None else None)
    den_p = den * 1e9 if den is not None else None
    experts = trace.experts if trace is not None and trace.experts > 1 else 1
    expert_p = (trace.expert_params if experts > 1 and trace.expert_params else den_p)
    geometry = spec
    prox = D.proxy(spec.arch, spec.backend_arch)
    if prox and prox.get("geometry_from"):
        geometry = model_info(prox["geometry_from"])
    h, blocks, fell = _shape(geometry, trace or geometry.trace, expert_p or 1e9)
    if fell and den_p:
        fallbacks += 1
        notes.append(f"{spec.arch}: hidden size / block count not in the catalog; assumed {h:.0f} x {blocks:.0f} "
                     "blocks from its parameter count")
    # quantizable share: every linear but the children ai-toolkit excludes, less norms and biases
    children = _children(trace)
    excluded = sum(v for k, v in children.items() if any(k.startswith(e) for e in D.quant_excludes(spec.backend_arch)))
    total_children = sum(children.values()) or (den_p or 1.0)
    quant_share = max(0.0, 1.0 - excluded / total_children - float(D.data()["unquantized_fraction"]["value"]))
    # LoRA size
    if trace is not None:
        lora_rank, lora_conv, modules = float(trace.lora_params_per_rank), float(trace.lora_conv_params_per_rank), \
            trace.lora_modules
        lora_why = f"{trace.lora_params_per_rank / 1e6:.2f} M per rank over {trace.lora_modules} modules " \
                   f"({trace.lora_source})"
    elif den_p:
        lora_rank = LORA_PER_PARAM_RANK_OVER_H * den_p / h
        lora_conv, modules = 0.0, int(7 * blocks)
        lora_why = (f"no trace: {LORA_PER_PARAM_RANK_OVER_H} x rank / hidden {h:g} x denoiser params (FLUX.1 "
                    "layout)")
        fallbacks += 1
    else:
        lora_rank = lora_conv = 0.0
        modules = 0
        lora_why = "unknown"
    te = [c for c in spec.components if c.role in ("text_encoder", "image_encoder")]
    vae = [c for c in spec.components if c.role in ("vae", "audio_vae")]
    te_unknown = tuple(c.name for c in te if c.params_b is None)
    vae_unknown = tuple(c.name for c in vae if c.params_b is None)
    if te_unknown:
        notes.append(f"text encoder size unknown ({', '.join(te_unknown)}): not counted")
    if vae_unknown:
        notes.append(f"VAE size unknown ({', '.join(vae_unknown)}): not counted")
    connectors = [c for c in spec.components if c.role == "connector" and c.params_b is not None]
    connector_bytes = sum(c.params_b * 1e9 * (c.bytes_per_param or 2.0) for c in connectors)
    connector_why = "; ".join(f"{c.name}: {c.params_b:.2f} B params, {c.note}" for c in connectors)
    vd = geometry.vae_downsample.value or 8.0
    td = int(geometry.temporal_downsample.value or 4)
    activity = _activity(spec, trace, prox, geometry, expert_p, h, blocks, notes) if expert_p else None
    return ArchFacts(
        arch=spec.arch, label=spec.label, backend_arch=spec.backend_arch, den_params=den_p, expert_params=expert_p,
        experts=experts, unknown=unknown, blocks=blocks, hidden=h, quant_share=quant_share,
        lora_per_rank=lora_rank, lora_conv_per_rank=lora_conv, lora_modules=modules, lora_why=lora_why,
        text_encoders=tuple((c.name, c.params_b * 1e9) for c in te if c.params_b is not None),
        te_unknown=te_unknown, vae_params=sum(c.params_b * 1e9 for c in vae if c.params_b is not None),
        vae_unknown=vae_unknown, connector_bytes=connector_bytes, connector_why=connector_why,
        latent_ch=geometry.latent_channels.value, vae_down=float(vd), tdown=td,
        activity=activity, family=D.family(spec.backend_arch), notes=tuple(notes), fallbacks=fallbacks,
        mode_errors=dict(trace.mode_errors) if trace is not None else {},
    )


def _token_params(trace: Trace | None, params: float, backend_arch: str) -> float:
    """Parameters one token passes through: dual-stream blocks count half (their other half is the other stream's)."""
    table = D.data()["proxies"]["dual_stream_children"]
    children = _children(trace)
    dual = sum(v for k, v in children.items() if k in table.get(trace.key if trace else backend_arch, ()))
    scale = params / (sum(children.values()) or params)  # per expert when the trace counts every expert
    return params - dual * scale / 2


def _activity(spec: Any, trace: Trace | None, prox: Mapping[str, Any] | None, geometry: Any,
              params: float, h: float, blocks: float, notes: list[str]) -> Activity | None:
    """The arch's own fits, or a traced model's scaled to it."""
    if trace is not None and trace.fits:
        return Activity(trace.fits, trace.px, max(1, trace.tdown), 1.0, 1.0, 1.0, 1.0, None, 0, 0, 0, None, False,
                        trace.source)
    if not prox:
        return None
    ref = traces_by_arch().get(_ref_arch(prox["trace"]))
    if ref is None or not ref.fits:
        return None
    from ..models import model_info

    ref_spec = model_info(_ref_arch(prox["trace"]))
    ref_params = float(ref.expert_params if ref.experts > 1 and ref.expert_params else ref.denoiser_params)
    own = trace if trace is not None else geometry.trace
    used = _token_params(own, params, spec.backend_arch) * float(prox.get("token_param_share", 1.0))
    ref_used = _token_params(ref, ref_params, "")
    lin = used / ref_used
    ref_h, ref_b = ref_spec.hidden_size.value, ref_spec.blocks.value
    if geometry.hidden_size.value and geometry.blocks.value and ref_h and ref_b:
        bh = (h * blocks) / (float(ref_h) * float(ref_b))
        width = (used / blocks / h) / (ref_used / float(ref_b) / float(ref_h))
        stack = (used / h) / (ref_used / float(ref_h))
        how = (f"checkpointed inputs x {bh:.2f} (blocks x hidden {blocks:g} x {h:g} vs {ref_b:g} x {ref_h:g}), "
               f"a block's working set x {width:.2f}, the no-checkpointing stack x {stack:.2f} (width per token)")
    else:
        bh = width = stack = math.sqrt(lin)
        how = f"activations x {bh:.2f} (square root of the parameter ratio; blocks / hidden size not in the catalog)"
    px = own.px if own is not None and own.px else int((geometry.vae_downsample.value or 8)
                                                        * (geometry.patch_size.value or 2))
    tdown = max(1, own.tdown) if own is not None else int(geometry.temporal_downsample.value or 1)
    text = max(0, (own.text_tokens if own is not None else ref.text_tokens) - ref.text_tokens)
    notes.append(f"{spec.arch}: no activation trace yet; {ref.model_class}'s fit ({prox['trace']}) is used: FLOPs x "
                 f"{lin:.2f} (parameters a token passes through), {how}"
                 + (f", +{text} text tokens" if text else "") + f": {prox['why']}")
    return Activity(ref.fits, px, tdown, lin, bh, width, stack, prox.get("control_tokens"),
                    int(prox.get("control_tokens_per_control", 0)), int(prox.get("extra_text_tokens", 0)) + text,
                    int(prox.get("extra_text_tokens_per_control", 0)), prox.get("tokens"), True,
                    f"scaled from {ref.source}")


def _ref_arch(trace_key: str) -> str:
    """Catalog arch of a trace key (``wan21_14b`` -> ``wan21:14b``)."""
    for arch, trace in traces_by_arch().items():
        if trace.key == trace_key:
            return arch
    return trace_key
