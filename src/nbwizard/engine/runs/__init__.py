"""Launch a saved job in ai-toolkit, watch it against its prediction, and learn from each run.

* :mod:`.checkout` finds and checks the ai-toolkit checkout (remembered in the user's config folder).
* :mod:`.runner` starts ``python run.py <job>`` in a session of its own, finds it again, and stops it.
* :mod:`.progress` reads the trainer's console; :mod:`.telemetry` samples NVML and psutil;
  :mod:`.monitor` puts them together each second and :mod:`.endings` says how the run ended.
* :mod:`.history` keeps every finished run (SQLite in the user's data folder), and :mod:`.correction` turns the
  matching runs into a correction shown beside the uncorrected prediction.
"""

from __future__ import annotations

from .checkout import CheckoutCheck, Problem, check, device_of, remember, remembered
from .correction import Correction, CorrectedPrediction, correction_for, corrected, job_features
from .endings import Ending, classify
from .history import History, RunRow, export_csv
from .launch import busy_reason, start_run
from .monitor import Monitor, Predicted, Snapshot
from .progress import ConsoleReader, parse_bar, read_console
from .runner import Run, RunError, StopResult, active_runs, recorded_runs

__all__ = [
    "CheckoutCheck", "Problem", "check", "device_of", "remember", "remembered", "Correction", "CorrectedPrediction",
    "correction_for", "corrected", "job_features", "Ending", "classify", "History", "RunRow", "export_csv",
    "busy_reason", "start_run", "Monitor", "Predicted", "Snapshot", "ConsoleReader", "parse_bar", "read_console",
    "Run", "RunError", "StopResult", "active_runs", "recorded_runs",
]
