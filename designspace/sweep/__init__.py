"""Sweeps: sample the configured spaces, train every model as a Ray task, store results as they land.

    name: paper_fashion_mnist          # required; letters, digits, '.', '_', '-'
    store: results/NAME/results.db     # default
    spaces: [AnyNetXA, AnyNetXE, RegNetX]
    models_per_space: 100
    repeats: 1                         # training runs per model, with seeds train_seed .. train_seed + repeats - 1
    seed: 0                            # sampling seed (and first training seed)
    train_seed: 0                      # default: seed; another value retrains the same models with other seeds
    regime: fashion-mnist              # default: the dataset's
    flops: 3M:8M                       # default: the regime's band
    dataset: {name: fashion-mnist, dir: null}   # synthetic also takes train_size, test_size, ...
    recipe: {epochs: 1, lr: 0.05, batch_size: 128, train_size: 5000, test_size: 2000, ...}
    # Settings that do not change results (they may change between runs of the same sweep):
    resources: {cpus: 1, gpus: 0}      # per trial; fractional gpus pack several trials on one GPU
    max_retries: 1                     # reruns of a trial whose worker process or node died
    timeout: null                      # seconds per trial attempt; a trial past it is stored as `timeout`
    checkpoints: false                 # true: save each finished model next to the store (for `deploy`)
    tensorboard: false                 # true: TensorBoard event files per trial (needs the tensorboard package)

The sweep stores its plan (every planned trial id) and its identity (everything that defines the
results: space definitions, sampling, dataset with a fingerprint of its files, regime, recipe) the
first time it runs. Rerunning resumes: finished rows are kept, the rest are trained. A rerun whose
config changed the identity is refused with the change named, unless `new_plan` (`--new-plan`)
moves the old plan's rows aside to NAME~K. `retry_failed` (`--retry-failed`) also reruns failed and
timed-out trials. One driver per sweep: a second one on the same store and sweep is refused.
A trial that raises is stored as `failed` with its message; a trial whose loss becomes NaN/inf is
stored as `diverged`; a trial past `timeout` as `timeout`.
"""
from __future__ import annotations

from .config import (
                     MAX_TIMEOUT,
                     RESULT_NEUTRAL_KEYS,
                     SweepConfig,
                     check_resources,
                     load_config,
                     parse_config,
                     read_yaml,
                     resolve_spaces,
                     space_definition,
                     tensorboard_writer_class,
)
from .driver import load_sweep_data, run_sweep
from .outputs import checkpoint_path
from .plan import identity_changes, plan_trials
from .session import check_reachable, resolve_address, start_ray
from .trial import TrialTimeout, failed_row, run_trial

__all__ = ["MAX_TIMEOUT", "RESULT_NEUTRAL_KEYS", "SweepConfig", "TrialTimeout", "check_reachable", "check_resources",
           "checkpoint_path", "failed_row", "identity_changes", "load_config", "load_sweep_data", "parse_config",
           "plan_trials", "read_yaml", "resolve_address", "resolve_spaces", "run_sweep", "run_trial",
           "space_definition", "start_ray", "tensorboard_writer_class"]
