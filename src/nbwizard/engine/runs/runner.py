"""Start ai-toolkit's ``run.py`` as a child process, find it again later, and stop it.

The run is started the way ai-toolkit's own UI starts it (``ui/cron/actions/startJob.ts``): an argument list,
never a shell string; the checkout as the working folder (``run.py`` puts it on ``sys.path`` and relative
``training_folder`` values resolve against it); ``PYTHONUNBUFFERED=1`` so lines arrive as they are printed;
``CUDA_DEVICE_ORDER=PCI_BUS_ID`` and ``CUDA_VISIBLE_DEVICES`` to pick the GPU (the trainer itself takes its device
from ``accelerate``, not from the job's ``device`` key); stdout and stderr into a log file in the run's folder.

It runs in a session of its own (``start_new_session``): a kernel interrupt, a closed page or a restarted kernel
does not reach it, and a re-opened wizard reads the same log. ``record.json`` beside the log keeps the pid and the
process's start time, so the run is found again and a pid the system has since given to another program is
never signalled.

Stopping sends SIGINT to the run's process group (ai-toolkit's ``run.py`` catches ``KeyboardInterrupt``, prints
"Job stopped" and exits 0; the last checkpoint written stays, and the next start of the job resumes from it), then
SIGTERM after a grace period, then SIGKILL.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import psutil

from ._paths import read_json, runs_dir, write_json

SIGINT_GRACE_S = 60.0  # a step, a save or a preview in progress finishes before the interrupt is seen
SIGTERM_GRACE_S = 15.0
_START_TIME_TOLERANCE_S = 0.02  # psutil reads the start time in clock ticks (10 ms): the same process, the same value


class RunError(RuntimeError):
    """A run cannot be started or reached; the message says why and what to do."""


@dataclass(frozen=True)
class StopResult:
    """How a stop ended: the last signal that was needed and how long it took."""

    signal: str  # SIGINT | SIGTERM | SIGKILL | none (it had already ended)
    seconds: float

    @property
    def text(self) -> str:
        return {
            "SIGINT": f"stopped by SIGINT after {self.seconds:.0f} s: ai-toolkit stopped cleanly",
            "SIGTERM": f"SIGINT was not enough; stopped by SIGTERM after {self.seconds:.0f} s",
            "SIGKILL": f"SIGINT and SIGTERM were not enough; killed with SIGKILL after {self.seconds:.0f} s",
            "none": "the run had already ended",
        }[self.signal]


def job_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 of the job file's bytes (first 16 hex digits): the same file gives the same hash."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def cuda_env(device: str | None, env: Mapping[str, str]) -> dict[str, str]:
    """``CUDA_*`` variables that make the trainer use the GPU the job names.

    ``cuda:N`` is the N-th GPU this process can see (through an existing ``CUDA_VISIBLE_DEVICES`` mask);
    ``cpu`` hides every GPU (otherwise ``accelerate`` would pick one anyway); ``cuda`` / unset is GPU 0.
    """
    dev = (device or "cuda").strip().lower()
    if dev == "cpu":
        return {"CUDA_VISIBLE_DEVICES": ""}
    if not dev.startswith("cuda"):
        return {}
    index = int(dev.split(":", 1)[1]) if ":" in dev and dev.split(":", 1)[1].isdigit() else 0
    mask = env.get("CUDA_VISIBLE_DEVICES")
    visible = [p.strip() for p in mask.split(",") if p.strip()] if mask else None
    chosen = visible[index] if visible is not None and index < len(visible) else str(index)
    return {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": chosen}


def nvml_index(device: str | None, env: Mapping[str, str]) -> int | None:
    """The NVML index (PCI bus order) of the GPU the run uses, or None for the CPU / a UUID mask."""
    chosen = cuda_env(device, env).get("CUDA_VISIBLE_DEVICES")
    return int(chosen) if chosen is not None and chosen.isdigit() else None


class Run:
    """One launched run: its record, its log, and the process (a child of ours or found again by its record)."""

    def __init__(self, folder: Path, record: dict[str, Any], process: subprocess.Popen | None = None):
        self.folder = folder
        self.record = record
        self._popen = process
        self._offset = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._lock = threading.Lock()

    # -- starting ---------------------------------------------------------------------------------------------
    @classmethod
    def start(cls, job_path: str | os.PathLike[str], checkout: str | os.PathLike[str], python: str, *,
              device: str | None = None, extra: Mapping[str, Any] | None = None,
              env: Mapping[str, str] | None = None, folder: str | os.PathLike[str] | None = None) -> "Run":
        """Start ``python run.py <job>`` in ``checkout``; ``extra`` is kept in the record (prediction, names).

        Raises :class:`RunError` when the job file, ``run.py`` or the interpreter is missing.
        """
        job = Path(job_path).resolve()
        root = Path(checkout).resolve()
        if not job.is_file():
            raise RunError(f"the job file {job} does not exist; save the job first")
        if not (root / "run.py").is_file():
            raise RunError(f"{root} has no run.py: point to an ai-toolkit checkout")
        if not (Path(python).is_file() or shutil.which(python)):
            raise RunError(f"the Python interpreter {python} does not exist")
        base = dict(os.environ if env is None else env)
        child_env = {**base, "PYTHONUNBUFFERED": "1", **cuda_env(device, base)}
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        where = Path(folder) if folder is not None else runs_dir()
        run_folder = where / run_id
        run_folder.mkdir(parents=True, exist_ok=False)
        log_path = run_folder / "console.log"
        argv = [python, "run.py", str(job)]
        with open(log_path, "ab") as log, _sigint_default() as prefix:
            try:
                proc = subprocess.Popen([*prefix, *argv], cwd=root, env=child_env, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
            except OSError as exc:
                raise RunError(f"could not start {python}: {exc}") from None
        try:
            created = psutil.Process(proc.pid).create_time()
        except psutil.Error:  # it ended at once (bad interpreter, missing module): the log says why
            created = time.time()
        record = {
            "nbwizard_run": 1, "run_id": run_id, "pid": proc.pid, "create_time": created, "argv": argv,
            "cwd": str(root), "job_path": str(job), "job_hash": job_hash(job), "log_path": str(log_path),
            "device": device, "gpu_index": nvml_index(device, base), "started_at": time.time(),
            "status": "running", "stops": [], **dict(extra or {}),
        }
        run = cls(run_folder, record, proc)
        run.save()
        return run

    # -- finding again ----------------------------------------------------------------------------------------
    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> "Run | None":
        """The run recorded in ``folder`` (None when its record is missing or unreadable)."""
        folder = Path(folder)
        record = read_json(folder / "record.json")
        if record is None or record.get("nbwizard_run") != 1 or not isinstance(record.get("pid"), int):
            return None
        return cls(folder, record)

    def save(self) -> None:
        with self._lock:
            write_json(self.folder / "record.json", self.record)

    def update(self, **fields: Any) -> None:
        """Change fields of the record and write it (atomically)."""
        self.record.update(fields)
        self.save()

    # -- the process ------------------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        return int(self.record["pid"])

    @property
    def run_id(self) -> str:
        return str(self.record["run_id"])

    @property
    def is_child(self) -> bool:
        """Whether this Python process started it (then its exit code is known)."""
        return self._popen is not None

    def _process(self) -> psutil.Process | None:
        """The recorded process, if it still runs and is the same one (pid and start time both match)."""
        try:
            proc = psutil.Process(self.pid)
            same = abs(proc.create_time() - float(self.record["create_time"])) < _START_TIME_TOLERANCE_S
            if not same or proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def alive(self) -> bool:
        if self._popen is not None and self._popen.poll() is not None:
            return False
        return self._process() is not None

    def returncode(self) -> int | None:
        """The exit code when this process is the run's parent and it has ended; None otherwise."""
        if self._popen is None:
            return None
        code = self._popen.poll()
        if code is None and self._process() is None:  # exited a moment ago: collect it
            try:
                code = self._popen.wait(2.0)
            except subprocess.TimeoutExpired:
                return None
        return code

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the end; True when it has ended."""
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05 if self._popen is None else 0.0)
            if self._popen is not None:
                try:
                    self._popen.wait(min(0.2, max(0.0, deadline - time.monotonic())))
                except subprocess.TimeoutExpired:
                    pass
        return True

    def tree(self) -> list[psutil.Process]:
        """The run's process and its children (dataloader workers, compile workers)."""
        proc = self._process()
        if proc is None:
            return []
        try:
            return [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return [proc]

    def send(self, sig: signal.Signals) -> bool:
        """Send ``sig`` to the run's process group (as Ctrl+C in a terminal does); False when it is gone.

        The pid is checked against the recorded start time first: a pid reused by another program is never hit.
        """
        proc = self._process()
        if proc is None:
            return False
        try:
            if os.getpgid(proc.pid) == proc.pid:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)
        except ProcessLookupError:
            return False
        self.record.setdefault("stops", []).append({"signal": sig.name, "at": time.time()})
        self.save()
        return True

    def stop(self, sigint_grace: float = SIGINT_GRACE_S, sigterm_grace: float = SIGTERM_GRACE_S,
             on_signal: Callable[[str], None] | None = None) -> StopResult:
        """SIGINT, then SIGTERM after ``sigint_grace`` s, then SIGKILL after ``sigterm_grace`` s more.

        Blocks until the run has ended (call it from a thread in a UI). ``on_signal`` hears each signal sent.
        """
        started = time.monotonic()
        last = "none"
        for sig, grace in ((signal.SIGINT, sigint_grace), (signal.SIGTERM, sigterm_grace), (signal.SIGKILL, 10.0)):
            if not self.send(sig):
                break
            last = sig.name
            if on_signal is not None:
                on_signal(sig.name)
            if self.wait(grace):
                break
        self.wait(5.0)
        result = StopResult(last, time.monotonic() - started)
        self.update(stopped_by=result.signal)
        return result

    # -- the log ----------------------------------------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        return Path(self.record["log_path"])

    def read_new(self, limit: int = 4 << 20) -> str:
        """Text the run printed since the last call (UTF-8 decoded across chunk borders)."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read(limit)
        except OSError:
            return ""
        self._offset += len(data)
        return self._decoder.decode(data)

    def log_text(self) -> str:
        try:
            return self.log_path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return ""


class _sigint_default:
    """Let the child inherit a default SIGINT.

    A Jupyter kernel ignores SIGINT between messages (``IPKernelApp.init_signal``) and an ignored signal stays
    ignored across ``exec``: Python would then never raise ``KeyboardInterrupt`` and ai-toolkit could not be
    stopped cleanly (seen on a real run started from a shell that ignored SIGINT). Only the main thread may change
    a handler; from another thread GNU ``env --default-signal=INT`` resets it in the child, where it exists.
    """

    def __enter__(self) -> list[str]:
        self._saved = None
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            return []
        if threading.current_thread() is threading.main_thread():
            self._saved = signal.signal(signal.SIGINT, signal.default_int_handler)
            return []
        env = shutil.which("env")  # GNU coreutils >= 8.31 resets a signal before it execs the program
        if env and subprocess.run([env, "--default-signal=INT", "true"], capture_output=True).returncode == 0:
            return [env, "--default-signal=INT"]
        return []

    def __exit__(self, *exc: Any) -> None:
        if self._saved is not None:
            signal.signal(signal.SIGINT, self._saved)


def recorded_runs(folder: str | os.PathLike[str] | None = None) -> list[Run]:
    """Every run with a record, newest first."""
    where = Path(folder) if folder is not None else runs_dir()
    if not where.is_dir():
        return []
    found = [Run.load(p) for p in sorted(where.iterdir(), reverse=True) if p.is_dir()]
    return [r for r in found if r is not None]


def active_runs(folder: str | os.PathLike[str] | None = None) -> list[Run]:
    """Runs whose process is still the recorded one and still running."""
    return [r for r in recorded_runs(folder) if r.record.get("status") == "running" and r.alive()]


