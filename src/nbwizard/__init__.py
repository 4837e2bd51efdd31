"""nbwizard: a guided configuration wizard for training LoRA adapters of diffusion models with ai-toolkit.

The public API is imported lazily, so ``import nbwizard`` stays fast and never imports torch or ipywidgets.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "settings": "nbwizard.engine.settings",
    "setting": "nbwizard.engine.settings",
    "STEPS": "nbwizard.engine.settings",
    "Setting": "nbwizard.engine.settings",
    "Job": "nbwizard.engine.job",
    "UnknownKey": "nbwizard.engine.job",
    "load_job": "nbwizard.engine.yamlio",
    "dump_job": "nbwizard.engine.yamlio",
    "save_job": "nbwizard.engine.yamlio",
    "JobError": "nbwizard.engine.yamlio",
    "models": "nbwizard.engine.models",
    "model_info": "nbwizard.engine.models",
    "ModelSpec": "nbwizard.engine.models",
    "UnknownModelError": "nbwizard.engine.models",
    "gpus": "nbwizard.engine.gpus",
    "find_gpu": "nbwizard.engine.gpus",
    "GpuSpec": "nbwizard.engine.gpus",
    "UnknownGpuError": "nbwizard.engine.gpus",
    "SystemProfile": "nbwizard.engine.profile",
    "detect_system": "nbwizard.engine.profile",
    "Wizard": "nbwizard.widgets.app",
    "predict": "nbwizard.engine.predict",
    "Prediction": "nbwizard.engine.predict",
    "validate": "nbwizard.engine.validate",
    "apply_fix": "nbwizard.engine.validate",
    "ValidationReport": "nbwizard.engine.validate",
    "recommend": "nbwizard.engine.recommend",
    "Recommendation": "nbwizard.engine.recommend",
    "advise": "nbwizard.engine.advisor",
    "compare": "nbwizard.engine.advisor",
    "Intent": "nbwizard.engine.intent",
    "analyze_dataset": "nbwizard.engine.dataset",
    "DatasetInfo": "nbwizard.engine.dataset",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nbwizard' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
