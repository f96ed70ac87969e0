"""Downloadable files of a finished backtest: trades as CSV/JSON, PNG charts and a
self-contained HTML report.

FILE_BUILDERS is the one place that maps a file kind to its content type, file-name suffix
and builder; every builder takes (result, title, routes) and returns the file's bytes.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

from candlewire.reports.charts import (
    drawdown_chart_png, equity_chart_png, monthly_returns, monthly_returns_png,
    trade_pnl_distribution_png, underwater_chart_png,
)
from candlewire.reports.html import html_report
from candlewire.reports.trades import trades_csv, trades_json

__all__ = [
    "FILE_BUILDERS", "FileBuilder", "drawdown_chart_png", "equity_chart_png", "html_report",
    "monthly_returns", "monthly_returns_png", "trade_pnl_distribution_png", "trades_csv",
    "trades_json", "underwater_chart_png",
]


class FileBuilder(NamedTuple):
    content_type: str
    suffix: str
    build: Callable[[dict, str, Sequence[dict]], bytes]


_PNG = "image/png"

FILE_BUILDERS: dict[str, FileBuilder] = {
    "trades_csv": FileBuilder("text/csv; charset=utf-8", ".csv",
                              lambda result, title, routes: trades_csv(result.get("trades") or ())),
    "trades_json": FileBuilder("application/json", ".json",
                               lambda result, title, routes: trades_json(result.get("trades") or ())),
    "html_report": FileBuilder("text/html; charset=utf-8", ".html", html_report),
    "chart_equity_png": FileBuilder(_PNG, ".png", lambda result, title, routes: equity_chart_png(result, routes)),
    "chart_drawdown_png": FileBuilder(_PNG, ".png", lambda result, title, routes: drawdown_chart_png(result)),
    "chart_underwater_png": FileBuilder(_PNG, ".png", lambda result, title, routes: underwater_chart_png(result)),
    "chart_monthly_returns_png": FileBuilder(_PNG, ".png", lambda result, title, routes: monthly_returns_png(result)),
    "chart_trade_pnl_png": FileBuilder(_PNG, ".png", lambda result, title, routes: trade_pnl_distribution_png(result)),
}
