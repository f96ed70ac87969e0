"""CandlesService methods for local candles: CSV file imports and chart reads.

A mixin for `CandlesServicer`, which provides `self.app`.
"""

from __future__ import annotations

import asyncio

from candlewire.api import convert
from candlewire.api.v1 import candles_pb2, common_pb2
from candlewire.data.chart_candles import chart_candles
from candlewire.data.csv_import import import_candle_file


class LocalCandlesMethods:
    async def ImportCandleFile(self, request, context):
        imported = await asyncio.to_thread(
            import_candle_file, self.app.engine, request.exchange, request.symbol, request.content, request.fill_gaps
        )
        return candles_pb2.ImportCandleFileResponse(
            rows_imported=imported.rows_imported,
            start_time=convert.timestamp(imported.start_ms),
            end_time=convert.timestamp(imported.end_ms),
            gaps=[
                common_pb2.TimeRange(start_time=convert.timestamp(start), end_time=convert.timestamp(end))
                for start, end in imported.gaps
            ],
        )

    async def GetCandles(self, request, context):
        bars = await asyncio.to_thread(
            chart_candles,
            self.app.engine,
            request.exchange,
            request.symbol,
            request.timeframe,
            convert.milliseconds_of(request.start_time) if request.HasField("start_time") else None,
            convert.milliseconds_of(request.end_time) if request.HasField("end_time") else None,
            request.limit,
        )
        return convert.candle_series(bars)
