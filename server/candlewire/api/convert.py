"""Plain domain values ↔ shared protobuf messages (sessions, progress, logs, times)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from google.protobuf import timestamp_pb2

from candlewire.api.v1 import common_pb2
from candlewire.engine.timeframes import CLOSE, HIGH, LOW, OPEN, TIMESTAMP, VOLUME
from candlewire.errors import InvalidArgument

SESSION_KINDS = {
    "backtest": common_pb2.SESSION_KIND_BACKTEST,
    "candle_import": common_pb2.SESSION_KIND_CANDLE_IMPORT,
    "optimization": common_pb2.SESSION_KIND_OPTIMIZATION,
    "monte_carlo": common_pb2.SESSION_KIND_MONTE_CARLO,
    "significance_test": common_pb2.SESSION_KIND_SIGNIFICANCE_TEST,
    "live": common_pb2.SESSION_KIND_LIVE,
    "test_job": common_pb2.SESSION_KIND_TEST_JOB,
}
SESSION_KIND_NAMES = {value: name for name, value in SESSION_KINDS.items()}
SESSION_STATUSES = {
    "draft": common_pb2.SESSION_STATUS_DRAFT,
    "queued": common_pb2.SESSION_STATUS_QUEUED,
    "running": common_pb2.SESSION_STATUS_RUNNING,
    "succeeded": common_pb2.SESSION_STATUS_SUCCEEDED,
    "failed": common_pb2.SESSION_STATUS_FAILED,
    "cancelled": common_pb2.SESSION_STATUS_CANCELLED,
}
SESSION_STATUS_NAMES = {value: name for name, value in SESSION_STATUSES.items()}
LOG_LEVELS = {
    "debug": common_pb2.LOG_LEVEL_DEBUG,
    "info": common_pb2.LOG_LEVEL_INFO,
    "warning": common_pb2.LOG_LEVEL_WARNING,
    "error": common_pb2.LOG_LEVEL_ERROR,
}


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def timestamp(value: datetime | str | int | float | None) -> timestamp_pb2.Timestamp | None:
    """A Timestamp from a datetime, an ISO 8601 string or epoch milliseconds."""
    if value is None or value == "":
        return None
    out = timestamp_pb2.Timestamp()
    fill_timestamp(out, value)
    return out


def fill_timestamp(target: timestamp_pb2.Timestamp, value: datetime | str | float | None) -> None:
    """Set a Timestamp field in place (what `timestamp` returns); None or "" leaves it unset.

    Streams convert every event's time, so this skips Timestamp.FromDatetime (pure Python even
    under upb, several times slower) and the copy of a separate message.
    """
    if value is None or value == "":
        return
    if isinstance(value, (int, float)):
        target.FromMilliseconds(int(value))
        return
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.astimezone(timezone.utc)  # a naive time is local time, as astimezone reads it
    elapsed = moment - _EPOCH  # exact: whole days, seconds and microseconds, no float rounding
    target.seconds = elapsed.days * 86_400 + elapsed.seconds
    target.nanos = elapsed.microseconds * 1000


def datetime_of(value: timestamp_pb2.Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=timezone.utc)


def milliseconds_of(value: timestamp_pb2.Timestamp) -> int:
    return value.ToMilliseconds()


def progress(values: dict[str, Any] | None) -> common_pb2.Progress:
    values = values or {}
    out = common_pb2.Progress(done=int(values.get("done", 0)), total=int(values.get("total", 0)))
    if out.total:
        out.fraction = out.done / out.total
    if values.get("eta_seconds") is not None:
        out.eta.FromNanoseconds(int(values["eta_seconds"] * 1e9))
    if values.get("current_time_ms") is not None:
        out.current_time.CopyFrom(timestamp(values["current_time_ms"]))
    return out


def session(record: Any) -> common_pb2.Session:
    """A Session from a SessionRecord or its dict form (the payload of status events)."""
    values = record if isinstance(record, dict) else record.to_dict()
    out = common_pb2.Session(
        id=values["id"],
        kind=SESSION_KINDS[values["kind"]],
        status=SESSION_STATUSES[values["status"]],
        title=values.get("title", ""),
        description=values.get("description", ""),
        progress=progress(values.get("progress")),
    )
    for field, key in (
        ("create_time", "created_at"),
        ("update_time", "updated_at"),
        ("start_time", "started_at"),
        ("finish_time", "finished_at"),
    ):
        moment = timestamp(values.get(key))
        if moment is not None:
            getattr(out, field).CopyFrom(moment)
    if values.get("error"):
        out.error.message = values["error"]
        out.error.traceback = values.get("traceback", "")
    return out


def log_line(time: datetime, values: dict[str, Any]) -> common_pb2.LogLine:
    return fill_log_line(common_pb2.LogLine(), time, values)


def fill_log_line(target: common_pb2.LogLine, time: datetime, values: dict[str, Any]) -> common_pb2.LogLine:
    """Fill a LogLine field in place from a `log` event (its payload may carry its own time)."""
    fill_timestamp(target.time, values.get("time", time))
    target.level = LOG_LEVELS.get(values.get("level", "info"), common_pb2.LOG_LEVEL_INFO)
    target.text = values.get("text", "")
    return target


def session_kind_name(kind: int, field: str) -> str:
    if kind not in SESSION_KIND_NAMES:
        raise InvalidArgument(f"unknown session kind {kind}", {field: "unknown session kind"})
    return SESSION_KIND_NAMES[kind]


def fill_event(message: Any, event: Any) -> Any:
    """Fill the sequence, time and session/progress/log case of a per-service `XxxEvent` from an
    EventRecord; result events are the service's to fill (see `results.typed_result`)."""
    message.sequence = event.session_sequence
    fill_timestamp(message.time, event.time)
    if event.kind == "log":
        fill_log_line(message.log, event.time, event.payload)
    elif event.kind == "status":
        message.session.CopyFrom(session(event.payload))
    elif event.kind == "progress":
        message.progress.CopyFrom(progress(event.payload))
    return message


EXCHANGE_TYPES = {"spot": common_pb2.EXCHANGE_TYPE_SPOT, "futures": common_pb2.EXCHANGE_TYPE_FUTURES}
LEVERAGE_MODES = {
    "cross": common_pb2.FUTURES_LEVERAGE_MODE_CROSS,
    "isolated": common_pb2.FUTURES_LEVERAGE_MODE_ISOLATED,
}


def _enum_name(mapping: dict[str, int], value: int) -> str:
    # An unset enum maps to "" so validation names the field instead of guessing a default.
    return next((name for name, number in mapping.items() if number == value), "")


def exchange_settings(values: dict) -> common_pb2.ExchangeSettings:
    return common_pb2.ExchangeSettings(
        exchange=values["exchange"],
        starting_balance=values["starting_balance"],
        fee=values["fee"],
        type=EXCHANGE_TYPES[values["type"]],
        futures_leverage=values["futures_leverage"],
        futures_leverage_mode=LEVERAGE_MODES[values["futures_leverage_mode"]],
        balance_currency=values["balance_currency"],
    )


def exchange_settings_values(message: common_pb2.ExchangeSettings) -> dict:
    return {
        "exchange": message.exchange,
        "starting_balance": message.starting_balance,
        "fee": message.fee,
        "type": _enum_name(EXCHANGE_TYPES, message.type),
        "futures_leverage": message.futures_leverage,
        "futures_leverage_mode": _enum_name(LEVERAGE_MODES, message.futures_leverage_mode),
        "balance_currency": message.balance_currency,
    }


def hyperparameter_value(value: Any, as_float: bool = False) -> common_pb2.HyperparameterValue:
    if isinstance(value, bool):
        return common_pb2.HyperparameterValue(bool_value=value)
    if isinstance(value, int) and not as_float:
        return common_pb2.HyperparameterValue(int_value=value)
    if isinstance(value, (int, float)):
        return common_pb2.HyperparameterValue(float_value=float(value))
    return common_pb2.HyperparameterValue(string_value=str(value))


def candle_series(bars) -> common_pb2.CandleSeries:
    return common_pb2.CandleSeries(
        timestamps_ms=bars[:, TIMESTAMP].astype("int64").tolist(),
        open=bars[:, OPEN].tolist(),
        close=bars[:, CLOSE].tolist(),
        high=bars[:, HIGH].tolist(),
        low=bars[:, LOW].tolist(),
        volume=bars[:, VOLUME].tolist(),
    )
