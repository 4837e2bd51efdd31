"""Dataset analysis: what ai-toolkit will find in a dataset folder, and how it will bucket it.

The rules below were read from ostris/ai-toolkit (snapshot 27a03a9, 2026-08-21); the scan follows them.

* Which files (``toolkit/data_loader.py``, ``AiToolkitDataset.__init__``, lines 39–40, 439–450): the folder is
  walked recursively (``os.walk``, symlinked folders not entered); folders and files whose name starts with ``.``
  are skipped, and so are files whose parent folder is named ``_controls`` (generated control images). Image
  extensions are ``.jpg .jpeg .png .webp``, matched case-insensitively; anything else (``.gif``, ``.bmp``, ...)
  is ignored. Videos (``.mp4 .avi .mov .webm .mkv .wmv .m4v .flv``) are loaded only for video datasets
  (``num_frames > 1`` or ``auto_frame_count``), next to the images.
* Sizes (``toolkit/data_transfer_object/data_loader.py`` lines 155/158, ``FileItemDTO``):
  ``exif_transpose(Image.open(path))``: Pillow tells the format from the bytes, applies the EXIF orientation (so
  rotated photos swap width and height) and decodes the image. The scan reads sizes with Pillow too, headers only
  (see :mod:`nbwizard.engine._image_headers`: decompression bombs, truncation, orientation). The optional
  ``fast_image_size`` reads headers and skips EXIF. Sizes are cached in ``.aitk_size.json`` in the dataset folder.
  A file that fails there is skipped with a printed error (``toolkit/data_loader.py`` lines 530–555); never fatal,
  but an empty dataset is. Videos are sized with OpenCV by the trainer; the scan lists them without sizes.
* Folders the walk cannot list are skipped silently by ``os.walk``; a link that loops is listed as a file by it
  (and, with an image extension, fails to load). The scan reports each such entry and goes on.
* Captions (``toolkit/dataloader_mixins.py``, ``CaptionProcessingDTOMixin.load_caption``; ``caption_ext`` in
  ``toolkit/config_modules.py`` ``DatasetConfig``, default ``txt``, a leading dot added): the caption is the file
  with the image's path minus its extension plus the caption extension, read as UTF-8 (lines 350–354). When it
  does not exist (``os.path.exists``: a broken link counts as missing), or holds only whitespace,
  ``default_caption`` is used (an empty caption if none is set). A caption that exists but cannot be read (not
  UTF-8, no permission) raises while a batch is built, outside the loader's skip-on-error
  (``toolkit/data_loader.py`` line 656): the training stops.
* Trigger- and class-word candidates: read from the captions by :mod:`nbwizard.engine._caption_words`.
* Trigger word (``toolkit/prompt_utils.py``, ``inject_trigger_into_prompt``): ``[trigger]`` and ``[name]`` in a
  caption are replaced by the trigger word (removed when there is none); when a trigger word is set and the
  caption still does not contain it, it is put in front of the caption (not for regularisation datasets).
* Buckets (``toolkit/buckets.py``, ``get_bucket_for_image_size``; ``BucketsMixin.setup_buckets``): the
  resolution is a pixel *area*, resolution². The target area is the smaller of the image's own area and that one,
  so small images are trained at their own size, not upscaled to the resolution. The image is scaled to the
  target area keeping its aspect, each side is rounded down or up to a multiple of the divisibility, candidates
  above the area are discarded and the one closest to the target area is the bucket ``W×H``. The image is then
  scaled so that it covers the bucket (which can enlarge it slightly) and centre-cropped (or randomly cropped).
* Divisibility: ``DatasetConfig.bucket_tolerance`` defaults to 64, but ``AiToolkitDataset`` overwrites it with
  the model's ``get_bucket_divisibility()`` (``toolkit/models/base_model.py``: 2^(VAE levels − 1), usually 8,
  doubled for Flux; 16 for Wan). Pass the model's value as ``divisibility`` when it is known.
* Dropping: the bucketed loader drops no image for being small. Only the legacy ``ImageDataset``
  (``toolkit/data_loader.py``) skips images whose short side is below the resolution. Unreadable files are the
  ones dropped.
* Control images (``ControlFileItemDTOMixin`` in ``toolkit/dataloader_mixins.py``; ``control_path`` in
  ``DatasetConfig``, a folder or a list, also ``control_path_1..3``): for each control folder the loader looks,
  directly in that folder, for the image's *file name* stem with ``.jpg .jpeg .png .webp``, first match wins.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path

from nbwizard.engine._caption_words import WordCandidate, word_candidates
from nbwizard.engine._image_headers import read_image_sizes

__all__ = [
    "IMAGE_EXTENSIONS", "VIDEO_EXTENSIONS", "Bucket", "BucketPlan", "CaptionStats", "ControlFolderInfo",
    "DatasetError", "DatasetInfo", "FileList", "FileProblem", "HistogramBin", "ImageRecord", "WordCandidate",
    "analyze_dataset", "bucket_for", "plan_buckets",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".wmv", ".m4v", ".flv")
_OTHER_IMAGE_EXTENSIONS = (".gif", ".bmp", ".tif", ".tiff", ".avif", ".heic", ".heif", ".jxl", ".jp2", ".tga")
_PLACEHOLDERS = ("[trigger]", "[name]")
_SIZE_BINS = (256, 512, 768, 1024, 1536, 2048)  # edges on sqrt(width*height)
_ASPECTS = ((9, 21), (1, 2), (9, 16), (2, 3), (3, 4), (4, 5), (1, 1), (5, 4), (4, 3), (3, 2), (16, 9), (2, 1), (21, 9))
_MAX_PROGRESS_CALLS = 50
_TRAINER_STOPS = "the trainer stops with an error when it reads it"
_ODD_CHARS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}  # control characters, shown escaped

Progress = Callable[[int, int], None]


class DatasetError(ValueError):
    """The dataset folder cannot be analysed at all (missing, not a folder, not readable)."""


def _jsonable(value):
    if is_dataclass(value):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


class _Record:
    """Mixin: ``to_dict()`` returns plain dicts / lists / str / int / float / None, ready for ``json.dumps``."""

    __slots__ = ()

    def to_dict(self) -> dict:
        return _jsonable(self)


@dataclass(frozen=True, slots=True)
class FileProblem(_Record):
    path: str  # relative to the dataset folder, "/"-separated
    reason: str


@dataclass(frozen=True, slots=True)
class FileList(_Record):
    """One kind of problem file, for a page: how many, and the first few with their reasons."""

    title: str
    count: int
    first: tuple[FileProblem, ...]


@dataclass(frozen=True, slots=True)
class ImageRecord(_Record):
    path: str
    width: int  # as displayed: EXIF rotation applied
    height: int
    format: str
    bytes: int


@dataclass(frozen=True, slots=True)
class HistogramBin(_Record):
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Bucket(_Record):
    width: int
    height: int
    count: int


@dataclass(frozen=True, slots=True)
class BucketPlan(_Record):
    """Where each readable image lands at one resolution (largest buckets first)."""

    resolution: int
    divisibility: int
    buckets: tuple[Bucket, ...]
    below_resolution: tuple[str, ...]  # area < resolution²: trained at their own, smaller size
    upscaled: int  # images enlarged (by rounding to the divisibility) to cover their bucket
    max_upscale: float  # largest such enlargement factor, 1.0 when none
    dropped: int  # files the loader skips: the unreadable ones (none are dropped for size)


@dataclass(frozen=True, slots=True)
class CaptionStats(_Record):
    caption_ext: str  # with its leading dot
    items: int  # images (and videos, when they are trained) that look for a caption
    with_caption: int
    missing: tuple[str, ...]  # media files without a caption file
    empty: tuple[str, ...]  # caption files holding only whitespace
    default_applied: int  # missing or empty captions that get default_caption
    words_min: int | None  # over the captions the trainer uses (files, or default_caption); None when none
    words_median: float | None
    words_max: int | None
    with_placeholder: int  # captions containing [trigger] or [name]
    with_trigger: int | None  # captions that hold the trigger word after replacement; None without a trigger word
    orphans: tuple[str, ...]  # caption files with no media file of the same stem


@dataclass(frozen=True, slots=True)
class ControlFolderInfo(_Record):
    path: str
    exists: bool
    matched: int
    missing: tuple[str, ...]  # images with no control image of the same name stem
    inside_dataset: bool  # its images are also picked up as training images (unless it is named _controls)


@dataclass(frozen=True, slots=True)
class DatasetInfo(_Record):
    root: str
    images: tuple[ImageRecord, ...]
    videos: tuple[str, ...]
    videos_trained: bool
    total_bytes: int  # images + videos
    corrupt: tuple[FileProblem, ...]  # unreadable files and folders (the trainer skips them), unreadable captions
    notes: tuple[FileProblem, ...]  # trained, but worth knowing: Pillow warnings, names that are not UTF-8
    ignored: tuple[FileProblem, ...]  # files ai-toolkit does not load (hidden ones are only counted)
    hidden_skipped: int
    captions: CaptionStats
    size_histogram: tuple[HistogramBin, ...]  # by sqrt(width × height)
    aspect_histogram: tuple[HistogramBin, ...]  # by nearest common ratio, width:height
    buckets: tuple[BucketPlan, ...]
    duplicates: tuple[tuple[str, ...], ...]  # groups of byte-identical images
    controls: tuple[ControlFolderInfo, ...]
    trigger_word: str | None
    default_caption: str | None
    trigger_candidate: WordCandidate | None  # the word the captions share (engine/_caption_words.py)
    class_candidate: WordCandidate | None  # the noun that goes with it
    scan_seconds: float

    def file_lists(self, limit: int = 10) -> tuple[FileList, ...]:
        """The problem files by kind, each with its count and its first ``limit`` names (empty kinds left out)."""
        c = self.captions
        fallback = (f"gets the default caption '{self.default_caption}'" if self.default_caption is not None
                    else "trained with an empty caption")
        if self.trigger_word:
            fallback += f" (plus the trigger word '{self.trigger_word}')"
        kinds = (
            ("Unreadable: not trained, or stops the training", self.corrupt),
            (f"No caption file ({c.caption_ext}): {fallback}",
             [FileProblem(p, f"no {os.path.splitext(p)[0]}{c.caption_ext}") for p in c.missing]),
            (f"Empty caption file: {fallback}", [FileProblem(p, "holds only whitespace") for p in c.empty]),
            ("Not loaded by ai-toolkit", self.ignored),
            ("Trained, but worth a look", self.notes),
        )
        return tuple(FileList(title, len(items), tuple(items[:limit])) for title, items in kinds if items)

    def summary(self) -> list[str]:
        """A few plain-text lines for a log or the advisor panel."""
        formats = Counter(r.format for r in self.images)
        lines = [
            f"{len(self.images)} images ({', '.join(f'{n} {k}' for k, n in formats.most_common()) or 'none'}), "
            f"{len(self.videos)} videos{'' if self.videos_trained or not self.videos else ' (not trained)'}, "
            f"{self.total_bytes / 2**20:.1f} MiB in {self.root}"
        ]
        c = self.captions
        words = f"; {c.words_min}–{c.words_max} words (median {c.words_median:g})" if c.words_min is not None else ""
        lines.append(f"Captions ({c.caption_ext}): {c.with_caption}/{c.items}, {len(c.missing)} missing, "
                     f"{len(c.empty)} empty{words}")
        if self.trigger_word is not None:
            lines.append(f"Trigger word '{self.trigger_word}': in {c.with_trigger} captions; "
                         f"the trainer puts it in front of the other {c.items - (c.with_trigger or 0)}")
        for label, cand in (("Trigger word", self.trigger_candidate), ("Class word", self.class_candidate)):
            if cand is not None:
                lines.append(f"{label} candidate from the captions: {cand.evidence}")
        for plan in self.buckets:
            top = ", ".join(f"{b.width}x{b.height} ({b.count})" for b in plan.buckets[:3])
            lines.append(f"At {plan.resolution}px: {len(plan.buckets)} buckets [{top}]; "
                         f"{len(plan.below_resolution)} below {plan.resolution}² pixels; {plan.upscaled} upscaled")
        if self.duplicates:
            lines.append(f"Duplicates: {len(self.duplicates)} groups, {sum(map(len, self.duplicates))} files")
        if self.corrupt:
            lines.append(f"Unreadable (skipped by the trainer): {len(self.corrupt)}, e.g. "
                         f"{self.corrupt[0].path}: {self.corrupt[0].reason}")
        if self.notes:
            lines.append(f"Notes: {len(self.notes)}, e.g. {self.notes[0].path}: {self.notes[0].reason}")
        if self.ignored:
            lines.append(f"Ignored by ai-toolkit: {len(self.ignored)} files, e.g. "
                         f"{self.ignored[0].path} ({self.ignored[0].reason})")
        for ctl in self.controls:
            state = f"{ctl.matched} matched, {len(ctl.missing)} missing" if ctl.exists else "folder not found"
            inside = "; inside the dataset, so its images are trained too" if ctl.inside_dataset else ""
            lines.append(f"Control folder {ctl.path}: {state}{inside}")
        return lines


def bucket_for(width: int, height: int, resolution: int, divisibility: int = 64) -> tuple[int, int]:
    """The bucket ``(W, H)`` ai-toolkit gives an image (``toolkit/buckets.py``); see the module docstring."""
    area, max_area = width * height, resolution * resolution
    target = min(area, max_area)
    scale = (target / area) ** 0.5
    w_raw, h_raw = width * scale / divisibility, height * scale / divisibility
    candidates = [(fw * divisibility, fh * divisibility)
                  for fw in (math.floor(w_raw), math.ceil(w_raw)) for fh in (math.floor(h_raw), math.ceil(h_raw))]
    fitting = [(w, h) for w, h in candidates if w > 0 and h > 0 and w * h <= max_area]
    if not fitting:
        fitting = [(max(divisibility, math.floor(w_raw) * divisibility),
                    max(divisibility, math.floor(h_raw) * divisibility))]
    return min(fitting, key=lambda wh: abs(wh[0] * wh[1] - target))


def plan_buckets(images: Iterable[ImageRecord], resolution: int, divisibility: int = 64,
                 dropped: int = 0) -> BucketPlan:
    """Bucket ``images`` at ``resolution``; cheap, so a UI can re-plan without re-scanning."""
    memo: dict[tuple[int, int], tuple[int, int, float]] = {}
    counts: Counter[tuple[int, int]] = Counter()
    below, upscaled, max_up = [], 0, 1.0
    for rec in images:
        key = (rec.width, rec.height)
        if key not in memo:
            bw, bh = bucket_for(rec.width, rec.height, resolution, divisibility)
            memo[key] = (bw, bh, max(bw / rec.width, bh / rec.height))
        bw, bh, up = memo[key]
        counts[bw, bh] += 1
        if rec.width * rec.height < resolution * resolution:
            below.append(rec.path)
        if up > 1.0:
            upscaled += 1
            max_up = max(max_up, up)
    buckets = tuple(Bucket(w, h, n) for (w, h), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return BucketPlan(resolution, divisibility, buckets, tuple(below), upscaled, round(max_up, 4), dropped)


def analyze_dataset(
    path: str | os.PathLike,
    progress: Progress | None = None,
    *,
    caption_ext: str = "txt",
    trigger_word: str | None = None,
    default_caption: str | None = None,
    resolutions: Sequence[int] = (512, 768, 1024),
    divisibility: int = 64,
    control_paths: Sequence[str | os.PathLike] = (),
    videos_trained: bool = False,
) -> DatasetInfo:
    """Scan ``path`` as ai-toolkit's loader would and describe what it finds.

    Only file headers are read (plus the caption files); bad files, folders and names are listed one by one,
    never raised. ``progress(done,
    total)`` is called at most about 50 times while images are read. ``videos_trained`` says the job is a video
    job (``num_frames > 1``), so videos count as training items. Raises :class:`DatasetError` when ``path`` is
    missing, not a folder, or not readable.
    """
    started = time.perf_counter()
    root = _check_root(path)
    ext = caption_ext if caption_ext.startswith(".") else "." + caption_ext
    scan = _scan(root, ext)

    images: list[ImageRecord] = []
    corrupt, notes = list(scan.unreadable), list(scan.notes)
    total, step = len(scan.images), max(1, math.ceil(len(scan.images) / _MAX_PROGRESS_CALLS))
    for start in range(0, total, step):  # a batch per progress call
        batch = scan.images[start:start + step]
        for (rel, _, size), head in zip(batch, read_image_sizes([(full, size) for _, full, size in batch])):
            if head.reason is not None:
                corrupt.append(FileProblem(rel, head.reason))
            else:
                images.append(ImageRecord(rel, head.width, head.height, head.format, size))
                if head.note is not None:
                    notes.append(FileProblem(rel, head.note))
        if progress is not None:
            progress(start + len(batch), total)

    kept = [r.path for r in images]  # the loader drops unreadable files before it looks for captions
    media = kept + [rel for rel, _, _ in scan.videos] if videos_trained else kept
    captions, caption_problems, texts = _caption_stats(media, scan, ext, trigger_word, default_caption)
    trigger_cand, class_cand = word_candidates(texts, trigger_word)
    return DatasetInfo(
        root=_shown(str(root)), images=tuple(images), videos=tuple(rel for rel, _, _ in scan.videos),
        videos_trained=videos_trained, total_bytes=sum(s for _, _, s in scan.images + scan.videos),
        corrupt=tuple(sorted(corrupt + caption_problems, key=lambda p: p.path)), notes=tuple(notes),
        ignored=tuple(scan.ignored), hidden_skipped=scan.hidden, captions=captions,
        size_histogram=_size_histogram(images), aspect_histogram=_aspect_histogram(images),
        buckets=tuple(plan_buckets(images, r, divisibility, dropped=total - len(images)) for r in resolutions),
        duplicates=_duplicates(scan.images, {r.path for r in images}),
        controls=tuple(_control_info(root, Path(c), kept) for c in control_paths),
        trigger_word=trigger_word, default_caption=default_caption, trigger_candidate=trigger_cand,
        class_candidate=class_cand,
        scan_seconds=round(time.perf_counter() - started, 4),
    )


def _check_root(path: str | os.PathLike) -> Path:
    root = Path(path).expanduser()
    if not root.exists():
        raise DatasetError(f"dataset folder does not exist: {root}")
    if not root.is_dir():
        raise DatasetError(f"dataset path is not a folder: {root}")
    try:
        with os.scandir(root):
            pass
    except PermissionError as exc:
        raise DatasetError(f"permission denied reading the dataset folder: {root}") from exc
    except OSError as exc:
        raise DatasetError(f"cannot read the dataset folder {root}: {exc.strerror or exc}") from exc
    return root.resolve()


@dataclass
class _Scan:
    images: list[tuple[str, str, int]]  # (relative path as shown, full path, bytes)
    videos: list[tuple[str, str, int]]
    captions: dict[str, str]  # relative path -> full path, of files with the caption extension
    ignored: list[FileProblem]
    unreadable: list[FileProblem]
    notes: list[FileProblem]
    hidden: int


def _shown(name: str) -> str:
    """``name`` as text that prints and serialises anywhere: bytes that are not UTF-8 and control characters are
    written as ``\\xNN`` (os.scandir hands undecodable bytes over as lone surrogates)."""
    if name.isprintable():
        return name
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").translate(_ODD_CHARS)


def _scan(root: Path, caption_ext: str) -> _Scan:
    scan = _Scan([], [], {}, [], [], [], 0)
    pending = [(str(root), "")]
    while pending:
        folder, prefix = pending.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:  # os.walk (the trainer) silently skips such a folder
            scan.unreadable.append(FileProblem(prefix.rstrip("/") or ".", f"cannot list the folder ({exc.strerror}): "
                                               "the trainer skips it without a word"))
            continue
        in_controls = os.path.basename(folder) == "_controls"
        subdirs: list[tuple[str, str]] = []
        for entry in entries:
            if entry.name.startswith("."):
                scan.hidden += 1
                continue
            rel = prefix + _shown(entry.name)
            if rel != prefix + entry.name:
                scan.notes.append(FileProblem(rel, "the name is not plain text (bytes that are not UTF-8, or control "
                                                   "characters), shown with \\xNN escapes here; the trainer reads "
                                                   "the file all the same"))
            try:
                _sort_entry(scan, entry, rel, caption_ext, in_controls, subdirs)
            except OSError as exc:  # whatever the file system says about one entry, the scan goes on
                scan.unreadable.append(FileProblem(rel, f"cannot inspect it: {exc.strerror or exc}"))
        pending.extend(reversed(subdirs))
    return scan


def _sort_entry(scan: _Scan, entry: os.DirEntry, rel: str, caption_ext: str, in_controls: bool,
                subdirs: list[tuple[str, str]]) -> None:
    try:
        is_dir = entry.is_dir()
    except OSError:  # a link that loops: os.walk lists it as a file too
        is_dir = False
    if is_dir:
        if entry.is_symlink():
            scan.ignored.append(FileProblem(rel + "/", "a link to a folder: ai-toolkit's os.walk does not enter it"))
        else:
            subdirs.append((entry.path, rel + "/"))
        return
    suffix = os.path.splitext(entry.name)[1].lower()
    if entry.name.endswith(caption_ext):  # the loader builds the caption path exactly, case included
        if entry.is_file():
            scan.captions[rel] = entry.path
        else:
            scan.ignored.append(FileProblem(rel, "caption that is no readable file (a broken link?): the trainer "
                                                 "takes it as missing"))
    if suffix not in IMAGE_EXTENSIONS and suffix not in VIDEO_EXTENSIONS:
        if suffix in _OTHER_IMAGE_EXTENSIONS:
            scan.ignored.append(FileProblem(rel, f"extension {suffix} is not loaded by ai-toolkit"))
        return
    if in_controls:
        scan.ignored.append(FileProblem(rel, "inside a _controls folder"))
        return
    try:
        st = entry.stat()
    except OSError as exc:  # a broken link, or one that loops: the trainer fails to open it and skips it
        scan.unreadable.append(FileProblem(rel, f"cannot open it ({exc.strerror}): the trainer skips it"))
        return
    if not stat.S_ISREG(st.st_mode):  # a FIFO or socket: opening it could block
        scan.ignored.append(FileProblem(rel, "not a regular file"))
        return
    (scan.images if suffix in IMAGE_EXTENSIONS else scan.videos).append((rel, entry.path, st.st_size))


def _caption_stats(media, scan: _Scan, ext: str, trigger: str | None, default: str | None):
    """Caption statistics, the unreadable caption files, and the texts of the caption files (for word candidates)."""
    missing, empty, words, problems, texts = [], [], [], [], []
    placeholders = with_trigger = default_applied = 0
    used: set[str] = set()
    for rel in media:
        cap_rel = os.path.splitext(rel)[0] + ext
        text = None
        if cap_rel in scan.captions:
            used.add(cap_rel)
            try:
                with open(scan.captions[cap_rel], encoding="utf-8") as f:
                    text = f.read()
            except UnicodeDecodeError as exc:
                problems.append(FileProblem(cap_rel, f"caption is not UTF-8 text (byte {exc.start}: {exc.reason}); "
                                                     + _TRAINER_STOPS))
                continue
            except OSError as exc:
                problems.append(FileProblem(cap_rel, f"caption cannot be read ({exc.strerror or exc}); "
                                                     + _TRAINER_STOPS))
                continue
            if not text.strip():
                empty.append(cap_rel)
                text = None
            else:
                texts.append(text)
        else:
            missing.append(rel)
        if text is None:
            if default is None:
                continue
            default_applied += 1
            text = default
        if any(p in text for p in _PLACEHOLDERS):
            placeholders += 1
        if trigger:
            final = text.replace("[trigger]", trigger).replace("[name]", trigger)
            with_trigger += trigger in final
        words.append(len(text.split()))
    n_with = len(media) - len(missing)
    stats = CaptionStats(
        caption_ext=ext, items=len(media), with_caption=n_with, missing=tuple(missing), empty=tuple(empty),
        default_applied=default_applied,
        words_min=min(words) if words else None,
        words_median=float(statistics.median(words)) if words else None,
        words_max=max(words) if words else None,
        with_placeholder=placeholders,
        with_trigger=with_trigger if trigger else None,
        orphans=tuple(sorted(set(scan.captions) - used - {os.path.splitext(rel)[0] + ext for rel, _, _ in
                                                            scan.images + scan.videos})),
    )
    return stats, problems, texts


def _size_histogram(images: Sequence[ImageRecord]) -> tuple[HistogramBin, ...]:
    edges = (0, *_SIZE_BINS)
    labels = [f"{lo}–{hi - 1}" for lo, hi in zip(edges, edges[1:])] + [f"≥{edges[-1]}"]
    counts = [0] * len(labels)
    for rec in images:
        side = math.isqrt(rec.width * rec.height)
        counts[sum(side >= e for e in _SIZE_BINS)] += 1
    return tuple(HistogramBin(label, n) for label, n in zip(labels, counts))


def _aspect_histogram(images: Sequence[ImageRecord]) -> tuple[HistogramBin, ...]:
    logs = [math.log(w / h) for w, h in _ASPECTS]
    counts = [0] * len(_ASPECTS)
    memo: dict[tuple[int, int], int] = {}
    for rec in images:
        key = (rec.width, rec.height)
        if key not in memo:
            lr = math.log(rec.width / rec.height)
            memo[key] = min(range(len(logs)), key=lambda i: abs(logs[i] - lr))
        counts[memo[key]] += 1
    return tuple(HistogramBin(f"{w}:{h}", n) for (w, h), n in zip(_ASPECTS, counts) if n)


def _duplicates(files: Sequence[tuple[str, str, int]], readable: set[str]) -> tuple[tuple[str, ...], ...]:
    """Groups of byte-identical readable images; only files whose byte sizes collide are hashed."""
    by_size: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for rel, full, size in files:
        if rel in readable:
            by_size[size].append((rel, full))
    groups = []
    for same_size in by_size.values():
        if len(same_size) < 2:
            continue
        by_hash: dict[bytes, list[str]] = defaultdict(list)
        for rel, full in same_size:
            try:
                by_hash[_digest(full)].append(rel)
            except OSError:
                continue
        groups += [tuple(sorted(g)) for g in by_hash.values() if len(g) > 1]
    return tuple(sorted(groups))


def _digest(path: str) -> bytes:
    h = hashlib.blake2b()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.digest()


def _control_info(root: Path, folder: Path, files: Sequence[str]) -> ControlFolderInfo:
    folder = folder.expanduser()
    try:
        names = {_shown(n) for n in os.listdir(folder)}
        resolved = folder.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a link loop, before Python 3.13
        names, resolved = None, folder.absolute()
    within = resolved == root or root in resolved.parents
    own = resolved.relative_to(root).as_posix() + "/" if within and resolved != root else None
    missing, matched = [], 0
    for rel in files:
        if own is not None and rel.startswith(own):
            continue  # the control images themselves
        stem = os.path.splitext(os.path.basename(rel))[0]
        if names is not None and any(stem + e in names for e in IMAGE_EXTENSIONS):
            matched += 1
        else:
            missing.append(rel)
    inside = within and names is not None and resolved.name != "_controls"
    return ControlFolderInfo(_shown(str(folder)), names is not None, matched, tuple(missing), inside)
