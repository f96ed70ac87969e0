"""How each metric is spread across Monte Carlo scenarios, compared with the original run.

For every metric (one column of a scenarios × metrics matrix, computed in one numpy pass):

    p5 … p95          percentiles of the scenario values (linear interpolation, numpy's default)
    ci90, ci95        percentile intervals: [p5, p95] and [p2.5, p97.5]
    p_value           share of scenarios at least as GOOD as the original, where "good" is the
                      metric's direction (`HIGHER_IS_BETTER`: sharpe, calmar, returns, win rate,
                      and max_drawdown, a negative percentage whose higher values are shallower;
                      `LOWER_IS_BETTER`: volatility). A metric with no direction (the trade count)
                      gets the two-sided share at least as EXTREME: 2 × min(share ≥, share ≤), ≤ 1.
    verdict           the p-value in words. A small p-value means the original beat nearly every
                      scenario: the result leans on the exact trade order or prices (luck); a
                      large one means the original was an unlucky draw. A metric equal in every
                      scenario (the total return when only the trade order changes) gets p = 1
                      by the definition above and a verdict that says the test does not apply.
"""

from __future__ import annotations

import numpy as np

HIGHER_IS_BETTER = 1
LOWER_IS_BETTER = -1
NO_DIRECTION = 0

PERCENTILES = (2.5, 5.0, 25.0, 50.0, 75.0, 95.0, 97.5)
SIGNIFICANCE = 0.05

LABELS = {
    "net_profit_percentage": "total return (%)",
    "max_drawdown": "max drawdown (%)",
    "sharpe_ratio": "Sharpe ratio",
    "calmar_ratio": "Calmar ratio",
    "volatility": "annualized volatility (%)",
    "win_rate": "win rate",
    "total": "trade count",
    "annual_return": "annual return (%)",
}
DIRECTIONS = {
    "net_profit_percentage": HIGHER_IS_BETTER,
    "max_drawdown": HIGHER_IS_BETTER,
    "sharpe_ratio": HIGHER_IS_BETTER,
    "calmar_ratio": HIGHER_IS_BETTER,
    "volatility": LOWER_IS_BETTER,
    "win_rate": HIGHER_IS_BETTER,
    "total": NO_DIRECTION,
    "annual_return": HIGHER_IS_BETTER,
}


def metric_distributions(names: list[str], original: np.ndarray, samples: np.ndarray, cause: str) -> list[dict]:
    """One dict per metric (see the module docstring). `original` has one value per name,
    `samples` one row per scenario; `cause` names what the scenarios vary, for the verdicts."""
    original = np.asarray(original, dtype=np.float64)
    samples = np.asarray(samples, dtype=np.float64).reshape(-1, len(names))
    low95, p5, p25, p50, p75, p95, high95 = np.percentile(samples, PERCENTILES, axis=0)
    p_values = p_values_by_direction(original, samples, np.array([DIRECTIONS[name] for name in names]))
    constant = np.all(np.isclose(samples, original, rtol=1e-9, atol=1e-9), axis=0)
    return [
        {
            "name": name,
            "original": float(original[i]),
            "p5": float(p5[i]), "p25": float(p25[i]), "p50": float(p50[i]), "p75": float(p75[i]), "p95": float(p95[i]),
            "ci90_low": float(p5[i]), "ci90_high": float(p95[i]),
            "ci95_low": float(low95[i]), "ci95_high": float(high95[i]),
            "p_value": float(p_values[i]),
            "verdict": verdict(name, float(original[i]), float(p50[i]), float(p_values[i]), bool(constant[i]), cause),
        }
        for i, name in enumerate(names)
    ]


def p_values_by_direction(original: np.ndarray, samples: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Per column: share of rows at least as good as `original` (direction ±1), or the two-sided
    share at least as extreme (direction 0)."""
    at_least = (samples >= original).mean(axis=0)
    at_most = (samples <= original).mean(axis=0)
    two_sided = np.minimum(2.0 * np.minimum(at_least, at_most), 1.0)
    return np.where(directions > 0, at_least, np.where(directions < 0, at_most, two_sided))


def verdict(name: str, original: float, median: float, p_value: float, constant: bool, cause: str) -> str:
    label = LABELS.get(name, name)
    if constant:
        return f"The {label} is the same in every scenario: {cause} cannot change it, so the test does not apply to it."
    if DIRECTIONS[name] == NO_DIRECTION:
        if p_value < SIGNIFICANCE:
            return (f"The {label} ({original:.4g}) is unusual among the scenarios (median {median:.4g}, "
                    f"p = {p_value:.3f}): it depends on {cause}.")
        return f"The {label} ({original:.4g}) is typical of the scenarios (median {median:.4g}, p = {p_value:.3f})."
    if p_value < SIGNIFICANCE:
        return (f"The original {label} ({original:.4g}) beats {100 * (1 - p_value):.0f}% of the scenarios "
                f"(median {median:.4g}): it likely owes much to {cause}; plan on the median.")
    if p_value > 1 - SIGNIFICANCE:
        return (f"The original {label} ({original:.4g}) is worse than {100 * p_value:.0f}% of the scenarios "
                f"(median {median:.4g}): the backtest was an unlucky draw of {cause}.")
    return (f"The original {label} ({original:.4g}) lies inside the scenario range (median {median:.4g}, "
            f"p = {p_value:.2f}): robust to {cause}.")


def downsample_indices(length: int, limit: int) -> np.ndarray:
    """At most `limit` evenly spaced indices into a series of `length`, first and last included."""
    if length <= limit:
        return np.arange(length)
    return np.unique(np.linspace(0, length - 1, limit).round().astype(np.int64))
