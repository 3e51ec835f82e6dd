"""Every command speaks Chinese by default and English with ``--lang en`` (or TOOLKIT_LANG, or an
English locale): final lines, errors, progress and help."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

import filled as F
from toolkit.cli import default_lang, main
from toolkit.progress import Progress

ROOT = Path(__file__).resolve().parent.parent
ROSTER = ROOT / "workbooks" / "sample-roster.csv"
RETURNS = ROOT / "workbooks" / "returns-2021"
CLEAN_ENV = {"TOOLKIT_LANG": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "", "LANGUAGE": ""}


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner(env={**CLEAN_ENV, **(env or {})}).invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("env, lang", [
    ({}, "zh"), ({"LANG": "C.UTF-8"}, "zh"), ({"LANG": "en_US.UTF-8"}, "en"), ({"LANG": "zh_CN.UTF-8"}, "zh"),
    ({"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"), ({"LANG": "de_DE.UTF-8"}, "zh"),
    ({"LANG": "en_US.UTF-8", "TOOLKIT_LANG": "zh"}, "zh"), ({"TOOLKIT_LANG": "en"}, "en"),
])
def test_language_comes_from_the_environment(monkeypatch, env, lang):
    for k, v in {**CLEAN_ENV, **env}.items():
        monkeypatch.setenv(k, v)
    assert default_lang() == lang


@pytest.fixture(scope="module")
def returns(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("returns")
    F.filled_a(d, "good.xlsx")
    F.filled_a(d, "bad.xlsx", A6="无")
    return d


def test_check_in_both_languages(returns):
    zh = run("check", returns, "--jobs", "1")
    en = run("--lang", "en", "check", returns, "--jobs", "1")
    assert zh.exit_code == en.exit_code == 1
    assert zh.output.splitlines()[-1] == "共 2 个文件：通过 1，有错误 1，拒收 0"
    assert en.output.splitlines()[-1] == "2 file(s): 1 valid, 1 invalid, 0 rejected"
    assert "应填数字" in zh.output and "expected a number" in en.output
    # the command's own --lang still works and wins
    assert run("--lang", "zh", "check", returns, "--lang", "en", "--jobs", "1").output == en.output


@pytest.mark.slow  # slow: over a second of whole-roster work; the quick run keeps smaller tests of the same command
def test_merge_final_line_in_both_languages(tmp_path):
    args = ("merge", RETURNS, "--roster", ROSTER, "--jobs", "2")
    zh = run(*args, "-o", tmp_path / "zh.xlsx")
    en = run("--lang", "en", *args, "-o", tmp_path / "en.xlsx")
    assert zh.exit_code == en.exit_code == 0, zh.output
    assert "份计入合计" in zh.output and "未报送 14" in zh.output
    assert "in the totals" in en.output and "14 missing" in en.output


def test_template_final_line_in_both_languages(tmp_path):
    zh = run("template", F.FORM_A, "-o", tmp_path / "zh")
    en = run("template", F.FORM_A, "-o", tmp_path / "en", env={"LANG": "en_US.UTF-8"})
    assert zh.exit_code == en.exit_code == 0, zh.output
    assert zh.output.startswith("已生成 1 份") and "自动生成的密码" in zh.output
    assert en.output.startswith("wrote 1 template(s)") and "generated password" in en.output


def test_schema_commands_in_both_languages():
    assert "：可用 — gov-info-disclosure-2021" in run("schema", "check", F.FORM_B).output
    assert ": ok — gov-info-disclosure-2021" in run("--lang", "en", "schema", "check", F.FORM_B).output
    listing = run("schema", "list").output.splitlines()
    assert [line.split("\t")[0] for line in listing] == ["gov-info-disclosure-2017", "gov-info-disclosure-2021"]


@pytest.mark.parametrize("args, zh, en", [
    (("merge", RETURNS, "-o", "summary.csv"), "文件名应以 .xlsx 结尾", "the name should end in .xlsx"),
    (("merge", RETURNS, "-o", "s.xlsx", "--json", "t.csv"), "文件名应以 .json 结尾", "the name should end in .json"),
    (("check", RETURNS, "--format", "json", "-o", "r.csv"), "文件名应以 .json 结尾", "the name should end in .json"),
    (("merge", RETURNS, "-o", "s.xlsx", "--roster", "no-such-roster.csv"), "无法读取该文件", "cannot read the file"),
    (("template", "no-such-form", "-o", "out"), "no shipped form with that id", "no shipped form with that id"),
])
def test_errors_are_one_line_in_both_languages(tmp_path, monkeypatch, args, zh, en):
    monkeypatch.chdir(tmp_path)
    for lang, expected in (("zh", zh), ("en", en)):
        r = run("--lang", lang, *args)
        assert r.exit_code == 1, r.output
        assert len(r.output.splitlines()) == 1 and expected in r.output, r.output
        assert r.output.startswith("错误：" if lang == "zh" else "error: ")
    assert not list(tmp_path.iterdir()), "nothing is written when an output is refused"


def test_help_is_whole():
    out = run("--help").output
    for line in ("审核回收的报表 / check returned workbooks.", "汇总回收的报表 / merge into a summary.",
                 "生成锁定的填报模板 / generate templates."):
        assert line in out
    assert "..." not in out.split("\n", 1)[1]          # (the usage line ends in ARGS]...)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_count_rate_and_time_left():
    term = FakeTerminal()
    with Progress(4, "审核", term, "zh", min_interval=0) as bar:
        bar.advance()
        assert "审核 1/4（25%）" in term.getvalue()
        assert "个/秒" in term.getvalue() and "剩余" in term.getvalue()
        bar.advance(object())        # a Result-like argument counts as one
        bar.advance(2)
    assert "审核 4/4（100%）" in term.getvalue()
    assert term.getvalue().endswith("\r")          # the line is cleared at the end
    pipe = io.StringIO()
    with Progress(4, "checking", pipe, "en") as bar:
        bar.advance(4)
    assert pipe.getvalue() == ""                    # nothing drawn into a pipe or a log file
