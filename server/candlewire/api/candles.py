"""CandlesService: exchange imports as jobs, CSV imports, stored 1-minute candle ranges and chart candles."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from candlewire.api import convert, results
from candlewire.api.candle_files import LocalCandlesMethods
from candlewire.api.sessions import SessionEndpoints
from candlewire.api.v1 import candles_pb2, candles_pb2_grpc
from candlewire.data.candle_import import validate_import_request
from candlewire.data.exchanges import get_exchange, market_violations
from candlewire.errors import require
from candlewire.storage import candles as candle_store


def _now_ms() -> int:
    return int(datetime.now(timezone.utc).timestamp() * 1000)


def _date_ms(date, field: str, violations: dict[str, str]) -> int:
    try:
        return int(datetime(date.year, date.month, date.day, tzinfo=timezone.utc).timestamp() * 1000)
    except ValueError:
        violations[field] = "must be a valid calendar date"
        return 0


class CandlesServicer(LocalCandlesMethods, candles_pb2_grpc.CandlesServiceServicer):
    def __init__(self, app):
        self.app = app
        self.imports = SessionEndpoints(app, "candle_import", candles_pb2.CandleImportEventBatch)

    def _import_params(self, request) -> dict:
        params = request.params
        violations: dict[str, str] = {}
        start_ms = _date_ms(params.start_date, "params.start_date", violations)
        # An unset end date means "up to now"; the importer keeps only closed minutes.
        end_ms = _date_ms(params.end_date, "params.end_date", violations) if params.HasField("end_date") else _now_ms()
        require(violations)
        validate_import_request(
            params.exchange,
            params.symbol,
            start_ms,
            end_ms,
            field_names={
                "exchange": "params.exchange",
                "symbol": "params.symbol",
                "start_ms": "params.start_date",
                "end_ms": "params.end_date",
            },
        )
        return {"exchange": params.exchange, "symbol": params.symbol, "start_ms": start_ms, "end_ms": end_ms}

    async def StartCandleImport(self, request, context):
        record = await self.imports.start(self._import_params(request), request.title, request.description)
        return convert.session(record)

    async def RunCandleImport(self, request, context):
        async for batch in self.imports.run(self._import_params(request), request.title, request.description):
            yield batch

    async def WatchCandleImport(self, request, context):
        async for batch in self.imports.watch(request.id, request.after_sequence):
            yield batch

    async def GetCandleImport(self, request, context):
        record = await self.imports.get(request.id)
        params = record.params
        message = candles_pb2.CandleImport(session=convert.session(record))
        message.params.exchange = params["exchange"]
        message.params.symbol = params["symbol"]
        for field, key in (("start_date", "start_ms"), ("end_date", "end_ms")):
            moment = datetime.fromtimestamp(params[key] / 1000, timezone.utc)
            getattr(message.params, field).year = moment.year
            getattr(message.params, field).month = moment.month
            getattr(message.params, field).day = moment.day
        if record.result:
            message.result.CopyFrom(results.candle_import_result(record.result))
        return message

    async def CancelCandleImport(self, request, context):
        return convert.session(await self.imports.cancel(request.id))

    async def ListCandleRanges(self, request, context):
        ranges = await asyncio.to_thread(candle_store.candle_ranges, self.app.engine)
        return candles_pb2.ListCandleRangesResponse(
            ranges=[
                candles_pb2.CandleRange(
                    exchange=r.exchange,
                    symbol=r.symbol,
                    start_time=convert.timestamp(r.start_ms),
                    # Ranges are half-open: the last stored minute ends one minute after it opens.
                    end_time=convert.timestamp(r.end_ms + 60_000),
                    count=r.count,
                )
                for r in ranges
                if (not request.exchange or r.exchange == request.exchange)
                and (not request.symbol or r.symbol == request.symbol)
            ]
        )

    async def DeleteCandles(self, request, context):
        require(market_violations(request.exchange, request.symbol))
        bounds = {}
        if request.HasField("range"):
            if request.range.HasField("start_time"):
                bounds["start_ms"] = convert.milliseconds_of(request.range.start_time)
            if request.range.HasField("end_time"):
                # TimeRange is half-open; storage bounds are inclusive.
                bounds["end_ms"] = convert.milliseconds_of(request.range.end_time) - 1
        count = await asyncio.to_thread(
            candle_store.delete_candles, self.app.engine, request.exchange, request.symbol, **bounds
        )
        return candles_pb2.DeleteCandlesResponse(deleted_count=count)

    async def PurgeCandles(self, request, context):
        if request.exchange:
            get_exchange(request.exchange)
        count = await asyncio.to_thread(candle_store.purge_candles, self.app.engine, request.exchange or None)
        return candles_pb2.PurgeCandlesResponse(deleted_count=count)
