"""What a run has recorded so far: every step's loss, one record per finished epoch, the lr last used,
where it stopped (a timeout or divergence) and its clocks (an epoch's seconds count its training only)."""
from __future__ import annotations

import time


class Record:
    def __init__(self, run, on_epoch=None):
        import torch

        self.total = run.total
        self.losses = torch.zeros(run.total, device=run.dev)
        self.diverged_at = self.timed_out_at = None
        self.per_epoch: list[dict] = []
        self.lr = run.base_lr
        self.on_epoch = on_epoch  # called with each epoch's record as it completes
        self.eval_seconds = self.train_seconds = 0.0
        self.t_train = self.t_epoch = time.perf_counter()
        self.epoch_start = 0

    def start(self) -> None:
        """The clocks start with the first step."""
        self.t_train = self.t_epoch = time.perf_counter()
        self.epoch_start = 0

    def end_epoch(self, step: int, test_error: float, now: float | None = None) -> None:
        """The epoch ending at `step`: its mean loss, its test error, the lr and its training seconds."""
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
        return self.total if self.timed_out_at is None else self.timed_out_at
