"""Tampered templates: a moved row makes every value wrong, so structural tampering means *rejected*.

Each workbook here is a correctly filled template changed the way a clerk (or a script) changes
it — with openpyxl, which also drops every cached formula result, or by editing the zip package.
A rejection must say in one line what was found where; a tampering that cannot move a value
(reordered sheets, removed protection) is a warning and the values are still read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import filled as F
from toolkit.formulas import a1
from toolkit.layout import layout_of
from toolkit.sheets import IDENTITY_SHEET
from toolkit.reader import NOT_OURS_EN, NOT_OURS_ZH
from toolkit.validate import check_file

SHEET_A = "统计表"
SHEET_B3 = "三、收到和处理申请情况"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tamper")


@pytest.fixture(scope="module")
def file_a(folder) -> Path:
    path = F.filled_a(folder, "a.xlsx")
    assert check_file(path).status == "valid"
    return path


@pytest.fixture(scope="module")
def file_b(folder) -> Path:
    path = F.filled_b(folder, "b.xlsx")
    assert check_file(path).status == "valid"
    return path


def rejected(path: Path):
    r = check_file(path)
    assert r.status == "rejected", (r.status, [(i.kind, i.cell) for i in r.issues])
    assert r.reason_zh and r.reason_en
    assert "\n" not in r.reason_zh and "\n" not in r.reason_en
    assert r.values == {}
    return r


def label_row(form, code: str) -> int:
    """1-based row of an indicator's label (the row a clerk sees in Excel)."""
    return F.cell(form, code).row + 1


def label_of(form, code: str) -> str:
    ind = form.indicators[code]
    return form.table(ind.table).rows[ind.row].label


# ---------------------------------------------------------------------------- rows and columns

def test_inserted_row_names_the_row(file_a, folder):
    form = F.form_a()
    row = label_row(form, "A4_1")
    r = rejected(F.insert_row(file_a, SHEET_A, row, dst=folder / "a_inserted.xlsx"))
    en, zh = r.reason("en"), r.reason("zh")
    assert f"{SHEET_A}!A{row}" in en
    assert f"row {row}" in en
    assert repr(label_of(form, "A4_1")) in en and "found ''" in en
    assert f"now on row {row + 1}" in en and "inserted or deleted" in en
    assert f"第 {row} 行" in zh and f"第 {row + 1} 行" in zh
    # who sent it is still known, for the office's list
    assert r.identity is not None and r.identity.agency_code == "D07"


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_inserted_row_in_a_matrix(file_b, folder):
    form = F.form_b()
    row = label_row(form, "B3_r1.np")
    r = rejected(F.insert_row(file_b, SHEET_B3, row, dst=folder / "b_inserted.xlsx"))
    assert f"{SHEET_B3}!A{row}" in r.reason("en")
    assert f"now on row {row + 1}" in r.reason("en")
    assert label_of(form, "B3_r1.np") in r.reason("en")


def test_deleted_row_names_the_row_and_both_labels(file_a, folder):
    form = F.form_a()
    row = label_row(form, "A4_1")
    r = rejected(F.delete_row(file_a, SHEET_A, row, dst=folder / "a_deleted.xlsx"))
    en = r.reason("en")
    assert f"row {row}" in en
    assert f"expected {label_of(form, 'A4_1')!r}" in en
    assert f"found {label_of(form, 'A4_2')!r}" in en     # the next row moved up
    assert label_of(form, "A4_1") in r.reason("zh") and label_of(form, "A4_2") in r.reason("zh")


def test_deleted_blank_row_shows_where_the_label_went(file_a, folder):
    """Deleting the empty row above the table moves every label up by one."""
    sl = layout_of(F.form_a()).sheets[0]
    blank = max(r for r, _, _ in sl.fields.values()) + 1          # 0-based, the row after the header
    assert not [t for t in sl.texts if t.row == blank]
    first = min(t.row for t in sl.texts if t.row > blank)
    r = rejected(F.delete_row(file_a, SHEET_A, blank + 1, dst=folder / "a_deleted_blank.xlsx"))
    assert f"row {first + 1}:" in r.reason("en")
    assert f"now on row {first}" in r.reason("en")


def test_inserted_column(file_a, folder):
    r = rejected(F.edit(file_a, lambda wb: wb[SHEET_A].insert_cols(2), dst=folder / "a_inscol.xlsx"))
    assert "单位" in r.reason("en") and "found ''" in r.reason("en")


def test_inserted_row_at_the_top(file_b, folder):
    r = rejected(F.insert_row(file_b, "二、主动公开情况", 1, dst=folder / "b_top.xlsx"))
    assert F.form_b().title in r.reason("en")


# ---------------------------------------------------------------------------- texts

def test_edited_label_names_expected_and_found(file_a, folder):
    form = F.form_a()
    row = label_row(form, "A6")
    r = rejected(F.set_text(file_a, SHEET_A, f"A{row}", "六、举报数量", dst=folder / "a_label.xlsx"))
    en, zh = r.reason("en"), r.reason("zh")
    assert f"{SHEET_A}!A{row}" in en
    assert f"expected {label_of(form, 'A6')!r}" in en and "found '六、举报数量'" in en
    assert label_of(form, "A6") in zh and "六、举报数量" in zh and f"第 {row} 行" in zh


def test_edited_unit(file_a, folder):
    form = F.form_a()
    row = label_row(form, "A7")
    r = rejected(F.set_text(file_a, SHEET_A, f"B{row}", "元", dst=folder / "a_unit.xlsx"))
    assert "'万元'" in r.reason("en") and "'元'" in r.reason("en")


def test_edited_column_heading(file_b, folder):
    form = F.form_b()
    c = F.cell(form, "B3_new.np")
    head_row = next(t.row for t in layout_of(form).sheets[1].texts if t.text == "自然人")
    r = rejected(F.set_text(file_b, SHEET_B3, a1(head_row, c.col), "个人", dst=folder / "b_heading.xlsx"))
    assert "'自然人'" in r.reason("en") and "'个人'" in r.reason("en")


def test_edited_period(file_a, folder):
    period_cell = a1(layout_of(F.form_a()).sheets[0].period_row, 0)
    r = rejected(F.set_text(file_a, SHEET_A, period_cell, "（2018年度）", dst=folder / "a_period.xlsx"))
    assert "2017" in r.reason("en") and "2018" in r.reason("en")
    assert "报告期" in r.reason("zh")


# ---------------------------------------------------------------------------- sheets

def test_renamed_sheet_names_both_names(file_a, folder):
    r = rejected(F.rename_sheet(file_a, SHEET_A, "统计表(1)", dst=folder / "a_renamed.xlsx"))
    assert f"{SHEET_A!r} is missing" in r.reason("en")
    assert "统计表(1)" in r.reason("en")
    assert f"「{SHEET_A}」" in r.reason("zh") and "统计表(1)" in r.reason("zh")


def test_renamed_sheet_of_form_b(file_b, folder):
    r = rejected(F.rename_sheet(file_b, SHEET_B3, "三", dst=folder / "b_renamed.xlsx"))
    assert SHEET_B3 in r.reason("en") and "'三'" in r.reason("en")


def test_added_sheet_is_named(file_a, folder):
    r = rejected(F.add_sheet(file_a, "我的计算", dst=folder / "a_added.xlsx"))
    assert "我的计算" in r.reason("en") and "我的计算" in r.reason("zh")


def test_reordered_sheets_are_a_warning_only(file_b, folder):
    """Values are read by sheet name, so a new order moves nothing: a warning, values kept."""
    path = F.reorder_sheets(file_b, dst=folder / "b_reordered.xlsx")
    r = check_file(path)
    assert r.status == "valid"
    assert [(i.kind, i.severity) for i in r.issues] == [("sheet_order", "warning")]
    assert r.values["B4.ld_keep"] == 2 and r.values["B4.ld_total"] == 3


# ---------------------------------------------------------------------------- identity

def test_no_identity_at_all_is_not_ours(file_a, folder):
    r = rejected(F.remove_identity(file_a, dst=folder / "a_noid.xlsx"))
    assert r.reason("en") == NOT_OURS_EN == "not a template generated by toolkit"
    assert r.reason("zh") == NOT_OURS_ZH


@pytest.mark.parametrize("keep", ["sheet", "properties"])
def test_one_identity_copy_is_enough(file_a, folder, keep):
    """Spreadsheet programs mangle one copy or the other; the survivor identifies the template."""
    path = F.remove_identity(file_a, sheet=keep != "sheet", properties=keep != "properties", dst=folder / f"a_only_{keep}.xlsx")
    r = check_file(path)
    assert r.status == "valid", r.reason_en
    assert r.identity.agency_code == "D07"
    assert r.values["A1_1"] == 100


def test_properties_part_dropped_from_the_package_keeps_the_sheet_copy(file_a, folder):
    path = F.drop_part(file_a, "docProps/custom.xml", dst=folder / "a_noprops_zip.xlsx")
    r = check_file(path)
    assert r.status == "valid"
    assert r.identity.schema_id == F.FORM_A


@pytest.mark.parametrize("where", [("sheet",), ("properties",)])
def test_identity_altered_in_one_copy(file_a, folder, where):
    path = F.set_identity(file_a, "agency_code", "D99", where=where, dst=folder / f"a_id_{where[0]}.xlsx")
    r = rejected(path)
    assert "identity was altered" in r.reason("en") and "agency_code" in r.reason("en")
    assert "D07" in r.reason("zh") and "D99" in r.reason("zh")


def test_identity_format_altered(file_a, folder):
    r = rejected(F.set_identity(file_a, "format", "other-tool/2", dst=folder / "a_format.xlsx"))
    assert "incomplete or altered" in r.reason("en")


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_changed_schema_hash(file_a, folder):
    r = rejected(F.set_identity(file_a, "schema_hash", "0" * 64, dst=folder / "a_hash.xlsx"))
    assert "schema hash differs" in r.reason("en")
    assert F.FORM_A in r.reason("en") and "1.0.0" in r.reason("en")


def test_different_schema_version(file_b, folder):
    r = rejected(F.set_identity(file_b, "schema_version", "0.9.0", dst=folder / "b_version.xlsx"))
    assert "version 0.9.0" in r.reason("en") and "known versions: 1.0.0" in r.reason("en")


def test_period_in_identity_disagrees_with_the_sheet(file_a, folder):
    r = rejected(F.set_identity(file_a, "period", "2018", dst=folder / "a_id_period.xlsx"))
    assert "2018" in r.reason("en") and "2017" in r.reason("en")


def test_visible_identity_sheet_is_a_warning(file_a, folder):
    def show(wb):
        wb[IDENTITY_SHEET].sheet_state = "visible"
    r = check_file(F.edit(file_a, show, dst=folder / "a_visible_id.xlsx"))
    assert r.status == "valid"
    assert [i.kind for i in r.issues] == ["identity_hidden"]


def test_prefilled_agency_name_overwritten(file_a, folder):
    """The locked 填报单位 says who reports; changed (after unprotecting), it contradicts the identity."""
    form = F.form_a()
    path = F.set_text(file_a, SHEET_A, F.ref(form, "agency_name"), "余姚市科协（代填）", dst=folder / "a_agency.xlsx")
    r = check_file(path)
    assert r.status == "invalid"
    (issue,) = r.errors
    assert issue.kind == "prefill_altered" and issue.code == "agency_name"
    assert issue.cell == F.cell(form, "agency_name").address
    assert "余姚市科学技术协会" in issue.message("zh") and "余姚市科协（代填）" in issue.message("zh")


# ---------------------------------------------------------------------------- protection and merges

def test_removed_protection_is_a_warning_per_sheet(file_b, folder):
    """Protection alone moves no value (the labels are still verified): warn, read the values."""
    path = F.remove_protection(file_b, structure=True, dst=folder / "b_unprotected.xlsx")
    r = check_file(path)
    assert r.status == "valid"
    form_sheets = ["二、主动公开情况", SHEET_B3, "四、行政复议和行政诉讼情况"]
    assert [i.params["sheet"] for i in r.issues if i.kind == "protection_removed"] == form_sheets
    assert [i.cell for i in r.issues if i.kind == "protection_removed"] == [f"{s}!A1" for s in form_sheets]
    assert "structure_unlocked" in [i.kind for i in r.issues]
    assert all(i.severity == "warning" for i in r.issues)
    assert r.values["B2_permit.count"] == 54408


def test_merge_over_input_cells(file_a, folder):
    form = F.form_a()
    top, below = F.ref(form, "A6"), F.ref(form, "A7")
    r = rejected(F.merge_cells(file_a, SHEET_A, f"{top}:{below}", dst=folder / "a_merged.xlsx"))
    assert f"{SHEET_A}!{top}:{below}" in r.reason("en")
    assert f"input cell {top}" in r.reason("en")


def test_merge_over_matrix_inputs(file_b, folder):
    form = F.form_b()
    left, right = F.ref(form, "B3_r1.np"), F.ref(form, "B3_r1.biz")
    r = rejected(F.merge_cells(file_b, SHEET_B3, f"{left}:{right}", dst=folder / "b_merged.xlsx"))
    assert f"{left}:{right}" in r.reason("en") and "merged" in r.reason("en")


def test_merge_over_a_label_is_caught_as_a_changed_text(file_a, folder):
    form = F.form_a()
    row = label_row(form, "A6")
    r = rejected(F.merge_cells(file_a, SHEET_A, f"A{row}:B{row}", dst=folder / "a_merged_label.xlsx"))
    assert f"B{row}" in r.reason("en")
