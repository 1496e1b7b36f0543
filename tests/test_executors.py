"""Executors: every job's result once, errors surface, Dask on an in-process cluster."""
from __future__ import annotations

import os

import pytest

from pershot.errors import InputError, MediaError
from pershot.executors import DaskExecutor, LocalExecutor, SerialExecutor, cpu_count, make_executor, run_all


def square(x: int) -> int:
    return x * x


def pid_of(_: int) -> int:
    return os.getpid()


def fail_on_three(x: int) -> int:
    if x == 3:
        raise MediaError("bad shot 3")
    return x


def fail_then_interrupt_parent(x: int) -> int:
    """Fail job 0 at once, and Ctrl-C the parent 50 ms later (as a terminal's Ctrl-C reaches the
    workers' ffmpeg children and the parent at about the same time)."""
    import signal
    import threading

    if x == 0:
        threading.Timer(0.05, os.kill, (os.getppid(), signal.SIGINT)).start()
        raise MediaError("ffmpeg died (interrupted)")
    import time

    time.sleep(2)
    return x


def test_ctrl_c_arriving_with_a_worker_failure_is_an_interrupt(monkeypatch) -> None:
    """The failure its own Ctrl-C caused in a worker reached the parent first, so Ctrl-C came out
    as that error (exit 3 or 5, or 1 for a broken pool) instead of an interrupt (130)."""
    import signal
    import time

    from pershot import executors

    monkeypatch.setattr(executors, "INTERRUPT_GRACE_S", 1.5)  # the mechanism, with room for a loaded machine
    got: list[int] = []
    armed = [True]

    def on_sigint(signum, frame):  # noqa: ANN001
        got.append(signum)
        if armed[0]:
            raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        with pytest.raises(KeyboardInterrupt):
            with LocalExecutor(2) as ex:
                dict(ex.map(fail_then_interrupt_parent, [0, 1]))
    finally:
        armed[0] = False  # a late SIGINT must not stop the test session
        deadline = time.time() + 5
        while not got and time.time() < deadline:
            time.sleep(0.01)
        signal.signal(signal.SIGINT, old)


@pytest.mark.parametrize("ex", [SerialExecutor(), LocalExecutor(1), LocalExecutor(2)], ids=["serial", "local1", "local2"])
def test_map_yields_every_result_once(ex) -> None:
    with ex:
        got = dict(ex.map(square, list(range(7))))
        assert got == {i: i * i for i in range(7)}
        assert run_all(ex, square, [3, 1, 2]) == [9, 1, 4]
        assert list(ex.map(square, [])) == []


def test_pool_runs_in_other_processes() -> None:
    with LocalExecutor(2) as ex:
        pids = set(run_all(ex, pid_of, list(range(4))))
    assert os.getpid() not in pids


@pytest.mark.parametrize("ex", [SerialExecutor(), LocalExecutor(2)], ids=["serial", "local2"])
def test_job_errors_surface_as_project_errors(ex) -> None:
    with ex, pytest.raises(MediaError, match="bad shot 3"):
        list(ex.map(fail_on_three, list(range(6))))


def test_factory_and_defaults() -> None:
    assert LocalExecutor().workers == cpu_count() >= 1
    assert isinstance(make_executor("local", jobs=3), LocalExecutor)
    with pytest.raises(InputError):
        LocalExecutor(0)
    with pytest.raises(InputError):
        make_executor("cloud")


def test_dask_executor_in_process_cluster() -> None:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        ex = DaskExecutor(client=client)
        assert ex.workers == 2
        assert dict(ex.map(square, list(range(5)))) == {i: i * i for i in range(5)}
        with pytest.raises(MediaError):
            list(ex.map(fail_on_three, list(range(5))))
        ex.close()  # does not close a client it was given
        assert client.status == "running"
    finally:
        client.close()
        cluster.close()


def test_a_scheduler_that_is_not_one_is_one_error_not_a_hang(monkeypatch) -> None:
    """Found by a review: a peer that accepts and never answers hung `--executor dask` (distributed's own
    timeout does not cover the handshake), and a malformed address was a traceback."""
    pytest.importorskip("distributed")
    import threading

    from pershot import executors

    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 0.3)
    never = threading.Event()

    class Silent:
        def __init__(self, *a, **k):
            never.wait(5)

    with pytest.raises(InputError, match="did not answer within 0.3 s"):
        executors._connect(Silent, "tcp://127.0.0.1:9")

    class Malformed:
        def __init__(self, *a, **k):
            raise ValueError("missing port number in address 'x'")

    with pytest.raises(InputError, match="not a Dask scheduler address: x"):
        executors._connect(Malformed, "x")
    never.set()


def test_a_job_the_cluster_lost_is_one_project_error(monkeypatch) -> None:
    """A cluster stopped mid-run: distributed hands the lost job back as its exception, which the probes and
    the encodes took for a result (TypeError, AttributeError tracebacks)."""
    distributed = pytest.importorskip("distributed")
    from pershot.errors import ResourceError

    class Fut:
        def __init__(self, key, lost=False):
            self.key, self.lost = key, lost

        def cancelled(self):
            return self.lost

    class Client:
        cancelled = []

        def map(self, fn, items, pure=False):
            return [Fut(0), Fut(1, lost=True), Fut(2)]

        def cancel(self, futures):
            self.cancelled += futures

    monkeypatch.setattr(distributed, "as_completed", lambda futures, with_results: iter(
        [(futures[0], "ok"), (futures[1], distributed.client.FutureCancelledError("k", "lost")), (futures[2], "x")]))
    ex = object.__new__(DaskExecutor)
    ex.client, ex._own, ex.workers = Client(), [], 2
    got = []
    with pytest.raises(ResourceError, match="the Dask cluster lost job 2 of 3"):
        for i, r in ex.map(str, [1, 2, 3]):
            got.append((i, r))
    assert got == [(0, "ok")] and len(Client.cancelled) == 3


def test_a_scheduler_without_the_dask_executor_is_an_error(tmp_path, capsys) -> None:
    from pershot import cli

    assert cli.main(["probe", str(tmp_path / "any.mp4"), "-o", str(tmp_path / "o"), "--scheduler",
                     "tcp://127.0.0.1:8786"]) == 2
    assert "--scheduler goes with --executor dask" in capsys.readouterr().err


def nap(x: int) -> int:
    import time

    time.sleep(0.3)
    return x


def test_an_interrupted_map_leaves_no_error_in_the_pools_thread(monkeypatch) -> None:
    """Ctrl-C with jobs still queued: the pool's manager thread fails the unfinished futures once its workers
    are gone; futures cancelled first made it raise InvalidStateError, a traceback after "interrupted"."""
    import threading
    import time

    errors: list = []
    monkeypatch.setattr(threading, "excepthook", lambda a: errors.append(a.exc_type))
    for _ in range(3):  # the old race showed about three times in four: three tries all but always see it
        with LocalExecutor(2) as ex:
            it = ex.map(nap, list(range(12)))
            next(it)
            with pytest.raises(KeyboardInterrupt):
                it.throw(KeyboardInterrupt)
        time.sleep(0.5)  # the manager thread notices the workers are gone
    assert errors == []
