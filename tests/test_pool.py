"""designspace.pool.SharedPool: the submitting process runs queued jobs while it waits, a forked worker
the others; results, errors and map order are those of a plain executor."""
import multiprocessing as mp
import os
import time

import pytest

from designspace import pool as P

pytestmark = pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="the shared pool forks")


def _pid_after(seconds):
    time.sleep(seconds)
    return os.getpid()


def _square(x):
    return x * x


def _fail(message):
    raise ValueError(message)


def test_both_processes_run_jobs_and_results_arrive():
    shared = P.SharedPool(2)
    try:
        futures = [shared.submit(_pid_after, 0.05) for _ in range(8)]
        done = list(shared.as_completed(futures))
        pids = {f.result() for f in futures}
    finally:
        shared.shutdown()
    assert sorted(map(id, done)) == sorted(map(id, futures))  # each future yielded once
    assert os.getpid() in pids and len(pids) == 2  # this process and its one worker both worked


def test_map_keeps_order_and_errors_reach_the_caller():
    shared = P.SharedPool(2)
    try:
        assert list(shared.map(_square, range(7))) == [x * x for x in range(7)]
        failing = [shared.submit(_fail, f"job {i}") for i in range(3)]
        list(shared.as_completed(failing))
        for i, f in enumerate(failing):
            with pytest.raises(ValueError, match=f"job {i}"):
                f.result()
    finally:
        shared.shutdown()


def test_generic_as_completed_accepts_a_plain_executor():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as ex:
        futures = [ex.submit(_square, x) for x in range(4)]
        assert sorted(f.result() for f in P.as_completed(futures, ex)) == [0, 1, 4, 9]


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_blas_threads_are_one_while_the_pool_runs_and_restored_after_shutdown():
    original = _blas_threads()
    assert original  # numpy's BLAS is found
    shared = P.SharedPool(2)
    try:
        assert set(_blas_threads()) == {1}  # while the pool runs, one BLAS thread per process
        assert shared.submit(_worker_blas_threads).result() == [1] * len(original)  # and in the worker
    finally:
        shared.shutdown()
    assert _blas_threads() == original


def _worker_blas_threads():
    return _blas_threads()
