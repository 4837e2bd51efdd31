"""Accuracy and speed of ``nbwizard.engine.predict`` on the published measurements in vram-calibration.csv, and the
fit of ai-toolkit's own example configs on the cards they are named for.

Each CSV row becomes the nearest ai-toolkit job through the explicit tables below (arch, quantization, optimizer,
text-encoder handling, offloading). Where another trainer's harness differs from ai-toolkit the row says how
(``harness``): its LoRA (targets, bf16, dropout, caption length) traced on the same denoiser class by
``tools/trace_archs.py --harness`` (``benchmarks/data/harness_traces.json``) replaces ai-toolkit's LoRA state and
scales the activation terms, its load path where it peaks there, and a row's "fits" check uses that prediction;
memory is scored on every mapped row, step time only where the row's kernels exist in ai-toolkit
(no SDNQ, no dynamic-activation fp8, no bitsandbytes, no torch.compile). Rows that cannot be mapped are counted with
the reason.

    python benchmarks/bench_predict.py [--csv PATH] [--rows] [--fit]

``--rows`` prints every row (predicted vs measured, verdict on its card); ``--fit`` grid-searches the fitted
constants of data/predict.json and prints the best values with the rows that pin them.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GB_TO_GIB = 1e9 / (1 << 30)
EXAMPLES = ROOT / "tests" / "data" / "aitk_examples.json"


def _find_csv() -> Path:
    """The team reference beside the checkout (``../shared``), or beside any parent (a worktree)."""
    for parent in ROOT.parents:
        candidate = parent / "shared" / "reference" / "vram-calibration.csv"
        if candidate.exists():
            return candidate
    return ROOT.parent / "shared" / "reference" / "vram-calibration.csv"


DEFAULT_CSV = _find_csv()

# CSV model id -> catalog arch; None: not an ai-toolkit arch (or the variant is not stated), with why
MODEL_TO_ARCH: dict[str, str | None] = {
    "sd15": "sd15", "sdxl": "sdxl", "chroma": "chroma", "hidream": "hidream", "qwen-image": "qwen_image",
    "qwen-image-edit": "qwen_image_edit", "lumina2": "lumina2", "z-image": "zimage", "wan2.1-1.3b": "wan21:1b",
    "wan2.1-14b": "wan21:14b", "flux1-dev": "flux", "flux-schnell": "flux", "krea2": "krea2", "ltx-2.3": "ltx2.3",
    "ltx-2": "ltx2", "sd3.5-large": "sd3",
    # musubi trains Wan 2.2's experts one at a time: one expert has Wan 2.1 14B's shape (traces.json)
    "wan2.2-14b": "wan21:14b",
}
NOT_MAPPED = {
    "flux2-klein": "FLUX.2 klein variant (4B / 9B) not stated",
    "sd3.5-medium": "SD 3.5 Medium (2.5 B MMDiT-X) is not a catalog arch (ai-toolkit's sd3 entry is SD 3.5 Large)",
    "kolors": "Kolors is not an ai-toolkit arch", "hunyuan-video": "HunyuanVideo is not an ai-toolkit arch",
    "hunyuan-video-1.5": "HunyuanVideo 1.5 is not an ai-toolkit arch",
    "hunyuan-image-2.1": "HunyuanImage 2.1 is not an ai-toolkit arch",
    "ltx-video-0.9.5": "LTX-Video 0.9 is not an ai-toolkit arch", "ltx-video": "LTX-Video 0.9 is not an ai-toolkit arch",
}
# quantization text (lower-case substring, first match wins) -> (ai-toolkit qtype, harness note, time scored?)
QUANT_MAP = (
    ("uint3", "uint3", "", True),
    ("sdnq", "qint8", "SDNQ int8 (not in ai-toolkit): memory as quanto qint8 (int8 weights, no bf16 copy kept)", False),
    ("int8-torchao (weight-only)", "int8", "", True),
    ("nf4", "uint4", "bitsandbytes nf4: memory as ai-toolkit uint4", False),
    ("int4", "qint4", "", True), ("int2", "qint2", "", True),
    ("fp8-torchao", "float8", "torchao dynamic-activation fp8 (fp8 matmuls; not in ai-toolkit): memory as torchao "
                              "float8 weight-only", False),
    ("fp8 training", None, "torchao fp8 training keeps bf16 weights (fp8 matmuls): memory as bf16", False),
    ("int_w8a8", "int8", "W8A8 int8 (OneTrainer): memory as torchao int8", False),
    ("int8", "int8", "", True),
    ("8-bit", "qfloat8", "", True), ("8bit", "qfloat8", "", True), ("qfloat8", "qfloat8", "", True),
    ("fp8 scaled", "float8", "fp8 scaled weights upcast per layer: as torchao float8 weight-only", True),
    ("fp8_scaled", "float8", "fp8 scaled weights upcast per layer: as torchao float8 weight-only", True),
    ("fp8", "float8", "", True), ("float_8", "float8", "", True), ("float8", "float8", "", True),
    ("quantized", "qfloat8", "", True),
)
# optimizer text (lower-case substring, first match wins) -> ai-toolkit optimizer
OPTIMIZER_MAP = (("lion", "lion"), ("adamw8bit", "adamw8bit"), ("8-bit adam", "adamw8bit"),
                 ("adafactor", "adafactor"), ("adamw", "adamw"), ("unstated", "adamw8bit"))
# SimpleTuner examples whose dataloader trains at another size than the sweep doc's heading states: example name (as
# the row's source cites it) -> the side of the square with the trained pixel area.
SIMPLETUNER_TRAINED_AREA = {
    # simpletuner/examples/multidatabackend-small-video-480p+81f.json (both Wan RamTorch examples' data_backend_config):
    # "resolution": 480, "resolution_type": "pixel_area" -> 480^2 px per frame whatever the clip's aspect, not the
    # 832x480 of the doc's heading (that is the validation_resolution)
    "wan2.1-t2v-1.3b-480p-single-gpu.peft-lora+ramtorch": 480,
    "wan2.1-t2v-14b-480p-single-gpu.peft-lora+ramtorch": 480,
}
# other_memory_options we cannot express as an ai-toolkit job
UNMAPPABLE_OPTIONS = ("activation offload", "split_mode", "fused_backward")
# options that change step time in ways ai-toolkit does not have (regular expressions)
NO_TIME_OPTIONS = (r"(?<!regional )compile(?! off)",)
# CSV gpu text -> catalog name (the SimpleTuner sweep's "H100 80GB" does not say SXM or PCIe: SXM assumed)
GPU_MAP = {"h100 80gb": "H100 SXM", "h100 sxm": "H100 SXM", "nvidia b200": "B200", "rtx 4090 24gb": "RTX 4090",
           "rtx 5090 32gb": "RTX 5090", "l40s": "L40S"}
CARDS = ("RTX 3060 12GB", "RTX 4060 Ti 16GB", "RTX 4090", "RTX 5090", "RTX 6000 Ada", "H100 80GB")
# The other trainers' LoRA (peft and alike) feeds the bf16 input to lora_down; ai-toolkit's casts each wrapped
# linear's input to fp32 and keeps it (traces.json assumptions, "LoRA input casts"). The trace tool measured both on
# FLUX.1 1024^2, batch 1, rank 32 (trace-notes: bf16 LoRA 33.5 GiB without checkpointing / 2.33 GiB with, against
# ai-toolkit's 51.75 / 2.81 from traces.json): a row from another trainer is compared with the prediction's
# activation terms scaled by these ratios. The predictor itself always predicts ai-toolkit.
BF16_LORA_ACTIVATION_RATIO = {"train_no_gc": 33.5 / 51.75, "train_gc": 2.33 / 2.81}


@dataclass(frozen=True)
class Case:
    row: dict
    job: Any
    measured_gib: float | None
    gpu: str | None
    s_per_it: float | None
    harness: tuple[str, ...] = ()
    time_excluded: str = ""  # why the row's step time is not scored ("" = scored)
    label: str = ""
    extra_times: tuple[tuple[str, float], ...] = field(default_factory=tuple)  # (gpu, s/it) from the notes

    @property
    def job_spec(self) -> Any:
        from nbwizard.engine.arch import arch_of

        return arch_of(self.job)


def _first_int(text: str) -> int | None:
    m = re.search(r"\d+", text or "")
    return int(m.group()) if m else None


def _resolution(text: str) -> int | list[int] | None:
    t = (text or "").lower()
    if "unstated" in t or "-" in t or "p" in t.replace("per sweep doc", "").replace("sample", ""):
        if not re.match(r"^\s*seq_len", t):
            return None
    if t.startswith("["):
        return [int(v) for v in re.findall(r"\d+", t)]
    m = re.search(r"(\d+)\s*x\s*(\d+)", t)
    if m:
        return [int(m.group(1)), int(m.group(2))]
    return _first_int(t.split("(")[0]) if not t.startswith("seq_len") else 512  # seq_len 1024 ~ 512^2 px


def _measured(row: dict) -> float | None:
    nums = [float(v) for v in re.findall(r"\d+(?:\.\d+)?", row["vram_gb"])]
    if not nums:
        return None
    value = sum(nums) / len(nums)  # "12-14" -> 13
    return value if row["vram_unit"].lower().startswith("gib") else value * GB_TO_GIB


def _gpu(text: str) -> str | None:
    return GPU_MAP.get((text or "").strip().lower())


def row_to_case(row: dict) -> tuple[Case | None, str]:
    """The nearest ai-toolkit job for one CSV row, or None and why it was skipped."""
    import nbwizard

    model = row.get("model", "")
    if model in NOT_MAPPED:
        return None, NOT_MAPPED[model]
    arch = MODEL_TO_ARCH.get(model)
    if arch is None:
        return None, f"model '{model}' not in the catalog"
    opts = (row.get("other_memory_options", "") + " " + row.get("notes", "")).lower()
    bad = next((o for o in UNMAPPABLE_OPTIONS if o in opts and "no activation offload" not in opts), None)
    if bad:
        return None, f"'{bad}' has no ai-toolkit equivalent"
    if any(re.search(o, row.get("other_memory_options", "").lower()) for o in NO_TIME_OPTIONS):
        return None, "torch.compile changes memory and speed (ai-toolkit runs eager)"
    if "unstated" in row.get("base_weights", "").lower() and "unstated" in row.get("quantization", "").lower():
        return None, "base weight dtype and quantization unstated"
    res = _resolution(row["resolution"])
    if "per sweep doc" in row["resolution"] and "512px" in row["notes"]:
        # Chroma / Z-Image / Kolors sweep rows: the doc says 1024 but the example's dataloader is the 512px set
        # (vram-calibration.md, "B-"); their GC-off/GC-on deltas are only consistent with 512 px.
        res = 512
    example = re.search(r"simpletuner/examples/([^/\s]+)/config\.json", row.get("source", ""))
    if example and example.group(1) in SIMPLETUNER_TRAINED_AREA:
        res = SIMPLETUNER_TRAINED_AREA[example.group(1)]
    if res is None:
        return None, "resolution unstated or a range"
    harness: list[str] = []
    if isinstance(res, list) and len(res) == 2 and not row["resolution"].startswith("["):
        w, h = res
        res = int(round(math.sqrt(w * h)))  # a non-square bucket: the same pixel count
    frames = _first_int(row["frames"]) if row["frames"] else 1
    if row["frames"] and frames is None:
        return None, "frames unstated"
    net = row["network"].lower()
    network: dict | None = {"type": "lora", "linear": _first_int(row["rank"]) or 16}
    if "lokr" in net:
        network = {"type": "lokr", "lokr_factor": _first_int(net.split("factor")[1]) or -1, "lokr_full_rank": True}
    if "full" in net:
        network = None
    quant_text = (row["quantization"] + " " + row["base_weights"]).lower()
    qtype, time_ok, note = None, True, ""
    base = row["base_weights"].lower()
    if base not in ("bf16", "fp32", "bfloat_16") and not quant_text.startswith("none"):
        hit = next(((q, n, t) for key, q, n, t in QUANT_MAP if key in quant_text), None)
        if hit:
            qtype, note, time_ok = hit
    if "bf16" == base and "fp8 training" in quant_text:
        note, time_ok = QUANT_MAP[6][2], False
    if note:
        harness.append(note)
    opt = next((o for key, o in OPTIMIZER_MAP if key in row["optimizer"].lower()), "adamw8bit")
    te = row["text_encoder_handling"].lower()
    te_resident = any(k in te for k in ("not cached", "not pre-computed", "kept", "not trained", "te quantized",
                                        "gemma2"))
    cache_te = not te_resident  # every trainer here pre-caches unless the row says the TE stays
    gc = not row["gradient_checkpointing"].lower().startswith("off")
    model_cfg: dict = {"arch": arch, "quantize": qtype is not None, "qtype": qtype or "qfloat8",
                       "quantize_te": "quantize_te: true" in quant_text or "te quantized" in te or "quantized tes" in te
                       or "gemma2 te quantized" in te}
    if arch == "wan21:14b":
        model_cfg["name_or_path"] = "Wan-AI/Wan2.1-T2V-14B-Diffusers"
    if "low_vram: true" in opts or "low_vram" in row.get("other_memory_options", "").split(";")[-1]:
        model_cfg["low_vram"] = True
    m_swap = re.search(r"blocks_to_swap (\d+)", opts)
    m_frac = re.search(r"offload_fraction ([\d.]+)", opts)
    if "ramtorch" in opts or "layer_offloading_transformer_percent 1.0" in opts:
        model_cfg.update(layer_offloading=True, layer_offloading_transformer_percent=1.0,
                         layer_offloading_text_encoder_percent=0.0)
        if "ramtorch" in opts:
            harness.append("RamTorch streaming ~ ai-toolkit layer offloading at 100 % (same mechanism, not the same "
                           "code)")
    elif m_frac and float(m_frac.group(1)) > 0:
        model_cfg.update(layer_offloading=True, layer_offloading_transformer_percent=float(m_frac.group(1)),
                         layer_offloading_text_encoder_percent=0.0)
    elif m_swap and int(m_swap.group(1)) > 0:
        blocks = nbwizard.model_info(arch).blocks.value or 60
        model_cfg.update(layer_offloading=True,
                         layer_offloading_transformer_percent=min(1.0, int(m_swap.group(1)) / blocks),
                         layer_offloading_text_encoder_percent=0.0)
        harness.append("block swap ~ layer offloading of the same share")
    trainer = row.get("trainer", "")
    latents_cached = "not pre-computed" not in te
    process = {
        "type": "sd_trainer", "training_folder": "output",
        "datasets": [{"folder_path": "x", "resolution": res, "num_frames": frames or 1,
                      "cache_latents_to_disk": latents_cached}],
        "train": {"batch_size": _first_int(row["batch_size"]) or 1, "steps": 1000, "dtype": "bf16",
                  "gradient_checkpointing": gc, "optimizer": opt, "cache_text_embeddings": cache_te,
                  "gradient_accumulation": _first_int(row["grad_accum"]) or 1, "disable_sampling": True},
        "model": model_cfg,
    }
    if network:
        process["network"] = network
    job = nbwizard.load_job({"job": "extension", "config": {"name": f"row{row['id']}", "process": [process]}})
    if trainer.startswith("unsloth"):
        harness.append(f"{trainer}: fp32 LoRA, inputs cast to fp32 as in ai-toolkit"
                       + ("; int8 quantized on the GPU after a dense bf16 load" if qtype == "int8" else ""))
    elif trainer != "ai-toolkit":
        probe = Case(row, job, None, None, None)
        harness.append(f"{trainer}: its LoRA traced (harness_traces.json: targets, bf16, dropout)"
                       if harness_record(probe) else
                       f"{trainer}: bf16 LoRA inputs (activations x the measured bf16/fp32-cast ratio)")
    s = float(row["s_per_it"]) if re.fullmatch(r"[\d.]+", row["s_per_it"] or "") else None
    gpu = _gpu(row["gpu"])
    excluded = ""
    if not time_ok:
        excluded = note.split(":")[0]
    elif "flash-attn-3" in opts:
        excluded = "FlashAttention-3 (ai-toolkit runs PyTorch SDPA: slower attention on Hopper)"
        harness.append(excluded)
    extra = ()
    m = re.search(r"L40S:\s*([\d.]+)\s*s/step", row.get("notes", ""))
    if m:
        extra = (("L40S", float(m.group(1))),)
    return Case(row, job, _measured(row), gpu, s, tuple(harness), excluded, f"row {row['id']}", extra), ""


def abs_pct_error(predicted: float, measured: float) -> float:
    """|predicted - measured| / measured, in percent."""
    return abs(predicted - measured) / measured * 100.0


def _profile(name: str | None):
    """A what-if profile for a catalog card name, or None."""
    from nbwizard.engine.gpus import UnknownGpuError
    from nbwizard.engine.profile import SystemProfile

    for candidate in (name or "H100 SXM", re.sub(r"\s*\d+\s*GB$", "", name or "")):
        try:
            return SystemProfile.for_gpu(candidate, ram_gb=256)
        except UnknownGpuError:
            continue
    return None


_PROFILES: dict[str, Any] = {}


def profile_for(name: str):
    if name not in _PROFILES:
        _PROFILES[name] = _profile(name)
    return _PROFILES[name]


# Other trainers' LoRA traced on the same denoiser classes (tools/trace_archs.py --harness TRAINER): their target
# modules, dtype and dropout, so a row from that trainer is compared with its own LoRA's parameters and activations.
HARNESS_TRACES = ROOT / "benchmarks" / "data" / "harness_traces.json"
# Optimizer state bytes per trainable parameter in the trainer's LoRA dtype (bf16), by (trainer, optimizer text).
HARNESS_OPTIMIZER_BYTES = {
    ("simpletuner", "adamw_bf16"): (6.0, "AdamWBF16: exp_avg, exp_avg_sq and the stochastic-rounding shift in bf16 "
                                         "(SimpleTuner bc8e6ab simpletuner/helpers/training/optimizers/"
                                         "adamw_bfloat16/__init__.py)"),
    ("simpletuner", "optimi-lion"): (4.0, "optimi Lion: exp_avg in bf16 + the Kahan-summation buffer (kahan_sum: True "
                                          "in SimpleTuner bc8e6ab simpletuner/helpers/training/optimizer_param.py)"),
}
_HARNESS: dict[str, Any] | None = None


def harness_record(c: Case) -> dict | None:
    """The traced harness for the row's trainer on its arch's trace, or None (then the FLUX ratio is used)."""
    global _HARNESS
    if _HARNESS is None:
        _HARNESS = json.loads(HARNESS_TRACES.read_text(encoding="utf-8"))["harness"] if HARNESS_TRACES.exists() \
            else {}
    spec = c.job_spec
    if spec is None or spec.trace is None or c.job.get("network.type") != "lora":
        return None  # a LoKr / full run is not the traced peft LoRA
    return _HARNESS.get(f"{spec.trace.key}/{c.row.get('trainer', '')}")


def _fit(rec: dict, mode: str):
    from nbwizard.engine._traces import Fit

    return Fit(tuple(rec["fits"][mode]["peak"]))


def harness_train_gib(c: Case, p: Any) -> float:
    """The training-phase prediction as the row's trainer would measure it (ai-toolkit rows: unchanged).

    With a traced harness (another trainer's LoRA on the same class): the activation terms scaled by that trace's
    peak over ai-toolkit's at the job's tokens and batch, and, for a LoRA row, the trainable parameters, gradients
    and optimizer states of that trainer's LoRA (its modules, bf16) in place of ai-toolkit's (fp32). Without one:
    the activation terms scaled by the FLUX bf16/fp32-cast ratio."""
    if c.row.get("trainer") == "ai-toolkit":
        return p.train.total_gib
    from nbwizard.engine.predict import _data as D
    from nbwizard.engine.predict._inputs import read_inputs
    from nbwizard.engine.predict.memory import memory_tokens

    gc = bool(c.job.get("train.gradient_checkpointing"))
    mode = "train_gc" if gc else "train_no_gc"
    act = p.train.get("activations") + p.train.get("DOP/BPP second graph")
    rec = harness_record(c)
    total = p.train.total_gib
    trainer = c.row.get("trainer", "")
    if trainer.startswith("unsloth"):
        ratio = 1.0  # fp32 LoRA (cast_training_params): peft casts each input to fp32, as ai-toolkit does
    elif rec is None or mode not in rec.get("fits", {}):
        ratio = BF16_LORA_ACTIVATION_RATIO[mode]
    else:
        x = read_inputs(c.job, None)
        n = memory_tokens(x)
        ratio = _fit(rec, mode)(n, x.batch) / c.job_spec.trace.fit(mode, "peak")(n, x.batch)
    rank = c.job.get("network.linear")
    opt = HARNESS_OPTIMIZER_BYTES.get((trainer, c.row["optimizer"].strip().lower()))
    if rec is not None and c.job.get("network.type") == "lora" and rank and opt:
        state = p.train.get("trainable parameters") + p.train.get("gradients") + p.train.get("optimizer states")
        params = rec["lora"]["params_per_rank"] * int(rank)
        total += params * (2 + 2 + opt[0]) / (1 << 30) - state
    train = total - (1 - ratio) * act * (1 + D.const("memory", "fragmentation"))
    if trainer.startswith("unsloth") and c.job.get("model.qtype") == "int8" and c.job.get("model.quantize"):
        # unsloth's int8 mode loads the dense bf16 transformer onto the GPU and quantizes it there, after the LoRA
        # attaches (unslothai/unsloth 015bdef studio/backend/core/training/diffusion_dit_trainer.py
        # _load_dit_transformer ".to(device)", then _int8_quantize_base): the run's peak is at least that transient
        dense = c.job_spec.trace.denoiser_params * 2 / (1 << 30)
        train = max(train, dense + p.train.get("trainable parameters") + D.const("memory", "cuda_context_gib"))
    return round(train, 2)


def harness_fits(c: Case, p: Any, budget: float) -> bool:
    """The "fits" verdict for the run the row measured: ai-toolkit's verdict, with the training band moved by the
    harness correction for another trainer's row (its LoRA, its load path), so a row is judged on the same
    prediction its error is scored on: every phase's band under the budget, the training phase moved either way."""
    if c.row.get("trainer") == "ai-toolkit" or p.verdict == "unknown":
        return p.verdict == "fits"
    shift = harness_train_gib(c, p) - p.train.total_gib
    return all(ph.high_gib + (shift if ph.name == "training" else 0.0) <= budget for ph in p.phases)


# A LoRA step reaching more than this share of the card's dense bf16 peak in its traced FLOPs alone is not
# physically plausible (the best attention and GEMM kernels reach ~75 % in isolation): such a row's stated size is
# not the size that was timed, and its step time is reported but not scored.
MAX_PLAUSIBLE_EFFICIENCY = 0.8


def implied_efficiency(c: Case, gpu: str, seconds: float) -> float | None:
    """Share of the card's peak the row's traced FLOPs would need to fit in the measured time."""
    from nbwizard.engine.predict import predict

    prof = profile_for(gpu)
    p = predict(c.job, prof)
    compute = next((x for x in p.step_costs if x.name == "compute"), None)
    m = re.match(r"([\d,.]+) TFLOP", compute.why) if compute else None
    if not m or not prof.gpu_spec.bf16_tflops:
        return None
    return float(m.group(1).replace(",", "")) / (seconds * prof.gpu_spec.bf16_tflops)


def time_rows(cases: list[Case], with_implausible: bool = False) -> list[tuple[Case, str, float]]:
    """(case, gpu, measured s/it) for every scored step time, the L40S values from the notes included."""
    out = []
    for c in cases:
        if c.time_excluded or c.row["confidence"] == "D":
            continue
        pairs = ([(c.gpu, c.s_per_it)] if c.s_per_it and c.gpu else []) + list(c.extra_times)
        for g, s in pairs:
            eff = implied_efficiency(c, g, s)
            if with_implausible or eff is None or eff <= MAX_PLAUSIBLE_EFFICIENCY:
                out.append((c, g, s))
    return out


def evaluate(cases: list[Case], verbose: bool = False) -> dict:
    """Error metrics over the mapped rows (peak_measured / approx_stated rated C or better)."""
    from nbwizard.engine.predict import predict

    h100 = profile_for("H100 SXM")
    cards = [p for p in (profile_for(c) for c in CARDS) if p is not None]
    assert len(cards) == len(CARDS), "a card of CARDS is not in the GPU catalog"
    errs, fits_over, oom_fits, unknown, inside = [], 0, 0, 0, 0
    for c in cases:
        kind = c.row["measure_type"]
        p = predict(c.job, h100)
        if kind == "oom_lower_bound":
            oom_fits += p.verdict == "fits"
            if verbose:
                print(f"  {c.label:>8} {c.row['model']:<16} OOM on 80 GB        predicted {p.peak_vram_gib:6.2f} "
                      f"({p.verdict} on an H100)")
            continue
        if kind not in ("peak_measured", "approx_stated") or c.measured_gib is None or c.row["confidence"] == "D":
            continue
        if p.peak_vram_gib is None:
            unknown += 1
            continue
        train = harness_train_gib(c, p)
        e = abs_pct_error(train, c.measured_gib)
        errs.append(e)
        inside += p.low_gib <= c.measured_gib <= p.high_gib if p.binding_phase == "training" else \
            c.measured_gib <= train * 1.25
        over = [prof for prof in cards if c.measured_gib > prof.vram_budget_gib]
        wrong = [prof.target for prof in over if harness_fits(c, predict(c.job, prof), prof.vram_budget_gib)]
        fits_over += len(wrong)
        if verbose:
            tag = "  FITS-OVER " + ",".join(wrong) if wrong else ""
            print(f"  {c.label:>8} {c.row['model']:<16} measured {c.measured_gib:6.2f} predicted {train:6.2f} "
                  f"({train - c.measured_gib:+6.2f}, {e:5.1f} %){tag}"
                  + (f"  [{'; '.join(c.harness)}]" if c.harness else ""))
    serrs, ratios = [], []
    for c, gpu, s in time_rows(cases):
        prof = profile_for(gpu)
        if prof is None:
            continue
        ps = predict(c.job, prof).step_seconds
        if not ps:
            continue
        serrs.append(abs_pct_error(ps, s))
        ratios.append(max(ps / s, s / ps))
        if verbose:
            print(f"  {c.label:>8} {c.row['model']:<16} {gpu:<9} measured {s:6.3f} s/it predicted {ps:6.3f} "
                  f"(x{ps / s:4.2f})")
    if verbose:
        for c in cases:
            if c.time_excluded and c.s_per_it:
                print(f"  {c.label:>8} {c.row['model']:<16} step time not scored: {c.time_excluded}")
        scored = {(id(c), g) for c, g, _ in time_rows(cases)}
        for c, g, s in time_rows(cases, with_implausible=True):
            if (id(c), g) not in scored:
                print(f"  {c.label:>8} {c.row['model']:<16} {g:<9} step time not scored: {s} s/it needs "
                      f"{implied_efficiency(c, g, s):.0%} of the card's dense peak for the traced FLOPs alone")
    return {"n": len(errs), "median": statistics.median(errs) if errs else math.nan,
            "within20": sum(e <= 20 for e in errs) / len(errs) if errs else math.nan,
            "band_coverage": inside / len(errs) if errs else math.nan, "fits_over": fits_over,
            "oom_fits": oom_fits, "unknown": unknown, "sn": len(serrs),
            "smedian": statistics.median(serrs) if serrs else math.nan,
            "swithin20": sum(e <= 20 for e in serrs) / len(serrs) if serrs else math.nan,
            "smax_ratio": max(ratios) if ratios else math.nan,
            "s_excluded": sum(1 for c in cases if c.time_excluded and c.s_per_it)}


def load_cases(path: Path) -> tuple[list[Case], Counter]:
    cases, skipped = [], Counter()
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            case, why = row_to_case(row)
            if case is None:
                skipped[why] += 1
            else:
                cases.append(case)
    return cases, skipped


# ---- ai-toolkit's own example configs --------------------------------------------------------------------------
_LEGACY = {"is_flux": "is_flux", "is_v3": "is_v3", "is_xl": "is_xl", "is_lumina2": "is_lumina2"}


def example_job(entry: dict):
    """The job an example config of tests/data/aitk_examples.json describes (its recorded values only)."""
    import nbwizard

    def kept(d: dict | None, skip: tuple[str, ...] = ()) -> dict:
        return {k: v for k, v in (d or {}).items() if v is not None and k not in skip and not k.startswith("$")}

    model = kept(entry["model"], ("legacy_flags", "arch_resolved", "text_encoder_bits"))
    model.update({_LEGACY[k]: v for k, v in (entry["model"].get("legacy_flags") or {}).items() if k in _LEGACY})
    train = kept(entry.get("train"), ("gradient_accumulation_steps",))
    if (entry.get("ema") or {}).get("use_ema"):
        train["ema_config"] = {"use_ema": True, "ema_decay": entry["ema"].get("ema_decay") or 0.99}
    datasets = []
    for ds in entry.get("datasets") or [{}]:
        d = kept(ds, ("control_path",))
        d["folder_path"] = "/data/images"
        if ds.get("control_path"):
            d["control_path"] = "/data/controls"
        datasets.append(d)
    sample = kept(entry.get("sample"), ("n_prompts",))
    sample["prompts"] = [f"prompt {i}" for i in range((entry.get("sample") or {}).get("n_prompts") or 1)]
    process = {"type": entry.get("process_type") or "sd_trainer", "training_folder": "output", "model": model,
               "train": train, "datasets": datasets, "sample": sample, "save": kept(entry.get("save"))}
    if entry.get("network"):
        process["network"] = kept(entry["network"])
    return nbwizard.load_job({"job": "extension", "config": {"name": Path(entry["file"]).stem, "process": [process]}})


def example_checks() -> list[tuple[str, str, Any]]:
    """(file, card, prediction) for each 24 GB example on an RTX 4090 and each 32 GB example on an RTX 5090."""
    from nbwizard.engine.predict import predict
    from nbwizard.engine.profile import SystemProfile

    entries = json.loads(EXAMPLES.read_text(encoding="utf-8"))["examples"]
    out = []
    for e in entries:
        card = {24: "RTX 4090", 32: "RTX 5090"}.get(e.get("vram_tier_gb_in_name"))
        if card is None:
            continue
        out.append((e["file"], card, predict(example_job(e), SystemProfile.for_gpu(card, ram_gb=64))))
    return out


# ---- fitting -----------------------------------------------------------------------------------------------------
def _set(section: str, name: str, value: float, sub: str | None = None) -> None:
    from nbwizard.engine.predict import _data as D

    table = D.data()[section]
    if sub:
        table[sub][name]["value"] = value
    else:
        table[name]["value"] = value
    D.refresh()


# (section, name, sub-table, grid) of each fitted constant; the time grids are searched coordinate-wise
TIME_GRID = (
    ("time", "datacenter", "efficiency", (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)),
    ("time", "block_pass_s", None, (0.5e-3, 1e-3, 1.5e-3, 2e-3, 2.5e-3, 3e-3, 3.5e-3, 4e-3, 5e-3)),
    ("time", "gc_block_s", None, (0.0, 1.6e-3, 3.2e-3, 4.8e-3, 6.4e-3, 8e-3)),
    ("time", "step_fixed_s", None, (0.0, 0.025, 0.05, 0.1, 0.2)),
    ("time", "dequant_bandwidth_share", None, (0.1, 0.2, 0.35, 0.5, 0.75, 1.0)),
    ("time", "dequant_call_s", None, (0.0, 5e-5, 1e-4, 2e-4, 4e-4)),
)


def fit(cases: list[Case], write: bool = False) -> None:
    """Grid-search the fitted constants: fragmentation (memory), then class efficiency and dispatch costs (time).

    Memory: the fragmentation share minimising the median error (ties: more rows within 20 %). Time: coordinate
    descent over TIME_GRID minimising (rows off by more than 2x, median absolute error), three sweeps.
    """
    best = None
    for frag in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3):
        _set("memory", "fragmentation", frag)
        r = evaluate(cases)
        key = (r["median"], -r["within20"])
        if best is None or key < best[0]:
            best = (key, frag)
    _set("memory", "fragmentation", best[1])
    print(f"memory: fragmentation={best[1]} -> median {best[0][0]:.1f} %, within 20 % {-best[0][1]:.0%}")
    rows = time_rows(cases)
    print("time rows: " + ", ".join(f"{c.label}/{g}" for c, g, _ in rows))
    import itertools

    score = _time_only(rows)
    head = TIME_GRID[:4]
    kept = tuple(_get(section, name, sub) for section, name, sub, _ in head)
    for values in itertools.product(*(g for *_, g in head)):
        for (section, name, sub, _), value in zip(head, values):
            _set(section, name, value, sub)
        trial = _time_only(rows)
        if (trial[2], trial[0]) < (score[2], score[0]):
            score, kept = trial, values
    for (section, name, sub, _), value in zip(head, kept):
        _set(section, name, value, sub)
    for _ in range(2):
        for section, name, sub, grid in TIME_GRID:
            for value in grid:
                old = _get(section, name, sub)
                _set(section, name, value, sub)
                trial = _time_only(rows)
                if (trial[2], trial[0]) < (score[2], score[0]):
                    score = trial
                else:
                    _set(section, name, old, sub)
    values = ", ".join(f"{name}={_get(section, name, sub):g}" for section, name, sub, _ in TIME_GRID)
    print(f"time: {values} -> median {score[0]:.1f} %, worst x{score[1]:.2f}, {score[2]} rows off by more than 2x")
    from nbwizard.engine.predict import predict

    logs = sorted(abs(math.log(predict(c.job, profile_for(g)).step_seconds / s)) for c, g, s in rows)
    band = math.exp(logs[int(0.68 * (len(logs) - 1))]) - 1
    print(f"time band (68 % of the rows inside): +-{band:.0%}")
    if write:
        _write_fitted(band)
        print(f"written to {PREDICT_JSON}")


PREDICT_JSON = ROOT / "src" / "nbwizard" / "engine" / "data" / "predict.json"


def _write_fitted(band: float) -> None:
    """Put the fitted values in data/predict.json (each constant's "value", formatting kept)."""
    text = PREDICT_JSON.read_text(encoding="utf-8")
    fitted = [("fragmentation", _get("memory", "fragmentation"))]
    fitted += [(name, _get(section, name, sub)) for section, name, sub, _ in TIME_GRID]
    fitted.append(("consumer", _get("time", "datacenter", "efficiency")))
    fitted.append(("workstation", round(0.6 * _get("time", "datacenter", "efficiency"), 3)))
    fitted.append(("band", round(band, 2)))
    for name, value in fitted:
        text, n = re.subn(rf'("{re.escape(name)}": \{{"value": )[^,]+,', rf"\g<1>{value:g},", text, count=1)
        assert n == 1, name
    PREDICT_JSON.write_text(text, encoding="utf-8")


def _get(section: str, name: str, sub: str | None = None) -> float:
    from nbwizard.engine.predict import _data as D

    table = D.data()[section]
    return (table[sub][name] if sub else table[name])["value"]


def _time_only(rows) -> tuple[float, float, int]:
    from nbwizard.engine.predict import predict

    errs, worst, over2 = [], 1.0, 0
    for c, gpu, s in rows:
        ps = predict(c.job, profile_for(gpu)).step_seconds
        if ps:
            errs.append(abs_pct_error(ps, s))
            ratio = max(ps / s, s / ps)
            worst = max(worst, ratio)
            over2 += ratio > 2.0
    return (statistics.median(errs) if errs else math.inf), worst, over2


# Pairs of traced archs with a similar layout: each is predicted from the other's trace the way an untraced arch is
# (data/predict.json "proxies"), and compared with its own trace at a native size.
PROXY_PAIRS = (("flux", "sd3"), ("sd3", "flux"), ("flux", "qwen_image"), ("qwen_image", "flux"),
               ("sd3", "qwen_image"), ("qwen_image", "sd3"), ("zimage", "flux"), ("flux", "zimage"),
               ("zimage", "qwen_image"), ("qwen_image", "zimage"), ("wan21:1b", "wan21:14b"),
               ("wan21:14b", "wan21:1b"), ("wan22_5b", "wan21:14b"), ("wan21:14b", "wan22_5b"))


def proxy_check() -> list[tuple[str, str, dict[str, float]]]:
    """(arch, reference, {quantity: borrowed / own}) for PROXY_PAIRS: how far a borrowed fit lands."""
    from nbwizard.engine.models import model_info
    from nbwizard.engine.predict import _arch

    out = []
    for arch, ref in PROXY_PAIRS:
        spec = model_info(arch)
        trace = spec.trace
        params = float(trace.denoiser_params)
        h, blocks, _ = _arch._shape(spec, trace, params)
        borrowed = _arch._activity(spec, None, {"trace": model_info(ref).trace.key, "why": "check"}, spec, params,
                                   h, blocks, [])
        own = _arch._activity(spec, trace, None, spec, params, h, blocks, [])
        n = own.tokens(480, 832, 33) if spec.is_video else own.tokens(1024, 1024)
        ratios = {
            "gc": borrowed.bytes("train_gc", "peak", n, 1) / own.bytes("train_gc", "peak", n, 1),
            "no_gc": borrowed.bytes("train_no_gc", "peak", n, 1) / own.bytes("train_no_gc", "peak", n, 1),
            "preview": borrowed.bytes("preview", "peak", n, 1) / own.bytes("preview", "peak", n, 1),
            "flops": (borrowed.flops("train_gc", "fwd_flops", n, 1) + borrowed.flops("train_gc", "bwd_flops", n, 1))
            / (own.flops("train_gc", "fwd_flops", n, 1) + own.flops("train_gc", "bwd_flops", n, 1)),
        }
        out.append((arch, ref, ratios))
    return out


def time_predict() -> tuple[float, float]:
    import nbwizard
    from nbwizard.engine.predict import predict
    from nbwizard.engine.profile import SystemProfile

    job = nbwizard.load_job(ROOT / "tests" / "fixtures" / "jobs" / "flux_lora_24gb.yaml")
    prof = SystemProfile.for_gpu("RTX 4090", ram_gb=64)
    predict(job, prof)
    times = []
    for _ in range(200):
        t = time.perf_counter()
        predict(job, prof)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, sorted(times)[int(0.95 * len(times))] * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--fit", action="store_true", help="grid-search the fitted constants of data/predict.json")
    ap.add_argument("--rows", action="store_true", help="print every scored row")
    ap.add_argument("--write", action="store_true", help="with --fit: write the fitted values to predict.json")
    ap.add_argument("--proxy-check", action="store_true",
                    help="predict each traced arch from a similar arch's trace and compare with its own")
    args = ap.parse_args(argv)
    if args.proxy_check:
        worst: dict[str, float] = {}
        for arch, ref, ratios in proxy_check():
            print(f"  {arch:<10} from {ref:<10} " + "  ".join(f"{k} x{v:.2f}" for k, v in ratios.items()))
            for k, v in ratios.items():
                worst[k] = max(worst.get(k, 1.0), v, 1 / v)
        print("worst: " + ", ".join(f"{k} x{v:.2f}" for k, v in worst.items()))
        return 0
    cases, skipped = load_cases(args.csv)
    print(f"rows mapped to jobs: {len(cases)}; skipped: {sum(skipped.values())}")
    for why, n in skipped.most_common():
        print(f"  skipped {n:>3}: {why}")
    if args.fit:
        fit(cases, write=args.write)
        return 0
    r = evaluate(cases, verbose=args.rows)
    print(f"peak VRAM (training phase): {r['n']} rows scored ({r['unknown']} predicted 'unknown')")
    print(f"  median absolute error: {r['median']:.1f} %   within ±20 %: {r['within20']:.0%}   "
          f"measured inside the band: {r['band_coverage']:.0%}")
    print(f"  'fits' verdicts where the measurement exceeded the card ({len(CARDS)} cards): {r['fits_over']}")
    print(f"  'fits' on 80 GB for rows that OOM'd on 80 GB: {r['oom_fits']}")
    print(f"step time: {r['sn']} row/card pairs with s/it ({r['s_excluded']} rows not scored: kernels ai-toolkit "
          f"does not have); median absolute error {r['smedian']:.1f} %, within ±20 %: {r['swithin20']:.0%}, "
          f"worst x{r['smax_ratio']:.2f}")
    print("ai-toolkit examples on the card their name gives:")
    for file, card, p in example_checks():
        print(f"  {file:<44} {card:<9} {p.verdict:<13} {p.peak_vram_gib:5.1f} GiB ({p.binding_phase}), "
              f"step {p.step_seconds} s, RAM {p.ram_peak_gib:.1f} GiB")
    med, p95 = time_predict()
    print(f"predict() time: median {med:.2f} ms, p95 {p95:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
