"""`run_backtest`: validate the inputs, build the run, simulate, and shape the result dict."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from candlewire.engine.errors import InvalidBacktestInput, MissingMethod
from candlewire.engine.market_data import SymbolMarket
from candlewire.engine.simulator import RouteInfo, Simulator
from candlewire.engine.strategy import Strategy, class_site
from candlewire.engine.timeframes import MINUTE_MS, TIMESTAMP, timeframe_minutes

DEFAULT_WARM_UP_CANDLES = 240
DEFAULT_STARTING_BALANCE = 10_000.0
# Fee per exchange when the config has none (spec "Accounting").
DEFAULT_FEES = {
    "Binance Perpetual Futures": 0.0004,
    "Binance Spot": 0.001,
    "Bybit USDT Perpetual": 0.00055,
    "Bybit Spot": 0.001,
}
DEFAULT_LOGGING = {
    "order_submission": True,
    "order_cancellation": True,
    "order_execution": True,
    "position_opened": True,
    "position_increased": True,
    "position_reduced": True,
    "position_closed": True,
}


def run_backtest(
    config: dict,
    routes: list[dict],
    data_routes: list[dict] | None,
    candles: dict,
    warmup_candles: dict | None = None,
    hyperparameters: dict | list | None = None,
    *,
    on_progress: Callable[[int, int, int], None] | None = None,
    on_log: Callable[[str, str, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    generate_charts: bool = False,
    strategy_loader: Callable[[str], type] | None = None,
) -> dict:
    """Run one backtest. `total_bars` and progress count 1-minute candles of the run."""
    settings = _settings(config)
    data_routes = list(data_routes or [])
    if not routes:
        raise InvalidBacktestInput("at least one route is required", {"routes": "empty"})
    max_minutes = max(timeframe_minutes_or_error(r.get("timeframe", ""), "timeframe") for r in [*routes, *data_routes])
    warm_minutes = settings["warm_up_candles"] * max_minutes
    markets = _markets(routes, data_routes, candles, warmup_candles or {}, warm_minutes)
    strategies = [
        _strategy(route, index, strategy_loader, hyperparameters) for index, route in enumerate(routes)
    ]
    simulator = Simulator(
        exchange_type=settings["type"],
        fee_rate=settings["fee"],
        leverage=settings["futures_leverage"],
        leverage_mode=settings["futures_leverage_mode"],
        starting_balance=settings["starting_balance"],
        routes=[
            (r["exchange"], r["symbol"], r["timeframe"], timeframe_minutes(r["timeframe"]), strategy)
            for r, strategy in zip(routes, strategies)
        ],
        markets=markets,
        data_route_infos=[RouteInfo(r["exchange"], r["symbol"], r["timeframe"]) for r in data_routes],
        logging=settings["logging"],
        on_log=on_log,
        charts_enabled=generate_charts,
    )
    for route, strategy in zip(simulator.routes, strategies):
        strategy._sim = simulator
        strategy._route = route
    previous_warm_up = _set_indicator_warm_up(settings["warm_up_candles"])
    try:
        simulator.run(on_progress=on_progress, should_stop=should_stop)
    finally:
        _set_indicator_warm_up(previous_warm_up)
    return _result(simulator, settings, generate_charts)


# ================================================================================== inputs


def _settings(config: dict) -> dict:
    exchange = config.get("exchange", "")
    kind = config.get("type") or ("spot" if "spot" in exchange.lower() else "futures")
    if kind not in ("spot", "futures"):
        raise InvalidBacktestInput("config.type must be 'spot' or 'futures'", {"config.type": f"got {kind!r}"})
    mode = config.get("futures_leverage_mode", "cross")
    if mode not in ("cross", "isolated"):
        raise InvalidBacktestInput(
            "config.futures_leverage_mode must be 'cross' or 'isolated'", {"config.futures_leverage_mode": f"got {mode!r}"}
        )
    leverage = float(config.get("futures_leverage", 1) or 1)
    if leverage < 1:
        raise InvalidBacktestInput("config.futures_leverage must be >= 1", {"config.futures_leverage": f"got {leverage}"})
    fee = config.get("fee")
    if fee is None:
        fee = DEFAULT_FEES.get(exchange, 0.0)
    starting_balance = float(config.get("starting_balance", DEFAULT_STARTING_BALANCE))
    if starting_balance <= 0:
        raise InvalidBacktestInput("config.starting_balance must be positive", {"config.starting_balance": "must be > 0"})
    warm_up = int(config.get("warm_up_candles", DEFAULT_WARM_UP_CANDLES))
    logging = dict(DEFAULT_LOGGING)
    logging.update(config.get("logging") or {})
    return {
        "exchange": exchange,
        "type": kind,
        "fee": float(fee),
        "futures_leverage": leverage if kind == "futures" else 1.0,
        "futures_leverage_mode": mode,
        "starting_balance": starting_balance,
        "warm_up_candles": max(warm_up, 0),
        "logging": logging,
    }


def _set_indicator_warm_up(bars: int | None) -> int | None:
    """Non-sequential indicator calls see the last `warm_up_candles` bars (spec "Indicators").
    The indicators keep that number process-wide; returns the previous value to restore."""
    if bars is None:
        return None
    try:
        from candlewire.indicators.helpers import get_warm_up_candles, set_warm_up_candles
    except ImportError:
        return None
    previous = get_warm_up_candles()
    set_warm_up_candles(max(bars, 1))
    return previous


def _markets(routes, data_routes, candles, warmup_candles, warm_minutes) -> dict[str, SymbolMarket]:
    keys: list[tuple[str, str]] = []
    for section, items in (("routes", routes), ("data_routes", data_routes)):
        for index, route in enumerate(items):
            for field in ("exchange", "symbol", "timeframe"):
                if not route.get(field):
                    raise InvalidBacktestInput(f"{section}[{index}].{field} is required", {f"{section}[{index}].{field}": "required"})
            timeframe_minutes_or_error(route["timeframe"], f"{section}[{index}].timeframe")
            key = (route["exchange"], route["symbol"])
            if section == "routes" and key in keys:
                raise InvalidBacktestInput(
                    f"two routes trade {key[0]} {key[1]}: one route per symbol", {f"routes[{index}]": "duplicate symbol"}
                )
            if key not in keys:
                keys.append(key)
    markets: dict[str, SymbolMarket] = {}
    first_timestamps = None
    for exchange, symbol in keys:
        key = f"{exchange}-{symbol}"
        entry = candles.get(key)
        if entry is None:
            raise InvalidBacktestInput(f"no candles for {key}", {f"candles.{key}": "missing"})
        array = _candle_array(entry, key)
        if first_timestamps is None:
            first_timestamps = array[:, TIMESTAMP]
        elif len(array) != len(first_timestamps) or array[0, TIMESTAMP] != first_timestamps[0]:
            raise InvalidBacktestInput(
                f"candles of {key} do not cover the same minutes as the first route's",
                {f"candles.{key}": "every symbol needs the same 1m timestamps"},
            )
        warm_entry = warmup_candles.get(key)
        warm = _candle_array(warm_entry, key, allow_empty=True) if warm_entry is not None else np.empty((0, 6))
        if len(warm) > warm_minutes:
            warm = warm[len(warm) - warm_minutes :]
        markets[key] = SymbolMarket(exchange, symbol, array, warm)
    return markets


def timeframe_minutes_or_error(timeframe: str, field: str) -> int:
    try:
        return timeframe_minutes(timeframe)
    except ValueError as error:
        raise InvalidBacktestInput(str(error), {field: "unknown timeframe"}) from None


def _candle_array(entry, key: str, allow_empty: bool = False) -> np.ndarray:
    array = entry["candles"] if isinstance(entry, dict) else entry
    array = np.ascontiguousarray(array, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 6:
        raise InvalidBacktestInput(f"candles of {key} must be an (n, 6) array", {f"candles.{key}": "bad shape"})
    if not allow_empty and len(array) == 0:
        raise InvalidBacktestInput(f"no candles for {key} in the period", {f"candles.{key}": "empty"})
    return array


def _strategy(route: dict, index: int, loader, hyperparameters) -> Strategy:
    target = route.get("strategy")
    if isinstance(target, str):
        if loader is None:
            raise InvalidBacktestInput(
                f"routes[{index}].strategy names {target!r} but no strategy loader was given",
                {f"routes[{index}].strategy": "pass a Strategy subclass"},
            )
        target = loader(target)
    if not (isinstance(target, type) and issubclass(target, Strategy)):
        raise InvalidBacktestInput(
            f"routes[{index}].strategy must be a Strategy subclass", {f"routes[{index}].strategy": "not a Strategy"}
        )
    for required in ("should_long", "go_long"):
        if getattr(target, required) is getattr(Strategy, required):
            filename, line = class_site(target)
            raise MissingMethod(f"strategy {target.__name__} must define {required}()", "missing_method", line, filename)
    strategy = target()
    if isinstance(hyperparameters, (list, tuple)):
        chosen = hyperparameters[index] if index < len(hyperparameters) else None
    else:
        chosen = hyperparameters
    strategy.hp = _hyperparameters(strategy, chosen)
    return strategy


def _hyperparameters(strategy: Strategy, given: dict | None) -> dict:
    """Passed hyperparameters replace hp entirely (no merge with defaults). Otherwise a DNA
    string decodes each gene (one character, code 40..119 mapped linearly onto min..max);
    otherwise the declared defaults."""
    if given is not None:
        return dict(given)
    declared = strategy.hyperparameters() or []
    dna = strategy.dna()
    values = {}
    for position, spec in enumerate(declared):
        value = spec.get("default")
        if dna and position < len(dna):
            value = _decode_gene(spec, dna[position], value)
        values[spec["name"]] = value
    return values


def _decode_gene(spec: dict, gene: str, default):
    kind = spec.get("type")
    if kind in (int, "int", float, "float"):
        low, high = spec["min"], spec["max"]
        value = low + (ord(gene) - 40) / (119 - 40) * (high - low)
        return int(round(value)) if kind in (int, "int") else value
    options = spec.get("options")
    if options:
        index = min(len(options) - 1, max(0, int(round((ord(gene) - 40) / (119 - 40) * (len(options) - 1)))))
        return options[index]
    return default


# ================================================================================== result


def compute_run_metrics(simulator: Simulator) -> dict:
    try:
        from candlewire.engine.metrics import compute_metrics
    except ImportError:
        return {}
    first = simulator.routes[0].market
    start_ms = int(first.timestamps.item(0))
    finish_ms = int(simulator.time) if simulator.time else start_ms
    balances = simulator.daily_balances
    # The time of each balance: the start, every sample, and (once the run ended) its end.
    timestamps = [start_ms, *simulator.sample_times][: len(balances)]
    if len(timestamps) < len(balances):
        timestamps.append(finish_ms)
    return compute_metrics(
        [trade.to_dict() for trade in simulator.closed_trades],
        balances,
        simulator.starting_balance,
        start_ms,
        finish_ms,
        simulator.open_at_end,
        balance_timestamps=timestamps,
    )


def _result(simulator: Simulator, settings: dict, generate_charts: bool) -> dict:
    first = simulator.routes[0].market
    start_ms = int(first.timestamps.item(0))
    finish_ms = int(first.timestamps.item(first.n - 1)) + MINUTE_MS
    curve_times = [start_ms, *simulator.sample_times, finish_ms]
    sample_minutes = [((t - MINUTE_MS) - start_ms) // MINUTE_MS for t in simulator.sample_times]
    benchmark = []
    for route in simulator.routes:
        market = route.market
        base = market.opens.item(0)
        closes = [market.closes.item(m) for m in sample_minutes] + [market.closes.item(market.n - 1)]
        values = [settings["starting_balance"]] + [settings["starting_balance"] * c / base for c in closes]
        benchmark.append({"route": route.index, "timestamps_ms": curve_times, "values": values})
    trades = [trade.to_dict() for trade in simulator.closed_trades]
    return {
        "metrics": compute_run_metrics(simulator),
        "trades": trades,
        "orders": [order.to_dict() for order in simulator.orders],
        "daily_balances": list(simulator.daily_balances),
        "equity_curve": {"timestamps_ms": curve_times, "values": list(simulator.daily_balances)},
        "benchmark": benchmark,
        "charts": [route.charts.to_dict(route.index) for route in simulator.routes] if generate_charts else [],
        "logs": simulator.logs,
        "starting_balance": settings["starting_balance"],
        "finishing_balance": simulator.balance,
        "start_ms": start_ms,
        "finish_ms": finish_ms,
        "total_bars": first.n,
    }
