"""The bootstrap test of a signal's mean return (White's reality-check idea for one rule, as
popularised by Aronson's "Evidence-Based Technical Analysis").

    log return      r_k = log(close_{k+1} / close_k), the bar after the signal's bar k
    detrended       d_k = r_k − mean(r) over the period, so a rule that is simply long in a
                    rising market earns nothing from the trend itself
    rule return     x_k = signal_k × d_k, kept for the bars where the signal is not flat
                    (the observations)
    observed mean   mean(x)
    null            means of `resamples` bootstrap samples (with replacement, same size) of
                    x − mean(x): the rule's own variability with the true mean set to zero
    p-value         (1 + #{null ≥ observed}) / (1 + resamples), the one-sided share with the
                    usual +1 so a finite bootstrap never claims p = 0
    annualized      exp(observed × bars per year) − 1: the mean log return per bar in the
                    market, as a yearly simple return
"""

from __future__ import annotations

import numpy as np

DEFAULT_RESAMPLES = 2000
MIN_OBSERVATIONS = 30
HISTOGRAM_BINS = 40
# Bootstrap draws per numpy pass (resamples × observations), bounding memory on long series.
_DRAWS_PER_PASS = 4_000_000


def rule_returns(signals: np.ndarray, closes: np.ndarray) -> np.ndarray:
    """x_k for every bar whose signal is not flat (the last bar has no next bar)."""
    signals = np.asarray(signals, dtype=np.float64)
    log_returns = np.diff(np.log(np.asarray(closes, dtype=np.float64)))
    detrended = log_returns - log_returns.mean() if log_returns.size else log_returns
    held = signals[:-1]
    return (held * detrended)[held != 0]


def bootstrap_null_means(returns: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Means of `resamples` bootstrap samples of the zero-centred returns."""
    centred = returns - returns.mean()
    rng = np.random.default_rng(seed)
    rows_per_pass = max(1, _DRAWS_PER_PASS // max(returns.size, 1))
    means = np.empty(resamples)
    for first in range(0, resamples, rows_per_pass):
        rows = min(rows_per_pass, resamples - first)
        means[first : first + rows] = centred[rng.integers(0, returns.size, size=(rows, returns.size))].mean(axis=1)
    return means


def significance_test(signals: np.ndarray, closes: np.ndarray, bars_per_year: float,
                      resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> dict:
    """The test's result dict: p_value, observed_mean, annualized_return, observations, warning,
    histogram {bin_edges, counts} of the null distribution."""
    returns = rule_returns(signals, closes)
    observations = int(returns.size)
    if observations == 0:
        return {
            "p_value": 1.0, "observed_mean": 0.0, "annualized_return": 0.0, "observations": 0,
            "warning": "the signal was never long or short: nothing to test",
            "histogram": {"bin_edges": [], "counts": []},
        }
    observed = float(returns.mean())
    null = bootstrap_null_means(returns, resamples, seed)
    counts, edges = np.histogram(null, bins=HISTOGRAM_BINS)
    with np.errstate(over="ignore"):
        annualized = float(np.expm1(observed * bars_per_year))
    warning = ""
    if observations < MIN_OBSERVATIONS:
        warning = (f"only {observations} observations (fewer than {MIN_OBSERVATIONS}): "
                   "the bootstrap distribution is unreliable; test a longer period")
    return {
        "p_value": float((1 + np.count_nonzero(null >= observed)) / (1 + resamples)),
        "observed_mean": observed,
        "annualized_return": annualized if np.isfinite(annualized) else float(np.finfo(np.float64).max),
        "observations": observations,
        "warning": warning,
        "histogram": {"bin_edges": edges.tolist(), "counts": counts.tolist()},
    }
