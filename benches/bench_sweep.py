"""Ray sweep overhead: the same trials through `run_sweep` on a local Ray vs a plain process pool at
the same total parallelism (one 1-thread trial per core), measured in the same run.

    python benches/bench_sweep.py [--models 6] [--spaces RegNetX,AnyNetXE] [--train-size 3000]
    python benches/bench_sweep.py --gpu          # fractional-GPU packing; needs a GPU (not measured here)

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

    from designspace.sweep import _start_ray, run_sweep

    t0 = time.perf_counter()
    _start_ray(None)
    t1 = time.perf_counter()
    counts = run_sweep(config(args, gpus), progress=False, out=open(os.devnull, "w"))
    t2 = time.perf_counter()
    ray.shutdown()
    t3 = time.perf_counter()
    assert counts["done"] == counts["planned"], counts
    return t3 - t0, t2 - t1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", default="RegNetX,AnyNetXE")
    parser.add_argument("--models", type=int, default=6, help="models per space")
    parser.add_argument("--flops", default="3M:8M")
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--gpu", action="store_true", help="GPU packing: trials at 1, 0.5, 0.25 GPU each")
    args = parser.parse_args()
    args.tmp = tempfile.mkdtemp(prefix="bench_sweep_")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

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
