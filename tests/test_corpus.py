"""The corpus of hostile and broken workbooks (tests/corpus/make_corpus.py), checked case by case.

Every case must come out with its expected status and a one-line message containing its
fragment, quickly; the heavy ones (bombs, enormous ranges, thousands of sheets) are checked in a
fresh, memory-limited process whose peak memory is measured. Then the corpus as a whole:
``toolkit check`` on the folder gives one result line per file and no traceback, and a merge of
the corpus with good files adds up the good files exactly and lists every bad one once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import filled as F
from corpus.make_corpus import CASES, Case, make_corpus, measure, toolkit_env
from official_figures import SEED_2017
from toolkit.consolidation import merge
from toolkit.registry import Registry
from toolkit.roster import Agency
from toolkit.runner import check_many
from toolkit.samples import as_inputs, header_values, random_figures
from toolkit.validate import Result, check_file, iter_workbooks

SECONDS_PER_CASE = 3.0          # in process, a normal case takes ~10 ms
HEAVY_SECONDS = 5.0
HEAVY_PEAK_MB = 400             # whole process, interpreter and imports (~30 MB) included
HEAVY_MEMORY_LIMIT = 1 << 30    # address space of the measuring process
GOOD_FILES = 8

BY_NAME = {c.name: c for c in CASES}


@pytest.fixture(scope="session")
def light_corpus(tmp_path_factory) -> dict[str, Path]:
    """The cases that are not heavy (all test_case needs: the quick run makes no bomb)."""
    return make_corpus(tmp_path_factory.mktemp("corpus") / "corpus", [c.name for c in CASES if not c.heavy])


@pytest.fixture(scope="session")
def corpus(light_corpus) -> dict[str, Path]:
    """Every case, in one folder: the heavy ones are added beside the light ones already made."""
    folder = next(iter(light_corpus.values())).parent
    paths = {**light_corpus, **make_corpus(folder, [c.name for c in CASES if c.heavy])}
    return {c.name: paths[c.name] for c in CASES}       # in the order of CASES, as make_corpus gives it


@pytest.fixture(scope="session")
def registry() -> Registry:
    return Registry()


@pytest.fixture(scope="session")
def good(tmp_path_factory) -> tuple[Path, list[dict]]:
    """Good Form A returns with varied figures, each from its own agency."""
    folder = tmp_path_factory.mktemp("good")
    form = F.form_a()
    figures = []
    for i in range(GOOD_FILES):
        values = {**as_inputs(form, random_figures(form, seed=f"corpus-{i}")), **header_values(form, seed=i)}
        agency = Agency(code=f"G{i:02d}", name=f"好单位{i:02d}", group="G")
        F.write(folder, f"good_{i:02d}.xlsx", form, values, agency=agency)
        figures.append(values)
    return folder, figures


def messages(r: Result) -> list[str]:
    return [i.message("en") for i in r.issues]


def assert_outcome(case: Case, status: str, reason: str, msgs: list[str]) -> None:
    shown = reason if status == "rejected" else " | ".join(msgs)
    assert status == case.status, f"{case.name}: expected {case.status}, got {status}: {shown}"
    if status == "rejected":
        assert reason and "\n" not in reason
        assert case.fragment in reason, f"{case.name}: {case.fragment!r} not in {reason!r}"
    elif case.fragment:
        assert any(case.fragment in m for m in msgs), f"{case.name}: {case.fragment!r} not in {msgs}"
    elif status == "valid":
        assert msgs == [], f"{case.name}: expected no issue, found {msgs}"
    assert all("\n" not in m for m in msgs)


def test_the_corpus_is_large_and_named_once():
    assert len(CASES) >= 40
    assert len(BY_NAME) == len(CASES)
    assert {c.status for c in CASES} == {"valid", "invalid", "rejected"}


def test_every_case_is_made(corpus):
    assert set(corpus) == set(BY_NAME)
    for name, path in corpus.items():
        assert os.path.lexists(path), name


@pytest.mark.parametrize("name", [c.name for c in CASES if not c.heavy])
def test_case(light_corpus, registry, name):
    case = BY_NAME[name]
    t = time.perf_counter()
    r = check_file(light_corpus[name], registry)
    seconds = time.perf_counter() - t
    assert isinstance(r, Result)
    assert_outcome(case, r.status, r.reason("en"), messages(r))
    if r.status == "rejected":
        assert r.reason("zh") and "\n" not in r.reason("zh")
        assert r.values == {}
    assert seconds < SECONDS_PER_CASE, f"{name} took {seconds:.1f} s"


@pytest.mark.parametrize("name", [c.name for c in CASES if c.heavy])
def test_heavy_case_in_a_limited_process(corpus, name):
    """check_file in a fresh interpreter limited to 1 GB of address space: status, time, peak memory."""
    case = BY_NAME[name]
    r = measure(corpus[name], memory_limit=HEAVY_MEMORY_LIMIT, timeout=60)
    assert "crashed" not in r, f"{name}: the process died ({r.get('crashed')}): {r.get('stderr', '')[-800:]}"
    assert_outcome(case, r["status"], r["reason"], r["messages"])
    assert r["seconds"] < HEAVY_SECONDS, f"{name} took {r['seconds']:.1f} s"
    assert r["peak_mb"] < HEAVY_PEAK_MB, f"{name} peaked at {r['peak_mb']:.0f} MB"
    print(f"\n{name}: {r['status']} in {r['seconds']:.3f} s, peak {r['peak_mb']:.0f} MB (interpreter {r['base_mb']:.0f} MB)")


def test_heavy_cases_through_the_runner(corpus, registry):
    """The same files through check_many: worker processes under the runner's memory ceiling."""
    heavy = [c for c in CASES if c.heavy]
    t = time.perf_counter()
    results = check_many([corpus[c.name] for c in heavy], registry, jobs=2)
    assert time.perf_counter() - t < 60
    for case, r in zip(heavy, results):
        assert_outcome(case, r.status, r.reason("en"), messages(r))


def test_check_command_on_the_whole_corpus(corpus):
    folder = next(iter(corpus.values())).parent
    files = iter_workbooks([str(folder)])
    assert len(files) == len(corpus)
    proc = subprocess.run([sys.executable, "-m", "toolkit", "check", str(folder), "--lang", "en", "--jobs", "2"],
                          capture_output=True, text=True, timeout=300, env=toolkit_env())
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 1                      # some files are invalid or rejected
    lines = proc.stdout.splitlines()
    assert lines[-2] == "period collected: gov-info-disclosure-2017 2017"
    status_lines = [ln for ln in lines[:-2] if not ln.startswith("  ")]
    assert len(status_lines) == len(files), "\n".join(status_lines)
    by_file = {}
    for ln in status_lines:
        path = next(str(f) for f in files if ln.startswith(f"{f}: "))
        assert path not in by_file, f"two lines for {path}"
        by_file[path] = ln[len(path) + 2:]
    for name, path in corpus.items():
        case = BY_NAME[name]
        line = by_file[str(path)]
        assert line.startswith(f"{case.status}"), (name, line)
        if case.status == "rejected":
            assert case.fragment in line, (name, line)
    counts = {s: sum(1 for c in CASES if c.status == s) for s in ("valid", "invalid", "rejected")}
    assert lines[-1] == f"{len(files)} file(s): {counts['valid']} valid, {counts['invalid']} invalid, {counts['rejected']} rejected"


def _expected_totals(good_figures: list[dict]) -> dict[str, float]:
    form = F.form_a()
    codes = [ind.code for ind in form.inputs if ind.spec.numeric]
    sums = {code: 0.0 for code in codes}
    contributions = list(good_figures)
    for case in CASES:
        if case.merge and case.status == "valid":
            contributions.append({**SEED_2017, **case.numbers})
    for values in contributions:
        for code in codes:
            v = values.get(code)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                sums[code] += v
    return sums


def test_merge_of_the_corpus_and_good_files(corpus, good, registry, tmp_path):
    from openpyxl import load_workbook

    from toolkit.summary import STATUS_SHEET, write_summary

    good_folder, figures = good
    paths = [str(corpus[c.name]) for c in CASES if c.merge] + [str(good_folder)]
    c = merge(paths, registry, jobs=2)
    expected = _expected_totals(figures)
    for code, want in expected.items():
        assert c.totals[code] == pytest.approx(want), code
    # a computed indicator follows from the summed inputs (A8_3 = A8_3_1 + A8_3_2)
    assert c.totals["A8_3"] == pytest.approx(expected["A8_3_1"] + expected["A8_3_2"])

    by_file = {}
    for s in c.submissions:
        assert s.result.file not in by_file, f"{s.result.file} listed twice"
        by_file[s.result.file] = s
    merged_cases = [case for case in CASES if case.merge]
    assert len(c.submissions) == len(merged_cases) + GOOD_FILES
    for case in merged_cases:
        s = by_file[str(corpus[case.name])]
        if case.status == "valid":
            assert s.used and s.status in ("valid", "warnings"), (case.name, s.status, s.note)
        else:
            assert not s.used and s.status == case.status, (case.name, s.status)
            assert s.note and "\n" not in s.note, case.name
    assert sum(1 for s in c.submissions if s.used) == GOOD_FILES + sum(1 for case in merged_cases if case.status == "valid")

    # the summary's status sheet: one line per file, each bad file once with its status
    out = tmp_path / "summary.xlsx"
    write_summary(c, out)
    ws = load_workbook(out, read_only=True)[STATUS_SHEET]
    rows = [r for r in ws.iter_rows(values_only=True) if r and len(r) > 4 and isinstance(r[4], str) and r[4].endswith((".xlsx", ".xlsm", ".xls", ".ods"))]
    names = [r[4] for r in rows]
    assert sorted(names) == sorted(Path(s.result.file).name for s in c.submissions)
    label = {"rejected": "拒收", "invalid": "有错误"}
    for case in merged_cases:
        if case.status != "valid":
            (row,) = [r for r in rows if r[4] == corpus[case.name].name]
            assert row[3] == label[case.status], (case.name, row)
