"""The reporting period: a return made from another period's template is rejected naming both
periods, left out of the totals and listed; the period is stated in every output."""

from __future__ import annotations

import json

import openpyxl
import pytest
from click.testing import CliRunner

import filled as F
import toolkit
from toolkit.cli import main
from toolkit.period import collection_periods


@pytest.fixture(scope="module")
def returns(tmp_path_factory):
    d = tmp_path_factory.mktemp("period")
    for code, year in (("T01", 2023), ("T02", 2023), ("T03", 2022)):
        F.write(d, f"{code}.xlsx", F.form_b(), F.county_values(), year=year, agency=toolkit.Agency(code, f"单位{code}"))
    return d


def test_check_rejects_the_minority_period(returns):
    results = toolkit.check(returns)
    assert [r.status for r in results] == ["valid", "valid", "rejected"]
    assert results[2].reason("zh") == "这是 2022 年度的报表，本次收集的是 2023 年度；请用本年度下发的模板填报"
    assert results[2].values == {} and "2022" in results[2].reason("en")
    assert collection_periods(results) == {F.FORM_B: "2023"}


def test_the_asked_period_wins(returns):
    results = toolkit.check(returns, period=2022)
    assert [r.status for r in results] == ["rejected", "rejected", "valid"]
    assert "本次收集的是 2022 年度" in results[0].reason("zh")
    assert [r.status for r in toolkit.check(returns, check_period=False)] == ["valid"] * 3


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_merge_leaves_it_out_and_says_why(returns, tmp_path):
    r = CliRunner(env={"TOOLKIT_LANG": "zh"}).invoke(main, ["merge", str(returns), "-o", str(tmp_path / "s.xlsx"),
                                                           "--json", str(tmp_path / "s.json"), "--jobs", "1"])
    assert r.exit_code == 0, r.output
    assert "2023年度3 份报表中 2 份计入合计" in r.output and "拒收 1" in r.output
    data = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert data["period"] == "2023"
    t03 = next(a for a in data["agencies"] if a["code"] == "T03")
    assert t03["status"] == "rejected" and not t03["used"] and "2022" in t03["note"]
    c = toolkit.merge(returns)
    one = toolkit.merge([returns / "T01.xlsx"])
    inputs = [i.code for i in c.form.inputs if i.spec.numeric]
    assert any(one.totals[k] for k in inputs)
    assert all(abs(c.totals[k] - 2 * one.totals[k]) < 1e-9 for k in inputs)      # T01 + T02, never T03
    wb = openpyxl.load_workbook(tmp_path / "s.xlsx", read_only=True)
    cells = [str(v) for ws in wb for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    assert any("这是 2022 年度的报表，本次收集的是 2023 年度" in v for v in cells), "listed in 报送情况"


def test_check_report_states_the_period(returns):
    r = CliRunner().invoke(main, ["--lang", "zh", "check", str(returns), "--year", "2023", "--jobs", "1"])
    assert r.exit_code == 1
    assert r.output.splitlines()[-2] == f"本次收集的报告期：{F.FORM_B} 2023"
    r = CliRunner().invoke(main, ["check", str(returns / "T01.xlsx"), "--format", "json"])
    assert json.loads(r.output)[0]["period"] == "2023"
