"""GPU packing: trials/hour on ONE GPU with 1, 2, 4 and 8 trials packed on it through Ray fractional
GPUs (resources.gpus = 1/k), against one trial per GPU (k = 1, the baseline, measured first in the
same run), and the GPU utilisation sampled while each sweep runs.

    python benches/bench_gpu.py [--models 16] [--space RegNetX] [--flops 20M:40M] [--epochs 1]
                                [--train-size 10000] [--packing 1,2,4,8]

Each packing level runs the same planned trials (CIFAR-sized synthetic data unless --data names
cifar10 or fashion-mnist) through `designspace.sweep.run_sweep` on a private Ray cluster that sees
one GPU, so the trainer's GPU path runs: data on the device, AMP (bf16 where supported, else fp16
with a GradScaler), channels_last. Utilisation comes from `nvidia-smi` (sampled every 0.5 s).
Without a CUDA GPU the bench says so and exits 0: nothing is measured.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class UtilisationSampler:
    """Mean and peak GPU utilisation (%) of device 0 from nvidia-smi, sampled in a thread."""

    def __init__(self, interval: float = 0.5):
        self.interval, self.samples, self._stop = interval, [], threading.Event()
        self.available = shutil.which("nvidia-smi") is not None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,"
                                      "nounits", "-i", "0"], capture_output=True, text=True, timeout=5).stdout
                util, mem = (float(v) for v in out.strip().splitlines()[0].split(","))
                self.samples.append((util, mem))
            except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
                pass
            self._stop.wait(self.interval)

    def __enter__(self):
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.available:
            self._thread.join(timeout=10)

    def summary(self) -> str:
        if not self.samples:
            return "utilisation n/a (nvidia-smi unavailable)"
        utils = [u for u, _ in self.samples]
        return (f"GPU utilisation mean {sum(utils) / len(utils):.0f}% (peak {max(utils):.0f}%), "
                f"memory peak {max(m for _, m in self.samples):.0f} MiB")


def run_packed(args, k: int) -> tuple[float, int, str]:
    """One sweep with 1/k GPU per trial on a private single-GPU Ray: (seconds, trials done, utilisation)."""
    import ray

    from designspace.sweep import parse_config, run_sweep

    dataset = {"name": "synthetic", "train_size": args.train_size, "test_size": args.test_size,
               "image_size": 32, "channels": 3} if args.data == "synthetic" else {"name": args.data}
    cfg = parse_config({
        "name": f"gpu_pack_{k}", "store": os.path.join(args.tmp, f"pack_{k}.db"), "spaces": [args.space],
        "models_per_space": args.models, "flops": args.flops, "regime": "cifar" if args.data != "fashion-mnist"
        else "fashion-mnist", "dataset": dataset,
        "recipe": {"epochs": args.epochs, "batch_size": args.batch_size,
                   **({"train_size": args.train_size, "test_size": args.test_size}
                      if args.data != "synthetic" else {})},
        "resources": {"cpus": max(args.cpus // k, 1) if args.cpus else 1, "gpus": 1.0 / k},
    })
    ray.init(num_gpus=1, num_cpus=max(args.cpus, k), include_dashboard=False, logging_level="ERROR")
    try:
        with UtilisationSampler() as sampler:
            t0 = time.perf_counter()
            counts = run_sweep(cfg, progress=False, out=open(os.devnull, "w"))
            seconds = time.perf_counter() - t0
    finally:
        ray.shutdown()
    return seconds, counts["done"], sampler.summary()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="RegNetX")
    parser.add_argument("--models", type=int, default=16, help="trials per packing level")
    parser.add_argument("--flops", default="20M:40M")
    parser.add_argument("--data", default="synthetic", choices=["synthetic", "cifar10", "fashion-mnist"])
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-size", type=int, default=10_000)
    parser.add_argument("--test-size", type=int, default=2_000)
    parser.add_argument("--packing", default="1,2,4,8", help="trials per GPU to compare (the first is the baseline)")
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 1, help="CPUs the private cluster offers")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("bench_gpu: needs a CUDA GPU, and torch sees none here (torch.cuda.is_available() is False); "
              "nothing was measured. Run it on a machine with a GPU.")
        return 0
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "0")  # one GPU: packing, not spreading
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    args.tmp = tempfile.mkdtemp(prefix="bench_gpu_")
    levels = [int(v) for v in args.packing.split(",")]
    print(f"bench_gpu: {args.models} trials of {args.space} ({args.flops}, {args.epochs:g} epoch on {args.train_size} "
          f"{args.data} images, batch {args.batch_size}) on {torch.cuda.get_device_name(0)}, packed "
          f"{', '.join(map(str, levels))} per GPU")
    baseline = None
    for k in levels:
        seconds, done, util = run_packed(args, k)
        per_hour = 3600 * done / seconds
        baseline = baseline or per_hour
        print(f"  {k} per GPU (gpus={1 / k:.3g}): {done} trials in {seconds:.1f} s = {per_hour:.0f} trials/hour "
              f"(x{per_hour / baseline:.2f} vs {levels[0]} per GPU); {util}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
