"""The default plan per arch on four reference cards: the table the README and ``docs/plans.ipynb`` show.

For each catalog arch and each card (RTX 3060 12 GB, RTX 4090, RTX 5090, A100 80 GB; 64 GB of RAM, 16 cores) the
plan ``recommend`` makes for the wizard's default intent (a person, 'quality'; no dataset analysed): training
resolution, transformer quantization, layer offloading, batch, steps, DOP / EMA / gradient checkpointing, the
predicted peak VRAM and step time, and what the plan changed from the arch's usual recipe (ai-toolkit's example,
else the UI's defaults). Only the predictor's and the policy's outputs: no timings, fixed order, so the notebook's
stored outputs change only when a plan does.

Run: ``python benchmarks/bench_plans.py`` (prints the tables and how long they took),
``python benchmarks/bench_plans.py --readme`` (rewrites the README's table between its markers),
``python benchmarks/bench_plans.py --notebook`` (re-records ``docs/plans.ipynb`` by executing it).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from nbwizard.engine.intent import Intent
from nbwizard.engine.models import models
from nbwizard.engine.profile import SystemProfile
from nbwizard.engine.recommend import recommend

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOTEBOOK = ROOT / "docs" / "plans.ipynb"
START, END = "<!-- plans-table:start -->", "<!-- plans-table:end -->"
# (heading, catalog card name)
GPUS = (("RTX 3060 12 GB", "RTX 3060 12GB"), ("RTX 4090 24 GB", "RTX 4090"), ("RTX 5090 32 GB", "RTX 5090"),
        ("A100 80 GB", "A100 SXM4 80GB"))
RAM_GB, CORES = 64, 16
COLUMNS = ("Model", "Fits", "Resolution", "Quantization", "Offload", "Batch", "Steps", "DOP/EMA/GC", "Peak GiB",
           "s/step", "Total", "Departures from the recipe")


@dataclass(frozen=True)
class Row:
    arch: str
    card: str
    cells: tuple[str, ...]


def _qtype(job) -> str:
    if not job.get("model.quantize"):
        return "bf16"
    q = str(job.get("model.qtype") or "qfloat8")
    return f"{q.split('|')[0]} + ARA" if "|" in q else q


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def plan_row(arch: str, heading: str, card: str, intent: Intent | None = None) -> Row:
    profile = SystemProfile.for_gpu(card, ram_gb=RAM_GB, cores=CORES)
    rec = recommend(profile, intent or Intent(), arch)
    job, p = rec.job, rec.prediction
    res = job.get("datasets[].resolution") or []
    flags = "/".join("on" if job.get(path) else "off" for path in (
        "train.diff_output_preservation", "train.ema_config.use_ema", "train.gradient_checkpointing"))
    offload = f"{job.get('model.layer_offloading_transformer_percent'):.0%}" if job.get("model.layer_offloading") \
        else "-"
    fits = "yes" if rec.fits else "no"
    departures = "; ".join(f"{d.group}: {d.changes}" for d in rec.departures) or "-"
    notes = [n.kind for n in rec.notes if n.severity == "warning"]
    if notes:
        departures += f" (warnings: {', '.join(notes)})"
    cells = (arch, fits, "/".join(str(r) for r in res), _qtype(job), offload, str(job.get("train.batch_size")),
             str(job.get("train.steps")), flags,
             f"{p.peak_vram_gib:.1f}" if p.peak_vram_gib is not None else "?",
             f"{p.step_seconds:.2f}" if p.step_seconds is not None else "?", _hours(p.total_seconds), departures)
    return Row(arch, heading, tuple(_cell(c) for c in cells))


def plan_rows(gpus=GPUS, archs: list[str] | None = None) -> list[Row]:
    archs = archs or [s.arch for s in models()]
    return [plan_row(arch, heading, card) for heading, card in gpus for arch in archs]


def plans_markdown(rows: list[Row], card: str | None = None) -> str:
    """The rows as one markdown table per card (or only ``card``'s)."""
    out = []
    for heading, _ in GPUS:
        mine = [r for r in rows if r.card == heading and (card is None or card == heading)]
        if not mine:
            continue
        out.append(f"#### {heading}\n")
        out.append("| " + " | ".join(COLUMNS) + " |")
        out.append("|" + "|".join("---" for _ in COLUMNS) + "|")
        out += ["| " + " | ".join(r.cells) + " |" for r in mine]
        out.append("")
    return "\n".join(out)


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    if START not in readme or END not in readme:
        raise SystemExit(f"{README} has no {START} ... {END} markers")
    new = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: f"{START}\n{text}\n{END}", readme, flags=re.S)
    README.write_text(new, encoding="utf-8")


def record_notebook() -> None:
    """Execute docs/plans.ipynb in place (its outputs are what CI compares), without timing metadata."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}},
                   record_timing=False).execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, NOTEBOOK)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--readme", action="store_true", help="rewrite the README's table")
    ap.add_argument("--notebook", action="store_true", help="re-record docs/plans.ipynb")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    rows = plan_rows()
    took = time.perf_counter() - t
    text = plans_markdown(rows)
    if args.readme:
        write_readme(text)
    if args.notebook:
        record_notebook()
    if not args.readme and not args.notebook:
        print(text)
    print(f"{len(rows)} plans in {took:.1f} s ({took / len(rows) * 1e3:.0f} ms each)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
