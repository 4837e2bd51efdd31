"""Where runs live on this machine: the user's config folder (the remembered checkout) and data folder (history,
run records and their console logs).

``$NBWIZARD_HOME`` puts both under one folder (tests, and people who keep everything together); otherwise the
platform's folders from ``platformdirs`` (``~/.config/nbwizard`` and ``~/.local/share/nbwizard`` on Linux).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

APP = "nbwizard"


def config_dir() -> Path:
    """The folder for small settings such as the remembered ai-toolkit checkout."""
    if os.environ.get("NBWIZARD_HOME"):
        return Path(os.environ["NBWIZARD_HOME"])
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    """The folder for the run history database and each run's folder."""
    if os.environ.get("NBWIZARD_HOME"):
        return Path(os.environ["NBWIZARD_HOME"]) / "data"
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP, appauthor=False))


def runs_dir() -> Path:
    """One folder per run: ``record.json`` and ``console.log``."""
    return data_dir() / "runs"


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` atomically (a reader never sees half a file; a crash leaves the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(dict(data), fh, indent=1, default=str)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when it is missing or unreadable (never raises)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
