"""Cross-period rules (prev(code)) and last year's figures from a summary, its JSON, or returns.

Last year's returns and this year's are real workbooks built by the template writer; last year's
summary and JSON are written by the toolkit's own merge, exactly as an office keeps them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

import toolkit
from toolkit import rules as rx
from toolkit.checks import run_rules
from toolkit.layout import PREVIOUS_COL, layout_of
from toolkit.roster import Agency
from toolkit.sheets import PREV_SHEET
from toolkit.template import TemplateRequest, build_template

FORM_B = "gov-info-disclosure-2021"
COLS = ("np", "biz", "sci", "npo", "law", "other", "total")
A = Agency("D01", "市发展和改革局", "政府部门")
B = Agency("D02", "市教育局", "政府部门")
C = Agency("D03", "市财政局", "政府部门")       # reported last year, not this year
D = Agency("T01", "某街道办事处", "乡镇街道")    # new this year: no figures last year


def t3(new: dict[str, int], carry: dict[str, int], nxt: dict[str, int]) -> dict[str, float]:
    """A consistent table 三: new + carried in = handled (all 予以公开) + carried forward; totals added."""
    v: dict[str, float] = {}
    for row, part in (("B3_new", new), ("B3_carry", carry), ("B3_next", nxt)):
        for c, x in part.items():
            v[f"{row}.{c}"] = x
    for c in set(new) | set(carry) | set(nxt):
        v[f"B3_r1.{c}"] = new.get(c, 0) + carry.get(c, 0) - nxt.get(c, 0)
    for row in ("B3_new", "B3_carry", "B3_next", "B3_r1"):
        v[f"{row}.total"] = sum(x for k, x in v.items() if k.startswith(row + ".") and not k.endswith(".total"))
    # computed cells (（七）总计) are written by the template itself
    return v


def header(agency: Agency) -> dict[str, object]:
    return {"filler": "张伟", "phone": "0574-63001234", "fill_date": dt.date(2024, 1, 20)}


def write_return(folder: Path, form, agency: Agency, year: int, values: dict[str, float]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = build_template(form, TemplateRequest(agency=agency, year=year, password="pw",
                                                values={**values, **{k: v for k, v in header(agency).items() if any(f.code == k for f in form.header)}}))
    path = folder / f"{agency.code}_{year}.xlsx"
    path.write_bytes(data)
    return path


LAST = {  # last year's B3_next (carried forward to this year), per agency
    A.code: {"np": 5, "biz": 2},
    B.code: {"np": 7, "biz": 1},
    C.code: {"np": 3},
}
THIS_CARRY = {  # this year's B3_carry: A agrees; B got np and biz wrong; D has nothing to compare with
    A.code: {"np": 5, "biz": 2},
    B.code: {"np": 9, "biz": 0},
    D.code: {"np": 4},
}


@pytest.fixture(scope="module")
def years(tmp_path_factory):
    """Last year's returns, summary workbook and JSON; this year's returns."""
    root = tmp_path_factory.mktemp("years")
    form = toolkit.load_form(FORM_B)
    for ag in (A, B, C):
        write_return(root / "2022", form, ag, 2022, t3({"np": 20, "biz": 3}, {"np": 1}, LAST[ag.code]))
    for ag in (A, B, D):
        write_return(root / "2023", form, ag, 2023, t3({"np": 30, "biz": 4}, THIS_CARRY[ag.code], {"np": 2}))
    c = toolkit.merge([root / "2022"])
    toolkit.write_summary(c, root / "summary-2022.xlsx")
    toolkit.write_json(c, root / "summary-2022.json")
    return root


SOURCES = ("summary-2022.xlsx", "summary-2022.json", "2022")


@pytest.mark.parametrize("source", SOURCES)
def test_carry_over_rule_fires_for_exactly_the_differing_columns(years, source):
    prev = toolkit.load_previous(years / source)
    assert prev.form_id == FORM_B and prev.period.startswith("2022")
    assert set(prev.values) == {A.code, B.code, C.code}
    results = {r.identity.agency_code: r for r in toolkit.check([years / "2023"], previous=years / source)}
    fired = {code: sorted(i.rule for i in r.issues if i.rule and i.rule.startswith("t3-carry-over")) for code, r in results.items()}
    # B: np 9 vs 7, biz 0 vs 1, total 9 vs 8; every other column is blank last year: not applicable
    assert fired == {A.code: [], B.code: ["t3-carry-over[biz]", "t3-carry-over[np]", "t3-carry-over[total]"], D.code: []}
    msgs = {i.rule: i.message() for i in results[B.code].issues if i.rule and i.rule.startswith("t3-carry-over")}
    assert "9" in msgs["t3-carry-over[np]"] and "7" in msgs["t3-carry-over[np]"] and "自然人" in msgs["t3-carry-over[np]"]
    assert "上年结转 0" in msgs["t3-carry-over[biz]"] and "1" in msgs["t3-carry-over[biz]"]
    assert all(i.severity == "warning" for i in results[B.code].issues if i.rule and i.rule.startswith("t3-carry-over"))
    assert results[B.code].status == "valid"        # a warning: counted, with its message
    assert prev.absent(list(results.values())) == [(D.code, D.name)]


def test_without_previous_the_rule_is_not_applicable(years):
    results = toolkit.check([years / "2023"])
    assert not any(i.rule and i.rule.startswith("t3-carry-over") for r in results for i in r.issues)


def test_merge_with_previous_lists_absent_agencies_and_keeps_last_years_totals(years, tmp_path):
    c = toolkit.merge([years / "2023"], previous=years / "summary-2022.json")
    assert c.previous_absent == [(D.code, D.name)]
    assert c.previous_totals["B3_next.np"] == 15 and c.previous_totals["B3_next.biz"] == 3
    b = next(s for s in c.submissions if s.code == B.code)
    assert any(i.rule == "t3-carry-over[np]" for i in b.result.issues)
    # checking first and merging those results with previous adds the issues once, not twice
    results = toolkit.check([years / "2023"], previous=years / "2022")
    c2 = toolkit.merge(results, previous=years / "2022")
    b2 = next(s for s in c2.submissions if s.code == B.code)
    assert [i.rule for i in b2.result.issues].count("t3-carry-over[np]") == 1


def test_previous_of_another_form_or_a_later_period_is_refused(years, tmp_path):
    prev = toolkit.load_previous(years / "summary-2022.json")
    with pytest.raises(toolkit.PreviousProblem, match="gov-info-disclosure-2017"):
        prev.check_form("gov-info-disclosure-2017")
    with pytest.raises(toolkit.PreviousProblem, match="2022"):
        prev.check_form(FORM_B, "2022")
    bad = tmp_path / "x.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(toolkit.PreviousProblem, match="x.json"):
        toolkit.load_previous(bad)
    with pytest.raises(toolkit.PreviousProblem, match="nothing.xlsx"):
        toolkit.load_previous(tmp_path / "nothing.xlsx")


def test_template_prev_cells_hold_last_years_figures(years, tmp_path):
    form = toolkit.load_form(FORM_B)
    batch = toolkit.make_templates(form, tmp_path / "t", roster=[A, D], year=2023, password="pw",
                                   previous=years / "summary-2022.xlsx")
    lay = layout_of(form)
    for path, ag in zip(batch.files, (A, D)):
        wb = CalamineWorkbook.from_path(str(path))
        grid = wb.get_sheet_by_name(PREV_SHEET).to_python(skip_empty_area=False)
        cell = lay.prev_cells["B3_next.np"]
        got = grid[cell.row][cell.col] if cell.row < len(grid) and cell.col < len(grid[cell.row]) else ""
        assert got == (5.0 if ag is A else "")
    # the template still reads back: the hidden sheet is the toolkit's own
    r = toolkit.check([batch.files[0]], check_period=False)[0]
    assert r.status != "rejected", r.reason_zh


# ---------------------------------------------------------------------------- any schema

SCHEMA = {
    "id": "stock-test", "version": "1.0.0", "title": "库存测试表",
    "period": {"kind": "year", "label": "年度", "default": 2023},
    "header": [{"code": "org", "label": "填报单位", "prefill": "agency.name", "locked": True}],
    "tables": [{
        "id": "main", "kind": "list", "sheet": "统计表", "title": "库存", "previous_column": True,
        "defaults": {"type": "integer", "min": 0, "unit": "件"},
        "rows": [{"label": "期初库存", "code": "open"}, {"label": "本期增加", "code": "added"},
                 {"label": "本期减少", "code": "removed"}, {"label": "期末库存", "code": "close"},
                 {"label": "说明", "heading": True}, {"label": "人员数", "code": "staff"}],
    }],
    "rules": [
        {"id": "balance", "expr": "close == open + added - removed", "message": "期末 {left} ≠ 期初+增加−减少 {right}"},
        {"id": "open-is-last-close", "expr": "open == prev(close)", "severity": "warning",
         "message": "期初库存 {left} ≠ 上期期末库存 {right}", "message_en": "opening {left} ≠ last closing {right}"},
        {"id": "staff-kept", "expr": "if prev(staff) > 0 then staff > 0", "severity": "warning",
         "message": "上年有人员 {when_left}，本年人员数为 {left}"},
    ],
}


def test_prev_parses_renders_and_evaluates_in_one_tree():
    tree = rx.parse_rule("if prev(a) > 0 then b == prev([a]) + 1")
    assert rx.codes(tree, lambda s, e: []) == ["b"] and rx.prev_codes(tree) == ["a"]
    assert rx.to_excel(tree, lambda c: c.upper(), lambda s, e: "", lambda c: f"P_{c}") == "IF(P_a>0,B=P_a+1,TRUE)"
    assert rx.evaluate(tree.then.right, {rx.prev_key("a"): 3}, lambda s, e: []) == 4
    with pytest.raises(rx.NotApplicable):
        rx.evaluate(tree.then.right, {}, lambda s, e: [])        # blank or missing last year: n/a
    with pytest.raises(rx.ExpressionError):
        rx.parse_rule("a == prev(a:b)")
    with pytest.raises(rx.ExpressionError):
        rx.parse_rule("a == prev(a + 1)")


def test_schema_refuses_prev_in_computed_and_unknown_codes():
    doc = {**SCHEMA, "rules": [{"id": "x", "expr": "open == prev(nothing)", "message": "m"}]}
    assert any("nothing" in p.message for p in toolkit.schema.check_document(doc))
    tables = [{**SCHEMA["tables"][0], "rows": [*SCHEMA["tables"][0]["rows"][:3],
                                               {"label": "期末库存", "code": "close", "computed": "prev(close) + added"}]}]
    assert any("prev() is only allowed in rules" in p.message for p in toolkit.schema.check_document({**SCHEMA, "tables": tables, "rules": []}))
    matrix = {**SCHEMA, "tables": [{"id": "m", "kind": "matrix", "sheet": "表", "previous_column": True,
                                    "columns": [{"label": "数", "key": "n"}], "rows": [{"label": "甲", "code": "a"}]}], "rules": []}
    assert any("previous_column" in p.pointer for p in toolkit.schema.check_document(matrix))


def test_any_schema_prev_rules_and_previous_column(tmp_path):
    form = toolkit.schema.load_form(SCHEMA)
    x, y = Agency("X1", "甲单位", "g"), Agency("Y1", "乙单位", "g")
    last = {X: v for X, v in ((x, {"open": 10, "added": 5, "removed": 3, "close": 12, "staff": 4}),
                              (y, {"open": 1, "added": 1, "removed": 0, "close": 2}))}
    for ag, v in last.items():
        write_return(tmp_path / "last", form, ag, 2022, v)
    write_return(tmp_path / "now", form, x, 2023, {"open": 11, "added": 0, "removed": 0, "close": 11, "staff": 0})
    write_return(tmp_path / "now", form, y, 2023, {"open": 2, "added": 0, "removed": 0, "close": 2})
    results = {r.identity.agency_code: r for r in toolkit.check([tmp_path / "now"], forms=[form], previous=tmp_path / "last")}
    xi = {i.rule: i.message() for i in results["X1"].issues if i.rule}
    assert xi == {"open-is-last-close": "期初库存 11 ≠ 上期期末库存 12", "staff-kept": "上年有人员 4，本年人员数为 0"}
    assert not [i for i in results["Y1"].issues if i.rule]     # Y's staff was blank last year: n/a
    # the template shows last year's figures in a locked 上年数 column beside the inputs
    batch = toolkit.make_templates(form, tmp_path / "t", roster=[x], year=2023, password="pw", previous=tmp_path / "last")
    grid = CalamineWorkbook.from_path(str(batch.files[0])).get_sheet_by_name("统计表").to_python(skip_empty_area=False)
    lay = layout_of(form)
    sl = lay.sheets[0]
    head = next(t for t in sl.texts if t.text == "上年数")
    assert head.col == PREVIOUS_COL
    for code, want in (("open", 10), ("close", 12), ("staff", 4)):
        row, col = sl.previous[code]
        assert grid[row][col] == want
        assert (row, col - 1) == sl.inputs[code]       # right beside the input


def test_summary_gains_last_year_and_change_columns(tmp_path):
    """汇总 sheets: 上年 and 增减% beside every one-value-per-row table, from last year's totals."""
    form = toolkit.schema.load_form(SCHEMA)
    x, y = Agency("X1", "甲单位", "g"), Agency("Y1", "乙单位", "g")
    write_return(tmp_path / "last", form, x, 2022, {"open": 10, "added": 5, "removed": 3, "close": 12, "staff": 4})
    write_return(tmp_path / "last", form, y, 2022, {"open": 1, "added": 1, "removed": 0, "close": 2})
    write_return(tmp_path / "now", form, x, 2023, {"open": 12, "added": 3, "removed": 0, "close": 15, "staff": 5})
    write_return(tmp_path / "now", form, y, 2023, {"open": 2, "added": 0, "removed": 0, "close": 2})
    last = toolkit.merge([tmp_path / "last"], forms=[form])
    toolkit.write_summary(last, tmp_path / "last.xlsx")
    c = toolkit.merge([tmp_path / "now"], forms=[form], previous=tmp_path / "last.xlsx")
    assert c.previous_totals["close"] == 14 and c.previous_absent == []
    toolkit.write_summary(c, tmp_path / "now.xlsx")
    sl = layout_of(form).sheets[0]
    grid = CalamineWorkbook.from_path(str(tmp_path / "now.xlsx")).get_sheet_by_name("汇总·统计表").to_python(skip_empty_area=False)
    head_top = sl.table_frames["main"][0]
    # this schema has its own 上年数 column: last year's totals go there, 增减% right of the checks
    assert grid[head_top][PREVIOUS_COL] == "上年数" and grid[head_top][sl.last_col + 2] == "增减%"
    for code, now, before in (("close", 17, 14), ("staff", 5, 4), ("open", 14, 11)):
        row, col = sl.inputs[code]
        assert grid[row][col] == now and grid[row][PREVIOUS_COL] == before
        assert grid[row][sl.last_col + 2] == pytest.approx((now - before) / before)


def test_summary_of_a_form_without_a_previous_column_gains_one(years, tmp_path):
    """The 2021 form's one-column tables (行政许可 …) gain 上年 and 增减% right of the check column."""
    c = toolkit.merge([years / "2023"], previous=years / "2022")
    toolkit.write_summary(c, tmp_path / "s.xlsx")
    form = c.form
    lay = layout_of(form)
    code = "B3_new.np"      # table 三 has seven columns: no 上年 there
    sl = next(s for s in lay.sheets if any(t.id == "t2_5" for t in s.tables))
    wb = CalamineWorkbook.from_path(str(tmp_path / "s.xlsx"))
    name = next(n for n in wb.sheet_names if n.endswith(sl.name))
    grid = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    head_top = sl.table_frames["t2_5"][0]
    assert grid[head_top][sl.last_col + 1] == "上年" and grid[head_top][sl.last_col + 2] == "增减%"
    assert code in c.previous_totals


# ---------------------------------------------------------------------------- the live check in LibreOffice

def test_live_carry_over_check_in_libreoffice(lo, tmp_path):
    """LibreOffice computes the carry-over check from the hidden _prev cells exactly as Python does:
    a wrong column with both numbers, a right one ✓, a column blank last year —, and — everywhere
    in a template made without last year's figures."""
    from toolkit.formulas import a1
    from toolkit.sheets import CHECKS_SHEET, NOT_APPLICABLE_MARK, PASS_MARK

    form = toolkit.load_form(FORM_B)
    lay = layout_of(form)
    with_prev = tmp_path / "with.xlsx"
    with_prev.write_bytes(build_template(form, TemplateRequest(agency=B, year=2023, password="pw",
                                                               previous={"B3_next.np": 7, "B3_next.biz": 1, "B3_next.total": 8})))
    without = tmp_path / "without.xlsx"
    without.write_bytes(build_template(form, TemplateRequest(agency=B, year=2023, password="pw")))
    typed = {"B3_carry.np": 9, "B3_carry.biz": 1, "B3_carry.total": 10}
    ids = ("t3-carry-over[np]", "t3-carry-over[biz]", "t3-carry-over[sci]", "t3-carry-over[total]")
    cells = [a1(lay.check_rows[i], 3) for i in ids]
    ops: list[dict] = []
    for path in (with_prev, without):
        ops += [{"op": "open", "path": str(path)}]
        ops += [{"op": "set", "sheet": lay.cells[c].sheet, "cell": a1(lay.cells[c].row, lay.cells[c].col), "value": v} for c, v in typed.items()]
        ops += [{"op": "calc"}, {"op": "read", "sheet": CHECKS_SHEET, "cells": cells}, {"op": "close"}]
    results = [r for r in lo.run(ops) if isinstance(r, dict) and set(r) == set(cells)]
    live_with = [results[0][c]["string"] for c in cells]
    live_without = [results[1][c]["string"] for c in cells]
    python = {r.instance.id: r for r in run_rules(form, {**typed, rx.prev_key("B3_next.np"): 7,
                                                                        rx.prev_key("B3_next.biz"): 1, rx.prev_key("B3_next.total"): 8})}
    assert live_with == ["自然人：上年结转 9 ≠ 上年报表“结转下年度继续办理” 7", PASS_MARK, NOT_APPLICABLE_MARK,
                         "总计：上年结转 10 ≠ 上年报表“结转下年度继续办理” 8"]
    assert live_with[0] == python["t3-carry-over[np]"].message() and python["t3-carry-over[sci]"].status == "n/a"
    assert live_without == [NOT_APPLICABLE_MARK] * 4


# ---------------------------------------------------------------------------- the command line

@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_cli_check_merge_and_template_take_previous(years, tmp_path):
    from click.testing import CliRunner

    from toolkit.cli import main

    run = CliRunner()
    r = run.invoke(main, ["check", str(years / "2023"), "--previous", str(years / "summary-2022.xlsx")])
    assert r.exit_code == 0, r.output                    # warnings only: every return still valid
    assert "自然人：上年结转 9 ≠ 上年报表“结转下年度继续办理” 7" in r.stdout
    assert r.stderr.strip().endswith(f"上年数据中没有这些单位，跨年核对不适用：{D.name}（{D.code}）")
    r = run.invoke(main, ["--lang", "en", "merge", str(years / "2023"), "-o", str(tmp_path / "s.xlsx"),
                          "--previous", str(years / "summary-2022.json")])
    assert r.exit_code == 0, r.output
    assert f"no figures last year (cross-year checks not applicable): {D.code} {D.name}" in r.stderr
    roster = tmp_path / "roster.csv"
    roster.write_text(f"单位代码,单位名称\n{A.code},{A.name}\n{D.code},{D.name}\n", encoding="utf-8")
    r = run.invoke(main, ["template", FORM_B, "-o", str(tmp_path / "t"), "--roster", str(roster), "--year", "2023",
                          "--password", "pw", "--previous", str(years / "2022")])
    assert r.exit_code == 0, r.output
    r = run.invoke(main, ["check", str(years / "2023"), "--previous", str(tmp_path / "nothing.json")])
    assert r.exit_code != 0 and "nothing.json" in r.output and "Traceback" not in r.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    r = run.invoke(main, ["check", str(years / "2023"), "--previous", str(bad)])
    assert r.exit_code != 0 and "bad.json" in r.stderr and "Traceback" not in r.output


def test_an_explained_carry_over_warning_keeps_the_agencys_explanation(years, tmp_path):
    form = toolkit.load_form(FORM_B)
    values = t3({"np": 30, "biz": 4}, THIS_CARRY[B.code], {"np": 2})
    data = build_template(form, TemplateRequest(agency=B, year=2023, password="pw", values={**values, **header(B)},
                                                explanations={"t3-carry-over[np]": "上年报表结转数填报有误，已更正"}))
    (tmp_path / "b.xlsx").write_bytes(data)
    r = toolkit.check([tmp_path / "b.xlsx"], previous=years / "summary-2022.json", check_period=False)[0]
    by_rule = {i.rule: i for i in r.issues if i.rule}
    assert by_rule["t3-carry-over[np]"].explanation == "上年报表结转数填报有误，已更正"
    assert by_rule["t3-carry-over[np]"].explained and not by_rule["t3-carry-over[biz]"].explained


def test_the_checks_sheet_is_opened_only_when_its_explanation_column_holds_something(years, tmp_path, monkeypatch):
    """The column's heading is text in every template: only a typed explanation below it counts."""
    from toolkit.package import inspect_file
    from toolkit.reader import RawWorkbook

    form = toolkit.load_form(FORM_B)
    values = {**t3({"np": 30, "biz": 4}, THIS_CARRY[B.code], {"np": 2}), **header(B)}
    plain, explained = tmp_path / "plain.xlsx", tmp_path / "explained.xlsx"
    plain.write_bytes(build_template(form, TemplateRequest(agency=B, year=2023, password="pw", values=values)))
    explained.write_bytes(build_template(form, TemplateRequest(agency=B, year=2023, password="pw", values=values,
                                                               explanations={"t3-carry-over[np]": "已更正"})))
    assert inspect_file(plain).sheets["审核"].explained is False
    assert inspect_file(explained).sheets["审核"].explained is True
    opened: list[str] = []
    real_grid = RawWorkbook.grid

    def grid(self, sheet):
        opened.append(sheet)
        return real_grid(self, sheet)
    monkeypatch.setattr(RawWorkbook, "grid", grid)
    from toolkit.validate import check_file
    assert check_file(plain).prev_explanations == {} and "审核" not in opened
    assert check_file(explained).prev_explanations == {"t3-carry-over[np]": "已更正"} and "审核" in opened
