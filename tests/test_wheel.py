"""The toolkit as an office installs it: a wheel built from the checkout, installed into a fresh
virtual environment outside the checkout, running every command on the bundled samples from
another folder. This is what caught the meta-schema that only an editable install could find."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)


def _tracked_files() -> list[str]:
    proc = _run(["git", "ls-files", "-co", "--exclude-standard"], ROOT)
    if proc.returncode != 0:
        pytest.skip("not a git checkout: cannot tell the project's files from build leftovers")
    return [f for f in proc.stdout.splitlines() if f and (ROOT / f).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built with `python -m build` (isolated, as a release is built) from a clean copy of the checkout."""
    src = tmp_path_factory.mktemp("src")
    for f in _tracked_files():
        if f.startswith(("tests/", "docs/images/", "benchmarks/", "workbooks/")):
            continue
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    dist = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(src)], src)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [whl] = dist.glob("toolkit-*.whl")
    return whl


def test_the_wheel_carries_the_forms_and_no_tests(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for form in ("indicator-schema.json", "gov-info-disclosure-2017.json", "gov-info-disclosure-2021.json"):
        assert f"toolkit/forms/{form}" in names
    assert "toolkit/py.typed" in names
    assert not [n for n in names if n.startswith(("tests/", "schema/", "workbooks/"))]
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [line.split(":", 1)[1].strip() for line in zipfile.ZipFile(wheel).read(meta).decode().splitlines()
                if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert sorted(r.split(">")[0].split("=")[0].split("[")[0].strip().lower() for r in requires) == \
        ["alembic", "argon2-cffi", "click", "google-re2", "itsdangerous", "jinja2", "jsonschema", "psycopg", "python-calamine",
         "python-multipart", "sqlalchemy", "starlette", "uvicorn", "xlsxwriter"]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment (no system packages) with only the wheel and what it requires."""
    where = tmp_path_factory.mktemp("venv") / "v"
    proc = _run([sys.executable, "-m", "venv", str(where)], where.parent)
    assert proc.returncode == 0, proc.stderr
    pip = [str(where / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    proc = _run([*pip, str(wheel)], where.parent, timeout=900)
    if proc.returncode != 0 and ("Could not find a version" in proc.stderr or "NewConnectionError" in proc.stderr):
        pytest.skip(f"the package index cannot be reached to install the wheel's dependencies: {proc.stderr.strip()[-200:]}")
    assert proc.returncode == 0, proc.stderr
    return where


def test_every_command_runs_from_the_installed_wheel(venv, tmp_path):
    work = tmp_path / "elsewhere"          # not the checkout: nothing can be found by accident
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["TOOLKIT_LANG"] = "en"
    tk = str(venv / "bin" / "toolkit")
    py = str(venv / "bin" / "python")
    roster = str(ROOT / "workbooks" / "sample-roster.csv")
    returns = str(ROOT / "workbooks" / "returns-2021")

    where = _run([py, "-c", "import toolkit; print(toolkit.__file__)"], work, env)
    assert where.returncode == 0 and where.stdout.startswith(str(venv)), where.stdout + where.stderr

    r = _run([tk, "schema", "check", "gov-info-disclosure-2021", "gov-info-disclosure-2017"], work, env)
    assert r.returncode == 0 and r.stdout.count(": ok") == 2, r.stdout + r.stderr
    r = _run([tk, "schema", "list"], work, env)
    assert r.returncode == 0 and "gov-info-disclosure-2021" in r.stdout, r.stderr
    r = _run([tk, "template", "gov-info-disclosure-2021", "-o", "templates", "--roster", roster], work, env)
    assert r.returncode == 0, r.stderr
    assert len(list((work / "templates").glob("*.xlsx"))) == 54 and (work / "templates" / "manifest.csv").exists()
    r = _run([tk, "check", str(next((work / "templates").glob("*.xlsx")))], work, env)
    assert "valid" in r.stdout or "invalid" in r.stdout, r.stdout + r.stderr     # read back, not rejected
    r = _run([tk, "check", returns, "--format", "json", "-o", "report.json"], work, env)
    assert r.returncode == 1 and (work / "report.json").exists(), r.stderr      # the samples hold wrong returns
    r = _run([py, "-m", "toolkit", "merge", returns, "--roster", roster, "-o", "summary.xlsx"], work, env)
    assert r.returncode == 0, r.stderr
    assert "workbook(s) in the totals" in r.stdout and (work / "summary.xlsx").stat().st_size > 10_000
    assert "Traceback" not in r.stderr
