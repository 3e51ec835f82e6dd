"""The package's own member reader (toolkit.package._inflate) against zipfile's, on the fuzzer's
hostile zips: corrupted data, lying sizes and CRCs, renamed and duplicated members, truncation.
Both give the same bytes, or both refuse the member."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from corpus import mutate
from toolkit.package import MAX_MEMBER_BYTES, Rejected, _Folded, _read

FAILURES = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError, ValueError, struct.error, Rejected)


def _zipfile_read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with zf.open(info) as fh:
        return fh.read(info.file_size + 1)


def _outcome(fn, *a):
    try:
        return ("bytes", fn(*a))
    except FAILURES as e:
        return ("refused", type(e).__name__)


def test_own_reader_reads_what_zipfile_reads():
    compared = refused = 0
    for i in range(600):
        _, data = mutate.mutated("reader", i)
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except FAILURES:
            continue
        with zf:
            names = [i.filename.lower() for i in zf.infolist()]
            for info in zf.infolist():
                if names.count(info.filename.lower()) > 1:
                    continue            # a part named twice is refused before any is read
                if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x61:
                    continue
                ours = _outcome(_read, _Folded(zf), info.filename, MAX_MEMBER_BYTES)
                theirs = _outcome(_zipfile_read, zf, info)
                if ours == ("refused", "EOFError") and theirs[0] == "bytes":
                    # the one stricter check: zipfile returns data shorter than the declared size
                    # when its CRC matches; ours refuses the part (the directory lies about it)
                    assert len(theirs[1]) < info.file_size, (i, info.filename, len(theirs[1]), info.file_size)
                    continue
                assert ours[0] == theirs[0], (i, info.filename, ours, theirs)
                if ours[0] == "bytes":
                    assert ours[1] == theirs[1], (i, info.filename)
                    compared += 1
                else:
                    refused += 1
    assert compared > 1000 and refused > 20, (compared, refused)
