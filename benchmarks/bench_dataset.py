"""Benchmark ``analyze_dataset`` on 10,000 generated images (headers only, no decode). Target: ≥ 5,000 images/s.

Run: ``PYTHONPATH=src python benchmarks/bench_dataset.py [--count N] [--runs R] [--formats png,jpg,webp]``. The
files are made once in a temporary folder (nested in 10 sub-folders, sizes 64–256 px, 90 % with a caption, a few
byte-identical copies; the formats take turns); then the analysis runs ``--runs`` times and the best and median
rates are printed, by wall-clock time and by this process's CPU time (on a shared machine the CPU-time rate is the
steadier one to compare two versions by). The OS file cache is warm after the first run, as it is when the wizard
re-analyses a folder.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from nbwizard.engine.dataset import analyze_dataset

TARGET_IMAGES_PER_S = 5000


def make_dataset(root: Path, count: int, seed: int = 0, formats: tuple[str, ...] = ("png",)) -> None:
    rng = random.Random(seed)
    for i in range(count):
        ext = formats[i % len(formats)]
        folder = root / f"set{i % 10:02d}"
        folder.mkdir(exist_ok=True)
        w, h = rng.randrange(64, 257, 8), rng.randrange(64, 257, 8)
        img = Image.new("RGB", (w, h), tuple(rng.randrange(256) for _ in range(3)))
        x, y = rng.randrange(w // 2), rng.randrange(h // 2)
        ImageDraw.Draw(img).rectangle((x, y, x + w // 4, y + h // 4), fill=(rng.randrange(256), 0, 0))
        path = folder / f"img{i:05d}.{ext}"
        if i % 500 == 499:  # a byte-identical copy of the previous image of this format
            j = i - len(formats)
            shutil.copyfile(folder.parent / f"set{j % 10:02d}" / f"img{j:05d}.{ext}", path)
        else:
            img.save(path, **({"compress_level": 1} if ext == "png" else {}))
        if rng.random() < 0.9:
            path.with_suffix(".txt").write_text(f"a photo of [trigger], item {i}, color {w}x{h}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default="png", help="comma-separated extensions, e.g. png,jpg,webp")
    args = parser.parse_args()
    formats = tuple(f.strip().lstrip(".").lower() for f in args.formats.split(",") if f.strip())
    with tempfile.TemporaryDirectory(prefix="nbwizard-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        make_dataset(root, args.count, formats=formats)
        print(f"generated {args.count} images ({', '.join(formats)}) in {time.perf_counter() - t0:.1f} s")
        rates, cpu_rates = [], []
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            info = analyze_dataset(root, trigger_word="ohwx")
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rates.append(len(info.images) / wall)
            cpu_rates.append(len(info.images) / max(cpu, 1e-9))
        for line in info.summary():
            print("  " + line)
        best, median = max(rates), statistics.median(rates)
        verdict = "OK" if median >= TARGET_IMAGES_PER_S else "BELOW TARGET"
        print(f"analyze_dataset: {len(info.images)} images, best {best:,.0f} images/s, median {median:,.0f} "
              f"images/s over {args.runs} runs (target {TARGET_IMAGES_PER_S:,}): {verdict}; by CPU time: best "
              f"{max(cpu_rates):,.0f}, median {statistics.median(cpu_rates):,.0f} images/s")


if __name__ == "__main__":
    main()
