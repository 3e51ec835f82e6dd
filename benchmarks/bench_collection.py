"""Receive N returns (default 10,000) into a collection store, on SQLite and on PostgreSQL, as a
ratio to ``toolkit merge`` of the same files in the same run; then ``status`` and ``summary``
times for N agencies.

    python benchmarks/bench_collection.py [--n 10000] [--jobs 2] [--pg postgresql://…] [--keep DIR]

PostgreSQL is measured when ``--pg`` (or TOOLKIT_TEST_PG_URL) names a server whose user may create
a database; a database ``toolkit_bench_…`` is created there and dropped afterwards.
Aims (issue 15): receiving at most 1.5× the merge time; status under 1 s.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _common import cores
from bench_merge import _make

from toolkit.collection import Store, init_collection, summary
from toolkit.consolidation import merge
from toolkit.roster import read_roster
from toolkit.summary import write_summary

FORM = "gov-info-disclosure-2021"


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _pg_database(base: str):
    import psycopg
    from sqlalchemy.engine import make_url
    url = make_url(base)
    name = f"toolkit_bench_{uuid.uuid4().hex[:10]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return url.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=cores())
    ap.add_argument("--pg", default=os.environ.get("TOOLKIT_TEST_PG_URL"), help="PostgreSQL server URL (a database is created on it)")
    ap.add_argument("--keep", help="generate the workbooks into this folder and keep them (reused when it holds N files)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-collection-"))
    folder = Path(args.keep) if args.keep else work / "returns"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if len(list(folder.glob("*.xlsx"))) != args.n:
            for p in folder.glob("*.xlsx"):
                p.unlink()
            step = max(1, args.n // (args.jobs * 8))
            with ProcessPoolExecutor(args.jobs) as pool:
                t, _ = _timed(lambda: list(pool.map(_make, [(i, min(i + step, args.n), str(folder))
                                                            for i in range(0, args.n, step)])))
            print(f"generated {args.n} workbooks in {t:.1f} s")
        t_loop, _ = _timed(lambda: sum(i * i for i in range(10 ** 6)))
        print(f"machine speed now: a 1,000,000-step Python loop takes {t_loop:.2f} s (about 0.05 s on an idle core); "
              "absolute times scale with it, ratios much less")
        roster = work / "roster.csv"
        with open(roster, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["code", "name", "group"])
            for i in range(args.n):
                w.writerow([f"A{i:05d}", f"测试单位{i:05d}", ("政府部门", "乡镇街道", "其他单位")[i % 3]])

        def do_merge() -> None:
            c = merge([str(folder)], roster=read_roster(roster), jobs=args.jobs)
            write_summary(c, work / "merge.xlsx")
        t_merge, _ = _timed(do_merge)
        print(f"toolkit merge of {args.n} files: {t_merge:.1f} s ({args.n / t_merge:.0f} workbooks/s)")

        targets = [("SQLite", str(work / "collect.db"), None)]
        if args.pg:
            url, drop = _pg_database(args.pg)
            targets.append(("PostgreSQL", url, drop))
        else:
            print("PostgreSQL: not measured (no --pg URL and no TOOLKIT_TEST_PG_URL)")
        for label, db, drop in targets:
            try:
                init_collection(db, FORM, None, str(roster))
                with Store(db) as store:
                    t_recv, receipts = _timed(lambda: store.receive([str(folder)], jobs=args.jobs))
                    assert sum(r.outcome == "stored" for r in receipts) == args.n
                    t_status, rep = _timed(store.status)
                    t_sum, _ = _timed(lambda out=work / f"summary-{label}.xlsx": summary(store, out))
                print(f"{label}: receive {args.n} in {t_recv:.1f} s = {t_recv / t_merge:.2f}× merge (aim ≤ 1.5×); "
                      f"status of {len(rep.agencies)} agencies {t_status:.2f} s (aim < 1 s); summary {t_sum:.1f} s "
                      f"(merge incl. reading: {t_merge:.1f} s)")
            finally:
                if drop:
                    drop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
