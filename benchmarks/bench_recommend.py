"""Time recommend(): a typical call (FLUX.1 on an RTX 4090), and the test matrix (52 archs x 6 profiles x 3
priorities), with the predictor calls it makes and the share of time spent in the predictor.

Run: ``python benchmarks/bench_recommend.py``
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from nbwizard.engine import predict as predict_module  # noqa: E402
from nbwizard.engine.intent import PRIORITIES, Intent  # noqa: E402
from nbwizard.engine.models import models  # noqa: E402
from nbwizard.engine.profile import SystemProfile  # noqa: E402
from nbwizard.engine.recommend import recommend  # noqa: E402


def _timed_predict():
    spent = [0.0]

    def predictor(job, profile, dataset=None):
        t = time.perf_counter()
        try:
            return predict_module.predict(job, profile, dataset)
        finally:
            spent[0] += time.perf_counter() - t

    return predictor, spent


def main() -> None:
    from test_recommend import PROFILES

    profile = SystemProfile.for_gpu("RTX 4090", ram_gb=64, cores=16)
    recommend(profile, Intent(), "flux")  # warm the caches (job model, catalog)
    times = []
    for _ in range(50):
        t = time.perf_counter()
        rec = recommend(profile, Intent("person", "quality"), "flux")
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"typical (flux, RTX 4090, person/quality): median {statistics.median(times) * 1e3:.1f} ms, "
          f"p95 {times[int(0.95 * len(times))] * 1e3:.1f} ms, {rec.predictor_calls} predictor calls")

    predictor, spent = _timed_predict()
    t0 = time.perf_counter()
    per, calls, no_fit = [], 0, []
    for name, make in PROFILES.items():
        prof = make()
        for spec in models():
            for priority in PRIORITIES:
                t = time.perf_counter()
                rec = recommend(prof, Intent("person", priority), spec.arch, predictor=predictor)
                per.append(time.perf_counter() - t)
                calls += rec.predictor_calls
                if not rec.fits and name != "CPU only":
                    no_fit.append((spec.arch, name, priority, rec.why_not))
    total = time.perf_counter() - t0
    per.sort()
    print(f"matrix: {len(per)} calls in {total:.2f} s; median {statistics.median(per) * 1e3:.1f} ms, "
          f"p95 {per[int(0.95 * len(per))] * 1e3:.1f} ms, max {per[-1] * 1e3:.1f} ms; {calls} predictor calls "
          f"({spent[0] / total:.0%} of the time in the predictor)")
    print(f"not fitting ({len(no_fit)}, CPU-only excluded):")
    for arch, name, priority, why in no_fit:
        print(f"  {arch:28s} {name:20s} {priority:8s} {why}")


if __name__ == "__main__":
    main()
