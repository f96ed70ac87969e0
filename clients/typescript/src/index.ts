// Candlewire API client for browsers and Node: gRPC-Web through the Envoy gateway.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { AuthService } from "./gen/candlewire/v1/auth_pb";
import { BacktestService } from "./gen/candlewire/v1/backtest_pb";
import { CandlesService } from "./gen/candlewire/v1/candles_pb";
import { ConfigService } from "./gen/candlewire/v1/config_pb";
import { EventService } from "./gen/candlewire/v1/event_pb";
import { ExchangeService } from "./gen/candlewire/v1/exchange_pb";
import { FileService } from "./gen/candlewire/v1/file_pb";
import { LiveService } from "./gen/candlewire/v1/live_pb";
import { LspService } from "./gen/candlewire/v1/lsp_pb";
import { MonteCarloService } from "./gen/candlewire/v1/monte_carlo_pb";
import { NotificationService } from "./gen/candlewire/v1/notification_pb";
import { OptimizationService } from "./gen/candlewire/v1/optimization_pb";
import { SignificanceTestService } from "./gen/candlewire/v1/significance_test_pb";
import { StrategyService } from "./gen/candlewire/v1/strategy_pb";
import { SystemService } from "./gen/candlewire/v1/system_pb";

export * from "./gen/candlewire/v1/auth_pb";
export * from "./gen/candlewire/v1/backtest_pb";
export * from "./gen/candlewire/v1/candles_pb";
export * from "./gen/candlewire/v1/common_pb";
export * from "./gen/candlewire/v1/config_pb";
export * from "./gen/candlewire/v1/event_pb";
export * from "./gen/candlewire/v1/exchange_pb";
export * from "./gen/candlewire/v1/file_pb";
export * from "./gen/candlewire/v1/live_pb";
export * from "./gen/candlewire/v1/lsp_pb";
export * from "./gen/candlewire/v1/monte_carlo_pb";
export * from "./gen/candlewire/v1/notification_pb";
export * from "./gen/candlewire/v1/optimization_pb";
export * from "./gen/candlewire/v1/significance_test_pb";
export * from "./gen/candlewire/v1/strategy_pb";
export * from "./gen/candlewire/v1/system_pb";

/** A bearer token, or a function returning the current one (e.g. after Login). */
export type TokenSource = string | (() => string | undefined);

export interface CandlewireClient {
  auth: Client<typeof AuthService>;
  system: Client<typeof SystemService>;
  config: Client<typeof ConfigService>;
  events: Client<typeof EventService>;
  backtests: Client<typeof BacktestService>;
  candles: Client<typeof CandlesService>;
  exchanges: Client<typeof ExchangeService>;
  strategies: Client<typeof StrategyService>;
  files: Client<typeof FileService>;
  notifications: Client<typeof NotificationService>;
  optimizations: Client<typeof OptimizationService>;
  monteCarlos: Client<typeof MonteCarloService>;
  significanceTests: Client<typeof SignificanceTestService>;
  live: Client<typeof LiveService>;
  lsp: Client<typeof LspService>;
}

function bearerAuth(token: TokenSource): Interceptor {
  return (next) => async (request) => {
    const current = typeof token === "function" ? token() : token;
    if (current) {
      request.header.set("authorization", `Bearer ${current}`);
    }
    return await next(request);
  };
}

/**
 * Clients for every candlewire service.
 * @param baseUrl the gateway's address, e.g. "http://127.0.0.1:8080".
 * @param token sent as `authorization: Bearer <token>` on every call when set.
 */
export function createCandlewireClient(baseUrl: string, token?: TokenSource): CandlewireClient {
  const transport = createGrpcWebTransport({
    baseUrl,
    interceptors: token === undefined ? [] : [bearerAuth(token)],
  });
  return {
    auth: createClient(AuthService, transport),
    system: createClient(SystemService, transport),
    config: createClient(ConfigService, transport),
    events: createClient(EventService, transport),
    backtests: createClient(BacktestService, transport),
    candles: createClient(CandlesService, transport),
    exchanges: createClient(ExchangeService, transport),
    strategies: createClient(StrategyService, transport),
    files: createClient(FileService, transport),
    notifications: createClient(NotificationService, transport),
    optimizations: createClient(OptimizationService, transport),
    monteCarlos: createClient(MonteCarloService, transport),
    significanceTests: createClient(SignificanceTestService, transport),
    live: createClient(LiveService, transport),
    lsp: createClient(LspService, transport),
  };
}
