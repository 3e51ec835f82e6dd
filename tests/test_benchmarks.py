"""The benchmark scripts still run (on tiny sizes): they are how speed targets are measured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize("script, args, expect", [
    ("bench_templates.py", ["--agencies", "60"], "templates/s"),
    ("bench_read.py", ["--files", "10", "--rounds", "1"], "ratio"),
    ("bench_merge.py", ["--n", "40"], "workbooks/s"),
])
def test_benchmark_script_runs(script, args, expect):
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert expect in proc.stdout
    assert "Traceback" not in proc.stderr
