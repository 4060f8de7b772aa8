"""Train a calibration's budgets: one ordinary sweep per budget (and its repeat), in the config's order.

Every sweep resumes (finished rows kept, its plan recorded), so a calibration cut short is rerun with
the same command and trains only what is missing.
"""
from __future__ import annotations

import sys
import time

from .config import CalibrationConfig, sweep_config


def sweeps_of(cfg: CalibrationConfig) -> list:
    """[(budget, SweepConfig)] in run order: each budget, then its repeat."""
    out = []
    for budget in cfg.budgets:
        out.append((budget, sweep_config(cfg, budget)))
        if cfg.repeat:
            out.append((budget, sweep_config(cfg, budget, repeat=True)))
    return out


def run_calibration(cfg: CalibrationConfig, address: str | None = None, data_dir: str | None = None,
                    progress: bool = True, out=None) -> dict:
    """Run (or resume) every sweep; returns {"sweeps": {name: counts}, "failed": n, "seconds": wall}."""
    from ..sweep import run_sweep

    out = out or sys.stderr
    start, result, failed = time.time(), {}, 0
    for budget, sweep in sweeps_of(cfg):
        counts = run_sweep(sweep, address=address, data_dir=data_dir, progress=progress, out=out)
        result[sweep.name] = {k: v for k, v in counts.items() if k != "messages"}
        failed += counts["failed"] + counts["timeout"] + counts["left_failed"]
    return {"sweeps": result, "failed": failed, "seconds": time.time() - start}
