"""Fuzz: random jobs (right and wrong types, odd keys, any Unicode) through load → validate → predict → dump → load.

Runs the property of ``tests/test_roundtrip_property.py`` for 10,000 examples (CI runs 250) and the hostile-input
corpus of ``tests/test_hostile_inputs.py`` once, and prints the counts and times; any exception other than a clear
refusal (``JobError``) or any round trip that is not identical stops it with the failing example.

Also times dumping a 50 MB job (it took ~30 s before the scalar writer was rewritten) and the review page of a big
job (it dumped the job on every render; now once per job, and the preview shows at most 200,000 characters).

Run: ``python benchmarks/bench_fuzz.py [examples] [seed]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_hostile_inputs import BASE as HOSTILE_BASE, CORPUS, PROFILE  # noqa: E402
from test_roundtrip_property import Tally, check_round_trip, jobs  # noqa: E402

from nbwizard import JobError, dump_job, load_job, predict, validate  # noqa: E402


def fuzz(examples: int, at: int) -> Tally:
    tally = Tally()

    @seed(at)
    @settings(max_examples=examples, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(jobs())
    def run(data: dict) -> None:
        check_round_trip(data, tally)

    run()
    return tally


def corpus() -> tuple[int, int, float, str]:
    """(cases, refused, slowest seconds, slowest case) for the hostile corpus, in process."""
    refused, slowest, which = 0, 0.0, ""
    with tempfile.TemporaryDirectory() as tmp:
        for n, case in enumerate(CORPUS):
            folder = Path(tmp) / str(n)
            folder.mkdir()
            source = case.make(folder)
            start = time.perf_counter()
            try:
                job = load_job(source, as_text=case.as_text)
            except JobError:
                refused += 1
            else:
                validate(job, PROFILE, prediction=predict(job, PROFILE))
                dump_job(job)
            took = time.perf_counter() - start
            if took > slowest:
                slowest, which = took, case.id
    return len(CORPUS), refused, slowest, which


def review_renders(prompts: int = 1500) -> tuple[float, float, int]:
    """(ms to re-render the review page with nothing changed, ms for one edit there, YAML size in KB) for a job
    with ``prompts`` long preview prompts (median of 15)."""
    import statistics

    from nbwizard import SystemProfile, Wizard

    wizard = Wizard(SystemProfile.for_gpu("RTX 4090", ram_gb=64), output_dir=tempfile.mkdtemp())
    wizard.controls["sample.prompts"].value = "[" + ", ".join(f"prompt {n} " + "x" * 200 for n in range(prompts)) + "]"
    wizard.go("review")
    same, edit = [], []
    for n in range(15):
        start = time.perf_counter()
        wizard._render_all(wizard._derived)
        same.append(time.perf_counter() - start)
        start = time.perf_counter()
        wizard.controls["train.steps"].value = 2000 + n
        edit.append(time.perf_counter() - start)
    return 1000 * statistics.median(same), 1000 * statistics.median(edit), len(dump_job(wizard.state.job)) // 1024


def main() -> None:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    at = int(sys.argv[2]) if len(sys.argv) > 2 else 20260701
    start = time.perf_counter()
    tally = fuzz(examples, at)
    took = time.perf_counter() - start
    print(f"fuzz: {tally.examples} examples in {took:.0f} s ({1000 * took / max(tally.examples, 1):.0f} ms each): "
          f"{tally.accepted} accepted and round-tripped identically, {tally.refused} refused with a JobError, "
          f"0 other exceptions (seed {at})")
    for kind, count in sorted(tally.refusals.items(), key=lambda kv: -kv[1])[:6]:
        print(f"  refused {count:>5}: {kind}")
    cases, refused, slowest, which = corpus()
    print(f"hostile corpus: {cases} cases, {refused} refused with a clear error, {cases - refused} accepted; "
          f"slowest {slowest:.2f} s ({which})")
    job = load_job({**load_job(HOSTILE_BASE).to_dict(), "meta": {"blob": "y" * 50_000_000}})
    start = time.perf_counter()
    dump_job(job)
    print(f"dump of a 50 MB job: {time.perf_counter() - start:.2f} s")
    same, edit, size = review_renders()
    print(f"review page, job with 1,500 long prompts ({size} KB of YAML): re-render with nothing changed "
          f"{same:.0f} ms, one edit {edit:.0f} ms")


if __name__ == "__main__":
    main()
