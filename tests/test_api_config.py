"""ConfigService end to end: defaults, field-mask updates over gRPC and REST, validation, persistence."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import field_mask_pb2, json_format

from candlewire_client import field_violations
from candlewire_client.v1 import common_pb2, config_pb2, system_pb2
from e2e_helpers import (  # noqa: F401 - dedicated_server is a fixture
    LONG_JOB,
    dedicated_server,
    get_test_job,
    rpc_error,
    running_job,
    start_test_job,
    wait_status,
)
import grpc_web

GET_CONFIG = "/candlewire.v1.ConfigService/GetConfig"


def get_config(client) -> config_pb2.Config:
    return client.config.GetConfig(config_pb2.GetConfigRequest())


def update(client, config: config_pb2.Config, *paths: str) -> config_pb2.Config:
    request = config_pb2.UpdateConfigRequest(config=config, update_mask=field_mask_pb2.FieldMask(paths=list(paths)))
    return client.config.UpdateConfig(request)


@pytest.fixture(autouse=True)
def restore_config(client):
    original = get_config(client)
    yield
    update(client, original, "backtest", "live", "jobs")
    client.system.TerminateAllJobs(system_pb2.TerminateAllJobsRequest())


def test_first_read_returns_the_defaults(dedicated_server):
    server = dedicated_server()
    with server.client() as client:
        config = get_config(client)
    for section in (config.backtest, config.live):
        assert sorted(e.exchange for e in section.exchanges) == ["binance-perpetual-futures", "binance-spot"]
        assert section.warm_up_candles == 240
    futures = next(e for e in config.backtest.exchanges if e.exchange == "binance-perpetual-futures")
    assert futures.type == common_pb2.EXCHANGE_TYPE_FUTURES
    assert futures.futures_leverage == 1
    assert config.jobs.max_concurrent_jobs == 2  # CANDLEWIRE_MAX_JOBS of the test servers


def test_get_config_is_the_same_over_grpc_rest_and_grpc_web(server, client, rest, token):
    over_grpc = get_config(client)
    over_rest = json_format.Parse(rest.get("/v1/config").text, config_pb2.Config())
    over_web = grpc_web.unary(server.gateway_url, GET_CONFIG, config_pb2.GetConfigRequest(), config_pb2.Config, token)
    assert over_rest == over_grpc
    assert over_web == over_grpc


def test_update_with_a_mask_changes_only_the_named_field(client):
    before = get_config(client)
    after = update(client, config_pb2.Config(backtest=config_pb2.BacktestConfig(warm_up_candles=500)),
                   "backtest.warm_up_candles")
    expected = config_pb2.Config()
    expected.CopyFrom(before)
    expected.backtest.warm_up_candles = 500
    assert after == expected
    assert get_config(client) == expected


def test_update_replaces_a_repeated_field_as_a_whole(client):
    spot = next(e for e in get_config(client).backtest.exchanges if e.exchange == "binance-spot")
    after = update(client, config_pb2.Config(backtest=config_pb2.BacktestConfig(exchanges=[spot])), "backtest.exchanges")
    assert [e.exchange for e in after.backtest.exchanges] == ["binance-spot"]
    assert len(after.live.exchanges) == 2


@pytest.mark.parametrize(
    "query",
    ["updateMask=backtest.warmUpCandles", "update_mask=backtest.warm_up_candles", "updateMask.paths=backtest.warm_up_candles"],
)
def test_rest_patch_with_a_mask_in_the_query_changes_only_that_field(client, rest, query):
    before = get_config(client)
    response = rest.patch(f"/v1/config?{query}", json={"backtest": {"warmUpCandles": 321}, "live": {"warmUpCandles": 9}})
    assert response.status_code == 200
    assert response.json()["backtest"]["warmUpCandles"] == 321
    after = get_config(client)
    assert after.backtest.warm_up_candles == 321
    assert after.live == before.live


def test_rest_patch_without_a_mask_is_400(rest):
    response = rest.patch("/v1/config", json={"backtest": {"warmUpCandles": 321}})
    assert response.status_code == 400
    assert response.json()["code"] == 3


@pytest.mark.parametrize(
    "path, change, violation",
    [
        # Violations name the field by its path in the request (UpdateConfigRequest.config.…).
        ("backtest.warm_up_candles", lambda c: setattr(c.backtest, "warm_up_candles", -1),
         "config.backtest.warm_up_candles"),
        ("backtest.exchanges", lambda c: setattr(c.backtest.exchanges[0], "exchange", "no-such-exchange"),
         "config.backtest.exchanges[0].exchange"),
        ("live.exchanges", lambda c: setattr(c.live.exchanges[1], "futures_leverage", 0),
         "config.live.exchanges[1].futures_leverage"),
        ("backtest.exchanges", lambda c: setattr(c.backtest.exchanges[0], "fee", 1.0), "config.backtest.exchanges[0].fee"),
        ("jobs.max_concurrent_jobs", lambda c: setattr(c.jobs, "max_concurrent_jobs", 0), "config.jobs.max_concurrent_jobs"),
    ],
    ids=["negative-warm-up", "unknown-exchange", "leverage-0", "fee-1.0", "zero-jobs"],
)
def test_an_invalid_value_is_rejected_naming_the_field_and_changes_nothing(client, path, change, violation):
    before = get_config(client)
    config = config_pb2.Config()
    config.CopyFrom(before)
    change(config)
    error = rpc_error(lambda: update(client, config, path))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation in field_violations(error)
    assert get_config(client) == before


def test_every_invalid_field_is_named_in_one_error(client):
    before = get_config(client)
    config = config_pb2.Config()
    config.CopyFrom(before)
    config.backtest.warm_up_candles = -5
    config.backtest.exchanges[0].fee = 1.0
    config.backtest.exchanges[1].futures_leverage = 0
    error = rpc_error(lambda: update(client, config, "backtest"))
    assert {
        "config.backtest.warm_up_candles", "config.backtest.exchanges[0].fee", "config.backtest.exchanges[1].futures_leverage"
    } <= set(field_violations(error))
    assert get_config(client) == before


def test_an_unknown_mask_path_is_rejected_naming_update_mask(client):
    before = get_config(client)
    error = rpc_error(lambda: update(client, config_pb2.Config(), "backtest.no_such_field"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "update_mask" in field_violations(error)  # the mask keeps its own name, no "config." prefix
    assert "backtest.no_such_field" in field_violations(error)["update_mask"]
    assert get_config(client) == before


def test_an_empty_mask_is_rejected(client):
    before = get_config(client)
    error = rpc_error(lambda: update(client, config_pb2.Config(backtest=config_pb2.BacktestConfig(warm_up_candles=7))))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "update_mask" in field_violations(error)
    assert get_config(client) == before


def test_config_survives_a_server_restart(dedicated_server):
    server = dedicated_server()
    with server.client() as client:
        saved = update(client, config_pb2.Config(backtest=config_pb2.BacktestConfig(warm_up_candles=777),
                                                 jobs=config_pb2.JobsConfig(max_concurrent_jobs=3)),
                       "backtest.warm_up_candles", "jobs.max_concurrent_jobs")
    server.restart()
    with server.client() as client:
        assert get_config(client) == saved


def test_a_job_limit_of_one_keeps_the_second_job_queued_until_the_first_finishes(client):
    update(client, config_pb2.Config(jobs=config_pb2.JobsConfig(max_concurrent_jobs=1)), "jobs.max_concurrent_jobs")
    first = start_test_job(client, steps=6, step_interval_ms=200)
    second = start_test_job(client, steps=1)
    running_job(client, first.id)
    for _ in range(3):
        assert get_test_job(client, second.id).session.status == common_pb2.SESSION_STATUS_QUEUED
        assert get_test_job(client, first.id).session.status == common_pb2.SESSION_STATUS_RUNNING
    finished_first = wait_status(client, first.id, common_pb2.SESSION_STATUS_SUCCEEDED)
    finished_second = wait_status(client, second.id, common_pb2.SESSION_STATUS_SUCCEEDED)
    assert finished_second.session.start_time.ToNanoseconds() >= finished_first.session.finish_time.ToNanoseconds()


def test_a_stored_job_limit_applies_after_a_restart(dedicated_server):
    server = dedicated_server()
    with server.client() as client:
        update(client, config_pb2.Config(jobs=config_pb2.JobsConfig(max_concurrent_jobs=1)), "jobs.max_concurrent_jobs")
    server.restart()
    with server.client() as client:
        first = start_test_job(client, **LONG_JOB)
        second = start_test_job(client, steps=1)
        running_job(client, first.id)
        assert get_test_job(client, second.id).session.status == common_pb2.SESSION_STATUS_QUEUED
