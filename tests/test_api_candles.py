"""CandlesService end to end: imports from the (fake) Binance as sessions, stored ranges, deleting and purging."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta, timezone

import grpc
import pytest
from google.protobuf import json_format

from candlewire_client import events as each_event
from candlewire_client.testing.v1 import test_jobs_pb2
from candlewire_client.v1 import candles_pb2, common_pb2, system_pb2
from e2e_data_helpers import (
    FAKE_GAP_END,
    FAKE_GAP_MINUTES,
    FAKE_GAP_START,
    events_of,
    import_request,
    json_date,
    minutes_between,
    proto_date,
    rest_violations,
    rpc_fails,
    run_import,
    session_count,
    wait_until,
)

JAN_1 = date(2024, 1, 1)
JAN_2 = date(2024, 1, 2)
JAN_3 = date(2024, 1, 3)
SUCCEEDED = common_pb2.SESSION_STATUS_SUCCEEDED


def ranges(client, exchange: str = "", symbol: str = "") -> list[candles_pb2.CandleRange]:
    return list(client.candles.ListCandleRanges(candles_pb2.ListCandleRangesRequest(exchange=exchange, symbol=symbol)).ranges)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def get_import(client, session_id: str) -> candles_pb2.CandleImport:
    return client.candles.GetCandleImport(candles_pb2.GetCandleImportRequest(id=session_id))


@pytest.fixture(scope="module")
def btc_import(client) -> list[candles_pb2.CandleImportEvent]:
    """Two days of binance-spot BTC-USDT, imported once per server."""
    return run_import(client, "binance-spot", "BTC-USDT", JAN_1, JAN_3)


# --- importing -----------------------------------------------------------------------------------


def test_run_candle_import_streams_session_progress_result_and_succeeds(btc_import):
    kinds = [event.WhichOneof("event") for event in btc_import]
    statuses = [session.status for session in events_of(btc_import, "session")]

    assert [event.sequence for event in btc_import] == list(range(1, len(btc_import) + 1))
    assert kinds[0] == "session" and kinds[-1] == "session"
    assert kinds.index("progress") < kinds.index("result")
    assert statuses[0] == common_pb2.SESSION_STATUS_QUEUED
    assert statuses[-1] == SUCCEEDED
    assert btc_import[-1].session.kind == common_pb2.SESSION_KIND_CANDLE_IMPORT
    progress = events_of(btc_import, "progress")[-1]
    assert progress.done == progress.total == minutes_between(JAN_1, JAN_3)
    assert progress.fraction == 1


def test_import_result_counts_inserted_minutes_and_reports_the_exchanges_gap(btc_import):
    (result,) = events_of(btc_import, "result")

    assert (result.exchange, result.symbol) == ("binance-spot", "BTC-USDT")
    assert result.inserted == minutes_between(JAN_1, JAN_3) - FAKE_GAP_MINUTES
    assert result.skipped_existing == 0
    assert result.start_time.ToDatetime(timezone.utc) == utc(2024, 1, 1)
    assert result.end_time.ToDatetime(timezone.utc) == utc(2024, 1, 3)
    assert [(gap.start_time.ToDatetime(timezone.utc), gap.end_time.ToDatetime(timezone.utc)) for gap in result.gaps] == [
        (FAKE_GAP_START, FAKE_GAP_END)
    ]


def test_import_logs_what_it_does(btc_import):
    texts = [line.text for line in events_of(btc_import, "log")]

    assert any("BTC-USDT" in text and "binance-spot" in text for text in texts)
    assert any(f"{minutes_between(JAN_1, JAN_3) - FAKE_GAP_MINUTES} candles inserted" in text for text in texts)


def test_repeating_an_import_inserts_nothing_and_skips_every_stored_candle(client, btc_import):
    events = run_import(client, "binance-spot", "BTC-USDT", JAN_1, JAN_3)

    (result,) = events_of(events, "result")
    assert result.inserted == 0
    assert result.skipped_existing == minutes_between(JAN_1, JAN_3) - FAKE_GAP_MINUTES
    assert events[-1].session.status == SUCCEEDED


def test_start_and_watch_candle_import_over_rest_stream_newline_delimited_json(rest):
    started = rest.post(
        "/v1/candles:import",
        json={"title": "rest import", "params": {"exchange": "binance-spot", "symbol": "ETH-USDT",
                                                 "startDate": json_date(JAN_1), "endDate": json_date(JAN_2)}},
    )
    assert started.status_code == 200, started.text
    session = started.json()
    assert session["kind"] == "SESSION_KIND_CANDLE_IMPORT" and session["title"] == "rest import"

    with rest.stream("GET", f"/v1/candles/imports/{session['id']}:watch") as response:
        assert response.status_code == 200
        batches = [json.loads(line) for line in response.iter_lines() if line.strip()]

    # Each line is one batch of events: `{"events": [...]}`.
    assert batches and all(set(batch) == {"events"} and batch["events"] for batch in batches)
    events = [event for batch in batches for event in batch["events"]]

    assert [int(event["sequence"]) for event in events] == list(range(1, len(events) + 1))
    (result,) = [event["result"] for event in events if "result" in event]
    assert int(result["inserted"]) == minutes_between(JAN_1, JAN_2) - FAKE_GAP_MINUTES
    assert result["gaps"] == [{"startTime": "2024-01-01T10:00:00Z", "endTime": "2024-01-01T10:10:00Z"}]
    assert events[-1]["session"]["status"] == "SESSION_STATUS_SUCCEEDED"


def test_get_candle_import_returns_its_params_and_result(client, rest, btc_import):
    session_id = btc_import[0].session.id

    found = get_import(client, session_id)

    assert found.session.id == session_id and found.session.status == SUCCEEDED
    assert found.params == candles_pb2.CandleImportParams(
        exchange="binance-spot", symbol="BTC-USDT", start_date=proto_date(JAN_1), end_date=proto_date(JAN_3)
    )
    assert found.result == events_of(btc_import, "result")[0]
    over_rest = rest.get(f"/v1/candles/imports/{session_id}")
    assert json_format.ParseDict(over_rest.json(), candles_pb2.CandleImport()) == found


def test_watch_candle_import_after_a_sequence_replays_only_later_events(client, btc_import):
    session_id = btc_import[0].session.id

    replayed = list(each_event(client.candles.WatchCandleImport(
        candles_pb2.WatchCandleImportRequest(id=session_id, after_sequence=3), timeout=10
    )))

    assert replayed == btc_import[3:]


def test_cancelling_a_finished_import_is_failed_precondition(client, btc_import):
    with rpc_fails(grpc.StatusCode.FAILED_PRECONDITION):
        client.candles.CancelCandleImport(candles_pb2.CancelCandleImportRequest(id=btc_import[0].session.id))

    assert get_import(client, btc_import[0].session.id).session.status == SUCCEEDED


def test_cancelling_a_queued_import_cancels_it_at_once(client):
    def running(session_id: str) -> bool:
        return any(job.session_id == session_id and job.pid for job in client.system.ListJobs(system_pb2.ListJobsRequest()).jobs)

    # Two endless test jobs take both worker slots (CANDLEWIRE_MAX_JOBS=2), so the import waits.
    blockers = [client.test_jobs.StartTestJob(test_jobs_pb2.StartTestJobRequest(steps=10_000, step_interval_ms=50)) for _ in range(2)]
    try:
        for blocker in blockers:
            wait_until(lambda: running(blocker.id))
        queued = client.candles.StartCandleImport(import_request("binance-spot", "BTC-USDT", JAN_1, JAN_2))
        assert queued.status == common_pb2.SESSION_STATUS_QUEUED

        cancelled = client.candles.CancelCandleImport(candles_pb2.CancelCandleImportRequest(id=queued.id), timeout=10)

        assert cancelled.status == common_pb2.SESSION_STATUS_CANCELLED
        watched = list(each_event(client.candles.WatchCandleImport(candles_pb2.WatchCandleImportRequest(id=queued.id), timeout=10)))
        assert [session.status for session in events_of(watched, "session")] == [
            common_pb2.SESSION_STATUS_QUEUED, common_pb2.SESSION_STATUS_CANCELLED
        ]
    finally:
        for blocker in blockers:
            client.test_jobs.CancelTestJob(test_jobs_pb2.CancelTestJobRequest(id=blocker.id), timeout=10)


def test_cancelling_an_unknown_import_is_not_found(client, rest):
    with rpc_fails(grpc.StatusCode.NOT_FOUND):
        client.candles.CancelCandleImport(candles_pb2.CancelCandleImportRequest(id="0" * 32))
    response = rest.post(f"/v1/candles/imports/{'0' * 32}:cancel", json={})
    assert response.status_code == 404
    assert response.json()["code"] == 5


def test_get_candle_import_of_an_unknown_id_is_not_found(client, rest):
    with rpc_fails(grpc.StatusCode.NOT_FOUND):
        get_import(client, "0" * 32)
    assert rest.get(f"/v1/candles/imports/{'0' * 32}").status_code == 404


def test_list_candle_ranges_shows_the_stored_span_and_count(client, rest, btc_import):
    (stored,) = ranges(client, "binance-spot", "BTC-USDT")

    assert stored.count == minutes_between(JAN_1, JAN_3) - FAKE_GAP_MINUTES
    assert stored.start_time.ToDatetime(timezone.utc) == utc(2024, 1, 1)
    assert stored.end_time.ToDatetime(timezone.utc) == utc(2024, 1, 3)
    over_rest = rest.get("/v1/candles/ranges", params={"exchange": "binance-spot", "symbol": "BTC-USDT"}).json()
    assert over_rest["ranges"] == [json_format.MessageToDict(stored)]


def time_range(start: datetime, end: datetime) -> common_pb2.TimeRange:
    span = common_pb2.TimeRange()
    span.start_time.FromDatetime(start)
    span.end_time.FromDatetime(end)
    return span


def test_delete_candles_in_a_range_removes_only_those_and_updates_the_range(client):
    run_import(client, "binance-spot", "ETH-BTC", JAN_1, JAN_2)
    # Ends mid-minute, so the test holds whether the end is treated as inclusive or exclusive.
    first_hour = time_range(utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 0, 59, 30))

    deleted = client.candles.DeleteCandles(candles_pb2.DeleteCandlesRequest(exchange="binance-spot", symbol="ETH-BTC", range=first_hour))

    assert deleted.deleted_count == 60
    (left,) = ranges(client, "binance-spot", "ETH-BTC")
    assert left.count == minutes_between(JAN_1, JAN_2) - FAKE_GAP_MINUTES - 60
    assert left.start_time.ToDatetime(timezone.utc) == utc(2024, 1, 1, 1, 0)


def test_delete_candles_range_excludes_its_end_time(client):
    run_import(client, "binance-perpetual-futures", "BTC-USDT", JAN_1, JAN_2)

    deleted = client.candles.DeleteCandles(
        candles_pb2.DeleteCandlesRequest(
            exchange="binance-perpetual-futures", symbol="BTC-USDT", range=time_range(utc(2024, 1, 1, 0, 0), utc(2024, 1, 1, 1, 0))
        )
    )

    assert deleted.deleted_count == 60
    (left,) = ranges(client, "binance-perpetual-futures", "BTC-USDT")
    assert left.start_time.ToDatetime(timezone.utc) == utc(2024, 1, 1, 1, 0)


def test_delete_candles_without_a_range_removes_the_whole_symbol(client, rest):
    run_import(client, "binance-spot", "ETH-BTC", JAN_2, JAN_3)
    stored = sum(r.count for r in ranges(client, "binance-spot", "ETH-BTC"))
    others = [r for r in ranges(client) if r.symbol != "ETH-BTC"]

    response = rest.post("/v1/candles:delete", json={"exchange": "binance-spot", "symbol": "ETH-BTC"})

    assert response.status_code == 200
    assert int(response.json()["deletedCount"]) == stored > 0
    assert ranges(client, "binance-spot", "ETH-BTC") == []
    assert ranges(client) == others


def test_purge_candles_of_one_exchange_leaves_the_other_exchanges(client, btc_import):
    run_import(client, "binance-perpetual-futures", "SOL-USDT", JAN_1, JAN_2)
    futures_stored = sum(r.count for r in ranges(client, "binance-perpetual-futures"))
    spot_before = ranges(client, "binance-spot")

    purged = client.candles.PurgeCandles(candles_pb2.PurgeCandlesRequest(exchange="binance-perpetual-futures"))

    assert purged.deleted_count == futures_stored >= minutes_between(JAN_1, JAN_2) - FAKE_GAP_MINUTES
    assert ranges(client, "binance-perpetual-futures") == []
    assert ranges(client, "binance-spot") == spot_before != []


@pytest.mark.parametrize(
    ("exchange", "symbol", "violated"),
    [("binance-spot", "", "symbol"), ("", "BTC-USDT", "exchange"), ("binance-spot", "btc-usdt", "symbol")],
)
def test_delete_candles_with_bad_market_is_invalid_argument(client, exchange, symbol, violated):
    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        client.candles.DeleteCandles(candles_pb2.DeleteCandlesRequest(exchange=exchange, symbol=symbol))

    assert violated in failure["violations"]


def test_purge_candles_of_an_unknown_exchange_is_not_found(client):
    with rpc_fails(grpc.StatusCode.NOT_FOUND):
        client.candles.PurgeCandles(candles_pb2.PurgeCandlesRequest(exchange="nope-spot"))


def test_cancel_candle_import_stops_a_long_import_within_two_seconds(client):
    session = client.candles.StartCandleImport(import_request("binance-spot", "ETH-USDT", date(2024, 2, 1), date(2025, 2, 1)))
    wait_until(lambda: get_import(client, session.id).session.status == common_pb2.SESSION_STATUS_RUNNING)

    began = time.monotonic()
    cancelled = client.candles.CancelCandleImport(candles_pb2.CancelCandleImportRequest(id=session.id), timeout=10)
    took = time.monotonic() - began

    assert cancelled.status == common_pb2.SESSION_STATUS_CANCELLED
    assert took < 2.0
    watched = list(each_event(client.candles.WatchCandleImport(candles_pb2.WatchCandleImportRequest(id=session.id), timeout=10)))
    assert watched[-1].session.status == common_pb2.SESSION_STATUS_CANCELLED
    assert get_import(client, session.id).session.status == common_pb2.SESSION_STATUS_CANCELLED


FUTURE = datetime.now(timezone.utc).date() + timedelta(days=2)


@pytest.mark.parametrize(
    ("params", "violated"),
    [
        ({"exchange": "nope-spot"}, "params.exchange"),
        ({"exchange": ""}, "params.exchange"),
        ({"symbol": "btc-usdt"}, "params.symbol"),
        ({"symbol": "BTCUSDT"}, "params.symbol"),
        ({"start": JAN_2, "end": JAN_1}, "params.end_date"),
        ({"start": JAN_1, "end": JAN_1}, "params.end_date"),
        ({"end": FUTURE}, "params.end_date"),
    ],
)
def test_start_candle_import_with_bad_params_is_invalid_argument_and_creates_no_session(client, params, violated):
    request = import_request(**{"exchange": "binance-spot", "symbol": "BTC-USDT", "start": JAN_1, "end": JAN_2, **params})
    before = session_count(client)

    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        client.candles.StartCandleImport(request)

    assert violated in failure["violations"]
    assert session_count(client) == before


def test_import_with_an_impossible_date_is_invalid_argument_over_rest_and_creates_no_session(client, rest):
    before = session_count(client)

    response = rest.post(
        "/v1/candles:import",
        json={"params": {"exchange": "binance-spot", "symbol": "BTC-USDT",
                         "startDate": {"year": 2024, "month": 13, "day": 1}, "endDate": json_date(JAN_2)}},
    )

    assert response.status_code == 400
    assert "params.start_date" in rest_violations(response)
    assert session_count(client) == before


def test_run_candle_import_with_bad_params_fails_before_streaming_any_event(client):
    before = session_count(client)

    with rpc_fails(grpc.StatusCode.INVALID_ARGUMENT) as failure:
        list(client.candles.RunCandleImport(import_request("binance-spot", "btc-usdt", JAN_1, JAN_2)))

    assert "params.symbol" in failure["violations"]
    assert session_count(client) == before


def test_import_without_an_end_date_runs_up_to_now(client):
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)

    session = client.candles.StartCandleImport(import_request("binance-spot", "ETH-USDT", yesterday))
    client.candles.CancelCandleImport(candles_pb2.CancelCandleImportRequest(id=session.id))

    assert session.kind == common_pb2.SESSION_KIND_CANDLE_IMPORT


def test_import_of_a_symbol_the_exchange_does_not_list_fails_with_a_clear_error(client):
    events = run_import(client, "binance-spot", "DOGE-USDT", JAN_1, JAN_2)

    final = events[-1].session
    assert final.status == common_pb2.SESSION_STATUS_FAILED
    assert "DOGE-USDT" in final.error.message and "binance-spot" in final.error.message
    assert get_import(client, final.id).session.error.message == final.error.message
    assert ranges(client, "binance-spot", "DOGE-USDT") == []

