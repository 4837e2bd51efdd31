"""The memory search of :mod:`nbwizard.engine.recommend` (private): memory levers in order of what they cost,
walked against the predictor until the job fits the budget, then the largest batch that still fits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from ._recommend_values import lower_resolution

# Largest batch tried per priority ("memory" keeps batch 1 and reaches its effective batch by accumulation).
BATCH_CAP = {"speed": 8, "quality": 4, "memory": 1}
BATCHES = (1, 2, 3, 4, 6, 8)
# "memory" keeps this share of the budget free on top of the predictor's own band (more levers, more headroom).
MEMORY_HEADROOM = 0.10
OFFLOAD_STEPS = (0.25, 0.5, 0.75, 1.0)


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
        bits.append(f"{_qlabel(self.qtype)} transformer")
        if self.low_vram:
            bits.append("low_vram")
        if self.offload:
            bits.append(f"{self.offload:.0%} layer offloading")
        bits.append(f"{max(self.res)} px")
        return ", ".join(bits)


def _qlabel(qtype: str | None) -> str:
    if not qtype:
        return "bf16"
    q, _, ara = qtype.partition("|")
    return f"{q} + ARA" if ara else q


@dataclass(frozen=True)
class Lever:
    label: str  # what the step does, in words
    apply: Callable[[Mem], Mem | None]  # None when the lever does not apply


def quant_options(spec: Any) -> list[tuple[str, str]]:
    """Transformer quantization choices from least to most lossy: qfloat8, ARA 4-bit, plain uint4, ARA 3-bit."""
    if not spec.quantization_supported:
        return []
    out = [("qfloat8", "8-bit (qfloat8) transformer")]
    aras = sorted(spec.ara, key=lambda a: -int(a.bits.removeprefix("uint")))
    for a in aras:
        if a.bits == "uint4":
            out.append((a.qtype_value, "4-bit transformer with its accuracy-recovery adapter"))
    if not any(a.bits == "uint4" for a in aras):
        out.append(("uint4", "4-bit (uint4) transformer"))
    for a in aras:
        if a.bits == "uint3":
            out.append((a.qtype_value, "3-bit transformer with its accuracy-recovery adapter"))
    return out


def ladder(spec: Any, profile: Any, priority: str, te_cache_ok: bool) -> tuple[Mem, list[Lever]]:
    """The starting plan and the levers in the order this priority spends them."""
    can_offload = spec.supports_layer_offloading and not profile.unified_memory
    te_q = spec.te_quantization_supported
    quants = quant_options(spec)

    def set_(**kw: Any) -> Callable[[Mem], Mem]:
        return lambda m: replace(m, **kw)

    gc = Lever("gradient checkpointing on", set_(gc=True))
    te_quant = Lever("8-bit text encoder", set_(te_quant=True) if te_q else lambda m: None)
    te_cache = Lever("text embeddings cached, encoder unloaded", set_(te_cache=True) if te_cache_ok else lambda m: None)
    q_levers = [Lever(label, set_(qtype=q)) for q, label in quants]
    low = [Lever("low_vram (parts held on the CPU)", set_(low_vram=True))] if not profile.unified_memory else []
    offl = [Lever(f"{p:.0%} layer offloading", set_(offload=p)) for p in OFFLOAD_STEPS] if can_offload else []
    no_ema = Lever("EMA off", lambda m: replace(m, ema=False) if m.ema else None)
    no_dop = Lever("DOP off", lambda m: replace(m, dop=False) if m.dop else None)
    lower = [Lever("lower resolution", _lower)] * 3

    if priority == "speed":
        start = Mem(gc=False)
        levers = [gc, te_quant, te_cache, *q_levers, *low, *offl, *lower]
    elif priority == "memory":
        start = Mem(gc=True, te_quant=te_q, te_cache=te_cache_ok, qtype=quants[0][0] if quants else None)
        levers = [*q_levers[1:], *low, *offl, *lower]
    else:  # quality: low-bit quantization only after everything that keeps the weights' precision
        start = Mem(gc=True, ema=True)
        levers = [te_quant, te_cache, *q_levers[:1], no_ema, *low, *offl, no_dop, *q_levers[1:], *lower]
    return start, levers


def _lower(m: Mem) -> Mem | None:
    res = lower_resolution(list(m.res))
    return replace(m, res=tuple(res)) if res else None


@dataclass(frozen=True)
class Found:
    mem: Mem
    batch: int
    prediction: Any
    fits: bool
    trail: tuple[tuple[str | None, Mem, Any], ...]  # (lever, plan, prediction at the first batch) as walked
    tried: int  # predictor calls


def search(start: Mem, levers: list[Lever], evaluate: Callable[[Mem, int], Any], priority: str,
           locked_batch: int | None, max_batch: int, ram_limit_gib: float | None = None) -> Found:
    """Walk the levers until batch 1 (or the locked batch) fits, then grow the batch while it fits.

    Stops early when the predictor cannot tell (verdict ``unknown``): no lever changes that. A plan whose
    predicted system-RAM peak (loading, quantizing, offloaded layers) exceeds ``ram_limit_gib`` does not fit;
    the walk stops at the first plan whose VRAM fits even so, since the levers after it only move memory from
    the GPU to RAM or lower the quality (RAM is then what the user must add, and the plan says so).
    """
    def ram_ok(pred: Any) -> bool:
        ram = getattr(pred, "ram_peak_gib", None)
        return ram_limit_gib is None or ram is None or ram <= ram_limit_gib

    def fits(pred: Any, prio: str) -> bool:
        return _fits(pred, prio) and ram_ok(pred)

    first = locked_batch or 1
    candidates: list[tuple[str | None, Mem]] = [(None, start)]
    for lever in levers:
        nxt = lever.apply(candidates[-1][1])
        if nxt is not None and nxt != candidates[-1][1]:
            candidates.append((lever.label, nxt))
    trail: list[tuple[str | None, Mem, Any]] = []
    fitted = False
    for label, mem in candidates:
        pred = evaluate(mem, first)
        trail.append((label, mem, pred))
        if pred.verdict == "unknown":
            break
        if fits(pred, priority):
            fitted = True
            break
        if _fits(pred, priority) and not ram_ok(pred):
            break  # VRAM fits; RAM does not, and no later lever lowers RAM
    if not fitted and priority == "memory":  # the extra headroom is a preference, not a requirement
        for i, (_, _, pred) in enumerate(trail):
            if fits(pred, "quality"):
                trail, fitted = trail[: i + 1], True
                break
    strict = priority if fits(trail[-1][2], priority) else "quality"
    _, mem, pred = trail[-1]
    tried, batch = len(trail), first
    if fitted and locked_batch is None:
        cap = min(BATCH_CAP[priority], max_batch)
        for b in (b for b in BATCHES if first < b <= cap):
            tried += 1
            p = evaluate(mem, b)
            if not fits(p, strict):
                break
            batch, pred = b, p
    return Found(mem, batch, pred, fitted, tuple(trail), tried)


def _fits(pred: Any, priority: str) -> bool:
    if pred.verdict != "fits":
        return False
    if priority == "memory" and pred.high_gib is not None and pred.budget_gib:
        return pred.high_gib <= pred.budget_gib * (1 - MEMORY_HEADROOM)
    return True
