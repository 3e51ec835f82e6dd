"""Merging returns (library): what counts, the summary workbook cell by cell, duplicates, atomicity.

The expected figures are worked out here, independently of toolkit.merge: every input workbook is
re-read with openpyxl (the values its cells hold, the cached results of its formulas), the file's
status comes from toolkit.validate.check_file, and the agencies' codes come from the file names.
The summary is then opened with openpyxl and compared cell by cell: the totals of the 汇总· sheets,
the 明细 rows and subtotals, 报送情况, 问题清单 and 来源.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from merge_data import (
    AGENCIES,
    DETAIL_FIRST_ROW,
    FORM_A,
    FORM_B,
    LABEL,
    PREVIOUS,
    ROSTER,
    SAMPLES,
    Sample,
    assert_totals,
    by_file,
    close,
    csv_rows,
    detail_columns,
    expected,
    fingerprint,
    form_of,
    is_number,
    make_return,
    numeric_codes,
    sha256,
    sheet_rows,
    text,
    totals_of,
)

import toolkit.summary as summary_mod
from toolkit.consolidation import MergeError, consolidate, merge
from toolkit.export import consolidation_json
from toolkit.formulas import a1, col_letter
from toolkit.layout import layout_of
from toolkit.roster import read_roster
from toolkit.samples import random_figures
from toolkit.schema import load_form, resolve
from toolkit.summary import DETAIL_CODES, DETAIL_GROUP, DETAIL_HEAD, period_text, summary_sheet_name, write_summary
from toolkit.validate import check_file

# ---------------------------------------------------------------------------- helpers


# ---------------------------------------------------------------------------- the bundled samples


# Form B's 42 sample returns, re-read independently, take ten times Form A's 15: the quick run compares
# Form A's summary cell by cell with the same tests, the full run both.
@pytest.fixture(scope="module", params=[pytest.param(FORM_B, marks=pytest.mark.slow), FORM_A])
def sample(request, tmp_path_factory) -> Sample:
    form_id = request.param
    folder = SAMPLES[form_id]
    files = sorted(folder.glob("*.xlsx"))
    before = fingerprint(files)
    roster = read_roster(ROSTER)
    c = merge([str(folder)], roster=roster)
    out = tmp_path_factory.mktemp("summary") / f"summary-{form_id}.xlsx"
    write_summary(c, out)
    after = fingerprint(files)
    return Sample(form_id, folder, files, before, after, c, expected(form_id, files, roster), out,
                  openpyxl.load_workbook(out, data_only=True), openpyxl.load_workbook(out))


def test_sample_returns_are_what_make_samples_says(sample):
    """The cases the samples were made for: one invalid (无), one rejected, one duplicate, one stranger."""
    st = sample.exp.status
    assert st["D002_市经济和信息化局.xlsx"] == "invalid"
    assert st["D004_市科学技术局.xlsx"] == "rejected"
    assert st["D005_市公安局.xlsx"] == "duplicate"
    assert st["D005_市公安局（更正）.xlsx"] == "valid"
    assert st["X901_市某某服务中心.xlsx"] == "unknown"
    if sample.form_id == FORM_B:
        assert st["D003_市教育局.xlsx"] == "invalid"     # an accounting identity broken
    assert sample.exp.reads["D005_市公安局（更正）.xlsx"].fill_date > sample.exp.reads["D005_市公安局.xlsx"].fill_date
    # what the merge decided, file by file, is what was worked out here
    got = {Path(s.result.file).name: (s.status, s.used) for s in sample.c.submissions}
    assert got == {n: (st[n], sample.exp.used[n]) for n in st}
    assert len(sample.c.used) == {FORM_B: 37, FORM_A: 11}[sample.form_id]
    assert sample.c.counts() == sample.exp.counts()
    assert [a.code for a in sample.c.missing] == [a.code for a in sample.exp.missing]


def test_every_total_cell(sample):
    form = form_of(sample.form_id)
    lay = layout_of(form)
    detail = detail_columns(sample.values["明细"])
    last_row = DETAIL_FIRST_ROW + len(sample.files) - 1
    checked = 0
    for code in numeric_codes(form):
        cell = lay.cells[code]
        sheet = summary_sheet_name(cell.sheet)
        got = sample.values[sheet].cell(cell.row + 1, cell.col + 1).value
        assert is_number(got) and close(got, sample.exp.totals[code]), f"{sheet}!{a1(cell.row, cell.col)} {code}: {got} ≠ {sample.exp.totals[code]}"
        formula = sample.formulas[sheet].cell(cell.row + 1, cell.col + 1).value
        assert isinstance(formula, str) and formula.startswith("="), (code, formula)
        if code not in form.computed:
            # a SUMIFS over this indicator's own column of 明细, rows of every workbook, 计入汇总 = 是
            col = col_letter(detail[code])
            assert formula == (f"=SUMIFS('明细'!${col}${DETAIL_FIRST_ROW}:${col}${last_row},"
                               f"'明细'!$E${DETAIL_FIRST_ROW}:$E${last_row},\"是\")"), (code, formula)
        checked += 1
    assert checked == len(numeric_codes(form)) > 40
    # the totals the library returns are the same numbers
    for code, want in sample.exp.totals.items():
        assert close(sample.c.totals[code], want), code
    # the line under the title says how many were counted
    scope = sample.values[summary_sheet_name(lay.sheets[0].name)].cell(lay.sheets[0].period_row + 1, 1).value
    left_out = len(sample.c.submissions) - len(sample.c.used)
    assert left_out > 0
    assert scope == (f"{period_text(sample.c)}　汇总 {len(sample.c.used)} 个单位（名单共 54 个，未报送 {len(sample.exp.missing)} 个，"
                     f"另有 {left_out} 份报表未计入，见「报送情况」）")


def test_detail_rows(sample):
    form = form_of(sample.form_id)
    ws = sample.values["明细"]
    cols = detail_columns(ws)
    assert set(cols) == set(numeric_codes(form))
    rows = sheet_rows(ws, DETAIL_FIRST_ROW)
    assert len(rows) == len(sample.files)                     # one row per workbook received
    assert sorted(r[5] for r in rows) == sorted(p.name for p in sample.files)
    codes = next(ws.iter_rows(min_row=DETAIL_CODES + 1, max_row=DETAIL_CODES + 1, values_only=True))
    date_col = codes.index(next(f.code for f in form.header if f.spec.type == "date"))
    # people read Chinese headings: the form's row above, its column (or the row) below; codes stay hidden
    upper = next(ws.iter_rows(min_row=DETAIL_GROUP + 1, max_row=DETAIL_GROUP + 1, values_only=True))
    lower = next(ws.iter_rows(min_row=DETAIL_HEAD + 1, max_row=DETAIL_HEAD + 1, values_only=True))
    assert upper[1] == "单位名称" and upper[date_col] == next(f.label for f in form.header if f.spec.type == "date")
    for code, j in cols.items():
        assert lower[j] and not any(ch.isascii() and ch.isalpha() for ch in str(lower[j])), (code, lower[j])
    assert sample.values["明细"].row_dimensions[DETAIL_CODES + 1].hidden
    for row in rows:
        name = row[5]
        rd = sample.exp.reads[name]
        st = sample.exp.status[name]
        assert row[0] == rd.code
        assert row[1] == rd.name
        assert text(row[2]) == sample.exp.group_of(name)
        assert row[3] == LABEL[st], name
        assert row[4] == ("是" if sample.exp.used[name] else "否"), name
        if st == "rejected":
            assert all(row[j] is None for j in cols.values()), name
            continue
        assert row[date_col] == rd.fill_date.isoformat()
        for code, j in cols.items():
            want = rd.values[code]
            if is_number(want):
                assert close(row[j], want), (name, code, row[j], want)
            else:                                               # blank, or 无 in a number cell: left empty
                assert row[j] is None, (name, code, row[j], want)


def test_detail_subtotals(sample):
    ws = sample.values["明细"]
    cols = detail_columns(ws)
    below = list(ws.iter_rows(min_row=DETAIL_FIRST_ROW + len(sample.files) + 1, values_only=True))
    lines = {r[1]: r for r in below if r[1]}
    groups = list(dict.fromkeys(g for n in sorted(sample.exp.status) if (g := sample.exp.group_of(n))))
    assert list(lines) == [f"小计：{g}" for g in groups] + ["合计（计入汇总）"]
    for g in groups:
        for code, j in cols.items():
            want = sum(v for n, u in sample.exp.used.items() if u and sample.exp.group_of(n) == g
                       if is_number(v := sample.exp.reads[n].values[code]))
            assert close(lines[f"小计：{g}"][j], want), (g, code)
    for code, j in cols.items():
        assert close(lines["合计（计入汇总）"][j], sample.exp.totals[code]), code


def test_status_sheet(sample):
    ws = sample.values["报送情况"]
    rows = list(ws.iter_rows(min_row=1, values_only=True))
    assert rows[1][:2] == ("名单单位数", 54)
    counts = {r[0]: r[1] for r in rows[2:2 + len(LABEL)]}
    assert counts == {LABEL[k]: n for k, n in sample.exp.counts().items()}
    head = next(i for i, r in enumerate(rows) if r[0] == "单位代码")
    assert rows[head][:8] == ("单位代码", "单位名称", "分组", "状态", "文件", "错误数", "提示数", "说明")
    listed = sheet_rows(ws, head + 2)
    sent = [r for r in listed if r[4]]
    unsent = [r for r in listed if not r[4]]
    assert len(sent) == len(sample.files)
    for r in sent:
        name = r[4]
        rd, st = sample.exp.reads[name], sample.exp.status[name]
        assert (r[0], r[1], text(r[2]), r[3]) == (rd.code, rd.name, sample.exp.group_of(name), LABEL[st]), name
        assert r[5] == len(rd.result.errors) + (st == "rejected")
        assert r[6] == len(rd.result.warnings)
    # every roster agency that sent nothing, in roster order, as 未报送
    assert [(r[0], r[1], text(r[2]), r[3]) for r in unsent] == [(a.code, a.name, a.group, "未报送") for a in sample.exp.missing]
    assert len(unsent) == {FORM_B: 14, FORM_A: 41}[sample.form_id]
    notes = {r[4]: text(r[7]) for r in sent}
    assert "（更正）" in notes["D005_市公安局.xlsx"]                       # names the file that superseded it
    assert "D005_市公安局.xlsx" in notes["D005_市公安局（更正）.xlsx"]        # and the other way round
    assert "不在名单" in notes["X901_市某某服务中心.xlsx"]
    assert "未计入汇总" in notes["D002_市经济和信息化局.xlsx"]


def test_issue_list(sample):
    ws = sample.values["问题清单"]
    assert next(ws.iter_rows(min_row=2, max_row=2, values_only=True))[:9] == ("单位代码", "单位名称", "填报人", "联系电话", "位置", "级别",
                                                                             "说明", "文件", "规则")
    rows = sheet_rows(ws, 3)
    got = Counter((r[0], r[7], text(r[4]), r[5], r[6], text(r[8])) for r in rows)
    # a call list: who filled in the return and their telephone, beside each of its problems
    lay = layout_of(form_of(sample.form_id))
    for r in rows:
        rd = sample.exp.reads[r[7]]
        if rd.result.status != "rejected":
            wb = openpyxl.load_workbook(rd.path, read_only=False)
            typed = tuple(text(wb[lay.field_cells[f].sheet].cell(lay.field_cells[f].row + 1, lay.field_cells[f].col + 1).value)
                          for f in ("filler", "phone"))
            assert (text(r[2]), text(r[3])) == typed, r
    assert any(r[3] for r in rows)
    want: Counter = Counter()
    for name, rd in sample.exp.reads.items():
        r = rd.result
        if r.status == "rejected":
            want[(rd.code, name, "", "拒收", r.reason("zh"), "")] += 1
        for i in r.issues:
            want[(rd.code, name, i.cell or "", "错误" if i.severity == "error" else "提示", i.message("zh"), i.rule or "")] += 1
    assert got == want
    assert sum(got.values()) == sum(len(rd.result.issues) + (rd.result.status == "rejected") for rd in sample.exp.reads.values())
    # the 无 is named at its cell
    assert any(k[1] == "D002_市经济和信息化局.xlsx" and "无" in k[4] and k[2] for k in got)


def test_sources(sample):
    ws = sample.values["来源"]
    rows = sheet_rows(ws, 3)
    assert len(rows) == len(sample.files)
    form = form_of(sample.form_id)
    for r in rows:
        path = Path(r[0])
        assert path.parent == sample.folder
        assert r[1] == sha256(path) == sample.hashes_before[path][0]
        assert r[2] == path.stat().st_size
        st = sample.exp.status[path.name]
        assert (r[4], r[5]) == (form.id, form.version)
        assert (r[7], r[8], r[9]) == (sample.exp.reads[path.name].code, LABEL[st], "是" if sample.exp.used[path.name] else "否")


def test_inputs_never_modified(sample):
    assert sample.hashes_after == sample.hashes_before


def test_sheets_of_the_summary(sample):
    lay = layout_of(form_of(sample.form_id))
    assert sample.values.sheetnames == [summary_sheet_name(s.name) for s in lay.sheets] + ["明细", "报送情况", "问题清单", "来源", "_toolkit"]
    assert sample.values["_toolkit"].sheet_state == "veryHidden"      # the summary's identity (toolkit.rollup)


# ---------------------------------------------------------------------------- synthetic cases


def test_duplicate_later_fill_date_wins_over_file_time(tmp_path):
    form = form_of(FORM_A)
    d = tmp_path / "in"
    a = AGENCIES[0]
    later = make_return(form, d, "D001_a.xlsx", a, seed="new", fill_date=dt.date(2018, 2, 20))
    earlier = make_return(form, d, "D001_b.xlsx", a, seed="old", fill_date=dt.date(2018, 1, 20))
    other = make_return(form, d, "D002.xlsx", AGENCIES[1], seed="x")
    # the earlier-dated file is the newer file, and sorts last by name: 填报日期 still decides
    os.utime(later, (1_700_000_000, 1_700_000_000))
    os.utime(earlier, (1_700_100_000, 1_700_100_000))
    c = merge([str(d)], roster=AGENCIES, jobs=1)
    subs = by_file(c)
    assert (subs["D001_a.xlsx"].status, subs["D001_a.xlsx"].used) == ("valid", True)
    assert (subs["D001_b.xlsx"].status, subs["D001_b.xlsx"].used) == ("duplicate", False)
    assert "D001_a.xlsx" in subs["D001_b.xlsx"].note and "D001_b.xlsx" in subs["D001_a.xlsx"].note
    assert c.counts()["duplicate"] == 1
    assert_totals(c, totals_of(form, [later, other]))
    assert [a.code for a in c.missing] == ["T001"]


def test_duplicate_same_date_later_file_time_wins(tmp_path):
    form = form_of(FORM_A)
    d = tmp_path / "in"
    a = AGENCIES[0]
    day = dt.date(2018, 1, 20)
    first = make_return(form, d, "D001_a.xlsx", a, seed="first", fill_date=day)
    second = make_return(form, d, "D001_b.xlsx", a, seed="second", fill_date=day)
    for newer, older in ((first, second), (second, first)):
        os.utime(newer, (1_700_100_000, 1_700_100_000))
        os.utime(older, (1_700_000_000, 1_700_000_000))
        c = merge([str(d)], roster=AGENCIES, jobs=1)
        subs = by_file(c)
        assert subs[newer.name].used and subs[newer.name].status == "valid"
        assert subs[older.name].status == "duplicate" and not subs[older.name].used
        assert len(c.submissions) == 2                         # both listed
        assert_totals(c, totals_of(form, [newer]))


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_duplicate_shows_in_the_summary(tmp_path):
    form = form_of(FORM_A)
    d = tmp_path / "in"
    make_return(form, d, "D001_a.xlsx", AGENCIES[0], seed="a", fill_date=dt.date(2018, 1, 1))
    make_return(form, d, "D001_b.xlsx", AGENCIES[0], seed="b", fill_date=dt.date(2018, 1, 2))
    c = merge([str(d)], roster=AGENCIES, jobs=1)
    out = tmp_path / "s.xlsx"
    write_summary(c, out)
    wb = openpyxl.load_workbook(out, data_only=True)
    rows = {r[5]: r for r in sheet_rows(wb["明细"], DETAIL_FIRST_ROW)}
    assert (rows["D001_a.xlsx"][3], rows["D001_a.xlsx"][4]) == ("重复报送（未采用）", "否")
    assert (rows["D001_b.xlsx"][3], rows["D001_b.xlsx"][4]) == ("通过", "是")


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_without_roster_blank_templates_are_listed(tmp_path):
    """No roster: nobody is missing, and returns of blank templates (no agency code) are listed all the same.

    (A blank template's 填报单位 is locked yet required, so today such a return is invalid; whatever
    its status, it must be listed, and counted when invalid ones are included.)
    """
    form = form_of(FORM_A)
    d = tmp_path / "in"
    blank1 = make_return(form, d, "blank1.xlsx", None, seed=1)
    blank2 = make_return(form, d, "blank2.xlsx", None, seed=2)
    known = make_return(form, d, "D001.xlsx", AGENCIES[0], seed=3)
    c = merge([str(d)], jobs=1, include_invalid=True)
    assert c.missing == [] and c.roster is None
    assert c.counts()["missing"] == 0 and c.counts()["unknown"] == 0
    subs = by_file(c)
    assert set(subs) == {"blank1.xlsx", "blank2.xlsx", "D001.xlsx"}
    assert all(s.used for s in subs.values())
    assert subs["D001.xlsx"].code == "D001"
    assert subs["blank1.xlsx"].code != subs["blank2.xlsx"].code     # two blank templates are not one agency twice
    assert "duplicate" not in {s.status for s in subs.values()}
    assert_totals(c, totals_of(form, [blank1, blank2, known]))
    out = tmp_path / "s.xlsx"
    write_summary(c, out)
    wb = openpyxl.load_workbook(out, data_only=True)
    st = list(wb["报送情况"].iter_rows(values_only=True))
    assert st[1][:2] == ("收到文件数", 3)
    counts = {r[0]: r[1] for r in st[2:2 + len(LABEL)]}
    assert counts["未报送"] == 0 and counts["不在名单"] == 0
    head = next(i for i, r in enumerate(st) if r[0] == "单位代码")
    listed = sheet_rows(wb["报送情况"], head + 2)
    assert sorted(r[4] for r in listed) == ["D001.xlsx", "blank1.xlsx", "blank2.xlsx"]
    assert all(r[3] != "未报送" for r in listed)
    assert len(sheet_rows(wb["明细"], DETAIL_FIRST_ROW)) == 3
    sl = layout_of(form).sheets[0]
    scope = wb[summary_sheet_name(sl.name)].cell(sl.period_row + 1, 1).value
    assert scope == f"{period_text(c)}　汇总 3 个单位" and period_text(c) == f"{form.period_default}年度"


def test_blank_template_with_roster_is_not_on_it(tmp_path):
    form = form_of(FORM_A)
    d = tmp_path / "in"
    make_return(form, d, "blank.xlsx", None, seed=1)
    make_return(form, d, "D001.xlsx", AGENCIES[0], seed=3)
    c = merge([str(d)], roster=AGENCIES, jobs=1)
    subs = by_file(c)
    assert (subs["blank.xlsx"].status, subs["blank.xlsx"].used) == ("unknown", False)
    assert [a.code for a in c.missing] == ["D002", "T001"]


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_mixed_versions_refused_with_counts(tmp_path):
    doc = json.loads(resolve(FORM_A).read_text(encoding="utf-8"))
    doc["version"] = "1.1.0"
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "a-1.1.0.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    new = load_form(schemas / "a-1.1.0.json")
    d = tmp_path / "in"
    for i, a in enumerate(AGENCIES[:2]):
        make_return(new, d, f"{a.code}_new.xlsx", a, seed=i)
    for i, a in enumerate(AGENCIES):
        make_return(form_of(FORM_A), d, f"{a.code}_old.xlsx", a, seed=10 + i)
    with pytest.raises(MergeError) as e:
        merge([str(d)], schema_dirs=[str(schemas)], jobs=1)
    msg = str(e.value)
    assert f"{FORM_A} 1.0.0: 3 file(s)" in msg and f"{FORM_A} 1.1.0: 2 file(s)" in msg
    # the files of the minority edition are named, so the office knows which to set aside
    assert "D001_new.xlsx" in msg and "D002_new.xlsx" in msg and "_old.xlsx" not in msg
    # one edition alone merges
    only_new = tmp_path / "new"
    only_new.mkdir()
    for p in d.glob("*_new.xlsx"):
        p.rename(only_new / p.name)
    c = merge([str(only_new)], schema_dirs=[str(schemas)], jobs=1)
    assert (c.form.version, len(c.used)) == ("1.1.0", 2)


def test_nothing_recognised_is_refused(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    openpyxl.Workbook().save(d / "handmade.xlsx")
    (d / "fake.xlsx").write_bytes(b"<html>not a workbook</html>")
    with pytest.raises(MergeError):
        merge([str(d)], jobs=1)
    with pytest.raises(MergeError):
        merge([str(tmp_path / "empty")], jobs=1)


def test_include_invalid(tmp_path):
    form = form_of(FORM_A)
    d = tmp_path / "in"
    good = make_return(form, d, "D001.xlsx", AGENCIES[0], seed=1)
    figures = random_figures(form, seed=2)
    figures["A6"] = "约10"
    bad = make_return(form, d, "D002.xlsx", AGENCIES[1], values=figures)
    results = [check_file(p) for p in (good, bad)]
    assert [r.status for r in results] == ["valid", "invalid"]
    plain = consolidate(results, form, AGENCIES)
    assert_totals(plain, totals_of(form, [good]))
    wide = consolidate(results, form, AGENCIES, include_invalid=True)
    assert_totals(wide, totals_of(form, [good, bad]))
    s = by_file(wide)["D002.xlsx"]
    assert (s.status, s.used, s.label) == ("invalid", True, "有错误")
    assert "include-invalid" in s.note
    assert wide.totals["A6"] == plain.totals["A6"]          # 约10 counts as nothing, never as 10


def test_same_inputs_same_totals(tmp_path):
    """Twice, with a different number of workers and the paths given in another order."""
    folder = SAMPLES[FORM_A]
    files = sorted(folder.glob("*.xlsx"))
    roster = read_roster(ROSTER)
    one = consolidation_json(merge([str(p) for p in files], roster=roster, jobs=1))
    two = consolidation_json(merge([str(p) for p in reversed(files)], roster=roster, jobs=3))
    assert one["totals"] == two["totals"]
    assert one["agencies"] == two["agencies"]
    assert one["counts"] == two["counts"]
    assert one == two


# ---------------------------------------------------------------------------- atomic output

@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Any:
    form = form_of(FORM_A)
    d = tmp_path_factory.mktemp("small")
    paths = [make_return(form, d, f"{a.code}.xlsx", a, seed=i) for i, a in enumerate(AGENCIES)]
    return consolidate([check_file(p) for p in paths], form, AGENCIES)


def test_failed_write_keeps_previous_summary(tmp_path, monkeypatch, small):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "汇总.xlsx"
    target.write_bytes(PREVIOUS)

    def half_then_fail(c, path, *options):
        Path(path).write_bytes(b"PK\x03\x04 half a workbook")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(summary_mod, "_write", half_then_fail)
    with pytest.raises(OSError):
        write_summary(small, target)
    assert target.read_bytes() == PREVIOUS
    assert os.listdir(out) == ["汇总.xlsx"]


def test_failure_inside_the_writer_leaves_no_temporary_files(tmp_path, monkeypatch, small):
    """The real writer failing midway (on the issues sheet): neither the folder nor the temp dir keeps a file."""
    out = tmp_path / "out"
    out.mkdir()
    target = out / "汇总.xlsx"
    target.write_bytes(PREVIOUS)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))

    def boom(*a, **k):
        raise RuntimeError("midway")

    monkeypatch.setattr(summary_mod, "_write_issues", boom)
    with pytest.raises(RuntimeError):
        write_summary(small, target)
    assert target.read_bytes() == PREVIOUS
    assert os.listdir(out) == ["汇总.xlsx"]
    assert os.listdir(private_tmp) == []           # xlsxwriter's constant-memory row files too


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_write_replaces_previous_summary(tmp_path, small):
    target = tmp_path / "汇总.xlsx"
    target.write_bytes(PREVIOUS)
    write_summary(small, target)
    assert openpyxl.load_workbook(target).sheetnames[-2:] == ["来源", "_toolkit"]
    assert os.listdir(tmp_path) == ["汇总.xlsx"]


# ---------------------------------------------------------------------------- the CSV in either language


@pytest.mark.parametrize("lang,codes", [("zh", False), ("en", False), ("zh", True), ("en", True)])
def test_csv_headings_and_statuses_in_the_chosen_language(sample, tmp_path, lang, codes):
    from toolkit.export import write_csv
    form = form_of(sample.form_id)
    path = tmp_path / "d.csv"
    write_csv(sample.c, path, lang=lang, codes=codes)
    rows = csv_rows(path)
    head, body, total = rows[0], rows[1:-1], rows[-1]
    numeric = numeric_codes(form)
    want_head = {("zh", False): ["单位代码", "单位名称", "分组", "状态", "计入汇总", "文件"],
                 ("en", False): ["agency code", "agency name", "group", "status", "counted", "file"]}.get(
        (lang, codes), ["agency_code", "agency_name", "group", "status", "used", "file"])
    assert head[:6] == want_head
    assert head[6:] == (numeric if codes else [form.indicators[c].label for c in numeric])
    assert total[0] == ("TOTAL" if codes else "合计" if lang == "zh" else "total")
    by_file = {r[5]: r for r in body}
    assert len(by_file) == len(sample.files)
    english = {"valid": "valid", "warnings": "valid (with warnings)", "invalid": "has errors", "rejected": "rejected",
               "duplicate": "sent twice (not used)", "unknown": "not on the roster"}
    for name, st in sample.exp.status.items():
        r = by_file[name]
        assert r[3] == (st if codes else LABEL[st] if lang == "zh" else english[st]), (name, r[3])
        used = sample.exp.used[name]
        assert r[4] == (("yes" if used else "no") if codes or lang == "en" else ("是" if used else "否"))
    if not codes and lang == "en":
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in "".join(head[:6]) + "".join(r[3] for r in body))
