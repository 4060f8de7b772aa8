"""Regimes: what a spec is measured and built for (input size, channels, classes, stem stride)."""
from __future__ import annotations

from dataclasses import dataclass, replace

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


def base_name(regime: str) -> str:
    """NAME of a regime name NAME@SIZE (NAME itself otherwise): the regime whose dataset it trains."""
    return str(regime).partition("@")[0]


def get_regime(regime: str | Regime) -> Regime:
    """A regime by name; NAME@SIZE is NAME at another input size with the same default flops band
    (the paper's resolution test: same band, other image size), e.g. imagenet@160."""
    if isinstance(regime, Regime):
        return regime
    name, sep, size = str(regime).partition("@") if isinstance(regime, str) else (regime, "", "")
    try:
        base = REGIMES[name]
    except (KeyError, TypeError):
        raise UsageError(f"unknown regime {regime!r}; valid: {', '.join(REGIMES)} (optionally NAME@SIZE)") from None
    if not sep:
        return base
    if not size.isdigit() or not 8 <= int(size) <= 4096:
        raise UsageError(f"regime {regime!r}: the input size after @ must be an integer in [8, 4096]")
    if int(size) == base.im_size:
        return base
    return replace(base, name=f"{name}@{int(size)}", im_size=int(size))
