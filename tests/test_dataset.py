"""Tests for engine.dataset: a generated dataset exercising each loader rule, Pillow's verdicts, buckets, errors."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import tempfile
import zlib
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps, PngImagePlugin

from nbwizard.cli import main as cli_main
from nbwizard.engine import _image_headers as ih
from nbwizard.engine import dataset as ds
from nbwizard.engine._image_headers import read_image_size
from nbwizard.engine.dataset import DatasetError, analyze_dataset, bucket_for, plan_buckets


def _img(path: Path, size=(640, 480), fmt=None, color=(10, 20, 30), **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format=fmt, **save)
    return path


def _exif_rotated_jpeg(path: Path, size=(800, 600), orientation=6) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _img(path, size, "JPEG", exif=exif.tobytes())


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    _img(root / "a.png", (1024, 768))
    (root / "a.txt").write_text("a photo of [trigger] at the beach", encoding="utf-8")
    _img(root / "b.jpg", (768, 1024), color=(200, 0, 0))
    (root / "b.txt").write_text("ohwx standing", encoding="utf-8")
    _exif_rotated_jpeg(root / "nested" / "deeper" / "rot.jpg")  # stored 800x600, displayed 600x800
    (root / "nested" / "deeper" / "rot.txt").write_text("   \n", encoding="utf-8")  # empty caption
    _img(root / "nested" / "small.webp", (128, 96), "WEBP")  # too small for 512, no caption
    shutil.copyfile(root / "a.png", root / "nested" / "a_copy.png")  # duplicate of a.png
    (root / "nested" / "a_copy.txt").write_text("one two three four five six", encoding="utf-8")
    png = (root / "a.png").read_bytes()
    (root / "broken.png").write_bytes(png[:20])  # cut inside IHDR: no size
    (root / "cut_tail.png").write_bytes(png[:-12])  # IEND missing, image data complete: Pillow decodes it
    (root / "cut_half.png").write_bytes(png[: len(png) // 2])  # header fine, image data cut: Pillow cannot
    (root / "zero.jpg").write_bytes(b"")
    (root / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (root / "clip.txt").write_text("a video caption", encoding="utf-8")
    (root / "notes.txt").write_text("not a caption", encoding="utf-8")  # orphan
    _img(root / "anim.gif", (64, 64), "GIF")  # not an extension ai-toolkit loads
    _img(root / ".hidden.png", (64, 64))
    _img(root / ".cache" / "x.png", (64, 64))
    _img(root / "_controls" / "a.png", (64, 64))  # generated controls are not training images
    _img(root / "UPPER.PNG", (512, 512))  # extensions match case-insensitively
    ctl = tmp_path / "control"
    _img(ctl / "a.jpg", (64, 64))
    _img(ctl / "rot.png", (64, 64))
    return root


@pytest.fixture
def info(dataset: Path) -> ds.DatasetInfo:
    return analyze_dataset(dataset, trigger_word="ohwx", resolutions=(512, 1024),
                           control_paths=[dataset.parent / "control"])


def test_finds_training_images_recursively_by_loader_rules(info):
    paths = {r.path for r in info.images}
    assert paths == {"a.png", "b.jpg", "nested/deeper/rot.jpg", "nested/small.webp", "nested/a_copy.png",
                     "cut_tail.png", "UPPER.PNG"}
    assert info.videos == ("clip.mp4",) and not info.videos_trained
    assert {p.path for p in info.ignored} == {"anim.gif", "_controls/a.png"}
    assert info.hidden_skipped == 2  # .hidden.png and the .cache folder
    on_disk = sum((Path(info.root) / p).stat().st_size
                  for p in (*paths, "broken.png", "cut_half.png", "zero.jpg", "clip.mp4"))
    assert info.total_bytes == on_disk


def test_sizes_come_from_headers_with_exif_rotation(info):
    sizes = {r.path: (r.width, r.height, r.format) for r in info.images}
    assert sizes["nested/deeper/rot.jpg"] == (600, 800, "JPEG")
    assert sizes["nested/small.webp"] == (128, 96, "WEBP")
    assert sizes["a.png"] == (1024, 768, "PNG")


def _pillow_decodes(path: Path) -> bool:
    """What the trainer does to every image while reading sizes (data_transfer_object/data_loader.py:158)."""
    try:
        with Image.open(path) as img:
            ImageOps.exif_transpose(img)
        return True
    except Exception:  # noqa: BLE001 -- any failure is the trainer skipping the file
        return False


def test_corrupt_and_truncated_files_are_listed_not_fatal(info, dataset):
    reasons = {p.path: p.reason for p in info.corrupt}
    assert set(reasons) == {"broken.png", "cut_half.png", "zero.jpg"}
    assert "Pillow cannot read it" in reasons["broken.png"] and "0 bytes" in reasons["zero.jpg"]
    assert reasons["cut_half.png"].startswith("truncated") and "image file is truncated" in reasons["cut_half.png"]
    assert all(plan.dropped == 3 for plan in info.buckets)
    # the verdicts are Pillow's: what it decodes is trained, what it refuses is not
    assert _pillow_decodes(dataset / "cut_tail.png") and not _pillow_decodes(dataset / "cut_half.png")


def test_caption_stats(info):
    c = info.captions
    assert c.caption_ext == ".txt" and c.items == 7
    assert c.with_caption == 4  # a, b, rot (empty), a_copy
    assert set(c.missing) == {"nested/small.webp", "cut_tail.png", "UPPER.PNG"}
    assert c.empty == ("nested/deeper/rot.txt",)
    assert (c.words_min, c.words_median, c.words_max) == (2, 6.0, 7)
    assert c.with_placeholder == 1 and c.with_trigger == 2  # "[trigger]" replaced, "ohwx" literal
    assert c.orphans == ("notes.txt",)  # clip.txt belongs to the video


def test_default_caption_fills_missing_and_empty(dataset):
    info = analyze_dataset(dataset, caption_ext=".txt", default_caption="a [trigger] photo", trigger_word="zz")
    assert info.captions.default_applied == 4  # 3 missing + 1 empty
    assert info.captions.with_trigger == 5 and info.captions.with_placeholder == 5


def test_videos_count_as_items_for_video_jobs(dataset):
    info = analyze_dataset(dataset, videos_trained=True)
    assert info.captions.items == 8 and "clip.mp4" not in info.captions.missing


def test_duplicates_are_byte_identical_groups(info):
    assert info.duplicates == (("a.png", "nested/a_copy.png"),)


def test_bucket_plan_and_small_images(info):
    plan512, plan1024 = info.buckets
    assert (plan512.resolution, plan512.divisibility) == (512, 64)
    assert sum(b.count for b in plan512.buckets) == len(info.images)
    assert plan512.below_resolution == ("nested/small.webp",)
    assert set(plan1024.below_resolution) == {r.path for r in info.images}  # all under 1024² pixels
    assert plan512.buckets[0].count >= plan512.buckets[-1].count


def test_bucket_for_matches_hand_computed_values():
    assert bucket_for(1024, 1024, 1024) == (1024, 1024)
    assert bucket_for(300, 200, 512) == (320, 192)  # small: own area, slightly enlarged to the grid
    assert bucket_for(4000, 3000, 1024) == (1152, 896)
    assert bucket_for(640, 480, 768) == (640, 448)  # a tie in area keeps the first candidate, as upstream
    assert bucket_for(10, 10, 512, 16) == (16, 16)  # smaller than one cell: the fallback


@given(st.integers(1, 8000), st.integers(1, 8000), st.sampled_from([256, 512, 768, 1024]),
       st.sampled_from([8, 16, 32, 64]))
def test_bucket_is_on_the_grid_and_within_the_area(w, h, res, div):
    bw, bh = bucket_for(w, h, res, div)
    assert bw % div == 0 and bh % div == 0
    assert bw * bh <= res * res or min(bw, bh) == div  # only a sliver-thin image overflows (upstream fallback)


def test_plan_buckets_replans_without_rescanning(info):
    replanned = plan_buckets(info.images, 512, divisibility=16)
    assert replanned.divisibility == 16 and sum(b.count for b in replanned.buckets) == len(info.images)


def test_control_folder_outside_dataset(info):
    (ctl,) = info.controls
    assert ctl.exists and not ctl.inside_dataset
    assert ctl.matched == 2  # a.png ↔ a.jpg and nested/deeper/rot.jpg ↔ rot.png: by file-name stem only
    assert "nested/small.webp" in ctl.missing and len(ctl.missing) == len(info.images) - 2


def test_control_folder_inside_dataset_is_flagged(dataset):
    _img(dataset / "ctl" / "b.png", (64, 64))
    info = analyze_dataset(dataset, control_paths=[dataset / "ctl", dataset / "nope"])
    inside, absent = info.controls
    assert inside.inside_dataset and inside.matched == 1 and "ctl/b.png" not in inside.missing
    assert "ctl/b.png" in {r.path for r in info.images}  # the trainer would train on it too
    assert not absent.exists and len(absent.missing) == len(info.images)


def test_special_and_dangling_files_do_not_block_or_raise(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    info = analyze_dataset(tmp_path)
    assert [p.path for p in info.ignored] == ["pipe.png"]
    assert [p.path for p in info.corrupt] == ["dangling.jpg"]


def test_looping_links_are_reported_one_by_one_and_the_scan_goes_on(tmp_path):
    _img(tmp_path / "good.png", (64, 48))
    (tmp_path / "self.png").symlink_to(tmp_path / "self.png")  # a link to itself
    (tmp_path / "ping.jpg").symlink_to(tmp_path / "pong.jpg")  # two links to each other
    (tmp_path / "pong.jpg").symlink_to(tmp_path / "ping.jpg")
    (tmp_path / "loopdir").symlink_to(tmp_path / "loopdir")
    (tmp_path / "notes").symlink_to(tmp_path / "notes")  # no image extension: ai-toolkit never looks at it
    _img(tmp_path / "real" / "inner.png", (64, 48))
    (tmp_path / "linked").symlink_to(tmp_path / "real", target_is_directory=True)
    info = analyze_dataset(tmp_path, control_paths=[tmp_path / "loopdir"])
    assert [r.path for r in info.images] == ["good.png", "real/inner.png"]  # the linked folder is not entered
    reasons = {p.path: p.reason for p in info.corrupt}
    assert set(reasons) == {"self.png", "ping.jpg", "pong.jpg"}
    assert all("Too many levels of symbolic links" in r for r in reasons.values())
    assert {p.path for p in info.ignored} == {"linked/"}  # os.walk does not follow links to folders
    assert not info.controls[0].exists


def test_unlistable_folders_and_unopenable_files_are_reported_one_by_one(tmp_path, monkeypatch):
    for name in ("a.png", "b.png", "locked/c.png", "open/d.png"):
        _img(tmp_path / name, (64, 48))
    real_scandir, real_open = os.scandir, open

    def scandir(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    def open_(path, *args, **kwargs):
        if Path(path).name == "b.png":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(ds.os, "scandir", scandir)
    monkeypatch.setattr(ih, "open", open_, raising=False)  # the module's own name shadows the builtin
    info = analyze_dataset(tmp_path)
    assert [r.path for r in info.images] == ["a.png", "open/d.png"]
    reasons = {p.path: p.reason for p in info.corrupt}
    assert "Permission denied" in reasons["locked"] and "skips it" in reasons["locked"]
    assert "Permission denied" in reasons["b.png"]


def test_names_that_are_not_utf8_are_shown_escaped_noted_and_still_read(tmp_path):
    folder = os.fsencode(tmp_path)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48)).save(buf, "PNG")
    for raw in (b"caf\xe9.png", b"new\nline.png"):
        with open(os.path.join(folder, raw), "wb") as f:
            f.write(buf.getvalue())
    with open(os.path.join(folder, b"caf\xe9.txt"), "w", encoding="utf-8") as f:
        f.write("a caption")
    info = analyze_dataset(tmp_path)
    assert sorted(r.path for r in info.images) == ["caf\\xe9.png", "new\\x0aline.png"]
    assert info.captions.missing == ("new\\x0aline.png",)  # the odd name's caption is found
    assert {n.path for n in info.notes} == {"caf\\xe9.png", "caf\\xe9.txt", "new\\x0aline.png"}
    json.dumps(info.to_dict(), ensure_ascii=False).encode("utf-8")  # prints and serialises anywhere
    assert all("\n" not in line for line in info.summary())


def test_progress_is_called_a_bounded_number_of_times(tmp_path):
    for i in range(230):
        (tmp_path / f"{i}.png").write_bytes(b"")
    calls = []
    analyze_dataset(tmp_path, lambda done, total: calls.append((done, total)))
    assert 1 <= len(calls) <= 51 and calls[-1] == (230, 230)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_to_dict_is_json_ready_and_info_is_frozen(info):
    data = json.loads(json.dumps(info.to_dict()))
    assert data["captions"]["with_trigger"] == 2 and data["buckets"][0]["resolution"] == 512
    with pytest.raises(FrozenInstanceError):
        info.root = "x"


def test_summary_is_plain_text(info):
    lines = info.summary()
    assert lines and all(isinstance(s, str) and "<" not in s for s in lines)
    assert any("Trigger word 'ohwx'" in s for s in lines) and any("Duplicates" in s for s in lines)


@pytest.mark.parametrize("make", ["missing", "file", "denied"])
def test_bad_root_raises_dataset_error_with_path(tmp_path, monkeypatch, make):
    target = tmp_path / "x"
    if make == "file":
        target.write_text("hi")
    elif make == "denied":
        target.mkdir()
        real = os.scandir

        def deny(p="."):
            if Path(p) == target:
                raise PermissionError(13, "Permission denied", str(p))
            return real(p)

        monkeypatch.setattr(ds.os, "scandir", deny)
    with pytest.raises(DatasetError, match=str(target)) as err:
        analyze_dataset(target)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(("fmt", "size"), [("PNG", (33, 17)), ("JPEG", (33, 17)), ("WEBP", (33, 17)),
                                           ("GIF", (33, 17)), ("BMP", (33, 17)), ("TIFF", (33, 17))])
def test_header_formats_told_by_content_not_name(tmp_path, fmt, size):
    path = _img(tmp_path / "renamed.png", size, fmt)
    head = read_image_size(str(path), path.stat().st_size)
    assert (head.width, head.height, head.format, head.reason) == (*size, fmt, None)


def test_webp_lossless_and_extended(tmp_path):
    for name, kw in {"l.webp": {"lossless": True}, "x.webp": {"exif": Image.Exif().tobytes()}}.items():
        path = _img(tmp_path / name, (301, 97), "WEBP", **kw)
        head = read_image_size(str(path), path.stat().st_size)
        assert (head.width, head.height) == (301, 97)


@pytest.mark.parametrize("orientation", [1, 3, 5, 6, 7, 8])
def test_exif_orientation_swaps_only_for_5_to_8(tmp_path, orientation):
    path = _exif_rotated_jpeg(tmp_path / "o.jpg", (80, 30), orientation)
    head = read_image_size(str(path), path.stat().st_size)
    assert (head.width, head.height) == ((30, 80) if orientation >= 5 else (80, 30))


def test_jpeg_sof_after_a_large_app_segment(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (70, 50)).save(buf, "JPEG", icc_profile=b"\0" * 20000)  # pushes SOF past the first read
    path = tmp_path / "big.jpg"
    path.write_bytes(buf.getvalue())
    head = read_image_size(str(path), path.stat().st_size)
    assert (head.width, head.height, head.reason) == (70, 50, None)


_PREFIXES = st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"\xff\xd8",
                             b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM", b"RIFF\x00\x00\x00\x00WEBPVP8 ",
                             b"RIFF\x00\x00\x00\x00WEBPVP8X", b"GIF89a", b"BM", b"II*\x00"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=_PREFIXES, body=st.binary(max_size=300), name=st.sampled_from(["x.png", "x.jpg", "x.JPEG", "x.webp"]))
def test_random_bytes_never_raise(prefix, body, name):
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, name).write_bytes(prefix + body)
        info = analyze_dataset(tmp)
    listed = [p.path for p in info.corrupt] + [r.path for r in info.images]
    assert listed == [name]
    assert all(r.width > 0 and r.height > 0 for r in info.images)


def test_plain_junk_is_listed_as_corrupt(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"this is not an image at all" * 10)
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    info = analyze_dataset(tmp_path)
    assert not info.images and {p.path for p in info.corrupt} == {"junk.png", "junk.jpg"}


# -- Pillow decides: decompression bombs, truncation, orientation ----------------------------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width``×``height``: a decompression-bomb header without the bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


def test_a_decompression_bomb_header_is_unreadable_not_bucketed(tmp_path):
    (tmp_path / "bomb.png").write_bytes(_png_header_only(100_000, 100_000))
    _img(tmp_path / "ok.png", (64, 48))
    info = analyze_dataset(tmp_path)
    assert [r.path for r in info.images] == ["ok.png"]
    (bomb,) = info.corrupt
    assert bomb.path == "bomb.png" and "decompression bomb" in bomb.reason
    assert sum(b.count for b in info.buckets[0].buckets) == 1 and info.buckets[0].dropped == 1
    with pytest.raises(Image.DecompressionBombError):  # the trainer's loader refuses it the same way
        Image.open(tmp_path / "bomb.png")


def test_a_garbage_webp_header_is_refused_not_read_as_16777216_squared(tmp_path):
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0" * 4 + b"\xff" * 6
    (tmp_path / "junk.webp").write_bytes(b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x)
    info = analyze_dataset(tmp_path)
    assert not info.images and [p.path for p in info.corrupt] == ["junk.webp"]


def test_pillows_own_pixel_limit_applies_and_its_warning_never_escapes(tmp_path, monkeypatch):
    # ai-toolkit leaves Image.MAX_IMAGE_PIXELS alone, so whatever Pillow's limit is, the scan follows it:
    # over the limit Pillow warns and the trainer still loads the image; over twice the limit it refuses.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    _img(tmp_path / "large.png", (40, 30))  # 1200 pixels: a warning
    _img(tmp_path / "huge.png", (50, 50))  # 2500 pixels: an error
    _img(tmp_path / "fine.png", (20, 20))
    info = analyze_dataset(tmp_path)  # pytest turns any escaped warning into an error
    assert [r.path for r in info.images] == ["fine.png", "large.png"]
    assert [(n.path, "DecompressionBomb" in n.reason or "decompression bomb" in n.reason) for n in info.notes] == [
        ("large.png", True)]
    assert [p.path for p in info.corrupt] == ["huge.png"]


def _encoded(fmt: str, size=(48, 32), **save) -> bytes:
    buf = io.BytesIO()
    img = Image.effect_noise(size, 60).convert("RGB")
    if fmt == "MPO":
        img.save(buf, "MPO", save_all=True, append_images=[img.rotate(90)], **save)
    else:
        img.save(buf, fmt, **save)
    return buf.getvalue()


def _thumbnail() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (255, 0, 0)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize(("fmt", "save"), [
    ("PNG", {}), ("PNG", {"compress_level": 0}), ("JPEG", {}), ("JPEG", {"progressive": True}), ("WEBP", {}),
    ("WEBP", {"lossless": True}), ("MPO", {}),
    # a whole JPEG inside a header segment (as an EXIF thumbnail is): its end marker comes before the image data
    ("JPEG", {"comment": _thumbnail()}), ("MPO", {"comment": _thumbnail()})])
def test_truncation_verdict_is_a_full_pillow_decodes_at_every_cut(tmp_path, fmt, save):
    data = _encoded(fmt, **save)
    cuts = sorted({*range(1, len(data), 23), *range(max(1, len(data) - 40), len(data) + 1)})
    path = tmp_path / "x.img"
    wrong = []
    for cut in cuts:
        path.write_bytes(data[:cut])
        head = read_image_size(str(path), cut)
        if (head.reason is None) != _pillow_decodes(path):
            wrong.append((cut, head.reason))
    assert not wrong, f"{len(wrong)} of {len(cuts)} cuts judged unlike Pillow, e.g. {wrong[:3]}"


def _exif6() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif.tobytes()


_XMP6 = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
         b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')


def _before_iend(png: bytes, chunk: bytes) -> bytes:
    return png[:-12] + chunk + png[-12:]


def _png_text_xmp() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", _XMP6.decode())
    return _encoded("PNG", (40, 20), pnginfo=info)


_ROTATED = {
    "jpeg-exif": lambda: _encoded("JPEG", (40, 20), exif=_exif6()),
    "jpeg-xmp": lambda: _encoded("JPEG", (40, 20), xmp=_XMP6),
    "webp-exif": lambda: _encoded("WEBP", (40, 20), exif=_exif6()),
    "png-exif-before-data": lambda: _encoded("PNG", (40, 20), exif=_exif6()),
    "png-exif-after-data": lambda: _before_iend(_encoded("PNG", (40, 20)), _chunk(b"eXIf", _exif6()[6:])),
    "png-xmp-before-data": _png_text_xmp,
    "png-xmp-after-data": lambda: _before_iend(_encoded("PNG", (40, 20)), _chunk(
        b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + _XMP6)),
    "png-comment-after-data": lambda: _before_iend(_encoded("PNG", (40, 20)), _chunk(b"tEXt", b"Comment\0hello")),
}


@pytest.mark.parametrize("kind", sorted(_ROTATED))
def test_sizes_are_what_the_trainer_sees_after_exif_transpose(tmp_path, kind):
    path = tmp_path / "r.img"
    path.write_bytes(_ROTATED[kind]())
    head = read_image_size(str(path), path.stat().st_size)
    with Image.open(path) as img:
        expected = ImageOps.exif_transpose(img).size
    assert (head.width, head.height) == expected
    assert expected == ((40, 20) if kind == "png-comment-after-data" else (20, 40))


# -- captions the trainer cannot read, and the problem lists a page shows ---------------------------------------------

def test_unreadable_captions_say_that_the_training_stops(tmp_path):
    _img(tmp_path / "a.png", (64, 48))
    (tmp_path / "a.txt").write_bytes(b"caf\xe9 au lait")  # Latin-1, not UTF-8
    _img(tmp_path / "b.png", (64, 48))
    (tmp_path / "b.txt").symlink_to(tmp_path / "gone.txt")  # os.path.exists is False: a missing caption
    info = analyze_dataset(tmp_path)
    (bad,) = info.corrupt
    assert bad.path == "a.txt" and "not UTF-8" in bad.reason and "stops" in bad.reason
    assert info.captions.missing == ("b.png",) and [p.path for p in info.ignored] == ["b.txt"]


def test_file_lists_name_the_first_few_with_reasons_and_count_all(tmp_path):
    for i in range(14):
        _img(tmp_path / f"img{i:02d}.png", (64, 48))
    for i in range(3):
        (tmp_path / f"bad{i}.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "img00.txt").write_text("a caption", encoding="utf-8")
    info = analyze_dataset(tmp_path, default_caption="a photo")
    lists = {fl.title.split(":")[0].split(" (")[0]: fl for fl in info.file_lists(limit=5)}
    unreadable, missing = lists["Unreadable"], lists["No caption file"]
    assert unreadable.count == 3 and [p.path for p in unreadable.first] == ["bad0.jpg", "bad1.jpg", "bad2.jpg"]
    assert all("not an image" in p.reason for p in unreadable.first)
    assert missing.count == 13 and len(missing.first) == 5 and missing.first[0].path == "img01.png"
    assert "default caption 'a photo'" in missing.title
    assert json.loads(json.dumps([fl.to_dict() for fl in info.file_lists()]))[0]["count"] == 3


def test_word_candidates_are_in_the_analysis_and_its_json(tmp_path, capsys):
    for i in range(25):
        _img(tmp_path / f"{i:02d}.png", (64, 48))
        word = "sks" if i < 23 else "my"
        (tmp_path / f"{i:02d}.txt").write_text(f"a photo of {word} dog, pose {i}", encoding="utf-8")
    info = analyze_dataset(tmp_path)
    assert info.trigger_candidate.word == "sks" and info.trigger_candidate.evidence == "'sks' is in 23 of 25 captions"
    assert info.class_candidate.word == "dog" and (info.class_candidate.captions, info.class_candidate.of) == (23, 23)
    assert any("Trigger word candidate" in line for line in info.summary())
    assert cli_main(["analyze", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["trigger_candidate"]["word"] == "sks" and data["class_candidate"]["word"] == "dog"
