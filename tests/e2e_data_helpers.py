"""Helpers for the end-to-end tests of the data services (exchanges, candles, notifications, files, CLI)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Any

import grpc
import httpx
import pytest
from google.type import date_pb2

from candlewire_client import events as each_event, field_violations
from candlewire_client.v1 import candles_pb2, common_pb2, system_pb2
from pg import throwaway_postgres_url

MINUTE_MS = 60_000
# The fake exchange has no candles for these 10 minutes (see conftest.fake_exchange).
FAKE_GAP_START = datetime(2024, 1, 1, 10, 0, tzinfo=timezone.utc)
FAKE_GAP_END = datetime(2024, 1, 1, 10, 10, tzinfo=timezone.utc)
FAKE_GAP_MINUTES = 10


def proto_date(day: date) -> date_pb2.Date:
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)


def json_date(day: date) -> dict[str, int]:
    """A `google.type.Date` in the REST/JSON mapping."""
    return {"year": day.year, "month": day.month, "day": day.day}


def import_request(exchange: str, symbol: str, start: date, end: date | None = None, title: str = "") -> candles_pb2.StartCandleImportRequest:
    params = candles_pb2.CandleImportParams(exchange=exchange, symbol=symbol, start_date=proto_date(start))
    if end is not None:
        params.end_date.CopyFrom(proto_date(end))
    return candles_pb2.StartCandleImportRequest(title=title, params=params)


def run_import(client, exchange: str, symbol: str, start: date, end: date) -> list[candles_pb2.CandleImportEvent]:
    """Every event of a RunCandleImport call (the server sends them in batches), until the stream ends."""
    return list(each_event(client.candles.RunCandleImport(import_request(exchange, symbol, start, end), timeout=120)))


def events_of(events, kind: str) -> list[Any]:
    return [getattr(event, kind) for event in events if event.WhichOneof("event") == kind]


def minutes_between(start: date, end: date) -> int:
    return (end - start).days * 24 * 60


@contextmanager
def rpc_fails(code: grpc.StatusCode) -> Iterator[dict[str, Any]]:
    """Expect the block to raise grpc.RpcError with `code`; the yielded dict gets `details` and `violations`."""
    outcome: dict[str, Any] = {}
    with pytest.raises(grpc.RpcError) as raised:
        yield outcome
    error = raised.value
    assert error.code() == code, f"expected {code.name}, got {error.code().name}: {error.details()}"
    outcome["details"] = error.details()
    outcome["violations"] = field_violations(error)


def rest_violations(response: httpx.Response) -> dict[str, str]:
    """Field → description of the google.rpc.BadRequest detail in a REST error body."""
    violations: dict[str, str] = {}
    for detail in response.json().get("details", []):
        if detail.get("@type", "").endswith("google.rpc.BadRequest"):
            violations.update({v["field"]: v["description"] for v in detail.get("fieldViolations", [])})
    return violations


def session_count(client, kind: int = common_pb2.SESSION_KIND_CANDLE_IMPORT) -> int:
    usage = client.system.GetUsage(system_pb2.GetUsageRequest())
    return next((entry.total for entry in usage.sessions if entry.kind == kind), 0)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@contextmanager
def fresh_database_url(like: str, tmp_path_factory) -> Iterator[str]:
    """An empty database of the same kind (SQLite or PostgreSQL) as `like`."""
    if like.startswith("sqlite"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'candlewire.db'}"
    else:
        with throwaway_postgres_url() as url:
            yield url
