"""Builders and independent expectations for the merge tests: sample returns, figures worked out without toolkit.consolidation, readers of the summary's sheets."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from toolkit.layout import layout_of
from toolkit.registry import Registry
from toolkit.roster import Agency
from toolkit.samples import as_inputs, header_values, random_figures
from toolkit.schema import Form, load_form, resolve
from toolkit.summary import DETAIL_CODES, DETAIL_FIRST, FIXED_COLUMNS
from toolkit.template import TemplateRequest, build_template
from toolkit.validate import Result, check_file

REPO = Path(__file__).resolve().parent.parent


ROSTER = REPO / "workbooks" / "sample-roster.csv"


FORM_A = "gov-info-disclosure-2017"


FORM_B = "gov-info-disclosure-2021"


SAMPLES = {FORM_B: REPO / "workbooks" / "returns-2021", FORM_A: REPO / "workbooks" / "returns-2017"}


# the office's words for each status, as the summary shows them
LABEL = {"valid": "通过", "warnings": "通过（有提示）", "invalid": "有错误", "rejected": "拒收",
         "missing": "未报送", "duplicate": "重复报送（未采用）", "unknown": "不在名单"}


DETAIL_FIRST_ROW = DETAIL_FIRST + 1   # 1-based: title, note, codes, two heading rows, then one row per workbook


STAMP = "2024-01-05T09:00:00+00:00"


@functools.lru_cache(maxsize=None)
def form_of(form_id: str) -> Form:
    return load_form(resolve(form_id))


@functools.lru_cache(maxsize=None)
def shipped_registry() -> Registry:
    """One registry of the shipped forms for every read here: a new one per file loads and validates
    the form's schema again each time (a quarter of a second), which is all the cost of the samples' reads."""
    return Registry()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def numeric_codes(form: Form) -> list[str]:
    return [code for code, ind in form.indicators.items() if ind.spec.numeric]


def date_field(form: Form) -> str:
    return next(f.code for f in form.header if f.spec.type == "date")


def make_return(form: Form, folder: Path, name: str, agency: Agency | None, seed: Any = 0,
                fill_date: dt.date | None = None, values: dict[str, Any] | None = None) -> Path:
    """A filled workbook as an agency sends it back (figures consistent with the form's rules)."""
    figures = random_figures(form, seed=seed) if values is None else values
    header = header_values(form, seed=seed)
    if fill_date is not None:
        header[date_field(form)] = fill_date
    req = TemplateRequest(agency=agency, password="pw", template_id=f"t-{name}", generated_at=STAMP,
                          values={**as_inputs(form, figures), **header})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(build_template(form, req))
    return path


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass
class Read:
    """One input workbook as openpyxl and check_file see it."""
    path: Path
    code: str                       # from the file name: CODE_名称.xlsx
    name: str                       # from the file name
    result: Result
    values: dict[str, Any]          # numeric indicator → what its cell holds (formula cells: cached result)
    fill_date: dt.date | None


@functools.lru_cache(maxsize=None)
def read_return(form_id: str, path: Path) -> Read:
    form = form_of(form_id)
    lay = layout_of(form)
    result = check_file(path, shipped_registry())
    values: dict[str, Any] = {}
    fill_date = None
    if result.status != "rejected":
        # openpyxl's streaming reader, each sheet's values read once (the full reader binds every
        # style and merged range of the form: ten times slower, the same values)
        wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
        grids: dict[str, list[tuple[Any, ...]]] = {}

        def value(sheet: str, row: int, col: int) -> Any:
            if sheet not in grids:
                grids[sheet] = list(wb[sheet].iter_rows(values_only=True))
            grid = grids[sheet]
            return grid[row][col] if row < len(grid) and col < len(grid[row]) else None

        for code in numeric_codes(form):
            cell = lay.cells[code]
            values[code] = value(cell.sheet, cell.row, cell.col)
        fc = lay.field_cells[date_field(form)]
        v = value(fc.sheet, fc.row, fc.col)
        fill_date = v.date() if isinstance(v, dt.datetime) else v
        wb.close()
    stem = path.stem.replace("（更正）", "")
    code, _, name = stem.partition("_")
    return Read(path=path, code=code, name=name, result=result, values=values, fill_date=fill_date)


@dataclass
class Expected:
    reads: dict[str, Read]          # by file name
    status: dict[str, str]          # file name → status key
    used: dict[str, bool]
    totals: dict[str, float]
    missing: list[Agency]
    roster: list[Agency] | None

    def counts(self) -> dict[str, int]:
        c = Counter(self.status.values())
        c["missing"] = len(self.missing)
        return {k: c.get(k, 0) for k in LABEL}

    def group_of(self, name: str) -> str:
        rd = self.reads[name]
        by_code = {a.code: a for a in self.roster or ()}
        if rd.code in by_code:
            return by_code[rd.code].group
        ident = rd.result.identity
        return ident.agency_group if ident else ""


def expected(form_id: str, files: list[Path], roster: list[Agency] | None, include_invalid: bool = False) -> Expected:
    """What a merge of ``files`` must give, worked out from the files themselves."""
    form = form_of(form_id)
    reads = {p.name: read_return(form_id, p) for p in files}
    by_code = {a.code: a for a in roster} if roster is not None else None
    status: dict[str, str] = {}
    for name, rd in reads.items():
        r = rd.result
        if r.status == "rejected":
            status[name] = "rejected"
        elif by_code is not None and rd.code not in by_code:
            status[name] = "unknown"
        elif r.status == "invalid":
            status[name] = "invalid"
        else:
            status[name] = "warnings" if r.warnings else "valid"
    # one agency twice: the later 填报日期 wins, then the later file time
    same: dict[str, list[str]] = {}
    for name in reads:
        if status[name] in ("valid", "warnings", "invalid"):
            same.setdefault(reads[name].code, []).append(name)
    for names in same.values():
        if len(names) > 1:
            winner = max(names, key=lambda n: (reads[n].fill_date or dt.date.min, reads[n].path.stat().st_mtime))
            for n in names:
                if n != winner:
                    status[n] = "duplicate"
    used = {n: st in ("valid", "warnings") or (include_invalid and st == "invalid") for n, st in status.items()}
    totals = {code: 0.0 for code in numeric_codes(form)}
    for n, u in used.items():
        if u:
            for code, v in reads[n].values.items():
                if is_number(v):
                    totals[code] += v
    arrived = {rd.code for rd in reads.values()}
    missing = [a for a in roster if a.code not in arrived] if roster is not None else []
    return Expected(reads=reads, status=status, used=used, totals=totals, missing=missing, roster=roster)


def close(a: Any, b: Any) -> bool:
    if is_number(a) and is_number(b):
        return abs(a - b) <= 1e-6 * max(1.0, abs(b))
    return a == b


def sheet_rows(ws: Any, first: int) -> list[tuple[Any, ...]]:
    """Rows from ``first`` (1-based) down to the first row with nothing in column A."""
    out = []
    for row in ws.iter_rows(min_row=first, values_only=True):
        if row[0] in (None, ""):
            break
        out.append(row)
    return out


def text(v: Any) -> str:
    return "" if v is None else str(v)


def detail_columns(ws: Any) -> dict[str, int]:
    """明细's indicator columns (0-based) from its (hidden) row of codes."""
    head = next(ws.iter_rows(min_row=DETAIL_CODES + 1, max_row=DETAIL_CODES + 1, values_only=True))
    return {str(h): j for j, h in enumerate(head) if h and j >= len(FIXED_COLUMNS) and str(h)[:1].isupper()}   # header fields: lower-case codes


@dataclass
class Sample:
    form_id: str
    folder: Path
    files: list[Path]
    hashes_before: dict[Path, tuple[str, float]]
    hashes_after: dict[Path, tuple[str, float]]
    c: Any
    exp: Expected
    path: Path
    values: Any        # openpyxl, data_only: the cached values
    formulas: Any      # openpyxl: the formulas


def fingerprint(files: list[Path]) -> dict[Path, tuple[str, float]]:
    return {p: (sha256(p), p.stat().st_mtime) for p in files}


AGENCIES = [Agency("D001", "市发展和改革局", "政府部门"), Agency("D002", "市经济和信息化局", "政府部门"),
            Agency("T001", "阳明街道", "乡镇街道")]


def totals_of(form: Form, paths: list[Path]) -> dict[str, float]:
    """Sum of the cells of ``paths`` per numeric indicator (openpyxl)."""
    out = {code: 0.0 for code in numeric_codes(form)}
    for p in paths:
        for code, v in read_return(form.id, p).values.items():
            if is_number(v):
                out[code] += v
    return out


def assert_totals(c: Any, want: dict[str, float]) -> None:
    bad = {code: (c.totals[code], v) for code, v in want.items() if not close(c.totals[code], v)}
    assert not bad


def by_file(c: Any) -> dict[str, Any]:
    return {Path(s.result.file).name: s for s in c.submissions}


PREVIOUS = b"PK\x03\x04 the summary written yesterday"


def csv_rows(path: Path) -> list[list[str]]:
    import csv
    import io
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                    # UTF-8 with BOM: Excel opens the Chinese
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
