"""Reading a finished backtest: its trades and log lines page by page, and one route's chart data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import sqlalchemy as sa

from candlewire.engine.orders import EXECUTED
from candlewire.engine.timeframes import TIMEFRAMES, aggregate
from candlewire.errors import FailedPrecondition, InvalidArgument, NotFound
from candlewire.storage import events as event_store
from candlewire.storage.candles import load_candles
from candlewire.storage.sessions import SessionRecord

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
LOG_SCAN_PAGE = 5000


def finished_result(record: SessionRecord) -> dict[str, Any]:
    """The result of a backtest that succeeded; FailedPrecondition saying why there is none otherwise."""
    if record.kind != "backtest":
        raise FailedPrecondition(f"session {record.id} is a {record.kind.replace('_', ' ')}, not a backtest")
    if record.status != "succeeded" or not record.result:
        raise FailedPrecondition(f"backtest {record.id} is {record.status}: results exist only once it has succeeded")
    return record.result


def page_size_of(page_size: int) -> int:
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative", {"page_size": "must not be negative"})
    return min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _offset(page_token: str) -> int:
    """Tokens are plain positions: trades and log events of a finished backtest never change."""
    if not page_token:
        return 0
    if not page_token.isdigit():
        raise InvalidArgument("invalid page token", {"page_token": "not a token returned by this list"})
    return int(page_token)


def trades_page(record: SessionRecord, page_size: int, page_token: str) -> tuple[list[dict[str, Any]], str]:
    """Closed trades (each with its orders) in close order, and the next page's token ("" on the last page)."""
    trades = finished_result(record)["trades"]
    start, size = _offset(page_token), page_size_of(page_size)
    end = start + size
    return trades[start:end], (str(end) if end < len(trades) else "")


def log_page(
    engine: sa.Engine, session_id: str, levels: Iterable[str], page_size: int, page_token: str
) -> tuple[list[event_store.EventRecord], str]:
    """Log events of the session (only `levels` when given), oldest first; the token is the session
    sequence of the page's last line. One line past the page is read to know whether another follows."""
    wanted = set(levels)
    size = page_size_of(page_size)
    cursor = _offset(page_token)
    lines: list[event_store.EventRecord] = []
    while True:
        events = event_store.events_after(engine, session_id, cursor, LOG_SCAN_PAGE)
        for event in events:
            if event.kind == "log" and (not wanted or event.payload.get("level", "info") in wanted):
                lines.append(event)
                if len(lines) > size:
                    return lines[:size], str(lines[size - 1].session_sequence)
        if len(events) < LOG_SCAN_PAGE:
            return lines, ""
        cursor = events[-1].session_sequence


def chart_data(
    engine: sa.Engine, record: SessionRecord, route_index: int, exchange: str, symbol: str
) -> dict[str, Any]:
    """One route's candles in its timeframe over the backtest period (bars counted from the start, as
    the engine counts them), its executed orders, and the strategy's drawings."""
    result = finished_result(record)
    if not result.get("charts"):
        raise FailedPrecondition(
            f"backtest {record.id} ran without options.export_charts; run it again with export_charts to get chart data"
        )
    routes = record.params["routes"]
    if exchange or symbol:
        index = next(
            (i for i, r in enumerate(routes) if r["exchange"] == exchange and r["symbol"] == symbol), None
        )
        if index is None:
            raise NotFound(f"backtest {record.id} has no route trading {symbol} on {exchange}")
    else:
        index = route_index
        if not 0 <= index < len(routes):
            raise InvalidArgument(
                f"route_index {index} out of range", {"route_index": f"must be between 0 and {len(routes) - 1}"}
            )
    route = routes[index]
    minutes = load_candles(engine, route["exchange"], route["symbol"], record.params["start_ms"], record.params["finish_ms"] - 1)
    charts = next(chart for chart in result["charts"] if chart["route"] == index)
    return {
        "route": route,
        "candles": aggregate(minutes, TIMEFRAMES[route["timeframe"]]) if len(minutes) else np.empty((0, 6)),
        "orders": [order for order in result["orders"] if order["route"] == index and order["status"] == EXECUTED],
        "lines": charts["lines"],
        "horizontal_lines": [line for line in charts["horizontal_lines"] if line["chart"] is None],
        "extra_charts": _extra_charts(charts),
    }


def _extra_charts(charts: dict[str, Any]) -> list[dict[str, Any]]:
    """Extra panes by name, in the order the strategy first drew on them."""
    panes: dict[str, dict[str, Any]] = {}
    for line in charts["extra_charts"]:
        panes.setdefault(line["chart"], {"title": line["chart"], "lines": [], "horizontal_lines": []})["lines"].append(line)
    for line in charts["horizontal_lines"]:
        if line["chart"] is not None:
            panes.setdefault(line["chart"], {"title": line["chart"], "lines": [], "horizontal_lines": []})[
                "horizontal_lines"
            ].append(line)
    return list(panes.values())
