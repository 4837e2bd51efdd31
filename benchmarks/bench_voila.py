"""Voilà page interactive time (target <= 3 s on a 2-core machine): request -> wizard's Next button visible; and
"More settings" on the Target and Training core steps: click -> every row drawn (target well under 1 s).

Starts ``nbwizard serve`` on a free port, reads the URL it prints (with its token), and loads the page with
Playwright driving Debian's chromium, three times (each load starts a fresh kernel). Run:
``python benchmarks/bench_voila.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from nbwizard._voila_app import announced_url

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def main(loads: int = 3) -> None:
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    work = tempfile.mkdtemp(prefix="nbwizard-bench-")
    env = {k: v for k, v in os.environ.items() if k != "NBWIZARD_TOKEN"}  # let the server generate its token
    server = subprocess.Popen([sys.executable, "-m", "nbwizard", "serve", "--port", str(port)], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = None
        for line in server.stdout:  # the server prints only this line on stdout (its log goes to stderr)
            if url := announced_url(line):
                break
        if not url:
            raise SystemExit("nbwizard serve exited without printing its URL")
        threading.Thread(target=server.stdout.read, daemon=True).start()  # never let a full pipe block it
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            times = []
            for _ in range(loads):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                start = time.perf_counter()
                page.goto(url, wait_until="domcontentloaded")
                page.get_by_role("button", name="Next", exact=True).wait_for(state="visible", timeout=120_000)
                times.append(time.perf_counter() - start)
                start = time.perf_counter()
                page.get_by_role("button", name="Next", exact=True).click()
                page.locator("h3:visible", has_text="Model").first.wait_for(timeout=30_000)
                click = time.perf_counter() - start
                more = [_open_more(page, step) for step in ("Target", "Training core")]
                page.close()
                print(f"request -> interactive {times[-1]:.2f} s; Next -> Model step shown {click:.2f} s; "
                      + "; ".join(f"More settings on {step}: {n} rows drawn in {t:.2f} s" for step, n, t in more))
            browser.close()
        print(f"median request -> interactive: {sorted(times)[len(times) // 2]:.2f} s (target <= 3 s)")
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()


def _open_more(page, step: str) -> tuple[str, int, float]:
    """Go to ``step``, open its "More settings" and time until the page stops adding rows (0.5 s quiet)."""
    heading = page.locator(".nbw-page h3:visible").first
    while heading.inner_text() != step:
        title = heading.inner_text()
        page.get_by_role("button", name="Next", exact=True).click()
        while heading.inner_text() == title:
            page.wait_for_timeout(20)
    page.wait_for_timeout(1000)
    count = "() => document.querySelectorAll('.nbw-page .widget-vbox').length"
    before = last = page.evaluate(count)
    start = changed = time.perf_counter()
    page.get_by_text("More settings (").first.click()
    while time.perf_counter() - changed < 0.5 or last == before:
        now = page.evaluate(count)
        if now != last:
            last, changed = now, time.perf_counter()
        page.wait_for_timeout(10)
    return step, last - before, changed - start


if __name__ == "__main__":
    main()
