"""The memory search of :mod:`nbwizard.engine.recommend` (private).

The plan is found in phases, each asking the predictor:

1. **Training fit.** Memory levers in an expert's order (what costs least first: cached text embeddings, 8-bit
   weights, low_vram, the arch's low-bit recipe with its accuracy-recovery adapter, layer offloading, plain low-bit
   weights, then a lower resolution) until the predictor says the *training* job fits. Previews are left out of this
   phase (the job is predicted with sampling disabled): a preview never lowers what is trained.
2. **Features** the priority wants (EMA, DOP) are added back when the plan still fits with them.
3. **Speed.** Gradient checkpointing changes no result: it is turned off when the plan without it fits with
   headroom.
4. **Previews** are fitted with their own levers: low_vram where it is not on (several archs then sample with
   an offloading pipeline and a tiled VAE decode; it changes nothing trained), fewer frames, a smaller size, then
   sampling off.

Batch stays 1 unless the user set one (see ``_recommend_values.steps``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from ._recommend_values import bucket_step, lower_resolution

if TYPE_CHECKING:
    from .models import ModelSpec
    from .recipes import Recipe

# "memory" keeps this share of the budget free on top of the predictor's own band (more levers, more headroom).
MEMORY_HEADROOM = 0.10
# Gradient checkpointing is turned off only when the plan without it leaves this share of the budget free: without
# checkpointing memory grows with the largest bucket and the longest caption, which the prediction averages over.
GC_OFF_HEADROOM = 0.10
OFFLOAD_STEPS = (0.25, 0.5, 0.75, 1.0)
# Preview sizes tried, as the long side in px, when a preview does not fit beside the training state.
PREVIEW_SIDES = (768, 512)


@dataclass(frozen=True)
class Mem:
    """The memory-relevant choices of a plan."""

    gc: bool = True
    te_quant: bool = False
    te_cache: bool = False
    qtype: str | None = None  # None: bf16 denoiser
    low_vram: bool = False
    offload: float = 0.0
    res: tuple[int, ...] = (1024,)
    dop: bool = False
    ema: bool = False

    def describe(self) -> str:
        bits = ["gradient checkpointing" if self.gc else "no checkpointing"]
        if self.te_cache:
            bits.append("cached text embeddings")
        elif self.te_quant:
            bits.append("8-bit text encoder")
        bits.append(f"{qlabel(self.qtype)} transformer")
        if self.low_vram:
            bits.append("low_vram")
        if self.offload:
            bits.append(f"{self.offload:.0%} layer offloading")
        bits.append(f"{max(self.res)} px")
        if self.dop:
            bits.append("DOP")
        if self.ema:
            bits.append("EMA")
        return ", ".join(bits)


@dataclass(frozen=True)
class Preview:
    """The preview images (or clips) rendered during training; ``on`` False: sampling disabled."""

    width: int
    height: int
    frames: int = 1
    on: bool = True

    def describe(self) -> str:
        if not self.on:
            return "sampling off"
        return f"{self.width}x{self.height}" + (f", {self.frames} frames" if self.frames > 1 else "")


def qlabel(qtype: str | None) -> str:
    if not qtype:
        return "bf16"
    q, _, ara = qtype.partition("|")
    return f"{q} + ARA" if ara else q


@dataclass(frozen=True)
class Lever:
    label: str  # what the step does, in words
    apply: Callable[[Mem], Mem | None]  # None when the lever does not apply


def qbits(qtype: str | None) -> float:
    """Bits per weight a quantization type stores (None, bf16: 16), for ordering plans by what they save."""
    if not qtype:
        return 16.0
    q = qtype.split("|")[0].lower()
    digits = "".join(ch for ch in q if ch.isdigit())
    return float(digits) if digits and not q.startswith(("qfloat", "float")) else 8.0


def eight_bit(spec: Any, path: str = "model.qtype") -> str:
    """The arch's 8-bit type: the UI's default where that is an 8-bit type (convrot8 for the newest archs), else
    qfloat8 (the trainer's default)."""
    ui = spec.ui_defaults.get(path)
    return ui if isinstance(ui, str) and ui and qbits(ui) == 8 else "qfloat8"


def quant_options(spec: Any) -> list[tuple[str, str]]:
    """Transformer quantization choices, least lossy first: the arch's 8-bit type, then its accuracy-recovery
    recipes (4-bit, 3-bit) where it has them, else plain 4-bit."""
    if not spec.quantization_supported:
        return []
    q8 = eight_bit(spec)
    out = [(q8, f"8-bit ({q8}) transformer")]
    aras = sorted(spec.ara, key=lambda a: -int(a.bits.removeprefix("uint")))
    out += [(a.qtype_value, f"{a.bits[4:]}-bit transformer with its accuracy-recovery adapter") for a in aras]
    return out


def plain_low_bit(spec: Any) -> list[tuple[str, str]]:
    """Low-bit types without an adapter: only for archs that offer no accuracy-recovery adapter."""
    if not spec.quantization_supported or spec.ara:
        return []
    return [("uint4", "4-bit (uint4) transformer, no accuracy-recovery adapter for this model")]


def ladder(spec: Any, profile: Any, priority: str, te_cache_ok: bool, start_res: tuple[int, ...]
           ) -> tuple[Mem, list[Lever]]:
    """The starting plan and the levers in the order this priority spends them."""
    can_offload = spec.supports_layer_offloading and not profile.unified_memory
    te_q = spec.te_quantization_supported
    quants = quant_options(spec)

    def set_(**kw: Any) -> Callable[[Mem], Mem]:
        return lambda m: replace(m, **kw)

    # the encoder is loaded once to cache the captions: in 8 bits that pass needs half the memory
    te = (Lever("text embeddings cached, encoder unloaded", set_(te_cache=True, te_quant=te_q)) if te_cache_ok
          else Lever("8-bit text encoder", set_(te_quant=True) if te_q else lambda m: None))
    q8 = [Lever(label, set_(qtype=q)) for q, label in quants[:1]]
    ara = [Lever(label, set_(qtype=q)) for q, label in quants[1:]]
    plain = [Lever(label, set_(qtype=q)) for q, label in plain_low_bit(spec)]
    low = [Lever("low_vram (parts held on the CPU)", set_(low_vram=True))] if not profile.unified_memory else []
    offl = [Lever(f"{p:.0%} layer offloading", set_(offload=p)) for p in OFFLOAD_STEPS] if can_offload else []
    lower = [Lever("lower resolution", partial(_lower, step=bucket_step(spec)))] * 3

    start = Mem(gc=True, res=start_res)
    if priority == "memory":
        start = replace(start, te_cache=te_cache_ok, te_quant=te_q, qtype=quants[0][0] if quants else None,
                        low_vram=not profile.unified_memory)
        levers = [*ara, *offl, *plain, *lower]
    elif priority == "speed":  # streaming weights over PCIe every step is the slowest lever: low-bit goes first
        levers = [te, *q8, *low, *ara, *plain, *offl, *lower]
    else:
        levers = [te, *q8, *low, *ara, *offl, *plain, *lower]
    return start, levers


def _lower(m: Mem, step: int = 1) -> Mem | None:
    res = lower_resolution(list(m.res), step)
    return replace(m, res=tuple(res)) if res else None


Evaluate = Callable[[Mem, int, "Preview | None"], Any]


@dataclass(frozen=True)
class Found:
    mem: Mem
    batch: int
    preview: Preview
    prediction: Any  # the training-only prediction of the chosen plan
    fits: bool  # training fits
    trail: tuple[tuple[str | None, Mem, Any], ...]  # (lever, plan, training-only prediction) as walked
    dropped: dict[str, Any]  # feature ("dop", "ema", "gc_off") -> the prediction that did not fit
    preview_trail: tuple[tuple[str, Preview, Any], ...]  # (lever, preview, full prediction) as walked
    tried: int  # predictor calls


def search(start: Mem, levers: list[Lever], evaluate: Evaluate, priority: str, batch: int, preview: Preview,
           features: dict[str, bool], free: Callable[[Mem], Mem], preview_levers: list[tuple[str, Any]],
           low_vram: Callable[[Mem], Mem] | None = None, margin: Callable[[Mem], float] | None = None) -> Found:
    """Run the phases (see the module docstring). ``features`` maps "ema" / "dop" / "gc_off" to whether the plan
    should have it; ``free`` applies the memory savers that cost nothing (cached text embeddings) to a plan;
    ``low_vram`` turns low_vram on (None where it may not be); ``margin(plan)`` is the share of the budget a
    plan must leave free in the training fit (a plan lighter than the recipe the card is known to run)."""
    calls = [0]

    def ev(m: Mem, p: Preview | None) -> Any:
        calls[0] += 1
        return evaluate(m, batch, p)

    candidates: list[tuple[str | None, Mem]] = [(None, start)]
    for lever in levers:
        nxt = lever.apply(candidates[-1][1])
        if nxt is not None and nxt != candidates[-1][1]:
            candidates.append((lever.label, nxt))
    trail: list[tuple[str | None, Mem, Any]] = []
    fitted = False
    for label, mem in candidates:
        pred = ev(mem, None)
        trail.append((label, mem, pred))
        if pred.verdict == "unknown":
            break
        if fits(pred, priority, margin(mem) if margin else 0.0):
            fitted = True
            break
    if not fitted and priority == "memory":  # the extra headroom is a preference, not a requirement
        for i, (_, _, pred) in enumerate(trail):
            if fits(pred, "quality"):
                trail, fitted = trail[: i + 1], True
                break
    strict = priority if fits(trail[-1][2], priority) else "quality"
    _, mem, pred = trail[-1]
    dropped: dict[str, Any] = {}
    if fitted:
        for feat in ("ema", "dop"):  # what the priority wants, where it still fits
            if features.get(feat) and not getattr(mem, feat):
                cand = replace(mem, **{feat: True})
                p = ev(cand, None)
                if fits(p, strict):
                    mem, pred = cand, p
                else:
                    dropped[feat] = p
        if features.get("gc_off") and mem.gc:
            for cand in dict.fromkeys((replace(mem, gc=False), free(replace(mem, gc=False)))):
                p = ev(cand, None)
                if fits(p, strict, GC_OFF_HEADROOM):
                    mem, pred = cand, p
                    break
            else:
                dropped["gc_off"] = p
    preview_trail: list[tuple[str, Preview, Any]] = []
    if fitted and preview.on:
        full = ev(mem, preview)
        preview_trail.append(("", preview, full))
        if not fits(full, strict) and low_vram is not None and not mem.low_vram:
            cand = low_vram(mem)
            p = ev(cand, preview)
            if fits(p, strict):
                mem, full = cand, p
                pred = ev(cand, None)
                preview_trail.append(("low_vram", preview, full))
        for label, step in preview_levers:
            if fits(full, strict):
                break
            nxt = step(preview)
            if nxt is None or nxt == preview:
                continue
            preview = nxt
            full = ev(mem, preview)
            preview_trail.append((label, preview, full))
    return Found(mem, batch, preview, pred, fitted, tuple(trail), dropped, tuple(preview_trail), calls[0])


def fits(pred: Any, priority: str, headroom: float = 0.0) -> bool:
    """The predictor's verdict, with the priority's (or the caller's) extra headroom on the budget."""
    if pred.verdict != "fits":
        return False
    share = max(headroom, MEMORY_HEADROOM if priority == "memory" else 0.0)
    if share and pred.high_gib is not None and pred.budget_gib:
        return pred.high_gib <= pred.budget_gib * (1 - share)
    return True


# ---- previews ----------------------------------------------------------------------------------------------------
def preview_levers(spec: Any) -> list[tuple[str, Callable[[Preview], Preview | None]]]:
    """Levers on the previews only, in order: fewer frames (video), a smaller size, sampling off."""
    step = int(spec.temporal_downsample.value or 4)
    align = int((spec.vae_downsample.value or 8) * (spec.patch_size.value or 2))

    def fewer_frames(p: Preview) -> Preview | None:
        if p.frames <= 1:
            return None
        latent = (p.frames - 1) // step
        return replace(p, frames=1 + step * (latent // 2) if latent >= 2 else 1)

    def smaller(side: int) -> Callable[[Preview], Preview | None]:
        def apply(p: Preview) -> Preview | None:
            long = max(p.width, p.height)
            if long <= side:
                return None
            scale = side / long
            return replace(p, width=max(align, round(p.width * scale / align) * align),
                           height=max(align, round(p.height * scale / align) * align))
        return apply

    out: list[tuple[str, Callable[[Preview], Preview | None]]] = []
    if spec.is_video:
        out += [("fewer preview frames", fewer_frames)] * 3
    out += [(f"previews at {side} px", smaller(side)) for side in PREVIEW_SIDES]
    out.append(("sampling off", lambda p: replace(p, on=False)))
    return out


# ---- the example's card -------------------------------------------------------------------------------------
# On a card no larger than the one ai-toolkit's example is written for, the example's memory savers are known to
# run there: a plan that drops one must leave this share of the budget free in the prediction.
RECIPE_HEADROOM = 0.10


def recipe_margin(recipe: Recipe, profile: Any) -> Callable[[Mem], float]:
    """The headroom a plan needs: RECIPE_HEADROOM when it saves less memory than the example does on the example's
    own card size (or a smaller one), else none."""
    budget = getattr(profile, "vram_budget_gib", None)
    if not recipe.from_example or not recipe.vram_gb or budget is None or budget > recipe.vram_gb:
        return lambda m: 0.0
    bits = qbits(recipe.get("model.qtype") if recipe.get("model.quantize") else None)
    low = recipe.get("model.low_vram") is True
    te_gone = recipe.get("train.cache_text_embeddings") is True or recipe.get("train.unload_text_encoder") is True

    def margin(m: Mem) -> float:
        lighter = qbits(m.qtype) > bits or (low and not m.low_vram) or (te_gone and not m.te_cache)
        return RECIPE_HEADROOM if lighter else 0.0
    return margin


def te_qtype(spec: ModelSpec) -> str:
    """The text encoder's quantization type: the UI's for the arch (nvfp4 for MiniMax), else qfloat8."""
    ui = spec.ui_defaults.get("model.qtype_te")
    return ui if isinstance(ui, str) and ui else "qfloat8"
