"""The trainer: one trial, a spec, a recipe and an in-memory dataset -> metrics (top-1 test error, loss,
speed), in the shape of pycls's trainer (train_epoch, test_epoch, train_model).

    recipe.py      the recipe: its fields, types and limits (the paper's defaults), the families' keys
    setup.py       a run's setup: regime and data, the seeded model in its layout, schedule, optimizer
    epoch.py       one training epoch: batch order, augmentation, the lr schedule, the SGD step
    evaluation.py  the top-1 test error, and the test epoch after each training epoch
    record.py      what a run has recorded: losses, per-epoch records, where it stopped, its clocks
    result.py      the trial's metrics
    trainer.py     train(): setup, then train_model (the epochs), then the result

Batches are indexed straight out of the uint8 tensor by a seeded permutation, augmented and normalised
as whole batches: no DataLoader, no per-sample Python.
"""
from .epoch import augment_batch, lr_at
from .evaluation import evaluate
from .recipe import RECIPE_FIELDS, REFERENCE_BATCH, Recipe
from .setup import default_threads
from .trainer import train

__all__ = ["RECIPE_FIELDS", "REFERENCE_BATCH", "Recipe", "augment_batch", "default_threads", "evaluate", "lr_at",
           "train"]
