"""The `candlewire` command."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import datetime, timezone

import grpc
from google.protobuf import field_mask_pb2, json_format
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from candlewire_client import Client, events, field_violations
from candlewire_client.v1 import (
    backtest_pb2,
    candles_pb2,
    common_pb2,
    config_pb2,
    monte_carlo_pb2,
    optimization_pb2,
    strategy_pb2,
    system_pb2,
)

from candlewire.cli.session import connect, server_address, store_token

console = Console()
err = Console(stderr=True)


def _serve(args) -> None:
    from candlewire.serve import run
    from candlewire.settings import Settings

    run(
        Settings.from_env(
            {
                "data_dir": args.data_dir,
                "grpc_host": args.grpc_host,
                "grpc_port": args.grpc_port,
                "gateway_host": args.gateway_host,
                "gateway_port": args.gateway_port,
                "database_url": args.database_url,
                "max_concurrent_jobs": args.max_jobs,
            }
        )
    )


def _login(args) -> None:
    server = server_address(args.server)
    password = args.password or getpass.getpass("candlewire password: ")
    with Client(server) as client:
        store_token(server, client.login(password))
    console.print(f"logged in to {server}")


def _logout(args) -> None:
    server = server_address(args.server)
    with connect(server) as client:
        client.logout()
    store_token(server, None)
    console.print(f"logged out of {server}")


def _info(args) -> None:
    with connect(server_address(args.server)) as client:
        info = client.system.GetInfo(system_pb2.GetInfoRequest())
    table = Table(show_header=False)
    for field, value in json_format.MessageToDict(info, preserving_proto_field_name=True).items():
        table.add_row(field, ", ".join(value) if isinstance(value, list) else str(value))
    console.print(table)


def _config_get(args) -> None:
    with connect(server_address(args.server)) as client:
        config = client.config.GetConfig(config_pb2.GetConfigRequest())
    console.print_json(json_format.MessageToJson(config, preserving_proto_field_name=True))


def _config_set(args) -> None:
    """`config set backtest.warm_up_candles 300`: the value is JSON (a number, string, list or object)."""
    try:
        value = json.loads(args.value)
    except json.JSONDecodeError:
        value = args.value
    document: dict = {}
    node = document
    *parents, leaf = args.path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    config = json_format.ParseDict(document, config_pb2.Config())
    request = config_pb2.UpdateConfigRequest(config=config, update_mask=field_mask_pb2.FieldMask(paths=[args.path]))
    with connect(server_address(args.server)) as client:
        updated = client.config.UpdateConfig(request)
    console.print_json(json_format.MessageToJson(updated, preserving_proto_field_name=True))


def _jobs(args) -> None:
    with connect(server_address(args.server)) as client:
        jobs = client.system.ListJobs(system_pb2.ListJobsRequest()).jobs
    table = Table("session", "kind", "pid", "progress")
    for job in jobs:
        table.add_row(job.session_id, common_pb2.SessionKind.Name(job.kind), str(job.pid),
                      f"{job.progress.done}/{job.progress.total}")
    console.print(table)


def _date(text: str):
    moment = datetime.strptime(text, "%Y-%m-%d")
    from google.type import date_pb2

    return date_pb2.Date(year=moment.year, month=moment.month, day=moment.day)


def _candles_import(args) -> None:
    request = candles_pb2.StartCandleImportRequest(
        params=candles_pb2.CandleImportParams(
            exchange=args.exchange, symbol=args.symbol, start_date=_date(args.start), end_date=_date(args.end)
        )
    )
    with connect(server_address(args.server)) as client:
        final = follow(client.candles.RunCandleImport(request), f"importing {args.symbol}")
    if final is not None:
        console.print(json_format.MessageToDict(final, preserving_proto_field_name=True))


def _candles_import_file(args) -> None:
    with open(args.file, "rb") as file:
        content = file.read()
    request = candles_pb2.ImportCandleFileRequest(
        exchange=args.exchange, symbol=args.symbol, content=content, fill_gaps=args.fill_gaps
    )
    with connect(server_address(args.server)) as client:
        imported = client.candles.ImportCandleFile(request)
    console.print(json_format.MessageToDict(imported, preserving_proto_field_name=True))


def _strategies_list(args) -> None:
    with connect(server_address(args.server)) as client:
        strategies = client.strategies.ListStrategies(strategy_pb2.ListStrategiesRequest(page_size=1000)).strategies
    table = Table("name", "updated")
    for strategy in strategies:
        table.add_row(strategy.name, f"{strategy.update_time.ToDatetime(tzinfo=timezone.utc):%Y-%m-%d %H:%M}")
    console.print(table)


def _strategies_get(args) -> None:
    with connect(server_address(args.server)) as client:
        strategy = client.strategies.GetStrategy(strategy_pb2.GetStrategyRequest(name=args.name))
    # Plain print: the source goes to files and pipes unchanged.
    print(strategy.source, end="")


def _strategies_create(args) -> None:
    with connect(server_address(args.server)) as client:
        client.strategies.CreateStrategy(strategy_pb2.CreateStrategyRequest(name=args.name, template=args.template))
    console.print(f"created strategy {args.name}")


def _strategies_validate(args) -> None:
    with connect(server_address(args.server)) as client:
        response = client.strategies.ValidateStrategy(strategy_pb2.ValidateStrategyRequest(name=args.name))
    for diagnostic in response.diagnostics:
        severity = strategy_pb2.DiagnosticSeverity.Name(diagnostic.severity).removeprefix("DIAGNOSTIC_SEVERITY_").lower()
        console.print(f"{args.name}/__init__.py:{diagnostic.line}:{diagnostic.column}: {severity}: {diagnostic.message}")
    console.print("valid" if response.valid else "[red]invalid[/]")
    if not response.valid:
        sys.exit(1)


def _strategies_delete(args) -> None:
    with connect(server_address(args.server)) as client:
        client.strategies.DeleteStrategy(strategy_pb2.DeleteStrategyRequest(name=args.name))
    console.print(f"deleted strategy {args.name}")


def _fields(text: str, names: tuple[str, ...], flag: str) -> dict[str, str]:
    parts = text.split(":")
    if len(parts) != len(names) or not all(parts):
        raise SystemExit(f"{flag} {text!r}: expected {':'.join(names)}")
    return dict(zip(names, parts))


def _hyperparameter(text: str) -> tuple[str, common_pb2.HyperparameterValue]:
    """`name=value`: an integer, a number, true/false, or else a string."""
    name, separator, raw = text.partition("=")
    if not separator or not name:
        raise SystemExit(f"--hp {text!r}: expected name=value")
    for kind, parse in (("int_value", int), ("float_value", float)):
        try:
            return name, common_pb2.HyperparameterValue(**{kind: parse(raw)})
        except ValueError:
            pass
    if raw.lower() in ("true", "false"):
        return name, common_pb2.HyperparameterValue(bool_value=raw.lower() == "true")
    return name, common_pb2.HyperparameterValue(string_value=raw)


def _backtest(args) -> None:
    params = backtest_pb2.BacktestParams(
        routes=[common_pb2.Route(**_fields(route, ("exchange", "symbol", "timeframe", "strategy"), "--route")) for route in args.route],
        data_routes=[common_pb2.DataRoute(**_fields(route, ("exchange", "symbol", "timeframe"), "--data-route")) for route in args.data_route],
        start_date=_date(args.start),
        finish_date=_date(args.finish),
        hyperparameters=dict(_hyperparameter(text) for text in args.hp),
        options=backtest_pb2.BacktestOptions(benchmark=True),
    )
    request = backtest_pb2.StartBacktestRequest(title=args.title, params=params)
    with connect(server_address(args.server)) as client:
        result = follow(client.backtests.RunBacktest(request), "backtest")
    if result is None:
        sys.exit(1)
    table = Table("metric", "value", title="backtest metrics")
    for field in result.metrics.DESCRIPTOR.fields:
        value = getattr(result.metrics, field.name)
        table.add_row(field.name, f"{value:,.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def _candle_pipeline(args) -> list[monte_carlo_pb2.CandlePipelineStep]:
    """Steps in a fixed order: noise, then resampling, then block bootstrap."""
    steps = []
    if args.noise:
        close_sigma, _, wick_sigma = args.noise.partition(",")
        steps.append(monte_carlo_pb2.CandlePipelineStep(
            gaussian_noise=monte_carlo_pb2.GaussianNoise(close_sigma=float(close_sigma), wick_sigma=float(wick_sigma or close_sigma))
        ))
    if args.resample:
        steps.append(monte_carlo_pb2.CandlePipelineStep(returns_resampling=monte_carlo_pb2.ReturnsResampling()))
    if args.block_length:
        steps.append(monte_carlo_pb2.CandlePipelineStep(
            moving_block_bootstrap=monte_carlo_pb2.MovingBlockBootstrap(block_length=args.block_length)
        ))
    return steps


def _monte_carlo(args) -> None:
    params = monte_carlo_pb2.MonteCarloParams(
        mode=monte_carlo_pb2.MONTE_CARLO_MODE_CANDLES if args.mode == "candles" else monte_carlo_pb2.MONTE_CARLO_MODE_TRADES,
        candle_pipeline=_candle_pipeline(args),
        batch_length=args.batch_length,
        scenarios=args.scenarios,
        seed=args.seed,
        cpu_cores=args.cores,
    )
    if args.backtest_id:
        params.backtest_id = args.backtest_id
    else:
        params.backtest.CopyFrom(backtest_pb2.BacktestParams(
            routes=[common_pb2.Route(**_fields(route, ("exchange", "symbol", "timeframe", "strategy"), "--route")) for route in args.route],
            start_date=_date(args.start) if args.start else None,
            finish_date=_date(args.finish) if args.finish else None,
        ))
    request = monte_carlo_pb2.StartMonteCarloRequest(title=args.title, params=params)
    with connect(server_address(args.server)) as client:
        result = follow(client.monte_carlo.RunMonteCarlo(request), f"Monte Carlo ({args.mode})")
    if result is None:
        sys.exit(1)
    table = Table("metric", "original", "p5", "median", "p95", "95% interval", "p-value", "verdict",
                  title=f"{result.scenarios_completed} scenarios")
    for metric in result.metrics:
        table.add_row(metric.name, f"{metric.original:,.4f}", f"{metric.p5:,.4f}", f"{metric.p50:,.4f}", f"{metric.p95:,.4f}",
                      f"[{metric.ci95_low:,.4f}, {metric.ci95_high:,.4f}]", f"{metric.p_value:.3f}", metric.verdict)
    console.print(table)


def _optimize(args) -> None:
    params = optimization_pb2.OptimizationParams(
        routes=[common_pb2.Route(**_fields(route, ("exchange", "symbol", "timeframe", "strategy"), "--route")) for route in args.route],
        data_routes=[common_pb2.DataRoute(**_fields(route, ("exchange", "symbol", "timeframe"), "--data-route")) for route in args.data_route],
        training_start_date=_date(args.training_start),
        training_finish_date=_date(args.training_finish),
        testing_start_date=_date(args.testing_start),
        testing_finish_date=_date(args.testing_finish),
        trials=args.trials,
        objective=optimization_pb2.Objective.Value(f"OBJECTIVE_{args.objective.upper()}"),
        optimal_total_trades=args.optimal_trades,
        seed=args.seed,
        cpu_cores=args.cores,
        sampler=optimization_pb2.Sampler.Value(f"SAMPLER_{args.sampler.upper()}"),
        multi_objective=args.multi_objective,
    )
    if args.warm_up is not None:
        params.warm_up_candles = args.warm_up
    request = optimization_pb2.StartOptimizationRequest(title=args.title, params=params)
    with connect(server_address(args.server)) as client:
        result = follow(client.optimizations.RunOptimization(request), "optimizing")
    if result is None:
        sys.exit(1)
    table = Table("rank", "score", "hyperparameters", "DNA", "trades", "training sharpe", "testing sharpe",
                  "testing net profit %", title=f"best of {result.trials_completed} trials")
    for candidate in result.candidates:
        values = ", ".join(
            f"{name}={getattr(value, value.WhichOneof('value'))}" for name, value in sorted(candidate.params.items())
        )
        table.add_row(str(candidate.rank), f"{candidate.score:,.4f}", values, candidate.dna, str(candidate.training_metrics.total),
                      f"{candidate.training_metrics.sharpe_ratio:,.3f}", f"{candidate.testing_metrics.sharpe_ratio:,.3f}",
                      f"{candidate.testing_metrics.net_profit_percentage:,.2f}")
    console.print(table)


def follow(batches, label: str):
    """Show a session's event stream as a progress bar plus its log lines (and the best score so far
    of an optimization's trials); return the typed result."""
    result = None
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task(label, total=None)
        for event in events(batches):
            which = event.WhichOneof("event")
            if which == "progress":
                bar.update(task, completed=event.progress.done, total=event.progress.total or None)
            elif which == "log":
                bar.console.print(f"[dim]{event.log.time.ToDatetime(tzinfo=timezone.utc):%H:%M:%S}[/] {event.log.text}")
            elif which == "result":
                result = event.result
            elif which == "trial" and event.trial.HasField("best_score"):
                bar.update(task, description=f"{label} (best score {event.trial.best_score:,.4f})")
            elif which == "session":
                status = common_pb2.SessionStatus.Name(event.session.status).removeprefix("SESSION_STATUS_")
                bar.update(task, description=f"{label} [{status.lower()}]")
                if event.session.error.message:
                    err.print(f"[red]{event.session.error.message}[/]\n{event.session.error.traceback}")
    return result


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="candlewire", description="candlewire trading research engine")
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the gRPC server and the Envoy gateway")
    serve.add_argument("--data-dir")
    serve.add_argument("--grpc-host")
    serve.add_argument("--grpc-port", type=int)
    serve.add_argument("--gateway-host")
    serve.add_argument("--gateway-port", type=int)
    serve.add_argument("--database-url")
    serve.add_argument("--max-jobs", type=int)
    serve.set_defaults(handler=_serve)

    def client_command(name, handler, help_text, parent=commands):
        command = parent.add_parser(name, help=help_text)
        command.add_argument("--server", help="host:port of the gRPC server (default CANDLEWIRE_SERVER or 127.0.0.1:50051)")
        command.set_defaults(handler=handler)
        return command

    client_command("login", _login, "log in and remember the token").add_argument("--password")
    client_command("logout", _logout, "revoke the remembered token")
    client_command("info", _info, "show server facts")
    client_command("jobs", _jobs, "list running workers")

    config = commands.add_parser("config", help="read or change the config").add_subparsers(dest="action", required=True)
    client_command("get", _config_get, "print the config", config)
    setter = client_command("set", _config_set, "set one field, e.g. backtest.warm_up_candles 300", config)
    setter.add_argument("path")
    setter.add_argument("value")

    candles = commands.add_parser("candles", help="market data").add_subparsers(dest="action", required=True)
    importer = client_command("import", _candles_import, "import 1m candles from an exchange", candles)
    importer.add_argument("--exchange", required=True)
    importer.add_argument("--symbol", required=True)
    importer.add_argument("--start", required=True, help="YYYY-MM-DD")
    importer.add_argument("--end", required=True, help="YYYY-MM-DD (exclusive)")
    file_importer = client_command("import-file", _candles_import_file, "import 1m candles from a CSV file", candles)
    file_importer.add_argument("--exchange", required=True)
    file_importer.add_argument("--symbol", required=True)
    file_importer.add_argument("--fill-gaps", action="store_true", help="fill missing minutes with flat candles")
    file_importer.add_argument("file", help="CSV with timestamp, open, high, low, close, volume columns")

    strategies = commands.add_parser("strategies", help="the strategies workspace").add_subparsers(dest="action", required=True)
    client_command("list", _strategies_list, "list strategies", strategies)
    client_command("get", _strategies_get, "print a strategy's source", strategies).add_argument("name")
    creator = client_command("create", _strategies_create, "create a strategy from a template", strategies)
    creator.add_argument("name")
    creator.add_argument("--template", default="", help="template name (default: the SMA crossover)")
    client_command("validate", _strategies_validate, "check a strategy for errors", strategies).add_argument("name")
    client_command("delete", _strategies_delete, "delete a strategy", strategies).add_argument("name")

    backtest = client_command("backtest", _backtest, "run a backtest on stored candles and print its metrics")
    backtest.add_argument("--route", action="append", required=True, help="exchange:symbol:timeframe:Strategy (repeatable)")
    backtest.add_argument("--data-route", action="append", default=[], help="exchange:symbol:timeframe (repeatable)")
    backtest.add_argument("--start", required=True, help="YYYY-MM-DD")
    backtest.add_argument("--finish", required=True, help="YYYY-MM-DD (exclusive)")
    backtest.add_argument("--hp", action="append", default=[], help="hyperparameter override name=value (repeatable)")
    backtest.add_argument("--title", default="")

    monte_carlo = client_command("monte-carlo", _monte_carlo, "stress a backtest with Monte Carlo scenarios and print the statistics")
    monte_carlo.add_argument("--backtest-id", help="a finished backtest to start from (or give --route, --start, --finish)")
    monte_carlo.add_argument("--route", action="append", default=[], help="exchange:symbol:timeframe:Strategy (repeatable)")
    monte_carlo.add_argument("--start", help="YYYY-MM-DD")
    monte_carlo.add_argument("--finish", help="YYYY-MM-DD (exclusive)")
    monte_carlo.add_argument("--mode", choices=("trades", "candles"), default="trades")
    monte_carlo.add_argument("--scenarios", type=int, default=1000)
    monte_carlo.add_argument("--seed", type=int, default=0)
    monte_carlo.add_argument("--noise", help="candles mode: Gaussian noise CLOSE_SIGMA[,WICK_SIGMA], e.g. 0.001")
    monte_carlo.add_argument("--resample", action="store_true", help="candles mode: Gaussian resampling of returns")
    monte_carlo.add_argument("--block-length", type=int, default=0, help="candles mode: moving-block bootstrap block length")
    monte_carlo.add_argument("--batch-length", type=int, default=0, help="candles mode: candles per batch (0: whole period)")
    monte_carlo.add_argument("--cores", type=int, default=0, help="worker processes (0: all cores)")
    monte_carlo.add_argument("--title", default="")

    optimize = client_command("optimize", _optimize, "search a strategy's hyperparameters and print the best candidates")
    optimize.add_argument("--route", action="append", required=True, help="exchange:symbol:timeframe:Strategy (the first is optimized)")
    optimize.add_argument("--data-route", action="append", default=[], help="exchange:symbol:timeframe (repeatable)")
    optimize.add_argument("--training-start", required=True, help="YYYY-MM-DD")
    optimize.add_argument("--training-finish", required=True, help="YYYY-MM-DD (exclusive)")
    optimize.add_argument("--testing-start", required=True, help="YYYY-MM-DD")
    optimize.add_argument("--testing-finish", required=True, help="YYYY-MM-DD (exclusive)")
    optimize.add_argument("--warm-up", type=int, help="warm-up candles (default: the config's)")
    optimize.add_argument("--trials", type=int, default=100)
    optimize.add_argument("--objective", default="sharpe",
                          choices=("sharpe", "calmar", "sortino", "omega", "serenity", "smart_sharpe", "smart_sortino", "net_profit"))
    optimize.add_argument("--optimal-trades", type=int, default=0, help="trade count below which scores are penalized")
    optimize.add_argument("--sampler", default="tpe", choices=("tpe", "random", "cma_es", "nsga_ii"))
    optimize.add_argument("--multi-objective", action="store_true", help="Pareto front of training and testing scores")
    optimize.add_argument("--seed", type=int, default=0)
    optimize.add_argument("--cores", type=int, default=0, help="trials at once (0: all cores); also the ask/tell batch size")
    optimize.add_argument("--title", default="")
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        args.handler(args)
    except grpc.RpcError as error:
        err.print(f"[red]{error.code().name}[/]: {error.details()}")
        for field, reason in field_violations(error).items():
            err.print(f"  {field}: {reason}")
        sys.exit(1)
