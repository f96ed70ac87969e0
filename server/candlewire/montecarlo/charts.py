"""PNG of a Monte Carlo result: every scenario's equity curve, faint, with the original on top
(the style and canvas of `reports.charts`)."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.dates import date2num

from candlewire.reports.charts import (
    STRATEGY_COLOUR,
    datetimes,
    message_png,
    new_figure,
    png,
    style_time_axes,
)

_SCENARIO_COLOUR = "#8b949e"


def monte_carlo_chart_png(result: dict) -> bytes:
    title = f"Monte Carlo ({result.get('mode', '')} mode): equity curves"
    curves = np.asarray(result.get("scenario_curves") or [], dtype=np.float64)
    timestamps = np.asarray(result.get("curve_timestamps_ms") or [], dtype=np.int64)
    original = result.get("original_equity_curve") or {}
    if curves.size == 0 or timestamps.size < 2:
        return message_png(title, "No scenario curves")
    figure, axes = new_figure()
    # One collection draws thousands of curves in a single artist.
    x = date2num(datetimes(timestamps))
    segments = np.stack([np.broadcast_to(x, curves.shape), curves], axis=-1)
    axes.add_collection(LineCollection(segments, colors=_SCENARIO_COLOUR, alpha=min(0.6, 20 / len(curves) + 0.05), linewidths=0.6))
    axes.plot([], [], color=_SCENARIO_COLOUR, label=f"{len(curves)} scenarios")
    axes.plot(datetimes(np.asarray(original.get("timestamps_ms", []), dtype=np.int64)), original.get("values", []),
              color=STRATEGY_COLOUR, linewidth=2.0, label="Original")
    axes.autoscale()
    axes.set_title(title, fontsize=14)
    axes.set_ylabel("Balance")
    axes.legend(loc="upper left")
    style_time_axes(axes)
    return png(figure)
