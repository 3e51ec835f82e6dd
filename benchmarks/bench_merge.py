"""Merge N filled workbooks (default 10,000): workbooks per second, peak memory, and the ratio
to bare python-calamine reads of the same files with the same number of processes.

    python benchmarks/bench_merge.py [--n 10000] [--jobs 2] [--keep DIR] [--repeat 1]

The workbooks are generated first (varied figures, every 200th one broken: text in a number
cell, or an identity that does not add up) with the toolkit's own writer, as agencies' programs
would save them — formulas with their results. Aim: 10,000 merged in under 30 s on 2 cores.

Both sides start their own processes (the toolkit has to), read the same files with the same
number of processes, and the bare side reads every sheet of every file. On a shared machine one
pair of timings can be off by a fifth either way: ``--repeat N`` times N bare/merge pairs, one
after the other, and reports each pair's ratio and their median.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _common import cores, peak_rss_mb

from python_calamine import CalamineWorkbook

from toolkit.consolidation import merge
from toolkit.roster import Agency
from toolkit.samples import as_inputs, header_values, random_figures
from toolkit.schema import load_form, resolve
from toolkit.summary import write_summary
from toolkit.template import TemplateRequest, build_template

FORM = "gov-info-disclosure-2021"


def _make(args: tuple[int, int, str]) -> int:
    start, stop, out = args
    form = load_form(resolve(FORM))
    variants = [as_inputs(form, random_figures(form, seed=i)) for i in range(start % 97, start % 97 + 40)]
    inputs = [i.code for i in form.inputs if i.spec.numeric]
    for i in range(start, stop):
        # every file its own figures: a consistent set scaled by a factor keeps every identity
        k = 1 + i % 7
        values = {c: (v * k if isinstance(v, float) else v) for c, v in variants[i % 40].items()}
        if i % 200 == 7:
            values[inputs[3]] = "无"                              # a typical mistake
        values.update(header_values(form, seed=i))
        a = Agency(code=f"A{i:05d}", name=f"测试单位{i:05d}", group=("政府部门", "乡镇街道", "其他单位")[i % 3])
        Path(out, f"{a.code}.xlsx").write_bytes(build_template(form, TemplateRequest(agency=a, password="x", values=values)))
    return stop - start


def _bare(paths: list[str]) -> int:
    for p in paths:
        wb = CalamineWorkbook.from_path(p)
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python()
    return len(paths)


def _bare_pool(files: list[str], jobs: int) -> float:
    """Seconds for the baseline: the same files, bare reads, in ``jobs`` fresh processes."""
    t = time.perf_counter()
    chunks = [files[i::jobs] for i in range(jobs)]
    with ProcessPoolExecutor(jobs) as pool:
        sum(pool.map(_bare, chunks))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=cores())
    ap.add_argument("--keep", help="generate into this folder and keep it (reused when it holds N files)")
    ap.add_argument("--repeat", type=int, default=1, help="bare/merge pairs to time (the last pair is printed in full)")
    args = ap.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-merge-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        existing = sorted(folder.glob("*.xlsx"))
        if len(existing) != args.n:
            for p in existing:
                p.unlink()
            t = time.perf_counter()
            step = max(1, args.n // (args.jobs * 8))
            with ProcessPoolExecutor(args.jobs) as pool:
                list(pool.map(_make, [(i, min(i + step, args.n), str(folder)) for i in range(0, args.n, step)]))
            print(f"generated {args.n} workbooks in {time.perf_counter() - t:.1f} s")
        files = sorted(str(p) for p in folder.glob("*.xlsx"))

        ratios = []
        for _ in range(max(1, args.repeat)):
            bare = _bare_pool(files, args.jobs)
            t = time.perf_counter()
            c = merge([str(folder)], jobs=args.jobs)
            read = time.perf_counter() - t
            ratios.append(read / bare)
        out = folder.parent / f"{folder.name}-summary.xlsx"
        t_write = time.perf_counter()
        write_summary(c, out)
        total = read + time.perf_counter() - t_write
        me, kids = peak_rss_mb()
        counts = c.counts()
        print(f"{len(files)} workbooks, {args.jobs} processes: {counts['valid']} valid, {counts['invalid']} invalid, "
              f"{counts['rejected']} rejected")
        print(f"bare python-calamine reads : {bare:7.2f} s  ({len(files) / bare:7.0f} workbooks/s)")
        print(f"read + validate + merge    : {read:7.2f} s  ratio {read / bare:4.2f}x")
        if len(ratios) > 1:
            label = f"ratio over {len(ratios)} pairs"
            print(f"{label:<27}: median {statistics.median(ratios):4.2f}x, {min(ratios):4.2f}–{max(ratios):4.2f}x "
                  f"({' '.join(f'{r:.2f}' for r in ratios)})")
        print(f"… + summary workbook       : {total:7.2f} s  ({len(files) / total:7.0f} workbooks/s; "
              f"aim 10,000 in < 30 s → {'met' if total * 10_000 / len(files) < 30 else 'NOT met'})")
        print(f"peak memory: main process {me:.0f} MB, largest worker {kids:.0f} MB; summary {out.stat().st_size / 1e6:.1f} MB")
        out.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
