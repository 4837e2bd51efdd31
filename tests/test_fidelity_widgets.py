"""Fidelity, driven the way a person drives the wizard: it never changes what the user did not ask to change.

1. an import (or a template) keeps the job as written; what the wizard would add is a suggestion to accept;
2. the user's own values survive a model change unless the new model cannot use them, and those are named;
3. a model the catalog does not know is never shown as another;
4. planning for a target card speaks of that card's machine only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import nbwizard
from nbwizard import SystemProfile, Wizard, load_job
from nbwizard.engine.profile import Reading

AITK = Path(__file__).parent / "fixtures" / "jobs" / "aitk"
FLUX_24GB = AITK / "train_lora_flux_24gb.yaml"
SD35_LARGE = AITK / "train_lora_sd35_large_24gb.yaml"


@pytest.fixture()
def wizard(tmp_path):
    return Wizard(SystemProfile.for_gpu("RTX 4090", ram_gb=64), config_dir=tmp_path / "templates",
                  output_dir=tmp_path)


def _import(wizard, path) -> None:
    wizard.controls["import.path"].value = str(path)
    wizard.preflight.import_button.click()


def _rows(wizard) -> dict[str, object]:
    """The suggestion rows shown, by setting path (each row's text carries its path as a tooltip)."""
    shown = {}
    for row in wizard.suggestions.rows.children:
        found = re.search(r"title='([^']+)'", getattr(row.children[0], "value", "")) if row.children else None
        if found:
            shown[found.group(1)] = row
    return shown


def _save(wizard, target: Path):
    wizard.go("review")
    wizard.controls["review.save_path"].value = str(target)
    wizard.review.save.click()
    assert target.exists(), wizard.review.message.value
    return load_job(target)


# ---- 1. import keeps the file as written ---------------------------------------------------------------------
def test_importing_an_ai_toolkit_example_keeps_every_value_and_adds_none(wizard, tmp_path):
    _import(wizard, FLUX_24GB)
    written = load_job(FLUX_24GB)
    assert wizard.state.job == written
    assert "exactly as the file writes them" in wizard.preflight.message.value
    saved = _save(wizard, tmp_path / "saved.yaml")
    assert saved == written and set(saved.set_paths()) == set(written.set_paths())


def test_what_the_wizard_would_add_is_listed_right_after_the_import(wizard):
    _import(wizard, FLUX_24GB)
    rows = _rows(wizard)
    # the additions that would change training are offered, none applied
    assert {"process.trigger_word", "train.cache_text_embeddings"} <= set(rows)
    assert not wizard.state.job.is_set("process.trigger_word")
    assert wizard.suggestions.box.layout.display != "none"
    assert wizard.preflight.suggestions_slot.children == (wizard.suggestions.box,)  # under the import message
    text = wizard.suggestions.title.value + "".join(r.children[0].value for r in rows.values())
    assert "stays exactly as loaded" in text and nbwizard.setting("train.cache_text_embeddings").label in text
    wizard.go("model")  # on the steps the list sits above the page
    assert wizard.top_slot.children == (wizard.suggestions.box,) and not wizard.preflight.suggestions_slot.children


def test_a_suggestion_row_says_what_it_does_to_this_job(tmp_path):
    """On a 12 GB card the imported FLUX example does not fit: the low_vram row shows the peak before and after."""
    small = Wizard(SystemProfile.for_gpu("RTX 3060 12GB", ram_gb=64), config_dir=tmp_path / "templates",
                   output_dir=tmp_path)
    _import(small, FLUX_24GB)
    row = _rows(small)["model.low_vram"].children[0].value
    assert re.search(r"On this job: peak \d+\.\d → \d+\.\d GiB", row), row


def test_accepting_one_suggestion_changes_that_value_only_and_undo_takes_it_back(wizard, tmp_path):
    _import(wizard, FLUX_24GB)
    written = load_job(FLUX_24GB)
    suggested = next(s for s in wizard.suggestions.suggestions if s.path == "train.cache_text_embeddings").suggested
    _rows(wizard)["train.cache_text_embeddings"].children[1].click()
    job = wizard.state.job
    assert job.get("train.cache_text_embeddings") == suggested and "train.cache_text_embeddings" in wizard.state.user_set
    assert job.unset("train.cache_text_embeddings") == written
    assert "train.cache_text_embeddings" not in _rows(wizard) and "Accepted" in wizard.status.value
    saved = _save(wizard, tmp_path / "one.yaml")
    assert saved.unset("train.cache_text_embeddings") == written and saved.get("train.cache_text_embeddings") == suggested
    wizard.undo.click()
    assert wizard.state.job == written and "train.cache_text_embeddings" in _rows(wizard)


def test_apply_all_takes_every_suggestion_in_one_undoable_step(wizard):
    _import(wizard, FLUX_24GB)
    written = load_job(FLUX_24GB)
    pending = {s.path: s.suggested for s in wizard.suggestions.suggestions}
    assert len(pending) > 1
    wizard.suggestions.apply_all.click()
    job = wizard.state.job
    assert all(job.get(path) == value for path, value in pending.items())
    assert not wizard.suggestions.suggestions and wizard.suggestions.box.layout.display == "none"
    assert all(job.get(p) == written.get(p) for p in written.set_paths() if p not in pending)
    wizard.undo.click()
    assert wizard.state.job == written


def test_apply_recommended_on_an_imported_value_writes_it_as_the_users(wizard):
    _import(wizard, FLUX_24GB)
    wizard.go(nbwizard.setting("save.dtype").step)
    wizard.controls  # builds every row, "More settings" included
    row = wizard._rows["save.dtype"]
    recommended = wizard._derived.recommendation.reasons["save.dtype"].value
    assert recommended != "float16" and "Recommended:" in row.note.value
    row.apply.click()
    assert wizard.state.job.get("save.dtype") == recommended
    assert wizard.state.job.unset("save.dtype") == load_job(FLUX_24GB).unset("save.dtype")


def test_an_imported_model_kwargs_value_shows_the_catalogs_own_as_its_recommendation(wizard, tmp_path):
    source = tmp_path / "flex2.yaml"  # ai-toolkit's Flex.2 example sets model_kwargs the catalog also has
    source.write_text("job: extension\nconfig:\n  name: f\n  process:\n    - type: sd_trainer\n"
                      "      training_folder: output\n      model:\n        name_or_path: ostris/Flex.2-preview\n"
                      "        arch: flex2\n        model_kwargs: {invert_inpaint_mask_chance: 0.5}\n")
    _import(wizard, source)
    wizard.go("model")
    assert "went wrong" not in wizard.status.value, wizard.status.value
    assert "Recommended:" in wizard._rows["model.model_kwargs"].note.value
    assert wizard.state.job == load_job(source)


def test_a_target_gpu_after_an_import_suggests_and_does_not_rewrite(wizard):
    _import(wizard, FLUX_24GB)
    before = {s.path: s.suggested for s in wizard.suggestions.suggestions}
    wizard.controls["preflight.target"].value = "NVIDIA GeForce RTX 3060 12GB"
    assert wizard.state.job == load_job(FLUX_24GB)
    budget = SystemProfile.for_gpu("RTX 3060 12GB").vram_budget_gib
    assert f"of {budget:.1f} GiB" in wizard.header.value  # the target card's budget
    after = {s.path: s.suggested for s in wizard.suggestions.suggestions}
    assert after and after != before  # the plan for the smaller card is offered, not applied


def test_a_template_loads_exactly_as_saved_on_another_machine(tmp_path):
    home = tmp_path / "templates"
    first = Wizard(_detected("RTX 4090", 64.0, 16), config_dir=home, output_dir=tmp_path)
    first.controls["train.steps"].value = 1500
    first.controls["template.name"].value = "portrait"
    first.preflight.template_save.click()
    saved = first.state.job
    other = Wizard(_detected("RTX 3060 12GB", 32.0, 8), config_dir=home, output_dir=tmp_path)
    other.controls["template.pick"].value = "portrait"
    other.preflight.template_load.click()
    assert other.state.job == saved
    # what the wizard would choose for the 3060 instead is listed, each with its reason
    assert other.suggestions.suggestions and all(s.why for s in other.suggestions.suggestions)


# ---- 2. the user's values survive a model change --------------------------------------------------------------
def test_a_rank_set_by_hand_survives_a_model_change(wizard):
    wizard.go("target")
    wizard.controls["network.linear"].value = 64
    wizard.controls["model.arch"].value = "qwen_image"
    assert wizard.state.job.get("network.linear") == 64 and "network.linear" in wizard.state.user_set
    assert "network.linear" not in wizard.status.value  # not among the values that moved with the model
    wizard.controls["model.arch"].value = "sdxl"
    assert wizard.state.job.get("network.linear") == 64


def test_a_value_the_new_model_cannot_use_is_named_with_the_reason(wizard):
    wizard.controls["model.arch"].value = "sdxl"
    wizard.controls["network.conv"].value = "8"
    wizard.controls["network.linear"].value = 48
    wizard.controls["model.arch"].value = "flux"
    job = wizard.state.job
    assert not job.is_set("network.conv") and job.get("network.linear") == 48
    status = wizard.status.value
    assert "Not kept" in status and "no convolution layers" in status and "FLUX.1" in status


def test_changing_the_model_of_an_imported_job_keeps_the_files_values(wizard):
    _import(wizard, FLUX_24GB)
    written = load_job(FLUX_24GB)
    wizard.controls["model.arch"].value = "sdxl"
    job = wizard.state.job
    assert job.get("model.arch") == "sdxl" and job.get("model.name_or_path") == nbwizard.model_info("sdxl").name_or_path
    assert not job.is_set("model.is_flux") and not job.is_set("model.quantize")  # SDXL is not quantized
    kept = [p for p in written.set_paths() if not p.startswith("model.") and p not in (
        "train.noise_scheduler", "sample.sampler")]
    assert all(job.get(p) == written.get(p) for p in kept), [p for p in kept if job.get(p) != written.get(p)]
    assert "flow-matching" in wizard.status.value  # flowmatch is not kept, and why


# ---- 3. a model is shown as the one the file names ----------------------------------------------------------
def _unknown_model_job(tmp_path) -> Path:
    """ai-toolkit's SD 3.5 example re-pointed at a model class the catalog does not list (PixArt-Sigma)."""
    text = SD35_LARGE.read_text().replace("is_v3: true", "is_pixart_sigma: true").replace(
        "stabilityai/stable-diffusion-3.5-large", "PixArt-alpha/PixArt-Sigma-XL-2-1024-MS")
    path = tmp_path / "pixart.yaml"
    path.write_text(text)
    return path


def _everything_said(wizard) -> str:
    seen = [wizard.header.value, wizard.preflight.message.value, wizard.advisor.value]
    for page in ("model", "target", "review"):
        wizard.go(page)
        seen += [wizard.header.value, wizard.advisor.value]
    seen.append(wizard.review.comparison.value)
    return "\n".join(seen)


def test_an_sd35_example_is_shown_as_sd35_never_as_flux(wizard):
    _import(wizard, SD35_LARGE)
    assert wizard.state.job == load_job(SD35_LARGE)
    text = _everything_said(wizard)
    # (a setting's help may name FLUX.1-schnell as an example; nothing names this job's model FLUX)
    assert not re.search(r"FLUX\.1(?!-schnell)|\bflux\b", text), re.search(r".{80}(FLUX|flux).{40}", text)
    assert "SD 3.5 Large" in wizard.header.value and "not in the catalog" not in wizard.header.value


def test_a_model_outside_the_catalog_keeps_its_own_name(wizard, tmp_path):
    job = _unknown_model_job(tmp_path)
    _import(wizard, job)
    assert wizard.state.job == load_job(job)
    text = _everything_said(wizard)
    assert not re.search(r"FLUX\.1(?!-schnell)|\bflux\b|SD 3\.5", text), re.search(r".{80}(FLUX|flux|SD 3).{40}", text)
    header = wizard.header.value
    assert "PixArt-alpha/PixArt-Sigma-XL-2-1024-MS" in header and "not in the catalog" in header
    assert "predictions of memory and time are unavailable" in wizard.preflight.message.value
    assert "validation checks the generic settings only" in wizard.advisor.value
    assert wizard.controls["model.arch"].value == "pixart_sigma"
    assert "nothing to recommend" in wizard.suggestions.title.value


# ---- 4. what-if planning uses the target machine only ---------------------------------------------------------
def _detected(card: str, ram: float, cores: int, free: float | None = None) -> SystemProfile:
    """A machine as detection describes it (no target): ``card``, ``ram`` GiB of RAM (``free`` of it free)."""
    base = SystemProfile.for_gpu(card).model_dump()
    base.update(target=None, ram_total_gib=Reading.of(ram, "psutil").model_dump(),
                ram_available_gib=Reading.of(ram if free is None else free, "psutil").model_dump(),
                cpu_cores=Reading.of(cores, "procfs").model_dump())
    return SystemProfile.model_validate(base)


def _this_machine() -> SystemProfile:
    """A small machine: a 12 GB card, 8 GiB of RAM (3 free), 2 cores."""
    return _detected("RTX 3060 12GB", 8.0, 2, free=3.0)


def test_a_what_if_plan_says_nothing_about_this_machine(tmp_path):
    wizard = Wizard(_this_machine(), config_dir=tmp_path / "t", output_dir=tmp_path)
    wizard.controls["preflight.target"].value = "NVIDIA GeForce RTX 4090"
    texts = [wizard.header.value, wizard.preflight.hardware.value]
    for page in wizard.pages[:-2]:
        wizard.go(page)
        texts += [wizard.advisor.value, wizard.status.value]
    texts += [c.note.value for c in (wizard.controls and wizard._rows).values()]  # every row, brought up to date
    texts.append("\n".join(i.message for i in wizard._derived.report.issues))
    texts.append("\n".join(r.why for r in wizard._derived.recommendation.reasons.values()))
    text = "\n".join(texts)
    for phrase in ("this machine has", "free now", "close other programs", "2 cores", "8 GiB available",
                   "3 GiB available"):
        assert phrase not in text.lower(), phrase
    assert f"of {SystemProfile.for_gpu('RTX 4090').vram_budget_gib:.1f} GiB" in wizard.header.value


def test_a_what_if_plan_uses_the_ram_typed_for_the_target(tmp_path):
    wizard = Wizard(_this_machine(), config_dir=tmp_path / "t", output_dir=tmp_path)
    wizard.controls["preflight.target"].value = "NVIDIA GeForce RTX 4090"
    wizard.controls["preflight.ram_gib"].value = 12
    messages = [i.message for i in wizard._derived.report.issues if i.code == "ram-over-budget"]
    assert messages and all("the planned NVIDIA GeForce RTX 4090 machine" in m for m in messages)
