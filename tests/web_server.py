"""A real ``toolkit serve`` on 127.0.0.1 (a free port), for the browser test and the benchmark."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(db: str, workers: int = 1, log: Path | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start the server, wait until it answers, yield its base URL, stop it (this process only)."""
    port = free_port()
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **(env or {})}
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115  (closed in finally)
    proc = subprocess.Popen([sys.executable, "-m", "toolkit", "serve", db, "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(workers)], env=full_env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/office/login", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start (exit {proc.poll()})") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]
