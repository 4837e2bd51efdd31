"""Property: any job, right or wrong types, odd keys, any Unicode, goes load → validate → predict → dump → load with
no exception but a clear refusal (:class:`JobError`), and comes back identical (issue 7).

CI runs a fixed, derandomized profile of ``CI_EXAMPLES`` examples; ``benchmarks/bench_fuzz.py`` runs the same
property for 10,000 examples and reports the count.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from nbwizard import JobError, SystemProfile, dump_job, load_job, predict, validate
from nbwizard.engine.job import put, same_data
from nbwizard.engine.settings import settings

CI_EXAMPLES = 250
PROFILE = SystemProfile.for_gpu("RTX 4090", ram_gb=64)
BASE: dict[str, Any] = {
    "job": "extension",
    "config": {"name": "prop", "process": [{
        "type": "sd_trainer", "training_folder": "output",
        "model": {"name_or_path": "black-forest-labs/FLUX.1-dev", "arch": "flux"},
        "network": {"type": "lora", "linear": 16, "linear_alpha": 16},
        "datasets": [{"folder_path": "/data", "resolution": [512, 1024]}],
        "train": {"steps": 1000, "lr": 1e-4, "batch_size": 1},
    }]},
}

# text the YAML writer and reader must treat with care, beside whatever Unicode hypothesis draws
TRICKY = ["", " ", " x ", "\u3000x\u00a0", "\tx\t", "yes", "No", "null", "~", "1e-4", ".inf", "0x1F", "1_000",
          "2024-05-01", "$(touch X)", "`id`", "${HOME}", "a\nb", "a\r\nb", "\x85", "\u2028\u2029", "\ufeff", "[name]",
          "'", '"', "# x", "a: b", "- x", "*a", "&a", "!!str", "<<", "?", "{a: 1}", "[1, 2]", "%x", "@x", "a\x00b",
          "\x7f\x9f", "\ufffe", "🎨", "a\u202eb", "x" * 1100]
text = st.one_of(st.text(max_size=24), st.sampled_from(TRICKY))
number = st.one_of(st.integers(-10**6, 10**6), st.integers(), st.sampled_from([10**30, -(2**63), 2**64, 10**400]),
                   st.floats(), st.sampled_from([0.0, -0.0, 1e-300, 1e300]))
scalar = st.one_of(st.none(), st.booleans(), number, text, st.dates())
key = st.one_of(text, st.integers(-3, 3), st.none(), st.booleans())
anything = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(key, inner, max_size=4)), max_leaves=12)

_SETTINGS = [s for s in settings() if not s.path.startswith(("job", "config.", "meta."))]
_ROOT_SETTINGS = [s for s in settings() if s.path.startswith(("config.", "meta."))]


def right_value(type_text: str, choices: tuple | None) -> st.SearchStrategy[Any]:
    """A value of the setting's own type (from its description)."""
    if choices:
        return st.sampled_from(list(choices))
    options = []
    for part in type_text.split("|"):
        options.append({
            "bool": st.booleans(), "int": st.integers(-10, 100_000), "float": st.floats(-10, 10, allow_nan=False),
            "str": text, "dict": st.dictionaries(text, scalar, max_size=3), "null": st.none(),
            "list[str]": st.lists(text, max_size=3), "list[int]": st.lists(st.integers(1, 4096), max_size=3),
            "list[float]": st.lists(st.floats(allow_nan=False), max_size=3),
            "list[dict]": st.lists(st.dictionaries(text, scalar, max_size=3), max_size=2),
        }[part])
    return st.one_of(options)


@st.composite
def jobs(draw: Any) -> dict[str, Any]:
    """Plain job data: the base job with random settings set (mostly right types, some wrong), stray keys (text,
    number, null and true keys; nested values) in sections and at the root, sometimes a second process entry."""
    import copy

    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(0, 8))):
        s = draw(st.sampled_from(_SETTINGS + _ROOT_SETTINGS))
        value = draw(right_value(s.type, s.choices) if draw(st.integers(0, 9)) < 7 else anything)
        try:
            put(data, s.path, value, draw(st.integers(0, 2)) if "[]" in s.path else 0)
        except (TypeError, AttributeError, IndexError):
            pass  # the path runs through a value that is not a section (set by an earlier draw): skip it
    entry = data["config"]["process"][0]
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["train", "model", "network", "datasets", "root", "meta", "process"]))
        stray, value = draw(text), draw(anything)
        if where == "root":
            data.setdefault(stray, value) if stray not in ("job", "config", "meta") else None
        elif where == "meta":
            meta = data.get("meta")
            data["meta"] = {**meta, stray: value} if isinstance(meta, dict) else {stray: value}
        elif where == "process":
            entry.setdefault(stray, value)
        elif where == "datasets":
            items = entry.get("datasets")
            if isinstance(items, list) and items and isinstance(items[0], dict):
                items[0].setdefault(stray, value)
        elif isinstance(entry.get(where), dict):
            entry[where].setdefault(stray, value)
    if draw(st.integers(0, 9)) == 0:
        data["config"]["process"].append(copy.deepcopy(entry) if draw(st.booleans()) else {"type": "sd_trainer"})
    return data


@dataclass
class Tally:
    """What the property saw: examples, jobs accepted, jobs refused with a clear JobError."""

    examples: int = 0
    accepted: int = 0
    refused: int = 0
    refusals: dict[str, int] = field(default_factory=dict)


def check_round_trip(data: dict[str, Any], tally: Tally | None = None) -> None:
    """The property itself (the test and the benchmark share it)."""
    tally = tally if tally is not None else Tally()
    tally.examples += 1
    try:
        job = load_job(data)
    except JobError as exc:
        tally.refused += 1
        kind = str(exc).split(":")[-1].split("(")[0].strip()[:60]
        tally.refusals[kind] = tally.refusals.get(kind, 0) + 1
        # the same data written as YAML is refused too (the file and the dict paths agree)
        try:
            load_job(dump_job(data), as_text=True)
        except JobError:
            return
        raise AssertionError(f"the dict was refused ({exc}) but its YAML loads") from None
    tally.accepted += 1
    report = validate(job, PROFILE, prediction=predict(job, PROFILE))
    assert "rule-failed" not in report.codes, report.by_code("rule-failed")
    text = dump_job(job)
    again = load_job(text, as_text=True)
    assert again == job and same_data(again.to_dict(), job.to_dict()), "the dump loads back identical"
    assert dump_job(again) == text, "the dump is stable"
    from_text = load_job(dump_job(data), as_text=True)
    assert from_text == job, "the data written as YAML loads as the same job"


@hsettings(max_examples=CI_EXAMPLES, derandomize=True, database=None, deadline=None,
           suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(jobs())
def test_any_job_round_trips_through_load_validate_predict_dump(data):
    check_round_trip(data)


def test_the_generator_makes_both_accepted_and_refused_jobs():
    """The property is not vacuous: a fixed sample holds jobs that load and jobs refused with a JobError."""
    from hypothesis import find

    accepted = find(jobs(), lambda d: _loads(d) and len(str(d)) > len(str(BASE)) + 20,
                    settings=hsettings(database=None, derandomize=True))
    refused = find(jobs(), lambda d: not _loads(d), settings=hsettings(database=None, derandomize=True))
    assert _loads(accepted) and not _loads(refused)


def _loads(data: dict[str, Any]) -> bool:
    try:
        load_job(data)
    except JobError:
        return False
    return True


def test_dates_survive_a_round_trip_and_are_flagged():
    data = {**BASE, "meta": {"when": datetime.date(2024, 5, 1), "notes": {datetime.date(2024, 1, 1): "key"}}}
    check_round_trip(data)
    assert "value-not-json" in validate(load_job(data)).codes
