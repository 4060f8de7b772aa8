"""torch models: one door, `build(spec, regime)`, for every family."""
from __future__ import annotations

from torch import nn

from ..regimes import Regime, get_regime
from ..spec import ModelSpec
from .anynet import AnyNet

__all__ = ["build", "AnyNet"]


def build(spec: ModelSpec, regime: str | Regime = "imagenet") -> nn.Module:
    """A torch.nn.Module for `spec` taking (N, C, H, W) inputs of the regime; its parameter count
    equals complexity(spec, regime)["params"] exactly."""
    from ..registry import family_build, family_of

    rg = get_regime(regime)
    if family_of(spec) is not None:  # a family spec: its registered builder
        return family_build(spec, rg)
    return AnyNet(spec, rg)
