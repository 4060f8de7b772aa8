"""A process pool whose caller works too: `SharedPool(processes)`.

`designspace analyze` splits a report into independent jobs (the analysis's parts, then each
figure). A plain ProcessPoolExecutor of n workers leaves the process that submits the jobs waiting
for them, a third process on two cores. Here the caller is one of the n processes: n - 1 workers are
forked (a standard ProcessPoolExecutor), and while the caller waits for results
(`SharedPool.as_completed`) it runs queued jobs itself. Jobs wait in this object's queue, oldest
first, and go to a worker only when it is free, so a job not yet started goes to whichever process
is free first. Where a job runs does not change its result.

While the pool exists, every process of it uses one BLAS thread: numpy's BLAS starts a thread
per core in each process, and with a process per core those threads only compete (spinning while
they wait; measured: e_fit of 10,000 models 0.39 s of CPU with one thread, 0.50 s with two, on
2 cores). A float32 matrix product's result can depend on OpenBLAS's thread count (seen on an AVX-512
host), so code whose results must not depend on the pool fixes its own count (analysis.efit's grid
search runs on one thread everywhere); the report's tests compare the CSV files from 1 and 2
processes. The thread count is set through threadpoolctl, which finds whichever BLAS numpy loaded.
"""
from __future__ import annotations

import gc
import threading
from collections import deque
from concurrent.futures import FIRST_COMPLETED, CancelledError, Executor, Future, ProcessPoolExecutor, wait


class SharedPool(Executor):
    """`processes` processes in all: this one and processes - 1 forked workers (>= 2 in all)."""

    def __init__(self, processes: int):
        import multiprocessing as mp

        if processes < 2:
            raise ValueError(f"a shared pool needs at least 2 processes, got {processes}")
        from threadpoolctl import threadpool_limits

        self._blas = threadpool_limits(limits=1, user_api="blas")  # the previous counts, restored at shutdown
        # fork: the workers start with this process's modules (matplotlib, numpy) already imported; gc.freeze
        # there keeps the garbage collector off the inherited objects (no scans, no copy-on-write copies)
        self._pool = ProcessPoolExecutor(max_workers=processes - 1, mp_context=mp.get_context("fork"),
                                         initializer=_worker_start)
        self._lock = threading.Lock()  # guards the queue and the idle count, never held while calling out
        self._queue: deque = deque()  # (future, fn, args, kwargs) that no process has started
        self._idle = processes - 1  # workers without a job

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future = Future()
        with self._lock:
            self._queue.append((future, fn, args, kwargs))
        self._feed()
        return future

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        futures = [self.submit(fn, *args) for args in zip(*iterables)]
        for _ in self.as_completed(futures):
            pass
        return (f.result() for f in futures)

    def as_completed(self, futures):
        """Yield the futures (of this pool's jobs) as they finish, running queued jobs here meanwhile."""
        pending = set(futures)
        while pending:
            done = [f for f in pending if f.done()]
            if not done:
                if self._run_one_here():
                    continue
                done = list(wait(pending, return_when=FIRST_COMPLETED).done)
            for f in done:
                pending.discard(f)
                yield f

    def shutdown(self, wait=True, *, cancel_futures=False):
        with self._lock:
            if cancel_futures:
                for future, *_ in self._queue:
                    future.cancel()
                self._queue.clear()
        try:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        finally:
            self._blas.restore_original_limits()

    def _feed(self):
        """Hand queued jobs to free workers. The executor is called without this object's lock held:
        its manager thread calls _finished, which takes the lock."""
        while True:
            with self._lock:
                if not (self._idle and self._queue):
                    return
                future, fn, args, kwargs = self._queue.popleft()
                if not future.set_running_or_notify_cancel():
                    continue
                self._idle -= 1
            try:
                handed = self._pool.submit(fn, *args, **kwargs)
            except Exception as exc:  # a broken or shut-down pool: the job's waiter gets the error
                future.set_exception(exc)
                with self._lock:
                    self._idle += 1
                continue
            handed.add_done_callback(lambda done, f=future: self._finished(f, done))

    def _finished(self, future: Future, done: Future):
        if done.cancelled():
            future.set_exception(CancelledError())
        elif done.exception() is not None:
            future.set_exception(done.exception())
        else:
            future.set_result(done.result())
        with self._lock:
            self._idle += 1
        self._feed()

    def _run_one_here(self) -> bool:
        """Run the oldest queued job in this process; False when none is queued."""
        with self._lock:
            if not self._queue:
                return False
            future, fn, args, kwargs = self._queue.popleft()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args, **kwargs))
            except Exception as exc:  # handed to whoever waits for the result, as a pool does
                future.set_exception(exc)
        return True


def _worker_start():
    from threadpoolctl import threadpool_limits

    gc.freeze()
    threadpool_limits(limits=1, user_api="blas")


def as_completed(futures, executor=None):
    """The executor's own as_completed where it has one (a SharedPool: the caller runs jobs while it
    waits), else concurrent.futures.as_completed."""
    from concurrent.futures import as_completed as plain

    own = getattr(executor, "as_completed", None)
    return own(futures) if own is not None else plain(futures)
