"""The two official forms checked with real published figures (toolkit.checks.run_rules).

Form A: the 2017 report of 余姚市科学技术协会 (the seed report, shared/seeds/000_e8679f21ee1bfb3a.txt).
Form B: the figures quoted in shared/reference/formats.md — a county's 2023 report (whose table 四
has 未经复议直接起诉 结果维持 2, 其他结果 1 but 总计 0) and a city's 2019 report (859 + 18 = 805 + 72).
"""

from __future__ import annotations

import pytest
from official_figures import COUNTY_2023, SEED_2017, SEED_BLANK

from toolkit import rules as rx
from toolkit.checks import failures, run_rules
from toolkit.schema import load_form, resolve


@pytest.fixture(scope="module")
def form_a():
    return load_form(resolve("gov-info-disclosure-2017"))


@pytest.fixture(scope="module")
def form_b():
    return load_form(resolve("gov-info-disclosure-2021"))


def by_id(results):
    return {r.instance.id: r for r in results}


# ---------------------------------------------------------------------------- Form A


def test_seed_covers_form_a(form_a):
    assert set(SEED_2017) | SEED_BLANK == set(form_a.indicators)
    assert not set(SEED_2017) & SEED_BLANK


@pytest.mark.parametrize("recompute", [True, False])
def test_form_a_seed_is_consistent(form_a, recompute):
    results = run_rules(form_a, SEED_2017, recompute=recompute)
    assert len(results) == 11
    failed_errors = {r.instance.id for r in results if r.failed and r.instance.severity == "error"}
    failed_warnings = {r.instance.id for r in results if r.failed and r.instance.severity == "warning"}
    assert failed_errors == set()
    assert failed_warnings == set()  # the seed's figures raise no warning either
    assert {r.status for r in results} == {"pass"}
    res = by_id(results)
    assert (res["A8_3-sum"].left, res["A8_3-sum"].right) == (3, 3)
    assert (res["A1_1a-le"].left, res["A1_1a-le"].right) == (33, 100)


def test_form_a_catches_a_wrong_total_as_given(form_a):
    wrong = {**SEED_2017, "A8_3": 4}
    assert [r.instance.id for r in failures(form_a, wrong, recompute=False)] == ["A8_3-sum"]
    (fail,) = failures(form_a, wrong, recompute=False)
    assert fail.message() == "从事政府信息公开工作人员数 4 ≠ 专职人员数与兼职人员数之和 3"
    assert failures(form_a, wrong) == []  # recomputed, the total is 3 again


def test_form_a_warning(form_a):
    results = failures(form_a, {**SEED_2017, "A1_1a": 120})
    assert [(r.instance.id, r.instance.severity) for r in results] == [("A1_1a-le", "warning")]
    assert results[0].message() == "主动公开规范性文件数 120 大于 主动公开政府信息数 100"


# ---------------------------------------------------------------------------- Form B


def test_county_2023_catches_the_published_total(form_b):
    assert set(COUNTY_2023) <= set(form_b.indicators)
    results = run_rules(form_b, COUNTY_2023, recompute=False)  # the published totals taken as given
    failed = [r for r in results if r.failed]
    assert [r.instance.id for r in failed] == ["t4-ld-total"]
    (ld,) = failed
    assert ld.instance.severity == "error"
    assert (ld.left, ld.right) == (0, 3)
    msg = ld.message()
    assert "0" in msg and "3" in msg
    assert msg == "行政诉讼（未经复议直接起诉）：总计 0 ≠ 结果维持、结果纠正、其他结果、尚未审结之和 3"
    assert ld.message("en") == "Lawsuits filed directly: total 0 ≠ upheld + corrected + other + pending 3"
    # everything else holds (blank counts as 0); the cross-year checks need last year's figures
    assert {r.status for r in results if r is not ld and not r.instance.prev_reads} == {"pass"}
    assert {r.status for r in results if r.instance.prev_reads} == {"n/a"}


def test_county_2023_recomputed_total_is_consistent(form_b):
    """In the template 总计 is a formula: recomputed from the inputs it is 3 and nothing fails."""
    assert failures(form_b, COUNTY_2023) == []


# A city government office, 2019 report: 新收 by applicant, 上年结转 / （七）总计 / 结转下年度 in 总计 only.
CITY_2019 = {
    "B3_new.np": 821, "B3_new.biz": 35, "B3_new.law": 2, "B3_new.other": 1, "B3_new.total": 859,
    "B3_carry.total": 18,
    "B3_r7.total": 805,
    "B3_next.total": 72,
}


def test_city_2019_balance_of_the_total_column(form_b):
    res = by_id(run_rules(form_b, CITY_2019, recompute=False))
    balance = res["t3-balance[total]"]
    assert balance.status == "pass"
    assert (balance.left, balance.right) == (859 + 18, 805 + 72) == (877, 877)
    assert res["t3-row-total[B3_new]"].status == "pass"  # 821 + 35 + 2 + 1 = 859
    assert (res["t3-row-total[B3_new]"].left, res["t3-row-total[B3_new]"].right) == (859, 859)
    # the detail rows were not published, so the per-column checks of 自然人 cannot balance
    assert res["t3-balance[np]"].status == "fail"
    assert res["t3-balance[np]"].message().startswith("自然人：本年新收 + 上年结转 821 ≠")


def test_city_2019_balance_fails_when_a_figure_is_off(form_b):
    res = by_id(run_rules(form_b, {**CITY_2019, "B3_next.total": 71}, recompute=False))
    bal = res["t3-balance[total]"]
    assert bal.failed
    assert bal.message() == "总计：本年新收 + 上年结转 877 ≠ 办理结果总计 + 结转下年度 876"


T3_KEYS = ["np", "biz", "sci", "npo", "law", "other", "total"]
T3_LABELS = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]


def test_per_column_rule_expanded_to_every_column(form_b):
    for rule_id in ("t3-balance", "t3-results-total"):
        insts = [i for i in form_b.instances if i.rule.id == rule_id]
        assert [i.id for i in insts] == [f"{rule_id}[{k}]" for k in T3_KEYS]
        assert [i.key for i in insts] == T3_KEYS
        assert [i.place_label for i in insts] == T3_LABELS
    balance = {i.key: i for i in form_b.instances if i.rule.id == "t3-balance"}
    for k in T3_KEYS:
        assert balance[k].tree == rx.parse(f"B3_new.{k} + B3_carry.{k} == B3_r7.{k} + B3_next.{k}")
        assert balance[k].reads == (f"B3_new.{k}", f"B3_carry.{k}", f"B3_r7.{k}", f"B3_next.{k}")
    results_total = {i.key: i for i in form_b.instances if i.rule.id == "t3-results-total"}
    reads = results_total["np"].reads
    assert reads[0] == "B3_r7.np" and len(reads) == 1 + 2 + 8 + 3 + 5 + 3  # （一）（二） and the sub-items of （三）…（六）
    assert all(c.endswith(".np") for c in reads)


def test_per_row_rule_expanded_to_every_row(form_b):
    insts = [i for i in form_b.instances if i.rule.id == "t3-row-total"]
    rows = [r.code for r in form_b.table("t3").rows if not r.heading]
    assert len(rows) == 25
    assert [i.id for i in insts] == [f"t3-row-total[{c}]" for c in rows]
    assert insts[0].place_label == "一、本年新收政府信息公开申请数量"
