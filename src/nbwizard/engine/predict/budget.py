"""Bands and the fit verdict: every VRAM phase (load, prepare, train, sample) against the card's budget.

The budget is the profile's (:attr:`SystemProfile.vram_budget_gib`: the card's physical total less what the driver
keeps from CUDA and what the user or other processes hold). A phase's band widens only its uncertain parts:
weights and adapter states are byte counts (+-1 %), trace-based activations and overheads carry the calibration
spread (+-25 %), borrowed (scaled) activation fits what a leave-one-out check among traced archs shows (+-35 % with
checkpointing, +-90 % without); each fallback fact adds 10 % of the phase.
"fits" needs the band's upper edge under the budget: the headroom is budget - upper edge, stated in the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from . import _data as D

# Added to a phase's relative band for each fact that fell back to a documented assumption.
FALLBACK_UNCERTAINTY = 0.10


@dataclass(frozen=True)
class Band:
    low: float
    estimate: float
    high: float


def band(parts: Sequence[Any], fallbacks: int = 0) -> Band:
    """Estimate and band of a list of parts (``gib`` and ``kind``)."""
    est = sum(p.gib for p in parts)
    half = sum(p.gib * D.band(p.kind) for p in parts) + FALLBACK_UNCERTAINTY * fallbacks * est
    return Band(round(max(0.0, est - half), 2), round(est, 2), round(est + half, 2))


def verdict(phases: Sequence[tuple[str, Band]], budget: float | None, profile: Any,
            label: str) -> tuple[str, str, str]:
    """(verdict, reason, binding phase) over all phases."""
    if not phases:
        return "unknown", f"no size facts for {label}", ""
    name, b = max(phases, key=lambda p: p[1].high)
    worst_est = max(phases, key=lambda p: p[1].estimate)
    if budget is None:
        why = getattr(profile, "gpu_reason", None) or "no GPU in the profile"
        return "unknown", (f"no VRAM budget to compare with ({why}); predicted peak {worst_est[1].estimate:.1f} GiB "
                           f"({worst_est[0]})"), worst_est[0]
    total = getattr(getattr(getattr(profile, "gpu", None), "memory_total_gib", None), "value", None)
    reserve = getattr(profile, "vram_reserve_reason", "")
    of = (f"the {budget:.1f} GiB budget ({total:.2f} GiB card - {reserve})" if total and reserve
          else f"the {budget:.1f} GiB budget")
    over = [p for p in phases if p[1].estimate > budget]
    if over:
        pname, pb = max(over, key=lambda p: p[1].estimate)
        return "does_not_fit", (f"{pname} needs {pb.estimate:.1f} GiB, which exceeds {of} by "
                                f"{pb.estimate - budget:.1f} GiB"), pname
    if b.high > budget:
        return "tight", (f"{name}: {b.estimate:.1f} GiB fits {of}, but the upper estimate {b.high:.1f} GiB does "
                         "not: no headroom"), name
    return "fits", (f"{name} is the largest phase: {b.estimate:.1f} GiB (up to {b.high:.1f}) leaves "
                    f"{budget - b.high:.1f} GiB of headroom in {of}"), name
