"""Named templates: the wizard's state saved as JSON under the user's config folder, listed, loaded, deleted.

The folder is ``templates`` in the user's config folder: ``$NBWIZARD_HOME`` when that variable is set, else the
platform's (``platformdirs``: ``~/.config/nbwizard`` on Linux, with ``$XDG_CONFIG_HOME`` honoured) — the same
folder for every page, kernel and notebook, so a template outlives the session that saved it. Writes are atomic; a
template is never replaced unless asked.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Mapping

_NAME = re.compile(r"^[\w][\w .,()+-]{0,79}$")


class TemplateError(ValueError):
    """A template that cannot be saved or read; the message says why."""


def templates_dir(base: str | os.PathLike[str] | None = None) -> Path:
    """``base`` when given (tests, a wizard made for another folder), else the user's templates folder."""
    if base is not None:
        return Path(base)
    from .runs._paths import config_dir

    return config_dir() / "templates"


def _path(name: str, folder: Path) -> Path:
    if not _NAME.match(name or "") or name.strip() != name:
        raise TemplateError(f"{name!r} is not a usable template name: use letters, digits, spaces and . , ( ) + -")
    return folder / f"{name}.json"


def save_template(name: str, data: Mapping[str, Any], folder: str | os.PathLike[str] | None = None,
                  overwrite: bool = False) -> Path:
    directory = templates_dir(folder)
    target = _path(name, directory)
    if target.exists() and not overwrite:
        raise FileExistsError(f"a template named {name!r} exists; choose another name or allow replacing it")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tpl.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"nbwizard_template": 1, "name": name, **data}, fh, indent=1, default=str)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def list_templates(folder: str | os.PathLike[str] | None = None) -> list[str]:
    directory = templates_dir(folder)
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.json") if not p.name.startswith("."))


def load_template(name: str, folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    path = _path(name, templates_dir(folder))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TemplateError(f"no template named {name!r}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TemplateError(f"template {name!r} cannot be read: {exc}") from None
    if not isinstance(data, dict) or data.get("nbwizard_template") != 1 or not isinstance(data.get("job"), dict):
        raise TemplateError(f"{path} is not an nbwizard template")
    return data


def delete_template(name: str, folder: str | os.PathLike[str] | None = None) -> None:
    path = _path(name, templates_dir(folder))
    try:
        path.unlink()
    except FileNotFoundError:
        raise TemplateError(f"no template named {name!r}") from None
