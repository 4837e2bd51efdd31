"""Reading ai-toolkit's console output: the progress bar, the loss, and the lines that mark what happens.

ai-toolkit draws a tqdm bar (``ToolkitProgressBar`` in ``toolkit/progress_bar.py``, created in
``BaseSDTrainProcess.run`` with ``desc=<job name>``, ``total=train.steps``) and sets its postfix to
``"lr: 1.0e-04 loss: 4.567e-01"`` after each step. Each redraw starts with a carriage return, so a console log
is one long line of ``\\r``-separated updates such as::

    my_lora:  20%|██        | 1/5 [00:00<00:00,  6.62it/s, lr: 1.0e-04 loss: 5.000e-01]

(``1.23s/it`` instead of ``it/s`` when a step takes over a second; ``?`` before the first rate). Everything else
is printed as whole lines: ``Saving at step N``, ``Generating baseline samples before training``, the OOM skip
banner, ``Error running job: ...``, ``Job stopped`` and ``Result: - 1 completed job`` (``run.py``).

:class:`ConsoleReader` is fed text as it arrives (chunks may split a line anywhere) and keeps what it learnt.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from statistics import median
from typing import Iterable

# "<desc>: 20%|██   | 1/5 [00:03<00:12,  1.23s/it, lr: 1.0e-04 loss: 5.000e-01]"
BAR = re.compile(
    r"(?P<desc>.*?):?\s*(?P<pct>\d{1,3})%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)\s*"
    r"\[(?P<elapsed>-?[\d:]+)<(?P<remaining>[\d:?]+),\s*(?P<rate>[\d.]+|\?)\s*(?P<unit>s/it|it/s)"
    r"(?:,\s*(?P<postfix>[^\]]*))?\]\s*$")
_PAIR = re.compile(r"([A-Za-z_][\w/.-]*):\s*([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf))")
_SAVING = re.compile(r"Saving at step (\d+)")
_SAVED = re.compile(r"^Saved checkpoint to (.+?)\s*$")
_STEP_SAVE = re.compile(r"_\d{9}(?:\.\w+)?$")  # <name>_000000250.safetensors; the final save has no step
_OOM_SKIP = re.compile(r"OOM during training step, skipping batch (\d)/3")
_ERROR = re.compile(r"^Error running job: (.*)$")
_COMPLETED = re.compile(r"^\s*-\s*(\d+) completed jobs?\s*$")
_FAILED = re.compile(r"^\s*-\s*(\d+) failures?\s*$")
# CUDA's allocator: "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total
# capacity of 23.55 GiB of which 1.02 GiB is free. ... this process has 22.52 GiB memory in use." (torch >= 2.1;
# older releases: "... (GPU 0; 23.65 GiB total capacity; 21.20 GiB already allocated; ...)"), and ai-toolkit's
# own abort after three skipped batches.
OOM_TEXT = re.compile(r"CUDA out of memory|OutOfMemoryError|OOM during training step 3 times in a row|"
                      r"CUDA error: out of memory|MPS backend out of memory|HIP out of memory")
_IN_USE = re.compile(r"this process has ([\d.]+) (GiB|MiB) memory in use|([\d.]+) (GiB|MiB) already allocated")
_CAPACITY = re.compile(r"total capacity of ([\d.]+) (GiB|MiB)|\(GPU \d+; ([\d.]+) (GiB|MiB) total capacity")
OTHER_BARS = ("Generating Images", "Loading", "Caching", "Quantizing", "Preprocessing")  # ai-toolkit's other bars
STEADY_SKIP = 0.1  # the first 10 % of the updates (compile, warm-up, first-step allocations) are not steady


def parse_clock(text: str) -> float | None:
    """tqdm's ``[H:]MM:SS`` as seconds (None for ``?``)."""
    if not text or "?" in text:
        return None
    sign = -1 if text.startswith("-") else 1
    seconds = 0
    for part in text.lstrip("-").split(":"):
        if not part.isdigit():
            return None
        seconds = seconds * 60 + int(part)
    return float(sign * seconds)


@dataclass(frozen=True)
class BarUpdate:
    """One redraw of the progress bar."""

    step: int  # steps completed (ai-toolkit sets the bar to step + 1 when a step ends)
    total: int
    elapsed_s: float | None
    remaining_s: float | None
    s_per_it: float | None
    values: dict[str, float] = field(default_factory=dict)  # the postfix: lr, loss and any other loss term

    @property
    def loss(self) -> float | None:
        return self.values.get("loss")

    @property
    def lr(self) -> float | None:
        return self.values.get("lr")


def parse_bar(text: str) -> BarUpdate | None:
    """A progress-bar redraw, or None when ``text`` is not one."""
    m = BAR.search(text)
    if m is None:
        return None
    rate = m["rate"]
    s_per_it = None
    if rate != "?" and float(rate) > 0:
        s_per_it = float(rate) if m["unit"] == "s/it" else 1.0 / float(rate)
    values = {k: float(v) for k, v in _PAIR.findall(m["postfix"] or "")}
    return BarUpdate(int(m["n"]), int(m["total"]), parse_clock(m["elapsed"]), parse_clock(m["remaining"]),
                     s_per_it, values)


def _gib(number: str, unit: str) -> float:
    return float(number) / (1024.0 if unit == "MiB" else 1.0)


def oom_figures(text: str) -> tuple[float | None, float | None]:
    """(GiB this process had in use, the GPU's total capacity) from a CUDA out-of-memory message, when it says."""
    used = cap = None
    for m in _IN_USE.finditer(text):
        used = _gib(m[1], m[2]) if m[1] else _gib(m[3], m[4])
    for m in _CAPACITY.finditer(text):
        cap = _gib(m[1], m[2]) if m[1] else _gib(m[3], m[4])
    return used, cap


class ConsoleReader:
    """What the console said so far: the latest bar, rates per step, markers, the end lines and a tail.

    ``feed`` takes any chunk; a bar redraw still being written (no ``\\r`` after it yet) is read as the latest
    state but only counted once it is complete, so feeding the same text in any split gives the same result.
    """

    def __init__(self, job_name: str | None = None, tail_lines: int = 40):
        # ai-toolkit names its training bar after the job; other bars (loading, previews, dataset scan) are not it
        self.job_name = job_name
        self._partial = ""
        self.latest: BarUpdate | None = None
        self._rates: dict[int, float] = {}  # step -> s/it as the bar showed it when that step completed
        self.values: dict[int, dict[str, float]] = {}  # step -> postfix values (loss, lr)
        self.saves: list[int] = []
        self.final_save: str | None = None  # "Saved checkpoint to <name>.safetensors" after the last step
        self.oom_skips = 0
        self.oom_text: str | None = None  # the first out-of-memory line
        self.error: str | None = None  # "Error running job: ..." text
        self.traceback: list[str] = []
        self.said_stopped = False
        self.completed_jobs: int | None = None
        self.failed_jobs: int | None = None
        self.sampling_before_training = False
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._in_traceback = False

    # -- input ------------------------------------------------------------------------------------------------
    def feed(self, text: str) -> None:
        if not text:
            return
        data = self._partial + text.replace("\r\n", "\n")
        pieces = re.split(r"([\r\n])", data)
        self._partial = pieces.pop()  # after the last separator: possibly unfinished
        line = ""
        for piece in pieces:
            if piece in ("\r", "\n"):
                self._line(line, ended_by=piece)
                line = ""
            else:
                line = piece
        current = self._training_bar(self._partial)
        if current is not None:
            self.latest = current

    def _training_bar(self, text: str) -> BarUpdate | None:
        m = BAR.search(text)
        if m is None:
            return None
        desc = _clean(m["desc"]).strip()
        if self.job_name is not None and desc != self.job_name:
            return None
        if self.job_name is None and (not desc or desc.startswith(OTHER_BARS)):
            return None
        return parse_bar(text)

    def _line(self, line: str, ended_by: str) -> None:
        if BAR.search(line) is not None and self._training_bar(line) is None:  # another bar: a tail line only
            if ended_by == "\n":
                self._tail.append(_clean(line))
            return
        bar = self._training_bar(line)
        if bar is not None:
            self.latest = bar
            if bar.s_per_it is not None and bar.step > 0:
                self._rates[bar.step] = bar.s_per_it
            if bar.values:
                self.values[bar.step] = bar.values
            if ended_by == "\n":  # the bar's final redraw (close) ends its line
                self._tail.append(_clean(line))
            return
        if ended_by == "\r" and not line:
            return
        text = _clean(line)
        self._remember(text)
        if text.strip():
            self._tail.append(text)

    def _remember(self, text: str) -> None:
        if text.startswith("Traceback (most recent call last)"):
            self._in_traceback = True
            self.traceback = [text]
        elif self._in_traceback:
            self.traceback.append(text)
            if text and not text.startswith((" ", "\t")) and ":" in text and not text.startswith("During handling"):
                self._in_traceback = False  # "SomeError: message" ends a traceback
        if self.oom_text is None and OOM_TEXT.search(text):
            self.oom_text = text.strip()
        if m := _SAVING.search(text):
            self.saves.append(int(m[1]))
        elif m := _SAVED.match(text.strip()):
            if not _STEP_SAVE.search(m[1]):
                self.final_save = text.strip()
        elif m := _OOM_SKIP.search(text):
            self.oom_skips = max(self.oom_skips, int(m[1]))
        elif m := _ERROR.match(text):
            self.error = m[1].strip()
        elif text.strip() == "Job stopped":
            self.said_stopped = True
        elif m := _COMPLETED.match(text):
            self.completed_jobs = int(m[1])
        elif m := _FAILED.match(text):
            self.failed_jobs = int(m[1])
        elif "Generating baseline samples before training" in text or "Generating first sample" in text:
            self.sampling_before_training = True

    def finish(self) -> None:
        """The stream ended: whatever is left unterminated is a last line."""
        if self._partial:
            self._line(self._partial, ended_by="\n")
            self._partial = ""

    # -- what was learnt --------------------------------------------------------------------------------------
    @property
    def step(self) -> int | None:
        return self.latest.step if self.latest else None

    @property
    def total(self) -> int | None:
        return self.latest.total if self.latest else None

    @property
    def final_saved(self) -> bool:
        return self.final_save is not None

    def steady_s_per_it(self) -> float | None:
        """Median s/it over the steps after the first 10 % (first-step allocations and compiles are not steady)."""
        rates = [r for _, r in sorted(self._rates.items())]
        if not rates:
            return None
        rates = rates[int(len(rates) * STEADY_SKIP):] or rates
        return median(rates)

    def rates(self) -> list[tuple[int, float]]:
        """(step, s/it) as the bar showed it, in step order."""
        return sorted(self._rates.items())

    def losses(self) -> list[tuple[int, float]]:
        """(step, loss) from the bar's postfix."""
        return [(s, v["loss"]) for s, v in sorted(self.values.items()) if "loss" in v]

    def tail(self) -> list[str]:
        """The last lines as a terminal would show them (bar redraws collapse into the latest one)."""
        lines = list(self._tail)
        current = _clean(self._partial) if self._partial.strip() else None
        return lines + [current] if current else lines


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _clean(text: str) -> str:
    return _ANSI.sub("", text).rstrip()


def read_console(text: str | Iterable[str], job_name: str | None = None) -> ConsoleReader:
    """A reader fed with the whole of ``text`` (a finished log)."""
    reader = ConsoleReader(job_name)
    for chunk in [text] if isinstance(text, str) else text:
        reader.feed(chunk)
    reader.finish()
    return reader
