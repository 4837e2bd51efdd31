"""GPU catalog: facts about the accelerators people train diffusion LoRAs on.

The data lives in ``data/gpus.json`` and is read lazily (first call to :func:`gpus` or
:func:`find_gpu`), then cached. Nothing is read at import time.

Name matching (:func:`find_gpu`)
--------------------------------
1. Normalise: lowercase, turn punctuation into spaces, drop the vendor words
   ``nvidia geforce amd radeon tesla apple instinct``, then join the remaining words without
   spaces, so "NVIDIA GeForce RTX 4090", "rtx-4090" and "RTX4090" all become ``rtx4090``.
2. Exact match of that key against every card's canonical name and aliases (each key belongs to
   exactly one card). Aliases carry driver strings, e.g. "NVIDIA A100-SXM4-80GB", and documented
   defaults for ambiguous short names: "A100" and "A100 80GB" mean the 80GB SXM4 module,
   "A100 40GB" the 40GB SXM4 module, "H100" the H100 SXM.
3. Otherwise a memory size in the name ("80GB", "64 GB", "144G") is taken out, together with
   memory-type words (HBM3, GDDR6X, ...), and what is left is matched against the cards' names with
   their own sizes taken out. The size then picks the variant ("RTX 4060 Ti 16GB") or, for chips
   sold with several memory sizes, the memory option ("M3 Max 64GB"). A size that no variant or
   option has raises :class:`UnknownGpuError` listing the sizes that exist.
4. A name with no size that fits several variants (e.g. "RTX 4060 Ti", "V100", "RTX 3080") raises
   :class:`UnknownGpuError` listing the variants; add the size to choose.
5. A bare chip name for a chip with memory options returns the catalogued default memory, which for
   Apple chips is the largest option.
6. Anything else raises :class:`UnknownGpuError` with up to five close matches (difflib).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

__all__ = ["GpuSpec", "UnknownGpuError", "find_gpu", "gpus"]

_NOISE_WORDS = frozenset({"nvidia", "geforce", "amd", "radeon", "tesla", "apple", "instinct"})
_MEMORY_TYPE_WORDS = frozenset({"hbm2", "hbm2e", "hbm3", "hbm3e", "gddr6", "gddr6x", "gddr7", "lpddr5x"})
_MEMORY_RE = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:gb|gib|g)\b")
_MAX_CLOSE_MATCHES = 5


@dataclass(frozen=True)
class GpuSpec:
    """One accelerator. Numbers are vendor peak figures; ``None`` means unknown (see ``unknown``)."""

    name: str  # canonical, e.g. "NVIDIA GeForce RTX 4090"
    vendor: str  # "nvidia" | "amd" | "apple"
    segment: str  # "consumer" | "workstation" | "datacenter" | "apple" | "unified"
    architecture: str
    memory_gib: float  # marketed GB figure; for chips with options, the chosen option
    unified: bool  # memory shared with (or coherent with) the CPU
    bf16: bool  # hardware bf16 support
    fp8: bool  # hardware fp8 tensor support
    bf16_tflops: float | None  # dense, no sparsity; FP16 tensor where the chip has no bf16
    bandwidth_gbs: float | None  # peak memory bandwidth, GB/s
    compute_capability: str | None = None  # NVIDIA only, e.g. "8.9"
    memory_options_gib: tuple[float, ...] = ()  # chips sold with several memory sizes
    aliases: tuple[str, ...] = ()
    notes: str = ""
    sources: tuple[str, ...] = ()
    unknown: tuple[tuple[str, str], ...] = ()  # (field name, why it is None)
    # what the driver reports as the card's total (nvidia-smi / NVML), MiB, and where that figure comes from;
    # None for unified-memory chips (their budget is the machine's RAM)
    memory_total_mib: float | None = None
    memory_total_source: str = ""

    @property
    def physical_gib(self) -> float:
        """GiB the driver reports for this card (the marketed size when the catalog has no reported total)."""
        return self.memory_total_mib / 1024 if self.memory_total_mib else float(self.memory_gib)

    def with_memory(self, gib: float) -> GpuSpec:
        """Return this spec with ``memory_gib`` set to one of its memory options.

        Raises ``ValueError`` when ``gib`` is not an option (or, for a card with a single size,
        not that size).
        """
        allowed = self.memory_options_gib or (self.memory_gib,)
        for option in allowed:
            if abs(option - gib) < 1e-6:
                if abs(option - self.memory_gib) < 1e-6:
                    return dataclasses.replace(self, memory_gib=float(option))
                derived = f"derived: the {option:g} GB option read as {option * 1024:.0f} MiB"
                return dataclasses.replace(self, memory_gib=float(option), memory_total_mib=option * 1024.0,
                                           memory_total_source=derived)
        sizes = ", ".join(_format_gib(o) for o in allowed)
        raise ValueError(f"{self.name} has no {_format_gib(gib)} GB option (available: {sizes} GB)")


class UnknownGpuError(LookupError):
    """Raised by :func:`find_gpu` when a name resolves to no card, or to several."""

    def __init__(self, query: str, close_matches: list[str] | None = None, reason: str = "") -> None:
        self.query = query
        self.close_matches = list(close_matches or [])
        message = reason or f"Unknown GPU {query!r}."
        if self.close_matches:
            message += " Close matches: " + ", ".join(self.close_matches) + "."
        else:
            message += " No close matches in the catalog."
        super().__init__(message)


def gpus() -> tuple[GpuSpec, ...]:
    """The whole catalog, in the stable order of ``data/gpus.json``."""
    return _catalog().specs


def find_gpu(name: str) -> GpuSpec:
    """Resolve a canonical name, alias or driver string to a :class:`GpuSpec` (see module doc)."""
    cat = _catalog()
    key = _key(_words(name))
    if key and key in cat.exact:
        return cat.exact[key]

    words = _words(name)
    memory = _memory_in(name)
    base_words = [w for w in words if w not in _MEMORY_TYPE_WORDS and not _is_memory_word(w)]
    base = _key(_drop_split_memory(base_words))
    candidates = cat.by_base.get(base, ())

    if candidates and memory is None:
        if len(candidates) == 1:
            return candidates[0]
        raise UnknownGpuError(
            name,
            [c.name for c in candidates][:_MAX_CLOSE_MATCHES],
            f"GPU name {name!r} fits several cards; add the memory size to choose.",
        )
    if candidates and memory is not None:
        fitting = [c for c in candidates if _has_memory(c, memory)]
        if len(fitting) == 1:
            return fitting[0].with_memory(memory)
        if len(fitting) > 1:
            raise UnknownGpuError(
                name, [c.name for c in fitting][:_MAX_CLOSE_MATCHES], f"GPU name {name!r} fits several cards."
            )
        variants = [_variant_label(c, m) for c in candidates for m in (c.memory_options_gib or (c.memory_gib,))]
        raise UnknownGpuError(
            name, variants[:_MAX_CLOSE_MATCHES], f"No {_format_gib(memory)} GB variant of {name!r} in the catalog."
        )
    raise UnknownGpuError(name, _close_matches(cat, key))


# ---------------------------------------------------------------------------------------------
# internals


@dataclass(frozen=True)
class _Catalog:
    specs: tuple[GpuSpec, ...]
    exact: dict[str, GpuSpec]  # normalised name/alias -> card
    by_base: dict[str, tuple[GpuSpec, ...]]  # normalised name/alias without memory size -> cards


@functools.lru_cache(maxsize=1)
def _catalog() -> _Catalog:
    text = resources.files(__package__).joinpath("data", "gpus.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    specs = tuple(_spec_from_json(entry) for entry in raw["gpus"])
    exact: dict[str, GpuSpec] = {}
    by_base: dict[str, list[GpuSpec]] = {}
    for spec in specs:
        for label in (spec.name, *spec.aliases):
            key = _key(_words(label))
            owner = exact.setdefault(key, spec)
            if owner is not spec:
                raise ValueError(f"gpus.json: {label!r} matches both {owner.name!r} and {spec.name!r}")
            base_words = [w for w in _words(label) if w not in _MEMORY_TYPE_WORDS and not _is_memory_word(w)]
            bucket = by_base.setdefault(_key(_drop_split_memory(base_words)), [])
            if spec not in bucket:
                bucket.append(spec)
    return _Catalog(specs, exact, {k: tuple(v) for k, v in by_base.items()})


def _spec_from_json(entry: dict) -> GpuSpec:
    def num(value: float | None) -> float | None:
        return None if value is None else float(value)

    return GpuSpec(
        name=entry["name"],
        vendor=entry["vendor"],
        segment=entry["segment"],
        architecture=entry["architecture"],
        memory_gib=float(entry["memory_gib"]),
        unified=bool(entry["unified"]),
        bf16=bool(entry["bf16"]),
        fp8=bool(entry["fp8"]),
        bf16_tflops=num(entry["bf16_tflops"]),
        bandwidth_gbs=num(entry["bandwidth_gbs"]),
        compute_capability=entry.get("compute_capability"),
        memory_options_gib=tuple(float(m) for m in entry.get("memory_options_gib", ())),
        aliases=tuple(entry.get("aliases", ())),
        notes=entry.get("notes", ""),
        sources=tuple(entry.get("sources", ())),
        unknown=tuple(sorted(entry.get("unknown", {}).items())),
        memory_total_mib=num(entry.get("memory_total_mib")),
        memory_total_source=entry.get("memory_total_source", ""),
    )


def _clean(text: str) -> str:
    """Lowercase; every character other than a letter, a digit or a decimal point becomes a space."""
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text.lower())
    return re.sub(r"[^0-9a-z.]+", " ", text)


def _words(text: str) -> list[str]:
    return [w for w in _clean(text).split() if w not in _NOISE_WORDS]


def _key(words: list[str]) -> str:
    return "".join(words).replace(".", "")


def _is_memory_word(word: str) -> bool:
    return _MEMORY_RE.fullmatch(word) is not None


def _drop_split_memory(words: list[str]) -> list[str]:
    """Remove a size written as two words ("80", "gb")."""
    out: list[str] = []
    for w in words:
        if w in {"gb", "gib"} and out and re.fullmatch(r"\d+(?:\.\d+)?", out[-1]):
            out.pop()
            continue
        out.append(w)
    return out


def _memory_in(text: str) -> float | None:
    found = _MEMORY_RE.findall(_clean(text))
    return float(found[-1]) if found else None


def _has_memory(spec: GpuSpec, gib: float) -> bool:
    return any(abs(m - gib) < 1e-6 for m in (spec.memory_options_gib or (spec.memory_gib,)))


def _variant_label(spec: GpuSpec, gib: float) -> str:
    size = f"{_format_gib(gib)}GB"
    return spec.name if size.lower() in spec.name.lower().replace(" ", "") else f"{spec.name} {size}"


def _format_gib(gib: float) -> str:
    return f"{gib:g}"


def _close_matches(cat: _Catalog, key: str) -> list[str]:
    names: list[str] = []
    for match in difflib.get_close_matches(key, list(cat.exact), n=50, cutoff=0.6):
        name = cat.exact[match].name
        if name not in names:
            names.append(name)
        if len(names) == _MAX_CLOSE_MATCHES:
            break
    return names
