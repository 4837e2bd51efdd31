"""The run history: one row per finished run in SQLite in the user's data folder, predicted next to measured.

The schema is versioned with ``PRAGMA user_version``; a newer version than this code knows is read, never
rewritten. ``export_csv`` writes the rows in the columns of the team's calibration file
(``reference/vram-calibration.csv``), so measured runs can join it.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterable

from ._paths import data_dir

SCHEMA_VERSION = 1
DB_NAME = "runs.sqlite"


@dataclass(frozen=True)
class RunRow:
    """A finished run: what was predicted before it started and what was measured while it ran."""

    run_id: str
    started_at: float
    ended_at: float | None
    job_file: str
    job_hash: str
    job_name: str | None
    arch: str | None
    gpu: str | None
    driver: str | None
    resolution: int | None
    quantization: str | None  # None when the base model is not quantized
    batch_size: int | None
    network: str | None
    rank: int | None
    gradient_checkpointing: bool | None
    optimizer: str | None
    steps: int | None
    pred_peak_gib: float | None
    pred_low_gib: float | None
    pred_high_gib: float | None
    pred_step_s: float | None
    pred_total_s: float | None
    pred_ram_gib: float | None
    peak_gib: float | None  # the run's own GPU memory at its highest (NVML, per process)
    used_peak_gib: float | None  # the whole GPU's used memory at its highest
    steady_s_per_it: float | None
    wall_s: float | None
    ram_peak_gib: float | None
    steps_done: int | None
    outcome: str
    outcome_text: str = ""
    vram_counter: str = "nvml per-process used memory"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = [f.name for f in fields(RunRow)]
_TYPES = {"run_id": "TEXT PRIMARY KEY", "outcome": "TEXT NOT NULL"}


def db_path() -> Path:
    return data_dir() / DB_NAME


class History:
    """The history database at ``path`` (default: the data folder's ``runs.sqlite``); created on first write."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else db_path()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10.0)
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            cols = ", ".join(f"{c} {_TYPES.get(c, '')}".strip() for c in _COLUMNS)
            with con:
                con.execute(f"CREATE TABLE IF NOT EXISTS runs ({cols})")
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return con

    def add(self, row: RunRow) -> bool:
        """Store ``row``; False when a row with its run id exists already (a run is recorded once)."""
        con = self._connect()
        try:
            with con:
                cur = con.execute(f"INSERT OR IGNORE INTO runs ({', '.join(_COLUMNS)}) VALUES "
                                  f"({', '.join('?' * len(_COLUMNS))})", [getattr(row, c) for c in _COLUMNS])
            return cur.rowcount == 1
        finally:
            con.close()

    def rows(self) -> list[RunRow]:
        """Every run, oldest first (empty when there is no database yet)."""
        if not self.path.exists():
            return []
        con = self._connect()
        try:
            have = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
            known = [c for c in _COLUMNS if c in have]
            found = con.execute(f"SELECT {', '.join(known)} FROM runs ORDER BY started_at").fetchall()
        finally:
            con.close()
        return [RunRow(**{c: None for c in _COLUMNS if c not in known and c not in ("outcome",)},
                       **dict(zip(known, r))) for r in found]

    def stamp(self) -> tuple[float, int] | None:
        """A cheap fingerprint of the database (modification time, size) for caches."""
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime, st.st_size


# ---- CSV in the calibration file's columns ---------------------------------------------------------------------
CALIBRATION_COLUMNS = ("id", "model", "model_variant", "trainer", "network", "rank", "resolution", "frames",
                       "batch_size", "grad_accum", "base_weights", "quantization", "gradient_checkpointing",
                       "optimizer", "text_encoder_handling", "other_memory_options", "measure_type", "vram_gb",
                       "vram_unit", "vram_counter", "s_per_it", "gpu", "source", "confidence", "notes")


def calibration_rows(rows: Iterable[RunRow]) -> list[dict[str, Any]]:
    """Runs with a measured peak as rows of the calibration CSV (an out-of-memory run is a lower bound)."""
    out = []
    for r in rows:
        if r.peak_gib is None or r.outcome not in ("completed", "stopped", "oom"):
            continue
        res = f"{r.resolution}x{r.resolution}" if r.resolution else ""
        gc = "" if r.gradient_checkpointing is None else ("on" if r.gradient_checkpointing else "off")
        out.append({
            "id": f"nbwizard-{r.run_id}", "model": r.arch or "", "model_variant": "", "trainer": "ai-toolkit",
            "network": r.network or "", "rank": r.rank if r.rank is not None else "", "resolution": res,
            "frames": "", "batch_size": r.batch_size if r.batch_size is not None else "", "grad_accum": "",
            "base_weights": "", "quantization": r.quantization or "none", "gradient_checkpointing": gc,
            "optimizer": r.optimizer or "", "text_encoder_handling": "", "other_memory_options": "",
            "measure_type": "oom_lower_bound" if r.outcome == "oom" else "peak_measured",
            "vram_gb": round(r.peak_gib, 2), "vram_unit": "GiB", "vram_counter": r.vram_counter,
            "s_per_it": round(r.steady_s_per_it, 3) if r.steady_s_per_it else "", "gpu": r.gpu or "",
            "source": f"nbwizard run history, job {Path(r.job_file).name} (sha256 {r.job_hash})",
            "confidence": "A" if r.outcome == "completed" else "B",
            "notes": (f"{r.outcome}; {r.steps_done or 0}/{r.steps or '?'} steps; driver {r.driver or '?'}; "
                      f"predicted {r.pred_peak_gib if r.pred_peak_gib is not None else '?'} GiB, "
                      f"{r.pred_step_s if r.pred_step_s is not None else '?'} s/step"),
        })
    return out


def export_csv(rows: Iterable[RunRow], path: str | os.PathLike[str]) -> int:
    """Write ``rows`` as calibration CSV to ``path``; returns the number of rows written."""
    data = calibration_rows(rows)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CALIBRATION_COLUMNS)
        writer.writeheader()
        writer.writerows(data)
    return len(data)
