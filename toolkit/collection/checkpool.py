"""A standing pool of isolated check workers, for a server that checks one upload at a time, often.

:func:`toolkit.runner.check_many` starts a pool per call: right for a folder of files, but for a
single upload the start of a worker costs more than the check. This pool keeps its workers (the
same initializer, so the same memory limit, quiet native errors and per-file alarm) between
uploads. When a worker dies or a check overruns, the pool is discarded and the file is checked
again alone by ``check_many`` in a fresh worker — so the verdict on a file is its own, exactly as
in ``toolkit check``, never a neighbour's crash.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .. import runner
from ..registry import Registry
from ..validate import Result


class CheckPool:
    def __init__(self, schema_dirs: Sequence[str] = (), jobs: int = 1):
        self.schema_dirs = tuple(schema_dirs)
        self.jobs = max(1, jobs)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                spec = Registry(self.schema_dirs).spec(self.schema_dirs)
                self._pool = ProcessPoolExecutor(self.jobs, initializer=runner._init, initargs=(spec,))
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        runner._shutdown(pool, kill=True)

    def check(self, path: str | Path) -> Result:
        pool = self._get()
        try:
            return pool.submit(runner._check_in_worker, str(path)).result(timeout=runner.TIME_LIMIT + 5)
        except (FutureTimeout, BrokenProcessPool, RuntimeError):
            self._discard(pool)
        # alone, in a fresh worker: what happens now happens because of this file
        return runner.check_many([Path(path)], Registry(self.schema_dirs), schema_dirs=self.schema_dirs, jobs=1)[0]

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
