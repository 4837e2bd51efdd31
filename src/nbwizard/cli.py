"""The ``nbwizard`` command: the engine's answers for scripts and CI, and ``serve`` for the Voilà page.

JSON output (``--json``) is stable: each command documents its shape in its help, keys are only ever added.
Exit codes, always: 0 "yes", 1 "no" (validation errors, no fit), 2 an error (usage, bad input, or a bug), with one
line on stderr that says what happened (with ``--json``, also ``{"error": "..."}`` on stdout).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

EXIT_NO = 1
EXIT_BAD_INPUT = 2


class CliError(Exception):
    """A problem with the user's input: printed on stderr, exit code 2."""


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def _gib(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1f} GiB"


# -- profile --------------------------------------------------------------------------------------------------

def cmd_profile(args: argparse.Namespace) -> int:
    from .engine.profile import SystemProfile, detect_system

    if args.gpu:
        profile = SystemProfile.for_gpu(args.gpu, ram_gb=args.ram)
    else:
        profile = detect_system(paths=user_paths(args.path or (".",)))
    if args.json:
        print(profile.to_json())
        return 0
    for line in profile_lines(profile):
        print(line)
    return 0


def profile_lines(profile: Any) -> list[str]:
    """The profile as plain lines: each value with where it came from."""

    def show(label: str, reading: Any, fmt: Callable[[Any], str] = str) -> str:
        if reading.value is None:
            return f"{label:<14}unknown ({reading.reason})"
        why = f"; {reading.reason}" if reading.reason else ""
        return f"{label:<14}{fmt(reading.value)}  [{reading.source}{why}]"

    lines = []
    if not profile.gpus:
        lines.append(f"{'GPU':<14}none ({profile.gpu_reason or 'no GPU found'})")
    for gpu in profile.gpus:
        lines.append(show(f"GPU {gpu.index}", gpu.name))
        lines.append(show("  memory", gpu.memory_total_gib, lambda v: f"{v:.1f} GiB"))
        lines.append(show("  bf16", gpu.bf16, lambda v: "yes" if v else "no"))
        lines.append(show("  unified", gpu.unified, lambda v: "yes" if v else "no"))
    lines.append(f"{'VRAM budget':<14}{_gib(profile.vram_budget_gib)}")
    lines.append(show("RAM total", profile.ram_total_gib, lambda v: f"{v:.1f} GiB"))
    lines.append(show("RAM available", profile.ram_available_gib, lambda v: f"{v:.1f} GiB"))
    lines.append(show("CPU cores", profile.cpu_cores))
    lines.append(show("CPU", profile.cpu_name))
    for st in profile.storage:
        where = f"{st.kind}, {_gib(st.free_gib)} free" + (f" ({st.reason})" if st.reason else "")
        lines.append(f"{'storage':<14}{st.path}: {where}")
    lines.append(show("cloud", profile.cloud))
    return lines


# -- catalogs -------------------------------------------------------------------------------------------------

def cmd_models(args: argparse.Namespace) -> int:
    from .engine.models import models

    specs = models()
    if args.json:
        _print_json([_model_row(m) for m in specs])
        return 0
    print(f"{'arch':<28}{'group':<13}{'denoiser':>10}  label")
    for m in specs:
        size = m.params_b("denoiser")
        print(f"{m.arch:<28}{m.group:<13}{(f'{size:g}B' if size else '?'):>10}  {m.label}")
    return 0


def _model_row(m: Any) -> dict[str, Any]:
    return {"arch": m.arch, "label": m.label, "group": m.group, "is_video": m.is_video,
            "denoiser_params_b": m.params_b("denoiser")}


def _jsonable(value: Any) -> Any:
    """Frozen catalog records (dataclasses, mapping proxies, tuples) as plain JSON data."""
    import dataclasses
    from collections.abc import Mapping

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def cmd_info(args: argparse.Namespace) -> int:
    from .engine.models import UnknownModelError, model_info

    try:
        m = model_info(args.arch)
    except UnknownModelError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        _print_json(_jsonable(m))
        return 0
    print(f"{m.label} ({m.arch}) — {m.group}{', video' if m.is_video else ''}")
    print(f"  weights: {m.name_or_path}")
    print(f"  native resolution: {m.native_resolution or 'unknown'}  {m.native_resolution_note}".rstrip())
    print(f"  quantization: {'yes' if m.quantization_supported else 'no'}"
          + (f"; accuracy-recovery adapters: {', '.join(a.label for a in m.ara)}" if m.ara else ""))
    print("  components:")
    for c in m.components:
        size = f"{c.params_b:g}B params" if c.params_b is not None else f"size unknown ({c.unknown_reason})"
        print(f"    {c.role:<13} {c.name}: {size}" + (f"  [{c.source}]" if c.source else ""))
    print("  facts:")
    for name, fact in m.facts().items():
        value = f"{fact.value:g}" if fact.value is not None else f"unknown ({fact.unknown_reason})"
        print(f"    {name:<20}{value}" + (f"  [{fact.source}]" if fact.source else ""))
    if m.max_batch is not None:
        print(f"  largest batch ai-toolkit trains: {m.max_batch.value:g} ({m.max_batch.note})  [{m.max_batch.source}]")
    return 0


# -- serve ----------------------------------------------------------------------------------------------------

def notebook_path() -> Path:
    """The wizard notebook: shipped in the package, or at the checkout root in a development install."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "wizard.ipynb", here.parents[1] / "wizard.ipynb"):
        if candidate.is_file():
            return candidate
    raise CliError("wizard.ipynb is missing from this installation")


_HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?")


def allowed_host(name: str) -> str:
    """An ``--allow-host`` value: a DNS name (lower-cased), or an IP address; no ports, schemes or wildcards."""
    value = name.strip().lower()
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        pass
    if not _HOST_NAME.fullmatch(value) or len(value) > 253:
        raise CliError(f"--allow-host {name!r} is not a host name (give the name only, e.g. wizard.example.org)")
    return value


def serve_command(ip: str, port: int, notebook: Path, allow_hosts: Sequence[str] = ()) -> list[str]:
    """The server's command line (no secret on it: the token travels in ``NBWIZARD_TOKEN``, see ``_voila_app``).

    Idle kernels are culled as a backstop (a page that closes shuts its kernel down itself), and one kernel runs
    the notebook ahead of the next page load, so the page appears in about half the time.
    """
    # -P (Python 3.11+): the working folder stays off the import path, so a stray voila.py (or yaml.py…) in the
    # folder the command was started from is not imported in place of the real module
    python = [sys.executable, "-P"] if sys.version_info >= (3, 11) else [sys.executable]
    argv = [*python, "-m", "nbwizard._voila_app", str(notebook), "--no-browser", f"--port={port}",
            f"--Voila.ip={ip}", "--template=nbwizard",
            "--MappingKernelManager.cull_idle_timeout=600", "--MappingKernelManager.cull_interval=60",
            "--MappingKernelManager.cull_connected=False", "--VoilaConfiguration.show_tracebacks=False",
            "--preheat_kernel=True", "--pool_size=1"]
    argv += [f"--WizardVoila.allowed_hosts={allowed_host(name)}" for name in allow_hosts]
    return argv


def cmd_serve(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        raise CliError(f"--port {args.port}: give a port from 1 to 65535 (the next free one is taken if it is busy)")
    argv = serve_command(args.ip, args.port, notebook_path(), args.allow_host or ())
    env = dict(os.environ)
    if args.token:
        env["NBWIZARD_TOKEN"] = args.token
    # saved jobs go to the folder the command was started in
    env.setdefault("NBWIZARD_OUTPUT_DIR", os.getcwd())
    sys.stdout.flush()
    sys.stderr.flush()
    # become the server (no wrapper process between a supervisor's signals and it; a --token given here leaves
    # the command line); it prints the URL to open once it listens
    os.execve(argv[0], argv, env)
    return 0  # not reached


# -- entry point ----------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nbwizard", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("profile", help="detect this machine's GPUs, RAM, CPU, storage and cloud",
                       description="JSON shape: see nbwizard.engine.profile (schema_version 1).")
    p.add_argument("--json", action="store_true", help="print the profile as JSON")
    p.add_argument("--gpu", help="describe a what-if machine with this card instead of detecting")
    p.add_argument("--ram", type=positive_number, default=None, help="RAM in GB of the what-if machine")
    p.add_argument("--path", action="append", help="a folder whose storage to report (repeatable)")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("models", help="list the model architectures",
                       description="JSON: a list of {arch, label, group, is_video, denoiser_params_b}.")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("info", help="one architecture's defaults and sizes, with sources",
                       description="JSON: every field of nbwizard.engine.models.ModelSpec.")
    p.add_argument("arch")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("serve", help="serve the wizard as a Voilà page (127.0.0.1:8866, with a token)",
                       description="Prints the URL to open: the port the server really got (the next free one when "
                                   "PORT is taken) and a generated token (or NBWIZARD_TOKEN's). Requests without "
                                   "the token, or for a host name other than localhost and the --allow-host ones, "
                                   "are refused.")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--token", help="use this token rather than a generated one (prefer NBWIZARD_TOKEN: a command "
                                   "line is visible to every user of the machine)")
    p.add_argument("--allow-host", action="append", metavar="NAME",
                   help="also accept requests for this host name, e.g. a reverse proxy's (repeatable)")
    p.set_defaults(func=cmd_serve)

    for extra in _EXTRA_COMMANDS:
        extra(sub)
    return parser


_EXTRA_COMMANDS: list[Callable[[Any], None]] = []


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command: 0 is "yes", 1 is "no" (validation errors, nothing fits), 2 is an error of any kind, with
    one line on stderr that says what happened (never a traceback)."""
    from . import cli_engine  # noqa: F401  (registers recommend / validate / predict / analyze)
    from . import cli_runs  # noqa: F401  (registers train / runs)

    parser = build_parser()
    args = parser.parse_args(argv)  # bad arguments: argparse prints the usage and exits 2
    try:
        return args.func(args)
    except CliError as exc:
        return _failed(args, str(exc))
    except BrokenPipeError:  # output piped into head & co.
        return 0
    except (LookupError, ValueError, OSError) as exc:
        return _failed(args, str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc))
    except KeyboardInterrupt:
        return _failed(args, "interrupted")
    except Exception as exc:  # a bug: say what happened in one line, and still answer "error", not "no"
        return _failed(args, f"internal error: {type(exc).__name__}: {_one_line(exc)} (please report it)")


def _failed(args: Any, message: str) -> int:
    """Exit 2 with one line on stderr; with ``--json`` also ``{"error": "..."}`` on stdout, so a script that reads
    the JSON reads the error too."""
    try:
        print(f"nbwizard: {message}", file=sys.stderr)
        if getattr(args, "json", False):
            _print_json({"error": message})
    except OSError:  # output piped into a reader that has gone: the exit code still says "error"
        pass
    return EXIT_BAD_INPUT


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def positive_number(text: str) -> float:
    """An argparse type: a finite number above 0 (``--ram -5``, ``0``, ``nan`` and ``inf`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number above 0")
    return value


def user_paths(paths: Sequence[str]) -> tuple[str, ...]:
    """Paths the user typed, ``~`` expanded (``~nouser`` is an error that names it)."""
    from .engine.paths import user_path

    return tuple(str(user_path(p)) for p in paths)


if __name__ == "__main__":
    sys.exit(main())
