"""Voilà page interactive time (target <= 3 s on a 2-core machine): request -> wizard's Next button visible.

Starts ``nbwizard serve`` on a free port and loads the page with Playwright driving Debian's chromium, three
times (each load starts a fresh kernel). Run: ``python benchmarks/bench_voila.py``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def main(loads: int = 3) -> None:
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    work = tempfile.mkdtemp(prefix="nbwizard-bench-")
    server = subprocess.Popen([sys.executable, "-m", "nbwizard", "serve", "--port", str(port)], cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "voila/static/voila.js", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
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
                page.close()
                print(f"request -> interactive {times[-1]:.2f} s; Next -> Model step shown {click:.2f} s")
            browser.close()
        print(f"median request -> interactive: {sorted(times)[len(times) // 2]:.2f} s (target <= 3 s)")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
