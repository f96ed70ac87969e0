"""A backtest report as one self-contained HTML file: inline CSS, charts as data URIs, no
scripts and no external resources, so it opens offline and can be mailed around."""

from __future__ import annotations

import base64
import html
import math
import numbers
from typing import Any, Sequence

from candlewire.reports.charts import (
    drawdown_chart_png, equity_chart_png, monthly_returns_png, trade_pnl_distribution_png,
    underwater_chart_png,
)
from candlewire.reports.trades import format_utc

__all__ = ["MAX_TRADE_ROWS", "format_metric", "html_report"]

# The table is for reading; the CSV download holds every trade.
MAX_TRADE_ROWS = 1000
_DAY_S = 86_400

_MONEY_METRICS = frozenset({
    "starting_balance", "finishing_balance", "fee", "net_profit", "average_win", "average_loss",
    "expectancy", "gross_profit", "gross_loss", "largest_winning_trade", "largest_losing_trade",
    "open_pl",
})
# Already multiplied by 100 by the engine.
_PERCENT_METRICS = frozenset({
    "net_profit_percentage", "expectancy_percentage", "expected_net_profit_every_100_trades",
    "longs_percentage", "shorts_percentage", "max_drawdown", "annual_return",
})
# Fractions 0..1, shown as percentages.
_FRACTION_METRICS = frozenset({"win_rate", "win_rate_longs", "win_rate_shorts"})
_SECONDS_METRICS = frozenset({
    "average_holding_period", "average_winning_holding_period", "average_losing_holding_period",
})
_DAYS_METRICS = frozenset({"max_underwater_period"})

_METRIC_LABELS = {
    "total": "Total trades",
    "total_winning_trades": "Winning trades",
    "total_losing_trades": "Losing trades",
    "net_profit_percentage": "Net profit %",
    "expectancy_percentage": "Expectancy %",
    "longs_percentage": "Longs %",
    "shorts_percentage": "Shorts %",
    "ratio_avg_win_loss": "Avg win / avg loss",
    "annual_return": "Annual return (CAGR)",
    "open_pl": "Open PnL",
    "total_open_trades": "Open trades",
}

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 0; background: #f6f8fa; color: #1f2328; }
main { max-width: 1240px; margin: 0 auto; padding: 24px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 32px 0 12px; font-size: 19px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.period { color: #59636e; margin: 0; }
table { border-collapse: collapse; background: #fff; font-size: 13px; }
th, td { padding: 4px 10px; border: 1px solid #d0d7de; text-align: left; white-space: nowrap; }
thead th { background: #eaeef2; position: sticky; top: 0; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.metrics th { background: #f6f8fa; font-weight: 600; }
.metrics td { text-align: right; font-variant-numeric: tabular-nums; min-width: 110px; }
.positive { color: #1a7f37; }
.negative { color: #cf222e; }
.trades { overflow-x: auto; }
figure { margin: 0 0 24px; }
figure img { width: 100%; height: auto; background: #fff; border: 1px solid #d0d7de; }
figcaption { color: #59636e; font-size: 13px; margin-top: 4px; }
.note { color: #59636e; font-size: 13px; }
"""


def _duration(seconds: float) -> str:
    """Compact duration, the two largest units: "3d 4h", "5h 12m", "42s"."""
    seconds = int(round(seconds))
    days, rest = divmod(seconds, _DAY_S)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{amount}{unit}" for amount, unit in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if amount]
    return " ".join(parts[:2]) or "0s"


def format_metric(key: str, value: Any) -> str:
    """Display text of one metric: money and ratios with 2 decimals, percentages with a %
    sign, holding periods as durations, counts as integers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    number = float(value)
    if not math.isfinite(number):
        return "n/a"
    if key in _MONEY_METRICS:
        return f"{number:,.2f}"
    if key in _PERCENT_METRICS:
        return f"{number:,.2f}%"
    if key in _FRACTION_METRICS:
        return f"{number * 100:,.2f}%"
    if key in _SECONDS_METRICS:
        return _duration(number)
    if key in _DAYS_METRICS:
        return f"{number:,.0f} days"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    return f"{number:,.2f}"


def _metric_label(key: str) -> str:
    return _METRIC_LABELS.get(key) or key.replace("_", " ").capitalize()


def _sign_class(value: Any) -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value > 0:
            return "positive"
        if value < 0:
            return "negative"
    return ""


def _cell(text: str, css_class: str = "") -> str:
    return f'<td class="{css_class}">{html.escape(text)}</td>' if css_class else f"<td>{html.escape(text)}</td>"


def _metrics_table(metrics: dict) -> str:
    items = list(metrics.items())
    rows = []
    # Two metrics per row keeps the ~45 metrics to one screen.
    for start in range(0, len(items), 2):
        cells = []
        for key, value in items[start:start + 2]:
            css = _sign_class(value) if key in _MONEY_METRICS or key in _PERCENT_METRICS else ""
            cells.append(f"<th>{html.escape(_metric_label(key))}</th>{_cell(format_metric(key, value), css)}")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table class="metrics">{"".join(rows)}</table>'


def _routes_table(routes: Sequence[dict]) -> str:
    if not routes:
        return '<p class="note">No routes.</p>'
    header = "".join(f"<th>{name}</th>" for name in ("Exchange", "Symbol", "Timeframe", "Strategy"))
    rows = "".join(
        "<tr>" + "".join(_cell(str(route.get(key, ""))) for key in ("exchange", "symbol", "timeframe", "strategy")) + "</tr>"
        for route in routes
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"


def _period(result: dict) -> str:
    start_ms, finish_ms = result.get("start_ms"), result.get("finish_ms")
    if start_ms is None or finish_ms is None:
        return "Period unknown"
    days = (float(finish_ms) - float(start_ms)) / (_DAY_S * 1000)
    return f"{format_utc(start_ms, 'minutes')} to {format_utc(finish_ms, 'minutes')} ({days:,.1f} days)"


def _number(value: Any, spec: str, suffix: str = "") -> str:
    """`value` formatted by `spec` plus `suffix`; missing or non-numeric values stay as they are."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value)):
        return format(float(value), spec) + suffix
    return "" if value is None else str(value)


_TRADE_HEADERS = ("#", "Opened (UTC)", "Closed (UTC)", "Strategy", "Exchange", "Symbol", "Type", "Entry",
                  "Exit", "Qty", "Leverage", "Fee", "PnL", "PnL %", "Holding")


def _trade_row(number: int, trade: dict) -> str:
    pnl = trade.get("PNL")
    pnl_class = f"number {_sign_class(pnl)}".rstrip()
    holding = trade.get("holding_period")
    cells = (
        _cell(str(number), "number"),
        _cell(format_utc(trade.get("opened_at"), "seconds")),
        _cell(format_utc(trade.get("closed_at"), "seconds")),
        _cell(str(trade.get("strategy_name", ""))),
        _cell(str(trade.get("exchange", ""))),
        _cell(str(trade.get("symbol", ""))),
        _cell(str(trade.get("type", ""))),
        # Prices and quantities span many magnitudes (BTC vs. meme coins): significant digits, not decimals.
        _cell(_number(trade.get("entry_price"), ".8g"), "number"),
        _cell(_number(trade.get("exit_price"), ".8g"), "number"),
        _cell(_number(trade.get("qty"), ".8g"), "number"),
        _cell(_number(trade.get("leverage"), "g"), "number"),
        _cell(_number(trade.get("fee"), ",.2f"), "number"),
        _cell(_number(pnl, ",.2f"), pnl_class),
        _cell(_number(trade.get("PNL_percentage"), ",.2f", "%"), pnl_class),
        _cell(_duration(holding) if isinstance(holding, numbers.Real) and math.isfinite(holding) else "", "number"),
    )
    return f"<tr>{''.join(cells)}</tr>"


def _trades_section(trades: Sequence[dict]) -> str:
    if not trades:
        return '<p class="note">No closed trades.</p>'
    shown = trades[:MAX_TRADE_ROWS]
    note = ""
    if len(trades) > len(shown):
        note = (f'<p class="note">Showing the first {len(shown):,} of {len(trades):,} trades; '
                "the trades CSV or JSON download has all of them.</p>")
    header = "".join(f"<th>{name}</th>" for name in _TRADE_HEADERS)
    rows = "".join(_trade_row(number, trade) for number, trade in enumerate(shown, start=1))
    return f'{note}<div class="trades"><table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table></div>'


def _chart_figure(png: bytes, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    caption = html.escape(caption)
    return f'<figure><img src="data:image/png;base64,{data}" alt="{caption}"><figcaption>{caption}</figcaption></figure>'


def html_report(result: dict, title: str, routes: Sequence[dict]) -> bytes:
    """The whole report (title, routes, period, metrics, the five charts and the first
    MAX_TRADE_ROWS trades) as one UTF-8 HTML document. All user text is escaped."""
    routes = list(routes or ())
    trades = list(result.get("trades") or ())
    charts = (
        (equity_chart_png(result, routes), "Equity curve with buy-and-hold benchmark"),
        (drawdown_chart_png(result), "Drawdown from the running peak"),
        (underwater_chart_png(result), "Time below the previous peak"),
        (monthly_returns_png(result), "Monthly returns"),
        (trade_pnl_distribution_png(result), "Distribution of trade PnL %"),
    )
    escaped_title = html.escape(title or "Backtest report")
    document = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escaped_title}</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>{escaped_title}</h1>
<p class="period">{html.escape(_period(result))}</p>
<h2>Routes</h2>
{_routes_table(routes)}
<h2>Metrics</h2>
{_metrics_table(result.get("metrics") or {})}
<h2>Charts</h2>
{"".join(_chart_figure(png, caption) for png, caption in charts)}
<h2>Trades ({len(trades):,})</h2>
{_trades_section(trades)}
</main>
</body>
</html>
"""
    return document.encode("utf-8")
