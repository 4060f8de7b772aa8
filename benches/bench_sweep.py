"""Ray sweep overhead: the same trials through `run_sweep` on a local Ray vs a plain process pool at
the same total parallelism (one 1-thread trial per core), measured in the same run.

    python benches/bench_sweep.py [--models 6] [--spaces RegNetX,AnyNetXE] [--train-size 3000]
    python benches/bench_sweep.py --gpu          # fractional-GPU packing; needs a GPU (not measured here)
    python benches/bench_sweep.py --driver [--tasks 20000]   # the driver loop alone, old vs new

--driver: the driver's own cost with many pending trials. The same N instant trials (run_trial on an
empty dataset fails at once, so the cluster does next to nothing) go through (a) the old loop, which
submitted every trial at once and passed the whole pending list to ray.wait on every iteration, and
(b) the sweep's driver (designspace.sweep.driver.drive: a bounded in-flight window), both writing every
row to a SQLite store. Reports the driver process's CPU share (its CPU seconds over wall seconds)
and rows/s of each, measured in the same run, old first.

Both sides plan the same trials, load the data once, train with designspace.train.train and write
every result to a SQLite store. Prints wall times and the overhead of Ray, with and without the
cluster start/stop (which a sweep on an existing cluster, --address, does not pay). Target: <= 5%.
The baseline runs first, then Ray, then the baseline again; the two baseline times are averaged so
that a drift in background load does not favour either side.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_DATA = None


def _init_worker(data):
    global _DATA
    import torch

    torch.set_num_threads(1)
    _DATA = data


def _pool_trial(args):
    from designspace.sweep import run_trial

    trial, recipe = args
    return run_trial(trial, recipe, _DATA, threads=1)


def config(args, gpus=0.0):
    from designspace.sweep import parse_config

    return parse_config({
        "name": "bench", "store": os.path.join(args.tmp, f"ray_{time.time_ns()}.db"),
        "spaces": args.spaces.split(","), "models_per_space": args.models, "flops": args.flops,
        "dataset": {"name": "fashion-mnist"},
        "recipe": {"epochs": 1, "train_size": args.train_size, "test_size": args.test_size},
        "resources": {"cpus": 0 if gpus else 1, "gpus": gpus},
    })


def run_pool(args, workers: int) -> float:
    from designspace import store
    from designspace.sweep import load_sweep_data, plan_trials

    t0 = time.perf_counter()
    cfg = config(args)
    trials = plan_trials(cfg)
    data = load_sweep_data(cfg)
    con = store.connect(os.path.join(args.tmp, f"pool_{time.time_ns()}.db"))
    recipe = cfg.recipe.to_dict()
    with mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(data,)) as pool:
        for row in pool.imap_unordered(_pool_trial, [(t, recipe) for t in trials], chunksize=1):
            store.write_trial(con, row)
    con.close()
    return time.perf_counter() - t0


def run_ray(args, gpus=0.0) -> tuple[float, float]:
    import ray

    from designspace.sweep import run_sweep, start_ray

    t0 = time.perf_counter()
    start_ray(None)
    t1 = time.perf_counter()
    counts = run_sweep(config(args, gpus), progress=False, out=open(os.devnull, "w"))
    t2 = time.perf_counter()
    ray.shutdown()
    t3 = time.perf_counter()
    assert counts["done"] == counts["planned"], counts
    return t3 - t0, t2 - t1


def _driver_config(args, name):
    from designspace.sweep import parse_config

    return parse_config({"name": name, "store": os.path.join(args.tmp, f"{name}.db"), "spaces": ["RegNetX"],
                         "models_per_space": args.tasks, "flops": "0.2M:5M", "dataset": {"name": "synthetic"},
                         "recipe": {"epochs": 1000, "batch_size": 64}, "max_retries": 0})


def old_driver_loop(cfg, pending, con):
    """The driver loop as it was: every trial submitted at once, the whole pending list to ray.wait."""
    import ray

    from designspace import store
    from designspace.sweep import failed_row

    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        if ready:
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
        rows = []
        for ref in ready:
            trial = pending.pop(ref)
            try:
                rows.append(ray.get(ref))
            except ray.exceptions.RayError as exc:
                rows.append(failed_row(trial, exc))
        if rows:
            store.write_trials(con, rows)


class _Stop(BaseException):
    pass


def _for_seconds(seconds, fn):
    """Run fn until it returns or `seconds` pass (then it is interrupted as Ctrl-C would)."""
    import signal

    def stop(signum, frame):
        raise _Stop()

    signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        fn()
    except _Stop:
        pass
    except SystemError as exc:  # raised inside Ray's Cython ray.wait, it arrives wrapped
        if not isinstance(exc.__cause__ or exc.__context__, _Stop):
            raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _phase(args, name, mode, trials, data, seconds=None) -> dict:
    import ray

    from designspace import store
    from designspace.sweep.driver import drive
    from designspace.sweep.session import start_ray

    cfg = _driver_config(args, f"{name}_{mode}")
    trials = [dict(t, sweep=cfg.name) for t in trials]
    start_ray(None)
    con = store.connect(cfg.store)
    try:
        if name == "old":
            import ray as _ray

            from designspace.sweep import run_trial

            data_ref = _ray.put(data)
            task = _ray.remote(run_trial).options(num_cpus=cfg.cpus, max_retries=0, retry_exceptions=False)
            recipe = cfg.recipe.to_dict()
            pending = {task.remote(t, recipe, data_ref, 1): t for t in trials}  # (not timed: submission)
            wall, cpu = time.perf_counter(), time.process_time()
            def run():
                return old_driver_loop(cfg, pending, con)
        else:
            counts = {"planned": len(trials), "skipped": 0, "done": 0, "failed": 0, "diverged": 0, "timeout": 0,
                      "left_failed": 0, "messages": []}
            wall, cpu = time.perf_counter(), time.process_time()
            def run():
                return drive(cfg, trials, data, con, counts, progress=False, out=open(os.devnull, "w"))
        if seconds:
            _for_seconds(seconds, run)
        else:
            run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stored = con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    finally:
        con.close()
        ray.shutdown()
    return {"wall": wall, "cpu": cpu, "cpu_share": cpu / wall, "rows": stored, "rows_per_s": stored / wall}


def measure_driver(args) -> dict:
    from designspace.data import synthetic
    from designspace.sweep import plan_trials

    t0 = time.perf_counter()
    todo = plan_trials(_driver_config(args, "plan"))
    print(f"  planned {len(todo)} trials in {time.perf_counter() - t0:.1f} s")
    results = {}
    # (1) Waiting: every trial trains for minutes, so the driver mostly waits with N trials pending.
    slow = synthetic(train_size=64, test_size=32)
    for name in ("old", "new"):
        r = results[f"wait_{name}"] = _phase(args, name, "wait", todo, slow, seconds=args.wait_seconds)
        print(f"  {name} driver, {len(todo)} pending long trials: driver CPU {r['cpu']:.1f} s over "
              f"{r['wall']:.0f} s = {r['cpu_share']:.3f} core")
    # (2) Throughput: every trial fails at once (no dataset), so the driver is the bottleneck.
    for name in ("old", "new"):
        r = results[f"fast_{name}"] = _phase(args, name, "fast", todo[: args.fast_tasks], None)
        print(f"  {name} driver, {r['rows']} instant trials: {r['rows_per_s']:.0f} rows/s, driver CPU "
              f"{1000 * r['cpu'] / max(r['rows'], 1):.1f} ms per row ({r['cpu_share']:.2f} core)")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", default="RegNetX,AnyNetXE")
    parser.add_argument("--models", type=int, default=6, help="models per space")
    parser.add_argument("--flops", default="3M:8M")
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--gpu", action="store_true", help="GPU packing: trials at 1, 0.5, 0.25 GPU each")
    parser.add_argument("--driver", action="store_true", help="only the driver loop with --tasks pending trials")
    parser.add_argument("--tasks", type=int, default=20_000, help="pending trials for --driver")
    parser.add_argument("--wait-seconds", type=float, default=20.0,
                        help="--driver: how long to watch the waiting driver")
    parser.add_argument("--fast-tasks", type=int, default=3000, help="--driver: instant trials for rows/s")
    args = parser.parse_args()
    args.tmp = tempfile.mkdtemp(prefix="bench_sweep_")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    if args.driver:
        print(f"bench_sweep --driver: {args.tasks} planned trials on a private {os.cpu_count()}-CPU Ray, "
              "old loop first (baseline), then the sweep's driver")
        r = measure_driver(args)
        print(f"driver CPU share while {args.tasks} trials are pending: {r['wait_old']['cpu_share']:.3f} -> "
              f"{r['wait_new']['cpu_share']:.3f} core; rows/s with instant trials: {r['fast_old']['rows_per_s']:.0f}"
              f" -> {r['fast_new']['rows_per_s']:.0f}"
              f" (x{r['fast_new']['rows_per_s'] / r['fast_old']['rows_per_s']:.2f})")
        print(f"host load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return 0

    if args.gpu:
        import torch

        if not torch.cuda.is_available():
            print("bench_sweep --gpu: no GPU here; GPU packing was not measured")
            return 0
        for gpus in (1.0, 0.5, 0.25):
            total, steady = run_ray(args, gpus)
            print(f"gpus per trial {gpus:g}: sweep {steady:.1f} s (with cluster start/stop {total:.1f} s)")
        return 0

    workers = os.cpu_count() or 1
    n = args.models * len(args.spaces.split(","))
    print(f"bench_sweep: {n} trials ({args.spaces} x {args.models}, {args.flops}, 1 epoch on {args.train_size} "
          f"Fashion-MNIST images), {workers} parallel 1-thread trials")
    pool_a = run_pool(args, workers)
    print(f"  process pool ({workers} processes): {pool_a:.1f} s")
    ray_total, ray_steady = run_ray(args)
    print(f"  Ray sweep: {ray_total:.1f} s total, {ray_steady:.1f} s without cluster start/stop")
    pool_b = run_pool(args, workers)
    print(f"  process pool again: {pool_b:.1f} s")
    pool = (pool_a + pool_b) / 2
    over_total = ray_total / pool - 1
    over_steady = ray_steady / pool - 1
    print(f"Ray overhead vs process pool: {100 * over_total:+.1f}% including cluster start/stop, "
          f"{100 * over_steady:+.1f}% on a running cluster (target <= 5%: "
          f"{'met' if over_steady <= 0.05 else 'NOT met'})")
    print(f"host load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
