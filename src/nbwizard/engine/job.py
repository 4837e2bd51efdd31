"""The ai-toolkit job as a typed pydantic model, generated from the setting descriptions.

Each section of the job (``train``, ``datasets[]``, ``sample``...) becomes a model whose fields are the section's
settings, typed from their descriptions. Keys the trainer does not read are kept (never dropped) and reported by
:meth:`Job.unknown_keys` with the key the user most likely meant. A job remembers which keys were written, so it
dumps back exactly what was loaded or set, and two jobs are equal when they write the same keys and values.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import cache
from typing import Any, Callable, Iterator, Mapping, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from .settings import Setting, find_setting, section_settings, settings, suggest_key

# Sections above the process entry; every other section lives inside ``config.process[i]``.
ROOT_SECTIONS = ("job", "config", "meta")
# Free-form sections: extra keys are the point (they go to a constructor as **kwargs), so none is "unknown".
FREE_SECTIONS = {
    "meta", "train.optimizer_params", "train.lr_scheduler_params", "network.network_kwargs",
    "model.quantize_kwargs",
}
# Sections that reuse another section's keys.
SECTION_ALIASES = {"first_sample": "sample"}

MISSING = _MISSING = object()  # "the job writes no value here"
# the largest integer the trainer can use: steps, seeds and sizes end up in torch / numpy int64 tensors and ranges
INT64_MAX = 2**63 - 1
# a section with more stray keys than this was not typed by hand: no did-you-mean for them (each costs ~1 ms)
SUGGEST_MAX_KEYS = 200
# The order ai-toolkit's own example jobs write a process entry's sections in; other children go alphabetically.
_CHILD_ORDER = {k: i for i, k in enumerate(
    ["network", "save", "datasets[]", "train", "model", "sample", "first_sample", "logging", "slider", "guidance",
     "embedding", "decorator", "adapter", "monitoring"])}

_SCALARS: dict[str, Any] = {
    # a float setting written as 16 stays 16 (ai-toolkit reads both); "1e-4" still becomes a float
    "bool": bool, "int": int, "float": Union[int, float], "str": str, "dict": dict[str, Any],
    "list[str]": list[str], "list[int]": list[int], "list[float]": list[float], "list[dict]": list[dict[str, Any]],
}


def annotation(type_text: str) -> Any:
    """The Python annotation for a setting's type text (``int|list[int]``); always admits ``None``."""
    parts = []
    for p in type_text.split("|"):
        if p != "null":
            parts.extend(getattr(_SCALARS[p], "__args__", None) if p == "float" else [_SCALARS[p]])
    return Optional[Union[tuple(parts)]] if len(parts) > 1 else Optional[parts[0]]


class _Section(BaseModel):
    """A section of the job: described keys are typed fields, any other key is kept as an extra."""

    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True, populate_by_name=True)


@cache
def _child_sections(section: str) -> dict[str, str]:
    """Direct child sections of ``section``: key in the parent -> section name."""
    names = _section_names() | set(SECTION_ALIASES)
    children = {}
    for name in names:
        parent, _, key = name.rpartition(".")
        if name in ROOT_SECTIONS or (not parent and section != "process"):
            continue
        if not parent:  # a section of the process entry (model, train, datasets[]...)
            parent = "process"
        if parent == section and name != "process":
            children[key] = name
    return children


def _default(s: Setting) -> Any:
    value = s.default
    return Field(default_factory=lambda: copy.deepcopy(value), description=s.summary) if isinstance(
        value, (list, dict)) else Field(default=value, description=s.summary)


@cache
def section_model(section: str) -> type[_Section]:
    """The pydantic model for one section (built once, on first use)."""
    source = SECTION_ALIASES.get(section, section)
    fields: dict[str, Any] = {}
    children = _child_sections(source)
    for key, s in section_settings(source).items():
        if key in children:
            continue
        fields[key] = (annotation(s.type), _default(s))
    for key, child in sorted(children.items(), key=lambda kv: (_CHILD_ORDER.get(kv[0], 99), kv[0])):
        model = section_model(child)
        if child.endswith("[]"):
            fields[key.removesuffix("[]")] = (Optional[list[model]], Field(default_factory=list))
        else:
            fields[key] = (Optional[model], Field(default_factory=model))
    name = "".join(p.capitalize() for p in source.replace("[]", "").replace(".", "_").split("_")) + "Section"
    return create_model(name, __base__=_Section, **fields)


@dataclass(frozen=True)
class UnknownKey:
    """A key in the job that the trainer does not read (it is kept, and written back as it was)."""

    where: str              # location in the file, e.g. ``config.process[0].train.learning_rate``
    section: str            # setting section, e.g. ``train``
    key: str
    suggestion: str | None  # the real key it most likely meant, e.g. ``lr``

    @property
    def message(self) -> str:
        hint = f" Did you mean '{self.suggestion}'?" if self.suggestion else ""
        return f"'{self.where}' is not a setting ai-toolkit reads; it will be ignored.{hint}"


class JobBase(BaseModel):
    """Behaviour shared by the generated :class:`Job` model."""

    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)

    # -- views ---------------------------------------------------------------------------------------------
    @property
    def process(self) -> Any:
        """The first process entry (the training process); an empty one when the job has none."""
        config = self.config  # type: ignore[attr-defined]
        processes = config.process if config is not None else None  # ``config:`` left empty reads as null
        return processes[0] if processes else section_model("process")()

    def to_dict(self) -> dict[str, Any]:
        """The job as plain data, with exactly the keys that were loaded or set."""
        return self.model_dump(exclude_unset=True)

    def _written(self) -> dict[str, Any]:
        """Setting path -> value for every setting the job writes (first item of list sections), built once."""
        return self._cached("_written", lambda: dict(_written_values(self.to_dict())))

    def _written_items(self) -> dict[int, dict[str, Any]]:
        """Item index -> {setting path -> value} for every item of the list sections (``datasets[]``,
        ``sample.samples[]``), built once: reading all 300 datasets of a job is one pass, not 300."""
        def build() -> dict[int, dict[str, Any]]:
            out: dict[int, dict[str, Any]] = {}
            for index, path, value in _item_values(self.to_dict()):
                out.setdefault(index, {})[path] = value
            return out
        return self._cached("_items", build)

    def _cached(self, name: str, build: Callable[[], Any]) -> Any:
        if self.__pydantic_private__ is None:
            object.__setattr__(self, "__pydantic_private__", {})
        if name not in self.__pydantic_private__:
            self.__pydantic_private__[name] = build()
        return self.__pydantic_private__[name]

    def __eq__(self, other: object) -> bool:
        """Jobs are equal when they write the same keys and values, value types included (``1``, ``1.0`` and
        ``true`` differ in a file) and NaN equal to NaN (a job holding ``.nan`` equals its reload)."""
        return isinstance(other, JobBase) and same_data(self.to_dict(), other.to_dict())

    __hash__ = None  # type: ignore[assignment]

    # -- setting access ------------------------------------------------------------------------------------
    def get(self, path: str, index: int = 0) -> Any:
        """The value the trainer will use for setting ``path`` (its default when the job leaves it out).

        ``index`` picks the item of a list section (``datasets[]``, ``sample.samples[]``).
        """
        known = find_setting(path)
        if known is not None or index == 0:
            written = self._written() if index == 0 or "[]" not in path else self._written_items().get(index, {})
            if path in written or known is not None:
                value = written[path] if path in written else known.default  # type: ignore[union-attr]
                return copy.deepcopy(value) if isinstance(value, (list, dict)) else value
        node: Any = self
        for part in _locate(path, index):
            if isinstance(part, int):
                node = node[part] if isinstance(node, list) and part < len(node) else _MISSING
            elif isinstance(node, BaseModel):
                node = getattr(node, part) if part in _field_names(type(node)) else (
                    (node.__pydantic_extra__ or {}).get(part, _MISSING))
            elif isinstance(node, dict):
                node = node.get(part, _MISSING)
            else:
                node = _MISSING
            if node is _MISSING:
                return setting_default(path)
        return _plain(node)

    def is_set(self, path: str, index: int = 0) -> bool:
        """Whether the job writes ``path`` itself (rather than leaving it to the trainer's default)."""
        return lookup(self.to_dict(), path, index) is not MISSING

    def set(self, path: str, value: Any, index: int = 0) -> "JobBase":
        """A new job with ``path`` set to ``value`` (validated); this job is left unchanged."""
        return self.with_values({path: value}, index=index)

    def with_values(self, values: Mapping[str, Any], index: int = 0) -> "JobBase":
        """A new job with every ``path: value`` of ``values`` set, validated once."""
        data = self.to_dict()
        for path, value in values.items():
            check_writable(value, path)
            put(data, path, copy.deepcopy(value), index)
        return type(self).model_validate(data)

    def set_paths(self) -> tuple[str, ...]:
        """The setting paths this job writes itself (list items folded: ``datasets[].folder_path``)."""
        return tuple(dict.fromkeys(path for path, _ in _written_values(self.to_dict(), every_item=True)))

    def unset(self, path: str, index: int = 0) -> "JobBase":
        """A new job without ``path`` (the trainer's default applies again)."""
        return self.without([path], index)

    def without(self, paths: Any, index: int = 0) -> "JobBase":
        """A new job without any of ``paths`` (validated once); this job when it writes none of them."""
        data = self.to_dict()
        removed = False
        for path in paths:
            *parents, last = _locate(path, index)
            node: Any = data
            for part in parents:
                fits = (isinstance(node, dict) and part in node) or (
                    isinstance(node, list) and isinstance(part, int) and part < len(node))
                node = node[part] if fits else None
            if isinstance(node, dict) and last in node:
                del node[last]
                removed = True
        return type(self).model_validate(data) if removed else self

    # -- keys the trainer does not read --------------------------------------------------------------------
    def quoted_numbers(self) -> tuple[tuple[str, int, str], ...]:
        """Number settings the loaded file wrote as text: (path, index, text). Saving writes them as numbers."""
        return (self.__pydantic_private__ or {}).get("_quoted", ())

    def unknown_keys(self) -> list[UnknownKey]:
        """Every key the trainer ignores, with a did-you-mean where one is likely.

        Only for training jobs (``job: extension``, what the setting descriptions cover): extract, generate and
        mod jobs read other keys, so none of theirs is called unknown.
        """
        if self.job not in (None, "extension"):  # type: ignore[attr-defined]
            return []
        return list(_walk_unknown(self, "job", ""))


def same_data(a: Any, b: Any) -> bool:
    """Whether plain data ``a`` and ``b`` are the same file content: same types (bool, int and float apart), same
    keys in any order, NaN equal to NaN, and 0.0 apart from -0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_data(v, b[k]) for k, v in a.items()) and all(
            type(k) is type(next(kb for kb in b if kb == k)) for k in a if not isinstance(k, str))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_data(x, y) for x, y in zip(a, b))
    return bool(a == b)


def check_writable(value: Any, where: str) -> None:
    """Refuse text no job file can hold (a lone surrogate: Python text may have one, UTF-8 cannot)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_surrogate(item):
                raise ValueError(f"{where}: the text holds a lone surrogate, which no job file can hold")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (checked at C speed: a 50 MB string takes milliseconds)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def lookup(data: Mapping[str, Any], path: str, index: int = 0, default: Any = MISSING) -> Any:
    """The value plain job data writes for setting ``path``, or ``default`` (``MISSING``) when it writes none."""
    node: Any = data
    for part in _locate(path, index):
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return default
        elif not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def put(data: dict[str, Any], path: str, value: Any, index: int = 0) -> None:
    """Write ``value`` for setting ``path`` into plain job data, creating the sections on the way."""
    node: Any = data
    parts = _locate(path, index)
    for part, nxt in zip(parts, parts[1:]):
        if isinstance(part, int):
            while len(node) <= part:
                node.append({})
            node = node[part]
        else:
            child = node.get(part)
            if not isinstance(child, (dict, list)):
                child = node[part] = [] if isinstance(nxt, int) else {}
            node = child
    node[parts[-1]] = value


@cache
def _field_names(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(model.model_fields)


def _plain(value: Any) -> Any:
    """Section objects as the plain data they write (a free-form dict reads as a dict, set or not)."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _walk_unknown(node: BaseModel, section: str, where: str) -> Iterator[UnknownKey]:
    if section not in FREE_SECTIONS:
        extras = node.__pydantic_extra__ or {}
        guess = len(extras) <= SUGGEST_MAX_KEYS
        for key in extras:
            yield UnknownKey(f"{where}.{key}".lstrip("."), section, key, suggest_key(section, key) if guess else None)
    for key in node.model_fields_set:
        value = getattr(node, key)
        child = _child_section_name(section, key)
        if child is None:
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _walk_unknown(item, child, f"{where}.{key}[{i}]".lstrip("."))
        elif isinstance(value, BaseModel):
            yield from _walk_unknown(value, child, f"{where}.{key}".lstrip("."))


def _child_section_name(section: str, key: str) -> str | None:
    if section == "job":
        return {"config": "config", "meta": "meta"}.get(key)
    if section == "config":
        return "process" if key == "process" else None
    children = _child_sections(SECTION_ALIASES.get(section, section))
    for k, name in children.items():
        if k.removesuffix("[]") == key:
            return name
    return None


def _written_values(data: Mapping[str, Any], every_item: bool = False) -> Iterator[tuple[str, Any]]:
    """(setting path, value) for every setting plain job data writes: the first process entry and the first
    item of each list section, or every one of them with ``every_item`` (paths then repeat)."""
    from .settings import _by_path

    known, sections = _by_path(), _section_names()
    if "job" in data and "job" in known:
        yield "job", data["job"]
    config = data.get("config")
    if isinstance(config, dict):
        yield from ((f"config.{k}", v) for k, v in config.items() if f"config.{k}" in known)
        processes = config.get("process")
        if isinstance(processes, list):
            for entry in processes if every_item else processes[:1]:
                if isinstance(entry, dict):
                    yield from _section_values(entry, "", known, sections, every_item)
    meta = data.get("meta")
    if isinstance(meta, dict):
        yield from ((f"meta.{k}", v) for k, v in meta.items() if f"meta.{k}" in known)


def _section_values(data: Mapping[str, Any], prefix: str, known: Mapping[str, Any], sections: set[str],
                    every_item: bool) -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        path = f"{prefix}{key}"
        if not prefix and (f"process.{key}" in known or f"process.{key}" in sections):
            path = f"process.{key}"
        if path in known:  # a free-form dict counts as a whole too: its unknown keys are written by the user
            yield path, value
        if isinstance(value, dict):
            yield from _section_values(value, f"{path}.", known, sections, every_item)
        elif isinstance(value, list) and f"{path}[]" in sections:
            for item in value if every_item else value[:1]:
                if isinstance(item, dict):
                    yield from _section_values(item, f"{path}[].", known, sections, every_item)


def _item_values(data: Mapping[str, Any]) -> Iterator[tuple[int, str, Any]]:
    """(item index, setting path, value) for every setting written inside an item of a list section of the first
    process entry (``datasets[3].resolution`` -> ``3, "datasets[].resolution"``)."""
    from .settings import _by_path

    known, sections = _by_path(), _section_names()
    config = data.get("config")
    entries = config.get("process") if isinstance(config, dict) else None
    if not (isinstance(entries, list) and entries and isinstance(entries[0], dict)):
        return
    stack: list[tuple[Mapping[Any, Any], str, int | None]] = [(entries[0], "", None)]
    while stack:
        node, prefix, index = stack.pop()
        for key, value in node.items():
            path = f"{prefix}{key}"
            if not prefix and (f"process.{key}" in known or f"process.{key}" in sections):
                path = f"process.{key}"
            if index is not None and path in known:
                yield index, path, value
            if isinstance(value, dict):
                stack.append((value, f"{path}.", index))
            elif isinstance(value, list) and f"{path}[]" in sections:
                stack.extend((item, f"{path}[].", i) for i, item in enumerate(value) if isinstance(item, dict))


@cache
def _section_names() -> set[str]:
    return {s.section for s in settings()}


def _locate(path: str, index: int = 0) -> list[str | int]:
    """Location of setting ``path`` inside the job data: ``train.lr`` -> config, process, 0, train, lr."""
    head, *rest = path.split(".")
    if head in ROOT_SECTIONS and not (head == "job" and rest):
        return [head, *rest]
    parts: list[str | int] = ["config", "process", 0]
    for part in ([] if head == "process" else [head]) + rest:
        if part.endswith("[]"):
            parts += [part[:-2], index]
        else:
            parts.append(part)
    return parts


def setting_default(path: str) -> Any:
    from .settings import setting

    return copy.deepcopy(setting(path).default)


@cache
def job_model() -> type[JobBase]:
    """The :class:`Job` model (built once, on first use: the descriptions hold ~450 settings)."""
    config = create_model(
        "ConfigSection", __base__=_Section,
        **{key: (annotation(s.type), _default(s)) for key, s in section_settings("config").items()},
        process=(Optional[list[section_model("process")]], Field(default_factory=list)),
    )
    job_setting = section_settings("job")["job"]
    return create_model(
        "Job", __base__=JobBase,
        job=(annotation(job_setting.type), _default(job_setting)),
        config=(Optional[config], Field(default_factory=config)),
        meta=(Optional[section_model("meta")], Field(default_factory=section_model("meta"))),
    )


def __getattr__(name: str) -> Any:
    if name == "Job":
        return job_model()
    raise AttributeError(name)
