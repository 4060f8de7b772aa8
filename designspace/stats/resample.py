"""The one bootstrap resampler, and the percentile bounds of its replicates.

A replicate redraws the units (models, or model pairs) of each arm with replacement. Draws are index
matrices, one row a replicate, made with numpy's Generator.integers: `indices` for one arm at once,
`chunks` for several arms in slices of replicates, so that memory stays bounded however many
replicates are asked for. Paired data takes one index matrix for both of its columns (the pair is the
unit); `strata` resamples within each group, keeping every group's size, as a stratified design
(models of each space) requires.

The order of the draws is part of the contract: the same seed, sizes and chunking give the same
replicates, so a result computed before this module existed is reproduced to the bit.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

CHUNK_ELEMENTS = 2_000_000  # replicate x unit indices held at once: ~16 MB per int64 array


def generator(seed) -> np.random.Generator:
    """A Generator from a seed (int, sequence of ints, SeedSequence) or an existing Generator, as is."""
    return np.random.default_rng(seed)


def indices(rng, n: int, resamples: int, strata=None) -> np.ndarray:
    """(resamples, n) int64 indices of n units drawn with replacement, one row a replicate.

    strata: a label per unit; each replicate then draws each stratum's units from that stratum (its
    size kept), strata in sorted label order. No units: an empty (resamples, 0) matrix, drawing
    nothing from `rng`."""
    rng = generator(rng)
    if n <= 0:
        return np.empty((resamples, 0), np.int64)
    if strata is None:
        return rng.integers(0, n, (resamples, n))
    labels = np.asarray(strata)
    if labels.shape != (n,):
        raise ValueError(f"strata needs one label per unit ({n}), got shape {labels.shape}")
    out = np.empty((resamples, n), np.int64)
    for g in np.unique(labels):
        members = np.flatnonzero(labels == g)
        out[:, members] = members[rng.integers(0, members.size, (resamples, members.size))]
    return out


def chunk_size(units: int, elements: int = CHUNK_ELEMENTS) -> int:
    """Replicates per chunk so that a chunk holds about `elements` indices (at least one replicate)."""
    return max(1, elements // max(units, 1))


def chunks(rng, sizes: Sequence[int], resamples: int, chunk: int | None = None,
           strata: Sequence | None = None) -> Iterator[tuple[np.ndarray, ...]]:
    """Independent resamples of several arms, `chunk` replicates at a time (all at once when None).

    sizes: units per arm. Yields, per chunk, one (b, n_arm) index matrix per arm, drawn arm after arm
    within the chunk; strata: a label array (or None) per arm, as for `indices`."""
    rng = generator(rng)
    step = resamples if chunk is None else max(int(chunk), 1)
    per_arm = strata if strata is not None else [None] * len(sizes)
    for start in range(0, resamples, step):
        b = min(step, resamples - start)
        yield tuple(indices(rng, n, b, s) for n, s in zip(sizes, per_arm))


def counts(idx: np.ndarray, n: int) -> np.ndarray:
    """(b, n) how many times each replicate (row of `idx`) drew each of the n units."""
    b = idx.shape[0]
    flat = (idx + (np.arange(b) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n)


def percentile_bounds(replicates, level: float, axis: int = 0, omit_nan: bool = False):
    """The central `level` percentile interval of bootstrap replicates along `axis` (numpy's linear
    quantiles): (lo, hi). omit_nan (2-D replicates, axis 0 only): each column's NaN replicates are left
    out, and a column with none finite gives NaN; only the columns holding NaN pay for it."""
    tails = [(1 - level) / 2, (1 + level) / 2]
    replicates = np.asarray(replicates, np.float64)
    if not omit_nan:
        lo, hi = np.quantile(replicates, tails, axis=axis)
        return lo, hi
    if replicates.ndim != 2 or axis != 0:
        raise ValueError("omit_nan takes a (replicates, columns) matrix and axis 0")
    k = replicates.shape[1]
    out = np.full((2, k), np.nan)
    if replicates.shape[0] == 0:
        return out[0], out[1]
    bad = np.isnan(replicates).any(axis=0)
    out[:, ~bad] = np.quantile(replicates[:, ~bad], tails, axis=0)
    for j in np.flatnonzero(bad):
        finite = replicates[:, j][~np.isnan(replicates[:, j])]
        if finite.size:
            out[:, j] = np.quantile(finite, tails)
    return out[0], out[1]
