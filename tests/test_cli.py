"""The ``nbwizard`` command as a script or CI would use it: JSON out, errors on stderr, meaningful exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from PIL import Image

from nbwizard import load_job
from nbwizard.cli import main

JOBS = Path(__file__).parent / "fixtures" / "jobs"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_profile_json_on_this_cpu_only_machine_in_under_a_second():
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nbwizard", "profile", "--json"], capture_output=True, text=True,
                          timeout=60)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["gpus"] == [] and data["gpu_reason"]
    assert data["cpu_cores"]["value"] >= 1 and data["cpu_cores"]["source"] in ("psutil", "cgroup", "procfs")
    ram = data["ram_total_gib"]["value"]
    assert ram <= psutil.virtual_memory().total / 2**30 + 0.01
    assert data["storage"][0]["path"] and (data["storage"][0]["kind"] != "unknown" or data["storage"][0]["reason"])
    assert elapsed < 5, "the whole process, interpreter start included"


def test_profile_what_if_prints_each_value_with_its_source(capsys):
    code, out, _ = run(capsys, "profile", "--gpu", "A100 80GB", "--ram", "256")
    assert code == 0 and "A100" in out and "[catalog]" in out and "80.0 GiB" in out


def test_models_lists_all_52(capsys):
    code, out, _ = run(capsys, "models", "--json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 52 and {"arch", "label", "group"} <= set(rows[0])


def test_info_flux_prints_sizes_with_sources(capsys):
    code, out, _ = run(capsys, "info", "flux")
    assert code == 0 and "11.9014B params  [measured: fake-tensor trace of diffusers.FluxTransformer2DModel" in out
    assert "[public" in out and "latent_channels" in out and "act_peak_gib_gc" in out
    code, out, _ = run(capsys, "info", "flux", "--json")
    assert json.loads(out)["arch"] == "flux"


def test_unknown_arch_is_an_error_on_stderr_with_close_matches(capsys):
    code, out, err = run(capsys, "info", "fluxx")
    assert code == 2 and out == "" and "did you mean" in err and "flux" in err


def test_recommend_writes_a_job_and_refuses_to_overwrite(capsys, tmp_path):
    target = tmp_path / "job.yaml"
    code, _, err = run(capsys, "recommend", "--arch", "sdxl", "--gpu", "RTX 4090", "--ram", "64", "-o", str(target))
    assert code == 0 and target.exists() and "wrote" in err
    assert load_job(target).get("model.arch") == "sdxl"
    code, _, err = run(capsys, "recommend", "--arch", "sdxl", "--gpu", "RTX 4090", "-o", str(target))
    assert code == 2 and "--force" in err


def test_recommend_says_why_nothing_fits(capsys, tmp_path):
    code, _, err = run(capsys, "recommend", "--arch", "hidream", "--gpu", "RTX 3070", "-o", str(tmp_path / "j.yaml"))
    assert code == 1 and "does not fit" in err


def test_recommend_warns_about_system_ram_but_does_not_fail_on_it(capsys, tmp_path):
    code, _, err = run(capsys, "recommend", "--arch", "chroma", "--gpu", "RTX 4090", "--ram", "32",
                       "-o", str(tmp_path / "j.yaml"))
    assert code == 0 and "warning: Loading is estimated to need" in err and "32 GiB" in err


def test_recommend_needs_a_gpu_choice(capsys, tmp_path):
    code, _, err = run(capsys, "recommend", "--arch", "flux", "-o", str(tmp_path / "j.yaml"))
    assert code == 2 and "--gpu" in err


def test_recommend_with_a_dataset_trains_on_it(capsys, tmp_path):
    data = tmp_path / "imgs"
    data.mkdir()
    for i in range(4):
        Image.new("RGB", (768, 768)).save(data / f"{i}.png")
    code, _, _ = run(capsys, "recommend", "--arch", "sdxl", "--gpu", "A100 80GB", "--ram", "128",
                     "--dataset", str(data), "-o", str(tmp_path / "j.yaml"))
    assert code == 0 and load_job(tmp_path / "j.yaml").get("datasets[].folder_path") == str(data)


def test_validate_exits_1_on_errors_and_reports_json(capsys):
    code, out, _ = run(capsys, "validate", str(JOBS / "unknown_keys.yaml"), "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert {"code", "severity", "field", "location", "message", "fix"} <= set(report["issues"][0])
    code, _, _ = run(capsys, "validate", str(JOBS / "flux_lora_24gb.yaml"))
    assert code == 0


def test_validate_a_broken_file_names_the_line(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("config:\n  process: [\n")
    code, _, err = run(capsys, "validate", str(bad))
    assert code == 2 and "line" in err


def test_an_error_written_into_a_closed_pipe_still_exits_2(monkeypatch, tmp_path):
    class Gone:
        def write(self, _):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    bad = tmp_path / "bad.yaml"
    bad.write_text("config:\n  process: [\n")
    monkeypatch.setattr(sys, "stdout", Gone())
    monkeypatch.setattr(sys, "stderr", Gone())
    assert main(["predict", str(bad), "--json"]) == 2


def test_with_json_an_error_is_json_on_stdout_too(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("config:\n  process: [\n")
    for command in ("validate", "predict"):
        code, out, err = run(capsys, command, str(bad), "--json")
        assert code == 2 and "line" in json.loads(out)["error"] and "line" in err


def test_predict_json_has_the_breakdown(capsys):
    code, out, _ = run(capsys, "predict", str(JOBS / "flux_lora_24gb.yaml"), "--gpu", "RTX 4090", "--json")
    data = json.loads(out)
    assert code == 0 and data["budget_gib"] == pytest.approx(23.6, abs=0.01)  # 23.99 GiB less the driver's share
    assert data["verdict"] in ("fits", "tight", "does_not_fit")
    assert any(item["name"] == "base weights" for item in data["train"])


def test_analyze_prints_a_summary_and_fails_cleanly_on_a_missing_folder(capsys, tmp_path):
    Image.new("RGB", (640, 480)).save(tmp_path / "a.png")
    (tmp_path / "a.txt").write_text("a photo")
    code, out, _ = run(capsys, "analyze", str(tmp_path))
    assert code == 0 and "1" in out, _
    code, out, _ = run(capsys, "analyze", str(tmp_path), "--json")
    assert len(json.loads(out)["images"]) == 1
    code, _, err = run(capsys, "analyze", str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in err
