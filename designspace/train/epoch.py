"""One training epoch: its batches in a seeded order, augmented (optional random crop with padding and
horizontal flip) and normalised as whole batches (no DataLoader, no per-sample Python), one SGD step
each at the lr of the cosine schedule, the families' hooks around each step, and the divergence check.
"""
from __future__ import annotations

import math
import time


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


def train_epoch(run, record, first: int, last: int, deadline=None, on_step=None) -> bool:
    """Steps first .. last - 1 (an epoch, or the last one's part) in a fresh seeded order of the
    training set; False when the run stops inside it (the deadline passed: record.timed_out_at, or
    the loss became non-finite: record.diverged_at)."""
    import torch

    order = None
    for step in range(first, last):
        if deadline is not None and time.monotonic() > deadline:
            record.timed_out_at = step
            return False
        if order is None:  # drawn at the epoch's first step, not before a deadline that stops the run
            order = torch.randperm(run.n, generator=run.gen, device=run.dev)
        pos = (step - first) * run.batch
        train_step(run, record, step, order[pos:pos + run.batch])
        if on_step is not None:
            on_step(step + 1, run.total)
        if diverged(run, record, step):
            record.diverged_at = step
            return False
    return True


def train_step(run, record, step: int, idx) -> None:
    """One SGD step on the training images `idx` (augmented when the recipe says so), at the
    schedule's lr; its loss goes into record.losses[step]."""
    import torch
    import torch.nn.functional as F

    recipe = run.recipe
    xb, yb = run.train_x[idx], run.train_y[idx]
    if recipe.augment:
        xb = augment_batch(xb, run.pad, run.gen)
    record.lr = lr_at(step, run.total, run.warmup, run.base_lr, recipe.warmup_factor)
    for group in run.optimizer.param_groups:
        group["lr"] = record.lr
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
    record.losses[step] = loss.detach().float()


def diverged(run, record, step: int) -> bool:
    """A non-finite loss. On CPU the check is free; on a GPU it syncs, so look every 50 steps and at the end."""
    import torch

    if run.on_gpu:
        return (step % 50 == 49 or step == run.total - 1) and not torch.isfinite(record.losses[: step + 1]).all()
    return not math.isfinite(record.losses[step].item())
