"""Reading and writing ai-toolkit job files (YAML or JSON): safe, lossless, commented, atomic.

* ``load_job`` reads with a safe loader that also reads ``1e-4`` as a number (plain YAML 1.1 reads it as a
  string; ai-toolkit's own loader adds the same rule), refuses duplicate keys, and reports any problem with the
  line it is on. Nothing is half-loaded: it returns a whole job or raises :class:`JobError`.
* ``dump_job`` writes YAML that ai-toolkit's loader reads, in a stable key order, with a one-line comment per
  setting taken from its description.
* ``save_job`` writes through a temporary file and a rename, and never replaces a file unless told to.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml
from pydantic import BaseModel, ValidationError

from .job import FREE_SECTIONS, ROOT_SECTIONS, JobBase, job_model
from .settings import find_setting, section_settings, suggest_key

# YAML 1.1's float pattern requires a dot; this one also takes "1e-4" and "5E+3", as ai-toolkit's loader does.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: same rules, faster


class _Loader(_SafeBase):  # type: ignore[misc, valid-type]
    """Safe loader with the number rule above and no silent duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise JobError(f"duplicate key {key!r} (first on line {seen[key]})", line=key_node.start_mark.line + 1)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _first in "-+0123456789.":
    _Loader.yaml_implicit_resolvers[_first] = [
        (tag, rx) for tag, rx in _Loader.yaml_implicit_resolvers.get(_first, []) if tag != "tag:yaml.org,2002:float"
    ]
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


class _Dumper(yaml.SafeDumper):
    """Safe dumper that knows the loader's number rule, so it quotes a string such as "1e-4"."""


_Dumper.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a job file: where (file location and line) and what."""

    where: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        at = f"line {self.line}: " if self.line else ""
        return f"{at}{self.where}: {self.message}" if self.where else f"{at}{self.message}"


class JobError(ValueError):
    """A job that could not be read; ``problems`` lists each problem with its line."""

    def __init__(self, message: str, *, line: int | None = None, problems: list[Problem] | None = None):
        self.problems = problems or [Problem("", message, line)]
        self.line = line if line is not None else self.problems[0].line
        super().__init__("\n".join(str(p) for p in self.problems) if problems else (
            f"line {line}: {message}" if line else message))


# -- loading --------------------------------------------------------------------------------------------------

def load_job(source: str | os.PathLike[str] | Mapping[str, Any]) -> JobBase:
    """Read an ai-toolkit job from a file path, YAML/JSON text, or a dict.

    Raises:
        JobError: unreadable file, malformed YAML, a value of the wrong type (with its line), a job that is not
            a mapping. The message names the line and the problem.
    """
    lines: dict[tuple[Any, ...], int] = {}
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        text = _read_text(source)
        data, lines = _parse(text)
    if not isinstance(data, dict):
        raise JobError(f"a job file holds a mapping (job:, config:, meta:), not {type(data).__name__}", line=1)
    try:
        job = job_model().model_validate(data)
    except ValidationError as exc:
        raise JobError("invalid job", problems=_problems(exc.errors(), lines)) from None
    quoted = tuple(_quoted_numbers(data))
    if quoted:
        job.__pydantic_private__ = {**(job.__pydantic_private__ or {}), "_quoted": quoted}
    return job


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


def _read_text(source: str | os.PathLike[str]) -> str:
    if isinstance(source, str) and ("\n" in source or ":" in source.split("/")[0] or not source.strip()):
        return source
    path = Path(source).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JobError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise JobError(f"{path} is a folder, not a job file") from None
    except PermissionError:
        raise JobError(f"no permission to read {path}") from None
    except UnicodeDecodeError as exc:
        raise JobError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise JobError(f"cannot read {path}: {exc.strerror or exc}") from None


def _parse(text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise JobError("the file is empty", line=1)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except JobError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        context = f" ({exc.context} started on line {exc.context_mark.line + 1})" if (
            exc.context and exc.context_mark) else ""
        raise JobError(f"malformed YAML: {exc.problem or exc.context}{context}", line=line) from None
    except yaml.YAMLError as exc:
        raise JobError(f"malformed YAML: {exc}") from None
    lines: dict[tuple[Any, ...], int] = {}
    _record_lines(node, (), lines)
    return data, lines


def _record_lines(node: yaml.Node, loc: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            k = (key.value,)
            out[loc + k] = key.start_mark.line + 1
            _record_lines(value, loc + k, out)
            out[loc + k] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record_lines(item, loc + (i,), out)


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
    line = None
    for n in range(len(loc), -1, -1):
        key = tuple(str(p) if not isinstance(p, int) else p for p in loc[:n])
        if key in lines:
            line = lines[key]
            break
    value = err.get("input")
    shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return Problem(_where(loc), f"{err['msg']} (got {shown})", line)


def _is_type_tag(part: str) -> bool:
    return bool(re.fullmatch(r"(bool|int|float|str|dict\[.*\]|list\[.*\]|none|.*Section)", part))


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


def _emit_mapping(data: Mapping[str, Any], indent: int, section: str, comments: bool,
                  first_prefix: str | None = None) -> Iterator[str]:
    pad = " " * indent
    for n, (key, value) in enumerate(data.items()):
        lead = first_prefix if (first_prefix is not None and n == 0) else pad
        container = isinstance(value, (dict, list)) and bool(value) and not _is_free(section)
        note = f"  # {_comment(section, key, container)}" if comments else ""
        label = _scalar(key)
        child = _child(section, key)
        if isinstance(value, dict) and value:
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


def _comment(section: str, key: str, container: bool) -> str:
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
    suggestion = suggest_key(section, key)
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


# characters a YAML reader treats as line breaks: strings holding one are written double-quoted (escaped)
_LINE_BREAKS = frozenset("\n\r\x85\u2028\u2029")
_PLAIN = re.compile(r"^[A-Za-z_][\w./-]*$")
_SPECIAL_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}


def _scalar(value: Any) -> str:
    """One value as single-line flow YAML (strings quoted where the loader needs it, floats exact)."""
    # fast paths for the common scalars; everything else goes through the YAML dumper
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        text = repr(value)
        return text.replace("e", ".0e", 1) if "e" in text and "." not in text else text
    if isinstance(value, str) and _PLAIN.match(value) and value.lower() not in _SPECIAL_WORDS:
        return value
    style = '"' if isinstance(value, str) and _LINE_BREAKS.intersection(value) else None
    text = yaml.dump(value, Dumper=_Dumper, default_style=style, default_flow_style=True, width=math.inf,
                     allow_unicode=True).strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text


# -- saving ---------------------------------------------------------------------------------------------------

def save_job(job: JobBase, path: str | os.PathLike[str], overwrite: bool = False, comments: bool = True) -> Path:
    """Write ``job`` to ``path`` atomically (temporary file + rename); refuse to replace a file unless told to.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    raw = os.fspath(path)
    if not raw.strip():
        raise ValueError("no file name given")
    target = Path(raw).expanduser()
    if raw.endswith(("/", os.sep)) or target.is_dir():
        raise IsADirectoryError(f"{target} is a folder: add a file name such as {target / 'job.yaml'}")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; pass overwrite=True to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    text = dump_job(job, comments=comments)
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
