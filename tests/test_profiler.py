"""The hardware profiler, fed recorded outputs: fake NVML, rocm-smi JSON, sysfs / procfs / cgroup trees."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import types
from collections import namedtuple
from pathlib import Path

import psutil
import pytest
from pydantic import ValidationError

from nbwizard.engine.hardware import amd, apple, cloud, cpu, memory, storage
from nbwizard.engine.profile import Reading, SystemProfile, detect_system

FIXTURES = Path(__file__).parent / "fixtures" / "hardware"
GIB = 1024**3
Usage = namedtuple("Usage", "total used free")


# ---- recorded trees ----------------------------------------------------------------------------------------
def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def link(root: Path, rel: str, target: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def block_device(root: Path, devpath: str, majmin: str, *, rotational: str | None = "0",
                 parts: dict[str, str] | None = None, files: dict[str, str] | None = None) -> None:
    """A disk at /sys/devices/<devpath> with /sys/dev/block, /sys/block and /sys/class/block links."""
    name = devpath.rsplit("/", 1)[-1]
    disk = f"sys/devices/{devpath}"
    write(root, {f"{disk}/dev": majmin, **({f"{disk}/queue/rotational": rotational} if rotational else {}),
                 **{f"{disk}/{k}": v for k, v in (files or {}).items()}})
    depth = "../" * 2
    link(root, f"sys/dev/block/{majmin}", f"{depth}devices/{devpath}")
    link(root, f"sys/block/{name}", f"../devices/{devpath}")
    link(root, f"sys/class/block/{name}", f"../../devices/{devpath}")
    for part, part_majmin in (parts or {}).items():
        write(root, {f"{disk}/{part}/partition": "1", f"{disk}/{part}/dev": part_majmin})
        link(root, f"sys/dev/block/{part_majmin}", f"{depth}devices/{devpath}/{part}")
        link(root, f"sys/class/block/{part}", f"../../devices/{devpath}/{part}")


def mountinfo(root: Path, *lines: str) -> None:
    rows = [f"{20 + i} 1 {line}" for i, line in enumerate(lines)]
    write(root, {"proc/self/mountinfo": "\n".join(rows) + "\n"})


def fake_usage(_path: str) -> Usage:
    return Usage(1000 * GIB, 600 * GIB, 400 * GIB)


def store(root: Path, path: str):
    return storage.probe_storage(path, root=root, disk_usage=fake_usage)


# ---- fake NVML -----------------------------------------------------------------------------------------------
Memory = namedtuple("Memory", "total free used")


def fake_pynvml(devices=(), init_error: str | None = None) -> types.ModuleType:
    """A stand-in for nvidia-ml-py's pynvml: ``devices`` are dicts (name, total, free, cc, uuid, memory_error)."""
    mod = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    for cls_name in ("LibraryNotFound", "NotSupported", "DriverNotLoaded", "Uninitialized"):
        setattr(mod, f"NVMLError_{cls_name}", type(f"NVMLError_{cls_name}", (NVMLError,), {}))
    mod.NVMLError = NVMLError
    mod.calls = []

    def init():
        mod.calls.append("init")
        if init_error:
            raise getattr(mod, f"NVMLError_{init_error}")(init_error)

    def memory_info(h):
        if devices[h].get("memory_error"):
            raise getattr(mod, f"NVMLError_{devices[h]['memory_error']}")("Not Supported")
        return Memory(devices[h]["total"], devices[h]["free"], devices[h]["total"] - devices[h]["free"])

    mod.nvmlInit = init
    mod.nvmlShutdown = lambda: mod.calls.append("shutdown")
    mod.nvmlSystemGetDriverVersion = lambda: "580.95.05"
    mod.nvmlDeviceGetCount = lambda: len(devices)
    mod.nvmlDeviceGetHandleByIndex = lambda i: i
    mod.nvmlDeviceGetName = lambda h: devices[h]["name"]
    mod.nvmlDeviceGetUUID = lambda h: devices[h].get("uuid", f"GPU-{h:08d}")
    mod.nvmlDeviceGetMemoryInfo = memory_info
    mod.nvmlDeviceGetCudaComputeCapability = lambda h: devices[h]["cc"]
    return mod


@pytest.fixture
def no_nvidia(monkeypatch):
    mod = fake_pynvml(init_error="LibraryNotFound")
    monkeypatch.setitem(sys.modules, "pynvml", mod)
    return mod


RTX_4090 = dict(name="NVIDIA GeForce RTX 4090", total=24564 * 1024**2, free=23000 * 1024**2, cc=(8, 9),
                uuid="GPU-4090aaaa")
RTX_3090 = dict(name="NVIDIA GeForce RTX 3090", total=24576 * 1024**2, free=24000 * 1024**2, cc=(8, 6),
                uuid="GPU-3090bbbb")
GB10 = dict(name="NVIDIA GB10", total=0, free=0, cc=(12, 1), memory_error="NotSupported")


def detect_in(root: Path, **kw) -> SystemProfile:
    return detect_system(["/"], root=root, env=kw.pop("env", {}), use_torch=False, **kw)


# ---- NVIDIA --------------------------------------------------------------------------------------------------
def test_no_driver_means_cpu_with_reason(tmp_path, no_nvidia):
    profile = detect_in(tmp_path)
    assert profile.gpus == [] and profile.gpu is None
    assert profile.accelerator == "cpu" and profile.vram_budget_gib is None and not profile.unified_memory
    assert "no NVIDIA driver" in profile.gpu_reason


def test_two_nvidia_gpus(tmp_path, monkeypatch):
    nvml = fake_pynvml([RTX_4090, RTX_3090])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    profile = detect_in(tmp_path, reserve_gib=2)
    first, second = profile.gpus
    assert (first.name.value, first.name.source) == ("NVIDIA GeForce RTX 4090", "nvml")
    assert first.memory_total_gib.value == pytest.approx(23.99) and first.memory_free_gib.value == pytest.approx(22.46)
    assert first.driver.value == "580.95.05" and first.compute_capability.value == "8.9"
    assert (first.bf16.value, first.fp8.value) == (True, True)
    assert (second.bf16.value, second.fp8.value) == (True, False)  # Ampere: bf16 yes, fp8 no
    assert first.catalog_name.value == "NVIDIA GeForce RTX 4090" and first.catalog_name.source == "catalog"
    assert profile.accelerator == "nvidia" and not profile.unified_memory
    assert profile.vram_budget_gib == pytest.approx(23.99 - 2)
    assert profile.gpu_spec.name == "NVIDIA GeForce RTX 4090"
    assert nvml.calls == ["init", "shutdown"]


def test_cuda_visible_devices_picks_the_gpu_training_sees(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([RTX_4090, RTX_3090]))
    assert [g.name.value for g in detect_in(tmp_path, env={"CUDA_VISIBLE_DEVICES": "1"}).gpus] == [
        "NVIDIA GeForce RTX 3090"]
    assert detect_in(tmp_path, env={"CUDA_VISIBLE_DEVICES": "GPU-3090"}).gpu.index == 0
    hidden = detect_in(tmp_path, env={"CUDA_VISIBLE_DEVICES": ""})
    assert hidden.gpus == [] and "hides all 2" in hidden.gpu_reason


def test_gb10_memory_not_supported_means_unified_ram_pool(tmp_path, monkeypatch):
    nvml = fake_pynvml([GB10])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    write(tmp_path, {"sys/fs/cgroup/cgroup.controllers": "cpu memory", "sys/fs/cgroup/memory.max": "max"})
    profile = detect_in(tmp_path, reserve_gib=1)
    gpu = profile.gpu
    ram = profile.ram_total_gib.value
    assert gpu.unified.value is True and profile.unified_memory
    assert gpu.memory_total_gib.value == ram and "unified memory" in gpu.memory_total_gib.reason
    assert "system RAM" in gpu.memory_total_gib.reason
    assert not gpu.memory_free_gib.known and gpu.memory_free_gib.reason
    assert profile.vram_budget_gib == pytest.approx(round(ram - max(4, 0.15 * ram) - 1, 2))
    assert gpu.catalog_name.value == "NVIDIA DGX Spark" and gpu.fp8.value is True
    assert nvml.calls == ["init", "shutdown"]


@pytest.fixture
def big_host(monkeypatch):
    """A 256 GiB host: RAM handed to a discrete card by mistake would make any job "fit"."""
    monkeypatch.setattr(psutil, "virtual_memory", lambda: VM(256 * GIB, 250 * GIB))


def test_a_4090_whose_memory_query_fails_gets_its_catalog_size_not_the_hosts_ram(tmp_path, monkeypatch, big_host):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([RTX_4090 | {"memory_error": "NotSupported"}]))
    profile = detect_in(tmp_path, reserve_gib=1)
    gpu = profile.gpu
    assert profile.ram_total_gib.value == 256.0
    assert (gpu.memory_total_gib.value, gpu.memory_total_gib.source) == (24.0, "catalog")
    assert gpu.memory_total_gib.reason.startswith("NVML memory query failed: Not Supported")
    assert "NVIDIA GeForce RTX 4090" in gpu.memory_total_gib.reason
    assert gpu.unified.value is False and not profile.unified_memory
    assert profile.vram_budget_gib == 23.0  # the card's 24 GB less the reserve, not 217.6 GiB of host RAM
    assert not gpu.memory_free_gib.known and "memory query failed" in gpu.memory_free_gib.reason


def test_an_uncatalogued_card_whose_memory_query_fails_has_an_unknown_budget(tmp_path, monkeypatch, big_host):
    card = dict(name="NVIDIA Mystery X1", total=0, free=0, cc=(9, 0), memory_error="NotSupported")
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([card]))
    profile = detect_in(tmp_path)
    memory = profile.gpu.memory_total_gib
    assert memory.value is None and "memory query failed" in memory.reason and "not in the catalog" in memory.reason
    assert profile.gpu.unified.value is None and profile.gpu.unified.reason
    assert not profile.unified_memory and profile.vram_budget_gib is None


def test_a_gh200_whose_memory_query_fails_counts_its_hbm_not_the_grace_ram(tmp_path, monkeypatch, big_host):
    card = dict(name="NVIDIA GH200 480GB", total=0, free=0, cc=(9, 0), memory_error="NotSupported")
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([card]))
    profile = detect_in(tmp_path)
    memory = profile.gpu.memory_total_gib
    assert (memory.value, memory.source) == (96.0, "catalog") and "smallest of" in memory.reason
    assert profile.gpu.unified.value is False and "PyTorch allocates" in profile.gpu.unified.reason
    assert profile.vram_budget_gib == 96.0


# ---- AMD -----------------------------------------------------------------------------------------------------
def test_rocm_smi_json(tmp_path):
    write(tmp_path, {"dev/kfd": ""})
    seen = []

    def run(argv):
        seen.append(argv)
        return (FIXTURES / "rocm-smi-7900xtx.json").read_text()

    gpus, reason = amd.probe_amd(tmp_path, run=run)
    assert reason is None and seen == [["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"]]
    radeon, mi300 = gpus
    assert (radeon.vendor, radeon.name.value, radeon.name.source) == ("amd", "AMD Radeon RX 7900 XTX", "rocm-smi")
    assert radeon.memory_total_gib.value == pytest.approx(23.98) and radeon.memory_free_gib.value == pytest.approx(22.98)
    assert (radeon.compute_capability.value, radeon.bf16.value, radeon.fp8.value) == ("gfx1100", True, False)
    assert (mi300.bf16.value, mi300.fp8.value) == (True, True)


def amd_sysfs(root: Path) -> Path:
    return write(root, {
        "sys/class/drm/card0/device/vendor": "0x1002",
        "sys/class/drm/card0/device/device": "0x744c",
        "sys/class/drm/card0/device/mem_info_vram_total": "25753026560",
        "sys/class/drm/card0/device/mem_info_vram_used": "536870912",
        "sys/class/drm/card0-DP-1/status": "connected",
        "sys/class/drm/card1/device/vendor": "0x8086",  # an Intel iGPU next to it is not an AMD GPU
    })


def test_amd_sysfs_when_rocm_smi_is_missing(tmp_path):
    def missing(argv):
        raise FileNotFoundError(argv[0])

    gpus, reason = amd.probe_amd(amd_sysfs(tmp_path), run=missing)
    assert reason is None and len(gpus) == 1
    gpu = gpus[0]
    assert gpu.memory_total_gib.value == pytest.approx(23.98) and gpu.memory_total_gib.source == "sysfs"
    assert gpu.name.value == "AMD GPU 0x744c" and "PCI device id" in gpu.name.reason
    assert not gpu.bf16.known and gpu.bf16.reason


def test_amd_reasons_when_nothing_answers(tmp_path):
    def timeout(argv):
        raise subprocess.TimeoutExpired(argv, 3)

    write(tmp_path, {"dev/kfd": ""})
    gpus, reason = amd.probe_amd(tmp_path, run=timeout)
    assert gpus == [] and "did not answer within 3 s" in reason


# ---- Apple ---------------------------------------------------------------------------------------------------
def test_apple_silicon_unified(tmp_path, monkeypatch, no_nvidia):
    import nbwizard.engine.hardware.detect as detect_mod

    monkeypatch.setattr(detect_mod.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(detect_mod.platform, "machine", lambda: "arm64")
    monkeypatch.setattr(apple, "run_sysctl", lambda argv: "34359738368\nApple M2 Max\n")
    profile = detect_in(tmp_path)
    gpu = profile.gpu
    assert profile.accelerator == "apple" and profile.unified_memory
    assert (gpu.name.value, gpu.memory_total_gib.value, gpu.memory_total_gib.source) == ("Apple M2 Max", 32.0, "sysctl")
    assert gpu.bf16.value is True and gpu.bf16.source == "catalog"  # sysctl cannot tell; the catalog can
    assert profile.gpu_spec.memory_gib == 32
    assert profile.cpu_name.value == "Apple M2 Max"


def test_sysctl_missing_is_an_explained_unknown():
    def missing(argv):
        raise FileNotFoundError("sysctl")

    mem, chip = apple.read_sysctl(missing)
    assert not mem.known and not chip.known and "sysctl" in mem.reason


# ---- memory and CPU under cgroups -------------------------------------------------------------------------
VM = namedtuple("VM", "total available")
HOST = VM(64 * GIB, 60 * GIB)


def test_cgroup_v2_memory_max_unlimited_and_limited(tmp_path):
    write(tmp_path, {"sys/fs/cgroup/cgroup.controllers": "cpu memory", "sys/fs/cgroup/memory.max": "max"})
    total, avail = memory.probe_memory(tmp_path, vm=HOST)
    assert (total.value, total.source, avail.value) == (64.0, "psutil", 60.0)
    write(tmp_path, {"sys/fs/cgroup/memory.max": str(16 * GIB), "sys/fs/cgroup/memory.current": str(6 * GIB),
                     "sys/fs/cgroup/memory.stat": f"anon 100\ninactive_file {2 * GIB}\n"})
    total, avail = memory.probe_memory(tmp_path, vm=HOST)
    assert (total.value, total.source) == (16.0, "cgroup") and "host has 64.0 GiB" in total.reason
    assert (avail.value, avail.source) == (12.0, "cgroup")  # 16 − (6 − 2 reclaimable)


def test_cgroup_v2_cpu_max(tmp_path):
    write(tmp_path, {"sys/fs/cgroup/cgroup.controllers": "cpu memory", "sys/fs/cgroup/cpu.max": "200000 100000"})
    cores = cpu.probe_cores(tmp_path, host=16, affinity=16)
    assert (cores.value, cores.source) == (2, "cgroup") and "cpu.max" in cores.reason
    write(tmp_path, {"sys/fs/cgroup/cpu.max": "max 100000"})
    assert cpu.probe_cores(tmp_path, host=16, affinity=6).value == 6  # affinity is then the limit


def test_cgroup_v1_nested_cgroup(tmp_path):
    mountinfo(tmp_path, "0:35 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory",
              "0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct")
    write(tmp_path, {
        "proc/self/cgroup": "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n",
        "sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712",
        "sys/fs/cgroup/memory/docker/memory.limit_in_bytes": str(4 * GIB),  # the parent's limit applies too
        "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "9223372036854771712",
        "sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes": str(GIB),
        "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "150000",
        "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000",
    })
    total, avail = memory.probe_memory(tmp_path, vm=HOST)
    assert (total.value, total.source, avail.value) == (4.0, "cgroup", 3.0)
    assert "cgroup v1 memory.limit_in_bytes" in total.reason
    assert cpu.probe_cores(tmp_path, host=8, affinity=8).value == 1  # 1.5 CPUs → 1 busy worker


def test_cpu_name_from_cpuinfo(tmp_path):
    write(tmp_path, {"proc/cpuinfo": "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD Ryzen 9 7950X\n"})
    name = cpu.probe_cpu_name(tmp_path)
    assert (name.value, name.source) == ("AMD Ryzen 9 7950X", "procfs")


# ---- storage -------------------------------------------------------------------------------------------------
NVME = "pci0000:00/0000:00:1d.0/nvme/nvme0/nvme0n1"
SATA_A = "pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda"
SATA_B = "pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0/block/sdb"


def test_storage_nvme_partition(tmp_path):
    block_device(tmp_path, NVME, "259:0", rotational="0", parts={"nvme0n1p2": "259:2"})
    mountinfo(tmp_path, "259:2 / / rw - ext4 /dev/nvme0n1p2 rw")
    info = store(tmp_path, "/data/out/not-yet")  # need not exist: its nearest parent decides
    assert (info.kind, info.device, info.filesystem, info.mount_point) == ("nvme", "nvme0n1p2 → nvme0n1", "ext4", "/")
    assert (info.free_gib, info.total_gib, info.source) == (400.0, 1000.0, "sysfs")


@pytest.mark.parametrize(("rotational", "kind"), [("0", "ssd"), ("1", "hdd")])
def test_storage_sata_ssd_and_hdd(tmp_path, rotational, kind):
    block_device(tmp_path, SATA_A, "8:0", rotational=rotational, parts={"sda1": "8:1"})
    mountinfo(tmp_path, "8:1 / /mnt/disk rw - xfs /dev/sda1 rw")
    info = store(tmp_path, "/mnt/disk/datasets")
    assert (info.kind, info.device, info.reason) == (kind, "sda1 → sda", None)


def test_storage_dm_crypt_over_nvme(tmp_path):
    block_device(tmp_path, NVME, "259:0", rotational="0", parts={"nvme0n1p3": "259:3"})
    block_device(tmp_path, "virtual/block/dm-0", "253:0", rotational="0",
                 files={"dm/name": "cryptroot", "dm/uuid": "CRYPT-LUKS2-0123-cryptroot"})
    link(tmp_path, "sys/devices/virtual/block/dm-0/slaves/nvme0n1p3", f"../../../../{NVME}/nvme0n1p3")
    mountinfo(tmp_path, "253:0 / / rw - ext4 /dev/mapper/cryptroot rw")
    info = store(tmp_path, "/home/me")
    assert info.kind == "nvme" and info.device == "dm-0 (dm-crypt) → nvme0n1p3 → nvme0n1"


def test_storage_md_raid(tmp_path):
    block_device(tmp_path, SATA_A, "8:0", rotational="1", parts={"sda1": "8:1"})
    block_device(tmp_path, SATA_B, "8:16", rotational="1", parts={"sdb1": "8:17"})
    block_device(tmp_path, "virtual/block/md0", "9:0", rotational="1", files={"md/level": "raid1"})
    link(tmp_path, "sys/devices/virtual/block/md0/slaves/sda1", f"../../../../{SATA_A}/sda1")
    link(tmp_path, "sys/devices/virtual/block/md0/slaves/sdb1", f"../../../../{SATA_B}/sdb1")
    mountinfo(tmp_path, "8:1 / / rw - ext4 /dev/sda1 rw", "9:0 / /srv rw - ext4 /dev/md0 rw")
    info = store(tmp_path, "/srv/train")
    assert info.kind == "hdd" and info.device == "md0 (md raid1) → [sda1 → sda, sdb1 → sdb]"


def test_storage_in_a_container(tmp_path):
    """Docker: overlay root, a bind-mounted nvme folder, an nfs share and tmpfs (recorded mountinfo)."""
    write(tmp_path, {"proc/self/mountinfo": (FIXTURES / "mountinfo-docker.txt").read_text()})
    block_device(tmp_path, NVME, "259:0", rotational="0", parts={"nvme0n1p2": "259:2"})
    root = store(tmp_path, "/root/out")
    assert root.kind == "unknown" and root.filesystem == "overlay" and "not visible" in root.reason
    assert store(tmp_path, "/workspace/data/set1").kind == "nvme"  # longest prefix wins over "/"
    shared = store(tmp_path, "/workspace/shared/x")
    assert (shared.kind, shared.device, shared.filesystem) == ("network", "10.0.0.5:/export/shared", "nfs4")
    assert store(tmp_path, "/dev/shm/cache").kind == "ram"
    assert store(tmp_path, "/workspace/my models/lora").kind == "ram"  # \040 in mountinfo is a space
    assert store(tmp_path, "/workspace/database").kind == "unknown"  # "/workspace/data" is not its prefix


def test_storage_overlay_resolved_through_upperdir_on_the_host(tmp_path):
    block_device(tmp_path, SATA_A, "8:0", rotational="0", parts={"sda1": "8:1"})
    write(tmp_path, {"var/lib/docker/overlay2/1f2e/diff/.keep": ""})
    mountinfo(tmp_path, "8:1 / / rw - ext4 /dev/sda1 rw",
              "0:210 / /merged rw - overlay overlay rw,lowerdir=/l,upperdir=/var/lib/docker/overlay2/1f2e/diff,"
              "workdir=/w")
    info = store(tmp_path, "/merged/out")
    assert (info.kind, info.filesystem) == ("ssd", "overlay") and "upper layer is on ext4" in info.reason


def test_storage_network_block_device_and_virtio(tmp_path):
    block_device(tmp_path, NVME, "259:0", rotational="0", files={"device/model": "Amazon Elastic Block Store"})
    block_device(tmp_path, "pci0000:00/0000:00:02.0/virtio1/block/vda", "254:0", rotational="1")
    mountinfo(tmp_path, "259:0 / / rw - ext4 /dev/nvme0n1 rw", "254:0 / /scratch rw - ext4 /dev/vda rw")
    assert store(tmp_path, "/x").kind == "network"
    vda = store(tmp_path, "/scratch")
    assert vda.kind == "unknown" and "virtual disk" in vda.reason


# ---- cloud ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("env", "provider"), [
    ({"RUNPOD_POD_ID": "abc123"}, "RunPod"),
    ({"VAST_CONTAINERLABEL": "C.123"}, "Vast.ai"),
    ({"CONTAINER_ID": "123", "VAST_TCP_PORT_22": "4000"}, "Vast.ai"),
    ({"COLAB_RELEASE_TAG": "release-colab_2026"}, "Google Colab"),
    ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, "Kaggle"),
    ({"PAPERSPACE_FQDN": "x.paperspacegradient.com"}, "Paperspace"),
    ({"SM_CURRENT_HOST": "algo-1"}, "Amazon SageMaker"),
    ({"SAGEMAKER_INTERNAL_IMAGE_URI": "x"}, "Amazon SageMaker"),
])
def test_cloud_from_env(tmp_path, env, provider):
    write(tmp_path, {"sys/class/dmi/id/sys_vendor": "Amazon EC2"})  # a service wins over the cloud under it
    found = cloud.probe_cloud(env, tmp_path)
    assert (found.value, found.source) == (provider, "env")


@pytest.mark.parametrize(("dmi", "provider"), [
    ({"sys_vendor": "Amazon EC2", "product_name": "g5.xlarge"}, "AWS"),
    ({"sys_vendor": "Google", "product_name": "Google Compute Engine"}, "GCP"),
    ({"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine",
      "chassis_asset_tag": "7783-7084-3265-9085-8269-3286-77"}, "Azure"),
    ({"sys_vendor": "Lambda", "product_name": "Vector"}, "Lambda"),
])
def test_cloud_from_dmi(tmp_path, dmi, provider):
    write(tmp_path, {f"sys/class/dmi/id/{k}": v + "\n" for k, v in dmi.items()})
    found = cloud.probe_cloud({"CONTAINER_ID": "x"}, tmp_path)  # CONTAINER_ID alone is not Vast.ai
    assert (found.value, found.source) == (provider, "dmi")


def test_cloud_unknown_says_what_it_saw(tmp_path):
    write(tmp_path, {"sys/class/dmi/id/sys_vendor": "ASUSTeK COMPUTER INC."})
    found = cloud.probe_cloud({}, tmp_path)
    assert not found.known and "asustek" in found.reason


# ---- what-if, override, JSON -----------------------------------------------------------------------------
def test_what_if_profile_from_the_catalog():
    profile = SystemProfile.for_gpu("RTX 4090", ram_gb=64, cores=12, storage_kind="nvme", free_disk_gb=500)
    gpu = profile.gpu
    assert profile.target == "RTX 4090" and gpu.name.value == "NVIDIA GeForce RTX 4090"
    assert gpu.memory_total_gib.source == "catalog" and profile.vram_budget_gib == 24.0
    assert (profile.ram_total_gib.value, profile.ram_total_gib.source) == (64.0, "user")
    assert profile.cpu_cores.value == 12 and profile.storage[0].kind == "nvme"
    assert profile.gpu_spec.name == "NVIDIA GeForce RTX 4090"
    spark = SystemProfile.for_gpu("DGX Spark")
    assert spark.unified_memory and spark.ram_total_gib.value == 128.0
    assert spark.vram_budget_gib == pytest.approx(128 - 0.15 * 128)


def test_what_if_unknown_card_raises_the_catalog_error():
    from nbwizard.engine.gpus import UnknownGpuError

    with pytest.raises(UnknownGpuError) as err:
        SystemProfile.for_gpu("RTX 9999 Ultra")
    assert isinstance(err.value, LookupError)


def test_with_target_plans_the_target_machine_not_this_one(tmp_path, no_nvidia):
    here = detect_in(tmp_path)
    planned = here.with_target("RTX 3090")
    assert planned.accelerator == "nvidia" and planned.target == "RTX 3090" and here.gpus == []
    assert here.ram_total_gib.known and here.cpu_cores.known
    # this machine's RAM, free RAM, cores and disks say nothing about a rented card's machine
    for reading in (planned.ram_total_gib, planned.ram_available_gib, planned.cpu_cores):
        assert not reading.known and "what-if" in reading.reason
    assert planned.storage == [] and planned.what_if and planned.machine == "the planned RTX 3090 machine"
    typed = here.override("ram_total_gib", 128.0).with_target("RTX 3090")
    assert typed.ram_total_gib.value == 128.0 and typed.ram_total_gib.source == "user"
    assert not here.what_if and here.machine == "this machine"


def test_override_is_validated_and_marked_user():
    base = SystemProfile.for_gpu("RTX 4090", ram_gb=64)
    more = base.override("gpu.memory_total_gib", 48).override("reserve_gib", 4).override("storage", [])
    assert more.gpu.memory_total_gib == Reading(value=48.0, source="user")
    assert more.vram_budget_gib == 44.0 and base.vram_budget_gib == 24.0  # the old profile is untouched
    kinded = SystemProfile.for_gpu("RTX 4090", storage_kind="ssd").override("storage.0.kind", "hdd")
    assert (kinded.storage[0].kind, kinded.storage[0].source) == ("hdd", "user")
    with pytest.raises(ValidationError):
        base.override("ram_total_gib", "lots")
    with pytest.raises(ValidationError):
        kinded.override("storage.0.kind", "floppy")
    with pytest.raises(ValidationError):
        base.override("reserve_gib", -1)
    with pytest.raises(KeyError):
        base.override("gpus.3.name", "x")


def test_json_round_trip(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([GB10]))
    profile = detect_in(tmp_path).override("cpu_cores", 4)
    text = profile.to_json()
    assert SystemProfile.from_json(text) == profile
    shape = json.loads(text)
    assert shape["schema_version"] == 1 and set(shape["gpus"][0]["memory_total_gib"]) == {"value", "source", "reason"}


# ---- this machine ----------------------------------------------------------------------------------------
def test_detect_system_on_this_machine():
    start = time.perf_counter()
    profile = detect_system(["."])
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0
    assert profile.gpus == [] and profile.gpu_reason  # no GPU here, and it says why
    assert profile.accelerator == "cpu"
    assert 0 < profile.ram_total_gib.value <= psutil.virtual_memory().total / GIB + 0.01
    assert profile.ram_total_gib.source in ("psutil", "cgroup")
    assert 1 <= profile.cpu_cores.value <= psutil.cpu_count()
    here = profile.storage_for(".")
    assert here is not None and (here.kind != "unknown" or here.reason)
    assert here.free_gib and here.free_gib > 0


def test_import_and_detect_leave_torch_alone():
    code = ("import sys; import nbwizard.engine.profile as p; assert 'torch' not in sys.modules; "
            "assert 'pynvml' not in sys.modules; p.detect_system(); print('torch' in sys.modules)")
    src = str(Path(__file__).parents[1] / "src")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
