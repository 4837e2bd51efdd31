"""The pre-flight hardware table: each detected value with its source, or "unknown" with the reason."""

from __future__ import annotations

from typing import Any, Callable

from .render import esc, table


def _row(label: str, reading: Any, fmt: Callable[[Any], str] = str) -> tuple[str, str, str]:
    if reading is None or reading.value is None:
        why = getattr(reading, "reason", None) or "not detected"
        return (label, f"<span class='nbw-muted'>unknown — {esc(why)}</span>", esc(getattr(reading, "source", "")))
    note = f" <span class='nbw-help'>({esc(reading.reason)})</span>" if reading.reason else ""
    return (label, f"✓ {esc(fmt(reading.value))}{note}", esc(reading.source))


def _gib(v: Any) -> str:
    return f"{v:.1f} GiB"


def _yes(v: Any) -> str:
    return "yes" if v else "no"


def hardware_html(profile: Any) -> str:
    rows: list[tuple[str, str, str]] = []
    if profile.target:
        rows.append(("Planning for", f"<b>{esc(profile.target)}</b> (what-if: not this machine's card)", "user"))
    if not profile.gpus:
        rows.append(("GPU", f"<span class='nbw-muted'>none — {esc(profile.gpu_reason or 'no GPU found')}</span>",
                     ""))
    for gpu in profile.gpus:
        rows += [_row(f"GPU {gpu.index}", gpu.name), _row("  memory", gpu.memory_total_gib, _gib),
                 _row("  driver", gpu.driver), _row("  compute capability", gpu.compute_capability),
                 _row("  bf16", gpu.bf16, _yes), _row("  fp8", gpu.fp8, _yes), _row("  unified memory", gpu.unified, _yes)]
    budget = profile.vram_budget_gib
    rows.append(("VRAM budget", esc(_gib(budget)) if budget is not None else "<span class='nbw-muted'>unknown</span>",
                 "derived"))
    rows += [_row("RAM total", profile.ram_total_gib, _gib), _row("RAM available", profile.ram_available_gib, _gib),
             _row("CPU cores", profile.cpu_cores), _row("CPU", profile.cpu_name)]
    for st in profile.storage:
        free = f", {st.free_gib:.0f} GiB free" if st.free_gib is not None else ""
        why = f" <span class='nbw-help'>({esc(st.reason)})</span>" if st.reason else ""
        rows.append((f"Storage {esc(st.path)}", f"{esc(st.kind)}{esc(free)}{why}", esc(st.source)))
    rows.append(_row("Cloud", profile.cloud))
    return table(["", "Value", "Source"], rows, raw=True)
