"""Benchmark ``analyze_dataset`` on 10,000 generated PNGs (headers only, no decode). Target: ≥ 5,000 images/s.

Run: ``PYTHONPATH=src python benchmarks/bench_dataset.py [--count N] [--runs R]``. The files are made once in a
temporary folder (nested in 10 sub-folders, sizes 64–256 px, 90 % with a caption, a few byte-identical copies);
then the analysis runs ``--runs`` times and the best and median rates are printed. The OS file cache is warm
after the first run, as it is when the wizard re-analyses a folder.
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


def make_dataset(root: Path, count: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    for i in range(count):
        folder = root / f"set{i % 10:02d}"
        folder.mkdir(exist_ok=True)
        w, h = rng.randrange(64, 257, 8), rng.randrange(64, 257, 8)
        img = Image.new("RGB", (w, h), tuple(rng.randrange(256) for _ in range(3)))
        x, y = rng.randrange(w // 2), rng.randrange(h // 2)
        ImageDraw.Draw(img).rectangle((x, y, x + w // 4, y + h // 4), fill=(rng.randrange(256), 0, 0))
        path = folder / f"img{i:05d}.png"
        if i % 500 == 499:  # a byte-identical copy of the previous image
            shutil.copyfile(folder.parent / f"set{(i - 1) % 10:02d}" / f"img{i - 1:05d}.png", path)
        else:
            img.save(path, compress_level=1)
        if rng.random() < 0.9:
            path.with_suffix(".txt").write_text(f"a photo of [trigger], item {i}, color {w}x{h}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nbwizard-bench-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        make_dataset(root, args.count)
        print(f"generated {args.count} PNGs in {time.perf_counter() - t0:.1f} s")
        rates = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            info = analyze_dataset(root, trigger_word="ohwx")
            elapsed = time.perf_counter() - t0
            rates.append(len(info.images) / elapsed)
        for line in info.summary():
            print("  " + line)
        best, median = max(rates), statistics.median(rates)
        verdict = "OK" if median >= TARGET_IMAGES_PER_S else "BELOW TARGET"
        print(f"analyze_dataset: {len(info.images)} images, best {best:,.0f} images/s, median {median:,.0f} "
              f"images/s over {args.runs} runs (target {TARGET_IMAGES_PER_S:,}): {verdict}")


if __name__ == "__main__":
    main()
