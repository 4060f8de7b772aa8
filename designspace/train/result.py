"""The trial result: the metrics of a finished, diverged or timed-out run."""
from __future__ import annotations

import time

from .evaluation import test_error


def result(run, record, keep_state: bool) -> dict:
    """The metrics of a finished (or stopped) run; a finished one is evaluated a last time, after the
    families' end-of-training hooks (DyRep deploys the base network, CondenseNetV2 converts)."""
    steps, started = record.steps_run, run.started
    out = {"epochs": steps / run.steps_per_epoch, "images_per_s": steps * run.batch / max(record.train_seconds, 1e-9),
           "device": device_name(run.dev), "steps": steps, "train_size": run.n,
           "test_size": len(run.data.test_x), "per_epoch": record.per_epoch}
    if record.timed_out_at is not None:
        out.update(status="timeout", error=None, train_loss=None, seconds=time.time() - started,
                   message=f"timeout: stopped at step {record.timed_out_at} of {run.total} "
                           f"({steps / run.steps_per_epoch:.2f} epochs) after {time.time() - started:.1f} s")
        return out
    if record.diverged_at is not None:
        out.update(status="diverged", error=None, train_loss=None, seconds=time.time() - started,
                   message=f"diverged: loss or weights became non-finite at step {record.diverged_at + 1} of "
                           f"{run.total}")
        return out
    out["train_loss"] = float(record.losses[max(run.total - run.steps_per_epoch, 0):].mean())
    t_end = time.perf_counter()
    if keep_state:  # the trained form, which build(spec) makes again; `deploy` converts it
        out["state_dict"] = {k: v.detach().to("cpu", copy=True) for k, v in run.model.state_dict().items()}
    run.hooks.on_train_end(run.model)
    out.update(run.hooks.report())
    out["error"] = test_error(run)
    if steps > record.epoch_start:  # the last (maybe partial) epoch: its error is the final one
        record.end_epoch(steps - 1, out["error"], t_end)
    out.update(status="done", seconds=time.time() - started, message=None)
    return out


def device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu ({torch.get_num_threads()} thread{'s' if torch.get_num_threads() > 1 else ''})"
