"""The web load benchmark still runs (a tiny size; SQLite only): it is how the issue's aims are measured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_web_runs():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("TOOLKIT_TEST_PG_URL", None)
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_web.py"), "--n", "10", "--time-limit", "300"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "SQLite: 10/10 answered" in proc.stdout and "bytes differ: 0" in proc.stdout
    assert "p95" in proc.stdout and "Traceback" not in proc.stderr
