"""Find the user's ai-toolkit checkout and check that it can run the job; say what is missing and how to fix it.

Where to look, in order: the path given now, ``$AITK_PATH``, the path remembered from last time (the user's
config folder), then the usual places: ``~/ai-toolkit``, ``/workspace/ai-toolkit`` (RunPod / Vast.ai images) and
an ``ai-toolkit`` folder beside the notebook. The interpreter is the checkout's own ``.venv`` or ``venv`` (the
order ai-toolkit's UI uses, ``ui/cron/pythonPath.ts``), else this Python, else ``python3`` on the PATH: the first
that imports torch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from ._paths import config_dir, read_json, write_json

USUAL_PLACES = ("~/ai-toolkit", "/workspace/ai-toolkit")
REMEMBERED = "aitk.json"
PROBE_TIMEOUT_S = 180.0  # importing torch on a cold disk of a cloud machine can take a minute
_PROBE = (
    "import json, sys\n"
    "out = {'python': sys.version.split()[0]}\n"
    "try:\n"
    "    import torch\n"
    "    out['torch'] = torch.__version__\n"
    "    out['cuda'] = bool(torch.cuda.is_available())\n"
    "    out['devices'] = torch.cuda.device_count() if out['cuda'] else 0\n"
    "    mps = getattr(torch.backends, 'mps', None)\n"
    "    out['mps'] = bool(mps and mps.is_available())\n"
    "except Exception as exc:\n"
    "    out['error'] = f'{type(exc).__name__}: {exc}'\n"
    "print(json.dumps(out))\n"
)


@dataclass(frozen=True)
class Problem:
    """Something that stops the run, and what to do about it."""

    message: str
    fix: str


@dataclass(frozen=True)
class CheckoutCheck:
    """The checkout found (or not), where it was found, its interpreter and torch, and any problems."""

    path: Path | None
    found_by: str  # given | AITK_PATH | remembered | usual place | none
    python: str | None = None
    torch: str | None = None
    cuda_devices: int | None = None
    notes: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.path is not None and self.python is not None and not self.problems

    def lines(self) -> list[str]:
        """The check as plain lines (for the CLI and the page)."""
        out = [f"ai-toolkit: {self.path} ({self.found_by})" if self.path else "ai-toolkit: not found"]
        if self.python:
            out.append(f"python: {self.python}" + (f" (torch {self.torch}" + (
                f", {self.cuda_devices} CUDA GPU(s))" if self.cuda_devices is not None else ")") if self.torch else ""))
        out += self.notes
        out += [f"problem: {p.message} — fix: {p.fix}" for p in self.problems]
        return out


def is_checkout(path: Path) -> bool:
    return (path / "run.py").is_file() and (path / "toolkit").is_dir()


def remembered() -> Path | None:
    data = read_json(config_dir() / REMEMBERED)
    path = data.get("path") if data else None
    return Path(path) if isinstance(path, str) and path else None


def remember(path: str | os.PathLike[str]) -> None:
    """Keep ``path`` for next time (in the user's config folder)."""
    write_json(config_dir() / REMEMBERED, {"path": str(Path(path).expanduser().resolve())})


def candidates(given: str | os.PathLike[str] | None = None, *, near: str | os.PathLike[str] | None = None,
               env: Mapping[str, str] | None = None) -> list[tuple[Path, str]]:
    """Where to look, in order, each with how it was chosen."""
    env = os.environ if env is None else env
    out: list[tuple[Path, str]] = []
    if given:
        out.append((Path(given).expanduser(), "given"))
    if env.get("AITK_PATH"):
        out.append((Path(env["AITK_PATH"]).expanduser(), "AITK_PATH"))
    if (mem := remembered()) is not None:
        out.append((mem, "remembered"))
    here = Path(near) if near is not None else Path.cwd()
    for place in (*USUAL_PLACES, here / "ai-toolkit", here.parent / "ai-toolkit"):
        out.append((Path(place).expanduser(), "usual place"))
    return out


def locate(given: str | os.PathLike[str] | None = None, *, near: str | os.PathLike[str] | None = None,
           env: Mapping[str, str] | None = None) -> tuple[Path | None, str, list[Path]]:
    """(the checkout, how it was found, the places tried); a given path that is not a checkout is not skipped."""
    tried = []
    for path, how in candidates(given, near=near, env=env):
        tried.append(path)
        if is_checkout(path):
            return path.resolve(), how, tried
        if how == "given":
            return None, how, tried
    return None, "none", tried


def pythons(checkout: Path) -> list[str]:
    found = [str(checkout / d / "bin" / "python") for d in (".venv", "venv") if (checkout / d / "bin" / "python").exists()]
    found.append(sys.executable)
    if (py3 := shutil.which("python3")) and py3 not in found:
        found.append(py3)
    return found


@lru_cache(maxsize=16)
def probe(python: str, cwd: str) -> dict:
    """What ``python`` says about its torch (cached per interpreter: it takes seconds)."""
    try:
        done = subprocess.run([python, "-c", _PROBE], cwd=cwd, capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    last = (done.stdout.strip().splitlines() or [""])[-1]
    try:
        return json.loads(last)
    except json.JSONDecodeError:
        return {"error": (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]}


def check(given: str | os.PathLike[str] | None = None, device: str | None = None, *,
          near: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
          python: str | None = None) -> CheckoutCheck:
    """Find the checkout and check it for a job on ``device`` (the job's ``process.device``)."""
    env = os.environ if env is None else env
    path, how, tried = locate(given, near=near, env=env)
    if path is None:
        where = ", ".join(str(p) for p in tried)
        if how == "given":
            return CheckoutCheck(None, how, problems=(Problem(
                f"{tried[0]} is not an ai-toolkit checkout (no run.py and toolkit/ folder there)",
                "give the folder you cloned github.com/ostris/ai-toolkit into"),))
        return CheckoutCheck(None, how, problems=(Problem(
            f"no ai-toolkit checkout found (looked in {where})",
            "clone it (git clone https://github.com/ostris/ai-toolkit) and install its requirements, then give "
            "its folder here (remembered) or set AITK_PATH"),))
    errors = []
    for py in [python] if python else pythons(path):
        info = probe(py, str(path))
        if "torch" in info:
            return _with_device(path, how, py, info, device, env)
        errors.append(f"{py}: {info.get('error', 'no torch')}")
    return CheckoutCheck(path, how, problems=(Problem(
        "no Python here can import torch (" + "; ".join(errors) + ")",
        f"install ai-toolkit's requirements into {path}/venv as its README says (python -m venv venv; "
        ". venv/bin/activate; pip install torch; pip install -r requirements.txt)"),))


def _with_device(path: Path, how: str, py: str, info: Mapping, device: str | None,
                 env: Mapping[str, str]) -> CheckoutCheck:
    dev = (device or "cuda").strip().lower()
    notes: list[str] = []
    problems: list[Problem] = []
    count = int(info.get("devices") or 0)
    if dev.startswith("cuda"):
        index = int(dev.split(":", 1)[1]) if ":" in dev and dev.split(":", 1)[1].isdigit() else 0
        if not info.get("cuda"):
            problems.append(Problem(
                f"the job runs on {dev}, but torch {info['torch']} in {py} cannot use CUDA",
                "install a CUDA build of torch in that environment (see ai-toolkit's README), or check that the "
                "NVIDIA driver works (nvidia-smi)"))
        elif index >= count:
            problems.append(Problem(f"the job names {dev}, but torch sees {count} GPU(s)",
                                    f"set the device to cuda:0{f'…cuda:{count - 1}' if count > 1 else ''}"))
    elif dev == "mps" and not info.get("mps"):
        problems.append(Problem(f"the job runs on mps, but torch {info['torch']} in {py} cannot use it",
                                "install torch for Apple Silicon (pip install torch) in that environment"))
    elif dev == "cpu":
        notes.append("the job runs on the CPU (all GPUs hidden from it): slow, for trying the setup")
    return CheckoutCheck(path, how, py, str(info["torch"]), count if info.get("cuda") else 0, tuple(notes),
                         tuple(problems))


def device_of(job: object, default: str = "cuda") -> str:
    get = getattr(job, "get", None)
    value = get("process.device") if get else None
    return str(value) if value else default


__all__: Sequence[str] = ("Problem", "CheckoutCheck", "check", "locate", "remember", "remembered", "device_of")
