"""Start ``nbwizard serve`` as a user would and read the URL it prints (shared by the serve and browser tests)."""

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
