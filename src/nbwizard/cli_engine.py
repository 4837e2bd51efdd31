"""``nbwizard recommend | validate | predict | analyze``: the engine's answers for scripts and CI.

JSON shapes (``--json``), stable (keys are only ever added):

* ``validate``: ``{"ok": bool, "issues": [{"code", "severity", "field", "location", "message", "fix", "process"}]}``
  (exit 0: no errors, 1: errors, 2: the file cannot be read or a check could not run)
* ``predict``: ``{"verdict", "verdict_reason", "peak_vram_gib", "low_gib", "high_gib", "budget_gib",
  "train": [{"name", "gib", "why"}], "sample_gib", "step_seconds", "total_seconds", "disk_gib", "free_disk_gib",
  "ram_peak_gib", "assumptions"}``
* ``analyze``: ``DatasetInfo.to_dict()`` (see :mod:`nbwizard.engine.dataset`)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .cli import EXIT_BAD_INPUT, EXIT_NO, CliError, _EXTRA_COMMANDS, _print_json, positive_number, user_paths


def _profile(args: argparse.Namespace, paths: tuple[str, ...] = (".",)) -> Any:
    from .engine.profile import SystemProfile, detect_system

    if getattr(args, "gpu", None):
        return SystemProfile.for_gpu(args.gpu, ram_gb=args.ram)
    return detect_system(paths=paths)


def _job(path: str) -> Any:
    """The job file ``path`` (always a file name, even one holding ':'), or a CliError naming it."""
    from .engine.yamlio import JobError, load_job

    try:
        return load_job(path, as_text=False)
    except JobError as exc:
        raise CliError(f"{path}: {exc}" if path.strip() else str(exc)) from None


def _progress_bar() -> Any:
    """A one-line text progress bar on stderr (for a terminal); silent when stderr is not one."""
    stream = sys.stderr

    def show(done: int, total: int) -> None:
        if not stream.isatty():
            return
        width = 30
        filled = int(width * done / max(total, 1))
        stream.write(f"\rscanning [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            stream.write("\n")
        stream.flush()
    return show


# -- recommend ------------------------------------------------------------------------------------------------

def cmd_recommend(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .engine.dataset import DatasetError, analyze_dataset
    from .engine.intent import Intent
    from .engine.recommend import recommend
    from .engine.yamlio import save_job

    if not args.gpu and not args.detect:
        raise CliError("say which GPU to plan for: --gpu NAME (a catalog card) or --detect (this machine's)")
    output, folder = user_paths((args.output, args.dataset or "."))
    profile = _profile(args, (str(Path(output).parent), folder))
    dataset = None
    if args.dataset:
        try:
            dataset = analyze_dataset(folder, _progress_bar())
        except DatasetError as exc:
            raise CliError(str(exc)) from None
    rec = recommend(profile, Intent(args.type, args.priority), args.arch, dataset=dataset, trainer=args.trainer)
    job = rec.job.set("datasets[].folder_path", str(Path(folder).resolve())) if args.dataset else rec.job
    try:
        path = save_job(job, output, overwrite=args.force)
    except FileExistsError:
        raise CliError(f"{args.output} exists; pass --force to replace it") from None
    print(f"wrote {path}: {rec.plan}" if rec.fits else f"wrote {path}, but it does not fit: {rec.why_not}",
          file=sys.stderr)
    for line in plan_report(rec):
        print(line, file=sys.stderr)
    return 0 if rec.fits else EXIT_NO


def plan_report(rec: Any) -> list[str]:
    """The prediction, what the plan changed from the usual recipe (with its cost) and the notes, as lines."""
    from .engine.advisor import format_duration, format_rate

    p = rec.prediction
    lines = []
    if p.step_seconds is not None:
        total = f", about {format_duration(p.total_seconds)} in total" if p.total_seconds is not None else ""
        peak = f"; peak {p.peak_vram_gib:.1f} GiB of {p.budget_gib:.1f}" if p.peak_vram_gib is not None and \
            p.budget_gib is not None else ""
        lines.append(f"predicted {format_rate(p.step_seconds)}{total}{peak}")
    if rec.departures:
        lines.append(f"changed from the usual recipe, {rec.recipe.source}:")
        lines += [f"  - {d.text}" for d in rec.departures]
    lines += [f"{'warning' if n.severity == 'warning' else 'note'}: {n.text}" for n in rec.notes]
    return lines


# -- validate -------------------------------------------------------------------------------------------------

def cmd_validate(args: argparse.Namespace) -> int:
    from .engine.predict import predict
    from .engine.validate import validate

    job = _job(args.job)
    profile = _profile(args) if (args.gpu or args.detect) else None
    prediction = predict(job, profile) if profile is not None else None
    report = validate(job, profile, trainer=args.trainer, prediction=prediction)
    if args.json:
        _print_json({"ok": report.ok, "issues": [
            {"code": i.code, "severity": i.severity, "field": i.field, "location": i.location,
             "message": i.message, "fix": i.fix.label if i.fix else None, "process": i.process}
            for i in report.issues]})
    else:
        for i in report.issues:
            fix = f"  (fix: {i.fix.label})" if i.fix else ""
            print(f"{i.severity:<10} {i.location}: {i.message}{fix}")
        print(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s), "
              f"{len(report.suggestions)} suggestion(s)")
    failed = report.by_code("rule-failed")
    if failed:  # a check crashed: the answer is unknown, not "yes" (nor "no")
        print(f"nbwizard: internal error: {len(failed)} check(s) could not run, so the report is incomplete: "
              f"{failed[0].message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0 if report.ok else EXIT_NO


# -- predict --------------------------------------------------------------------------------------------------

def prediction_dict(p: Any) -> dict[str, Any]:
    return {
        "verdict": p.verdict, "verdict_reason": p.verdict_reason, "peak_vram_gib": p.peak_vram_gib,
        "low_gib": p.low_gib, "high_gib": p.high_gib, "budget_gib": p.budget_gib,
        "train": [{"name": i.name, "gib": round(i.gib, 3), "why": i.why} for i in p.train.items],
        "sample_gib": p.sample.total_gib if p.sample else None, "step_seconds": p.step_seconds,
        "step_seconds_reason": p.step_seconds_reason, "total_seconds": p.total_seconds,
        "disk_gib": p.disk.total_gib, "free_disk_gib": p.disk.free_gib, "ram_peak_gib": p.ram_peak_gib,
        "assumptions": list(p.assumptions),
    }


def cmd_predict(args: argparse.Namespace) -> int:
    from .engine.predict import predict

    job = _job(args.job)
    p = predict(job, _profile(args))
    if args.json:
        _print_json(prediction_dict(p))
        return 0
    gib = lambda v: "unknown" if v is None else f"{v:.1f} GiB"  # noqa: E731
    print(f"peak VRAM   {gib(p.peak_vram_gib)} (range {gib(p.low_gib)} – {gib(p.high_gib)}) of {gib(p.budget_gib)}:"
          f" {p.verdict.replace('_', ' ')} — {p.verdict_reason}")
    for item in p.train.items:
        print(f"  {item.name:<26}{item.gib:6.2f} GiB  {item.why}")
    print(f"sampling    {gib(p.sample.total_gib) if p.sample else 'off'}")
    print(f"step time   {f'{p.step_seconds:.2f} s' if p.step_seconds else 'unknown'} ({p.step_seconds_reason})")
    print(f"total time  {f'{p.total_seconds / 3600:.1f} h' if p.total_seconds else 'unknown'}")
    print(f"disk        {gib(p.disk.total_gib)} written, {gib(p.disk.free_gib)} free")
    print(f"RAM peak    {gib(p.ram_peak_gib)}")
    for a in p.assumptions:
        print(f"assumed     {a}")
    return 0


# -- analyze --------------------------------------------------------------------------------------------------

def cmd_analyze(args: argparse.Namespace) -> int:
    from .engine.dataset import DatasetError, analyze_dataset

    (folder,) = user_paths((args.folder,))
    try:
        info = analyze_dataset(folder, _progress_bar(), caption_ext=args.caption_ext,
                               trigger_word=args.trigger)
    except DatasetError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(info.to_dict(), indent=2, default=str))
    else:
        print("\n".join(info.summary()))
    return 0


def _add_gpu(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gpu", help="plan for this catalog card (e.g. 'RTX 4090', 'A100 80GB')")
    p.add_argument("--ram", type=positive_number, default=None, help="RAM in GB of the machine with --gpu")
    p.add_argument("--detect", action="store_true", help="use this machine's detected hardware")


def register(sub: Any) -> None:
    from .engine.intent import PRIORITIES, TRAINING_TYPES

    p = sub.add_parser("recommend", help="write a recommended job for an arch and a GPU",
                       description="Exit code 1 when nothing fits (the job is still written, with the reason).")
    p.add_argument("--arch", required=True, help="model architecture, e.g. flux, wan21:1b (see: nbwizard models)")
    _add_gpu(p)
    p.add_argument("--dataset", help="a dataset folder to analyse (sizes, captions) and train on")
    p.add_argument("--type", choices=TRAINING_TYPES, default="person", help="what is trained")
    p.add_argument("--priority", choices=PRIORITIES, default="quality")
    p.add_argument("--trainer", choices=("upstream", "extended"), default="upstream")
    p.add_argument("-o", "--output", required=True, help="the YAML file to write")
    p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("validate", help="check a job against the trainer's rules (exit 1 on errors)")
    p.add_argument("job")
    _add_gpu(p)
    p.add_argument("--trainer", choices=("upstream", "extended"), default="upstream")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("predict", help="predict a job's VRAM, time, disk and RAM")
    p.add_argument("job")
    _add_gpu(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("analyze", help="scan a dataset folder: sizes, captions, buckets, problems")
    p.add_argument("folder")
    p.add_argument("--caption-ext", default="txt")
    p.add_argument("--trigger", help="the trigger word to look for in captions")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_analyze)


_EXTRA_COMMANDS.append(register)
