"""One trial: a spec, a recipe and an in-memory dataset -> metrics (top-1 test error, loss, speed).

The recipe defaults are the paper's (pycls): SGD with momentum 0.9 and Nesterov, cosine schedule,
weight decay 5e-5, lr 0.05 at batch 128 scaled linearly with the batch size, no label smoothing.
Batches are indexed straight out of the uint8 tensor by a seeded permutation, augmented (optional
random crop with padding and horizontal flip) and normalised as whole batches: no DataLoader, no
per-sample Python. On CPU the model runs channels_last (contiguous for families that opt out:
Family.cpu_channels_last) with as many torch threads as the trial was granted; on a GPU the data
lives on the device and the step runs under autocast (bf16 where the device supports it, else fp16
with a GradScaler).
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Annotated, Any

from pydantic import BaseModel, Field

from .errors import UsageError
from .limits import MAX_BATCH, MAX_EPOCHS, MAX_IMAGES
from .schema import STRICT, Flag, Integer, Number, validate
from .spec import FrozenDict

REFERENCE_BATCH = 128  # lr is given at this batch size and scaled linearly (Goyal et al.; pycls)


class RecipeFields(BaseModel):
    """The core recipe keys with their types and ranges (the families' own keys are checked by their
    modules). Sizes past the limits cannot be meant (a typo, or 1e9): refused rather than run for ever."""
    model_config = STRICT
    epochs: Annotated[Number, Field(gt=0, le=MAX_EPOCHS)]
    batch_size: Annotated[Integer, Field(gt=0, le=MAX_BATCH)]
    lr: Annotated[Number, Field(gt=0)]
    momentum: Annotated[Number, Field(ge=0, lt=1)]
    nesterov: Flag
    weight_decay: Annotated[Number, Field(ge=0)]
    warmup_epochs: Annotated[Number, Field(ge=0, le=MAX_EPOCHS)]
    warmup_factor: Annotated[Number, Field(gt=0, le=1)]
    label_smoothing: Annotated[Number, Field(ge=0, lt=1)]
    zero_init_residual: Flag
    train_size: Annotated[Integer, Field(gt=0, le=MAX_IMAGES)] | None
    test_size: Annotated[Integer, Field(gt=0, le=MAX_IMAGES)] | None
    augment: Flag
    eval_batch_size: Annotated[Integer, Field(gt=0, le=MAX_BATCH)]
    amp: Flag


@dataclass(frozen=True)
class Recipe:
    """How one model is trained. `lr` is the learning rate at batch 128; the trainer uses
    lr * batch_size / 128. train_size / test_size take a fixed random subset (None: all)."""

    epochs: float = 1.0
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-5
    warmup_epochs: float = 0.0  # linear warm-up from warmup_factor * lr, then cosine
    warmup_factor: float = 0.1
    label_smoothing: float = 0.0
    # pycls BN.ZERO_INIT_FINAL_GAMMA: every residual block starts as its shortcut, which is what
    # lets deep models (RegNets of 40-60 blocks) learn anything in a one-epoch proxy run.
    zero_init_residual: bool = True
    train_size: int | None = None
    test_size: int | None = None
    augment: bool = False  # random crop (padding im_size // 8) + horizontal flip
    eval_batch_size: int = 256
    amp: bool = True  # GPU only: autocast (bf16 or fp16)
    # Options of the families' own recipe keys (Family.recipe_keys in designspace.registry), by key; set ones
    # only. In the JSON form (from_dict / to_dict) they are top-level keys like the fields above, and an
    # unset one is absent, so the recipes (and trial ids) written before a family existed do not change.
    family_options: Mapping[str, Any] = field(default_factory=FrozenDict, hash=False)

    def __post_init__(self):
        core = {name: getattr(self, name) for name in RecipeFields.model_fields}
        checked = validate(RecipeFields, core, "", at="recipe")
        for name in core:  # canonical types: 1 -> 1.0 for float keys, 64.0 -> 64 for integer ones
            object.__setattr__(self, name, getattr(checked, name))
        from .registry import recipe_keys, validate_recipe

        if not isinstance(self.family_options, Mapping):
            raise UsageError(f"recipe.family_options must be a mapping, got {self.family_options!r}")
        owned = recipe_keys()
        for key in self.family_options:
            if key not in owned or key in _CORE_KEYS:
                raise UsageError(f"unknown recipe key recipe.{key}; valid: {', '.join(_valid_keys())}")
        object.__setattr__(self, "family_options",
                           FrozenDict({k: v for k, v in self.family_options.items() if v is not None}))
        validate_recipe(self)  # every family checks its own options (one-line UsageErrors)

    def family_option(self, key: str, default: Any = None) -> Any:
        """The value of a family-owned recipe key as given (plain dicts and lists), or `default`."""
        return self.family_options.thaw().get(key, default)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Recipe:
        """A recipe from its JSON form: the core fields, and the top-level keys registered families own."""
        from .registry import recipe_keys

        data = dict(data or {})
        owned = recipe_keys()
        core, family = {}, {}
        for key, value in data.items():
            if key in _CORE_KEYS:
                core[key] = value
            elif key in owned:
                family[key] = value
            else:
                raise UsageError(f"unknown recipe key recipe.{key}; valid: {', '.join(_valid_keys())}")
        return cls(**core, family_options=family)

    def to_dict(self) -> dict:
        """The JSON form: core fields, then the set family options as top-level keys (what trial ids hash)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "family_options"}
        out.update(self.family_options.thaw())
        return out


_CORE_KEYS = frozenset(f.name for f in fields(Recipe)) - {"family_options"}


def _valid_keys() -> list[str]:
    from .registry import recipe_keys

    return sorted(_CORE_KEYS | set(recipe_keys()))


def _device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu ({torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''})"


def augment_batch(x, pad: int, generator):
    """Random crop with zero padding and horizontal flip, for a whole uint8 batch (N, C, H, W)."""
    import torch
    import torch.nn.functional as F

    n, c, h, w = x.shape
    dev = x.device
    if pad > 0:
        padded = F.pad(x, (pad, pad, pad, pad))
        oy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=dev)
        ox = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=dev)
        rows = (oy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, None, :]
        x = padded[torch.arange(n, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
                   rows, cols]
    flip = torch.rand(n, generator=generator, device=dev) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def lr_at(step: int, total: int, warmup: int, base: float, warmup_factor: float) -> float:
    """Cosine schedule over all steps (pycls), with linear warm-up over the first `warmup` steps."""
    lr = 0.5 * base * (1.0 + math.cos(math.pi * step / max(total, 1)))
    if step < warmup:
        alpha = step / warmup
        lr *= warmup_factor * (1 - alpha) + alpha
    return lr


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
    run = _Run(spec, recipe, data, regime, seed, threads, device)
    loop = _Loop(run, deadline, on_epoch, on_step)
    loop.train_model()
    return _result(run, loop, keep_state)


class _Run:
    """What one training run is made of: the model on its device (seeded, in its memory layout), the
    data normalised in one multiply-add, the step schedule, the optimizer, mixed precision and the
    families' training hooks."""

    def __init__(self, spec, recipe: Recipe, data, regime, seed: int, threads, device):
        import torch

        from .data import DATASET_REGIME, fit_to_regime
        from .models import build
        from .models.layers import zero_init_final_bn
        from .regimes import get_regime
        from .registry import TrainContext, cpu_channels_last, make_train_hooks

        self.recipe = recipe
        self.rg = rg = get_regime(regime or DATASET_REGIME.get(data.name, "fashion-mnist"))
        self.data = data = fit_to_regime(data.subset(recipe.train_size, recipe.test_size), rg)  # resized for NAME@SIZE
        if threads:
            torch.set_num_threads(int(threads))
        self.dev = dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.on_gpu = dev.type == "cuda"
        self.started = time.time()
        torch.manual_seed(seed)
        model = build(spec, rg)
        if recipe.zero_init_residual:
            zero_init_final_bn(model)
        self.layout = torch.channels_last if self.on_gpu or cpu_channels_last(spec, recipe) else torch.contiguous_format
        self.model = model.to(dev, memory_format=self.layout)
        self.gen = torch.Generator(device=dev).manual_seed(seed)
        self.train_x, self.train_y = data.train_x.to(dev), data.train_y.to(dev)
        mean = torch.tensor(data.mean, device=dev).view(1, -1, 1, 1)
        std = torch.tensor(data.std, device=dev).view(1, -1, 1, 1)
        self.scale, self.shift = 1.0 / (255.0 * std), -mean / std  # x/255 normalised in one multiply-add
        self.n = n = len(self.train_x)
        self.batch = batch = min(recipe.batch_size, n)
        self.steps_per_epoch = max(n // batch, 1)  # drop the ragged last batch: BN dislikes tiny batches
        self.total = max(int(round(recipe.epochs * self.steps_per_epoch)), 1)
        self.warmup = int(round(recipe.warmup_epochs * self.steps_per_epoch))
        self.base_lr = recipe.lr * batch / REFERENCE_BATCH  # at the batch the loop uses (recipe's, or a small set's)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=self.base_lr, momentum=recipe.momentum,
                                         nesterov=recipe.nesterov and recipe.momentum > 0,
                                         weight_decay=recipe.weight_decay)
        self.amp_dtype = None
        if self.on_gpu and recipe.amp:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.pad = rg.im_size // 8
        # The families' hooks (DyRep, CondenseNetV2's condensation, ...) draw their batches from their own
        # stream, so the training batches are the same with or without them.
        self.hook_gen = torch.Generator(device=dev).manual_seed(seed + 1)
        context = TrainContext(recipe.epochs, self.steps_per_epoch, data.shape, self.hook_batch)
        self.hooks = make_train_hooks(spec, recipe, self.model, context)

    def prepare(self, xb):
        return (xb.float() * self.scale + self.shift).contiguous(memory_format=self.layout)

    def hook_batch(self):
        """A training batch as the loop sees it (augmented too): DyRep's BN recalibration."""
        import torch

        xb = self.train_x[torch.randint(0, self.n, (self.batch,), generator=self.hook_gen, device=self.dev)]
        return self.prepare(augment_batch(xb, self.pad, self.hook_gen) if self.recipe.augment else xb)

    def test_error(self, deadline=None) -> float | None:
        return evaluate(self.model, self.data.test_x, self.data.test_y, self.prepare, self.recipe.eval_batch_size,
                        self.dev, self.amp_dtype, deadline)


class _Loop:
    """The steps of a run, epoch by epoch: one SGD step each (train_step), the test error after every
    epoch but the last (test_epoch), and the per-epoch records; stops early on a non-finite loss or at
    the deadline."""

    def __init__(self, run: _Run, deadline, on_epoch, on_step):
        import torch

        self.run, self.deadline, self.on_epoch, self.on_step = run, deadline, on_epoch, on_step
        self.losses = torch.zeros(run.total, device=run.dev)
        self.diverged_at = self.timed_out_at = None
        self.per_epoch: list[dict] = []
        self.lr = run.base_lr
        self.eval_seconds = 0.0
        self.perm = None

    def train_model(self) -> None:
        import torch

        run = self.run
        run.model.train()
        self.t_train = self.t_epoch = time.perf_counter()
        self.epoch_start = 0
        for step in range(run.total):
            if self.deadline is not None and time.monotonic() > self.deadline:
                self.timed_out_at = step
                break
            self.train_step(step)
            if self.on_step is not None:
                self.on_step(step + 1, run.total)
            if self._diverged(step):
                self.diverged_at = step
                break
            if (step + 1) % run.steps_per_epoch == 0 and step + 1 < run.total:  # the last epoch's error is final
                if not self.test_epoch(step):
                    self.timed_out_at = step + 1
                    break
        if self.diverged_at is None and not all(torch.isfinite(p).all() for p in run.model.parameters()):
            self.diverged_at = run.total - 1  # the last update overflowed the weights though its loss was finite
        if run.on_gpu:
            torch.cuda.synchronize(run.dev)
        self.train_seconds = time.perf_counter() - self.t_train - self.eval_seconds

    def train_step(self, step: int) -> None:
        import torch
        import torch.nn.functional as F

        run, recipe = self.run, self.run.recipe
        pos = (step % run.steps_per_epoch) * run.batch
        if pos == 0:
            self.perm = torch.randperm(run.n, generator=run.gen, device=run.dev)
        idx = self.perm[pos:pos + run.batch]
        xb, yb = run.train_x[idx], run.train_y[idx]
        if recipe.augment:
            xb = augment_batch(xb, run.pad, run.gen)
        self.lr = lr_at(step, run.total, run.warmup, run.base_lr, recipe.warmup_factor)
        for group in run.optimizer.param_groups:
            group["lr"] = self.lr
        run.hooks.before_step(run.model, step, step / run.total)
        with torch.autocast(run.dev.type, dtype=run.amp_dtype, enabled=run.amp_dtype is not None):
            loss = F.cross_entropy(run.model(run.prepare(xb)), yb, label_smoothing=recipe.label_smoothing)
        run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        run.hooks.after_backward(run.model, step)
        run.scaler.step(run.optimizer)
        run.scaler.update()
        if (step + 1) % run.steps_per_epoch == 0:
            run.hooks.on_epoch_end(run.model, run.optimizer, (step + 1) // run.steps_per_epoch)
        self.losses[step] = loss.detach().float()

    def _diverged(self, step: int) -> bool:
        """A non-finite loss. On CPU the check is free; on a GPU it syncs, so look every 50 steps and at the end."""
        import torch

        if self.run.on_gpu:
            return (step % 50 == 49 or step == self.run.total - 1) and not torch.isfinite(self.losses[: step + 1]).all()
        return not math.isfinite(self.losses[step].item())

    def test_epoch(self, step: int) -> bool:
        """The test error after the epoch ending at `step`, recorded; False when the deadline came first."""
        t_eval = time.perf_counter()
        err = self.run.test_error(self.deadline)
        self.run.model.train()
        self.t_epoch += time.perf_counter() - t_eval  # an epoch's seconds are its training time
        self.eval_seconds += time.perf_counter() - t_eval
        if err is None:
            return False
        self.end_epoch(step, err)
        return True

    def end_epoch(self, step: int, test_error: float, now: float | None = None) -> None:
        now = now or time.perf_counter()
        record = {"epoch": len(self.per_epoch) + 1, "train_loss": float(self.losses[self.epoch_start:step + 1].mean()),
                  "test_error": test_error, "lr": self.lr, "seconds": now - self.t_epoch}
        self.per_epoch.append(record)
        if self.on_epoch is not None:
            self.on_epoch(record)
        self.t_epoch, self.epoch_start = time.perf_counter(), step + 1

    @property
    def steps_run(self) -> int:
        if self.diverged_at is not None:
            return self.diverged_at + 1
        return self.run.total if self.timed_out_at is None else self.timed_out_at


def _result(run: _Run, loop: _Loop, keep_state: bool) -> dict:
    """The metrics of a finished (or stopped) run; a finished one is evaluated a last time, after the
    families' end-of-training hooks (DyRep deploys the base network, CondenseNetV2 converts)."""
    steps, started = loop.steps_run, run.started
    result = {"epochs": steps / run.steps_per_epoch, "images_per_s": steps * run.batch / max(loop.train_seconds, 1e-9),
              "device": _device_name(run.dev), "steps": steps, "train_size": run.n,
              "test_size": len(run.data.test_x), "per_epoch": loop.per_epoch}
    if loop.timed_out_at is not None:
        result.update(status="timeout", error=None, train_loss=None, seconds=time.time() - started,
                      message=f"timeout: stopped at step {loop.timed_out_at} of {run.total} "
                              f"({steps / run.steps_per_epoch:.2f} epochs) after {time.time() - started:.1f} s")
        return result
    if loop.diverged_at is not None:
        result.update(status="diverged", error=None, train_loss=None, seconds=time.time() - started,
                      message=f"diverged: loss or weights became non-finite at step {loop.diverged_at + 1} of "
                              f"{run.total}")
        return result
    result["train_loss"] = float(loop.losses[max(run.total - run.steps_per_epoch, 0):].mean())
    t_end = time.perf_counter()
    if keep_state:  # the trained form, which build(spec) makes again; `deploy` converts it
        result["state_dict"] = {k: v.detach().to("cpu", copy=True) for k, v in run.model.state_dict().items()}
    run.hooks.on_train_end(run.model)
    result.update(run.hooks.report())
    result["error"] = run.test_error()
    if steps > loop.epoch_start:  # the last (maybe partial) epoch: its error is the final one
        loop.end_epoch(steps - 1, result["error"], t_end)
    result.update(status="done", seconds=time.time() - started, message=None)
    return result


def evaluate(model, test_x, test_y, prepare, batch_size, dev, amp_dtype=None, deadline=None) -> float | None:
    """Top-1 error in percent over the test tensors (None when `deadline` passes first)."""
    import torch

    model.eval()
    wrong = torch.zeros((), dtype=torch.int64, device=dev)
    with torch.inference_mode(), torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        for start in range(0, len(test_x), batch_size):
            if deadline is not None and time.monotonic() > deadline:
                return None
            xb = test_x[start:start + batch_size].to(dev, non_blocking=True)
            yb = test_y[start:start + batch_size].to(dev, non_blocking=True)
            wrong += (model(prepare(xb)).argmax(1) != yb).sum()
    return 100.0 * float(wrong) / max(len(test_x), 1)


def default_threads() -> int:
    """Torch threads for a trial outside Ray: every core of this machine."""
    return os.cpu_count() or 1
