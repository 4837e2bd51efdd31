"""Reading and writing ai-toolkit job files (YAML or JSON): safe, lossless, commented, atomic.

* ``load_job`` reads with a safe loader that also reads ``1e-4`` as a number (plain YAML 1.1 reads it as a
  string; ai-toolkit's own loader adds the same rule), takes merge keys (``<<: *defaults``) as ai-toolkit's loader
  does, refuses duplicate keys, and reports any problem with the line it is on. Hostile files (huge, deeply nested,
  alias bombs, pipes and devices) are refused cheaply, naming the limit (:mod:`._yaml_read`). Nothing is
  half-loaded: it returns a whole job or raises :class:`JobError`.
* ``dump_job`` writes YAML that ai-toolkit's loader reads back exactly, that a shell cannot run
  (:mod:`._yaml_write`), in a stable key order, with a one-line comment per setting taken from its description.
* ``save_job`` writes through a temporary file and a rename, and never replaces a file unless told to.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator, Mapping

from pydantic import BaseModel, ValidationError

from ._yaml_read import MAX_DEPTH, MAX_JOB_BYTES, MAX_NODES, JobError, Problem, _Loader, parse, read_source
from ._yaml_write import UnwritableValue, scalar as _scalar
from .job import FREE_SECTIONS, ROOT_SECTIONS, SUGGEST_MAX_KEYS, JobBase, has_surrogate, job_model
from .paths import user_path
from .settings import find_setting, section_settings, suggest_key

__all__ = ["MAX_DEPTH", "MAX_JOB_BYTES", "MAX_NODES", "JobError", "Problem", "UnwritableValue", "dump_job",
           "load_job", "save_job", "_Loader", "_scalar"]


# -- loading --------------------------------------------------------------------------------------------------

def load_job(source: str | os.PathLike[str] | Mapping[str, Any], *, as_text: bool | None = None) -> JobBase:
    """Read an ai-toolkit job from a file path, YAML/JSON text, or a dict.

    A ``Path`` is always a file; a string is YAML text when it holds a line break, starts with ``{`` or reads
    ``key: value`` (and names no file), else a file name. ``as_text`` says which it is instead of guessing.

    Raises:
        JobError: unreadable file, malformed YAML, a value of the wrong type (with its line), a job that is not
            a mapping, a file past the size / value limits. The message names the line and the problem.
    """
    lines: dict[tuple[Any, ...], int] = {}
    if isinstance(source, Mapping):
        data: Any = dict(source)
        _check_data(data)
    else:
        data, lines = parse(read_source(source, as_text))
    if not isinstance(data, dict):
        raise JobError(f"a job file holds a mapping (job:, config:, meta:), not {_kind(data)}", line=1)
    try:
        job = job_model().model_validate(data)
    except ValidationError as exc:
        raise JobError("invalid job", problems=_problems(exc.errors(), lines)) from None
    except RecursionError:
        raise JobError(f"values nested too deeply (more than {MAX_DEPTH} levels?)") from None
    quoted = tuple(_quoted_numbers(data))
    if quoted:
        job.__pydantic_private__ = {**(job.__pydantic_private__ or {}), "_quoted": quoted}
    return job


def _kind(value: Any) -> str:
    return {"NoneType": "nothing (null)", "str": "text", "list": "a list", "int": "a number",
            "float": "a number", "bool": "true/false"}.get(type(value).__name__, type(value).__name__)


def _check_data(data: Any) -> None:
    """Refuse plain data (a dict from JSON or a template) that no job file could hold: more than ``MAX_NODES``
    values (a value inside itself never ends, so it stops here too), nesting past ``MAX_DEPTH``, text with lone
    surrogates."""
    count = 0
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    while stack:
        value, depth, where = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise JobError(f"the job holds more than {MAX_NODES:,} values; a job holds a few hundred")
        if depth > MAX_DEPTH:
            raise JobError(f"{where or 'the job'}: values nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, (dict, list, tuple)):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key, where)
                here = f"{where}[{key}]" if not isinstance(value, dict) else (f"{where}.{key}" if where else str(key))
                stack.append((item, depth + 1, here))


def _check_text(text: str, where: str) -> None:
    if has_surrogate(text):
        raise JobError(f"{where or 'the job'}: the text holds a lone surrogate, which no job file can hold")


def _quoted_numbers(data: Mapping[str, Any]) -> Iterator[tuple[str, int, str]]:
    """(setting path, list index, text) of every number setting the file writes as text: ai-toolkit keeps
    such values as strings (and fails when it computes with them); the job model reads them as numbers."""
    from .job import _written_values

    processes = (data.get("config") or {}).get("process") if isinstance(data.get("config"), dict) else None
    if not (isinstance(processes, list) and processes and isinstance(processes[0], dict)):
        return
    for path, value in _written_values(data):
        known = find_setting(path)
        if isinstance(value, str) and known is not None and known.type.split("|")[0] in ("int", "float"):
            yield path, 0, value


def _problems(errors: list[Any], lines: Mapping[tuple[Any, ...], int]) -> list[Problem]:
    """One problem per location; a value that fits none of a union's types lists what each wanted."""
    merged: dict[str, Problem] = {}
    for err in errors:
        p = _problem(err, lines)
        if p.where in merged:
            old = merged[p.where]
            p = Problem(p.where, old.message.split(" (got ")[0] + "; or " + p.message[0].lower() + p.message[1:], old.line)
        merged[p.where] = p
    return sorted(merged.values(), key=lambda p: (p.line or 0, p.where))


def _problem(err: Mapping[str, Any], lines: Mapping[tuple[Any, ...], int]) -> Problem:
    # pydantic adds the union member's type name to the location (e.g. ``lr.float``); drop those parts
    loc = tuple(p for p in err["loc"] if isinstance(p, int) or not _is_type_tag(p))
    if err.get("type") == "invalid_key":  # the key itself is the problem: its location is its section
        key, loc = loc[-1] if loc else err.get("input"), loc[:-1]
        return Problem(_where(loc), f"the key {_scalar(key)} is not text: a setting's name is text (write it in "
                                    f"quotes: '{key}')", _line_of(loc + (str(key),), lines))
    value = err.get("input")
    shown = _short_repr(value) if not isinstance(value, (dict, list)) else _kind(value)
    return Problem(_where(loc), f"{err['msg']} (got {shown})", _line_of(loc, lines))


def _line_of(loc: tuple[Any, ...], lines: Mapping[tuple[Any, ...], int]) -> int | None:
    for n in range(len(loc), -1, -1):
        key = tuple(str(p) if not isinstance(p, int) else p for p in loc[:n])
        if key in lines:
            return lines[key]
    return None


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_type_tag(part: Any) -> bool:
    return isinstance(part, str) and bool(re.fullmatch(r"(bool|int|float|str|dict\[.*\]|list\[.*\]|none|.*Section)",
                                                         part))


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# -- dumping --------------------------------------------------------------------------------------------------

def dump_job(job: JobBase | Mapping[str, Any], comments: bool = True) -> str:
    """YAML for ``job`` that ai-toolkit reads as it is, with a one-line comment on each setting."""
    data = job.to_dict() if isinstance(job, BaseModel) else dict(job)
    return "".join(_emit_mapping(data, 0, "job", comments))


def _emit_mapping(data: Mapping[Any, Any], indent: int, section: str, comments: bool,
                  first_prefix: str | None = None) -> Iterator[str]:
    pad = " " * indent
    guess = len(data) <= SUGGEST_MAX_KEYS
    for n, (key, value) in enumerate(data.items()):
        lead = first_prefix if (first_prefix is not None and n == 0) else pad
        container = isinstance(value, (dict, list)) and bool(value) and not _is_free(section)
        note = f"  # {_comment(section, key, container, guess)}" if comments else ""
        label = _scalar(key)
        child = _child(section, key) if isinstance(key, str) else "?"
        if len(label) > _KEY_CHARS:  # past 1024 characters YAML needs an explicit "? key" (value kept on one line)
            yield f"{lead}? {label}\n{pad}: {_scalar(value)}{note}\n"
        elif isinstance(value, dict) and value:
            yield f"{lead}{label}:{note}\n"
            yield from _emit_mapping(value, indent + 2, child, comments)
        elif isinstance(value, list) and value and all(isinstance(v, dict) and v for v in value):
            yield f"{lead}{label}:{note}\n"
            item_section = child + "[]" if not child.endswith("[]") and child != "process" else child
            for item in value:
                yield from _emit_mapping(item, indent + 4, item_section, comments, first_prefix=pad + "  - ")
        elif isinstance(value, list) and any(isinstance(v, str) and _LINE_BREAKS.intersection(v) for v in value):
            yield f"{lead}{label}:{note}\n"  # multi-line strings: one quoted item per line
            yield from (f"{pad}  - {_scalar(v)}\n" for v in value)
        else:
            yield f"{lead}{label}: {_scalar(value)}{note}\n"


def _child(section: str, key: str) -> str:
    if section == "job":
        return key if key in ROOT_SECTIONS else "?"
    if section == "config":
        return "process" if key == "process" else "?"
    if section == "process":
        return {"datasets": "datasets[]", "monitoring": "process.monitoring"}.get(key, key)
    if section == "first_sample":
        section = "sample"
    name = f"{section}.{key}"
    return name + "[]" if key in ("samples", "validation_items") else name


def _comment(section: str, key: Any, container: bool, guess: bool = True) -> str:
    if not isinstance(key, str):  # YAML allows number / null / true keys; no setting is named by one
        return "passed to the trainer as written" if _is_free(section) else "not a setting ai-toolkit reads " \
            "(kept as written)"
    path = "job" if section == "job" and key == "job" else f"{'sample' if section == 'first_sample' else section}.{key}"
    known = find_setting(path)
    if known is not None:
        return known.summary
    if container and key in _SECTION_NOTES:
        return _SECTION_NOTES[key]
    if container and section_settings(_child(section, key)):
        return f"{key.replace('_', ' ')} settings"
    if _is_free(section):
        return "passed to the trainer as written"
    suggestion = suggest_key(section, key) if guess else None
    hint = f"; did you mean '{suggestion}'?" if suggestion else " (kept as written)"
    return f"not a setting ai-toolkit reads{hint}"


def _is_free(section: str) -> bool:
    known = find_setting(section)
    return section in FREE_SECTIONS or (known is not None and known.kind == "free_dict")


_SECTION_NOTES = {
    "config": "the job: its name and its processes", "meta": "free-form metadata saved with the model",
    "process": "what to run; a training job has one process", "network": "the adapter being trained",
    "save": "checkpoints", "datasets": "training data, one entry per folder", "train": "training loop",
    "model": "base model", "sample": "preview images during training", "first_sample": "the pre-training preview",
    "logging": "logging", "samples": "one entry per preview prompt",
}


# characters a YAML reader treats as line breaks: a list holding such strings is written one item per line
_LINE_BREAKS = frozenset("\n\r\x85\u2028\u2029")
_KEY_CHARS = 1000  # YAML's implicit keys hold at most 1024 characters


# -- saving ---------------------------------------------------------------------------------------------------

def save_job(job: JobBase, path: str | os.PathLike[str], overwrite: bool = False, comments: bool = True) -> Path:
    """Write ``job`` to ``path`` atomically (temporary file + rename); refuse to replace a file unless told to.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        IsADirectoryError: ``path`` is a folder.
        ValueError: no file name, a path that cannot be understood (``~nouser/``), or a value no file can hold
            (:class:`UnwritableValue`); nothing is written then.
    """
    raw = os.fspath(path)
    if not raw.strip():
        raise ValueError("no file name given")
    target = user_path(raw)
    if raw.endswith(("/", os.sep)) or target.is_dir():
        raise IsADirectoryError(f"{target} is a folder: add a file name such as {target / 'job.yaml'}")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it")
    text = dump_job(job, comments=comments)  # before anything is created: a value no file can hold stops here
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.chmod(tmp, _file_mode(target))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            _place_new(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def _file_mode(target: Path) -> int:
    """The mode a replaced file had, else what the umask gives a new file (mkstemp alone makes it 0600)."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _place_new(tmp: str, target: Path) -> None:
    """Move ``tmp`` to ``target`` only if ``target`` does not exist (a hard link fails if it appeared since)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it") from None
    except OSError:  # a filesystem without hard links: check, then rename
        if target.exists():
            raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it") from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)
