"""Reading filled workbooks back (toolkit.validate.check_file): the round trip and the published error.

Form A is filled with the seed report's 2017 figures, Form B with the county's published 2023
figures (tables 二 and 四); both must read back to exactly those figures. The county's table 四
shows 总计 0 where 2 + 1 = 3: in our template 总计 is a formula, so the error is reproduced by
setting the formula's cached result to 0 — and the reader must name exactly that cell.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import filled as F
from toolkit.checks import run_rules, with_computed
from toolkit.layout import layout_of
from toolkit.reader import NOT_OURS_EN
from toolkit.samples import as_inputs, header_values, random_figures
from toolkit.validate import Result, check_file

T4 = "四、行政复议和行政诉讼情况"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("check")


@pytest.fixture(scope="module")
def file_a(folder) -> Path:
    return F.filled_a(folder)


@pytest.fixture(scope="module")
def file_b(folder) -> Path:
    return F.filled_b(folder)


def indicator_values(form, r: Result) -> dict:
    return {c: v for c, v in r.values.items() if c in form.indicators}


def issue_summary(r: Result) -> list[tuple[str, str, str | None]]:
    return [(i.kind, i.severity, i.cell) for i in r.issues]


# ---------------------------------------------------------------------------- Form A, the seed

def test_form_a_seed_reads_back_exactly(file_a):
    form = F.form_a()
    r = check_file(file_a)
    assert r.status == "valid", (r.reason_en, issue_summary(r))
    assert r.issues == []
    values = indicator_values(form, r)
    assert set(values) == set(form.indicators)
    for code, want in F.SEED_2017.items():
        assert values[code] == want, code
    for code in F.SEED_BLANK:
        assert values[code] is None, f"{code} was blank and must stay blank, never 0"
    # integer counts come back as int, the 万元 amount as a number
    assert all(type(values[c]) is int for c in F.SEED_2017 if form.indicators[c].spec.type == "integer")
    assert values["A7"] == 0


def test_form_a_header_and_identity(file_a):
    r = check_file(file_a)
    assert r.values["agency_name"] == "余姚市科学技术协会"
    assert r.values["agency_code"] == "D07"
    assert r.values["filler"] == "王芳"
    assert r.values["phone"] == "0574-62718888"
    assert r.values["fill_date"] == "2018-03-29"
    ident = r.identity
    assert (ident.schema_id, ident.schema_version) == ("gov-info-disclosure-2017", "1.0.0")
    assert ident.schema_hash == F.form_a().content_hash
    assert (ident.agency_code, ident.agency_name, ident.agency_group) == ("D07", "余姚市科学技术协会", "D")
    assert ident.period == "2017"


def test_result_file_facts(file_a):
    r = check_file(file_a)
    data = file_a.read_bytes()
    assert r.file == str(file_a)
    assert r.sha256 == hashlib.sha256(data).hexdigest()
    assert r.size == len(data)
    assert r.mtime > 0
    assert r.reason_zh == r.reason_en == ""


def test_form_a_computed_totals_recomputed(file_a):
    """Computed cells are recomputed from the inputs, not taken from the file."""
    r = check_file(file_a)
    assert r.values["A8_3"] == 3          # 专职 0 + 兼职 3
    assert r.values["A3_1"] == 0


# ---------------------------------------------------------------------------- Form B, the county

def test_form_b_county_reads_back_exactly(file_b):
    form = F.form_b()
    r = check_file(file_b)
    assert r.status == "valid", (r.reason_en, issue_summary(r))
    assert r.issues == []
    values = indicator_values(form, r)
    assert set(values) == set(form.indicators)
    for code, want in F.COUNTY_INPUTS.items():
        assert values[code] == want, code
    assert values["B4.ld_keep"] == 2 and values["B4.ld_other"] == 1
    assert values["B4.ld_total"] == 3                  # the template computes 2 + 1
    assert values["B2_fee.amount"] == pytest.approx(14722.49)
    assert isinstance(values["B2_permit.count"], int) and values["B2_permit.count"] == 54408
    # every other input was left blank and stays None (never 0)
    blank_inputs = [c for c, ind in form.indicators.items() if not ind.computed and c not in F.COUNTY_INPUTS]
    assert blank_inputs and all(values[c] is None for c in blank_inputs)
    assert r.identity.agency_name == "某县人民政府办公室"
    assert r.identity.period == "2023"


def test_county_published_total_is_caught_at_its_cell(file_b, folder):
    form = F.form_b()
    where = F.cell(form, "B4.ld_total")
    assert where.sheet == T4
    a1 = F.ref(form, "B4.ld_total")
    original = F.cell_xml(file_b, T4, a1)
    assert "<f>" in original and "<v>3" in original   # a formula with the correct cached result
    published = F.set_cached(file_b, T4, a1, F.COUNTY_PUBLISHED_TOTAL, dst=folder / "county_published.xlsx")
    assert "<v>0</v>" in F.cell_xml(published, T4, a1)

    r = check_file(published)
    assert r.status == "invalid"
    assert [(i.kind, i.severity) for i in r.issues] == [("computed_mismatch", "error")]
    (issue,) = r.issues
    assert issue.code == "B4.ld_total"
    assert issue.cell == where.address
    assert issue.cell == f"{T4}!{a1}"
    assert issue.cell.endswith("!" + a1)
    assert issue.params["raw"] == "0" and issue.params["value"] == "3"
    assert "0" in issue.message("zh") and "3" in issue.message("zh")
    assert "shows 0" in issue.message("en") and "add up to 3" in issue.message("en")
    # the values themselves are the recomputed ones
    assert r.values["B4.ld_total"] == 3

    # the same figures taken as published (the total as given, not recomputed) fail t4-ld-total
    as_published = {**indicator_values(form, r), "B4.ld_total": F.COUNTY_PUBLISHED_TOTAL}
    failed = [x.instance.id for x in run_rules(form, as_published, recompute=False) if x.failed]
    assert failed == ["t4-ld-total"]


def test_total_typed_over_the_formula_is_caught(file_b, folder):
    """A clerk who unprotects the sheet and types the published 0 over the formula."""
    form = F.form_b()
    a1 = F.ref(form, "B4.ld_total")
    typed = F.set_cell(file_b, T4, a1, value=0, dst=folder / "county_typed_total.xlsx")
    r = check_file(typed)
    assert r.status == "invalid"
    assert [(i.kind, i.code, i.cell) for i in r.errors] == [("computed_mismatch", "B4.ld_total", f"{T4}!{a1}")]


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_openpyxl_resave_loses_cached_results_without_complaint(file_a, file_b, folder):
    """openpyxl drops every cached formula result; '' in computed cells is not a problem."""
    for src, form, want in ((file_a, F.form_a(), F.SEED_2017), (file_b, F.form_b(), F.COUNTY_INPUTS)):
        again = F.resave(src, dst=folder / f"resaved_{src.name}")
        r = check_file(again)
        assert r.status == "valid", (r.reason_en, issue_summary(r))
        assert r.issues == []
        values = indicator_values(form, r)
        for code, v in want.items():
            assert values[code] == v, code


# ---------------------------------------------------------------------------- blank and random

@pytest.mark.parametrize("form_id", [F.FORM_A, F.FORM_B])
def test_blank_template_only_misses_the_required_header(form_id, folder):
    form = F.form(form_id)
    path = F.write(folder, f"blank_{form_id}.xlsx", form)
    r = check_file(path)
    assert r.status == "invalid"
    required = {f.code for f in form.header if f.spec.required and not f.prefill}
    assert {(i.kind, i.code) for i in r.issues} == {("required", c) for c in required}
    lay = layout_of(form)
    assert {i.cell for i in r.issues} == {lay.field_cells[c].address for c in required}
    inputs = [c for c, ind in form.indicators.items() if not ind.computed]
    assert all(r.values[c] is None for c in inputs)


@pytest.mark.parametrize("form_id", [F.FORM_A, F.FORM_B])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_figures_round_trip(form_id, seed, folder):
    form = F.form(form_id)
    figures = random_figures(form, seed=seed)
    head = header_values(form, seed=seed)
    path = F.write(folder, f"random_{form_id}_{seed}.xlsx", form, {**as_inputs(form, figures), **head})
    r = check_file(path)
    assert r.status in ("valid", "invalid")
    assert not [i for i in r.issues if i.kind != "rule"], issue_summary(r)
    values = indicator_values(form, r)
    expected = with_computed(form, as_inputs(form, figures))
    for code in form.indicators:
        want = expected.get(code)
        if want is None:
            assert values[code] is None, code
        else:
            assert values[code] == pytest.approx(want), code
    # the rule issues agree with the rule engine
    failed = {x.instance.id for x in run_rules(form, as_inputs(form, figures)) if x.failed}
    assert {i.rule for i in r.issues} == failed
    assert r.status == ("invalid" if any(i.severity == "error" for i in r.issues) else "valid")


def test_rule_failure_is_an_issue_at_the_left_cell(folder):
    form = F.form_b()
    path = F.filled_b(folder, "b_unbalanced.xlsx", **{"B3_new.np": 5})
    r = check_file(path)
    assert r.status == "invalid"
    by_rule = {i.rule: i for i in r.issues}
    assert set(by_rule) == {"t3-balance[np]", "t3-balance[total]"}
    i = by_rule["t3-balance[np]"]
    assert (i.kind, i.severity, i.code) == ("rule", "error", "B3_new.np")
    assert i.cell == F.cell(form, "B3_new.np").address
    assert i.message("zh") == "自然人：本年新收 + 上年结转 5 ≠ 办理结果总计 + 结转下年度 0"
    assert "5" in i.message("en")


def test_a_warning_rule_keeps_the_file_valid(folder):
    path = F.filled_a(folder, "a_warning.xlsx", A1_1a=120)   # 规范性文件 120 > 主动公开 100
    r = check_file(path)
    assert r.status == "valid"
    assert [(i.kind, i.severity, i.rule) for i in r.issues] == [("rule", "warning", "A1_1a-le")]
    assert r.issues[0].cell == F.cell(F.form_a(), "A1_1a").address


# ---------------------------------------------------------------------------- not ours, unknown forms

def test_a_plain_openpyxl_workbook_is_not_ours(folder):
    r = check_file(F.plain_workbook(folder / "handmade.xlsx"))
    assert r.status == "rejected"
    assert r.reason_en == NOT_OURS_EN == "not a template generated by toolkit"
    assert r.reason("en") == "not a template generated by toolkit"
    assert "模板" in r.reason("zh")
    assert r.values == {} and r.issues == []


@pytest.mark.parametrize("key, value, fragments", [
    ("schema_id", "gov-info-disclosure-2099",
     ["unknown form", "gov-info-disclosure-2099", "gov-info-disclosure-2017", "gov-info-disclosure-2021"]),
    ("schema_version", "2.0.0", ["version 2.0.0", "gov-info-disclosure-2017", "known versions: 1.0.0"]),
])
def test_unknown_form_or_version_names_what_is_known(file_a, folder, key, value, fragments):
    path = F.set_identity(file_a, key, value, dst=folder / f"unknown_{key}.xlsx")
    r = check_file(path)
    assert r.status == "rejected"
    for frag in fragments:
        assert frag in r.reason("en")
    assert value in r.reason("zh")
    if key == "schema_version":
        assert "已知版本：1.0.0" in r.reason("zh")
    assert r.values == {}


def test_known_versions_include_a_schema_dir(file_a, folder, tmp_path):
    """With a second edition in --schema-dir, the rejection lists both versions."""
    import json

    from toolkit.registry import Registry
    doc = json.loads(Path(F.form_a().source).read_text(encoding="utf-8"))
    doc["version"] = "1.1.0"
    (tmp_path / "a-1.1.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    path = F.set_identity(file_a, "schema_version", "3.0.0", dst=folder / "unknown_v3.xlsx")
    r = check_file(path, Registry([tmp_path]))
    assert r.status == "rejected"
    assert "known versions: 1.0.0, 1.1.0" in r.reason("en")
