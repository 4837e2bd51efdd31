"""Which cloud or notebook service this runs on, from environment variables and DMI (/sys/class/dmi/id)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ._files import read_value
from .readings import Reading

# Services first: Colab runs on GCP and SageMaker on AWS, and the service is what the user chose.
# Each entry: provider, and a test on the environment that returns the variable that gave it away.
_SM_KEYS = ("SM_CURRENT_HOST", "SM_HOSTS", "SM_TRAINING_ENV", "SM_MODEL_DIR", "SM_NUM_GPUS", "SM_CHANNELS")


def _exact(*names: str):
    return lambda env: next((n for n in names if env.get(n)), None)


def _prefix(prefix: str, exclude: tuple[str, ...] = ()):
    return lambda env: next((n for n in sorted(env) if n.startswith(prefix) and n not in exclude), None)


ENV_RULES = (
    ("RunPod", _exact("RUNPOD_POD_ID")),
    ("Vast.ai", lambda env: _exact("VAST_CONTAINERLABEL")(env) or (_prefix("VAST_")(env) and _exact("CONTAINER_ID")(env))),
    ("Google Colab", _exact("COLAB_GPU", "COLAB_RELEASE_TAG")),
    ("Kaggle", _exact("KAGGLE_KERNEL_RUN_TYPE")),
    ("Paperspace", _prefix("PAPERSPACE_")),
    ("Amazon SageMaker", lambda env: _exact(*_SM_KEYS)(env) or _prefix("SAGEMAKER_")(env)),
)

# DMI: (provider, file, text it contains); all files are read lower-cased.
DMI_RULES = (
    ("AWS", "sys_vendor", "amazon ec2"),
    ("AWS", "bios_vendor", "amazon ec2"),
    ("GCP", "sys_vendor", "google"),
    ("GCP", "product_name", "google compute engine"),
    ("Lambda", "sys_vendor", "lambda"),
    ("Lambda", "board_vendor", "lambda"),
    ("Oracle Cloud", "chassis_asset_tag", "oraclecloud"),
    ("DigitalOcean", "sys_vendor", "digitalocean"),
    ("Hetzner", "sys_vendor", "hetzner"),
    ("Alibaba Cloud", "sys_vendor", "alibaba cloud"),
)
DMI_FILES = ("sys_vendor", "product_name", "bios_vendor", "board_vendor", "chassis_asset_tag")
AZURE_ASSET_TAG = "7783-7084-3265-9085-8269-3286-77"  # every Azure VM carries this chassis asset tag


def probe_cloud(env: Mapping[str, str], root: Path = Path("/")) -> Reading[str]:
    for provider, rule in ENV_RULES:
        hit = rule(env)
        if hit:
            return Reading.of(provider, "env", f"{hit} is set")
    dmi = {name: _read(root / "sys/class/dmi/id" / name) for name in DMI_FILES}
    if dmi["sys_vendor"] == "microsoft corporation" and dmi["product_name"] == "virtual machine":
        if dmi["chassis_asset_tag"] == AZURE_ASSET_TAG:
            return Reading.of("Azure", "dmi", "Azure chassis asset tag")
        return Reading.of("Azure", "dmi", "a Hyper-V virtual machine; Azure assumed (no Azure asset tag seen)")
    for provider, name, text in DMI_RULES:
        if text in (dmi[name] or ""):
            return Reading.of(provider, "dmi", f"DMI {name}: {dmi[name]}")
    if not any(dmi.values()):
        return Reading.unknown("dmi", "no cloud environment variables, and DMI (/sys/class/dmi/id) is not readable")
    seen = ", ".join(f"{k}={v!r}" for k, v in dmi.items() if v)
    return Reading.unknown("dmi", f"no cloud environment variables, and DMI names no known provider ({seen})")


def _read(path: Path) -> str | None:
    return (read_value(path) or "").lower() or None
