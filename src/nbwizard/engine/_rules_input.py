"""Validation rules for values the trainer cannot use although they load: names that become folders, numbers that
are not numbers (NaN, ±inf, past 64 bits), values JSON cannot carry, preview sizes, ``${VAR}`` placeholders.

Sources (ai-toolkit upstream 27a03a91): ``toolkit/config.py`` (``get_config`` replaces ``${VAR}`` in the file's text,
then ``preprocess_config`` passes the job through ``json.dumps`` and replaces ``[name]`` in that JSON text);
``jobs/BaseJob.py`` / ``jobs/process/BaseProcess.py`` (``config.name`` and a process's ``name`` become
``<training_folder>/<name>/``); ``jobs/process/BaseSDTrainProcess.py`` (checkpoints ``<name>_<step>.safetensors``,
old ones found with ``glob('<name>_*')``); ``toolkit/config_modules.py`` ``GenerateImageConfig`` (preview sizes).
"""

from __future__ import annotations

import datetime
import math
import re
import unicodedata
from typing import Any, Iterator

from .job import FREE_SECTIONS, INT64_MAX
from .paths import FILE_NAME_BYTES, safe_file_name
from .settings import find_setting, section_settings, settings
from .validate import UNSET, Context, Fix, Issue, num, shown

# float settings where infinity means "no limit" to the trainer: clip_grad_norm_(max_norm=inf) does not clip,
# and a loss is never above max_loss=inf
_INF_MEANS_NO_LIMIT = {"train.max_grad_norm", "train.max_loss"}
_WINDOWS_RESERVED = set('<>:"|?*')
_GLOB = set("*?[]")
_PREVIEW_MIN = 64     # GenerateImageConfig: width = max(64, width - width % 8)
_FREE_DICTS = tuple(sorted(FREE_SECTIONS - {"meta"} | {s.path for s in settings() if s.kind == "free_dict"}))


# ---- names that become folders and files --------------------------------------------------------------------------
def name_problems(name: str, uses_name_tag: bool = False) -> tuple[list[str], list[str]]:
    """What breaks (errors) and what is risky (warnings) in ``name`` as the trainer's folder and file name."""
    errors, warnings = [], []
    if name.strip() in (".", ".."):
        errors.append(f"'{name.strip()}' names the training folder itself (or its parent), not a folder in it")
    if "/" in name or "\\" in name:
        errors.append("it holds a path separator (/ or \\), so the output lands in another folder than its own")
    controls = sorted({c for c in name if unicodedata.category(c) in ("Cc", "Zl", "Zp")})
    if controls:
        errors.append(f"it holds a control character ({', '.join(repr(c)[1:-1] for c in controls[:3])}): a line "
                      "break or similar in a folder name breaks logs and scripts, and a saved job could run "
                      "commands in a shell")
    if len(name.encode("utf-8", "surrogatepass")) > FILE_NAME_BYTES:
        errors.append(f"it is {len(name.encode('utf-8', 'surrogatepass'))} bytes long; with the checkpoint suffix "
                      "(_000001000.safetensors) a file name must stay under 255 bytes")
    if uses_name_tag and '"' in name:
        errors.append("it holds a double quote, and the job uses [name]: the trainer pastes the name into the job's "
                      "JSON text, which a quote breaks (it stops at start)")
    reserved = sorted(c for c in set(name) & (_WINDOWS_RESERVED | _GLOB) if not (c == '"' and uses_name_tag))
    if reserved:
        warnings.append(f"it holds {' '.join(reserved)}: Windows cannot create such a folder, and the trainer finds "
                        "old checkpoints with a wildcard pattern of the name, so * ? [ ] keep it from removing "
                        "them (or make it remove another run's)")
    if name != name.rstrip(" .") and not errors:
        warnings.append("it ends with a space or a dot, which Windows drops from folder names")
    return errors, warnings


def job_names(ctx: Context) -> Iterator[Issue]:
    """config.name and a process's name become ``<training_folder>/<name>/`` and ``<name>_<step>.safetensors``:
    a name the file system (or a shell reading the saved job) takes differently is an error, with a safe name."""
    uses_tag = _mentions(ctx.data, "[name]")
    for path in ("config.name", "process.name"):
        value = ctx.raw(path, default=None)
        if not isinstance(value, str) or not value.strip():
            continue  # a missing name is the required-keys rule's
        errors, warnings = name_problems(value, uses_tag)
        key = path.split(".")[-1] if path == "config.name" else "process name"
        safe = safe_file_name(value)
        fix = Fix.of(f"Use {safe!r}", (path, safe))
        if errors:
            yield Issue("name-unsafe", "error", path,
                        f"The {key} {shown(value)} cannot name the output folder: {'; '.join(errors)}.", fix=fix)
        elif warnings:
            yield Issue("name-risky", "warning", path, f"The {key} {shown(value)} may cause trouble: "
                        f"{'; '.join(warnings)}.", fix=fix)


def _mentions(data: Any, text: str) -> bool:
    return any(isinstance(v, str) and text in v for _, v in _leaves(data))


# ---- numbers ------------------------------------------------------------------------------------------------------
def number_values(ctx: Context) -> Iterator[Issue]:
    """A number setting holding NaN trains on NaN (every loss and weight becomes NaN); ±inf where no limit is
    meant, or an integer past 64 bits (steps, seeds, sizes go to torch), stops the run or trains garbage.
    ai-toolkit's loader reads ``.nan`` / ``.inf`` as floats and passes them on unchecked."""
    for s, index, value in _written_settings(ctx):
        kinds = s.type.split("|")
        if s.path in _FREE_DICTS and isinstance(value, dict):
            for key, item in value.items():
                why = _bad_number(item, s.path, False) if isinstance(key, str) else None
                if why:
                    yield Issue("number-unusable", "error", s.path, f"{s.key}.{key} is {why}.",
                                fix=Fix.of(f"Remove {key}", (f"{s.path}.{key}", UNSET)) if "." not in key else None)
            continue
        if not {"int", "float", "list[int]", "list[float]"} & set(kinds):
            continue
        why = next((w for w in (_bad_number(v, s.path, "int" in kinds[0]) for v in (
            value if isinstance(value, list) else [value])) if w), None)
        if why:
            default = s.default if num(s.default) is not None or isinstance(s.default, list) else None
            fix = Fix.of(f"Use the default ({default})", (s.path, default, index)) if default is not None else \
                Fix.of(f"Remove {s.key} (the trainer's default applies)", (s.path, UNSET, index))
            yield Issue("number-unusable", "error", s.path, f"{s.key} is {why}.",
                        index=index if "[]" in s.path else None, fix=fix)


def _written_settings(ctx: Context) -> Iterator[tuple[Any, int, Any]]:
    """(setting, list index, value) for every described setting the first process entry writes, each list item
    (``datasets[]``, ``sample.samples[]``) with its index: one pass over what is written, not over every setting."""
    config = ctx.data.get("config")
    entries = config.get("process") if isinstance(config, dict) else None
    if not (isinstance(entries, list) and entries and isinstance(entries[0], dict)):
        return
    stack: list[tuple[dict, str, int]] = [(entries[0], "", 0)]
    while stack:
        node, prefix, index = stack.pop()
        for key, value in node.items():
            if not isinstance(key, str):
                continue
            path = f"process.{key}" if not prefix and find_setting(f"process.{key}") is not None else f"{prefix}{key}"
            found = find_setting(path)
            if found is not None:
                yield found, index, value
            if isinstance(value, dict) and (found is None or found.kind != "free_dict") and \
                    path not in _FREE_DICTS:
                stack.append((value, f"{path}.", index))
            elif isinstance(value, list) and section_settings(f"{path}[]"):
                stack.extend((item, f"{path}[].", i) for i, item in enumerate(value) if isinstance(item, dict))


def _bad_number(value: Any, path: str, integer: bool) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and math.isnan(value):
        return "NaN (not a number): the trainer would compute with it and every result would be NaN"
    if isinstance(value, float) and math.isinf(value) and path not in _INF_MEANS_NO_LIMIT:
        return f"{'minus ' if value < 0 else ''}infinity, which the trainer cannot use here"
    if isinstance(value, int) and integer and abs(value) > INT64_MAX:
        return f"{shown(value, 24)}, too large for the trainer: integers past 2⁶³ do not fit in torch's numbers"
    if isinstance(value, int) and num(value) is None:
        return f"{shown(value, 24)}, too large for any floating-point number (the trainer computes with floats)"
    return None


def preview_sizes(ctx: Context) -> Iterator[Issue]:
    """GenerateImageConfig: each preview side becomes max(64, side rounded down to a multiple of 8), so a width of
    0 (or any size under 64) silently renders 64 px previews."""
    for path in ("sample.width", "sample.height", "sample.samples[].width", "sample.samples[].height"):
        for i in _items(ctx, path):
            value = num(ctx.raw(path, i, default=None))
            if value is not None and value < _PREVIEW_MIN:
                good = ctx.ui_default(path.replace("samples[].", ""), None) or 1024
                yield Issue("preview-size-small", "warning", path,
                            f"{path.split('.')[-1]} {value:g} is under {_PREVIEW_MIN}: the trainer renders previews "
                            f"{_PREVIEW_MIN} px wide/high instead (it never goes below {_PREVIEW_MIN}).",
                            index=i if "[]" in path else None, fix=Fix.of(f"Use {good}", (path, good, i)))


# ---- values JSON cannot carry, ${VAR} -----------------------------------------------------------------------------
def json_values(ctx: Context) -> Iterator[Issue]:
    """toolkit/config.py preprocess_config: json.dumps(job) raises TypeError on a date, so an unquoted
    ``2024-05-01`` anywhere (the YAML loader reads it as a date) stops the trainer before it starts."""
    for loc, value in _leaves(ctx.data, keys=True):
        if isinstance(value, (datetime.date, datetime.datetime)):
            where = _where(loc)
            target = _setting_path(loc)
            fix = Fix.of(f"Write it as the text '{value}'", (target[0], str(value), target[1])) \
                if target and loc and loc[-1] is not _KEY else None
            yield Issue("value-not-json", "error", target[0] if target else "job",
                        f"{where} is written {value} without quotes, so it reads as a date; the trainer passes the "
                        "job through JSON, which cannot hold a date, and stops at start. Write it in quotes.",
                        index=target[1] if target and "[]" in target[0] else None, fix=fix)


def env_placeholders(ctx: Context) -> Iterator[Issue]:
    """toolkit/config.py replace_env_vars_in_string: ``${VAR}`` anywhere in the file is replaced with the
    environment variable VAR when the trainer reads it, and the run stops (ValueError) when VAR is not set."""
    found = sorted({m for _, v in _leaves(ctx.data) if isinstance(v, str) for m in _ENV.findall(v)})
    if found:
        names = ", ".join("${" + n + "}" for n in found[:5]) + (" ..." if len(found) > 5 else "")
        yield Issue("env-placeholder", "warning", "job",
                    f"The job holds {names}: ai-toolkit replaces each with that environment variable when it reads "
                    "the file, and stops if one is not set on the machine that trains.")


_ENV = re.compile(r"\$\{([^}]+)\}")
_KEY = object()  # marks a location that is a key, not a value


def _items(ctx: Context, path: str) -> range:
    """Indices of the list items ``path`` lives in (``datasets[]``, ``sample.samples[]``); range(1) otherwise."""
    if "[]" not in path:
        return range(1)
    items = ctx.raw(path.split("[]", 1)[0], default=None)
    return range(len(items)) if isinstance(items, list) else range(0)


def _leaves(data: Any, keys: bool = False) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(location, value) of every scalar in plain job data, and of every key with ``keys``."""
    stack: list[tuple[tuple[Any, ...], Any]] = [((), data)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                if keys:
                    yield loc + (k, _KEY), k
                stack.append((loc + (k,), v))
        elif isinstance(value, list):
            stack.extend((loc + (i,), v) for i, v in enumerate(value))
        else:
            yield loc, value


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part is _KEY:
            out += " (a key)"
        else:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _setting_path(loc: tuple[Any, ...]) -> tuple[str, int] | None:
    """The (setting path, list index) that writes location ``loc`` of process 0 or of meta / config, if any."""
    parts = [p for p in loc if p is not _KEY]
    if len(parts) >= 2 and parts[0] in ("meta", "config") and parts[1] != "process":
        head, rest = parts[0], parts[1:]
    elif parts[:3] == ["config", "process", 0] and len(parts) > 3:
        head, rest = "", parts[3:]
    else:
        return None
    out, index = [head] if head else [], 0
    for n, part in enumerate(rest):
        if isinstance(part, int):
            if n == 0 or not isinstance(rest[n - 1], str) or out[-1].endswith("[]") or index:
                return None
            out[-1] += "[]"
            index = part
        elif not isinstance(part, str) or not part or any(c in part for c in ".[]"):
            return None
        else:
            out.append(part)
    return ".".join(out), index


RULES = (job_names, number_values, preview_sizes, json_values, env_placeholders)
