"""``nbwizard train`` / ``nbwizard runs`` and the wizard's Train and Runs pages, against the replaying fake trainer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


from nbwizard.engine.profile import SystemProfile
from nbwizard.engine.runs import History

from runs_support import FAKE_AITK, FAKES, job_file, launch_env  # noqa: F401

SRC = Path(__file__).resolve().parents[1] / "src"


def _cli(args, env_extra=None, **kw):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKES / "nvml"), str(SRC)]), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "nbwizard", *args], capture_output=True, text=True, env=env,
                          timeout=120, **kw)


def test_cli_train_runs_the_job_and_runs_lists_it(launch_env):
    done = _cli(["train", str(job_file(launch_env)), "--aitk", str(FAKE_AITK), "--interval", "0.2"])
    assert done.returncode == 0, done.stderr
    assert "Completed 20/20 steps." in done.stdout and "step 20/20" in done.stderr
    listed = _cli(["runs", "--json"])
    rows = json.loads(listed.stdout)
    assert len(rows) == 1 and rows[0]["outcome"] == "completed" and rows[0]["gpu"] == "NVIDIA GeForce RTX 4090"
    assert {"pred_peak_gib", "peak_gib", "pred_step_s", "steady_s_per_it", "wall_s", "ram_peak_gib"} <= set(rows[0])
    table = _cli(["runs", "--csv", str(launch_env / "runs.csv")])
    assert "completed" in table.stdout and (launch_env / "runs.csv").read_text().startswith("id,model,")


def test_cli_train_refuses_without_a_checkout_and_says_the_fix(launch_env, tmp_path):
    done = _cli(["train", str(job_file(launch_env)), "--aitk", str(tmp_path)])
    assert done.returncode == 2
    assert "not an ai-toolkit checkout" in done.stderr and "fix:" in done.stderr


def test_ctrl_c_in_the_cli_stops_the_run_gracefully(launch_env):
    proc = subprocess.Popen([sys.executable, "-m", "nbwizard", "train", str(job_file(launch_env)), "--aitk",
                             str(FAKE_AITK), "--interval", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "FAKE_AITK_DELAY": "0.2",
                                            "PYTHONPATH": os.pathsep.join([str(FAKES / "nvml"), str(SRC)])})
    deadline = time.monotonic() + 60
    while not list((launch_env / "home" / "data" / "runs").glob("*/console.log")):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "Stopped" in out and "SIGINT" in out and "stopping the run" in err


def test_the_train_page_starts_watches_and_reopens_a_run(launch_env):
    from nbwizard.widgets.app import Wizard
    from nbwizard.engine.yamlio import load_job

    os.environ["AITK_PATH"] = str(FAKE_AITK)
    os.environ["FAKE_AITK_DELAY"] = "0.03"
    wizard = Wizard(SystemProfile.for_gpu("RTX 4090", ram_gb=64), arch="sd15", output_dir=launch_env)
    path = job_file(launch_env)
    wizard._import(str(path))
    path = launch_env / "planned.yaml"
    wizard.go("review")
    wizard.review.save_path.value = str(path)
    wizard.review.save.click()
    assert "Saved" in wizard.review.message.value, wizard.review.message.value
    wizard.go("train")
    page = wizard.train_page
    assert "(saved)" in page.job_line.value and not page.train.disabled
    page.train.click()
    assert "Started run" in page.message.value, page.message.value + page.check_result.value
    assert not page.stop.disabled
    # the page closes (a new wizard, as after a kernel restart): it finds the run and shows it
    again = Wizard(SystemProfile.for_gpu("RTX 4090", ram_gb=64), arch="sd15", output_dir=launch_env)
    assert "still going" in again.train_page.message.value
    deadline = time.monotonic() + 60
    while "Completed" not in page.status.value or "Completed" not in again.train_page.status.value:
        assert time.monotonic() < deadline, page.status.value
        time.sleep(0.1)
    assert "nbw-vram-plot" in page.plot.value and "predicted peak" in page.plot.value
    assert "<img" in page.samples.value and "tiny_sd15_cpu" in page.log.value
    assert len(History().rows()) == 1  # recorded once, though two pages watched it
    wizard.go("runs")
    assert "tiny_sd15_cpu" in wizard.runs_page.table.value and "Completed 20/20" in wizard.runs_page.table.value
    assert load_job(path) == wizard.state.job


def test_the_stop_button_stops_the_run_and_says_how(launch_env):
    from nbwizard.widgets.train import TrainPage
    from nbwizard.engine.yamlio import load_job

    os.environ["FAKE_AITK_DELAY"] = "0.1"
    path = job_file(launch_env)
    page = TrainPage()
    page.aitk.value = str(FAKE_AITK)
    page.show(path, True, load_job(path), None, None)
    page.train.click()
    deadline = time.monotonic() + 60
    while (page.monitor.reader.step or 0) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    page.stop.click()
    while "Stopped" not in page.status.value:
        assert time.monotonic() < deadline, page.status.value
        time.sleep(0.05)
    assert "SIGINT" in page.status.value and "cleanly" in page.status.value
