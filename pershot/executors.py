"""Where probe jobs run: a small interface with in-process, process-pool and Dask versions.

``Executor.map(fn, items)`` runs ``fn(item)`` for every item and yields
``(index, result)`` pairs *in completion order*; an exception raised by a job
is re-raised by the iterator. ``fn`` must be a picklable module-level
function and items picklable values (frozen dataclasses here).

* :class:`SerialExecutor`: in this process, one job after the other.
* :class:`LocalExecutor`: a process pool (default: as many workers as CPUs
  this process may use; forked on Linux, spawned elsewhere). Ctrl-C cancels
  queued jobs and stops the workers; each worker kills its ffmpeg child and
  removes its temporary files. Finished jobs have already written their
  cache entries.
* :class:`DaskExecutor`: a ``dask.distributed`` client (a scheduler address,
  or an in-process cluster); imported lazily.
"""
from __future__ import annotations

import os
import signal
import time
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from .errors import InputError, MissingDependencyError, PershotError, ResourceError

T = TypeVar("T")
R = TypeVar("R")


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class Executor:
    """Runs jobs, yields ``(index, result)`` in completion order."""

    #: how many jobs run at once (for progress and scheduling hints)
    workers: int = 1

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialExecutor(Executor):
    """Runs every job in this process, in order."""

    workers = 1

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        for i, item in enumerate(items):
            yield i, fn(item)


_in_job = False
_terminating = False
_interrupted = False  #: a Ctrl-C reached this worker during its current job


def _worker_init() -> None:
    """Process-pool worker setup: SIGTERM from the parent (sent after Ctrl-C) stops the worker now.

    Inside a job it unwinds like Ctrl-C (ffmpeg.run kills its child, temporary
    folders are removed), then the worker exits at once with ``os._exit``: a
    normal exit would wait for the parent to drain the result queue. Where the
    Ctrl-C itself reached the worker first (a terminal signals the whole process
    group), its unwinding is already under way: the SIGTERM that follows within
    milliseconds does not raise a second interrupt in the middle of that cleanup
    (which could skip removing a temporary file); the worker exits once it is done.
    """

    def _int(signum, frame):  # noqa: ANN001
        global _interrupted
        _interrupted = True
        raise KeyboardInterrupt

    def _term(signum, frame):  # noqa: ANN001
        global _terminating
        _terminating = True
        if not _in_job:
            os._exit(1)
        if not _interrupted:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _int)
    signal.signal(signal.SIGTERM, _term)


def _call_in_worker(fn: Callable[[T], R], item: T) -> R:
    global _in_job, _interrupted
    _in_job, _interrupted = True, False
    try:
        return fn(item)
    except KeyboardInterrupt:
        if _terminating:
            os._exit(1)
        raise
    finally:
        _in_job = False


#: seconds a worker failure waits before it is raised, so that a Ctrl-C arriving with it wins
INTERRUPT_GRACE_S = 0.25


def _mp_context():
    """fork on Linux (fast, and scripts without a ``__main__`` guard work), spawn elsewhere."""
    import multiprocessing as mp
    import sys

    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")


class LocalExecutor(Executor):
    """A process pool on this machine (``jobs`` workers; default: CPU count; 1 = in-process)."""

    def __init__(self, jobs: int | None = None):
        if jobs is not None and jobs < 1:
            raise InputError(f"-j/--jobs must be >= 1, got {jobs}")
        self.workers = jobs or cpu_count()
        self._pool = None

    def _get_pool(self):
        if self._pool is None:
            import gc
            from concurrent.futures import ProcessPoolExecutor

            # Workers are forked: free cyclic garbage first. A decoder left for the cycle
            # collector (its frame threads live in this process only) would otherwise be
            # freed in a worker, where destroying its thread conditions waits forever.
            gc.collect()
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=_mp_context(),
                                             initializer=_worker_init)
        return self._pool

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        items = list(items)
        if not items:
            return
        if self.workers == 1 or len(items) == 1:
            yield from SerialExecutor().map(fn, items)
            return
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        pool = self._get_pool()
        pending = {pool.submit(_call_in_worker, fn, item): i for i, item in enumerate(items)}
        try:
            while pending:
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    try:
                        result = fut.result()
                    except Exception as ex:
                        # Ctrl-C signals the whole process group: workers and their ffmpeg children
                        # fail with it, and that failure can reach us just before our own
                        # KeyboardInterrupt does. A short wait lets a pending interrupt win.
                        time.sleep(INTERRUPT_GRACE_S)
                        if not isinstance(ex, BrokenProcessPool):
                            raise
                        # a worker was killed (a signal, the out-of-memory killer): not a Python error to show
                        raise PershotError("a worker process died abruptly (killed by a signal, e.g. out of "
                                           f"memory) with job {i + 1} of {len(items)} unfinished; finished "
                                           "jobs are kept, re-run to resume") from ex
                    yield i, result
        except BaseException:
            # Ctrl-C, a failed job, or the consumer stopped early: stop everything now. The futures are not
            # cancelled here: the pool's manager thread fails every unfinished one once its workers are gone,
            # and one already cancelled made it raise InvalidStateError (a traceback after Ctrl-C, Python 3.11)
            self._terminate()
            raise

    def _terminate(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list(getattr(pool, "_processes", {}).values())
        for p in procs:
            try:
                p.terminate()  # SIGTERM -> KeyboardInterrupt in the worker (see _worker_init)
            except (OSError, AttributeError):
                pass
        for p in procs:
            try:
                p.join(timeout=5)
                if p.exitcode is None:  # stuck: no cleanup is worth a hang
                    p.kill()
                    p.join(timeout=5)
            except (OSError, AttributeError, AssertionError, ValueError):
                pass
        pool.shutdown(wait=False)  # (cancel_futures would race the manager thread failing them: see map)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """Jobs on a Dask cluster: ``scheduler`` address, an existing ``client``, or an in-process LocalCluster.

    Workers must see the source file and the ffmpeg binary at the same paths;
    probe results come back to this process, which writes the cache entries
    the workers could not (a worker without the shared cache folder).
    """

    def __init__(self, scheduler: str | None = None, client: Any = None, workers: int | None = None):
        try:
            import distributed  # noqa: F401
        except ImportError as ex:
            raise MissingDependencyError("the Dask executor needs dask[distributed]: pip install 'pershot[dask]'") from ex
        from distributed import Client, LocalCluster

        self._own: list[Any] = []
        if client is not None:
            self.client = client
        elif scheduler:
            self.client = _connect(Client, scheduler)
            self._own.append(self.client)
        else:
            cluster = LocalCluster(n_workers=workers or cpu_count(), threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            self.client = Client(cluster)
            self._own += [self.client, cluster]
        try:
            self.workers = max(1, sum(self.client.nthreads().values()))
        except Exception:  # noqa: BLE001 - a client without workers yet
            self.workers = workers or 1

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        from distributed import as_completed

        items = list(items)
        if not items:
            return
        futures = self.client.map(fn, items, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut, result in as_completed(futures, with_results=True):
                # a job the cluster lost (its scheduler or workers stopped) comes back as its exception
                if fut.cancelled() or isinstance(result, BaseException):
                    raise ResourceError(f"the Dask cluster lost job {index[fut.key] + 1} of {len(items)} "
                                        f"({type(result).__name__}): did its scheduler or workers stop?")
                yield index[fut.key], result
        except BaseException:
            self.client.cancel(futures)
            raise

    def close(self) -> None:
        for obj in self._own:
            try:
                obj.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._own = []


#: how long pershot waits for a Dask scheduler to answer (distributed's own timeout does not cover a peer that
#: accepts the connection and never speaks)
CONNECT_TIMEOUT_S = 20.0


def _connect(client_cls: Any, scheduler: str) -> Any:
    """A Dask client of ``scheduler``, or one InputError: a malformed address, a refused or silent peer (within
    :data:`CONNECT_TIMEOUT_S`), or something that is not a Dask scheduler."""
    import threading

    got: dict[str, Any] = {}

    def connect() -> None:
        try:
            got["client"] = client_cls(scheduler, timeout="10s")
        except BaseException as ex:  # noqa: BLE001 - reported below, in the caller's thread
            got["error"] = ex

    t = threading.Thread(target=connect, name="pershot-dask-connect", daemon=True)
    t.start()
    t.join(CONNECT_TIMEOUT_S)
    if t.is_alive():
        raise InputError(f"the Dask scheduler at {scheduler} did not answer within {CONNECT_TIMEOUT_S:g} s "
                         "(is it a Dask scheduler's address, tcp://HOST:8786?)")
    ex = got.get("error")
    if isinstance(ex, ValueError):
        raise InputError(f"not a Dask scheduler address: {scheduler} ({ex}; e.g. tcp://HOST:8786)") from ex
    if ex is not None:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {type(ex).__name__}: "
                         f"{str(ex).splitlines()[0] if str(ex) else ''}") from ex
    return got["client"]


def make_executor(kind: str = "local", jobs: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor the CLI asks for: ``local`` (process pool) or ``dask``."""
    if kind == "local":
        return LocalExecutor(jobs)
    if kind == "serial":
        return SerialExecutor()
    if kind == "dask":
        return DaskExecutor(scheduler=scheduler, workers=jobs)
    raise InputError(f"unknown executor {kind!r} (choose from local, dask)")


def run_all(executor: Executor, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """All results, in item order."""
    items = list(items)
    out: list[Any] = [None] * len(items)
    for i, r in executor.map(fn, items):
        out[i] = r
    return out
