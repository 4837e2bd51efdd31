"""Widget-level responsiveness: one edit -> header and advisor updated (target p95 <= 30 ms), start-up, and the
kernel's share of opening "More settings" (building its rows; the browser's share is in bench_voila.py).

Run: ``python benchmarks/bench_wizard.py``. Edits go through the control widgets, as a person's would.
"""

from __future__ import annotations

import statistics
import time


def main() -> None:
    t0 = time.perf_counter()
    from nbwizard import SystemProfile, Wizard

    profile = SystemProfile.for_gpu("RTX 4090", ram_gb=64)
    t1 = time.perf_counter()
    wizard = Wizard(profile)
    t2 = time.perf_counter()
    print(f"import: {t1 - t0:.2f} s   Wizard(): {t2 - t1:.2f} s")
    controls = wizard.controls
    for page, path, values in (("optimizer", "train.steps", range(1000, 1060)),
                               ("target", "network.linear", [8, 16, 32, 64] * 15),
                               ("review", "train.steps", range(2000, 2030))):
        wizard.go(page)
        times = []
        for value in values:
            start = time.perf_counter()
            controls[path].value = value
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p95 = times[int(0.95 * (len(times) - 1))]
        print(f"edit {path} on {page:<9}: median {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms   "
              f"(n={len(times)})")
    # an imported ai-toolkit example is held as written: each edit recomputes the suggestions list too
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "jobs" / "aitk" / "train_lora_flux_24gb.yaml"
    controls["import.path"].value = str(example)
    start = time.perf_counter()
    wizard.preflight.import_button.click()
    print(f"import the FLUX 24 GB example: {(time.perf_counter() - start) * 1000:.1f} ms "
          f"({len(wizard.suggestions.suggestions)} suggestions)")
    wizard.go("optimizer")
    times = []
    for value in range(1500, 1560):
        start = time.perf_counter()
        controls["train.steps"].value = value
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    print(f"edit train.steps of the imported job: median {statistics.median(times):6.1f} ms   "
          f"p95 {times[int(0.95 * (len(times) - 1))]:6.1f} ms   (n={len(times)})")
    fresh = Wizard(profile)
    for step in ("target", "training", "memory"):
        fresh.go(step)
        page = fresh._step_pages[step]
        start = time.perf_counter()
        page.more.selected_index = 0  # what clicking "More settings" does
        print(f"More settings on {step:<9}: {len(page.more_rows)} rows built and shown in "
              f"{(time.perf_counter() - start) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
