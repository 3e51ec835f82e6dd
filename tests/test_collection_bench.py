"""The collection benchmark still runs (on a tiny size): it is how the issue's speed aims are measured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_collection_runs():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("TOOLKIT_TEST_PG_URL", None)     # SQLite only here; PostgreSQL is measured by hand or in CI's full run
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_collection.py"), "--n", "6", "--jobs", "1"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "× merge" in proc.stdout and "status of 6 agencies" in proc.stdout
    assert "Traceback" not in proc.stderr
