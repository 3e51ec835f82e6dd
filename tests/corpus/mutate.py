"""Mutations of valid filled workbooks, for the fuzzer (tests/test_fuzz.py) and its corpus cases.

Every mutation is a pure function of (random generator, workbook bytes) → bytes, and iteration
``i`` of seed ``s`` draws from ``random.Random(f"{s}:{i}")`` alone, so any one outcome can be made
again without running the others: :func:`mutated` (seed, index) → (description, bytes).

Three levels:

* bytes — flips, truncation, insertion, deletion, overwriting of the file as a whole;
* zip — a member removed, duplicated, renamed, its compressed data corrupted, its declared size
  or CRC changed, the members reordered;
* XML — inside one part (mostly the form sheets): an element deleted or duplicated, an attribute
  changed, garbage inserted, a cell's type (t="s"/"e"/"str"/"b"/…) or value changed.
"""

from __future__ import annotations

import io
import random
import re
import struct
import sys
import warnings
import zipfile
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

import filled as F  # noqa: E402
from toolkit.roster import Agency  # noqa: E402

Mutation = Callable[[random.Random, bytes], tuple[str, bytes]]


# ---------------------------------------------------------------------------- the files mutated

@lru_cache(maxsize=None)
def bases() -> tuple[tuple[str, bytes], ...]:
    """The valid workbooks every mutation starts from (deterministic bytes)."""
    a = F.build(F.form_a(), F.seed_values(), agency=Agency(code="Z01", name="模糊测试单位", group="Z"))
    b = F.build(F.form_b(), F.county_values(), agency=Agency(code="Z02", name="模糊测试单位二", group="Z"))
    a_text = F.build(F.form_a(), F.seed_values(A6="１２", A7="1,234.5", A9_3=" 7 "),
                     agency=Agency(code="Z03", name="模糊测试单位三", group="Z"))
    return (("form_a", a), ("form_b", b), ("form_a_text", a_text))


# ---------------------------------------------------------------------------- zip helpers

def members(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(i, zf.read(i)) for i in zf.infolist()]


def pack(items: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # duplicate names are the point of some mutations
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, d in items:
                zf.writestr(name, d)
    return buf.getvalue()


def xml_members(items: list[tuple[zipfile.ZipInfo, bytes]]) -> list[int]:
    return [k for k, (i, _) in enumerate(items) if i.filename.endswith((".xml", ".rels"))]


def sheet_indexes(items: list[tuple[zipfile.ZipInfo, bytes]]) -> list[int]:
    return [k for k, (i, _) in enumerate(items) if i.filename.startswith("xl/worksheets/")]


# ---------------------------------------------------------------------------- byte level

def flip_bytes(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    b = bytearray(data)
    n = rng.choice([1, 1, 2, 4, 16])
    where = [rng.randrange(len(b)) for _ in range(n)]
    for w in where:
        b[w] ^= 1 << rng.randrange(8)
    return f"flip {n} bit(s) at {where[:4]}", bytes(b)


def truncate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    at = rng.randrange(1, len(data))
    return f"truncate at {at}", data[:at]


def insert_bytes(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    at = rng.randrange(len(data))
    junk = rng.randbytes(rng.choice([1, 3, 64, 1000]))
    return f"insert {len(junk)} bytes at {at}", data[:at] + junk + data[at:]


def delete_bytes(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    at = rng.randrange(len(data))
    n = rng.choice([1, 4, 100, 2000])
    return f"delete {n} bytes at {at}", data[:at] + data[at + n:]


def overwrite_bytes(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    at = rng.randrange(len(data))
    n = rng.choice([4, 32, 512])
    fill = rng.choice([b"\0", b"\xff", b"A"]) * n
    return f"overwrite {n} bytes at {at}", data[:at] + fill + data[at + n:]


# ---------------------------------------------------------------------------- zip level

def drop_member(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    items = members(data)
    k = rng.randrange(len(items))
    return f"drop {items[k][0].filename}", pack([(i.filename, d) for j, (i, d) in enumerate(items) if j != k])


def duplicate_member(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    items = members(data)
    k = rng.randrange(len(items))
    name, d = items[k][0].filename, items[k][1]
    other = rng.choice(items)[1] if rng.random() < 0.5 else d
    out = [(i.filename, x) for i, x in items]
    out.insert(rng.randrange(len(out) + 1), (name, other))
    return f"duplicate {name}", pack(out)


def rename_member(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    items = members(data)
    k = rng.randrange(len(items))
    new = rng.choice(["xl/worksheets/sheet99.xml", items[k][0].filename.upper(), "/" + items[k][0].filename,
                      items[k][0].filename + " ", "xl\\worksheets\\sheet1.xml"])
    return f"rename {items[k][0].filename} → {new}", pack([(new if j == k else i.filename, d) for j, (i, d) in enumerate(items)])


def reorder_members(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    items = [(i.filename, d) for i, d in members(data)]
    rng.shuffle(items)
    return "shuffle members", pack(items)


def _local_headers(data: bytes) -> list[int]:
    out, pos = [], data.find(b"PK\x03\x04")
    while pos >= 0:
        out.append(pos)
        pos = data.find(b"PK\x03\x04", pos + 4)
    return out


def corrupt_member_data(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """Damage the compressed bytes of one member (headers intact)."""
    heads = _local_headers(data)
    pos = rng.choice(heads)
    name_len, extra_len = struct.unpack_from("<HH", data, pos + 26)
    csize = struct.unpack_from("<L", data, pos + 18)[0]
    start = pos + 30 + name_len + extra_len
    if csize < 2:
        return "corrupt nothing", data
    b = bytearray(data)
    at = start + rng.randrange(csize)
    n = min(rng.choice([1, 8, 64]), start + csize - at)
    b[at:at + n] = rng.randbytes(n)
    return f"corrupt {n} compressed byte(s) of member at {pos}", bytes(b)


def lie_about_size(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """Change a member's declared uncompressed size or CRC in the central directory (and local header)."""
    b = bytearray(data)
    cds = []
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        cds.append(pos)
        pos = data.find(b"PK\x01\x02", pos + 4)
    if not cds:
        return "no central directory", data
    pos = rng.choice(cds)
    field, value = rng.choice([("size", rng.choice([0, 1, 100, 0x7FFFFFFF, 0xFFFFFFFF])),
                               ("crc", rng.getrandbits(32)), ("csize", rng.choice([0, 1, 0xFFFFFFFF]))])
    off = {"crc": 16, "csize": 20, "size": 24}[field]
    struct.pack_into("<L", b, pos + off, value)
    local = struct.unpack_from("<L", b, pos + 42)[0]
    if rng.random() < 0.5 and local + 30 <= len(b) and b[local:local + 4] == b"PK\x03\x04":
        struct.pack_into("<L", b, local + off - 2, value)
    return f"central directory {field}={value} at {pos}", bytes(b)


# ---------------------------------------------------------------------------- XML level

_ELEMENT = re.compile(rb"<(c|row|si|sheet|f|v|mergeCell|Relationship|property|dimension|sheetProtection|t)\b[^>]*?(?:/>|>.*?</\1>)", re.S)
_TAG = re.compile(rb"<([A-Za-z][\w:]*)((?:\s+[\w:]+=\"[^\"]*\")+)\s*/?>")
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_CELL = re.compile(rb'<c\b([^>]*?)(/>|>(.*?)</c>)', re.S)

ATTR_VALUES = [b"", b"0", b"1", b"-1", b"2", b"A1", b"XFD1048576", b"A1048577", b"ZZZ1", b"99999999999", b"s", b"e",
               b"str", b"b", b"n", b"d", b"inlineStr", b"1e308", b"NaN", b"true", b"&amp;", b"A1:XFD1048576",
               b"rId999", b"../../../../etc/passwd", b"\xe7\xbb\x9f\xe8\xae\xa1\xe8\xa1\xa8", b"C64:C65"]
VALUES = [b"", b"0", b"-1", b"1e308", b"-1e308", b"1e999", b"NaN", b"inf", b"2.5", b"12abc", b"99999999", b"-0",
          b"#DIV/0!", b"#N/A", b"TRUE", b"1", b"2", b"0x10", b"1,000", b"\xef\xbc\x91\xef\xbc\x92", b"&lt;",
          b"2018-03-01T00:00:00", b"4294967296", b" 7 ", b"9" * 400]
GARBAGE = [b"<", b">", b"&", b"&bogus;", b"]]>", b"<c>", b"</row>", b"<row>", b"<![CDATA[x", b"\x00", b"\xff\xfe",
           b"<!DOCTYPE x>", b"<?pi?>", b"<!-- -->", b'<c r="A1"><v>1</v></c>', b"<v>1</v>", b'"', b"<f>SUM(A:A)</f>"]


def _pick_xml(rng: random.Random, items: list[tuple[zipfile.ZipInfo, bytes]]) -> int:
    sheets = sheet_indexes(items)
    return rng.choice(sheets) if sheets and rng.random() < 0.8 else rng.choice(xml_members(items) or [0])


def _xml_edit(name: str, change: Callable[[random.Random, bytes], tuple[str, bytes]]) -> Mutation:
    def mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
        items = members(data)
        k = _pick_xml(rng, items)
        what, new = change(rng, items[k][1])
        out = [(i.filename, new if j == k else d) for j, (i, d) in enumerate(items)]
        return f"{name} in {items[k][0].filename}: {what}", pack(out)
    mutation.__name__ = name
    return mutation


def _delete_element(rng: random.Random, x: bytes) -> tuple[str, bytes]:
    found = list(_ELEMENT.finditer(x))
    if not found:
        return "no element", x
    m = rng.choice(found)
    return f"delete {m.group(0)[:60]!r}", x[:m.start()] + x[m.end():]


def _duplicate_element(rng: random.Random, x: bytes) -> tuple[str, bytes]:
    found = list(_ELEMENT.finditer(x))
    if not found:
        return "no element", x
    m = rng.choice(found)
    return f"duplicate {m.group(0)[:60]!r}", x[:m.end()] + m.group(0) + x[m.end():]


def _change_attribute(rng: random.Random, x: bytes) -> tuple[str, bytes]:
    tags = list(_TAG.finditer(x))
    if not tags:
        return "no tag", x
    t = rng.choice(tags)
    attrs = list(_ATTR.finditer(x, t.start(2), t.end(2)))
    a = rng.choice(attrs)
    value = rng.choice(ATTR_VALUES)
    return f"{t.group(1).decode()} {a.group(1).decode()}={value[:30]!r}", x[:a.start(2)] + value + x[a.end(2):]


def _insert_garbage(rng: random.Random, x: bytes) -> tuple[str, bytes]:
    g = rng.choice(GARBAGE)
    # mostly between tags, sometimes anywhere
    if rng.random() < 0.7:
        spots = [m.start() for m in re.finditer(rb"<", x)]
        at = rng.choice(spots) if spots else 0
    else:
        at = rng.randrange(len(x) + 1)
    return f"insert {g!r} at {at}", x[:at] + g + x[at:]


def _cell_type(rng: random.Random, x: bytes) -> tuple[str, bytes]:
    cells = list(_CELL.finditer(x))
    if not cells:
        return "no cell", x
    m = rng.choice(cells)
    attrs = re.sub(rb'\st="[^"]*"', b"", m.group(1))
    t = rng.choice([b"s", b"e", b"str", b"b", b"n", b"d", b"inlineStr", b"x"])
    body = m.group(3) if m.group(3) is not None else b""
    if not body or rng.random() < 0.5:
        body = b"<v>" + rng.choice(VALUES) + b"</v>"
    new = b"<c" + attrs + b' t="' + t + b'">' + body + b"</c>"
    return f"cell {m.group(0)[:40]!r} → {new[:80]!r}", x[:m.start()] + new + x[m.end():]


def _cell_value(rng: random.Random, x: bytes) -> tuple[str, bytes]:
    vs = list(re.finditer(rb"<v>([^<]*)</v>", x))
    if not vs:
        return "no value", x
    m = rng.choice(vs)
    v = rng.choice(VALUES)
    return f"value {m.group(1)[:20]!r} → {v[:30]!r}", x[:m.start(1)] + v + x[m.end(1):]


def _far_reference(rng: random.Random, x: bytes) -> tuple[str, bytes]:
    refs = list(re.finditer(rb' r="([A-Z]+[0-9]+)"', x))
    if not refs:
        return "no reference", x
    m = rng.choice(refs)
    new = rng.choice([b"XFD1048576", b"A1048576", b"XFD1", b"AAA100000", b"A0", b"A", b"1", b"a1", b"A01"])
    return f"reference {m.group(1).decode()} → {new.decode()}", x[:m.start(1)] + new + x[m.end(1):]


delete_element = _xml_edit("delete element", _delete_element)
duplicate_element = _xml_edit("duplicate element", _duplicate_element)
change_attribute = _xml_edit("change attribute", _change_attribute)
insert_garbage = _xml_edit("insert garbage", _insert_garbage)
change_cell_type = _xml_edit("change cell type", _cell_type)
change_value = _xml_edit("change value", _cell_value)
far_reference = _xml_edit("far reference", _far_reference)

MUTATIONS: list[tuple[Mutation, int]] = [        # (mutation, weight)
    (flip_bytes, 3), (truncate, 2), (insert_bytes, 1), (delete_bytes, 1), (overwrite_bytes, 1),
    (drop_member, 2), (duplicate_member, 2), (rename_member, 1), (reorder_members, 1),
    (corrupt_member_data, 2), (lie_about_size, 2),
    (delete_element, 4), (duplicate_element, 3), (change_attribute, 5), (insert_garbage, 3),
    (change_cell_type, 6), (change_value, 6), (far_reference, 2),
]


def mutated(seed: int | str, index: int) -> tuple[str, bytes]:
    """Mutation ``index`` of run ``seed``: a base workbook and one to three mutations applied in turn."""
    rng = random.Random(f"{seed}:{index}")
    base_name, data = rng.choice(bases())
    steps = []
    fns = [m for m, _ in MUTATIONS]
    weights = [w for _, w in MUTATIONS]
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        fn = rng.choices(fns, weights)[0]
        try:
            what, data = fn(rng, data)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, IndexError, KeyError, NotImplementedError, RuntimeError, OSError, struct.error):
            what = f"{fn.__name__} skipped (the file no longer unzips)"
        steps.append(f"{fn.__name__}: {what}")
    return f"{base_name} | " + " | ".join(steps), data
