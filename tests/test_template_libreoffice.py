"""Templates in a real spreadsheet program: LibreOffice fills, recalculates and saves them.

The live checks are Excel formulas written by toolkit.formulas; here LibreOffice calculates them and
the results must equal toolkit.checks.run_rules over the same figures — same failing rule
instances, same message text. Then the workbook LibreOffice saves must still carry the
protection, the validations and the identity the reader relies on.

One soffice runs for the whole session (tests/libreoffice.py); the tests are skipped, naming the
missing program, where soffice or the Python-UNO bridge is absent.
"""

from __future__ import annotations

from typing import Any

import libreoffice
import openpyxl
import pytest
from lo_template import (
    AGENCY,
    DV_TYPES,
    FILL_DATE,
    FORM_A_BREAK,
    FORM_A_VALUES,
    FORM_B_BREAK,
    FORM_B_VALUES,
    HEADER,
    PASSWORD,
    Run,
    assert_matches_python,
    expected_inputs,
    png_size,
    template_file,
)
from openpyxl.cell.cell import MergedCell
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.protection import hash_password

from toolkit.checks import run_rules
from toolkit.formulas import a1
from toolkit.identity import PROPERTY_PREFIX, Identity
from toolkit.layout import layout_of
from toolkit.schema import Form, load_form, resolve
from toolkit.sheets import CHECKS_SHEET, IDENTITY_SHEET, NOT_APPLICABLE_MARK, PASS_MARK, PREV_SHEET
from toolkit.template import TemplateRequest, identity_for

# ---------------------------------------------------------------------------- session
# ``lo``, the session's one LibreOffice, is a fixture of tests/conftest.py.


# ---------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def form_b() -> Form:
    return load_form(resolve("gov-info-disclosure-2021"))


@pytest.fixture(scope="module")
def form_a() -> Form:
    return load_form(resolve("gov-info-disclosure-2017"))


@pytest.fixture(scope="module")
def run_b(lo, form_b, tmp_path_factory) -> Run:
    return Run(lo, form_b, FORM_B_VALUES, FORM_B_BREAK, tmp_path_factory.mktemp("lo-2021"))


@pytest.fixture(scope="module")
def run_a(lo, form_a, tmp_path_factory) -> Run:
    return Run(lo, form_a, FORM_A_VALUES, FORM_A_BREAK, tmp_path_factory.mktemp("lo-2017"))


# ---------------------------------------------------------------------------- the figures themselves

def test_the_sample_figures_are_consistent_and_the_breaks_break(form_a, form_b):
    for form, values, broken in ((form_b, FORM_B_VALUES, FORM_B_BREAK), (form_a, FORM_A_VALUES, FORM_A_BREAK)):
        assert not any(code in form.computed for code in values), "only inputs are typed"
        assert not [r.instance.id for r in run_rules(form, values) if r.failed]
        assert [r for r in run_rules(form, {**values, **broken}) if r.failed]


# ---------------------------------------------------------------------------- (a)–(c) live checks

def test_blank_template_asks_for_the_required_fields_in_libreoffice(run_b, run_a):
    """No rule fails on a blank template, but it is not 全部通过: 填报人, 联系电话 and 填报日期 are still blank."""
    for run in (run_b, run_a):
        assert set(run.blank.checks.values()) <= {PASS_MARK, NOT_APPLICABLE_MARK}
        assert "全部通过" not in run.blank.status
        assert run.blank.status == "审核结果：✗ 请填写：填报人、联系电话、填报日期"
        assert_matches_python(run.form, {}, run.blank, ("填报人", "联系电话", "填报日期"))


def test_form_b_consistent_figures_pass(run_b, form_b):
    snap = run_b.filled
    assert set(snap.checks.values()) <= {PASS_MARK, NOT_APPLICABLE_MARK}, {k: v for k, v in snap.checks.items() if v != PASS_MARK}
    assert snap.status == "审核结果：✓ 全部通过"
    assert all(s.endswith("全部通过") for s in snap.sheet_status.values())
    # LibreOffice's totals are the Python ones: 143 new requests, 130 handled, 3 lawsuits
    assert snap.computed["B3_new.total"] == 143
    assert snap.computed["B3_r7.np"] == 130
    assert snap.computed["B4.ld_total"] == 3
    assert_matches_python(form_b, FORM_B_VALUES, snap)


def test_form_b_broken_identity_is_reported_with_both_numbers(run_b, form_b):
    snap = run_b.broken
    msg = snap.checks["t3-balance[biz]"]
    assert msg.startswith("商业企业：") and "7" in msg and "3" in msg and "≠" in msg, msg
    assert msg == "商业企业：本年新收 + 上年结转 7 ≠ 办理结果总计 + 结转下年度 3"
    results = assert_matches_python(form_b, run_b.broken_values, snap)
    failing_lo = {k for k, v in snap.checks.items() if v not in (PASS_MARK, NOT_APPLICABLE_MARK)}
    failing_py = {r.instance.id for r in results if r.failed}
    assert failing_lo == failing_py
    assert "t3-balance[biz]" in failing_lo
    assert snap.status.startswith(f"审核结果：✗ {len(failing_py)} 项错误")
    # the row of 一、本年新收 shows the problem right beside the figures
    lay = layout_of(form_b)
    sl = next(s for s in lay.sheets if "B3_new.np" in s.inputs)
    row = sl.inputs["B3_new.np"][0]
    assert msg + "；" in snap.check_cells[(sl.name, a1(row, sl.last_col))]


def test_form_a_seed_figures_pass(run_a, form_a):
    snap = run_a.filled
    assert set(snap.checks.values()) <= {PASS_MARK, NOT_APPLICABLE_MARK}
    assert snap.status == "审核结果：✓ 全部通过"
    assert snap.computed["A8_3"] == 3
    assert_matches_python(form_a, FORM_A_VALUES, snap)


def test_form_a_broken_part_is_a_warning(run_a, form_a):
    snap = run_a.broken
    results = assert_matches_python(form_a, run_a.broken_values, snap)
    failing = [r for r in results if r.failed]
    assert [r.instance.id for r in failing] == ["A1_1a-le"]
    assert "120" in snap.checks["A1_1a-le"] and "100" in snap.checks["A1_1a-le"]
    assert snap.status == "审核结果：✓ 无错误，1 项提示请核实"


def test_header_fields_take_text_and_a_typed_date(run_b):
    filler, phone, date = run_b.header
    assert filler["string"] == HEADER["filler"] and phone["string"] == HEADER["phone"]
    assert date["kind"] == "value" and date["string"] == FILL_DATE  # a real date, shown as yyyy-mm-dd


# ---------------------------------------------------------------------------- protection as LibreOffice sees it

def test_libreoffice_sees_protected_sheets_and_unlocked_inputs(lo, form_b, tmp_path):
    lay = layout_of(form_b)
    path = template_file(form_b, tmp_path)
    ops: list[dict[str, Any]] = [{"op": "open", "path": str(path)}, {"op": "info"}]
    for sl in lay.sheets:
        cells = [a1(*rc) for rc in sl.inputs.values()] + [a1(t.row, t.col) for t in sl.texts]
        cells += [a1(*sl.fields[f][:2]) for f in sl.fields]
        ops.append({"op": "protection", "sheet": sl.name, "cells": cells})
    ops.append({"op": "close"})
    info, *prot = lo.run(ops)[1:-1]
    assert all(s["protected"] for s in info["sheets"]), info["sheets"]
    hidden = [s["name"] for s in info["sheets"] if not s["visible"]]
    assert hidden == [IDENTITY_SHEET, PREV_SHEET]       # 2021: last year's figures for the cross-year checks
    for sl, got in zip(lay.sheets, prot):
        assert got["sheet_protected"]
        for code, rc in sl.inputs.items():
            assert got["cells"][a1(*rc)]["locked"] == form_b.indicators[code].computed, (sl.name, code)
        for t in sl.texts:
            assert got["cells"][a1(t.row, t.col)]["locked"], (sl.name, t.text)
        for f in form_b.header:
            if f.code in sl.fields:
                assert got["cells"][a1(*sl.fields[f.code][:2])]["locked"] == bool(f.locked and f.prefill), f.code


def test_typing_is_refused_on_locked_cells_but_not_through_the_api(lo, form_b, tmp_path):
    """Typing (the dispatcher, as a person would) honours protection; the UNO cell API does not.

    LibreOffice 7.4 headless aborts on the *second* refused keystroke of a process (it tries to show
    a message box), so this is the only test that types into a locked cell.
    """
    lay = layout_of(form_b)
    path = template_file(form_b, tmp_path)
    total = lay.cells["B3_new.total"]
    total_addr = a1(total.row, total.col)
    new = lay.cells["B3_new.np"]
    np_addr = a1(new.row, new.col)
    results = lo.run([
        {"op": "open", "path": str(path)},
        {"op": "type", "sheet": total.sheet, "cell": np_addr, "text": "12"},
        {"op": "type", "sheet": total.sheet, "cell": total_addr, "text": "999"},
        {"op": "set", "sheet": total.sheet, "cell": total_addr, "value": 5},
        {"op": "close"},
    ])
    typed_input, typed_locked, api_locked = results[1:4]
    assert typed_input["kind"] == "value" and typed_input["value"] == 12
    assert typed_locked["kind"] == "formula" and typed_locked["formula"].upper().startswith("=SUM(")
    assert typed_locked["value"] == 12  # refused: still the total of the row
    # the API writes anyway, so the worker must only ever write input cells
    assert api_locked["kind"] == "value" and api_locked["value"] == 5


# ---------------------------------------------------------------------------- (d) after LibreOffice saves


@pytest.fixture(params=["2021", "2017"])
def saved_run(request, run_b, run_a) -> Run:
    return run_b if request.param == "2021" else run_a


def test_libreoffice_xlsx_keeps_sheet_protection_and_unlocked_inputs(saved_run):
    form = saved_run.form
    wb = openpyxl.load_workbook(saved_run.saved["xlsx"])
    lay = layout_of(form)
    for ws in wb.worksheets:
        assert ws.protection.sheet, ws.title
        # LibreOffice writes the legacy hash in lower case (daa7 for DAA7)
        assert (ws.protection.password or "").upper() == hash_password(PASSWORD), ws.title
    for sl in lay.sheets:
        ws = wb[sl.name]
        unlocked = {c.coordinate for row in ws.iter_rows() for c in row
                    if not c.protection.locked and not isinstance(c, MergedCell)}
        assert unlocked == set(expected_inputs(form, sl)), (sl.name, sorted(unlocked ^ set(expected_inputs(form, sl))))


def test_libreoffice_xlsx_keeps_validations(saved_run):
    form = saved_run.form
    wb = openpyxl.load_workbook(saved_run.saved["xlsx"])
    for sl in layout_of(form).sheets:
        ws = wb[sl.name]
        by_cell: dict[str, list] = {}
        for dv in ws.data_validations.dataValidation:
            for rng in dv.sqref.ranges:
                c0, r0, c1, r1 = range_boundaries(rng.coord)
                for r in range(r0, r1 + 1):
                    for c in range(c0, c1 + 1):
                        by_cell.setdefault(a1(r - 1, c - 1), []).append(dv)
        for addr, spec in expected_inputs(form, sl).items():
            dvs = by_cell.get(addr, [])
            assert len(dvs) == 1 and dvs[0].type in DV_TYPES[spec.type], (sl.name, addr, [d.type for d in dvs])
            assert dvs[0].showErrorMessage, (sl.name, addr)


def test_libreoffice_xlsx_keeps_identity(saved_run):
    form = saved_run.form
    want = identity_for(form, TemplateRequest(agency=AGENCY, password=PASSWORD, template_id="0" * 32,
                                              generated_at="2024-01-02T03:04:05+00:00"))
    wb = openpyxl.load_workbook(saved_run.saved["xlsx"])
    ws = wb[IDENTITY_SHEET]
    assert ws.sheet_state in ("veryHidden", "hidden")  # LibreOffice has no "very hidden"
    from_sheet = Identity.from_mapping({r[0]: r[1] for r in ws.iter_rows(values_only=True)})
    props = {p.name[len(PROPERTY_PREFIX):]: p.value for p in wb.custom_doc_props if p.name.startswith(PROPERTY_PREFIX)}
    assert from_sheet == want
    assert Identity.from_mapping(props) == want


def test_libreoffice_xlsx_keeps_the_figures(run_b, form_b):
    wb = openpyxl.load_workbook(run_b.saved["xlsx"], data_only=True)
    lay = layout_of(form_b)
    for code, v in FORM_B_VALUES.items():
        c = lay.cells[code]
        assert wb[c.sheet].cell(c.row + 1, c.col + 1).value == pytest.approx(v), code
    head = lay.field_cells
    sheet = wb[head["filler"].sheet]
    assert sheet.cell(head["filler"].row + 1, head["filler"].col + 1).value == HEADER["filler"]
    assert sheet.cell(head["phone"].row + 1, head["phone"].col + 1).value == HEADER["phone"]
    assert str(sheet.cell(head["fill_date"].row + 1, head["fill_date"].col + 1).value)[:10] == FILL_DATE
    assert sheet.cell(head["agency_name"].row + 1, head["agency_name"].col + 1).value == AGENCY.name
    # the cached results LibreOffice wrote are its own calculation
    checks = wb[CHECKS_SHEET]
    assert checks["A2"].value == "审核结果：✓ 全部通过"


def test_libreoffice_xlsx_keeps_broken_check_message(run_b, form_b):
    wb = openpyxl.load_workbook(run_b.saved_broken, data_only=True)
    row = layout_of(form_b).check_rows["t3-balance[biz]"]
    assert wb[CHECKS_SHEET].cell(row + 1, 4).value == run_b.broken.checks["t3-balance[biz]"]


def test_libreoffice_xlsx_structure_protection_is_reported_when_lost(saved_run):
    """Excel keeps <workbookProtection lockStructure>; LibreOffice 7.4 neither imports nor exports it.

    Whatever the program did, the reader must tell the truth about the saved file: still readable
    (valid), and a warning when the structure lock is gone.
    """
    from toolkit.validate import check_file

    wb = openpyxl.load_workbook(saved_run.saved["xlsx"])
    locked = bool(wb.security is not None and wb.security.lockStructure)
    result = check_file(saved_run.saved["xlsx"])
    assert result.status == "valid", (result.reason("en"), [i.message("en") for i in result.issues])
    assert any(i.kind == "structure_unlocked" for i in result.issues) == (not locked)


def test_xls_and_ods_saves_keep_protection_and_identity(lo, run_b):
    ops: list[dict[str, Any]] = []
    for fmt in ("xls", "ods"):
        ops += [{"op": "open", "path": str(run_b.saved[fmt])}, {"op": "info"}, {"op": "close"}]
    results = lo.run(ops)
    for info in (results[1], results[4]):
        assert all(s["protected"] for s in info["sheets"])
        assert [s["name"] for s in info["sheets"] if not s["visible"]] == [IDENTITY_SHEET, PREV_SHEET]
        assert info["properties"][PROPERTY_PREFIX + "agency_code"] == AGENCY.code
        assert info["properties"][PROPERTY_PREFIX + "schema_id"] == run_b.form.id


# ---------------------------------------------------------------------------- pictures


def test_render_pictures(lo, tmp_path, form_b):
    written = libreoffice.render_pictures(tmp_path, lo=lo)
    names = [p.name for p in written]
    assert names == ["template-2017.png", "template-2021-sheet2.png", "template-2021-sheet3.png", "template-2021-sheet4.png"]
    landscape = {f"template-2021-sheet{i + 2}.png": sl.landscape for i, sl in enumerate(layout_of(form_b).sheets)}
    for p in written:
        w, h = png_size(p)
        assert min(w, h) > 500, (p.name, w, h)
        if p.name in landscape:
            assert (w > h) == landscape[p.name], (p.name, w, h)  # the page orientation survives LibreOffice
