"""BacktestService end to end against a real server (SQLite and PostgreSQL): the golden run over gRPC and
REST (CSV upload → strategy → backtest → trades, chart data, logs and every file), the session operations,
cancellation, run-time strategy errors, and bad input that must store nothing."""

from __future__ import annotations

import json

import grpc
import pytest
from google.protobuf import field_mask_pb2, json_format

import golden
from candlewire import research
from candlewire_client import events as each_event, field_violations
from candlewire_client.testing.v1 import test_jobs_pb2
from candlewire_client.v1 import backtest_pb2, candles_pb2, common_pb2, file_pb2, strategy_pb2
from e2e_helpers import TERMINAL, rpc_error, wait_for

S = common_pb2
SLOW_SOURCE = '''\
import time

from candlewire import Strategy


class Sleepy(Strategy):
    def should_long(self):
        time.sleep(0.02)
        return False

    def go_long(self):
        pass
'''
PNG_KINDS = [
    file_pb2.FILE_KIND_CHART_EQUITY_PNG,
    file_pb2.FILE_KIND_CHART_DRAWDOWN_PNG,
    file_pb2.FILE_KIND_CHART_UNDERWATER_PNG,
    file_pb2.FILE_KIND_CHART_MONTHLY_RETURNS_PNG,
    file_pb2.FILE_KIND_CHART_TRADE_PNL_PNG,
]


def date_of(day):
    return {"year": day.year, "month": day.month, "day": day.day}


def params(strategy: str = golden.STRATEGY, **changes) -> backtest_pb2.BacktestParams:
    values = {
        "routes": [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": strategy}],
        "start_date": date_of(golden.START),
        "finish_date": date_of(golden.FINISH),
        "warm_up_candles": golden.WARM_UP_CANDLES,
        "options": {"export_charts": True, "benchmark": True},
    }
    values.update(changes)
    return json_format.ParseDict(values, backtest_pb2.BacktestParams(), ignore_unknown_fields=False)


def store_strategy(client, name: str, source: str) -> None:
    client.strategies.CreateStrategy(strategy_pb2.CreateStrategyRequest(name=name))
    client.strategies.UpdateStrategy(
        strategy_pb2.UpdateStrategyRequest(
            strategy=strategy_pb2.Strategy(name=name, source=source), update_mask=field_mask_pb2.FieldMask(paths=["source"])
        )
    )


def backtest_count(client) -> int:
    return len(client.backtests.ListBacktests(backtest_pb2.ListBacktestsRequest(page_size=1000)).backtests)


def get(client, session_id: str) -> backtest_pb2.Backtest:
    return client.backtests.GetBacktest(backtest_pb2.GetBacktestRequest(id=session_id))


def wait_finished(client, session_id: str, timeout: float = 60) -> backtest_pb2.Backtest:
    return wait_for(lambda: (b := get(client, session_id)).session.status in TERMINAL and b, timeout, what=f"{session_id} finished")


def download(client, session_id: str, kind: int) -> tuple[str, bytes]:
    chunks = list(client.files.DownloadFile(file_pb2.DownloadFileRequest(session_id=session_id, kind=kind), timeout=60))
    return chunks[0].content_type, b"".join(chunk.data for chunk in chunks)


@pytest.fixture(scope="module")
def rows():
    return golden.candles()


@pytest.fixture(scope="module")
def expected(rows):
    candles, warm_up = golden.engine_inputs(rows)
    routes = [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": golden.TIMEFRAME, "strategy": golden.strategy_class()}]
    return research.backtest(golden.research_config(), routes, [], candles, warm_up, generate_charts=True)


@pytest.fixture(scope="module")
def stored(client, rows):
    """Candles uploaded as CSV and the strategies the tests run."""
    imported = client.candles.ImportCandleFile(
        candles_pb2.ImportCandleFileRequest(exchange=golden.EXCHANGE, symbol=golden.SYMBOL, content=golden.candles_csv(rows))
    )
    assert imported.rows_imported == len(rows)
    store_strategy(client, golden.STRATEGY, golden.STRATEGY_SOURCE)
    store_strategy(client, "BothSides", golden.BOTH_SIDES_SOURCE)
    store_strategy(client, "Sleepy", SLOW_SOURCE)


@pytest.fixture(scope="module")
def grpc_run(client, stored):
    request = backtest_pb2.StartBacktestRequest(title="golden grpc", description="crossover", params=params())
    return list(each_event(client.backtests.RunBacktest(request, timeout=120)))


def assert_metrics_match(metrics: common_pb2.Metrics, expected: dict) -> None:
    for field in metrics.DESCRIPTOR.fields:
        assert getattr(metrics, field.name) == pytest.approx(expected[field.name], rel=1e-12), field.name


# ================================================================================== golden run


def test_run_over_grpc_streams_progress_logs_and_a_result_matching_research(grpc_run, expected):
    kinds = [event.WhichOneof("event") for event in grpc_run]
    assert kinds[0] == "session" and grpc_run[0].session.status == S.SESSION_STATUS_QUEUED
    assert grpc_run[-1].session.status == S.SESSION_STATUS_SUCCEEDED
    assert [event.sequence for event in grpc_run] == list(range(1, len(grpc_run) + 1))
    progress = [event.progress for event in grpc_run if event.HasField("progress")]
    assert progress and progress[-1].done == progress[-1].total == expected["total_bars"]
    assert progress[-1].current_time.ToMilliseconds() == golden.day_ms(golden.FINISH)
    assert any("going long at" in event.log.text for event in grpc_run if event.HasField("log"))

    (result,) = [event.result for event in grpc_run if event.HasField("result")]
    assert_metrics_match(result.metrics, expected["metrics"])
    assert result.trades_count == len(expected["trades"]) >= 10
    assert result.orders_count == len(expected["orders"])
    assert list(result.equity_curve.values) == pytest.approx(expected["equity_curve"]["values"], rel=1e-12)
    assert [curve.name for curve in result.benchmarks] == [f"{golden.SYMBOL} buy and hold"]
    assert [(s.name, s.source) for s in result.strategy_sources] == [(golden.STRATEGY, golden.STRATEGY_SOURCE)]


def test_trades_page_through_with_their_orders(client, grpc_run, expected):
    session_id = grpc_run[0].session.id
    trades, token, pages = [], "", 0
    while True:
        page = client.backtests.ListBacktestTrades(
            backtest_pb2.ListBacktestTradesRequest(id=session_id, page_size=5, page_token=token)
        )
        trades += page.trades
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == -(-len(expected["trades"]) // 5)
    assert len(trades) == len(expected["trades"])
    for trade, reference in zip(trades, expected["trades"]):
        assert (trade.entry_price, trade.exit_price, trade.qty) == (reference["entry_price"], reference["exit_price"], reference["qty"])
        assert trade.pnl == pytest.approx(reference["PNL"], rel=1e-12)
        assert trade.type == (S.TRADE_TYPE_LONG if reference["type"] == "long" else S.TRADE_TYPE_SHORT)
        assert trade.close_time.ToMilliseconds() == reference["closed_at"]
        assert [order.price for order in trade.orders] == [order["price"] for order in reference["orders"]]
        assert all(order.symbol == golden.SYMBOL and order.status == S.ORDER_STATUS_EXECUTED for order in trade.orders)


def test_chart_data_holds_route_candles_orders_and_drawings(client, grpc_run, expected):
    session_id = grpc_run[0].session.id
    chart = client.backtests.GetBacktestChartData(backtest_pb2.GetBacktestChartDataRequest(id=session_id))
    by_symbol = client.backtests.GetBacktestChartData(
        backtest_pb2.GetBacktestChartDataRequest(id=session_id, exchange=golden.EXCHANGE, symbol=golden.SYMBOL)
    )
    assert chart == by_symbol
    assert (chart.exchange, chart.symbol, chart.timeframe) == (golden.EXCHANGE, golden.SYMBOL, golden.TIMEFRAME)
    assert len(chart.candles.timestamps_ms) == (golden.FINISH - golden.START).days * 96
    assert chart.candles.timestamps_ms[0] == golden.day_ms(golden.START)
    assert len(chart.orders) == sum(o["status"] == "executed" for o in expected["orders"])
    assert [line.name for line in chart.candle_overlays] == ["fast", "slow"]
    (pane,) = chart.extra_charts
    assert pane.title == "spread" and [line.name for line in pane.horizontal_lines] == ["zero"]

    error = rpc_error(lambda: client.backtests.GetBacktestChartData(
        backtest_pb2.GetBacktestChartDataRequest(id=session_id, exchange=golden.EXCHANGE, symbol="ETH-USDT")))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_logs_page_through_and_filter_by_level(client, grpc_run):
    session_id = grpc_run[0].session.id
    streamed = [event.log.text for event in grpc_run if event.HasField("log")]
    lines, token = [], ""
    while True:
        page = client.backtests.GetBacktestLogs(
            backtest_pb2.GetBacktestLogsRequest(id=session_id, page_size=7, page_token=token)
        )
        lines += [line.text for line in page.lines]
        token = page.next_page_token
        if not token:
            break
    assert lines == streamed
    errors_only = client.backtests.GetBacktestLogs(
        backtest_pb2.GetBacktestLogsRequest(id=session_id, levels=[S.LOG_LEVEL_ERROR])
    )
    assert list(errors_only.lines) == []


def test_every_file_kind_downloads(client, rest, grpc_run, expected):
    session_id = grpc_run[0].session.id
    content_type, data = download(client, session_id, file_pb2.FILE_KIND_TRADES_CSV)
    assert content_type.startswith("text/csv")
    assert len(data.decode().strip().splitlines()) == len(expected["trades"]) + 1

    content_type, data = download(client, session_id, file_pb2.FILE_KIND_TRADES_JSON)
    assert content_type == "application/json"
    assert [trade["PNL"] for trade in json.loads(data)] == pytest.approx([t["PNL"] for t in expected["trades"]], rel=1e-12)

    content_type, data = download(client, session_id, file_pb2.FILE_KIND_HTML_REPORT)
    assert content_type.startswith("text/html") and b"golden grpc" in data and b"<img" in data

    for kind in PNG_KINDS:
        content_type, data = download(client, session_id, kind)
        assert content_type == "image/png" and data.startswith(b"\x89PNG"), file_pb2.FileKind.Name(kind)

    content_type, data = download(client, session_id, file_pb2.FILE_KIND_LOG)
    assert content_type.startswith("text/plain") and b"going long at" in data

    response = rest.get(f"/v1/sessions/{session_id}/files/FILE_KIND_TRADES_CSV")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content == download(client, session_id, file_pb2.FILE_KIND_TRADES_CSV)[1]

    # Research charts belong to research sessions, not to the backtest they started from.
    for kind in (file_pb2.FILE_KIND_CHART_MONTE_CARLO_PNG, file_pb2.FILE_KIND_CHART_SIGNIFICANCE_PNG):
        error = rpc_error(lambda: download(client, session_id, kind))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "backtest" in error.details()


def test_start_and_watch_over_rest(rest, stored, expected):
    body = json_format.MessageToDict(backtest_pb2.StartBacktestRequest(title="golden rest", params=params()))
    started = rest.post("/v1/backtests", json=body)
    assert started.status_code == 200, started.text
    session = started.json()
    assert session["kind"] == "SESSION_KIND_BACKTEST"

    with rest.stream("GET", f"/v1/backtests/{session['id']}:watch", timeout=120) as response:
        assert response.status_code == 200
        batches = [json.loads(line) for line in response.iter_lines() if line.strip()]
    events = [event for batch in batches for event in batch["events"]]
    assert events[-1]["session"]["status"] == "SESSION_STATUS_SUCCEEDED"
    (result,) = [event["result"] for event in events if "result" in event]
    assert int(result["tradesCount"]) == len(expected["trades"])
    assert result["metrics"]["netProfit"] == pytest.approx(expected["metrics"]["net_profit"], rel=1e-12)

    fetched = rest.get(f"/v1/backtests/{session['id']}/trades", params={"pageSize": 1000}).json()
    assert len(fetched["trades"]) == len(expected["trades"])


# ================================================================================== session operations


def test_get_list_update_delete(client, grpc_run):
    session_id = grpc_run[0].session.id
    backtest = get(client, session_id)
    assert backtest.session.title == "golden grpc" and backtest.session.status == S.SESSION_STATUS_SUCCEEDED
    assert backtest.params.routes[0].strategy == golden.STRATEGY and backtest.params.warm_up_candles == golden.WARM_UP_CANDLES
    assert backtest.params.exchanges[0].exchange == golden.EXCHANGE and backtest.params.exchanges[0].fee == 0.0004
    assert backtest.result.trades_count >= 10 and backtest.result.equity_curve.values

    listed = client.backtests.ListBacktests(
        backtest_pb2.ListBacktestsRequest(title_contains="GOLDEN GRPC", statuses=[S.SESSION_STATUS_SUCCEEDED])
    ).backtests
    assert [b.session.id for b in listed] == [session_id]
    assert listed[0].result.metrics.total >= 10 and not listed[0].result.equity_curve.values

    updated = client.backtests.UpdateBacktest(backtest_pb2.UpdateBacktestRequest(
        backtest=backtest_pb2.Backtest(session=S.Session(id=session_id, title="renamed", description="new")),
        update_mask=field_mask_pb2.FieldMask(paths=["session.title"]),
    ))
    assert updated.session.title == "renamed" and updated.session.description == "crossover"
    error = rpc_error(lambda: client.backtests.UpdateBacktest(backtest_pb2.UpdateBacktestRequest(
        backtest=backtest_pb2.Backtest(session=S.Session(id=session_id)),
        update_mask=field_mask_pb2.FieldMask(paths=["session.status"]),
    )))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "update_mask" in field_violations(error)

    copy = client.backtests.StartBacktest(backtest_pb2.StartBacktestRequest(title="to delete", params=params()))
    wait_finished(client, copy.id)
    client.backtests.DeleteBacktest(backtest_pb2.DeleteBacktestRequest(id=copy.id))
    assert rpc_error(lambda: get(client, copy.id)).code() == grpc.StatusCode.NOT_FOUND


def test_cancel_a_long_backtest(client, stored):
    session = client.backtests.StartBacktest(backtest_pb2.StartBacktestRequest(
        title="slow", params=params("Sleepy", routes=[{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": "1m", "strategy": "Sleepy"}]),
    ))
    wait_for(lambda: get(client, session.id).session.progress.done > 0, 60, what="slow backtest progressing")
    cancelled = client.backtests.CancelBacktest(backtest_pb2.CancelBacktestRequest(id=session.id))
    assert cancelled.status == S.SESSION_STATUS_CANCELLED
    assert not get(client, session.id).HasField("result")
    error = rpc_error(lambda: download(client, session.id, file_pb2.FILE_KIND_TRADES_CSV))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "cancelled" in error.details()


def test_a_backtest_records_the_helper_modules_its_strategy_ran(server, client, stored):
    helper = "def fraction():\n    return 0.25\n"
    store_strategy(client, "Helped", golden.STRATEGY_SOURCE.replace(f"class {golden.STRATEGY}", "class Helped").replace(
        "from candlewire import Strategy\n", "from candlewire import Strategy\nfrom .sizing import fraction\n"
    ).replace("self.balance * 0.5", "self.balance * fraction()"))
    (server.data_dir / "strategies" / "Helped" / "sizing.py").write_text(helper)

    events = list(each_event(client.backtests.RunBacktest(
        backtest_pb2.StartBacktestRequest(params=params("Helped")), timeout=120
    )))

    assert events[-1].session.status == S.SESSION_STATUS_SUCCEEDED
    (source,) = get(client, events[-1].session.id).result.strategy_sources
    assert (source.name, dict(source.helper_files)) == ("Helped", {"sizing.py": helper})


def test_strategy_breaking_a_rule_at_run_time_fails_naming_it(client, stored):
    events = list(each_event(client.backtests.RunBacktest(
        backtest_pb2.StartBacktestRequest(params=params("BothSides")), timeout=120
    )))
    final = events[-1].session
    assert final.status == S.SESSION_STATUS_FAILED
    line = golden.BOTH_SIDES_SOURCE.splitlines().index("    def should_long(self):") + 1
    assert "should_long() and should_short() are both True" in final.error.message
    assert f"line {line}" in final.error.message and "BothSides" in final.error.traceback
    error = rpc_error(lambda: client.backtests.GetBacktestChartData(backtest_pb2.GetBacktestChartDataRequest(id=final.id)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_report_files_of_other_session_kinds_are_a_failed_precondition(client):
    session = client.test_jobs.StartTestJob(test_jobs_pb2.StartTestJobRequest(steps=1))
    wait_for(lambda: client.test_jobs.GetTestJob(test_jobs_pb2.GetTestJobRequest(id=session.id)).session.status in TERMINAL)
    error = rpc_error(lambda: download(client, session.id, file_pb2.FILE_KIND_HTML_REPORT))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "not a backtest" in error.details()
    assert rpc_error(lambda: download(client, "0" * 32, file_pb2.FILE_KIND_TRADES_CSV)).code() == grpc.StatusCode.NOT_FOUND


# ================================================================================== bad input


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"routes": [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": "15m", "strategy": "Nope"}]},
         "params.routes[0].strategy", "no strategy named"),
        ({"routes": [{"exchange": "nowhere", "symbol": golden.SYMBOL, "timeframe": "15m", "strategy": golden.STRATEGY}]},
         "params.routes[0].exchange", "unknown exchange"),
        ({"routes": [{"exchange": golden.EXCHANGE, "symbol": golden.SYMBOL, "timeframe": "2m", "strategy": golden.STRATEGY}]},
         "params.routes[0].timeframe", "unknown timeframe"),
        ({"start_date": {"year": 2024, "month": 1, "day": 1}}, "params.start_date", "begin at"),
        ({"finish_date": {"year": 2024, "month": 4, "day": 1}}, "params.finish_date", "end at"),
        ({"hyperparameters": {"fast": {"stringValue": "x"}}}, "params.hyperparameters.fast", "integer"),
    ],
)
def test_bad_requests_are_refused_and_store_nothing(client, stored, changes, field, words):
    before = backtest_count(client)
    error = rpc_error(lambda: client.backtests.StartBacktest(backtest_pb2.StartBacktestRequest(params=params(**changes))))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(error)
    assert words in violations.get(field, ""), violations
    assert backtest_count(client) == before


def test_broken_strategy_source_names_the_line_over_rest(client, rest, stored):
    broken = golden.STRATEGY_SOURCE.replace("def go_long(self):", "def go_long(self)")
    store_strategy(client, "Broken", broken)
    line = broken.splitlines().index("    def go_long(self)") + 1
    before = backtest_count(client)
    body = json_format.MessageToDict(backtest_pb2.StartBacktestRequest(params=params("Broken")))
    response = rest.post("/v1/backtests", json=body)
    assert response.status_code == 400
    details = [d for d in response.json()["details"] if d["@type"].endswith("BadRequest")]
    (violation,) = [v for v in details[0]["fieldViolations"] if v["field"] == "params.routes[0].strategy"]
    assert f"line {line}: syntax error" in violation["description"]
    assert backtest_count(client) == before


def test_malformed_csv_is_refused_and_stores_nothing(client, stored):
    before = client.candles.ListCandleRanges(candles_pb2.ListCandleRangesRequest())
    error = rpc_error(lambda: client.candles.ImportCandleFile(candles_pb2.ImportCandleFileRequest(
        exchange=golden.EXCHANGE, symbol="ETH-USDT", content=b"timestamp,open,high,low,close,volume\n1709251200000,1,2,0.5,oops,3\n",
    )))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert client.candles.ListCandleRanges(candles_pb2.ListCandleRangesRequest()) == before


# ================================================================================== purge (last: it deletes)


def test_purge_deletes_finished_backtests(client, stored):
    finished = backtest_count(client)
    assert finished > 0
    kept = client.backtests.PurgeBacktests(backtest_pb2.PurgeBacktestsRequest(older_than_days=30))
    assert kept.deleted_count == 0
    purged = client.backtests.PurgeBacktests(backtest_pb2.PurgeBacktestsRequest(older_than_days=0))
    assert purged.deleted_count == finished and backtest_count(client) == 0
    error = rpc_error(lambda: client.backtests.PurgeBacktests(backtest_pb2.PurgeBacktestsRequest(older_than_days=-1)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
