"""``toolkit merge`` on the command line: exit codes, the one-line summary, JSON and CSV, bad input.

A merge that writes its summary exits 0 and prints one line; a merge that must not go ahead
(mixed form versions, nothing recognisable, an unreadable roster) exits 1 with one line and
writes nothing; a usage error exits 2. Never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from merge_data import (
    AGENCIES,
    DETAIL_FIRST_ROW,
    FORM_A,
    FORM_B,
    LABEL,
    PREVIOUS,
    ROSTER,
    SAMPLES,
    close,
    expected,
    form_of,
    is_number,
    make_return,
    numeric_codes,
    sheet_rows,
)

from toolkit.cli import main
from toolkit.layout import layout_of
from toolkit.roster import Agency, read_roster
from toolkit.schema import load_form, resolve
from toolkit.summary import summary_sheet_name


def run(*args: object):
    return CliRunner(env={"TOOLKIT_LANG": "en"}).invoke(main, ["merge", *map(str, args)])


def assert_no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def summary_totals(path: Path, form_id: str) -> dict[str, float]:
    form = form_of(form_id)
    lay = layout_of(form)
    wb = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for code in numeric_codes(form):
        cell = lay.cells[code]
        out[code] = wb[summary_sheet_name(cell.sheet)].cell(cell.row + 1, cell.col + 1).value
    return out


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith("\ufeff".encode("utf-8"))            # BOM: Excel opens it as UTF-8
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def number(s: str) -> float | None:
    return None if s == "" else float(s)


# ---------------------------------------------------------------------------- the bundled samples

@pytest.fixture(scope="module")
def merged(tmp_path_factory):
    """Form B's sample returns with the roster, summary + JSON + CSV."""
    out = tmp_path_factory.mktemp("cli")
    result = run(SAMPLES[FORM_B], "--roster", ROSTER, "-o", out / "汇总.xlsx", "--json", out / "totals.json",
                 "--csv", out / "detail-en.csv")
    # the CSV follows the command's language: Chinese headings by default
    zh = CliRunner().invoke(main, ["--lang", "zh", "merge", str(SAMPLES[FORM_B]), "--roster", str(ROSTER),
                                   "-o", str(out / "zh.xlsx"), "--csv", str(out / "detail.csv")])
    assert zh.exit_code == 0, zh.output
    return result, out


def test_exit_0_and_one_line(merged):
    result, out = merged
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{out / '汇总.xlsx'}: 37 of 42 workbook(s) in the totals "
        "(37 valid, 2 invalid, 1 rejected, 1 duplicate, 1 not on the roster, 14 missing); period 2023"]
    assert result.stderr == ""                                  # the totals of valid returns break no rule
    assert sorted(os.listdir(out)) == ["detail-en.csv", "detail.csv", "totals.json", "zh.xlsx", "汇总.xlsx"]   # no temporary files left


@pytest.mark.slow  # slow: over a second of whole-roster work; the quick run keeps smaller tests of the same command
def test_json_and_csv_carry_the_totals_and_detail(merged):
    _, out = merged
    files = sorted(SAMPLES[FORM_B].glob("*.xlsx"))
    exp = expected(FORM_B, files, read_roster(ROSTER))
    data = json.loads((out / "totals.json").read_text(encoding="utf-8"))
    form = form_of(FORM_B)
    assert data["schema"] == {"id": form.id, "version": form.version, "hash": form.content_hash}
    assert set(data["totals"]) == set(numeric_codes(form))
    xlsx = summary_totals(out / "汇总.xlsx", FORM_B)
    for code, want in exp.totals.items():
        assert close(data["totals"][code], want), code
        assert close(xlsx[code], want), code
    assert data["counts"] == exp.counts()
    assert [m["code"] for m in data["missing"]] == [a.code for a in exp.missing]
    agencies = {Path(a["file"]).name: a for a in data["agencies"]}
    assert set(agencies) == set(exp.status)
    for name, a in agencies.items():
        rd = exp.reads[name]
        assert (a["code"], a["status"], a["used"]) == (rd.code, exp.status[name], exp.used[name]), name
        for code in numeric_codes(form):
            want = rd.values.get(code)
            assert close(a["values"].get(code), want if is_number(want) else None), (name, code)

    rows = read_csv(out / "detail.csv")
    head, body, total = rows[0], rows[1:-1], rows[-1]
    # people read it: Chinese headings, the indicators by their labels, statuses as the summary says them
    assert head[:6] == ["单位代码", "单位名称", "分组", "状态", "计入汇总", "文件"]
    assert head[6:] == [form.indicators[code].label for code in numeric_codes(form)]
    codes = numeric_codes(form)
    assert total[0] == "合计"
    for code, v in zip(codes, total[6:]):
        assert close(number(v), data["totals"][code]), code
    assert len(body) == len(data["agencies"])
    by_file = {r[5]: r for r in body}
    for name, a in agencies.items():
        r = by_file[name]
        assert r[:5] == [a["code"], a["name"], a["group"], LABEL[a["status"]], "是" if a["used"] else "否"]
        for code, v in zip(codes, r[6:]):
            want = a["values"].get(code)
            assert close(number(v), float(want) if want is not None else None), (name, code)


@pytest.mark.slow  # slow: over a second of whole-roster work; the quick run keeps smaller tests of the same command
def test_include_invalid_counts_and_marks_them(tmp_path):
    out = tmp_path
    result = run(SAMPLES[FORM_B], "--roster", ROSTER, "-o", out / "s.xlsx", "--json", out / "t.json", "--include-invalid")
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{out / 's.xlsx'}: 39 of 42 workbook(s) in the totals (37 valid, 2 invalid,")
    exp = expected(FORM_B, sorted(SAMPLES[FORM_B].glob("*.xlsx")), read_roster(ROSTER), include_invalid=True)
    data = json.loads((out / "t.json").read_text(encoding="utf-8"))
    xlsx = summary_totals(out / "s.xlsx", FORM_B)
    for code, want in exp.totals.items():
        assert close(data["totals"][code], want), code
        assert close(xlsx[code], want), code
    invalid = [a for a in data["agencies"] if a["status"] == "invalid"]
    assert sorted(a["code"] for a in invalid) == ["D002", "D003"]
    assert all(a["used"] and "include-invalid" in a["note"] for a in invalid)
    wb = openpyxl.load_workbook(out / "s.xlsx", data_only=True)
    rows = {r[0]: r for r in sheet_rows(wb["明细"], DETAIL_FIRST_ROW)}
    assert (rows["D002"][3], rows["D002"][4]) == ("有错误", "是")
    assert (rows["D003"][3], rows["D003"][4]) == ("有错误", "是")
    # D003's broken balance now breaks the totals' balance too: said on stderr and in the JSON
    assert data["rules_failed_on_totals"]
    assert result.stderr.strip() == f"warning: the totals break {len(data['rules_failed_on_totals'])} rule(s); see the summary sheets"
    first = layout_of(form_of(FORM_B)).sheets[1]
    verdict = wb[summary_sheet_name(first.name)].cell(first.status_row + 1, 1).value
    assert verdict.startswith("汇总数审核：✗")


def test_form_a_samples(tmp_path):
    result = run(SAMPLES[FORM_A], "--roster", ROSTER, "-o", tmp_path / "a.xlsx")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'a.xlsx'}: 11 of 15 workbook(s) in the totals "
        "(10 valid, 1 valid with warnings, 1 invalid, 1 rejected, 1 duplicate, 1 not on the roster, 41 missing); period 2017"]


# ---------------------------------------------------------------------------- formula injection

DANGER = "=cmd|' /C calc'!A0"


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_agency_text_neutralised_in_csv(tmp_path):
    form = form_of(FORM_A)
    d = tmp_path / "in"
    make_return(form, d, "D001.xlsx", Agency("D001", DANGER, "@SUM(1+1)"), seed=1)
    make_return(form, d, "-1+1.xlsx", Agency("+D002", "@HYPERLINK(\"http://x\")", "-2"), seed=2)
    make_return(form, d, "D003.xlsx", Agency("D003", "市教育局", "政府部门"), seed=3)
    result = run(d, "-o", tmp_path / "s.xlsx", "--csv", tmp_path / "d.csv", "--json", tmp_path / "t.json")
    assert result.exit_code == 0, result.output
    rows = {r[5]: r for r in read_csv(tmp_path / "d.csv")[1:-1]}
    assert rows["'-1+1.xlsx"][:3] == ["'+D002", "'@HYPERLINK(\"http://x\")", "'-2"]
    assert rows["D001.xlsx"][:3] == ["D001", "'" + DANGER, "'@SUM(1+1)"]
    assert rows["D003.xlsx"][:3] == ["D003", "市教育局", "政府部门"]
    for r in rows.values():                                   # no agency-supplied cell can start a formula
        assert all(cell[:1] not in ("=", "+", "-", "@") for cell in r[:6]), r
    # the summary workbook keeps the text as text (a string cell, never a formula)
    wb = openpyxl.load_workbook(tmp_path / "s.xlsx")
    for sheet in ("明细", "报送情况"):
        cells = [c for row in wb[sheet].iter_rows() for c in row if c.value == DANGER]
        assert cells and all(c.data_type == "s" for c in cells), sheet
    # JSON is data, not a spreadsheet: the names as they are
    data = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert DANGER in {a["name"] for a in data["agencies"]}


def test_roster_text_neutralised_in_csv(tmp_path):
    form = form_of(FORM_A)
    roster = tmp_path / "roster.csv"
    roster.write_text('code,name,group\nD001,"=1+2",@g\n', encoding="utf-8")
    make_return(form, tmp_path / "in", "D001.xlsx", Agency("D001", "市发展和改革局", "政府部门"), seed=1)
    result = run(tmp_path / "in", "--roster", roster, "-o", tmp_path / "s.xlsx", "--csv", tmp_path / "d.csv")
    assert result.exit_code == 0, result.output
    row = read_csv(tmp_path / "d.csv")[1]
    assert row[:3] == ["D001", "'=1+2", "'@g"]


# ---------------------------------------------------------------------------- refused merges

@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """Three returns of form A 1.0.0 and two of a 1.1.0 copy of it, with the copy's schema folder."""
    base = tmp_path_factory.mktemp("versions")
    doc = json.loads(resolve(FORM_A).read_text(encoding="utf-8"))
    doc["version"] = "1.1.0"
    schemas = base / "schemas"
    schemas.mkdir()
    (schemas / "gov-info-disclosure-2017-1.1.0.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    new = load_form(schemas / "gov-info-disclosure-2017-1.1.0.json")
    d = base / "in"
    for i, a in enumerate(AGENCIES[:2]):
        make_return(new, d, f"{a.code}_1.1.0.xlsx", a, seed=i)
    for i, a in enumerate(AGENCIES):
        make_return(form_of(FORM_A), d, f"{a.code}_1.0.0.xlsx", a, seed=10 + i)
    return d, schemas


def test_mixed_versions_refused(two_versions, tmp_path):
    d, schemas = two_versions
    out = tmp_path / "汇总.xlsx"
    out.write_bytes(PREVIOUS)
    result = run(d, "--schema-dir", schemas, "-o", out, "--json", tmp_path / "t.json")
    assert_no_traceback(result)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert f"{FORM_A} 1.0.0: 3 file(s)" in lines[0] and f"{FORM_A} 1.1.0: 2 file(s)" in lines[0]
    assert out.read_bytes() == PREVIOUS                         # the summary of last time is left alone
    assert sorted(os.listdir(tmp_path)) == ["汇总.xlsx"]        # and nothing else written


def test_mixed_versions_refused_even_when_one_is_unknown(two_versions, tmp_path):
    """Without --schema-dir the 1.1.0 returns cannot be read, but they still name their edition."""
    d, _ = two_versions
    result = run(d, "-o", tmp_path / "s.xlsx")
    assert_no_traceback(result)
    assert result.exit_code == 1
    assert "1.0.0: 3 file(s)" in result.stderr and "1.1.0: 2 file(s)" in result.stderr
    assert not (tmp_path / "s.xlsx").exists()


def test_one_version_with_schema_dir(two_versions, tmp_path):
    d, schemas = two_versions
    only = tmp_path / "only"
    only.mkdir()
    for p in d.glob("*_1.1.0.xlsx"):
        shutil.copy2(p, only / p.name)
    result = run(only, "--schema-dir", schemas, "-o", tmp_path / "s.xlsx", "--json", tmp_path / "t.json")
    assert result.exit_code == 0, result.output
    assert "2 of 2 workbook(s) in the totals (2 valid)" in result.stdout
    assert json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))["schema"]["version"] == "1.1.0"


@pytest.mark.slow  # slow: over a second of whole-roster work; the quick run keeps smaller tests of the same command
def test_returns_of_another_form_are_rejected_by_name(tmp_path):
    """Form A returns among Form B's: not a reason to refuse the merge (issue 11), but each one is
    a rejected return, listed by name, and Form B's totals are those of Form B's files alone."""
    result = run(SAMPLES[FORM_A], SAMPLES[FORM_B], "-o", tmp_path / "s.xlsx", "--json", tmp_path / "t.json")
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert doc["schema"]["id"] == FORM_B
    of_a = [a for a in doc["agencies"] if Path(a["file"]).parent == Path(SAMPLES[FORM_A])]
    assert sorted(Path(a["file"]).name for a in of_a) == sorted(p.name for p in Path(SAMPLES[FORM_A]).glob("*.xlsx"))
    assert all(a["status"] == "rejected" and not a["used"] for a in of_a)
    # those not already rejected for a fault of their own say why they are set aside
    assert sum("另一种表单（gov-info-disclosure-2017 1.0.0）" in a["note"] for a in of_a) >= 10
    alone = run(SAMPLES[FORM_B], "-o", tmp_path / "b.xlsx", "--json", tmp_path / "b.json")
    assert json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))["totals"] == doc["totals"]


# ---------------------------------------------------------------------------- bad input

def test_no_workbooks_is_a_usage_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("回执")
    result = run(empty, "-o", tmp_path / "s.xlsx")
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert "no workbooks" in result.output
    assert not (tmp_path / "s.xlsx").exists()


def test_output_is_required(tmp_path):
    result = run(SAMPLES[FORM_A])
    assert result.exit_code == 2
    assert "--output" in result.output


def test_nothing_recognisable_exit_1(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    openpyxl.Workbook().save(d / "handmade.xlsx")
    (d / "page.xlsx").write_bytes(b"<html><body>not a workbook</body></html>")
    result = run(d, "-o", tmp_path / "s.xlsx")
    assert_no_traceback(result)
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: ")
    assert not (tmp_path / "s.xlsx").exists()


@pytest.mark.parametrize("kind", ["binary", "no_code_column", "absent", "duplicate_code"])
def test_unreadable_roster_exit_1(tmp_path, kind):
    roster = tmp_path / "roster.csv"
    if kind == "binary":
        roster.write_bytes(bytes(range(256)) * 4)
    elif kind == "no_code_column":
        roster.write_text("名称,分组\n市教育局,政府部门\n", encoding="utf-8")
    elif kind == "duplicate_code":
        roster.write_text("code,name\nD001,甲\nD001,乙\n", encoding="utf-8")
    result = run(SAMPLES[FORM_A], "--roster", roster, "-o", tmp_path / "s.xlsx")
    assert_no_traceback(result)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines and all(ln.startswith(f"error: {roster}: ") for ln in lines)
    assert not (tmp_path / "s.xlsx").exists()


def test_output_in_a_file_not_a_folder(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    result = run(SAMPLES[FORM_A], "-o", blocker / "s.xlsx")
    assert_no_traceback(result)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")


def test_inputs_never_modified_by_the_cli(tmp_path):
    import hashlib
    files = sorted(SAMPLES[FORM_A].glob("*.xlsx"))
    before = {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in files}
    result = run(SAMPLES[FORM_A], "--roster", ROSTER, "-o", tmp_path / "s.xlsx", "--json", tmp_path / "t.json",
                 "--csv", tmp_path / "d.csv", "--include-invalid")
    assert result.exit_code == 0, result.output
    assert {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in files} == before
    assert sorted(p.name for p in SAMPLES[FORM_A].iterdir()) == sorted(p.name for p in files)   # nothing added beside them


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_same_inputs_same_json_totals(tmp_path):
    a = run(SAMPLES[FORM_A], "--roster", ROSTER, "-o", tmp_path / "1.xlsx", "--json", tmp_path / "1.json", "--jobs", "1")
    b = run(SAMPLES[FORM_A], "--roster", ROSTER, "-o", tmp_path / "2.xlsx", "--json", tmp_path / "2.json", "--jobs", "4")
    assert a.exit_code == b.exit_code == 0
    one = json.loads((tmp_path / "1.json").read_text(encoding="utf-8"))
    two = json.loads((tmp_path / "2.json").read_text(encoding="utf-8"))
    assert one["totals"] == two["totals"] and one == two
