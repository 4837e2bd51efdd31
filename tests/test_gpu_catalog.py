"""Tests for the GPU catalog (src/nbwizard/engine/gpus.py and data/gpus.json)."""

from __future__ import annotations

import dataclasses

import pytest

from nbwizard.engine import gpus as gpus_module
from nbwizard.engine.gpus import GpuSpec, UnknownGpuError, find_gpu, gpus

VENDORS = {"nvidia", "amd", "apple"}
SEGMENTS = {"consumer", "workstation", "datacenter", "apple", "unified"}


def test_catalog_has_at_least_45_gpus_and_every_vendor_and_segment():
    catalog = gpus()
    assert len(catalog) >= 45
    assert {g.vendor for g in catalog} == VENDORS
    assert {g.segment for g in catalog} == SEGMENTS


def test_catalog_order_is_stable_and_cached():
    assert gpus() is gpus()
    assert [g.name for g in gpus()] == [g.name for g in gpus_module._catalog().specs]


def test_every_entry_has_memory_sources_and_valid_fields():
    for g in gpus():
        assert g.memory_gib > 0, g.name
        assert g.sources and all(s.strip() for s in g.sources), g.name
        assert g.vendor in VENDORS and g.segment in SEGMENTS, g.name
        assert all(m > 0 for m in g.memory_options_gib), g.name
        if g.memory_options_gib:
            assert g.memory_gib in g.memory_options_gib, g.name
        if g.vendor == "nvidia":
            assert g.compute_capability is not None, g.name
        else:
            assert g.compute_capability is None, g.name


def test_every_missing_number_has_an_unknown_reason():
    for g in gpus():
        reasons = dict(g.unknown)
        for field in ("bf16_tflops", "bandwidth_gbs"):
            if getattr(g, field) is None:
                assert reasons.get(field, "").strip(), f"{g.name}: {field} is None without a reason"
        assert set(reasons) <= {f.name for f in dataclasses.fields(GpuSpec)}, g.name


def test_unified_flag_covers_apple_dgx_spark_and_gh200_only():
    unified = {g.name for g in gpus() if g.unified}
    assert {g.name for g in gpus() if g.vendor == "apple"} <= unified
    assert "NVIDIA DGX Spark" in unified
    assert "NVIDIA GH200" in unified
    assert all(g.vendor == "apple" or g.name in {"NVIDIA DGX Spark", "NVIDIA GH200"} for g in gpus() if g.unified)


def test_specs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        find_gpu("4090").memory_gib = 48  # type: ignore[misc]


@pytest.mark.parametrize(
    ("driver_string", "expected"),
    [
        ("NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 3090"),
        ("NVIDIA A100-SXM4-40GB", "NVIDIA A100 SXM4 40GB"),
        ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 SXM4 80GB"),
        ("NVIDIA A100 80GB PCIe", "NVIDIA A100 PCIe 80GB"),
        ("NVIDIA A100-PCIE-40GB", "NVIDIA A100 PCIe 40GB"),
        ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM"),
        ("NVIDIA H100 PCIe", "NVIDIA H100 PCIe"),
        ("NVIDIA H100 NVL", "NVIDIA H100 NVL"),
        ("NVIDIA L40S", "NVIDIA L40S"),
        ("NVIDIA GB10", "NVIDIA DGX Spark"),
        ("NVIDIA GH200 480GB", "NVIDIA GH200"),
        ("Tesla V100-SXM2-32GB", "NVIDIA V100 32GB"),
        ("Tesla V100-SXM2-16GB", "NVIDIA V100 16GB"),
        ("Tesla T4", "NVIDIA T4"),
        ("NVIDIA RTX A6000", "NVIDIA RTX A6000"),
        ("NVIDIA RTX 6000 Ada Generation", "NVIDIA RTX 6000 Ada Generation"),
        ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "NVIDIA RTX PRO 6000 Blackwell"),
        ("NVIDIA A10G", "NVIDIA A10G"),
        ("NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090"),
        ("NVIDIA GeForce RTX 5090", "NVIDIA GeForce RTX 5090"),
        ("AMD Radeon RX 7900 XTX", "AMD Radeon RX 7900 XTX"),
        ("AMD Instinct MI300X", "AMD Instinct MI300X"),
        ("AMD Instinct MI250X / MI250", "AMD Instinct MI250"),
        ("Apple M3 Max", "Apple M3 Max"),
    ],
)
def test_driver_strings_resolve_to_the_right_card(driver_string, expected):
    assert find_gpu(driver_string).name == expected


@pytest.mark.parametrize("query", ["4090", "RTX 4090", "rtx4090", "GeForce RTX 4090", "nvidia geforce rtx-4090"])
def test_short_and_differently_punctuated_names_work(query):
    assert find_gpu(query).name == "NVIDIA GeForce RTX 4090"


@pytest.mark.parametrize("query", ["NVIDIA L40S", "nvidia l40s", "NVIDIA l40S", "  L40S  "])
def test_matching_is_case_insensitive(query):
    assert find_gpu(query).name == "NVIDIA L40S"


def test_trailing_memory_size_selects_the_variant():
    assert find_gpu("RTX 4060 Ti 16GB").memory_gib == 16
    assert find_gpu("rtx 4060 ti 8 GB").memory_gib == 8
    assert find_gpu("RTX 3080 12GB").bandwidth_gbs == 912
    assert find_gpu("A100 40GB").name == "NVIDIA A100 SXM4 40GB"
    assert find_gpu("GH200 144GB").memory_gib == 144


def test_bare_a100_and_h100_pick_the_documented_sxm_default():
    assert find_gpu("A100").name == "NVIDIA A100 SXM4 80GB"
    assert find_gpu("A100 80GB").name == "NVIDIA A100 SXM4 80GB"
    assert find_gpu("H100").name == "NVIDIA H100 SXM"


@pytest.mark.parametrize("query", ["RTX 4060 Ti", "NVIDIA GeForce RTX 3080", "V100"])
def test_ambiguous_name_without_size_raises_listing_the_variants(query):
    with pytest.raises(UnknownGpuError) as info:
        find_gpu(query)
    assert len(info.value.close_matches) == 2
    assert info.value.query == query


def test_memory_size_that_no_variant_has_raises():
    with pytest.raises(UnknownGpuError) as info:
        find_gpu("RTX 4090 48GB")
    assert info.value.close_matches == ["NVIDIA GeForce RTX 4090 24GB"]


def test_bare_apple_chip_returns_its_largest_memory_option():
    m3_max = find_gpu("Apple M3 Max")
    assert m3_max.memory_options_gib == (36, 48, 64, 96, 128)
    assert m3_max.memory_gib == 128
    assert find_gpu("M2 Ultra").memory_gib == 192
    assert find_gpu("M1").memory_gib == 16


def test_apple_memory_suffix_selects_the_option():
    assert find_gpu("M3 Max 64GB").memory_gib == 64
    assert find_gpu("Apple M4 Pro (24 GB)").memory_gib == 24


def test_apple_memory_option_that_does_not_exist_raises_with_the_real_options():
    with pytest.raises(UnknownGpuError) as info:
        find_gpu("M3 Max 32GB")
    assert "Apple M3 Max 36GB" in info.value.close_matches
    assert "Apple M3 Max 36GB" in str(info.value)


def test_with_memory_accepts_only_existing_options():
    m4_max = find_gpu("M4 Max")
    assert m4_max.with_memory(36).memory_gib == 36
    with pytest.raises(ValueError):
        m4_max.with_memory(40)
    assert find_gpu("4090").with_memory(24).memory_gib == 24
    with pytest.raises(ValueError):
        find_gpu("4090").with_memory(48)


def test_unknown_name_error_lists_close_matches():
    with pytest.raises(UnknownGpuError) as info:
        find_gpu("RTX 4099")
    error = info.value
    assert isinstance(error, LookupError)
    assert error.query == "RTX 4099"
    assert "NVIDIA GeForce RTX 4090" in error.close_matches
    assert 1 <= len(error.close_matches) <= 5
    assert "NVIDIA GeForce RTX 4090" in str(error)


def test_unknown_name_with_nothing_close_has_empty_close_matches():
    with pytest.raises(UnknownGpuError) as info:
        find_gpu("Voodoo5 5500")
    assert info.value.close_matches == []


def test_no_alias_resolves_to_two_cards():
    owner: dict[str, str] = {}
    for g in gpus():
        for label in (g.name, *g.aliases):
            key = gpus_module._key(gpus_module._words(label))
            assert owner.setdefault(key, g.name) == g.name, f"{label!r}: {owner[key]} and {g.name}"


def test_every_name_and_alias_resolves_to_its_own_card():
    for g in gpus():
        for label in (g.name, *g.aliases):
            assert find_gpu(label).name == g.name, label


def test_known_reference_numbers():
    rtx4090 = find_gpu("4090")
    assert (rtx4090.memory_gib, rtx4090.bandwidth_gbs, rtx4090.compute_capability) == (24, 1008, "8.9")
    assert rtx4090.bf16 and rtx4090.fp8
    a100 = find_gpu("A100")
    assert (a100.bf16_tflops, a100.fp8) == (312, False)
    t4 = find_gpu("Tesla T4")
    assert (t4.bf16, t4.fp8) == (False, False)
    assert find_gpu("M1").bf16 is False
    assert find_gpu("M2").bf16 is True


@pytest.mark.parametrize(
    ("driver_string", "memory", "segment"),
    [
        ("NVIDIA A40", 48, "datacenter"),
        ("NVIDIA A30", 24, "datacenter"),
        ("NVIDIA L4", 24, "datacenter"),
        ("NVIDIA RTX 2000 Ada Generation", 16, "workstation"),
        ("NVIDIA RTX 4000 Ada Generation", 20, "workstation"),
        ("NVIDIA RTX 4000 SFF Ada Generation", 20, "workstation"),
        ("NVIDIA RTX 4500 Ada Generation", 24, "workstation"),
        ("NVIDIA RTX 5000 Ada Generation", 32, "workstation"),
        ("NVIDIA RTX 6000 Ada Generation", 48, "workstation"),
        ("NVIDIA GeForce RTX 4070 Ti", 12, "consumer"),
        ("NVIDIA GeForce RTX 4070 SUPER", 12, "consumer"),
        ("NVIDIA GeForce RTX 4070 Ti SUPER", 16, "consumer"),
        ("NVIDIA GeForce RTX 5070 Ti", 16, "consumer"),
        ("NVIDIA GeForce RTX 4060", 8, "consumer"),
        ("NVIDIA GeForce RTX 3060 Ti", 8, "consumer"),
        ("NVIDIA GeForce RTX 3070 Ti", 8, "consumer"),
        ("NVIDIA GeForce RTX 3080 Ti", 12, "consumer"),
    ],
)
def test_the_cards_people_rent_and_own_resolve_from_their_driver_names(driver_string, memory, segment):
    card = find_gpu(driver_string)
    assert card.name == driver_string and card.memory_gib == memory and card.segment == segment
    assert card.bf16_tflops and card.bandwidth_gbs and card.sources


def test_ada_workstation_figures_are_a_quarter_of_the_datasheets_sparse_fp8_rate():
    """Professional Ada cards (full-rate FP32 accumulate): dense BF16 = the datasheet's FP8 sparse tensor figure / 4."""
    for name, fp8_sparse in (("RTX 6000 Ada", 1457.0), ("RTX 5000 Ada", 1044.4), ("RTX 4500 Ada", 634.0),
                             ("RTX 4000 Ada", 327.6), ("RTX 4000 SFF Ada", 306.8), ("RTX 2000 Ada", 191.9)):
        assert find_gpu(name).bf16_tflops == pytest.approx(fp8_sparse / 4, abs=0.3), name


def test_the_target_picker_names_each_card_with_its_memory():
    from nbwizard.widgets.app import gpu_label

    assert gpu_label(find_gpu("L4")) == "NVIDIA L4 · 24 GB"
    assert gpu_label(find_gpu("A40")) == "NVIDIA A40 · 48 GB"
    assert gpu_label(find_gpu("RTX 3060 12GB")) == "NVIDIA GeForce RTX 3060 12GB"  # the size is in the name already
    assert all(f"{g.memory_gib:g}" in gpu_label(g) for g in gpus())
