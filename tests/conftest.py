"""Shared test helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
# The team's trainer reference sits beside the repository (../shared), in development and in CI.
REFERENCE = ROOT.parent / "shared" / "reference"


@pytest.fixture(scope="session")
def schema_reference() -> dict:
    path = REFERENCE / "aitk-schema.json"
    if not path.exists():
        pytest.skip(f"the trainer reference {path} is not beside this checkout")
    return json.loads(path.read_text())


@pytest.fixture(autouse=True)
def _own_nbwizard_home(tmp_path_factory, monkeypatch):
    """Runs, their history and the remembered checkout live in a folder of the test's, never the user's."""
    if "NBWIZARD_HOME" not in __import__("os").environ:
        monkeypatch.setenv("NBWIZARD_HOME", str(tmp_path_factory.mktemp("nbwizard-home")))
