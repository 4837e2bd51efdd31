"""The Train page (start the saved job in ai-toolkit, watch it against the prediction, stop it) and the Runs page
(the history, predicted against measured). Thin views over :mod:`nbwizard.engine.runs`.

A run goes on when the page closes or the kernel restarts; opening the wizard again finds it by its record and
shows it. The readings come once a second from the engine's monitor thread.
"""

from __future__ import annotations

import base64
import html
import threading
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..engine.advisor import format_duration, format_gib
from ..engine.runs import (History, Monitor, RunError, Snapshot, active_runs, check, device_of, export_csv,
                           remember, start_run)
from ..engine.runs.correction import correction_for, job_features
from . import render

_LABELLED = {"description_width": "200px"}
LAUNCH_PAGES = ("train", "runs")  # the wizard's pages after Review
PLOT_W, PLOT_H = 640, 220
ENDING_STYLE = {"completed": ("✓", "nbw-ok"), "stopped": ("■", "nbw-warn"), "oom": ("✗", "nbw-bad"),
                "crashed": ("✗", "nbw-bad")}


def memory_plot(snap: Snapshot) -> str:
    """GPU memory over time as inline SVG: the run's curve, the GPU's total use, the predicted peak and band, and
    a mark where previews were rendered. Every line is also named in the legend (never colour alone)."""
    p = snap.predicted
    pts = [(s.t, s.gpu_gib) for s in snap.series if s.gpu_gib is not None]
    used = [(s.t, s.used_gib) for s in snap.series if s.used_gib is not None]
    if not pts and (p is None or p.peak_gib is None):
        return "<p class='nbw-muted'>No GPU memory readings (no NVIDIA GPU or NVML here).</p>"
    t_max = max([t for t, _ in pts + used] + [10.0])
    y_max = max([v for _, v in pts + used] + [x for x in (p.high_gib if p else None, p.peak_gib if p else None)
                                                if x is not None] + [1.0]) * 1.1
    left, bottom = 44, 22
    sx = lambda t: left + (PLOT_W - left - 8) * t / t_max  # noqa: E731
    sy = lambda v: (PLOT_H - bottom) - (PLOT_H - bottom - 8) * v / y_max  # noqa: E731
    parts = [f"<svg id='nbw-vram-plot' width='100%' viewBox='0 0 {PLOT_W} {PLOT_H}' role='img' "
             f"aria-label='GPU memory of the run against the prediction' style='max-width:{PLOT_W}px'>"]
    if p is not None and p.low_gib is not None and p.high_gib is not None:
        parts.append(f"<rect x='{left}' y='{sy(p.high_gib):.1f}' width='{PLOT_W - left - 8}' "
                     f"height='{sy(p.low_gib) - sy(p.high_gib):.1f}' fill='#4e79a7' opacity='0.12'/>")
    if p is not None and p.peak_gib is not None:
        parts.append(f"<line x1='{left}' x2='{PLOT_W - 8}' y1='{sy(p.peak_gib):.1f}' y2='{sy(p.peak_gib):.1f}' "
                     f"stroke='#4e79a7' stroke-dasharray='6 4'/>")
    for t, label in snap.marks:
        parts.append(f"<line x1='{sx(t):.1f}' x2='{sx(t):.1f}' y1='8' y2='{PLOT_H - bottom}' stroke='#b07aa1' "
                     f"stroke-dasharray='2 3'><title>{html.escape(label)}</title></line>")
    for series, colour, width in ((used, "#bab0ac", 1), (pts, "#e15759", 2)):
        if series:
            path = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in series)
            parts.append(f"<polyline fill='none' stroke='{colour}' stroke-width='{width}' points='{path}'/>")
    for v in _ticks(y_max):
        parts.append(f"<text x='4' y='{sy(v) + 4:.1f}' font-size='10'>{v:g} GiB</text>"
                     f"<line x1='{left}' x2='{PLOT_W - 8}' y1='{sy(v):.1f}' y2='{sy(v):.1f}' stroke='#eee'/>")
    parts.append(f"<text x='{left}' y='{PLOT_H - 6}' font-size='10'>0 s</text><text x='{PLOT_W - 60}' "
                 f"y='{PLOT_H - 6}' font-size='10'>{format_duration(t_max)}</text></svg>")
    legend = ["<span style='color:#e15759'>━ this run</span>", "<span style='color:#bab0ac'>━ GPU in use (all)</span>"]
    if p is not None and p.peak_gib is not None:
        legend.append(f"<span style='color:#4e79a7'>┅ predicted peak {p.peak_gib:.1f} GiB</span>")
    if p is not None and p.low_gib is not None:
        legend.append(f"<span style='color:#4e79a7'>▒ predicted band {p.low_gib:.1f}–{p.high_gib:.1f} GiB</span>")
    if snap.marks:
        legend.append("<span style='color:#b07aa1'>┆ previews rendered</span>")
    return "".join(parts) + "<div class='nbw-help'>" + " &nbsp; ".join(legend) + "</div>"


def _ticks(y_max: float) -> list[float]:
    step = next(s for s in (0.5, 1, 2, 4, 8, 16, 32, 64) if y_max / s <= 6)
    return [step * i for i in range(1, int(y_max / step) + 1)]


def samples_html(paths: tuple[Path, ...], limit: int = 4) -> str:
    imgs = []
    for path in list(paths)[-limit:]:
        try:
            data = base64.b64encode(path.read_bytes()).decode()
        except OSError:
            continue
        mime = "png" if path.suffix.lower() == ".png" else "jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "webp"
        imgs.append(f"<figure style='margin:0 8px 0 0'><img class='nbw-sample' src='data:image/{mime};base64,{data}' "
                    f"style='width:128px;height:128px;object-fit:contain;image-rendering:pixelated' "
                    f"alt='{html.escape(path.name)}'/><figcaption class='nbw-help'>{html.escape(path.name[-22:])}"
                    f"</figcaption></figure>")
    return ("<div style='display:flex;flex-wrap:wrap'>" + "".join(imgs) + "</div>") if imgs else \
        "<p class='nbw-muted'>No preview images yet.</p>"


def snapshot_html(snap: Snapshot) -> tuple[str, str, str]:
    """(status headline, figures, notes) of a snapshot as HTML."""
    if snap.ending is not None:
        mark, cls = ENDING_STYLE[snap.ending.kind]
        head = f"<p id='nbw-train-status' class='{cls}' role='status'>{mark} {html.escape(snap.ending.headline)}</p>"
        extra = [snap.ending.detail] + ([f"Fix: {snap.ending.fix}"] if snap.ending.fix else [])
        if snap.stop_text:
            extra.append(snap.stop_text)
        head += "".join(f"<p>{html.escape(e)}</p>" for e in extra if e)
    else:
        word = {"starting": "Starting", "running": "Running", "stopping": "Stopping"}[snap.status]
        at = f" — step {snap.step}/{snap.total}" if snap.step is not None else ""
        head = f"<p id='nbw-train-status' role='status'>▶ {word}{at}</p>"
        if snap.stop_text:
            head += f"<p class='nbw-warn'>{html.escape(snap.stop_text)}</p>"
    p = snap.predicted
    rows = [("Elapsed", format_duration(snap.elapsed_s)),
            ("Speed", (f"{snap.s_per_it:.2f} s/it" if snap.s_per_it else "—") +
             (f" (steady {snap.steady_s_per_it:.2f}; predicted {p.step_s:.2f} s/step)" if p and p.step_s and
              snap.steady_s_per_it else "")),
            ("ETA", format_duration(snap.eta_s) if snap.eta_s is not None else "—"),
            ("Loss", f"{snap.loss:.4g}" if snap.loss is not None else "—"),
            ("GPU memory (this run)", (format_gib(snap.series[-1].gpu_gib) if snap.series and
                                       snap.series[-1].gpu_gib is not None else "—") +
             (f", peak {format_gib(snap.peak_gib)}" if snap.peak_gib is not None else "") +
             (f"; predicted {format_gib(p.peak_gib)}" if p and p.peak_gib is not None else "")),
            ("RAM (this run)", (format_gib(snap.ram_peak_gib) + " peak" if snap.ram_peak_gib is not None else "—") +
             (f"; predicted {format_gib(p.ram_gib)}" if p and p.ram_gib is not None else ""))]
    if snap.sample_peak_gib is not None:
        rows.append(("While rendering previews", f"{format_gib(snap.sample_peak_gib)}" +
                     (f"; predicted {format_gib(p.sample_gib)}" if p and p.sample_gib is not None else "")))
    figures = render.table(["", ""], rows)
    notes = [*snap.warnings, *snap.notes] + ([snap.gpu_note] if snap.gpu_note else [])
    return head, figures, "".join(f"<p class='nbw-note'>{html.escape(n)}</p>" for n in notes)


class TrainPage:
    """Check the checkout, start the saved job, watch it, stop it."""

    def __init__(self) -> None:
        self.job_line = w.HTML()
        self.aitk = w.Text(description="ai-toolkit folder", style=_LABELLED, continuous_update=False,
                           placeholder="/workspace/ai-toolkit (found automatically when left empty)",
                           layout=w.Layout(width="min(560px,100%)"))
        self.check_button = w.Button(description="Check ai-toolkit", tooltip="Find the checkout, its Python, torch "
                                                                            "and the GPU the job names")
        self.check_result = w.HTML()
        self.train = w.Button(description="Start training", button_style="success", disabled=True,
                              tooltip="Run python run.py <saved job> in the checkout")
        self.stop = w.Button(description="Stop", button_style="danger", disabled=True,
                             tooltip="SIGINT (ai-toolkit stops cleanly), then SIGTERM, then SIGKILL")
        self.progress = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="min(560px,100%)"))
        self.status = w.HTML()
        self.figures = w.HTML()
        self.notes = w.HTML()
        self.plot = w.HTML()
        self.samples = w.HTML()
        self.log = w.HTML()
        self.message = w.HTML()
        self.check_button.on_click(lambda _: self._check())
        self.train.on_click(lambda _: self._start())
        self.stop.on_click(lambda _: self._stop())
        self.box = w.VBox([
            w.HTML("<h3>Train</h3><p class='nbw-help'>Start the saved job in your ai-toolkit checkout and watch it "
                   "against the prediction. The run goes on if this page closes; opening the wizard again shows it."
                   "</p>"),
            self.job_line, w.HBox([self.aitk, self.check_button]), self.check_result,
            w.HBox([self.train, self.stop]), self.message, self.status, self.progress, self.figures, self.notes,
            w.HTML("<h4>GPU memory against the prediction</h4>"), self.plot,
            w.HTML("<h4>Previews</h4>"), self.samples, w.HTML("<h4>Log</h4>"), self.log])
        self.monitor: Monitor | None = None
        self._job_path: Path | None = None
        self._job: Any = None
        self._prediction: Any = None
        self._profile: Any = None
        self._checked: Any = None
        self._lock = threading.Lock()
        self.attach()

    # -- what the wizard tells it -----------------------------------------------------------------------------
    def show(self, job_path: str | Path, saved_matches: bool, job: Any, prediction: Any, profile: Any) -> None:
        """The job on the Review page: its file, whether that file holds it, its prediction."""
        self._job_path, self._job, self._prediction, self._profile = Path(job_path), job, prediction, profile
        if not saved_matches:
            self.job_line.value = (f"<p class='nbw-warn' role='alert'>⚠ {html.escape(str(job_path))} does not hold "
                                   "the job as it is now: save it on the Review page first.</p>")
        else:
            self.job_line.value = f"<p>Job: <code>{html.escape(str(job_path))}</code> (saved)</p>"
        self._ready = saved_matches
        self._enable()

    def _enable(self) -> None:
        running = self.monitor is not None and self.monitor.ending is None and self.monitor.run.alive()
        self.train.disabled = running or not getattr(self, "_ready", False)
        self.stop.disabled = not running

    # -- actions ----------------------------------------------------------------------------------------------
    def _check(self) -> Any:
        found = check(self.aitk.value.strip() or None, device_of(self._job) if self._job is not None else None)
        cls = "nbw-ok" if found.ok else "nbw-bad"
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in found.lines())
        self.check_result.value = f"<ul class='{cls}' id='nbw-check'>{lines}</ul>"
        if found.ok:
            if self.aitk.value.strip():
                remember(found.path)
            self.aitk.value = str(found.path)
        self._checked = found
        return found

    def _start(self) -> None:
        if self._job_path is None:
            return
        found = self._check()
        if not found.ok:
            self.message.value = "<p class='nbw-bad' role='alert'>✗ Fix the problems above, then start again.</p>"
            return
        try:
            run = start_run(self._job_path, found, job=self._job, prediction=self._prediction)
        except RunError as exc:
            self.message.value = f"<p class='nbw-bad' role='alert'>✗ {html.escape(str(exc))}</p>"
            return
        self.message.value = (f"<p>Started run {html.escape(run.run_id)} (pid {run.pid}); its log is "
                              f"<code>{html.escape(str(run.log_path))}</code>.</p>")
        self._follow(Monitor(run, job=self._job, profile=self._profile))

    def _stop(self) -> None:
        if self.monitor is not None:
            self.monitor.request_stop()
            self.stop.disabled = True
            self.message.value = ("<p class='nbw-warn'>Stopping: SIGINT sent (ai-toolkit stops cleanly); SIGTERM "
                                  "follows after 60 s and SIGKILL 15 s later if it does not end.</p>")

    def attach(self) -> bool:
        """Show the newest run still going (started from any wizard or from ``nbwizard train``)."""
        runs = active_runs()
        if not runs:
            return False
        run = runs[0]
        self.message.value = (f"<p class='nbw-note'>Found run {html.escape(run.run_id)} still going (pid {run.pid},"
                              f" {html.escape(str(run.record.get('job_name') or run.record['job_path']))}): "
                              "showing it.</p>")
        self._follow(Monitor(run))
        return True

    def _follow(self, monitor: Monitor) -> None:
        if self.monitor is not None:
            self.monitor.stop_watching()
        self.monitor = monitor
        self.update(monitor.tick())
        monitor.watch(self.update)

    def update(self, snap: Snapshot) -> None:
        """Show ``snap`` (called from the monitor's thread)."""
        with self._lock:
            head, figures, notes = snapshot_html(snap)
            self.status.value, self.figures.value, self.notes.value = head, figures, notes
            self.progress.max = max(1, snap.total or 1)
            self.progress.value = min(snap.step or 0, self.progress.max)
            self.plot.value = memory_plot(snap)
            self.samples.value = samples_html(snap.samples)
            tail = "\n".join(snap.ending.lines if snap.ending is not None and snap.ending.lines else snap.tail[-20:])
            self.log.value = f"<pre class='nbw-yaml' id='nbw-train-log'>{html.escape(tail)}</pre>"
            self._enable()


class RunsPage:
    """The run history on this machine, predicted against measured, and its CSV export."""

    def __init__(self) -> None:
        self.table = w.HTML()
        self.correction = w.HTML()
        self.csv_path = w.Text(description="Export CSV to", style=_LABELLED, continuous_update=False,
                               value="nbwizard-runs.csv", layout=w.Layout(width="min(560px,100%)"))
        self.export = w.Button(description="Export CSV", tooltip="Measured runs in the calibration CSV's columns")
        self.message = w.HTML()
        self.export.on_click(lambda _: self._export())
        self.box = w.VBox([
            w.HTML("<h3>Runs</h3><p class='nbw-help'>Every run started from this machine, with what was predicted "
                   "before it started and what was measured. Matching runs correct the advisor's prediction.</p>"),
            self.correction, self.table, w.HBox([self.csv_path, self.export]), self.message])

    def show(self, job: Any = None, prediction: Any = None, gpu: str | None = None) -> None:
        rows = History().rows()
        gib = lambda v: "—" if v is None else f"{v:.1f} GiB"  # noqa: E731
        sec = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
        self.table.value = render.table(
            ["Run", "Job", "Model", "GPU", "VRAM predicted", "VRAM measured", "s/step predicted", "s/it measured",
             "Wall time", "Outcome"],
            [(r.run_id, r.job_name or Path(r.job_file).name, r.arch or "?", r.gpu or "?", gib(r.pred_peak_gib),
              gib(r.peak_gib), sec(r.pred_step_s), sec(r.steady_s_per_it),
              format_duration(r.wall_s) if r.wall_s is not None else "—", r.outcome_text or r.outcome)
             for r in reversed(rows)]) if rows else "<p>No runs yet: start one on the Train page.</p>"
        corr = None
        if job is not None and prediction is not None and gpu:
            f = job_features(job)
            corr = correction_for(prediction, rows, arch=f["arch"], gpu=gpu, resolution=f["resolution"],
                                  quantization=f["quantization"])
        self.correction.value = (f"<p class='nbw-note' id='nbw-correction'>For this job: {html.escape(corr.text)}."
                                 "</p>" if corr is not None else "")

    def _export(self) -> None:
        try:
            n = export_csv(History().rows(), self.csv_path.value)
        except OSError as exc:
            self.message.value = f"<p class='nbw-bad' role='alert'>✗ {html.escape(str(exc))}</p>"
            return
        self.message.value = f"<p class='nbw-ok'>✓ Wrote {n} measured run(s) to {html.escape(self.csv_path.value)}</p>"


def saved_matches(path: str | Path, job: Any) -> bool:
    """Whether the file at ``path`` holds ``job`` as it is now (the run starts from the file, not the page)."""
    from ..engine.yamlio import JobError, load_job

    try:
        return Path(path).is_file() and load_job(path) == job
    except (JobError, OSError):
        return False


def show_launch_page(wizard: Any, page: str, state: Any, derived: Any) -> None:
    """Bring the Train or Runs page up to the wizard's state (the hook the wizard's renderer calls)."""
    from ..engine.runs.correction import corrected, gpu_name

    gpu = gpu_name(state.profile)
    if page == "train":
        path = wizard.review.save_path.value
        wizard.train_page.show(path, saved_matches(path, state.job), state.job,
                               corrected(derived.prediction, state.job, gpu), state.profile)
    else:
        wizard.runs_page.show(state.job, derived.prediction, gpu)
