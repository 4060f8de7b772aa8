"""A run's setup: the regime and its data, the seeded model in its memory layout, the step schedule, the
optimizer, mixed precision and the families' training hooks.

On CPU the model runs channels_last (contiguous for families that opt out: Family.cpu_channels_last)
with as many torch threads as the trial was granted; on a GPU the data lives on the device and the step
runs under autocast (bf16 where the device supports it, else fp16 with a GradScaler).
"""
from __future__ import annotations

import os
import time

from .epoch import augment_batch
from .recipe import REFERENCE_BATCH, Recipe


class Run:
    """What one training run is made of: the model on its device (seeded, in its memory layout), the
    data normalised in one multiply-add, the step schedule, the optimizer, mixed precision and the
    families' training hooks."""

    def __init__(self, spec, recipe: Recipe, data, regime, seed: int, threads, device):
        import torch

        self.recipe = recipe
        self._data(data, regime, threads, device)
        self.started = time.time()
        torch.manual_seed(seed)  # the model's initialisation, then the batch order: both from `seed`
        self._model(spec)
        self.gen = torch.Generator(device=self.dev).manual_seed(seed)
        self._inputs()
        self._schedule()
        self._optimizer()
        # The families' hooks (DyRep, CondenseNetV2's condensation, ...) draw their batches from their own
        # stream, so the training batches are the same with or without them.
        self.hook_gen = torch.Generator(device=self.dev).manual_seed(seed + 1)
        self._hooks(spec)

    def _data(self, data, regime, threads, device) -> None:
        """The regime (the given one, else the dataset's), the data subset resized for it, the device."""
        import torch

        from ..data import fit_to_regime

        recipe = self.recipe
        self.rg = rg = training_regime(regime, data.name)
        self.data = fit_to_regime(data.subset(recipe.train_size, recipe.test_size), rg)  # resized for NAME@SIZE
        if threads:
            torch.set_num_threads(int(threads))
        self.dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.on_gpu = self.dev.type == "cuda"

    def _model(self, spec) -> None:
        """The model built under the seed just set, residual blocks zero-initialised, in its layout."""
        import torch

        from ..models import build
        from ..models.layers import zero_init_final_bn
        from ..registry import cpu_channels_last

        model = build(spec, self.rg)
        if self.recipe.zero_init_residual:
            zero_init_final_bn(model)
        self.layout = (torch.channels_last if self.on_gpu or cpu_channels_last(spec, self.recipe)
                       else torch.contiguous_format)
        self.model = model.to(self.dev, memory_format=self.layout)

    def _inputs(self) -> None:
        """The training tensors on the device, and the normalisation as one multiply-add."""
        import torch

        data, dev = self.data, self.dev
        self.train_x, self.train_y = data.train_x.to(dev), data.train_y.to(dev)
        mean = torch.tensor(data.mean, device=dev).view(1, -1, 1, 1)
        std = torch.tensor(data.std, device=dev).view(1, -1, 1, 1)
        self.scale, self.shift = 1.0 / (255.0 * std), -mean / std  # x/255 normalised in one multiply-add
        self.pad = self.rg.im_size // 8

    def _schedule(self) -> None:
        """Steps per epoch, total and warm-up steps, and the lr at the batch the loop uses."""
        recipe = self.recipe
        self.n = n = len(self.train_x)
        self.batch = batch = min(recipe.batch_size, n)
        self.steps_per_epoch = max(n // batch, 1)  # drop the ragged last batch: BN dislikes tiny batches
        self.total = max(int(round(recipe.epochs * self.steps_per_epoch)), 1)
        self.warmup = int(round(recipe.warmup_epochs * self.steps_per_epoch))
        self.base_lr = recipe.lr * batch / REFERENCE_BATCH  # at the batch the loop uses (recipe's, or a small set's)

    def _optimizer(self) -> None:
        """SGD (Nesterov when there is momentum), and mixed precision on a GPU."""
        import torch

        recipe = self.recipe
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.base_lr, momentum=recipe.momentum,
                                         nesterov=recipe.nesterov and recipe.momentum > 0,
                                         weight_decay=recipe.weight_decay)
        self.amp_dtype = None
        if self.on_gpu and recipe.amp:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    def _hooks(self, spec) -> None:
        from ..registry import TrainContext, make_train_hooks

        context = TrainContext(self.recipe.epochs, self.steps_per_epoch, self.data.shape, self.hook_batch)
        self.hooks = make_train_hooks(spec, self.recipe, self.model, context)

    def prepare(self, xb):
        """A uint8 batch as the model takes it: normalised floats in the run's memory layout."""
        return (xb.float() * self.scale + self.shift).contiguous(memory_format=self.layout)

    def hook_batch(self):
        """A training batch as the loop sees it (augmented too): DyRep's BN recalibration."""
        import torch

        xb = self.train_x[torch.randint(0, self.n, (self.batch,), generator=self.hook_gen, device=self.dev)]
        return self.prepare(augment_batch(xb, self.pad, self.hook_gen) if self.recipe.augment else xb)


def training_regime(regime: str | None, dataset: str):
    """The regime a model is built and trained for: the one given (a sample row's own), else the
    dataset's (fashion-mnist for a dataset without one)."""
    from ..data import DATASET_REGIME
    from ..regimes import get_regime

    return get_regime(regime or DATASET_REGIME.get(dataset, "fashion-mnist"))


def default_threads() -> int:
    """Torch threads for a trial outside Ray: every core of this machine."""
    return os.cpu_count() or 1
