"""Run ai-toolkit for real on a tiny SD 1.5-shaped model with random weights, and watch it with nbwizard.

No download: the model (UNet 0.8 M, VAE 0.08 M, CLIP text encoder 0.04 M parameters, a byte-level tokenizer) is
built with diffusers / transformers from the checkout's own environment and saved in diffusers format; the
dataset is four 64x64 noise images with captions. The job (20 steps, LoRA rank 4, previews at 0/10/20, the UI
logger on) then runs through ``nbwizard train``, which checks the checkout, starts ``python run.py``, prints the
progress and the GPU memory against the prediction, and records the run in the history.

    python tools/aitk_tiny_run.py --aitk ~/ai-toolkit [--device cuda|cpu] [--out /tmp/aitk-tiny]
        [--record tests/fakes/fake_aitk/recorded/tiny_sd15_cpu_completed.log]

``--record`` copies the run's console log to the given file (the replay tests' recorded logs came from here).
On a GPU machine use ``--device cuda`` (the default). On a CPU (``--device cpu``) it ran in 2 min 40 s on 2 cores
with ai-toolkit 27a03a91; what that needed on a CPU-only box is in the README ("Train and watch").
The nbwizard history of these runs goes to ``<out>/home`` (NBWIZARD_HOME), not the user's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BUILD = r'''
import json, sys
from pathlib import Path
import numpy as np
import torch
from PIL import Image
from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

out = Path(sys.argv[1])
torch.manual_seed(0)
unet = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                            block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                            attention_head_dim=8, norm_num_groups=8)
vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16, 16, 16),
                    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                    layers_per_block=1, norm_num_groups=8, sample_size=64)
# a byte-level BPE vocabulary with no merges: every byte symbol alone and word-final, and CLIP's two specials
keep = [*range(33, 127), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
symbols, extra = [], 0
for b in range(256):
    if b in keep:
        symbols.append(chr(b))
    else:
        symbols.append(chr(256 + extra))
        extra += 1
vocab = {s: i for i, s in enumerate(symbols)}
vocab.update({s + "</w>": len(symbols) + i for i, s in enumerate(symbols)})
vocab["<|startoftext|>"] = len(vocab)
vocab["<|endoftext|>"] = len(vocab)
tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
te = CLIPTextModel(CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_attention_heads=4,
                                  num_hidden_layers=2, max_position_embeddings=77,
                                  bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
                                  pad_token_id=vocab["<|endoftext|>"]))
scheduler = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                          num_train_timesteps=1000, clip_sample=False, steps_offset=1)
StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                        safety_checker=None, feature_extractor=None,
                        requires_safety_checker=False).save_pretrained(out / "tiny-sd")
data = out / "data"
data.mkdir(exist_ok=True)
rng = np.random.default_rng(0)
for i in range(4):
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype("uint8")).save(data / f"img{i}.jpg")
    (data / f"img{i}.txt").write_text(f"a photo of sks thing number {i}")
print(json.dumps({"unet": sum(p.numel() for p in unet.parameters()), "vae": sum(p.numel() for p in vae.parameters()),
                  "text_encoder": sum(p.numel() for p in te.parameters())}))
'''


def job(out: Path, device: str, name: str) -> dict:
    """The tiny job: every value ai-toolkit needs to run it on a CPU as well (fp32, no 8-bit optimizer)."""
    return {
        "job": "extension",
        "config": {"name": name, "process": [{
            "type": "diffusion_trainer", "training_folder": str(out / "output"), "device": device,
            "trigger_word": "sks", "network": {"type": "lora", "linear": 4, "linear_alpha": 4},
            "save": {"save_every": 10, "dtype": "float32", "max_step_saves_to_keep": 2, "save_format": "safetensors"},
            "datasets": [{"folder_path": str(out / "data"), "caption_ext": "txt", "resolution": [64],
                          "cache_latents_to_disk": False, "num_workers": 0}],
            "train": {"noise_scheduler": "ddpm", "steps": 20, "lr": 1e-4, "optimizer": "adamw", "batch_size": 1,
                      "dtype": "fp32", "gradient_checkpointing": False, "lr_scheduler": "constant"},
            "logging": {"log_every": 1, "use_ui_logger": True},
            "model": {"name_or_path": str(out / "tiny-sd"), "arch": "sd1", "dtype": "fp32"},
            "sample": {"sampler": "ddpm", "sample_every": 10, "width": 64, "height": 64, "guidance_scale": 4,
                       "neg": "", "sample_steps": 4, "seed": 42,
                       "samples": [{"prompt": "sks, a tiny test"}, {"prompt": "a watercolor of sks"}]},
        }]},
        "meta": {"name": "[name]", "version": "1.0"},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aitk", required=True, help="the ai-toolkit checkout (its venv/.venv is used)")
    ap.add_argument("--python", help="the interpreter with ai-toolkit's requirements (default: the checkout's)")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    ap.add_argument("--out", default="/tmp/aitk-tiny", help="working folder (model, data, outputs, history)")
    ap.add_argument("--name", default="tiny_sd15", help="the job's name")
    ap.add_argument("--record", help="copy the console log here when the run ends")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "src"))
    from nbwizard.engine.runs import check, recorded_runs
    from nbwizard.engine.yamlio import load_job, save_job

    found = check(args.aitk, args.device, python=args.python)
    print("\n".join(found.lines()))
    if not found.ok:
        return 2
    if not (out / "tiny-sd" / "model_index.json").exists():
        built = subprocess.run([found.python, "-c", BUILD, str(out)], cwd=found.path, capture_output=True, text=True)
        if built.returncode != 0:
            print(built.stderr[-3000:], file=sys.stderr)
            return 2
        print("built the tiny model:", built.stdout.strip().splitlines()[-1])
    path = save_job(load_job(job(out, args.device, args.name)), out / f"{args.name}.yaml", overwrite=True)
    env = {**os.environ, "NBWIZARD_HOME": str(out / "home"), "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "nbwizard", "train", str(path), "--aitk", str(found.path), "--python", found.python,
           "--force"]
    code = subprocess.call(cmd, env=env)
    os.environ["NBWIZARD_HOME"] = str(out / "home")
    runs = recorded_runs()
    if args.record and runs:
        shutil.copy(runs[0].log_path, args.record)
        print(f"recorded {runs[0].log_path} -> {args.record}")
    subprocess.call([sys.executable, "-m", "nbwizard", "runs"], env=env)
    return code


if __name__ == "__main__":
    sys.exit(main())
