"""Typed result messages of each job kind, built from the result payloads workers send."""

from __future__ import annotations

from typing import Any

from candlewire.api.convert import timestamp
from candlewire.api.testing.v1 import test_jobs_pb2
from candlewire.api.v1 import candles_pb2, common_pb2


def test_job_result(payload: dict[str, Any]) -> test_jobs_pb2.TestJobResult:
    return test_jobs_pb2.TestJobResult(steps_done=payload.get("steps_done", 0))


def candle_import_result(payload: dict[str, Any]) -> candles_pb2.CandleImportResult:
    return candles_pb2.CandleImportResult(
        exchange=payload["exchange"],
        symbol=payload["symbol"],
        inserted=payload.get("inserted", 0),
        skipped_existing=payload.get("skipped_existing", 0),
        start_time=timestamp(payload["start_ms"]),
        end_time=timestamp(payload["end_ms"]),
        gaps=[common_pb2.TimeRange(start_time=timestamp(a), end_time=timestamp(b)) for a, b in payload.get("gaps", [])],
    )


# Job kind → (field of Event.payload, builder of the typed result).
BY_KIND = {
    "test_job": ("test_job_result", test_job_result),
    "candle_import": ("candle_import_result", candle_import_result),
}
