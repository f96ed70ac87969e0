"""BacktestService: backtests as sessions (start, run, watch, get, list, update, delete, purge, cancel)
and the reads of a finished one (trades, logs, chart data)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from google.protobuf import empty_pb2
from google.type import date_pb2

from candlewire.api import convert, results
from candlewire.api.sessions import SessionEndpoints
from candlewire.api.v1 import backtest_pb2, backtest_pb2_grpc, common_pb2
from candlewire.backtests import reads
from candlewire.backtests.request import OPTIONS, resolve_backtest
from candlewire.errors import InvalidArgument, with_field_prefix
from candlewire.strategies.workspace import StrategyWorkspace

ORDER_SIDES = {"buy": common_pb2.ORDER_SIDE_BUY, "sell": common_pb2.ORDER_SIDE_SELL}
ORDER_TYPES = {"market": common_pb2.ORDER_TYPE_MARKET, "limit": common_pb2.ORDER_TYPE_LIMIT, "stop": common_pb2.ORDER_TYPE_STOP}
ORDER_STATUSES = {
    "active": common_pb2.ORDER_STATUS_ACTIVE,
    "executed": common_pb2.ORDER_STATUS_EXECUTED,
    "canceled": common_pb2.ORDER_STATUS_CANCELLED,
}
ORDER_ROLES = {
    "entry": common_pb2.ORDER_ROLE_ENTRY,
    "stop_loss": common_pb2.ORDER_ROLE_STOP_LOSS,
    "take_profit": common_pb2.ORDER_ROLE_TAKE_PROFIT,
    "liquidation": common_pb2.ORDER_ROLE_LIQUIDATION,
    "close": common_pb2.ORDER_ROLE_CLOSE,
}
TRADE_TYPES = {"long": common_pb2.TRADE_TYPE_LONG, "short": common_pb2.TRADE_TYPE_SHORT}
LOG_LEVEL_NAMES = {number: name for name, number in convert.LOG_LEVELS.items()}


# ================================================================================== requests


def _date_tuple(message, present: bool) -> tuple[int, int, int] | None:
    return (message.year, message.month, message.day) if present else None


def request_values(params: backtest_pb2.BacktestParams) -> dict[str, Any]:
    """BacktestParams as the plain request `resolve_backtest` reads."""
    return {
        "routes": [
            {"exchange": r.exchange, "symbol": r.symbol, "timeframe": r.timeframe, "strategy": r.strategy, "dna": r.dna}
            for r in params.routes
        ],
        "data_routes": [{"exchange": r.exchange, "symbol": r.symbol, "timeframe": r.timeframe} for r in params.data_routes],
        "start_date": _date_tuple(params.start_date, params.HasField("start_date")),
        "finish_date": _date_tuple(params.finish_date, params.HasField("finish_date")),
        "exchanges": [convert.exchange_settings_values(entry) for entry in params.exchanges],
        "warm_up_candles": params.warm_up_candles if params.HasField("warm_up_candles") else None,
        "hyperparameters": {
            name: getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None
            for name, value in params.hyperparameters.items()
        },
        "options": {name: getattr(params.options, name) for name in OPTIONS},
    }


# ================================================================================== responses


def date_of_ms(ms: int) -> date_pb2.Date:
    moment = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return date_pb2.Date(year=moment.year, month=moment.month, day=moment.day)


def params_message(params: dict[str, Any]) -> backtest_pb2.BacktestParams:
    """The recorded params: what actually ran, overrides already merged into the config's values."""
    return backtest_pb2.BacktestParams(
        routes=[common_pb2.Route(**route) for route in params["routes"]],
        data_routes=[common_pb2.DataRoute(**route) for route in params["data_routes"]],
        start_date=date_of_ms(params["start_ms"]),
        finish_date=date_of_ms(params["finish_ms"]),
        exchanges=[convert.exchange_settings(params["exchange"])],
        warm_up_candles=params["warm_up_candles"],
        hyperparameters={name: convert.hyperparameter_value(value) for name, value in params["hyperparameters"].items()},
        options=backtest_pb2.BacktestOptions(**params["options"]),
    )


def _backtest(record, with_curves: bool = True) -> backtest_pb2.Backtest:
    message = backtest_pb2.Backtest(session=convert.session(record), params=params_message(record.params))
    if record.status == "succeeded" and record.result:
        message.result.CopyFrom(results.backtest_result(record.result, with_curves))
    return message


def _order(order: dict[str, Any], routes: list[dict[str, Any]]) -> common_pb2.Order:
    route = routes[order["route"]]
    return common_pb2.Order(
        id=str(order["id"]),
        exchange=route["exchange"],
        symbol=route["symbol"],
        side=ORDER_SIDES[order["side"]],
        type=ORDER_TYPES[order["type"]],
        qty=order["qty"],
        price=order["price"],
        status=ORDER_STATUSES[order["status"]],
        reduce_only=order["reduce_only"],
        create_time=convert.timestamp(order["created_at"]),
        execute_time=convert.timestamp(order["executed_at"]),
        cancel_time=convert.timestamp(order["canceled_at"]),
        role=ORDER_ROLES[order["role"]],
    )


def _trade(trade: dict[str, Any], routes: list[dict[str, Any]]) -> common_pb2.Trade:
    out = common_pb2.Trade(
        id=str(trade["id"]),
        exchange=trade["exchange"],
        symbol=trade["symbol"],
        strategy=trade["strategy_name"],
        type=TRADE_TYPES[trade["type"]],
        entry_price=trade["entry_price"],
        exit_price=trade["exit_price"],
        qty=trade["qty"],
        fee=trade["fee"],
        pnl=trade["PNL"],
        pnl_percentage=trade["PNL_percentage"],
        leverage=trade["leverage"],
        open_time=convert.timestamp(trade["opened_at"]),
        close_time=convert.timestamp(trade["closed_at"]),
        orders=[_order(order, routes) for order in trade["orders"]],
    )
    out.holding_period.FromMilliseconds(int(round(trade["holding_period"] * 1000)))
    return out


def _line(series: dict[str, Any]) -> common_pb2.ChartLine:
    return common_pb2.ChartLine(
        name=series["title"], color=series["color"] or "", timestamps_ms=series["timestamps_ms"], values=series["values"]
    )


def _horizontal(line: dict[str, Any]) -> common_pb2.HorizontalLine:
    return common_pb2.HorizontalLine(name=line["title"], color=line["color"] or "", value=line["value"])


def _chart_data(chart: dict[str, Any], routes: list[dict[str, Any]]) -> common_pb2.ChartData:
    route = chart["route"]
    return common_pb2.ChartData(
        exchange=route["exchange"],
        symbol=route["symbol"],
        timeframe=route["timeframe"],
        candles=convert.candle_series(chart["candles"]),
        orders=[_order(order, routes) for order in chart["orders"]],
        candle_overlays=[_line(line) for line in chart["lines"]],
        horizontal_lines=[_horizontal(line) for line in chart["horizontal_lines"]],
        extra_charts=[
            common_pb2.ExtraChart(
                title=pane["title"],
                lines=[_line(line) for line in pane["lines"]],
                horizontal_lines=[_horizontal(line) for line in pane["horizontal_lines"]],
            )
            for pane in chart["extra_charts"]
        ],
    )


# ================================================================================== service


class BacktestServicer(backtest_pb2_grpc.BacktestServiceServicer):
    def __init__(self, app):
        self.app = app
        self.sessions = SessionEndpoints(app, "backtest", backtest_pb2.BacktestEventBatch)
        self.workspace = StrategyWorkspace(app.settings.data_dir)

    async def _resolve(self, request) -> dict[str, Any]:
        """Everything is checked before the session exists, so bad input stores nothing."""
        config = await asyncio.to_thread(self.app.config.get)
        try:
            return await asyncio.to_thread(
                resolve_backtest, request_values(request.params), config, self.workspace, self.app.engine
            )
        except InvalidArgument as error:
            raise with_field_prefix(error, lambda field: f"params.{field}") from None

    async def StartBacktest(self, request, context):
        params = await self._resolve(request)
        return convert.session(await self.sessions.start(params, request.title, request.description))

    async def RunBacktest(self, request, context):
        params = await self._resolve(request)
        async for batch in self.sessions.run(params, request.title, request.description):
            yield batch

    async def WatchBacktest(self, request, context):
        async for batch in self.sessions.watch(request.id, request.after_sequence):
            yield batch

    async def CancelBacktest(self, request, context):
        return convert.session(await self.sessions.cancel(request.id))

    async def GetBacktest(self, request, context):
        return _backtest(await self.sessions.get(request.id))

    async def ListBacktests(self, request, context):
        records, next_token = await self.sessions.list_page(request)
        return backtest_pb2.ListBacktestsResponse(
            backtests=[_backtest(record, with_curves=False) for record in records], next_page_token=next_token
        )

    async def UpdateBacktest(self, request, context):
        return _backtest(await self.sessions.update(request.backtest.session, list(request.update_mask.paths)))

    async def DeleteBacktest(self, request, context):
        await self.sessions.delete(request.id)
        return empty_pb2.Empty()

    async def PurgeBacktests(self, request, context):
        return backtest_pb2.PurgeBacktestsResponse(deleted_count=await self.sessions.purge(request.older_than_days))

    async def ListBacktestTrades(self, request, context):
        record = await self.sessions.get(request.id)
        trades, next_token = reads.trades_page(record, request.page_size, request.page_token)
        routes = record.params["routes"]
        return backtest_pb2.ListBacktestTradesResponse(
            trades=[_trade(trade, routes) for trade in trades], next_page_token=next_token
        )

    async def GetBacktestLogs(self, request, context):
        record = await self.sessions.get(request.id)
        unknown = [level for level in request.levels if level not in LOG_LEVEL_NAMES]
        if unknown:
            raise InvalidArgument("unknown log level", {"levels": f"unknown level(s) {unknown}"})
        events, next_token = await asyncio.to_thread(
            reads.log_page,
            self.app.engine,
            record.id,
            [LOG_LEVEL_NAMES[level] for level in request.levels],
            request.page_size,
            request.page_token,
        )
        return backtest_pb2.GetBacktestLogsResponse(
            lines=[convert.log_line(event.time, event.payload) for event in events], next_page_token=next_token
        )

    async def GetBacktestChartData(self, request, context):
        record = await self.sessions.get(request.id)
        chart = await asyncio.to_thread(
            reads.chart_data, self.app.engine, record, request.route_index, request.exchange, request.symbol
        )
        return _chart_data(chart, record.params["routes"])
