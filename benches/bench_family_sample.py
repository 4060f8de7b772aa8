"""Sampling speed of the seed-family spaces against AnyNetXE, measured in the same run.

Each space draws 500 distinct models inside the flops band (default: the paper's 360-400MF at the
ImageNet regime); the family complexity is vectorized like AnyNet's, so the ratio to AnyNetXE should
stay a small constant. Prints seconds, candidates drawn per kept model, and the ratio.

    python benches/bench_family_sample.py [--n 500] [--regime imagenet] [--flops 360M:400M] [--repeat 3]
"""
from __future__ import annotations

import argparse
import time

from designspace import get_space

BASELINE = "AnyNetXE"
SPACES = ["AnyNetXE+prn", "AnyNetXE+csp", "AnyNetXE+elan", "AnyNetXE+osa", "AnyNetXE+osa_csp", "AnyNetXE+stopgrad",
          "AnyNetXE+ode",
          "RegNetY+ode"]


def best_time(name: str, n: int, regime: str, flops, repeat: int) -> float:
    space = get_space(name)
    times = []
    for r in range(repeat):
        t0 = time.perf_counter()
        draw, _ = space.sample_arrays(n, seed=r, flops=flops, regime=regime)
        space.specs_from(draw)
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--regime", default="imagenet")
    p.add_argument("--flops", default=None)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    get_space(BASELINE).sample_arrays(10, regime=args.regime, flops=args.flops)  # warm imports
    base = best_time(BASELINE, args.n, args.regime, args.flops, args.repeat)
    print(f"{args.n} models per space, regime {args.regime}, band {args.flops or 'default'}, best of {args.repeat}")
    print(f"{'space':<20} {'seconds':>8} {'ratio':>6}")
    print(f"{BASELINE:<20} {base:8.3f} {1.0:6.2f}")
    for name in SPACES:
        t = best_time(name, args.n, args.regime, args.flops, args.repeat)
        print(f"{name:<20} {t:8.3f} {t / base:6.2f}")


if __name__ == "__main__":
    main()
