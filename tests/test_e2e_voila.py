"""A real browser (Playwright + Debian's chromium) clicks through the wizard served by ``nbwizard serve``."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import nbwizard
import serving
from nbwizard.engine.profile import SystemProfile

pytestmark = pytest.mark.e2e

serving.require_browser()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``nbwizard serve`` on a free port, in a working folder of its own, with its own config home: the URL it
    printed (with its token) and that folder."""
    work = tmp_path_factory.mktemp("serve")
    with serving.served(work, "--port", str(serving.free_port())) as (_, url):
        yield url, work


WIDTHS = {"wide": (1400, 1000), "narrow": (900, 800)}
EXAMPLE = Path(__file__).parent / "fixtures" / "jobs" / "flux_lora_24gb.yaml"  # written like ai-toolkit's examples
# what the header shows as an RTX 4090's budget: its 24 GB less the driver's share
RTX_4090_BUDGET = f"of {SystemProfile.for_gpu('RTX 4090').vram_budget_gib:.1f} GiB"
# Finds text the page cuts off: an element that hides its overflow (or ends it with "…") while its content is wider
# than its box, and a drop-down whose chosen entry is wider than the box showing it.
CLIPPED_JS = """() => {
  const bad = [], ctx = document.createElement('canvas').getContext('2d');
  for (const el of document.querySelectorAll('.nbw-root *')) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height) continue;
    const cs = getComputedStyle(el), text = (el.innerText || el.value || '').trim();
    if (cs.visibility === 'hidden') continue;
    if ((['hidden', 'clip'].includes(cs.overflowX) || cs.textOverflow === 'ellipsis') && text
        && el.scrollWidth > el.clientWidth + 1)
      bad.push(`${el.tagName} "${text.slice(0, 50)}": ${el.scrollWidth}px in ${el.clientWidth}px`);
    if (el.tagName === 'SELECT' && el.selectedIndex >= 0) {
      ctx.font = cs.font;
      const want = ctx.measureText(el.options[el.selectedIndex].text).width + 32;  // padding and the arrow
      if (want > el.clientWidth + 1) bad.push(`SELECT "${el.options[el.selectedIndex].text}": ${want}px in ${el.clientWidth}px`);
    }
  }
  return bad;
}"""


@pytest.fixture(params=list(WIDTHS))
def page(served, request):
    """A browser page at one of the two window sizes, and the script errors it raised."""
    with serving.browser_page(*WIDTHS[request.param]) as page:
        page.size = request.param
        yield page


def _shot(page, name: str, folder: Path) -> None:
    """A screenshot of the wizard from its top down (the README's come from the wide size)."""
    serving.screenshot(page, name, folder, docs=page.size == "wide")


def _nothing_clipped(page, where: str) -> None:
    assert page.evaluate(CLIPPED_JS) == [], f"text cut off on {where} at {page.size}"


def _in_view(locator, page) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]


def test_a_person_imports_edits_saves_and_reloads_a_template_at_two_window_sizes(served, page):
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
    page.locator(".nbw-root").first.evaluate("e => e.scrollIntoView({block: 'start'})")  # once: the title above
    # plan for an RTX 4090 (the picker names its memory) on a rented machine with 64 GB of RAM
    page.get_by_label("Target GPU").select_option(label="NVIDIA GeForce RTX 4090 · 24 GB")
    expect(page.locator("#nbw-vram")).to_contain_text(RTX_4090_BUDGET, timeout=30_000)
    page.get_by_label("RAM (GiB)").fill("64")
    page.get_by_label("RAM (GiB)").press("Enter")
    expect(page.locator("#nbw-vram")).to_contain_text("fits", timeout=30_000)
    expect(page.get_by_role("button", name=re.compile(r"\d+ errors?$"))).to_have_count(0, timeout=30_000)
    _nothing_clipped(page, "Pre-flight")
    _shot(page, "preflight.png", work)

    # import a job written like ai-toolkit's examples: Review is then one click away
    page.get_by_label("YAML file path").fill(str(EXAMPLE))
    page.get_by_label("YAML file path").press("Enter")
    page.get_by_role("button", name="Import YAML").click()
    expect(page.get_by_text("Imported")).to_be_visible(timeout=30_000)
    heading = page.locator(".nbw-page h3:visible").first
    page.get_by_role("button", name=re.compile(r"^\d+\. Review$")).click()
    expect(heading).to_have_text("Review & save", timeout=30_000)

    # walk every step from the first: the buttons stay in view, each page opens at its top, nothing is cut off
    page.get_by_role("button", name=re.compile(r"^✓? ?1\. Model$")).click()
    expect(heading).to_have_text("Model", timeout=30_000)
    seen = []
    while True:
        title = heading.inner_text()
        seen.append(title)
        scroller = page.locator(".nbw-page:visible").first
        assert scroller.evaluate("e => e.scrollTop") == 0 and _in_view(heading, page), f"{title} is not at its top"
        forward = nxt.or_(page.get_by_role("button", name="Review", exact=True)).or_(
            page.get_by_role("button", name="Train", exact=True)).first
        assert _in_view(forward, page) and _in_view(page.get_by_role("button", name="Undo"), page), title
        if title in ("Target", "Memory & batch", "Regularization"):
            page.get_by_text(re.compile(r"^More settings \(")).first.click()
            page.wait_for_timeout(500)
        _nothing_clipped(page, title)
        if title == "Training core":
            page.get_by_label("Training steps").fill("1500")
            page.get_by_label("Training steps").press("Enter")
            expect(page.locator(".nbw-header")).to_contain_text("Steps: 1500", timeout=30_000)
        if title == "Dataset":
            _shot(page, "step.png", work)
        if title.startswith("Review"):
            break
        box = heading.bounding_box()
        page.mouse.move(box["x"] + 20, box["y"] + 60)
        page.mouse.wheel(0, 4000)  # read down the page with the wheel, then go on
        page.wait_for_timeout(200)
        forward.click()
        expect(heading).not_to_have_text(title, timeout=30_000)
        assert len(seen) < 20, seen
    assert seen[0] == "Model" and len(seen) >= 11, seen

    # save to a relative path: it lands in the folder the wizard was started in, and the message says where
    review_yaml = page.locator("#nbw-yaml").inner_text()
    _shot(page, "review.png", work)
    page.get_by_label("Save to").fill(f"{page.size}.yaml")
    page.get_by_label("Save to").press("Enter")
    page.get_by_role("button", name="Save YAML").click()
    expect(page.locator("#nbw-saved")).to_contain_text(str(work / f"{page.size}.yaml"), timeout=30_000)
    saved = nbwizard.load_job(work / f"{page.size}.yaml")
    assert saved == nbwizard.load_job(review_yaml) and saved.get("train.steps") == 1500

    # a template outlives the page: save one, reload, load it back
    page.get_by_role("button", name=re.compile(r"Pre-flight$")).click()
    expect(heading).to_have_text("Pre-flight", timeout=30_000)
    page.get_by_label("Template name").fill(f"flux {page.size}")
    page.get_by_label("Template name").press("Enter")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_text(f"Saved template “flux {page.size}”")).to_be_visible(timeout=30_000)
    page.reload(wait_until="domcontentloaded")
    nxt.wait_for(state="visible", timeout=120_000)
    page.get_by_label("Saved templates").select_option(f"flux {page.size}")
    page.get_by_role("button", name="Load", exact=True).click()
    expect(page.get_by_text(f"Loaded template “flux {page.size}”")).to_be_visible(timeout=30_000)
    expect(page.locator(".nbw-header")).to_contain_text("Steps: 1500", timeout=30_000)
    _nothing_clipped(page, "Pre-flight after loading a template")

    assert page.errors == [], page.errors
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
    page.get_by_label("Target GPU").select_option(label="NVIDIA GeForce RTX 4090 · 24 GB")
    expect(page.locator("#nbw-vram")).to_contain_text(RTX_4090_BUDGET, timeout=30_000)
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
    page.get_by_label("Save to").fill(str(work / f"imported-{page.size}.yaml"))  # one per window size
    page.get_by_label("Save to").press("Enter")
    page.get_by_role("button", name="Save YAML").click()
    expect(page.locator("#nbw-saved")).to_be_visible(timeout=30_000)
    saved, written = nbwizard.load_job(work / f"imported-{page.size}.yaml"), nbwizard.load_job(example)
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
    url, _ = served
    kernels = []
    with serving.browser_page(1400, 1000) as opener:
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
