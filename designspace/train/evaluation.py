"""Evaluation: the top-1 test error of a model, and the test epoch after each training epoch."""
from __future__ import annotations

import time


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


def test_error(run, deadline=None) -> float | None:
    """The run's model on its test set, in its layout and precision (None when `deadline` passes first)."""
    return evaluate(run.model, run.data.test_x, run.data.test_y, run.prepare, run.recipe.eval_batch_size,
                    run.dev, run.amp_dtype, deadline)


def test_epoch(run, record, step: int, deadline=None) -> bool:
    """The test error after the epoch ending at `step`, recorded (evaluation draws no random numbers, so
    it changes no result); False when the deadline came first. Its time is not the epoch's."""
    t_eval = time.perf_counter()
    err = test_error(run, deadline)
    run.model.train()
    record.t_epoch += time.perf_counter() - t_eval
    record.eval_seconds += time.perf_counter() - t_eval
    if err is None:
        return False
    record.end_epoch(step, err)
    return True
