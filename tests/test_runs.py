"""Launch and watch: the console reader, endings, the runner (stop, re-attach), telemetry, history, correction.

The trainer is ``tests/fakes/fake_aitk/run.py``, which replays console logs recorded from real ai-toolkit runs on
a CPU (see its docstring); GPU memory comes from the fake NVML in ``tests/fakes/nvml``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from nbwizard.engine.advisor import performance_lines
from nbwizard.engine.predict import predict
from nbwizard.engine.profile import SystemProfile
from nbwizard.engine.runs import (History, Monitor, Run, RunError, check, classify, corrected, export_csv,
                                  parse_bar, read_console, remember, start_run)
from nbwizard.engine.runs.history import CALIBRATION_COLUMNS
from nbwizard.engine.runs.runner import cuda_env
from nbwizard.engine.yamlio import load_job

from conftest import REFERENCE
from runs_support import FAKE_AITK, GPU_NAME, RECORDED, job_file, launch_env, write_nvml_state  # noqa: F401

COMPLETED = (RECORDED / "tiny_sd15_cpu_completed.log").read_text(encoding="utf-8")
SIGINT_LOG = (RECORDED / "tiny_sd15_cpu_sigint.log").read_text(encoding="utf-8")
CRASH_LOG = (RECORDED / "import_crash.log").read_text(encoding="utf-8")


# ---- reading the console ---------------------------------------------------------------------------------------
def test_a_progress_bar_redraw_gives_step_total_speed_eta_and_loss():
    bar = parse_bar("tiny:  65%|██████▌   | 13/20 [00:38<00:31,  4.49s/it, lr: 1.0e-04 loss: 1.233e+00]")
    assert (bar.step, bar.total, bar.elapsed_s, bar.remaining_s) == (13, 20, 38.0, 31.0)
    assert bar.s_per_it == pytest.approx(4.49) and bar.loss == pytest.approx(1.233) and bar.lr == pytest.approx(1e-4)
    fast = parse_bar("tiny:  95%|█████████▌| 19/20 [1:00:48<00:00,  1.25it/s, lr: 1.0e-04 loss: 1.292e+00]")
    assert fast.s_per_it == pytest.approx(0.8) and fast.elapsed_s == 3648.0
    first = parse_bar("tiny:   0%|          | 0/20 [00:00<?, ?it/s]")
    assert first.s_per_it is None and first.remaining_s is None and first.step == 0
    assert parse_bar("Saving at step 10") is None


def test_the_recorded_run_reads_as_twenty_steps_with_a_save_and_the_final_checkpoint():
    r = read_console(COMPLETED, "tiny_sd15_cpu")
    assert (r.step, r.total) == (20, 20)
    assert r.saves == [10] and r.final_saved and r.sampling_before_training
    assert len(r.losses()) >= 20 and r.losses()[-1][1] == pytest.approx(1.303)
    assert 1.0 < r.steady_s_per_it() < 4.0  # the bar's own s/it after warm-up
    assert not any("Generating Images" in line for line in [r.latest and "x"])  # previews' bars are not the run's


def test_the_console_reads_the_same_however_the_text_arrives_in_chunks():
    whole = read_console(COMPLETED, "tiny_sd15_cpu")
    rng = random.Random(7)
    for _ in range(5):
        reader, i = type(whole)("tiny_sd15_cpu"), 0
        while i < len(COMPLETED):
            n = rng.randint(1, 300)
            reader.feed(COMPLETED[i:i + n])
            i += n
        reader.finish()
        assert (reader.step, reader.saves, reader.losses(), reader.rates()) == \
            (whole.step, whole.saves, whole.losses(), whole.rates())


# ---- endings ---------------------------------------------------------------------------------------------------
def test_endings_completed_stopped_and_crashed_from_real_logs():
    done = classify(read_console(COMPLETED, "tiny_sd15_cpu"), returncode=0)
    assert done.kind == "completed" and done.headline.startswith("Completed 20/20")
    found_again = classify(read_console(COMPLETED, "tiny_sd15_cpu"), returncode=None)
    assert found_again.kind == "completed" and "exit code is not known" in found_again.headline
    stopped = classify(read_console(SIGINT_LOG, "tiny_sd15_cpu_sigint"), returncode=0, stopped_by="SIGINT")
    assert stopped.kind == "stopped" and "at step 5 of 20" in stopped.headline and "cleanly" in stopped.headline
    crashed = classify(read_console(CRASH_LOG), returncode=1)
    assert crashed.kind == "crashed" and "Gemma4UnifiedForConditionalGeneration" in " ".join(crashed.lines)
    assert "exit code 1" in crashed.headline and "Failed to import diffusers" in crashed.headline


def test_a_run_killed_from_outside_mentions_the_memory_killer():
    ending = classify(read_console(COMPLETED[:3000], "tiny_sd15_cpu"), returncode=-9, ram_peak_gib=22.5,
                      ram_total_gib=24.0)
    assert ending.kind == "crashed" and "SIGKILL" in ending.headline and "out-of-memory killer" in ending.detail


def test_cuda_device_of_the_job_picks_the_visible_gpu():
    assert cuda_env("cuda:1", {}) == {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "1"}
    assert cuda_env("cuda:1", {"CUDA_VISIBLE_DEVICES": "2,3"})["CUDA_VISIBLE_DEVICES"] == "3"
    assert cuda_env("cpu", {}) == {"CUDA_VISIBLE_DEVICES": ""}
    assert cuda_env("cuda", {})["CUDA_VISIBLE_DEVICES"] == "0"


# ---- the checkout ----------------------------------------------------------------------------------------------
def test_the_checkout_check_finds_python_torch_and_the_gpu_or_says_what_is_missing(launch_env, tmp_path):
    good = check(str(FAKE_AITK), "cuda")
    assert good.ok and good.torch.endswith("+fake") and good.cuda_devices == 1 and good.found_by == "given"
    two = check(str(FAKE_AITK), "cuda:1")
    assert not two.ok and "cuda:1" in two.problems[0].message and "cuda:0" in two.problems[0].fix
    missing = check(str(tmp_path), "cuda")
    assert not missing.ok and "not an ai-toolkit checkout" in missing.problems[0].message
    remember(FAKE_AITK)
    assert check(None, "cuda").found_by == "remembered"


# ---- running, stopping, re-attaching ---------------------------------------------------------------------------
def _start(tmp_path, scenario="completed", name="tiny_sd15_cpu", **kw):
    os.environ["FAKE_AITK_SCENARIO"] = scenario
    try:
        path = job_file(tmp_path, name, **kw)
        profile = SystemProfile.for_gpu("RTX 4090", ram_gb=64)
        job = load_job(path)
        return start_run(path, check(str(FAKE_AITK), "cuda"), job=job, prediction=predict(job, profile)), job
    finally:
        del os.environ["FAKE_AITK_SCENARIO"]


def _follow(monitor, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        snap = monitor.tick()
        if snap.ending is not None:
            return snap
        assert time.monotonic() < deadline, snap.tail
        time.sleep(0.1)


def test_a_replayed_run_is_watched_to_its_end_and_recorded(launch_env):
    run, job = _start(launch_env)
    snap = _follow(Monitor(run, job=job))
    assert snap.ending.kind == "completed" and (snap.step, snap.total) == (20, 20)
    assert 3.0 <= snap.peak_gib <= 3.76  # the fake trainer holds 3 GiB training, 3.75 rendering previews
    assert snap.samples and all(p.suffix == ".jpg" for p in snap.samples)
    assert snap.losses and snap.losses[-1][1] == pytest.approx(1.303)  # from loss_log.db (use_ui_logger)
    assert any("below the predicted band" in n or "within" in n or "above" in n for n in snap.notes)
    row = History().rows()[-1]
    assert (row.outcome, row.gpu, row.arch, row.steps_done) == ("completed", GPU_NAME, "sd15", 20)
    assert row.pred_peak_gib is not None and row.peak_gib is not None and row.steady_s_per_it > 0


@pytest.mark.parametrize("scenario, needed", [("completed", "SIGINT"), ("ignore_sigint", "SIGTERM"),
                                              ("ignore_all", "SIGKILL")])
def test_stop_escalates_from_sigint_to_sigterm_to_sigkill(launch_env, scenario, needed):
    run, job = _start(launch_env, scenario)
    monitor = Monitor(run, job=job)
    while (monitor.tick().step or 0) < 3:
        time.sleep(0.05)
    result = run.stop(sigint_grace=0.5, sigterm_grace=0.5)
    assert result.signal == needed and not run.alive()
    snap = _follow(monitor)
    assert snap.ending.kind == "stopped" and needed in snap.ending.headline
    if needed == "SIGINT":  # ai-toolkit's own stop block, as the recorded real run printed it
        assert monitor.reader.said_stopped and run.returncode() == 0


def test_a_new_wizard_finds_the_run_again_by_its_record(launch_env):
    os.environ["FAKE_AITK_DELAY"] = "0.05"
    run, _ = _start(launch_env)
    found = Run.load(run.folder)  # what a re-opened page or a restarted kernel does
    assert found is not None and not found.is_child and found.alive()
    snap = _follow(Monitor(found))
    assert snap.ending.kind == "completed" and "exit code is not known" in snap.ending.headline
    assert run.returncode() == 0  # the first wizard, still its parent, saw it exit cleanly


def test_a_recycled_pid_is_never_signalled(launch_env):
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    time.sleep(0.1)
    try:
        run, _ = _start(launch_env)
        run.stop(0.5, 0.5)
        stale = Run.load(run.folder)
        stale.record.update(pid=victim.pid, status="running")  # the system gave the pid to another program
        assert not stale.alive() and stale.send(signal.SIGTERM) is False
        assert victim.poll() is None  # untouched
    finally:
        victim.kill()
        victim.wait()


def test_one_run_per_gpu_also_one_started_outside_the_wizard(launch_env):
    run, _ = _start(launch_env, "ignore_sigint", name="first")
    try:
        with pytest.raises(RunError, match="already going on GPU 0"):
            _start(launch_env, name="second")
    finally:
        run.stop(0.2, 0.2)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        write_nvml_state(launch_env / "nvml.json", {str(other.pid): 5 << 30})
        with pytest.raises(RunError, match=rf"GPU 0 is already in use by pid {other.pid} .*5.0 GiB"):
            _start(launch_env, name="third")
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize("scenario, words", [
    ("oom", "Ran out of GPU memory at step 12 of 20"),
    ("oom_sampling", "23.1 GiB in use of 23.6 GiB"),
])
def test_out_of_memory_endings_say_where_how_much_and_the_fix(launch_env, scenario, words):
    run, job = _start(launch_env, scenario)
    snap = _follow(Monitor(run, job=job))
    ending = snap.ending
    assert ending.kind == "oom" and words in ending.headline and "the prediction said" in ending.headline
    assert ending.fix  # the validator's own memory fix, e.g. turn on gradient checkpointing or sampling off
    if scenario == "oom_sampling":
        assert "sampling" in ending.fix.lower()


def test_a_crash_shows_the_last_lines_of_the_log(launch_env):
    run, job = _start(launch_env, "crash")
    ending = _follow(Monitor(run, job=job)).ending
    assert ending.kind == "crashed" and "exit code 1" in ending.headline
    assert any("Gemma4UnifiedForConditionalGeneration" in line for line in ending.lines)


# ---- learning from the history ---------------------------------------------------------------------------------
def test_three_replayed_runs_correct_the_advisors_prediction(launch_env):
    profile = SystemProfile.for_gpu("RTX 4090", ram_gb=64)
    job = load_job(job_file(launch_env))
    before = predict(job, profile)
    assert not [line for line in performance_lines(corrected(before, job, GPU_NAME), profile)
                if line.key == "history"]
    for n in range(3):
        run, j = _start(launch_env, name="tiny_sd15_cpu")
        _follow(Monitor(run, job=j))
    rows = History().rows()
    assert len(rows) == 3
    lines = {line.key: line.text for line in performance_lines(corrected(before, job, GPU_NAME), profile)}
    assert lines["history"].startswith("corrected from 3 runs on this machine: ")
    factor = round(sorted(r.peak_gib / r.pred_peak_gib for r in rows)[1], 3)  # the median, kept to 3 decimals
    assert f"{(factor - 1) * 100:+.0f} % VRAM" in lines["history"] and "× " not in lines["history"]
    assert lines["vram"].startswith(f"{before.peak_vram_gib:.1f} GiB")  # the uncorrected prediction stays
    # another card's prediction is not corrected by this card's runs
    assert corrected(before, job, "NVIDIA A100 80GB PCIe") is before


def test_the_history_exports_in_the_calibration_csv_columns(launch_env, tmp_path):
    run, job = _start(launch_env)
    _follow(Monitor(run, job=job))
    n = export_csv(History().rows(), tmp_path / "runs.csv")
    header = (tmp_path / "runs.csv").read_text().splitlines()[0].split(",")
    assert n == 1 and tuple(header) == CALIBRATION_COLUMNS
    reference = REFERENCE / "vram-calibration.csv"
    if reference.exists():
        assert tuple(reference.read_text().splitlines()[0].split(",")) == CALIBRATION_COLUMNS
