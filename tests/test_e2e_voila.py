"""A real browser (Playwright + Debian's chromium) clicks through the wizard served by ``nbwizard serve``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import nbwizard

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``nbwizard serve`` on a free port, in a working folder of its own, with its own config home."""
    work = tmp_path_factory.mktemp("serve")
    port = _free_port()
    env = {**os.environ, "NBWIZARD_HOME": str(work / "home")}
    log = open(work / "voila.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "nbwizard", "serve", "--port", str(port)], cwd=work, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            log.close()
            pytest.fail("nbwizard serve exited:\n" + (work / "voila.log").read_text()[-3000:])
        try:
            with urllib.request.urlopen(url + "voila/static/voila.js", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail("nbwizard serve did not answer in 90 s")
            time.sleep(0.3)
    yield url, work
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


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
    page.goto(url, wait_until="domcontentloaded")
    nxt = page.get_by_role("button", name="Next", exact=True)
    nxt.wait_for(state="visible", timeout=120_000)
    expect(page.get_by_text("Pre-flight").first).to_be_visible()
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
