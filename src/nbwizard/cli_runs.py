"""``nbwizard train | runs``: start a saved job in ai-toolkit and watch it; list the run history.

* ``train job.yaml [--aitk PATH]`` checks the checkout, starts ``python run.py job.yaml`` there, prints progress and
  the comparison with the prediction, and ends with the run's ending. Ctrl+C stops the run gracefully (SIGINT, then
  SIGTERM, then SIGKILL); ``--detach`` only starts it (the wizard's Train page finds it again). Exit code 0 when
  the run completed, 1 when it was stopped, ran out of memory or crashed, 2 when it could not start.
* ``runs [--json] [--csv FILE]``: the history, oldest first. ``--json``: a list of objects with the fields of
  :class:`nbwizard.engine.runs.RunRow` (keys are only ever added); ``--csv`` writes measured runs in the columns
  of the calibration CSV.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from .cli import EXIT_NO, CliError, _EXTRA_COMMANDS, _print_json


def _line(snap: Any) -> str:
    from .engine.advisor import format_duration

    if snap.step is None:
        return f"{snap.status}… {snap.elapsed_s:.0f} s"
    parts = [f"step {snap.step}/{snap.total}"]
    if snap.s_per_it:
        parts.append(f"{snap.s_per_it:.2f} s/it")
    if snap.eta_s is not None:
        parts.append(f"ETA {format_duration(snap.eta_s)}")
    if snap.loss is not None:
        parts.append(f"loss {snap.loss:.4g}")
    if snap.series and snap.series[-1].gpu_gib is not None:
        p = snap.predicted
        parts.append(f"GPU {snap.series[-1].gpu_gib:.1f} GiB" + (f" (predicted {p.peak_gib:.1f})"
                                                                  if p and p.peak_gib is not None else ""))
    return ", ".join(parts)


def cmd_train(args: argparse.Namespace) -> int:
    from .engine.predict import predict
    from .engine.profile import detect_system
    from .engine.runs import Monitor, RunError, check, device_of, remember, start_run
    from .engine.validate import validate
    from .engine.yamlio import JobError, load_job

    try:
        job = load_job(args.job)
    except JobError as exc:
        raise CliError(f"{args.job}: {exc}") from None
    profile = detect_system(paths=(".",))
    prediction = predict(job, profile)
    report = validate(job, profile, prediction=prediction)
    if not report.ok and not args.force:
        for i in report.errors:
            print(f"error      {i.location}: {i.message}", file=sys.stderr)
        raise CliError("the job has errors that would fail in the trainer; fix them (nbwizard validate) or pass "
                       "--force")
    found = check(args.aitk, device_of(job), python=args.python)
    for line in found.lines():
        print(line, file=sys.stderr)
    if not found.ok:
        raise CliError("cannot start the run: " + "; ".join(p.message for p in found.problems))
    if args.aitk:
        remember(found.path)
    try:
        run = start_run(args.job, found, job=job, prediction=prediction)
    except RunError as exc:
        raise CliError(str(exc)) from None
    print(f"started run {run.run_id} (pid {run.pid}); log: {run.log_path}", file=sys.stderr)
    if args.detach:
        return 0
    monitor = Monitor(run, job=job, profile=profile)
    done = threading.Event()
    last: list[Any] = []

    def show(snap: Any) -> None:
        last[:] = [snap]
        text = _line(snap)
        if sys.stderr.isatty():
            sys.stderr.write("\r" + text[:150].ljust(150))
        elif snap.step != getattr(show, "step", None):
            print(text, file=sys.stderr)
        show.step = snap.step  # type: ignore[attr-defined]
        sys.stderr.flush()
        if snap.ending is not None:
            done.set()

    def interrupted(_sig: int, _frame: Any) -> None:
        print("\nnbwizard: stopping the run (SIGINT to ai-toolkit; SIGTERM and SIGKILL follow if it does not end)",
              file=sys.stderr)
        monitor.request_stop(args.sigint_grace, args.sigterm_grace)

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        monitor.watch(show, interval=args.interval)
        while not done.wait(0.5):
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
    snap = last[0]
    print("", file=sys.stderr)
    for note in snap.notes:
        print(note, file=sys.stderr)
    if snap.stop_text:
        print(snap.stop_text, file=sys.stderr)
    ending = snap.ending
    print(ending.headline)
    if ending.detail:
        print(ending.detail)
    if ending.fix:
        print(f"fix: {ending.fix}")
    if ending.kind == "crashed":
        print("\n".join(ending.lines))
    return 0 if ending.kind == "completed" else EXIT_NO


def cmd_runs(args: argparse.Namespace) -> int:
    from .engine.advisor import format_duration
    from .engine.runs import History, export_csv

    rows = History().rows()
    if args.csv:
        n = export_csv(rows, args.csv)
        print(f"wrote {n} measured run(s) to {args.csv}", file=sys.stderr)
    if args.json:
        _print_json([r.to_dict() for r in rows])
        return 0
    if not rows:
        print("no runs yet: start one with `nbwizard train job.yaml` or the wizard's Train page")
        return 0
    gib = lambda v: "?" if v is None else f"{v:.1f}"  # noqa: E731
    sec = lambda v: "?" if v is None else f"{v:.2f}"  # noqa: E731
    print(f"{'run':<24}{'job':<22}{'arch':<10}{'GPU':<26}{'VRAM pred/meas':>16}{'s/step pred/meas':>18}"
          f"{'wall':>10}  outcome")
    for r in rows:
        wall = format_duration(r.wall_s) if r.wall_s is not None else "?"
        print(f"{r.run_id:<24}{(r.job_name or '')[:21]:<22}{(r.arch or '?'):<10}{(r.gpu or '?')[:25]:<26}"
              f"{gib(r.pred_peak_gib) + ' / ' + gib(r.peak_gib):>16}{sec(r.pred_step_s) + ' / ' + sec(r.steady_s_per_it):>18}"
              f"{wall:>10}  {r.outcome}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("train", help="start a saved job in ai-toolkit and watch it against the prediction",
                       description=__doc__.split("* ``runs")[0].split("* ")[1].strip())
    p.add_argument("job", help="the saved job file (YAML)")
    p.add_argument("--aitk", help="the ai-toolkit checkout (remembered for next time)")
    p.add_argument("--python", help="the interpreter with ai-toolkit's requirements (default: the checkout's venv "
                                    "or .venv, else this Python, else python3)")
    p.add_argument("--detach", action="store_true", help="start the run and return (watch it from the wizard)")
    p.add_argument("--force", action="store_true", help="start even when the validator reports errors")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between readings (default 1)")
    p.add_argument("--sigint-grace", type=float, default=None, help="seconds SIGINT has before SIGTERM (60)")
    p.add_argument("--sigterm-grace", type=float, default=None, help="seconds SIGTERM has before SIGKILL (15)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("runs", help="the history of runs on this machine, predicted against measured",
                       description="JSON: a list of RunRow objects (nbwizard.engine.runs.history).")
    p.add_argument("--json", action="store_true")
    p.add_argument("--csv", help="also write the measured runs to this file in the calibration CSV's columns")
    p.set_defaults(func=cmd_runs)


_EXTRA_COMMANDS.append(register)
