"""Nothing lost, round two (issue 11): outputs never land on inputs, nothing skipped in silence,
one verdict whatever --jobs, foreign files rejected by name, safe text, secrets and modes.

The hostile folder is made of real files (returns written by the toolkit's own writer, a .zip of
returns, a WPS .et, links that loop, folders nested too deep, a path too long, a FIFO), as in
tests/corpus; the merge over it must keep every good file's totals and list every other path.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import filled as F
from corpus.make_corpus import toolkit_env
from toolkit.cli import main
from toolkit.sheets import IDENTITY_SHEET
from toolkit.registry import Registry
from toolkit.roster import Agency
from toolkit.runner import check_many
from toolkit.samples import as_inputs, header_values, random_figures
from toolkit.template import MANIFEST_NAME, TemplateRequest, build_template, write_manifest, ManifestRow
from toolkit.validate import check_file

ROSTER = Path(__file__).resolve().parent.parent / "workbooks" / "sample-roster.csv"


def run(*args: object, env: dict | None = None):
    return CliRunner().invoke(main, [*map(str, args)], env={"TOOLKIT_LANG": "en", **(env or {})})


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def good_return(folder: Path, i: int, name: str | None = None) -> tuple[Path, dict]:
    form = F.form_a()
    values = {**as_inputs(form, random_figures(form, seed=f"nl2-{i}")), **header_values(form, seed=i)}
    agency = Agency(code=f"N{i:02d}", name=f"好单位{i:02d}", group="N")
    return F.write(folder, name or f"N{i:02d}.xlsx", form, values, agency=agency), values


# ============================================================================ outputs never land on inputs

@pytest.fixture()
def returns(tmp_path) -> Path:
    d = tmp_path / "returns"
    for i in range(3):
        good_return(d, i)
    return d


@pytest.mark.parametrize("args", [
    ["merge", "{d}", "-o", "{d}/N01.xlsx"],
    ["merge", "{d}", "-o", "{t}/s.xlsx", "--json", "{d}/N00.xlsx"],
    ["merge", "{d}", "-o", "{t}/s.xlsx", "--csv", "{t}/s.xlsx"],
    ["merge", "{d}", "-o", "{t}/s.xlsx", "--csv", "{roster}", "--roster", "{roster}"],
    ["check", "{d}", "-o", "{d}/N02.xlsx"],
    ["check", "{d}/N02.xlsx", "-o", "{link}"],
])
def test_an_output_naming_an_input_is_refused_before_any_work(returns, tmp_path, args):
    roster = tmp_path / "roster.csv"
    roster.write_bytes(ROSTER.read_bytes())
    link = tmp_path / "link.xlsx"
    link.symlink_to(returns / "N02.xlsx")
    before = {p: sha(p) for p in [*returns.iterdir(), roster]}
    argv = [a.format(d=returns, t=tmp_path, roster=roster, link=link) for a in args]
    result = run(*argv, env={"TOOLKIT_LANG": "zh"})
    assert result.exit_code == 1, result.output
    err = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("错误：") and "拒绝执行" in err[0], result.output
    assert {p: sha(p) for p in before} == before
    assert not (tmp_path / "s.xlsx").exists()


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_a_summary_inside_the_folder_it_summarises_is_not_a_clash(returns):
    for _ in range(2):
        result = run("merge", returns, "-o", returns / "summary.xlsx")
        assert result.exit_code == 0, result.output
        assert "3 of 3 workbook(s) in the totals" in result.output


def test_template_into_a_folder_of_returns_is_refused(returns, tmp_path):
    before = {p: sha(p) for p in returns.iterdir()}
    result = run("template", F.FORM_A, "-o", returns, "--roster", ROSTER, env={"TOOLKIT_LANG": "zh"})
    assert result.exit_code == 1 and "不是本工具模板的工作簿" in result.output
    assert {p: sha(p) for p in returns.iterdir()} == before
    # a roster that the manifest would replace
    d = tmp_path / "t"
    d.mkdir()
    (d / MANIFEST_NAME).write_bytes(ROSTER.read_bytes())
    result = run("template", F.FORM_A, "-o", d, "--roster", d / MANIFEST_NAME, env={"TOOLKIT_LANG": "zh"})
    assert result.exit_code == 1 and "名单文件" in result.output


# ============================================================================ nothing skipped in silence

def _nest(base: Path, name: str, depth: int) -> None:
    """``depth`` folders named ``name``, one inside the other, and a workbook-named file at the
    bottom: made relative to a descriptor, so the full path may exceed PATH_MAX."""
    fd = os.open(base, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        with open(os.open("lost.xlsx", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as fh:
            fh.write(b"PK")
    finally:
        os.close(fd)


def _unnest(base: Path, name: str, depth: int) -> None:
    """Remove what :func:`_nest` made, bottom up and without recursion (shutil.rmtree, and pytest's
    own clean-up of old temporary folders, recurse once per level and fail 1,200 deep)."""
    fds = [os.open(base, os.O_RDONLY)]
    try:
        for _ in range(depth):
            fds.append(os.open(name, os.O_RDONLY, dir_fd=fds[-1]))
        os.unlink("lost.xlsx", dir_fd=fds[-1])
        while len(fds) > 1:
            os.close(fds.pop())
            os.rmdir(name, dir_fd=fds[-1])
    finally:
        for fd in fds:
            os.close(fd)


def _make_long_path(base: Path) -> None:
    """Folders whose full path is longer than PATH_MAX (4096 bytes), shallower than MAX_DEPTH."""
    _nest(base, "长" * 60, 24)                # 24 × 181 bytes


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Iterator[tuple[Path, list[dict], dict[str, str]]]:
    """Good returns among every way a path can fail to be read. Returns (folder, good figures,
    {path fragment: reason fragment} for every path that must be listed as not read)."""
    d = tmp_path_factory.mktemp("hostile")
    figures = []
    for i in range(3):
        _, v = good_return(d, i)
        figures.append(v)
    scratch = tmp_path_factory.mktemp("scratch")
    inner = []
    for i in (3, 4):
        p, v = good_return(scratch, i)
        inner.append(p)
        figures.append(v)
    with zipfile.ZipFile(d / "returns.zip", "w") as zf:
        for p in inner:
            zf.write(p, f"sent/{p.name}")
        zf.writestr("说明.txt", "附件")
    et = d / "wps.et"
    et.write_bytes((d / "N00.xlsx").read_bytes())
    (d / "loop").symlink_to(".")
    (d / "self.xlsx").symlink_to("self.xlsx")
    (d / "deep").mkdir()
    _nest(d / "deep", "d", 1200)                     # os.makedirs itself recurses that deep
    _make_long_path(d)
    os.mkfifo(d / "pipe.xlsx")
    (d / "readme.txt").write_text("回执")
    expect = {"returns.zip!说明.txt": "not a workbook", "wps.et": "save it as an Excel workbook (.xlsx)",
              "loop": "a loop", "self.xlsx": "", "deep/": "nested more than 64 deep", "长长长": "too long",
              "pipe.xlsx": "not a regular file", "readme.txt": "not a workbook"}
    yield d, figures, expect
    _unnest(d / "deep", "d", 1200)
    _unnest(d, "长" * 60, 24)


@pytest.mark.slow          # a real `toolkit merge` process over every way a path can fail
def test_merge_of_the_hostile_folder_keeps_every_good_total_and_lists_every_other_path(hostile, tmp_path):
    d, figures, expect = hostile
    proc = subprocess.run([sys.executable, "-m", "toolkit", "merge", str(d), "-o", str(tmp_path / "s.xlsx"),
                           "--json", str(tmp_path / "t.json"), "--jobs", "1"],
                          capture_output=True, text=True, timeout=600, env=toolkit_env(TOOLKIT_LANG="en"))
    assert "Traceback" not in proc.stdout + proc.stderr and "RecursionError" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    used = [a for a in doc["agencies"] if a["used"]]
    assert sorted(a["code"] for a in used) == [f"N{i:02d}" for i in range(5)]
    zipped = [a["file"] for a in used if "returns.zip!" in a["file"]]
    assert sorted(Path(f).name for f in zipped) == ["N03.xlsx", "N04.xlsx"] and all("returns.zip!sent/" in f for f in zipped)
    form = F.form_a()
    for ind in form.inputs:
        if ind.spec.numeric and ind.code not in form.computed:
            want = sum(v.get(ind.code) or 0 for v in figures)
            assert doc["totals"][ind.code] == pytest.approx(want), ind.code
    notes = {a["file"]: a["note"] for a in doc["agencies"] if a["status"] == "rejected"}
    for fragment, reason in expect.items():
        hits = [f for f in notes if fragment in f]
        assert hits, f"{fragment} is not listed: {sorted(notes)}"
    en = run("check", d, "--lang", "en", "--jobs", "2").output
    for fragment, reason in expect.items():
        lines = [ln for ln in en.splitlines() if fragment in ln and ": rejected: " in ln]
        assert lines and reason in lines[0], (fragment, lines)


@pytest.mark.slow          # a real `toolkit merge` process (an in-process read of a FIFO could hang the run)
def test_a_fifo_roster_is_refused_not_waited_for(returns, tmp_path):
    fifo = tmp_path / "roster.csv"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "toolkit", "merge", str(returns), "-o", str(tmp_path / "s.xlsx"),
                           "--roster", str(fifo)], capture_output=True, text=True, timeout=60, env=toolkit_env(TOOLKIT_LANG="en"))
    assert proc.returncode == 1 and "not a regular file" in proc.stderr
    assert "Traceback" not in proc.stderr


# ============================================================================ one verdict whatever --jobs

def _where_read(path, registry):
    """Stands in for check_file: says which process read the file, under which limits."""
    import resource
    import signal
    from toolkit.validate import Result
    r = Result(file=str(path))
    r.reason_en = json.dumps({"pid": os.getpid(), "memory": resource.getrlimit(resource.RLIMIT_AS)[0],
                              "timer": signal.getitimer(signal.ITIMER_REAL)[0]})
    return r


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("count", [1, 2, 3])
def test_every_read_is_isolated_under_the_limits_whatever_jobs(returns, monkeypatch, jobs, count):
    """With --jobs 1 and two or three files, reading used to happen in the main process, without
    the memory ceiling or the time limit: a file refused in a worker was read (and called valid)
    there. Now every read is in a worker, under both limits, whatever --jobs and the count."""
    import toolkit.runner as runner

    monkeypatch.setattr(runner, "check_file", _where_read)     # workers are forked: they run this
    files = sorted(returns.glob("*.xlsx"))[:count]
    for r in check_many(files, Registry(), jobs=jobs):
        seen = json.loads(r.reason_en)
        assert seen["pid"] != os.getpid()
        assert seen["memory"] == runner.MEMORY_LIMIT
        assert 0 < seen["timer"] <= runner.TIME_LIMIT


def _dies_on_crash(path, registry):
    """Stands in for check_file: the worker dies on a file named crash*, as a native abort would
    kill it; otherwise says which process read the file."""
    from toolkit.validate import Result
    if Path(path).name.startswith("crash"):
        os._exit(134)
    r = Result(file=str(path), status="valid")
    r.reason_en = str(os.getpid())
    return r


def test_after_a_worker_dies_the_files_still_waiting_are_read_in_parallel_again(tmp_path, monkeypatch):
    """Only the files that can have been in the dead worker's hands are re-read one at a time (to
    name the culprit); the rest of a large batch goes back to a pool of --jobs workers."""
    import toolkit.runner as runner

    monkeypatch.setattr(runner, "check_file", _dies_on_crash)
    files = []
    for i in range(400):
        p = tmp_path / (f"crash{i:03d}.xlsx" if i == 5 else f"f{i:03d}.xlsx")
        p.write_bytes(b"x")
        files.append(p)
    results = check_many(files, Registry(), jobs=2)
    assert [Path(r.file).name for r in results] == [p.name for p in files]
    assert results[5].status == "rejected" and "crashed" in results[5].reason_en
    assert all(r.status == "valid" for i, r in enumerate(results) if i != 5)
    # the chunks handed out before the crash: at most 2 × jobs + 1 of 16 files; after them, the
    # files are read by two workers again, not one
    late = {r.reason_en for r in results[5 * 16 + 16:]}
    assert len(late) >= 2, late


@pytest.mark.parametrize("prefix", ["x", "other"])
def test_cells_with_a_namespace_prefix_count_in_the_sheets_bounds(tmp_path, monkeypatch, prefix):
    """python-calamine knows a cell by its local name: rows and cells written <x:row><x:c> without
    references extend a sheet as much as plain ones. The bound counts them as the parser does."""
    import toolkit.package as package
    from python_calamine import CalamineWorkbook

    path, _ = good_return(tmp_path, 1)
    member = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main" if prefix == "x" else "urn:example:other"
    data = parts[member].replace(b"<worksheet ", f'<worksheet xmlns:{prefix}="{ns}" '.encode(), 1)
    cell = f"<{prefix}:c><{prefix}:v>7</{prefix}:v></{prefix}:c>".encode()
    rows = f"<{prefix}:row>".encode() + cell * 60 + f"</{prefix}:row>".encode()
    parts[member] = data.replace(b"</sheetData>", rows * 40 + b"</sheetData>", 1)
    bad = tmp_path / "prefixed.xlsx"
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in parts.items():
            z.writestr(name, content)
    sheet = CalamineWorkbook.from_path(str(bad)).get_sheet_by_name(F.form_a().tables[0].sheet)
    assert sheet.width >= 60 and sheet.height >= 40            # the parser does extend the sheet
    monkeypatch.setattr(package, "MAX_USED_CELLS", 60 * 40 - 1)
    with pytest.raises(package.Rejected) as e:
        package.inspect_file(bad)
    assert "enormous used range" in e.value.en
    package.inspect_file(path)                                  # the return it was made from passes


# ============================================================================ foreign files

def test_a_file_of_an_unknown_form_is_a_rejected_return_named(returns, tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    for p in returns.glob("*.xlsx"):
        (d / p.name).write_bytes(p.read_bytes())
    F.set_identity(d / "N00.xlsx", "schema_id", "someone-elses-form", dst=d / "foreign.xlsx")
    result = run("merge", d, "-o", tmp_path / "s.xlsx", "--json", tmp_path / "t.json")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    foreign = [a for a in doc["agencies"] if a["file"].endswith("foreign.xlsx")]
    assert len(foreign) == 1 and foreign[0]["status"] == "rejected" and "someone-elses-form" in foreign[0]["note"]
    assert len([a for a in doc["agencies"] if a["used"]]) == 3


# ============================================================================ safe text, secrets and modes

def test_terminal_escapes_in_a_cell_reach_the_report_escaped(tmp_path):
    path = F.filled_a(tmp_path, "esc.xlsx", A6="\x1b[2K\x1b[8m12")
    out = run("check", path, "--lang", "en").output
    assert "\x1b" not in out and "\\x1b[2K" in out


@pytest.mark.slow  # slow: a whole command end to end (over 0.3 s); the quick run keeps the unit-sized tests
def test_password_from_the_environment_or_a_file_and_only_a_generated_one_in_the_manifest(tmp_path):
    def manifest(d: Path) -> list[dict]:
        return list(csv.DictReader(io.StringIO((d / MANIFEST_NAME).read_text(encoding="utf-8-sig"))))

    a = tmp_path / "a"
    assert run("template", F.FORM_A, "-o", a, env={"TOOLKIT_PASSWORD": "env-secret"}).exit_code == 0
    assert manifest(a)[0]["password"] == ""
    tpl = next(a.glob("*.xlsx"))
    assert check_file(tpl).status in ("valid", "invalid")
    pw = tmp_path / "pw.txt"
    pw.write_text("file-secret\n", encoding="utf-8")
    b = tmp_path / "b"
    assert run("template", F.FORM_A, "-o", b, "--password-file", pw).exit_code == 0
    assert manifest(b)[0]["password"] == ""
    c = tmp_path / "c"
    assert run("template", F.FORM_A, "-o", c).exit_code == 0
    generated = manifest(c)[0]["password"]
    assert len(generated) >= 8
    assert run("template", F.FORM_A, "-o", c).exit_code == 0          # again, into the same folder
    assert manifest(c)[0]["password"] == generated


def test_manifest_file_column_is_neutralised(tmp_path):
    write_manifest(tmp_path / "m.csv", [ManifestRow(agency_code="D1", agency_name="n", agency_group="g",
                                                    file="=HYPERLINK(1).xlsx", sha256="0", template_id="t")], "pw", True)
    row = next(csv.DictReader(io.StringIO((tmp_path / "m.csv").read_text(encoding="utf-8-sig"))))
    assert row["file"] == "'=HYPERLINK(1).xlsx"


def test_outputs_get_the_umask_mode_and_a_replaced_file_keeps_its_mode(returns, tmp_path):
    old = os.umask(0o027)
    try:
        assert run("merge", returns, "-o", tmp_path / "s.xlsx", "--csv", tmp_path / "d.csv").exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "s.xlsx").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "d.csv").st_mode) == 0o640
    os.chmod(tmp_path / "s.xlsx", 0o604)
    assert run("merge", returns, "-o", tmp_path / "s.xlsx").exit_code == 0
    assert stat.S_IMODE(os.stat(tmp_path / "s.xlsx").st_mode) == 0o604


# ============================================================================ identity

def test_manifest_verifies_the_agency_a_template_was_issued_to(tmp_path):
    form = F.form_a()
    genuine_agency = Agency(code="M01", name="真单位", group="M")
    other = Agency(code="M02", name="另一单位", group="M")
    d = tmp_path / "in"
    d.mkdir()
    values = {**as_inputs(form, random_figures(form, seed="m")), **header_values(form, seed=1)}

    def write(name: str, agency: Agency, tid: str) -> Path:
        p = d / name
        p.write_bytes(build_template(form, TemplateRequest(agency=agency, password="x", template_id=tid, values=values)))
        return p

    write("genuine.xlsx", genuine_agency, "a" * 32)
    write("other.xlsx", other, "b" * 32)
    # a return whose identity says M02 throughout, made from the template issued to M01
    write("forged.xlsx", other, "a" * 32)
    write("unissued.xlsx", other, "c" * 32)
    m = tmp_path / "manifest.csv"
    write_manifest(m, [ManifestRow("M01", "真单位", "M", "M01.xlsx", "0", "a" * 32),
                       ManifestRow("M02", "另一单位", "M", "M02.xlsx", "0", "b" * 32)], "", False)
    out = run("check", d, "--manifest", m, "--lang", "en").output
    lines = {Path(ln.split(": ", 1)[0]).name: ln for ln in out.splitlines() if not ln.startswith(" ") and ": " in ln}
    assert ": valid (" in lines["genuine.xlsx"] and ": valid (" in lines["other.xlsx"]
    assert "issued to M01 but claims to be M02" in lines["forged.xlsx"]
    assert "is not in the manifest" in lines["unissued.xlsx"]
    result = run("merge", d, "--manifest", m, "-o", tmp_path / "s.xlsx", "--json", tmp_path / "t.json")
    doc = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    used = {a["code"]: Path(a["file"]).name for a in doc["agencies"] if a["used"]}
    assert used == {"M01": "genuine.xlsx", "M02": "other.xlsx"}, result.output


def test_a_removed_identity_sheet_is_a_warning_that_says_so(tmp_path):
    src = F.filled_a(tmp_path)

    def drop(data: bytes) -> bytes:
        import re
        out, n = re.subn(rb'<sheet name="' + IDENTITY_SHEET.encode() + rb'"[^>]*/>', b"", data)
        assert n == 1
        return out
    path = F.rewrite_part(src, "xl/workbook.xml", drop, tmp_path / "no_id_sheet.xlsx")
    r = check_file(path)
    assert r.status == "valid"
    assert [i.kind for i in r.issues] == ["identity_sheet_missing"]
    assert "identity sheet was removed" in r.issues[0].message("en")
