"""``toolkit check`` on the command line: the three formats, both languages, exit codes, bad files.

Exit codes: 0 when every workbook is valid (warnings allowed), 1 when any is invalid or
rejected, 2 for a usage error. A folder of mixed good and hostile files gives exactly one
status line per file and never a traceback.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import filled as F
from toolkit.cli import main

TEXT_ISSUE_PREFIX = "  "
ROW_A = F.cell(F.form_a(), "A4_1").row + 1          # 1-based row of a label on Form A
ROW_B = F.cell(F.form_b(), "B3_r1.np").row + 1      # and on Form B's sheet 三


def run(*args: str):
    result = CliRunner().invoke(main, ["check", *map(str, args)], catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    out = {
        "a": F.filled_a(d / "good", "D07_科协.xlsx"),
        "b": F.filled_b(d / "good", "T01_县政府办.xlsx"),
        "warn": F.filled_a(d / "warn", "D08_warning.xlsx", A6="１２"),                  # valid, one warning
        "bad": F.filled_a(d / "bad", "D09_无.xlsx", A6="无", A9_3="12件"),             # invalid, two errors
    }
    out["tampered"] = F.insert_row(out["a"], "统计表", ROW_A, dst=d / "bad" / "D10_inserted.xlsx")
    out["plain"] = F.plain_workbook(d / "bad" / "handmade.xlsx")
    return out


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, files) -> tuple[Path, list[Path], list[Path]]:
    """A folder of returns as they arrive: good, warned, wrong, tampered and not workbooks at all."""
    d = tmp_path_factory.mktemp("mixed")
    good = [F.filled_a(d, "01_good_a.xlsx"), F.filled_b(d, "02_good_b.xlsx"),
            F.filled_a(d, "03_warning.xlsx", A6=" 12 ")]
    bad = [F.filled_a(d, "04_invalid.xlsx", A6="约10"),
           F.rename_sheet(good[0], "统计表", "Sheet1", dst=d / "05_renamed.xlsx"),
           F.plain_workbook(d / "06_plain.xlsx")]
    bad += list(F.junk_files(d / "junk").values())
    sub = d / "sub"
    sub.mkdir()
    bad.append(F.delete_row(good[1], "三、收到和处理申请情况", ROW_B, dst=sub / "07_deleted.xlsx"))
    # not workbooks by name: never listed
    (d / "readme.txt").write_text("回执说明")
    bad.append(d / "readme.txt")          # not read, and the report says so (nothing skipped in silence)
    (d / "~$01_good_a.xlsx").write_bytes(b"\x00" * 165)            # Excel's owner file while open
    (d / ".hidden").mkdir()
    F.filled_a(d / ".hidden", "ignored.xlsx")
    return d, good, bad


def status_lines(output: str, paths: list[Path]) -> dict[Path, list[str]]:
    lines = output.splitlines()
    return {p: [ln for ln in lines if ln.startswith(f"{p}: ")] for p in paths}


# ---------------------------------------------------------------------------- exit codes

def test_valid_files_exit_0(files):
    result = run(files["a"], files["b"])
    assert result.exit_code == 0, result.output
    assert "通过" in result.output


def test_warnings_still_exit_0(files):
    result = run(files["warn"], "--lang", "en")
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "1 warning(s)" in result.output


@pytest.mark.parametrize("which", ["bad", "tampered", "plain"])
def test_any_invalid_or_rejected_exits_1(files, which):
    result = run(files["a"], files[which])
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("args", [
    ["--format", "xml"],
    ["--lang", "fr"],
    ["--jobs", "0"],
])
def test_usage_errors_exit_2(files, args):
    result = run(*args, files["a"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_no_paths_is_a_usage_error():
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 2


def test_folder_without_workbooks_is_a_usage_error(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    result = run(tmp_path)
    assert result.exit_code == 2
    assert result.output == (f"错误：{tmp_path}：没有找到报表文件（.xlsx .xlsm .xls .ods）；"
                             f"未读取：{tmp_path / 'notes.txt'}：不是工作簿（.xlsx .xlsm .xls .ods），未读取\n")


def test_missing_file_is_rejected_not_a_crash(tmp_path):
    result = run(tmp_path / "nowhere.xlsx", "--lang", "en")
    assert result.exit_code == 1
    assert "rejected" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------------------- text

def test_text_report(files):
    result = run(files["a"], files["bad"], files["tampered"], "--jobs", "1")
    out = result.output
    lines = out.splitlines()
    assert lines[0].startswith(f"{files['a']}: 通过")
    bad_line = lines.index(next(ln for ln in lines if ln.startswith(f"{files['bad']}: ")))
    assert "有错误" in lines[bad_line] and "2 个错误" in lines[bad_line]
    problems = lines[bad_line + 1: bad_line + 3]
    form = F.form_a()
    assert all(p.startswith(TEXT_ISSUE_PREFIX) and "错误" in p for p in problems)
    assert F.cell(form, "A6").address in problems[0] and "无" in problems[0]
    assert F.cell(form, "A9_3").address in problems[1] and "12件" in problems[1]
    assert [ln for ln in lines if ln.startswith(f"{files['tampered']}: ")][0].startswith(f"{files['tampered']}: 拒收：")
    assert lines[-1] == "共 3 个文件：通过 1，有错误 1，拒收 1"


def test_text_report_in_english(files):
    result = run(files["warn"], files["bad"], files["plain"], "--lang", "en", "--jobs", "1")
    lines = result.output.splitlines()
    form = F.form_a()
    assert lines[0] == f"{files['warn']}: valid (D07 余姚市科学技术协会; 0 error(s), 1 warning(s))"
    assert lines[1].startswith("  warning  " + F.cell(form, "A6").address + "  ")
    assert "was read as 12" in lines[1]
    assert any(ln.startswith("  error  " + F.cell(form, "A6").address) and "expected a number, found '无'" in ln for ln in lines)
    assert f"{files['plain']}: rejected: not a template generated by toolkit" in lines
    assert lines[-1] == "3 file(s): 1 valid, 1 invalid, 1 rejected"
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in lines[-1])


# ---------------------------------------------------------------------------- json

def test_json_report_shape(files):
    result = run(files["a"], files["bad"], files["plain"], "--format", "json", "--jobs", "1")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert isinstance(doc, list) and len(doc) == 3
    good, bad, plain = doc
    for entry in doc:
        assert {"file", "sha256", "status", "schema", "agency", "values", "issues"} <= set(entry)
    assert good["file"] == str(files["a"])
    assert len(good["sha256"]) == 64 and good["sha256"] == hashlib.sha256(files["a"].read_bytes()).hexdigest()
    assert good["status"] == "valid"
    assert good["schema"] == {"id": F.FORM_A, "version": "1.0.0"}
    assert good["agency"] == {"code": "D07", "name": "余姚市科学技术协会"}
    assert good["values"]["A1_2_2"] == 639 and good["values"]["A8_4"] is None
    assert good["values"]["fill_date"] == "2018-03-29"
    assert good["issues"] == []

    assert bad["status"] == "invalid"
    assert bad["values"]["A6"] is None
    issue = bad["issues"][0]
    assert {"severity", "rule", "code", "cell", "message"} <= set(issue)
    assert issue["severity"] == "error" and issue["code"] == "A6" and issue["rule"] is None
    assert issue["cell"] == F.cell(F.form_a(), "A6").address
    assert "无" in issue["message"]

    assert plain["status"] == "rejected"
    assert plain["values"] == {} and plain["issues"] == []
    assert plain.get("reason")


def test_json_rule_issue_names_the_rule(tmp_path):
    path = F.filled_b(tmp_path, "unbalanced.xlsx", **{"B3_new.np": 5})
    doc = json.loads(run(path, "--format", "json", "--lang", "en").output)
    (entry,) = doc
    rules = {i["rule"]: i for i in entry["issues"]}
    assert set(rules) == {"t3-balance[np]", "t3-balance[total]"}
    i = rules["t3-balance[np]"]
    assert (i["severity"], i["code"]) == ("error", "B3_new.np")
    assert i["cell"] == F.cell(F.form_b(), "B3_new.np").address
    assert i["message"].startswith("自然人: received this year")


def test_json_in_english(files):
    doc = json.loads(run(files["bad"], files["plain"], "--format", "json", "--lang", "en", "--jobs", "1").output)
    assert doc[0]["issues"][0]["message"].endswith("leave it blank if there is nothing to report")
    assert doc[1]["reason"] == "not a template generated by toolkit"


# ---------------------------------------------------------------------------- csv

def test_csv_report(files):
    result = run(files["a"], files["bad"], files["tampered"], "--format", "csv", "--jobs", "1")
    raw = result.stdout_bytes if hasattr(result, "stdout_bytes") else result.output.encode("utf-8")
    assert raw.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["文件", "单位代码", "单位名称", "状态", "级别", "位置", "规则", "指标", "说明"]
    body = rows[1:]
    assert all(len(r) == 9 for r in body)
    # one row per issue; the valid file has none; the rejected file one row with its reason
    assert [r[0] for r in body].count(str(files["a"])) == 0
    bad_rows = [r for r in body if r[0] == str(files["bad"])]
    assert len(bad_rows) == 2
    assert {r[5] for r in bad_rows} == {F.cell(F.form_a(), c).address for c in ("A6", "A9_3")}
    assert all(r[3] == "有错误" and r[4] == "错误" and r[1] == "D07" for r in bad_rows)
    tampered = [r for r in body if r[0] == str(files["tampered"])]
    assert len(tampered) == 1 and tampered[0][3] == "拒收" and f"第 {ROW_A} 行" in tampered[0][8]


def test_csv_in_english(files):
    result = run(files["warn"], "--format", "csv", "--lang", "en")
    rows = list(csv.DictReader(io.StringIO(result.output.lstrip("\ufeff"))))
    assert list(rows[0]) == ["file", "agency_code", "agency_name", "status", "severity", "cell", "rule", "code", "message"]
    (row,) = rows
    assert (row["status"], row["severity"], row["code"]) == ("valid", "warning", "A6")
    assert "was read as 12" in row["message"]


# ---------------------------------------------------------------------------- --output

@pytest.mark.parametrize("fmt", ["text", "json", "csv"])
def test_output_writes_the_file(files, tmp_path, fmt):
    target = tmp_path / f"报告.{'txt' if fmt == 'text' else fmt}"
    result = run(files["a"], files["bad"], "--format", fmt, "--output", target, "--jobs", "1")
    assert result.exit_code == 1
    # the report goes to the file; the screen gets the one closing line, naming the file
    assert result.output == f"{target}: 共 2 个文件：通过 1，有错误 1，拒收 0\n"
    data = target.read_bytes()
    if fmt == "json":
        assert [e["status"] for e in json.loads(data)] == ["valid", "invalid"]
    elif fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")
        assert len(list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))) == 3
    else:
        assert data.decode("utf-8").splitlines()[-1] == "共 2 个文件：通过 1，有错误 1，拒收 0"
    assert not list(tmp_path.glob("*.tmp*")), "no temporary file left behind"


# ---------------------------------------------------------------------------- a folder of everything

@pytest.mark.parametrize("jobs", ["1", "3"])
def test_mixed_folder_one_line_per_file(mixed, jobs):
    d, good, bad = mixed
    result = run(d, "--lang", "en", "--jobs", jobs)
    out = result.output
    assert "Traceback" not in out
    assert result.exit_code == 1
    lines = status_lines(out, good + bad)
    for p, found in lines.items():
        assert len(found) == 1, (p, found)
    for p in good:
        assert ": valid (" in lines[p][0]
    for p in bad:
        assert ": invalid (" in lines[p][0] or ": rejected: " in lines[p][0], lines[p][0]
    status = [ln for ln in out.splitlines() if not ln.startswith("  ")][:-2]
    assert out.splitlines()[-2] == "period collected: gov-info-disclosure-2017 2017; gov-info-disclosure-2021 2023"
    assert len(status) == len(good) + len(bad)
    assert "~$" not in out and "ignored.xlsx" not in out
    assert "readme.txt: rejected: not a workbook (.xlsx .xlsm .xls .ods); not read" in out
    assert out.splitlines()[-1] == f"{len(good) + len(bad)} file(s): {len(good)} valid, 1 invalid, {len(bad) - 1} rejected"


def test_mixed_folder_reasons(mixed):
    d, good, bad = mixed
    out = run(d, "--lang", "en").output
    lines = {Path(ln.split(": ", 1)[0]).name: ln for ln in out.splitlines() if not ln.startswith("  ") and ": " in ln}
    assert "the file is empty (0 bytes)" in lines["empty.xlsx"]
    assert "not an Excel workbook" in lines["random.xlsx"]
    assert "CSV" in lines["renamed_csv.xlsx"]
    assert "PDF" in lines["scan.xlsx"]
    assert "folder" in lines["x.xlsx"]
    assert "damaged or truncated" in lines["truncated.xlsx"]
    assert "'统计表' is missing" in lines["05_renamed.xlsx"] and "Sheet1" in lines["05_renamed.xlsx"]
    assert "not a template generated by toolkit" in lines["06_plain.xlsx"]
    assert f"row {ROW_B}" in lines["07_deleted.xlsx"]


def test_mixed_folder_in_json(mixed):
    d, good, bad = mixed
    doc = json.loads(run(d, "--format", "json").output)
    assert sorted(e["file"] for e in doc) == sorted(str(p) for p in good + bad)
    assert all(e["status"] in ("valid", "invalid", "rejected") for e in doc)
    assert all(e["reason"] for e in doc if e["status"] == "rejected")


@pytest.mark.slow          # a real `toolkit check` process; the other tests here run the same command in process
def test_real_process_never_prints_a_traceback(mixed):
    """The installed command, as a clerk's office runs it (stderr included)."""
    d, good, bad = mixed
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([sys.executable, "-m", "toolkit", "check", str(d)], capture_output=True, text=True,
                          encoding="utf-8", env=env, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == ""
    assert proc.stdout.splitlines()[-1].startswith(f"共 {len(good) + len(bad)} 个文件")


def test_output_into_a_missing_folder_creates_it(files, tmp_path):
    target = tmp_path / "no" / "such" / "r.txt"
    result = CliRunner().invoke(main, ["check", str(files["a"]), "--output", str(target)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert target.exists() and target.read_text(encoding="utf-8").strip()


def test_output_that_cannot_be_written_is_one_line(files, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = CliRunner().invoke(main, ["check", str(files["a"]), "--output", str(blocker / "r.txt")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a handled error, not a crash
    assert "Traceback" not in result.output
