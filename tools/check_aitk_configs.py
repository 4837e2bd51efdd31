"""Construct every default plan in ai-toolkit's own config classes: the plans are jobs the trainer accepts.

For each catalog arch x card (12 / 24 / 80 GB) x priority, the recommended job is dumped to YAML, read back as
ai-toolkit reads a job file, and each section is built with ``toolkit/config_modules.py``'s classes (ModelConfig,
TrainConfig, NetworkConfig, SaveConfig, SampleConfig, DatasetConfig, LoggingConfig), which raise on what the trainer
cannot run. CI does not run it (it needs an ai-toolkit checkout and torch); it prints one line per failure and a
count.

    python tools/check_aitk_configs.py /path/to/ai-toolkit      # in a venv with torch, diffusers, transformers

Imports the config module pulls in for other purposes (audio, video decoding, optional optimizers and quantizers)
are replaced by empty modules when they are not installed: constructing a config never calls them.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

OPTIONAL = ("torchaudio", "torchvision", "av", "mutagen", "lycoris", "optimum", "bitsandbytes", "prodigyopt",
            "k_diffusion", "kornia", "controlnet_aux", "imwatermark", "open_clip", "timm", "lpips", "torchao", "peft")
CARDS = ("RTX 3060 12GB", "RTX 4090", "A100 80GB")
PRIORITIES = ("quality", "speed", "memory")


class _Empty(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Empty(name)

    def __call__(self, *args, **kwargs):
        return _Empty("call")

    def __mro_entries__(self, bases):
        return (object,)


class _EmptyLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return _Empty(spec.name)

    def exec_module(self, module):
        pass


class _Optional(importlib.abc.MetaPathFinder):
    """Empty modules for the optional imports given (and their submodules)."""

    def __init__(self, names: set[str]):
        self.names = names

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in self.names:
            return importlib.machinery.ModuleSpec(name, _EmptyLoader(), is_package=True)
        return None


def _usable(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except Exception:  # missing, or installed but broken against this torch (torchvision's nms operator)
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("aitk", type=Path, help="an ai-toolkit checkout")
    args = parser.parse_args(argv)
    empty = {n for n in OPTIONAL if not _usable(n)}
    sys.meta_path.insert(0, _Optional(empty))
    sys.path.insert(0, str(args.aitk))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import yaml
    from toolkit import config_modules as C

    import nbwizard
    from nbwizard.engine.intent import Intent
    from nbwizard.engine.recommend import recommend

    sections = (("model", C.ModelConfig), ("train", C.TrainConfig), ("network", C.NetworkConfig),
                ("save", C.SaveConfig), ("sample", C.SampleConfig), ("logging", C.LoggingConfig))
    ok = failed = 0
    for card in CARDS:
        profile = nbwizard.SystemProfile.for_gpu(card, ram_gb=64)
        for spec in nbwizard.models():
            for priority in PRIORITIES:
                rec = recommend(profile, Intent("person", priority), spec.arch)
                process = yaml.safe_load(nbwizard.dump_job(rec.job))["config"]["process"][0]
                try:
                    for key, cls in sections:
                        cls(**(process.get(key) or {}))
                    for dataset in process.get("datasets") or []:
                        C.DatasetConfig(**dataset)
                    ok += 1
                except Exception as exc:  # what the trainer would raise at start
                    failed += 1
                    print(f"FAIL {card} {spec.arch} {priority}: {type(exc).__name__}: {exc}")
    print(f"{ok} plans construct, {failed} fail (empty modules for: {', '.join(sorted(empty)) or 'none'})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
