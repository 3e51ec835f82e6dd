"""The fuzzer: thousands of mutated valid workbooks, and every one is a Result — never a traceback.

Valid filled workbooks (Form A, Form B, Form A with text figures) are mutated at three levels —
bytes, zip members, sheet XML (see tests/corpus/mutate.py) — and each mutant goes through
``check_file``. Every outcome must be valid, invalid or rejected, a rejection must say why in one
line (Chinese and English), every issue must render, and no file may take more than a few seconds.

The mutants are checked in child processes under an address-space limit, so a reader that
aborts (a native crash) costs the child, not the test run: the parent names the mutation that
killed it and carries on after it.

Environment (all optional): FUZZ_SEED (default 1), FUZZ_BUDGET seconds (default 30),
FUZZ_COUNT mutations (default 6000), FUZZ_JOBS processes (default 2). A longer run::

    FUZZ_SEED=7 FUZZ_BUDGET=600 FUZZ_COUNT=100000 python -m pytest -q tests/test_fuzz.py

A failure prints ``mutated(seed, index)``; tests/corpus/make_corpus.py keeps each one found as a
``fuzz_…`` case that makes the same file again.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import time
import traceback
from pathlib import Path

import pytest

from corpus.mutate import bases, mutated

SEED = os.environ.get("FUZZ_SEED", "1")
BUDGET = float(os.environ.get("FUZZ_BUDGET", "30"))
COUNT = int(os.environ.get("FUZZ_COUNT", "6000"))
JOBS = int(os.environ.get("FUZZ_JOBS", "2"))
PER_FILE_SECONDS = 5.0
MEMORY_LIMIT = 1536 * 1024 ** 2
STATUSES = {"valid", "invalid", "rejected"}


def problems_with(r) -> list[str]:
    """What is wrong with a Result as an outcome (empty: fine)."""
    from toolkit.report import render_csv, render_json, render_text
    from toolkit.validate import Result

    out = []
    if not isinstance(r, Result):
        return [f"not a Result: {type(r).__name__}"]
    if r.status not in STATUSES:
        out.append(f"status {r.status!r}")
    if r.status == "rejected":
        for lang in ("zh", "en"):
            text = r.reason(lang)
            if not text or "\n" in text:
                out.append(f"rejection reason ({lang}) is not one line: {text!r}")
        if r.values:
            out.append("values kept for a rejected file")
    if r.status == "invalid" and not r.errors:
        out.append("invalid without an error")
    if r.status == "valid" and r.errors:
        out.append(f"valid with errors: {[i.kind for i in r.errors]}")
    for issue in r.issues:
        for lang in ("zh", "en"):
            msg = issue.message(lang)
            if not msg or "\n" in msg or "\r" in msg:
                out.append(f"issue {issue.kind} ({lang}) is not one line: {msg!r}")
    for render in (render_text, render_json, render_csv):
        render([r], "en")
    json.dumps(r.values, ensure_ascii=False, allow_nan=True, default=str)
    return out


def _worker(seed: str, start: int, step: int, count: int, deadline: float, log_path: str) -> None:
    """Check mutations start, start+step, … until count or the deadline; log before and after each."""
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass
    from toolkit.registry import Registry
    from toolkit.validate import check_file

    registry = Registry()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp, open(log_path, "a", encoding="utf-8") as log:
        path = Path(tmp) / "mutant.xlsx"
        for i in range(start, count, step):
            if time.monotonic() > deadline:
                break
            desc, data = mutated(seed, i)
            path.write_bytes(data)
            log.write(json.dumps({"i": i, "event": "start"}) + "\n")
            log.flush()
            t = time.perf_counter()
            status, problems = "?", []
            try:
                r = check_file(path, registry)
                status = r.status
                problems = problems_with(r)
            except BaseException:
                problems = ["raised: " + traceback.format_exc(limit=8)]
            seconds = time.perf_counter() - t
            if seconds > PER_FILE_SECONDS:
                problems.append(f"took {seconds:.1f} s")
            entry = {"i": i, "event": "done", "status": status, "seconds": round(seconds, 4)}
            if problems:
                entry.update(problems=problems, desc=desc)
            log.write(json.dumps(entry, ensure_ascii=False) + "\n")
            log.flush()


def run_fuzz(seed: str, count: int, budget: float, jobs: int, folder: Path) -> dict:
    """Run the fuzzer; return {'done': [...entries], 'crashed': [(index, desc, exitcode)]}."""
    bases()   # build the originals once, before forking
    ctx = multiprocessing.get_context("fork")
    deadline = time.monotonic() + budget
    done: list[dict] = []
    crashed: list[tuple[int, str, int]] = []
    starts = {w: w for w in range(jobs)}
    rounds = 0
    while starts and rounds < 50:
        rounds += 1
        procs = {}
        for w, start in starts.items():
            log = folder / f"worker{w}.{rounds}.jsonl"
            p = ctx.Process(target=_worker, args=(seed, start, jobs, count, deadline, str(log)), daemon=True)
            p.start()
            procs[w] = (p, log)
        starts = {}
        for w, (p, log) in procs.items():
            p.join(max(5.0, deadline - time.monotonic() + 60))
            if p.is_alive():            # hung past the budget and the grace period
                p.kill()
                p.join()
            entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()] if log.exists() else []
            finished = {e["i"] for e in entries if e["event"] == "done"}
            done += [e for e in entries if e["event"] == "done"]
            open_ = [e["i"] for e in entries if e["event"] == "start" and e["i"] not in finished]
            if p.exitcode != 0 and open_:
                i = open_[-1]
                crashed.append((i, mutated(seed, i)[0], p.exitcode))
                if time.monotonic() < deadline:
                    starts[w] = i + jobs     # carry on after the mutation that killed the worker
    return {"done": done, "crashed": crashed}


@pytest.fixture(scope="module")
def fuzz_run(tmp_path_factory) -> dict:
    t = time.monotonic()
    out = run_fuzz(SEED, COUNT, BUDGET, JOBS, tmp_path_factory.mktemp("fuzz"))
    out["seconds"] = time.monotonic() - t
    return out


def test_every_mutant_is_a_result(fuzz_run):
    bad = [e for e in fuzz_run["done"] if e.get("problems")]
    lines = [f"mutated({SEED!r}, {e['i']}): {e['desc']}\n    " + "\n    ".join(e["problems"]) for e in bad[:10]]
    assert not bad, f"{len(bad)} of {len(fuzz_run['done'])} mutants went wrong:\n" + "\n".join(lines)


def test_no_mutant_kills_the_reader(fuzz_run):
    lines = [f"mutated({SEED!r}, {i}): {desc} (exit code {code})" for i, desc, code in fuzz_run["crashed"]]
    assert not fuzz_run["crashed"], "the reader process died on:\n" + "\n".join(lines)


def test_enough_mutants_in_the_budget(fuzz_run):
    n = len(fuzz_run["done"])
    statuses = {s: sum(1 for e in fuzz_run["done"] if e["status"] == s) for s in STATUSES}
    slowest = max((e["seconds"] for e in fuzz_run["done"]), default=0)
    print(f"\nfuzz seed {SEED}: {n} mutants in {fuzz_run['seconds']:.1f} s ({statuses}); slowest {slowest:.2f} s")
    assert n >= min(COUNT, 300), f"only {n} mutants checked in {BUDGET} s"
    # the mutations reach past the zip: some mutants are still read (valid or invalid)
    assert statuses["valid"] + statuses["invalid"] > n // 20, statuses
    assert statuses["rejected"] > n // 20, statuses


def test_mutations_are_reproducible():
    assert mutated(SEED, 12) == mutated(SEED, 12)
    assert mutated(SEED, 12)[1] != mutated(SEED, 13)[1]
