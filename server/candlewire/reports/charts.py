"""PNG charts of a backtest result.

Figures are built with `matplotlib.figure.Figure` on an explicit Agg canvas instead of
pyplot, so rendering touches no global backend state and is safe from worker threads.
Every chart copes with an empty or degenerate result by drawing a "no data" message.
"""

from __future__ import annotations

import io
import numbers
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

__all__ = [
    "CHART_SIZE_PX", "drawdown_chart_png", "equity_arrays", "equity_chart_png",
    "monthly_returns", "monthly_returns_png", "trade_pnl_distribution_png",
    "underwater_chart_png",
]

CHART_SIZE_PX = (1200, 600)
_DPI = 100
DAY_MS = 86_400_000
# Agg stamps the matplotlib version into PNGs; without it the bytes depend only on the input.
_PNG_METADATA = {"Software": None}
# Written out rather than taken from `calendar`, whose names follow the process locale.
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

STRATEGY_COLOUR = "#1f6feb"
_BENCHMARK_COLOURS = ("#8b949e", "#bf8700", "#8250df", "#1a7f37")
LOSS_COLOUR = "#cf222e"
_WIN_COLOUR = "#2da44e"
NEUTRAL_COLOUR = "#8b949e"


# --------------------------------------------------------------------------- data

def equity_arrays(result: dict) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps in ms, balances) of the result's equity curve, non-finite points dropped."""
    curve = result.get("equity_curve") or {}
    timestamps = np.asarray(curve.get("timestamps_ms", ()), dtype=np.float64).ravel()
    values = np.asarray(curve.get("values", ()), dtype=np.float64).ravel()
    size = min(timestamps.size, values.size)
    timestamps, values = timestamps[:size], values[:size]
    keep = np.isfinite(timestamps) & np.isfinite(values)
    return timestamps[keep].astype(np.int64), values[keep]


def datetimes(timestamps_ms: np.ndarray) -> np.ndarray:
    return timestamps_ms.astype("datetime64[ms]")


def _drawdown_percent(values: np.ndarray) -> np.ndarray:
    peak = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = (values / peak - 1.0) * 100.0
    drawdown[~np.isfinite(drawdown)] = 0.0
    return drawdown


def _days_under_peak(timestamps_ms: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each point, days since the balance last stood at (or above) its running peak."""
    at_peak = values >= np.maximum.accumulate(values)
    # The first point is always a peak, so the running maximum is the latest peak's time.
    last_peak_ms = np.maximum.accumulate(np.where(at_peak, timestamps_ms, timestamps_ms[0]))
    return (timestamps_ms - last_peak_ms) / DAY_MS


def monthly_returns(result: dict) -> pd.DataFrame:
    """Return of each calendar month (UTC) in percent: rows are years, columns months 1..12,
    NaN for months outside the run. A month's return compares its last balance with the
    previous month's last balance; the first month compares with the first balance."""
    timestamps, values = equity_arrays(result)
    months = pd.Index(range(1, 13), name="month")
    if timestamps.size < 2:
        return pd.DataFrame(columns=months, dtype=np.float64)
    equity = pd.Series(values, index=pd.DatetimeIndex(datetimes(timestamps)))
    # ffill: a month without samples keeps the previous balance, i.e. a 0 % month.
    month_end = equity.resample("ME").last().ffill()
    month_start = month_end.shift(1)
    month_start.iloc[0] = values[0]
    returns = (month_end / month_start - 1.0) * 100.0
    returns = returns.where(np.isfinite(returns))
    table = pd.DataFrame({"year": returns.index.year, "month": returns.index.month, "value": returns.to_numpy()})
    pivot = table.pivot(index="year", columns="month", values="value").reindex(columns=months)
    return pivot.astype(np.float64)


# --------------------------------------------------------------------------- figures

def new_figure() -> tuple[Figure, object]:
    figure = Figure(figsize=(CHART_SIZE_PX[0] / _DPI, CHART_SIZE_PX[1] / _DPI), dpi=_DPI)
    FigureCanvasAgg(figure)
    # Fixed margins rather than a layout engine: constrained layout draws every figure twice,
    # doubling the render time, and these margins fit the axis labels at this size.
    figure.subplots_adjust(left=0.08, right=0.97, top=0.92, bottom=0.09)
    return figure, figure.add_subplot()


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata=_PNG_METADATA)
    return buffer.getvalue()


def message_png(title: str, message: str) -> bytes:
    figure, axes = new_figure()
    axes.set_axis_off()
    axes.set_title(title, fontsize=14)
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=16, color=NEUTRAL_COLOUR, transform=axes.transAxes)
    return png(figure)


def style_time_axes(axes) -> None:
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.grid(True, alpha=0.3)
    axes.margins(x=0)


def _benchmark_label(benchmark: dict, routes: Sequence[dict] | None) -> str:
    route_index = benchmark.get("route", 0)
    if routes and isinstance(route_index, numbers.Integral) and 0 <= route_index < len(routes):
        return f"Buy & hold {routes[route_index].get('symbol', '')}".rstrip()
    return f"Buy & hold (route {route_index})"


def _rebased_benchmark(benchmark: dict, starting_balance: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The benchmark scaled to start at the strategy's starting balance, so that price series
    and balance series share the chart's axis; None when there is nothing to draw."""
    timestamps, values = equity_arrays({"equity_curve": benchmark})
    if values.size < 2 or values[0] == 0:
        return None
    return timestamps, values / values[0] * starting_balance


def equity_chart_png(result: dict, routes: Sequence[dict] | None = None) -> bytes:
    """Balance over time, with each route's buy-and-hold benchmark rebased to the starting
    balance; `routes` only names the benchmarks."""
    title = "Equity curve"
    timestamps, values = equity_arrays(result)
    if timestamps.size < 2:
        return message_png(title, "Not enough data for an equity curve")
    figure, axes = new_figure()
    axes.plot(datetimes(timestamps), values, color=STRATEGY_COLOUR, linewidth=1.6, label="Strategy")
    for index, benchmark in enumerate(result.get("benchmark") or ()):
        rebased = _rebased_benchmark(benchmark, values[0])
        if rebased is not None:
            colour = _BENCHMARK_COLOURS[index % len(_BENCHMARK_COLOURS)]
            axes.plot(datetimes(rebased[0]), rebased[1], color=colour, linewidth=1.1, linestyle="--",
                      label=_benchmark_label(benchmark, routes))
    axes.set_title(title, fontsize=14)
    axes.set_ylabel("Balance")
    axes.legend(loc="upper left")
    style_time_axes(axes)
    return png(figure)


def drawdown_chart_png(result: dict) -> bytes:
    """Depth below the running peak balance, in percent."""
    title = "Drawdown"
    timestamps, values = equity_arrays(result)
    if timestamps.size < 2:
        return message_png(title, "Not enough data for a drawdown chart")
    drawdown = _drawdown_percent(values)
    deepest = float(drawdown.min())
    figure, axes = new_figure()
    dates = datetimes(timestamps)
    axes.fill_between(dates, drawdown, 0.0, color=LOSS_COLOUR, alpha=0.3, linewidth=0)
    axes.plot(dates, drawdown, color=LOSS_COLOUR, linewidth=1.0)
    axes.set_title(f"{title} (max {deepest:.2f}%)", fontsize=14)
    axes.set_ylabel("Drawdown (%)")
    # A flat curve has no depth to scale to; keep a visible 0..-1 % band instead of a degenerate axis.
    axes.set_ylim(deepest * 1.05 if deepest < 0 else -1.0, 0.0)
    style_time_axes(axes)
    return png(figure)


def underwater_chart_png(result: dict) -> bytes:
    """Time spent below the previous peak balance, in days, at every point of the run."""
    title = "Underwater"
    timestamps, values = equity_arrays(result)
    if timestamps.size < 2:
        return message_png(title, "Not enough data for an underwater chart")
    days = _days_under_peak(timestamps, values)
    longest = float(days.max())
    figure, axes = new_figure()
    dates = datetimes(timestamps)
    axes.fill_between(dates, days, 0.0, color=STRATEGY_COLOUR, alpha=0.3, linewidth=0)
    axes.plot(dates, days, color=STRATEGY_COLOUR, linewidth=1.0)
    axes.set_title(f"{title}: time below the previous peak (longest {longest:.1f} days)", fontsize=14)
    axes.set_ylabel("Days below peak")
    axes.set_ylim(0.0, longest * 1.05 if longest > 0 else 1.0)
    style_time_axes(axes)
    return png(figure)


def monthly_returns_png(result: dict) -> bytes:
    """Heatmap of `monthly_returns`, years by months, each cell annotated with its return."""
    title = "Monthly returns"
    table = monthly_returns(result)
    if table.empty:
        return message_png(title, "Not enough data for monthly returns")
    data = table.to_numpy(dtype=np.float64)
    finite = data[np.isfinite(data)]
    # Symmetric scale so 0 % is the neutral colour; at least ±1 % so tiny moves stay pale.
    limit = max(float(np.abs(finite).max()) if finite.size else 0.0, 1.0)
    figure, axes = new_figure()
    image = axes.imshow(np.ma.masked_invalid(data), cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    font_size = 11 if data.shape[0] <= 6 else 8
    for row, column in zip(*np.nonzero(np.isfinite(data))):
        value = data[row, column]
        text_colour = "white" if abs(value) > 0.7 * limit else "black"
        axes.text(column, row, f"{value:.1f}%", ha="center", va="center", fontsize=font_size, color=text_colour)
    axes.set_xticks(range(12), _MONTH_NAMES)
    axes.set_yticks(range(len(table.index)), [str(year) for year in table.index])
    axes.tick_params(length=0)
    axes.set_title(f"{title} (%)", fontsize=14)
    figure.colorbar(image, ax=axes, label="Return (%)")
    return png(figure)


def _pnl_bin_edges(pnl: np.ndarray) -> np.ndarray:
    """Equal-width bins with 0 on an edge, so no bar mixes wins and losses; shared by all
    groups so their bars stack."""
    count = int(np.clip(round(np.sqrt(pnl.size) * 2), 10, 60))
    low, high = float(pnl.min()), float(pnl.max())
    if low == high:
        return np.histogram_bin_edges(pnl, bins=count)
    width = (high - low) / count
    # Whole multiples of the width keep 0 exact; the clamps cover float rounding at the ends.
    edges = width * np.arange(np.floor(low / width), np.ceil(high / width) + 1)
    edges[0], edges[-1] = min(edges[0], low), max(edges[-1], high)
    return edges


def trade_pnl_distribution_png(result: dict) -> bytes:
    """Histogram of the closed trades' PNL_percentage; losses red, break-even grey, wins green."""
    title = "Trade PnL distribution"
    pnl = np.array([float(trade.get("PNL_percentage", np.nan)) for trade in result.get("trades") or ()], dtype=np.float64)
    pnl = pnl[np.isfinite(pnl)]
    if pnl.size == 0:
        return message_png(title, "No closed trades")
    edges = _pnl_bin_edges(pnl)
    groups = [(pnl[pnl < 0], LOSS_COLOUR, "Losses"), (pnl[pnl == 0], NEUTRAL_COLOUR, "Break-even"),
              (pnl[pnl > 0], _WIN_COLOUR, "Wins")]
    groups = [group for group in groups if group[0].size]
    figure, axes = new_figure()
    axes.hist([group[0] for group in groups], bins=edges, stacked=True, color=[group[1] for group in groups],
              label=[f"{group[2]} ({group[0].size})" for group in groups], edgecolor="white", linewidth=0.5)
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_title(f"{title} ({pnl.size} trades, mean {pnl.mean():.2f}%)", fontsize=14)
    axes.set_xlabel("PnL per trade (%)")
    axes.set_ylabel("Trades")
    axes.legend(loc="upper right")
    axes.grid(True, axis="y", alpha=0.3)
    return png(figure)
