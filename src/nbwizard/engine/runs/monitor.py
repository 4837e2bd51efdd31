"""Watch a run: read its console as it grows, sample GPU memory and RAM each second, list its preview images,
compare with the prediction in words, tell how it ended, and record it in the history once.

:class:`Monitor` owns no widget: ``tick()`` returns a frozen :class:`Snapshot`, and ``watch(on_update)`` calls it
once a second from a background thread until the run has ended (the callback may update widgets).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .endings import Ending, classify, memory_fix_labels
from .history import History, RunRow
from .progress import ConsoleReader
from .runner import Run, StopResult
from .telemetry import Sample, Telemetry

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp")
_SAMPLE_NAME = re.compile(r"__(\d{9})_(\d+)\.\w+$")  # ai-toolkit: [time]__<step:09d>_[count].<ext>
MAX_SERIES = 7200  # two hours at one sample a second, then every other one is dropped
SPEED_TOLERANCE = 0.3  # s/it within ±30 % of the prediction reads as "as predicted" (the predictor's own bar)


@dataclass(frozen=True)
class Predicted:
    """The prediction a run was started with (kept in its record, so a re-attached page shows it too)."""

    peak_gib: float | None = None
    low_gib: float | None = None
    high_gib: float | None = None
    train_gib: float | None = None
    sample_gib: float | None = None
    step_s: float | None = None
    total_s: float | None = None
    ram_gib: float | None = None
    budget_gib: float | None = None

    @classmethod
    def of(cls, p: Any) -> "Predicted":
        sample = getattr(p, "sample", None)
        return cls(p.peak_vram_gib, p.low_gib, p.high_gib, getattr(getattr(p, "train", None), "total_gib", None),
                   getattr(sample, "total_gib", None), p.step_seconds, p.total_seconds, p.ram_peak_gib, p.budget_gib)

    @classmethod
    def from_dict(cls, data: Any) -> "Predicted | None":
        if not isinstance(data, dict):
            return None
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Snapshot:
    """What the page shows at one moment."""

    run_id: str
    job_name: str | None
    status: str  # starting | running | stopping | ended
    step: int | None
    total: int | None
    s_per_it: float | None
    eta_s: float | None
    loss: float | None
    elapsed_s: float
    tail: tuple[str, ...]
    samples: tuple[Path, ...]
    series: tuple[Sample, ...]
    marks: tuple[tuple[float, str], ...]
    losses: tuple[tuple[int, float], ...]
    predicted: Predicted | None
    notes: tuple[str, ...]
    peak_gib: float | None
    sample_peak_gib: float | None
    ram_peak_gib: float | None
    steady_s_per_it: float | None
    ending: Ending | None = None
    stop_text: str | None = None
    gpu_note: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)


class Monitor:
    """Follows one :class:`~.runner.Run` (started now or found again)."""

    def __init__(self, run: Run, *, history: History | None = None, job: Any = None, profile: Any = None):
        self.run = run
        rec = run.record
        self.job_name = rec.get("job_name")
        self.reader = ConsoleReader(self.job_name)
        self.predicted = Predicted.from_dict(rec.get("prediction"))
        self.history = history
        self._job = job
        self._profile = profile
        self.telemetry = Telemetry(rec.get("gpu_index"), rec.get("baseline_gib"))
        self.series: list[Sample] = []
        self.marks: list[tuple[float, str]] = []
        self._seen_samples: set[str] = set()
        self._samples: list[Path] = []
        self._last_step: int | None = None
        self._last_step_t = 0.0
        self.sample_peak_gib: float | None = None
        self._stop_thread: threading.Thread | None = None
        self._stop_result: StopResult | None = None
        self._stop_sent: list[str] = []
        self._watch_stop = threading.Event()
        self._lock = threading.Lock()
        self.ending: Ending | None = None
        self._seen_existing_samples = False

    # -- paths ------------------------------------------------------------------------------------------------
    @property
    def save_root(self) -> Path | None:
        folder, name = self.run.record.get("training_folder"), self.job_name
        if not folder or not name:
            return None
        root = Path(folder)
        return (root if root.is_absolute() else Path(self.run.record["cwd"]) / root) / name

    # -- one reading ------------------------------------------------------------------------------------------
    def tick(self) -> Snapshot:
        """Read what is new, take one sample, and return the whole picture (thread-safe)."""
        with self._lock:
            return self._tick()

    def _tick(self) -> Snapshot:
        run = self.run
        self.reader.feed(run.read_new())
        alive = run.alive() if self.ending is None else False
        t = time.time() - float(run.record.get("started_at", time.time()))
        step = self.reader.step
        if step != self._last_step:
            self._last_step, self._last_step_t = step, t
        if alive:
            self.series.append(self.telemetry.sample(run.tree(), t, step))
            if len(self.series) > MAX_SERIES:
                self.series = self.series[::2]
        self._scan_samples(t)
        if not alive and self.ending is None:
            self.reader.finish()
            self.ending = self._finish()
        return self._snapshot(t, alive)

    def _scan_samples(self, t: float) -> None:
        root = self.save_root
        folder = root / "samples" if root is not None else None
        if folder is None or not folder.is_dir():
            return
        try:
            names = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())
        except OSError:
            return
        new = [p for p in names if p.name not in self._seen_samples]
        if not new:
            return
        self._seen_samples.update(p.name for p in new)
        self._samples = names
        if not self._seen_existing_samples and not self.series:
            self._seen_existing_samples = True  # previews of an earlier run of this job: not this run's
            return
        steps = {int(m[1]) for p in new if (m := _SAMPLE_NAME.search(p.name))}
        label = f"previews at step {max(steps)}" if steps else "previews"
        self.marks.append((round(t, 2), label))
        window = [s.gpu_gib for s in self.series if s.gpu_gib is not None and s.t >= self._last_step_t - 1.0]
        if window:
            self.sample_peak_gib = max(self.sample_peak_gib or 0.0, max(window))

    # -- the end ----------------------------------------------------------------------------------------------
    def _peak(self, attr: str = "gpu_gib") -> float | None:
        values = [getattr(s, attr) for s in self.series if getattr(s, attr) is not None]
        return max(values) if values else None

    def _finish(self) -> Ending:
        run, rec = self.run, self.run.record
        stopped_by = rec.get("stopped_by") or (rec.get("stops") or [{}])[-1].get("signal")
        peak = self._peak()
        budget = self.telemetry.total_gib() or (self.predicted.budget_gib if self.predicted else None)
        fixes: list[str] = []
        if self.reader.oom_text is not None:
            fixes = self._memory_fixes(peak, budget)
        ending = classify(self.reader, returncode=run.returncode(), stopped_by=stopped_by, peak_gib=peak,
                          predicted_gib=self.predicted.peak_gib if self.predicted else None, budget_gib=budget,
                          memory_fixes=fixes, ram_peak_gib=self._peak("ram_gib"))
        run.update(status="ended", ended_at=time.time(), ending=ending.to_dict())
        self._record(ending)
        self.telemetry.close()
        return ending

    def _memory_fixes(self, peak: float | None, budget: float | None) -> list[str]:
        job = self._job
        if job is None:
            from ..yamlio import JobError, load_job

            try:
                job = load_job(self.run.record["job_path"])
            except (JobError, OSError):
                return []
        need = max(v for v in (peak, budget, self.predicted.peak_gib if self.predicted else None, 0.0)
                   if v is not None)
        sampling = any("generate_images" in line or "self.sample(" in line for line in self.reader.traceback)
        return memory_fix_labels(job, self._profile, need * 1.05, budget or need, sampling=sampling)

    def _record(self, ending: Ending) -> None:
        rec, p = self.run.record, self.predicted or Predicted()
        f = rec.get("features") or {}
        started = float(rec.get("started_at") or time.time())
        row = RunRow(
            run_id=self.run.run_id, started_at=started, ended_at=time.time(), job_file=rec["job_path"],
            job_hash=rec.get("job_hash", ""), job_name=self.job_name, arch=f.get("arch"), gpu=rec.get("gpu_name"),
            driver=rec.get("driver"), resolution=f.get("resolution"), quantization=f.get("quantization"),
            batch_size=f.get("batch_size"), network=f.get("network"), rank=f.get("rank"),
            gradient_checkpointing=f.get("gradient_checkpointing"), optimizer=f.get("optimizer"),
            steps=self.reader.total or f.get("steps"), pred_peak_gib=p.peak_gib, pred_low_gib=p.low_gib,
            pred_high_gib=p.high_gib, pred_step_s=p.step_s, pred_total_s=p.total_s, pred_ram_gib=p.ram_gib,
            peak_gib=self._peak(), used_peak_gib=self._peak("used_gib"), steady_s_per_it=self.reader.steady_s_per_it(),
            wall_s=round(time.time() - started, 1), ram_peak_gib=self._peak("ram_gib"), steps_done=self.reader.step,
            outcome=ending.kind, outcome_text=ending.headline,
            vram_counter="nvml per-process used memory" if self.telemetry.note is None else
            "nvml used memory minus the pre-run baseline")
        (self.history if self.history is not None else History()).add(row)

    # -- words ------------------------------------------------------------------------------------------------
    def _notes(self, peak: float | None, steady: float | None, ram: float | None) -> list[str]:
        p, notes = self.predicted, []
        if p is None:
            return ["No prediction was kept with this run."]
        if peak is not None and p.low_gib is not None and p.high_gib is not None:
            if peak > p.high_gib:
                notes.append(f"GPU memory reached {peak:.1f} GiB, above the predicted band "
                             f"({p.low_gib:.1f}–{p.high_gib:.1f} GiB, peak {p.peak_gib:.1f}).")
            elif peak >= p.low_gib:
                notes.append(f"GPU memory {peak:.1f} GiB is within the predicted band "
                             f"({p.low_gib:.1f}–{p.high_gib:.1f} GiB).")
            elif (self.reader.step or 0) > 0:
                notes.append(f"GPU memory {peak:.1f} GiB so far is below the predicted band "
                             f"({p.low_gib:.1f}–{p.high_gib:.1f} GiB).")
        if steady is not None and p.step_s:
            ratio = steady / p.step_s
            word = "as predicted" if abs(ratio - 1) <= SPEED_TOLERANCE else ("slower than predicted" if ratio > 1
                                                                              else "faster than predicted")
            notes.append(f"{steady:.2f} s/it against {p.step_s:.2f} s/step predicted (×{ratio:.2g}): {word}.")
        if ram is not None and p.ram_gib is not None and ram > p.ram_gib * 1.2:
            notes.append(f"RAM reached {ram:.1f} GiB, above the predicted {p.ram_gib:.1f} GiB.")
        return notes

    def _snapshot(self, t: float, alive: bool) -> Snapshot:
        r = self.reader
        latest = r.latest
        peak, ram, steady = self._peak(), self._peak("ram_gib"), r.steady_s_per_it()
        status = "ended" if self.ending is not None else ("stopping" if self._stop_sent else
                                                          ("running" if latest is not None else "starting"))
        warnings = []
        if r.oom_skips and self.ending is None:
            warnings.append(f"ai-toolkit skipped a batch after running out of memory ({r.oom_skips}/3; a fourth "
                            f"in a row stops the run).")
        stop_text = self._stop_result.text if self._stop_result else (
            f"sent {self._stop_sent[-1]}, waiting for the run to end" if self._stop_sent else None)
        return Snapshot(
            run_id=self.run.run_id, job_name=self.job_name, status=status, step=r.step, total=r.total,
            s_per_it=latest.s_per_it if latest else None, eta_s=latest.remaining_s if latest else None,
            loss=self._loss(), elapsed_s=round(t, 1), tail=tuple(r.tail()), samples=tuple(self._samples[-8:]),
            series=tuple(self.series), marks=tuple(self.marks), losses=tuple(self._losses()),
            predicted=self.predicted, notes=tuple(self._notes(peak, steady, ram)), peak_gib=peak,
            sample_peak_gib=self.sample_peak_gib, ram_peak_gib=ram, steady_s_per_it=steady, ending=self.ending,
            stop_text=stop_text, gpu_note=self.telemetry.note, warnings=tuple(warnings))

    def _loss(self) -> float | None:
        losses = self._losses()
        return losses[-1][1] if losses else None

    def _losses(self) -> list[tuple[int, float]]:
        """From ``loss_log.db`` when the job logs to it (``logging.use_ui_logger``), else from the bar."""
        root = self.save_root
        if self.run.record.get("ui_logger") and root is not None and (root / "loss_log.db").exists():
            try:
                con = sqlite3.connect(f"file:{root / 'loss_log.db'}?mode=ro", uri=True, timeout=1.0)
                try:
                    rows = con.execute("SELECT step, value_real FROM metrics WHERE key = 'loss/loss' AND "
                                       "value_real IS NOT NULL ORDER BY step").fetchall()
                finally:
                    con.close()
                if rows:
                    return [(int(s), float(v)) for s, v in rows]
            except sqlite3.Error:
                pass  # being written or from another version: the bar's loss still shows
        return self.reader.losses()

    # -- in the background ------------------------------------------------------------------------------------
    def watch(self, on_update: Callable[[Snapshot], None], interval: float = 1.0) -> threading.Thread:
        """Call ``on_update`` with a snapshot every ``interval`` s until the run has ended (then once more)."""
        def loop() -> None:
            while not self._watch_stop.is_set():
                snap = self.tick()
                on_update(snap)
                if snap.ending is not None:
                    return
                self._watch_stop.wait(interval)

        thread = threading.Thread(target=loop, name=f"nbwizard-watch-{self.run.run_id}", daemon=True)
        thread.start()
        return thread

    def stop_watching(self) -> None:
        """Stop the background readings (the run itself goes on)."""
        self._watch_stop.set()

    def request_stop(self, sigint_grace: float | None = None, sigterm_grace: float | None = None) -> None:
        """Stop the run in the background: SIGINT, then SIGTERM, then SIGKILL (see :meth:`Run.stop`)."""
        if self._stop_thread is not None and self._stop_thread.is_alive():
            return
        kwargs = {k: v for k, v in (("sigint_grace", sigint_grace), ("sigterm_grace", sigterm_grace)) if v is not None}

        def stop() -> None:
            self._stop_result = self.run.stop(on_signal=self._stop_sent.append, **kwargs)

        self._stop_thread = threading.Thread(target=stop, name=f"nbwizard-stop-{self.run.run_id}", daemon=True)
        self._stop_thread.start()

    def wait_stopped(self, timeout: float) -> StopResult | None:
        if self._stop_thread is not None:
            self._stop_thread.join(timeout)
        return self._stop_result
