"""Candles mode: the pipeline that rewrites 1-minute candles for one scenario.

Every candle is first described relative to the previous close p (p = the first open for the
first candle), in logs: `gap` = log(open / p), `move` = log(close / p), `up` = log(high /
max(open, close)) ≥ 0 and `down` = log(min(open, close) / low) ≥ 0, plus its volume. The steps
rewrite these columns and the prices are rebuilt from the original first open by cumulating
`move`, so every rebuilt candle has high ≥ max(open, close) ≥ min(open, close) ≥ low > 0 and
timestamps never move. Steps apply in order:

    gaussian_noise          close levels get N(0, close_sigma) log noise, independent per candle
                            (opens keep their gap to the new previous close); wicks get
                            N(0, wick_sigma) log noise, floored at zero length
    returns_resampling      each batch's moves are redrawn from a normal distribution with that
                            batch's mean and standard deviation of moves
    moving_block_bootstrap  each batch is refilled with blocks of `block_length` consecutive
                            candles (whole candles: shape, move and volume) drawn uniformly
                            from the same batch

A batch is `batch_length` consecutive candles (0: the whole period): resampling stays local, so
a bull month keeps its drift instead of lending it to a bear month. Scenario i draws from
`scenario_rng(seed, i)` = default_rng(seed + i), so any scenario can be re-created alone.
"""

from __future__ import annotations

import numpy as np

from candlewire.engine.timeframes import CLOSE, HIGH, LOW, OPEN, TIMESTAMP, VOLUME

GAP, MOVE, UP, DOWN, SHAPE_VOLUME = range(5)
STEP_KINDS = ("gaussian_noise", "returns_resampling", "moving_block_bootstrap")


def scenario_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng(seed + index)


def transform_candles(candles: np.ndarray, pipeline: list[dict], batch_length: int, rng: np.random.Generator) -> np.ndarray:
    """The candles (n, 6) rewritten by `pipeline` (steps like {"gaussian_noise": {...}})."""
    candles = np.asarray(candles, dtype=np.float64)
    shape = candle_shape(candles)
    batches = np.arange(len(candles)) // batch_length if batch_length > 0 else np.zeros(len(candles), dtype=np.int64)
    for step in pipeline:
        (kind, options), = step.items()
        if kind == "gaussian_noise":
            shape = gaussian_noise(shape, rng, float(options.get("close_sigma", 0.0)), float(options.get("wick_sigma", 0.0)))
        elif kind == "returns_resampling":
            shape = returns_resampling(shape, batches, rng)
        elif kind == "moving_block_bootstrap":
            shape = moving_block_bootstrap(shape, batches, int(options["block_length"]), rng)
        else:
            raise ValueError(f"unknown candle pipeline step {kind!r}")
    return rebuild_candles(shape, candles[:, TIMESTAMP], float(candles[0, OPEN]))


def candle_shape(candles: np.ndarray) -> np.ndarray:
    """(n, 5) columns GAP, MOVE, UP, DOWN, SHAPE_VOLUME (see the module docstring)."""
    opens, closes, highs, lows = candles[:, OPEN], candles[:, CLOSE], candles[:, HIGH], candles[:, LOW]
    previous = np.concatenate([opens[:1], closes[:-1]])
    shape = np.empty((len(candles), 5))
    shape[:, GAP] = np.log(opens / previous)
    shape[:, MOVE] = np.log(closes / previous)
    shape[:, UP] = np.maximum(np.log(highs / np.maximum(opens, closes)), 0.0)
    shape[:, DOWN] = np.maximum(np.log(np.minimum(opens, closes) / lows), 0.0)
    shape[:, SHAPE_VOLUME] = candles[:, VOLUME]
    return shape


def rebuild_candles(shape: np.ndarray, timestamps: np.ndarray, first_open: float) -> np.ndarray:
    closes = first_open * np.exp(np.cumsum(shape[:, MOVE]))
    previous = np.concatenate([[first_open], closes[:-1]])
    opens = previous * np.exp(shape[:, GAP])
    candles = np.empty((len(shape), 6))
    candles[:, TIMESTAMP] = timestamps
    candles[:, OPEN] = opens
    candles[:, CLOSE] = closes
    candles[:, HIGH] = np.maximum(opens, closes) * np.exp(shape[:, UP])
    candles[:, LOW] = np.minimum(opens, closes) * np.exp(-shape[:, DOWN])
    candles[:, VOLUME] = shape[:, SHAPE_VOLUME]
    return candles


def gaussian_noise(shape: np.ndarray, rng: np.random.Generator, close_sigma: float, wick_sigma: float) -> np.ndarray:
    n = len(shape)
    out = shape.copy()
    levels = np.cumsum(shape[:, MOVE]) + rng.normal(0.0, close_sigma, n)
    out[:, MOVE] = np.diff(levels, prepend=0.0)
    out[:, UP] = np.maximum(shape[:, UP] + rng.normal(0.0, wick_sigma, n), 0.0)
    out[:, DOWN] = np.maximum(shape[:, DOWN] + rng.normal(0.0, wick_sigma, n), 0.0)
    return out


def returns_resampling(shape: np.ndarray, batches: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    counts = np.bincount(batches)
    means = np.bincount(batches, shape[:, MOVE]) / counts
    variances = np.bincount(batches, (shape[:, MOVE] - means[batches]) ** 2) / counts
    out = shape.copy()
    out[:, MOVE] = means[batches] + np.sqrt(variances)[batches] * rng.standard_normal(len(shape))
    return out


def moving_block_bootstrap(shape: np.ndarray, batches: np.ndarray, block_length: int, rng: np.random.Generator) -> np.ndarray:
    positions = np.arange(len(shape))
    lengths = np.bincount(batches)
    batch_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    batch_start = batch_starts[batches]
    length = lengths[batches]
    block = np.minimum(block_length, length)
    offset = positions - batch_start
    block_first = batch_start + offset // block * block  # the position where this candle's block begins
    draws = rng.random(len(shape))
    source_first = batch_start + np.floor(draws[block_first] * (length - block + 1)).astype(np.int64)
    return shape[source_first + offset % block]
