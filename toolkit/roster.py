"""Agency lists (rosters): read from CSV (UTF-8, UTF-8 with BOM, or GBK as Chinese Excel saves it) or XLSX.

A roster problem is reported with the line people see when they open the file, and nothing is
generated from a roster that has one: sending 54 templates with two agencies sharing a code is
worse than sending none.
"""

from __future__ import annotations

import csv
import io
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import Bilingual as B
from .errors import RosterProblem, in_language

COLUMN_ALIASES = {
    "code": ("code", "代码", "单位代码", "编码", "单位编码", "编号"),
    "name": ("name", "名称", "单位名称", "单位", "填报单位"),
    "group": ("group", "分组", "类别", "组别", "分类", "单位类别"),
    # the unit the agency reports through (a county): completeness is counted per parent as well
    "parent": ("parent", "上级单位", "上级", "所属地区", "所属县区"),
    # how to reach the agency, for 催报 (toolkit remind): optional, any order
    "contact": ("contact", "contact person", "联系人", "填报联系人", "经办人"),
    "phone": ("phone", "telephone", "tel", "联系电话", "电话", "手机", "联系方式"),
    "email": ("email", "e-mail", "mail", "电子邮箱", "邮箱", "电子邮件"),
}
MAX_ROSTER_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Agency:
    code: str
    name: str
    group: str = ""
    line: int = 0
    contact: str = ""
    phone: str = ""
    email: str = ""
    parent: str = ""


class RosterError(RosterProblem):
    """A roster that cannot be used; ``problems`` are one line each, naming the roster line."""

    def __init__(self, path: str, problems: Sequence[str]):
        self.path = path
        self.problems = list(problems)
        n = len(problems)
        super().__init__(f"{path}：{in_language(problems[0])}" + (f"（另有 {n - 1} 处问题）" if n > 1 else ""),
                         f"{path}: {problems[0]}" + (f" (and {n - 1} more)" if n > 1 else ""))


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
            raise RosterError(name, [B("不是普通文件（是文件夹、管道或设备）", "not a regular file (a folder, a pipe or a device)")])
        if st.st_size > MAX_ROSTER_BYTES:
            raise RosterError(name, [B("文件大于 20 MB，名单不会这么大", "the file is larger than 20 MB; a roster is a short list")])
        raw = p.read_bytes()
    except OSError as e:
        raise RosterError(name, [B(f"无法读取该文件：{e.strerror or e}", f"cannot read the file: {e.strerror or e}")]) from None
    if raw[:4] == b"PK\x03\x04" or p.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods"):
        try:
            rows = _rows_from_xlsx(p)
        except Exception as e:  # calamine raises several types for a broken file
            raise RosterError(name, [B("无法作为电子表格读取（文件已损坏或不是表格）", f"cannot read it as a spreadsheet: {str(e).splitlines()[0] if str(e) else type(e).__name__}")]) from None
    else:
        try:
            text = _decode(raw)
        except UnicodeDecodeError:
            raise RosterError(name, [B("文件既不是 UTF-8 或 GBK 编码的文本，也不是电子表格", "the file is neither UTF-8 nor GBK text, nor a spreadsheet")]) from None
        if "\x00" in text:
            raise RosterError(name, [B("文件不是文本 CSV（含有 NUL 字节）", "the file is not a text CSV (it contains NUL bytes)")])
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
        raise RosterError(name, [B("名单是空的", "the roster is empty")])
    header = [c.strip().lstrip("\ufeff").lower() for c in rows[header_at]]
    index: dict[str, int] = {}
    for key, aliases in COLUMN_ALIASES.items():
        for i, h in enumerate(header):
            if h in aliases:
                index[key] = i
                break
    missing = [k for k in ("code", "name") if k not in index]
    if missing:
        raise RosterError(name, [B(f"第 {lines[header_at]} 行：标题行须有“单位代码”和“单位名称”两列（或 code、name），缺少 {'、'.join(missing)}",
                                   f"line {lines[header_at]}: the heading row needs the columns code and name "
                                   f"(or 单位代码 and 单位名称); missing {', '.join(missing)}")])
    problems: list[B] = []
    agencies: list[Agency] = []
    seen: dict[str, int] = {}
    for i in range(header_at + 1, len(rows)):
        row = rows[i]
        line = lines[i]
        if not any(c.strip() for c in row):
            continue

        def cell(key: str, row: list[str] = row) -> str:
            j = index.get(key)
            return row[j].strip() if j is not None and j < len(row) else ""

        code, nm, group, parent = cell("code"), cell("name"), cell("group"), cell("parent")
        contact, phone, email = cell("contact"), cell("phone"), cell("email")
        if not code:
            problems.append(B(f"第 {line} 行：单位代码为空", f"line {line}: the agency code is empty"))
            continue
        if not nm:
            problems.append(B(f"第 {line} 行：单位 {code} 的名称为空", f"line {line}: agency {code} has an empty name"))
        if len(nm) > MAX_NAME or len(code) > 64:
            problems.append(B(f"第 {line} 行：单位 {code[:20]} 的名称超过 {MAX_NAME} 字（或代码超过 64 字）",
                                f"line {line}: agency {code[:20]} has a name longer than {MAX_NAME} characters (or a code longer than 64)"))
        if any(ord(ch) < 32 for ch in code + nm + group + parent + contact + phone + email):
            problems.append(B(f"第 {line} 行：单位 {code} 含有控制字符", f"line {line}: agency {code} contains control characters"))
        if code in seen:
            problems.append(B(f"第 {line} 行：单位代码 {code} 重复（第 {seen[code]} 行也有）", f"line {line}: agency code {code} is used twice (also on line {seen[code]})"))
            continue
        seen[code] = line
        agencies.append(Agency(code=code, name=nm, group=group, line=line, contact=contact[:100], phone=phone[:100], email=email[:200], parent=parent[:MAX_NAME]))
    if not agencies and not problems:
        problems.append(B("名单中没有任何单位", "the roster lists no agencies"))
    if problems:
        raise RosterError(name, problems)
    return agencies
