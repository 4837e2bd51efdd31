"""The side-panel advisor: what a step's settings do, why they have their values, what is wrong, what it costs.

The explanations are data (``data/advice.json``): one text per page and experience level, and a plain-language
entry per setting (a setting without one falls back to its ``help``). Everything returned is plain text in frozen
dataclasses; the widgets decide how to show it. The recommendation, validation report and prediction are read
duck-typed (attribute names only), so this module imports none of their modules.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping

from .arch import identify
from .intent import EXPERIENCE_LEVELS
from .settings import STEP_IDS, STEPS, applies, setting, settings, step_settings, suggest_key

PAGES: tuple[str, ...] = ("preflight", *STEP_IDS, "review")
"""Every wizard page the advisor speaks for: pre-flight, the twelve steps, review."""
TITLES: Mapping[str, str] = {"preflight": "Pre-flight", **{s.id: s.title for s in STEPS}, "review": "Review"}
SEVERITIES = ("error", "warning", "suggestion")
TOP_COMPONENTS = 3  # breakdown parts listed: the largest three carry most of the peak; more crowds the panel

_SENTENCE = re.compile(r"(?<!e\.g)(?<!i\.e)(?<!etc)(?<!vs)(?<=[.!?])\s+(?=[A-Z'\[(0-9])")
_INDEX = re.compile(r"\[\d+\]")
_PROCESS_PREFIX = re.compile(r"^config\.process\[\d+\]\.")


@dataclass(frozen=True)
class SettingNote:
    """What one setting does, at the reader's experience level."""
    path: str
    label: str
    text: str


@dataclass(frozen=True)
class WhyLine:
    """Why a setting has its recommended value; ``changed`` when the job holds another value."""
    path: str
    label: str
    value: Any
    recommended: Any
    why: str
    changed: bool

    @property
    def text(self) -> str:
        rec = f"; recommended {format_value(self.recommended)}" if self.changed else ""
        return f"{self.label}: {format_value(self.value)}{rec} — {self.why}"


@dataclass(frozen=True)
class WarningLine:
    """One validation issue as the panel lists it; ``fixable`` when it carries an auto-fix."""
    severity: str
    path: str | None
    label: str
    message: str
    fixable: bool
    code: str | None = None


@dataclass(frozen=True)
class PerfLine:
    """One line of the performance section; ``known`` is False where the prediction could not say."""
    key: str
    label: str
    text: str
    known: bool = True


@dataclass(frozen=True)
class Advice:
    """The advisor panel for one page: explain (text, facts, settings), why, warnings, performance.

    ``plan`` holds what the recommended plan changed from the arch's usual recipe (each change with its cost) and
    what to weigh before training (DOP's price, a long run and the plan that halves it, system RAM): on the review
    page all of it, on a step the lines about its settings."""
    step: str
    title: str
    experience: str
    explain: str
    facts: tuple[str, ...]
    settings: tuple[SettingNote, ...]
    why: tuple[WhyLine, ...]
    why_not: str | None
    warnings: tuple[WarningLine, ...]
    performance: tuple[PerfLine, ...]
    plan: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComparisonRow:
    """A row of the review's comparison; ``matters`` when a different value changes memory, speed or quality."""
    path: str
    label: str
    yours: Any
    recommended: Any
    why: str
    matters: bool
    differs: bool


# ---- texts ----------------------------------------------------------------------------------------------------
@cache
def _data() -> Mapping[str, Any]:
    return json.loads(resources.files("nbwizard.engine").joinpath("data/advice.json").read_text(encoding="utf-8"))


def _check(step: str | None, experience: str) -> None:
    if step is not None and step not in PAGES:
        raise KeyError(f"unknown page {step!r}; pages are {', '.join(PAGES)}")
    if experience not in EXPERIENCE_LEVELS:
        raise ValueError(f"unknown experience {experience!r}; choose one of {', '.join(EXPERIENCE_LEVELS)}")


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` (abbreviations such as e.g. do not end it)."""
    return _SENTENCE.split(text.strip(), maxsplit=1)[0]


def step_text(step: str, experience: str = "beginner") -> str:
    """What the settings of page ``step`` control: 3-6 sentences for beginners, 2 intermediate, 1 line advanced."""
    _check(step, experience)
    return _data()["steps"][step][experience]


def advice_text_for(path: str, experience: str = "beginner") -> str:
    """The tooltip of setting ``path``: beginner the plain-language entry, intermediate its first sentence,
    advanced the setting's one-line help. Raises ``KeyError`` (with close matches) for an unknown path.

    >>> advice_text_for("train.batch_size", "advanced").startswith("Images per step")
    True
    """
    _check(None, experience)
    s = setting(_normalize(path))
    entry = _data()["settings"].get(s.path)
    if experience == "advanced" or not entry:
        return s.help
    return first_sentence(entry) if experience == "intermediate" else entry


def has_advice(path: str) -> bool:
    """Whether ``advice.json`` holds a written entry for ``path`` (otherwise its help is shown)."""
    return _normalize(path) in _data()["settings"]


def format_value(value: Any) -> str:
    """A setting value as short plain text: ``1e-4``, ``true``, ``512, 768``, ``not set``."""
    if value is None or isinstance(value, bool):
        return {None: "not set", True: "true", False: "false"}[value]
    if isinstance(value, float) and value != 0 and abs(value) < 1e-3:
        mantissa, exp = f"{value:.2e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value) or "none"
    return str(value) or "empty"


# ---- paths ----------------------------------------------------------------------------------------------------
def _normalize(path: str) -> str:
    return _INDEX.sub("[]", _PROCESS_PREFIX.sub("", path))


@cache
def _by_path() -> Mapping[str, Any]:
    return {s.path: s for s in settings()}


@lru_cache(maxsize=4096)
def step_of(path: str | None) -> str | None:
    """The wizard step that shows setting ``path`` (a misspelt key goes to its likely real key's step)."""
    if not path:
        return None
    path = _normalize(path)
    if path in _by_path():
        return _by_path()[path].step
    section, _, key = path.rpartition(".")
    real = suggest_key(section, key) if section else None
    return _by_path()[f"{section}.{real}"].step if real else None


def _label(path: str | None) -> str:
    found = _by_path().get(_normalize(path)) if path else None
    return found.label if found else (path or "job").rpartition(".")[2].replace("_", " ").capitalize()


def _value(job: Any, path: str) -> Any:
    """``job.get(path)`` with a section object read as the keys it sets (an untouched one reads as ``{}``)."""
    value = job.get(path)
    return value.model_dump(exclude_unset=True) if hasattr(value, "model_dump") else value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and bool not in (type(a), type(b)):
        try:
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
        except OverflowError:  # an integer past a float's range is close to nothing a float holds
            return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _plain(value: Any) -> str:
    """An enum-or-string severity or verdict as lower-case text."""
    return str(getattr(value, "value", value) or "").lower()


# ---- the panel ------------------------------------------------------------------------------------------------
def advise(job: Any, profile: Any, intent: Any, step: str, *, recommendation: Any = None, report: Any = None,
           prediction: Any = None, trainer: str = "upstream") -> Advice:
    """The advisor panel for page ``step`` of the wizard.

    Args:
        job: the job being edited (``get(path)``), or None before one exists.
        profile: the system profile (``vram_budget_gib``, ``unified_memory``, ``ram_total_gib``) or None.
        intent: the pre-flight answers (``experience`` sets the verbosity); None reads as beginner.
        step: a page of :data:`PAGES`.
        recommendation: ``job``, ``reasons`` (path -> ``value``, ``why``), ``fits``, ``why_not``.
        report: the validation report: ``issues`` with ``severity``, ``path``, ``message``, ``fix``, ``code``.
        prediction: the resource prediction (see :func:`performance_lines`).
        trainer: the trainer flavour whose settings are listed.

    Returns:
        The four sections, as plain text, in an :class:`Advice`.
    """
    experience = getattr(intent, "experience", None) or "beginner"
    _check(step, experience)
    model = identify(job) if job is not None else None
    spec = model.spec if model is not None else None
    value_of = job.get if job is not None else (lambda _path: None)
    notes = () if step in ("preflight", "review") else tuple(  # the settings the page shows (see settings.applies)
        SettingNote(s.path, s.label, advice_text_for(s.path, experience))
        for s in step_settings(step, common=True, trainer=trainer) if applies(s, value_of, spec))
    why_not = None
    if recommendation is not None and getattr(recommendation, "fits", True) is False:
        why_not = getattr(recommendation, "why_not", None) or "The recommendation could not make the job fit."
    return Advice(step, TITLES[step], experience, step_text(step, experience),
                  tuple(_facts(spec, profile, step, model)),
                  notes, tuple(_why(job, recommendation, step)), why_not, tuple(_warnings(report, step)),
                  tuple(performance_lines(prediction, profile)), tuple(plan_lines(recommendation, step)))


# the setting whose step shows a note of each kind (the review page shows every note)
_NOTE_PATHS = {"dop": "train.diff_output_preservation", "long_run": "train.steps", "ram": "model.low_vram",
               "batch": "train.batch_size"}


def plan_lines(recommendation: Any, step: str = "review") -> list[str]:
    """The recommendation's departures from the usual recipe (with their cost) and its notes, as text lines; on a
    step only those about its settings. Read duck-typed: ``departures`` (``paths``, ``text``) and ``notes``
    (``kind``, ``severity``, ``text``)."""
    lines = []
    recipe = getattr(getattr(recommendation, "recipe", None), "source", None)
    deps = [d for d in getattr(recommendation, "departures", None) or ()
            if step == "review" or any(step_of(p) == step for p in getattr(d, "paths", ()))]
    if deps and recipe and step == "review":
        lines.append(f"Compared with the usual recipe, {recipe}:")
    lines += [str(getattr(d, "text", "")) for d in deps]
    for note in getattr(recommendation, "notes", None) or ():
        if step == "review" or step_of(_NOTE_PATHS.get(getattr(note, "kind", ""), "")) == step:
            mark = "⚠ " if getattr(note, "severity", "") == "warning" else ""
            lines.append(mark + str(getattr(note, "text", "")))
    return lines


def _facts(spec: Any, profile: Any, step: str, model: Any = None) -> Iterable[str]:
    """Facts about the chosen model (its catalog spec) and the machine that bear on this page.

    A model the catalog does not list is named as the job names it, with what the wizard cannot do for it.
    """
    budget = getattr(profile, "vram_budget_gib", None)
    if step in ("preflight", "quantization", "memory") and budget is not None:
        shared = " (unified memory, shared with the system)" if getattr(profile, "unified_memory", False) else ""
        yield f"VRAM budget for training: {budget:.1f} GiB{shared}."
    if model is not None and step in ("preflight", "model", "review"):
        if spec is None:
            yield f"Model: {model.describe()}"
        if model.mismatch:
            yield model.mismatch
    if spec is None:
        return
    name = spec.label
    if step == "model":
        sizes = ((spec.params_b("denoiser"), "denoiser"), (spec.params_b("text_encoder"), "text encoder"))
        parts = ", ".join(f"{p:.1f} B parameters in the {w}" for p, w in sizes if p is not None)
        yield f"{name}: {'video' if spec.is_video else 'image'} model" + (f"; {parts}." if parts else ".")
        if spec.gated_url:
            yield f"Gated: accept the licence at {spec.gated_url} and log in with a Hugging Face token."
    if step in ("model", "resolution") and spec.native_resolution_note:
        yield f"Native resolution of {name}: {spec.native_resolution_note}."
    if step == "quantization":
        if not spec.quantization_supported:
            yield f"{name} cannot be quantized by ai-toolkit; this step does not apply."
        elif not spec.te_quantization_supported:
            yield f"The text encoder of {name} is not quantized."
        if spec.ara:
            yield "Accuracy-recovery adapters: " + ", ".join(f"{a.label} ({a.bits})" for a in spec.ara) + "."
    if step == "target" and "network.conv" in spec.hidden_sections:
        yield f"{name} has no convolution layers to adapt: the conv rank does not apply."
    if step in ("training", "sampling") and spec.flow_matching:
        yield f"{name} is a flow-matching model: noise scheduler and sampler must be flowmatch."
    if step == "model_specific":
        if spec.supports_layer_offloading:
            yield f"{name} supports layer offloading."
        if spec.default_frames:
            yield f"Video defaults for {name}: {spec.default_frames} frames at {spec.default_fps or '?'} fps."
        if spec.controls:
            yield f"{name} trains with control images ({', '.join(spec.controls)})."


def _why(job: Any, recommendation: Any, step: str) -> Iterable[WhyLine]:
    for path, reason in (getattr(recommendation, "reasons", None) or {}).items():
        if step == "review" or step_of(path) == step:
            recommended = getattr(reason, "value", None)
            yours = _value(job, _normalize(path)) if job is not None else recommended
            yield WhyLine(path, _label(path), yours, recommended, str(getattr(reason, "why", "") or ""),
                          changed=not _same(yours, recommended))


def _warnings(report: Any, step: str) -> list[WarningLine]:
    """This step's issues; on the review page every error and every issue no step shows."""
    lines = []
    for issue in getattr(report, "issues", None) or ():
        severity, path = _plain(getattr(issue, "severity", "warning")), getattr(issue, "field", None)
        page = step_of(path) if not getattr(issue, "process", 0) else None  # a later process entry: review only
        if page == step if step != "review" else (severity == "error" or page is None):
            lines.append(WarningLine(severity, path, _label(path), str(getattr(issue, "message", "")),
                                     getattr(issue, "fix", None) is not None, getattr(issue, "code", None)))
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(lines, key=lambda w: rank.get(w.severity, len(SEVERITIES)))


# ---- performance ----------------------------------------------------------------------------------------------
def format_gib(gib: float) -> str:
    """``17.8 GiB``; below 0.1 GiB in MiB."""
    return f"{gib * 1024:.0f} MiB" if 0 < gib < 0.1 else f"{gib:.1f} GiB"


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``1 h 05 min``, ``2 d 03 h``."""
    seconds = max(0, round(seconds))
    minutes = round(seconds / 60)
    hours, mins = divmod(minutes, 60)
    if seconds < 60 or minutes < 60:
        return f"{seconds} s" if seconds < 60 else f"{minutes} min"
    return f"{hours} h {mins:02d} min" if hours < 48 else f"{hours // 24} d {hours % 24:02d} h"


def format_rate(seconds: float) -> str:
    """Seconds per step: ``0.45 s/step``, ``1.9 s/step``, ``12 s/step``."""
    return f"{seconds:.{2 if seconds < 1 else 1 if seconds < 10 else 0}f} s/step"


def _reason(obj: Any, name: str, fallback: str = "not predicted") -> str:
    """Why ``obj.<name>`` is unknown: ``<name>_reason``, ``<stem>_reason``, or an ``unknown_reasons`` mapping."""
    stem = name.rsplit("_", 1)[0]
    for attr in (f"{name}_reason", f"{stem}_reason"):
        if getattr(obj, attr, None):
            return str(getattr(obj, attr))
    table = getattr(obj, "unknown_reasons", None)
    found = (table.get(name) or table.get(stem)) if isinstance(table, Mapping) else None
    return str(found) if found else fallback


def performance_lines(prediction: Any, profile: Any = None) -> list[PerfLine]:
    """The prediction as panel lines: peak VRAM of budget with band and verdict, largest parts, time, disk, RAM.

    Reads ``peak_vram_gib``, ``low_gib``, ``high_gib``, ``budget_gib``, ``verdict``, ``verdict_reason``,
    ``train.items`` (``name``, ``gib``, ``why``), ``step_seconds``, ``total_seconds``, ``disk`` (GiB or an
    object with ``total_gib``) and ``ram_peak_gib``; a None value reads "unknown — <its ``<name>_reason``>".
    """
    if prediction is None:
        return []
    p, lines = prediction, []

    def unknown(key: str, label: str, reason: str) -> None:
        lines.append(PerfLine(key, label, f"unknown — {reason}", known=False))

    peak, verdict = getattr(p, "peak_vram_gib", None), _plain(getattr(p, "verdict", "")).replace("_", " ")
    budget, verdict_reason = getattr(p, "budget_gib", None), getattr(p, "verdict_reason", None)
    budget = budget if budget is not None else getattr(profile, "vram_budget_gib", None)
    if peak is None:
        unknown("vram", "Peak VRAM", _reason(p, "peak_vram_gib", verdict_reason or "not predicted"))
    else:
        text = format_gib(peak) + (f" of {format_gib(budget)}" if budget is not None else "")
        text += f" ({verdict})" if verdict else ""
        low, high = getattr(p, "low_gib", None), getattr(p, "high_gib", None)
        text += f", likely {low:.1f}–{high:.1f} GiB" if low is not None and high is not None else ""
        text += f": {verdict_reason}" if verdict_reason and verdict not in ("", "fits") else ""
        lines.append(PerfLine("vram", "Peak VRAM", text))
    train = getattr(p, "train", None)
    for c in sorted(getattr(train, "items", None) or (), key=lambda c: -(c.gib or 0))[:TOP_COMPONENTS]:
        size = format_gib(c.gib) if c.gib is not None else "unknown"
        text = f"{size} — {c.why}" if getattr(c, "why", "") else size
        lines.append(PerfLine("component", str(c.name), text, known=c.gib is not None))
    step_s, total_s = getattr(p, "step_seconds", None), getattr(p, "total_seconds", None)
    if step_s is None:
        unknown("time", "Time", _reason(p, "step_seconds"))
    elif total_s is None:
        lines.append(PerfLine("time", "Time", f"{format_rate(step_s)}; total unknown — "
                              f"{_reason(p, 'total_seconds')}", known=False))
    else:
        lines.append(PerfLine("time", "Time", f"{format_rate(step_s)}, about {format_duration(total_s)} in total"))
    corr = getattr(p, "correction", None)  # this machine's run history, a layer over the prediction
    if corr is not None:
        lines.append(PerfLine("history", "This machine", correction_text(corr)))
    disk = getattr(p, "disk", None)
    disk_gib = disk if disk is None or isinstance(disk, (int, float)) else getattr(disk, "total_gib", None)
    if disk_gib is None:
        unknown("disk", "Disk", _reason(disk, "total_gib", _reason(p, "disk")))
    else:
        lines.append(PerfLine("disk", "Disk", f"{format_gib(disk_gib)} (caches, checkpoints, samples)"))
    ram, ram_total = getattr(p, "ram_peak_gib", None), getattr(getattr(profile, "ram_total_gib", None), "value", None)
    if ram is None:
        unknown("ram", "RAM peak", _reason(p, "ram_peak_gib"))
    else:
        of = f" of {format_gib(ram_total)}" if ram_total else ""
        lines.append(PerfLine("ram", "RAM peak", format_gib(ram) + of))
    return lines


def correction_text(corr: Any) -> str:
    """``corrected from 3 runs on this machine: +8 % VRAM, ×0.7 time → 19.4 GiB, 0.85 s/step``."""
    after = [format_gib(corr.peak_gib) if getattr(corr, "peak_gib", None) is not None else None,
             format_rate(corr.step_seconds) if getattr(corr, "step_seconds", None) is not None else None,
             f"about {format_duration(corr.total_seconds)} in total"
             if getattr(corr, "total_seconds", None) is not None else None]
    shown = ", ".join(a for a in after if a)
    return f"{corr.text}" + (f" → {shown}" if shown else "") + " (the uncorrected prediction is above)"


# ---- comparison -----------------------------------------------------------------------------------------------
def matters(path: str) -> bool:
    """Whether a different value of ``path`` changes memory, speed or quality (False for names, seeds, logs...)."""
    path, cosmetic = _normalize(path), _data()["cosmetic"]
    return path not in cosmetic["paths"] and not path.startswith(tuple(cosmetic["prefixes"]))


def compare(job: Any, recommendation: Any, *, trainer: str = "upstream") -> list[ComparisonRow]:
    """Your value against the recommended one: every setting that differs, plus every common setting.

    ``recommendation`` is a Recommendation (its ``job`` and ``reasons`` are read) or a plain recommended job.
    Rows come in the trainer's setting order; list items are compared at index 0.
    """
    rec_job = recommendation.job if hasattr(recommendation, "reasons") else recommendation
    reasons = getattr(recommendation, "reasons", None) or {}
    rows = []
    for s in settings():
        if trainer not in s.trainers:
            continue
        yours, recommended = _value(job, s.path), _value(rec_job, s.path)
        differs = not _same(yours, recommended)
        if differs or s.common:
            why = str(getattr(reasons.get(s.path), "why", "") or "")
            rows.append(ComparisonRow(s.path, s.label, yours, recommended, why, matters(s.path), differs))
    return rows
