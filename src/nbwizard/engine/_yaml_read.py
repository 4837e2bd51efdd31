"""Reading job text safely: the loader, the limits that keep hostile files cheap, and where each value was written.

A job file is a few KB. Anything far bigger, deeper or more repetitive than a job is refused *before* it is
expanded, with a message that says which limit it crossed (and on which line). ai-toolkit's own example jobs
(``config/examples/*.yaml``, upstream 27a03a91) are 2–9 KB and hold 54–170 values, nested at most 7 deep:

* ``MAX_JOB_BYTES`` = 5 MiB, over 500 times the largest example; a 50 MB file took 30 s to read and dump.
* ``MAX_NODES`` = 10,000 values (scalars, lists, mappings) in the file *and* after aliases are expanded: 60 times
  the largest example (a thousand preview prompts fit). Reading, checking, predicting and writing a job at the
  cap takes about a second on a slow shared CPU, where a 1 KiB alias bomb would expand to ~3.5·10⁹ values.
* ``MAX_DEPTH`` = 64 levels of nesting.

Only regular files are read (a named pipe blocks forever, ``/dev/zero`` never ends), and only up to the cap.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from typing import Any

import yaml

from .paths import PathError, user_path

MAX_JOB_BYTES = 5 * 2**20
MAX_NODES = 10_000
MAX_DEPTH = 64

_CAP_TEXT = f"{MAX_JOB_BYTES // 2**20} MiB"


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


def _line(node: Any) -> int | None:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


# -- the loader -------------------------------------------------------------------------------------------------

# YAML 1.1's float pattern requires a dot; this one also takes "1e-4" and "5E+3": ai-toolkit's loader
# (toolkit/config.py fixed_loader) adds exactly this pattern, sexagesimal "1:30.5" included.
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: same rules, faster
_MERGE = "tag:yaml.org,2002:merge"
# tags a safe loader builds that JSON cannot hold: ai-toolkit passes every job through json.dumps (toolkit/config.py
# preprocess_config), so a job holding one cannot start
_NOT_JSON = {"set": "a set", "omap": "an ordered-pairs list", "pairs": "a pairs list", "binary": "binary data"}


class _Loader(_SafeBase):  # type: ignore[misc, valid-type]
    """Safe loader with ai-toolkit's number rule, merge keys (``<<: *defaults``), no silent duplicate keys, and the
    size / depth / alias-expansion limits above (so ``yaml.load(text, Loader=_Loader)`` is safe anywhere)."""

    def __init__(self, stream: Any) -> None:
        if isinstance(stream, (str, bytes)):
            _check_events(stream)
        super().__init__(stream)

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            _check_graph(node)
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (JobError, yaml.YAMLError, RecursionError):
            raise
        except (ValueError, OverflowError, TypeError) as exc:
            # e.g. 2024-02-30 (the timestamp rule reads it as a date that does not exist) or an integer of
            # more than 4300 digits: ai-toolkit's loader, the same safe loader, stops on these too
            text = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            raise JobError(f"{_short(text)} cannot be read as {node.tag.rsplit(':', 1)[-1]}: {exc}"
                           " (write it in quotes to keep it as text)", line=_line(node)) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, tuple[Any, int | None]] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:  # ``<<``: merged keys may repeat; the mapping's own keys win (as in PyYAML)
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise JobError(f"a key must be text or a number, not a {_kind(key)}",
                               line=_line(key_node)) from None
            if key in seen:
                first, line = seen[key]
                if _word(first) == _word(key):
                    raise JobError(f"duplicate key {_word(key)} (first on line {line})", line=_line(key_node))
                raise JobError(f"duplicate key: {_word(key)} is the same key as {_word(first)} on line {line} (the "
                               f"loader, ai-toolkit's too, reads both as {first!r})", line=_line(key_node))
            seen[key] = (key, _line(key_node))
        return super().construct_mapping(node, deep=deep)


def _refuse_tag(loader: _Loader, node: yaml.Node) -> Any:
    name = node.tag.rsplit(":", 1)[-1]
    raise JobError(f"!!{name} is not something a job can hold: ai-toolkit passes the job through JSON, which has no "
                   f"{_NOT_JSON[name]}", line=_line(node))


_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _first in "-+0123456789.":
    _Loader.yaml_implicit_resolvers[_first] = [
        (tag, rx) for tag, rx in _Loader.yaml_implicit_resolvers.get(_first, []) if tag != "tag:yaml.org,2002:float"
    ]
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
for _tag in _NOT_JSON:
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)


def _word(key: Any) -> str:
    """A key as the file writes it (``true``, ``null``, ``'lr'``)."""
    return {True: "true", False: "false", None: "null"}.get(key, repr(key)) if isinstance(key, (bool, type(None))) \
        else repr(key)


def _kind(value: Any) -> str:
    return {"list": "list", "dict": "mapping"}.get(type(value).__name__, type(value).__name__)


def _short(text: Any) -> str:
    text = str(text)
    return repr(text if len(text) <= 40 else text[:37] + "...")


# -- limits -----------------------------------------------------------------------------------------------------

def _check_events(stream: str | bytes) -> None:
    """Count values and nesting from the event stream (no tree is built), stopping at the first limit crossed."""
    loader = _SafeBase(stream)
    count = depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionStartEvent)):
                count += 1
                if count > MAX_NODES:
                    raise JobError(f"the file holds more than {MAX_NODES:,} values; a job holds a few hundred "
                                   f"(is it the right file?)", line=_line(event))
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise JobError(f"values nested more than {MAX_DEPTH} levels deep; a job nests under 10",
                                   line=_line(event))
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return node.value if isinstance(node, yaml.SequenceNode) else []


def _check_graph(root: yaml.Node) -> None:
    """Refuse aliases that expand past ``MAX_NODES`` values or ``MAX_DEPTH`` levels, or that contain themselves.

    Each node is visited once (its expanded size and depth are remembered), so an alias bomb costs as little as
    its text: nothing is expanded to find out how big it would be.
    """
    done: dict[int, tuple[int, int]] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        if leaving:
            active.discard(key)
            size, depth = 1, 1
            for child in _children(node):
                child_size, child_depth = done[id(child)]
                size += child_size
                depth = max(depth, child_depth + 1)
            if size > MAX_NODES:
                raise JobError(f"aliases (*name) expand this file to more than {MAX_NODES:,} values; a job holds a "
                               "few hundred, so it is not expanded (a YAML alias bomb?)", line=_line(node))
            if depth > MAX_DEPTH:
                raise JobError(f"aliases (*name) nest values more than {MAX_DEPTH} levels deep; a job nests under "
                               "10", line=_line(node))
            done[key] = (size, depth)
            continue
        if key in done:
            continue
        active.add(key)
        stack.append((node, True))
        for child in _children(node):
            child_key = id(child)
            if child_key in done:
                continue
            if isinstance(child, yaml.ScalarNode):
                done[child_key] = (1, 1)
            elif child_key in active:
                raise JobError("an alias (*name) refers to the value that holds it: a job cannot hold a value "
                               "inside itself", line=_line(child))
            else:
                stack.append((child, False))


# -- reading ----------------------------------------------------------------------------------------------------

def read_source(source: str | os.PathLike[str], as_text: bool | None = None) -> str:
    """The job text of ``source``: a path (``os.PathLike`` always is), or YAML/JSON text.

    With ``as_text=None`` a string is text when it holds a line break, starts with ``{`` (JSON), or is
    ``key: value`` and names no file; otherwise it is a path (so ``run:1.yaml`` is a file name, not YAML).
    """
    if as_text is None:
        as_text = isinstance(source, str) and _looks_like_text(source)
    if as_text:
        text = os.fspath(source)
        if len(text) > MAX_JOB_BYTES:
            raise JobError(f"the job text is over {_CAP_TEXT} (about {len(text) / 2**20:.0f} MiB); a job is a few "
                           "KB")
        return text
    raw = os.fspath(source)
    if not raw.strip():
        raise JobError("no job file given (the file name is empty)")
    try:
        path = user_path(raw)
    except PathError as exc:
        raise JobError(str(exc)) from None
    return _read_file(path)


def _looks_like_text(source: str) -> bool:
    if any(c in source for c in "\n\r") or source.lstrip().startswith("{"):
        return True
    if not re.search(r":(\s|$)", source):
        return False
    try:
        return not user_path(source).exists()
    except (PathError, OSError):
        return True


def _read_file(path: os.PathLike[str]) -> str:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)  # a pipe must not block open()
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise JobError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise JobError(f"{path} is a folder, not a job file") from None
    except PermissionError:
        raise JobError(f"no permission to read {path}") from None
    except OSError as exc:
        raise JobError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise JobError(f"{path} is a folder, not a job file")
        if not stat.S_ISREG(info.st_mode):
            raise JobError(f"{path} is {_file_kind(info.st_mode)}, not a job file: only regular files are read")
        if info.st_size > MAX_JOB_BYTES:
            raise JobError(_too_big(path, info.st_size))
        data = _read_at_most(fd, MAX_JOB_BYTES + 1)
        if len(data) > MAX_JOB_BYTES:  # it grew while being read
            raise JobError(_too_big(path, len(data)))
    except OSError as exc:
        raise JobError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JobError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, total = [], 0
    while total < limit:
        chunk = os.read(fd, min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _too_big(path: os.PathLike[str], size: int) -> str:
    return (f"{path} is {size / 2**20:.1f} MiB; a job file is at most {_CAP_TEXT} (real jobs are a few KB), "
            "so it is not read. Is it the right file?")


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


# -- parsing ----------------------------------------------------------------------------------------------------

def parse(text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """The data of job ``text`` and the line of each location (``("config", "process", 0, "train")``)."""
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
    except RecursionError:  # only without libyaml, on nesting the limits above let through
        raise JobError(f"values nested too deeply to read (more than {MAX_DEPTH} levels?)") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, most control characters)
        where = text.find(chr(exc.character)) if isinstance(exc.character, int) else -1
        line = text.count("\n", 0, where) + 1 if where >= 0 else None
        raise JobError(f"the file holds a character YAML does not allow (U+{exc.character:04X}, {exc.reason})"
                       if isinstance(exc.character, int) else f"malformed YAML: {exc.reason}", line=line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = str(exc.problem or exc.context)
        if "could not determine a constructor" in problem:
            raise JobError(f"{problem.split('for the tag ', 1)[-1]} is not plain YAML data: a safe loader "
                           "(ai-toolkit's too) refuses it", line=line) from None
        context = f" ({exc.context} started on line {exc.context_mark.line + 1})" if (
            exc.context and exc.context_mark) else ""
        raise JobError(f"malformed YAML: {problem}{context}", line=line) from None
    except yaml.YAMLError as exc:
        raise JobError(f"malformed YAML: {exc}") from None
    lines: dict[tuple[Any, ...], int] = {}
    _record_lines(node, (), lines, set())
    return data, lines


def _record_lines(node: yaml.Node, loc: tuple[Any, ...], out: dict[tuple[Any, ...], int], seen: set[int]) -> None:
    """The line of every location, walking each node once: a value reached again through an alias keeps the lines
    of its first location (its new location is named by the alias's key)."""
    out.setdefault(loc, node.start_mark.line + 1)
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = loc + (key.value if isinstance(key, yaml.ScalarNode) else "?",)
            out[here] = key.start_mark.line + 1
            _record_lines(value, here, out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record_lines(item, loc + (i,), out, seen)
