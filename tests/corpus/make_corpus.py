"""A corpus of hostile and broken workbooks, generated on demand (never committed as binaries).

Every case is one file and one line in :data:`CASES`: its name, the function that makes it, the
status ``toolkit check`` must give it (valid | invalid | rejected) and a fragment of the one-line
English message that must say why — the rejection reason (``Result.reason('en')``) for a rejected
file, an issue's message for a valid or invalid one (an empty fragment on a valid case means: no
issue at all).

Run as a script to write the corpus into a folder::

    python tests/corpus/make_corpus.py OUT_DIR            # make every case, list them
    python tests/corpus/make_corpus.py OUT_DIR --measure  # and check each in a fresh process:
                                                          # status, seconds, peak memory

Imported, :func:`make_corpus` does the same and returns ``{case name: path}``. Cases found by the
fuzzer are added at the bottom (``fuzz_…``) with the seed and mutation that reproduce them.

Form-based cases are Form A (gov-info-disclosure-2017) templates filled with the seed's figures,
each for its own agency (code ``K001``, ``K002``, …) so a merge of the whole corpus counts every
valid file once; ``numbers`` holds the figures a valid case changes, so totals can be checked
against an independent sum.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:          # tests/ holds filled.py
    sys.path.insert(0, str(HERE.parent))
if __name__ == "__main__" and (HERE.parent.parent / "toolkit").is_dir():
    sys.path.insert(0, str(HERE.parent.parent))   # as a script: the toolkit of this checkout

import filled as F  # noqa: E402
from toolkit.sheets import IDENTITY_SHEET  # noqa: E402
from toolkit.roster import Agency  # noqa: E402

SHEET = "统计表"          # Form A's only form sheet
CHECKS = "审核"           # the checks sheet: never read by the reader


# ============================================================================ the table

@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[["Maker"], Path]
    status: str                      # valid | invalid | rejected
    fragment: str                    # in reason('en') (rejected) or in an issue's message('en')
    about: str = ""
    ext: str = ".xlsx"
    heavy: bool = False              # run it in a separate, memory-limited process
    merge: bool = True               # part of the whole-corpus merge (False: another form edition)
    numbers: dict[str, float] = field(default_factory=dict)   # valid cases: figures that differ from the seed

    @property
    def file_name(self) -> str:
        return self.name + self.ext


class Maker:
    """What a case's function gets: where to write, a scratch folder and its own agency."""

    def __init__(self, out: Path, work: Path, case: Case, index: int):
        self.out, self.work, self.case, self.index = out, work, case, index
        self.agency = Agency(code=f"K{index:03d}", name=f"语料单位{index:03d}", group="K")
        self.target = out / case.file_name

    def build(self, **overrides: Any) -> bytes:
        """Form A filled with the seed's figures (``overrides`` replace single values)."""
        return F.build(F.form_a(), F.seed_values(**overrides), agency=self.agency)

    def base(self, **overrides: Any) -> Path:
        """The same, written to the scratch folder (the source of an edit)."""
        path = self.work / f"{self.case.name}.base.xlsx"
        path.write_bytes(self.build(**overrides))
        return path

    def write(self, data: bytes) -> Path:
        self.target.write_bytes(data)
        return self.target


def ref(code: str) -> str:
    return F.ref(F.form_a(), code)


# ============================================================================ building blocks

def repack(src: Path, dst: Path, change: Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]]) -> Path:
    """Copy a zip package, letting ``change`` edit the list of (member name, bytes)."""
    with zipfile.ZipFile(src) as zin:
        members = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    members = change(members)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in members:
            zout.writestr(name, data)
    return dst


def edit_member(src: Path, dst: Path, member: str, change: Callable[[bytes], bytes]) -> Path:
    def go(members):
        assert any(n == member for n, _ in members), member
        return [(n, change(d) if n == member else d) for n, d in members]
    return repack(src, dst, go)


def sheet_member(path: Path, sheet: str = SHEET) -> str:
    return F.sheet_members(path)[sheet]


def edit_sheet(m: Maker, change: Callable[[bytes], bytes], src: Path | None = None, sheet: str = SHEET) -> Path:
    src = src or m.base()
    return edit_member(src, m.target, sheet_member(src, sheet), change)


def add_members(m: Maker, extra: list[tuple[str, bytes]], src: Path | None = None) -> Path:
    return repack(src or m.base(), m.target, lambda members: members + extra)


def placeholder_cell(m: Maker, code: str = "A6", text: str = "PLACEHOLDER_TEXT") -> Path:
    """A filled workbook whose input cell holds an inline string we can replace in the XML."""
    return F.set_cell(m.base(), SHEET, ref(code), value=text, dst=m.work / f"{m.case.name}.cell.xlsx")


def billion_laughs(root: str = "worksheet") -> bytes:
    ents = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                                      for i in range(1, 10)]
    return f"<!DOCTYPE {root} [{''.join(ents)}]>".encode()


XXE = b'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def with_doctype(data: bytes, doctype: bytes) -> bytes:
    """Insert a DOCTYPE right after the XML declaration."""
    end = data.find(b"?>") + 2 if data.startswith(b"<?xml") else 0
    return data[:end] + doctype + data[end:]


def _dos_time() -> tuple[int, int]:
    return (12 << 11) | (0 << 5), ((2024 - 1980) << 9) | (1 << 5) | 2


def raw_zip(dst: Path, entries: list[dict[str, Any]]) -> Path:
    """Write a zip by hand, so sizes, CRCs and methods can lie.

    Each entry: name, payload (bytes or a list of byte chunks, written as stored), method (0 or 8),
    crc, size (the uncompressed size declared), and optional cd_size / cd_crc for the central
    directory when it should differ from the local header.
    """
    tm, dm = _dos_time()
    central = []
    with open(dst, "wb") as out:
        for e in entries:
            name = e["name"].encode("utf-8")
            chunks = e["payload"] if isinstance(e["payload"], list) else [e["payload"]]
            csize = sum(len(c) for c in chunks)
            offset = out.tell()
            flag = 0x800
            out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flag, e["method"], tm, dm,
                                  e["crc"], csize, e["size"], len(name), 0) + name)
            for c in chunks:
                out.write(c)
            central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flag, e["method"], tm, dm,
                                       e.get("cd_crc", e["crc"]), csize, e.get("cd_size", e["size"]),
                                       len(name), 0, 0, 0, 0, 0, offset) + name)
        cd_start = out.tell()
        for c in central:
            out.write(c)
        cd_len = out.tell() - cd_start
        out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), cd_len, cd_start, 0))
    return dst


def deflate(data: bytes) -> bytes:
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    return co.compress(data) + co.flush()


def entries_of(src: Path) -> list[dict[str, Any]]:
    """The members of a package as raw_zip entries (deflated, honest sizes and CRCs)."""
    with zipfile.ZipFile(src) as zf:
        return [{"name": i.filename, "payload": deflate(zf.read(i.filename)), "method": 8,
                 "crc": zlib.crc32(zf.read(i.filename)), "size": i.file_size} for i in zf.infolist()]


def zeros_deflated(total: int, chunk: int = 1 << 20) -> tuple[list[bytes], int]:
    """A raw deflate stream of ``total`` zero bytes, built from one compressed chunk repeated.

    After a full flush the compressor forgets its history, so every 1 MiB chunk of zeros
    compresses to the same ~1 KB; 2 GiB costs 2 MB on disk and no time to make.
    """
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    z = bytes(chunk)
    block = co.compress(z) + co.flush(zlib.Z_FULL_FLUSH)
    n = total // chunk
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(z, crc)
    return [block] * n + [co.flush()], crc


def cfb(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE compound file (CFB v3) holding ``streams`` in the root storage.

    Every stream is padded to 4096 bytes so that it lives in ordinary sectors (no mini stream);
    the directory is a chain of right siblings sorted the way CFB orders names.
    """
    SECT, FREE, END, FATSECT = 512, 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    names = sorted(streams, key=lambda s: (len(s), s.upper()))
    datas = [streams[n] + b"\0" * max(0, 4096 - len(streams[n])) for n in names]
    datas = [d + b"\0" * (-len(d) % SECT) for d in datas]
    n_dir = (len(names) + 1 + 3) // 4
    n_data = sum(len(d) // SECT for d in datas)
    n_fat = 1
    while n_fat * 128 < n_fat + n_dir + n_data:
        n_fat += 1
    fat = [FATSECT] * n_fat
    dir_start = len(fat)
    fat += [dir_start + i + 1 for i in range(n_dir - 1)] + [END]
    starts = []
    for d in datas:
        k = len(d) // SECT
        start = len(fat)
        starts.append(start)
        fat += [start + i + 1 for i in range(k - 1)] + [END]
    fat += [FREE] * (n_fat * 128 - len(fat))

    def entry(name: str, kind: int, right: int, child: int, start: int, size: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        return (raw.ljust(64, b"\0") + struct.pack("<HBB3L", len(raw), kind, 1, FREE, right, child)
                + b"\0" * 16 + b"\0" * 4 + b"\0" * 16 + struct.pack("<3L", start, size, 0))

    dirs = [entry("Root Entry", 5, FREE, 1 if names else FREE, END, 0)]
    for i, (n, d) in enumerate(zip(names, datas)):
        dirs.append(entry(n, 2, i + 2 if i + 1 < len(names) else FREE, FREE, starts[i], len(streams[n]) if len(streams[n]) >= 4096 else 4096))
    empty = b"\0" * 64 + struct.pack("<HBB3L", 0, 0, 0, FREE, FREE, FREE) + b"\0" * 52
    while len(dirs) < n_dir * 4:
        dirs.append(empty)
    difat = list(range(n_fat)) + [FREE] * (109 - n_fat)
    header = (F_OLE_MAGIC + b"\0" * 16 + struct.pack("<5H", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<9L", 0, n_fat, dir_start, 0, 4096, END, 0, END, 0)
              + struct.pack("<109L", *difat))
    assert len(header) == SECT
    body = struct.pack(f"<{len(fat)}L", *fat) + b"".join(dirs) + b"".join(datas)
    return header + body


F_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# ============================================================================ not a workbook

def m_empty(m: Maker) -> Path:
    return m.write(b"")


def m_random(m: Maker) -> Path:
    return m.write(random.Random(6).randbytes(20_000))


def m_csv(m: Maker) -> Path:
    return m.write("单位,举报投诉数量\n余姚市科学技术协会,3\n".encode("utf-8"))


def m_csv_gbk(m: Maker) -> Path:
    return m.write("单位,数量\r\n余姚市科学技术协会,3\r\n".encode("gbk"))


def m_html(m: Maker) -> Path:
    return m.write(b"<!DOCTYPE html>\n<html><head><title>export</title></head><body><table><tr><td>3</td></tr></table></body></html>\n")


def m_pdf(m: Maker) -> Path:
    return m.write(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def m_png(m: Maker) -> Path:
    ihdr = struct.pack(">2L5B", 1, 1, 8, 0, 0, 0, 0)
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">L", len(data)) + kind + data + struct.pack(">L", zlib.crc32(kind + data))
    return m.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0\0")) + chunk(b"IEND", b""))


def m_xml2003(m: Maker) -> Path:
    return m.write(b'<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
                   b'<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="Sheet1"/></Workbook>\n')


def m_truncated(m: Maker) -> Path:
    good = m.build()
    return m.write(good[: len(good) // 2])


def m_truncated_header(m: Maker) -> Path:
    return m.write(m.build()[:100])          # a local file header and nothing else


def m_zip_magic_only(m: Maker) -> Path:
    return m.write(b"PK\x03\x04")


def m_folder(m: Maker) -> Path:
    m.target.mkdir()
    (m.target / "inside.txt").write_text("a folder named like a workbook")
    return m.target


def m_dangling(m: Maker) -> Path:
    os.symlink(m.out / "no-such-file-anywhere.xlsx", m.target)
    return m.target


def m_docx(m: Maker) -> Path:
    with zipfile.ZipFile(m.target, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return m.target


def m_plain_zip(m: Maker) -> Path:
    with zipfile.ZipFile(m.target, "w") as zf:
        zf.writestr("readme.txt", "photos of the forms")
        zf.writestr("scan1.jpg", b"\xff\xd8\xff\xe0" + bytes(100))
    return m.target


def m_odt(m: Maker) -> Path:
    with zipfile.ZipFile(m.target, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        zf.writestr("content.xml", "<office:document-content/>")
    return m.target


def m_ods_broken(m: Maker) -> Path:
    with zipfile.ZipFile(m.target, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", "<office:document-content><garbage")
    return m.target


def m_ole_word(m: Maker) -> Path:
    return m.write(cfb({"WordDocument": b"\xec\xa5" + bytes(600), "1Table": bytes(100)}))


def m_ole_xls_garbage(m: Maker) -> Path:
    return m.write(cfb({"Workbook": random.Random(7).randbytes(5000)}))


def m_handmade(m: Maker) -> Path:
    return F.plain_workbook(m.target)


# ============================================================================ hostile packages

def _bomb(m: Maker, declared: int | None = None) -> Path:
    """A real template whose form sheet is replaced by a member inflating to 2 GiB of zeros."""
    src = m.base()
    sheet = sheet_member(src)
    chunks, crc = zeros_deflated(2 << 30)
    entries = []
    for e in entries_of(src):
        if e["name"] == sheet:
            e = {"name": sheet, "payload": chunks, "method": 8, "crc": crc,
                 "size": (2 << 30) if declared is None else declared}
        entries.append(e)
    return raw_zip(m.target, entries)


def m_zip_bomb(m: Maker) -> Path:
    return _bomb(m)


def m_zip_bomb_lying(m: Maker) -> Path:
    """The same 2 GiB of zeros behind a header that says the part is 2 KB."""
    return _bomb(m, declared=2048)


def m_zip_declares_huge(m: Maker) -> Path:
    """A small honest member whose headers declare 3.5 GB."""
    src = m.base()
    sheet = sheet_member(src)
    entries = entries_of(src)
    for e in entries:
        if e["name"] == sheet:
            e["size"] = 3_500_000_000
    return raw_zip(m.target, entries)


def m_zip_ratio(m: Maker) -> Path:
    """A 60 MB extra part of zeros, 60 KB on disk: under the size limits, over the ratio limit."""
    return add_members(m, [("xl/media/padding.bin", bytes(60_000_000))])


def m_zip_many_members(m: Maker) -> Path:
    return add_members(m, [(f"xl/media/image{i}.png", b"x") for i in range(2500)])


def m_zip_bad_crc(m: Maker) -> Path:
    src = m.base()
    sheet = sheet_member(src)
    entries = entries_of(src)
    for e in entries:
        if e["name"] == sheet:
            e["crc"] ^= 0xDEADBEEF
    return raw_zip(m.target, entries)


def m_zip_bad_deflate(m: Maker) -> Path:
    src = m.base()
    sheet = sheet_member(src)
    entries = entries_of(src)
    for e in entries:
        if e["name"] == sheet:
            p = bytearray(e["payload"])
            p[len(p) // 2: len(p) // 2 + 64] = b"\xff" * 64
            e["payload"] = bytes(p)
    return raw_zip(m.target, entries)


def m_zip_unknown_method(m: Maker) -> Path:
    src = m.base()
    sheet = sheet_member(src)
    entries = entries_of(src)
    for e in entries:
        if e["name"] == sheet:
            e["method"] = 98             # PPMd: no reader here supports it
    return raw_zip(m.target, entries)


def m_zip_encrypted_member(m: Maker) -> Path:
    """A zip with a traditionally encrypted member (flag bit 0), as zip tools make with -e."""
    path = raw_zip(m.target, entries_of(m.base()))
    data = bytearray(path.read_bytes())
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        pos = data.find(sig)
        while pos >= 0:
            off = pos + (6 if sig == b"PK\x03\x04" else 8)
            data[off] |= 1
            pos = data.find(sig, pos + 4)
    return m.write(bytes(data))


def m_laughs_sheet(m: Maker) -> Path:
    return edit_sheet(m, lambda d: with_doctype(d, billion_laughs()).replace(b"PLACEHOLDER_TEXT", b"&lol9;"), placeholder_cell(m))


def m_laughs_custom(m: Maker) -> Path:
    def change(d: bytes) -> bytes:
        d = with_doctype(d, billion_laughs("Properties"))
        return re.sub(rb"(<vt:lpwstr>)[^<]*(</vt:lpwstr>)", rb"\1&lol9;\2", d, count=1)
    return edit_member(m.base(), m.target, "docProps/custom.xml", change)


def m_laughs_custom_hidden(m: Maker) -> Path:
    """The DOCTYPE after 20 KB of comment, past any fixed-size look at the head of the part."""
    def change(d: bytes) -> bytes:
        d = with_doctype(d, b"<!--" + b"x" * 20_000 + b"-->" + billion_laughs("Properties"))
        return re.sub(rb"(<vt:lpwstr>)[^<]*(</vt:lpwstr>)", rb"\1&lol9;\2", d, count=1)
    return edit_member(m.base(), m.target, "docProps/custom.xml", change)


def m_laughs_shared_strings(m: Maker) -> Path:
    def change(d: bytes) -> bytes:
        d = with_doctype(d, billion_laughs("sst"))
        return d.replace(b"<t>", b"<t>&lol9;", 1)
    return edit_member(m.base(), m.target, "xl/sharedStrings.xml", change)


def m_laughs_workbook(m: Maker) -> Path:
    return edit_member(m.base(), m.target, "xl/workbook.xml", lambda d: with_doctype(d, billion_laughs("workbook")))


def m_xxe_sheet(m: Maker) -> Path:
    return edit_sheet(m, lambda d: with_doctype(d, XXE).replace(b"PLACEHOLDER_TEXT", b"&xxe;"), placeholder_cell(m))


def m_xxe_identity(m: Maker) -> Path:
    """The identity sheet (not scanned for formulas) carrying an external entity."""
    src = m.base()
    return edit_sheet(m, lambda d: with_doctype(d, XXE).replace(b"<sheetData>", b"<sheetData><!-- &xxe; -->", 1),
                      src, IDENTITY_SHEET)


def m_dimension_declared(m: Maker) -> Path:
    return edit_sheet(m, lambda d: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', d, count=1))


def _far_cell(d: bytes) -> bytes:
    return d.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>', 1)


def m_far_cell(m: Maker) -> Path:
    return edit_sheet(m, _far_cell)


def m_far_cell_identity(m: Maker) -> Path:
    return edit_sheet(m, _far_cell, sheet=IDENTITY_SHEET)


def m_far_cell_checks(m: Maker) -> Path:
    """A far cell in the checks sheet, which the reader never opens: nothing to see."""
    return edit_sheet(m, _far_cell, sheet=CHECKS)


def m_far_cell_no_dimension(m: Maker) -> Path:
    """A far cell and no <dimension> at all."""
    return edit_sheet(m, lambda d: _far_cell(re.sub(rb'<dimension ref="[^"]*"/>', b"", d, count=1)))


def m_many_sheets(m: Maker) -> Path:
    """5000 sheets in the workbook, every one pointing at the same small part."""
    src = m.base()
    def change(members):
        out = []
        for name, d in members:
            if name == "xl/workbook.xml":
                extra = "".join(f'<sheet name="S{i}" sheetId="{100 + i}" r:id="rIdX{i}"/>' for i in range(5000))
                d = d.replace(b"</sheets>", extra.encode() + b"</sheets>", 1)
            elif name == "xl/_rels/workbook.xml.rels":
                extra = "".join(f'<Relationship Id="rIdX{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                                for i in range(5000))
                d = d.replace(b"</Relationships>", extra.encode() + b"</Relationships>", 1)
            out.append((name, d))
        return out
    return repack(src, m.target, change)


def m_many_sheet_parts(m: Maker) -> Path:
    """1500 real sheet parts (under the part limit, over the sheet limit)."""
    src = m.base()
    n = 1500
    def change(members):
        out = []
        for name, d in members:
            if name == "xl/workbook.xml":
                extra = "".join(f'<sheet name="S{i}" sheetId="{100 + i}" r:id="rIdX{i}"/>' for i in range(n))
                d = d.replace(b"</sheets>", extra.encode() + b"</sheets>", 1)
            elif name == "xl/_rels/workbook.xml.rels":
                extra = "".join(f'<Relationship Id="rIdX{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/x{i}.xml"/>'
                                for i in range(n))
                d = d.replace(b"</Relationships>", extra.encode() + b"</Relationships>", 1)
            out.append((name, d))
        sheet = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>')
        return out + [(f"xl/worksheets/x{i}.xml", sheet) for i in range(n)]
    return repack(src, m.target, change)


def m_huge_shared_strings(m: Maker) -> Path:
    """A million distinct shared strings (35 MB of XML) appended to the table."""
    def change(d: bytes) -> bytes:
        extra = b"".join(b"<si><t>s%07d</t></si>" % i for i in range(1_000_000))
        d = re.sub(rb'(count|uniqueCount)="\d+"', b"", d)
        return d.replace(b"</sst>", extra + b"</sst>", 1)
    return edit_member(m.base(), m.target, "xl/sharedStrings.xml", change)


def m_shared_string_index_out_of_range(m: Maker) -> Path:
    def change(d: bytes) -> bytes:
        return d.replace(b'<c r="%s" t="inlineStr"' % ref("A6").encode(), b'<c r="%s" t="s"' % ref("A6").encode(), 1) \
                .replace(b"<is><t>PLACEHOLDER_TEXT</t></is>", b"<v>99999999</v>", 1)
    return edit_sheet(m, change, placeholder_cell(m))


def m_encrypted(m: Maker) -> Path:
    """A real template encrypted with a password (msoffcrypto-tool), or a crafted one without it."""
    try:
        import io

        from msoffcrypto.format.ooxml import OOXMLFile
    except ImportError:
        return m_encrypted_crafted(m)
    out = io.BytesIO()
    OOXMLFile(io.BytesIO(m.build())).encrypt("s3cret", out)
    return m.write(out.getvalue())


def m_encrypted_crafted(m: Maker) -> Path:
    """An OLE compound file with the streams Office writes for an encrypted package."""
    info = struct.pack("<HHL", 4, 4, 0x40) + b"<?xml version=\"1.0\"?><encryption/>"
    return m.write(cfb({"EncryptionInfo": info, "EncryptedPackage": struct.pack("<Q", 9000) + random.Random(8).randbytes(9000)}))


def m_xlsm(m: Maker) -> Path:
    vba = cfb({"PROJECT": b'ID="{00000000-0000-0000-0000-000000000000}"\r\nModule=Module1\r\n',
               "PROJECTwm": b"Module1\0M\0o\0d\0u\0l\0e\0001\0\0\0\0\0"})
    return add_members(m, [("xl/vbaProject.bin", vba)])


def m_external_link(m: Maker) -> Path:
    link = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            b'<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<externalBook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="rId1"/></externalLink>')
    return add_members(m, [("xl/externalLinks/externalLink1.xml", link)])


# ============================================================================ the right form, mistreated

def _edited(m: Maker, fn: Callable[..., Path], *args: Any, **kw: Any) -> Path:
    return fn(m.base(), *args, dst=m.target, **kw)


def m_identity_sheet_removed(m: Maker) -> Path:
    return _edited(m, F.remove_identity, properties=False)


def m_identity_removed(m: Maker) -> Path:
    return _edited(m, F.remove_identity)


def m_identity_edited(m: Maker) -> Path:
    return _edited(m, F.set_identity, "agency_code", "K999", where=("sheet",))


def m_identity_props_dropped(m: Maker) -> Path:
    return F.drop_part(m.base(), "docProps/custom.xml", dst=m.target)


def m_identity_visible(m: Maker) -> Path:
    def show(wb):
        wb[IDENTITY_SHEET].sheet_state = "visible"
    return F.edit(m.base(), show, dst=m.target)


def m_schema_hash(m: Maker) -> Path:
    return _edited(m, F.set_identity, "schema_hash", "0" * 64)


def m_schema_version(m: Maker) -> Path:
    return _edited(m, F.set_identity, "schema_version", "0.9.0")


def m_schema_unknown(m: Maker) -> Path:
    return _edited(m, F.set_identity, "schema_id", "no-such-form")


def _label_row(code: str) -> int:
    return F.cell(F.form_a(), code).row + 1


def m_row_inserted(m: Maker) -> Path:
    return _edited(m, F.insert_row, SHEET, _label_row("A4_1"))


def m_row_deleted(m: Maker) -> Path:
    return _edited(m, F.delete_row, SHEET, _label_row("A4_1"))


def m_column_inserted(m: Maker) -> Path:
    return F.edit(m.base(), lambda wb: wb[SHEET].insert_cols(2), dst=m.target)


def m_label_edited(m: Maker) -> Path:
    return _edited(m, F.set_text, SHEET, f"A{_label_row('A6')}", "六、举报数量")


def m_sheet_renamed(m: Maker) -> Path:
    return _edited(m, F.rename_sheet, SHEET, "统计表(1)")


def m_sheets_reordered(m: Maker) -> Path:
    return _edited(m, F.reorder_sheets)


def m_sheet_added(m: Maker) -> Path:
    return _edited(m, F.add_sheet, "我的计算")


def m_protection_removed(m: Maker) -> Path:
    return _edited(m, F.remove_protection, structure=True)


def m_merged_inputs(m: Maker) -> Path:
    return _edited(m, F.merge_cells, SHEET, f"{ref('A6')}:{ref('A7')}")


def m_computed_cached_wrong(m: Maker) -> Path:
    return F.set_cached(m.base(), SHEET, ref("A8_3"), 99, dst=m.target)


# ============================================================================ values

def filled(**overrides: Any) -> Callable[[Maker], Path]:
    def make(m: Maker) -> Path:
        return m.write(m.build(**overrides))
    make.__name__ = "filled(" + ", ".join(f"{k}={v!r}" for k, v in overrides.items()) + ")"
    return make


def cell(code: str = "A6", **kw: Any) -> Callable[[Maker], Path]:
    """One input cell rewritten in the package: formula=, value=, error=."""
    def make(m: Maker) -> Path:
        return F.set_cell(m.base(), SHEET, ref(code), dst=m.target, **kw)
    return make


def raw_value(xml_value: bytes, code: str = "A6") -> Callable[[Maker], Path]:
    """An input cell whose stored <v> is exactly ``xml_value`` (NaN, INF, …: what no program writes)."""
    def make(m: Maker) -> Path:
        src = F.set_cell(m.base(), SHEET, ref(code), value=7, dst=m.work / f"{m.case.name}.cell.xlsx")
        a1 = ref(code).encode()
        return edit_sheet(m, lambda d: re.sub(rb'(<c r="' + a1 + rb'"[^>]*>)<v>7</v>', rb"\g<1><v>" + xml_value + rb"</v>", d, count=1), src)
    return make


def m_date_in_number(m: Maker) -> Path:
    return F.put_date(m.base(), SHEET, ref("A6"), dt.date(2018, 3, 1), dst=m.target)


def m_ods_repeat_bomb(m: Maker) -> Path:
    """A 1 KB OpenDocument sheet whose one cell is repeated 16384 times in each of 1048576 rows."""
    content = ('<?xml version="1.0" encoding="UTF-8"?>'
               '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
               '<office:body><office:spreadsheet><table:table table:name="_toolkit">'
               '<table:table-row table:number-rows-repeated="1048576">'
               '<table:table-cell table:number-columns-repeated="16384" office:value-type="float" office:value="1">'
               '<text:p>1</text:p></table:table-cell></table:table-row></table:table>'
               '</office:spreadsheet></office:body></office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>')
    with zipfile.ZipFile(m.target, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", content)
        zf.writestr("META-INF/manifest.xml", manifest)
    return m.target


# ============================================================================ one cell, spelt another way
# LibreOffice shows each of these as the seed's figure: the reader must read that figure (a blank
# would leave the accounting rules broken and the case would not be issue-free).

def respelled(spelling: str, code: str = "A1_1") -> Callable[[Maker], Path]:
    """The input cell ``code`` rewritten with ``spelling`` ({r} reference, {s} style, {v} value,
    {refs} the value as character references)."""
    def make(m: Maker) -> Path:
        a1 = ref(code)
        pattern = F._cell_pattern(a1)

        def change(data: bytes) -> bytes:
            found = pattern.search(data)
            assert found and found.group(2), f"{a1} holds no value"
            style = re.search(rb's="(\d+)"', found.group(1)).group(1).decode()
            value = re.search(rb"<v>([^<]*)</v>", found.group(2)).group(1).decode()
            text = spelling.format(r=a1, s=style, v=value, refs="".join(f"&#{ord(ch)};" for ch in value))
            return data[:found.start()] + text.encode() + data[found.end():]
        return edit_sheet(m, change)
    return make


def m_fuzz_upper_case_rels(m: Maker) -> Path:
    """mutated('20261202', 47631): xl/_rels/workbook.xml.rels renamed in upper case and a cell at
    AAA100000. The package check looked the relationships up by their exact name, found none and
    bounded no sheet; python-calamine finds part names regardless of case, and aborted. Now every
    part is looked up as the parser does: rejected for the enormous range."""
    src = m.base()
    sheet = sheet_member(src)
    def change(members):
        out = []
        for n, d in members:
            if n == sheet:
                d = d.replace(b'<c r="A17"', b'<c r="AAA100000"', 1)
            out.append((n.upper() if n == "xl/_rels/workbook.xml.rels" else n, d))
        return out
    return repack(src, m.target, change)


# ============================================================================ found by the fuzzer
# (each reproduces one mutation from tests/test_fuzz.py: seed, file and mutation)

def m_fuzz_sst_unique_count(m: Maker) -> Path:
    """mutated('2', 28320): sst uniqueCount="99999999999" — python-calamine reserved room for that
    many strings up front and aborted the process (SIGABRT). Now: rejected as damaged."""
    return edit_member(m.base(), m.target, "xl/sharedStrings.xml",
                       lambda d: re.sub(rb'uniqueCount="\d+"', b'uniqueCount="99999999999"', d, count=1))


def m_fuzz_backslash_part(m: Maker) -> Path:
    """mutated('3', 22334): the form sheet's part renamed xl\\worksheets\\sheet1.xml, with a cell at
    XFD1048576. The package check looked for xl/worksheets/sheet1.xml and did not scan it, but
    python-calamine's zip reader turns \\ into / and read it: SIGABRT. Now: rejected as damaged."""
    src = m.base()
    sheet = sheet_member(src)
    def change(members):
        return [((n.replace("/", "\\") if n == sheet else n), _far_cell(d) if n == sheet else d) for n, d in members]
    return repack(src, m.target, change)


def m_fuzz_duplicate_part(m: Maker) -> Path:
    """A second copy of the form sheet's part, with a far cell: which copy would each reader take?"""
    src = m.base()
    sheet = sheet_member(src)
    def change(members):
        return members + [(sheet, _far_cell(dict(members)[sheet]))]
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return repack(src, m.target, change)


def m_fuzz_date_panic(m: Maker) -> Path:
    """Seed 3: 填报日期 (a date-formatted cell) holding -1e308. python-calamine panics converting it
    (pyo3 PanicException, a BaseException no ``except Exception`` caught): the exception escaped
    check_file and would have stopped check_many. Now: rejected, the sheet cannot be read."""
    return raw_value(b"-1e308", "fill_date")(m)


# ============================================================================ the table

CASES: list[Case] = [
    # -- not a workbook at all
    Case("empty", m_empty, "rejected", "empty (0 bytes)"),
    Case("random_bytes", m_random, "rejected", "not an Excel workbook (it looks like binary data)"),
    Case("csv_named_xlsx", m_csv, "rejected", "it looks like a CSV/text file"),
    Case("csv_gbk_named_xlsx", m_csv_gbk, "rejected", "it looks like a CSV/text file"),
    Case("html_named_xlsx", m_html, "rejected", "it looks like an HTML page"),
    Case("pdf_named_xlsx", m_pdf, "rejected", "it looks like a PDF document"),
    Case("png_named_xlsx", m_png, "rejected", "it looks like a PNG image"),
    Case("xml2003_named_xlsx", m_xml2003, "rejected", "Excel 2003 XML"),
    Case("truncated_half", m_truncated, "rejected", "damaged or truncated"),
    Case("truncated_100_bytes", m_truncated_header, "rejected", "damaged or truncated"),
    Case("zip_magic_only", m_zip_magic_only, "rejected", "damaged or truncated"),
    Case("folder_named_xlsx", m_folder, "rejected", "a folder, not a workbook"),
    Case("dangling_symlink", m_dangling, "rejected", "dangling symbolic link"),
    Case("docx_named_xlsx", m_docx, "rejected", "a Word document"),
    Case("plain_zip", m_plain_zip, "rejected", "a zip archive, but not an Excel workbook"),
    Case("odt_named_ods", m_odt, "rejected", "not a spreadsheet", ext=".ods"),
    Case("ods_broken", m_ods_broken, "rejected", "cannot be read", ext=".ods"),
    Case("ole_word_named_xls", m_ole_word, "rejected", "not an Excel workbook (perhaps a Word document)", ext=".xls"),
    Case("ole_xls_garbage", m_ole_xls_garbage, "rejected", "cannot be read", ext=".xls"),
    Case("handmade_workbook", m_handmade, "rejected", "not a template generated by toolkit"),
    # -- hostile packages
    Case("zip_bomb_2gib", m_zip_bomb, "rejected", "zip bomb", heavy=True),
    Case("zip_bomb_lying_header", m_zip_bomb_lying, "rejected", "damaged", heavy=True),
    Case("zip_declares_3_5gb", m_zip_declares_huge, "rejected", "zip bomb", heavy=True),
    Case("zip_compression_ratio", m_zip_ratio, "rejected", "compression ratio", heavy=True),
    Case("zip_2500_members", m_zip_many_members, "rejected", "parts (limit"),
    Case("zip_bad_crc", m_zip_bad_crc, "rejected", "damaged"),
    Case("zip_bad_deflate_data", m_zip_bad_deflate, "rejected", "damaged"),
    Case("zip_unknown_method", m_zip_unknown_method, "rejected", "damaged"),
    Case("zip_encrypted_member", m_zip_encrypted_member, "rejected", "encrypted"),
    Case("billion_laughs_sheet", m_laughs_sheet, "rejected", "declares XML entities", heavy=True),
    Case("billion_laughs_custom_xml", m_laughs_custom, "rejected", "declares XML entities", heavy=True),
    Case("billion_laughs_custom_xml_hidden", m_laughs_custom_hidden, "rejected", "declares XML entities", heavy=True),
    # quick-xml (python-calamine) never expands entities: the undefined one is an error
    Case("billion_laughs_shared_strings", m_laughs_shared_strings, "rejected", "unrecognized entity", heavy=True),
    Case("billion_laughs_workbook_xml", m_laughs_workbook, "rejected", "declares XML entities", heavy=True),
    Case("xxe_sheet", m_xxe_sheet, "rejected", "declares XML entities"),
    Case("xxe_identity_sheet", m_xxe_identity, "rejected", "declares XML entities"),
    Case("dimension_declared_enormous", m_dimension_declared, "rejected", "declares an enormous range"),
    Case("far_cell_form_sheet", m_far_cell, "rejected", "enormous used range", heavy=True),
    Case("far_cell_no_dimension", m_far_cell_no_dimension, "rejected", "enormous used range", heavy=True),
    Case("far_cell_identity_sheet", m_far_cell_identity, "rejected", "enormous used range", heavy=True),
    Case("far_cell_checks_sheet", m_far_cell_checks, "rejected", "enormous used range", heavy=True),   # the reader opens 审核 for its 审核说明
    Case("sheets_5000", m_many_sheets, "rejected", "5004 sheets (limit", heavy=True),
    Case("sheet_parts_1500", m_many_sheet_parts, "rejected", "sheets (limit", heavy=True),
    Case("shared_strings_1m", m_huge_shared_strings, "valid", "", heavy=True),
    Case("ods_repeat_bomb", m_ods_repeat_bomb, "rejected", "enormous used range (1048576 rows × 16384 columns)", ext=".ods", heavy=True),
    # python-calamine reads a dangling shared-string index as an empty cell (Excel offers to repair
    # the file); the toolkit cannot tell it from a blank without a second parse. Known limitation.
    Case("shared_string_index_out_of_range", m_shared_string_index_out_of_range, "valid", "", numbers={"A6": None}),
    Case("encrypted_password", m_encrypted, "rejected", "encrypted with a password"),
    Case("encrypted_crafted_ole", m_encrypted_crafted, "rejected", "encrypted with a password"),
    Case("macro_enabled", m_xlsm, "valid", "contains macros", ext=".xlsm"),
    Case("external_link_part", m_external_link, "valid", "links to other files"),
    # -- the right form, mistreated
    Case("identity_sheet_removed", m_identity_sheet_removed, "valid", "the hidden identity sheet was removed"),
    Case("identity_properties_dropped", m_identity_props_dropped, "valid", ""),
    Case("identity_removed", m_identity_removed, "rejected", "not a template generated by toolkit"),
    Case("identity_edited", m_identity_edited, "rejected", "the template identity was altered: agency_code"),
    Case("identity_sheet_visible", m_identity_visible, "valid", "identity sheet's visibility was changed"),
    Case("schema_hash_changed", m_schema_hash, "rejected", "schema hash differs"),
    Case("schema_version_unknown", m_schema_version, "rejected", "version 0.9.0 of form", merge=False),
    Case("schema_id_unknown", m_schema_unknown, "rejected", "unknown form 'no-such-form'", merge=False),
    Case("row_inserted", m_row_inserted, "rejected", "rows inserted or deleted?"),
    Case("row_deleted", m_row_deleted, "rejected", "the form was altered"),
    Case("column_inserted", m_column_inserted, "rejected", "the form was altered"),
    Case("label_edited", m_label_edited, "rejected", "found '六、举报数量'"),
    Case("sheet_renamed", m_sheet_renamed, "rejected", "found '统计表(1)' instead (renamed?)"),
    Case("sheets_reordered", m_sheets_reordered, "valid", "the sheets were reordered"),
    Case("sheet_added", m_sheet_added, "rejected", "an extra sheet '我的计算' was added"),
    Case("protection_removed", m_protection_removed, "valid", "protection was removed (values were still read)"),
    Case("merged_over_inputs", m_merged_inputs, "rejected", "was merged over the input cell"),
    Case("computed_cached_wrong", m_computed_cached_wrong, "invalid", "computed cell shows 99"),
    # -- values
    Case("value_wu", filled(A6="无"), "invalid", "expected a number, found '无'"),
    Case("value_12_jian", filled(A6="12件"), "invalid", "expected a number, found '12件'"),
    Case("value_full_width", filled(A6="１２"), "valid", "full-width characters converted", numbers={"A6": 12}),
    Case("value_thousands", filled(A1_2_2="1,639"), "valid", "thousands separators removed", numbers={"A1_2_2": 1639}),
    Case("value_negative", filled(A6=-5), "invalid", "must not be less than 0, found -5"),
    Case("value_decimal_in_integer", filled(A6=2.5), "invalid", "expected a whole number, found 2.5"),
    Case("value_1e308", filled(A6=1e308), "invalid", "implausibly large"),
    Case("value_nan_text", filled(A6="NaN"), "invalid", "expected a number, found 'NaN'"),
    Case("value_nan_number", raw_value(b"NaN"), "invalid", "not a finite number"),
    Case("value_inf_number", raw_value(b"INF"), "invalid", "not a finite number"),
    Case("value_overflow_number", raw_value(b"1e999"), "invalid", "not a finite number"),
    Case("value_garbage_number", raw_value(b"12abc"), "invalid", "expected a number, found '12abc'"),
    Case("value_error_cell", cell(error="#DIV/0!", formula="1/0"), "invalid", "error value #DIV/0!"),
    Case("value_error_text", filled(A6="#N/A"), "invalid", "error value #N/A"),
    Case("value_date", m_date_in_number, "invalid", "found the date 2018-03-01"),
    Case("value_bool", cell(value=True), "invalid", "logical value TRUE"),
    Case("value_huge_text", filled(A6="九" * 100_000), "invalid", "expected a number"),
    Case("formula_external_link", cell(formula="[1]Sheet1!A1", value=5), "invalid", "refers to another file"),
    Case("formula_dde", cell(formula="cmd|'/c calc'!A0", value=0), "invalid", "refers to another file or external data"),
    Case("formula_no_cached_value", cell(formula="1+1"), "invalid", "with no cached result"),
    Case("formula_cached_value", cell(formula="2+3", value=5), "valid", "its cached result 5 was used", numbers={"A6": 5}),
    Case("date_field_text", filled(fill_date="明天"), "invalid", "expected a date, found '明天'"),
    Case("required_field_blank", filled(filler=""), "invalid", "required, but blank"),
    # -- one cell spelt as XML allows (what LibreOffice shows is what must be read)
    Case("spelling_attribute_order", respelled('<c s="{s}" r="{r}"><v>{v}</v></c>'), "valid", ""),
    Case("spelling_line_break", respelled('<c r="{r}"\n   s="{s}"\n><v>{v}</v></c>'), "valid", ""),
    Case("spelling_two_spaces", respelled('<c  r="{r}"  s="{s}"><v>{v}</v></c>'), "valid", ""),
    Case("spelling_single_quotes", respelled("<c r='{r}' s='{s}'><v>{v}</v></c>"), "valid", ""),
    Case("spelling_no_reference", respelled('<c s="{s}"><v>{v}</v></c>'), "valid", ""),
    Case("spelling_character_references", respelled('<c r="{r}" s="{s}"><v>{refs}</v></c>'), "valid", ""),
    Case("spelling_cdata", respelled('<c r="{r}" s="{s}"><v><![CDATA[{v}]]></v></c>'), "valid", ""),
    Case("spelling_value_in_spaces", respelled('<c r="{r}" s="{s}">\n  <v> {v} </v>\n</c>'), "valid", ""),
    Case("spelling_formula_attribute_order", respelled('<c s="{s}" r="{r}"><f>{v}+0</f><v>{v}</v></c>'),
         "valid", "holds the formula"),
    Case("spelling_external_formula_single_quotes", respelled("<c r='{r}' s='{s}'><f>[1]Sheet1!A1</f><v>{v}</v></c>"),
         "invalid", "refers to another file"),
    Case("spelling_external_formula_no_reference", respelled('<c s="{s}"><f>[1]Sheet1!A1</f><v>{v}</v></c>'),
         "invalid", "refers to another file"),
    Case("spelling_comment_inside", respelled('<c r="{r}" s="{s}"><!-- typed by hand --><v>{v}</v></c>'), "valid", ""),
    # -- found by the fuzzer
    Case("fuzz_upper_case_rels", m_fuzz_upper_case_rels, "rejected", "enormous used range", heavy=True),
    Case("fuzz_backslash_part_name", m_fuzz_backslash_part, "rejected", "part name contains a backslash", heavy=True),
    Case("fuzz_duplicate_part", m_fuzz_duplicate_part, "rejected", "a part appears twice", heavy=True),
    Case("fuzz_date_out_of_range", m_fuzz_date_panic, "rejected", "out of bounds", heavy=True),
    Case("fuzz_sst_unique_count", m_fuzz_sst_unique_count, "rejected", "shared strings table declares 99999999999 strings", heavy=True),
    Case("prefill_altered", lambda m: F.set_text(m.base(), SHEET, F.ref(F.form_a(), "agency_name"), "某某（代填）", dst=m.target),
         "invalid", "changed to '某某（代填）'"),
]


def by_name() -> dict[str, Case]:
    return {c.name: c for c in CASES}


def make_corpus(out: str | Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write every case (or those named) into ``out``; return {case name: path}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="corpus-work-") as work:
        for index, case in enumerate(CASES, 1):
            if names is not None and case.name not in names:
                continue
            m = Maker(out, Path(work), case, index)
            paths[case.name] = case.make(m)
            assert paths[case.name] == m.target, (case.name, paths[case.name])
    return paths


def agency_of(name: str) -> str:
    """The agency code a form-based case was made for."""
    return f"K{[c.name for c in CASES].index(name) + 1:03d}"


# ============================================================================ measuring one case in a fresh process

_MEASURE = r"""
import json, resource, sys, time
limit = int(sys.argv[2])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
def hwm():   # peak resident memory of this process image, in MB (ru_maxrss survives exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
from toolkit.validate import check_file
base = hwm()
t = time.perf_counter()
r = check_file(sys.argv[1])
seconds = time.perf_counter() - t
print(json.dumps({"status": r.status, "reason": r.reason("en"), "messages": [i.message("en") for i in r.issues],
                  "seconds": seconds, "peak_mb": hwm(), "base_mb": base}))
"""


def toolkit_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python that must import this very toolkit (not another install)."""
    import toolkit

    root = str(Path(toolkit.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else ""), **extra}


def measure(path: str | Path, memory_limit: int = 1 << 30, timeout: float = 60) -> dict[str, Any]:
    """check_file on one file in a fresh interpreter under an address-space limit.

    Returns status, reason, messages, seconds (check_file alone), peak_mb (the process's peak
    resident memory) and base_mb (its peak before reading: the interpreter and its imports);
    ``crashed`` with the return code and stderr tail when the process died.
    """
    proc = subprocess.run([sys.executable, "-c", _MEASURE, str(path), str(memory_limit)],
                          capture_output=True, text=True, timeout=timeout, env=toolkit_env())
    if proc.returncode != 0 or not proc.stdout.strip():
        return {"crashed": proc.returncode, "stderr": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="folder to write the corpus into")
    ap.add_argument("--measure", action="store_true", help="check every case in a fresh process: status, time, memory")
    ap.add_argument("--only", nargs="*", help="case names")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    paths = make_corpus(args.out, args.only)
    print(f"{len(paths)} case(s) written to {args.out} in {time.perf_counter() - t:.1f} s")
    bad = 0
    for name, path in paths.items():
        case = by_name()[name]
        line = f"{case.status:8} {path.name:45} {case.fragment}"
        if args.measure:
            r = measure(path)
            if "crashed" in r:
                bad += 1
                line += f"\n    CRASHED rc={r['crashed']}: {r['stderr'][-300:]}"
            else:
                msg = r["reason"] or "; ".join(r["messages"])
                ok = r["status"] == case.status and case.fragment in (r["reason"] if case.status == "rejected" else " | ".join(r["messages"]))
                bad += not ok
                line += f"\n    {'ok ' if ok else 'BAD'} {r['status']:8} {r['seconds']:6.2f} s {r['peak_mb']:6.0f} MB  {msg[:150]}"
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
