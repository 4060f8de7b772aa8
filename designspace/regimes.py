"""Regimes: what a spec is measured and built for (input size, channels, classes, stem stride)."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True)
class Regime:
    name: str
    im_size: int
    channels: int
    num_classes: int
    stem_stride: int
    default_flops: tuple[float, float]  # the band `sample` uses when --flops is not given


REGIMES = {
    # The paper's: 224x224x3, 1000 classes, pycls simple stem (3x3, stride 2), 360-400MF band.
    "imagenet": Regime("imagenet", 224, 3, 1000, 2, (360e6, 400e6)),
    # Small images: 3x3 stride-1 stem; bands sized so that a sweep trains in minutes on 2 CPU cores.
    "cifar": Regime("cifar", 32, 3, 10, 1, (20e6, 40e6)),
    "fashion-mnist": Regime("fashion-mnist", 28, 1, 10, 1, (3e6, 8e6)),
}


def get_regime(regime: "str | Regime") -> Regime:
    if isinstance(regime, Regime):
        return regime
    try:
        return REGIMES[regime]
    except (KeyError, TypeError):
        raise UsageError(f"unknown regime {regime!r}; valid: {', '.join(REGIMES)}") from None
