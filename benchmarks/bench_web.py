"""N concurrent uploads (valid, invalid and hostile files mixed) against a real ``toolkit serve`` on
the loopback address, with SQLite and — when ``--pg`` or TOOLKIT_TEST_PG_URL names a server — with
PostgreSQL. Checks that every upload is answered, every file is stored byte for byte under the
agency whose link sent it, and every verdict is the one ``toolkit check`` gives; prints throughput
and p50/p95 latency.

    python benchmarks/bench_web.py [--n 200] [--concurrency 200] [--workers 1] [--pg URL] [--time-limit 600]

Aim (issue 16): p95 under 2 s on 2 cores. Bounded: at most --n uploads, each given up after 120 s,
the whole run after --time-limit seconds; loopback only.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from _common import cores

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
RETURNS = ROOT / "workbooks" / "returns-2021"

from web_fixtures import make_site  # noqa: E402
from web_server import running_server  # noqa: E402

from toolkit.collection import Store  # noqa: E402
from toolkit.validate import check_file  # noqa: E402


def _variant(data: bytes, i: int) -> bytes:
    """The same workbook with a different zip comment: other bytes, the same content."""
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as z:
        z.comment = f"upload {i}".encode()
    return buf.getvalue()


def _hostile(i: int, valid: bytes) -> bytes:
    kinds = [valid[: len(valid) // 2] + i.to_bytes(4, "big"),                 # truncated
             f"code,name\nD001,<script>{i}</script>\n".encode(),               # text named .xlsx
             b"PK\x03\x04" + os.urandom(2000) + i.to_bytes(4, "big")]          # a zip header and noise
    return kinds[i % len(kinds)]


def _plan(n: int, links: dict[str, str]) -> list[tuple[str, str, bytes, str]]:
    """(agency, name, bytes, expected verdict) × n: about 60 % valid, 20 % invalid, 20 % hostile."""
    samples = {}
    for p in sorted(RETURNS.glob("*.xlsx")):
        code = p.name.split("_")[0]
        if code in links and code not in samples:
            samples[code] = (p, check_file(p).status)
    codes = sorted(samples)
    valid = [c for c in codes if samples[c][1] == "valid"]
    invalid = [c for c in codes if samples[c][1] == "invalid"]
    out = []
    for i in range(n):
        kind = i % 5
        if kind == 4:
            code = codes[i % len(codes)]
            data = _hostile(i, samples[valid[0]][0].read_bytes())
            out.append((code, f"../hostile_{i}.xlsx", data, "rejected"))
            continue
        code = (invalid if kind == 3 else valid)[i % len(invalid if kind == 3 else valid)]
        path, verdict = samples[code]
        out.append((code, path.name, _variant(path.read_bytes(), i), verdict))
    return out


def _post(base: str, token: str, name: str, data: bytes) -> tuple[int, dict, float]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(base + "/api/v1/returns", data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            code, payload = r.status, r.read()
    except urllib.error.HTTPError as e:
        code, payload = e.code, e.read()
    return code, json.loads(payload or b"{}"), time.perf_counter() - t


def run(db: str, label: str, n: int, concurrency: int, workers: int, time_limit: float) -> bool:
    site = make_site(db)
    plan = _plan(n, site.links)
    ok = True
    with running_server(db, workers=workers, env={"TOOLKIT_WEB_RATE": str(n + 10)}) as base:
        started = time.perf_counter()
        results: list[tuple[int, dict, float] | None] = [None] * n
        with ThreadPoolExecutor(concurrency) as pool:
            futs = {pool.submit(_post, base, site.links[code], name, data): i for i, (code, name, data, _) in enumerate(plan)}
            for fut in as_completed(futs, timeout=time_limit):
                results[futs[fut]] = fut.result()
        wall = time.perf_counter() - started
    answered = [r for r in results if r is not None]
    lat = sorted(r[2] for r in answered)
    p50 = statistics.median(lat)
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    print(f"{label}: {len(answered)}/{n} answered in {wall:.1f} s ({len(answered) / wall:.1f} uploads/s), "
          f"latency p50 {p50:.2f} s, p95 {p95:.2f} s, max {lat[-1]:.2f} s (concurrency {concurrency}, {workers} server process(es))")
    wrong_status = [(i, plan[i][3], r[1].get("status")) for i, r in enumerate(results) if r and r[1].get("status") != plan[i][3]]
    bad_codes = [(i, r[0]) for i, r in enumerate(results) if r and r[0] != (422 if plan[i][3] == "rejected" else 200)]
    import hashlib

    import sqlalchemy as sa

    from toolkit.collection import tables as t
    with Store(db) as store:
        with store.engine.connect() as conn:
            rows = {row.sha256: row for row in conn.execute(sa.select(t.returns.c.sha256, t.returns.c.agency_code, t.returns.c.status))}
        missing = [i for i, (code, _, data, _) in enumerate(plan)
                   if hashlib.sha256(data).hexdigest() not in rows or rows[hashlib.sha256(data).hexdigest()].agency_code != code]
        differ = [i for i, (_, _, data, _) in enumerate(plan)
                  if hashlib.sha256(data).hexdigest() in rows and store.blob(hashlib.sha256(data).hexdigest()) != data]
        status_counts = store.status().counts()
    print(f"{label}: stored {len(rows)} versions; not stored or under another agency: {len(missing)}; bytes differ: {len(differ)}; "
          f"verdicts other than toolkit check's: {len(wrong_status)}; unexpected status codes: {len(bad_codes)}; status now {status_counts}")
    if len(answered) != n or missing or differ or wrong_status or bad_codes:
        ok = False
        print(f"{label}: FAILED {wrong_status[:5]} {bad_codes[:5]} {missing[:5]}", file=sys.stderr)
    return ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=None, help="uploads in flight at once (default: all of them)")
    ap.add_argument("--workers", type=int, default=1, help="server processes")
    ap.add_argument("--pg", default=os.environ.get("TOOLKIT_TEST_PG_URL"))
    ap.add_argument("--time-limit", type=float, default=600)
    args = ap.parse_args()
    n = max(1, min(args.n, 2000))
    conc = args.concurrency or n
    print(f"{n} uploads on {cores()} core(s)")
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        ok &= run(str(Path(tmp) / "collect.db"), "SQLite", n, conc, args.workers, args.time_limit)
    if args.pg:
        from bench_collection import _pg_database
        url, drop = _pg_database(args.pg)
        try:
            ok &= run(url, "PostgreSQL", n, conc, args.workers, args.time_limit)
        finally:
            drop()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
