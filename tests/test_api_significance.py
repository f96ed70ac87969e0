"""SignificanceTestService end to end against a real server (SQLite and PostgreSQL): one test of the
golden route with its stream, Get and List, the histogram PNG over gRPC and REST, and bad input that
stores nothing."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import json_format

import golden
from candlewire import research
from candlewire_client import events as each_event, field_violations
from candlewire_client.v1 import candles_pb2, common_pb2, file_pb2, significance_test_pb2
from e2e_helpers import rpc_error
from test_api_backtests import date_of, store_strategy

ST = significance_test_pb2
ROUTE = {"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": golden.STRATEGY}


def start_request(**params) -> ST.StartSignificanceTestRequest:
    return ST.StartSignificanceTestRequest(title="signal", params=json_format.ParseDict(params, ST.SignificanceTestParams()))


def valid_params(**changes) -> dict:
    return {
        "route": ROUTE, "start_date": date_of(golden.START), "finish_date": date_of(golden.FINISH),
        "warm_up_candles": golden.WARM_UP_CANDLES, "resamples": 500, "seed": 11, **changes,
    }


@pytest.fixture(scope="module")
def stored(client):
    rows = golden.candles()
    client.candles.ImportCandleFile(
        candles_pb2.ImportCandleFileRequest(exchange=golden.EXCHANGE, symbol=golden.SYMBOL, content=golden.candles_csv(rows))
    )
    store_strategy(client, golden.STRATEGY, golden.STRATEGY_SOURCE)


@pytest.fixture(scope="module")
def finished_test(client, stored):
    return list(each_event(client.significance_tests.RunSignificanceTest(start_request(**valid_params()), timeout=120)))


def significance_test_count(client) -> int:
    return len(client.significance_tests.ListSignificanceTests(ST.ListSignificanceTestsRequest(page_size=1000)).significance_tests)


def test_run_streams_progress_and_a_result_matching_research(client, finished_test):
    assert finished_test[0].session.kind == common_pb2.SESSION_KIND_SIGNIFICANCE_TEST
    assert finished_test[-1].session.status == common_pb2.SESSION_STATUS_SUCCEEDED, finished_test[-1].session.error.message
    assert any(event.HasField("progress") for event in finished_test)
    (result,) = [event.result for event in finished_test if event.HasField("result")]

    candles, warm_up = golden.engine_inputs(golden.candles())
    expected = research.significance_test(
        golden.research_config(), {**ROUTE, "strategy": golden.strategy_class()}, [], candles, warm_up, resamples=500, seed=11
    )
    assert result.p_value == pytest.approx(expected["p_value"])
    assert result.observed_mean == pytest.approx(expected["observed_mean"])
    assert result.observations == expected["observations"] > 0
    assert result.warning == expected["warning"]
    assert list(result.histogram.counts) == expected["histogram"]["counts"] and sum(result.histogram.counts) == 500

    got = client.significance_tests.GetSignificanceTest(ST.GetSignificanceTestRequest(id=finished_test[0].session.id))
    assert got.result == result and got.params.route.strategy == golden.STRATEGY and got.params.resamples == 500


def test_histogram_png_over_grpc_and_rest(client, rest, finished_test):
    session_id = finished_test[0].session.id
    chunks = list(client.files.DownloadFile(
        file_pb2.DownloadFileRequest(session_id=session_id, kind=file_pb2.FILE_KIND_CHART_SIGNIFICANCE_PNG), timeout=60))
    data = b"".join(chunk.data for chunk in chunks)
    assert chunks[0].content_type == "image/png" and data.startswith(b"\x89PNG")
    response = rest.get(f"/v1/sessions/{session_id}/files/FILE_KIND_CHART_SIGNIFICANCE_PNG")
    assert response.status_code == 200 and response.content == data


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"route": None}, "params.route"),
        ({"route": {**ROUTE, "strategy": "Missing"}}, "params.route.strategy"),
        ({"resamples": -1}, "params.resamples"),
        ({"seed": -5}, "params.seed"),
        ({"finish_date": None}, "params.finish_date"),
    ],
)
def test_bad_requests_are_invalid_argument_and_store_nothing(client, stored, changes, field):
    params = {key: value for key, value in valid_params(**changes).items() if value is not None}
    before = significance_test_count(client)
    error = rpc_error(lambda: client.significance_tests.StartSignificanceTest(start_request(**params)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error), field_violations(error)
    assert significance_test_count(client) == before
