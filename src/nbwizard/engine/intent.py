"""What the user is training and what matters to them: the pre-flight questions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

TrainingType = Literal["person", "pet", "style", "object", "concept", "other"]
Priority = Literal["quality", "speed", "memory"]
Experience = Literal["beginner", "intermediate", "advanced"]

TRAINING_TYPES: tuple[str, ...] = get_args(TrainingType)
PRIORITIES: tuple[str, ...] = get_args(Priority)
EXPERIENCE_LEVELS: tuple[str, ...] = get_args(Experience)


@dataclass(frozen=True)
class Intent:
    """The answers to "what are you training", "what is your priority" and "how experienced are you"."""

    training_type: TrainingType = "person"
    priority: Priority = "quality"
    experience: Experience = "beginner"

    def __post_init__(self) -> None:
        for value, allowed, name in ((self.training_type, TRAINING_TYPES, "training type"),
                                     (self.priority, PRIORITIES, "priority"),
                                     (self.experience, EXPERIENCE_LEVELS, "experience")):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")
