"""A real PostgreSQL server for the collection tests.

``TOOLKIT_TEST_PG_URL`` (set by .ci/run) names a server whose user may create databases; without
it a throwaway cluster is made with the Debian server binaries (initdb + pg_ctl) in a temporary
folder on a free loopback port — as the ``postgres`` user when the tests run as root, because
PostgreSQL refuses to run as root. Only when no server binaries exist is PostgreSQL skipped, and
the skip says so. Every test gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest


def _bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return str(Path(found[-1]).parent)
    initdb = shutil.which("initdb")
    return str(Path(initdb).parent) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user() -> list[str]:
    """The command prefix that runs the server as a non-root user (nothing when we are not root)."""
    if os.geteuid() != 0:
        return []
    import pwd
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run a PostgreSQL server as")
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else ["su", "postgres", "-s", "/bin/sh", "-c"]


@pytest.fixture(scope="session")
def pg_server():
    """The base URL (database ``postgres``) of a PostgreSQL server for this test session."""
    url = os.environ.get("TOOLKIT_TEST_PG_URL")
    if url:
        yield url
        return
    bindir = _bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb) found; install postgresql or set TOOLKIT_TEST_PG_URL")
    prefix = _as_server_user()
    if prefix and prefix[0] == "su":
        pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
    tmp = tempfile.mkdtemp(prefix="toolkit-pg-")
    if prefix:
        import pwd
        pw = pwd.getpwnam("postgres")
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        os.chmod(tmp, 0o700)
    data = os.path.join(tmp, "data")
    port = _free_port()
    try:
        subprocess.run([*prefix, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "toolkit", "-E", "UTF8",
                        "--locale=C.UTF-8", "--no-sync"], check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(tmp, "log"), "-w", "-t", "60", "-o",
                        f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
                        "start"], check=True, capture_output=True, timeout=120)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        log = Path(tmp, "log").read_text(errors="replace")[-2000:] if Path(tmp, "log").exists() else ""
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {e}; {getattr(e, 'stderr', b'')!r} {log}")
    try:
        yield f"postgresql://toolkit@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database on the session's server; dropped after the test."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(pg_server)
    name = f"toolkit_test_{uuid.uuid4().hex[:12]}"
    conninfo = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
