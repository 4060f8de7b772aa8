"""train(): one trial from a spec, a recipe and an in-memory dataset, as its named steps: the run's setup,
then the epochs (each a training epoch, then a test epoch but for the last), then the result."""
from __future__ import annotations

import time
from collections.abc import Mapping

from ..errors import UsageError
from .epoch import train_epoch
from .evaluation import test_epoch
from .recipe import Recipe
from .record import Record
from .result import result
from .setup import Run


def train(spec, recipe: Recipe | Mapping | None = None, data=None, regime: str | None = None, seed: int = 0,
          threads: int | None = None, device: str | None = None, deadline: float | None = None,
          on_epoch=None, keep_state: bool = False, on_step=None) -> dict:
    """Train `spec` on `data` (a designspace.data.Dataset) with `recipe`; return a metrics dict:
    status (done | diverged | timeout), error (top-1 test error, %), train_loss (mean over the last
    epoch), epochs, seconds, images_per_s (training), device, steps, message, and per_epoch: one
    record per epoch {epoch, train_loss, test_error, lr, seconds} (the test error after every epoch;
    the last epoch's is the final error).

    Seeded: the same spec, recipe, data, seed and thread count give the same numbers on CPU
    (evaluating after each epoch draws no random numbers, so it changes no result).
    threads: torch intra-op threads on CPU (default: leave torch's setting).
    deadline: time.monotonic() past which training stops with status `timeout`.
    on_epoch: called with each epoch's record as it completes (the CLI prints a line).
    on_step: called as on_step(steps done, total steps) after every training step (the CLI's
    progress bar within an epoch).
    keep_state: also return the trained weights (state_dict, CPU tensors) for a checkpoint."""
    recipe = recipe if isinstance(recipe, Recipe) else Recipe.from_dict(recipe)
    if data is None:
        raise UsageError("train needs a dataset")
    run = Run(spec, recipe, data, regime, seed, threads, device)
    record = Record(run, on_epoch)
    train_model(run, record, deadline, on_step)
    return result(run, record, keep_state)


def train_model(run: Run, record: Record, deadline=None, on_step=None) -> None:
    """Epoch after epoch: a training epoch, then the test error after every epoch but the last (whose
    error the result measures, after the families' end-of-training hooks); stops early on a non-finite
    loss or at the deadline."""
    import torch

    run.model.train()
    record.start()
    for first in range(0, run.total, run.steps_per_epoch):
        last = min(first + run.steps_per_epoch, run.total)
        if not train_epoch(run, record, first, last, deadline, on_step):
            break
        if last < run.total and not test_epoch(run, record, last - 1, deadline):
            record.timed_out_at = last
            break
    if record.diverged_at is None and not all(torch.isfinite(p).all() for p in run.model.parameters()):
        record.diverged_at = run.total - 1  # the last update overflowed the weights though its loss was finite
    if run.on_gpu:
        torch.cuda.synchronize(run.dev)
    record.train_seconds = time.perf_counter() - record.t_train - record.eval_seconds
