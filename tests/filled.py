"""Filled-in and tampered workbooks for the ``toolkit check`` tests.

Three ways of making a returned workbook, from the most to the least faithful:

* :func:`write` — :func:`toolkit.template.build_template` with ``values``: the figures sit in the
  input cells as a spreadsheet program stores them (a ``str`` stays text, so "无", "１２" or "1,200"
  can be written into a number cell) and every formula carries its correct cached result;
* the openpyxl editors (:func:`insert_row`, :func:`rename_sheet`, …) — what a clerk does to the
  structure. openpyxl drops every cached formula result on saving, so the reader sees '' in the
  computed cells of these files and must not complain about that;
* the zip editors (:func:`set_cell`, :func:`set_cached`, :func:`drop_part`) — rewrite one cell or
  part of the package and leave every other byte alone, for what openpyxl would lose (cached
  values, error cells, formulas with a cached result).

Every function writes a new file and returns its path; the source file is never changed.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping
from xml.etree import ElementTree as ET

import openpyxl

from toolkit.layout import Cell, layout_of
from toolkit.sheets import IDENTITY_SHEET
from toolkit.roster import Agency
from toolkit.schema import Form, load_form, resolve
from toolkit.template import TemplateRequest, build_template

from official_figures import COUNTY_2023, SEED_2017, SEED_BLANK  # noqa: F401  (re-exported for the tests)

FORM_A = "gov-info-disclosure-2017"
FORM_B = "gov-info-disclosure-2021"
PASSWORD = "s3cret"

AGENCY_A = Agency(code="D07", name="余姚市科学技术协会", group="D")
AGENCY_B = Agency(code="T01", name="某县人民政府办公室", group="T")

# What the clerk types into the header (填报单位 and 单位代码 are prefilled and locked).
HEADER_A = {"filler": "王芳", "phone": "0574-62718888", "fill_date": dt.date(2018, 3, 29)}
HEADER_B = {"filler": "张伟", "phone": "0574-63001234", "fill_date": dt.date(2024, 1, 20)}

# Table 四 as the county published it: 结果维持 2, 其他结果 1 … and 总计 0 (a computed cell here).
COUNTY_INPUTS = {k: v for k, v in COUNTY_2023.items() if k != "B4.ld_total"}
COUNTY_PUBLISHED_TOTAL = COUNTY_2023["B4.ld_total"]   # 0, where 2 + 1 = 3


@lru_cache(maxsize=None)
def form(schema_id: str) -> Form:
    return load_form(resolve(schema_id))


def form_a() -> Form:
    return form(FORM_A)


def form_b() -> Form:
    return form(FORM_B)


def cell(f: Form, code: str) -> Cell:
    """Where an indicator or header field sits (0-based row/col; ``.address`` like 统计表!C12)."""
    lay = layout_of(f)
    return lay.cells[code] if code in lay.cells else lay.field_cells[code]


def ref(f: Form, code: str) -> str:
    """The A1 reference of a code's cell, without the sheet: C64."""
    return cell(f, code).address.split("!", 1)[1]


def seed_values(**overrides: Any) -> dict[str, Any]:
    """Form A as 余姚市科学技术协会 published it for 2017, with a filled-in header."""
    return {**SEED_2017, **HEADER_A, **overrides}


def county_values(**overrides: Any) -> dict[str, Any]:
    """Form B's tables 二 and 四 as the county published them (only the inputs), with a header."""
    return {**COUNTY_INPUTS, **HEADER_B, **overrides}


# ---------------------------------------------------------------------------- building

def build(f: Form, values: Mapping[str, Any] | None = None, *, agency: Agency | None = None,
          year: int | None = None, password: str = PASSWORD) -> bytes:
    agency = agency if agency is not None else (AGENCY_A if f.id == FORM_A else AGENCY_B)
    return build_template(f, TemplateRequest(agency=agency, year=year, password=password,
                                             template_id="0" * 32, generated_at="2024-01-02T03:04:05+00:00",
                                             values=dict(values) if values is not None else None))


def write(folder: Path, name: str, f: Form, values: Mapping[str, Any] | None = None, **kw: Any) -> Path:
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(build(f, values, **kw))
    return path


def filled_a(folder: Path, name: str = "form_a.xlsx", **overrides: Any) -> Path:
    """Form A filled with the seed's figures (``overrides`` replace single values)."""
    return write(folder, name, form_a(), seed_values(**overrides))


def filled_b(folder: Path, name: str = "form_b.xlsx", **overrides: Any) -> Path:
    """Form B filled with the county's published figures (``overrides`` replace single values)."""
    return write(folder, name, form_b(), county_values(**overrides))


def _out(src: Path, dst: str | Path | None, tag: str) -> Path:
    if dst is None:
        return src.with_name(f"{src.stem}.{tag}{src.suffix}")
    dst = Path(dst)
    return dst if dst.is_absolute() else src.parent / dst


# ---------------------------------------------------------------------------- openpyxl editing

def edit(src: Path, change: Callable[[openpyxl.Workbook], None], dst: str | Path | None = None, tag: str = "edited") -> Path:
    """Open ``src`` with openpyxl, apply ``change`` and save it (cached formula results are lost)."""
    out = _out(Path(src), dst, tag)
    wb = openpyxl.load_workbook(src)
    change(wb)
    wb.save(out)
    wb.close()
    return out


def resave(src: Path, dst: str | Path | None = None) -> Path:
    """Only open and save with openpyxl: every cached formula result is dropped."""
    return edit(src, lambda wb: None, dst, "resaved")


def insert_row(src: Path, sheet: str, row: int, dst: str | Path | None = None) -> Path:
    """Insert an empty row before 1-based ``row``."""
    return edit(src, lambda wb: wb[sheet].insert_rows(row), dst, "inserted")


def delete_row(src: Path, sheet: str, row: int, dst: str | Path | None = None) -> Path:
    """Delete the 1-based ``row``."""
    return edit(src, lambda wb: wb[sheet].delete_rows(row), dst, "deleted")


def set_text(src: Path, sheet: str, a1: str, value: Any, dst: str | Path | None = None) -> Path:
    def change(wb: openpyxl.Workbook) -> None:
        wb[sheet][a1].value = value
    return edit(src, change, dst, "text")


def rename_sheet(src: Path, old: str, new: str, dst: str | Path | None = None) -> Path:
    def change(wb: openpyxl.Workbook) -> None:
        wb[old].title = new
    return edit(src, change, dst, "renamed")


def add_sheet(src: Path, name: str = "Sheet1", dst: str | Path | None = None) -> Path:
    def change(wb: openpyxl.Workbook) -> None:
        wb.create_sheet(name)["A1"] = "备注"
    return edit(src, change, dst, "added")


def reorder_sheets(src: Path, dst: str | Path | None = None) -> Path:
    """Move the first sheet to just before the instructions sheet's end (the visible order changes)."""
    def change(wb: openpyxl.Workbook) -> None:
        first = wb.worksheets[0]
        wb.move_sheet(first, offset=2)
    return edit(src, change, dst, "reordered")


def remove_identity(src: Path, sheet: bool = True, properties: bool = True, dst: str | Path | None = None) -> Path:
    """Drop the ``_toolkit`` sheet and/or the ``toolkit.*`` custom document properties."""
    def change(wb: openpyxl.Workbook) -> None:
        if sheet:
            del wb[IDENTITY_SHEET]
        if properties:
            for name in list(wb.custom_doc_props.names):
                if name.startswith("toolkit."):
                    del wb.custom_doc_props[name]
    return edit(src, change, dst, "noidentity")


def set_identity(src: Path, key: str, value: str, where: tuple[str, ...] = ("sheet", "properties"),
                 dst: str | Path | None = None) -> Path:
    """Change one identity value in the hidden sheet and/or the document properties."""
    def change(wb: openpyxl.Workbook) -> None:
        if "sheet" in where:
            ws = wb[IDENTITY_SHEET]
            hits = [row for row in ws.iter_rows(min_col=1, max_col=2) if row[0].value == key]
            assert hits, f"{key} not in the identity sheet"
            hits[0][1].value = value
        if "properties" in where:
            wb.custom_doc_props[f"toolkit.{key}"].value = value
    return edit(src, change, dst, f"id-{key}")


def remove_protection(src: Path, structure: bool = False, dst: str | Path | None = None) -> Path:
    """Unprotect every sheet (and the workbook structure when asked)."""
    def change(wb: openpyxl.Workbook) -> None:
        for ws in wb.worksheets:
            ws.protection.sheet = False
        if structure and wb.security is not None:
            wb.security.lockStructure = False
    return edit(src, change, dst, "unprotected")


def merge_cells(src: Path, sheet: str, cell_range: str, dst: str | Path | None = None) -> Path:
    def change(wb: openpyxl.Workbook) -> None:
        wb[sheet].merge_cells(cell_range)
    return edit(src, change, dst, "merged")


def put_date(src: Path, sheet: str, a1: str, when: dt.date, dst: str | Path | None = None) -> Path:
    """A date typed into a cell: the value and a date number format (what Excel stores)."""
    def change(wb: openpyxl.Workbook) -> None:
        c = wb[sheet][a1]
        c.value = when
        c.number_format = "yyyy-mm-dd"
    return edit(src, change, dst, "date")


# ---------------------------------------------------------------------------- zip editing

def sheet_members(path: Path) -> dict[str, str]:
    """Sheet name → its part in the package (xl/worksheets/sheetN.xml)."""
    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    with zipfile.ZipFile(path) as zf:
        wb = ET.fromstring(zf.read("xl/workbook.xml"))
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") for r in rels}
    out = {}
    for s in wb.iter(f"{ns_main}sheet"):
        t = targets[s.get(f"{ns_rel}id")]
        out[s.get("name")] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    return out


def rewrite_part(src: Path, member: str, change: Callable[[bytes], bytes | None], dst: str | Path | None = None,
                 tag: str = "zipped") -> Path:
    """Copy the package, passing ``member`` through ``change`` (None drops the part)."""
    out = _out(Path(src), dst, tag)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        seen = False
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == member:
                seen = True
                data = change(data)
                if data is None:
                    continue
            zout.writestr(info, data)
        assert seen, f"{member} not in {src}"
    return out


def drop_part(src: Path, member: str, dst: str | Path | None = None) -> Path:
    return rewrite_part(src, member, lambda _: None, dst, "dropped")


def _cell_pattern(a1: str) -> re.Pattern[bytes]:
    return re.compile(rb'<c r="' + a1.encode() + rb'"((?:\s+[\w:]+="[^"]*")*)\s*(?:/>|>(.*?)</c>)', re.S)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def set_cell(src: Path, sheet: str, a1: str, *, formula: str | None = None, value: Any = None,
             error: str | None = None, dst: str | Path | None = None) -> Path:
    """Rewrite one cell (keeping its style) as xlsxwriter's ``write_formula`` would write it.

    ``formula`` without ``value`` and ``error`` leaves the formula without a cached result;
    ``error`` ('#DIV/0!') makes it an error cell; a str ``value`` is a cached text result.
    """
    pattern = _cell_pattern(a1)

    def change(data: bytes) -> bytes:
        m = pattern.search(data)
        assert m, f"cell {a1} not found in {sheet}"
        style = re.search(rb'\ss="\d+"', m.group(1) or b"")
        attrs = f'r="{a1}"' + (style.group(0).decode() if style else "")
        inner = f"<f>{_escape(formula)}</f>" if formula is not None else ""
        if error is not None:
            attrs += ' t="e"'
            inner += f"<v>{_escape(error)}</v>"
        elif isinstance(value, bool):
            attrs += ' t="b"'
            inner += f"<v>{int(value)}</v>"
        elif isinstance(value, (int, float)):
            inner += f"<v>{value!r}</v>" if isinstance(value, float) else f"<v>{value}</v>"
        elif isinstance(value, str):
            if formula is None:
                attrs += ' t="inlineStr"'
                inner = f"<is><t>{_escape(value)}</t></is>"
            else:
                attrs += ' t="str"'
                inner += f"<v>{_escape(value)}</v>"
        new = f"<c {attrs}>{inner}</c>" if inner else f"<c {attrs}/>"
        return data[:m.start()] + new.encode() + data[m.end():]

    return rewrite_part(src, sheet_members(Path(src))[sheet], change, dst, "cell")


def cell_xml(path: Path, sheet: str, a1: str) -> str:
    """The XML of one cell as stored (for assertions about what a file really holds)."""
    with zipfile.ZipFile(path) as zf:
        data = zf.read(sheet_members(Path(path))[sheet])
    m = _cell_pattern(a1).search(data)
    return m.group(0).decode() if m else ""


def set_cached(src: Path, sheet: str, a1: str, value: float, dst: str | Path | None = None) -> Path:
    """Change only the cached result of the formula cell ``a1`` (the formula itself stays)."""
    pattern = _cell_pattern(a1)

    def change(data: bytes) -> bytes:
        m = pattern.search(data)
        assert m and m.group(2) and b"<f" in m.group(2), f"{a1} is not a formula cell"
        old = m.group(0)
        new, n = re.subn(rb"<v>[^<]*</v>", f"<v>{value}</v>".encode(), old)
        assert n == 1
        return data[:m.start()] + new + data[m.end():]

    return rewrite_part(src, sheet_members(Path(src))[sheet], change, dst, "cached")


# ---------------------------------------------------------------------------- files that are not templates

def plain_workbook(path: Path) -> Path:
    """A workbook someone made by hand, with the form's labels but no identity."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "统计表"
    ws["A1"] = "政府信息公开情况统计表"
    ws["A5"], ws["B5"], ws["C5"] = "六、举报投诉数量", "件", 3
    wb.save(path)
    return path


def junk_files(folder: Path) -> dict[str, Path]:
    """Files named like workbooks that are not: each must be one 'rejected' line, never a traceback."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    out["empty"] = folder / "empty.xlsx"
    out["empty"].write_bytes(b"")
    out["random"] = folder / "random.xlsx"
    out["random"].write_bytes(bytes((i * 7919 + 13) % 256 for i in range(5000)))
    out["csv"] = folder / "renamed_csv.xlsx"
    out["csv"].write_text("单位,数量\n余姚市科学技术协会,3\n", encoding="utf-8")
    out["pdf"] = folder / "scan.xlsx"
    out["pdf"].write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n")
    out["folder"] = folder / "x.xlsx"
    out["folder"].mkdir(exist_ok=True)
    (out["folder"] / "inside.txt").write_text("not a workbook")
    out["truncated"] = folder / "truncated.xlsx"
    good = build(form_a(), seed_values())
    out["truncated"].write_bytes(good[: len(good) // 2])
    return out
