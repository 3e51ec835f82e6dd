"""Summaries of summaries: three counties merge their agencies' returns, the city merges the three
county summaries (and one agency's own return, which duplicates a county's agency).

Every figure is made here, so the city's totals are checked against sums computed in this file
from the values written into the returns, not against anything the toolkit computed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import shutil
import zipfile
from pathlib import Path

import filled as F
import openpyxl
import pytest

import toolkit
from toolkit.checks import with_computed
from toolkit.layout import layout_of
from toolkit.roster import Agency, read_roster
from toolkit.summary import DETAIL_CODES, DETAIL_FIRST, FIXED_COLUMNS, summary_sheet_names

COUNTIES = ("A县", "B县", "C县")
PER_COUNTY = 3
DUPLICATE = "A01"           # also sends its own return to the city
NEVER = Agency(code="C99", name="C县从未报送的单位", group="部门", parent="C县")


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def free_inputs(form) -> list[str]:
    """Inputs no rule and no computed figure reads: any value there keeps a return valid and
    changes exactly one cell of the totals."""
    reads = {c for inst in form.instances for c in inst.reads}
    base = with_computed(form, {i.code: 0 for i in form.inputs})
    out = []
    for ind in form.inputs:
        if ind.code in reads or not ind.spec.numeric or ind.spec.type != "integer":
            continue
        if with_computed(form, {i.code: 0 for i in form.inputs} | {ind.code: 7}) == base | {ind.code: 7}:
            out.append(ind.code)
    return out


class City:
    """The whole two-level collection, built once for the module."""

    def __init__(self, root: Path):
        self.root = root
        self.form = F.form_b()
        rnd = random.Random(13)
        self.free = free_inputs(self.form)[:6]
        assert len(self.free) >= 3      # (the cross-year rules of 13a read some inputs too)
        self.agencies: list[Agency] = []
        self.values: dict[str, dict] = {}          # agency code → the values written into its return
        self.originals: dict[str, Path] = {}       # agency code → its return as the county received it
        for county in COUNTIES:
            for i in range(PER_COUNTY):
                a = Agency(code=f"{county[0]}{i:02d}", name=f"{county}第{i}单位", group="部门" if i else "乡镇", parent=county)
                v = F.county_values(**{c: rnd.randint(0, 50) for c in self.free})
                self.agencies.append(a)
                self.values[a.code] = v
                self.originals[a.code] = F.write(root / county, f"{a.code}.xlsx", self.form, v, agency=a)
        self.summaries: dict[str, Path] = {}
        for county in COUNTIES:
            c = toolkit.merge([root / county], office=county)
            self.summaries[county] = toolkit.write_summary(c, root / "to-city" / f"{county}汇总.xlsx")
        dup = next(a for a in self.agencies if a.code == DUPLICATE)
        # the agency's own copy: the same figures, filled in later (so this one is used)
        self.own = F.write(root / "to-city", f"{DUPLICATE}_自报.xlsx", self.form,
                           {**self.values[DUPLICATE], "fill_date": dt.date(2024, 2, 1)}, agency=dup)
        self.roster = [*self.agencies, NEVER]
        self.city = toolkit.merge([root / "to-city"], roster=self.roster, office="某市")
        self.city_path = toolkit.write_summary(self.city, root / "市汇总.xlsx")

    def expected_totals(self) -> dict[str, float]:
        """Every input summed over the agencies' own values (each agency once)."""
        out: dict[str, float] = {}
        for ind in self.form.inputs:
            if ind.spec.numeric:
                out[ind.code] = sum(float(v.get(ind.code) or 0) for v in self.values.values())
        return out


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> City:
    return City(tmp_path_factory.mktemp("rollup"))


def test_a_county_summary_checks_as_a_summary(city):
    [r] = toolkit.check([city.summaries["B县"]])
    assert (r.status, r.kind) == ("valid", "summary")
    assert r.identity.office == "B县" and r.identity.period == "2023"
    assert [p.identity.agency_code for p in r.parts] == ["B00", "B01", "B02"]
    assert all(p.status == "valid" and p.kind == "part" for p in r.parts)
    b01 = next(p for p in r.parts if p.identity.agency_code == "B01")
    for code in city.free:
        assert b01.values[code] == city.values["B01"][code]
    assert b01.sources == [(str(city.originals["B01"]), sha256(city.originals["B01"]))]


def test_city_totals_are_the_sum_of_every_original_return(city):
    want = city.expected_totals()
    for code, total in want.items():
        assert city.city.totals[code] == pytest.approx(total), code
    # and the free inputs really differ between agencies (the test would catch a lost or doubled row)
    assert len({city.values[a.code][city.free[0]] for a in city.agencies}) > 3


@pytest.mark.slow  # slow: over a second of whole-roster work; the quick run keeps smaller tests of the same command
def test_the_city_summary_written_agrees_with_its_totals(city):
    """The written workbook's 汇总 cells are the totals (the rollup reader checks every one of them)."""
    [r] = toolkit.check([city.city_path])
    assert (r.status, r.kind) == ("valid", "summary"), r.reason_zh
    assert sorted(p.identity.agency_code for p in r.parts) == sorted(a.code for a in city.agencies)
    wb = openpyxl.load_workbook(city.city_path)
    names = summary_sheet_names(city.form)
    lay = layout_of(city.form)
    want = city.expected_totals()
    for code in city.free:
        sl = next(s for s in lay.sheets if code in s.inputs)
        row, col = sl.inputs[code]
        cached = openpyxl.load_workbook(city.city_path, data_only=True)[names[sl.name]].cell(row + 1, col + 1).value
        assert cached == want[code], code
    assert "_toolkit" in wb.sheetnames and wb["_toolkit"].sheet_state == "veryHidden"


def test_one_row_per_agency_and_the_duplicate_reported(city):
    used = [s.code for s in city.city.used]
    assert sorted(used) == sorted(a.code for a in city.agencies)          # each agency once
    dup = [s for s in city.city.submissions if s.code == DUPLICATE]
    assert len(dup) == 2
    loser = next(s for s in dup if not s.used)
    winner = next(s for s in dup if s.used)
    assert loser.status == "duplicate" and loser.result.kind == "part"
    assert Path(winner.result.file) == city.own
    assert f"{city.own.name}" in loser.note and "本份未采用" in loser.note
    assert "A县汇总.xlsx，A县汇总表中的一行" in winner.note and "已采用" in winner.note
    assert city.city.counts()["duplicate"] == 1


def test_an_agency_in_two_county_summaries_is_a_duplicate(city, tmp_path):
    """B01 also appears in a second summary (a county that wrongly collected it too)."""
    other = tmp_path / "D县"
    other.mkdir()
    shutil.copy(city.originals["B01"], other / "B01.xlsx")
    d = toolkit.write_summary(toolkit.merge([other], office="D县"), tmp_path / "in" / "D县汇总.xlsx")
    shutil.copy(city.summaries["B县"], tmp_path / "in")
    c = toolkit.merge([tmp_path / "in"])
    b01 = [s for s in c.submissions if s.code == "B01"]
    assert sorted(s.status for s in b01) == ["duplicate", "valid"]
    assert {s.parent for s in b01} == {"B县", "D县"}
    assert sum(s.used for s in c.submissions) == 3 and d.exists()


def test_the_sources_reach_every_original_file(city):
    ws = openpyxl.load_workbook(city.city_path)["来源"]
    head = [c.value for c in ws[2]]
    rows = [dict(zip(head, (c.value for c in row), strict=False)) for row in ws.iter_rows(min_row=3) if row[0].value]
    originals = {sha256(p) for p in city.originals.values()} | {sha256(city.own)}
    assert {r["原始 sha256"] for r in rows} == originals
    counted = [r for r in rows if r["计入汇总"] == "是"]
    assert len(counted) == len(city.agencies)
    for r in counted:
        code = r["单位代码"]
        if code == DUPLICATE:
            assert r["原始 sha256"] == r["sha256"] == sha256(city.own)
            continue
        county = next(a.parent for a in city.agencies if a.code == code)
        assert (r["原始文件"], r["原始 sha256"]) == (str(city.originals[code]), sha256(city.originals[code]))
        assert (r["文件"], r["sha256"]) == (str(city.summaries[county]), sha256(city.summaries[county]))
        assert not r["经由"]


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_a_third_level_keeps_the_whole_chain(city, tmp_path):
    shutil.copy(city.city_path, tmp_path / "市.xlsx")
    c = toolkit.merge([tmp_path / "市.xlsx"], office="省")
    b02 = next(s for s in c.used if s.code == "B02")
    assert b02.result.sources == [(str(city.originals["B02"]), sha256(city.originals["B02"])),
                                  (str(city.summaries["B县"]), sha256(city.summaries["B县"]))]
    assert b02.parent == "某市"
    for code, total in city.expected_totals().items():
        assert c.totals[code] == pytest.approx(total)
    out = toolkit.write_summary(c, tmp_path / "省.xlsx")
    ws = openpyxl.load_workbook(out)["来源"]
    head = [x.value for x in ws[2]]
    row = next(dict(zip(head, (x.value for x in r), strict=False)) for r in ws.iter_rows(min_row=3) if r[7].value == "B02")
    assert row["经由"] == f"{sha256(city.summaries['B县'])}  {city.summaries['B县']}"


def test_subtotals_and_completeness_per_county(city):
    c = city.city
    assert c.counts_by_parent() == {"A县": {"expected": 3, "used": 3, "missing": 0},
                                    "B县": {"expected": 3, "used": 3, "missing": 0},
                                    "C县": {"expected": 4, "used": 3, "missing": 1}}
    assert [a.code for a in c.missing] == ["C99"]
    wb = openpyxl.load_workbook(city.city_path, data_only=True)
    ws = wb["明细"]
    codes = [x.value for x in ws[DETAIL_CODES + 1]]
    j = codes.index(city.free[0])
    sub = {r[1].value: r[j].value for r in ws.iter_rows(min_row=DETAIL_FIRST + 1) if str(r[1].value or "").startswith("小计（上级单位）")}
    for county in COUNTIES:
        want = sum(city.values[a.code][city.free[0]] for a in city.agencies if a.parent == county)
        assert sub[f"小计（上级单位）：{county}"] == want
    status = [[x.value for x in r] for r in wb["报送情况"].iter_rows()]
    assert ["C县", 4, 3, 1] in [r[:4] for r in status]
    assert FIXED_COLUMNS[-1] == "上级单位"


# ---------------------------------------------------------------------------- tampering

def _detail_cell(city: City, path: Path, code: str, agency: str) -> str:
    ws = openpyxl.load_workbook(path)["明细"]
    col = [c.value for c in ws[DETAIL_CODES + 1]].index(code)
    row = next(r[0].row for r in ws.iter_rows(min_row=DETAIL_FIRST + 1) if r[0].value == agency)
    return f"{openpyxl.utils.get_column_letter(col + 1)}{row}"


def _total_cell(city: City, code: str) -> tuple[str, str]:
    lay = layout_of(city.form)
    sl = next(s for s in lay.sheets if code in s.inputs)
    row, col = sl.inputs[code]
    return summary_sheet_names(city.form)[sl.name], f"{openpyxl.utils.get_column_letter(col + 1)}{row + 1}"


def _rewrite(src: Path, dst: Path, members: tuple[str, ...], old: bytes, new: bytes) -> Path:
    """Replace ``old`` by ``new`` in the named parts only (every other byte kept)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename in members:
                assert old in data, info.filename
                data = data.replace(old, new)
            zout.writestr(info, data)
    return dst


@pytest.fixture
def county_b(city, tmp_path) -> Path:
    return Path(shutil.copy(city.summaries["B县"], tmp_path / "B县汇总.xlsx"))


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_a_detail_figure_changed_is_refused(city, county_b):
    code = city.free[0]
    bad = F.set_cell(county_b, "明细", _detail_cell(city, county_b, code, "B01"), value=city.values["B01"][code] + 100)
    [r] = toolkit.check([bad])
    assert r.status == "rejected" and r.kind == "summary" and not r.parts
    assert "汇总表被改动" in r.reason_zh and "明细" in r.reason_zh and "\n" not in r.reason_zh
    assert "altered" in r.reason_en


def test_a_total_changed_is_refused(city, county_b):
    sheet, ref = _total_cell(city, city.free[1])
    bad = F.set_cached(county_b, sheet, ref, 99999)
    [r] = toolkit.check([bad])
    assert r.status == "rejected" and f"{ref} 的汇总数为 99999" in r.reason_zh


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_a_figure_and_its_total_changed_together_are_refused(city, county_b):
    code = city.free[2]
    old_total = sum(city.values[a][code] for a in ("B00", "B01", "B02"))
    step = F.set_cell(county_b, "明细", _detail_cell(city, county_b, code, "B02"), value=city.values["B02"][code] + 5)
    sheet, ref = _total_cell(city, code)
    bad = F.set_cached(step, sheet, ref, old_total + 5)
    [r] = toolkit.check([bad])
    assert r.status == "rejected" and "校验值" in r.reason_zh


def test_the_identity_edited_is_refused(city, county_b, tmp_path):
    members = F.sheet_members(county_b)
    parts = ("docProps/custom.xml", members["_toolkit"])
    with zipfile.ZipFile(county_b) as z:
        if "xl/sharedStrings.xml" in z.namelist() and b"B\xe5\x8e\xbf" not in z.read(members["_toolkit"]):
            parts = ("docProps/custom.xml", "xl/sharedStrings.xml")
    bad = _rewrite(county_b, tmp_path / "office.xlsx", parts, "B县".encode(), "X县".encode())
    [r] = toolkit.check([bad])
    assert r.status == "rejected" and "校验值" in r.reason_zh
    one_copy = _rewrite(county_b, tmp_path / "one.xlsx", ("docProps/custom.xml",), "B县".encode(), "X县".encode())
    [r] = toolkit.check([one_copy])
    assert r.status == "rejected" and "不一致" in r.reason_zh


def test_an_agency_dropped_from_the_identity_is_refused(city, county_b, tmp_path):
    members = F.sheet_members(county_b)
    with zipfile.ZipFile(county_b) as z:
        where = [m for m in ("docProps/custom.xml", members["_toolkit"], "xl/sharedStrings.xml")
                 if m in z.namelist() and b"B00\nB01\nB02" in z.read(m)]
    assert where
    bad = _rewrite(county_b, tmp_path / "fewer.xlsx", tuple(where), b"B00\nB01\nB02", b"B00\nB01")
    [r] = toolkit.check([bad])
    assert r.status == "rejected" and "标识所列的单位" in r.reason_zh


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_a_tampered_county_summary_is_left_out_of_the_city(city, county_b, tmp_path):
    code = city.free[0]
    folder = tmp_path / "in"
    folder.mkdir()
    F.set_cell(county_b, "明细", _detail_cell(city, county_b, code, "B01"), value=1000, dst=folder / "B县汇总.xlsx")
    shutil.copy(city.summaries["A县"], folder)
    c = toolkit.merge([folder], roster=city.roster, office="某市")
    [rej] = [s for s in c.submissions if s.status == "rejected"]
    assert rej.name == "B县（汇总表）" and "明细" in rej.note
    assert {a.code for a in c.missing} == {"B00", "B01", "B02", "C00", "C01", "C02", "C99"}
    assert c.totals[code] == sum(city.values[a][code] for a in ("A00", "A01", "A02"))
    assert c.counts_by_parent()["B县"] == {"expected": 3, "used": 0, "missing": 3}


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_a_summary_of_another_period_is_refused(city, tmp_path):
    folder = tmp_path / "in"
    a = Agency(code="Z01", name="上年单位", parent="Z县")
    F.write(tmp_path / "z", "z.xlsx", city.form, F.county_values(), agency=a, year=2022)
    toolkit.write_summary(toolkit.merge([tmp_path / "z"], office="Z县"), folder / "Z县2022.xlsx")
    shutil.copy(city.summaries["A县"], folder)
    c = toolkit.merge([folder], period=2023)
    [rej] = [s for s in c.submissions if s.status == "rejected"]
    assert "2022" in rej.note and "2023" in rej.note
    assert sorted(s.code for s in c.used) == ["A00", "A01", "A02"]


# ---------------------------------------------------------------------------- variants

@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_a_by_group_summary_is_an_input_like_any_other(city, tmp_path):
    c = toolkit.merge([city.root / "A县"], office="A县")
    path = toolkit.write_summary(c, tmp_path / "A县分组.xlsx", by_group=True)
    [r] = toolkit.check([path])
    assert r.status == "valid" and len(r.parts) == 3
    assert {p.identity.agency_group for p in r.parts} == {"部门", "乡镇"}


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_an_invalid_return_counted_below_stays_invalid_above(city, tmp_path):
    a = Agency(code="E01", name="有错误的单位", group="部门", parent="E县")
    bad_values = F.county_values(**{"B4.ld_keep": "无"})
    F.write(tmp_path / "E县", "E01.xlsx", city.form, bad_values, agency=a)
    F.write(tmp_path / "E县", "E02.xlsx", city.form, F.county_values(), agency=Agency(code="E02", name="好单位"))
    c = toolkit.merge([tmp_path / "E县"], office="E县", include_invalid=True)
    assert {s.code for s in c.used} == {"E01", "E02"}
    path = toolkit.write_summary(c, tmp_path / "up" / "E县.xlsx")
    [r] = toolkit.check([path])
    assert r.status == "valid"
    e01 = next(p for p in r.parts if p.identity.agency_code == "E01")
    assert e01.status == "invalid" and any(i.kind == "lower_invalid" and "E县" in i.message() for i in e01.issues)
    strict = toolkit.merge([path])
    assert [s.code for s in strict.used] == ["E02"]
    lenient = toolkit.merge([path], include_invalid=True)
    assert sorted(s.code for s in lenient.used) == ["E01", "E02"]


def test_roster_parent_column(tmp_path):
    p = tmp_path / "roster.csv"
    p.write_text("单位代码,单位名称,分组,上级单位\nA01,甲,部门,A县\nB01,乙,部门,\n", encoding="utf-8")
    assert [(a.code, a.parent) for a in read_roster(p)] == [("A01", "A县"), ("B01", "")]


def test_check_text_and_json_of_a_summary(city):
    [r] = toolkit.check([city.summaries["C县"]])
    text = toolkit.write_report([r])
    assert "C县汇总表，3 个单位" in text and "通过" in text
    import json
    [j] = json.loads(toolkit.write_report([r], format="json"))
    assert j["kind"] == "summary" and j["office"] == "C县"
    assert [a["code"] for a in j["agencies"]] == ["C00", "C01", "C02"]
    assert j["agencies"][0]["sources"][0]["sha256"] == sha256(city.originals["C00"])


def test_merge_office_option_on_the_command_line(city, tmp_path):
    from click.testing import CliRunner

    from toolkit.cli import main

    out = tmp_path / "c.xlsx"
    res = CliRunner().invoke(main, ["--lang", "en", "merge", str(city.root / "C县"), "-o", str(out), "--office", "C县办"])
    assert res.exit_code == 0, res.output
    [r] = toolkit.check([out])
    assert r.identity.office == "C县办" and r.kind == "summary"
    assert re.fullmatch(r"[0-9a-f]{64}", r.identity.detail_hash)


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_a_summary_rewritten_into_its_own_folder_is_not_an_input(city, tmp_path):
    """Merging a folder into a summary inside it, twice: the second run replaces the summary and
    does not read it back as a county's summary (its agencies would all be duplicates)."""
    from click.testing import CliRunner

    from toolkit.cli import main

    folder = Path(shutil.copytree(city.root / "A县", tmp_path / "A县"))
    out = folder / "汇总.xlsx"
    for _ in range(2):
        res = CliRunner().invoke(main, ["--lang", "en", "merge", str(folder), "-o", str(out), "--office", "A县"])
        assert res.exit_code == 0, res.output
        assert "3 of 3 workbook(s)" in res.output


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_a_summary_that_counts_no_one_is_listed_not_lost(city, tmp_path):
    a = Agency(code="F01", name="有错误的单位")
    F.write(tmp_path / "F县", "F01.xlsx", city.form, F.county_values(**{"B4.ld_keep": "无"}), agency=a)
    empty = toolkit.write_summary(toolkit.merge([tmp_path / "F县"], office="F县"), tmp_path / "in" / "F县.xlsx")
    [r] = toolkit.check([empty])
    assert (r.status, r.parts) == ("valid", [])
    shutil.copy(city.summaries["A县"], tmp_path / "in")
    c = toolkit.merge([tmp_path / "in"])
    [rej] = [s for s in c.submissions if s.status == "rejected"]
    assert rej.name == "F县（汇总表）" and "没有计入汇总的单位" in rej.note


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_a_return_claiming_to_be_a_summary_is_refused(city, tmp_path):
    forged = F.set_identity(city.originals["A00"], "format", "toolkit-summary/1", dst=tmp_path / "forged.xlsx")
    [r] = toolkit.check([forged])
    assert r.status == "rejected" and "明细" in r.reason_zh and not r.parts


def test_a_summary_passes_a_manifest_check_and_exports_its_chain(city, tmp_path):
    import json

    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,agency_code,template_id\nx.xlsx,Q01," + "1" * 32 + "\n", encoding="utf-8")
    c = toolkit.merge([city.summaries["A县"]], manifest=manifest, office="某市")
    assert sorted(s.code for s in c.used) == ["A00", "A01", "A02"]
    toolkit.write_json(c, tmp_path / "c.json")
    data = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    a01 = next(a for a in data["agencies"] if a["code"] == "A01")
    assert a01["parent"] == "A县" and a01["sources"] == [{"file": str(city.originals["A01"]), "sha256": sha256(city.originals["A01"])}]
    assert data["office"] == "某市"


def test_a_figure_of_seventeen_digits_survives_the_round_trip(tmp_path):
    """xlsxwriter writes 16 significant digits; the digest must not take that for tampering."""
    from toolkit.rollup import number

    assert number(0.1 + 0.2) == number(float(f"{0.1 + 0.2:.16g}")) == 0.3
    assert number(12.0) == 12 and isinstance(number(12.0), int) and number("") is None


def test_the_original_template_id_travels_up(city):
    [r] = toolkit.check([city.summaries["C县"]])
    [orig] = toolkit.check([city.originals["C01"]])
    c01 = next(p for p in r.parts if p.identity.agency_code == "C01")
    assert c01.identity.template_id == orig.identity.template_id != ""


@pytest.mark.slow
def test_a_county_summary_opened_and_saved_in_libreoffice_still_counts(lo, city, tmp_path):
    """An office opens its summary in a spreadsheet program (to print it) and saves it before
    sending it up: LibreOffice turns the very hidden identity sheet into a hidden one and rewrites
    every cell, yet every figure, the identity and the digest survive."""
    saved = tmp_path / "B县汇总-libreoffice.xlsx"
    lo.run([{"op": "open", "path": str(city.summaries["B县"])}, {"op": "save", "path": str(saved), "format": "xlsx"},
            {"op": "close"}])
    [r] = toolkit.check([saved])
    assert (r.status, r.kind) == ("valid", "summary"), r.reason_zh
    [before] = toolkit.check([city.summaries["B县"]])
    assert [(p.identity.agency_code, p.values, p.sources) for p in r.parts] == \
           [(p.identity.agency_code, p.values, p.sources) for p in before.parts]


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_a_summary_made_without_office_is_named_by_its_file(city, tmp_path):
    toolkit.write_summary(toolkit.merge([city.root / "B县"]), tmp_path / "in" / "乙县.xlsx")
    c = toolkit.merge([tmp_path / "in"])
    assert {s.parent for s in c.used} == {"乙县"} and len(c.used) == 3
    assert c.counts_by_parent() == {"乙县": {"expected": 0, "used": 3, "missing": 0}}
