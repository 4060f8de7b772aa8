"""One trial as a Ray task: train a planned model, turn every outcome (done, diverged, failed, timed out)
into a store row, never raise for the trial's own error."""
from __future__ import annotations

import os
import signal
import time


class TrialTimeout(Exception):
    pass


def run_trial(trial: dict, recipe: dict, data, threads: int, timeout: float | None = None,
              attempt: int = 1, keep_state: bool = False) -> dict:
    """Train one planned trial; never raises for a trial's own error (that is a `failed` row).

    timeout: seconds for this attempt. The trainer stops at the first step past it (status
    `timeout`); a hard alarm a little later stops code that does not return to the step loop."""
    import threading
    import traceback

    from ..spec import ModelSpec
    from ..train import train

    row = dict(trial, started_at=time.time(), attempts=attempt)
    alarm = timeout is not None and threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM")
    if alarm:
        def on_alarm(signum, frame):
            raise TrialTimeout()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout * 1.1 + 5.0)
    try:
        spec = ModelSpec.from_json(trial["spec"])
        deadline = None if timeout is None else time.monotonic() + timeout
        metrics = train(spec, recipe, data, regime=trial["regime"], seed=trial["seed"], threads=threads,
                        deadline=deadline, keep_state=keep_state)
    except TrialTimeout:
        row.update(status="timeout", message=f"timeout: stopped after {time.time() - row['started_at']:.0f} s "
                                             f"(timeout {timeout:g} s)", seconds=time.time() - row["started_at"])
        return row
    except Exception as exc:  # a trial's bug or bad model must not stop the sweep: store it
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" ({os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
        row.update(status="failed", message=f"{type(exc).__name__}: {exc}{where}"[:2000])
        return row
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    extra = {k: metrics[k] for k in ("steps", "train_size", "test_size") if k in metrics}
    extra.update(metrics.get("extra") or {})  # e.g. DyRep's per-epoch cx_train
    row.update({k: metrics.get(k) for k in ("status", "error", "train_loss", "epochs", "seconds", "images_per_s",
                                            "device", "message")}, extra=extra)
    row["per_epoch"] = metrics.get("per_epoch") or []
    if metrics.get("cx_train") is not None:  # training cost measured by the trial (DyRep grows and prunes)
        row["cx_train"] = metrics["cx_train"]
    if keep_state and metrics.get("state_dict") is not None:
        row["_checkpoint"] = {"state_dict": metrics["state_dict"], "spec": metrics.get("deploy_spec")}
    return row


def failed_row(trial: dict, exc: BaseException, attempt: int = 1) -> dict:
    """A trial Ray could not run (its worker or node died on every attempt, or the task was lost)."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return dict(trial, status="failed", attempts=attempt, message=f"{type(exc).__name__}: {message}"[:2000])
