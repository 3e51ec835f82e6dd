"""File names safe on Windows and Linux, and atomic writes.

Templates travel by e-mail to Windows machines, so a name must survive NTFS rules (no
``<>:"/\\|?*``, no CON/PRN/…, no trailing dot or space) as well as Linux's byte limit. Every output
of the toolkit is written to a temporary file beside its target and renamed, so an interrupted
run never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
MAX_NAME_BYTES = 150  # well under every file system's 255, leaving room for a suffix and a path


def safe_stem(text: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """A file name stem that every common file system accepts, never empty."""
    s = unicodedata.normalize("NFC", text)
    s = _BAD.sub("_", s)
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"\.{2,}", ".", s)
    s = s.strip(". ")
    while len(s.encode("utf-8")) > max_bytes:
        s = s[:-1]
    s = s.rstrip(". ")
    if not s:
        s = "_"
    if s.split(".")[0].upper() in _RESERVED:
        s = "_" + s
    return s


def unique_names(stems: list[str], suffix: str) -> list[str]:
    """File names from stems, made unique without regard to case (Windows and macOS fold case)."""
    used: set[str] = set()
    out = []
    for stem in stems:
        name = f"{stem}{suffix}"
        n = 2
        while name.casefold() in used:
            name = f"{stem}_{n}{suffix}"
            n += 1
        used.add(name.casefold())
        out.append(name)
    return out


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".part") -> Iterator[str]:
    """A temporary path beside ``path``; renamed onto it when the block succeeds, removed otherwise.

    For writers that want a file name rather than bytes (xlsxwriter's constant-memory mode).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    stem = f".{target.name[:40]}.tmp"
    sweep_dead_temps(target.parent, stem)
    fd, tmp = tempfile.mkstemp(prefix=f"{stem}{os.getpid()}-", suffix=suffix, dir=str(target.parent))
    os.close(fd)
    try:
        yield tmp
        _give_mode(tmp, target)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _give_mode(tmp: str, target: Path) -> None:
    """mkstemp makes a file only its owner can read (0600). The output gets the mode a new file
    would get under the user's umask (colleagues on a shared drive can open the summary), and a
    file being replaced keeps the mode it had."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    try:
        os.chmod(tmp, mode)
    except OSError:
        pass


def _umask() -> int:
    mask = os.umask(0o022)      # the only way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


def sweep_dead_temps(folder: str | Path, stem: str) -> None:
    """Remove what earlier runs killed outright (SIGKILL, power loss) left behind.

    Temporary names carry the process id (``{stem}{pid}-…``); a temporary of a process that no
    longer exists can only be a leftover. Files and folders alike; anything unreadable is left.
    """
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(stem):
            continue
        pid_text = entry.name[len(stem):].split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()
        except OSError:
            pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)


def write_text_atomic(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    write_atomic(path, text.encode(encoding))


def neutralise(text: str) -> str:
    """Text from agencies made safe for CSV and spreadsheets: a leading = + - @ would run as a formula."""
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def read_text_file(path: str | Path, limit: int = 1_000_000) -> str:
    """A small text file a person wrote (UTF-8, with or without BOM, or GBK as Chinese Windows saves
    it); :class:`~toolkit.errors.InputProblem` naming the file when it cannot be one."""
    from .errors import InputProblem
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as e:
        raise InputProblem(f"{path}：无法读取（{e.strerror or e}）", f"{path}: cannot read it ({e.strerror or e})") from None
    if len(raw) > limit:
        raise InputProblem(f"{path}：文件太大（超过 {limit // 1000} KB），不是一段文字", f"{path}: larger than {limit // 1000} KB")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputProblem(f"{path}：不是 UTF-8 或 GBK 编码的文本", f"{path}: not UTF-8 or GBK text")


# C0 and C1 control characters (ESC starts a terminal escape sequence), DEL, and the Unicode
# direction overrides that make a file name read backwards on screen.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe_text(text: str) -> str:
    """Text from files and agencies made safe to print: every control character is shown escaped
    (``\\x1b``), so a cell holding ESC[2K cannot erase a line of the report or hide text."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100 else f"\\u{ord(m.group(0)):04x}", text)
