"""Agency lists (rosters): read from CSV (UTF-8, UTF-8 with BOM, or GBK as Chinese Excel saves it) or XLSX.

A roster problem is reported with the line people see when they open the file, and nothing is
generated from a roster that has one: sending 54 templates with two agencies sharing a code is
worse than sending none.
"""

from __future__ import annotations

import csv
import io
import stat
from dataclasses import dataclass
from pathlib import Path

COLUMN_ALIASES = {
    "code": ("code", "代码", "单位代码", "编码", "单位编码", "编号"),
    "name": ("name", "名称", "单位名称", "单位", "填报单位"),
    "group": ("group", "分组", "类别", "组别", "分类", "单位类别"),
}
MAX_ROSTER_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    group: str = ""
    line: int = 0


class RosterError(Exception):
    """A roster that cannot be used; ``problems`` are one line each, naming the roster line."""

    def __init__(self, path: str, problems: list[str]):
        self.path = path
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{path}: {problems[0]}{more}")


def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise UnicodeDecodeError("roster", raw, 0, 1, "neither UTF-8 nor GBK")


def _rows_from_xlsx(path: Path) -> list[list[str]]:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    sheet = wb.get_sheet_by_index(0)
    out = []
    for row in sheet.to_python(skip_empty_area=False):
        out.append(["" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)) for v in row])
    return out


def read_roster(path: str | Path) -> list[Agency]:
    """The agencies of a roster file, in file order; raises RosterError with every problem found."""
    p = Path(path)
    name = str(path)
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            # a FIFO or a device would block the read forever, a folder cannot be read as one
            raise RosterError(name, ["not a regular file (a folder, a pipe or a device)"])
        if st.st_size > MAX_ROSTER_BYTES:
            raise RosterError(name, ["the file is larger than 20 MB; a roster is a short list"])
        raw = p.read_bytes()
    except OSError as e:
        raise RosterError(name, [f"cannot read the file: {e.strerror or e}"]) from None
    if raw[:4] == b"PK\x03\x04" or p.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods"):
        try:
            rows = _rows_from_xlsx(p)
        except Exception as e:  # calamine raises several types for a broken file
            raise RosterError(name, [f"cannot read it as a spreadsheet: {str(e).splitlines()[0] if str(e) else type(e).__name__}"]) from None
    else:
        try:
            text = _decode(raw)
        except UnicodeDecodeError:
            raise RosterError(name, ["the file is neither UTF-8 nor GBK text, nor a spreadsheet"]) from None
        if "\x00" in text:
            raise RosterError(name, ["the file is not a text CSV (it contains NUL bytes)"])
        reader = csv.reader(io.StringIO(text))
        rows, lines = [], []
        line = 1
        for record in reader:
            rows.append(record)
            lines.append(line)          # the file line a record starts on (a quoted name may span lines)
            line = reader.line_num + 1
        return parse_rows(rows, name, lines)
    return parse_rows(rows, name)


MAX_NAME = 200


def parse_rows(rows: list[list[str]], name: str, lines: list[int] | None = None) -> list[Agency]:
    """Agencies from table rows; ``lines`` gives each row's line in the file (default: its index + 1)."""
    lines = lines or list(range(1, len(rows) + 1))
    header_at = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), None)
    if header_at is None:
        raise RosterError(name, ["the roster is empty"])
    header = [c.strip().lstrip("\ufeff").lower() for c in rows[header_at]]
    index: dict[str, int] = {}
    for key, aliases in COLUMN_ALIASES.items():
        for i, h in enumerate(header):
            if h in aliases:
                index[key] = i
                break
    missing = [k for k in ("code", "name") if k not in index]
    if missing:
        raise RosterError(name, [f"line {lines[header_at]}: the heading row needs the columns code and name "
                                 f"(or 单位代码 and 单位名称); missing {', '.join(missing)}"])
    problems: list[str] = []
    agencies: list[Agency] = []
    seen: dict[str, int] = {}
    for i in range(header_at + 1, len(rows)):
        row = rows[i]
        line = lines[i]
        if not any(c.strip() for c in row):
            continue

        def cell(key: str) -> str:
            j = index.get(key)
            return row[j].strip() if j is not None and j < len(row) else ""

        code, nm, group = cell("code"), cell("name"), cell("group")
        if not code:
            problems.append(f"line {line}: the agency code is empty")
            continue
        if not nm:
            problems.append(f"line {line}: agency {code} has an empty name")
        if len(nm) > MAX_NAME or len(code) > 64:
            problems.append(f"line {line}: agency {code[:20]} has a name longer than {MAX_NAME} characters (or a code longer than 64)")
        if any(ord(ch) < 32 for ch in code + nm + group):
            problems.append(f"line {line}: agency {code} contains control characters")
        if code in seen:
            problems.append(f"line {line}: agency code {code} is used twice (also on line {seen[code]})")
            continue
        seen[code] = line
        agencies.append(Agency(code=code, name=nm, group=group, line=line))
    if not agencies and not problems:
        problems.append("the roster lists no agencies")
    if problems:
        raise RosterError(name, problems)
    return agencies
