"""Reading the values of a returned workbook: normalised with a warning, or an error — never a guess.

The figures are written into the input cells as a spreadsheet program stores them
(TemplateRequest(values=…): a str stays text), or the cell is rewritten in the package as Excel
writes formulas and error values. Every problem must name its cell; an unreadable value is None
in Result.values, never 0.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import filled as F
from toolkit.validate import Result, check_file

SHEET_A = "统计表"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("values")


_counter = iter(range(1_000_000))


def read_a(folder: Path, **overrides) -> Result:
    """Form A with the seed's figures, some replaced."""
    return check_file(F.filled_a(folder, f"a_{next(_counter)}.xlsx", **overrides))


def read_b(folder: Path, **overrides) -> Result:
    return check_file(F.filled_b(folder, f"b_{next(_counter)}.xlsx", **overrides))


def at(r: Result, form, code: str) -> list[tuple[str, str]]:
    """(kind, severity) of every issue at a code's cell."""
    address = F.cell(form, code).address
    return [(i.kind, i.severity) for i in r.issues if i.cell == address]


def only_issue(r: Result, form, code: str):
    address = F.cell(form, code).address
    mine = [i for i in r.issues if i.cell == address]
    assert mine, [(i.kind, i.cell) for i in r.issues]
    assert [i for i in r.issues if i.cell != address] == [], "problems elsewhere"
    assert all(i.code == code for i in mine)
    return mine


# ---------------------------------------------------------------------------- normalised with a warning

@pytest.mark.parametrize("typed, value, how", [
    ("１２", 12, "full-width"),
    (" 12 ", 12, "surrounding spaces"),
    ("\u300012\u3000", 12, "surrounding spaces"),
    ("12", 12, "number stored as text"),
    ("1,200", 1200, "thousands separators"),
    ("１，２００", 1200, "thousands separators"),
    ("12,345,678", 12345678, "thousands separators"),
])
def test_text_that_is_plainly_a_number_is_read_with_a_warning(folder, typed, value, how):
    form = F.form_a()
    r = read_a(folder, A6=typed)
    assert r.status == "valid"
    assert r.values["A6"] == value and isinstance(r.values["A6"], int)
    (issue,) = only_issue(r, form, "A6")
    assert (issue.kind, issue.severity) == ("normalised", "warning")
    assert how in issue.message("en")
    assert str(value) in issue.message("zh") and typed.strip(" \u3000") in issue.message("zh")


def test_decimal_text_with_thousands_separator(folder):
    form = F.form_a()
    r = read_a(folder, A7="1,234.5")
    assert r.values["A7"] == 1234.5
    assert at(r, form, "A7") == [("normalised", "warning")]


def test_normalised_value_in_a_matrix_cell(folder):
    form = F.form_b()
    r = read_b(folder, **{"B4.rv_keep": "３"})
    assert r.status == "valid"
    assert r.values["B4.rv_keep"] == 3 and r.values["B4.rv_total"] == 3
    assert at(r, form, "B4.rv_keep") == [("normalised", "warning")]
    assert F.cell(form, "B4.rv_keep").sheet == "四、行政复议和行政诉讼情况"


def test_number_stored_as_text_under_a_total_is_not_a_mismatch(folder):
    """A spreadsheet's SUM skips a number stored as text, so the cached total lacks it; the
    reader reads the text (with its warning) and must not call the total's formula altered."""
    form = F.form_a()
    r = read_a(folder, A4_1="２", A4_2=1)
    assert r.status == "valid", [(i.kind, i.cell) for i in r.issues]
    assert r.values["A4_1"] == 2 and r.values["A4"] == 3
    assert [(i.kind, i.code) for i in r.issues] == [("normalised", "A4_1")]


# ---------------------------------------------------------------------------- text that is not a number

@pytest.mark.parametrize("typed", ["无", "12件", "约10", "-", "—", "/", "0件", "N/A", "1,2", "12 34", "十二"])
def test_text_is_an_error_and_never_zero(folder, typed):
    form = F.form_a()
    r = read_a(folder, A6=typed)
    assert r.status == "invalid"
    assert r.values["A6"] is None
    (issue,) = only_issue(r, form, "A6")
    assert (issue.kind, issue.severity) == ("not_a_number", "error")
    assert typed in issue.message("zh") and repr(typed) in issue.message("en")
    assert issue.params["label"] == form.indicators["A6"].label


def test_text_in_an_item_does_not_become_zero_in_the_total(folder):
    """'无' under 行政复议数量: the item is None; the total is the sum of what is readable."""
    form = F.form_a()
    r = read_a(folder, A4_1="无", A4_2=2, A4_3=1)
    assert r.values["A4_1"] is None
    assert r.values["A4"] == 3
    assert at(r, form, "A4_1") == [("not_a_number", "error")]


# ---------------------------------------------------------------------------- other wrong values

def test_error_value_from_a_formula(folder):
    form = F.form_a()
    src = F.filled_a(folder, "a_src_err.xlsx")
    path = F.set_cell(src, SHEET_A, F.ref(form, "A6"), formula="1/0", error="#DIV/0!", dst=folder / "a_divzero.xlsx")
    assert 't="e"' in F.cell_xml(path, SHEET_A, F.ref(form, "A6"))
    r = check_file(path)
    assert r.status == "invalid" and r.values["A6"] is None
    (issue,) = only_issue(r, form, "A6")
    assert (issue.kind, issue.severity) == ("error_value", "error")
    assert "#DIV/0!" in issue.message("en")


@pytest.mark.parametrize("err", ["#N/A", "#VALUE!", "#REF!"])
def test_other_error_values(folder, err):
    form = F.form_a()
    src = F.filled_a(folder, f"a_src_{next(_counter)}.xlsx")
    path = F.set_cell(src, SHEET_A, F.ref(form, "A9_3"), formula="NA()", error=err, dst=folder / f"a_err_{next(_counter)}.xlsx")
    r = check_file(path)
    assert r.values["A9_3"] is None
    assert at(r, form, "A9_3") == [("error_value", "error")]


def test_error_value_typed_as_text(folder):
    form = F.form_a()
    r = read_a(folder, A6="#DIV/0!")
    assert r.values["A6"] is None
    assert at(r, form, "A6") == [("error_value", "error")]


def test_date_in_a_number_cell(folder):
    form = F.form_a()
    src = F.filled_a(folder, "a_src_date.xlsx")
    r = check_file(F.put_date(src, SHEET_A, F.ref(form, "A6"), dt.date(2017, 12, 31), dst=folder / "a_date.xlsx"))
    assert r.status == "invalid" and r.values["A6"] is None
    (issue,) = only_issue(r, form, "A6")
    assert (issue.kind, issue.severity) == ("date_in_number", "error")
    assert "2017-12-31" in issue.message("en")


@pytest.mark.parametrize("code, value, kind", [
    ("A6", 12.5, "not_integer"),
    ("A6", "12.5", "not_integer"),
    ("A6", -3, "below_min"),
    ("A6", "-3", "below_min"),
    ("A6", 1e15, "absurd"),
    ("A6", True, "bool_in_number"),
    ("A1_1", 0.5, "not_integer"),
])
def test_impossible_numbers_are_errors(folder, code, value, kind):
    form = F.form_a()
    r = read_a(folder, **{code: value})
    assert r.status == "invalid"
    assert r.values[code] is None
    errors = [i for i in r.errors if i.code == code]
    assert [i.kind for i in errors] == [kind]
    assert errors[0].cell == F.cell(form, code).address


def test_absurd_value_message(folder):
    r = read_a(folder, A6=1e15)
    (issue,) = r.errors
    assert "implausibly large" in issue.message("en")


def test_decimal_with_too_many_places(folder):
    form = F.form_a()
    r = read_a(folder, A7=12.345)
    assert r.status == "invalid"
    errors = [i for i in r.errors if i.code == "A7"]
    assert [i.kind for i in errors] == ["too_many_places"]
    assert errors[0].cell == F.cell(form, "A7").address
    assert "2" in errors[0].message("en") and "12.345" in errors[0].message("en")
    assert r.values["A7"] != 0


def test_decimal_within_places_is_exact(folder):
    r = read_a(folder, A7=12.34, A8_4=0.1 + 0.2)   # 0.30000000000000004 is 2 places for a person
    assert r.status == "valid", [(i.kind, i.cell) for i in r.issues]
    assert r.values["A7"] == 12.34


# ---------------------------------------------------------------------------- formulas typed into input cells

@pytest.fixture(scope="module")
def src_a(folder) -> Path:
    return F.filled_a(folder, "a_src_formula.xlsx")


def test_formula_with_cached_value_is_a_warning_and_the_value_is_used(src_a, folder):
    form = F.form_a()
    a1 = F.ref(form, "A6")
    r = check_file(F.set_cell(src_a, SHEET_A, a1, formula="2+3", value=5, dst=folder / "a_f_cached.xlsx"))
    assert r.status == "valid"
    assert r.values["A6"] == 5
    (issue,) = only_issue(r, form, "A6")
    assert (issue.kind, issue.severity) == ("formula_cached", "warning")
    assert "=2+3" in issue.message("en") and "5" in issue.message("en")


def test_formula_referring_to_other_inputs(src_a, folder):
    """=C10+C11 typed where a figure belongs: read its cached result, with a warning."""
    form = F.form_a()
    f = f"{F.ref(form, 'A1_2_3')}+{F.ref(form, 'A1_2_4')}"
    r = check_file(F.set_cell(src_a, SHEET_A, F.ref(form, "A6"), formula=f, value=180, dst=folder / "a_f_refs.xlsx"))
    assert r.values["A6"] == 180
    assert at(r, form, "A6") == [("formula_cached", "warning")]


def test_formula_with_cached_text(src_a, folder):
    form = F.form_a()
    r = check_file(F.set_cell(src_a, SHEET_A, F.ref(form, "A6"), formula='"12"', value="12", dst=folder / "a_f_text.xlsx"))
    assert r.values["A6"] == 12
    assert sorted(at(r, form, "A6")) == [("formula_cached", "warning"), ("normalised", "warning")]


def test_formula_without_cached_value_is_an_error(src_a, folder):
    form = F.form_a()
    r = check_file(F.set_cell(src_a, SHEET_A, F.ref(form, "A6"), formula="2+3", dst=folder / "a_f_nocache.xlsx"))
    assert r.status == "invalid"
    assert r.values["A6"] is None
    (issue,) = only_issue(r, form, "A6")
    assert (issue.kind, issue.severity) == ("formula_no_value", "error")


@pytest.mark.parametrize("formula", ["[1]Sheet1!A1", "'[年报.xlsx]统计表'!C12", "[1]Sheet1!A1+1"])
def test_formula_with_an_external_link_is_an_error(src_a, folder, formula):
    form = F.form_a()
    path = F.set_cell(src_a, SHEET_A, F.ref(form, "A6"), formula=formula, value=7, dst=folder / f"a_f_ext_{next(_counter)}.xlsx")
    r = check_file(path)
    assert r.status == "invalid"
    assert r.values["A6"] is None, "a value from another file is never used"
    (issue,) = only_issue(r, form, "A6")
    assert (issue.kind, issue.severity) == ("formula_external", "error")
    assert formula[:20] in issue.message("en")


# ---------------------------------------------------------------------------- header fields

@pytest.mark.parametrize("blank", [None, "", "   ", "\u3000"])
def test_blank_required_header_field(folder, blank):
    form = F.form_a()
    r = read_a(folder, filler=blank)
    assert r.status == "invalid"
    assert r.values["filler"] is None
    (issue,) = only_issue(r, form, "filler")
    assert (issue.kind, issue.severity) == ("required", "error")
    assert issue.cell == F.cell(form, "filler").address
    assert "填报人" in issue.message("zh")


def test_blank_optional_figures_are_fine(folder):
    r = read_a(folder, A6=None, A9_3="")
    assert r.status == "valid"
    assert r.values["A6"] is None and r.values["A9_3"] is None


def test_date_typed_as_text_in_the_date_field(folder):
    form = F.form_a()
    r = read_a(folder, fill_date="2018年3月29日")
    assert r.status == "valid"
    assert r.values["fill_date"] == "2018-03-29"
    assert at(r, form, "fill_date") == [("normalised", "warning")]


def test_unreadable_date(folder):
    form = F.form_a()
    r = read_a(folder, fill_date="三月底")
    assert r.status == "invalid" and r.values["fill_date"] is None
    assert at(r, form, "fill_date") == [("bad_date", "error")]


def test_phone_typed_as_a_number_is_text(folder):
    r = read_a(folder, phone=62718888)
    assert r.status == "valid"
    assert r.values["phone"] == "62718888"


# ---------------------------------------------------------------------------- many at once

def test_every_problem_is_reported_at_once(folder):
    form = F.form_a()
    r = read_a(folder, A6="无", A9_3="１２", A1_1=-1, filler=None)
    assert r.status == "invalid"
    by_code = {}
    for i in r.issues:
        by_code.setdefault(i.code, []).append(i.kind)
    assert by_code["A6"] == ["not_a_number"]
    assert by_code["A9_3"] == ["normalised"]
    assert by_code["A1_1"] == ["below_min"]
    assert by_code["filler"] == ["required"]
    assert r.values["A6"] is None and r.values["A9_3"] == 12 and r.values["A1_1"] is None
    cells = [i.cell for i in r.issues if i.kind != "rule"]
    assert all(c and c.startswith(f"{SHEET_A}!") for c in cells)


@pytest.mark.parametrize("stored", [1.1 * 10, 11.000000000000002, 10.999999999999998])
def test_binary_rounding_of_a_whole_number_is_not_a_fraction(src_a, folder, stored):
    """Excel stores =1.1*10 as 11.000000000000002; that is 11, not 'a decimal in an integer cell'."""
    form = F.form_a()
    path = F.set_cell(src_a, SHEET_A, F.ref(form, "A6"), value=stored, dst=folder / f"a_round_{next(_counter)}.xlsx")
    r = check_file(path)
    assert r.status == "valid", [(i.kind, i.message("en")) for i in r.issues]
    assert r.values["A6"] == 11 and type(r.values["A6"]) is int
