"""Fuzz: random jobs (right and wrong types, odd keys, any Unicode) through load → validate → predict → dump → load.

Runs the property of ``tests/test_roundtrip_property.py`` for 10,000 examples (CI runs 250) and the hostile-input
corpus of ``tests/test_hostile_inputs.py`` once, and prints the counts and times; any exception other than a clear
refusal (``JobError``) or any round trip that is not identical stops it with the failing example.

Also times dumping a 50 MB job (it took ~30 s before the scalar writer was rewritten; the review page now dumps a
job once, and only when it changed).

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


if __name__ == "__main__":
    main()
