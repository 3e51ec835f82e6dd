"""Static checks are part of the test run: ruff and mypy over toolkit/ report nothing (their
configuration, and every rule left out with its reason, is in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> list[str]:
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]' installs it)")
    return [sys.executable, "-m", name]


def test_ruff_finds_nothing():
    proc = subprocess.run([*_tool("ruff"), "check", "toolkit"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.slow
def test_mypy_finds_nothing():
    proc = subprocess.run(_tool("mypy"), cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
