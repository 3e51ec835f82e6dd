"""Checking many workbooks, each in isolation.

A crash inside a native reader, a hang or an exhausted memory on one hostile file must cost only
that file. Files are read in worker processes with a memory ceiling and a time limit per file;
a worker that dies is replaced and the file it was reading is reported as rejected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .registry import Registry, RegistrySpec
from .validate import Result, check_file

MEMORY_LIMIT = 2 * 1024 ** 3      # bytes of address space per worker
TIME_LIMIT = 60                   # seconds per file


def _limit_worker() -> None:
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass


_registry: Registry | None = None


def _init(spec: RegistrySpec, inherited: Registry | None = None) -> None:
    """Worker start: limits first, then the forms. ``inherited`` is the parent's own registry, handed
    over only when the worker is forked (nothing is pickled then) and it describes exactly ``spec``:
    the forms the parent has already built are then not built again in every worker."""
    global _registry
    _limit_worker()
    _quiet_native_errors()
    _registry = inherited if inherited is not None else Registry.from_spec(spec)


def _quiet_native_errors() -> None:
    """A panic inside python-calamine prints a Rust backtrace on stderr before it is turned into a
    rejection; the user gets the one-line reason in the report, not that noise."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass


def _check_in_worker(path: str) -> Result:
    assert _registry is not None
    return _timed_check(path, _registry)


def _check_chunk(paths: list[str]) -> list[Result]:
    """Several files in one hand-off: the pool's per-task cost is paid once per chunk."""
    assert _registry is not None
    return [_timed_check(p, _registry) for p in paths]


class _TookTooLong(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _TookTooLong()


def _timed_check(path: str, registry: Registry) -> Result:
    """check_file under the per-file time limit (an alarm in the worker; a read stuck inside native
    code is caught by the parent's deadline instead)."""
    import signal
    try:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    except (ValueError, OSError, AttributeError):
        return _safe_check(path, registry)
    try:
        return _safe_check(path, registry)
    except _TookTooLong:
        return _failed(path, True)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _safe_check(path: str | Path, registry: Registry) -> Result:
    try:
        return check_file(path, registry)
    except MemoryError:
        r = Result(file=str(path))
        r.reason_zh, r.reason_en = "读取时内存不足（文件可能是恶意构造的）", "out of memory while reading (a hostile file?)"
        return r
    except RecursionError:
        r = Result(file=str(path))
        r.reason_zh, r.reason_en = "文件结构嵌套过深，无法读取", "the file is nested too deeply to read"
        return r
    except BaseException as e:  # the last guard: one bad file never stops a run (pyo3 panics are BaseException)
        if isinstance(e, (KeyboardInterrupt, SystemExit, _TookTooLong)):
            raise
        r = Result(file=str(path))
        r.reason_zh = f"读取时发生意外错误：{type(e).__name__}: {str(e)[:200]}"
        r.reason_en = f"unexpected error while reading: {type(e).__name__}: {str(e)[:200]}"
        return r


def check_many(files: Sequence[Path], registry: Registry, schema_dirs: Sequence[str] = (), jobs: int | None = None,
               progress: Callable[[Result], None] | None = None) -> list[Result]:
    """Check every file, in parallel and isolated; results in the order of ``files``.

    The workers rebuild ``registry`` from its :meth:`~Registry.spec`, so forms added to it in
    memory and its schema folders (plus ``schema_dirs``) are known there too. Every file is read
    in a worker under the memory and time limits, whatever ``jobs`` is and however few the files:
    the verdict on a file never depends on how it was read.
    """
    if not files:
        return []
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(files)))
    spec = registry.spec(schema_dirs)
    return list(_pool_map(files, spec, jobs, progress, _inheritable(registry, spec)))


def _inheritable(registry: Registry, spec: RegistrySpec) -> Registry | None:
    """The parent's registry, when forked workers can simply keep it (see :func:`_init`)."""
    import multiprocessing

    if multiprocessing.get_start_method() != "fork" or registry.spec() != spec:
        return None
    return registry


def _pool_map(files: Sequence[Path], spec: RegistrySpec, jobs: int,
              progress: Callable[[Result], None] | None, inherited: Registry | None = None) -> Iterable[Result]:
    """Map check_file over files in a pool; a dead worker or a timeout costs only its file.

    When a worker dies, every file in flight fails with it; those files are then read again one
    at a time in a single-worker pool, so the one that really kills its reader is named exactly.
    The files that were still waiting their turn go back to a pool of ``jobs`` workers: one hostile
    file early in a batch of thousands does not leave the rest to a single core.
    """
    names = [str(f) for f in files]
    results: dict[str, Result] = {}
    waiting = names
    while waiting:
        suspects, waiting = _run_pool(waiting, spec, jobs, results, progress, inherited=inherited)
        while suspects:
            suspects, _ = _run_pool(suspects, spec, 1, results, progress, blame_first=True, inherited=inherited)
    return [results[n] for n in names]


def _run_pool(names: list[str], spec: RegistrySpec, jobs: int, results: dict[str, Result],
              progress: Callable[[Result], None] | None, blame_first: bool = False,
              inherited: Registry | None = None) -> tuple[list[str], list[str]]:
    """Read ``names`` into ``results``; after a worker died, return the files it may have died on
    (those of the chunks that can have been handed to a worker: the first ``2 * jobs + 1`` not
    finished — each worker's, and the executor's queue of ``jobs + 1``) and those still waiting."""
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_init, initargs=(spec, inherited))
    broken = False
    try:
        if blame_first:
            # one file at a time: whatever happens to the worker happens because of this file
            for i, name in enumerate(names):
                one = pool.submit(_check_in_worker, name)
                try:
                    r = one.result(timeout=TIME_LIMIT)
                except (FutureTimeout, BrokenProcessPool) as e:
                    r = _failed(name, isinstance(e, FutureTimeout))
                    broken = True
                results[name] = r
                if progress:
                    progress(r)
                if broken:
                    return names[i + 1:], []
            return [], []
        chunks = _chunks(names, jobs)
        futures = [(chunk, pool.submit(_check_chunk, chunk)) for chunk in chunks]
        for chunk, fut in futures:
            try:
                got = fut.result(timeout=TIME_LIMIT * len(chunk) + 5)
            except (FutureTimeout, BrokenProcessPool):
                broken = True
                break
            for name, r in zip(chunk, got):
                results[name] = r
                if progress:
                    progress(r)
        if broken:
            for chunk, fut in futures:
                if chunk[0] not in results and fut.done() and not fut.cancelled() and fut.exception() is None:
                    for name, r in zip(chunk, fut.result()):
                        results[name] = r
                        if progress:
                            progress(r)
            unfinished = [chunk for chunk, _ in futures if chunk[0] not in results]
            in_flight = unfinished[:2 * jobs + 1]
            return [n for c in in_flight for n in c], [n for c in unfinished[2 * jobs + 1:] for n in c]
        return [], []
    finally:
        _shutdown(pool, broken)


def _chunk_size(left: int, jobs: int) -> int:
    """Files in the next hand-off when ``left`` are still to be handed out: an even share of what is
    left, but at most 16 (a crash costs a short re-read of its chunk; a pool of many workers still
    balances), so the hand-offs shrink as the work runs out (guided self-scheduling)."""
    return max(1, min(16, left // jobs))


def _chunks(names: list[str], jobs: int) -> list[list[str]]:
    """The files in hand-offs sized by what is left, not by the whole batch: chunks of 16 while there
    is plenty, then 8, 4, 2, 1 at the end, so the workers finish together instead of one idling
    while the other reads a last chunk of 16 (up to a fifth of a second at 300 files). Shrinking
    more slowly (a quarter of a worker's share) finished as evenly but handed off twice as often,
    and every hand-off costs a worker its turn on a busy machine."""
    out: list[list[str]] = []
    i = 0
    while i < len(names):
        size = _chunk_size(len(names) - i, jobs)
        out.append(names[i:i + size])
        i += size
    return out


def _failed(name: str, timeout: bool) -> Result:
    r = Result(file=name)
    if timeout:
        r.reason_zh, r.reason_en = f"读取超过 {TIME_LIMIT} 秒仍未完成，已放弃", f"reading took longer than {TIME_LIMIT} s; gave up"
    else:
        r.reason_zh, r.reason_en = "读取此文件时读取程序崩溃或内存耗尽（文件可能已损坏或是恶意构造的）", "the reader crashed or ran out of memory on this file (damaged or hostile?)"
    return r


def _shutdown(pool: ProcessPoolExecutor, kill: bool) -> None:
    if kill:
        for p in list(getattr(pool, "_processes", {}).values()):
            try:
                p.kill()
            except Exception:
                pass
    pool.shutdown(wait=not kill, cancel_futures=True)
