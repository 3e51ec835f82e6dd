"""Agency rosters: the encodings and formats offices actually save, and errors naming the line."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from toolkit.roster import Agency, RosterError, read_roster

SAMPLE_ROSTER = Path(__file__).resolve().parent.parent / "workbooks" / "sample-roster.csv"  # bundled copy of the reference roster


@pytest.fixture(scope="module")
def sample_text() -> str:
    return SAMPLE_ROSTER.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sample_rows(sample_text) -> list[list[str]]:
    import csv
    import io
    return list(csv.reader(io.StringIO(sample_text)))


def expected(sample_rows) -> list[Agency]:
    return [Agency(code=r[0], name=r[1], group=r[2], line=i + 2, contact=r[3], phone=r[4], email=r[5])
            for i, r in enumerate(sample_rows[1:]) if r]


def problems_of(path: Path) -> list[str]:
    with pytest.raises(RosterError) as e:
        read_roster(path)
    assert str(path) in str(e.value)
    return e.value.problems


# ---------------------------------------------------------------------------- encodings and formats

def test_sample_roster_utf8(tmp_path, sample_text, sample_rows):
    p = tmp_path / "r.csv"
    p.write_bytes(sample_text.encode("utf-8"))
    got = read_roster(p)
    assert got == expected(sample_rows)
    if SAMPLE_ROSTER.exists():
        assert len(got) == 54
        assert got[0] == Agency("D001", "市发展和改革局", "政府部门", 2, contact="马华", phone="13443196383", email="d001@yy.gov.example")


def test_utf8_with_bom(tmp_path, sample_text, sample_rows):
    p = tmp_path / "r.csv"
    p.write_bytes(b"\xef\xbb\xbf" + sample_text.encode("utf-8"))
    assert read_roster(p) == expected(sample_rows)


def test_gbk_as_chinese_excel_saves_it(tmp_path, sample_text, sample_rows):
    p = tmp_path / "r.csv"
    data = sample_text.replace("\n", "\r\n").encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really not UTF-8
    p.write_bytes(data)
    assert read_roster(p) == expected(sample_rows)


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_xlsx_roster(tmp_path, sample_rows):
    p = tmp_path / "roster.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in sample_rows:
        ws.append(r)
    wb.save(p)
    assert read_roster(p) == expected(sample_rows)


def test_xlsx_numeric_codes_blank_rows_and_chinese_headings(tmp_path):
    p = tmp_path / "名单.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["单位代码", "单位名称", "单位类别"])
    ws.append([1001, "市教育局", "政府部门"])      # Excel keeps a typed code as a number
    ws.append([None, None, None])
    ws.append(["1002", " 市财政局 ", None])
    wb.save(p)
    assert read_roster(p) == [Agency("1001", "市教育局", "政府部门", 2), Agency("1002", "市财政局", "", 4)]


def test_xlsx_errors_name_the_row(tmp_path):
    p = tmp_path / "roster.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["code", "name"])
    ws.append(["A1", "甲"])
    ws.append([None, None])
    ws.append(["A1", "乙"])
    wb.save(p)
    [problem] = problems_of(p)
    assert "line 4" in problem and "line 2" in problem and "A1" in problem


def test_chinese_headings_in_any_order(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("单位名称,备注,单位代码\n市教育局,,D003\n市公安局,无,D005\n", encoding="utf-8")
    assert read_roster(p) == [Agency("D003", "市教育局", "", 2), Agency("D005", "市公安局", "", 3)]


def test_other_heading_aliases(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("Code,Name,Group\nx1,甲,g\n", encoding="utf-8")
    assert read_roster(p) == [Agency("x1", "甲", "g", 2)]
    p.write_text("代码,名称,分组\nx1,甲,g\n", encoding="utf-8")
    assert read_roster(p) == [Agency("x1", "甲", "g", 2)]


def test_blank_lines_are_skipped_and_lines_counted(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("\n\ncode,name\n\nD1,甲\n ,  \n,,\nD2,乙\n\n", encoding="utf-8")
    assert read_roster(p) == [Agency("D1", "甲", "", 5), Agency("D2", "乙", "", 8)]


def test_crlf_and_spaces_around_values(tmp_path):
    p = tmp_path / "r.csv"
    p.write_bytes("code,name,group\r\n D1 , 甲 , g \r\n".encode("utf-8"))
    assert read_roster(p) == [Agency("D1", "甲", "g", 2)]


def test_quoted_names_with_commas(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text('code,name\nD1,"市发展和改革局（物价局, 粮食局）"\n', encoding="utf-8")
    assert read_roster(p)[0].name == "市发展和改革局（物价局, 粮食局）"


# ---------------------------------------------------------------------------- errors with line numbers

def test_duplicate_code_names_both_lines(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("code,name\nD1,甲\nD2,乙\nD1,丙\n", encoding="utf-8")
    [problem] = problems_of(p)
    assert problem.startswith("line 4:") and "D1" in problem and "line 2" in problem


def test_empty_name_and_empty_code(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("code,name\nD1,\n,乙\nD3,丙\n", encoding="utf-8")
    problems = problems_of(p)
    assert len(problems) == 2  # every problem, not only the first
    assert problems[0].startswith("line 2:") and "D1" in problems[0] and "name" in problems[0]
    assert problems[1].startswith("line 3:") and "code" in problems[1]


def test_missing_columns_name_the_heading_line(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("\n单位,地址\n甲,某路\n", encoding="utf-8")
    [problem] = problems_of(p)
    assert problem.startswith("line 2:") and "code" in problem and "单位代码" in problem


def test_missing_name_column(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("code,地址\nD1,某路\n", encoding="utf-8")
    [problem] = problems_of(p)
    assert "line 1" in problem and "name" in problem


def test_control_characters(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("code,name\nD1,甲\x07乙\n", encoding="utf-8")
    [problem] = problems_of(p)
    assert problem.startswith("line 2:") and "control" in problem


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"code,name\n\n"])
def test_empty_rosters(tmp_path, content):
    p = tmp_path / "r.csv"
    p.write_bytes(content)
    [problem] = problems_of(p)
    assert "empty" in problem or "no agencies" in problem


def test_unreadable_files(tmp_path):
    assert "cannot read" in problems_of(tmp_path / "nope.csv")[0]
    binary = tmp_path / "b.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    assert problems_of(binary)
    broken = tmp_path / "b.xlsx"
    broken.write_bytes(b"PK\x03\x04garbage")
    assert "spreadsheet" in problems_of(broken)[0]
    renamed = tmp_path / "r.xlsx"
    renamed.write_text("code,name\nD1,甲\n", encoding="utf-8")  # a CSV someone named .xlsx
    assert problems_of(renamed)


def test_line_numbers_after_a_name_spanning_two_lines(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text('code,name\nD1,"甲\n乙"\nD2,丙\nD2,丁\n', encoding="utf-8")
    problems = problems_of(p)
    assert any(x.startswith("line 5:") and "D2" in x for x in problems), problems


def test_contact_columns_in_any_order_and_either_language(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("电子邮箱,单位名称,Phone,单位代码,联系人\nx@a.cn,甲局,0574-1,D1,王芳\n,乙局,,D2,\n", encoding="utf-8")
    assert read_roster(p) == [Agency("D1", "甲局", "", 2, contact="王芳", phone="0574-1", email="x@a.cn"),
                              Agency("D2", "乙局", "", 3)]
