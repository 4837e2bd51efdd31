"""Detection under fault injection: each probe fed the broken answers real machines give.

NVML (errors of every kind, missing functions, None / "N/A" / bytes / absurd numbers, one GPU of two failing),
procfs / sysfs / cgroup / DMI files (missing, unreadable, a directory, non-UTF-8, 0xFF padding, empty, garbage,
negative, 2**64, huge), psutil, rocm-smi, sysctl and torch. Every scenario must hold the same promises:

* ``detect_system()`` returns, and so do ``nbwizard profile`` and ``nbwizard profile --json`` (exit 0);
* nothing is invented: a GPU memory size is NVML's own reading, the catalog's size labelled as such, or system
  RAM only for a card the catalog lists as sharing it; RAM and the budget follow from real readings;
* every unknown says why, and it is the probe that says so (the last-line guard in ``detect`` stays unused);
* one GPU that cannot be read never hides the other.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import pathlib
import subprocess
import sys
import types
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pynvml as real_pynvml
import pytest

import nbwizard.engine.profile as profile_module
from nbwizard.cli import main as cli_main
from nbwizard.cli import profile_lines
from nbwizard.engine.gpus import find_gpu
from nbwizard.engine.hardware import amd, apple
from nbwizard.engine.profile import SystemProfile, detect_system
from test_profiler import GB10, RTX_3090, RTX_4090, Memory, block_device, mountinfo, write

GIB = 1024**3
VM = namedtuple("VM", "total available")
HOST_VM = VM(256 * GIB, 250 * GIB)  # a big host: RAM handed to a discrete card by mistake would show at once
CGROUP_LIMIT = 16 * GIB
MEMINFO_TOTAL = 65536000 * 1024  # the MemTotal of the recorded /proc/meminfo below
THIS_MACHINE_RAM = psutil.virtual_memory().total
# Catalog cards whose memory is the one pool the CPU shares (DGX Spark, Apple). A GH200 is "unified" too, but its
# catalog memory is its own HBM, which PyTorch allocates from.
SHARED_POOL_SEGMENTS = {"unified", "apple"}
BACKSTOP = "failed unexpectedly"  # what detect's last-line guard writes; the probes must handle these faults


# ---- a pynvml whose every function can be broken ------------------------------------------------------------
@dataclass(frozen=True)
class Bad:
    """What a faulty NVML function does instead of answering: raise ``error`` or return ``value``.

    ``error`` is an NVML error code name ("NOT_SUPPORTED" → pynvml.NVMLError_NotSupported, as the real binding
    raises it) or an exception class; ``gpus`` limits the fault to those GPU indices (None: all of them).
    """

    error: str | type[BaseException] | None = None
    value: object = None
    gpus: tuple[int, ...] | None = None


MISSING = Bad(error="missing")  # the function does not exist in this (older) nvidia-ml-py


# The real binding's exception classes and codes: NVMLError(code) maps to the subclass NVML itself raises.
NVML_ERRORS = {name: getattr(real_pynvml, name) for name in dir(real_pynvml) if name.startswith("NVMLError")}


def fake_nvml(devices: list[dict], faults: dict[str, Bad]) -> types.ModuleType:
    mod = types.ModuleType("pynvml")
    for name, value in NVML_ERRORS.items():
        setattr(mod, name, value)

    def memory(h):
        dev = devices[h]
        return Memory(dev["total"], dev["free"], dev["total"] - dev["free"])

    healthy: dict[str, Callable] = {
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlSystemGetDriverVersion": lambda: "580.95.05",
        "nvmlDeviceGetCount": lambda: len(devices),
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetName": lambda h: devices[h]["name"],
        "nvmlDeviceGetUUID": lambda h: devices[h]["uuid"],
        "nvmlDeviceGetMemoryInfo": memory,
        "nvmlDeviceGetCudaComputeCapability": lambda h: devices[h]["cc"],
    }
    for fn_name, answer in healthy.items():
        bad = faults.get(fn_name)
        if bad is MISSING:
            continue
        setattr(mod, fn_name, answer if bad is None else _broken(answer, bad))
    return mod


def _broken(answer: Callable, bad: Bad) -> Callable:
    def call(*args):
        if bad.gpus is not None and args and args[0] not in bad.gpus:
            return answer(*args)
        if isinstance(bad.error, str):
            raise real_pynvml.NVMLError(getattr(real_pynvml, f"NVML_ERROR_{bad.error}"))
        if bad.error is not None:
            raise bad.error("injected fault")
        return bad.value

    return call


# ---- one machine to break -------------------------------------------------------------------------------------
@dataclass
class Lab:
    """A recorded machine (files under ``root``, a fake NVML, a fake psutil host) that scenarios break."""

    root: Path
    mp: pytest.MonkeyPatch
    scratch: Path  # a folder of this test's own, outside ``root``
    devices: list[dict] = field(default_factory=lambda: [RTX_4090, RTX_3090])
    nvml: dict[str, Bad] = field(default_factory=dict)
    fake_pynvml: bool = True  # False: whatever sys.modules / sys.path give (a scenario broke the import)
    host: VM | None = HOST_VM  # None: the real psutil.virtual_memory (or one a scenario replaced)
    env: dict[str, str] = field(default_factory=dict)
    use_torch: bool | None = False

    def install(self) -> None:
        if self.fake_pynvml:
            self.mp.setitem(sys.modules, "pynvml", fake_nvml(self.devices, self.nvml))
        if self.host is not None:
            self.mp.setattr(psutil, "virtual_memory", lambda: self.host)

    def detect(self) -> SystemProfile:
        self.install()
        return detect_system(["/data/out"], root=self.root, env=self.env, use_torch=self.use_torch)

    def path(self, rel: str) -> Path:
        return self.root / rel


def healthy_tree(root: Path) -> None:
    """A container on an NVMe disk: cgroup v2 limits of 16 GiB and 2 CPUs, an AWS host named by DMI."""
    block_device(root, "pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1", "259:0", rotational="0",
                 parts={"nvme0n1p2": "259:2"}, files={"device/model": "Samsung SSD 990 PRO 2TB"})
    mountinfo(root, "259:2 / / rw - ext4 /dev/nvme0n1p2 rw", "0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw")
    write(root, {
        "proc/self/cgroup": "0::/job\n",
        "sys/fs/cgroup/cgroup.controllers": "cpu memory io\n",
        "sys/fs/cgroup/job/memory.max": f"{CGROUP_LIMIT}\n",
        "sys/fs/cgroup/job/memory.current": f"{4 * GIB}\n",
        "sys/fs/cgroup/job/memory.stat": f"anon {3 * GIB}\ninactive_file {GIB}\n",
        "sys/fs/cgroup/job/cpu.max": "200000 100000\n",
        "proc/cpuinfo": "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7R13 Processor\n",
        "sys/class/dmi/id/sys_vendor": "Amazon EC2\n",
        "sys/class/dmi/id/product_name": "g5.xlarge\n",
        "sys/class/dmi/id/bios_vendor": "Amazon EC2\n",
        "sys/class/dmi/id/board_vendor": "Amazon EC2\n",
        "sys/class/dmi/id/chassis_asset_tag": "Amazon EC2\n",
    })


def amd_machine(lab: Lab) -> None:
    """No NVIDIA driver; an RX 7900 XTX in sysfs (rocm-smi stays missing unless a scenario provides one)."""
    lab.nvml["nvmlInit"] = Bad(error="LIBRARY_NOT_FOUND")
    lab.devices = [{"name": "AMD Radeon RX 7900 XTX", "total": 25753026560}]
    write(lab.root, {
        "sys/class/drm/card0/device/vendor": "0x1002\n",
        "sys/class/drm/card0/device/device": "0x744c\n",
        "sys/class/drm/card0/device/product_name": "AMD Radeon RX 7900 XTX\n",
        "sys/class/drm/card0/device/mem_info_vram_total": "25753026560\n",
        "sys/class/drm/card0/device/mem_info_vram_used": "1073741824\n",
    })


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory) -> Path:
    """One healthy tree for the scenarios that break no file (NVML's); they only read it."""
    root = tmp_path_factory.mktemp("machine") / "root"
    healthy_tree(root)
    return root


@pytest.fixture
def lab(tmp_path, monkeypatch) -> Lab:
    """A machine of this test's own, whose files a scenario may break."""
    root = tmp_path / "root"
    healthy_tree(root)
    monkeypatch.setattr(amd, "run_rocm_smi", _rocm_smi_missing)  # never the real one on a machine that has it
    return Lab(root, monkeypatch, tmp_path)


@pytest.fixture
def nvml_lab(shared_root, tmp_path, monkeypatch) -> Lab:
    monkeypatch.setattr(amd, "run_rocm_smi", _rocm_smi_missing)
    return Lab(shared_root, monkeypatch, tmp_path)


def _rocm_smi_missing(argv):
    raise FileNotFoundError(argv[0])


# ---- the promises -----------------------------------------------------------------------------------------------
def readings(data, where="profile"):
    """Every ``{value, source, reason}`` in the profile's JSON form, with where it sits."""
    if isinstance(data, dict):
        if set(data) == {"value", "source", "reason"}:
            yield where, data
            return
        for key, value in data.items():
            yield from readings(value, f"{where}.{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from readings(value, f"{where}.{i}")


def reasons(profile: SystemProfile) -> list[str]:
    data = profile.model_dump()
    found = [r["reason"] for _, r in readings(data) if r["reason"]]
    return found + [s["reason"] for s in data["storage"] if s["reason"]] + [profile.gpu_reason or ""]


def assert_every_unknown_labelled(profile: SystemProfile) -> None:
    for where, r in readings(profile.model_dump()):
        assert r["value"] is not None or r["reason"], f"{where} is unknown without a reason"
    for s in profile.storage:
        assert s.kind != "unknown" or s.reason, f"storage {s.path} is unknown without a reason"
    assert profile.gpus or profile.gpu_reason, "no GPU, and no reason"
    stray = [r for r in reasons(profile) if BACKSTOP in r]
    assert not stray, f"a probe let a fault through to the last-line guard: {stray}"


def assert_nothing_invented(profile: SystemProfile, devices: list[dict], ram_readings: set[float]) -> None:
    ram = profile.ram_total_gib
    if ram.known:
        assert ram.value in ram_readings, f"RAM {ram.value} GiB is none of the readings {ram_readings}"
        avail = profile.ram_available_gib
        assert not avail.known or 0 <= avail.value <= ram.value, f"{avail.value} GiB available of {ram.value} GiB"
    for gpu in profile.gpus:
        mem = gpu.memory_total_gib
        dev = devices[gpu.index] if gpu.index < len(devices) else None
        if not mem.known:
            continue
        assert dev is not None
        if mem.source in ("nvml", "sysfs", "rocm-smi"):
            assert mem.value == round(dev["total"] / GIB, 2), f"{mem.value} GiB is not what the driver said"
        elif gpu.unified.value is True:
            spec = find_gpu(dev["name"])
            assert spec.unified and spec.segment in SHARED_POOL_SEGMENTS, f"{dev['name']} treated as unified"
            assert mem.value == ram.value and "unified memory" in mem.reason
        else:
            spec = find_gpu(dev["name"])
            options = sorted(set(spec.memory_options_gib))
            # the catalog's reported total (nvidia-smi's MiB), or the smallest memory option of a chip sold in several
            expected = options[0] if len(options) > 1 else round(spec.physical_gib, 2)
            assert mem.source == "catalog" and mem.value == expected, mem
            assert "failed" in mem.reason or "missing" in mem.reason or "implausible" in mem.reason, mem.reason
        free = gpu.memory_free_gib
        assert not free.known or 0 <= free.value <= mem.value, f"{free.value} GiB free of {mem.value} GiB"
    budget = profile.vram_budget_gib
    if budget is not None:
        pool = ram.value if profile.unified_memory else profile.gpu.memory_total_gib.value
        assert budget <= pool
    if all(not find_gpu(d["name"]).unified for d in devices if _in_catalog(d["name"])):
        assert not profile.unified_memory, "a discrete card became unified memory"


def _in_catalog(name: str) -> bool:
    try:
        find_gpu(name)
    except LookupError:
        return False
    return True


def assert_honest(profile: SystemProfile, lab: Lab) -> None:
    """The promises every scenario keeps (see the module docstring)."""
    assert_every_unknown_labelled(profile)
    ram = {round(v / GIB, 2) for v in (HOST_VM.total, CGROUP_LIMIT, MEMINFO_TOTAL, THIS_MACHINE_RAM)}
    assert_nothing_invented(profile, lab.devices, ram)
    assert_shown(profile)


def assert_shown(profile: SystemProfile) -> None:
    """What ``nbwizard profile`` prints and ``--json`` writes: every unknown with its reason, JSON that reloads."""
    text = "\n".join(profile_lines(profile))
    assert "unknown (None)" not in text and "VRAM budget" in text
    assert len(text) < 20_000, "a huge file's content reached the output"
    assert SystemProfile.from_json(profile.to_json()) == profile


def assert_intact(gpu, dev: dict) -> None:
    """A GPU that nobody broke reads exactly as NVML describes it."""
    assert gpu.name.value == dev["name"] and gpu.uuid == dev["uuid"]
    assert (gpu.memory_total_gib.value, gpu.memory_total_gib.source) == (round(dev["total"] / GIB, 2), "nvml")
    assert gpu.compute_capability.value == "{}.{}".format(*dev["cc"]) and gpu.unified.value is False


# ---- NVML scenarios ------------------------------------------------------------------------------------------
RAISES: dict[str, str | type[BaseException]] = {
    "nvml-unknown": "UNKNOWN", "not-supported": "NOT_SUPPORTED", "gpu-lost": "GPU_IS_LOST",
    "function-not-found": "FUNCTION_NOT_FOUND", "no-permission": "NO_PERMISSION",
    "runtime-error": RuntimeError, "os-error": OSError, "type-error": TypeError,
}
ODD_RETURNS: dict[str, object] = {
    "none": None, "n/a": "N/A", "empty": "", "bad-bytes": b"\xff\xfe\x80", "zero": 0, "2^64-1": 2**64 - 1,
    "negative": -1, "a-list": [1, 2],
}
DEVICE_FNS = ("nvmlDeviceGetHandleByIndex", "nvmlDeviceGetName", "nvmlDeviceGetMemoryInfo",
              "nvmlDeviceGetCudaComputeCapability", "nvmlDeviceGetUUID")
BAD_MEMORY = {
    "total-none": Memory(None, 0, 0), "total-n/a": Memory("N/A", "N/A", "N/A"), "total-zero": Memory(0, 0, 0),
    "total-2^64-1": Memory(2**64 - 1, 2**64 - 1, 0), "total-negative": Memory(-1, 0, 0),
    "total-float": Memory(2.4e10, 1e10, 1.4e10), 
    "free-above-total": Memory(RTX_4090["total"], 2 * RTX_4090["total"], 0),
    "free-none": Memory(RTX_4090["total"], None, None), "free-negative": Memory(RTX_4090["total"], -5, 0),
}
BAD_CC = {"none-pair": (None, None), "strings": ("8", "9"), "one-number": (8,), "negative": (-1, 0),
          "float": (8.9,), "text": "8.9", "three": (8, 9, 0), "bools": (True, False)}


@dataclass(frozen=True)
class Scenario:
    id: str
    setup: Callable[[Lab], None]
    expect: str = "any"  # "gpu1-intact" | "both-intact" | "no-gpu" | "two-listed" | "any"


def nvml_fault(fn: str, bad: Bad) -> Callable[[Lab], None]:
    return lambda lab: lab.nvml.__setitem__(fn, bad)


def nvml_scenarios() -> list[Scenario]:
    out = []
    for fn in DEVICE_FNS:
        short = fn.removeprefix("nvmlDeviceGet")
        for kind, error in RAISES.items():
            out.append(Scenario(f"{short}-gpu0-{kind}", nvml_fault(fn, Bad(error=error, gpus=(0,))), "gpu1-intact"))
            out.append(Scenario(f"{short}-all-{kind}", nvml_fault(fn, Bad(error=error)), "two-listed"))
        for kind, value in ODD_RETURNS.items():
            if fn == "nvmlDeviceGetHandleByIndex" and isinstance(value, int):
                continue  # this fake's handles are the indices: an int is a real handle, not a fault
            out.append(Scenario(f"{short}-gpu0-returns-{kind}", nvml_fault(fn, Bad(value=value, gpus=(0,))),
                                "gpu1-intact"))
            out.append(Scenario(f"{short}-all-returns-{kind}", nvml_fault(fn, Bad(value=value)), "two-listed"))
        out.append(Scenario(f"{short}-missing", nvml_fault(fn, MISSING), "two-listed"))
    out += [Scenario(f"MemoryInfo-gpu0-{k}", nvml_fault("nvmlDeviceGetMemoryInfo", Bad(value=v, gpus=(0,))),
                     "gpu1-intact") for k, v in BAD_MEMORY.items()]
    out += [Scenario(f"CudaComputeCapability-gpu0-{k}",
                     nvml_fault("nvmlDeviceGetCudaComputeCapability", Bad(value=v, gpus=(0,))), "gpu1-intact")
            for k, v in BAD_CC.items()]
    for fn, expect in (("nvmlInit", "no-gpu"), ("nvmlDeviceGetCount", "no-gpu"),
                       ("nvmlSystemGetDriverVersion", "both-intact"), ("nvmlShutdown", "both-intact")):
        short = fn.removeprefix("nvml")
        for kind, error in RAISES.items():
            out.append(Scenario(f"{short}-{kind}", nvml_fault(fn, Bad(error=error)), expect))
        out.append(Scenario(f"{short}-missing", nvml_fault(fn, MISSING), expect))
    for kind in ("LIBRARY_NOT_FOUND", "DRIVER_NOT_LOADED", "LIB_RM_VERSION_MISMATCH", "UNINITIALIZED"):
        out.append(Scenario(f"Init-{kind.lower()}", nvml_fault("nvmlInit", Bad(error=kind)), "no-gpu"))
    out.append(Scenario("Init-attribute-error", nvml_fault("nvmlInit", Bad(error=AttributeError)), "no-gpu"))
    for kind, value in {**ODD_RETURNS, "2^32": 2**32, "a-string": "2", "a-float": 2.0}.items():
        out.append(Scenario(f"DeviceGetCount-returns-{kind}", nvml_fault("nvmlDeviceGetCount", Bad(value=value)),
                            "no-gpu"))
        out.append(Scenario(f"SystemGetDriverVersion-returns-{kind}",
                            nvml_fault("nvmlSystemGetDriverVersion", Bad(value=value)), "both-intact"))
    out.append(Scenario("Name-returns-old-style-bytes",
                        nvml_fault("nvmlDeviceGetName", Bad(value=b"NVIDIA GeForce RTX 4090", gpus=(0,))),
                        "gpu1-intact"))
    out.append(Scenario("import-fails", _import_fails(ImportError), "no-gpu"))
    out.append(Scenario("import-raises-runtime-error", _import_fails(RuntimeError), "no-gpu"))
    return out


def _import_fails(error: type[BaseException]) -> Callable[[Lab], None]:
    def setup(lab: Lab) -> None:
        shim = lab.scratch / "shim"
        shim.mkdir(exist_ok=True)
        (shim / "pynvml.py").write_text(f"raise {error.__name__}('a broken pynvml')\n")
        lab.mp.syspath_prepend(str(shim))
        lab.mp.delitem(sys.modules, "pynvml", raising=False)
        if error is ImportError:
            lab.mp.setitem(sys.modules, "pynvml", None)  # how Python says "not installed"
        lab.fake_pynvml = False

    return setup


NVML_SCENARIOS = nvml_scenarios()


def check_expectation(profile: SystemProfile, lab: Lab, expect: str) -> None:
    if expect == "no-gpu":
        assert profile.gpus == [] and profile.gpu_reason
    elif expect == "two-listed":
        assert len(profile.gpus) == 2, "a GPU NVML listed went missing"
    elif expect == "gpu1-intact":
        assert len(profile.gpus) == 2, "one failing GPU hid the other"
        assert_intact(profile.gpus[1], lab.devices[1])
    elif expect == "both-intact":
        assert len(profile.gpus) == 2
        for gpu, dev in zip(profile.gpus, lab.devices):
            assert_intact(gpu, dev)


@pytest.mark.parametrize("scenario", NVML_SCENARIOS, ids=lambda s: s.id)
def test_nvml_fault_leaves_an_honest_profile(nvml_lab, scenario):
    scenario.setup(nvml_lab)
    profile = nvml_lab.detect()
    assert_honest(profile, nvml_lab)
    check_expectation(profile, nvml_lab, scenario.expect)


# ---- file scenarios (procfs, sysfs, cgroup, DMI) ---------------------------------------------------------------
DIRECTORY, DENIED, ABSENT = object(), object(), object()
CONTENT_FAULTS: dict[str, object] = {
    "missing": ABSENT,
    "a-directory": DIRECTORY,
    "no-permission": DENIED,
    "non-utf8": b"\xff\xfe\xfa\x80 \xc3(",
    "ff-padded": lambda good: good.strip() + b"\xff" * 32,
    "nul-padded": lambda good: good.strip() + b"\x00" * 16,
    "empty": b"",
    "garbage": b"lorem: ipsum \x01\x02 0x:: !!\n- - -\n",
    "negative": b"-1\n",
    "2^64": b"18446744073709551616\n",
    "huge": b"9" * (5 * 1024**2),
}
NVIDIA_FILES = (
    "proc/self/mountinfo", "proc/self/cgroup", "sys/fs/cgroup/cgroup.controllers", "sys/fs/cgroup/job/memory.max",
    "sys/fs/cgroup/job/memory.current", "sys/fs/cgroup/job/memory.stat", "sys/fs/cgroup/job/cpu.max",
    "proc/cpuinfo", "sys/class/dmi/id/sys_vendor", "sys/class/dmi/id/product_name", "sys/class/dmi/id/bios_vendor",
    "sys/class/dmi/id/board_vendor", "sys/class/dmi/id/chassis_asset_tag", "sys/block/nvme0n1/device/model",
)
AMD_FILES = tuple(f"sys/class/drm/card0/device/{n}" for n in
                  ("vendor", "device", "product_name", "mem_info_vram_total", "mem_info_vram_used"))


def break_file(lab: Lab, rel: str, fault: object) -> None:
    path = lab.path(rel)
    good = path.read_bytes() if path.is_file() else b""
    if fault is ABSENT or fault is DIRECTORY:
        path.unlink()
        if fault is DIRECTORY:
            path.mkdir()
    elif fault is DENIED:
        deny_open(lab.mp, path)
    else:
        path.write_bytes(fault(good) if callable(fault) else fault)


def deny_open(mp: pytest.MonkeyPatch, path: Path) -> None:
    """Opening ``path`` raises PermissionError (tests run as root, where chmod 000 does not stop a read)."""
    target, real_open = os.fspath(path), builtins.open

    def guarded(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file) == target:
            raise PermissionError(13, "Permission denied", target)
        return real_open(file, *args, **kwargs)

    mp.setattr(builtins, "open", guarded)
    mp.setattr(io, "open", guarded)


def deny_stat(mp: pytest.MonkeyPatch, path: Path) -> None:
    """``path`` and everything below it cannot be looked at (a directory without search permission)."""
    target, real_stat = os.fspath(path), pathlib.Path.stat

    def stat(self, *args, **kwargs):
        if os.fspath(self) == target or os.fspath(self).startswith(target + "/"):
            raise PermissionError(13, "Permission denied", os.fspath(self))
        return real_stat(self, *args, **kwargs)

    mp.setattr(pathlib.Path, "stat", stat)


def file_scenarios() -> list[Scenario]:
    out = []
    for rel in NVIDIA_FILES + AMD_FILES:
        for kind, fault in CONTENT_FAULTS.items():
            def setup(lab, rel=rel, fault=fault):
                if rel in AMD_FILES:
                    amd_machine(lab)
                break_file(lab, rel, fault)

            # Without its PCI vendor id a card is not known to be AMD; every other file costs a value at most.
            out.append(Scenario(f"{rel}-{kind}", setup, "any" if rel.endswith("/vendor") else "gpu-kept"))
    for rel in ("dev", "sys/class/drm", "sys/fs/cgroup", "sys/fs/cgroup/job", "sys/class/dmi/id", "sys/block"):
        def setup(lab, rel=rel):
            amd_machine(lab)
            write(lab.root, {"dev/kfd": ""})
            deny_stat(lab.mp, lab.path(rel))

        # A /sys/class/drm that cannot be searched cannot be listed: no GPU from sysfs, and the reason says so.
        out.append(Scenario(f"{rel}-unsearchable", setup, "any" if rel == "sys/class/drm" else "gpu-kept"))
    return out


FILE_SCENARIOS = file_scenarios()


@pytest.mark.parametrize("scenario", FILE_SCENARIOS, ids=lambda s: s.id)
def test_file_fault_leaves_an_honest_profile(lab, scenario):
    scenario.setup(lab)
    profile = lab.detect()
    assert_honest(profile, lab)
    assert profile.gpus or scenario.expect != "gpu-kept", "a broken file must not cost the GPU"
    assert 1 <= (profile.cpu_cores.value or 1) <= (os.cpu_count() or 1)
    assert profile.storage[0].path == "/data/out"


# ---- psutil, /proc/meminfo, rocm-smi, sysctl, torch --------------------------------------------------------------
MEMINFO_OK = f"MemTotal:       {MEMINFO_TOTAL // 1024} kB\nMemFree:        1000000 kB\nMemAvailable:   60000000 kB\n".encode()
MEMINFO_FAULTS: dict[str, object] = {
    **CONTENT_FAULTS,
    "no-memtotal": b"MemFree:        1000000 kB\nMemAvailable:   60000000 kB\n",
    "only-total-and-free": b"MemTotal:       65536000 kB\nMemFree:        1000000 kB\n",  # psutil warns
    "absurd-total": b"MemTotal:       99999999999999999999 kB\nMemFree:        1 kB\nMemAvailable:   1 kB\n",
    "value-not-a-number": b"MemTotal:       lots kB\nMemFree:        1 kB\n",
    "line-without-value": b"MemTotal:\nMemFree:        1 kB\n",
}


def meminfo_scenario(fault: object) -> Callable[[Lab], None]:
    def setup(lab: Lab) -> None:
        proc = lab.scratch / "procfs"
        proc.mkdir(exist_ok=True)
        (proc / "meminfo").write_bytes(MEMINFO_OK)
        lab.host = None  # the real psutil.virtual_memory, reading the broken file
        lab.mp.setattr(psutil, "PROCFS_PATH", str(proc))
        break_file(lab, str(proc / "meminfo"), fault)

    return setup


def _raise(error: BaseException) -> Callable:
    def fail(*_args, **_kwargs):
        raise error

    return fail


def psutil_scenarios() -> list[Scenario]:
    out = [Scenario(f"meminfo-{kind}", meminfo_scenario(fault)) for kind, fault in MEMINFO_FAULTS.items()]
    host_faults = {
        "virtual-memory-raises": lambda lab: lab.mp.setattr(psutil, "virtual_memory",
                                                            _raise(PermissionError(13, "denied"))),
        "virtual-memory-total-zero": lambda lab: setattr(lab, "host", VM(0, 0)),
        "virtual-memory-total-2^64": lambda lab: setattr(lab, "host", VM(2**64, 2**63)),
        "virtual-memory-available-above-total": lambda lab: setattr(lab, "host", VM(64 * GIB, 65 * GIB)),
        "cpu-count-none": lambda lab: lab.mp.setattr(psutil, "cpu_count", lambda logical=True: None),
        "cpu-count-raises": lambda lab: lab.mp.setattr(psutil, "cpu_count", _raise(OSError(5, "I/O error"))),
        "cpu-affinity-access-denied": lambda lab: lab.mp.setattr(
            psutil.Process, "cpu_affinity", _raise(psutil.AccessDenied(os.getpid()))),
    }
    out += [Scenario(k, f) for k, f in host_faults.items()]
    return out


def rocm_smi_output(output: object) -> Callable[[Lab], None]:
    def setup(lab: Lab) -> None:
        amd_machine(lab)
        write(lab.root, {"dev/kfd": ""})

        def run(argv):
            if isinstance(output, BaseException):
                raise output
            return output

        lab.mp.setattr(amd, "run_rocm_smi", run)

    return setup


def _card(**fields) -> str:
    return json.dumps({"card0": fields})


ROCM_SMI_FAULTS: dict[str, object] = {
    "not-json": "WARNING: AMD GPU device(s) is/are in a low-power state\n",
    "json-list": "[1, 2, 3]",
    "json-null": "null",
    "card-not-an-object": json.dumps({"card0": "oops"}),
    "name-a-number": _card(**{"Card Series": 7900, "VRAM Total Memory (B)": "25753026560"}),
    "vram-negative": _card(**{"Card Series": "AMD Radeon RX 7900 XTX", "VRAM Total Memory (B)": "-1"}),
    "vram-2^64": _card(**{"Card Series": "AMD Radeon RX 7900 XTX", "VRAM Total Memory (B)": str(2**64)}),
    "used-above-total": _card(**{"Card Series": "AMD Radeon RX 7900 XTX", "VRAM Total Memory (B)": "25753026560",
                                 "VRAM Total Used Memory (B)": str(2**40)}),
    "gfx-garbage": _card(**{"Card Series": "AMD Radeon RX 7900 XTX", "GFX Version": ["gfx1100"]}),
    "timeout": subprocess.TimeoutExpired(["rocm-smi"], 3),
    "no-permission": PermissionError(13, "Permission denied", "rocm-smi"),
    "exit-code": subprocess.CalledProcessError(2, ["rocm-smi"]),
    "undecodable-output": UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
}


def sysctl_output(output: object) -> Callable[[Lab], None]:
    def setup(lab: Lab) -> None:
        import nbwizard.engine.hardware.detect as detect_mod

        lab.nvml["nvmlInit"] = Bad(error="LIBRARY_NOT_FOUND")
        lab.devices = []
        lab.mp.setattr(detect_mod.platform, "system", lambda: "Darwin")
        lab.mp.setattr(detect_mod.platform, "machine", lambda: "arm64")
        lab.mp.setattr(apple, "run_sysctl", _raise(output) if isinstance(output, BaseException) else lambda argv: output)

    return setup


SYSCTL_FAULTS: dict[str, object] = {
    "garbage": "hw.memsize: lots\n\n", "zero": "0\nApple M2 Max\n", "2^64": f"{2**64}\nApple M2 Max\n",
    "superscript-digits": "²³\nApple M2 Max\n", "empty": "", "fails": OSError(5, "I/O error"),
    "not-text": UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
}


def broken_torch(lab: Lab) -> None:
    torch = types.ModuleType("torch")
    torch.__version__ = "2.13.0"
    torch.cuda = types.SimpleNamespace(is_available=_raise(RuntimeError("CUDA driver initialization failed")))
    lab.mp.setitem(sys.modules, "torch", torch)
    lab.nvml["nvmlInit"] = Bad(error=OSError)
    lab.devices = []
    lab.use_torch = None  # asked because /dev/nvidia0 shows a GPU NVML could not describe
    write(lab.root, {"dev/nvidia0": ""})


OTHER_SCENARIOS = (
    psutil_scenarios()
    + [Scenario(f"rocm-smi-{k}", rocm_smi_output(v)) for k, v in ROCM_SMI_FAULTS.items()]
    + [Scenario(f"sysctl-{k}", sysctl_output(v)) for k, v in SYSCTL_FAULTS.items()]
    + [Scenario("torch-cuda-init-raises", broken_torch)]
)


@pytest.mark.parametrize("scenario", OTHER_SCENARIOS, ids=lambda s: s.id)
def test_os_tool_fault_leaves_an_honest_profile(lab, scenario):
    scenario.setup(lab)
    profile = lab.detect()
    assert_honest(profile, lab)


def test_the_matrix_is_far_wider_than_the_61_reported_scenarios():
    assert len(NVML_SCENARIOS) + len(FILE_SCENARIOS) + len(OTHER_SCENARIOS) > 400


# ---- the CLI and the wizard under the same faults ----------------------------------------------------------------
# Every scenario above checks what the CLI prints (`assert_shown`); these run the command itself, for each kind
# of NVML error and odd answer, and each kind of broken file.
CLI_SCENARIOS = [s for s in NVML_SCENARIOS + FILE_SCENARIOS + OTHER_SCENARIOS if s.id in {
    *(f"MemoryInfo-gpu0-{k}" for k in RAISES), *(f"Name-gpu0-returns-{k}" for k in ODD_RETURNS),
    *(f"proc/cpuinfo-{k}" for k in CONTENT_FAULTS), "HandleByIndex-all-runtime-error", "Init-os-error",
    "DeviceGetCount-returns-none", "import-raises-runtime-error", "meminfo-missing", "meminfo-non-utf8",
    "rocm-smi-not-json", "sysctl-garbage", "torch-cuda-init-raises"}]


@pytest.mark.parametrize("scenario", CLI_SCENARIOS, ids=lambda s: s.id)
def test_nbwizard_profile_exits_0_under_the_fault(lab, scenario, capsys):
    scenario.setup(lab)
    lab.install()
    real = profile_module.detect_system
    lab.mp.setattr(profile_module, "detect_system",
                   lambda paths=(".",), **kw: real(paths, root=lab.root, env=lab.env, use_torch=lab.use_torch))
    assert cli_main(["profile"]) == 0
    assert "VRAM budget" in capsys.readouterr().out
    assert cli_main(["profile", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema_version"] == 1 and SystemProfile.model_validate(data)


@pytest.mark.parametrize("scenario", [s for s in NVML_SCENARIOS if s.id in {
    "MemoryInfo-gpu0-nvml-unknown", "HandleByIndex-all-runtime-error", "Name-gpu0-returns-n/a",
    "CudaComputeCapability-gpu0-returns-none"}] + [s for s in OTHER_SCENARIOS if s.id in {
        "meminfo-missing", "cpu-count-raises"}], ids=lambda s: s.id)
def test_wizard_opens_on_a_faulted_profile(lab, scenario, tmp_path):
    from nbwizard import Wizard

    scenario.setup(lab)
    wizard = Wizard(lab.detect(), config_dir=tmp_path / "templates", output_dir=tmp_path / "out")
    assert wizard.state is not None and wizard.pages[0] == "preflight"


def test_a_gb10_without_readable_ram_has_unknown_memory_not_a_guess(lab):
    lab.devices = [GB10 | {"uuid": "GPU-gb10"}]
    lab.nvml["nvmlDeviceGetMemoryInfo"] = Bad(error="NOT_SUPPORTED")
    lab.mp.setattr(psutil, "virtual_memory", _raise(FileNotFoundError(2, "No such file", "/proc/meminfo")))
    lab.host = None
    profile = lab.detect()
    gpu = profile.gpu
    assert not profile.ram_total_gib.known and "/proc/meminfo" in profile.ram_total_gib.reason
    assert gpu.unified.value is True and not gpu.memory_total_gib.known
    assert "system RAM is unknown" in gpu.memory_total_gib.reason and profile.vram_budget_gib is None


def test_dmi_padded_with_ff_still_names_the_provider(lab):
    for name in ("sys_vendor", "bios_vendor", "board_vendor", "chassis_asset_tag", "product_name"):
        break_file(lab, f"sys/class/dmi/id/{name}", CONTENT_FAULTS["ff-padded"])
    assert lab.detect().cloud.value == "AWS"


def test_cgroup_files_in_a_foreign_encoding_fall_back_to_the_host_not_a_crash(lab):
    for name in ("memory.max", "cpu.max"):
        break_file(lab, f"sys/fs/cgroup/job/{name}", CONTENT_FAULTS["non-utf8"])
    profile = lab.detect()
    assert (profile.ram_total_gib.value, profile.ram_total_gib.source) == (256.0, "psutil")
    assert profile.cpu_cores.source == "psutil"


def test_a_missing_meminfo_line_is_said_not_hidden(lab):
    meminfo_scenario(MEMINFO_FAULTS["only-total-and-free"])(lab)
    break_file(lab, "sys/fs/cgroup/job/memory.max", ABSENT)  # no container limit: psutil's numbers stand
    profile = lab.detect()
    assert (profile.ram_total_gib.value, profile.ram_total_gib.source) == (62.5, "psutil")
    assert "couldn't be determined" in profile.ram_available_gib.reason
