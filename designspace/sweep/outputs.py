"""What a sweep writes besides the store: each finished model's checkpoint (for `deploy`) and
TensorBoard event files per trial."""
from __future__ import annotations

import os

from .config import tensorboard_writer_class


def save_checkpoint(cfg, row) -> None:
    """Write a finished trial's weights next to the store, in the format `deploy` reads."""
    ckpt = row.pop("_checkpoint", None)
    if ckpt is None or row.get("status") != "done":
        return
    from ..safeload import save_checkpoint as _write
    from ..spec import ModelSpec

    spec = ModelSpec.from_dict(ckpt["spec"]) if ckpt.get("spec") else ModelSpec.from_json(row["spec"])
    path = checkpoint_path(cfg, row["trial_id"])
    _write(path, spec, row["regime"], ckpt["state_dict"], trial_id=row["trial_id"], sweep=cfg.name,
           error=float(row["error"]) if row.get("error") is not None else float("nan"))
    extra = dict(row.get("extra") or {})
    extra["checkpoint"] = os.path.relpath(path, os.path.dirname(os.path.abspath(cfg.store)))
    row["extra"] = extra


def checkpoint_path(cfg, trial_id: str) -> str:
    return os.path.join(os.path.dirname(os.path.abspath(cfg.store)), "checkpoints", cfg.name, f"{trial_id}.pt")


class EpochWriter:
    """TensorBoard event files, one run per trial, from the per-epoch records the driver receives."""

    def __init__(self, cfg):
        self.cls = tensorboard_writer_class()
        self.root = os.path.join(os.path.dirname(os.path.abspath(cfg.store)), "tensorboard", cfg.name)

    def write(self, row):
        if not row.get("per_epoch"):
            return
        w = self.cls(log_dir=os.path.join(self.root, row["trial_id"]))
        try:
            for e in row["per_epoch"]:
                for key in ("train_loss", "test_error", "lr", "seconds"):
                    if e.get(key) is not None:
                        w.add_scalar(key, e[key], e["epoch"])
        finally:
            w.close()

    def close(self):
        pass
