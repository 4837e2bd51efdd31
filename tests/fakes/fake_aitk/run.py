"""A stand-in for ai-toolkit's ``run.py`` that replays a console log recorded from a real run.

The logs in ``recorded/`` come from real ai-toolkit runs (commit 27a03a91) of a tiny SD 1.5-shaped model with
random weights on a CPU (``tools/aitk_tiny_run.py``): ``tiny_sd15_cpu_completed.log`` (20 steps, previews at 0,
10 and 20), ``tiny_sd15_cpu_sigint.log`` (stopped with SIGINT at step 5) and ``import_crash.log`` (a dependency
mismatch while importing). No GPU was available, so the out-of-memory endings are built from ai-toolkit's own
source: the training loop's skip banner and abort (``BaseSDTrainProcess.run``), ``run.py``'s error block, and the
message of torch's CUDA allocator for an OOM while rendering previews.

It behaves like ``run.py`` where the launcher can tell: it prints as it goes, writes preview images and (with
``logging.use_ui_logger``) ``loss_log.db`` under ``<training_folder>/<name>``, and on SIGINT prints ai-toolkit's
"Job stopped" block and exits 0. For the fake NVML (``tests/fakes/nvml``) it writes the GPU memory it "holds" into
``$FAKE_NVML_STATE``.

Environment: ``FAKE_AITK_SCENARIO`` = completed | oom | oom_sampling | crash | ignore_sigint | ignore_all;
``FAKE_AITK_DELAY`` seconds per bar redraw (default 0.02); ``FAKE_AITK_GIB`` GPU memory while training (3.0).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RECORDED = HERE / "recorded"
RECORDED_NAME = "tiny_sd15_cpu"
RECORDED_ROOT = "/work/scratch/launch/proto/output/tiny_sd15_cpu"
SCENARIO = os.environ.get("FAKE_AITK_SCENARIO", "completed")
DELAY = float(os.environ.get("FAKE_AITK_DELAY", "0.02"))
TRAIN_GIB = float(os.environ.get("FAKE_AITK_GIB", "3.0"))
GIB = 1 << 30


def hold(gib: float) -> None:
    """Tell the fake NVML how much GPU memory this process holds now."""
    path = os.environ.get("FAKE_NVML_STATE")
    if not path:
        return
    try:
        state = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return
    state.setdefault("procs", {})[str(os.getpid())] = int(gib * GIB)
    tmp = Path(path).with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)


def out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


class Job:
    def __init__(self, path: str):
        data = yaml.safe_load(Path(path).read_text())
        proc = data["config"]["process"][0]
        self.name = data["config"]["name"]
        folder = Path(proc.get("training_folder") or "output")
        self.root = (folder if folder.is_absolute() else Path.cwd() / folder) / self.name
        self.ui_logger = bool((proc.get("logging") or {}).get("use_ui_logger"))
        self.step = 0
        self.db = None

    def log_loss(self, step: int, loss: float) -> None:
        if not self.ui_logger:
            return
        if self.db is None:  # ai-toolkit's UILogger schema (toolkit/logging_aitk.py)
            self.db = sqlite3.connect(self.root / "loss_log.db", isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")  # as UILogger.start does: no sync on every commit
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS steps (step INTEGER PRIMARY KEY, wall_time REAL NOT NULL)")
            self.db.execute("CREATE TABLE IF NOT EXISTS metric_keys (key TEXT PRIMARY KEY, first_seen_step INTEGER, "
                            "last_seen_step INTEGER)")
            self.db.execute("CREATE TABLE IF NOT EXISTS metrics (step INTEGER NOT NULL, key TEXT NOT NULL, "
                            "value_real REAL, value_text TEXT, PRIMARY KEY (step, key))")
        self.db.execute("INSERT OR REPLACE INTO steps VALUES (?, ?)", (step, time.time()))
        for key, value in (("loss/loss", loss), ("learning_rate", 1e-4)):
            self.db.execute("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, NULL)", (step, key, value))

    def write_samples(self) -> None:
        folder = self.root / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(2):
            ms = int(time.time() * 1000)
            shutil.copy(RECORDED / f"sample_{i}.jpg", folder / f"{ms}__{self.step:09d}_{i}.jpg")


BAR = re.compile(r"\| (\d+)/(\d+) \[.*loss: ([\d.e+-]+)\]")


def replay(job: Job, log: str, stop_at: int | None = None) -> None:
    text = log.replace(RECORDED_ROOT, str(job.root)).replace(RECORDED_NAME, job.name)
    job.root.mkdir(parents=True, exist_ok=True)
    hold(0.3)
    for piece in re.split(r"(?<=[\r\n])", text):
        if (m := BAR.search(piece)) is not None:
            job.step = int(m[1])
            if stop_at is not None and job.step >= stop_at:
                return
            job.log_loss(job.step, float(m[3]))
            hold(TRAIN_GIB + 0.05 * (job.step % 3))
            time.sleep(DELAY)
        elif "Loading pipeline components" in piece:
            hold(min(TRAIN_GIB, 2.0))
        elif "Generating Images" in piece:
            hold(TRAIN_GIB * 1.25)
            time.sleep(DELAY)
            if "100%" in piece:
                job.write_samples()
        out(piece)


def job_stopped() -> None:  # run.py's KeyboardInterrupt branch
    out("\n========================================\nJob stopped\n========================================\n")


def failed(message: str, traceback: str) -> None:  # run.py's error branch: message, result block, traceback
    out(f"Error running job: {message}\n\n========================================\nResult:\n - 0 completed jobs\n"
        f" - 1 failure\n========================================\n{traceback}")


OOM_TRAIN_TB = """Traceback (most recent call last):
  File "run.py", line 147, in <module>
    main()
  File "run.py", line 132, in main
    raise e
  File "run.py", line 120, in main
    job.run()
  File "jobs/ExtensionJob.py", line 22, in run
    process.run()
  File "jobs/process/BaseSDTrainProcess.py", line 2637, in run
    raise RuntimeError("OOM during training step 3 times in a row, aborting training")
RuntimeError: OOM during training step 3 times in a row, aborting training
"""

OOM_SAMPLE_MESSAGE = ("CUDA out of memory. Tried to allocate 1.50 GiB. GPU 0 has a total capacity of 23.55 GiB of "
                      "which 412.19 MiB is free. Including non-PyTorch memory, this process has 23.13 GiB memory in "
                      "use. Of the allocated memory 22.41 GiB is allocated by PyTorch, and 301.77 MiB is reserved by "
                      "PyTorch but unallocated. If reserved but unallocated memory is large try setting "
                      "PYTORCH_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for "
                      "Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)")
OOM_SAMPLE_TB = f"""Traceback (most recent call last):
  File "run.py", line 120, in main
    job.run()
  File "jobs/process/BaseSDTrainProcess.py", line 2732, in run
    self.sample(self.step_num)
  File "jobs/process/BaseSDTrainProcess.py", line 378, in sample
    self.sd.generate_images(gen_img_config_list, sampler=sample_config.sampler)
  File "toolkit/stable_diffusion_model.py", line 1485, in generate_images
    unconditional_embeds = self.encode_prompt(
torch.OutOfMemoryError: {OOM_SAMPLE_MESSAGE}
"""


def main() -> int:
    job = Job(sys.argv[1])
    if SCENARIO in ("ignore_sigint", "ignore_all"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if SCENARIO == "ignore_all":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    completed = (RECORDED / f"{RECORDED_NAME}_completed.log").read_text(encoding="utf-8")
    try:
        if SCENARIO == "crash":
            out((RECORDED / "import_crash.log").read_text(encoding="utf-8"))
            return 1
        if SCENARIO == "oom":
            replay(job, completed, stop_at=13)
            for n in (1, 2, 3):
                out(f"\n\n################################################\n# OOM during training step, skipping batch "
                    f"{n}/3 #\n################################################\n\n")
                time.sleep(DELAY)
            failed("OOM during training step 3 times in a row, aborting training", OOM_TRAIN_TB)
            return 1
        if SCENARIO == "oom_sampling":
            replay(job, completed, stop_at=11)
            out("Saving at step 10\n")
            failed(OOM_SAMPLE_MESSAGE, OOM_SAMPLE_TB)
            return 1
        replay(job, completed)
        if SCENARIO in ("ignore_sigint", "ignore_all"):
            while True:  # a run that will not listen: only a stronger signal ends it
                time.sleep(0.1)
        return 0
    except KeyboardInterrupt:
        job_stopped()
        return 0


if __name__ == "__main__":
    sys.exit(main())
