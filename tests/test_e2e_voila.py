"""A real browser (Playwright + Debian's chromium) clicks through the wizard served by ``nbwizard serve``."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import nbwizard
import serving

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
# The README's screenshots are refreshed by running this test with NBWIZARD_UPDATE_DOCS=1.
DOCS = Path(__file__).resolve().parents[1] / "docs"

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does it)",
                allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``nbwizard serve`` on a free port, in a working folder of its own, with its own config home: the URL it
    printed (with its token) and that folder."""
    work = tmp_path_factory.mktemp("serve")
    with serving.served(work, "--port", str(serving.free_port())) as (_, url):
        yield url, work


@pytest.fixture()
def page(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


def _shot(page, name: str, folder: Path) -> None:
    """A screenshot of the wizard from its header down (into docs/ for the README when asked)."""
    page.locator(".nbw-header").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    target = DOCS if os.environ.get("NBWIZARD_UPDATE_DOCS") == "1" else folder
    target.mkdir(exist_ok=True)
    page.screenshot(path=str(target / name))


def test_a_person_clicks_through_every_step_and_saves_a_job_ai_toolkit_reads(served, page):
    from playwright.sync_api import expect

    url, work = served
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(url, wait_until="domcontentloaded")
    nxt = page.get_by_role("button", name="Next", exact=True)
    nxt.wait_for(state="visible", timeout=120_000)
    expect(page.get_by_text("Pre-flight").first).to_be_visible()
    assert page.title() == "nbwizard"
    expect(page.get_by_text("Run the cell")).to_have_count(0)  # that hint is for JupyterLab only
    # plan for an RTX 4090 from this CPU-only machine
    page.get_by_label("Target GPU").select_option(label="NVIDIA GeForce RTX 4090")
    expect(page.locator("#nbw-vram")).to_contain_text("24.0 GiB", timeout=30_000)
    # ... on a rented machine with 64 GB of RAM (FLUX needs more than this one's to load and quantize)
    page.get_by_label("RAM (GiB)").fill("64")
    page.get_by_label("RAM (GiB)").press("Enter")
    expect(page.locator("#nbw-vram")).to_contain_text("fits", timeout=30_000)
    _shot(page, "preflight.png", work)

    seen = []
    heading = page.locator(".nbw-page h3:visible").first
    title = heading.inner_text()
    while True:
        page.get_by_role("button", name="Next", exact=True).or_(
            page.get_by_role("button", name="Review", exact=True)).first.click()
        expect(heading).not_to_have_text(title, timeout=30_000)  # the next page is shown
        title = heading.inner_text()
        seen.append(title)
        if title.startswith("Dataset"):
            _shot(page, "step.png", work)
        if title.startswith("Review"):
            break
        assert len(seen) < 20, seen
    assert seen[0] == "Model" and len(seen) >= 11, seen

    review_yaml = page.locator("#nbw-yaml").inner_text()
    _shot(page, "review.png", work)
    page.get_by_label("Save to").fill(str(work / "planned.yaml"))
    page.get_by_label("Save to").press("Enter")
    page.get_by_role("button", name="Save YAML").click()
    expect(page.locator("#nbw-saved")).to_be_visible(timeout=30_000)
    saved = nbwizard.load_job(work / "planned.yaml")
    assert saved == nbwizard.load_job(review_yaml)
    assert saved.get("model.arch") == "flux" and saved.get("datasets[].folder_path")
    # the whole session asked nothing of any other host (no CDN: the page works offline)
    elsewhere = [u for u in requested if urlsplit(u).scheme not in ("data", "blob")
                 and urlsplit(u).hostname != urlsplit(url).hostname]
    assert requested and elsewhere == []


def test_an_imported_ai_toolkit_example_is_saved_as_written_but_for_the_suggestion_accepted(served, page):
    """ai-toolkit's own FLUX 24 GB example, imported: the saved file holds every value of the example, plus the one
    suggestion accepted, and nothing else."""
    from playwright.sync_api import expect

    url, work = served
    example = Path(__file__).parent / "fixtures" / "jobs" / "aitk" / "train_lora_flux_24gb.yaml"
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("button", name="Next", exact=True).wait_for(state="visible", timeout=120_000)
    # planned for a rented RTX 4090 with 64 GB of RAM (this machine has too little to load FLUX)
    page.get_by_label("Target GPU").select_option(label="NVIDIA GeForce RTX 4090")
    expect(page.locator("#nbw-vram")).to_contain_text("24.0 GiB", timeout=30_000)
    page.get_by_label("RAM (GiB)").fill("64")
    page.get_by_label("RAM (GiB)").press("Enter")
    expect(page.get_by_label("RAM (GiB)")).to_have_value("64", timeout=30_000)
    page.get_by_label("YAML file path").fill(str(example))
    page.get_by_label("YAML file path").press("Enter")
    page.get_by_role("button", name="Import YAML").click()
    expect(page.get_by_text("exactly as the file writes them")).to_be_visible(timeout=30_000)
    # the suggestions sit right under the import message, each with Accept
    panel = page.locator(".nbw-suggestions")
    expect(panel).to_contain_text("stays exactly as loaded", timeout=30_000)
    row = panel.locator(".widget-hbox").filter(has=page.locator("span[title='process.trigger_word']"))
    row.get_by_role("button", name="Accept").click()
    expect(page.locator(".nbw-note").first).to_contain_text("Accepted", timeout=30_000)
    expect(panel.locator("span[title='process.trigger_word']")).to_have_count(0)

    heading = page.locator(".nbw-page h3:visible").first
    while not heading.inner_text().startswith("Review"):
        title = heading.inner_text()
        page.get_by_role("button", name="Next", exact=True).or_(
            page.get_by_role("button", name="Review", exact=True)).first.click()
        expect(heading).not_to_have_text(title, timeout=30_000)
    page.get_by_label("Save to").fill(str(work / "imported.yaml"))
    page.get_by_label("Save to").press("Enter")
    page.get_by_role("button", name="Save YAML").click()
    expect(page.locator("#nbw-saved")).to_be_visible(timeout=30_000)
    saved, written = nbwizard.load_job(work / "imported.yaml"), nbwizard.load_job(example)
    trigger = saved.get("process.trigger_word")
    assert trigger and not written.is_set("process.trigger_word")
    assert saved == written.set("process.trigger_word", trigger)


def _kernel_alive(url: str, kernel_id: str) -> bool:
    parts = urlsplit(url)
    token = parts.query.split("token=", 1)[1]
    request = urllib.request.Request(f"{parts.scheme}://{parts.netloc}/api/kernels/{kernel_id}",
                                     headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10):
            return True
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise


def test_a_closed_page_shuts_its_kernel_down(served):
    """Ten page loads, each closed once the wizard shows: none of their kernels outlives its page (Voilà's culling
    would only stop them after 10 minutes idle)."""
    from playwright.sync_api import sync_playwright

    url, _ = served
    kernels = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        opener = browser.new_page()
        for _ in range(10):
            # a window the page's own script may close, the way a person closes a tab (Playwright's page.close()
            # skips the unload that sends the shutdown request)
            with opener.expect_popup() as popup:
                opener.evaluate("url => window.open(url)", url)
            page = popup.value
            page.get_by_role("button", name="Next", exact=True).wait_for(state="visible", timeout=120_000)
            kernels.append(json.loads(page.locator("#jupyter-config-data").text_content())["kernelId"])
            assert _kernel_alive(url, kernels[-1])
            page.evaluate("window.close()")
            page.wait_for_event("close")
        deadline = time.monotonic() + 10
        while alive := [k for k in kernels if _kernel_alive(url, k)]:
            assert time.monotonic() < deadline, f"{len(alive)} of 10 kernels still running 10 s after their page closed"
            time.sleep(0.25)
        browser.close()
