"""The arithmetic behind stats.bootstrap_medians_many, to the same bits as resampling
one combination at a time: the random numbers of a kind of combination (`draws`),
the positions a shape's resamples pick (`resample_positions`), and the medians of
many resamples at once (`medians_along_last_axis`, `medians_of_kept`), in batches
that stay in the CPU's cache (`VALUES_AT_ONCE`)."""

from __future__ import annotations

import functools

import numpy as np

# Drawn values per batch of combinations (float64: 2 MB): the values, masks and sort
# of a batch stay in the CPU's cache (32 combinations at a time took 1.2 times as long
# on 700 of mixed shapes, and batches of 16 MB 1.8 times).
VALUES_AT_ONCE = 2**18


def medians_along_last_axis(values: np.ndarray) -> np.ndarray:
    """np.median(values, axis=-1) of finite values, to the same bits, several times
    faster for the few values a resample has (a sort instead of a partition)."""
    ordered = np.sort(values, axis=-1)
    middle = values.shape[-1] // 2
    if values.shape[-1] % 2:
        return ordered[..., middle]
    return (ordered[..., middle - 1] + ordered[..., middle]) / 2


def medians_of_kept(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """np.nanmedian of `values` where `keep` (slots of one resample), NaN elsewhere, to
    the same bits, without NumPy's masked-array path for short rows: the dropped slots
    sorted past the kept ones, then the middle of each row's kept count. Where every
    slot is kept, the same bits as medians_along_last_axis ((x + x) / 2 is x)."""
    ordered = np.sort(np.where(keep, values, np.inf), axis=-1)
    kept = keep.sum(axis=-1)
    low = np.broadcast_to(((kept - 1) // 2)[..., None], ordered.shape[:-1] + (1,))
    high = np.broadcast_to((kept // 2)[..., None], ordered.shape[:-1] + (1,))
    return ((np.take_along_axis(ordered, low, axis=-1)
             + np.take_along_axis(ordered, high, axis=-1)) / 2)[..., 0]


@functools.lru_cache(maxsize=32)  # a miss costs a fraction of a millisecond
def draws(replicates: int, widest: int, resamples: int,
           seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The random numbers of `resamples` two-level resamples of `replicates`
    replicates of at most `widest` repeats: for one replicate, the positions each
    resample picks (resamples x widest); for more, which replicates each resample
    draws (resamples x replicates) and a uniform number per slot (resamples x
    replicates x widest). Cached: read-only, shared by every combination of the kind."""
    rng = np.random.default_rng(seed)
    if replicates == 1:
        picks = rng.integers(0, widest, size=(resamples, widest))
        picks.flags.writeable = False
        return picks, None
    drawn = rng.integers(0, replicates, size=(resamples, replicates))
    uniform = rng.random((resamples, replicates, widest))
    drawn.flags.writeable = uniform.flags.writeable = False
    return drawn, uniform


@functools.lru_cache(maxsize=256)
def shape_positions(shape: tuple[int, ...], resamples: int,
                     seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """resample_positions of one shape (resamples x slots). Cached: read-only, shared
    by every combination of the shape."""
    picks, keep = resample_positions(np.array([shape]), max(shape), resamples, seed)
    picks, keep = picks[0], (None if keep is None else keep[0])
    for array in (picks, keep):
        if array is not None:
            array.flags.writeable = False
    return picks, keep


def resample_positions(counts: np.ndarray, widest: int, resamples: int,
                        seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """For combinations whose replicates have `counts` repeats each (combinations x
    replicates; the largest `widest`), concatenated per combination: the positions
    each resample draws (combinations x resamples x slots), and which slots count
    (None: all; replicates that differ in repeats leave slots empty)."""
    combinations, replicates = counts.shape
    first, uniform = draws(replicates, widest, resamples, seed)
    if uniform is None:  # one replicate: every combination picks the same positions
        return np.repeat(first[None].astype(np.int32), combinations, axis=0), None
    # (32-bit positions: the same numbers, half the memory to stream through)
    counts = counts.astype(np.int32)
    offsets = np.cumsum(counts, axis=1) - counts
    # Level 1: the replicates each resample draws. Level 2: as many repeats as the
    # drawn replicate has, from it alone; slots past its count are masked out.
    drawn_counts = counts[:, first]  # combinations x resamples x replicates
    within = (uniform * drawn_counts[..., None]).astype(np.int32)
    picks = (offsets[:, first][..., None] + within).reshape(combinations, resamples, -1)
    if (counts == widest).all():
        return picks, None
    keep = (np.arange(widest) < drawn_counts[..., None]).reshape(combinations, resamples, -1)
    return picks, keep
