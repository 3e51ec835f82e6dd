"""What a file really is, checked before any parser touches it.

Returned workbooks are untrusted: a file named ``.xlsx`` may be a PDF, a zip bomb, an encrypted
package or XML with entity expansions. This module sniffs the format from the bytes, bounds the
zip (member count, total and per-member inflated size, compression ratio), refuses XML with a
DOCTYPE (no entities, no external access — no spreadsheet program writes one), and, for OOXML,
gathers the facts python-calamine does not expose: which cells hold formulas, whether sheets and
the workbook structure are protected, macros and external links, custom document properties.
"""

from __future__ import annotations

import posixpath
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree as ET

from . import sheetxml
from .errors import RejectedFile
from .formulas import col_letter, col_number
from .layout import CHECKS_FIRST_ROW, EXPLANATION_COL
from .sheets import CHECKS_SHEET, IDENTITY_SHEET, INSTRUCTIONS_SHEET, LISTS_SHEET, RETURN_SHEET

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_MEMBERS = 2000
MAX_INFLATED_BYTES = 300 * 1024 * 1024
MAX_MEMBER_BYTES = 100 * 1024 * 1024
MAX_RATIO = 200
MAX_SHEETS = 200
MAX_DECLARED_CELLS = 5_000_000
# Cells a sheet's references span (what python-calamine allocates, densely, before anything can
# look at it: one cell at XFD1048576 would ask for 17 billion). Same bound as the reader's grid.
MAX_USED_CELLS = 2_000_000
MAX_PROLOG_BYTES = 1_000_000
# Sheets the toolkit writes for itself and never reads values from: not worth scanning.
UNSCANNED_SHEETS = frozenset({CHECKS_SHEET, INSTRUCTIONS_SHEET, LISTS_SHEET, IDENTITY_SHEET, RETURN_SHEET})
# A cell of the 审核 sheet's 审核说明 column holding text or a number, in the plain spelling
# (sheetxml respells anything else before this is searched); group 1 is its row number. The
# column's heading (row CHECKS_FIRST_ROW, counted from 1) holds text in every template.
_EXPLANATION_CELL = re.compile(rb'<c r="' + col_letter(EXPLANATION_COL).encode()
                               + rb'([0-9]+)"(?:[^>]*\bt\s*=\s*["\'](?:s|inlineStr|str)["\'][^>]*>|[^>/]*>\s*<v>)')
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class Rejected(RejectedFile):
    """A file that is refused before or while reading, with one line saying why (in Chinese and English)."""



@dataclass
class SheetFacts:
    member: str
    protected: bool = False
    explained: bool | None = None    # the 审核 sheet: a value in its 审核说明 column (None: not looked at)
    # Keyed by the cell reference as stored (b"C12"): converting every formula's address of
    # every sheet costs more than looking up the few input cells the reader asks about.
    formulas: dict[bytes, int] = field(default_factory=dict)   # ref → offset of its <f> in ``data`` (-1: not looked up)
    errors: dict[bytes, str] = field(default_factory=dict)     # ref → error value (#DIV/0!)
    data: bytes = field(default=b"", repr=False)

    def formula(self, ref: bytes) -> str | None:
        """The formula typed into a cell, as people write it (None when the cell has none)."""
        pos = self.formulas.get(ref)
        if pos is None:
            return None
        if pos < 0:     # not looked up yet: the <f> right after the cell's start tag
            pos = self.data.find(b">", self.data.find(b'<c r="' + ref + b'"')) + 1
        close = self.data.find(b">", pos)
        if self.data[close - 1:close] == b"/":
            return "(shared formula)"
        end = self.data.find(b"</", close)
        return _unescape(self.data[close + 1:end].decode("utf-8", "replace")) or "(shared formula)"


@dataclass
class PackageFacts:
    """What the bytes say, independent of any spreadsheet parser."""
    kind: str                                   # xlsx | xlsm | ods | xls
    size: int
    sheets: dict[str, SheetFacts] = field(default_factory=dict)   # OOXML only, by sheet name
    structure_locked: bool | None = None
    macros: bool = False
    external_links: int = 0
    properties: dict[str, str] = field(default_factory=dict)       # custom document properties
    # Parts rewritten in the plain spelling (toolkit.sheetxml): the reader reads these bytes in
    # place of the stored ones, so the parser sees exactly what the checks saw.
    rewritten: dict[str, bytes] = field(default_factory=dict, repr=False)
    identity_sheet_listed: bool = True


def sniff(head: bytes) -> str:
    """A name for what the first bytes of a file look like (for the rejection message)."""
    h = head.lstrip()[:512].lower()
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head.startswith(b"\xff\xd8\xff"):
        return "a JPEG image"
    if head.startswith(b"GIF8"):
        return "a GIF image"
    if head.startswith((b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")):
        return "a compressed archive"
    if h.startswith((b"<!doctype html", b"<html")) or b"<html" in h[:200]:
        return "an HTML page"
    if h.startswith(b"<?xml"):
        return "an XML file (perhaps an Excel 2003 XML spreadsheet)"
    if head.startswith(b"{\\rtf"):
        return "an RTF document"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = head.decode("gb18030")
        except UnicodeDecodeError:
            return "binary data"
    if "," in text or "\t" in text:
        return "a CSV/text file"
    return "a text file"


def inspect_file(path: str | Path) -> PackageFacts:
    """Check a file's form and bounds; raise Rejected with the reason when it is not a usable workbook."""
    p = Path(path)
    try:
        st = p.lstat()
    except OSError as e:
        raise Rejected(f"无法读取文件：{e.strerror or e}", f"cannot read the file: {e.strerror or e}") from None
    if stat.S_ISLNK(st.st_mode):
        try:
            st = p.stat()
        except OSError:
            raise Rejected("文件是一个失效的链接", "the file is a dangling symbolic link") from None
    if stat.S_ISDIR(st.st_mode):
        raise Rejected("这是一个文件夹，不是工作簿", "this is a folder, not a workbook")
    if not stat.S_ISREG(st.st_mode):
        raise Rejected("这不是普通文件", "this is not a regular file")
    if st.st_size == 0:
        raise Rejected("文件是空的（0 字节）", "the file is empty (0 bytes)")
    if st.st_size > MAX_FILE_BYTES:
        raise Rejected(f"文件太大（{st.st_size // 1048576} MB），超过 {MAX_FILE_BYTES // 1048576} MB 的上限",
                       f"the file is too large ({st.st_size // 1048576} MB, limit {MAX_FILE_BYTES // 1048576} MB)")
    with open(p, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(OLE_MAGIC):
        return _inspect_ole(p, st.st_size)
    if not head.startswith(b"PK\x03\x04"):
        what = sniff(head)
        raise Rejected(f"不是 Excel 工作簿（看起来是{_zh_kind(what)}）",
                       f"not an Excel workbook (it looks like {what})")
    try:
        return _inspect_zip(p, st.st_size)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError, ValueError) as e:
        # a part that does not inflate: bad CRC, corrupt deflate data, an unknown compression method
        text = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise Rejected("文件已损坏（其中的部件无法解压）", f"the file is damaged ({text})") from None


def _zh_kind(what: str) -> str:
    return {
        "a PDF document": " PDF 文档", "a PNG image": "图片（PNG）", "a JPEG image": "图片（JPEG）", "a GIF image": "图片（GIF）",
        "a compressed archive": "压缩包", "an HTML page": "网页（HTML）", "an RTF document": " RTF 文档",
        "an XML file (perhaps an Excel 2003 XML spreadsheet)": " XML 文件", "a CSV/text file": " CSV/文本文件",
        "a text file": "文本文件", "binary data": "无法识别的二进制数据",
    }.get(what, what)


def _inspect_ole(p: Path, size: int) -> PackageFacts:
    with open(p, "rb") as fh:
        data = fh.read(min(size, 4 * 1024 * 1024))
    if "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data:
        raise Rejected("工作簿设置了打开密码（已加密），无法读取；请取消密码后重新保存为 .xlsx 报送",
                       "the workbook is encrypted with a password; remove the password and save it again as .xlsx")
    if "Workbook".encode("utf-16-le") not in data and "Book".encode("utf-16-le") not in data:
        raise Rejected("这是一个 Office 文件，但不是 Excel 工作簿（可能是 Word 文档）",
                       "an Office file, but not an Excel workbook (perhaps a Word document)")
    return PackageFacts(kind="xls", size=size)


def _inspect_zip(p: Path, size: int) -> PackageFacts:
    try:
        raw_zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise Rejected("文件已损坏或不完整（无法作为工作簿打开）", f"the file is damaged or truncated ({e})") from None
    with raw_zf:
        infos = raw_zf.infolist()
        zf = _Folded(raw_zf)
        if len(infos) > MAX_MEMBERS:
            raise Rejected(f"文件包含 {len(infos)} 个部件，超出上限", f"the package has {len(infos)} parts (limit {MAX_MEMBERS})")
        total = 0
        for info in infos:
            if info.flag_bits & 0x1:
                raise Rejected("文件部件被加密，无法读取", "a part of the package is encrypted")
            total += info.file_size
            if info.file_size > MAX_MEMBER_BYTES or total > MAX_INFLATED_BYTES:
                raise Rejected("文件解压后过大（疑似压缩炸弹），已拒绝", "the package inflates to more than the limit (a zip bomb?)")
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1_000_000:
                raise Rejected("文件压缩比异常（疑似压缩炸弹），已拒绝", f"part {info.filename} has a compression ratio over {MAX_RATIO} (a zip bomb?)")
        stored = {i.filename for i in infos}
        # Part names are case-insensitive (OPC): python-calamine finds xl/_rels/Workbook.xml.rels
        # as well. Every check below looks parts up by the lower-case name, as the parser does.
        names = {n.lower() for n in stored}
        if len(names) < len(infos) or any("\\" in n for n in names):
            # python-calamine's zip reader turns \ into / (and may pick another copy of a
            # duplicated part): the parts checked here must be the parts it reads
            twice = len(names) < len(infos)
            raise Rejected("文件已损坏（部件名重复或不规范）",
                           "the file is damaged (a part appears twice)" if twice else "the file is damaged (a part name contains a backslash)")
        if "mimetype" in names and "content.xml" in names:
            mt = _read(zf, "mimetype", 200)
            if b"opendocument.spreadsheet" not in mt:
                raise Rejected("这是 OpenDocument 文件，但不是电子表格", "an OpenDocument file, but not a spreadsheet")
            for member in ("content.xml", "meta.xml", "settings.xml", "styles.xml"):
                if member in names:
                    _refuse_doctype(zf, member)
            _check_ods_extent(zf)
            return PackageFacts(kind="ods", size=size)
        if "xl/workbook.xml" not in names:
            if "word/document.xml" in names:
                raise Rejected("这是 Word 文档，不是 Excel 工作簿", "a Word document, not an Excel workbook")
            if "encryptioninfo" in names:
                raise Rejected("工作簿已加密", "the workbook is encrypted")
            raise Rejected("文件是 zip 压缩包，但不是 Excel 工作簿", "a zip archive, but not an Excel workbook")
        # python-calamine's XML reader (quick-xml) never expands DTD entities; the parts parsed
        # here with the standard library are checked before they are parsed.
        custom = None
        if "docprops/custom.xml" in names:
            custom = _read(zf, "docprops/custom.xml", 1_000_000)
            _check_prolog(custom, "docProps/custom.xml")
        facts = PackageFacts(kind="xlsx", size=size)
        facts.macros = any(n.endswith("vbaproject.bin") for n in names)
        if facts.macros:
            facts.kind = "xlsm"
        facts.external_links = sum(1 for n in names if n.startswith("xl/externallinks/") and n.endswith(".xml"))
        wb_xml = _read(zf, "xl/workbook.xml", 5_000_000)
        rels = _read(zf, _WORKBOOK_RELS, 2_000_000) if _WORKBOOK_RELS in names else None
        facts.structure_locked, in_workbook = _workbook_sheets(wb_xml, rels)
        sheets = {name: target for name, target in in_workbook if target in names}
        facts.identity_sheet_listed = IDENTITY_SHEET in sheets
        if len(sheets) > MAX_SHEETS:
            raise Rejected(f"工作簿有 {len(sheets)} 张工作表，超出上限", f"the workbook has {len(sheets)} sheets (limit {MAX_SHEETS})")
        for name, member in sheets.items():
            sf = facts.sheets[name] = SheetFacts(member=member)
            # the sheets the reader opens: the form's, the identity and the 审核 sheet (its 审核说明
            # column) are bounded before any parser sees them; only the form's are scanned for formulas
            if name not in UNSCANNED_SHEETS or name in (IDENTITY_SHEET, CHECKS_SHEET):
                data, span, simple = _plain_sheet(facts, zf, member, _read(zf, member, MAX_MEMBER_BYTES))
                _check_sheet_bounds(data, sf, name, span, simple)
                cells = span or (0, len(data))
                if name not in (IDENTITY_SHEET, CHECKS_SHEET):
                    _scan_sheet_xml(data, sf, cells, simple)
                elif name == CHECKS_SHEET:
                    # does any cell of the 审核说明 column hold something? (most returns: no, and
                    # then the reader need not open the sheet at all)
                    sf.explained = any(int(row) > CHECKS_FIRST_ROW for row in _EXPLANATION_CELL.findall(data, *cells))
        # a worksheet the sheet list does not lead to may still be found by a parser: bound it too
        listed = set(sheets.values())
        for n in sorted(names):
            if n.startswith("xl/worksheets/") and n.endswith(".xml") and n.count("/") == 2 and n not in listed:
                data, span, simple = _plain_sheet(facts, zf, n, _read(zf, n, MAX_MEMBER_BYTES))
                _check_sheet_bounds(data, SheetFacts(member=n), span=span, simple=simple)
        if custom is not None:
            facts.properties = _custom_properties(custom)
        if "xl/sharedstrings.xml" in names:
            sst = _read(zf, "xl/sharedstrings.xml", MAX_MEMBER_BYTES)
            _check_shared_strings(sst, zf.getinfo("xl/sharedstrings.xml"))
            if not sheetxml.is_plain_strings(sst):
                _check_prolog(sst, "xl/sharedStrings.xml")
                facts.rewritten[zf.real("xl/sharedstrings.xml")] = _rewrite(sheetxml.canonical_strings, sst, "xl/sharedStrings.xml")
        return facts


_FORMULA_CELL = re.compile(rb'<c r="([A-Z]{1,3}[0-9]{1,7})"[^>]*><f[\s>/]')
_FORMULA_TAG = re.compile(rb'<(?:\w+:)?f(?:>|\s[^>]*>)')
# (attributes are read as XML allows them: white space around "=", single or double quotes)
_ERROR_CELL = re.compile(rb'<(?:\w+:)?c\b([^>]*\bt\s*=\s*["\']e["\'][^>]*)>(.*?)</(?:\w+:)?c>', re.S)
_VALUE = re.compile(rb'<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>')
_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]{1,7})"')
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*\bref\s*=\s*["\']([A-Z]{1,3})?([0-9]{1,7})?(?::([A-Z]{1,3})([0-9]{1,7}))?["\']')
_PROTECTION = re.compile(rb'<(?:\w+:)?sheetProtection\b([^>]*)>')


_WIDE_REF = re.compile(rb' r="(?:[A-Z]{2}|[A-Z]?[0-9]{5})')
# python-calamine knows a cell or a row by its local name: <x:c> is a cell whatever x stands for
_NO_REF = re.compile(rb'<(?:[\w.-]+:)?(?:c|row)(?:>|/>|\s(?!r="))')    # a cell or row whose first attribute is not r
_ANY_CELL = re.compile(rb'<(?:[\w.-]+:)?c[\s>/]')
_ANY_ROW = re.compile(rb'<(?:[\w.-]+:)?row[\s>/]')
_CELL_REF = re.compile(rb' r="([A-Z]{1,3})([0-9]+)"')
_ROW_REF = re.compile(rb' r="([0-9]+)"')


def _check_sheet_bounds(data: bytes, sf: SheetFacts, name: str = "", span: tuple[int, int] | None = None,
                        simple: bool = False) -> None:
    """Refuse a sheet part with a DOCTYPE, or whose cells span more than python-calamine should allocate.

    ``span`` is where the <sheetData> of a part in the plain spelling (toolkit.sheetxml) is; without
    it the part may be spelt any way and all of it is looked at. A ``simple`` part (its <sheetData>
    matched sheetxml's grammar: no cell past CZ9999, nothing prefixed) cannot span too much."""
    _check_prolog(data, sf.member, "sheet part")
    m = _DIMENSION.search(data, 0, 4096)
    if m and m.group(3):
        rows, cols = int(m.group(4)), col_number(m.group(3).decode())
        if rows * cols > MAX_DECLARED_CELLS:
            raise Rejected(f"工作表声明了异常大的区域（{rows} 行 × {cols} 列）", f"a sheet declares an enormous range ({rows} rows × {cols} columns)")
    # The dimension may lie: the reader sizes a sheet from its cells' references. Fast path: every
    # cell and row starts with its reference, none past column Z or row 9999 (every template).
    # (a part in the plain spelling — toolkit.sheetxml — has every cell and row starting with its r)
    # Only <sheetData> holds cells (python-calamine stops reading at its end).
    if simple:
        return
    plain = span is not None
    start, end = span or (0, len(data))
    # Cells and rows written with a namespace prefix are outside what the plain spelling promises.
    prefixed = data.find(b":c", start, end) >= 0 or data.find(b":row", start, end) >= 0
    if not prefixed and not _WIDE_REF.search(data, start, end) and (plain or not _NO_REF.search(data, start, end)):
        return
    cells = len(_ANY_CELL.findall(data, start, end))
    rows_n = len(_ANY_ROW.findall(data, start, end))
    refs = _CELL_REF.findall(data, start, end)
    row_refs = _ROW_REF.findall(data, start, end)
    max_col = max((col_number(c.decode()) for c in {c for c, _ in refs}), default=0)
    max_row = max((int(r) for r in {r for _, r in refs} | set(row_refs)), default=0)
    # cells and rows without a reference continue from the one before: count them as extending
    cols = max_col + max(0, cells - len(refs))
    rows = max_row + max(0, rows_n - len(row_refs))
    if rows * cols > MAX_USED_CELLS:
        where = name or sf.member
        raise Rejected(f"工作表「{where}」的使用区域过大（{rows} 行 × {cols} 列）",
                       f"sheet {where!r} has an enormous used range ({rows} rows × {cols} columns)")


_UNIQUE_COUNT = re.compile(rb'<(?:\w+:)?sst\b[^>]*\buniqueCount="([0-9]+)"')


def _check_shared_strings(data: bytes, info: zipfile.ZipInfo) -> None:
    """python-calamine reserves room for ``uniqueCount`` strings up front: a made-up count aborts it."""
    m = _UNIQUE_COUNT.search(data, 0, 1024)
    # every string takes at least <si></si>: a count the part cannot hold is a lie
    if m and int(m.group(1)) > info.file_size // 9 + 1000:
        raise Rejected("文件已损坏：共享字符串表声明的字符串数与内容不符",
                       f"the file is damaged (the shared strings table declares {int(m.group(1))} strings, "
                       f"more than its {info.file_size} bytes can hold)")


def _check_ods_extent(zf: _Folded) -> None:
    """Refuse an OpenDocument table whose repeated rows and cells expand past MAX_USED_CELLS.

    ``number-rows-repeated="1048576"`` around a cell with ``number-columns-repeated="16384"`` is
    a few hundred bytes that python-calamine would expand into 17 billion cells. Empty repeats
    (LibreOffice writes them for the blank rest of every sheet) span nothing and are not counted.
    """
    from xml.parsers import expat

    state = {"row": 0, "last_row": 0, "width": 0, "row_rep": 1, "col": 0, "row_last_col": 0}
    table_name = ""

    def rep(attrs: dict[str, str], what: str) -> int:
        for k, v in attrs.items():
            if k.endswith(what):
                return max(1, int(v))
        return 1

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal table_name
        local = name.rsplit(":", 1)[-1]
        if local == "table":
            state.update(row=0, last_row=0, width=0)
            table_name = attrs.get("table:name", "")
        elif local == "table-row":
            state.update(row_rep=rep(attrs, ":number-rows-repeated"), col=0, row_last_col=0)
        elif local in ("table-cell", "covered-table-cell"):
            n = rep(attrs, ":number-columns-repeated")
            full = any(k.endswith(":value-type") for k in attrs)
            if full:
                state["row_last_col"] = state["col"] + n
            state["col"] += n

    def end(name: str) -> None:
        local = name.rsplit(":", 1)[-1]
        if local == "table-row":
            if state["row_last_col"]:
                state["width"] = max(state["width"], state["row_last_col"])
                state["last_row"] = state["row"] + state["row_rep"]
            state["row"] += state["row_rep"]
        elif local == "table":
            rows, cols = state["last_row"], state["width"]
            if rows * cols > MAX_USED_CELLS:
                where = table_name
                raise Rejected(f"工作表「{where}」的使用区域过大（{rows} 行 × {cols} 列）",
                               f"sheet {where!r} has an enormous used range ({rows} rows × {cols} columns)")

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        with zf.open("content.xml") as fh:
            while chunk := fh.read(1 << 16):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except expat.ExpatError:
        return          # not well-formed: python-calamine will say so


def _prolog_doctype(data: bytes) -> bool | None:
    """Whether the XML prolog at the start of ``data`` has a DOCTYPE (or any other <! declaration).

    Walks the XML declaration, processing instructions, comments and white space up to the root
    element, so a DOCTYPE hidden behind a long comment is found. None: the prolog runs past ``data``.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        data = data.decode("utf-16", "replace").encode("utf-8")
    pos, n = (3 if data.startswith(b"\xef\xbb\xbf") else 0), len(data)
    while True:
        while pos < n and data[pos] in b" \t\r\n":
            pos += 1
        if n - pos < 4:
            return None
        if data.startswith(b"<?", pos):
            end, close = data.find(b"?>", pos + 2), 2
        elif data.startswith(b"<!--", pos):
            end, close = data.find(b"-->", pos + 4), 3
        elif data.startswith(b"<!", pos):
            return True
        else:
            return False          # the root element (or not XML at all: the parser will say so)
        if end < 0:
            return None
        pos = end + close


def _check_prolog(data: bytes, member: str, what: str = "part") -> None:
    found = _prolog_doctype(data if len(data) <= MAX_PROLOG_BYTES else data[:MAX_PROLOG_BYTES])
    if found or (found is None and len(data) > MAX_PROLOG_BYTES):
        raise Rejected("文件中含有 XML 实体声明（可能是恶意文件），已拒绝", f"{what} {member} declares XML entities (DOCTYPE); refused")


def _scan_sheet_xml(data: bytes, sf: SheetFacts, span: tuple[int, int], simple: bool = False) -> None:
    """Protection, formula cells and error values of a form sheet. In a ``simple`` part
    (sheetxml.simple_span) nothing is prefixed and no cell holds an error value."""
    at = data.rfind(b"sheetProtection")
    p = _PROTECTION.search(data, max(at - 10, 0)) if at >= 0 else None
    sf.protected = bool(p and re.search(rb'\bsheet\s*=\s*["\'](1|true)["\']', p.group(1)))
    # A cell's formula is its first child (CT_Cell: f, v, is): one pass of a regular expression
    # anchored on the literal '<c r="' finds every formula cell with its reference (where its <f>
    # is, is looked up when asked: few are). Parts written with namespace prefixes (<x:c>) take
    # the slower general path.
    sf.data = data
    start, end = span
    if not simple and data.find(b":f", start, end) >= 0 and (data.find(b":f>", start, end) >= 0 or data.find(b":f ", start, end) >= 0):
        for m in _FORMULA_TAG.finditer(data, start, end):
            pos = m.start()
            tag = data.rfind(b"<", 0, pos)
            q = data.find(b' r="', tag, pos) if tag >= 0 else -1
            if q >= 0:
                sf.formulas[data[q + 4:data.find(b'"', q + 4, pos)]] = pos
    else:
        sf.formulas = dict.fromkeys(_FORMULA_CELL.findall(data, start, end), -1)
    if not simple and (data.find(b'"e"', start, end) >= 0 or data.find(b"'e'", start, end) >= 0):      # an error cell's t="e"
        for m in _ERROR_CELL.finditer(data, start, end):
            ref = _REF.search(m.group(1))
            v = _VALUE.search(m.group(2))
            if ref:
                sf.errors[ref.group(1) + ref.group(2)] = v.group(1).decode("utf-8", "replace") if v else "#ERROR"


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&")


def _read(zf: _Folded, name: str, limit: int) -> bytes:
    # Ask for no more than the declared size: zipfile inflates as much as is asked for before it
    # truncates to that size, so a header that understates a bomb would cost ``limit`` bytes.
    info = zf.getinfo(name)
    if info.compress_type == zipfile.ZIP_DEFLATED and not info.flag_bits & 0x61 and info.file_size <= limit:
        return _inflate(zf.zf, info)
    with zf.open(info) as fh:
        data = fh.read(min(limit, info.file_size) + 1)
    if len(data) > limit:
        raise Rejected("文件中某个部件过大", f"part {name} is larger than {limit} bytes")
    return data


_LOCAL_HEADER = struct.Struct("<4s2sHHHHIIIHH")


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A deflated, unencrypted member's bytes, as ``zf.open(info).read()`` gives them.

    zipfile's reader costs about 30 µs a member in objects and small reads before it inflates a
    byte (a quarter of reading a return's parts). This keeps zipfile's directory and its checks —
    the local header's signature and name must agree with the directory, the data must inflate to
    the declared size (never more is inflated) with the declared CRC — and inflates in one call.

    One check is stricter than zipfile's: data that ends before its declared size is refused even
    when its CRC matches (zipfile returns the short bytes). The directory lies about that part,
    and a damaged file is refused rather than read on a guess.
    """
    fp = zf.fp
    assert fp is not None
    fp.seek(info.header_offset)
    header = fp.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        raise zipfile.BadZipFile("Truncated file header")
    sig, _, flags, _, _, _, _, _, _, name_len, extra_len = _LOCAL_HEADER.unpack(header)
    if sig != b"PK\x03\x04":
        raise zipfile.BadZipFile("Bad magic number for file header")
    fname = fp.read(name_len)
    if fname.decode("utf-8" if flags & 0x800 else "cp437") != info.orig_filename:
        raise zipfile.BadZipFile(f"File name in directory {info.orig_filename!r} and header {fname!r} differ.")
    fp.seek(extra_len, 1)
    raw = fp.read(info.compress_size)
    data = zlib.decompressobj(-15).decompress(raw, info.file_size) if info.file_size else b""
    if len(data) < info.file_size:
        raise EOFError(f"the data of {info.filename} ends before its declared size")
    if zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
    return data


def _refuse_doctype(zf: _Folded, name: str) -> None:
    """No spreadsheet program writes a DOCTYPE; one here can only be an entity attack."""
    head = b""
    with zf.open(name) as fh:
        while True:
            chunk = fh.read(8192)
            head += chunk
            found = _prolog_doctype(head)
            if found is not None or not chunk or len(head) > MAX_PROLOG_BYTES:
                break
    if found or (found is None and len(head) > MAX_PROLOG_BYTES):
        raise Rejected("文件中含有 XML 实体声明（可能是恶意文件），已拒绝", f"part {name} declares XML entities (DOCTYPE); refused")


_WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
_WORKBOOKS: dict[tuple[bytes, bytes | None], tuple[bool, tuple[tuple[str, str], ...]]] = {}


def _workbook_sheets(wb_xml: bytes, rels: bytes | None) -> tuple[bool, tuple[tuple[str, str], ...]]:
    """Whether the workbook's structure is locked, and each sheet's name with the part its
    relationship targets (lower case), read from workbook.xml and its relationships by an XML
    parser (small parts: any spelling XML allows is read as python-calamine reads it).

    Remembered by the two parts' bytes: the returns of one collection mostly carry the same
    workbook.xml, and parsing both costs more than looking them up.
    """
    key = (wb_xml, rels)
    hit = _WORKBOOKS.get(key)
    if hit is not None:
        return hit
    _check_prolog(wb_xml, "xl/workbook.xml")
    wb = _parse_small(wb_xml, "xl/workbook.xml")
    prot = next((el for el in wb.iter() if _local(el.tag) == "workbookProtection"), None)
    locked = prot is not None and (prot.get("lockStructure") or "").strip() in ("1", "true")
    targets: dict[str, str] = {}
    if rels is not None:
        _check_prolog(rels, _WORKBOOK_RELS)
        for el in _parse_small(rels, _WORKBOOK_RELS).iter():
            if _local(el.tag) != "Relationship":
                continue
            rid, target = el.get("Id"), el.get("Target")
            if rid and target:
                t = target.strip()
                t = t.lstrip("/") if t.startswith("/") else posixpath.normpath(posixpath.join("xl", t))
                targets[rid.strip()] = t.lower()
    listed: list[tuple[str, str]] = []
    for el in wb.iter():
        if _local(el.tag) != "sheet":
            continue
        name = el.get("name", "")
        rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), "").strip()
        if rid in targets:
            listed.append((name, targets[rid]))
    if len(_WORKBOOKS) >= 64:
        _WORKBOOKS.clear()
    _WORKBOOKS[key] = result = (locked, tuple(listed))
    return result


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _parse_small(data: bytes, member: str) -> ET.Element:
    """A small part (workbook.xml, its relationships) parsed; its prolog was checked for a DOCTYPE."""
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise Rejected(f"文件已损坏（部件 {member} 不是格式正确的 XML）", f"the file is damaged ({member} is not well-formed XML: {e})") from None


def _custom_properties(xml: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return out
    for prop in root:
        name = prop.get("name")
        if not name:
            continue
        for child in prop:
            out[name] = (child.text or "").strip()
    return out


class _Folded:
    """A zip file whose parts are looked up by lower-case name (OPC part names ignore case)."""

    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf
        self._real = {i.filename.lower(): i for i in zf.infolist()}

    def real(self, name: str) -> str:
        return self._real[name.lower()].filename

    def getinfo(self, name: str) -> zipfile.ZipInfo:
        info = self._real.get(name.lower())
        if info is None:
            raise KeyError(name)
        return info

    def open(self, name: str | zipfile.ZipInfo, *a: Any, **kw: Any) -> IO[bytes]:
        return self.zf.open(name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name), *a, **kw)

    def read(self, name: str) -> bytes:
        return self.zf.read(self.getinfo(name))


def _rewrite(fn: Callable[[bytes], bytes], data: bytes, member: str) -> bytes:
    try:
        return fn(data)
    except sheetxml.SheetXmlError as e:
        raise Rejected(f"文件已损坏（部件 {member} 不是格式正确的 XML）", f"the file is damaged ({member} is not well-formed XML: {e})") from None


def _plain_sheet(facts: PackageFacts, zf: _Folded, member: str, data: bytes) -> tuple[bytes, tuple[int, int] | None, bool]:
    """The sheet's bytes in the plain spelling — as stored, or rewritten (toolkit.sheetxml) —,
    where its <sheetData> is (None when the rewritten part has no cells at all), and whether the
    part is simple (sheetxml.simple_span: one pass stands for the bounds and error scans too)."""
    span = sheetxml.simple_span(data)
    if span is not None:
        return data, span, True
    span = sheetxml.plain_span(data)
    if span is not None:
        return data, span, False
    _check_prolog(data, member, "sheet part")
    data = _rewrite(sheetxml.canonical, data, member)
    facts.rewritten[zf.real(member)] = data
    return data, sheetxml.sheet_data_span(data), False
