"""Trainer throughput vs a plain DataLoader training loop: same model, same data, same threads, same run.

    python benches/bench_train.py [--flops 3M:8M] [--train-size 5000] [--threads 1] [--repeats 2]

Baselines (both torch.utils.data.DataLoader, batch 128, shuffle, num_workers=0, NCHW):
  per-sample: a Dataset that converts and normalises one image at a time (the torchvision pattern);
  tensor:     a TensorDataset of pre-normalised float images.
Prints images/s of each, the ratios (target: trainer >= 1.5x the per-sample loop), and the share of
the trainer's step time spent on data handling (indexing + uint8->float + normalise; target <= 10%).
Repeats are interleaved so that background load hits every variant alike.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def baseline_loop(spec, regime, data, recipe, per_sample: bool, seed: int = 0) -> float:
    """images/s of a textbook DataLoader loop with the same model, optimizer and schedule."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, Dataset, TensorDataset

    from designspace.models import build
    from designspace.train import lr_at

    mean = torch.tensor(data.mean).view(-1, 1, 1)
    std = torch.tensor(data.std).view(-1, 1, 1)

    class PerSample(Dataset):
        def __len__(self):
            return len(data.train_x)

        def __getitem__(self, i):
            return (data.train_x[i].float() / 255 - mean) / std, data.train_y[i]

    if per_sample:
        dataset = PerSample()
    else:
        dataset = TensorDataset((data.train_x.float() / 255 - mean) / std, data.train_y)
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(dataset, batch_size=recipe.batch_size, shuffle=True, drop_last=True, generator=g)
    torch.manual_seed(seed)
    model = build(spec, regime)
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=0.9, nesterov=True,
                          weight_decay=recipe.weight_decay)
    total = len(loader)
    model.train()
    t0 = time.perf_counter()
    for step, (xb, yb) in enumerate(loader):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, total, 0, recipe.lr, 0.1)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return total * recipe.batch_size / (time.perf_counter() - t0)


def data_share(data, recipe, steps_per_s: float, seed: int = 0) -> float:
    """Fraction of a trainer step spent on data handling, timing exactly the trainer's batch path."""
    import torch

    mean = torch.tensor(data.mean).view(1, -1, 1, 1)
    std = torch.tensor(data.std).view(1, -1, 1, 1)
    scale, shift = 1.0 / (255.0 * std), -mean / std
    gen = torch.Generator().manual_seed(seed)
    n, b = len(data.train_x), recipe.batch_size
    steps = n // b
    t0 = time.perf_counter()
    perm = torch.randperm(n, generator=gen)
    for s in range(steps):
        idx = perm[s * b:(s + 1) * b]
        xb, _labels = data.train_x[idx], data.train_y[idx]
        xb = (xb.float() * scale + shift).contiguous(memory_format=torch.channels_last)
    per_step = (time.perf_counter() - t0) / steps
    return per_step * steps_per_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flops", default="3M:8M")
    parser.add_argument("--space", default="AnyNetXE")
    parser.add_argument("--models", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import torch

    from designspace.data import load_dataset
    from designspace.spaces import get_space
    from designspace.train import Recipe, train

    torch.set_num_threads(args.threads)
    data = load_dataset("fashion-mnist").subset(args.train_size, 500)
    recipe = Recipe(epochs=1, train_size=args.train_size, test_size=500)
    specs = get_space(args.space).sample(args.models, seed=0, flops=args.flops, regime="fashion-mnist")
    print(f"bench_train: {args.models} {args.space} models in {args.flops} (fashion-mnist), {args.train_size} "
          f"images, batch {recipe.batch_size}, {args.threads} thread(s), {args.repeats} interleaved repeats")
    totals = {"trainer": [], "dataloader_tensor": [], "dataloader_per_sample": []}
    shares = []
    for spec in specs:
        # warm-up, every variant: oneDNN builds its kernels for each new shape and layout on first use
        small = Recipe(epochs=1, train_size=256, test_size=128)
        train(spec, small, data, threads=args.threads)
        for per_sample in (False, True):
            baseline_loop(spec, "fashion-mnist", data.subset(256, 128), small, per_sample=per_sample)
        for _ in range(args.repeats):
            m = train(spec, recipe, data, threads=args.threads)
            totals["trainer"].append(m["images_per_s"])
            shares.append(data_share(data, recipe, m["images_per_s"] / recipe.batch_size))
            totals["dataloader_tensor"].append(baseline_loop(spec, "fashion-mnist", data, recipe, per_sample=False))
            totals["dataloader_per_sample"].append(
                baseline_loop(spec, "fashion-mnist", data, recipe, per_sample=True))
        print(f"  {spec.id}: trainer {totals['trainer'][-1]:.0f} img/s, DataLoader(tensor) "
              f"{totals['dataloader_tensor'][-1]:.0f}, "
              f"DataLoader(per-sample) {totals['dataloader_per_sample'][-1]:.0f}")
    mean = {k: sum(v) / len(v) for k, v in totals.items()}
    print(f"images/s (mean): trainer {mean['trainer']:.0f}  DataLoader over tensors {mean['dataloader_tensor']:.0f}  "
          f"DataLoader per-sample {mean['dataloader_per_sample']:.0f}")
    ratio_ps = mean["trainer"] / mean["dataloader_per_sample"]
    ratio_t = mean["trainer"] / mean["dataloader_tensor"]
    share = sum(shares) / len(shares)
    verdict = "met" if ratio_ps >= 1.5 else "NOT met"
    print(f"ratio trainer / DataLoader per-sample: {ratio_ps:.2f}x (target >= 1.5x: {verdict})")
    print(f"ratio trainer / DataLoader over tensors: {ratio_t:.2f}x")
    print(f"data handling share of the trainer's step time: {100 * share:.1f}% "
          f"(target <= 10%: {'met' if share <= 0.10 else 'NOT met'})")
    print(f"host load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
