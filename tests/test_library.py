"""The public library API: the script in docs/library.md runs as written, custom forms reach the
worker processes whatever the number of jobs, and every refusal is a ToolkitError."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import filled as F
import toolkit

ROOT = Path(__file__).resolve().parent.parent


def _library_script() -> str:
    text = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if b.startswith("import toolkit")]
    assert len(blocks) == 1, "docs/library.md should hold one complete script (the block that imports toolkit)"
    return blocks[0]


@pytest.mark.slow
def test_the_documented_script_runs(tmp_path):
    shutil.copytree(ROOT / "workbooks", tmp_path / "workbooks")
    script = tmp_path / "script.py"
    script.write_text(_library_script(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    roster = toolkit.load_roster(ROOT / "workbooks" / "sample-roster.csv")
    assert f"{len(roster)} templates of 政府信息公开工作年度报告统计表" in out
    assert len(list((tmp_path / "out" / "templates").glob("*.xlsx"))) == len(roster)
    summary = json.loads((tmp_path / "out" / "summary-2021.json").read_text(encoding="utf-8"))
    used = sum(1 for a in summary["agencies"] if a["used"])
    assert f"{used} returns in the totals; {len(summary['missing'])} agencies missing" in out
    assert (tmp_path / "out" / "summary-2021.xlsx").stat().st_size > 0
    assert (tmp_path / "out" / "check-report.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert "no shipped form with that id" in out.splitlines()[-1]
    # the inputs are untouched
    for p in (ROOT / "workbooks").rglob("*.xlsx"):
        assert (tmp_path / "workbooks" / p.relative_to(ROOT / "workbooks")).read_bytes() == p.read_bytes()


SURVEY = {
    "id": "club-survey", "version": "2.0.0", "title": "协会活动调查表",
    "tables": [{"id": "t", "kind": "list", "sheet": "活动", "rows": [
        {"code": "S1", "label": "举办活动次数"},
        {"code": "S2", "label": "其中：线上活动"},
        {"code": "S3", "label": "参加人数"}]}],
    "rules": [{"id": "online-part", "expr": "S2 <= S1", "message": "线上活动 {left} 不能多于活动总数 {right}"}],
}


@pytest.fixture(scope="module")
def survey_returns(tmp_path_factory):
    d = tmp_path_factory.mktemp("survey")
    forms = d / "forms"
    forms.mkdir()
    (forms / "club-survey.json").write_text(json.dumps(SURVEY, ensure_ascii=False), encoding="utf-8")
    form = toolkit.load_form(forms / "club-survey.json")
    returns = d / "returns"
    for i in range(6):
        agency = toolkit.Agency(code=f"C{i:02d}", name=f"第{i}协会")
        values = {"S1": 10 + i, "S2": 3 if i != 5 else 99, "S3": 100 * i}
        F.write(returns, f"C{i:02d}.xlsx", form, values, agency=agency)
    return forms, returns, form


@pytest.mark.parametrize("jobs", [1, 4])
def test_custom_schema_folder_reaches_the_workers(survey_returns, jobs):
    forms, returns, _ = survey_returns
    results = toolkit.check([returns], schema_dirs=[forms], jobs=jobs)
    assert [r.status for r in results] == ["valid"] * 5 + ["invalid"]
    assert [i.rule for i in results[5].errors] == ["online-part"]
    assert results[2].values["S3"] == 200


@pytest.mark.parametrize("jobs", [1, 4])
def test_custom_form_objects_reach_the_workers(survey_returns, jobs):
    _, returns, form = survey_returns
    results = toolkit.check(returns, forms=[form], jobs=jobs)
    assert [r.status for r in results] == ["valid"] * 5 + ["invalid"]
    without = toolkit.check(returns, jobs=jobs)
    assert {r.status for r in without} == {"rejected"}
    assert "club-survey" in without[0].reason("en")


def test_merge_of_a_custom_form(survey_returns):
    forms, returns, _ = survey_returns
    c = toolkit.merge([returns], schema_dirs=[forms], jobs=2)
    assert c.form.id == "club-survey"
    assert c.totals["S1"] == sum(10 + i for i in range(5))         # the invalid sixth is left out
    assert c.counts()["invalid"] == 1


def test_refusals_are_toolkit_errors_with_both_languages(tmp_path):
    with pytest.raises(toolkit.SchemaProblem) as e:
        toolkit.load_form("no-such-form")
    assert isinstance(e.value, toolkit.ToolkitError)
    assert "no-such-form" in e.value.message("en") and "\n" not in e.value.message("zh")
    with pytest.raises(toolkit.NoWorkbooks) as e2:
        toolkit.check([tmp_path])
    assert str(tmp_path) in e2.value.message("zh") and "没有找到报表文件" in e2.value.message("zh")
    bad = tmp_path / "roster.csv"
    bad.write_text("code,name\nD1,甲\nD1,乙\n", encoding="utf-8")
    with pytest.raises(toolkit.RosterProblem) as e3:
        toolkit.load_roster(bad)
    assert "第 3 行" in e3.value.message("zh") and "line 3" in e3.value.message("en")


def test_public_names_are_documented():
    for name in toolkit.__all__:
        obj = getattr(toolkit, name)
        if callable(obj) and not isinstance(obj, type):
            assert obj.__doc__, f"toolkit.{name} has no docstring"
