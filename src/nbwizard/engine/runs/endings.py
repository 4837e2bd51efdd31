"""How a run ended, in words: completed, stopped, out of memory, or crashed (with the log's last lines).

Read from what the console said (:class:`~.progress.ConsoleReader`), the exit code when this process was the
run's parent, and the signals the wizard sent. ``run.py`` prints nothing on success (it only prints a result block
when a job fails), so a re-attached run whose exit code cannot be known counts as completed when its bar reached
the last step and the final checkpoint was saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Sequence

from .progress import ConsoleReader, oom_figures

KINDS = ("completed", "stopped", "oom", "crashed")
TAIL = 15  # log lines shown for a crash: a Python traceback's last frames and its message


@dataclass(frozen=True)
class Ending:
    """The end of a run: ``kind`` (one of :data:`KINDS`), a headline, the details and, for a crash, the log tail."""

    kind: str
    step: int | None
    total: int | None
    headline: str
    detail: str = ""
    fix: str | None = None
    lines: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "step": self.step, "total": self.total, "headline": self.headline,
                "detail": self.detail, "fix": self.fix, "lines": list(self.lines)}


def _at(reader: ConsoleReader) -> str:
    if reader.step is None:
        return "before the first step"
    return f"at step {reader.step}" + (f" of {reader.total}" if reader.total else "")


def classify(reader: ConsoleReader, *, returncode: int | None, stopped_by: str | None = None,
             peak_gib: float | None = None, predicted_gib: float | None = None, budget_gib: float | None = None,
             memory_fixes: Sequence[str] = (), ram_peak_gib: float | None = None,
             ram_total_gib: float | None = None) -> Ending:
    """The ending of a finished run.

    Args:
        reader: the console, read to the end.
        returncode: the exit code, or None when the run was found again (not our child).
        stopped_by: the last signal the wizard sent (SIGINT / SIGTERM / SIGKILL), or None.
        peak_gib: the highest GPU memory measured for the run; ``predicted_gib`` the predicted peak.
        memory_fixes: what the validator offers for a job that does not fit (labels of its fixes).
    """
    step, total = reader.step, reader.total
    tail = tuple(line for line in reader.tail() if line.strip())[-TAIL:]
    if reader.oom_text is not None:
        in_use, capacity = oom_figures("\n".join([reader.oom_text, *reader.traceback, *tail]))
        used = in_use if in_use is not None else peak_gib
        head = f"Ran out of GPU memory {_at(reader)}"
        head += f", {used:.1f} GiB in use" if used is not None else ""
        head += f" of {capacity:.1f} GiB" if capacity is not None else (
            f" of {budget_gib:.1f} GiB" if budget_gib is not None else "")
        head += f"; the prediction said {predicted_gib:.1f} GiB" if predicted_gib is not None else ""
        fix = "; or ".join(memory_fixes) if memory_fixes else None
        return Ending("oom", step, total, head + ".", reader.oom_text, fix, tail)
    if stopped_by in ("SIGINT", "SIGTERM", "SIGKILL") or reader.said_stopped:
        how = {"SIGINT": "by SIGINT: ai-toolkit stopped cleanly",
               "SIGTERM": "by SIGTERM: SIGINT was not enough",
               "SIGKILL": "with SIGKILL: SIGINT and SIGTERM were not enough"}.get(stopped_by or "", "")
        how = how or "(ai-toolkit said 'Job stopped')"
        saved = f" The last checkpoint is from step {reader.saves[-1]}; starting the job again resumes from it." \
            if reader.saves else " No checkpoint was saved before the stop."
        return Ending("stopped", step, total, f"Stopped {_at(reader)} {how}.", saved.strip(), None, ())
    finished = total is not None and step is not None and step >= total and reader.final_saved
    if returncode == 0 or (returncode is None and finished and reader.error is None and not reader.traceback):
        known = "" if returncode == 0 else " (found again after the wizard was closed: the exit code is not known)"
        return Ending("completed", step, total, f"Completed {step if step is not None else '?'}"
                      f"{f'/{total}' if total else ''} steps{known}.", reader.final_save or "", None, ())
    if returncode is not None and returncode < 0 and -returncode == 9:
        ram = (f" The run held {ram_peak_gib:.1f} GiB of RAM" + (f" of {ram_total_gib:.1f} GiB" if ram_total_gib
               else "") + ".") if ram_peak_gib is not None else ""
        return Ending("crashed", step, total, f"Killed {_at(reader)} by SIGKILL from outside the wizard.",
                      "The system's out-of-memory killer does this when system RAM runs out." + ram, None, tail)
    message = reader.error or (reader.traceback[-1] if reader.traceback else None)
    code = f" (exit code {returncode})" if returncode is not None else ""
    head = f"Crashed {_at(reader)}{code}" + (f": {message}" if message else "")
    if returncode is None and message is None:
        head = f"Ended {_at(reader)} without saying why (found again after the wizard was closed)"
    return Ending("crashed", step, total, head + ".", "", None, tail)


def memory_fix_labels(job: Any, profile: Any, peak_gib: float, budget_gib: float, *, sampling: bool = False) -> list[str]:
    """The fixes the validator offers when a job needs ``peak_gib`` on a ``budget_gib`` card (its own rules)."""
    from ..validate import validate

    sample = SimpleNamespace(total_gib=peak_gib) if sampling else None
    stand_in = SimpleNamespace(verdict="does_not_fit", peak_vram_gib=peak_gib, budget_gib=budget_gib,
                               verdict_reason=f"the run ran out of memory with {peak_gib:.1f} GiB in use",
                               sample=sample, low_gib=None, high_gib=None)
    report = validate(job, profile, prediction=stand_in)
    codes = ("sample-vram-over-budget", "vram-over-budget") if sampling else ("vram-over-budget",)
    return [i.fix.label for i in report.issues if i.code in codes and i.fix is not None]
