"""Locked templates (issue 3), read back with openpyxl: protection, inputs, validations, identity, files.

Every expectation about *where* something sits comes from toolkit.layout, the single source of
coordinates; these tests check that the written workbook agrees with it.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.cell.cell import MergedCell
from openpyxl.packaging.custom import StringProperty
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.protection import hash_password

import toolkit
from toolkit.cli import main
from toolkit.files import MAX_NAME_BYTES, safe_stem, unique_names
from toolkit.identity import IDENTITY_FORMAT, PROPERTY_PREFIX, Identity
from toolkit.formulas import a1
from toolkit.layout import EXPLANATION_COL, layout_of
from toolkit.sheets import CHECKS_SHEET, IDENTITY_SHEET, INSTRUCTIONS_SHEET, NOT_APPLICABLE_MARK, PASS_MARK
from toolkit.roster import Agency, read_roster
from toolkit.schema import Form, load_form, resolve
from toolkit.template import MANIFEST_NAME, TemplateRequest, build_template, generate_templates, rule_description

FORMS = ["gov-info-disclosure-2017", "gov-info-disclosure-2021"]
SAMPLE_ROSTER = Path(__file__).resolve().parent.parent / "workbooks" / "sample-roster.csv"  # bundled copy of the reference roster
PASSWORD = "secret"
WINDOWS_BAD = set('<>:"/\\|?*') | {chr(i) for i in range(32)}
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
DV_TYPES = {"integer": {"whole"}, "decimal": {"custom", "decimal"}, "date": {"date"}, "text": {"textLength"}, "choice": {"list"}}


# ---------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def roster_path() -> Path:
    return SAMPLE_ROSTER


@pytest.fixture(scope="module")
def agencies(roster_path) -> list[Agency]:
    return read_roster(roster_path)


@pytest.fixture(scope="module")
def forms() -> dict[str, Form]:
    return {fid: load_form(resolve(fid)) for fid in FORMS}


class Generated:
    """One generate_templates run over the whole roster."""

    def __init__(self, form: Form, out: Path, agencies: list[Agency]):
        self.form = form
        self.out = out
        self.agencies = agencies
        self.rows, self.password = generate_templates(form, out, agencies, password=PASSWORD, jobs=1)
        self._books: dict[tuple[str, bool], openpyxl.Workbook] = {}

    def path(self, i: int = 0) -> Path:
        return self.out / self.rows[i].file

    def book(self, i: int = 0, data_only: bool = False) -> openpyxl.Workbook:
        key = (self.rows[i].file, data_only)
        if key not in self._books:
            self._books[key] = openpyxl.load_workbook(self.path(i), data_only=data_only)
        return self._books[key]


@pytest.fixture(scope="module")
def generated(tmp_path_factory, forms, agencies) -> dict[str, Generated]:
    return {fid: Generated(forms[fid], tmp_path_factory.mktemp(fid), agencies) for fid in FORMS}


@pytest.fixture(params=FORMS)
def gen(request, generated) -> Generated:
    return generated[request.param]


def fill_sheets(gen: Generated):
    lay = layout_of(gen.form)
    wb = gen.book()
    return [(sl, wb[sl.name]) for sl in lay.sheets]


def expected_inputs(form: Form, sl) -> dict[str, tuple[str, str]]:
    """A1 address → (kind, code) of every cell a clerk types into on this sheet."""
    out = {}
    for code, (row, col) in sl.inputs.items():
        if not form.indicators[code].computed:
            out[a1(row, col)] = ("indicator", code)
    for f in form.header:
        if f.code in sl.fields and not (f.locked and f.prefill):
            row, col, _ = sl.fields[f.code]
            out[a1(row, col)] = ("field", f.code)
    return out


def spec_of(form: Form, kind: str, code: str):
    if kind == "indicator":
        return form.indicators[code].spec
    return next(f.spec for f in form.header if f.code == code)


def validations_by_cell(ws) -> dict[str, list]:
    out: dict[str, list] = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            c0, r0, c1, r1 = range_boundaries(rng.coord)
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    out.setdefault(a1(r - 1, c - 1), []).append(dv)
    return out


# ---------------------------------------------------------------------------- protection

def test_every_sheet_is_protected_with_the_password(gen):
    wb = gen.book()
    digest = hash_password(PASSWORD)
    lay = layout_of(gen.form)
    assert [ws.title for ws in wb.worksheets][:len(lay.sheet_names)] == lay.sheet_names
    for ws in wb.worksheets:
        p = ws.protection
        assert p.sheet, f"sheet {ws.title} is not protected"
        assert p.password == digest, ws.title
        # rows and columns cannot be inserted or deleted; widening a column is allowed
        assert p.insertRows and p.deleteRows and p.insertColumns and p.deleteColumns, ws.title
        if ws.title in lay.sheet_names:
            assert not p.formatColumns and not p.formatRows, ws.title


def test_workbook_structure_is_locked(gen):
    sec = gen.book().security
    assert sec is not None and sec.lockStructure
    assert sec.workbookPassword == hash_password(PASSWORD)


def test_without_password_still_protected_but_no_hash(forms, agencies):
    form = forms["gov-info-disclosure-2021"]
    wb = openpyxl.load_workbook(io.BytesIO(build_template(form, TemplateRequest(agency=agencies[0], password=""))))
    assert wb.security is not None and wb.security.lockStructure
    assert not wb.security.workbookPassword
    for ws in wb.worksheets:
        assert ws.protection.sheet, ws.title
        assert not ws.protection.password, ws.title


def test_exactly_the_input_cells_are_unlocked(gen):
    form = gen.form
    for sl, ws in fill_sheets(gen):
        expected = set(expected_inputs(form, sl))
        unlocked, merged_tails = set(), set()
        for row in ws.iter_rows():
            for cell in row:
                if not cell.protection.locked:
                    (merged_tails if isinstance(cell, MergedCell) else unlocked).add(cell.coordinate)
        assert unlocked == expected, (sl.name, sorted(unlocked - expected), sorted(expected - unlocked))
        # the rest of a merged header field belongs to its (unlocked) input cell
        allowed_tails = set()
        for f in form.header:
            if f.code in sl.fields and a1(*sl.fields[f.code][:2]) in expected:
                row, col, last = sl.fields[f.code]
                allowed_tails |= {a1(row, c) for c in range(col + 1, last + 1)}
        assert merged_tails <= allowed_tails, (sl.name, sorted(merged_tails - allowed_tails))
    # nothing to type into on the instructions and identity sheets; on the checks sheet, only the
    # 审核说明 of the rules an agency may explain (warnings)
    for name in (INSTRUCTIONS_SHEET, IDENTITY_SHEET):
        ws = gen.book()[name]
        assert all(c.protection.locked for row in ws.iter_rows() for c in row), name
    lay = layout_of(form)
    explainable = {a1(lay.check_rows[i.id], EXPLANATION_COL) for i in form.instances if i.explainable}
    ws = gen.book()[CHECKS_SHEET]
    assert {c.coordinate for row in ws.iter_rows() for c in row if not c.protection.locked} == explainable
    assert explainable == {a1(lay.check_rows[i.id], EXPLANATION_COL) for i in form.instances if i.severity == "warning"}


def test_a_validation_of_the_right_type_covers_every_input(gen):
    form = gen.form
    for sl, ws in fill_sheets(gen):
        by_cell = validations_by_cell(ws)
        inputs = expected_inputs(form, sl)
        for addr, (kind, code) in inputs.items():
            spec = spec_of(form, kind, code)
            dvs = by_cell.get(addr, [])
            assert len(dvs) == 1, (sl.name, addr, code, len(dvs))
            dv = dvs[0]
            assert dv.type in DV_TYPES[spec.type], (addr, code, spec.type, dv.type)
            assert dv.allowBlank, (addr, code)
            assert dv.showErrorMessage and dv.errorStyle in (None, "stop"), (addr, code)
            assert dv.error, (addr, code)  # a message the clerk can read
            if spec.type == "integer":
                low = spec.lower or 0
                if dv.operator == "greaterThanOrEqual":
                    assert float(dv.formula1) == low
                else:
                    assert dv.operator in (None, "between") and float(dv.formula1) == low
                    assert spec.max is not None and float(dv.formula2) == spec.max
            if spec.type == "decimal" and dv.type == "custom":
                # a custom rule is relative to its own cell: it must name that cell
                assert addr in dv.formula1, (addr, dv.formula1)
                assert f"ROUND({addr},{spec.places})" in dv.formula1, dv.formula1
        # no validation on a locked cell (computed totals, labels, prefilled fields)
        assert set(by_cell) <= set(inputs), (sl.name, sorted(set(by_cell) - set(inputs)))


def test_computed_cells_are_locked_formulas_with_cached_zero(gen):
    form = gen.form
    wb_values = gen.book(data_only=True)
    n = 0
    for sl, ws in fill_sheets(gen):
        for code, (row, col) in sl.inputs.items():
            if not form.indicators[code].computed:
                continue
            cell = ws.cell(row + 1, col + 1)
            assert isinstance(cell.value, str) and cell.value.startswith("="), (code, cell.value)
            assert cell.protection.locked, code
            # a reader that does not calculate (calamine, openpyxl) sees the blank form's total: 0
            assert wb_values[sl.name].cell(row + 1, col + 1).value == 0, code
            n += 1
    assert n == len(form.computed)


def test_checks_sheet_has_one_live_check_per_rule_instance(gen):
    lay = layout_of(gen.form)
    ws = gen.book()[CHECKS_SHEET]
    cached = gen.book(data_only=True)[CHECKS_SHEET]
    for inst in gen.form.instances:
        row = lay.check_rows[inst.id] + 1
        assert inst.id not in str(ws.cell(row, 2).value) and ws.cell(row, 2).value == rule_description(inst)  # no internal ids
        if inst.prev_reads:
            # a cross-period check: not applicable while last year's figure is not in the template
            assert str(ws.cell(row, 4).value).startswith("=IF(OR(ISBLANK(_prev!")
            assert cached.cell(row, 4).value == NOT_APPLICABLE_MARK
            continue
        assert str(ws.cell(row, 4).value).startswith("=IFERROR(")
        assert cached.cell(row, 4).value == PASS_MARK  # a blank form passes every check


# ---------------------------------------------------------------------------- identity

def test_identity_sheet_and_document_properties_agree(gen):
    for i in (0, len(gen.rows) - 1):
        wb = gen.book(i)
        ws = wb[IDENTITY_SHEET]
        assert ws.sheet_state == "veryHidden"
        rows = [(r[0], r[1]) for r in ws.iter_rows(values_only=True)]
        assert [k for k, _ in rows] == Identity.keys()
        from_sheet = Identity.from_mapping(dict(rows))
        props = {p.name: p for p in wb.custom_doc_props}
        assert sorted(props) == sorted(PROPERTY_PREFIX + k for k in Identity.keys())
        assert all(isinstance(p, StringProperty) for p in props.values()), "every identity value is stored as text"
        from_props = Identity.from_mapping({k[len(PROPERTY_PREFIX):]: p.value for k, p in props.items()})
        assert from_sheet == from_props
        agency, row, form = gen.agencies[i], gen.rows[i], gen.form
        assert from_sheet.format == IDENTITY_FORMAT
        assert (from_sheet.schema_id, from_sheet.schema_version, from_sheet.schema_hash) == (form.id, form.version, form.content_hash)
        assert (from_sheet.agency_code, from_sheet.agency_name, from_sheet.agency_group) == (agency.code, agency.name, agency.group)
        assert from_sheet.period == str(form.period_default)
        assert from_sheet.template_id == row.template_id and len(row.template_id) >= 16
        assert from_sheet.toolkit_version == toolkit.__version__
        assert dt.datetime.fromisoformat(from_sheet.generated_at).tzinfo is not None


def test_template_ids_are_unique(gen):
    ids = [r.template_id for r in gen.rows]
    assert len(set(ids)) == len(ids)


def test_agency_is_prefilled_and_locked_in_the_header(gen):
    form = gen.form
    sl, ws = fill_sheets(gen)[0]
    agency = gen.agencies[0]
    want = {"agency.name": agency.name, "agency.code": agency.code, "agency.group": agency.group}
    for f in form.header:
        row, col, _ = sl.fields[f.code]
        cell = ws.cell(row + 1, col + 1)
        label = ws.cell(row + 1, 1)
        assert label.value == f.label
        if f.prefill in want:
            assert cell.value == want[f.prefill], f.code
            assert cell.protection.locked == bool(f.locked), f.code
        else:
            assert cell.value is None, f.code
            assert not cell.protection.locked, f.code
    # both shipped forms prefill and lock the agency's name and code
    assert {f.prefill for f in form.header if f.locked} >= {"agency.name", "agency.code"}


def test_year_goes_into_identity_and_period_line(forms, agencies):
    form = forms["gov-info-disclosure-2017"]
    wb = openpyxl.load_workbook(io.BytesIO(build_template(form, TemplateRequest(agency=agencies[0], year=2016, password=""))))
    ident = dict(wb[IDENTITY_SHEET].iter_rows(values_only=True))
    assert ident["period"] == "2016"
    sl = layout_of(form).sheets[0]
    assert wb[sl.name].cell(sl.period_row + 1, 1).value == "（2016年度）"


def test_blank_template_without_roster(forms, tmp_path):
    form = forms["gov-info-disclosure-2021"]
    rows, pw = generate_templates(form, tmp_path, None, password=None)
    assert len(rows) == 1 and rows[0].agency_code == ""
    assert len(pw) >= 8
    wb = openpyxl.load_workbook(tmp_path / rows[0].file)
    ident = dict(wb[IDENTITY_SHEET].iter_rows(values_only=True))
    assert (ident["agency_code"] or "") == "" and ident["schema_id"] == form.id
    assert wb.worksheets[0].protection.password == hash_password(pw)
    sl = layout_of(form).sheets[0]
    row, col, _ = sl.fields["agency_name"]
    assert wb[sl.name].cell(row + 1, col + 1).value is None


# ---------------------------------------------------------------------------- print set-up

def test_print_setup(gen):
    for sl, ws in fill_sheets(gen):
        ps = ws.page_setup
        assert int(ps.paperSize) == 9, sl.name  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage, sl.name
        assert int(ps.fitToWidth or 1) == 1 and int(ps.fitToHeight) == 0, sl.name  # one page wide, any number tall
        assert ps.orientation == ("landscape" if sl.landscape else "portrait"), sl.name
        assert ws.freeze_panes == a1(*sl.freeze), sl.name
        head_top, head_bottom = sl.repeat_rows
        assert ws.print_title_rows == f"${head_top + 1}:${head_bottom + 1}", sl.name
    for name in (CHECKS_SHEET, INSTRUCTIONS_SHEET):
        assert int(gen.book()[name].page_setup.paperSize) == 9


def test_the_wide_sheet_of_form_b_is_landscape(generated):
    gen = generated["gov-info-disclosure-2021"]
    ws = next(ws for sl, ws in fill_sheets(gen) if sl.name.startswith("四"))
    assert ws.page_setup.orientation == "landscape"


# ---------------------------------------------------------------------------- file names

NASTY = ["a/b", "CON", "con.txt", "..", "名称:?*", "a" * 300, "单" * 300, " trailing. ", "LPT1", "a\\b|c<d>e\"f", "tab\there", ""]


@pytest.mark.parametrize("text", NASTY)
def test_safe_stem_is_a_valid_windows_and_linux_name(text, tmp_path):
    stem = safe_stem(text)
    assert stem
    assert not (set(stem) & WINDOWS_BAD), stem
    assert stem.split(".")[0].upper() not in WINDOWS_RESERVED, stem
    assert not stem.endswith((".", " ")) and not stem.startswith(" "), stem
    assert stem not in (".", "..")
    assert len(stem.encode("utf-8")) <= MAX_NAME_BYTES
    (tmp_path / f"{stem}.xlsx").write_bytes(b"x")  # the file system takes it


def test_safe_stem_keeps_readable_names():
    assert safe_stem("D001_市发展和改革局") == "D001_市发展和改革局"
    assert safe_stem("a/b") == "a_b"
    assert "名称" in safe_stem("名称:?*")
    long = safe_stem("单" * 300)
    assert set(long) == {"单"} and len(long.encode()) <= MAX_NAME_BYTES


def test_unique_names_fold_case():
    names = unique_names(["D1_Abc", "d1_abc", "D1_ABC", "x", "x_2", "x"], ".xlsx")
    assert len({n.casefold() for n in names}) == len(names)
    assert names[0] == "D1_Abc.xlsx" and names[3] == "x.xlsx"
    assert all(n.endswith(".xlsx") for n in names)


@pytest.mark.filterwarnings("ignore:Length of 'value' parameter exceeds Excel's limit")
def test_nasty_agency_names_give_distinct_safe_files(forms, tmp_path):
    agencies = [Agency("X1", "a/b"), Agency("X2", "CON"), Agency("CON", ""), Agency("X3", ".."),
                Agency("X4", "名称:?*"), Agency("X5", "长" * 300), Agency("ab", "机关"), Agency("AB", "机关"),
                Agency("X6", "=cmd|' /C calc'!A0")]
    rows, _ = generate_templates(forms["gov-info-disclosure-2017"], tmp_path, agencies, password="")
    files = [r.file for r in rows]
    assert len({f.casefold() for f in files}) == len(files)
    for f in files:
        assert not (set(f) & WINDOWS_BAD) and len(f.encode()) <= 255, f
        assert (tmp_path / f).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*files, MANIFEST_NAME])
    # the manifest neutralises a name that a spreadsheet would run as a formula
    manifest = list(csv.DictReader(io.StringIO((tmp_path / MANIFEST_NAME).read_text(encoding="utf-8-sig"))))
    assert not manifest[-1]["agency_name"].startswith("=")


def test_long_agency_name_respects_the_property_limit(forms, recwarn):
    data = build_template(forms["gov-info-disclosure-2017"], TemplateRequest(agency=Agency("X1", "长" * 300), password=""))
    assert not [w for w in recwarn if "exceeds Excel's limit" in str(w.message)]
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert all(len(str(p.value)) <= 255 for p in wb.custom_doc_props)


# ---------------------------------------------------------------------------- manifest

def test_manifest_lists_every_agency_with_the_file_hash(gen):
    text = (gen.out / MANIFEST_NAME).read_bytes()
    assert text.startswith("\ufeff".encode())  # Excel opens the Chinese names correctly
    rows = list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"))))
    assert len(rows) == len(gen.agencies)
    assert [r["agency_code"] for r in rows] == [a.code for a in gen.agencies]
    assert [r["agency_name"] for r in rows] == [a.name for a in gen.agencies]
    for r in rows:
        data = (gen.out / r["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"], r["file"]
        assert r["password"] == ""        # a password the user chose is never written down (issue 11)
        assert r["template_id"]
    # nothing else in the folder: no half-written .part files
    assert sorted(p.name for p in gen.out.iterdir()) == sorted([r["file"] for r in rows] + [MANIFEST_NAME])


# ---------------------------------------------------------------------------- roster problems on the command line

def run_template(out: Path, roster: Path):
    return CliRunner(env={"TOOLKIT_LANG": "en"}).invoke(main, ["template", "gov-info-disclosure-2021", "-o", str(out), "--roster", str(roster), "--password", "x"])


def error_text(result) -> str:
    return result.output  # stdout and stderr together (click's CliRunner mixes them)


@pytest.mark.parametrize("content, line, words", [
    ("code,name\nD1,甲\nD2,乙\nD1,丙\n", 4, ["D1", "line 2"]),
    ("code,name\nD1,甲\nD2,\n", 3, ["D2", "name"]),
    ("code,name\nD1,甲\n,乙\n", 3, ["code"]),
    ("单位,地址\n甲,某路\n", 1, ["code"]),
    ("\n\ncode,name\nD1,甲\n\nD1,乙\n", 6, ["D1", "line 4"]),
])
def test_roster_problems_stop_everything(tmp_path, content, line, words):
    roster = tmp_path / "roster.csv"
    roster.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    result = run_template(out, roster)
    assert result.exit_code != 0
    text = error_text(result)
    assert f"line {line}" in text, text
    for w in words:
        assert w in text, text
    assert "Traceback" not in text
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("make", ["missing", "binary", "broken_xlsx", "empty"])
def test_unreadable_roster_stops_everything(tmp_path, make):
    roster = tmp_path / ("roster.xlsx" if make == "broken_xlsx" else "roster.csv")
    if make == "binary":
        roster.write_bytes(bytes(range(256)) * 4)
    elif make == "broken_xlsx":
        roster.write_bytes(b"PK\x03\x04 this is not a zip file")
    elif make == "empty":
        roster.write_bytes(b"")
    out = tmp_path / "out"
    out.mkdir()
    result = run_template(out, roster)
    assert result.exit_code != 0
    text = error_text(result)
    assert "roster" in text and "Traceback" not in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert not any(out.iterdir())


@pytest.mark.slow  # slow: over a second of whole-roster work; the quick run keeps smaller tests of the same command
def test_good_roster_on_the_command_line(tmp_path, roster_path, agencies):
    out = tmp_path / "out"
    result = CliRunner(env={"TOOLKIT_LANG": "en"}).invoke(main, ["template", "gov-info-disclosure-2017", "-o", str(out), "--roster", str(roster_path), "--jobs", "1"])
    assert result.exit_code == 0, error_text(result)
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == len(agencies) + 1 and MANIFEST_NAME in names
    rows = list(csv.DictReader(io.StringIO((out / MANIFEST_NAME).read_text(encoding="utf-8-sig"))))
    pw = rows[0]["password"]
    assert pw and all(r["password"] == pw for r in rows)  # one generated password, written down
    wb = openpyxl.load_workbook(out / rows[0]["file"])
    assert wb.worksheets[0].protection.password == hash_password(pw)


def test_status_line_asks_for_required_fields_until_they_are_filled(forms):
    """What a spreadsheet shows before recalculating (the cached status) follows the same rule as the formula."""
    from toolkit.sheets import CHECKS_SHEET as checks
    form = forms["gov-info-disclosure-2021"]
    blank = openpyxl.load_workbook(io.BytesIO(build_template(form, TemplateRequest(password=""))), data_only=True)
    status = blank[checks]["A2"].value
    assert "全部通过" not in status
    assert status == "审核结果：✗ 请填写：填报单位（盖章）、填报人、联系电话、填报日期"
    filled = openpyxl.load_workbook(io.BytesIO(build_template(form, TemplateRequest(
        agency=Agency("D001", "市发展和改革局", "政府部门"), password="",
        values={"filler": "张伟", "phone": "0574-62345678", "fill_date": dt.date(2024, 1, 5)}))), data_only=True)
    assert filled[checks]["A2"].value == "审核结果：✓ 全部通过"
    formula = openpyxl.load_workbook(io.BytesIO(build_template(form, TemplateRequest(password=""))))[checks]["A2"].value
    for label in ("填报人", "联系电话", "填报日期"):
        assert label in formula
