"""Every setting ai-toolkit reads, described once: type, default, choices, help, wizard step, flavours.

The descriptions live in ``data/settings.json`` (one record per setting). Forms, validation, YAML comments and the
typed job model are all generated from them; nothing else in the package restates a setting's facts.

Paths are dotted, relative to one process entry of the job, with ``[]`` for list items: ``train.lr``,
``datasets[].resolution``, ``sample.samples[].prompt``. Three paths sit above the process entry: ``job``,
``config.*`` and ``meta.*``; ``process.*`` are keys of the process entry itself.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Callable, Mapping

_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)(?<!etc)(?<!vs)\.\s")

_SUGGEST_KEY_CHARS = 64

TRAINERS = ("upstream", "extended")
"""Trainer flavours: upstream ai-toolkit, and the extended fork that adds batch auto-scaling and prefetch keys."""


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    summary: str


STEPS: tuple[Step, ...] = (
    Step("model", "Model", "Which base model is trained, where its weights come from and in which precision."),
    Step("quantization", "Quantization", "Storing frozen weights in fewer bits so a large model fits in memory."),
    Step("target", "Target", "What is trained: LoRA or LoKr, its rank and alpha, and which layers it touches."),
    Step("dataset", "Dataset", "Where the images and captions are, the trigger word and the default caption."),
    Step("resolution", "Resolution & augmentation", "Training resolutions, buckets, flips and latent caching."),
    Step("memory", "Memory & batch", "Batch size, accumulation, checkpointing, caching and data-loader workers."),
    Step("optimizer", "Optimizer & learning rate", "The optimizer, its learning rate and the schedule."),
    Step("regularization", "Regularization", "Keeping the base model's knowledge: DOP, BPP, EMA, caption dropout."),
    Step("training", "Training core", "Steps, timestep sampling, content/style bias and the loss."),
    Step("sampling", "Sampling", "Preview images rendered during training: cadence, size, prompts."),
    Step("saving", "Saving & output", "Job name, output folder, checkpoint cadence and how many to keep."),
    Step("model_specific", "Model-specific", "Layer offloading, video frames and fps, control images, multistage."),
)
STEP_IDS = tuple(s.id for s in STEPS)


@dataclass(frozen=True)
class Setting:
    """One key of an ai-toolkit job, as the trainer reads it."""

    path: str
    type: str
    default: Any
    help: str
    step: str
    common: bool
    trainers: tuple[str, ...]
    other_jobs: bool = False  # serves jobs other than a LoRA (sliders, adapters, embeddings...)
    kind: str = "leaf"
    choices: tuple[Any, ...] | None = None
    ui_default: Any = None
    required: bool = False
    raises: str | None = None
    effective: bool = True
    ui_condition: str | None = None
    aliases: tuple[str, ...] = ()
    label: str = ""
    applies: "Applies | None" = None
    falls_back_to: str | None = None
    section: str = field(init=False)
    key: str = field(init=False)

    def __post_init__(self) -> None:
        section, _, key = self.path.rpartition(".")
        object.__setattr__(self, "section", section or "job")
        object.__setattr__(self, "key", key)
        if not self.label:
            object.__setattr__(self, "label", key.replace("_", " ").capitalize())

    @property
    def summary(self) -> str:
        """The first sentence of the help text, for one-line comments and tooltips (cut at a word, never in one)."""
        text = _SENTENCE_END.split(self.help, maxsplit=1)[0].rstrip(".")
        if len(text) <= SUMMARY_LIMIT:
            return text
        cut = text[:SUMMARY_LIMIT - 3].rsplit(" ", 1)[0].rstrip(" ,;:(")
        return cut + "..."

    @property
    def is_number(self) -> bool:
        """A plain number (possibly left out): forms show a blank box for "the trainer's default"."""
        return self.type in ("int", "float", "int|null", "float|null")

    @property
    def nullable(self) -> bool:
        return "null" in self.type.split("|") or self.default is None

    @property
    def upstream(self) -> bool:
        return "upstream" in self.trainers


SUMMARY_LIMIT = 110  # characters: one line of a YAML comment or a form's help line


@dataclass(frozen=True)
class Applies:
    """When a setting means something, as the trainer's UI decides it (``applies`` in ``data/settings.json``).

    ``arch_adds``: only for models whose UI sections list it (video frames, control images...);
    ``arch_removes``: not for models that disable one of these sections (conv rank on a DiT);
    ``video``: video models only; ``when``: only while another setting holds one of the values (LoKr factor).
    """

    arch_adds: str | None = None
    arch_removes: tuple[str, ...] = ()
    video: bool = False
    when: Mapping[str, tuple[Any, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def holds(self, value_of: Callable[[str], Any], model: Any) -> bool:
        """Whether the setting applies, given the job's values (``value_of(path)``) and the model's catalog
        entry (``additional_sections``, ``hidden_sections``, ``is_video``; None when the model is unknown)."""
        if model is not None:
            if self.arch_adds is not None and self.arch_adds not in model.additional_sections:
                return False
            if any(section in model.hidden_sections for section in self.arch_removes):
                return False
            if self.video and not model.is_video:
                return False
        return all(value_of(path) in values for path, values in self.when.items())


def _to_setting(record: Mapping[str, Any]) -> Setting:
    data = dict(record)
    for key in ("trainers", "aliases", "choices"):
        if data.get(key) is not None:
            data[key] = tuple(data[key])
    if data.get("applies") is not None:
        rule = data["applies"]
        data["applies"] = Applies(rule.get("arch_adds"), tuple(rule.get("arch_removes", ())), bool(rule.get("video")),
                                  MappingProxyType({p: tuple(v) for p, v in rule.get("when", {}).items()}))
    return Setting(**data)


def applies(s: Setting, value_of: Callable[[str], Any], model: Any) -> bool:
    """Whether setting ``s`` means something for this job and model (see :class:`Applies`)."""
    return s.applies is None or s.applies.holds(value_of, model)


@cache
def settings() -> tuple[Setting, ...]:
    """Every setting, in the trainer's section order."""
    raw = resources.files("nbwizard.engine").joinpath("data/settings.json").read_text(encoding="utf-8")
    return tuple(_to_setting(r) for r in json.loads(raw))


@cache
def _by_path() -> dict[str, Setting]:
    return {s.path: s for s in settings()}


@cache
def _by_section() -> dict[str, dict[str, Setting]]:
    out: dict[str, dict[str, Setting]] = {}
    for s in settings():
        out.setdefault(s.section, {})[s.key] = s
    return out


def setting(path: str) -> Setting:
    """The setting at ``path``; raises ``KeyError`` with close matches for an unknown path."""
    try:
        return _by_path()[path]
    except KeyError:
        close = difflib.get_close_matches(path, list(_by_path()), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown setting {path!r}{hint}") from None


def find_setting(path: str) -> Setting | None:
    """The setting at ``path``, or None (no error, no close-match search: for hot paths)."""
    return _by_path().get(path)


def section_settings(section: str) -> Mapping[str, Setting]:
    """The settings of one section (``train``, ``datasets[]``...) keyed by their key."""
    return _by_section().get(section, {})


def step_settings(step: str, *, common: bool | None = None, trainer: str | None = "upstream") -> tuple[Setting, ...]:
    """The settings of a wizard step read by ``trainer`` (any flavour when None), optionally only the common
    (or only the "more settings") ones."""
    if step not in STEP_IDS:
        raise KeyError(f"unknown step {step!r}; steps are {', '.join(STEP_IDS)}")
    return tuple(
        s for s in settings()
        if s.step == step and (trainer is None or trainer in s.trainers) and (common is None or s.common == common)
    )


@lru_cache(maxsize=4096)
def suggest_key(section: str, key: str) -> str | None:
    """The real key of ``section`` a stray ``key`` most likely meant (alias first, then spelling); remembered, as
    the job model, the validation and the advisor ask for the same key (a search costs ~1 ms)."""
    if not isinstance(key, str) or len(key) > _SUGGEST_KEY_CHARS:
        return None  # no setting's key is that long: a pasted paragraph is nobody's typo
    known = section_settings(section)
    for s in known.values():
        if key in s.aliases:
            return s.key
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
    return close[0] if close else None
