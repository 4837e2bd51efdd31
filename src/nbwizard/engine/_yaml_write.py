"""Writing values as YAML that loads back exactly and that a shell cannot run.

A saved job is sometimes fed to a shell by mistake (``bash job.yaml``, a copy-paste into a terminal). YAML alone
allows plain scalars such as ``a;rm -rf x`` and double-quoted ones holding ``$(...)``, which a shell expands. Every
scalar written here is one of:

* plain, only from ``[A-Za-z0-9_./+-]`` (starting with a letter or ``_``), which no shell treats specially;
* single-quoted: the shell expands nothing inside single quotes, and YAML's ``''`` is the shell's ``'…''…'``;
* double-quoted with what a shell runs inside double quotes escaped (``$`` as ``\\x24`` unless it starts ``${``, a
  backtick as ``\\x60``), used only for what single quotes cannot hold (line breaks, control characters, tabs).

Lone surrogates (possible in Python text, not in any UTF-8 file) cannot be written at all: :class:`UnwritableValue`.
Scalars are built with ``str`` methods and C-speed regular expressions, so dumping grows linearly with the text.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

import yaml

from ._yaml_read import _Loader

__all__ = ["UnwritableValue", "scalar"]


class UnwritableValue(ValueError):
    """A value no YAML file can hold (a lone surrogate in a string, an object that is not data)."""


class _Dumper(yaml.SafeDumper):
    """Safe dumper that knows the loader's number rule (used for dates only)."""


_Dumper.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./+-]*\Z")
_PLAIN_CHARS = 200  # longer text is quoted without looking (a name or a path is shorter; an essay need not be plain)
# the YAML 1.1 words a plain scalar would be read as (bool / null), and the float words, in any case
_SPECIAL_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"}
# what a single-quoted scalar holds exactly in both libyaml and PyYAML (measured over every code point):
# printable ASCII and the printable rest of Unicode, minus the line / paragraph separators and U+FFFE/U+FFFF
_SINGLE_QUOTABLE = re.compile("[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*\\Z")
# in double quotes a shell runs $(...), $[...] and `...`: '$' is escaped unless it starts '${', which ai-toolkit
# itself replaces with an environment variable in the file's text (toolkit/config.py), so it stays as written
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
_ESCAPE = re.compile("[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\"\\\\`]|\\$(?!\\{)")
_NAMED = {"\0": "\\0", "\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r",
          "\x1b": "\\e", '"': '\\"', "\\": "\\\\", "\x85": "\\N", "\u2028": "\\L", "\u2029": "\\P"}
_BIG_INT_BITS = 13_000  # past ~4300 decimal digits Python refuses int <-> str: such a number is written in hex


# Below this a float is written as ai-toolkit's examples write learning rates (1.0e-4, not 0.0001), with the '.' and
# the exponent's sign YAML 1.1 loaders need to read it as a number
SMALL_FLOAT = 1e-3


def _scientific(value: float) -> str:
    """The shortest ``m.me-k`` that reads back as exactly ``value``."""
    for digits in range(17):
        text = f"{value:.{digits}e}"
        if float(text) == value:
            break
    mantissa, exponent = text.split("e")
    return f"{mantissa if '.' in mantissa else mantissa + '.0'}e{int(exponent):+d}"


def scalar(value: Any) -> str:
    """One value as single-line flow YAML: exact on reload, inert in a shell."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return hex(value) if value.bit_length() > _BIG_INT_BITS else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        if value and abs(value) < SMALL_FLOAT:
            return _scientific(value)
        text = repr(value)
        return text.replace("e", ".0e", 1) if "e" in text and "." not in text else text
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(_flow_key(scalar(k)) + scalar(v) for k, v in value.items()) + "}"
    if isinstance(value, (datetime.date, datetime.datetime)):  # digits, '-', ':', '.', '+' and a space: inert
        text = yaml.dump(value, Dumper=_Dumper, default_flow_style=True).strip()
        return text[:-4].rstrip() if text.endswith("\n...") else text
    raise UnwritableValue(f"a {type(value).__name__} value cannot be written to a job file")


def _single_quotable(value: str) -> bool:
    if value.isascii():  # the common case, tested at memory speed (a 50 MB string in a quarter second)
        return not value.encode("ascii").translate(None, _PRINTABLE_ASCII)
    return _SINGLE_QUOTABLE.match(value) is not None


def _flow_key(label: str) -> str:
    # YAML's implicit keys hold at most 1024 characters; a longer one is written as an explicit "? key"
    return f"? {label}: " if len(label) > 1000 else f"{label}: "


def _string(value: str) -> str:
    if len(value) <= _PLAIN_CHARS and _PLAIN.match(value) and value.lower() not in _SPECIAL_WORDS:
        return value
    if _single_quotable(value):
        return "'" + value.replace("'", "''") + "'"
    return '"' + _ESCAPE.sub(_escape, value) + '"'


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        raise UnwritableValue(f"the text holds a lone surrogate (\\u{code:04x}), which no UTF-8 file can hold")
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
