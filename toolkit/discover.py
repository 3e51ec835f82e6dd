"""Which files under the given paths are read — and, for every other path, why not.

A return that is skipped in silence shows up as 未报送 (missing) in the summary: the office then
chases an agency that did send its figures. So every path under the inputs that is not read is
reported as a rejected entry with its reason: a folder that cannot be read, a link that loops, a
folder nested too deep, a file that is not a workbook, a WPS ``.et`` (advice: save as .xlsx).
A ``.zip`` of returns is opened, within the same bounds as a workbook's own package, and each
workbook in it is read under the name ``archive.zip!inner.xlsx``.

The walk is iterative (no recursion limit), follows links to folders once each (a loop is
reported, not followed round), and never raises for a path it meets.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

WORKBOOK_EXTS = (".xlsx", ".xlsm", ".xls", ".ods")
WPS_EXTS = (".et", ".ett")
ARCHIVE_EXTS = (".zip",)
MAX_DEPTH = 64
IGNORED_PREFIXES = ("~$", ".~lock")     # Office and LibreOffice lock files: never a return
ARCHIVE_SEPARATOR = "!"


@dataclass
class Skipped:
    """A path under the inputs that is not read, and why (one line in each language)."""
    path: str
    zh: str
    en: str


@dataclass
class Found:
    """What the inputs hold: files to read, paths not read, and files taken out of archives."""
    files: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # extracted file → the name it is shown under (archive.zip!inner.xlsx)
    shown_as: dict[str, str] = field(default_factory=dict)
    mtimes: dict[str, float] = field(default_factory=dict)
    archives: list[Path] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)      # the paths as given, for messages
    _scratch: list[str] = field(default_factory=list, repr=False)

    def inputs(self) -> list[Path]:
        """Every file the command reads: workbooks and the archives they came out of."""
        return [f for f in self.files if str(f) not in self.shown_as] + self.archives

    def cleanup(self) -> None:
        """Remove the folders archives were extracted into."""
        for d in self._scratch:
            shutil.rmtree(d, ignore_errors=True)
        self._scratch.clear()

    def __enter__(self) -> Found:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def _reason(e: OSError) -> tuple[str, str]:
    if e.errno == errno.ELOOP:
        return "链接形成循环，未读取", "a symbolic link loop; not followed"
    if e.errno == errno.ENAMETOOLONG:
        return "路径过长，无法读取", "the path is too long to read"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "没有读取权限，未读取", "permission denied; not read"
    text = e.strerror or str(e)
    return f"无法读取（{text}）", f"cannot be read ({text})"


def find_inputs(paths: list[str], open_archives: bool = True) -> Found:
    """Every workbook under ``paths`` (sorted, recursive) and every path not read, with its reason.

    A path named directly is always read as a workbook (whatever its name), except a ``.zip``,
    which is opened, and a folder, which is walked.
    """
    found = Found(roots=[str(p) for p in paths])
    for name in paths:
        p = Path(name)
        try:
            is_dir = p.is_dir()
        except OSError:
            found.files.append(p)         # the reader names the problem (a loop, a bad path)
            continue
        if is_dir and p.suffix.lower() not in WORKBOOK_EXTS:
            _walk(p, found, open_archives)
        elif p.suffix.lower() in ARCHIVE_EXTS and open_archives and not is_dir:
            _open_archive(p, found)
        else:
            found.files.append(p)
    return found


def _walk(root: Path, found: Found, open_archives: bool) -> None:
    seen: set[tuple[int, int]] = set()
    try:
        st = root.stat()
        seen.add((st.st_dev, st.st_ino))
    except OSError:
        pass
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            zh, en = _reason(err)
            found.skipped.append(Skipped(str(folder), f"文件夹{zh}", f"folder {en}"))
            continue
        subfolders: list[Path] = []
        for e in entries:
            path = Path(e.path)
            low = e.name.lower()
            if e.name.startswith(".") or e.name.startswith(IGNORED_PREFIXES):
                continue
            try:
                is_dir = e.is_dir()
            except OSError as err:
                found.skipped.append(Skipped(str(path), *_reason(err)))
                continue
            if is_dir:
                if low.endswith(WORKBOOK_EXTS):
                    found.files.append(path)      # a folder wearing a workbook's name: reported by the reader
                    continue
                try:
                    st = e.stat()
                except OSError as err:
                    found.skipped.append(Skipped(str(path), *_reason(err)))
                    continue
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    found.skipped.append(Skipped(str(path), "链接指回已读取的文件夹（循环），未重复读取",
                                                 "a link back to a folder already read (a loop); not followed"))
                elif depth + 1 > MAX_DEPTH:
                    found.skipped.append(Skipped(str(path), f"文件夹嵌套超过 {MAX_DEPTH} 层，未读取",
                                                 f"folders nested more than {MAX_DEPTH} deep; not read"))
                else:
                    seen.add(key)
                    subfolders.append(path)
                continue
            if low.endswith(WORKBOOK_EXTS):
                found.files.append(path)
            elif low.endswith(WPS_EXTS):
                found.skipped.append(Skipped(str(path), "这是 WPS 表格（.et）文件，无法读取；请在 WPS 中“另存为” Excel 工作簿（.xlsx）后重新报送",
                                             "a WPS Spreadsheets (.et) file, which cannot be read; save it as an Excel workbook (.xlsx) and send it again"))
            elif low.endswith(ARCHIVE_EXTS) and open_archives:
                _open_archive(path, found)
            else:
                try:
                    os.stat(path)
                    zh, en = "不是工作簿（.xlsx .xlsm .xls .ods），未读取", "not a workbook (.xlsx .xlsm .xls .ods); not read"
                except OSError as err:
                    zh, en = _reason(err)
                found.skipped.append(Skipped(str(path), zh, en))
        stack.extend((d, depth + 1) for d in reversed(subfolders))
    found.files.sort()


def _open_archive(path: Path, found: Found) -> None:
    """The workbooks inside a .zip, extracted (within the package bounds) into a private folder."""
    from .package import MAX_FILE_BYTES, MAX_INFLATED_BYTES, MAX_MEMBERS, MAX_RATIO

    shown = str(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        zf = zipfile.ZipFile(path)
    except OSError as e:
        found.skipped.append(Skipped(shown, *_reason(e)))
        return
    except (zipfile.BadZipFile, ValueError, EOFError):
        found.skipped.append(Skipped(shown, "压缩包已损坏，无法打开", "the .zip archive is damaged and cannot be opened"))
        return
    with zf:
        infos = zf.infolist()
        if any(i.filename.lower() in ("xl/workbook.xml", "content.xml") for i in infos):
            found.files.append(path)          # a workbook named .zip: read as the workbook it is
            return
        found.archives.append(path)
        if len(infos) > MAX_MEMBERS:
            found.skipped.append(Skipped(shown, f"压缩包内有 {len(infos)} 个文件，超出上限", f"the archive holds {len(infos)} files (limit {MAX_MEMBERS})"))
            return
        total = 0
        scratch: str | None = None
        for info in infos:
            inner = _inner_name(info)
            label = f"{shown}{ARCHIVE_SEPARATOR}{inner}"
            base = inner.rsplit("/", 1)[-1]
            if info.is_dir() or not base or base.startswith(".") or base.startswith(IGNORED_PREFIXES) or inner.startswith("__MACOSX/"):
                continue
            low = base.lower()
            if not low.endswith(WORKBOOK_EXTS):
                if low.endswith(WPS_EXTS):
                    found.skipped.append(Skipped(label, "这是 WPS 表格（.et）文件，无法读取；请另存为 .xlsx 后重新报送",
                                                 "a WPS Spreadsheets (.et) file; save it as .xlsx and send it again"))
                elif low.endswith(ARCHIVE_EXTS):
                    found.skipped.append(Skipped(label, "压缩包中的压缩包，未读取；请解压后报送", "an archive inside an archive; not read"))
                else:
                    found.skipped.append(Skipped(label, "不是工作簿，未读取", "not a workbook; not read"))
                continue
            total += info.file_size
            if info.flag_bits & 0x1:
                found.skipped.append(Skipped(label, "压缩包中的文件已加密，无法读取", "the file is encrypted inside the archive"))
                continue
            if info.file_size > MAX_FILE_BYTES or total > MAX_INFLATED_BYTES or \
                    (info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1_000_000):
                found.skipped.append(Skipped(label, "压缩包中的文件解压后过大（疑似压缩炸弹），已拒绝", "the file inflates past the limit (a zip bomb?)"))
                continue
            if scratch is None:
                scratch = tempfile.mkdtemp(prefix="toolkit-zip-")
                found._scratch.append(scratch)
            target = Path(scratch) / f"{len(found.shown_as):05d}{Path(low).suffix}"
            try:
                with zf.open(info) as src, open(target, "wb") as dst:
                    left = MAX_FILE_BYTES + 1
                    while left > 0 and (chunk := src.read(min(1 << 20, left))):
                        dst.write(chunk)
                        left -= len(chunk)
                if left <= 0:
                    raise ValueError("larger than declared")
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
                found.skipped.append(Skipped(label, "压缩包中的文件已损坏，无法解压", f"the file cannot be extracted ({str(e)[:100]})"))
                continue
            found.files.append(target)
            found.shown_as[str(target)] = label
            try:
                import datetime as dt
                found.mtimes[str(target)] = dt.datetime(*info.date_time).timestamp()
            except (ValueError, OverflowError):
                pass


def _inner_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its author wrote it: zips made on Chinese Windows store GBK names
    without the UTF-8 flag, which zipfile reads as code page 437."""
    name = info.filename
    if info.flag_bits & 0x800:
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return name


def skipped_results(found: Found) -> list:
    """Each skipped path as a rejected Result, so every report and the summary list it."""
    from .validate import Result

    out = []
    for s in found.skipped:
        r = Result(file=s.path)
        r.status, r.reason_zh, r.reason_en = "rejected", s.zh, s.en
        out.append(r)
    return out


def rename_extracted(results: list, found: Found) -> None:
    """Results of files taken out of archives carry the archive's name (archive.zip!inner.xlsx)."""
    for r in results:
        label = found.shown_as.get(r.file)
        if label:
            r.mtime = found.mtimes.get(r.file, r.mtime)
            r.file = label


def check_found(found: Found, registry, schema_dirs=(), jobs: int | None = None, progress=None) -> list:
    """check_many over what was found, with every skipped path as a rejected entry, sorted by name."""
    from .runner import check_many

    results = check_many(found.files, registry, schema_dirs=schema_dirs, jobs=jobs, progress=progress)
    rename_extracted(results, found)
    return results + skipped_results(found)
