"""Fixtures of the infrastructure tests (infra/bicep)."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BICEP_DIR = ROOT / "infra" / "bicep"


@pytest.fixture(scope="session")
def bicep_dir():
    return BICEP_DIR


@pytest.fixture(scope="session")
def main_arm():
    return json.loads((BICEP_DIR / "main.json").read_text())


@pytest.fixture(scope="session")
def main_bicep_text():
    return (BICEP_DIR / "main.bicep").read_text()
