"""A real browser trains from the wizard: import a job, save it, start it on the Train page, watch it end, and see
it on the Runs page. The trainer is the replaying fake of ai-toolkit (``tests/fakes/fake_aitk``) and the GPU the
fake NVML (``tests/fakes/nvml``), so this runs on a CPU-only machine; screenshots go to docs/ with
NBWIZARD_UPDATE_DOCS=1."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

import serving
from runs_support import FAKE_AITK, FAKES, job_file, write_nvml_state

pytestmark = pytest.mark.e2e
SRC = Path(__file__).resolve().parents[1] / "src"

serving.require_browser()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``nbwizard serve`` on a machine that (through the fakes) has an RTX 4090 and an ai-toolkit checkout."""
    work = tmp_path_factory.mktemp("serve-train")
    state = write_nvml_state(work / "nvml.json")
    env = {"AITK_PATH": str(FAKE_AITK), "FAKE_NVML_STATE": str(state), "FAKE_AITK_PYTHON": sys.executable,
           "FAKE_AITK_DELAY": "0.12",
           "PYTHONPATH": os.pathsep.join([str(FAKES / "nvml"), str(SRC), os.environ.get("PYTHONPATH", "")])}
    with serving.served(work, "--port", str(serving.free_port()), env=env) as (_, url):
        yield url, work


@pytest.fixture()
def page(served):
    with serving.browser_page(1400, 1100) as page:
        yield page


_shot = serving.screenshot


def test_a_person_trains_the_saved_job_and_watches_it_against_the_prediction(served, page):
    from playwright.sync_api import expect

    url, work = served
    job = job_file(work, "tiny_sd15_lora")
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("button", name="Next", exact=True).wait_for(state="visible", timeout=120_000)
    page.get_by_label("YAML file path").fill(str(job))
    page.get_by_label("YAML file path").press("Enter")
    page.get_by_role("button", name="Import YAML").click()
    expect(page.get_by_text("Imported")).to_be_visible(timeout=30_000)
    heading = page.locator(".nbw-page h3:visible").first
    for _ in range(20):
        if heading.inner_text().startswith("Review"):
            break
        title = heading.inner_text()
        page.get_by_role("button", name="Next", exact=True).or_(
            page.get_by_role("button", name="Review", exact=True)).first.click()
        expect(heading).not_to_have_text(title, timeout=30_000)
    page.get_by_label("Save to").fill(str(work / "planned.yaml"))
    page.get_by_label("Save to").press("Enter")
    page.get_by_role("button", name="Save YAML").click()
    expect(page.locator("#nbw-saved")).to_be_visible(timeout=30_000)

    page.get_by_role("button", name="Train", exact=True).click()
    expect(heading).to_have_text("Train", timeout=30_000)
    expect(page.get_by_text("(saved)")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Start training").click()
    status = page.locator("#nbw-train-status")
    expect(status).to_contain_text(re.compile(r"Running — step 1\d/20"), timeout=60_000)
    expect(page.locator("#nbw-vram-plot polyline").first).to_be_attached()
    _shot(page, "train.png", work, ".nbw-page h3:visible")
    expect(status).to_contain_text("Completed 20/20 steps", timeout=90_000)
    expect(page.locator("img.nbw-sample").first).to_be_visible()
    _shot(page, "train-done.png", work, "#nbw-train-status")

    page.get_by_role("button", name="Runs", exact=True).click()
    expect(heading).to_have_text("Runs", timeout=30_000)
    expect(page.get_by_text("Completed 20/20 steps").first).to_be_visible(timeout=30_000)
    _shot(page, "runs.png", work, ".nbw-page h3:visible")
