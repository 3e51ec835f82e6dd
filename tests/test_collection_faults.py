"""Faults and concurrency: a receive killed with SIGKILL at random points, and two receives at once.

The store is checked against the files after every fault: each stored version's bytes hash to its
sha256 and equal one of the files given, nothing is stored twice, SQLite's own integrity check
passes, and a retry stores exactly what is missing. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from collection_pg import pg_server, pg_url  # noqa: F401  (fixtures)

from toolkit.collection import Store, init_collection
from toolkit.collection import tables as t

ROOT = Path(__file__).resolve().parent.parent
RETURNS = ROOT / "workbooks" / "returns-2021"
ROSTER = ROOT / "workbooks" / "sample-roster.csv"


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "collect.db")
    return request.getfixturevalue("pg_url")


def _distinct_returns(folder: Path, copies: int) -> dict[str, bytes]:
    """``copies`` × the sample returns, each made unique by its zip comment (still the same workbook
    to every reader), so every file is a different version to store."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for k in range(copies):
        for src in sorted(RETURNS.glob("*.xlsx")):
            dst = folder / f"{k:02d}_{src.name}"
            shutil.copy(src, dst)
            with zipfile.ZipFile(dst, "a") as z:
                z.comment = f"copy {k}".encode()
            data = dst.read_bytes()
            out[hashlib.sha256(data).hexdigest()] = data
    return out


def _receive_process(db: str, folder: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "toolkit", "collect", "receive", db, str(folder), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)


def _count(db: str) -> int:
    engine = sa.create_engine(_url(db))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(t.returns)).scalar() or 0
    finally:
        engine.dispose()


def _url(db: str) -> str:
    from toolkit.collection.db import url_of
    return url_of(db)


def _verify(db: str, files: dict[str, bytes]) -> int:
    """The store against the files; returns how many versions it holds."""
    with Store(db) as store, store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        blobs = conn.execute(sa.select(t.blobs.c.sha256, t.blobs.c.size, t.blobs.c.data)).all()
        for sha, size, data in blobs:
            data = bytes(data)
            assert hashlib.sha256(data).hexdigest() == sha and len(data) == size
            assert files.get(sha) == data, "a stored file is byte-identical to a file given"
        rows = conn.execute(sa.select(t.returns.c.sha256, t.returns.c.status, t.returns.c["values"])).all()
        shas = [r.sha256 for r in rows]
        assert len(shas) == len(set(shas)), "no file stored twice"
        assert set(shas) <= {b.sha256 for b in blobs}, "every version has its bytes"
        assert {b.sha256 for b in blobs} <= set(shas), "no bytes without their version"
        for r in rows:
            assert r.status in ("valid", "invalid", "rejected")
            assert (r.status == "rejected") == (not r[2])
        return len(rows)


def test_sigkill_at_random_points_leaves_a_consistent_store(db, tmp_path):
    init_collection(db, "gov-info-disclosure-2021", 2023, str(ROSTER))
    folder = tmp_path / "in"
    files = _distinct_returns(folder, 3)
    rng = random.Random(int(os.environ.get("TOOLKIT_FAULT_SEED", "15")))
    held = []
    for round_ in range(3):
        p = _receive_process(db, folder, "--jobs", "2")
        # kill it (and its reading workers) once it has stored a random number more, at a random instant
        # (files are committed a batch at a time; goals stay within the first 70 % so a kill always lands first)
        prev = held[-1] if held else 0
        goal = prev + rng.randint(1, max(1, (int(0.7 * len(files)) - prev) // (3 - round_)))
        deadline = time.monotonic() + 300
        while _count(db) < goal and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.05))
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
        assert p.returncode == -signal.SIGKILL, "killed before it finished (make the input larger if this fails)"
        held.append(_verify(db, files))
    assert held == sorted(held), "what was stored stays stored"
    # a retry completes the job: every file exactly once, nothing that was stored stored again
    p = _receive_process(db, folder)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err.decode()
    assert _verify(db, files) == len(files)
    assert out.decode().count("未重复保存") == held[-1]


def test_two_receives_at_once(db, tmp_path):
    init_collection(db, "gov-info-disclosure-2021", 2023, str(ROSTER))
    folder = tmp_path / "in"
    files = _distinct_returns(folder, 1)
    a = _receive_process(db, folder, "--jobs", "1")
    b = _receive_process(db, folder, "--jobs", "1", "--sender", "second")
    out_a, err_a = a.communicate(timeout=600)
    out_b, err_b = b.communicate(timeout=600)
    assert a.returncode == 0 and b.returncode == 0, (err_a.decode(), err_b.decode())
    assert _verify(db, files) == len(files)
    stored = out_a.decode().count("已接收为版本") + out_b.decode().count("已接收为版本")
    assert stored == len(files), "each file stored by exactly one of the two"
