"""Sampling speed: vectorized rejection vs a one-model-at-a-time loop (the way pycls's sweep sampler
works), both measured in this run.

The baseline draws one AnyNetXE candidate at a time with numpy scalars, rejects unordered draws,
makes widths/groups compatible and computes its complexity with a per-block Python loop of
pycls-style `*_cx` dict updates. It is *faster* than pycls itself, which also pays a yacs config
reset + merge (~3.3 ms) per draw; pycls's sweep code is not on PyPI (pycls==0.1.1 predates it), so
this loop stands in for it. The loop is far too slow to reach 500 models, so it runs for a fixed
time and its rate of kept models is extrapolated.

Targets: >= 50x faster than the loop; `designspace sample --space AnyNetXE -n 500` under 2 s as a
whole process; >= 1e5 specs/s complexity throughput.

Spaces as data: 500 models of a user-defined space (a YAML-style dict with two constraints
and a tie) within 1.5x of the built-in AnyNetXE's time (median of 5, same run); 10,000 AnyNetXE
models in 360-400MF (the class-based sampler took 4.5 s); 10,000 RegNetX models in 360-400MF (the
fixed draw cap used to stop at 9,081); an impossible band and an impossible constraint fail within
seconds.
"""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

from designspace.complexity import complexity_arrays
from designspace.errors import UsageError
from designspace.spaces import get_space

LO, HI = 360e6, 400e6


def _conv_cx(cx, w_in, w_out, k, stride=1, groups=1, bias=False):
    h = (cx["h"] - 1) // stride + 1
    cx["flops"] += k * k * w_in * w_out * h * h // groups + (w_out if bias else 0)
    cx["params"] += k * k * w_in * w_out // groups + (w_out if bias else 0)
    cx["acts"] += w_out * h * h
    cx["h"] = h


def _bn_cx(cx, w):
    cx["params"] += 2 * w


def _loop_complexity(ws, ds, bs, gs):
    cx = {"h": 224, "flops": 0, "params": 0, "acts": 0}
    _conv_cx(cx, 3, 32, 3, stride=2)
    _bn_cx(cx, 32)
    w_in = 32
    for w, d, b, g in zip(ws, ds, bs, gs):
        for i in range(d):
            stride = 2 if i == 0 else 1
            h_in = cx["h"]
            if w_in != w or stride != 1:
                _conv_cx(cx, w_in, w, 1, stride)
                _bn_cx(cx, w)
                cx["h"] = h_in
            w_b = int(round(w / b))
            _conv_cx(cx, w_in, w_b, 1)
            _bn_cx(cx, w_b)
            _conv_cx(cx, w_b, w_b, 3, stride, w_b // g)
            _bn_cx(cx, w_b)
            _conv_cx(cx, w_b, w, 1)
            _bn_cx(cx, w)
            w_in = w
    cx["flops"] += w_in * 1000 + 1000
    return cx["flops"]


def _log_uniform(low, high, q):
    f = np.exp(-np.random.uniform(-np.log(high), -np.log(low - min(q, low / 2))))
    return int(np.ceil(f / q) * q)


def one_at_a_time(seconds: float) -> tuple[int, int, float]:
    """Draw AnyNetXE candidates one by one for `seconds`; returns (kept, drawn, elapsed)."""
    np.random.seed(0)
    kept = drawn = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        drawn += 1
        ds = [_log_uniform(1, 16, 1) for _ in range(4)]
        ws = [_log_uniform(8, 1024, 8) for _ in range(4)]
        b = [1, 2, 4][np.random.randint(3)]
        g = [1, 2, 4, 8, 16, 32][np.random.randint(6)]
        if ws != sorted(ws) or ds != sorted(ds):
            continue
        gs = []
        for i, w in enumerate(ws):  # pycls adjust_block_compatibility
            v = int(max(1, w / b))
            gi = int(min(g, v))
            v = max(gi, int(round(v / gi) * gi))
            ws[i], gs = int(v * b), gs + [gi]
        if LO <= _loop_complexity(ws, ds, [b] * 4, gs) <= HI:
            kept += 1
    return kept, drawn, time.perf_counter() - start


USER_SPACE = {  # what a user writes in a space file: AnyNetXE-like, first two widths tied, two limits
    "name": "user-anynet", "kind": "anynet", "stages": 4, "block": "res_bottleneck",
    "params": {"d": {"log_int": [1, 16], "per_stage": True, "non_decreasing": True},
               "w": {"log_uniform": [8, 1024], "q": 8, "int": True, "per_stage": True, "non_decreasing": True},
               "b": {"choice": [1, 2, 4]}, "g": {"choice": [1, 2, 4, 8, 16, 32]}},
    "tie": {"w1": "w2"},
    "constraints": ["d <= 30", "params <= 8M"],
}


def _median_time(fn, repeats=5):
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        fn(r)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def spaces_as_data():
    builtin, user = get_space("AnyNetXE"), get_space(USER_SPACE)
    builtin.sample(20), user.sample(20)  # warm-up
    t_builtin = _median_time(lambda r: builtin.sample_arrays(500, seed=r))
    t_user = _median_time(lambda r: user.sample_arrays(500, seed=r))
    print(f"500 models: built-in AnyNetXE {t_builtin:.3f} s, user-defined (2 constraints, 1 tie) {t_user:.3f} s; "
          f"ratio {t_user / t_builtin:.2f}  (target <= 1.5)")
    for name in ("AnyNetXE", "RegNetX"):
        t0 = time.perf_counter()
        dr, cx = get_space(name).sample_arrays(10_000, seed=0)
        dt = time.perf_counter() - t0
        ok = len(dr) == 10_000 and cx["flops"].min() >= LO and cx["flops"].max() <= HI
        print(f"10,000 {name} models in 360-400MF: {dt:.2f} s ({'ok' if ok else 'WRONG'})"
              + ("  (class-based sampler: 4.5 s)" if name == "AnyNetXE" else "  (fixed cap: stopped at 9,081)"))
    for label, space, flops in (("impossible band", "AnyNetXE", "1K:2K"),
                                ("impossible constraint", "RegNetX[params<1000]", None)):
        t0 = time.perf_counter()
        try:
            get_space(space).sample_arrays(10, flops=flops)
            msg = "did not fail"
        except UsageError as exc:
            msg = str(exc)
        print(f"{label}: failed after {time.perf_counter() - t0:.2f} s: {msg[:160]}...")


def main():
    spaces_as_data()
    space = get_space("AnyNetXE")
    space.sample(50)  # warm-up (imports, first allocations)
    t0 = time.perf_counter()
    specs = space.sample(500)
    t_vec = time.perf_counter() - t0
    assert len(specs) == 500

    kept, drawn, t_loop = one_at_a_time(20.0)
    per_model = t_loop / max(kept, 1)
    t_loop_500 = per_model * 500
    print(f"one-at-a-time loop: {drawn} draws in {t_loop:.1f} s, {kept} kept "
          f"({drawn / t_loop:,.0f} draws/s); extrapolated 500 models: {t_loop_500:,.0f} s")
    print(f"vectorized sample(500): {t_vec:.3f} s")
    print(f"speed-up: {t_loop_500 / t_vec:,.0f}x  (target >= 50x)")

    draw = space.to_arrays(get_space("AnyNetXA").draw(np.random.default_rng(0), 1_000_000))
    t0 = time.perf_counter()
    complexity_arrays(draw, "imagenet")
    t_cx = time.perf_counter() - t0
    print(f"complexity throughput: {1e6 / t_cx:,.0f} specs/s  (target >= 1e5)")

    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "designspace", "sample", "--space", "AnyNetXE", "-n", "500"],
                       check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    print(f"`designspace sample --space AnyNetXE -n 500` process: best {min(times):.2f} s, "
          f"median {sorted(times)[1]:.2f} s  (target < 2 s)")


if __name__ == "__main__":
    main()
