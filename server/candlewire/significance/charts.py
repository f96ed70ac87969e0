"""PNG of a significance test: the bootstrap null distribution of the mean return as a
histogram, with the observed mean marked (the style and canvas of `reports.charts`)."""

from __future__ import annotations

import numpy as np

from candlewire.reports.charts import (
    LOSS_COLOUR,
    NEUTRAL_COLOUR,
    message_png,
    new_figure,
    png,
)


def significance_chart_png(result: dict) -> bytes:
    title = "Bootstrap distribution of the mean return (null: mean 0)"
    histogram = result.get("histogram") or {}
    edges = np.asarray(histogram.get("bin_edges") or [], dtype=np.float64)
    counts = np.asarray(histogram.get("counts") or [], dtype=np.float64)
    if counts.size == 0:
        return message_png(title, result.get("warning") or "No observations")
    figure, axes = new_figure()
    axes.stairs(counts, edges, fill=True, color=NEUTRAL_COLOUR, alpha=0.6, label="Bootstrap means")
    observed = float(result.get("observed_mean", 0.0))
    axes.axvline(observed, color=LOSS_COLOUR, linewidth=2.0,
                 label=f"Observed mean {observed:.3g} (p = {float(result.get('p_value', 1.0)):.3f})")
    axes.set_title(f"{title}, {int(result.get('observations', 0))} observations", fontsize=14)
    axes.set_xlabel("Mean log return per bar")
    axes.set_ylabel("Resamples")
    axes.legend(loc="upper right")
    axes.grid(True, axis="y", alpha=0.3)
    if result.get("warning"):
        axes.text(0.01, 0.98, result["warning"], transform=axes.transAxes, va="top", fontsize=10, color=LOSS_COLOUR)
    return png(figure)
