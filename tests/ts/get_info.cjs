// Logs in and calls SystemService.GetInfo through the gateway with the compiled TypeScript client.
// Usage: node get_info.cjs <compiled client dir> <gateway url> <password>
// Prints one JSON object: {"tokenLength", "info"} or {"error": {"code", "message"}} on failure.
"use strict";
const path = require("node:path");

async function main() {
  const [outDir, baseUrl, password] = process.argv.slice(2);
  const { createCandlewireClient } = require(path.resolve(outDir, "index.js"));
  let token;
  const cw = createCandlewireClient(baseUrl, () => token);
  const login = await cw.auth.login({ password });
  token = login.token;
  const info = await cw.system.getInfo({});
  let unauthenticated = null;
  try {
    await createCandlewireClient(baseUrl).system.getInfo({});
  } catch (error) {
    unauthenticated = { code: error.code, message: error.rawMessage };
  }
  console.log(JSON.stringify({
    tokenLength: token.length,
    expireSeconds: String(login.expireTime?.seconds ?? ""),
    info: {
      version: info.version,
      pythonVersion: info.pythonVersion,
      cpuCores: info.cpuCores,
      exchanges: info.exchanges,
      timeframes: info.timeframes,
    },
    unauthenticated,
  }));
}

main().catch((error) => {
  console.log(JSON.stringify({ error: { code: error.code ?? null, message: String(error.message ?? error) } }));
  process.exitCode = 1;
});
