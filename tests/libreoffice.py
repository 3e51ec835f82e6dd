"""LibreOffice for the tests: one headless soffice per test session, driven by tests/lo_worker.py.

``uno`` only imports in the system Python (``/usr/bin/python3``), so the tests never import it:
:class:`LibreOffice` starts soffice with a private profile and a free port, and :meth:`run`
hands a job of operations to ``lo_worker.py`` under the system Python, as JSON.

:func:`render_pictures` renders the template pictures of docs/images and
:func:`render_summary_picture` the summary's; run ``python tests/libreoffice.py [out_dir]``
again after the template or summary layout changes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SYSTEM_PYTHON = "/usr/bin/python3"
WORKER = Path(__file__).resolve().with_name("lo_worker.py")
REPO = Path(__file__).resolve().parent.parent
SAMPLE_ROSTER = REPO / "workbooks" / "sample-roster.csv"
SAMPLE_RETURNS = REPO / "workbooks" / "returns-2021"
START_TIMEOUT = 60.0
JOB_TIMEOUT = 120.0


# Settings of the private profile that keep headless soffice 7.4 alive (without each, a test crashed it):
SESSION_SETTINGS = [
    # Pasting over cells that hold data asks "replace the contents?"; a person clicks Yes, headless
    # soffice aborts on the box. This is the "show overwrite warning when pasting" option.
    {"op": "config", "path": "/org.openoffice.Office.Calc/Input", "name": "ReplaceCellsWarning", "value": False},
    # The formula bar (the input line: child window FID_TOGGLEINPUTLINE = 26100) has a Name Box
    # built from modules/scalc/ui/posbox.ui, a file the Debian libreoffice-calc-nogui package leaves
    # out; once a dispatcher command has activated a document's frame, building it in a timer throws
    # and aborts soffice. No formula bar.
    {"op": "config", "path": "/org.openoffice.Office.Views/Windows", "element": "26100", "name": "Visible", "value": False},
]


class LibreOfficeError(RuntimeError):
    """A job the worker could not finish; the message carries the worker's own explanation."""


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def missing() -> str | None:
    """Why LibreOffice tests cannot run here (naming the missing program), or None when they can."""
    if soffice_path() is None:
        return "LibreOffice is not installed: no `soffice` program on PATH"
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} is missing (needed to run the UNO worker)"
    try:
        probe = subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`{SYSTEM_PYTHON} -c 'import uno'` could not run: {e}"
    if probe.returncode != 0:
        return f"`{SYSTEM_PYTHON} -c 'import uno'` fails: the Python-UNO bridge (python3-uno) is not installed"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LibreOffice:
    """One headless soffice process with a private profile; :meth:`close` ends it and its children."""

    def __init__(self) -> None:
        reason = missing()
        if reason:
            raise LibreOfficeError(reason)
        self.tmp = Path(tempfile.mkdtemp(prefix="toolkit-lo-"))
        self.profile = self.tmp / "profile"
        self.log_path = self.tmp / "soffice.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._start()

    def _start(self) -> None:
        self.port = _free_port()
        cmd = [soffice_path() or "soffice", "--headless", "--invisible", "--norestore", "--nologo",
               "--nodefault", "--nolockcheck", f"-env:UserInstallation={self.profile.as_uri()}",
               f"--accept=socket,host=127.0.0.1,port={self.port};urp;"]
        log = open(self.log_path, "ab")
        # A session of its own, so close() can end soffice and everything it spawned (oosplash,
        # soffice.bin) by this one process group id, and nothing else.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None and not self._listening():
                raise LibreOfficeError(f"soffice exited with {self.proc.returncode} on start: {self.log()}")
            if self._listening() and self._ready():
                self.run(SESSION_SETTINGS)
                return
            time.sleep(0.2)
        self.close()
        raise LibreOfficeError(f"soffice did not listen on port {self.port} within {START_TIMEOUT:.0f} s: {self.log()}")

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _ready(self) -> bool:
        """Whether soffice answers a job: on a new profile it listens, restarts itself once, listens again."""
        try:
            self.run([{"op": "ping"}], timeout=30)
            return True
        except LibreOfficeError:
            return False

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self._listening()

    def run(self, ops: list[dict[str, Any]], timeout: float = JOB_TIMEOUT) -> list[Any]:
        """Run one job; the results, one per operation. Raises LibreOfficeError when an operation fails."""
        if self.proc is None:
            raise LibreOfficeError("LibreOffice has been closed")
        job = {"port": self.port, "connect_timeout": 30, "ops": ops}
        try:
            done = subprocess.run([SYSTEM_PYTHON, str(WORKER)], input=json.dumps(job, ensure_ascii=False).encode("utf-8"),
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LibreOfficeError(f"the UNO worker took longer than {timeout:.0f} s; soffice log: {self.log()}") from None
        try:
            reply = json.loads(done.stdout.decode("utf-8"))
        except ValueError:
            raise LibreOfficeError(f"the UNO worker failed (exit {done.returncode}): "
                                   f"{done.stderr.decode('utf-8', 'replace')[-2000:]}; soffice log: {self.log()}") from None
        if not reply.get("ok"):
            at = reply.get("at", -1)
            what = ops[at] if 0 <= at < len(ops) else None
            raise LibreOfficeError(f"{reply.get('error')} (operation {at}: {what}); "
                                   f"{'' if self.alive else 'soffice is no longer running; '}"
                                   f"{reply.get('traceback', '')}")
        return reply["results"]

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            # The process group is the one soffice got at start (start_new_session): soffice, oosplash
            # and soffice.bin, nothing else.
            for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + wait
                gone = False
                while time.monotonic() < deadline:
                    proc.poll()
                    try:
                        os.killpg(proc.pid, 0)
                    except ProcessLookupError:
                        gone = True
                        break
                    time.sleep(0.1)
                if gone:
                    break
            proc.poll()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "LibreOffice":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------- pictures

def pdf_page_png(pdf: Path, png: Path, page: int = 1, dpi: int = 90) -> Path:
    """One page of a PDF as a PNG (pdftoppm)."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise LibreOfficeError("pdftoppm is not installed (poppler-utils)")
    stem = png.with_suffix("")
    subprocess.run([exe, "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile", str(pdf), str(stem)],
                   check=True, capture_output=True, timeout=120)
    return png


def pdf_page_sizes(pdf: Path) -> list[tuple[float, float]]:
    """Every page's size in points (pdfinfo), in order: the page count is the list's length."""
    exe = shutil.which("pdfinfo")
    if exe is None:
        raise LibreOfficeError("pdfinfo is not installed (poppler-utils)")
    head = subprocess.run([exe, str(pdf)], check=True, capture_output=True, timeout=60, text=True).stdout
    count = int(next(line.split(":", 1)[1] for line in head.splitlines() if line.startswith("Pages:")))
    if count == 0:
        return []
    out = subprocess.run([exe, "-f", "1", "-l", str(count), str(pdf)], check=True, capture_output=True, timeout=60,
                         text=True).stdout
    sizes = []
    for line in out.splitlines():
        if line.startswith("Page") and "size:" in line:
            w, _, h = line.split("size:", 1)[1].split()[:3]
            sizes.append((float(w), float(h)))
    return sizes


def pdf_text(pdf: Path, page: int) -> str:
    """The text of one page (pdftotext -layout)."""
    exe = shutil.which("pdftotext")
    if exe is None:
        raise LibreOfficeError("pdftotext is not installed (poppler-utils)")
    return subprocess.run([exe, "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          check=True, capture_output=True, text=True, timeout=60).stdout


def pdf_text_lines(pdf: Path, page: int) -> list[tuple[float, float, float, float, str]]:
    """Every text line of one page as LibreOffice drew it: (x0, y0, x1, y1, text) in points, from the
    word boxes of ``pdftotext -bbox-layout``."""
    import xml.etree.ElementTree as ET
    exe = shutil.which("pdftotext")
    if exe is None:
        raise LibreOfficeError("pdftotext is not installed (poppler-utils)")
    html = subprocess.run([exe, "-bbox-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          check=True, capture_output=True, text=True, timeout=60).stdout
    root = ET.fromstring(html[html.index("<html"):])     # (without the DOCTYPE line)
    out = []
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] == "line":
            words = [w.text or "" for w in el if w.tag.rsplit("}", 1)[-1] == "word"]
            out.append((float(el.get("xMin")), float(el.get("yMin")), float(el.get("xMax")), float(el.get("yMax")),
                        " ".join(words)))
    return out


def overlapping_lines(lines: list[tuple[float, float, float, float, str]], slack: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of text lines whose boxes overlap by more than ``slack`` points both ways: text drawn over text."""
    bad = []
    for i, a in enumerate(lines):
        for b in lines[i + 1:]:
            dx = min(a[2], b[2]) - max(a[0], b[0])
            dy = min(a[3], b[3]) - max(a[1], b[1])
            if dx > slack and dy > slack:
                bad.append((a[4], b[4]))
    return bad


def pdf_page_pixels(pdf: Path, page: int = 1, dpi: int = 30, gray: bool = True) -> tuple[int, int, bytes]:
    """One page of a PDF as raw pixels (pdftoppm's PGM or PPM): (width, height, rows of bytes),
    one byte a pixel in grey, three (R, G, B) in colour."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise LibreOfficeError("pdftoppm is not installed (poppler-utils)")
    args = [exe, *(["-gray"] if gray else []), "-r", str(dpi), "-f", str(page), "-l", str(page), str(pdf)]
    data = subprocess.run(args, check=True, capture_output=True, timeout=120).stdout
    # P5|P6 <width> <height> <maxval> <one whitespace> <pixels>
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != (b"P5" if gray else b"P6") or int(fields[3]) != 255:
        raise LibreOfficeError(f"pdftoppm gave an unexpected image header {fields!r}")
    width, height = int(fields[1]), int(fields[2])
    size = width * height * (1 if gray else 3)
    return width, height, data[pos + 1:pos + 1 + size]


def pdf_page_gray(pdf: Path, page: int = 1, dpi: int = 30) -> tuple[int, int, bytes]:
    """One page of a PDF as 8-bit grey pixels: (width, height, rows of bytes)."""
    return pdf_page_pixels(pdf, page, dpi, gray=True)


def count_colour(pixels: bytes, rgb: str, tolerance: int = 8) -> int:
    """How many pixels of an RGB image (``pdf_page_pixels(gray=False)``) are within ``tolerance`` of
    the colour ``rgb`` ("#FFC7CE") in every channel."""
    want = [int(rgb[k:k + 2], 16) for k in (1, 3, 5)]
    lo = [max(0, w - tolerance) for w in want]
    hi = [min(255, w + tolerance) for w in want]
    near = [bytes(1 if lo[c] <= v <= hi[c] else 0 for v in range(256)) for c in range(3)]
    r, g, b = (pixels[c::3].translate(near[c]) for c in range(3))
    return sum(1 for x, y, z in zip(r, g, b) if x and y and z)


def ink_box(width: int, height: int, pixels: bytes, threshold: int = 200) -> tuple[int, int, int, int] | None:
    """The smallest box (left, top, right, bottom; inclusive) holding every pixel darker than ``threshold``."""
    mask = pixels.translate(bytes(1 if v < threshold else 0 for v in range(256)))
    left, right, top, bottom = width, -1, -1, -1
    for y in range(height):
        row = mask[y * width:(y + 1) * width]
        x0 = row.find(1)
        if x0 < 0:
            continue
        left, right = min(left, x0), max(right, row.rfind(1))
        top = y if top < 0 else top
        bottom = y
    return None if top < 0 else (left, top, right, bottom)


def render_pictures(out_dir: str | Path | None = None, lo: LibreOffice | None = None, dpi: int = 90,
                    roster: str | Path = SAMPLE_ROSTER) -> list[Path]:
    """Render the first page of every fill-in sheet of both forms' templates (first roster agency) to PNG.

    Writes template-2017.png and template-2021-sheet2/3/4.png into ``out_dir`` (docs/images by
    default) and returns their paths.
    """
    from toolkit.layout import layout_of
    from toolkit.roster import read_roster
    from toolkit.schema import load_form, resolve
    from toolkit.template import TemplateRequest, build_template

    out = Path(out_dir) if out_dir else REPO / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    agency = read_roster(roster)[0]
    own = lo is None
    lo = lo or LibreOffice()
    written: list[Path] = []
    try:
        with tempfile.TemporaryDirectory(prefix="toolkit-pictures-") as tmp:
            for form_id, pictures in (("gov-info-disclosure-2017", {0: "template-2017.png"}),
                                      ("gov-info-disclosure-2021", {0: "template-2021-sheet2.png",
                                                                    1: "template-2021-sheet3.png",
                                                                    2: "template-2021-sheet4.png"})):
                form = load_form(resolve(form_id))
                xlsx = Path(tmp) / f"{form_id}.xlsx"
                xlsx.write_bytes(build_template(form, TemplateRequest(agency=agency, password="")))
                sheets = [s.name for s in layout_of(form).sheets]
                ops: list[dict[str, Any]] = [{"op": "open", "path": str(xlsx)}, {"op": "calc"}]
                for i in pictures:
                    ops.append({"op": "pdf", "path": str(Path(tmp) / f"{form_id}-{i}.pdf"), "sheet": sheets[i]})
                ops.append({"op": "close"})
                lo.run(ops)
                for i, name in pictures.items():
                    written.append(pdf_page_png(Path(tmp) / f"{form_id}-{i}.pdf", out / name, 1, dpi))
    finally:
        if own:
            lo.close()
    return written


def sample_summary(path: str | Path) -> Path:
    """The summary workbook of the bundled sample returns (what ``toolkit merge workbooks/returns-2021
    --roster workbooks/sample-roster.csv -o path`` writes)."""
    from toolkit.consolidation import merge
    from toolkit.roster import read_roster
    from toolkit.summary import write_summary

    write_summary(merge([str(SAMPLE_RETURNS)], roster=read_roster(SAMPLE_ROSTER), jobs=1), path)
    return Path(path)


def render_summary_picture(out_dir: str | Path | None = None, lo: LibreOffice | None = None, dpi: int = 90,
                           summary: str | Path | None = None) -> Path:
    """The first page of the summary's 汇总· sheet of section 三 (the bundled sample returns) as summary-2021.png."""
    from toolkit.layout import layout_of
    from toolkit.schema import load_form, resolve
    from toolkit.summary import summary_sheet_name

    out = Path(out_dir) if out_dir else REPO / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    sheet = summary_sheet_name(layout_of(load_form(resolve("gov-info-disclosure-2021"))).sheets[1].name)
    own = lo is None
    lo = lo or LibreOffice()
    try:
        with tempfile.TemporaryDirectory(prefix="toolkit-pictures-") as tmp:
            xlsx = Path(summary) if summary else sample_summary(Path(tmp) / "summary-2021.xlsx")
            pdf = Path(tmp) / "summary-2021.pdf"
            lo.run([{"op": "open", "path": str(xlsx)}, {"op": "calc"}, {"op": "pdf", "path": str(pdf), "sheet": sheet},
                    {"op": "close"}])
            return pdf_page_png(pdf, out / "summary-2021.png", 1, dpi)
    finally:
        if own:
            lo.close()


# Figures that break rules of Form B in a filled template: three columns of section 三 do not balance.
CHECKS_PICTURE_BREAK = {"B3_new.np": 150, "B3_carry.biz": 4, "B3_next.law": 2, "B4.rv_keep": 3}


def render_checks_picture(out_dir: str | Path | None = None, lo: LibreOffice | None = None, dpi: int = 90,
                          roster: str | Path = SAMPLE_ROSTER) -> Path:
    """The first printed page of the 审核 sheet of a Form B template filled in with figures that break
    some rules (a sample agency's return, changed) as checks-2021.png."""
    import random
    from toolkit.roster import read_roster
    from toolkit.schema import load_form, resolve
    from toolkit.template import TemplateRequest, build_template
    sys.path.insert(0, str(REPO / "workbooks"))
    import make_samples  # the sample figures of the bundled returns

    out = Path(out_dir) if out_dir else REPO / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    form = load_form(resolve("gov-info-disclosure-2021"))
    agency = read_roster(roster)[0]
    values = {**make_samples.figures_2021(random.Random("checks-picture"), agency.group), **CHECKS_PICTURE_BREAK,
              "filler": "张伟", "phone": "0574-62345678", "fill_date": __import__("datetime").date(2024, 1, 15)}
    own = lo is None
    lo = lo or LibreOffice()
    try:
        with tempfile.TemporaryDirectory(prefix="toolkit-pictures-") as tmp:
            xlsx = Path(tmp) / "checks.xlsx"
            xlsx.write_bytes(build_template(form, TemplateRequest(agency=agency, password="", values=values)))
            pdf = Path(tmp) / "checks.pdf"
            lo.run([{"op": "open", "path": str(xlsx)}, {"op": "calc"}, {"op": "pdf", "path": str(pdf), "sheet": "审核"},
                    {"op": "close"}])
            return pdf_page_png(pdf, out / "checks-2021.png", 1, dpi)
    finally:
        if own:
            lo.close()


def render_summary_print_pictures(out_dir: str | Path | None = None, lo: LibreOffice | None = None, dpi: int = 90,
                                  summary: str | Path | None = None) -> list[Path]:
    """Printed pages of the sample summary: a 明细 page of figures (names repeated on it) as
    summary-2021-detail.png, and the first page of 问题清单 as summary-2021-issues.png."""
    out = Path(out_dir) if out_dir else REPO / "docs" / "images"
    out.mkdir(parents=True, exist_ok=True)
    own = lo is None
    lo = lo or LibreOffice()
    try:
        with tempfile.TemporaryDirectory(prefix="toolkit-pictures-") as tmp:
            xlsx = Path(summary) if summary else sample_summary(Path(tmp) / "summary-2021.xlsx")
            pdf = Path(tmp) / "summary.pdf"
            res = lo.run([{"op": "open", "path": str(xlsx)}, {"op": "calc"}, {"op": "pdf", "path": str(pdf)}, {"op": "close"}])
            first, starts = 1, {}
            for sheet, n in res[2]["pages"].items():
                starts[sheet] = first
                first += n
            return [pdf_page_png(pdf, out / "summary-2021-detail.png", starts["明细"] + 3, dpi),
                    pdf_page_png(pdf, out / "summary-2021-issues.png", starts["问题清单"], dpi)]
    finally:
        if own:
            lo.close()


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    with LibreOffice() as office:
        target = sys.argv[1] if len(sys.argv) > 1 else None
        for p in [*render_pictures(target, lo=office), render_summary_picture(target, lo=office),
                  render_checks_picture(target, lo=office), *render_summary_print_pictures(target, lo=office)]:
            print(p)
