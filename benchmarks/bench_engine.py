"""Engine recompute after one changed setting: validate + predict + advise (target p95 <= 10 ms).

Also times the recommendation around a user's value (run on edits that lock a new value) and the YAML round
trip. Run: ``python benchmarks/bench_engine.py``.
"""

from __future__ import annotations

import itertools
import statistics
import time

from nbwizard import SystemProfile, advise, dump_job, load_job, predict, validate
from nbwizard.engine.intent import Intent
from nbwizard.engine.recommend import recommend

EDITS = [("train.steps", v) for v in (800, 1200, 2000, 3000)] + [
    ("network.linear", v) for v in (8, 16, 32, 64)] + [
    ("train.batch_size", v) for v in (1, 2, 4)] + [
    ("datasets[].resolution", v) for v in ([512], [768], [512, 768, 1024])] + [
    ("model.qtype", v) for v in ("qfloat8", "uint4")] + [
    ("train.gradient_checkpointing", v) for v in (True, False)]


def _p95(times: list[float]) -> float:
    times = sorted(times)
    return times[int(0.95 * (len(times) - 1))]


def main() -> None:
    profile = SystemProfile.for_gpu("RTX 4090", ram_gb=64)
    intent = Intent("person", "quality", "beginner")
    base = recommend(profile, intent, "flux").job
    recompute, recs, steps = [], [], ["optimizer", "memory", "target", "review"]
    for (path, value), step in zip(itertools.islice(itertools.cycle(EDITS), 300), itertools.cycle(steps)):
        job = base.set(path, value)
        start = time.perf_counter()
        prediction = predict(job, profile)
        report = validate(job, profile, prediction=prediction)
        advise(job, profile, intent, step, report=report, prediction=prediction)
        recompute.append((time.perf_counter() - start) * 1000)
    for path, value in EDITS:
        start = time.perf_counter()
        recommend(profile, intent, "flux", locked={path: value})
        recs.append((time.perf_counter() - start) * 1000)
    text = dump_job(base)
    start = time.perf_counter()
    for _ in range(50):
        load_job(dump_job(base))
    yaml_ms = (time.perf_counter() - start) * 1000 / 50
    print(f"validate + predict + advise after one edit: median {statistics.median(recompute):.2f} ms, "
          f"p95 {_p95(recompute):.2f} ms (n={len(recompute)}; target p95 <= 10 ms)")
    print(f"recommend around a locked value:           median {statistics.median(recs):.2f} ms, "
          f"p95 {_p95(recs):.2f} ms (n={len(recs)})")
    print(f"dump + load of a recommended job ({len(text.splitlines())} lines): {yaml_ms:.2f} ms")


if __name__ == "__main__":
    main()
