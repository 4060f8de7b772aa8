"""Deploy a trained model: its family fuses (rep) or condenses (CondenseNetV2) it into the inference
form, which is verified against the trained one and saved.

A checkpoint is ``torch.save({"spec": spec.to_dict(), "regime": regime_name, "state_dict": sd})`` where
sd is the state_dict of ``designspace.models.build(spec, regime)``. `deploy_checkpoint` writes the
same layout for the deploy network plus "deployed": <form> and "max_abs_diff"; for the rep family the
saved spec is the base spec, so ``build(spec, regime).load_state_dict(sd)`` loads it. The family part
is its registry hook (``Family.deploy`` / ``Family.load_deployed``).
"""
from __future__ import annotations

import os

from .errors import UsageError


def deploy_model(model, spec, regime, atol: float = 1e-4, batch: int = 4, seed: int = 0):
    """(deployed model, deploy spec, form, max |eval output difference|) of a trained `model`.

    Verification: on a seeded random batch the eval-mode outputs agree within atol (scaled by the
    output magnitude)."""
    import torch

    from .regimes import get_regime
    from .registry import family_deploy, family_of

    rg = get_regime(regime)
    hook = family_deploy(spec)
    if hook is None:
        fam = family_of(spec)
        raise UsageError(f"deploy: spec {spec.id} has no training-only structure (family "
                         f"{fam.name if fam else 'anynet'!r}); nothing to fuse")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, rg.channels, rg.im_size, rg.im_size, generator=gen)
    model.eval()
    with torch.no_grad():
        before = model(x)
    deployed, deploy_spec, form = hook(model, spec, rg)
    deployed.eval()
    with torch.no_grad():
        after = deployed(x)
    diff = float((after - before).abs().max())
    scale = max(1.0, float(before.abs().max()))
    if after.shape != before.shape or diff > atol * scale:
        raise RuntimeError(f"deploy: outputs differ by {diff:.3g} (> {atol:g} x {scale:.3g}) after {form}")
    return deployed, deploy_spec, form, diff


def load_checkpoint(path: str):
    """(model, spec, regime name, checkpoint dict) from a checkpoint written by training or deploy,
    read with torch.load(weights_only=True) (designspace.safeload): a crafted file runs nothing."""
    from .models import build
    from .registry import load_deployed
    from .safeload import read_checkpoint, spec_from_checkpoint

    ckpt = read_checkpoint(path)
    spec = spec_from_checkpoint(ckpt, path)
    form = ckpt.get("deployed")
    model = (load_deployed(spec, ckpt["regime"], form) if form else None) or build(spec, ckpt["regime"])
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = first[1] if len(first) > 1 else first[0]
        raise UsageError(f"checkpoint {path} does not match its spec: {detail}") from None
    return model, spec, ckpt["regime"], ckpt


def deploy_checkpoint(path: str, out: str | None = None, atol: float = 1e-4) -> dict:
    """Python equivalent of `designspace deploy`: read, fuse/condense, verify, save; returns a summary."""
    import torch

    out = _writable(out or _deploy_path(path))
    model, spec, regime, ckpt = load_checkpoint(path)
    if ckpt.get("deployed"):
        raise UsageError(f"checkpoint {path} is already deployed ({ckpt['deployed']})")
    try:
        deployed, deploy_spec, form, diff = deploy_model(model, spec, regime, atol=atol)
    except RuntimeError as exc:  # unfinished condensation, failed verification: one line for the CLI
        raise UsageError(str(exc).splitlines()[0]) from None
    try:
        torch.save({"spec": deploy_spec.to_dict(), "regime": regime, "state_dict": deployed.state_dict(),
                    "deployed": form, "max_abs_diff": diff}, out)
    except (OSError, RuntimeError) as exc:  # torch's writer raises RuntimeError for a path it cannot open
        raise UsageError(f"cannot write {out}: {str(exc).splitlines()[0]}") from None
    params = sum(p.numel() for p in deployed.parameters())
    return {"out": out, "form": form, "max_abs_diff": diff, "params": params, "spec_id": deploy_spec.id}


def _writable(out: str) -> str:
    """`out` as a file path whose folder exists: checked before the (slow) deploy, one line otherwise."""
    if not out or "\0" in out:
        raise UsageError(f"--out needs a file path, got {out!r}")
    if os.path.isdir(out):
        raise UsageError(f"--out {out} is a directory; give a file path such as {os.path.join(out, 'model.pt')}")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise UsageError(f"--out {out}: the folder {folder} does not exist")
    return out


def _deploy_path(path: str) -> str:
    stem, dot, ext = path.rpartition(".")
    return f"{stem}.deploy.{ext}" if dot else f"{path}.deploy"
