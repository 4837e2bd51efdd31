"""The advisor panel: explanations for every page and level, reasons, warnings by step, performance, comparison."""

from __future__ import annotations

import json
from pathlib import Path
from importlib import resources
from types import SimpleNamespace as NS

import pytest

from nbwizard.engine import advisor
from nbwizard.engine.advisor import PAGES, Advice, advice_text_for, advise, compare, first_sentence, step_text
from nbwizard.engine.intent import EXPERIENCE_LEVELS, Intent
from nbwizard.engine.job import job_model
from nbwizard.engine.profile import SystemProfile
from nbwizard.engine.settings import STEP_IDS, setting, settings, step_settings
from nbwizard.engine.yamlio import load_job

FIXTURES = Path(__file__).parent / "fixtures"

COMMON = [s.path for step in STEP_IDS for s in step_settings(step, common=True)]


@pytest.fixture(scope="module")
def job():
    return load_job(FIXTURES / "jobs" / "flux_lora_24gb.yaml")


@pytest.fixture(scope="module")
def profile():
    return SystemProfile.for_gpu("RTX 4090", ram_gb=64)


def _advice_data() -> dict:
    return json.loads(resources.files("nbwizard.engine").joinpath("data/advice.json").read_text(encoding="utf-8"))


def _recommendation(job, **reasons):
    """A stand-in Recommendation: the job with each reason's value set, and the reasons."""
    rec_job = job
    for path, (value, _why) in reasons.items():
        rec_job = rec_job.set(path, value)
    return NS(job=rec_job, reasons={p: NS(value=v, why=w) for p, (v, w) in reasons.items()}, fits=True,
              why_not=None)


# -- explain ------------------------------------------------------------------------------------------------------
def test_pages_are_preflight_the_twelve_steps_and_review():
    assert len(PAGES) == 14 and PAGES[0] == "preflight" and PAGES[-1] == "review"
    assert set(_advice_data()["steps"]) == set(PAGES)


@pytest.mark.parametrize("step", PAGES)
@pytest.mark.parametrize("level", EXPERIENCE_LEVELS)
def test_every_page_and_level_explains_something(job, profile, step, level):
    advice = advise(job, profile, Intent(experience=level), step)
    assert isinstance(advice, Advice) and advice.explain.strip()
    assert advice.title and advice.experience == level


@pytest.mark.parametrize("step", PAGES)
def test_verbosity_follows_experience(step):
    beginner, intermediate, advanced = (step_text(step, level) for level in EXPERIENCE_LEVELS)
    assert len(beginner) > len(intermediate) > len(advanced)
    sentences = [s for s in advisor._SENTENCE.split(beginner) if s]
    assert 3 <= len(sentences) <= 6, sentences
    assert len([s for s in advisor._SENTENCE.split(intermediate) if s]) == 2
    assert "\n" not in advanced and first_sentence(advanced) == advanced


def test_every_common_setting_has_a_written_entry():
    missing = [p for p in COMMON if not advisor.has_advice(p)]
    assert not missing, f"advice.json lacks entries for: {missing}"
    assert len(COMMON) == 101


def test_every_entry_names_a_real_setting_and_is_one_or_two_sentences():
    for path, text in _advice_data()["settings"].items():
        setting(path)  # raises for a stale path
        assert 1 <= len([s for s in advisor._SENTENCE.split(text) if s]) <= 2, path


def test_texts_are_plain_text():
    data = _advice_data()
    texts = [t for levels in data["steps"].values() for t in levels.values()] + list(data["settings"].values())
    assert not [t for t in texts if "<" in t or ">" in t or "**" in t]


def test_setting_notes_follow_experience(job, profile):
    beginner = advise(job, profile, Intent(experience="beginner"), "memory").settings
    advanced = advise(job, profile, Intent(experience="advanced"), "memory").settings
    from nbwizard.engine.arch import arch_of
    from nbwizard.engine.settings import applies

    shown = [s.path for s in step_settings("memory", common=True) if applies(s, job.get, arch_of(job))]
    assert [n.path for n in beginner] == shown and "model.low_vram" not in shown  # not a setting of this model
    by_path = {n.path: n.text for n in advanced}
    assert by_path["train.batch_size"] == setting("train.batch_size").help
    assert "activation memory" in {n.path: n.text for n in beginner}["train.batch_size"]


def test_tooltip_text_by_level_and_fallback_to_help():
    entry = _advice_data()["settings"]["train.lr"]
    assert advice_text_for("train.lr", "beginner") == entry
    assert advice_text_for("train.lr", "intermediate") == first_sentence(entry)
    assert advice_text_for("train.lr", "advanced") == setting("train.lr").help
    assert advice_text_for("datasets[0].resolution") == advice_text_for("datasets[].resolution")
    uncovered = next(s for s in settings() if not advisor.has_advice(s.path))
    assert advice_text_for(uncovered.path, "beginner") == uncovered.help
    with pytest.raises(KeyError, match="did you mean"):
        advice_text_for("train.lrr")
    with pytest.raises(ValueError):
        advice_text_for("train.lr", "expert")


def test_unknown_page_is_refused(job, profile):
    with pytest.raises(KeyError, match="pages are"):
        advise(job, profile, Intent(), "optimiser")


def test_hidden_settings_are_not_explained_and_model_facts_are(job, profile):
    target = advise(job, profile, Intent(), "target")
    assert "network.conv" not in [n.path for n in target.settings]
    assert any("convolution" in f for f in target.facts)
    model = advise(job, profile, Intent(), "model")
    assert any("FLUX.1" in f and "1024" in f for f in model.facts)
    assert any(f"{profile.vram_budget_gib:.1f} GiB" in f for f in advise(job, profile, Intent(), "memory").facts)


def test_works_before_anything_is_known():
    advice = advise(None, None, None, "optimizer")
    assert advice.experience == "beginner" and advice.explain
    assert advice.why == () and advice.warnings == () and advice.performance == ()


# -- why ----------------------------------------------------------------------------------------------------------
def test_why_shows_reasons_of_this_step_and_the_recommended_value_of_a_changed_one(job, profile):
    rec = _recommendation(job, **{"train.lr": (1e-4, "AdamW8bit LoRAs train well at 1e-4"),
                                  "train.batch_size": (1, "batch 1 keeps 24 GB free of activation spikes")})
    mine = job.set("train.lr", 3e-4)
    why = advise(mine, profile, Intent(), "optimizer", recommendation=rec).why
    assert [w.path for w in why] == ["train.lr"]
    line = why[0]
    assert line.changed and line.value == 3e-4 and line.recommended == 1e-4
    assert "recommended 1e-4" in line.text and "AdamW8bit LoRAs train well at 1e-4" in line.text
    same = advise(mine, profile, Intent(), "memory", recommendation=rec).why
    assert [w.path for w in same] == ["train.batch_size"] and not same[0].changed
    assert "recommended" not in same[0].text and "batch 1 keeps" in same[0].text
    assert len(advise(mine, profile, Intent(), "review", recommendation=rec).why) == 2


def test_a_recommendation_that_cannot_fit_says_why(job, profile):
    rec = NS(job=job, reasons={}, fits=False, why_not="Even 4-bit weights exceed 8 GiB.")
    assert advise(job, profile, Intent(), "memory", recommendation=rec).why_not == "Even 4-bit weights exceed 8 GiB."


# -- warnings -----------------------------------------------------------------------------------------------------
def _report():
    def issue(severity, path, message, fix=None, code="x"):
        return NS(severity=severity, field=path, message=message, fix=fix, code=code)
    return NS(issues=[
        issue("warning", "train.lr", "lr is high for AdamW8bit", fix=NS(path="train.lr", value=1e-4)),
        issue("error", "train.lr_scheduler", "'step' crashes the trainer", code="scheduler"),
        issue("suggestion", "train.batch_size", "batch 2 would still fit"),
        issue("error", "config.process[0].datasets[0].folder_path", "folder does not exist"),
        issue("warning", "train.learning_rate", "not a setting: did you mean lr?"),
        issue("warning", None, "the dataset has no images"),
    ])


def test_warnings_are_filtered_by_step_errors_first():
    lines = advisor._warnings(_report(), "optimizer")
    assert [(w.severity, w.path) for w in lines] == [
        ("error", "train.lr_scheduler"), ("warning", "train.lr"), ("warning", "train.learning_rate")]
    assert [w.fixable for w in lines] == [False, True, False]
    assert lines[0].code == "scheduler" and lines[0].label == "Learning rate schedule"
    assert [w.path for w in advisor._warnings(_report(), "memory")] == ["train.batch_size"]
    assert [w.message for w in advisor._warnings(_report(), "dataset")] == ["folder does not exist"]


def test_review_shows_every_error_and_issues_no_step_owns(job, profile):
    warnings = advise(job, profile, Intent(), "review", report=_report()).warnings
    assert [w.severity for w in warnings] == ["error", "error", "warning"]
    assert warnings[-1].path is None and warnings[-1].label == "Job"


# -- performance --------------------------------------------------------------------------------------------------
def _prediction(**changes):
    base = dict(
        peak_vram_gib=17.8, low_gib=16.9, high_gib=19.0, budget_gib=24.0, verdict="fits", verdict_reason="6 GiB spare",
        train=NS(items=[NS(name="base weights", gib=11.2, why="12 B params in qfloat8"),
                             NS(name="activations", gib=3.1, why="1024 px, checkpointing on"),
                             NS(name="LoRA", gib=0.04, why="rank 16"),
                             NS(name="text encoders", gib=2.4, why="T5 in qfloat8")]),
        step_seconds=1.94, total_seconds=3900, disk=NS(total_gib=1.4), ram_peak_gib=31.5)
    return NS(**{**base, **changes})


def test_performance_lines_format_a_prediction(profile):
    lines = {(p.key, p.label): p for p in advisor.performance_lines(_prediction(), profile)}
    assert lines["vram", "Peak VRAM"].text == "17.8 GiB of 24.0 GiB (fits), likely 16.9–19.0 GiB"
    parts = [(label, p.text) for (key, label), p in lines.items() if key == "component"]
    assert parts == [("base weights", "11.2 GiB — 12 B params in qfloat8"),
                     ("activations", "3.1 GiB — 1024 px, checkpointing on"),
                     ("text encoders", "2.4 GiB — T5 in qfloat8")]
    assert lines["time", "Time"].text == "1.9 s/step, about 1 h 05 min in total"
    assert lines["disk", "Disk"].text == "1.4 GiB (caches, checkpoints, samples)"
    assert lines["ram", "RAM peak"].text == "31.5 GiB of 64.0 GiB"
    assert all(p.known for p in lines.values())


def test_performance_says_unknown_with_the_reason():
    pred = _prediction(peak_vram_gib=None, verdict="unknown", verdict_reason="the model's size is not known",
                       step_seconds=None, step_seconds_reason="no timing for this GPU", disk=None,
                       disk_reason="the dataset was not analysed", ram_peak_gib=None, train=None,
                       unknown_reasons={"ram_peak_gib": "quantization RAM not measured"})
    lines = {p.key: p for p in advisor.performance_lines(pred)}
    assert lines["vram"].text == "unknown — the model's size is not known" and not lines["vram"].known
    assert lines["time"].text == "unknown — no timing for this GPU"
    assert lines["disk"].text == "unknown — the dataset was not analysed"
    assert lines["ram"].text == "unknown — quantization RAM not measured"
    assert "component" not in lines


def test_a_verdict_other_than_fits_carries_its_reason_and_partial_times():
    pred = _prediction(peak_vram_gib=27.0, verdict="does_not_fit", verdict_reason="3 GiB over the card",
                       low_gib=None, total_seconds=None, total_seconds_reason="steps unknown", disk=0.05)
    lines = {p.key: p for p in advisor.performance_lines(pred)}
    assert lines["vram"].text == "27.0 GiB of 24.0 GiB (does not fit): 3 GiB over the card"
    assert lines["time"].text == "1.9 s/step; total unknown — steps unknown" and not lines["time"].known
    assert lines["disk"].text.startswith("51 MiB")


@pytest.mark.parametrize(("seconds", "text"), [(45, "45 s"), (600, "10 min"), (3900, "1 h 05 min"),
                                               (7 * 3600, "7 h 00 min"), (3 * 86400 + 3 * 3600, "3 d 03 h")])
def test_durations(seconds, text):
    assert advisor.format_duration(seconds) == text


def test_values_read_simply():
    fv = advisor.format_value
    assert [fv(1e-4), fv(2.5e-5), fv(0.05), fv(True), fv(None), fv([512, 768]), fv(16), fv("")] == [
        "1e-4", "2.5e-5", "0.05", "true", "not set", "512, 768", "16", "empty"]


# -- comparison ---------------------------------------------------------------------------------------------------
def test_compare_lists_differences_and_common_settings_with_what_matters(job):
    rec = _recommendation(job, **{"train.batch_size": (1, "fits 24 GB"), "sample.seed": (42, "any seed"),
                                  "train.gradient_checkpointing": (True, "saves ~40% activations")})
    mine = job.set("train.batch_size", 4).set("sample.seed", 7).set("train.gradient_checkpointing", False)
    rows = {r.path: r for r in compare(mine, rec)}
    assert set(COMMON) <= set(rows)
    batch, seed, gc = rows["train.batch_size"], rows["sample.seed"], rows["train.gradient_checkpointing"]
    assert (batch.yours, batch.recommended, batch.why, batch.differs, batch.matters) == (4, 1, "fits 24 GB", True, True)
    assert seed.differs and not seed.matters
    assert gc.differs and gc.matters and gc.label == "Gradient checkpointing"
    assert not any(r.differs for p, r in rows.items() if p not in {"train.batch_size", "sample.seed",
                                                                    "train.gradient_checkpointing"})


def test_compare_accepts_a_plain_recommended_job():
    blank = job_model()()
    rows = compare(blank.set("train.lr", 1e-4), blank)
    assert [r.path for r in rows if r.differs] == ["train.lr"]


@pytest.mark.parametrize("path", ["train.batch_size", "model.qtype", "network.linear", "train.lr", "train.steps",
                                  "datasets[].resolution", "train.gradient_checkpointing", "train.optimizer",
                                  "sample.sample_every", "sample.width", "model.quantize"])
def test_settings_that_change_memory_speed_or_quality_matter(path):
    assert advisor.matters(path)


@pytest.mark.parametrize("path", ["sample.seed", "config.name", "meta.name", "logging.log_every",
                                  "sample.samples[0].prompt", "process.name", "save.hf_repo_id"])
def test_cosmetic_settings_do_not_matter(path):
    assert not advisor.matters(path)


def test_cosmetic_list_names_real_settings():
    data = _advice_data()["cosmetic"]
    for path in data["paths"]:
        setting(path)
    assert all(any(s.path.startswith(p) for s in settings()) for p in data["prefixes"])


# -- budget -------------------------------------------------------------------------------------------------------
def test_advise_is_cheap_enough_for_every_change(job, profile):
    import time

    rec = _recommendation(job, **{"train.lr": (1e-4, "x")})
    start = time.perf_counter()
    for _ in range(50):
        advise(job, profile, Intent(), "sampling", recommendation=rec, report=_report(), prediction=_prediction())
    assert (time.perf_counter() - start) / 50 < 0.005
