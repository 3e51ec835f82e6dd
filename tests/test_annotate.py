"""退回 and 催报: annotated copies read back exactly as the return they were made from, fixed in
LibreOffice as a clerk would they read back valid with the warning explained, a rejected file gets
a notice, and the 催报 list of the bundled sample names exactly who still owes a usable return."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import filled as F
import toolkit
from toolkit.annotate import COPY_SUFFIX, LIST_NAME, NOTICE_SUFFIX, Office, annotate
from toolkit.cli import main
from toolkit.formulas import a1
from toolkit.layout import EXPLANATION_COL, layout_of
from toolkit.sheets import RETURN_SHEET
from toolkit.remind import reminders, reminders_csv

ROOT = Path(__file__).resolve().parent.parent
ROSTER = ROOT / "workbooks" / "sample-roster.csv"
RETURNS = ROOT / "workbooks" / "returns-2021"
OFFICE = Office(contact="市政务公开办 王老师 0574-12345678", deadline="2024年2月10日")
WARNING_RULE = "A1_1a-le"          # 其中：规范性文件 ≤ 主动公开总数, a warning of Form A


def _issues(r: toolkit.Result) -> list[tuple]:
    return [(i.kind, i.severity, i.cell, i.rule, i.message("zh"), i.explanation) for i in r.issues]


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Path:
    """A Form A return with an error (text in a number cell), a rule warning, a normalised number
    and a formula typed into an input cell."""
    d = tmp_path_factory.mktemp("planted")
    src = F.filled_a(d / "src", "D07_科协.xlsx", A6="无", A1_1a=150, A9_3="１２")
    cell = F.cell(F.form_a(), "A7")
    (d / "returns").mkdir()
    return F.set_cell(src, cell.sheet, a1(cell.row, cell.col), formula="2+3", value=5, dst=d / "returns" / "D07_科协.xlsx")


@pytest.fixture(scope="module")
def annotated(planted, tmp_path_factory):
    out = tmp_path_factory.mktemp("back")
    [original] = toolkit.check([planted])
    done = annotate([original], out, office=OFFICE, password="pw")
    return original, done, out


def test_the_planted_return_has_every_kind_of_problem(annotated):
    original, _, _ = annotated
    kinds = {(i.kind, i.severity) for i in original.issues}
    assert {("not_a_number", "error"), ("rule", "warning"), ("normalised", "warning"), ("formula_cached", "warning")} <= kinds
    assert original.status == "invalid"


def test_the_copy_reads_back_with_the_same_figures_and_problems(annotated):
    original, [a], out = annotated
    assert a.kind == "copy" and a.path == out / ("D07_余姚市科学技术协会" + COPY_SUFFIX)
    [back] = toolkit.check([a.path])
    assert back.values == original.values
    assert _issues(back) == _issues(original)
    assert back.status == original.status == "invalid"
    o, b = original.identity, back.identity
    assert (b.schema_id, b.schema_version, b.agency_code, b.agency_name, b.period) == \
           (o.schema_id, o.schema_version, o.agency_code, o.agency_name, o.period)
    assert b.template_id != o.template_id and b.revision_of == o.template_id == "0" * 32
    assert a.template_id == b.template_id


def test_the_copy_marks_every_problem_and_lists_it_first(annotated):
    original, [a], _ = annotated
    wb = openpyxl.load_workbook(a.path)
    assert wb.sheetnames[0] == RETURN_SHEET and wb.active.title == RETURN_SHEET
    cover = wb[RETURN_SHEET]
    text = "\n".join(str(c.value) for row in cover.iter_rows() for c in row if c.value)
    assert "余姚市科学技术协会" in text and "发现错误 1 个、提示 3 个" in text
    assert OFFICE.contact in text and OFFICE.deadline in text
    links = {c.hyperlink.location for row in cover.iter_rows() for c in row if c.hyperlink}
    form = F.form_a()
    lay = layout_of(form)
    for issue in original.issues:
        cell = lay.cells[issue.code]
        assert f"'{cell.sheet}'!{a1(cell.row, cell.col)}" in links or f"{cell.sheet}!{a1(cell.row, cell.col)}" in links
        comment = wb[cell.sheet][a1(cell.row, cell.col)].comment
        assert comment is not None and issue.message("zh") in comment.text
    # marked cells stay the agency's to edit, and the sheets stay protected
    ws = wb[lay.cells["A6"].sheet]
    assert not ws[a1(lay.cells["A6"].row, lay.cells["A6"].col)].protection.locked and ws.protection.sheet


def test_a_rejected_file_gets_a_notice(tmp_path):
    bad = F.plain_workbook(tmp_path / "handmade.xlsx")
    [r] = toolkit.check([bad])
    assert r.status == "rejected"
    [a] = annotate([r], tmp_path / "out", office=OFFICE)
    assert a.kind == "notice" and a.path.name == "handmade" + NOTICE_SUFFIX
    ws = openpyxl.load_workbook(a.path).active
    text = "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
    assert "报表退回通知" in text and r.reason("zh") in text and OFFICE.deadline in text
    listing = list(csv.reader(io.StringIO((tmp_path / "out" / LIST_NAME).read_text(encoding="utf-8-sig"))))
    assert listing[1][0] == "handmade.xlsx" and listing[1][3] == "拒收" and listing[1][6] == a.path.name


def test_a_clean_return_gets_nothing(tmp_path):
    good = F.filled_a(tmp_path / "in", "good.xlsx")
    done = annotate(toolkit.check([good]), tmp_path / "out")
    assert [a.kind for a in done] == [""] and not list((tmp_path / "out").glob("*.xlsx"))


def test_an_error_cannot_be_made_explainable(tmp_path):
    import json
    doc = json.loads((ROOT / "toolkit" / "forms" / "gov-info-disclosure-2017.json").read_text(encoding="utf-8"))
    rule = next(r for r in doc["rules"] if r.get("severity", "error") == "error")
    rule["explainable"] = True
    p = tmp_path / "f.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(toolkit.SchemaError) as e:
        toolkit.load_form(p)
    assert any("explainable" in p.pointer for p in e.value.problems)


@pytest.mark.slow
def test_fixed_and_explained_in_libreoffice_it_reads_back_valid(annotated, lo, tmp_path):
    original, [a], _ = annotated
    form = F.form_a()
    lay = layout_of(form)
    a6 = lay.cells["A6"]
    explain_at = a1(lay.check_rows[WARNING_RULE], EXPLANATION_COL)
    fixed = tmp_path / "fixed.xlsx"
    lo.run([{"op": "open", "path": str(a.path)},
            {"op": "keys", "sheet": a6.sheet, "cell": a1(a6.row, a6.col), "text": "0"},
            {"op": "keys", "sheet": "审核", "cell": explain_at, "text": "本年集中清理，规范性文件另行统计"},
            {"op": "save", "path": str(fixed), "format": "xlsx"},
            {"op": "close"}])
    [back] = toolkit.check([fixed])
    assert back.status == "valid", [i.message() for i in back.errors]
    assert back.values["A6"] == 0 and back.values["A1_1a"] == original.values["A1_1a"] == 150
    [warned] = [i for i in back.issues if i.rule == WARNING_RULE]
    assert warned.explained and warned.explanation == "本年集中清理，规范性文件另行统计"
    report = toolkit.write_report([back])
    assert "提示（已说明）" in report and "说明：本年集中清理" in report
    # an error stays an error even with text in the explanation column: it has no such cell
    assert not [i for i in back.issues if i.severity == "error"]


def test_the_sample_reminder_list_names_exactly_who_owes_a_usable_return():
    c = toolkit.merge(RETURNS, roster=ROSTER)
    rems = reminders(c, deadline="2024年2月10日", office_contact="0574-12345678")
    roster = {a.code: a for a in toolkit.load_roster(ROSTER)}
    usable = {s.code for s in c.submissions if s.status in ("valid", "warnings")}
    want = {code for code in roster if code not in usable}
    assert {r.agency.code for r in rems} == want
    by_status = {r.agency.code: r.status for r in rems}
    assert {a.code for a in c.missing} == {k for k, v in by_status.items() if v == "missing"}
    assert {s.code for s in c.submissions if s.status == "rejected" and s.code in roster} == \
           {k for k, v in by_status.items() if v == "rejected"}
    assert {s.code for s in c.submissions if s.status == "invalid"} == {k for k, v in by_status.items() if v == "invalid"}
    for r in rems:
        a = roster[r.agency.code]
        assert (r.agency.contact, r.agency.phone, r.agency.email) == (a.contact, a.phone, a.email) and a.phone
        assert r.message.startswith(f"{a.name}：您好！") and "2024年2月10日" in r.message
    rows = list(csv.reader(io.StringIO(reminders_csv(rems).lstrip("\ufeff"))))
    assert rows[0][:5] == ["序号", "单位代码", "单位名称", "分组", "情况"] and len(rows) == len(rems) + 1


@pytest.mark.slow          # a speed comparison: merge, annotate and merge again over all 42 sample returns
def test_merge_writes_copies_and_reminders_and_annotating_is_not_slower(tmp_path):
    runner = CliRunner(env={"TOOLKIT_LANG": "zh"})
    t = time.perf_counter()
    r = runner.invoke(main, ["merge", str(RETURNS), "--roster", str(ROSTER), "-o", str(tmp_path / "s.xlsx")])
    merge_time = time.perf_counter() - t
    assert r.exit_code == 0, r.output
    t = time.perf_counter()
    r = runner.invoke(main, ["annotate", str(RETURNS), "-o", str(tmp_path / "back"), "--deadline", "2月10日"])
    annotate_time = time.perf_counter() - t
    assert r.exit_code == 0, r.output
    assert "已写出退回工作簿 2 份、退回通知 1 份" in r.output
    print(f"merge {merge_time:.2f} s, annotate {annotate_time:.2f} s")
    assert annotate_time <= max(2 * merge_time, merge_time + 1.0)
    r = runner.invoke(main, ["merge", str(RETURNS), "--roster", str(ROSTER), "-o", str(tmp_path / "s2.xlsx"),
                             "--annotate", str(tmp_path / "back2"), "--remind", str(tmp_path / "催报清单.xlsx")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "back2").iterdir()) == sorted(p.name for p in (tmp_path / "back").iterdir())
    wb = openpyxl.load_workbook(tmp_path / "催报清单.xlsx")
    ws = wb.active
    assert ws.title == "催报清单" and "个单位需要催报" in str(ws["A2"].value)
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$4:$4"
    r = runner.invoke(main, ["remind", str(ROSTER), "-o", str(tmp_path / "r.xlsx")])
    assert r.exit_code == 2 and "没有找到报表文件" in r.output
