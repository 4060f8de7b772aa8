"""A budget's cost per model, probed: seconds per training image and per test image of the sample's first
model in each space, timed on one thread in short runs, then scaled to each budget's sizes.

Why besides the sweeps' own seconds: a trial's seconds measure the machine as it was during the run,
and a calibration shares its machine with whatever else runs (measured here: the same budget 2-4x
slower while tests ran beside it). The probe is short, so it can be rerun on an idle (or prioritised)
core and gives every budget's cost under the same conditions.
"""
from __future__ import annotations

import time

import numpy as np

from .config import CalibrationConfig, sweep_config

SIZES = ((2048, 512), (512, 2048), (512, 512))  # (train, test) images: solve for train, test and setup costs


def probe(cfg: CalibrationConfig, data_dir: str | None = None) -> dict:
    """{budget: core-seconds per model} from per-image costs of the first model of each space."""
    from ..spec import ModelSpec
    from ..sweep import load_sweep_data, plan_trials
    from ..train import Recipe, train

    first = sweep_config(cfg, next(iter(cfg.budgets)))
    trials = plan_trials(first, data_dir)
    probes = {}
    for t in trials:
        probes.setdefault(t["space"], t)
    per_model = []
    for t in probes.values():
        spec = ModelSpec.from_json(t["spec"])
        seconds = []
        for train_size, test_size in SIZES:
            recipe = Recipe.from_dict({**first.recipe.to_dict(), "epochs": 1, "train_size": train_size,
                                       "test_size": test_size})
            sized = sweep_config(cfg, next(iter(cfg.budgets)))
            sized.recipe = recipe
            data = load_sweep_data(sized, data_dir)
            start = time.perf_counter()
            train(spec, recipe, data, regime=t["regime"], seed=0, threads=1)
            seconds.append(time.perf_counter() - start)
        a, b, c = seconds
        per_train, per_test = (a - c) / 1536.0, (b - c) / 1536.0
        per_model.append((max(per_train, 0.0), max(per_test, 0.0), max(c - 512 * (per_train + per_test), 0.0)))
    train_s, test_s, setup_s = (float(np.mean(v)) for v in zip(*per_model))
    out = {"seconds_per_train_image": train_s, "seconds_per_test_image": test_s, "setup_seconds": setup_s,
           "models": len(per_model), "budgets": {}}
    for budget, overrides in cfg.budgets.items():
        recipe = sweep_config(cfg, budget).recipe
        images = recipe.epochs * (recipe.train_size or 60_000)
        out["budgets"][budget] = setup_s + images * train_s + (recipe.test_size or 10_000) * test_s
    return out
