"""Read + validate one returned workbook, against a bare python-calamine read of the same file.

    python benchmarks/bench_read.py [--files 200] [--form gov-info-disclosure-2021]

Baseline, measured in the same run on the same files: open the workbook with python-calamine and
read every sheet's values (``to_python``) — what any reader has to do at the least. The toolkit's
time includes the package checks (zip bounds, formulas and protection from the sheet XML),
identity, structure verification, typed extraction and every rule. Aim: at most 2x the bare read.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import cores

from python_calamine import CalamineWorkbook

from toolkit.registry import Registry
from toolkit.roster import Agency
from toolkit.samples import as_inputs, header_values, random_figures
from toolkit.schema import load_form, resolve
from toolkit.template import TemplateRequest, build_template
from toolkit.validate import check_file


def make_files(form, out: Path, n: int) -> list[Path]:
    files = []
    for i in range(n):
        a = Agency(code=f"A{i:05d}", name=f"测试单位{i:05d}")
        values = {**as_inputs(form, random_figures(form, seed=i)), **header_values(form, seed=i)}
        p = out / f"{a.code}.xlsx"
        p.write_bytes(build_template(form, TemplateRequest(agency=a, password="x", values=values)))
        files.append(p)
    return files


def bare(path: Path) -> None:
    wb = CalamineWorkbook.from_path(str(path))
    for name in wb.sheet_names:
        wb.get_sheet_by_name(name).to_python()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--form", default="gov-info-disclosure-2021")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    form = load_form(resolve(args.form))
    registry = Registry()
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(form, Path(tmp), args.files)
        check_file(files[0], registry)   # warm the form, layout and compiled rules
        bare(files[0])
        best_bare = best_check = float("inf")
        for _ in range(args.rounds):     # interleaved, so both see the same machine
            t = time.perf_counter()
            for f in files:
                bare(f)
            best_bare = min(best_bare, (time.perf_counter() - t) / len(files))
            t = time.perf_counter()
            statuses = [check_file(f, registry).status for f in files]
            best_check = min(best_check, (time.perf_counter() - t) / len(files))
    ratio = best_check / best_bare
    print(f"form {form.id}: {len(files)} workbooks, {statuses.count('valid')} valid, one process of {cores()} cores")
    print(f"bare python-calamine read          : {best_bare * 1000:7.2f} ms per workbook")
    print(f"toolkit read + validate (check_file): {best_check * 1000:7.2f} ms per workbook   ratio {ratio:4.2f}x "
          f"(aim ≤ 2x: {'met' if ratio <= 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
