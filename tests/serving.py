"""Start ``nbwizard serve`` as a user would and read the URL it prints, and open it in Debian's chromium (shared by
the serve and browser tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nbwizard._voila_app import announced_url

CHROMIUM = "/usr/bin/chromium"  # Playwright cannot download its own browser here (.ci/run installs Debian's)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The README's screenshots are refreshed by running the browser tests with NBWIZARD_UPDATE_DOCS=1.
DOCS = Path(__file__).resolve().parents[1] / "docs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(work: Path, *args: str, env: dict[str, str] | None = None,
           timeout: float = 90) -> Iterator[tuple[subprocess.Popen, str]]:
    """``nbwizard serve ARGS`` started in ``work`` (its own config home there); yields the process and its URL."""
    log_path = work / "serve.log"
    environment = {**os.environ, "NBWIZARD_HOME": str(work / "home")}
    environment.pop("NBWIZARD_TOKEN", None)  # the tester's own would replace the generated token
    environment.update(env or {})
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "nbwizard", "serve", *args], cwd=work, env=environment,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while not (url := announced_url(log_path.read_text())):
                if proc.poll() is not None:
                    raise RuntimeError("nbwizard serve exited:\n" + log_path.read_text()[-3000:])
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nbwizard serve printed no URL in {timeout:.0f} s:\n"
                                       + log_path.read_text()[-3000:])
                time.sleep(0.2)
            yield proc, url
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def require_browser() -> None:
    """Skip the calling test module (at import) where Debian's chromium or Playwright is missing."""
    import pytest

    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does it)",
                    allow_module_level=True)
    pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")


@contextmanager
def browser_page(width: int, height: int) -> Iterator:
    """A headless chromium page of ``width`` x ``height`` that records the script errors it raises (``.errors``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.errors = []
            page.on("pageerror", lambda exc: page.errors.append(str(exc)))
            page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
            yield page
        finally:
            browser.close()


def screenshot(page, name: str, folder: Path, anchor: str = ".nbw-root", docs: bool = True) -> None:
    """A screenshot from ``anchor`` down, into ``folder`` (into docs/ for the README when NBWIZARD_UPDATE_DOCS=1 and
    ``docs``)."""
    page.locator(anchor).first.evaluate("e => e.scrollIntoView({block: 'start'})")
    target = DOCS if docs and os.environ.get("NBWIZARD_UPDATE_DOCS") == "1" else folder
    target.mkdir(exist_ok=True)
    page.screenshot(path=str(target / name))
