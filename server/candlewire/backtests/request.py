"""Turning a backtest request into the params a session records, or a clear error that stores nothing.

A request (plain dict mirroring the API's BacktestParams) names routes, data routes, the period,
and optional overrides of the stored config. `resolve_backtest` checks every field first —
exchanges, symbols, timeframes, strategies (present and passing static validation), the period
against the candles stored for every market including the warm-up, hyperparameter names and
types — and collects all problems into one InvalidArgument whose fields are paths inside the
request (`routes[0].strategy`, `start_date`, …). Only then does it return the params:

    routes, data_routes          as requested
    start_ms, finish_ms          period, finish exclusive (UTC midnights)
    exchange                     the traded exchange's settings, config merged with overrides
    warm_up_candles, logging     from the config unless overridden (debug_mode logs everything)
    hyperparameters, options     as requested
    strategy_sources             [{name, source, helper_files}]: the code that runs, recorded with the results
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from candlewire import config as config_rules
from candlewire.backtests.loader import recorded_entries
from candlewire.data.exchanges import get_exchange, validate_symbol
from candlewire.engine.timeframes import MINUTE_MS, TIMEFRAMES
from candlewire.errors import InvalidArgument, NotFound, require, with_field_prefix
from candlewire.storage.candles import CandleRange, candle_ranges
from candlewire.strategies.diagnostics import declared_hyperparameters, validate_source
from candlewire.strategies.workspace import StrategySnapshot, StrategyWorkspace, validate_name

DAY_MS = 86_400_000
DEFAULT_STARTING_BALANCE = 10_000.0
DEFAULT_BALANCE_CURRENCY = "USDT"
OPTIONS = ("debug_mode", "export_charts", "fast_mode", "benchmark")


def resolve_backtest(
    request: dict[str, Any], config: dict[str, Any], workspace: StrategyWorkspace, engine: sa.Engine
) -> dict[str, Any]:
    """The params to store with a new backtest session; raises InvalidArgument naming every bad field."""
    violations: dict[str, str] = {}
    routes = [_market(route, f"routes[{i}]", violations, with_strategy=True) for i, route in enumerate(request.get("routes") or [])]
    data_routes = [_market(route, f"data_routes[{i}]", violations) for i, route in enumerate(request.get("data_routes") or [])]
    if not routes:
        violations["routes"] = "at least one route is required"
    _check_one_account(routes, violations)
    start_ms = _day_ms(request.get("start_date"), "start_date", violations)
    finish_ms = _day_ms(request.get("finish_date"), "finish_date", violations)
    if start_ms is not None and finish_ms is not None and start_ms >= finish_ms:
        violations["finish_date"] = "must be after start_date"
    backtest_config = config["backtest"]
    exchanges = _exchange_overrides(request.get("exchanges") or [], backtest_config["exchanges"], violations)
    warm_up = request.get("warm_up_candles")
    warm_up = backtest_config["warm_up_candles"] if warm_up is None else warm_up
    _check_settings(exchanges, warm_up, violations)
    sources = _strategy_sources(routes, workspace, violations)
    hyperparameters = _hyperparameters(request.get("hyperparameters") or {}, sources, violations)
    require(violations, "invalid backtest request")
    _check_candles(engine, routes, data_routes, start_ms, finish_ms, warm_up, violations)
    require(violations, "the stored candles do not cover the backtest")
    options = {name: bool((request.get("options") or {}).get(name)) for name in OPTIONS}
    traded = routes[0]["exchange"]
    exchange = next(
        (entry for entry in exchanges if entry["exchange"] == traded),
        _configured(traded, backtest_config["exchanges"]),
    )
    logging = dict(backtest_config["logging"])
    if options["debug_mode"]:
        logging = {switch: True for switch in config_rules.LOGGING_SWITCHES}
    return {
        "routes": routes,
        "data_routes": data_routes,
        "start_ms": start_ms,
        "finish_ms": finish_ms,
        "exchange": exchange,
        "warm_up_candles": warm_up,
        "logging": logging,
        "hyperparameters": hyperparameters,
        "options": options,
        "strategy_sources": recorded_entries(sources),
    }


def warm_up_minutes(params: dict[str, Any]) -> int:
    """Minutes of candles loaded before the start: warm-up bars of the largest timeframe (spec "Data")."""
    largest = max(TIMEFRAMES[route["timeframe"]] for route in [*params["routes"], *params["data_routes"]])
    return params["warm_up_candles"] * largest


# ================================================================================== fields


def _market(route: dict[str, Any], path: str, violations: dict[str, str], with_strategy: bool = False) -> dict[str, Any]:
    exchange, symbol, timeframe = route.get("exchange", ""), route.get("symbol", ""), route.get("timeframe", "")
    try:
        get_exchange(exchange)
    except NotFound as error:
        violations[f"{path}.exchange"] = error.message
    try:
        validate_symbol(symbol, f"{path}.symbol")
    except InvalidArgument as error:
        violations.update(error.violations)
    if timeframe not in TIMEFRAMES:
        violations[f"{path}.timeframe"] = f"unknown timeframe {timeframe!r}; must be one of {', '.join(TIMEFRAMES)}"
    market = {"exchange": exchange, "symbol": symbol, "timeframe": timeframe}
    if with_strategy:
        market["strategy"] = route.get("strategy", "")
        market["dna"] = route.get("dna", "")
    return market


def _check_one_account(routes: list[dict[str, Any]], violations: dict[str, str]) -> None:
    """The engine simulates one wallet, so every route trades on the same exchange, one route per symbol."""
    seen: set[str] = set()
    for i, route in enumerate(routes):
        if route["exchange"] != routes[0]["exchange"]:
            violations.setdefault(
                f"routes[{i}].exchange",
                f"every route must trade on {routes[0]['exchange']} (routes[0]): a backtest simulates one account; "
                "read other exchanges through data_routes",
            )
        if route["symbol"] in seen:
            violations.setdefault(f"routes[{i}].symbol", f"{route['symbol']} is already traded by another route")
        seen.add(route["symbol"])


def _day_ms(day: tuple[int, int, int] | None, field: str, violations: dict[str, str]) -> int | None:
    if not day or day == (0, 0, 0):
        violations[field] = "is required"
        return None
    try:
        return int(datetime(*day, tzinfo=timezone.utc).timestamp() * 1000)
    except ValueError:
        violations[field] = "must be a valid calendar date"
        return None


def _configured(exchange_id: str, configured: list[dict[str, Any]]) -> dict[str, Any]:
    """The config's settings of an exchange; an exchange the config does not list trades with its catalogue defaults."""
    entry = next((entry for entry in configured if entry["exchange"] == exchange_id), None)
    if entry is not None:
        return copy.deepcopy(entry)
    catalogue = get_exchange(exchange_id)
    return {
        "exchange": exchange_id,
        "starting_balance": DEFAULT_STARTING_BALANCE,
        "fee": catalogue.default_fee,
        "type": catalogue.type,
        "futures_leverage": 1,
        "futures_leverage_mode": "cross",
        "balance_currency": DEFAULT_BALANCE_CURRENCY,
    }


def _exchange_overrides(
    overrides: list[dict[str, Any]], configured: list[dict[str, Any]], violations: dict[str, str]
) -> list[dict[str, Any]]:
    """Each override over the configured settings of its exchange. Proto3 scalars cannot tell "unset"
    from zero, so a zero or empty field keeps the configured value (a zero fee belongs in the config)."""
    merged = []
    for i, override in enumerate(overrides):
        try:
            base = _configured(override.get("exchange", ""), configured)
        except NotFound as error:
            violations[f"exchanges[{i}].exchange"] = error.message
            continue
        merged.append({key: override.get(key) or value for key, value in base.items()})
    return merged


def _check_settings(exchanges: list[dict[str, Any]], warm_up: int, violations: dict[str, str]) -> None:
    """The config's own rules, applied to the overrides (renamed to the request's fields)."""
    document = {
        "backtest": {"exchanges": exchanges, "warm_up_candles": warm_up},
        "live": {"exchanges": [], "warm_up_candles": 0},
        "jobs": {"max_concurrent_jobs": 1},
    }
    known = {entry["exchange"] for entry in exchanges}
    try:
        config_rules.validate(document, known)
    except InvalidArgument as error:
        violations.update(with_field_prefix(error, lambda field: field.removeprefix("backtest.")).violations)


def _strategy_sources(
    routes: list[dict[str, Any]], workspace: StrategyWorkspace, violations: dict[str, str]
) -> dict[str, StrategySnapshot]:
    """name → snapshot of every routed strategy that exists and has no static errors."""
    sources: dict[str, StrategySnapshot] = {}
    for i, route in enumerate(routes):
        field = f"routes[{i}].strategy"
        name = route["strategy"]
        try:
            validate_name(name, field)
            snapshot = workspace.snapshot(name, field)
        except InvalidArgument as error:
            violations.update(error.violations)
            continue
        except NotFound:
            violations[field] = f"no strategy named {name!r}; create it first"
            continue
        errors = [d for d in validate_source(snapshot.source, name) if d.severity == "error"]
        if errors:
            violations[field] = "; ".join(f"{name}/__init__.py line {d.line}: {d.message}" for d in errors)
            continue
        sources[name] = snapshot
    return sources


def _hyperparameters(
    given: dict[str, Any], sources: dict[str, StrategySnapshot], violations: dict[str, str]
) -> dict[str, Any]:
    declared: dict[str, dict[str, Any]] = {}
    for name, snapshot in sources.items():
        for spec in declared_hyperparameters(snapshot.source, name):
            declared.setdefault(spec["name"], spec)
    for name, value in given.items():
        field = f"hyperparameters.{name}"
        spec = declared.get(name)
        if spec is None:
            known = ", ".join(sorted(declared)) or "none"
            violations[field] = f"no routed strategy declares a hyperparameter {name!r} (declared: {known})"
        elif value is None:
            violations[field] = "must hold a value"
        else:
            problem = _value_problem(spec, value)
            if problem:
                violations[field] = problem
    return dict(given)


def _value_problem(spec: dict[str, Any], value: Any) -> str | None:
    kind = spec["type"]
    if kind == "categorical":
        return None if value in spec["options"] else f"must be one of {spec['options']}"
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "int" and not (numeric and isinstance(value, int)):
        return "must be an integer (int_value)"
    if kind == "float" and not numeric:
        return "must be a number (float_value or int_value)"
    if not spec["min"] <= value <= spec["max"]:
        return f"must be between {spec['min']} and {spec['max']}"
    return None


# ================================================================================== candles


def _check_candles(
    engine: sa.Engine,
    routes: list[dict[str, Any]],
    data_routes: list[dict[str, Any]],
    start_ms: int,
    finish_ms: int,
    warm_up: int,
    violations: dict[str, str],
) -> None:
    """Stored candles of every market must span [start − warm-up, finish)."""
    stored = {(r.exchange, r.symbol): r for r in candle_ranges(engine)}
    warm_minutes = warm_up_minutes({"routes": routes, "data_routes": data_routes, "warm_up_candles": warm_up})
    needed_from = start_ms - warm_minutes * MINUTE_MS
    checked: set[tuple[str, str]] = set()
    markets = [(f"routes[{i}]", r) for i, r in enumerate(routes)] + [(f"data_routes[{i}]", r) for i, r in enumerate(data_routes)]
    for path, route in markets:
        key = (route["exchange"], route["symbol"])
        if key in checked:
            continue
        checked.add(key)
        span = stored.get(key)
        if span is None:
            violations[f"{path}.symbol"] = f"no candles stored for {key[1]} on {key[0]}; import them first"
            continue
        if span.start_ms > needed_from:
            violations.setdefault("start_date", _late_start(span, needed_from, warm_minutes))
        if span.end_ms + MINUTE_MS < finish_ms:
            last_day = _iso((span.end_ms + MINUTE_MS) // DAY_MS * DAY_MS)[:10]
            violations.setdefault(
                "finish_date",
                f"stored {span.symbol} candles on {span.exchange} end at {_iso(span.end_ms + MINUTE_MS)}; "
                f"finish on or before {last_day} or import more candles",
            )


def _late_start(span: CandleRange, needed_from: int, warm_minutes: int) -> str:
    earliest = -(-(span.start_ms + warm_minutes * MINUTE_MS) // DAY_MS) * DAY_MS
    warm = f" ({warm_minutes} warm-up minutes before the start)" if warm_minutes else ""
    return (
        f"stored {span.symbol} candles on {span.exchange} begin at {_iso(span.start_ms)}, but the backtest needs them "
        f"from {_iso(needed_from)}{warm}; start on or after {_iso(earliest)[:10]} or import earlier candles"
    )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
