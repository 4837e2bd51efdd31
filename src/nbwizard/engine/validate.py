"""Validation of a whole job before export: errors (block), warnings and suggestions, each with an optional fix.

Every check is a small rule function in a registry (``_rules_*.py``); each rule's docstring names the trainer
behaviour it encodes (a section of ``reference/aitk-schema.md`` or the ai-toolkit file it was read from). Rules
take a :class:`Context` and yield :class:`Issue` objects; :func:`validate` runs them all and collects everything.

A :class:`Fix` is data: a patch of ``(setting path, value or UNSET, dataset index)`` entries that
:func:`apply_fix` applies to a job, returning a new job. Predictions and dataset analyses are optional inputs,
read by attribute (``getattr`` with defaults), so this module imports neither the predictor nor the scanner.

Example:
    >>> from nbwizard import load_job
    >>> job = load_job({"job": "extension", "config": {"name": "x", "process": [{"type": "sd_trainer",
    ...     "model": {"name_or_path": "black-forest-labs/FLUX.1-dev", "arch": "flux"},
    ...     "datasets": [{"folder_path": "/data"}], "train": {"lr_scheduler": "step",
    ...     "noise_scheduler": "flowmatch"}}]}})
    >>> issue = validate(job).for_field("train.lr_scheduler")[0]
    >>> issue.code, issue.severity
    ('lr-scheduler-step', 'error')
    >>> apply_fix(job, issue.fix).get("train.lr_scheduler")
    'constant'
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import import_module
from typing import Any, Callable, Iterable, Iterator, Literal, Mapping, Sequence

from .job import MISSING, lookup

__all__ = ["UNSET", "Context", "Fix", "Issue", "Rule", "Severity", "ValidationReport", "apply_fix", "rules",
           "validate"]

log = logging.getLogger(__name__)

Severity = Literal["error", "warning", "suggestion"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "suggestion")
# modules that hold the rules, in the order their issues are listed
_RULE_MODULES = ("_rules_input", "_rules_config", "_rules_model", "_rules_values", "_rules_data")


class _Unset:
    """Marker for "remove this key" in a fix's patch (the trainer's default applies again)."""

    _instance: "_Unset | None" = None

    def __new__(cls) -> "_Unset":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __reduce__(self) -> str:
        return "UNSET"


UNSET = _Unset()


@dataclass(frozen=True)
class Fix:
    """A one-click repair: ``patch`` entries are ``(setting path, value or UNSET, dataset index)``."""

    label: str
    patch: tuple[tuple[str, Any, int], ...]

    @classmethod
    def of(cls, label: str, *entries: tuple) -> "Fix":
        """A fix from ``(path, value)`` or ``(path, value, index)`` entries."""
        return cls(label, tuple((e[0], e[1], e[2] if len(e) > 2 else 0) for e in entries))


@dataclass(frozen=True)
class Issue:
    """One finding: which setting, how bad, what and why in plain words, and how to fix it when that is known."""

    code: str                   # stable id, e.g. ``lr-scheduler-step``
    severity: Severity
    field: str                  # setting path, e.g. ``train.lr_scheduler`` or ``datasets[].resolution``
    message: str
    index: int | None = None    # the dataset (or sample) index for list sections
    fix: Fix | None = None
    process: int = 0            # the process entry (``config.process[i]``); fixes apply to process 0 only

    @property
    def location(self) -> str:
        """Where the setting sits, with its index: ``datasets[1].resolution`` (``config.process[1].…`` for a
        later process entry)."""
        where = self.field if self.index is None or "[]" not in self.field else \
            self.field.replace("[]", f"[{self.index}]", 1)
        return f"config.process[{self.process}].{where.removeprefix('process.')}" if self.process else where


@dataclass(frozen=True)
class ValidationReport:
    """Every issue of a job, errors first."""

    issues: tuple[Issue, ...] = ()

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "warning")

    @property
    def suggestions(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity == "suggestion")

    @property
    def ok(self) -> bool:
        """True when nothing blocks export (warnings and suggestions may remain)."""
        return not self.errors

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.issues)

    def for_field(self, path: str, index: int | None = None) -> tuple[Issue, ...]:
        """The issues about setting ``path`` (of dataset ``index`` when given)."""
        return tuple(i for i in self.issues if i.field == path and (index is None or i.index in (None, index)))

    def by_code(self, code: str) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.code == code)


_MISSING = MISSING


@dataclass
class Context:
    """What a rule reads: the job, the trainer flavour, and the optional profile, dataset and prediction."""

    job: Any
    trainer: str = "upstream"
    profile: Any = None
    dataset: Any = None
    prediction: Any = None
    data: dict = field(init=False)

    def __post_init__(self) -> None:
        self.data = self.job.to_dict()

    @cached_property
    def arch(self) -> Any:
        """The catalog entry of the job's arch, or None when the catalog has none."""
        from .arch import arch_of

        return arch_of(self.job)

    @cached_property
    def arch_id(self) -> str:
        """The backend arch id the trainer builds (``model.arch`` without its ``:variant``, or legacy flags)."""
        from .arch import arch_name

        name = arch_name(self.job).split(":", 1)[0]
        return "flux" if name == "flex1" else name

    def get(self, path: str, index: int = 0, default: Any = None) -> Any:
        """The effective value (the trainer default when unset); ``default`` for a path no setting describes."""
        try:
            return self.job.get(path, index)
        except (KeyError, TypeError, IndexError):
            return default

    def raw(self, path: str, index: int = 0, default: Any = _MISSING) -> Any:
        """The value the job itself writes at ``path``, or ``default`` (MISSING) when it writes none."""
        return lookup(self.data, path, index, default)

    def is_set(self, path: str, index: int = 0) -> bool:
        return self.raw(path, index) is not _MISSING

    @property
    def datasets(self) -> range:
        """Indices of the job's datasets."""
        return range(len(self.job.process.datasets or ()))

    @property
    def has_process(self) -> bool:
        config = self.data.get("config")
        return isinstance(config, dict) and bool(config.get("process"))

    def ui_default(self, path: str, fallback: Any = None) -> Any:
        """The trainer UI's value for ``path`` on this arch, else ``fallback``."""
        return self.arch.ui_defaults.get(path, fallback) if self.arch is not None else fallback


Rule = Callable[[Context], Iterable[Issue]]


def num(value: Any) -> float | None:
    """``value`` as a finite number, or None when it is not one: bools and strings are not numbers here, and
    neither are NaN, ±inf and integers too large for a float (:func:`unusable_number`; one rule reports those)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def unusable_number(value: Any) -> bool:
    """Whether ``value`` is a number no arithmetic can use: NaN, ±inf, or an integer past a float's range."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and num(value) is None


def shown(value: Any, limit: int = 40) -> str:
    """``value`` for a message: its repr, cut short (a 400-digit number or a pasted essay stays readable)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


@cache
def rules() -> tuple[Rule, ...]:
    """Every rule, in report order (the registry the tests iterate)."""
    found: list[Rule] = []
    for name in _RULE_MODULES:
        found.extend(import_module(f"{__package__}.{name}").RULES)
    return tuple(found)


def validate(job: Any, profile: Any = None, trainer: str = "upstream", *, dataset: Any = None,
             prediction: Any = None) -> ValidationReport:
    """Check ``job`` against the trainer's real rules; never raises for an odd job.

    Args:
        job: a :class:`~nbwizard.engine.job.Job`.
        profile: the system profile (VRAM / RAM budgets), optional.
        trainer: ``"upstream"`` or ``"extended"`` (the fork with batch auto-scaling and prefetch keys).
        dataset: a dataset analysis for ``datasets[0]``, or a sequence / mapping index -> analysis; an
            exception in place of an analysis (e.g. ``DatasetError``) means the folder could not be read.
        prediction: the resource prediction for this job and profile, optional.

    Returns:
        The report; ``report.ok`` is False when an error blocks export.
    """
    from .settings import TRAINERS

    if trainer not in TRAINERS:
        raise ValueError(f"unknown trainer flavour {trainer!r}; expected one of {', '.join(TRAINERS)}")
    if not is_training_job(job):
        kind = job.get("job")
        # extract / generate / mod jobs and the legacy 'train' job run other code than the extension trainers
        # these rules describe: say so once rather than judge them by the training job's rules
        return ValidationReport((Issue(
            "not-a-training-job", "warning", "job",
            f"This is a '{kind}' job. nbwizard checks, predicts and recommends ai-toolkit's training jobs "
            "('job: extension'); this one is kept exactly as written but not checked."),))
    issues = _run_rules(Context(job, trainer, profile, dataset, prediction))
    # ai-toolkit runs every process entry in turn: each later one is checked as if it were the only one, on the same
    # machine (its own prediction where the first entry's was given; the dataset analysis describes the first
    # entry's folders, so it is left out)
    from .predict import predict_or_none

    for n, view in _later_processes(job):
        later = Context(view, trainer, profile, None,
                        predict_or_none(view, profile) if profile is not None and prediction is not None else None)
        issues.extend(dataclasses.replace(i, process=n, fix=None) for i in _run_rules(later)
                      if i.code not in _JOB_WIDE_CODES and not i.field.startswith(_ROOT_FIELDS))
    order = {s: n for n, s in enumerate(SEVERITIES)}
    return ValidationReport(tuple(sorted(issues, key=lambda i: order[i.severity])))


# issues a later process entry's check repeats from the whole job's (root keys; unknown keys, listed for every
# process entry by the first check)
_JOB_WIDE_CODES = {"unknown-key", "unknown-key-typo", "env-placeholder", "value-not-json", "rule-failed"}
_ROOT_FIELDS = ("job", "config.", "meta.")


def _run_rules(ctx: Context) -> list[Issue]:
    issues: list[Issue] = []
    for rule in rules():
        try:
            issues.extend(rule(ctx))
        except Exception as exc:  # a rule bug must not hide the others; it is logged and shown, not swallowed
            log.error("validation rule %s failed: %s: %s", rule.__name__, type(exc).__name__, exc,
                      exc_info=log.isEnabledFor(logging.DEBUG))
            issues.append(Issue("rule-failed", "warning", "job",
                                f"The check '{rule.__name__}' could not run on this job ({type(exc).__name__}: "
                                f"{exc}); its findings are missing from this report."))
    return issues


def _later_processes(job: Any) -> Iterator[tuple[int, Any]]:
    """(n, a job whose only process entry is entry n) for each training process entry after the first."""
    data = job.to_dict()
    config = data.get("config")
    entries = config.get("process") if isinstance(config, dict) else None
    if not isinstance(entries, list):
        return
    for n, entry in enumerate(entries[1:], start=1):
        view = type(job).model_validate({**data, "config": {**config, "process": [entry]}})
        if is_training_job(view):
            yield n, view


def is_training_job(job: Any) -> bool:
    """Whether ``job`` runs one of ai-toolkit's training processes (what nbwizard describes and checks).

    Extract, generate and mod jobs, and the legacy ``train`` job with a non-extension process (``slider``), run
    other code; a misspelt job kind still counts as a training job (and is reported as an error).
    """
    from .settings import setting

    kind = job.get("job")
    if kind in ("extract", "generate", "mod"):
        return False
    return kind != "train" or job.get("process.type") in (setting("process.type").choices or ())


def apply_fix(job: Any, fix: Fix) -> Any:
    """A new job with ``fix``'s patch applied (``job`` itself is unchanged)."""
    for path, value, index in fix.patch:
        job = job.unset(path, index) if value is UNSET else job.set(path, value, index)
    return job


def dataset_inputs(dataset: Any) -> Mapping[int, Any]:
    """The ``dataset=`` argument as index -> analysis (or exception)."""
    if dataset is None:
        return {}
    if isinstance(dataset, Mapping):
        return {int(k): v for k, v in dataset.items()}
    if isinstance(dataset, Sequence) and not isinstance(dataset, (str, bytes)):
        return dict(enumerate(dataset))
    return {0: dataset}
